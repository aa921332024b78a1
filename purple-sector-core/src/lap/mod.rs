//! Lap segmentation: frames in, laps out. Pure: no I/O, no clock, no async.
//!
//! [`LapSegmenter`] watches the car-info stream the way the game keeps score: a lap completes
//! when `lap_count` increments, and its official time is the new `last_lap_ms`. Spot
//! (lap-completed) events, when they arrive, only cross-check it.
//!
//! Every lap has a [`LapKind`] and, when it is not valid, an [`InvalidReason`] that carries
//! the numbers. A session restart in the game (lap count back to 0) starts a new stint;
//! nothing is merged across stints.

mod segmenter;
mod time;

use serde::{Deserialize, Serialize};

use crate::telemetry::Frame;

pub use segmenter::{LapInProgress, LapSegmenter, SegmenterConfig};
pub use time::{
    LapTime, LapTimeSource, MAX_START_CLOCK_MS, MAX_TIME_TO_LINE_S, line_to_line_time_ms,
};

/// How a lap began and ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LapKind {
    /// Recording began mid-lap or at the pit exit; ended at the line.
    Out,
    /// Began at the line and ended at the line: a timed lap.
    Flying,
    /// Ended in the pit lane.
    In,
    /// Did not end at the line: recording stopped, the game went silent, or data broke off.
    Partial,
}

impl LapKind {
    /// The snake_case name (`out`, `flying`, `in`, `partial`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Out => "out",
            Self::Flying => "flying",
            Self::In => "in",
            Self::Partial => "partial",
        }
    }

    /// The kind for a snake_case name.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "out" => Some(Self::Out),
            "flying" => Some(Self::Flying),
            "in" => Some(Self::In),
            "partial" => Some(Self::Partial),
            _ => None,
        }
    }
}

impl std::fmt::Display for LapKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a lap does not count. The first reason met is kept.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "reason", rename_all = "snake_case")]
#[non_exhaustive]
pub enum InvalidReason {
    /// The lap clock advanced by more than the allowed gap (200 ms) between two frames:
    /// data was lost.
    ClockGap {
        /// Lap clock before the gap, ms.
        from_ms: i32,
        /// Lap clock after the gap, ms.
        to_ms: i32,
    },
    /// The lap clock went backwards without a lap completing (a reset or restart to the line).
    ClockJumpedBack {
        /// Lap clock before, ms.
        from_ms: i32,
        /// Lap clock after, ms.
        to_ms: i32,
    },
    /// The lap count went down.
    LapCountDecreased {
        /// Lap count before.
        from: i32,
        /// Lap count after.
        to: i32,
    },
    /// The car moved more than 5 % of the track within 50 ms of lap clock: a teleport.
    Teleport {
        /// Normalized position before.
        from_position: f32,
        /// Normalized position after.
        to_position: f32,
        /// Lap clock between the two frames, ms.
        within_ms: i32,
    },
    /// The file it was imported from marked it invalid (and did not say why).
    Imported,
    /// Part of the lap was driven in the pit lane.
    PitLane {
        /// Lap clock when the car was first seen in the pit lane, ms.
        at_ms: i32,
    },
}

impl std::fmt::Display for InvalidReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            Self::ClockGap { from_ms, to_ms } => {
                write!(f, "lap clock gap from {from_ms} ms to {to_ms} ms")
            }
            Self::ClockJumpedBack { from_ms, to_ms } => {
                write!(f, "lap clock jumped back from {from_ms} ms to {to_ms} ms")
            }
            Self::LapCountDecreased { from, to } => {
                write!(f, "lap count went down from {from} to {to}")
            }
            Self::Teleport {
                from_position,
                to_position,
                within_ms,
            } => write!(
                f,
                "position jumped from {from_position:.4} to {to_position:.4} within {within_ms} ms"
            ),
            Self::PitLane { at_ms } => write!(f, "in the pit lane at {at_ms} ms"),
            Self::Imported => f.write_str("marked invalid in the imported file"),
        }
    }
}

/// A lap cut from the stream.
#[derive(Debug, Clone, PartialEq)]
pub struct Lap {
    /// Which stint of the recording (0 first; +1 at each session restart in the game).
    pub stint: u32,
    /// The lap's number in the game's session: `lap_count` while it was driven, plus one.
    pub number: i32,
    /// How it began and ended.
    pub kind: LapKind,
    /// Why it does not count; `None` when it is valid.
    pub invalid_reason: Option<InvalidReason>,
    /// The lap's time and its source: the game's (`last_lap_ms` once the lap completed), or
    /// the lap clock's for a lap that runs line to line; `None` for a lap that did not
    /// complete (a partial lap).
    pub time: Option<LapTime>,
    /// The frames, in order.
    pub frames: Vec<Frame>,
}

impl Lap {
    /// True when the lap counts.
    pub fn is_valid(&self) -> bool {
        self.invalid_reason.is_none()
    }

    /// The lap's time, ms, whatever its source.
    pub fn time_ms(&self) -> Option<i32> {
        self.time.map(|t| t.ms)
    }
}

/// Why a lap in progress was closed as partial.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PartialCause {
    /// The recording was stopped.
    Stopped,
    /// The game went silent (left the session).
    Silence,
    /// The game restarted the session (lap count back to 0).
    SessionRestart,
}

/// What the segmenter reports.
#[derive(Debug, Clone, PartialEq)]
pub enum LapEvent {
    /// A new stint began (the first frame, or the game restarted its session).
    StintStarted {
        /// The stint's index.
        stint: u32,
    },
    /// A lap is done (completed at the line, or closed as partial).
    Lap(Lap),
    /// A spot event disagreed with the car-info stream's official time.
    TimeMismatch {
        /// The lap's number.
        number: i32,
        /// Time from the car-info stream, ms.
        official_time_ms: i32,
        /// Time from the spot event, ms.
        spot_time_ms: i32,
    },
    /// The lap clock of a completed lap's last frame ran past the lap's official time by more
    /// than [`SegmenterConfig::clock_overrun_tolerance_ms`]: the game's two clocks disagree.
    /// (Falling short of the official time by more than the allowed gap is data loss, reported
    /// as [`InvalidReason::ClockGap`] on the lap instead.)
    ClockMismatch {
        /// The lap's number.
        number: i32,
        /// The official time (`last_lap_ms`), ms.
        official_time_ms: i32,
        /// The lap clock on the lap's last frame, ms.
        last_clock_ms: i32,
    },
}
