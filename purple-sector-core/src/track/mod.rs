//! Track maps: one per track and layout, built once from the first clean laps driven there and
//! kept in the store, so that every lap on the track is analysed at the same corners with the
//! same ids and names, whatever its reference.
//!
//! A [`TrackMap`] holds the track's length, its centre line (the x/z of a clean lap) and its
//! corners ([`Corner`]: a stable id `T1`, `T2` … in track order, a name, and a window from
//! the brake or lift onset to the exit). On a known track ([`known_corners`]: Imola) corners
//! carry their own names (Tamburello, Villeneuve, Tosa …), each chicane one corner;
//! elsewhere the name is the id. [`TrackMap::build`] makes one from laps on one grid with
//! [`crate::analysis::detect_corners_with`]'s rules; [`crate::review::track_map`] gets a
//! track's map from the store, building and keeping it the first time.
//!
//! ```
//! use purple_sector_core::analysis::LapTrace;
//! use purple_sector_core::telemetry::Frame;
//! use purple_sector_core::track::TrackMap;
//!
//! // A 2 km loop at 50 m/s with one slow corner at 1 km.
//! let frames: Vec<Frame> = (0..=2_000)
//!     .map(|i| {
//!         let d = i as f32;
//!         let slow = (-((d - 1_000.0) / 80.0).powi(2)).exp();
//!         Frame {
//!             lap_time_ms: i * 22,
//!             position_normalized: d / 2_000.0,
//!             speed_kmh: 180.0 - 100.0 * slow,
//!             gas: if slow > 0.05 { 0.0 } else { 1.0 },
//!             brake: if (880.0..1_000.0).contains(&d) { 0.8 } else { 0.0 },
//!             world_m: [d, 0.0, 0.0],
//!             ..Frame::default()
//!         }
//!     })
//!     .collect();
//! let lap = LapTrace::new(&frames, None)?;
//! let map = TrackMap::build("test", "", &[&lap])?;
//! assert_eq!(map.corners.len(), 1);
//! assert_eq!(map.corner("T1").map(|c| c.name.as_str()), Some("T1"));
//! assert!(map.corners[0].start_m < 1_000.0 && 1_000.0 < map.corners[0].end_m);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use serde::{Deserialize, Serialize};

use crate::analysis::{Corner, LapTrace, Thresholds};

/// The map format and builder this build writes; a stored map of another version is rebuilt
/// ([`TrackMap::is_current`]).
pub const MAP_VERSION: u32 = 2;

/// Spacing of a map's centre line, m.
pub const CENTRE_LINE_SPACING_M: f64 = 5.0;

/// How many clean laps a map is built from, at most (the first ones driven).
pub const MAP_LAPS: usize = 3;

/// Largest relative difference between a lap's length and the map's before the lap is taken
/// for another track or layout.
pub const MAX_LENGTH_MISMATCH: f64 = 0.05;

/// A named corner of a known track: its name and the stretch of the lap (0..1 from the line)
/// its apex lies in. Every corner found with its apex there is this corner.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct KnownCorner {
    /// The corner's name.
    pub name: &'static str,
    /// Start of the stretch, 0..1 of the lap.
    pub from: f64,
    /// End of the stretch, 0..1 of the lap.
    pub to: f64,
}

/// Imola (Autodromo Enzo e Dino Ferrari, 4.9 km), anticlockwise from the line. Placed from
/// the real laps of the fixtures: the apexes (lap 2) lie at Tamburello 748 m (its last left
/// flick 869 m), Villeneuve 1409 m, Tosa 1716 m, Piratella 2325 m, Acque Minerali 2831 m,
/// Variante Alta 3361 m, Rivazza 4133 and 4240 m, of 4879 m.
const IMOLA: [KnownCorner; 7] = [
    KnownCorner {
        name: "Tamburello",
        from: 0.10,
        to: 0.20,
    },
    KnownCorner {
        name: "Villeneuve",
        from: 0.24,
        to: 0.31,
    },
    KnownCorner {
        name: "Tosa",
        from: 0.33,
        to: 0.38,
    },
    KnownCorner {
        name: "Piratella",
        from: 0.44,
        to: 0.50,
    },
    KnownCorner {
        name: "Acque Minerali",
        from: 0.54,
        to: 0.62,
    },
    KnownCorner {
        name: "Variante Alta",
        from: 0.66,
        to: 0.72,
    },
    KnownCorner {
        name: "Rivazza",
        from: 0.82,
        to: 0.90,
    },
];

/// The named corners of a known track (`imola`, in any case, with any layout), empty for
/// any other.
pub fn known_corners(track: &str) -> &'static [KnownCorner] {
    let track = track.to_ascii_lowercase();
    if track == "imola" || track.ends_with("_imola") || track.starts_with("imola") {
        &IMOLA
    } else {
        &[]
    }
}

/// Why a map cannot be built.
#[derive(Debug, Clone, Copy, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum TrackMapError {
    /// No laps were given.
    #[error("no laps to build a track map from")]
    NoLaps,
    /// A lap is not on the first lap's grid.
    #[error("lap {index} has {found} grid points, the first lap {expected}")]
    GridMismatch {
        /// Which lap (0-based).
        index: usize,
        /// Its grid points.
        found: usize,
        /// The first lap's.
        expected: usize,
    },
}

/// A track's map: length, centre line and corners, the same for every lap on it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrackMap {
    /// The track as the game names it (`imola`); empty when unknown.
    pub track: String,
    /// Its layout; empty when the track has one or it is unknown.
    pub config: String,
    /// Length of the lap, m: every lap compared on the map is put on it.
    pub length_m: f64,
    /// The centre line: x and z (horizontal, m) every [`CENTRE_LINE_SPACING_M`] from the
    /// line, from the first lap the map was built from; empty when it had no coordinates.
    pub centre_line_xz_m: Vec<[f32; 2]>,
    /// The corners in track order, ids `T1` … `Tn`.
    pub corners: Vec<Corner>,
    /// The stored laps the map was built from (their ids), when it was built from stored
    /// laps.
    #[serde(default)]
    pub built_from: Vec<i64>,
    /// The builder's version ([`MAP_VERSION`]).
    pub version: u32,
}

impl TrackMap {
    /// A map from `laps`, all on the first one's grid (build them with
    /// [`LapTrace::with_length`] the first's length), with the default [`Thresholds`]; the
    /// names of [`known_corners`] for `track`.
    pub fn build(track: &str, config: &str, laps: &[&LapTrace]) -> Result<Self, TrackMapError> {
        Self::build_with(track, config, laps, &Thresholds::default())
    }

    /// [`TrackMap::build`] with given thresholds.
    pub fn build_with(
        track: &str,
        config: &str,
        laps: &[&LapTrace],
        thresholds: &Thresholds,
    ) -> Result<Self, TrackMapError> {
        let first = laps.first().ok_or(TrackMapError::NoLaps)?;
        if let Some((index, lap)) = laps
            .iter()
            .enumerate()
            .find(|(_, l)| l.len() != first.len())
        {
            return Err(TrackMapError::GridMismatch {
                index,
                found: lap.len(),
                expected: first.len(),
            });
        }
        let corners = crate::analysis::detect_on(laps, thresholds, known_corners(track));
        Ok(Self {
            track: track.to_owned(),
            config: config.to_owned(),
            length_m: first.length_m(),
            centre_line_xz_m: centre_line(first),
            corners,
            built_from: Vec::new(),
            version: MAP_VERSION,
        })
    }

    /// The corner `text` names: its name or id (case and spaces ignored) or its number
    /// (`T4`, `4`, `turn 4`).
    pub fn corner(&self, text: &str) -> Option<&Corner> {
        self.corners
            .iter()
            .find(|c| c.name == text)
            .or_else(|| self.corners.iter().find(|c| c.is_called(text)))
    }

    /// True when the map was built by this build's rules ([`MAP_VERSION`]).
    pub fn is_current(&self) -> bool {
        self.version == MAP_VERSION
    }

    /// True when a lap of `length_m` can be put on this map (within
    /// [`MAX_LENGTH_MISMATCH`]).
    pub fn fits(&self, length_m: f64) -> bool {
        self.length_m > 0.0 && (length_m / self.length_m - 1.0).abs() <= MAX_LENGTH_MISMATCH
    }

    /// "T1 to T7" or "Tamburello (T1) to Rivazza (T7)": what the map has, for messages.
    pub fn describe_corners(&self) -> String {
        let label = |c: &Corner| {
            if c.name == c.id {
                c.id.clone()
            } else {
                format!("{} ({})", c.name, c.id)
            }
        };
        match self.corners.as_slice() {
            [] => "no corners".to_owned(),
            [one] => label(one),
            [first, .., last] => format!("{} to {}", label(first), label(last)),
        }
    }
}

/// The x/z of `lap` every [`CENTRE_LINE_SPACING_M`]; empty without coordinates.
fn centre_line(lap: &LapTrace) -> Vec<[f32; 2]> {
    let xz = lap.world_m();
    if xz.iter().all(|p| p[0] == 0.0 && p[2] == 0.0) {
        return Vec::new();
    }
    let step = ((CENTRE_LINE_SPACING_M / lap.spacing_m()).round() as usize).max(1);
    xz.iter().step_by(step).map(|p| [p[0], p[2]]).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn imola_is_known_in_its_spellings() {
        assert_eq!(known_corners("imola").len(), 7);
        assert_eq!(known_corners("Imola").len(), 7);
        assert_eq!(known_corners("ks_imola").len(), 7);
        assert!(known_corners("monza").is_empty());
        assert!(known_corners("").is_empty());
        // The stretches are in order and do not overlap.
        assert!(IMOLA.windows(2).all(|w| w[0].to < w[1].from));
    }

    #[test]
    fn corners_are_found_by_name_or_number() {
        let map = TrackMap {
            track: "imola".into(),
            config: String::new(),
            length_m: 4900.0,
            centre_line_xz_m: Vec::new(),
            corners: vec![
                Corner {
                    id: "T1".into(),
                    name: "Tamburello".into(),
                    start_m: 520.0,
                    apex_m: 740.0,
                    end_m: 900.0,
                },
                Corner {
                    id: "T5".into(),
                    name: "Acque Minerali".into(),
                    start_m: 2630.0,
                    apex_m: 2830.0,
                    end_m: 2940.0,
                },
            ],
            built_from: Vec::new(),
            version: MAP_VERSION,
        };
        for text in [
            "Tamburello",
            "tamburello",
            "T1",
            "t1",
            "1",
            "turn 1",
            "corner 1",
        ] {
            assert_eq!(
                map.corner(text).map(|c| c.id.as_str()),
                Some("T1"),
                "{text}"
            );
        }
        assert_eq!(
            map.corner("acque minerali").map(|c| c.id.as_str()),
            Some("T5")
        );
        assert_eq!(
            map.corner("AcqueMinerali").map(|c| c.id.as_str()),
            Some("T5")
        );
        assert!(map.corner("T2").is_none() && map.corner("").is_none());
        assert_eq!(
            map.describe_corners(),
            "Tamburello (T1) to Acque Minerali (T5)"
        );
        assert!(map.fits(4950.0) && !map.fits(4000.0));
    }
}
