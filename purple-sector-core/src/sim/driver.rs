//! The driver: follows a quasi-steady-state speed profile, with small lap-to-lap variation.
//!
//! The profile lives on a distance grid of about [`PROFILE_SPACING_M`]: corner limits
//! `v = √(a_lat/|κ|)` (with downforce), then a forward pass limited by power, drag and
//! traction, then a backward pass limited by braking grip, both within the friction ellipse.
//! On a closed lap both passes start at the slowest point, so the profile is periodic. Between
//! grid points acceleration is constant, which gives exact times (`2 Δs / (v₀ + v₁)`) and exact
//! positions at any instant.
//!
//! The edits a [`crate::sim::Mistake`] makes (braking early, over-slowing, late throttle,
//! coasting) are operations on the same grid; they only ever lower speeds, then re-run the
//! passes, so the result stays drivable.

use super::car::Car;
use super::track::{Corner, Track};

/// Target spacing of the speed profile's grid, m.
pub const PROFILE_SPACING_M: f64 = 1.0;

/// Throttle that marks the pick-up point after an apex.
pub(crate) const PICKUP_THROTTLE: f64 = 0.5;

/// Tolerance when comparing speeds on the grid, m/s.
const SPEED_EPSILON: f64 = 1e-9;

/// How the driver varies from lap to lap, and how the session starts.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Driver {
    /// Grip varies per lap by up to ± this fraction (0.003 = ±0.3 %), uniformly.
    pub grip_variation: f64,
    /// At each corner of each lap the driver brakes between 0 and this many metres earlier
    /// than the optimum (a later brake point would exceed the grip the profile already uses).
    pub brake_point_variation_m: f64,
    /// Grip on the out lap, as a share of nominal (cold tyres).
    pub out_lap_grip: f64,
    /// Seconds at rest in the pit box, clutch down, before pulling away.
    pub pit_start_hold_s: f64,
}

impl Default for Driver {
    /// ±0.3 % grip, brake points up to 1 m early, 97 % grip on the out lap, 1 s in the box.
    fn default() -> Self {
        Self {
            grip_variation: 0.003,
            brake_point_variation_m: 1.0,
            out_lap_grip: 0.97,
            pit_start_hold_s: 1.0,
        }
    }
}

/// A lap's speed against distance and the time it takes, from the grid.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SpeedProfile {
    spacing_m: f64,
    start_m: f64,
    speeds_ms: Vec<f64>,
    times_s: Vec<f64>,
}

impl SpeedProfile {
    /// The driver's ideal lap of `track` in `car`: nominal grip, no variation, periodic (a
    /// flying lap following a flying lap).
    pub fn optimal(track: &Track, car: &Car) -> Self {
        let grid = Grid::new(track);
        let speeds = closed_speeds(&grid, car, 1.0);
        Self::from_grid(&grid, 0, &speeds)
    }

    /// The profile of `speeds` (one per grid point) from grid point `first` to the end.
    pub(crate) fn from_grid(grid: &Grid, first: usize, speeds: &[f64]) -> Self {
        let speeds_ms = speeds[first..].to_vec();
        let times_s = cumulative_times(&speeds_ms, grid.spacing_m);
        Self {
            spacing_m: grid.spacing_m,
            start_m: first as f64 * grid.spacing_m,
            speeds_ms,
            times_s,
        }
    }

    /// Grid spacing, m.
    pub fn spacing_m(&self) -> f64 {
        self.spacing_m
    }

    /// Distance of the first grid point from the line, m (0 but for the out lap).
    pub fn start_m(&self) -> f64 {
        self.start_m
    }

    /// Distance of the last grid point from the line, m (the track length).
    pub fn end_m(&self) -> f64 {
        self.start_m + (self.speeds_ms.len().saturating_sub(1)) as f64 * self.spacing_m
    }

    /// Speed at each grid point, m/s.
    pub fn speeds_ms(&self) -> &[f64] {
        &self.speeds_ms
    }

    /// Time from the first grid point to each grid point, s.
    pub fn times_s(&self) -> &[f64] {
        &self.times_s
    }

    /// Time from start to end, s.
    pub fn lap_time_s(&self) -> f64 {
        self.times_s.last().copied().unwrap_or(0.0)
    }

    /// Highest speed, m/s.
    pub fn top_speed_ms(&self) -> f64 {
        self.speeds_ms.iter().copied().fold(0.0, f64::max)
    }

    /// Speed at `distance_m` from the line (clamped to the profile), m/s; linear between grid
    /// points.
    pub fn speed_at(&self, distance_m: f64) -> f64 {
        let (i, t) = self.locate(distance_m);
        let a = self.speeds_ms.get(i).copied().unwrap_or(0.0);
        let b = self.speeds_ms.get(i + 1).copied().unwrap_or(a);
        a + (b - a) * t
    }

    /// Time to reach `distance_m` from the line (clamped to the profile), s.
    pub fn time_at(&self, distance_m: f64) -> f64 {
        let (i, t) = self.locate(distance_m);
        let (Some(&v0), Some(&t0)) = (self.speeds_ms.get(i), self.times_s.get(i)) else {
            return 0.0;
        };
        let Some(&v1) = self.speeds_ms.get(i + 1) else {
            return t0;
        };
        // Constant acceleration over the interval: position → time exactly.
        let d = t * self.spacing_m;
        let a = (v1 * v1 - v0 * v0) / (2.0 * self.spacing_m);
        let v = (v0 * v0 + 2.0 * a * d).max(0.0).sqrt();
        if v0 + v > 0.0 {
            t0 + 2.0 * d / (v0 + v)
        } else {
            t0
        }
    }

    fn locate(&self, distance_m: f64) -> (usize, f64) {
        let last = self.speeds_ms.len().saturating_sub(1);
        let f = ((distance_m - self.start_m) / self.spacing_m).clamp(0.0, last as f64);
        let i = (f.floor() as usize).min(last.saturating_sub(1));
        (i, f - i as f64)
    }
}

/// The profile grid over one lap: `n + 1` points from the line to the line.
#[derive(Debug, Clone)]
pub(crate) struct Grid {
    /// Spacing, m.
    pub(crate) spacing_m: f64,
    /// Curvature at each point (the last repeats the first).
    pub(crate) curvature: Vec<f64>,
}

impl Grid {
    /// The grid of `track`.
    pub(crate) fn new(track: &Track) -> Self {
        let n = ((track.length_m() / PROFILE_SPACING_M).round() as usize).max(16);
        let spacing_m = track.length_m() / n as f64;
        let curvature = (0..=n)
            .map(|i| track.curvature_at(i as f64 * spacing_m))
            .collect();
        Self {
            spacing_m,
            curvature,
        }
    }

    /// Number of intervals (points − 1).
    pub(crate) fn intervals(&self) -> usize {
        self.curvature.len() - 1
    }

    /// The grid point at or before `distance_m`, clamped to the grid.
    pub(crate) fn index_at(&self, distance_m: f64) -> usize {
        ((distance_m / self.spacing_m).floor().max(0.0) as usize).min(self.intervals())
    }

    /// The grid points a corner covers.
    pub(crate) fn span(&self, corner: &Corner) -> Span {
        self.span_m(corner.start_m, corner.end_m)
    }

    /// The grid points from `start_m` to `end_m`.
    pub(crate) fn span_m(&self, start_m: f64, end_m: f64) -> Span {
        let start = self.index_at(start_m);
        let end = ((end_m / self.spacing_m).ceil().max(0.0) as usize).min(self.intervals());
        Span {
            start,
            end: end.max(start),
        }
    }
}

/// What an edit leaves for the channels besides the speeds: grid ranges `start..=end`.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct Effects {
    /// Driven a gear lower than the gearbox would choose.
    pub(crate) gear_down: Option<(usize, usize)>,
    /// The pedals are the clean lap's there: the car does less with the same inputs.
    pub(crate) clean_pedals: Option<(usize, usize)>,
    /// Driven on a path this many times the centre line's length (> 1), ramped in and out
    /// over [`PATH_RAMP_M`], at the speeds of the grid.
    pub(crate) path: Option<(usize, usize, f64)>,
}

/// Distance over which a longer path ramps in and out, m.
pub(crate) const PATH_RAMP_M: f64 = 10.0;

/// How far past the throttle pick-up a mid-corner lift begins, m.
pub(crate) const LIFT_AFTER_PICKUP_M: f64 = 10.0;

/// Path factor at grid point `i` (1 off any longer path).
pub(crate) fn path_factor(effects: &[Effects], i: usize, spacing_m: f64) -> f64 {
    let ramp = (PATH_RAMP_M / spacing_m).max(1.0);
    effects
        .iter()
        .filter_map(|e| e.path)
        .map(|(start, end, factor)| {
            if i < start || i > end {
                return 0.0;
            }
            let edge = ((i - start) as f64).min((end - i) as f64);
            (factor - 1.0) * (edge / ramp).min(1.0)
        })
        .sum::<f64>()
        + 1.0
}

/// Grid points `start..=end` of a corner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Span {
    pub(crate) start: usize,
    pub(crate) end: usize,
}

/// What the profile operations need besides the speeds.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Dynamics<'a> {
    pub(crate) grid: &'a Grid,
    pub(crate) car: &'a Car,
    pub(crate) grip: f64,
    /// First grid point of the leg being edited: nothing before it is touched.
    pub(crate) first: usize,
}

impl Dynamics<'_> {
    /// The speed at point `i + 1` the car reaches accelerating from `v` at point `i`.
    fn drive_reach(&self, v: f64, i: usize) -> f64 {
        let accel = self.car.drive_accel(v, self.grid.curvature[i], self.grip);
        (v * v + 2.0 * accel * self.grid.spacing_m).sqrt()
    }

    /// The speed at point `i` from which the car brakes to `next` at point `i + 1`.
    fn brake_reach(&self, next: f64, i: usize) -> f64 {
        let decel = self
            .car
            .brake_decel(next, self.grid.curvature[i + 1], self.grip);
        (next * next + 2.0 * decel * self.grid.spacing_m).sqrt()
    }
}

/// The periodic flying-lap profile: `n + 1` speeds, the last equal to the first.
pub(crate) fn closed_speeds(grid: &Grid, car: &Car, grip: f64) -> Vec<f64> {
    let n = grid.intervals();
    let ds = grid.spacing_m;
    let top = car.top_speed_ms();
    let mut v: Vec<f64> = grid.curvature[..n]
        .iter()
        .map(|&k| car.corner_speed(k, grip).min(top))
        .collect();
    let start = (0..n).min_by(|&a, &b| v[a].total_cmp(&v[b])).unwrap_or(0);
    for step in 0..n {
        let i = (start + step) % n;
        let j = (i + 1) % n;
        let reach =
            (v[i] * v[i] + 2.0 * car.drive_accel(v[i], grid.curvature[i], grip) * ds).sqrt();
        v[j] = v[j].min(reach);
    }
    for step in 0..n {
        let j = (start + n - step) % n;
        let i = (j + n - 1) % n;
        let reach =
            (v[j] * v[j] + 2.0 * car.brake_decel(v[j], grid.curvature[j], grip) * ds).sqrt();
        v[i] = v[i].min(reach);
    }
    v.push(v[0]);
    v
}

/// Lowers speeds after `from` that the car cannot reach accelerating from `v[from]`.
pub(crate) fn forward_pass(v: &mut [f64], d: Dynamics<'_>, from: usize) {
    for i in from.max(d.first)..v.len().saturating_sub(1) {
        let reach = d.drive_reach(v[i], i);
        if reach < v[i + 1] {
            v[i + 1] = reach;
        }
    }
}

/// Lowers speeds before `from` (down to the leg's first point) from which the car cannot
/// brake to `v[from]`.
pub(crate) fn backward_pass(v: &mut [f64], d: Dynamics<'_>, from: usize) {
    let from = from.min(v.len().saturating_sub(1));
    for i in (d.first..from).rev() {
        let reach = d.brake_reach(v[i + 1], i);
        if reach < v[i] {
            v[i] = reach;
        }
    }
}

/// [`backward_pass`] that stops at the first point it need not lower: carries a new
/// constraint at `from` back only as far as it reaches (what lies before was planned, and
/// a late braking's scrub is not undone).
pub(crate) fn backward_pass_settling(v: &mut [f64], d: Dynamics<'_>, from: usize) {
    let from = from.min(v.len().saturating_sub(1));
    for i in (d.first..from).rev() {
        let reach = d.brake_reach(v[i + 1], i);
        if reach >= v[i] {
            return;
        }
        v[i] = reach;
    }
}

/// [`forward_pass`] that stops at the first point it need not lower.
pub(crate) fn forward_pass_settling(v: &mut [f64], d: Dynamics<'_>, from: usize) {
    for i in from.max(d.first)..v.len().saturating_sub(1) {
        let reach = d.drive_reach(v[i], i);
        if reach >= v[i + 1] {
            return;
        }
        v[i + 1] = reach;
    }
}

/// Cumulative times of a profile, s, from its first point.
pub(crate) fn cumulative_times(v: &[f64], spacing_m: f64) -> Vec<f64> {
    let mut t = 0.0;
    let mut out = Vec::with_capacity(v.len());
    out.push(0.0);
    for w in v.windows(2) {
        t += 2.0 * spacing_m / (w[0] + w[1]).max(1e-9);
        out.push(t);
    }
    out
}

/// Speed at a fractional grid position.
fn speed_at_index(v: &[f64], position: f64) -> f64 {
    let i = (position.floor().max(0.0) as usize).min(v.len() - 1);
    let t = position - i as f64;
    match v.get(i + 1) {
        Some(next) if t > 0.0 => v[i] + (next - v[i]) * t,
        _ => v[i],
    }
}

/// The slowest grid point of a corner (its speed apex), within the leg.
pub(crate) fn apex_index(v: &[f64], span: Span, first: usize) -> Option<usize> {
    let start = span.start.max(first);
    if start > span.end {
        return None;
    }
    (start..=span.end.min(v.len() - 1)).min_by(|&a, &b| v[a].total_cmp(&v[b]))
}

/// The braking point before `apex`: walking back while the speed rises.
pub(crate) fn brake_index(v: &[f64], apex: usize, first: usize) -> usize {
    let mut j = apex;
    while j > first && v[j - 1] > v[j] + SPEED_EPSILON {
        j -= 1;
    }
    j
}

/// The throttle pick-up point after `apex`: the first grid point where the driver is at
/// least [`PICKUP_THROTTLE`] on the throttle (before it the ellipse leaves little for
/// accelerating), at the latest `last`.
pub(crate) fn pickup_index(v: &[f64], d: Dynamics<'_>, apex: usize, last: usize) -> usize {
    throttle_index(v, d, apex, last, PICKUP_THROTTLE)
}

/// The first grid point from `apex` where the throttle is at least `level`, at the latest
/// `last`.
fn throttle_index(v: &[f64], d: Dynamics<'_>, apex: usize, last: usize, level: f64) -> usize {
    let last = last.min(v.len().saturating_sub(2));
    let ds = d.grid.spacing_m;
    let mut j = apex;
    while j < last {
        let accel = (v[j + 1] * v[j + 1] - v[j] * v[j]) / (2.0 * ds);
        if d.car.throttle_for(v[j], accel) >= level {
            break;
        }
        j += 1;
    }
    j
}

/// Brakes `metres` before the optimal braking point of the corner and, having started early,
/// more gently: a constant deceleration that reaches the apex speed at the apex (where that
/// is gentler than the optimum's braking; the optimum's curve otherwise) — but never gentler
/// than [`EARLY_BRAKE_PEDAL`] of the brake: a driver braking early still brakes, reaches the
/// apex speed early and holds it to the apex. Returns false when the corner is not on the
/// leg.
pub(crate) fn brake_early(v: &mut [f64], d: Dynamics<'_>, span: Span, metres: f64) -> bool {
    let Some(apex) = apex_index(v, span, d.first) else {
        return false;
    };
    let ds = d.grid.spacing_m;
    let brake = brake_index(v, apex, d.first);
    let start = (brake as f64 - metres.max(0.0) / ds).max(d.first as f64);
    let length = (apex as f64 - start) * ds;
    if length <= 0.0 {
        return true;
    }
    let v0 = speed_at_index(v, start);
    let v_apex = v[apex];
    let required = (v0 * v0 - v_apex * v_apex) / (2.0 * length);
    let gentlest = d.car.coast_decel(v0) + EARLY_BRAKE_PEDAL * d.car.full_brake_decel(v0);
    let decel = required.max(gentlest);
    let first = start.ceil() as usize;
    for (i, speed) in v.iter_mut().enumerate().take(apex + 1).skip(first) {
        let w2 = v0 * v0 - 2.0 * decel * (i as f64 - start) * ds;
        *speed = speed.min(w2.max(0.0).sqrt().max(v_apex));
    }
    backward_pass(v, d, apex);
    true
}

/// The gentlest brake pedal an early braking uses.
pub(crate) const EARLY_BRAKE_PEDAL: f64 = 0.2;

/// The part of a corner's window up to its first speed minimum (a chicane's first part):
/// where the mistakes of the approach are made.
pub(crate) fn entry_span(v: &[f64], span: Span) -> Span {
    let end = span.end.min(v.len().saturating_sub(1));
    let mut k = span.start.min(end);
    while k < end && v[k + 1] >= v[k] - SPEED_EPSILON {
        k += 1;
    }
    while k < end && v[k + 1] < v[k] - SPEED_EPSILON {
        k += 1;
    }
    Span {
        start: span.start,
        end: k.max(span.start),
    }
}

/// The part of a corner's window from its last speed minimum (a chicane's last part): where
/// the mistakes of the exit are made.
pub(crate) fn exit_span(v: &[f64], span: Span) -> Span {
    let end = span.end.min(v.len().saturating_sub(1));
    let mut k = end;
    while k > span.start && v[k - 1] < v[k] - SPEED_EPSILON {
        k -= 1;
    }
    Span {
        start: k.min(end),
        end,
    }
}

/// Drives the corner `percent` % below its limit speed (the apex `percent` % slower): brakes
/// harder or earlier for it, holds the lower speed where the optimum holds the limit, and
/// accelerates from it.
pub(crate) fn over_slow(v: &mut [f64], d: Dynamics<'_>, span: Span, percent: f64) -> bool {
    let start = span.start.max(d.first);
    let end = span.end.min(v.len() - 1);
    if start > end {
        return false;
    }
    let share = 1.0 - (percent / 100.0).clamp(0.0, 1.0);
    for (speed, &curvature) in v[start..=end]
        .iter_mut()
        .zip(&d.grid.curvature[start..=end])
    {
        *speed = speed.min(share * d.car.corner_speed(curvature, d.grip));
    }
    backward_pass(v, d, end);
    forward_pass(v, d, start);
    true
}

/// Picks the throttle up `metres` late: from where the optimum starts to accelerate after
/// the apex (its throttle rising past what holds the speed) it holds the speed it had there
/// (just enough throttle against drag) for that distance, then accelerates.
pub(crate) fn pick_up_late(v: &mut [f64], d: Dynamics<'_>, span: Span, metres: f64) -> bool {
    let Some(apex) = apex_index(v, span, d.first) else {
        return false;
    };
    let ds = d.grid.spacing_m;
    let last_point = span.end.min(v.len().saturating_sub(2));
    let pickup = (apex..last_point)
        .find(|&k| v[k + 1] > v[k] + SPEED_EPSILON)
        .unwrap_or(last_point);
    let last = v.len() - 1;
    let mut i = pickup;
    while i < last && ((i - pickup) as f64) * ds < metres {
        let held_m = (metres - (i - pickup) as f64 * ds).clamp(0.0, ds);
        let w = v[i];
        let reach = w * w + 2.0 * d.car.drive_accel(w, d.grid.curvature[i], d.grip) * (ds - held_m);
        v[i + 1] = v[i + 1].min(reach.sqrt());
        i += 1;
    }
    forward_pass(v, d, i);
    true
}

/// Lifts and coasts from `metres` before the optimal braking point until the speed meets the
/// braking curve, then brakes as usual.
pub(crate) fn coast_early(v: &mut [f64], d: Dynamics<'_>, span: Span, metres: f64) -> bool {
    let Some(apex) = apex_index(v, span, d.first) else {
        return false;
    };
    let ds = d.grid.spacing_m;
    let brake = brake_index(v, apex, d.first);
    let start = (brake as f64 - metres.max(0.0) / ds).max(d.first as f64);
    let i0 = (start.ceil() as usize).min(apex);
    let v0 = speed_at_index(v, start);
    let mut w = (v0 * v0 - 2.0 * d.car.coast_decel(v0) * (i0 as f64 - start) * ds)
        .max(0.0)
        .sqrt();
    for (i, speed) in v.iter_mut().enumerate().take(apex + 1).skip(i0) {
        if i > i0 {
            w = (w * w - 2.0 * d.car.coast_decel(w) * ds).max(0.0).sqrt();
        }
        if w >= *speed && i >= brake {
            break;
        }
        *speed = speed.min(w);
        w = *speed;
    }
    forward_pass(v, d, i0);
    true
}

/// The most a late braking over-slows by, as a share of the corner's limit speed.
pub(crate) const MAX_OVERSHOOT: f64 = 0.7;

/// Brakes `metres` after the optimal braking point (of a chicane's first part): flat out until
/// there, then at the braking limit. The car reaches the corner too fast, runs deep, scrubs
/// the speed off and takes the rest of it (every part) below its limit by as much as it was
/// too fast (a car arriving 20 % too fast takes it 20 % slow, at most [`MAX_OVERSHOOT`]),
/// then accelerates away. Returns false when the corner is not on the leg.
pub(crate) fn brake_late(v: &mut [f64], d: Dynamics<'_>, span: Span, metres: f64) -> bool {
    let Some(apex) = apex_index(v, entry_span(v, span), d.first) else {
        return false;
    };
    let ds = d.grid.spacing_m;
    let last = v.len() - 1;
    let brake = brake_index(v, apex, d.first);
    // Where the optimum reaches the corner's grip limit: the turn-in.
    let (car, grip, kappa) = (d.car, d.grip, &d.grid.curvature);
    let entry = (brake..apex)
        .find(|&k| v[k] >= 0.99 * car.corner_speed(kappa[k], grip))
        .unwrap_or(apex);
    let late = (brake + (metres.max(0.0) / ds).round() as usize).min(entry.saturating_sub(1));
    if late <= brake {
        return true;
    }
    let mut w = v[brake];
    for i in brake..late {
        w = (w * w + 2.0 * car.drive_accel(w, kappa[i], grip) * ds)
            .sqrt()
            .min(car.top_speed_ms());
        v[i + 1] = v[i + 1].max(w);
    }
    for i in late..entry {
        w = (w * w - 2.0 * car.brake_decel(w, kappa[i + 1], grip) * ds)
            .max(0.0)
            .sqrt();
        v[i + 1] = v[i + 1].max(w);
    }
    let limit = v[entry].min(car.corner_speed(kappa[entry], grip));
    let too_fast = ((w - limit) / limit.max(1e-9)).clamp(0.0, MAX_OVERSHOOT);
    let share = 1.0 - too_fast;
    let end = span.end.min(last);
    for k in entry + 1..=end {
        v[k] = v[k].min(share * car.corner_speed(kappa[k], grip));
    }
    backward_pass(
        v,
        Dynamics {
            first: entry + 1,
            ..d
        },
        end,
    );
    forward_pass(v, d, entry + 1);
    true
}

/// Lifts off the throttle for `metres` from [`LIFT_AFTER_PICKUP_M`] past the throttle pick-up
/// (at most half-way from there to the corner's exit; in a corner taken without braking, from
/// the apex), coasting, then accelerates again.
pub(crate) fn lift_mid_corner(v: &mut [f64], d: Dynamics<'_>, span: Span, metres: f64) -> bool {
    let Some(apex) = apex_index(v, span, d.first) else {
        return false;
    };
    let ds = d.grid.spacing_m;
    let last = v.len() - 1;
    let pickup = pickup_index(v, d, apex, span.end);
    let after =
        ((LIFT_AFTER_PICKUP_M / ds).round() as usize).min(span.end.saturating_sub(pickup) / 2);
    let start = (pickup + after).min(last);
    let end = (start + (metres.max(0.0) / ds).round() as usize).min(last);
    let mut w = v[start];
    for i in start..end {
        w = (w * w - 2.0 * d.car.coast_decel(w) * ds).max(0.0).sqrt();
        v[i + 1] = v[i + 1].min(w);
        w = v[i + 1];
    }
    forward_pass(v, d, end);
    true
}

/// Accelerates from the throttle pick-up for `metres` with `share` of the drive force (the
/// rest lost to wheelspin); the grid points affected.
fn drive_with(v: &mut [f64], d: Dynamics<'_>, from: usize, metres: f64, share: f64) -> usize {
    let ds = d.grid.spacing_m;
    let last = v.len() - 1;
    let end = (from + (metres.max(0.0) / ds).round() as usize).min(last);
    let mut w = v[from];
    for i in from..end {
        let accel = share * d.car.drive_accel(w, d.grid.curvature[i], d.grip);
        w = (w * w + 2.0 * accel * ds).sqrt();
        v[i + 1] = v[i + 1].min(w);
        w = v[i + 1];
    }
    forward_pass(v, d, end);
    end
}

/// Takes the corner a gear lower than the gearbox would, from the braking point (of its first
/// part, in a chicane) to the corner's exit: the rear wheels spin from the throttle pick-up
/// (out of its last part), and `percent` % of the drive force is lost there, with the
/// pedals where they would be.
pub(crate) fn lower_gear(
    v: &mut [f64],
    d: Dynamics<'_>,
    span: Span,
    percent: f64,
) -> Option<Effects> {
    let first_apex = apex_index(v, entry_span(v, span), d.first)?;
    let brake = brake_index(v, first_apex, d.first);
    let exit = exit_span(v, span);
    let apex = apex_index(v, exit, d.first)?;
    let pickup = pickup_index(v, d, apex, span.end);
    let metres = span.end.saturating_sub(pickup) as f64 * d.grid.spacing_m;
    let share = 1.0 - (percent / 100.0).clamp(0.0, 1.0);
    let end = drive_with(v, d, pickup, metres, share);
    Some(Effects {
        gear_down: Some((brake, end)),
        clean_pedals: Some((pickup, end)),
        path: None,
    })
}

/// Loses `percent` % of the drive force to wheelspin from the throttle pick-up to the
/// corner's end, with the pedals where they would be: the same inputs, a slower exit.
pub(crate) fn slow_exit(
    v: &mut [f64],
    d: Dynamics<'_>,
    span: Span,
    percent: f64,
) -> Option<Effects> {
    let apex = apex_index(v, span, d.first)?;
    let pickup = pickup_index(v, d, apex, span.end);
    let metres = (span.end.saturating_sub(pickup)) as f64 * d.grid.spacing_m;
    let share = 1.0 - (percent / 100.0).clamp(0.0, 1.0);
    let end = drive_with(v, d, pickup, metres, share);
    Some(Effects {
        gear_down: None,
        clean_pedals: Some((pickup, end)),
        path: None,
    })
}

/// Drives a line `percent` % longer than the centre line through the corner, at the same
/// speeds: the same inputs, more time.
pub(crate) fn wide_line(span: Span, first: usize, percent: f64) -> Option<Effects> {
    let start = span.start.max(first);
    (start < span.end).then_some(Effects {
        gear_down: None,
        clean_pedals: None,
        path: Some((start, span.end, 1.0 + percent.max(0.0) / 100.0)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setup() -> (Track, Car, Grid) {
        let track = Track::test_circuit();
        let grid = Grid::new(&track);
        (track, Car::corvette_c7r(), grid)
    }

    fn time(v: &[f64], grid: &Grid) -> f64 {
        cumulative_times(v, grid.spacing_m)
            .last()
            .copied()
            .unwrap_or(0.0)
    }

    #[test]
    fn closed_profile_respects_every_limit() {
        let (_, car, grid) = setup();
        let v = closed_speeds(&grid, &car, 1.0);
        let ds = grid.spacing_m;
        assert_eq!(v.len(), grid.intervals() + 1);
        assert!((v[0] - v[grid.intervals()]).abs() < 1e-12);
        for i in 0..grid.intervals() {
            let k = grid.curvature[i];
            assert!(v[i] <= car.corner_speed(k, 1.0) + 1e-9);
            let dv2 = v[i + 1] * v[i + 1] - v[i] * v[i];
            assert!(
                dv2 <= 2.0 * car.drive_accel(v[i], k, 1.0) * ds + 1e-6,
                "{i}"
            );
            let brake = car.brake_decel(v[i + 1], grid.curvature[i + 1], 1.0);
            assert!(-dv2 <= 2.0 * brake * ds + 1e-6, "{i}");
        }
        // More grip, faster lap.
        let faster = closed_speeds(&grid, &car, 1.01);
        assert!(time(&faster, &grid) < time(&v, &grid));
    }

    #[test]
    fn profile_time_at_matches_grid_times() {
        let (track, car, _) = setup();
        let p = SpeedProfile::optimal(&track, &car);
        assert!((p.end_m() - track.length_m()).abs() < 1e-6);
        assert!((p.time_at(p.end_m()) - p.lap_time_s()).abs() < 1e-9);
        assert_eq!(p.time_at(0.0), 0.0);
        let mid = p.time_at(0.5 * p.spacing_m());
        assert!(mid > 0.0 && mid < p.times_s()[1]);
        assert!((30.0..42.0).contains(&p.lap_time_s()), "{}", p.lap_time_s());
    }

    #[test]
    fn every_edit_is_slower_and_grows_with_its_amount() {
        let (track, car, grid) = setup();
        let clean = closed_speeds(&grid, &car, 1.0);
        let base = time(&clean, &grid);
        type Edit = fn(&mut [f64], Dynamics<'_>, Span, f64) -> bool;
        let edits: [(Edit, [f64; 3]); 8] = [
            (brake_early, [5.0, 20.0, 40.0]),
            (over_slow, [2.0, 5.0, 10.0]),
            (pick_up_late, [5.0, 20.0, 40.0]),
            (coast_early, [10.0, 30.0, 60.0]),
            (lift_mid_corner, [10.0, 20.0, 40.0]),
            (
                |v, d, s, p| lower_gear(v, d, s, p).is_some(),
                [10.0, 25.0, 40.0],
            ),
            (
                |v, d, s, p| slow_exit(v, d, s, p).is_some(),
                [5.0, 15.0, 30.0],
            ),
            // The one edit that raises speeds (before the late brake point): last.
            (brake_late, [2.0, 4.0, 8.0]),
        ];
        let d = Dynamics {
            grid: &grid,
            car: &car,
            grip: 1.0,
            first: 0,
        };
        for corner in track.corners() {
            let span = grid.span(corner);
            for (index, (edit, amounts)) in edits.iter().enumerate() {
                let mut previous = base;
                for amount in amounts {
                    let mut v = clean.clone();
                    assert!(edit(&mut v, d, span, *amount));
                    if index + 1 < edits.len() {
                        assert!(v.iter().zip(&clean).all(|(a, b)| a <= b));
                    } else {
                        assert!(v.iter().zip(&clean).any(|(a, b)| a > b), "{}", corner.name);
                    }
                    let t = time(&v, &grid);
                    // Braking late into a kink the car barely brakes for gains.
                    if index + 1 < edits.len() || corner.turn_deg > 45.0 {
                        assert!(t > base, "{} edit {index}: no cost", corner.name);
                    }
                    // In a chicane the second part's braking point lies inside the first
                    // part, where going further back can find a slower car: only the cost's
                    // sign is certain there. A late braking past MAX_OVERSHOOT gains what it
                    // brakes later and over-slows no more: only its sign either.
                    if corner.turn_deg > 45.0 && index + 1 < edits.len() {
                        assert!(
                            t > previous,
                            "{} edit {index} amount {amount}: {t} <= {previous}",
                            corner.name
                        );
                    }
                    previous = t;
                }
            }
        }
    }
}
