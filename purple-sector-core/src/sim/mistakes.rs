//! Driving mistakes to inject at a named corner of a given lap, and the parser for the
//! command line's `--mistakes` spec.
//!
//! ```
//! use purple_sector_core::sim::{parse_mistakes, MistakeKind, Track};
//!
//! let track = Track::test_circuit();
//! let mistakes = parse_mistakes("lap=3:corner=T4:early_braking=25,lap=5:corner=T2:late_throttle=40", &track)?;
//! assert_eq!(mistakes[0].kind, MistakeKind::EarlyBraking);
//! assert_eq!(mistakes[1].to_string(), "lap=5:corner=T2:late_throttle=40");
//! # Ok::<(), purple_sector_core::sim::MistakeSpecError>(())
//! ```

use std::fmt;

use super::driver::{self, Dynamics, Grid};
use super::track::Track;

/// What the driver gets wrong at a corner.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MistakeKind {
    /// Brakes this many metres before the optimal braking point, and so more gently, reaching
    /// the apex speed at the apex.
    EarlyBraking,
    /// Drives the corner this many per cent below its limit speed (so the apex too).
    OverSlowing,
    /// Picks up the throttle this many metres after the optimal pick-up point (where the
    /// ideal lap reaches half throttle), holding its speed meanwhile.
    LateThrottle,
    /// Lifts and coasts from this many metres before the optimal braking point.
    Coasting,
}

impl MistakeKind {
    /// Every kind.
    pub const ALL: [MistakeKind; 4] = [
        Self::EarlyBraking,
        Self::OverSlowing,
        Self::LateThrottle,
        Self::Coasting,
    ];

    /// The spec's name: `early_braking`, `over_slowing`, `late_throttle`, `coasting`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::EarlyBraking => "early_braking",
            Self::OverSlowing => "over_slowing",
            Self::LateThrottle => "late_throttle",
            Self::Coasting => "coasting",
        }
    }

    /// The kind called `name` in a spec.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == name)
    }

    /// Unit of the amount: `m` or `%`.
    pub fn unit(self) -> &'static str {
        match self {
            Self::OverSlowing => "%",
            _ => "m",
        }
    }

    /// Largest amount accepted (the smallest is anything above 0).
    pub fn max_amount(self) -> f64 {
        match self {
            Self::OverSlowing => 50.0,
            _ => 500.0,
        }
    }
}

impl fmt::Display for MistakeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One mistake: at `corner` on `lap`, of `kind`, by `amount` (metres, or per cent for
/// [`MistakeKind::OverSlowing`]).
///
/// Laps are numbered as the game counts them: lap 1 is the out lap from the pit box, lap 2
/// the first flying lap; lap N ends when `lap_count` becomes N.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Mistake {
    /// Lap number (1 = the out lap).
    pub lap: u32,
    /// Corner name as the track has it (`T4`).
    pub corner: String,
    /// What goes wrong.
    pub kind: MistakeKind,
    /// How much: metres, or per cent for over-slowing.
    pub amount: f64,
}

impl Mistake {
    /// A mistake.
    pub fn new(lap: u32, corner: impl Into<String>, kind: MistakeKind, amount: f64) -> Self {
        Self {
            lap,
            corner: corner.into(),
            kind,
            amount,
        }
    }

    /// Plain words: "braked 25 m early into T4".
    pub fn describe(&self) -> String {
        let (amount, corner) = (self.amount, &self.corner);
        match self.kind {
            MistakeKind::EarlyBraking => format!("braked {amount} m early into {corner}"),
            MistakeKind::OverSlowing => format!("took {corner} {amount} % below the limit"),
            MistakeKind::LateThrottle => {
                format!("picked up the throttle {amount} m late out of {corner}")
            }
            MistakeKind::Coasting => format!("coasted for {amount} m before braking for {corner}"),
        }
    }

    /// Edits a leg's speeds. False when the corner is unknown or not on the leg.
    pub(crate) fn apply(
        &self,
        speeds: &mut [f64],
        d: Dynamics<'_>,
        grid: &Grid,
        track: &Track,
    ) -> bool {
        let Some(corner) = track.corner(&self.corner) else {
            return false;
        };
        let span = grid.span(corner);
        match self.kind {
            MistakeKind::EarlyBraking => driver::brake_early(speeds, d, span, self.amount),
            MistakeKind::OverSlowing => driver::over_slow(speeds, d, span, self.amount),
            MistakeKind::LateThrottle => driver::pick_up_late(speeds, d, span, self.amount),
            MistakeKind::Coasting => driver::coast_early(speeds, d, span, self.amount),
        }
    }
}

impl fmt::Display for Mistake {
    /// The spec form: `lap=3:corner=T4:early_braking=25`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "lap={}:corner={}:{}={}",
            self.lap, self.corner, self.kind, self.amount
        )
    }
}

/// Where in a spec a problem is: the mistake's number (from 1), its byte offset and its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecPart {
    /// Which comma-separated mistake, from 1.
    pub index: usize,
    /// Byte offset of the mistake in the spec.
    pub offset: usize,
    /// Its text.
    pub text: String,
}

impl fmt::Display for SpecPart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "mistake {} {:?} (byte {})",
            self.index, self.text, self.offset
        )
    }
}

/// Why a `--mistakes` spec is refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum MistakeSpecError {
    /// A mistake between two commas is empty.
    #[error("{part}: empty")]
    EmptyPart {
        /// Where.
        part: SpecPart,
    },
    /// A field is not `key=value`.
    #[error("{part}: field {field:?} is not key=value")]
    NotKeyValue {
        /// Where.
        part: SpecPart,
        /// The field.
        field: String,
    },
    /// A key is none of `lap`, `corner` or a mistake kind.
    #[error(
        "{part}: unknown mistake kind {kind:?} (expected early_braking, over_slowing, late_throttle or coasting)"
    )]
    UnknownKind {
        /// Where.
        part: SpecPart,
        /// The key found.
        kind: String,
    },
    /// `lap`, `corner` or the kind is missing.
    #[error("{part}: missing {field}")]
    Missing {
        /// Where.
        part: SpecPart,
        /// `lap`, `corner` or `kind`.
        field: &'static str,
    },
    /// A key appears twice, or two kinds are given.
    #[error("{part}: {field} given twice")]
    Duplicate {
        /// Where.
        part: SpecPart,
        /// The key (`kind` for a second kind).
        field: String,
    },
    /// The lap is not a number from 1.
    #[error("{part}: lap {value:?} is not a lap number (laps count from 1, the out lap)")]
    BadLap {
        /// Where.
        part: SpecPart,
        /// The value found.
        value: String,
    },
    /// The amount is not a number in the kind's range.
    #[error("{part}: {kind}={value:?} is not a number above 0 and at most {max} {unit}")]
    BadAmount {
        /// Where.
        part: SpecPart,
        /// The kind.
        kind: MistakeKind,
        /// The value found.
        value: String,
        /// Largest accepted.
        max: f64,
        /// Unit of the amount.
        unit: &'static str,
    },
    /// The track has no such corner.
    #[error("{part}: track {track} has no corner {corner:?} (it has T1 to T{corners})")]
    UnknownCorner {
        /// Where.
        part: SpecPart,
        /// The corner asked for.
        corner: String,
        /// The track.
        track: String,
        /// How many corners it has.
        corners: usize,
    },
}

/// Parses a `--mistakes` spec against `track`: comma-separated mistakes, each
/// colon-separated `key=value` fields in any order — `lap=N`, `corner=TN` (case-insensitive)
/// and exactly one of `early_braking=M`, `over_slowing=P`, `late_throttle=M`,
/// `coasting=M` (metres; per cent for over-slowing). An empty spec is no mistakes.
pub fn parse_mistakes(spec: &str, track: &Track) -> Result<Vec<Mistake>, MistakeSpecError> {
    if spec.trim().is_empty() {
        return Ok(Vec::new());
    }
    let mut mistakes = Vec::new();
    let mut offset = 0;
    for (index, raw) in spec.split(',').enumerate() {
        let lead = raw.len() - raw.trim_start().len();
        let part = SpecPart {
            index: index + 1,
            offset: offset + lead,
            text: raw.trim().to_owned(),
        };
        offset += raw.len() + 1;
        mistakes.push(parse_one(part, track)?);
    }
    Ok(mistakes)
}

fn parse_one(part: SpecPart, track: &Track) -> Result<Mistake, MistakeSpecError> {
    if part.text.is_empty() {
        return Err(MistakeSpecError::EmptyPart { part });
    }
    let mut lap: Option<u32> = None;
    let mut corner: Option<String> = None;
    let mut kind: Option<(MistakeKind, f64)> = None;
    let text = part.text.clone();
    for field in text.split(':') {
        let Some((key, value)) = field.split_once('=') else {
            return Err(MistakeSpecError::NotKeyValue {
                part,
                field: field.to_owned(),
            });
        };
        let (key, value) = (key.trim(), value.trim());
        match key {
            "lap" => {
                if lap.is_some() {
                    return Err(duplicate(part, key));
                }
                match value.parse::<u32>() {
                    Ok(n) if n >= 1 => lap = Some(n),
                    _ => {
                        return Err(MistakeSpecError::BadLap {
                            part,
                            value: value.to_owned(),
                        });
                    }
                }
            }
            "corner" => {
                if corner.is_some() {
                    return Err(duplicate(part, key));
                }
                match track.corner(value) {
                    Some(c) => corner = Some(c.name.clone()),
                    None => {
                        return Err(MistakeSpecError::UnknownCorner {
                            part,
                            corner: value.to_owned(),
                            track: track.name().to_owned(),
                            corners: track.corners().len(),
                        });
                    }
                }
            }
            _ => {
                let Some(k) = MistakeKind::from_name(key) else {
                    return Err(MistakeSpecError::UnknownKind {
                        part,
                        kind: key.to_owned(),
                    });
                };
                if kind.is_some() {
                    return Err(duplicate(part, "kind"));
                }
                match value.parse::<f64>() {
                    Ok(a) if a.is_finite() && a > 0.0 && a <= k.max_amount() => {
                        kind = Some((k, a));
                    }
                    _ => {
                        return Err(MistakeSpecError::BadAmount {
                            part,
                            kind: k,
                            value: value.to_owned(),
                            max: k.max_amount(),
                            unit: k.unit(),
                        });
                    }
                }
            }
        }
    }
    let Some(lap) = lap else {
        return Err(MistakeSpecError::Missing { part, field: "lap" });
    };
    let Some(corner) = corner else {
        return Err(MistakeSpecError::Missing {
            part,
            field: "corner",
        });
    };
    let Some((kind, amount)) = kind else {
        return Err(MistakeSpecError::Missing {
            part,
            field: "kind",
        });
    };
    Ok(Mistake {
        lap,
        corner,
        kind,
        amount,
    })
}

fn duplicate(part: SpecPart, field: &str) -> MistakeSpecError {
    MistakeSpecError::Duplicate {
        part,
        field: field.to_owned(),
    }
}

/// The demo's mistakes, so a demo has something to coach: braking 25 m early into the
/// slowest corner on the second flying lap (lap 3), and picking up the throttle 40 m late out
/// of the second slowest on the third (lap 4) — each only when the session has that lap.
pub fn demo_mistakes(track: &Track, flying_laps: u32) -> Vec<Mistake> {
    let profile = super::SpeedProfile::optimal(track, &super::Car::default());
    let mut corners: Vec<(f64, &str)> = track
        .corners()
        .iter()
        .map(|c| (profile.speed_at(c.apex_m), c.name.as_str()))
        .collect();
    corners.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut out = Vec::new();
    if let (Some((_, slowest)), true) = (corners.first(), flying_laps >= 2) {
        out.push(Mistake::new(3, *slowest, MistakeKind::EarlyBraking, 25.0));
    }
    if let (Some((_, second)), true) = (corners.get(1), flying_laps >= 3) {
        out.push(Mistake::new(4, *second, MistakeKind::LateThrottle, 40.0));
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip_their_names() {
        for kind in MistakeKind::ALL {
            assert_eq!(MistakeKind::from_name(kind.as_str()), Some(kind));
        }
        assert_eq!(MistakeKind::from_name("Coasting"), None);
        let m = Mistake::new(4, "T2", MistakeKind::OverSlowing, 7.5);
        assert_eq!(m.to_string(), "lap=4:corner=T2:over_slowing=7.5");
        assert_eq!(m.describe(), "took T2 7.5 % below the limit");
    }

    #[test]
    fn offsets_point_at_the_part() {
        let track = Track::test_circuit();
        let spec = "lap=2:corner=T1:coasting=20, lap=3:corner=T9:coasting=20";
        let err = parse_mistakes(spec, &track).unwrap_err();
        let MistakeSpecError::UnknownCorner { part, corner, .. } = err else {
            panic!("{err:?}");
        };
        assert_eq!(corner, "T9");
        assert_eq!(part.index, 2);
        assert_eq!(&spec[part.offset..], part.text);
    }
}
