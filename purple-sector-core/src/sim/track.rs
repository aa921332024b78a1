//! Circuits: a smoothed, closed centre line with elevation, signed curvature, named corners and
//! a pit lane.
//!
//! A [`Track`] is a loop of samples spaced evenly (about [`SAMPLE_SPACING_M`]) along its centre
//! line, distance 0 being the start/finish line. Coordinates are the game's world frame: x and
//! z horizontal, **y up**, metres. Curvature is signed: **positive turns right** (clockwise seen
//! from above), the sign the game's steering angle has.
//!
//! Two circuits are built in ([`Track::names`]): `imola`, derived from a real lap of Imola
//! logged from the game (see `src/sim/data/SOURCE.md` and [`Track::from_path`]), and `test`, a
//! short synthetic loop for fast tests.

use std::f64::consts::PI;

/// Target spacing of a track's samples along the centre line, m. The exact spacing divides the
/// length into a whole number of samples.
pub const SAMPLE_SPACING_M: f64 = 2.0;
/// Curvature above which a stretch of track is part of a corner (radius under 250 m), 1/m.
pub const CORNER_CURVATURE_PER_M: f64 = 0.004;
/// Half-width, in samples, of the box filter that smooths positions and curvature.
const SMOOTH_HALF_WIDTH: usize = 2;
/// Box-filter passes over the resampled positions (together about a 5 m Gaussian).
const POSITION_SMOOTHING_PASSES: usize = 3;
/// Box-filter passes over the curvature.
const CURVATURE_SMOOTHING_PASSES: usize = 2;
/// A corner extends either side of its core while the curvature stays above this, 1/m.
const CORNER_EDGE_CURVATURE_PER_M: f64 = 0.0015;
/// Two stretches turning the same way less than this apart are one corner, m.
const CORNER_MERGE_GAP_M: f64 = 16.0;
/// A corner turns at least this much, degrees (smaller bends are kinks, not corners).
const CORNER_MIN_TURN_DEG: f64 = 15.0;
/// Half the base of the central difference giving the vertical curvature, m.
const VERTICAL_CURVATURE_BASE_M: f64 = 10.0;
/// Fewest points [`Track::from_path`] accepts.
const MIN_PATH_POINTS: usize = 16;
/// Shortest loop [`Track::from_path`] accepts, m.
const MIN_LENGTH_M: f64 = 200.0;
/// Distance over which the tangent at the line is measured when closing a path, m.
const CLOSING_TANGENT_BASE_M: f64 = 5.0;

/// The committed Imola centre line (see `data/SOURCE.md`).
const IMOLA_CSV: &str = include_str!("data/imola.csv");

/// The built-in circuits, by name.
const NAMES: [&str; 2] = ["imola", "test"];

/// Why a track cannot be built.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum TrackError {
    /// No built-in track has this name.
    #[error("unknown track {name:?} (built in: imola, test)")]
    UnknownTrack {
        /// The name asked for.
        name: String,
    },
    /// The path has too few points to make a loop.
    #[error("a track path needs at least {min} points, got {found}")]
    TooFewPoints {
        /// Points given.
        found: usize,
        /// Points needed.
        min: usize,
    },
    /// A coordinate is NaN or infinite.
    #[error("path point {index} is not finite")]
    NotFinite {
        /// Index of the point.
        index: usize,
    },
    /// The path is too short to be a circuit.
    #[error("the path is {length_m:.1} m long, a circuit needs at least {min_m} m")]
    TooShort {
        /// Length of the path in the x/z plane, m.
        length_m: f64,
        /// Shortest accepted, m.
        min_m: f64,
    },
    /// A line of a geometry file is wrong (lines count from 1).
    #[error("geometry line {line}: {problem}")]
    BadData {
        /// Line number.
        line: usize,
        /// What is wrong with it.
        problem: DataProblem,
    },
}

/// What is wrong with a line of a geometry file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DataProblem {
    /// The `# length_m=` line is missing or unreadable.
    #[error("no readable `# length_m=` line before the data")]
    MissingLength,
    /// A row does not have the five columns.
    #[error("{found} fields, expected 5")]
    FieldCount {
        /// Fields found.
        found: usize,
    },
    /// A field is not a finite number.
    #[error("column {column} is not a finite number")]
    BadNumber {
        /// Column, from 1.
        column: usize,
    },
    /// The distances are not evenly spaced over the length.
    #[error("distance column is not evenly spaced over the length")]
    NotUniform,
    /// Too few rows to make a loop.
    #[error("too few rows")]
    TooFewRows,
}

/// One sample of the centre line.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct TrackSample {
    /// Distance from the start/finish line, m.
    pub distance_m: f64,
    /// World coordinates x, y (up), z, m.
    pub position_m: [f64; 3],
    /// Heading in the x/z plane, rad: `atan2(dz, dx)`.
    pub heading_rad: f64,
    /// Signed curvature, 1/m; positive turns right (clockwise seen from above).
    pub curvature_per_m: f64,
    /// Second derivative of the elevation along the track (d²y/ds²), 1/m: positive in a dip
    /// (the car is pressed down), negative over a crest.
    pub vertical_curvature_per_m: f64,
}

/// Which way a corner turns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum TurnDirection {
    /// Counter-clockwise seen from above; negative curvature.
    Left,
    /// Clockwise seen from above; positive curvature.
    Right,
}

/// A corner of a track, detected from the curvature.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Corner {
    /// `T1`, `T2` … in track order from the line.
    pub name: String,
    /// Where the curvature rises above the corner threshold, m from the line.
    pub start_m: f64,
    /// The geometric apex: the curvature-weighted centre of the corner's core, m from the
    /// line.
    pub apex_m: f64,
    /// Where the curvature falls back, m from the line.
    pub end_m: f64,
    /// Which way it turns.
    pub direction: TurnDirection,
    /// How much the heading changes between start and end, degrees (positive).
    pub turn_deg: f64,
    /// Radius at the apex, m.
    pub min_radius_m: f64,
}

/// The pit lane, modelled alongside the centre line just after the start/finish line: the car
/// starts in its box, drives down the lane at the speed limit and joins the track at the exit.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct PitLane {
    /// Position of the pit box along the track, m from the line.
    pub box_m: f64,
    /// Where the pit lane joins the track, m from the line.
    pub exit_m: f64,
    /// How far the pit lane lies beside the centre line, m; positive to the right of the
    /// direction of travel. The car drifts back to the centre line before the exit.
    pub lateral_offset_m: f64,
    /// The pit-lane speed limit, km/h.
    pub speed_limit_kmh: f64,
}

impl PitLane {
    /// A pit lane for a track of `length_m` with no better information: box at 1.5 %, exit at
    /// 6 % of the lap, 12 m to the right, 80 km/h.
    pub fn default_for(length_m: f64) -> Self {
        Self {
            box_m: 0.015 * length_m,
            exit_m: 0.06 * length_m,
            lateral_offset_m: 12.0,
            speed_limit_kmh: 80.0,
        }
    }

    /// True when `distance_m` (from the line, on the out lap) is inside the pit lane.
    pub fn contains(&self, distance_m: f64) -> bool {
        distance_m >= self.box_m && distance_m < self.exit_m
    }

    /// Sideways offset of the car from the centre line at `distance_m` in the lane, m: the
    /// full offset, then a smooth merge over the last part of the lane.
    pub fn offset_at(&self, distance_m: f64) -> f64 {
        if !self.contains(distance_m) {
            return 0.0;
        }
        let merge = (0.5 * (self.exit_m - self.box_m)).min(80.0);
        let to_exit = self.exit_m - distance_m;
        if to_exit >= merge {
            self.lateral_offset_m
        } else {
            let t = to_exit / merge;
            self.lateral_offset_m * t * t * (3.0 - 2.0 * t)
        }
    }
}

/// A closed circuit: centre line, elevation, curvature, corners and pit lane.
///
/// ```
/// use purple_sector_core::sim::Track;
///
/// let imola = Track::by_name("imola")?;
/// assert!((imola.length_m() - 4876.6).abs() < 0.01 * 4876.6);
/// let t1 = &imola.corners()[0];
/// assert_eq!(t1.name, "T1");
/// let [x, y, z] = imola.position_at(t1.apex_m);
/// assert!(x.is_finite() && y < 0.0 && z.is_finite()); // Imola's y is below the origin
/// # Ok::<(), purple_sector_core::sim::TrackError>(())
/// ```
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Track {
    name: String,
    length_m: f64,
    spacing_m: f64,
    samples: Vec<TrackSample>,
    corners: Vec<Corner>,
    pit_lane: PitLane,
}

impl Track {
    /// The names [`Track::by_name`] knows.
    pub fn names() -> &'static [&'static str] {
        &NAMES
    }

    /// A built-in track: `imola` or `test` (case-insensitive).
    pub fn by_name(name: &str) -> Result<Self, TrackError> {
        match name.to_ascii_lowercase().as_str() {
            "imola" => Self::imola_checked(),
            "test" => Ok(Self::test_circuit()),
            _ => Err(TrackError::UnknownTrack {
                name: name.to_owned(),
            }),
        }
    }

    /// Imola (4.88 km), from the committed centre line `src/sim/data/imola.csv`, itself derived
    /// with [`Track::from_path`] from a real lap of a Corvette C7.R logged from the game.
    ///
    /// # Panics
    ///
    /// Only if the embedded geometry file were corrupt; the test suite parses it.
    pub fn imola() -> Self {
        match Self::imola_checked() {
            Ok(track) => track,
            Err(e) => panic!("embedded Imola geometry is invalid: {e}"),
        }
    }

    fn imola_checked() -> Result<Self, TrackError> {
        Ok(Self::from_csv("imola", IMOLA_CSV)?.with_pit_lane(PitLane {
            box_m: 120.0,
            exit_m: 420.0,
            lateral_offset_m: 14.0,
            speed_limit_kmh: 80.0,
        }))
    }

    /// `test`: a synthetic 1.3 km loop with six corners, for fast tests and demos.
    ///
    /// From the line: 120 m of straight, T1 a 90° right (R 40 m), 60 m, T2 a 90° left
    /// (R 40 m), 100 m, T3 a 180° right hairpin (R 15 m), the 276 m back straight, T4/T5 a
    /// left-right chicane (35°, R 30 m), 120 m, T6 a long 180° right sweeper (R 90 m) and
    /// 130 m back to the line. Gentle hills (±5 m). The straights' lengths close the loop
    /// exactly; the centre line then goes through the same smoothing as a logged path.
    pub fn test_circuit() -> Self {
        let points = test_circuit_path();
        Self::from_valid_path("test", &points).with_pit_lane(PitLane {
            box_m: 20.0,
            exit_m: 100.0,
            lateral_offset_m: 12.0,
            speed_limit_kmh: 80.0,
        })
    }

    /// Derives a track from one logged lap: `points` are world x, y (up), z in driving order,
    /// from just after the line to just before it (a logger's one-row-per-metre lap).
    ///
    /// Steps: (1) close the loop — trailing points past the first are dropped, and the small
    /// sideways/vertical gap between the last point and the first (the car's line differs a
    /// little from one lap to the next) is spread linearly along the lap, so only a gap along
    /// the direction of travel remains; (2) resample the loop every ~2 m; (3) smooth x, y, z
    /// with three passes of a ±2-sample circular box filter (logged points are noisy at the
    /// cm level); (4) resample the smoothed loop every ~2 m again, evenly over its length;
    /// (5) curvature from the heading change between consecutive chords, smoothed with two
    /// more passes; (6) corners from the curvature ([`Track::corners`]). The pit lane is
    /// [`PitLane::default_for`] the length; set another with [`Track::with_pit_lane`].
    pub fn from_path(name: impl Into<String>, points: &[[f64; 3]]) -> Result<Self, TrackError> {
        if points.len() < MIN_PATH_POINTS {
            return Err(TrackError::TooFewPoints {
                found: points.len(),
                min: MIN_PATH_POINTS,
            });
        }
        if let Some(index) = points.iter().position(|p| p.iter().any(|c| !c.is_finite())) {
            return Err(TrackError::NotFinite { index });
        }
        let length_m = open_length(points);
        if length_m < MIN_LENGTH_M {
            return Err(TrackError::TooShort {
                length_m,
                min_m: MIN_LENGTH_M,
            });
        }
        Ok(Self::from_valid_path(name, points))
    }

    /// [`Track::from_path`] for input known to be long enough and finite.
    fn from_valid_path(name: impl Into<String>, points: &[[f64; 3]]) -> Self {
        let closed = close_loop(points);
        let (coarse, _) = resample_closed(&closed, SAMPLE_SPACING_M);
        let smoothed = smooth_points(coarse, POSITION_SMOOTHING_PASSES);
        let (positions, length_m) = resample_closed(&smoothed, SAMPLE_SPACING_M);
        let curvature = smooth_circular(
            raw_curvature(&positions),
            CURVATURE_SMOOTHING_PASSES,
            SMOOTH_HALF_WIDTH,
        );
        Self::from_parts(
            name.into(),
            length_m,
            positions,
            curvature,
            PitLane::default_for(length_m),
        )
    }

    /// Builds the derived quantities (heading, vertical curvature, corners) from evenly spaced
    /// positions and curvature.
    fn from_parts(
        name: String,
        length_m: f64,
        positions: Vec<[f64; 3]>,
        curvature: Vec<f64>,
        pit_lane: PitLane,
    ) -> Self {
        let n = positions.len();
        let spacing_m = length_m / n as f64;
        let at = |i: isize| positions[i.rem_euclid(n as isize) as usize];
        let k = ((VERTICAL_CURVATURE_BASE_M / spacing_m).round() as isize).max(1);
        let base = k as f64 * spacing_m;
        let samples = (0..n)
            .map(|i| {
                let ii = i as isize;
                let (prev, next) = (at(ii - 1), at(ii + 1));
                let heading_rad = (next[2] - prev[2]).atan2(next[0] - prev[0]);
                let y = |j: isize| at(j)[1];
                let vertical = (y(ii + k) - 2.0 * y(ii) + y(ii - k)) / (base * base);
                TrackSample {
                    distance_m: i as f64 * spacing_m,
                    position_m: positions[i],
                    heading_rad,
                    curvature_per_m: curvature[i],
                    vertical_curvature_per_m: vertical,
                }
            })
            .collect();
        let corners = detect_corners(&curvature, spacing_m);
        Self {
            name,
            length_m,
            spacing_m,
            samples,
            corners,
            pit_lane,
        }
    }

    /// Reads a geometry file written by [`Track::to_csv`].
    pub fn from_csv(name: impl Into<String>, text: &str) -> Result<Self, TrackError> {
        let mut length_m = None;
        let mut rows: Vec<(usize, [f64; 5])> = Vec::new();
        let mut header_seen = false;
        for (index, line) in text.lines().enumerate() {
            let line_no = index + 1;
            let line = line.trim();
            if line.is_empty() {
                continue;
            }
            if let Some(comment) = line.strip_prefix('#') {
                if let Some(value) = comment.trim().strip_prefix("length_m=") {
                    length_m = Some(
                        value
                            .trim()
                            .parse::<f64>()
                            .ok()
                            .filter(|v| *v > 0.0)
                            .ok_or(TrackError::BadData {
                                line: line_no,
                                problem: DataProblem::MissingLength,
                            })?,
                    );
                }
                continue;
            }
            if !header_seen {
                header_seen = true;
                continue;
            }
            let fields: Vec<&str> = line.split(',').collect();
            if fields.len() != 5 {
                return Err(TrackError::BadData {
                    line: line_no,
                    problem: DataProblem::FieldCount {
                        found: fields.len(),
                    },
                });
            }
            let mut row = [0.0; 5];
            for (column, (slot, field)) in row.iter_mut().zip(&fields).enumerate() {
                *slot = field
                    .trim()
                    .parse::<f64>()
                    .ok()
                    .filter(|v| v.is_finite())
                    .ok_or(TrackError::BadData {
                        line: line_no,
                        problem: DataProblem::BadNumber { column: column + 1 },
                    })?;
            }
            rows.push((line_no, row));
        }
        let last_line = text.lines().count();
        let length_m = length_m.ok_or(TrackError::BadData {
            line: 1,
            problem: DataProblem::MissingLength,
        })?;
        if rows.len() < MIN_PATH_POINTS {
            return Err(TrackError::BadData {
                line: last_line,
                problem: DataProblem::TooFewRows,
            });
        }
        let spacing_m = length_m / rows.len() as f64;
        for (i, (line, row)) in rows.iter().enumerate() {
            if (row[0] - i as f64 * spacing_m).abs() > 0.01 {
                return Err(TrackError::BadData {
                    line: *line,
                    problem: DataProblem::NotUniform,
                });
            }
        }
        let positions = rows.iter().map(|(_, r)| [r[1], r[2], r[3]]).collect();
        let curvature = rows.iter().map(|(_, r)| r[4]).collect();
        Ok(Self::from_parts(
            name.into(),
            length_m,
            positions,
            curvature,
            PitLane::default_for(length_m),
        ))
    }

    /// The geometry as text: comment lines (`#`, one of them `# length_m=…`), a header
    /// `s_m,x_m,y_m,z_m,curvature_per_m`, then one row per sample (mm and 1e-8/m resolution).
    pub fn to_csv(&self) -> String {
        let mut out = String::with_capacity(self.samples.len() * 48 + 512);
        out.push_str(&format!(
            "# Purple Sector track centre line: {}\n\
             # Written by Track::to_csv from Track::from_path (purple-sector-core/src/sim/track.rs); see SOURCE.md.\n\
             # Columns: distance from the line (m), world x, y (up), z (m), signed curvature (1/m, positive turns right).\n\
             # length_m={:.3}\n\
             s_m,x_m,y_m,z_m,curvature_per_m\n",
            self.name, self.length_m
        ));
        for s in &self.samples {
            let [x, y, z] = s.position_m;
            out.push_str(&format!(
                "{:.3},{:.3},{:.3},{:.3},{:.8}\n",
                s.distance_m,
                x,
                y,
                z,
                s.curvature_per_m + 0.0
            ));
        }
        out
    }

    /// The same track with another pit lane.
    pub fn with_pit_lane(mut self, pit_lane: PitLane) -> Self {
        self.pit_lane = pit_lane;
        self
    }

    /// The track's name (`imola`, `test` …): the game's track and layout name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Length of the centre line, m.
    pub fn length_m(&self) -> f64 {
        self.length_m
    }

    /// Exact spacing of the samples, m.
    pub fn spacing_m(&self) -> f64 {
        self.spacing_m
    }

    /// The samples, from the line, evenly spaced; the loop closes from the last to the first.
    pub fn samples(&self) -> &[TrackSample] {
        &self.samples
    }

    /// The corners in track order (`T1` first after the line).
    pub fn corners(&self) -> &[Corner] {
        &self.corners
    }

    /// The corner called `name` (case-insensitive: `t4` finds `T4`).
    pub fn corner(&self, name: &str) -> Option<&Corner> {
        self.corners
            .iter()
            .find(|c| c.name.eq_ignore_ascii_case(name))
    }

    /// The pit lane.
    pub fn pit_lane(&self) -> &PitLane {
        &self.pit_lane
    }

    /// `distance_m` brought into `[0, length)`.
    pub fn wrap(&self, distance_m: f64) -> f64 {
        let s = distance_m.rem_euclid(self.length_m);
        if s >= self.length_m { 0.0 } else { s }
    }

    /// The two samples around `distance_m` and the fraction between them.
    fn locate(&self, distance_m: f64) -> (&TrackSample, &TrackSample, f64) {
        let n = self.samples.len();
        let f = self.wrap(distance_m) / self.spacing_m;
        let i = (f.floor() as usize).min(n - 1);
        let t = (f - i as f64).clamp(0.0, 1.0);
        (&self.samples[i], &self.samples[(i + 1) % n], t)
    }

    /// World coordinates of the centre line at `distance_m` (wrapping), m.
    pub fn position_at(&self, distance_m: f64) -> [f64; 3] {
        let (a, b, t) = self.locate(distance_m);
        std::array::from_fn(|c| a.position_m[c] + (b.position_m[c] - a.position_m[c]) * t)
    }

    /// Signed curvature at `distance_m` (wrapping), 1/m; positive turns right.
    pub fn curvature_at(&self, distance_m: f64) -> f64 {
        let (a, b, t) = self.locate(distance_m);
        a.curvature_per_m + (b.curvature_per_m - a.curvature_per_m) * t
    }

    /// Heading at `distance_m` (wrapping), rad, `atan2(dz, dx)`.
    pub fn heading_at(&self, distance_m: f64) -> f64 {
        let (a, b, t) = self.locate(distance_m);
        let d = (b.heading_rad - a.heading_rad + PI).rem_euclid(2.0 * PI) - PI;
        a.heading_rad + d * t
    }

    /// d²y/ds² at `distance_m` (wrapping), 1/m.
    pub fn vertical_curvature_at(&self, distance_m: f64) -> f64 {
        let (a, b, t) = self.locate(distance_m);
        a.vertical_curvature_per_m + (b.vertical_curvature_per_m - a.vertical_curvature_per_m) * t
    }

    /// A point `offset_m` to the right of the centre line at `distance_m` (left if negative).
    pub fn offset_position_at(&self, distance_m: f64, offset_m: f64) -> [f64; 3] {
        let [x, y, z] = self.position_at(distance_m);
        if offset_m == 0.0 {
            return [x, y, z];
        }
        let heading = self.heading_at(distance_m);
        // Right of the direction (cos h, sin h) in the x/z plane, seen from above with y up.
        [
            x - heading.sin() * offset_m,
            y,
            z + heading.cos() * offset_m,
        ]
    }
}

/// Length of an open path in the x/z plane.
fn open_length(points: &[[f64; 3]]) -> f64 {
    points.windows(2).map(|w| xz_distance(w[0], w[1])).sum()
}

fn xz_distance(a: [f64; 3], b: [f64; 3]) -> f64 {
    (b[0] - a[0]).hypot(b[2] - a[2])
}

/// Unit tangent (x, z) from `a` to `b`, or zero.
fn xz_unit(a: [f64; 3], b: [f64; 3]) -> [f64; 2] {
    let (dx, dz) = (b[0] - a[0], b[2] - a[2]);
    let len = dx.hypot(dz);
    if len > 0.0 {
        [dx / len, dz / len]
    } else {
        [0.0, 0.0]
    }
}

/// Closes a logged lap: see [`Track::from_path`], step 1. Input: at least two points, finite.
fn close_loop(points: &[[f64; 3]]) -> Vec<[f64; 3]> {
    let mut pts = points.to_vec();
    let first = pts[0];
    // Tangent at the line: the first few metres and the last few metres, averaged.
    let ahead = pts
        .iter()
        .find(|p| xz_distance(first, **p) >= CLOSING_TANGENT_BASE_M)
        .copied()
        .unwrap_or(pts[1]);
    let last = pts[pts.len() - 1];
    let behind = pts
        .iter()
        .rev()
        .find(|p| xz_distance(last, **p) >= CLOSING_TANGENT_BASE_M)
        .copied()
        .unwrap_or(pts[pts.len() - 2]);
    let (u1, u2) = (xz_unit(first, ahead), xz_unit(behind, last));
    let u = {
        let (x, z) = (u1[0] + u2[0], u1[1] + u2[1]);
        let len = x.hypot(z);
        if len > 0.0 { [x / len, z / len] } else { u1 }
    };
    // Points at or past the first point along the tangent overlap the start: drop them.
    while pts.len() > MIN_PATH_POINTS / 2 {
        let p = pts[pts.len() - 1];
        let along = (p[0] - first[0]) * u[0] + (p[2] - first[2]) * u[1];
        if along > -0.05 && xz_distance(p, first) < 10.0 {
            pts.pop();
        } else {
            break;
        }
    }
    let last = pts[pts.len() - 1];
    let gap = [first[0] - last[0], first[1] - last[1], first[2] - last[2]];
    let along = gap[0] * u[0] + gap[2] * u[1];
    let error = [gap[0] - along * u[0], gap[1], gap[2] - along * u[1]];
    let mut distance = 0.0;
    let mut cumulative = Vec::with_capacity(pts.len());
    for (i, p) in pts.iter().enumerate() {
        if i > 0 {
            distance += xz_distance(pts[i - 1], *p);
        }
        cumulative.push(distance);
    }
    let total = distance.max(f64::MIN_POSITIVE);
    pts.iter()
        .zip(&cumulative)
        .map(|(p, d)| {
            let w = d / total;
            [
                p[0] + error[0] * w,
                p[1] + error[1] * w,
                p[2] + error[2] * w,
            ]
        })
        .collect()
}

/// Resamples a closed polygon (last point joins the first) at evenly spaced distances, about
/// `spacing` apart. Returns the samples and the polygon's x/z length.
fn resample_closed(points: &[[f64; 3]], spacing: f64) -> (Vec<[f64; 3]>, f64) {
    let n_in = points.len();
    let mut cumulative = Vec::with_capacity(n_in + 1);
    let mut total = 0.0;
    cumulative.push(0.0);
    for i in 0..n_in {
        total += xz_distance(points[i], points[(i + 1) % n_in]);
        cumulative.push(total);
    }
    let n = ((total / spacing).round() as usize).max(MIN_PATH_POINTS);
    let mut out = Vec::with_capacity(n);
    let mut seg = 0;
    for i in 0..n {
        let s = total * i as f64 / n as f64;
        while seg + 1 < n_in && cumulative[seg + 1] <= s {
            seg += 1;
        }
        let (a, b) = (points[seg], points[(seg + 1) % n_in]);
        let len = cumulative[seg + 1] - cumulative[seg];
        let t = if len > 0.0 {
            ((s - cumulative[seg]) / len).clamp(0.0, 1.0)
        } else {
            0.0
        };
        out.push(std::array::from_fn(|c| a[c] + (b[c] - a[c]) * t));
    }
    (out, total)
}

/// Circular box filter, `half_width` samples either side, `passes` times.
fn smooth_circular(mut values: Vec<f64>, passes: usize, half_width: usize) -> Vec<f64> {
    let n = values.len();
    if n == 0 {
        return values;
    }
    let width = 2 * half_width + 1;
    for _ in 0..passes {
        let at = |i: isize| values[i.rem_euclid(n as isize) as usize];
        let mut sum: f64 = (-(half_width as isize)..=half_width as isize).map(at).sum();
        let mut next = Vec::with_capacity(n);
        for i in 0..n as isize {
            next.push(sum / width as f64);
            sum += at(i + half_width as isize + 1) - at(i - half_width as isize);
        }
        values = next;
    }
    values
}

/// Smooths each coordinate of a closed polygon.
fn smooth_points(points: Vec<[f64; 3]>, passes: usize) -> Vec<[f64; 3]> {
    let columns: [Vec<f64>; 3] = std::array::from_fn(|c| {
        smooth_circular(
            points.iter().map(|p| p[c]).collect(),
            passes,
            SMOOTH_HALF_WIDTH,
        )
    });
    (0..points.len())
        .map(|i| [columns[0][i], columns[1][i], columns[2][i]])
        .collect()
}

/// Signed curvature at each sample of a closed polygon: the heading change between the chord
/// before and the chord after, over their mean length.
fn raw_curvature(points: &[[f64; 3]]) -> Vec<f64> {
    let n = points.len();
    let chord = |i: usize| {
        let (a, b) = (points[i % n], points[(i + 1) % n]);
        ((b[2] - a[2]).atan2(b[0] - a[0]), xz_distance(a, b))
    };
    (0..n)
        .map(|i| {
            let (h0, l0) = chord(i + n - 1);
            let (h1, l1) = chord(i);
            let turn = (h1 - h0 + PI).rem_euclid(2.0 * PI) - PI;
            let len = 0.5 * (l0 + l1);
            if len > 0.0 { turn / len } else { 0.0 }
        })
        .collect()
}

/// Corners from the curvature of evenly spaced samples: stretches whose curvature exceeds
/// [`CORNER_CURVATURE_PER_M`] in one direction, merged when less than 16 m apart, extended
/// while the curvature stays above 0.0015/m the same way, kept when they turn at least 15°.
/// A corner never spans the line.
fn detect_corners(curvature: &[f64], spacing_m: f64) -> Vec<Corner> {
    let n = curvature.len();
    let mut runs: Vec<(usize, usize, f64)> = Vec::new();
    let mut i = 0;
    while i < n {
        if curvature[i].abs() > CORNER_CURVATURE_PER_M {
            let sign = curvature[i].signum();
            let start = i;
            while i < n && curvature[i] * sign > CORNER_CURVATURE_PER_M {
                i += 1;
            }
            let end = i - 1;
            match runs.last_mut() {
                Some(prev)
                    if prev.2 == sign
                        && (start - prev.1) as f64 * spacing_m <= CORNER_MERGE_GAP_M
                        && curvature[prev.1..start].iter().all(|k| k * sign > 0.0) =>
                {
                    prev.1 = end;
                }
                _ => runs.push((start, end, sign)),
            }
        } else {
            i += 1;
        }
    }
    let mut corners = Vec::new();
    let mut floor = 0;
    for (index, &(start, end, sign)) in runs.iter().enumerate() {
        let ceiling = runs.get(index + 1).map_or(n - 1, |next| next.0 - 1);
        let mut a = start;
        while a > floor && curvature[a - 1] * sign > CORNER_EDGE_CURVATURE_PER_M {
            a -= 1;
        }
        let mut b = end;
        while b < ceiling && curvature[b + 1] * sign > CORNER_EDGE_CURVATURE_PER_M {
            b += 1;
        }
        floor = b + 1;
        let turn_deg = (curvature[a..=b].iter().sum::<f64>() * spacing_m)
            .abs()
            .to_degrees();
        if turn_deg < CORNER_MIN_TURN_DEG {
            continue;
        }
        let peak = (start..=end)
            .max_by(|&p, &q| curvature[p].abs().total_cmp(&curvature[q].abs()))
            .unwrap_or(start);
        // The apex is the curvature-weighted centre of the core: stable where the curvature
        // is flat (a constant-radius arc has no single point of highest curvature).
        let weight: f64 = curvature[start..=end].iter().map(|k| k.abs()).sum();
        let centre = (start..=end)
            .map(|i| i as f64 * curvature[i].abs())
            .sum::<f64>()
            / weight.max(f64::MIN_POSITIVE);
        corners.push(Corner {
            name: format!("T{}", corners.len() + 1),
            start_m: a as f64 * spacing_m,
            apex_m: centre * spacing_m,
            end_m: (b as f64 + 1.0) * spacing_m,
            direction: if sign > 0.0 {
                TurnDirection::Right
            } else {
                TurnDirection::Left
            },
            turn_deg,
            min_radius_m: 1.0 / curvature[peak].abs(),
        });
    }
    corners
}

/// The synthetic `test` circuit as a dense path (0.5 m), heading east from the line.
fn test_circuit_path() -> Vec<[f64; 3]> {
    // (length m, curvature 1/m); positive curvature turns right.
    let arc = |deg: f64, radius: f64| (deg.abs().to_radians() * radius, deg.signum() / radius);
    let (r1, r2, r_hairpin, r_chicane, chicane_deg) = (40.0, 40.0, 15.0, 30.0, 35.0_f64);
    let (first, between_12, before_hairpin, after_chicane, last) =
        (120.0, 60.0, 100.0, 120.0, 130.0);
    // Closing the loop: the sweeper's radius brings z back, the back straight brings x back.
    let chicane_rad = chicane_deg.to_radians();
    let r_sweeper =
        (r1 + between_12 + r2 + 2.0 * r_hairpin + 2.0 * r_chicane * (1.0 - chicane_rad.cos()))
            / 2.0;
    let back_straight =
        first + r1 + r2 + before_hairpin - 2.0 * r_chicane * chicane_rad.sin() - after_chicane
            + last;
    let segments = [
        (first, 0.0),
        arc(90.0, r1),
        (between_12, 0.0),
        arc(-90.0, r2),
        (before_hairpin, 0.0),
        arc(180.0, r_hairpin),
        (back_straight, 0.0),
        arc(-chicane_deg, r_chicane),
        arc(chicane_deg, r_chicane),
        (after_chicane, 0.0),
        arc(180.0, r_sweeper),
        (last, 0.0),
    ];
    let total: f64 = segments.iter().map(|s| s.0).sum();
    let step = 0.5;
    let (mut x, mut z, mut heading, mut s) = (0.0f64, 0.0f64, 0.0f64, 0.0f64);
    let mut points = Vec::new();
    for (length, curvature) in segments {
        let steps = (length / step).round().max(1.0) as usize;
        let h = length / steps as f64;
        for _ in 0..steps {
            let phase = 2.0 * PI * s / total;
            let y = 4.0 * phase.sin() + 1.2 * (3.0 * phase + 0.5).sin();
            points.push([x, y, z]);
            let mid = heading + curvature * h / 2.0;
            x += mid.cos() * h;
            z += mid.sin() * h;
            heading += curvature * h;
            s += h;
        }
    }
    points
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// Same names and directions, distances within 1 cm.
    fn same_corners(a: &[Corner], b: &[Corner]) -> bool {
        a.len() == b.len()
            && a.iter().zip(b).all(|(a, b)| {
                a.name == b.name
                    && a.direction == b.direction
                    && (a.start_m - b.start_m).abs() < 0.01
                    && (a.apex_m - b.apex_m).abs() < 0.01
                    && (a.end_m - b.end_m).abs() < 0.01
            })
    }

    #[test]
    fn smoothing_keeps_constants_and_the_mean() {
        let flat = smooth_circular(vec![3.0; 20], 3, 2);
        assert!(flat.iter().all(|v| (v - 3.0).abs() < 1e-12));
        let spike: Vec<f64> = (0..20).map(|i| if i == 0 { 20.0 } else { 0.0 }).collect();
        let smoothed = smooth_circular(spike, 1, 2);
        assert!((smoothed.iter().sum::<f64>() - 20.0).abs() < 1e-9);
        assert!((smoothed[0] - 4.0).abs() < 1e-12 && (smoothed[18] - 4.0).abs() < 1e-12);
        assert_eq!(smoothed[3], 0.0);
    }

    #[test]
    fn circle_has_constant_curvature_and_one_corner() {
        let radius = 100.0;
        let points: Vec<[f64; 3]> = (0..628)
            .map(|i| {
                let a = i as f64 / 628.0 * 2.0 * PI;
                // Clockwise seen from above (x east, z south): a right-hand circle.
                [radius * a.sin(), 0.0, radius - radius * a.cos()]
            })
            .collect();
        let track = Track::from_path("circle", &points).unwrap();
        assert!((track.length_m() - 2.0 * PI * radius).abs() < 1.0);
        for s in track.samples() {
            assert!((s.curvature_per_m - 0.01).abs() < 2e-4, "{s:?}");
        }
        assert_eq!(track.corners().len(), 1);
        assert_eq!(track.corners()[0].direction, TurnDirection::Right);
        assert!((track.corners()[0].turn_deg - 360.0).abs() < 3.0);
    }

    #[test]
    fn closing_spreads_a_sideways_gap() {
        // A circle whose last point ends 2 m outside the first.
        let points: Vec<[f64; 3]> = (0..626)
            .map(|i| {
                let a = i as f64 / 628.0 * 2.0 * PI;
                let r = 100.0 + 2.0 * i as f64 / 626.0;
                [r * a.sin(), 0.5 * i as f64 / 626.0, 100.0 - r * a.cos()]
            })
            .collect();
        let closed = close_loop(&points);
        let (first, last) = (closed[0], closed[closed.len() - 1]);
        // Only a gap along the direction of travel (x here) remains, no step in y.
        assert!((last[2] - first[2]).abs() < 0.1, "{first:?} {last:?}");
        assert!((last[1] - first[1]).abs() < 1e-9, "{first:?} {last:?}");
        assert!((first[0] - last[0] - 3.0).abs() < 0.1, "{first:?} {last:?}");
        let track = Track::from_path("spiral", &points).unwrap();
        let k_max = track
            .samples()
            .iter()
            .map(|s| s.curvature_per_m)
            .fold(0.0, f64::max);
        assert!(k_max < 0.0105, "no kink at the line: {k_max}");
    }

    #[test]
    fn bad_paths_are_refused() {
        assert_eq!(
            Track::from_path("x", &[[0.0; 3]; 3]),
            Err(TrackError::TooFewPoints { found: 3, min: 16 })
        );
        let mut points: Vec<[f64; 3]> = (0..20).map(|i| [i as f64 * 20.0, 0.0, 0.0]).collect();
        points[7][1] = f64::NAN;
        assert_eq!(
            Track::from_path("x", &points),
            Err(TrackError::NotFinite { index: 7 })
        );
        let short: Vec<[f64; 3]> = (0..20).map(|i| [i as f64, 0.0, 0.0]).collect();
        assert!(matches!(
            Track::from_path("x", &short),
            Err(TrackError::TooShort { .. })
        ));
        assert!(matches!(
            Track::by_name("monza"),
            Err(TrackError::UnknownTrack { .. })
        ));
    }

    #[test]
    fn csv_round_trip_and_errors() {
        let track = Track::test_circuit();
        let again = Track::from_csv("test", &track.to_csv()).unwrap();
        assert_eq!(again.samples().len(), track.samples().len());
        assert!((again.length_m() - track.length_m()).abs() < 1e-3);
        for (a, b) in again.samples().iter().zip(track.samples()) {
            for c in 0..3 {
                assert!((a.position_m[c] - b.position_m[c]).abs() < 1e-3);
            }
            assert!((a.curvature_per_m - b.curvature_per_m).abs() < 1e-8);
        }
        assert!(same_corners(again.corners(), track.corners()));
        let bad = track.to_csv().replacen("0.000,", "0.000,x", 1);
        assert!(matches!(
            Track::from_csv("t", &bad),
            Err(TrackError::BadData {
                line: 6,
                problem: DataProblem::BadNumber { column: 2 }
            })
        ));
        let no_length = track.to_csv().replace("# length_m=", "# len=");
        assert!(matches!(
            Track::from_csv("t", &no_length),
            Err(TrackError::BadData {
                problem: DataProblem::MissingLength,
                ..
            })
        ));
    }

    #[test]
    fn test_circuit_has_six_corners_in_order() {
        let track = Track::test_circuit();
        assert!(
            (1250.0..1350.0).contains(&track.length_m()),
            "{}",
            track.length_m()
        );
        let corners = track.corners();
        let expected = [
            (TurnDirection::Right, 90.0),
            (TurnDirection::Left, 90.0),
            (TurnDirection::Right, 180.0),
            (TurnDirection::Left, 35.0),
            (TurnDirection::Right, 35.0),
            (TurnDirection::Right, 180.0),
        ];
        assert_eq!(corners.len(), expected.len(), "{corners:#?}");
        for (i, (corner, (direction, turn))) in corners.iter().zip(expected).enumerate() {
            assert_eq!(corner.name, format!("T{}", i + 1));
            assert_eq!(corner.direction, direction, "{corner:?}");
            // Smoothing takes a little off each corner, and more off the chicane's flick.
            let tolerance = if turn < 45.0 { 0.35 } else { 0.05 };
            assert!(
                (corner.turn_deg - turn).abs() < tolerance * turn,
                "{corner:?}"
            );
            assert!(corner.start_m < corner.apex_m && corner.apex_m < corner.end_m);
        }
        let hairpin = &corners[2];
        assert!((12.0..18.0).contains(&hairpin.min_radius_m), "{hairpin:?}");
        assert!(corners.windows(2).all(|w| w[0].end_m <= w[1].start_m));
        assert_eq!(track.corner("t3"), Some(hairpin));
    }

    #[test]
    fn positions_follow_the_heading_and_offsets_go_right() {
        let track = Track::test_circuit();
        // On the first straight the track heads east (+x).
        let h = track.heading_at(50.0);
        assert!(h.abs() < 0.02, "{h}");
        let centre = track.position_at(50.0);
        let right = track.offset_position_at(50.0, 10.0);
        // Facing east with y up, right is +z (south).
        assert!((right[2] - centre[2] - 10.0).abs() < 0.05);
        assert!((track.wrap(-1.0) - (track.length_m() - 1.0)).abs() < 1e-9);
        assert_eq!(track.wrap(track.length_m()), 0.0);
    }

    #[test]
    fn pit_lane_offset_merges_to_zero() {
        let pit = Track::test_circuit().pit_lane().to_owned();
        assert_eq!(pit.offset_at(pit.box_m), pit.lateral_offset_m);
        assert!(pit.offset_at(pit.exit_m - 0.01).abs() < 0.01);
        assert_eq!(pit.offset_at(pit.exit_m + 1.0), 0.0);
    }
}
