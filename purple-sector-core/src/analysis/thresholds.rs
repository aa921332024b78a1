//! [`Thresholds`]: every tuning value of the analysis, in one place.

use serde::{Deserialize, Serialize};

/// The analysis's tuning values: which laps can be compared, what counts as braking, on the
/// throttle or flat out, how corners are found and windowed, and when the heuristic coach
/// speaks up. [`Default`] is tuned for cars from road cars to GT3, on real and simulated data;
/// each field's documentation gives its default.
///
/// The entry points ([`analyze`](super::analyze), [`detect_corners`](super::detect_corners),
/// [`corner_metrics`](super::corner_metrics),
/// [`heuristic_suggestions`](super::heuristic_suggestions) …) use the defaults;
/// [`detect_corners_with`](super::detect_corners_with) takes its own.
///
/// ```
/// use purple_sector_core::analysis::Thresholds;
///
/// let thresholds = Thresholds::default();
/// assert_eq!(thresholds.brake_on, 0.1);
/// assert_eq!(thresholds.critical_loss_s, 0.3);
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Thresholds {
    // Laps.
    /// Fewest frames a lap must have (after dropping duplicates and jitter). Default 20.
    pub min_frames: usize,
    /// Least share of the lap the frames must cover, 0..1. Default 0.95.
    pub min_coverage: f64,
    /// Largest relative difference between the lap's own length and the reference's before the
    /// two are taken for different tracks. Default 0.05 (5 %; two racing lines differ by well
    /// under 1 %).
    pub max_length_mismatch: f64,

    // Pedals.
    /// Throttle at and above which a lap is flat out (with the brake below
    /// [`brake_on`](Self::brake_on)), 0..1. Default 0.9.
    pub flat_out_throttle: f32,
    /// Brake pedal at and above which a lap is braking, 0..1: the brake point, trail braking,
    /// and neither flat out nor on the throttle. Default 0.1.
    pub brake_on: f32,
    /// Throttle that marks the pick-up (with the brake below [`brake_on`](Self::brake_on)),
    /// 0..1. Default 0.1.
    pub throttle_on: f32,
    /// Throttle that counts as full (with the brake below [`brake_on`](Self::brake_on)), 0..1.
    /// Default 0.95.
    pub full_throttle: f32,
    /// Below this both pedals are off (coasting), 0..1. Default 0.05.
    pub pedal_off: f32,

    // Corners: detection on the reference, and the apex of every lap.
    /// Half-width of the box filter on speed before looking for minima, m. Default 5.
    pub smoothing_m: f64,
    /// Least prominence of a speed minimum, km/h. Default 8.
    pub min_prominence_kmh: f64,
    /// The apex is the middle of the stretch within this of the minimum speed (the
    /// reference's smoothed speed when detecting corners, each lap's speed in its metrics),
    /// km/h. Default 0.5.
    pub apex_band_kmh: f64,
    /// A flat-out kink this close to a speed corner's apex is part of that corner, m.
    /// Default 30.
    pub min_lead_m: f64,
    /// Shortest exit after the apex (or a kink's bend), m. Default 10.
    pub min_exit_m: f64,
    /// A flat-out kink within this of a braked corner's window is part of the straight
    /// before or after it, not a corner, m. Default 100.
    pub kink_clearance_m: f64,
    /// Least lateral acceleration of a flat-out kink, g. Default 1.0.
    pub kink_min_lateral_g: f64,
    /// Least heading change of a flat-out kink, degrees. Default 10.
    pub kink_min_turn_deg: f64,
    /// Half-length of the chords the curvature is measured over, m. Default 8.
    pub curvature_chord_m: f64,
    /// Turn-in threshold as a share of the reference's largest steering in the corner, 0..1.
    /// Default 0.3.
    pub turn_in_share: f64,
    /// Smallest turn-in threshold, degrees of steering wheel. Default 3.
    pub min_turn_in_deg: f64,

    // The heuristic coach.
    /// Smallest loss in a corner worth a suggestion, s. Default 0.02.
    pub min_loss_s: f64,
    /// Smallest loss on a straight worth a suggestion of its own, s. Default 0.1.
    pub min_straight_loss_s: f64,
    /// Smallest gain worth a strength, s. Default 0.05.
    pub min_gain_s: f64,
    /// Loss from which a suggestion is critical, s. Default 0.3.
    pub critical_loss_s: f64,
    /// Loss from which a suggestion is a warning, s. Default 0.1.
    pub warning_loss_s: f64,
    /// A brake point this much earlier (or later) than the reference's counts, m. Default 5.
    pub brake_point_shift_m: f64,
    /// Full throttle or the pick-up this much later than the reference's counts, m.
    /// Default 5.
    pub throttle_shift_m: f64,
    /// This much longer lifted before braking, or coasting, than the reference counts, m.
    /// Default 10.
    pub extra_coasting_m: f64,
    /// This much more lifted mid-corner than the reference counts, m. Default 5.
    pub lift_shift_m: f64,
    /// A minimum speed at least this much lower than the reference's counts, km/h.
    /// Default 0.5.
    pub min_speed_drop_kmh: f64,
    /// … and at least this share lower, 0..1. Default 0.01 (1 %).
    pub weak_speed_drop_share: f64,
    /// An exit this much slower counts, km/h. Default 1.
    pub carry_exit_kmh: f64,
    /// A mean throttle over the exit this much lower is a late throttle, 0..1. Default 0.05.
    pub exit_throttle_drop: f64,
    /// Somewhere before the apex this much slower (and 2 %) counts, the apex itself no
    /// slower, km/h. Default 3.
    pub through_speed_drop_kmh: f64,

    // Habits.
    /// The most recent laps of a session a habit is looked for in. Default 6.
    pub habit_laps: usize,
    /// Fewest laps a cause must be seen in (at one corner, and in more than half of the laps
    /// looked at) to be a habit. Default 2.
    pub habit_min_laps: usize,
}

impl Default for Thresholds {
    /// The defaults given in each field's documentation.
    fn default() -> Self {
        Self {
            min_frames: 20,
            min_coverage: 0.95,
            max_length_mismatch: 0.05,

            flat_out_throttle: 0.9,
            brake_on: 0.1,
            throttle_on: 0.1,
            full_throttle: 0.95,
            pedal_off: 0.05,

            smoothing_m: 5.0,
            min_prominence_kmh: 8.0,
            apex_band_kmh: 0.5,
            min_lead_m: 30.0,
            min_exit_m: 10.0,
            kink_clearance_m: 100.0,
            kink_min_lateral_g: 1.0,
            kink_min_turn_deg: 10.0,
            curvature_chord_m: 8.0,
            turn_in_share: 0.3,
            min_turn_in_deg: 3.0,

            min_loss_s: 0.02,
            min_straight_loss_s: 0.1,
            min_gain_s: 0.05,
            critical_loss_s: 0.3,
            warning_loss_s: 0.1,
            brake_point_shift_m: 5.0,
            throttle_shift_m: 5.0,
            extra_coasting_m: 10.0,
            lift_shift_m: 5.0,
            min_speed_drop_kmh: 0.5,
            weak_speed_drop_share: 0.01,
            carry_exit_kmh: 1.0,
            exit_throttle_drop: 0.05,
            through_speed_drop_kmh: 3.0,

            habit_laps: 6,
            habit_min_laps: 2,
        }
    }
}
