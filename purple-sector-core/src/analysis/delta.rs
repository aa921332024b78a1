//! [`Delta`]: time against a reference lap along distance.

use serde::{Deserialize, Serialize};

use super::trace::{LapTrace, interpolate};

/// Lap time minus reference time at each point of the reference's grid, s (positive: the lap
/// is behind). Both traces start at 0 at the line and end at their lap times, so the delta
/// is 0 at the start and the lap-time gap at the line; the time lost between two points is
/// the difference of the delta there.
///
/// ```
/// use purple_sector_core::analysis::{Delta, LapTrace};
/// use purple_sector_core::telemetry::Frame;
///
/// let lap = |v: f32| -> Vec<Frame> {
///     (0..=200)
///         .map(|i| Frame {
///             lap_time_ms: (i as f32 * 5.0 / v * 1000.0) as i32,
///             position_normalized: i as f32 / 200.0,
///             speed_ms: v,
///             speed_kmh: v * 3.6,
///             world_m: [i as f32 * 5.0, 0.0, 0.0],
///             ..Frame::default()
///         })
///         .collect()
/// };
/// let reference = LapTrace::new(&lap(50.0), Some(20_000))?;
/// let slower = LapTrace::with_length(&lap(40.0), Some(25_000), reference.length_m())?;
/// let delta = Delta::new(&slower, &reference);
/// assert!((delta.at_line() - 5.0).abs() < 1e-9);
/// assert!((delta.at(500.0) - 2.5).abs() < 0.01);
/// # Ok::<(), purple_sector_core::analysis::AnalysisError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Delta {
    spacing_m: f64,
    length_m: f64,
    values_s: Vec<f64>,
}

impl Delta {
    /// The delta of `lap` against `reference`, on the reference's grid. A lap on another
    /// length is matched by normalized position.
    pub fn new(lap: &LapTrace, reference: &LapTrace) -> Self {
        let same_grid =
            lap.len() == reference.len() && (lap.length_m() - reference.length_m()).abs() < 1e-9;
        let values_s = if same_grid {
            lap.time_s()
                .iter()
                .zip(reference.time_s())
                .map(|(a, b)| a - b)
                .collect()
        } else {
            let scale = lap.length_m() / reference.length_m();
            reference
                .time_s()
                .iter()
                .enumerate()
                .map(|(k, t)| lap.time_at(reference.distance_m(k) * scale) - t)
                .collect()
        };
        Self {
            spacing_m: reference.spacing_m(),
            length_m: reference.length_m(),
            values_s,
        }
    }

    /// The delta at each grid point, s.
    pub fn values_s(&self) -> &[f64] {
        &self.values_s
    }

    /// Distance between grid points, m.
    pub fn spacing_m(&self) -> f64 {
        self.spacing_m
    }

    /// Track length, m.
    pub fn length_m(&self) -> f64 {
        self.length_m
    }

    /// The delta at `distance_m` (clamped to the lap), s; linear between grid points.
    pub fn at(&self, distance_m: f64) -> f64 {
        interpolate(&self.values_s, distance_m / self.spacing_m)
    }

    /// The delta at the line: the lap-time gap, s.
    pub fn at_line(&self) -> f64 {
        self.values_s.last().copied().unwrap_or(0.0)
    }

    /// Time lost from `start_m` to `end_m`, s (negative: gained).
    pub fn lost_between(&self, start_m: f64, end_m: f64) -> f64 {
        self.at(end_m) - self.at(start_m)
    }
}
