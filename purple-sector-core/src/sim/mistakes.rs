//! Driving mistakes to inject at a corner of a given lap, and the parser for the command
//! line's `--mistakes` spec.
//!
//! Corners are the track map's ([`TrackMap`]): the corners the coach speaks of, by name
//! (`Tosa`) or number (`T3`); see [`super::track_map`] for the simulator's own map of a
//! track and [`super::SimConfig::map`].
//!
//! ```
//! use purple_sector_core::sim::{parse_mistakes, track_map, Car, MistakeKind, Track};
//!
//! let map = track_map(&Track::test_circuit(), &Car::default())?;
//! let mistakes = parse_mistakes("lap=3:corner=T4:early_braking=25,lap=5:corner=t2:late_throttle=40", &map)?;
//! assert_eq!(mistakes[0].kind, MistakeKind::EarlyBraking);
//! assert_eq!(mistakes[1].to_string(), "lap=5:corner=T2:late_throttle=40");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;

use super::driver::{self, Dynamics, Effects, Grid};
use crate::analysis::{Cause, Corner};
use crate::track::TrackMap;

/// What the driver gets wrong at a corner.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MistakeKind {
    /// Brakes this many metres before the optimal braking point, and so more gently (a fifth
    /// of the brake at least), reaching the apex speed by the apex.
    EarlyBraking,
    /// Brakes this many metres after the optimal braking point, reaches the corner too fast,
    /// runs deep and over-slows: below the limit by as much as it was too fast (70 % at
    /// most).
    LateBraking,
    /// Drives the corner this many per cent below its limit speed (so the apex too).
    OverSlowing,
    /// Picks up the throttle this many metres after the optimal pick-up point (where the
    /// ideal lap's throttle comes back), holding its speed meanwhile.
    LateThrottle,
    /// Lifts and coasts from this many metres before the optimal braking point.
    Coasting,
    /// Lifts off the throttle for this many metres in the corner, 10 m after picking it up (at
    /// most half-way to the exit).
    MidCornerLift,
    /// Takes the corner a gear too low, from the braking point to the exit: this many per
    /// cent of the drive force goes in wheelspin from the pick-up, the pedals as usual.
    LowerGear,
    /// Loses this many per cent of the drive force to wheelspin from the pick-up to the
    /// corner's exit, the pedals as usual: the same inputs, a slower exit.
    SlowExit,
    /// Drives a line this many per cent longer than the centre line through the corner, at
    /// the same speeds.
    WideLine,
}

impl MistakeKind {
    /// Every kind.
    pub const ALL: [MistakeKind; 9] = [
        Self::EarlyBraking,
        Self::LateBraking,
        Self::OverSlowing,
        Self::LateThrottle,
        Self::Coasting,
        Self::MidCornerLift,
        Self::LowerGear,
        Self::SlowExit,
        Self::WideLine,
    ];

    /// The spec's name: `early_braking`, `late_braking`, `over_slowing`, `late_throttle`,
    /// `coasting`, `mid_corner_lift`, `lower_gear`, `slow_exit`, `wide_line`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::EarlyBraking => "early_braking",
            Self::LateBraking => "late_braking",
            Self::OverSlowing => "over_slowing",
            Self::LateThrottle => "late_throttle",
            Self::Coasting => "coasting",
            Self::MidCornerLift => "mid_corner_lift",
            Self::LowerGear => "lower_gear",
            Self::SlowExit => "slow_exit",
            Self::WideLine => "wide_line",
        }
    }

    /// The kind called `name` in a spec.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == name)
    }

    /// Unit of the amount: `m` or `%`.
    pub fn unit(self) -> &'static str {
        match self {
            Self::OverSlowing | Self::LowerGear | Self::SlowExit | Self::WideLine => "%",
            _ => "m",
        }
    }

    /// Largest amount accepted (the smallest is anything above 0).
    pub fn max_amount(self) -> f64 {
        match self {
            Self::OverSlowing | Self::LowerGear | Self::SlowExit => 50.0,
            Self::WideLine => 20.0,
            Self::LateBraking => 30.0,
            _ => 500.0,
        }
    }

    /// The cause the coach should name for this mistake ([`Cause`]).
    pub fn cause(self) -> Cause {
        match self {
            Self::EarlyBraking => Cause::EarlyBraking,
            Self::LateBraking => Cause::LateBrakingOverslowed,
            Self::OverSlowing => Cause::LowApexSpeed,
            Self::LateThrottle => Cause::LateThrottle,
            Self::Coasting => Cause::Coasting,
            Self::MidCornerLift => Cause::MidCornerLift,
            Self::LowerGear => Cause::LowerGear,
            Self::SlowExit => Cause::SlowExit,
            Self::WideLine => Cause::Line,
        }
    }
}

impl fmt::Display for MistakeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One mistake: at `corner` on `lap`, of `kind`, by `amount` (metres, or per cent: see
/// [`MistakeKind::unit`]).
///
/// Laps are numbered as the game counts them: lap 1 is the out lap from the pit box, lap 2
/// the first flying lap; lap N ends when `lap_count` becomes N.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Mistake {
    /// Lap number (1 = the out lap).
    pub lap: u32,
    /// The corner of the track map, as named there (`Tosa`, `T4`); any name or number the
    /// map knows ([`TrackMap::corner`]) until the simulator resolves it.
    pub corner: String,
    /// What goes wrong.
    pub kind: MistakeKind,
    /// How much: metres, or per cent.
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

    /// Plain words: "braked 25 m early into Tosa".
    pub fn describe(&self) -> String {
        let (amount, corner) = (self.amount, &self.corner);
        match self.kind {
            MistakeKind::EarlyBraking => format!("braked {amount} m early into {corner}"),
            MistakeKind::LateBraking => {
                format!("braked {amount} m late into {corner} and over-slowed")
            }
            MistakeKind::OverSlowing => format!("took {corner} {amount} % below the limit"),
            MistakeKind::LateThrottle => {
                format!("picked up the throttle {amount} m late out of {corner}")
            }
            MistakeKind::Coasting => format!("coasted for {amount} m before braking for {corner}"),
            MistakeKind::MidCornerLift => format!("lifted for {amount} m in {corner}"),
            MistakeKind::LowerGear => {
                format!("took {corner} a gear too low, losing {amount} % of the drive out of it")
            }
            MistakeKind::SlowExit => {
                format!("lost {amount} % of the drive out of {corner} to wheelspin")
            }
            MistakeKind::WideLine => format!("drove a line {amount} % longer through {corner}"),
        }
    }

    /// Edits a leg's speeds at `corner` (the map's window on the simulator's track). `None`
    /// when the corner is not on the leg.
    pub(crate) fn apply(
        &self,
        speeds: &mut [f64],
        d: Dynamics<'_>,
        grid: &Grid,
        corner: &Corner,
    ) -> Option<Effects> {
        let span = grid.span_m(corner.start_m, corner.end_m);
        // A chicane's approach is to its first part, its exit from its last.
        let (entry, exit) = (
            driver::entry_span(speeds, span),
            driver::exit_span(speeds, span),
        );
        let speeds_only = |applied: bool| applied.then(Effects::default);
        match self.kind {
            MistakeKind::EarlyBraking => {
                speeds_only(driver::brake_early(speeds, d, entry, self.amount))
            }
            MistakeKind::LateBraking => {
                speeds_only(driver::brake_late(speeds, d, span, self.amount))
            }
            MistakeKind::OverSlowing => {
                speeds_only(driver::over_slow(speeds, d, span, self.amount))
            }
            MistakeKind::LateThrottle => {
                speeds_only(driver::pick_up_late(speeds, d, exit, self.amount))
            }
            MistakeKind::Coasting => {
                speeds_only(driver::coast_early(speeds, d, entry, self.amount))
            }
            MistakeKind::MidCornerLift => {
                speeds_only(driver::lift_mid_corner(speeds, d, exit, self.amount))
            }
            MistakeKind::LowerGear => driver::lower_gear(speeds, d, span, self.amount),
            MistakeKind::SlowExit => driver::slow_exit(speeds, d, exit, self.amount),
            MistakeKind::WideLine => driver::wide_line(span, d.first, self.amount),
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
        "{part}: unknown mistake kind {kind:?} (expected early_braking, late_braking, over_slowing, late_throttle, coasting, mid_corner_lift, lower_gear, slow_exit or wide_line)"
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
    /// The track's map has no such corner.
    #[error("{part}: track {track} has no corner {corner:?} (it has {known})")]
    UnknownCorner {
        /// Where.
        part: SpecPart,
        /// The corner asked for.
        corner: String,
        /// The track.
        track: String,
        /// What it has ([`TrackMap::describe_corners`]: "Tamburello (T1) to Rivazza (T7)").
        known: String,
    },
}

/// Parses a `--mistakes` spec against the track's map: comma-separated mistakes, each
/// colon-separated `key=value` fields in any order — `lap=N`, `corner=NAME` (a map corner's
/// name or number: `Tosa`, `T3`, `3`, in any case) and exactly one kind:
/// `early_braking=M`, `late_braking=M`, `over_slowing=P`, `late_throttle=M`, `coasting=M`,
/// `mid_corner_lift=M`, `lower_gear=M`, `slow_exit=P`, `wide_line=P` (M metres, P per cent).
/// The corner is kept as the map names it. An empty spec is no mistakes.
pub fn parse_mistakes(spec: &str, map: &TrackMap) -> Result<Vec<Mistake>, MistakeSpecError> {
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
        mistakes.push(parse_one(part, map)?);
    }
    Ok(mistakes)
}

fn parse_one(part: SpecPart, map: &TrackMap) -> Result<Mistake, MistakeSpecError> {
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
                match map.corner(value) {
                    Some(c) => corner = Some(c.name.clone()),
                    None => {
                        return Err(MistakeSpecError::UnknownCorner {
                            part,
                            corner: value.to_owned(),
                            track: map.track.clone(),
                            known: map.describe_corners(),
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
/// slowest corner of the map on the second flying lap (lap 3), and picking up the throttle
/// 40 m late out of the second slowest on the third (lap 4) — each only when the session has
/// that lap. Corners are ranked by the ideal lap's speed at their apex on `track`.
pub fn demo_mistakes(track: &super::Track, map: &TrackMap, flying_laps: u32) -> Vec<Mistake> {
    let profile = super::SpeedProfile::optimal(track, &super::Car::default());
    let mut corners: Vec<(f64, &str)> = map
        .corners
        .iter()
        .map(|c| {
            let on_track = super::map::on_track(c, map, track);
            (profile.speed_at(on_track.apex_m), c.name.as_str())
        })
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
        let map = crate::sim::track_map(
            &crate::sim::Track::test_circuit(),
            &crate::sim::Car::default(),
        )
        .unwrap();
        let spec = "lap=2:corner=T1:coasting=20, lap=3:corner=T9:coasting=20";
        let err = parse_mistakes(spec, &map).unwrap_err();
        let MistakeSpecError::UnknownCorner {
            part,
            corner,
            known,
            ..
        } = err
        else {
            panic!("{err:?}");
        };
        assert_eq!(corner, "T9");
        assert_eq!(known, "T1 to T5");
        assert_eq!(part.index, 2);
        assert_eq!(&spec[part.offset..], part.text);
    }

    #[test]
    fn every_kind_has_its_cause() {
        let causes: std::collections::BTreeSet<Cause> =
            MistakeKind::ALL.iter().map(|k| k.cause()).collect();
        assert_eq!(causes.len(), MistakeKind::ALL.len());
        assert!(!causes.contains(&Cause::General));
    }
}
