//! Corners, found on the laps a track map is built from, the windows one comparison uses,
//! and the segments they cut the lap into.

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
    /// Taken without braking or lifting by every lap (a flat-out kink).
    flat: bool,
}

/// The corners of one lap, in track order, their windows not overlapping, named by number
/// (`T1`, `T2` …): what a [`crate::track::TrackMap`] built from this lap alone holds.
///
/// # Detection
///
/// On the laps a map is built from (here one), on one grid:
///
/// - **Speed corners.** The laps' mean speed, smoothed over ±[`Thresholds::smoothing_m`],
///   has a local minimum at each corner taken below flat out. A minimum counts when its
///   prominence (how far the speed must rise before reaching a lower minimum on either side,
///   the smaller of the two climbs) is at least [`Thresholds::min_prominence_kmh`]. The
///   apex is the middle of the stretch within [`Thresholds::apex_band_kmh`] of the
///   minimum (so a constant-radius corner's apex is its middle, not wherever the noise put
///   the lowest sample).
/// - **Chicanes.** Two minima make two corners when the laps speed up by at least the
///   prominence between them; otherwise the chicane is one corner with its apex at the
///   slower part. On a known track, every part whose apex lies in a named corner's stretch
///   is that corner ([`crate::track::KnownCorner`]).
/// - **Flat-out kinks.** Where the lateral acceleration (the lateral-g channel, or v²κ with
///   the curvature κ from the x/z coordinates when the channel is empty) stays above
///   [`Thresholds::kink_min_lateral_g`] over a bend turning at least
///   [`Thresholds::kink_min_turn_deg`], flat out at its apex (the curvature's peak) on every
///   lap, the bend is a corner too — unless it lies within [`Thresholds::kink_clearance_m`]
///   of a braked corner's window: a flat bend on the approach to a braking zone, or on the
///   way out of a corner, is part of that straight (Imola's approach to Rivazza).
///
/// # Windows
///
/// Each corner's window runs from the brake or lift onset to the exit:
///
/// - **Start**: the earliest over the laps of the onset: where the lap last was flat out
///   (throttle ≥ [`Thresholds::flat_out_throttle`], brake < [`Thresholds::brake_on`])
///   before its first braking after the previous corner's apex (for a kink taken flat, the
///   start of the bend).
/// - **End**: the latest over the laps of the exit: the first point from the apex where
///   the lap is at full throttle (≥ [`Thresholds::full_throttle`], brake off) with the
///   steering back under the corner's turn-in threshold (for a kink, the end of the bend),
///   at least [`Thresholds::min_exit_m`] past the apex. A slower exit costs time all the way
///   down the straight that follows; [`super::attribute`] gives that time to the corner.
/// - **No overlap.** When two windows would overlap, they meet at the second one's start
///   (kept between the two apexes).
///
/// The gaps between windows are the straights. The same windows are applied to every lap
/// compared on the map; each comparison moves a corner's start back to either lap's own
/// earlier onset ([`pair_windows`]), so a lift or an early brake is inside the corner it was
/// for.
pub fn detect_corners_with(reference: &LapTrace, thresholds: &Thresholds) -> Vec<Corner> {
    detect_on(&[reference], thresholds, &[])
}

/// [`detect_corners_with`] on several laps on one grid (the first's), with the names of a
/// known track.
pub(crate) fn detect_on(
    laps: &[&LapTrace],
    thresholds: &Thresholds,
    names: &[crate::track::KnownCorner],
) -> Vec<Corner> {
    let Some(first) = laps.first() else {
        return Vec::new();
    };
    let n = first.len();
    if n < 8 || laps.iter().any(|l| l.len() != n) {
        return Vec::new();
    }
    let ds = first.spacing_m();
    let mean: Vec<f64> = (0..n)
        .map(|k| {
            laps.iter()
                .map(|l| f64::from(l.speed_kmh()[k]))
                .sum::<f64>()
                / laps.len() as f64
        })
        .collect();
    let speed = smooth(&mean, half_width(thresholds.smoothing_m, ds));
    let minima: Vec<Candidate> = speed_minima(&speed, thresholds)
        .into_iter()
        .map(|apex| Candidate {
            apex,
            region: (apex, apex),
            flat: false,
        })
        .collect();
    let mut braked = windows(laps, &minima, thresholds);
    let clearance = half_width(thresholds.kink_clearance_m, ds);
    let kinks: Vec<Candidate> = kinks(laps, &speed, &minima, thresholds)
        .into_iter()
        .filter(|k| {
            braked
                .iter()
                .all(|w| k.region.1 + clearance < w.start || k.region.0 > w.end + clearance)
        })
        .collect();
    let mut all: Vec<Candidate> = minima;
    all.extend(kinks);
    all.sort_by_key(|c| c.apex);
    all.dedup_by_key(|c| c.apex);
    braked = windows(laps, &all, thresholds);
    let merged = merge_named(braked, &speed, n, names);
    merged
        .iter()
        .enumerate()
        .map(|(i, w)| {
            let id = format!("T{}", i + 1);
            Corner {
                name: w.name.map_or_else(|| id.clone(), str::to_owned),
                id,
                start_m: first.distance_m(w.start),
                apex_m: first.distance_m(w.apex),
                end_m: first.distance_m(w.end),
            }
        })
        .collect()
}

/// A corner's window on the grid while it is being drawn.
#[derive(Debug, Clone, Copy)]
struct Window {
    apex: usize,
    start: usize,
    end: usize,
    name: Option<&'static str>,
}

/// Where `trace` starts its corner before `apex`: where it last was flat out (throttle at
/// least [`Thresholds::flat_out_throttle`], brake under [`Thresholds::brake_on`]) since
/// `floor` before its first braking from `brake_from` on (or before the apex when it does not
/// brake), the point after it; when it never was flat out since `floor`, where its throttle
/// was last at its highest. Braking before `brake_from` (in the previous corner, before its
/// exit) is that corner's; a lift may begin there. Grid indices; the result lies in
/// `floor..=apex`.
pub(crate) fn onset(
    trace: &LapTrace,
    floor: usize,
    brake_from: usize,
    apex: usize,
    thresholds: &Thresholds,
) -> usize {
    let last = trace.len().saturating_sub(1);
    let apex = apex.min(last);
    let floor = floor.min(apex);
    let (gas, brake) = (trace.gas(), trace.brake());
    let until = (brake_from.clamp(floor, apex)..=apex)
        .find(|&k| brake[k] >= thresholds.brake_on)
        .unwrap_or(apex);
    let flat = |k: usize| gas[k] >= thresholds.flat_out_throttle && brake[k] < thresholds.brake_on;
    if let Some(k) = (floor..until).rev().find(|&k| flat(k)) {
        return (k + 1).min(apex);
    }
    if until == floor {
        return floor;
    }
    // Never flat out: where the throttle peaked (the latest of its highest values).
    let peak = gas[floor..until].iter().copied().fold(0.0f32, f32::max);
    (floor..until)
        .rev()
        .find(|&k| gas[k] >= peak - 0.02)
        .unwrap_or(floor)
}

/// The largest |steering| around `apex` (±100 m), degrees.
fn peak_steer_deg(trace: &LapTrace, apex: usize) -> f64 {
    let h = half_width(100.0, trace.spacing_m());
    let lo = apex.saturating_sub(h);
    let hi = (apex + h).min(trace.len().saturating_sub(1));
    trace.steer_deg()[lo..=hi]
        .iter()
        .map(|v| f64::from(v.abs()))
        .fold(0.0, f64::max)
}

/// Where `trace` has left its corner after `apex`: full throttle with the steering under
/// the turn-in threshold, the throttle then held for [`EXIT_HOLD_M`] or until the lap brakes
/// (a burst of full throttle between a double corner's two parts, lifted off, is not its
/// exit), at the latest `ceiling`.
fn exit(trace: &LapTrace, apex: usize, ceiling: usize, thresholds: &Thresholds) -> usize {
    let threshold =
        (thresholds.turn_in_share * peak_steer_deg(trace, apex)).max(thresholds.min_turn_in_deg);
    let (gas, brake, steer) = (trace.gas(), trace.brake(), trace.steer_deg());
    let flat = |k: usize| gas[k] >= thresholds.full_throttle && brake[k] < thresholds.brake_on;
    let hold = half_width(EXIT_HOLD_M, trace.spacing_m());
    let last = trace.len().saturating_sub(1);
    // Held: full throttle for EXIT_HOLD_M, or until the lap brakes (for the next corner).
    let held = |k: usize| {
        (k..=(k + hold).min(ceiling).min(last))
            .find(|&j| brake[j] >= thresholds.brake_on || !flat(j))
            .is_none_or(|j| brake[j] >= thresholds.brake_on)
    };
    (apex..=ceiling)
        .find(|&k| flat(k) && f64::from(steer[k].abs()) < threshold && held(k))
        .unwrap_or(ceiling)
}

/// How long the throttle must stay full after a corner's exit, m.
pub const EXIT_HOLD_M: f64 = 30.0;

/// The windows of the candidates (sorted by apex) over the laps, not overlapping.
fn windows(laps: &[&LapTrace], candidates: &[Candidate], thresholds: &Thresholds) -> Vec<Window> {
    let Some(first) = laps.first() else {
        return Vec::new();
    };
    let last = first.len() - 1;
    let ds = first.spacing_m();
    let min_exit = half_width(thresholds.min_exit_m, ds);
    let mut out: Vec<Window> = Vec::with_capacity(candidates.len());
    for (c, cand) in candidates.iter().enumerate() {
        let apex = cand.apex;
        let floor = if c == 0 {
            0
        } else {
            candidates[c - 1].apex + 1
        };
        let ceiling = candidates
            .get(c + 1)
            .map_or(last, |next| next.apex.saturating_sub(1))
            .max(apex);
        let (start, end) = if cand.flat {
            let lifted = laps
                .iter()
                .map(|l| onset(l, floor, floor, cand.region.0.max(floor), thresholds))
                .min()
                .unwrap_or(cand.region.0);
            (lifted.min(cand.region.0), cand.region.1)
        } else {
            let start = laps
                .iter()
                .map(|l| onset(l, floor, floor, apex, thresholds))
                .min()
                .unwrap_or(apex);
            let end = laps
                .iter()
                .map(|l| exit(l, apex, ceiling, thresholds))
                .max()
                .unwrap_or(apex);
            (start, end)
        };
        let start = start.min(apex.saturating_sub(1));
        let end = end
            .max(apex + min_exit)
            .min(ceiling.max(apex + 1))
            .min(last);
        out.push(Window {
            apex,
            start,
            end,
            name: None,
        });
    }
    resolve_overlaps(&mut out);
    out
}

/// Two windows that would overlap meet at the second one's start, kept between the apexes.
fn resolve_overlaps(ws: &mut [Window]) {
    for c in 1..ws.len() {
        let (a, b) = (ws[c - 1], ws[c]);
        if a.end <= b.start {
            continue;
        }
        let boundary = b
            .start
            .clamp(a.apex + 1, b.apex.saturating_sub(1).max(a.apex + 1));
        ws[c - 1].end = boundary;
        ws[c].start = boundary;
    }
}

/// Merges the windows whose apexes lie in one named corner's stretch (its apex the slowest
/// part's), and names them.
fn merge_named(
    windows: Vec<Window>,
    speed: &[f64],
    points: usize,
    names: &[crate::track::KnownCorner],
) -> Vec<Window> {
    let intervals = points.saturating_sub(1).max(1) as f64;
    let name_of = |w: &Window| {
        let at = w.apex as f64 / intervals;
        names
            .iter()
            .find(|k| k.from <= at && at <= k.to)
            .map(|k| k.name)
    };
    let mut out: Vec<Window> = Vec::with_capacity(windows.len());
    for mut w in windows {
        w.name = name_of(&w);
        match out.last_mut() {
            Some(prev) if prev.name.is_some() && prev.name == w.name => {
                if speed[w.apex] < speed[prev.apex] {
                    prev.apex = w.apex;
                }
                prev.end = w.end;
            }
            _ => out.push(w),
        }
    }
    out
}

/// The windows of `corners` for one comparison of `laps` (on the corners' grid): each
/// corner's start moved back to the earliest of the laps' own onsets when that comes
/// first (never before the previous corner's apex), the previous corner's end moved back
/// with it; its end moved on to the latest of the laps' own exits (full throttle, the
/// steering straight) when that comes later (never past the next corner's apex), so that
/// a late throttle or a lift out of a corner is inside the corner it was in. The same for
/// any order of `laps`, so that swapping a lap and its reference only flips the signs of
/// the segments' losses.
pub fn pair_windows(
    corners: &[Corner],
    laps: &[&LapTrace],
    thresholds: &Thresholds,
) -> Vec<Corner> {
    let Some(first) = laps.first() else {
        return corners.to_vec();
    };
    let mut ws: Vec<Window> = corners
        .iter()
        .map(|c| Window {
            apex: first.index_at(c.apex_m),
            start: first.index_at(c.start_m),
            end: first.index_at(c.end_m),
            name: None,
        })
        .collect();
    let last = first.len().saturating_sub(1);
    for c in 0..ws.len() {
        let floor = if c == 0 { 0 } else { ws[c - 1].apex + 1 };
        // Braking before the previous corner's exit is that corner's.
        let brake_from = if c == 0 { 0 } else { ws[c - 1].end };
        let apex = ws[c].apex;
        let earliest = laps
            .iter()
            .map(|l| onset(l, floor, brake_from, apex, thresholds))
            .min()
            .unwrap_or(ws[c].start);
        ws[c].start = ws[c].start.min(earliest).min(apex.saturating_sub(1));
        let ceiling = ws
            .get(c + 1)
            .map_or(last, |next| next.apex.saturating_sub(1))
            .max(apex);
        // A lap not yet out of the corner at the map's exit leaves it later.
        let from = ws[c].end.clamp(apex, ceiling);
        let latest = laps
            .iter()
            .map(|l| exit(l, from, ceiling, thresholds))
            .max()
            .unwrap_or(ws[c].end);
        ws[c].end = ws[c].end.max(latest).min(ceiling.max(apex + 1)).min(last);
    }
    resolve_overlaps(&mut ws);
    corners
        .iter()
        .zip(&ws)
        .map(|(c, w)| Corner {
            start_m: first.distance_m(w.start),
            end_m: first.distance_m(w.end.max(w.start)),
            ..c.clone()
        })
        .collect()
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

/// Flat-out bends away from the speed corners: taken flat (throttle at least
/// [`Thresholds::flat_out_throttle`], brake off) at the curvature's peak by every lap.
fn kinks(
    laps: &[&LapTrace],
    speed: &[f64],
    speed_corners: &[Candidate],
    thresholds: &Thresholds,
) -> Vec<Candidate> {
    let Some(reference) = laps.first() else {
        return Vec::new();
    };
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
        // Flat out at the apex on every lap: a braking zone that merely starts in the bend
        // is the next corner's, and a bend a lap lifts for is part of a slower corner.
        let flat = laps.iter().all(|l| {
            l.gas()[apex] >= thresholds.flat_out_throttle && l.brake()[apex] < thresholds.brake_on
        });
        if !flat {
            continue;
        }
        out.push(Candidate {
            apex,
            region: (start, end),
            flat: true,
        });
    }
    out
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
            Corner::numbered("T1", 100.0, 150.0, 200.0),
            Corner::numbered("T2", 200.0, 250.0, 300.0),
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
