//! The coach's accuracy on simulated mistakes of every cause, at the corners of the track's
//! map, with the real laps' sensor noise.
//!
//! Run with `--nocapture` for the whole table; `PS_SEED=N` for another session.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use purple_sector_core::analysis::{
    Analysis, Cause, LapTrace, analyze_traces, heuristic_strengths, heuristic_suggestions,
    validate_suggestions,
};
use purple_sector_core::import::logger_input;
use purple_sector_core::record::Input;
use purple_sector_core::sim::{
    Car, LapReport, Mistake, MistakeKind, SimConfig, Simulator, Track, track_map,
};
use purple_sector_core::telemetry::Frame;
use purple_sector_core::track::TrackMap;

/// Sensor noise as measured on the real laps: the residual of each channel from a local
/// quadratic over 9 rows, and the logger's row spacing.
#[derive(Debug, Clone, Copy)]
struct Noise {
    speed_kmh: f64,
    gas: f64,
    brake: f64,
    steer_deg: f64,
    /// The logger writes a row when the car has moved this far, m.
    row_spacing_m: f64,
}

fn real_lap(file: &str) -> Vec<Frame> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(file);
    match logger_input(&path, &Default::default(), &Default::default()).unwrap() {
        Input::Lap(lap) => lap.frames,
        other => panic!("not a lap: {other:?}"),
    }
}

/// The standard deviation of `values` about a local quadratic (against `t`) over ±4 rows;
/// only rows where `keep` holds count (a pedal at rest has no noise to measure).
fn residual_sd(t: &[f64], values: &[f64], keep: impl Fn(f64) -> bool) -> f64 {
    let mut sum = 0.0f64;
    let mut n = 0.0f64;
    for i in 4..values.len().saturating_sub(4) {
        if !keep(values[i]) {
            continue;
        }
        // Least squares y = a + b x + c x² on the 9 rows around i, x = t - t_i.
        let mut m = [[0.0f64; 3]; 3];
        let mut r = [0.0f64; 3];
        for j in i - 4..=i + 4 {
            let x = t[j] - t[i];
            let p = [1.0, x, x * x];
            for a in 0..3 {
                r[a] += p[a] * values[j];
                for b in 0..3 {
                    m[a][b] += p[a] * p[b];
                }
            }
        }
        let Some(fit) = solve3(m, r) else { continue };
        let e = values[i] - fit[0];
        sum += e * e;
        n += 1.0;
    }
    (sum / n.max(1.0)).sqrt()
}

fn solve3(mut m: [[f64; 3]; 3], mut r: [f64; 3]) -> Option<[f64; 3]> {
    for c in 0..3 {
        let p = (c..3).max_by(|&a, &b| m[a][c].abs().total_cmp(&m[b][c].abs()))?;
        if m[p][c].abs() < 1e-15 {
            return None;
        }
        m.swap(c, p);
        r.swap(c, p);
        for k in c + 1..3 {
            let f = m[k][c] / m[c][c];
            let pivot = m[c];
            for (x, p) in m[k][c..].iter_mut().zip(&pivot[c..]) {
                *x -= f * p;
            }
            r[k] -= f * r[c];
        }
    }
    let mut x = [0.0; 3];
    for c in (0..3).rev() {
        let s: f64 = (c + 1..3).map(|j| m[c][j] * x[j]).sum();
        x[c] = (r[c] - s) / m[c][c];
    }
    Some(x)
}

fn measure_noise() -> Noise {
    let mut out = Noise {
        speed_kmh: 0.0,
        gas: 0.0,
        brake: 0.0,
        steer_deg: 0.0,
        row_spacing_m: 0.0,
    };
    let files = ["imola-c7r-lap0.tsv", "imola-c7r-lap2.tsv"];
    for file in files {
        let frames = real_lap(file);
        let t: Vec<f64> = frames
            .iter()
            .map(|f| f64::from(f.lap_time_ms) / 1000.0)
            .collect();
        let ch = |get: fn(&Frame) -> f32| -> Vec<f64> {
            frames.iter().map(|f| f64::from(get(f))).collect()
        };
        let k = files.len() as f64;
        out.speed_kmh += residual_sd(&t, &ch(|f| f.speed_kmh), |_| true) / k;
        out.gas += residual_sd(&t, &ch(|f| f.gas), |g| g > 0.0 && g < 1.0) / k;
        out.brake += residual_sd(&t, &ch(|f| f.brake), |b| b > 0.0) / k;
        out.steer_deg += residual_sd(&t, &ch(|f| f.steer_deg), |_| true) / k;
        let path: f64 = frames
            .windows(2)
            .map(|w| {
                let (a, b) = (w[0].world_m, w[1].world_m);
                f64::from((b[0] - a[0]).hypot(b[2] - a[2]))
            })
            .sum();
        out.row_spacing_m += path / (frames.len() - 1) as f64 / k;
    }
    out
}

/// A small seeded generator (SplitMix64) with normal deviates.
struct Rng(u64);

impl Rng {
    fn next_f64(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    }

    fn normal(&mut self) -> f64 {
        let (u, v) = (self.next_f64().max(1e-300), self.next_f64());
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }
}

/// The frames as the real laps' logger would have them: a row each time the car has moved
/// `row_spacing_m` (by its x/z), with the measured noise on speed, pedals (not at rest) and
/// steering.
fn as_logged(frames: &[Frame], noise: &Noise, rng: &mut Rng) -> Vec<Frame> {
    let mut out: Vec<Frame> = Vec::with_capacity(frames.len() / 8);
    let mut last: Option<[f32; 3]> = None;
    for f in frames {
        if let Some(p) = last {
            let moved = f64::from((f.world_m[0] - p[0]).hypot(f.world_m[2] - p[2]));
            if moved < noise.row_spacing_m {
                continue;
            }
        }
        last = Some(f.world_m);
        let mut f = *f;
        f.speed_kmh = (f64::from(f.speed_kmh) + noise.speed_kmh * rng.normal()).max(0.0) as f32;
        if f.gas > 0.0 && f.gas < 1.0 {
            f.gas = (f64::from(f.gas) + noise.gas * rng.normal()).clamp(0.0, 1.0) as f32;
        }
        if f.brake > 0.0 {
            f.brake = (f64::from(f.brake) + noise.brake * rng.normal()).clamp(0.0, 1.0) as f32;
        }
        f.steer_deg = (f64::from(f.steer_deg) + noise.steer_deg * rng.normal()) as f32;
        out.push(f);
    }
    out
}

/// A simulated session on `map`'s corners: each lap's frames (index = lap number − 1) and
/// report.
struct Session {
    laps: Vec<Vec<Frame>>,
    reports: Vec<LapReport>,
}

fn simulate(
    track: &Track,
    map: &TrackMap,
    seed: u64,
    flying: u32,
    mistakes: &[Mistake],
) -> Session {
    let mut config = SimConfig::new(track.clone());
    config.laps = flying;
    config.seed = seed;
    config.mistakes = mistakes.to_vec();
    config.map = Some(map.clone());
    let mut sim = Simulator::new(config);
    let mut laps: Vec<Vec<Frame>> = vec![Vec::new(); flying as usize + 2];
    while let Some(step) = sim.step() {
        let index = step.car_info.lap_count as usize;
        laps[index].push(Frame::from_owned_car_info(&step.car_info, step.sim_time_ns));
    }
    laps.truncate(flying as usize + 1);
    Session {
        laps,
        reports: sim.lap_reports().to_vec(),
    }
}

/// One mistake lap, judged.
struct Outcome {
    mistake: Mistake,
    cost_ms: f64,
    /// The suggestion at the mistake's corner: its cause and loss, ms.
    found: Option<(Cause, f64)>,
    /// The reference taken the other way round (the mistake lap as the reference): the
    /// strength at that corner, ms gained.
    strength_ms: Option<f64>,
    /// Largest loss claimed at any other corner, s.
    false_claim_s: f64,
    message: String,
}

impl Outcome {
    fn counted(&self) -> bool {
        self.cost_ms >= MIN_COST_MS
    }
    fn right_cause(&self) -> bool {
        self.found
            .is_some_and(|(c, _)| c == self.mistake.kind.cause())
    }
    fn within(&self, ms: Option<f64>) -> bool {
        ms.is_some_and(|ms| (ms / self.cost_ms - 1.0).abs() <= 0.25)
    }
}

/// Mistakes that cost less than this are left out of the shares: ±25 % of it is below the
/// lap-to-lap noise of a corner (a few ms).
const MIN_COST_MS: f64 = 30.0;

/// Strengths are listed from 0.05 s gained: they are looked for at mistakes costing this much
/// (0.05 s and the 25 % allowed).
const MIN_STRENGTH_COST_MS: f64 = 50.0 / 0.75;

fn analysis(lap: &LapTrace, reference: &LapTrace, map: &TrackMap) -> Analysis {
    let mut a = analyze_traces(lap, reference, &map.corners);
    // Every lap of a simulated session follows the one before it.
    a.follows_previous_lap = true;
    a
}

fn judge(
    mistake: &Mistake,
    cost_ms: f64,
    lap: &LapTrace,
    reference: &LapTrace,
    map: &TrackMap,
) -> Outcome {
    let a = analysis(lap, reference, map);
    if std::env::var("PS_DUMP").is_ok_and(|d| d == mistake.lap.to_string()) {
        dump(mistake, &a);
    }
    let rows: f64 = a.segments.iter().map(|s| s.time_loss_s).sum();
    assert!((rows - a.gap_s).abs() <= 0.005);
    let suggestions = heuristic_suggestions(&a);
    let (_, rejected) = validate_suggestions(&a, suggestions.clone());
    assert!(rejected.is_empty(), "{mistake}: {rejected:?}");
    let name = map.corner(&mistake.corner).unwrap().name.clone();
    let at_corner = suggestions
        .iter()
        .find(|s| s.corner.as_deref() == Some(name.as_str()) && !s.id.ends_with("-previous-lap"));
    let false_claim_s = suggestions
        .iter()
        .filter(|s| s.corner.is_some() && s.corner.as_deref() != Some(name.as_str()))
        .map(|s| s.time_loss_s)
        .fold(0.0, f64::max);
    let back = analysis(reference, lap, map);
    let strength_ms = heuristic_strengths(&back)
        .iter()
        .find(|s| s.corner.as_deref() == Some(name.as_str()))
        .map(|s| s.time_gained_s * 1000.0);
    Outcome {
        mistake: mistake.clone(),
        cost_ms,
        found: at_corner.map(|s| (s.cause, s.time_loss_s * 1000.0)),
        strength_ms,
        false_claim_s,
        message: at_corner.map_or_else(String::new, |s| s.message.clone()),
    }
}

/// `PS_DUMP=LAP`: the whole fact table of that mistake lap.
fn dump(mistake: &Mistake, a: &Analysis) {
    eprintln!(
        "{mistake}: gap {:.3} s, from the line {:.3} s",
        a.gap_s, a.from_line_loss_s
    );
    for c in &a.corners {
        let m = |v: Option<f64>| v.map_or("—".to_owned(), |v| format!("{v:.0}"));
        eprintln!(
            "  {} {:<6} {:>5.0}–{:>5.0} apex {:>5.0}/{:>5.0} window {:+.3} attributed {:+.3} [{:+.3} {:+.3} {:+.3} {:+.3}] brake {}/{} min {:.1}/{:.1} pickup {}/{} full {}/{} lift {}/{} mid {:.0}/{:.0} coast {:.0}/{:.0} gear {}/{} exit {:.1}/{:.1} exit-throttle {:.2}/{:.2}",
            c.corner.id,
            c.corner.name,
            c.corner.start_m,
            c.corner.end_m,
            c.lap.apex_m,
            c.reference.apex_m,
            c.time_loss_s,
            c.attributed_loss_s,
            c.phases.approach_s,
            c.phases.braking_s,
            c.phases.exit_s,
            c.phases.line_s,
            m(c.lap.brake_point_m),
            m(c.reference.brake_point_m),
            c.lap.min_speed_kmh,
            c.reference.min_speed_kmh,
            m(c.lap.throttle_pickup_m),
            m(c.reference.throttle_pickup_m),
            m(c.lap.full_throttle_m),
            m(c.reference.full_throttle_m),
            m(c.lap.lift_point_m),
            m(c.reference.lift_point_m),
            c.lap.mid_corner_lift_m,
            c.reference.mid_corner_lift_m,
            c.lap.coasting_m,
            c.reference.coasting_m,
            c.lap.gear_at_apex,
            c.reference.gear_at_apex,
            c.lap.exit_speed_kmh,
            c.reference.exit_speed_kmh,
            c.lap.exit_throttle,
            c.reference.exit_throttle
        );
    }
    for s in &a.segments {
        eprintln!(
            "    {:<12} {:>5.0}–{:>5.0} {:+.3} own {:+.3}",
            s.name, s.start_m, s.end_m, s.time_loss_s, s.own_loss_s
        );
    }
}

fn amounts(kind: MistakeKind) -> Vec<f64> {
    match kind {
        MistakeKind::EarlyBraking | MistakeKind::LateThrottle => vec![10.0, 25.0],
        MistakeKind::LateBraking => vec![7.0, 10.0],
        MistakeKind::OverSlowing => vec![3.0, 6.0],
        MistakeKind::Coasting => vec![20.0, 40.0],
        MistakeKind::MidCornerLift => vec![10.0, 20.0],
        MistakeKind::LowerGear => vec![30.0, 50.0],
        MistakeKind::SlowExit => vec![20.0, 40.0],
        MistakeKind::WideLine => vec![1.0, 3.0],
    }
}

/// The coach on simulated mistakes of every cause (one kind per cause the coach names; not
/// `general`, which is no mistake), two amounts each, at every corner of the test track's
/// map: T1 and T2 (90° corners with 34 m of straight between their windows), T3 (the hairpin
/// 50 m after T2), T4 (a left-right chicane, one corner) and T5 (the long sweeper onto the
/// finish straight). Laps are as the real laps' logger writes them (a row a metre) with the
/// noise measured on the real laps.
///
/// - Each mistake lap follows a clean lap and is followed by two clean laps; its reference
///   is the clean lap (itself after a clean lap) whose clean time is closest to the mistake
///   lap's own clean time — like with like, as a coach compares; their grips still differ.
/// - **Found**: the suggestion at the mistake's corner (by the map's name) has the cause the
///   mistake is ([`MistakeKind::cause`]). **Estimate**: its time within ±25 % of the
///   simulator's cost. **Strength**: the clean lap against the mistake lap shows that
///   corner in `strengths`, within ±25 % of the cost. Mistakes costing under 30 ms are left
///   out of these shares (printed).
/// - **Clean corners**: no suggestion at any other corner claims more than 0.1 s.
/// - `lower_gear` is not made where the corner is taken in first gear (the hairpin): there
///   is no gear lower, and the coach then rightly calls the wheelspin a slow exit.
#[test]
fn the_coach_names_each_simulated_mistake_at_its_corner() {
    let track = Track::test_circuit();
    let map = track_map(&track, &Car::default()).unwrap();
    let corners: Vec<String> = map.corners.iter().map(|c| c.name.clone()).collect();
    accuracy(&track, &map, &corners, &amounts, 60);
}

/// The same on Imola's chicanes and double corners — Tamburello (a chicane after a flat
/// kink), Acque Minerali (a double right), Variante Alta (a chicane) and Rivazza (a double
/// left) — one amount each, the larger.
#[test]
fn the_coach_names_each_simulated_mistake_in_imolas_complexes() {
    let track = Track::imola();
    let map = track_map(&track, &Car::default()).unwrap();
    let corners: Vec<String> = ["Tamburello", "Acque Minerali", "Variante Alta", "Rivazza"]
        .into_iter()
        .map(str::to_owned)
        .collect();
    accuracy(&track, &map, &corners, &|k| vec![amounts(k)[1]], 25);
}

/// Simulates every kind of mistake at each of `corners` by `amounts`, judges the coach on
/// each and asserts the shares (at least `min_counted` mistakes costing ≥ 30 ms).
fn accuracy(
    track: &Track,
    map: &TrackMap,
    corners: &[String],
    amounts: &dyn Fn(MistakeKind) -> Vec<f64>,
    min_counted: usize,
) {
    let started = std::time::Instant::now();
    let noise = measure_noise();
    let (track, map) = (track.clone(), map.clone());
    let clean_lap = simulate(&track, &map, 1, 1, &[]);
    let gear_at = |corner: &str| {
        let apex = map.corner(corner).unwrap().apex_m;
        clean_lap.laps[1]
            .iter()
            .min_by(|a, b| {
                let d = |f: &Frame| (f64::from(f.position_normalized) * map.length_m - apex).abs();
                d(a).total_cmp(&d(b))
            })
            .unwrap()
            .gear
    };
    let mut mistakes = Vec::new();
    // Laps 2 and 3 clean, then [mistake, clean, clean] repeated.
    let mut lap = 4;
    for corner in corners {
        for kind in MistakeKind::ALL {
            if kind == MistakeKind::LowerGear && gear_at(corner) <= 1 {
                continue;
            }
            for amount in amounts(kind) {
                mistakes.push(Mistake::new(lap, corner.clone(), kind, amount));
                lap += 3;
            }
        }
    }
    let last_lap = lap - 1;
    let seed = std::env::var("PS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(7);
    let session = simulate(&track, &map, seed, last_lap - 1, &mistakes);
    let simulated = started.elapsed();
    let mut rng = Rng(seed);
    let traces: Vec<LapTrace> = session
        .laps
        .iter()
        .zip(&session.reports)
        .map(|(frames, report)| {
            let logged = as_logged(frames, &noise, &mut rng);
            LapTrace::with_length(&logged, Some(report.reported_ms), map.length_m).unwrap()
        })
        .collect();
    let mistake_laps: Vec<u32> = mistakes.iter().map(|m| m.lap).collect();
    let references: Vec<u32> = (3..=last_lap)
        .filter(|n| !mistake_laps.contains(n) && !mistake_laps.contains(&(n - 1)))
        .collect();
    let report = |n: u32| &session.reports[n as usize - 1];
    let trace = |n: u32| &traces[n as usize - 1];
    let closest = |n: u32, except: Option<u32>| -> u32 {
        let clean_ms = report(n).clean_time_ms;
        references
            .iter()
            .copied()
            .filter(|&r| Some(r) != except)
            .min_by(|&a, &b| {
                let d = |r: u32| (report(r).clean_time_ms - clean_ms).abs();
                d(a).total_cmp(&d(b))
            })
            .unwrap()
    };
    let outcomes: Vec<Outcome> = mistakes
        .iter()
        .map(|m| {
            let cost = &report(m.lap).mistakes[0];
            assert!(cost.applied, "{m}");
            judge(
                m,
                cost.cost_ms,
                trace(m.lap),
                trace(closest(m.lap, None)),
                &map,
            )
        })
        .collect();

    // Clean laps against their closest other clean lap: nothing big to say.
    let mut clean_claim_s = 0.0f64;
    for &n in &references {
        let a = analysis(trace(n), trace(closest(n, Some(n))), &map);
        for s in heuristic_suggestions(&a) {
            clean_claim_s = clean_claim_s.max(s.time_loss_s);
        }
    }

    eprintln!(
        "accuracy on {} (seed {seed}): {} mistake laps, {} clean references, simulated in {simulated:?}; noise as measured on the real laps: speed {:.3} km/h, gas {:.4}, brake {:.4}, steering {:.3}°, a row every {:.2} m",
        track.name(),
        outcomes.len(),
        references.len(),
        noise.speed_kmh,
        noise.gas,
        noise.brake,
        noise.steer_deg,
        noise.row_spacing_m
    );
    eprintln!(
        "{:<46} {:>7} {:>7} {:>7}  {:<24} {:>9}  message",
        "mistake", "cost ms", "est ms", "gain ms", "cause", "elsewhere"
    );
    for o in &outcomes {
        let verdict = if !o.counted() {
            "skip"
        } else if o.right_cause() {
            "yes"
        } else {
            "NO"
        };
        eprintln!(
            "{:<46} {:>7.0} {:>7.0} {:>7.0}  {:<4} {:<19} {:>7.3} s  {}",
            o.mistake.to_string(),
            o.cost_ms,
            o.found.map_or(0.0, |f| f.1),
            o.strength_ms.unwrap_or(0.0),
            verdict,
            o.found.map_or("—".to_owned(), |f| f.0.to_string()),
            o.false_claim_s,
            o.message
        );
    }
    let counted: Vec<&Outcome> = outcomes.iter().filter(|o| o.counted()).collect();
    let n = counted.len() as f64;
    let found = counted.iter().filter(|o| o.right_cause()).count() as f64 / n;
    let within = counted
        .iter()
        .filter(|o| o.within(o.found.map(|f| f.1)))
        .count() as f64
        / n;
    // A strength is listed from 0.05 s: mistakes whose cost, less 25 %, reaches that.
    let strong: Vec<&&Outcome> = counted
        .iter()
        .filter(|o| o.cost_ms >= MIN_STRENGTH_COST_MS)
        .collect();
    let strengths =
        strong.iter().filter(|o| o.within(o.strength_ms)).count() as f64 / strong.len() as f64;
    let false_claim = outcomes.iter().map(|o| o.false_claim_s).fold(0.0, f64::max);
    for kind in MistakeKind::ALL {
        let of: Vec<&&Outcome> = counted.iter().filter(|o| o.mistake.kind == kind).collect();
        eprintln!(
            "  {:<16} {:>2} counted: cause {:>2}, estimate ±25 % {:>2}, strength ±25 % {:>2} of {:>2}",
            kind.as_str(),
            of.len(),
            of.iter().filter(|o| o.right_cause()).count(),
            of.iter().filter(|o| o.within(o.found.map(|f| f.1))).count(),
            of.iter()
                .filter(|o| o.cost_ms >= MIN_STRENGTH_COST_MS && o.within(o.strength_ms))
                .count(),
            of.iter()
                .filter(|o| o.cost_ms >= MIN_STRENGTH_COST_MS)
                .count(),
        );
    }
    eprintln!(
        "{} of {} mistakes cost ≥ {MIN_COST_MS} ms: right corner and cause {:.1} %, estimate within ±25 % {:.1} %; of the {} costing ≥ {MIN_STRENGTH_COST_MS:.0} ms, strength within ±25 % {:.1} %; largest claim at another corner {false_claim:.3} s; clean laps: largest claim {clean_claim_s:.3} s; took {:?}",
        counted.len(),
        outcomes.len(),
        100.0 * found,
        100.0 * within,
        strong.len(),
        100.0 * strengths,
        started.elapsed()
    );
    assert!(
        counted.len() >= min_counted,
        "too few mistakes above {MIN_COST_MS} ms"
    );
    assert!(found >= 0.95, "right cause {:.1} %", 100.0 * found);
    assert!(within >= 0.95, "within ±25 % {:.1} %", 100.0 * within);
    assert!(strengths >= 0.95, "strengths {:.1} %", 100.0 * strengths);
    assert!(
        false_claim <= 0.1,
        "a clean corner was blamed for {false_claim} s"
    );
    assert!(
        clean_claim_s <= 0.1,
        "a clean lap was blamed for {clean_claim_s} s"
    );
}

/// A slow exit from the last corner costs the next lap its start: on that lap, the loss
/// carried over the line is the previous lap's last corner, a slow exit, within ±25 % of
/// what the simulator says it cost (the next lap of the same session without the mistake,
/// same grip, is the reference), and nothing else is blamed.
#[test]
fn a_slow_exit_onto_the_line_explains_the_next_laps_start() {
    let noise = measure_noise();
    let track = Track::test_circuit();
    let map = track_map(&track, &Car::default()).unwrap();
    let last = map.corners.last().unwrap().name.clone();
    for (kind, amount) in [
        (MistakeKind::LateThrottle, 40.0),
        (MistakeKind::MidCornerLift, 40.0),
    ] {
        let mistake = Mistake::new(3, last.clone(), kind, amount);
        let with = simulate(&track, &map, 3, 3, std::slice::from_ref(&mistake));
        let without = simulate(&track, &map, 3, 3, &[]);
        let carried_ms = f64::from(with.reports[3].reported_ms - without.reports[3].reported_ms);
        let mut rng = Rng(3);
        let lap4 = |s: &Session, rng: &mut Rng| {
            let logged = as_logged(&s.laps[3], &noise, rng);
            LapTrace::with_length(&logged, Some(s.reports[3].reported_ms), map.length_m).unwrap()
        };
        let (lap, reference) = (lap4(&with, &mut rng), lap4(&without, &mut rng));
        let a = analysis(&lap, &reference, &map);
        let suggestions = heuristic_suggestions(&a);
        eprintln!(
            "lap 4 after {mistake}: carried {carried_ms:.0} ms, from the line {:.3} s: {:?}",
            a.from_line_loss_s,
            suggestions.iter().map(|s| &s.message).collect::<Vec<_>>()
        );
        assert!(carried_ms >= MIN_COST_MS, "{carried_ms} ms");
        let over = suggestions
            .iter()
            .find(|s| s.id.ends_with("-previous-lap"))
            .expect("the start is explained");
        assert_eq!(
            (over.cause, over.corner.as_deref()),
            (Cause::SlowExit, Some(last.as_str()))
        );
        assert!(
            (over.time_loss_s * 1000.0 / carried_ms - 1.0).abs() <= 0.25,
            "{} s against {carried_ms} ms",
            over.time_loss_s
        );
        let elsewhere = suggestions
            .iter()
            .filter(|s| !s.id.ends_with("-previous-lap"))
            .map(|s| s.time_loss_s)
            .fold(0.0, f64::max);
        assert!(elsewhere <= 0.1, "{elsewhere}");
        // Not following that lap (another session's, say), the same loss is a slow start.
        let mut alone = a.clone();
        alone.follows_previous_lap = false;
        let s = heuristic_suggestions(&alone);
        let start = s.iter().find(|s| s.id.ends_with("-previous-lap")).unwrap();
        assert_eq!(
            (start.cause, start.corner.as_deref()),
            (Cause::General, None)
        );
    }
}
