//! What a lap did in each corner, time lost per segment, the ideal lap and consistency.

use serde::{Deserialize, Serialize};

use super::corners::{Segment, segments};
use super::delta::Delta;
use super::thresholds::Thresholds;
use super::trace::LapTrace;
use super::{Corner, CornerMetrics, SegmentKind, SegmentLoss};

/// Grid indices of a window on a trace.
fn span(trace: &LapTrace, start_m: f64, end_m: f64) -> (usize, usize) {
    let s = trace.index_at(start_m);
    let e = trace.index_at(end_m).max(s);
    (s, e)
}

/// The steering threshold for turn-in at `corner`, from the reference, degrees, with the
/// default [`Thresholds`]: [`Thresholds::turn_in_share`] of the reference's largest
/// \|steering\| in the window, at least [`Thresholds::min_turn_in_deg`].
pub fn turn_in_threshold_deg(reference: &LapTrace, corner: &Corner) -> f64 {
    turn_in_threshold_deg_with(reference, corner, &Thresholds::default())
}

/// [`turn_in_threshold_deg`] with the given thresholds.
pub(super) fn turn_in_threshold_deg_with(
    reference: &LapTrace,
    corner: &Corner,
    thresholds: &Thresholds,
) -> f64 {
    let (s, e) = span(reference, corner.start_m, corner.end_m);
    let peak = reference.steer_deg()[s..=e]
        .iter()
        .map(|v| f64::from(v.abs()))
        .fold(0.0, f64::max);
    (thresholds.turn_in_share * peak).max(thresholds.min_turn_in_deg)
}

/// What `trace` did in `corner`'s window. `search_end_m` bounds the search for full
/// throttle (the next corner's start, or the lap's end); `turn_in_deg` is
/// [`turn_in_threshold_deg`] of the reference.
///
/// # Thresholds
///
/// The default [`Thresholds`]:
///
/// | what | rule |
/// |---|---|
/// | apex | the middle of the stretch within [`Thresholds::apex_band_kmh`] (0.5 km/h) of the window's lowest speed |
/// | brake point | brake ≥ [`Thresholds::brake_on`] (10 %), first in the window up to the apex |
/// | turn-in | \|steering\| ≥ the corner's threshold: [`Thresholds::turn_in_share`] of the reference's largest \|steering\| in the window, at least [`Thresholds::min_turn_in_deg`]; the rising crossing that leads into the apex |
/// | trail braking | brake ≥ [`Thresholds::brake_on`] (10 %) while \|steering\| ≥ the threshold |
/// | throttle pick-up | the throttle application (≥ [`Thresholds::throttle_on`], 10 %, brake off) in effect at the apex, or the first after it |
/// | full throttle | throttle ≥ [`Thresholds::full_throttle`] (95 %), brake off: where the stretch of it that runs to the window's end began (out of a double corner's last part), else the first from the apex, looked for up to the next corner's window |
/// | coasting | throttle and brake both < [`Thresholds::pedal_off`] (5 %) |
/// | lift point | where the lap last was flat out before its brake point (or its apex): the corner's onset, when it lies before that point |
/// | mid-corner lift | after the pick-up, throttle under [`Thresholds::pedal_off`] with the brake off; in a corner the lap takes without braking, throttle under [`Thresholds::flat_out_throttle`] |
/// | gear at the apex | the gear engaged most within ±10 m of the apex (not neutral) |
/// | exit throttle | the mean throttle over the window's last [`EXIT_THROTTLE_M`] (80 m), from the apex at the earliest |
///
/// The points are in the order a corner is driven: the brake point and the turn-in are at
/// or before the apex, the throttle pick-up after the last braking before it, full throttle
/// at or after both. The lap's metrics use the reference's turn-in threshold, so the two are
/// comparable.
pub fn corner_metrics(
    trace: &LapTrace,
    corner: &Corner,
    search_end_m: f64,
    turn_in_deg: f64,
) -> CornerMetrics {
    corner_metrics_with(
        trace,
        corner,
        search_end_m,
        turn_in_deg,
        &Thresholds::default(),
    )
}

/// [`corner_metrics`] with the given thresholds.
pub(super) fn corner_metrics_with(
    trace: &LapTrace,
    corner: &Corner,
    search_end_m: f64,
    turn_in_deg: f64,
    thresholds: &Thresholds,
) -> CornerMetrics {
    let (s, e) = span(trace, corner.start_m, corner.end_m);
    let search_end = trace.index_at(search_end_m.max(corner.end_m)).max(e);
    let ds = trace.spacing_m();
    let speed = trace.speed_kmh();
    // The throttle over ±THROTTLE_SMOOTHING_M: a pedal's sensor noise neither picks the
    // throttle up nor lifts it.
    let gas = smoothed_gas(trace, s, search_end);
    let gas = |k: usize| gas.get(k - s).copied().unwrap_or(0.0);
    let brake = trace.brake();
    let steer = trace.steer_deg();
    let turning = |k: usize| f64::from(steer[k].abs()) >= turn_in_deg;

    // Apex: the middle of the band around the lowest speed, looked for up to the map's apex
    // and half the way on to the exit (at least APEX_REACH_M): a lift on the way out is no
    // apex.
    let reach = (corner.apex_m + (0.5 * (corner.end_m - corner.apex_m)).max(APEX_REACH_M))
        .min(corner.end_m);
    let apex_end = trace.index_at(reach).clamp(s, e);
    let low = (s..=apex_end)
        .min_by(|&a, &b| speed[a].total_cmp(&speed[b]))
        .unwrap_or(s);
    let limit = speed[low] + thresholds.apex_band_kmh as f32;
    let (mut lo, mut hi) = (low, low);
    while lo > s && speed[lo - 1] <= limit {
        lo -= 1;
    }
    while hi < apex_end && speed[hi + 1] <= limit {
        hi += 1;
    }
    let apex = (lo + hi) / 2;

    let braking = |k: usize| brake[k] >= thresholds.brake_on;
    let brake_point = (s..=apex).find(|&k| braking(k));
    let peak_brake = brake[s..=e].iter().copied().fold(0.0f32, f32::max);

    let rising: Vec<usize> = (s + 1..=apex)
        .filter(|&k| turning(k) && !turning(k - 1))
        .collect();
    let turn_in = rising.last().copied().or_else(|| turning(s).then_some(s));

    let trail = (s..=e).filter(|&k| braking(k) && turning(k)).count();

    let on_throttle = |k: usize| gas(k) >= thresholds.throttle_on && !braking(k);
    // An application in effect at the apex goes back to where the throttle rose past half
    // the pick-up's.
    let still_on = |k: usize| gas(k) >= 0.5 * thresholds.throttle_on && !braking(k);
    // The last braking at or before the apex: the throttle comes back after it.
    let released = (s..=apex).rev().find(|&k| braking(k)).map_or(s, |k| k + 1);
    let pickup = if on_throttle(apex) {
        let mut k = apex;
        while k > released && still_on(k - 1) {
            k -= 1;
        }
        Some(k)
    } else {
        (apex..=search_end).find(|&k| on_throttle(k))
    };
    // Full throttle: where the last stretch of it to the window's end began (in a double
    // corner, out of its last part), else the first after the apex.
    let flat = |k: usize| gas(k) >= thresholds.full_throttle && !braking(k);
    let full = if flat(e) && e >= apex {
        let mut k = e;
        while k > apex && flat(k - 1) {
            k -= 1;
        }
        Some(k)
    } else {
        (apex..=search_end).find(|&k| flat(k))
    };
    let coasting = (s..=e)
        .filter(|&k| gas(k) < thresholds.pedal_off && brake[k] < thresholds.pedal_off)
        .count();

    let lift_until = brake_point.unwrap_or(apex);
    let onset = super::corners::onset(trace, s, s, lift_until, thresholds);
    let lift_point = (onset < lift_until
        && (gas(onset.min(lift_until)) < thresholds.flat_out_throttle || braking(onset)))
    .then_some(onset);
    let mid_corner_lift = match (brake_point, pickup) {
        (Some(_), Some(p)) => (p..=e)
            .filter(|&k| gas(k) < thresholds.pedal_off && !braking(k))
            .count(),
        (Some(_), None) => 0,
        (None, _) => (s..=e)
            .filter(|&k| gas(k) < thresholds.flat_out_throttle && !braking(k))
            .count(),
    };

    CornerMetrics {
        brake_point_m: brake_point.map(|k| trace.distance_m(k)),
        peak_brake: f64::from(peak_brake),
        trail_brake_m: trail as f64 * ds,
        turn_in_m: turn_in.map(|k| trace.distance_m(k)),
        apex_m: trace.distance_m(apex),
        min_speed_kmh: f64::from(speed[low]),
        throttle_pickup_m: pickup.map(|k| trace.distance_m(k)),
        full_throttle_m: full.map(|k| trace.distance_m(k)),
        coasting_m: coasting as f64 * ds,
        exit_speed_kmh: f64::from(speed[e]),
        gear_at_apex: gear_around(trace, apex),
        lift_point_m: lift_point.map(|k| trace.distance_m(k)),
        mid_corner_lift_m: mid_corner_lift as f64 * ds,
        entry_speed_kmh: f64::from(speed[s]),
        slowest_from_m: trace.distance_m(lo),
        exit_throttle: {
            let from = e
                .saturating_sub((EXIT_THROTTLE_M / ds).round() as usize)
                .max(apex)
                .min(e);
            (from..=e).map(|k| f64::from(gas(k))).sum::<f64>() / (e - from + 1) as f64
        },
    }
}

/// How far back from a window's end its exit throttle is averaged, m.
pub const EXIT_THROTTLE_M: f64 = 80.0;

/// The lap's apex is looked for at least this far past the map's apex (within the window), m.
const APEX_REACH_M: f64 = 30.0;

/// Half-width of the throttle's smoothing in the corner metrics, m.
const THROTTLE_SMOOTHING_M: f64 = 2.0;

/// The throttle from grid point `from` to `to`, averaged over ±[`THROTTLE_SMOOTHING_M`]
/// (shrinking at the lap's ends); exactly 0 and 1 stay so (a pedal at rest or flat out is not
/// noisy).
fn smoothed_gas(trace: &LapTrace, from: usize, to: usize) -> Vec<f32> {
    let gas = trace.gas();
    let n = gas.len();
    if n == 0 || from > to {
        return Vec::new();
    }
    let h = (THROTTLE_SMOOTHING_M / trace.spacing_m()).round() as usize;
    (from..=to.min(n - 1))
        .map(|k| {
            let g = gas[k];
            if g <= 0.0 || g >= 1.0 || h == 0 {
                return g;
            }
            let (lo, hi) = (k.saturating_sub(h), (k + h).min(n - 1));
            gas[lo..=hi].iter().sum::<f32>() / (hi + 1 - lo) as f32
        })
        .collect()
}

/// The gear engaged most within ±10 m of `at` (neutral, a shift's blip, does not count);
/// the gear at `at` when it is neutral throughout.
fn gear_around(trace: &LapTrace, at: usize) -> i32 {
    let gears = trace.gear();
    let h = ((10.0 / trace.spacing_m()).round() as usize).max(1);
    let lo = at.saturating_sub(h);
    let hi = (at + h).min(gears.len().saturating_sub(1));
    let mut counts: Vec<(i32, usize)> = Vec::new();
    for &g in &gears[lo..=hi] {
        if g == 0 {
            continue;
        }
        match counts.iter_mut().find(|(gear, _)| *gear == g) {
            Some((_, n)) => *n += 1,
            None => counts.push((g, 1)),
        }
    }
    // Most frequent; on a tie the lower gear (the one the corner was taken in).
    counts
        .iter()
        .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(&a.0)))
        .map_or_else(|| gears.get(at).copied().unwrap_or(0), |&(g, _)| g)
}

/// Where the search for full throttle after each corner ends: the next corner's start, the
/// lap's end after the last.
pub fn search_ends_m(corners: &[Corner], length_m: f64) -> Vec<f64> {
    (0..corners.len())
        .map(|i| corners.get(i + 1).map_or(length_m, |c| c.start_m))
        .collect()
}

/// Time lost in each segment (corners and straights, in track order) from the delta. The
/// segments tile the lap, so the losses sum to the delta at the line (the lap-time gap).
pub fn segment_losses(delta: &Delta, corners: &[Corner]) -> Vec<SegmentLoss> {
    segments(corners, delta.length_m())
        .into_iter()
        .map(|s| SegmentLoss {
            time_loss_s: delta.lost_between(s.start_m, s.end_m),
            own_loss_s: 0.0,
            name: s.name,
            kind: s.kind,
            start_m: s.start_m,
            end_m: s.end_m,
        })
        .collect()
}

/// One segment of the ideal lap: the fastest any lap drove it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IdealSegment {
    /// `T3`, `T3–T4` …
    pub name: String,
    /// Corner or straight.
    pub kind: SegmentKind,
    /// Start, m from the line.
    pub start_m: f64,
    /// End, m from the line.
    pub end_m: f64,
    /// Index (into the traces given) of the lap that drove it fastest.
    pub lap: usize,
    /// Its time there, s.
    pub time_s: f64,
}

/// The best segments of several laps put together.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IdealLap {
    /// Sum of the best segment times, ms.
    pub time_ms: f64,
    /// Each segment and the lap it came from.
    pub segments: Vec<IdealSegment>,
}

/// The ideal lap of `traces` (the valid laps, on the same track length — build them with
/// [`LapTrace::with_length`] from one reference) over the segments `corners` cut the lap
/// into. `None` without traces. Ties go to the earlier lap.
pub fn ideal_lap(traces: &[LapTrace], corners: &[Corner]) -> Option<IdealLap> {
    let first = traces.first()?;
    let mut out = Vec::new();
    for Segment {
        name,
        kind,
        start_m,
        end_m,
    } in segments(corners, first.length_m())
    {
        let (lap, time_s) = traces
            .iter()
            .map(|t| t.time_at(end_m) - t.time_at(start_m))
            .enumerate()
            .fold(
                (0, f64::INFINITY),
                |best, (i, t)| {
                    if t < best.1 { (i, t) } else { best }
                },
            );
        out.push(IdealSegment {
            name,
            kind,
            start_m,
            end_m,
            lap,
            time_s,
        });
    }
    Some(IdealLap {
        time_ms: out.iter().map(|s| s.time_s).sum::<f64>() * 1000.0,
        segments: out,
    })
}

/// How one corner varies from lap to lap.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CornerConsistency {
    /// The corner's name.
    pub name: String,
    /// Laps that braked there.
    pub laps_braked: usize,
    /// Standard deviation of the brake point, m; `None` when fewer than two laps braked.
    pub brake_point_sd_m: Option<f64>,
    /// Standard deviation of the minimum speed, km/h.
    pub min_speed_sd_kmh: f64,
}

/// How several laps vary: lap time, and per corner brake point and minimum speed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Consistency {
    /// Laps considered.
    pub laps: usize,
    /// Mean lap time, s.
    pub mean_lap_time_s: f64,
    /// Standard deviation of the lap time, s.
    pub lap_time_sd_s: f64,
    /// Per corner, in track order.
    pub corners: Vec<CornerConsistency>,
}

/// Sample standard deviation (n − 1); 0 for fewer than two values.
pub fn standard_deviation(values: &[f64]) -> f64 {
    if values.len() < 2 {
        return 0.0;
    }
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt()
}

/// Consistency over `traces` (on the same track length) at `corners`. Standard deviations
/// are sample ones (n − 1). The corner metrics use the default [`Thresholds`], with the
/// smallest turn-in threshold ([`Thresholds::min_turn_in_deg`]) for every lap.
pub fn consistency(traces: &[LapTrace], corners: &[Corner]) -> Consistency {
    let thresholds = Thresholds::default();
    let times: Vec<f64> = traces
        .iter()
        .map(|t| f64::from(t.lap_time_ms()) / 1000.0)
        .collect();
    let length = traces.first().map_or(0.0, LapTrace::length_m);
    let ends = search_ends_m(corners, length);
    let per_corner = corners
        .iter()
        .zip(&ends)
        .map(|(corner, &end)| {
            let metrics: Vec<CornerMetrics> = traces
                .iter()
                .map(|t| {
                    corner_metrics_with(t, corner, end, thresholds.min_turn_in_deg, &thresholds)
                })
                .collect();
            let brakes: Vec<f64> = metrics.iter().filter_map(|m| m.brake_point_m).collect();
            let speeds: Vec<f64> = metrics.iter().map(|m| m.min_speed_kmh).collect();
            CornerConsistency {
                name: corner.name.clone(),
                laps_braked: brakes.len(),
                brake_point_sd_m: (brakes.len() >= 2).then(|| standard_deviation(&brakes)),
                min_speed_sd_kmh: standard_deviation(&speeds),
            }
        })
        .collect();
    Consistency {
        laps: traces.len(),
        mean_lap_time_s: if times.is_empty() {
            0.0
        } else {
            times.iter().sum::<f64>() / times.len() as f64
        },
        lap_time_sd_s: standard_deviation(&times),
        corners: per_corner,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_deviation_is_the_sample_one() {
        assert_eq!(standard_deviation(&[]), 0.0);
        assert_eq!(standard_deviation(&[3.0]), 0.0);
        assert!((standard_deviation(&[1.0, 2.0, 3.0, 4.0]) - 1.290_994).abs() < 1e-6);
    }
}
