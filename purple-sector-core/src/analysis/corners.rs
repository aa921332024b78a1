//! Corners, found once on the reference lap, and the segments they cut the lap into.

use serde::{Deserialize, Serialize};

use super::thresholds::Thresholds;
use super::trace::LapTrace;
use super::{Corner, SegmentKind};
use crate::telemetry::STANDARD_GRAVITY_MS2;

/// A stretch of the lap: a corner's window or a straight.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Segment {
    /// `T3` for a corner, `T3–T4` for the straight after T3 (`Start–T1`, `T12–Finish`).
    pub name: String,
    /// Corner or straight.
    pub kind: SegmentKind,
    /// Start, m from the line.
    pub start_m: f64,
    /// End, m from the line.
    pub end_m: f64,
}

/// The corners of a reference lap with the default [`Thresholds`]; the rules are
/// [`detect_corners_with`]'s.
pub fn detect_corners(reference: &LapTrace) -> Vec<Corner> {
    detect_corners_with(reference, &Thresholds::default())
}

/// One candidate: its apex and the stretch it spans before windows are drawn.
#[derive(Debug, Clone, Copy)]
struct Candidate {
    apex: usize,
    /// First and last point of the bend (kinks); the apex for speed corners.
    region: (usize, usize),
}

/// The corners of a reference lap, in track order, their windows not overlapping.
///
/// # Detection
///
/// - **Speed corners.** The reference's speed, smoothed over ±[`Thresholds::smoothing_m`],
///   has a local minimum at each corner taken below flat out. A minimum counts when its
///   prominence (how far the speed must rise before reaching a lower minimum on either side,
///   the smaller of the two climbs) is at least [`Thresholds::min_prominence_kmh`]. The
///   apex is the middle of the stretch within [`Thresholds::apex_band_kmh`] of the
///   minimum (so a constant-radius corner's apex is its middle, not wherever the noise put
///   the lowest sample).
/// - **Chicanes.** Two minima make two corners when the reference speeds up by at least the
///   prominence between them (then each minimum has that prominence); otherwise the chicane
///   is one corner with its apex at the slower part. Two close corners share a boundary (see
///   below), so each keeps its own window.
/// - **Flat-out kinks.** Where the lateral acceleration (the lateral-g channel, or v²κ with
///   the curvature κ from the x/z coordinates when the channel is empty) stays above
///   [`Thresholds::kink_min_lateral_g`] over a bend turning at least
///   [`Thresholds::kink_min_turn_deg`], flat out at its apex (the curvature's peak) and
///   more than [`Thresholds::min_lead_m`] from any speed corner's apex, the bend is a corner
///   too, its apex at the curvature's peak.
/// - Corners are numbered `T1`, `T2` … by apex from the line.
///
/// # Windows
///
/// Each corner's window runs from its entry to its exit, on the reference:
///
/// - **Entry**: where the reference stops being flat out (throttle ≥
///   [`Thresholds::flat_out_throttle`], 90 %, brake < [`Thresholds::brake_on`], 10 %)
///   after its speed peak since the previous corner — where it lifts or brakes (for a kink
///   taken flat, the start of the bend) — moved earlier by a lead of [`Thresholds::lead_s`]
///   at the speed there (between [`Thresholds::min_lead_m`] and
///   [`Thresholds::max_lead_m`]), so that an earlier brake point or lift of the lap falls
///   inside the window.
/// - **Exit**: where the reference has recovered [`Thresholds::exit_recovery`] (90 %) of
///   its speed's rise from the apex to the peak before the next corner (at least
///   [`Thresholds::min_exit_m`] past the apex or the bend). Not at the full-throttle
///   point: a slower exit costs time all the way down the following straight — on the
///   simulator a late throttle out of the hairpin lost 15 % of its cost before the reference
///   was back on full throttle and 95 % before 90 % speed recovery — so the window keeps
///   what the corner decides.
/// - **No overlap.** When two windows would overlap, they meet at one boundary: the middle
///   between the point where the first corner's reference has recovered half its speed rise
///   and the second one's lift point when the first comes first, else the speed peak between
///   the two apexes. Between corners this close (a straight shorter than the two leads) a
///   mistake at one of them can leave part of its cost in its neighbour's window.
///
/// The gaps between windows are the straights. The same windows are applied to every lap
/// compared with the reference.
pub fn detect_corners_with(reference: &LapTrace, thresholds: &Thresholds) -> Vec<Corner> {
    let n = reference.len();
    if n < 8 {
        return Vec::new();
    }
    let ds = reference.spacing_m();
    let speed = smooth(
        &reference
            .speed_kmh()
            .iter()
            .map(|&v| f64::from(v))
            .collect::<Vec<_>>(),
        half_width(thresholds.smoothing_m, ds),
    );
    let mut candidates: Vec<Candidate> = speed_minima(&speed, thresholds)
        .into_iter()
        .map(|apex| Candidate {
            apex,
            region: (apex, apex),
        })
        .collect();
    let kinks = kinks(reference, &speed, &candidates, thresholds);
    candidates.extend(kinks);
    candidates.sort_by_key(|c| c.apex);
    candidates.dedup_by_key(|c| c.apex);
    windows(reference, &speed, &candidates, thresholds)
}

fn half_width(metres: f64, spacing_m: f64) -> usize {
    (metres / spacing_m).round().max(0.0) as usize
}

/// Box filter of half-width `h` points (shrinking at the ends).
pub(crate) fn smooth(values: &[f64], h: usize) -> Vec<f64> {
    let n = values.len();
    if h == 0 || n == 0 {
        return values.to_vec();
    }
    let mut prefix = Vec::with_capacity(n + 1);
    prefix.push(0.0);
    let mut sum = 0.0;
    for v in values {
        sum += v;
        prefix.push(sum);
    }
    (0..n)
        .map(|i| {
            let lo = i.saturating_sub(h);
            let hi = (i + h).min(n - 1);
            (prefix[hi + 1] - prefix[lo]) / (hi + 1 - lo) as f64
        })
        .collect()
}

/// Indices of the prominent speed minima (apexes), in order.
fn speed_minima(speed: &[f64], thresholds: &Thresholds) -> Vec<usize> {
    let n = speed.len();
    let mut out = Vec::new();
    let mut i = 1;
    while i + 1 < n {
        if speed[i] < speed[i - 1] {
            // A run of equal values starting here.
            let mut j = i;
            while j + 1 < n && speed[j + 1] == speed[i] {
                j += 1;
            }
            if j + 1 < n && speed[j + 1] > speed[i] {
                let m = (i + j) / 2;
                if prominence(speed, i, j) >= thresholds.min_prominence_kmh {
                    out.push(apex_of(speed, m, thresholds.apex_band_kmh));
                }
            }
            i = j + 1;
        } else {
            i += 1;
        }
    }
    out
}

/// Prominence of the minimum run `lo..=hi`.
fn prominence(speed: &[f64], lo: usize, hi: usize) -> f64 {
    let v = speed[lo];
    let mut left_max = v;
    for &s in speed[..lo].iter().rev() {
        if s < v {
            break;
        }
        left_max = left_max.max(s);
    }
    let mut right_max = v;
    for &s in &speed[hi + 1..] {
        if s < v {
            break;
        }
        right_max = right_max.max(s);
    }
    left_max.min(right_max) - v
}

/// The middle of the stretch within `band` of the minimum around `m`.
fn apex_of(speed: &[f64], m: usize, band: f64) -> usize {
    let limit = speed[m] + band;
    let mut lo = m;
    while lo > 0 && speed[lo - 1] <= limit {
        lo -= 1;
    }
    let mut hi = m;
    while hi + 1 < speed.len() && speed[hi + 1] <= limit {
        hi += 1;
    }
    (lo + hi) / 2
}

/// Signed curvature of the driven line from the x/z coordinates, 1/m (positive turning
/// right, seen from above with x east and z south), at each grid point: the heading change
/// between the chords ±`chord_m` around it, smoothed over the same length. Zero where the
/// coordinates do not move.
pub fn curvature_per_m(trace: &LapTrace, chord_m: f64) -> Vec<f64> {
    let n = trace.len();
    let intervals = n.saturating_sub(1);
    if intervals < 4 {
        return vec![0.0; n];
    }
    let h = half_width(chord_m, trace.spacing_m()).clamp(1, intervals / 4);
    let xz = trace.world_m();
    // Chords are cut short at the line (a logged lap need not close exactly).
    let at = |k: isize| {
        let i = k.clamp(0, intervals as isize) as usize;
        (f64::from(xz[i][0]), f64::from(xz[i][2]))
    };
    let chord = h as f64 * trace.spacing_m();
    let raw: Vec<f64> = (0..n as isize)
        .map(|k| {
            let (a, b, c) = (at(k - h as isize), at(k), at(k + h as isize));
            let l1 = (b.0 - a.0).hypot(b.1 - a.1);
            let l2 = (c.0 - b.0).hypot(c.1 - b.1);
            if l1 < 0.25 * chord || l2 < 0.25 * chord {
                return 0.0;
            }
            let h1 = (b.1 - a.1).atan2(b.0 - a.0);
            let h2 = (c.1 - b.1).atan2(c.0 - b.0);
            let mut turn = h2 - h1;
            while turn > std::f64::consts::PI {
                turn -= std::f64::consts::TAU;
            }
            while turn < -std::f64::consts::PI {
                turn += std::f64::consts::TAU;
            }
            turn / (0.5 * (l1 + l2))
        })
        .collect();
    smooth(&raw, h)
}

/// Flat-out bends away from the speed corners.
fn kinks(
    reference: &LapTrace,
    speed: &[f64],
    speed_corners: &[Candidate],
    thresholds: &Thresholds,
) -> Vec<Candidate> {
    let n = reference.len();
    let ds = reference.spacing_m();
    let kappa = curvature_per_m(reference, thresholds.curvature_chord_m);
    let g_channel = reference.g_lateral();
    let has_g = g_channel.iter().any(|&g| g != 0.0);
    let lateral_g: Vec<f64> = (0..n)
        .map(|k| {
            if has_g {
                f64::from(g_channel[k]).abs()
            } else {
                let v = speed[k] / 3.6;
                v * v * kappa[k].abs() / STANDARD_GRAVITY_MS2
            }
        })
        .collect();
    let brake = reference.brake();
    let gas = reference.gas();
    let keep_away = half_width(thresholds.min_lead_m, ds);
    let mut out = Vec::new();
    let mut k = 0;
    while k < n {
        if lateral_g[k] < thresholds.kink_min_lateral_g {
            k += 1;
            continue;
        }
        let start = k;
        while k + 1 < n && lateral_g[k + 1] >= thresholds.kink_min_lateral_g {
            k += 1;
        }
        let end = k;
        k += 1;
        let turn_deg: f64 = kappa[start..=end].iter().map(|c| c.abs()).sum::<f64>() * ds;
        if turn_deg.to_degrees() < thresholds.kink_min_turn_deg {
            continue;
        }
        let near_speed_corner = speed_corners
            .iter()
            .any(|c| c.apex + keep_away >= start && c.apex <= end + keep_away);
        if near_speed_corner {
            continue;
        }
        let apex = (start..=end)
            .max_by(|&a, &b| kappa[a].abs().total_cmp(&kappa[b].abs()))
            .unwrap_or(start);
        // Flat out at the apex: a braking zone that merely starts in the bend is the next
        // corner's, and a bend the reference lifts for is part of a slower corner.
        if !(gas[apex] >= thresholds.flat_out_throttle && brake[apex] < thresholds.brake_on) {
            continue;
        }
        out.push(Candidate {
            apex,
            region: (start, end),
        });
    }
    out
}

fn argmax(values: &[f64], lo: usize, hi: usize) -> usize {
    (lo..=hi)
        .max_by(|&a, &b| values[a].total_cmp(&values[b]))
        .unwrap_or(lo)
}

/// Draws the windows of the candidates (sorted by apex) and names them.
fn windows(
    reference: &LapTrace,
    speed: &[f64],
    candidates: &[Candidate],
    thresholds: &Thresholds,
) -> Vec<Corner> {
    let n = reference.len();
    let last = n - 1;
    let ds = reference.spacing_m();
    let gas = reference.gas();
    let brake = reference.brake();
    let flat_out =
        |k: usize| gas[k] >= thresholds.flat_out_throttle && brake[k] < thresholds.brake_on;
    let metres = |s: f64| (s / ds).round().max(0.0) as usize;

    struct Window {
        apex: usize,
        lift: usize,
        half_recovered: usize,
        start: usize,
        end: usize,
    }
    let mut ws: Vec<Window> = Vec::with_capacity(candidates.len());
    for (c, cand) in candidates.iter().enumerate() {
        let apex = cand.apex;
        let prev = if c == 0 { 0 } else { candidates[c - 1].apex };
        let next = candidates.get(c + 1).map_or(last, |x| x.apex);
        let peak_before = argmax(speed, prev, apex);
        let peak_after = argmax(speed, apex, next);
        let region_start = cand.region.0.clamp(peak_before, apex);
        let region_end = cand.region.1.clamp(apex, peak_after);
        // Where the reference stops being flat out after the speed peak.
        let lift = (peak_before..=region_start)
            .find(|&k| !flat_out(k))
            .unwrap_or(region_start);
        let (v_min, v_peak) = (speed[apex], speed[peak_after]);
        let recovered = |share: f64| {
            let target = v_min + share * (v_peak - v_min);
            (region_end..=peak_after)
                .find(|&k| speed[k] >= target)
                .unwrap_or(peak_after)
        };
        let half_recovered = recovered(0.5);
        let lead = metres(
            (thresholds.lead_s * speed[lift] / 3.6)
                .clamp(thresholds.min_lead_m, thresholds.max_lead_m),
        );
        let start = lift.saturating_sub(lead).min(apex.saturating_sub(1));
        let end = recovered(thresholds.exit_recovery)
            .max(region_end + metres(thresholds.min_exit_m))
            .min(peak_after)
            .max(apex + 1)
            .min(last);
        ws.push(Window {
            apex,
            lift,
            half_recovered,
            start,
            end,
        });
    }
    for c in 1..ws.len() {
        let (a, b) = (&ws[c - 1], &ws[c]);
        if a.end <= b.start {
            continue;
        }
        let mut boundary = if a.half_recovered <= b.lift {
            (a.half_recovered + b.lift) / 2
        } else {
            argmax(speed, a.apex, b.apex)
        };
        boundary = boundary.clamp(a.apex + 1, b.apex.saturating_sub(1).max(a.apex + 1));
        ws[c - 1].end = boundary;
        ws[c].start = boundary;
    }
    ws.iter()
        .enumerate()
        .map(|(i, w)| Corner {
            name: format!("T{}", i + 1),
            start_m: reference.distance_m(w.start),
            apex_m: reference.distance_m(w.apex),
            end_m: reference.distance_m(w.end),
        })
        .collect()
}

/// The segments of a lap of `length_m` cut by `corners` (in track order, windows not
/// overlapping): `Start–T1`, `T1`, `T1–T2`, …, `Tn`, `Tn–Finish`. Straights of zero length
/// are left out; the segments tile 0..`length_m` exactly.
pub fn segments(corners: &[Corner], length_m: f64) -> Vec<Segment> {
    let mut out = Vec::with_capacity(2 * corners.len() + 1);
    let mut at = 0.0f64;
    let mut previous = "Start".to_owned();
    for corner in corners {
        let start = corner.start_m.clamp(at, length_m);
        if start > at {
            out.push(Segment {
                name: format!("{previous}–{}", corner.name),
                kind: SegmentKind::Straight,
                start_m: at,
                end_m: start,
            });
        }
        let end = corner.end_m.clamp(start, length_m);
        out.push(Segment {
            name: corner.name.clone(),
            kind: SegmentKind::Corner,
            start_m: start,
            end_m: end,
        });
        at = end;
        previous.clone_from(&corner.name);
    }
    if at < length_m || out.is_empty() {
        out.push(Segment {
            name: format!("{previous}–Finish"),
            kind: SegmentKind::Straight,
            start_m: at,
            end_m: length_m,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prominence_separates_chicanes_from_wiggles() {
        // Two dips of 40 km/h, 12 km/h apart at their separating peak, plus a 3 km/h wiggle.
        let mut speed: Vec<f64> = vec![200.0; 600];
        for (k, v) in speed.iter_mut().enumerate() {
            let x = k as f64;
            *v -= 80.0 * (-((x - 200.0) / 30.0).powi(2)).exp();
            *v -= 80.0 * (-((x - 260.0) / 30.0).powi(2)).exp();
            *v -= 3.0 * (-((x - 450.0) / 5.0).powi(2)).exp();
        }
        let minima = speed_minima(&speed, &Thresholds::default());
        assert_eq!(minima.len(), 2, "{minima:?}");
        assert!(minima[0] < 230 && minima[1] > 230);
    }

    #[test]
    fn segments_tile_the_lap() {
        let corners = vec![
            Corner {
                name: "T1".into(),
                start_m: 100.0,
                apex_m: 150.0,
                end_m: 200.0,
            },
            Corner {
                name: "T2".into(),
                start_m: 200.0,
                apex_m: 250.0,
                end_m: 300.0,
            },
        ];
        let s = segments(&corners, 1000.0);
        let names: Vec<&str> = s.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["Start–T1", "T1", "T2", "T2–Finish"]);
        assert!(s.windows(2).all(|w| w[0].end_m == w[1].start_m));
        assert_eq!(s[0].start_m, 0.0);
        assert_eq!(s[3].end_m, 1000.0);
        assert_eq!(segments(&[], 500.0).len(), 1);
    }
}
