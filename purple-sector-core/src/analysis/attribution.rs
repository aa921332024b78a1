//! [`attribute`]: the time each corner explains, wherever on the lap it was lost.

use super::corners::Segment;
use super::delta::Delta;
use super::trace::LapTrace;
use super::{CornerReport, PhaseLosses, SegmentKind};

/// Below this speed difference the two laps are level, m/s (0.05 km/h).
const LEVEL_MS: f64 = 0.05 / 3.6;

/// Half-width of the smoothing of the speed difference the credits follow, m.
const DIFFERENCE_SMOOTHING_M: f64 = 5.0;

/// Slowest speed counted, m/s (a car at rest would take forever over a metre).
const MIN_SPEED_MS: f64 = 1.0;

/// What [`attribute`] found: per corner by phase, per segment, and over the line.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Attribution {
    /// Per corner (in the order given), the loss it explains by phase, s.
    pub corners: Vec<PhaseLosses>,
    /// Per segment (in the order given), the loss it explains itself, s: a corner's
    /// total, a straight's own.
    pub segments: Vec<f64>,
    /// Lost at speeds the lap brought over the line, s.
    pub from_line_s: f64,
}

/// Who made a speed difference: the line, a corner's phase, or a straight.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Label {
    FromLine,
    /// Corner index, phase 0 approach, 1 braking, 2 exit.
    Corner(usize, usize),
    /// Segment index.
    Straight(usize),
}

/// Gives every bit of the lap gap to the place that caused it.
///
/// # How
///
/// Both laps are on one grid. Where a lap has no frames (before its first one and after its
/// last, [`LapTrace::frames_m`]) its speed is the one its extrapolated time runs at, not
/// the nearest frame's held speed (an out lap's first frame is a car at rest in the pit
/// lane, tens of metres past the line). Each lap's speed is then scaled so that the time it
/// implies over the grid (Σ Δs / v) is the lap's time: a lap measured a little shorter or
/// longer than the grid, or a speedometer a little off, then adds nothing of its own.
///
/// Walking the lap, the speed difference (reference minus lap, averaged over ±5 m so that
/// the sensors' noise neither grows nor shrinks it) is tracked as the sum of
/// *credits*, one per place that made part of it: where the difference grows, the place of
/// that stretch (a corner's approach, braking or exit phase, or a straight) is credited with
/// the growth; where it shrinks, every credit shrinks in proportion; where it changes sign or
/// vanishes, the credits start over. The difference the lap brings over the line is credited
/// to the line.
///
/// Over each metre, the time the speeds explain (Δs/v of the lap minus Δs/v of the
/// reference) is shared among the credits in proportion; what the speeds do not explain (the
/// delta's step minus that: a longer path at the same speed) belongs to the place of that
/// metre, as the corner's line. So a slower exit is charged for its cost all the way down the
/// straight after it, a lift for the loss after it until the laps are level again, and the
/// shares sum to the delta at the line (the lap gap).
///
/// Phases of a corner's window (`corners` carry the windows and both laps' metrics):
/// approach from the window's start to the later of the two brake points, braking from there
/// to the earlier of the two apexes, exit from there to the window's end. Without braking on
/// either lap the approach is empty.
pub fn attribute(
    lap: &LapTrace,
    reference: &LapTrace,
    delta: &Delta,
    corners: &[CornerReport],
    segments: &[Segment],
) -> Attribution {
    let n = reference.len().min(lap.len()).min(delta.values_s().len());
    let mut out = Attribution {
        corners: vec![PhaseLosses::default(); corners.len()],
        segments: vec![0.0; segments.len()],
        from_line_s: 0.0,
    };
    if n < 2 {
        return out;
    }
    let ds = reference.spacing_m();
    let labels = labels(reference, corners, segments, n);
    let lap_v = calibrated_speeds(lap, n);
    let ref_v = calibrated_speeds(reference, n);
    let values = delta.values_s();
    let mut speed_part = vec![0.0f64; 1 + 3 * corners.len() + segments.len()];
    let mut residual = vec![0.0f64; speed_part.len()];
    let slot = |label: Label| match label {
        Label::FromLine => 0,
        Label::Corner(c, p) => 1 + 3 * c + p,
        Label::Straight(s) => 1 + 3 * corners.len() + s,
    };
    // The speed difference the credits follow, over ±DIFFERENCE_SMOOTHING_M: the sensors'
    // noise neither grows nor shrinks it.
    let raw: Vec<f64> = ref_v.iter().zip(&lap_v).map(|(r, l)| r - l).collect();
    let dv = super::corners::smooth(
        &raw,
        (DIFFERENCE_SMOOTHING_M / ds).round().max(0.0) as usize,
    );
    // Active credits: (slot, m/s of the current difference).
    let mut credits: Vec<(usize, f64)> = Vec::with_capacity(8);
    let dv0 = dv[0];
    if dv0.abs() >= LEVEL_MS {
        credits.push((slot(Label::FromLine), dv0));
    }
    for k in 0..n - 1 {
        let here = slot(labels[k]);
        let (prev, cur) = (dv[k], dv[k + 1]);
        if cur.abs() < LEVEL_MS {
            credits.clear();
        } else if prev.abs() < LEVEL_MS || prev.signum() != cur.signum() {
            credits.clear();
            credits.push((here, cur));
        } else if cur.abs() >= prev.abs() {
            match credits.iter_mut().find(|(s, _)| *s == here) {
                Some((_, c)) => *c += cur - prev,
                None => credits.push((here, cur - prev)),
            }
        } else {
            let ratio = cur / prev;
            credits.iter_mut().for_each(|(_, c)| *c *= ratio);
        }
        let dt_lap = 2.0 * ds / (lap_v[k] + lap_v[k + 1]);
        let dt_ref = 2.0 * ds / (ref_v[k] + ref_v[k + 1]);
        let explained = dt_lap - dt_ref;
        let step = values[k + 1] - values[k];
        residual[here] += step - explained;
        let total: f64 = credits.iter().map(|(_, c)| c).sum();
        if total.abs() < 1e-12 {
            speed_part[here] += explained;
        } else {
            for &(s, c) in &credits {
                speed_part[s] += explained * c / total;
            }
        }
    }
    out.from_line_s = speed_part[0] + residual[0];
    for (c, phases) in out.corners.iter_mut().enumerate() {
        let at = |p: usize| slot(Label::Corner(c, p));
        phases.approach_s = speed_part[at(0)];
        phases.braking_s = speed_part[at(1)];
        phases.exit_s = speed_part[at(2)];
        phases.line_s = residual[at(0)] + residual[at(1)] + residual[at(2)];
    }
    let mut corner = 0;
    for (i, segment) in segments.iter().enumerate() {
        out.segments[i] = match segment.kind {
            SegmentKind::Corner => {
                let total = out.corners.get(corner).map_or(0.0, PhaseLosses::total_s);
                corner += 1;
                total
            }
            SegmentKind::Straight => {
                let s = slot(Label::Straight(i));
                speed_part[s] + residual[s]
            }
        };
    }
    out
}

/// Each lap's speed (m/s, at least [`MIN_SPEED_MS`]; where it has no frames, the speed its
/// time runs at) scaled so that Σ Δs / v over the grid is its lap time; `n` ≥ 2, as
/// [`attribute`] sees to.
fn calibrated_speeds(trace: &LapTrace, n: usize) -> Vec<f64> {
    let ds = trace.spacing_m();
    let t = trace.time_s();
    let (first_m, last_m) = trace.frames_m();
    let v: Vec<f64> = trace.speed_kmh()[..n]
        .iter()
        .enumerate()
        .map(|(k, &s)| {
            let at_m = k as f64 * ds;
            if at_m < first_m || at_m > last_m {
                // No frame here, only the held speed of the nearest one (an out lap's car at
                // rest in the pit lane): the speed the extrapolated time runs at.
                let (a, b) = if k + 1 < n { (k, k + 1) } else { (k - 1, k) };
                ds / (t[b] - t[a]).max(f64::EPSILON)
            } else {
                f64::from(s) / 3.6
            }
            .max(MIN_SPEED_MS)
        })
        .collect();
    let implied: f64 = v.windows(2).map(|w| 2.0 * ds / (w[0] + w[1])).sum();
    let time = t.get(n - 1).copied().unwrap_or(0.0);
    let scale = if time > 0.0 && implied > 0.0 {
        implied / time
    } else {
        1.0
    };
    v.into_iter().map(|x| x * scale).collect()
}

/// The label of each grid interval `k..k + 1`.
fn labels(
    reference: &LapTrace,
    corners: &[CornerReport],
    segments: &[Segment],
    n: usize,
) -> Vec<Label> {
    let mut out = vec![Label::FromLine; n];
    let index = |m: f64| reference.index_at(m).min(n - 1);
    let mut corner = 0;
    for (i, segment) in segments.iter().enumerate() {
        let (s, e) = (index(segment.start_m), index(segment.end_m));
        match segment.kind {
            SegmentKind::Straight => out[s..e].fill(Label::Straight(i)),
            SegmentKind::Corner => {
                let Some(report) = corners.get(corner) else {
                    continue;
                };
                let (lap, reference_m) = (&report.lap, &report.reference);
                let braked = match (lap.brake_point_m, reference_m.brake_point_m) {
                    (Some(a), Some(b)) => a.max(b),
                    (Some(a), None) | (None, Some(a)) => a,
                    (None, None) => segment.start_m,
                };
                let apex = lap.apex_m.min(reference_m.apex_m);
                let b = index(braked).clamp(s, e);
                let a = index(apex).clamp(b, e);
                out[s..b].fill(Label::Corner(corner, 0));
                out[b..a].fill(Label::Corner(corner, 1));
                out[a..e].fill(Label::Corner(corner, 2));
                corner += 1;
            }
        }
    }
    out
}
