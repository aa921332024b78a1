//! Why a lap cannot be analysed.

use serde::{Deserialize, Serialize};

/// Which of the two laps of an analysis a problem is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LapRole {
    /// The lap being analysed.
    Lap,
    /// The reference it is compared with.
    Reference,
}

impl LapRole {
    /// `lap` or `reference`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Lap => "lap",
            Self::Reference => "reference",
        }
    }
}

impl std::fmt::Display for LapRole {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a lap could not be put on the distance grid or compared. Every variant carries the
/// numbers that were wrong.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum AnalysisError {
    /// Not enough frames to make a lap of.
    #[error("{role}: {found} frames, at least {min} needed")]
    TooFewFrames {
        /// Which lap.
        role: LapRole,
        /// Frames given (after dropping duplicates and backward jitter).
        found: usize,
        /// The minimum.
        min: usize,
    },
    /// A frame's track position or lap clock is not a finite number.
    #[error("{role}: frame {index} has a non-finite track position")]
    NotFinite {
        /// Which lap.
        role: LapRole,
        /// Index of the frame.
        index: usize,
    },
    /// The frames do not cover (almost) the whole lap.
    #[error(
        "{role}: the frames cover {covered_percent:.1} % of the lap, at least {min_percent:.0} % needed"
    )]
    IncompleteLap {
        /// Which lap.
        role: LapRole,
        /// Share of the lap covered, %.
        covered_percent: f64,
        /// The minimum, %.
        min_percent: f64,
    },
    /// Neither the world coordinates nor the speed give a usable track length.
    #[error(
        "{role}: no distance: coordinates give {from_coordinates_m:.1} m and speed {from_speed_m:.1} m for the lap"
    )]
    NoDistance {
        /// Which lap.
        role: LapRole,
        /// Track length from the world coordinates, m.
        from_coordinates_m: f64,
        /// Track length from integrating the speed, m.
        from_speed_m: f64,
    },
    /// The lap's time (official, or the lap clock at the end) is not positive.
    #[error("{role}: lap time {time_ms} ms is not positive")]
    BadLapTime {
        /// Which lap.
        role: LapRole,
        /// The time, ms.
        time_ms: i32,
    },
    /// The lap clock does not advance over the lap.
    #[error("{role}: the lap clock runs only from {first_ms} ms to {last_ms} ms")]
    NoClock {
        /// Which lap.
        role: LapRole,
        /// First frame's lap clock, ms.
        first_ms: i32,
        /// Last frame's lap clock, ms.
        last_ms: i32,
    },
    /// A channel a trace reads was not among the columns it was given
    /// ([`super::LapTrace::CHANNELS`]).
    #[error("{role}: channel {channel} has {found} values for {frames} frames")]
    MissingChannel {
        /// Which lap.
        role: LapRole,
        /// The channel's name ([`crate::store::Channel::name`]).
        channel: &'static str,
        /// Values in its column (0 when it was not loaded).
        found: usize,
        /// Frames in the lap.
        frames: usize,
    },
    /// The two laps are not the same length: not the same track (or layout).
    #[error("lap is {lap_m:.0} m long, the reference {reference_m:.0} m: not the same track?")]
    LengthMismatch {
        /// The lap's own length, m.
        lap_m: f64,
        /// The reference's length, m.
        reference_m: f64,
    },
}

impl AnalysisError {
    /// The same error, about `role`'s lap.
    pub fn with_role(self, role: LapRole) -> Self {
        match self {
            Self::TooFewFrames { found, min, .. } => Self::TooFewFrames { role, found, min },
            Self::NotFinite { index, .. } => Self::NotFinite { role, index },
            Self::IncompleteLap {
                covered_percent,
                min_percent,
                ..
            } => Self::IncompleteLap {
                role,
                covered_percent,
                min_percent,
            },
            Self::NoDistance {
                from_coordinates_m,
                from_speed_m,
                ..
            } => Self::NoDistance {
                role,
                from_coordinates_m,
                from_speed_m,
            },
            Self::BadLapTime { time_ms, .. } => Self::BadLapTime { role, time_ms },
            Self::NoClock {
                first_ms, last_ms, ..
            } => Self::NoClock {
                role,
                first_ms,
                last_ms,
            },
            Self::MissingChannel {
                channel,
                found,
                frames,
                ..
            } => Self::MissingChannel {
                role,
                channel,
                found,
                frames,
            },
            other @ Self::LengthMismatch { .. } => other,
        }
    }
}
