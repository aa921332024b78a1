//! Lap analysis: measure first, then advise.
//!
//! The flow, as the best tools do it:
//! 1. [`LapTrace`]: each lap on a 1 m distance grid (distance from normalized position × track
//!    length), channels interpolated (continuous) or held (discrete).
//! 2. [`Delta`]: time against a reference lap along distance; at the line it equals the lap-time
//!    gap.
//! 3. [`Corner`]s, detected once on the reference (speed minima with prominence, plus curvature
//!    or lateral g for flat-out kinks), named T1… in track order; the same windows are applied to
//!    every compared lap.
//! 4. [`CornerMetrics`] per corner for lap and reference (brake point, peak brake, trail
//!    braking, turn-in, apex and minimum speed, throttle pick-up, full throttle, coasting, exit
//!    speed, gear at apex), and the time lost per segment (corners and straights) from the
//!    delta: the rows sum to the lap gap.
//! 5. [`Suggestion`]s from the largest losses, by an [`Analyzer`]: [`HeuristicAnalyzer`]
//!    (offline, deterministic, the default) or an LLM that may phrase and prioritise the computed
//!    facts but never invent a number.
//!
//! Everything here is pure computation: no I/O, no clock.
//!
//! # Entry points
//!
//! - [`analyze`] (frames and official times → [`Analysis`]) and [`analyze_laps`] (two stored
//!   [`crate::lap::Lap`]s); [`analyze_traces`] to compare several laps with one reference at
//!   the same corners.
//! - [`LapTrace`] (how a lap is put on the grid, wraps at the line, jitter, sub-millisecond
//!   time), [`Delta`], [`detect_corners_with`] (the corner and window rules),
//!   [`corner_metrics`] (what is measured in a corner), [`segment_losses`], [`ideal_lap`],
//!   [`consistency`].
//! - [`Thresholds`]: every tuning value (pedal levels, corner detection, the coach's rules),
//!   with its default.
//! - [`heuristic_suggestions`] (the rules that turn losses into advice, and severities) behind
//!   [`HeuristicAnalyzer`].
//! - [`AnalysisError`]: why a lap cannot be analysed, with the numbers.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

mod analyze;
mod corners;
mod delta;
mod error;
mod heuristic;
mod metrics;
mod thresholds;
mod trace;

pub use analyze::{analyze, analyze_against_ideal, analyze_laps, analyze_traces};
pub use corners::{Segment, curvature_per_m, detect_corners, detect_corners_with, segments};
pub use delta::Delta;
pub use error::{AnalysisError, LapRole};
pub use heuristic::{HeuristicAnalyzer, heuristic_suggestions, severity_for};
pub use metrics::{
    Consistency, CornerConsistency, IdealLap, IdealSegment, consistency, corner_metrics, ideal_lap,
    search_ends_m, segment_losses, standard_deviation, turn_in_threshold_deg,
};
pub use thresholds::Thresholds;
pub use trace::LapTrace;

/// What kind of advice a suggestion is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SuggestionType {
    /// Where and how hard to brake.
    Braking,
    /// When and how to get back on the throttle.
    Throttle,
    /// Steering and inputs.
    Steering,
    /// Anything else.
    General,
    /// Minimum / apex speed.
    CornerSpeed,
    /// Time with both pedals off.
    Coasting,
    /// The line through a corner.
    Line,
}

impl SuggestionType {
    /// Every type.
    pub const ALL: [Self; 7] = [
        Self::Braking,
        Self::Throttle,
        Self::Steering,
        Self::General,
        Self::CornerSpeed,
        Self::Coasting,
        Self::Line,
    ];

    /// The snake_case name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Braking => "braking",
            Self::Throttle => "throttle",
            Self::Steering => "steering",
            Self::General => "general",
            Self::CornerSpeed => "corner_speed",
            Self::Coasting => "coasting",
            Self::Line => "line",
        }
    }
}

/// How much a suggestion matters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Worth knowing.
    Info,
    /// Worth working on.
    Warning,
    /// The biggest losses.
    Critical,
}

/// One piece of advice, in the original app's shape plus where and how much.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Suggestion {
    /// Stable id within an analysis (e.g. `"T3-braking"`).
    pub id: String,
    /// What kind of advice.
    #[serde(rename = "type")]
    pub kind: SuggestionType,
    /// The corner it is about (`"T3"`), or `None` for the whole lap or a straight.
    pub corner: Option<String>,
    /// One or two plain sentences with the numbers ("You braked 32 m earlier than your best
    /// into T3 and lost 0.41 s").
    pub message: String,
    /// How much it matters.
    pub severity: Severity,
    /// Where, 0..1 along the lap.
    pub position: f64,
    /// Where, metres from the line.
    pub distance_m: f64,
    /// Time lost there, s (positive = lost against the reference).
    pub time_loss_s: f64,
    /// The numbers behind it, by name (e.g. `"brake_point_m": 412.0`,
    /// `"reference_brake_point_m": 444.0`).
    #[serde(default)]
    pub evidence: BTreeMap<String, f64>,
}

/// A corner: found once on the reference lap, applied as the same window to every lap.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Corner {
    /// `T1`, `T2` … in track order from the line.
    pub name: String,
    /// Where the corner's window begins (the braking zone included), m from the line.
    pub start_m: f64,
    /// The apex (the reference's speed minimum, or the curvature peak of a flat-out kink), m.
    pub apex_m: f64,
    /// Where the window ends (the exit), m.
    pub end_m: f64,
}

/// What a lap did in one corner. Distances are metres from the line; `None` when the lap
/// did not do it there (no braking in a flat-out kink, say).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CornerMetrics {
    /// Where the brake first went past 10 % in the corner's window.
    pub brake_point_m: Option<f64>,
    /// Highest brake pedal, 0..1.
    pub peak_brake: f64,
    /// Distance with the brake on while already turning in (trail braking), m.
    pub trail_brake_m: f64,
    /// Where the steering first passed the turn-in threshold.
    pub turn_in_m: Option<f64>,
    /// Where the speed was lowest.
    pub apex_m: f64,
    /// Lowest speed, km/h.
    pub min_speed_kmh: f64,
    /// Where the throttle came back (past 10 %) after the apex.
    pub throttle_pickup_m: Option<f64>,
    /// Where the throttle reached full (past 95 %) after the apex.
    pub full_throttle_m: Option<f64>,
    /// Distance with both pedals off (below 5 %), m.
    pub coasting_m: f64,
    /// Speed at the window's end, km/h.
    pub exit_speed_kmh: f64,
    /// Gear at the apex (reverse −1, neutral 0, first 1 …).
    pub gear_at_apex: i32,
}

/// One corner of an analysis: where it is, what each lap did, what it cost.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CornerReport {
    /// The corner.
    pub corner: Corner,
    /// Time lost in the corner's window, s (negative: gained).
    pub time_loss_s: f64,
    /// The analysed lap.
    pub lap: CornerMetrics,
    /// The reference lap.
    pub reference: CornerMetrics,
}

/// Whether a segment is a corner's window or the straight between two.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SegmentKind {
    /// A corner's window.
    Corner,
    /// Between two corners (or the line).
    Straight,
}

/// Time lost over one segment of the lap. The segments tile the lap: their losses sum to
/// the lap gap.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SegmentLoss {
    /// `T3` for a corner, `T3–T4` for the straight after T3 (`Start–T1`, `T12–Finish`).
    pub name: String,
    /// Corner or straight.
    pub kind: SegmentKind,
    /// Start, m from the line.
    pub start_m: f64,
    /// End, m from the line.
    pub end_m: f64,
    /// Time lost, s (negative: gained).
    pub time_loss_s: f64,
}

/// The fact table of one lap against a reference: everything an analyzer may cite.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Analysis {
    /// Track length both laps were put on, m.
    pub track_length_m: f64,
    /// The lap's time, ms (official when it has one, else its last lap-clock value).
    pub lap_time_ms: i32,
    /// The reference's time, ms (same rule).
    pub reference_lap_time_ms: i32,
    /// Lap minus reference, s, from the delta at the line.
    pub gap_s: f64,
    /// The corners, in track order.
    pub corners: Vec<CornerReport>,
    /// Corners and straights in track order, tiling the lap.
    pub segments: Vec<SegmentLoss>,
}

impl Analysis {
    /// A distance as a fraction of the lap, 0..1.
    pub fn position(&self, distance_m: f64) -> f64 {
        if self.track_length_m > 0.0 {
            (distance_m / self.track_length_m).clamp(0.0, 1.0)
        } else {
            0.0
        }
    }

    /// The corner of this name, if any.
    pub fn corner(&self, name: &str) -> Option<&CornerReport> {
        self.corners.iter().find(|c| c.corner.name == name)
    }
}

/// Why an analyzer could not make suggestions.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AnalyzerError {
    /// The LLM server could not be reached or answered with an error status.
    #[error("LLM request failed: {message}")]
    Request {
        /// HTTP status, when there was one.
        status: Option<u16>,
        /// What went wrong.
        message: String,
    },
    /// The LLM did not answer in time.
    #[error("LLM did not answer within {seconds} s")]
    Timeout {
        /// The limit.
        seconds: u64,
    },
    /// The reply was not the JSON asked for.
    #[error("LLM reply is not valid suggestions JSON: {message}")]
    BadReply {
        /// What was wrong with it.
        message: String,
    },
}

/// Suggestions, and who wrote them.
#[derive(Debug, Clone, PartialEq)]
pub struct Advice {
    /// Ranked by time lost, largest first.
    pub suggestions: Vec<Suggestion>,
    /// The engine whose suggestions these are (`heuristic`, `openai`): the fallback's name
    /// when an engine fell back.
    pub engine: &'static str,
    /// What the engine wants the user to know ("the LLM server answered HTTP 429: using the
    /// offline suggestions"), if anything.
    pub note: Option<String>,
}

/// Turns an analysis's facts into ranked suggestions. The one way an engine is called:
/// [`crate::review::review`] runs one and keeps its suggestions on the lap.
#[async_trait::async_trait]
pub trait Analyzer: Send + Sync + std::fmt::Debug {
    /// A short name (`heuristic`, `openai`).
    fn name(&self) -> &'static str;

    /// Suggestions for this analysis, ranked by time lost (largest first).
    async fn suggest(&self, analysis: &Analysis) -> Result<Vec<Suggestion>, AnalyzerError>;

    /// [`Analyzer::suggest`], saying which engine wrote them and why (an engine that falls
    /// back to another says so).
    async fn advise(&self, analysis: &Analysis) -> Result<Advice, AnalyzerError> {
        Ok(Advice {
            suggestions: self.suggest(analysis).await?,
            engine: self.name(),
            note: None,
        })
    }
}

/// The engine to use: the LLM at `openai` (validated, falling back to the heuristic coach)
/// when one is configured, else the offline [`HeuristicAnalyzer`].
#[cfg(feature = "openai")]
pub fn analyzer_for(openai: Option<OpenAiConfig>) -> std::sync::Arc<dyn Analyzer> {
    match openai {
        Some(config) => std::sync::Arc::new(OpenAiAnalyzer::new(
            config,
            std::sync::Arc::new(HeuristicAnalyzer),
        )),
        None => std::sync::Arc::new(HeuristicAnalyzer),
    }
}

pub mod coach;
#[cfg(feature = "openai")]
pub mod openai;
pub mod validate;

pub use coach::{AnswerSource, ChatAnswer, Coach, CoachError, Intent, OfflineCoach};
#[cfg(feature = "openai")]
pub use openai::{
    FallbackReason, JsonMode, LlmReply, OpenAiAnalyzer, OpenAiConfig, Outcome, SuggestionSource,
};
pub use validate::{Rejected, Rejection, TIME_LOSS_TOLERANCE_S, validate_suggestions};
