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
mod attribution;
mod corners;
mod delta;
mod error;
mod habits;
mod heuristic;
mod metrics;
mod thresholds;
mod trace;

pub use analyze::{analyze, analyze_against_ideal, analyze_laps, analyze_traces};
pub use attribution::{Attribution, attribute};
pub(crate) use corners::detect_on;
pub use corners::{
    Segment, curvature_per_m, detect_corners, detect_corners_with, pair_windows, segments,
};
pub use delta::Delta;
pub use error::{AnalysisError, LapRole};
pub use habits::{Habit, habits, habits_with};
pub use heuristic::{HeuristicAnalyzer, heuristic_strengths, heuristic_suggestions, severity_for};
pub use metrics::{
    Consistency, CornerConsistency, EXIT_THROTTLE_M, IdealLap, IdealSegment, consistency,
    corner_metrics, ideal_lap, search_ends_m, segment_losses, standard_deviation,
    turn_in_threshold_deg,
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

/// Why a corner lost (or gained) its time: the one cause that explains the most of it. The
/// machine-readable companion of [`SuggestionType`] on a [`Suggestion`], and what a
/// [`Strength`] says the reference did that the lap did not.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum Cause {
    /// Braked earlier than the reference (and more gently).
    EarlyBraking,
    /// Braked later than the reference and over-slowed: an overshoot.
    LateBrakingOverslowed,
    /// Slower at the apex with the brake point where it was.
    LowApexSpeed,
    /// Back on the throttle, or at full throttle, later.
    LateThrottle,
    /// Lifted and coasted before the braking point (whichever corner the lift began in).
    Coasting,
    /// Lifted in a corner the reference takes flat or on the throttle.
    MidCornerLift,
    /// Through the corner a gear lower than the reference.
    LowerGear,
    /// Left the corner slower with the same inputs; the cost runs down the next straight
    /// (across the line, for the previous lap's last corner).
    SlowExit,
    /// Same inputs, slower: the line.
    Line,
    /// Nothing more specific (a straight, or a lap that started slower).
    #[default]
    General,
}

impl Cause {
    /// Every cause.
    pub const ALL: [Self; 10] = [
        Self::EarlyBraking,
        Self::LateBrakingOverslowed,
        Self::LowApexSpeed,
        Self::LateThrottle,
        Self::Coasting,
        Self::MidCornerLift,
        Self::LowerGear,
        Self::SlowExit,
        Self::Line,
        Self::General,
    ];

    /// The snake_case name.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::EarlyBraking => "early_braking",
            Self::LateBrakingOverslowed => "late_braking_overslowed",
            Self::LowApexSpeed => "low_apex_speed",
            Self::LateThrottle => "late_throttle",
            Self::Coasting => "coasting",
            Self::MidCornerLift => "mid_corner_lift",
            Self::LowerGear => "lower_gear",
            Self::SlowExit => "slow_exit",
            Self::Line => "line",
            Self::General => "general",
        }
    }

    /// The cause called `name` (snake_case).
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == name)
    }

    /// The kind of advice a suggestion with this cause is.
    pub const fn suggestion_type(self) -> SuggestionType {
        match self {
            Self::EarlyBraking | Self::LateBrakingOverslowed => SuggestionType::Braking,
            Self::LowApexSpeed => SuggestionType::CornerSpeed,
            Self::LateThrottle | Self::MidCornerLift | Self::SlowExit => SuggestionType::Throttle,
            Self::Coasting => SuggestionType::Coasting,
            Self::Line => SuggestionType::Line,
            Self::LowerGear | Self::General => SuggestionType::General,
        }
    }
}

impl std::fmt::Display for Cause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One piece of advice, in the original app's shape plus where and how much.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Suggestion {
    /// Stable id within an analysis (e.g. `"T3-braking"`).
    pub id: String,
    /// What kind of advice.
    #[serde(rename = "type")]
    pub kind: SuggestionType,
    /// Why: the one cause that explains the most of the loss (the others are evidence in the
    /// message). Suggestions stored before causes existed read as [`Cause::General`].
    #[serde(default)]
    pub cause: Cause,
    /// The corner it is about, by its name (`"Tosa"`, `"T3"`), or `None` for the whole lap
    /// or a straight.
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
    /// Time lost there, s (positive = lost against the reference): for a corner, the loss
    /// it explains ([`CornerReport::attributed_loss_s`]).
    pub time_loss_s: f64,
    /// The numbers behind it, by name (e.g. `"brake_point_m": 412.0`,
    /// `"reference_brake_point_m": 444.0`).
    #[serde(default)]
    pub evidence: BTreeMap<String, f64>,
}

/// Where the lap gained at least [`Thresholds::min_gain_s`] on the reference: what it did
/// differently, to keep.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Strength {
    /// The corner, by its name; `None` for a straight.
    pub corner: Option<String>,
    /// What the reference did that the lap did not (the reference braked early, say).
    pub cause: Cause,
    /// Where, 0..1 along the lap.
    pub position: f64,
    /// Where, metres from the line.
    pub distance_m: f64,
    /// Time gained there, s (positive).
    pub time_gained_s: f64,
    /// One plain sentence with the numbers, ending with "keep that".
    pub message: String,
    /// The numbers behind it, by name.
    #[serde(default)]
    pub evidence: BTreeMap<String, f64>,
}

/// A corner of a track: its stable id and name, and its window. A [`crate::track::TrackMap`]
/// holds the track's corners (windows from the map laps' brake or lift onset to the exit);
/// an [`Analysis`] holds each corner with the window the two laps were compared over (its
/// start moved back to the earlier lap's lift or brake onset when that comes first).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Corner {
    /// The stable id: `T1`, `T2` … in track order from the line, whatever the reference.
    #[serde(default)]
    pub id: String,
    /// The name: the corner's own on a known track (`Tosa`), else the id.
    pub name: String,
    /// Where the corner's window begins (the brake or lift onset), m from the line.
    pub start_m: f64,
    /// The apex (the speed minimum, or the curvature peak of a flat-out kink), m.
    pub apex_m: f64,
    /// Where the window ends (the exit), m.
    pub end_m: f64,
}

impl Corner {
    /// A corner whose name is its id (`T3`).
    pub fn numbered(id: impl Into<String>, start_m: f64, apex_m: f64, end_m: f64) -> Self {
        let id = id.into();
        Self {
            name: id.clone(),
            id,
            start_m,
            apex_m,
            end_m,
        }
    }

    /// True when `text` names this corner: its name or its id, case and spaces ignored
    /// (`tosa`, `Acque minerali`), or its number (`T4`, `t4`, `4`, `turn 4`, `corner 4`).
    pub fn is_called(&self, text: &str) -> bool {
        let squash = |s: &str| -> String {
            s.chars()
                .filter(|c| c.is_alphanumeric())
                .flat_map(char::to_lowercase)
                .collect()
        };
        let wanted = squash(text);
        if wanted.is_empty() {
            return false;
        }
        if wanted == squash(&self.name) || wanted == squash(&self.id) {
            return true;
        }
        let number = wanted
            .strip_prefix("turn")
            .or_else(|| wanted.strip_prefix("corner"))
            .or_else(|| wanted.strip_prefix('t'))
            .unwrap_or(&wanted);
        !number.is_empty()
            && number.chars().all(|c| c.is_ascii_digit())
            && self
                .id
                .strip_prefix('T')
                .is_some_and(|n| n.trim_start_matches('0') == number.trim_start_matches('0'))
    }
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
    /// Gear at the apex (reverse −1, neutral 0, first 1 …): the gear engaged most around
    /// it (a shift's neutral is not a gear).
    pub gear_at_apex: i32,
    /// Where the lap came off full throttle before braking (the lift onset), when it did
    /// so before its brake point (or apex, without braking).
    #[serde(default)]
    pub lift_point_m: Option<f64>,
    /// Distance lifted in the corner after the throttle came back (off the throttle, below
    /// 5 %), or, in a corner the lap takes without braking, below flat out, m.
    #[serde(default)]
    pub mid_corner_lift_m: f64,
    /// Speed at the window's start, km/h.
    #[serde(default)]
    pub entry_speed_kmh: f64,
    /// Where the lap first came within [`Thresholds::apex_band_kmh`] of its lowest speed
    /// (the start of the stretch whose middle is the apex): a lap that holds its minimum
    /// speed longer has a later apex, not a later start of it.
    #[serde(default)]
    pub slowest_from_m: f64,
    /// The mean throttle over the window's last [`EXIT_THROTTLE_M`] (from the apex
    /// at the earliest), 0..1: how much throttle the exit was driven with.
    #[serde(default)]
    pub exit_throttle: f64,
}

/// The loss a corner explains, by where in the corner the speed difference behind it was
/// made (see [`attribute`]), s (negative: gained).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct PhaseLosses {
    /// From the window's start to the later of the two brake points (lifting, coasting,
    /// braking earlier).
    pub approach_s: f64,
    /// From there to the earlier of the two apexes (braking, turning in, the apex speed).
    pub braking_s: f64,
    /// From there to the window's end (throttle, gear, exit), with what it cost down the
    /// straight after.
    pub exit_s: f64,
    /// Time lost at the same speed (a longer path): the line.
    pub line_s: f64,
}

impl PhaseLosses {
    /// All four together.
    pub fn total_s(&self) -> f64 {
        self.approach_s + self.braking_s + self.exit_s + self.line_s
    }
}

/// One place in a corner where the two laps' speeds differed most.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SpeedGap {
    /// Where, m from the line.
    pub at_m: f64,
    /// The lap's speed there, km/h.
    pub lap_kmh: f64,
    /// The reference's speed there, km/h.
    pub reference_kmh: f64,
}

/// One corner of an analysis: where it is, what each lap did, what it cost.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CornerReport {
    /// The corner, with the window both laps were compared over.
    pub corner: Corner,
    /// Time lost in the corner's window, s (negative: gained).
    pub time_loss_s: f64,
    /// The time this corner explains wherever it was lost (its window, the straight its
    /// slower exit ran down, the lift before it), s: [`PhaseLosses::total_s`] of
    /// [`CornerReport::phases`].
    #[serde(default)]
    pub attributed_loss_s: f64,
    /// [`CornerReport::attributed_loss_s`] by phase.
    #[serde(default)]
    pub phases: PhaseLosses,
    /// Where, from the window's start to the later apex, the lap was slowest against the
    /// reference (when it was slower anywhere there).
    #[serde(default)]
    pub slower_at: Option<SpeedGap>,
    /// Where, over the same stretch, the lap was fastest against the reference (when it was
    /// faster anywhere there).
    #[serde(default)]
    pub faster_at: Option<SpeedGap>,
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
    /// The loss this segment explains itself, s: a corner's
    /// [`CornerReport::attributed_loss_s`]; for a straight, what was lost there at speeds it
    /// made itself (not carried from the corner before it). The column sums to the gap
    /// with [`Analysis::from_line_loss_s`].
    #[serde(default)]
    pub own_loss_s: f64,
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
    /// The lap's speed at the line as it started, km/h.
    #[serde(default)]
    pub start_speed_kmh: f64,
    /// The reference's speed at the line as it started, km/h.
    #[serde(default)]
    pub reference_start_speed_kmh: f64,
    /// Time lost at speeds the lap brought over the line (a slower start), s: the previous
    /// lap's last corner, when [`Analysis::follows_previous_lap`].
    #[serde(default)]
    pub from_line_loss_s: f64,
    /// True when the lap follows the previous lap of its stint without a break (its start
    /// is that lap's finish).
    #[serde(default)]
    pub follows_previous_lap: bool,
    /// How the lap began and ended, when known (an out lap is no flying lap).
    #[serde(default)]
    pub lap_kind: Option<crate::lap::LapKind>,
    /// How the reference began and ended, when known.
    #[serde(default)]
    pub reference_kind: Option<crate::lap::LapKind>,
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

    /// The corner of this name, if any (exactly as named: see [`Analysis::find_corner`]
    /// for what a driver types).
    pub fn corner(&self, name: &str) -> Option<&CornerReport> {
        self.corners.iter().find(|c| c.corner.name == name)
    }

    /// The corner `text` names: by name or id, case and spaces ignored, or by number
    /// (`T4`, `turn 4`) — see [`Corner::is_called`].
    pub fn find_corner(&self, text: &str) -> Option<&CornerReport> {
        self.corner(text)
            .or_else(|| self.corners.iter().find(|c| c.corner.is_called(text)))
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

pub use coach::{AnswerSource, Briefing, ChatAnswer, Coach, CoachError, Intent, OfflineCoach};
#[cfg(feature = "openai")]
pub use openai::{
    FallbackReason, JsonMode, LlmReply, OpenAiAnalyzer, OpenAiConfig, Outcome, SuggestionSource,
};
pub use validate::{Rejected, Rejection, TIME_LOSS_TOLERANCE_S, validate_suggestions};
