//! Property tests of the analysis on a track's map: swapping the lap and its reference only
//! flips the signs (every segment within 1 ms), the rows sum to the gap (5 ms), a corner's
//! points are never in an impossible order, and every number the offline coach writes is a
//! fact of the analysis.
//!
//! Laps: a simulated session of the test track with one mistake per lap (every kind, at
//! every corner), and the two real Imola laps, each thinned and jittered at random as a
//! logger would.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::sync::OnceLock;

use proptest::prelude::*;
use purple_sector_core::analysis::{
    Analysis, CornerMetrics, LapTrace, analyze_traces, heuristic_strengths, heuristic_suggestions,
    validate_suggestions,
};
use purple_sector_core::import::logger_input;
use purple_sector_core::record::Input;
use purple_sector_core::sim::{Car, Mistake, MistakeKind, SimConfig, Simulator, Track, track_map};
use purple_sector_core::telemetry::Frame;
use purple_sector_core::track::TrackMap;

/// A pool of laps of one track, with their official times and the track's map.
struct Pool {
    laps: Vec<(Vec<Frame>, i32)>,
    map: TrackMap,
}

/// The test track: 18 flying laps, lap n + 2 with the nth mistake (kinds and corners in
/// turn, middling amounts).
fn simulated() -> &'static Pool {
    static POOL: OnceLock<Pool> = OnceLock::new();
    POOL.get_or_init(|| {
        let track = Track::test_circuit();
        let map = track_map(&track, &Car::default()).unwrap();
        let flying = 18u32;
        let mistakes: Vec<Mistake> = (0..flying)
            .map(|i| {
                let kind = MistakeKind::ALL[i as usize % MistakeKind::ALL.len()];
                let corner = &map.corners[i as usize % map.corners.len()];
                let amount = match kind.unit() {
                    "%" => 4.0,
                    _ if kind == MistakeKind::LateBraking => 5.0,
                    _ => 20.0,
                };
                Mistake::new(i + 2, corner.name.clone(), kind, amount)
            })
            .collect();
        let mut config = SimConfig::new(track);
        config.laps = flying;
        config.seed = 13;
        config.mistakes = mistakes;
        config.map = Some(map.clone());
        let mut sim = Simulator::new(config);
        let mut frames: Vec<Vec<Frame>> = vec![Vec::new(); flying as usize + 2];
        while let Some(step) = sim.step() {
            frames[step.car_info.lap_count as usize]
                .push(Frame::from_owned_car_info(&step.car_info, step.sim_time_ns));
        }
        let laps = sim
            .lap_reports()
            .iter()
            .zip(frames)
            .skip(1)
            .map(|(r, f)| (f, r.reported_ms))
            .collect();
        Pool { laps, map }
    })
}

/// The two real Imola laps and the map the store builds from them.
fn imola() -> &'static Pool {
    static POOL: OnceLock<Pool> = OnceLock::new();
    POOL.get_or_init(|| {
        let laps: Vec<(Vec<Frame>, i32)> = ["imola-c7r-lap0.tsv", "imola-c7r-lap2.tsv"]
            .iter()
            .map(|file| {
                let path = Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("tests/fixtures")
                    .join(file);
                match logger_input(&path, &Default::default(), &Default::default()).unwrap() {
                    Input::Lap(lap) => {
                        let ms = lap.time_ms().unwrap();
                        (lap.frames, ms)
                    }
                    other => panic!("{other:?}"),
                }
            })
            .collect();
        let first = LapTrace::new(&laps[0].0, Some(laps[0].1)).unwrap();
        let second = LapTrace::with_length(&laps[1].0, Some(laps[1].1), first.length_m()).unwrap();
        let map = TrackMap::build("imola", "", &[&first, &second]).unwrap();
        Pool { laps, map }
    })
}

/// Every `keep`-th frame kept (the first and last always), the speed jittered by up to
/// `jitter_kmh` from a seed.
fn thinned(frames: &[Frame], keep: usize, jitter_kmh: f32, seed: u64) -> Vec<Frame> {
    let mut state = seed | 1;
    let last = frames.len() - 1;
    frames
        .iter()
        .enumerate()
        .filter(|(i, _)| i % keep == 0 || *i == last)
        .map(|(_, f)| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let u = (state >> 11) as f32 / (1u64 << 53) as f32;
            let mut f = *f;
            f.speed_kmh = (f.speed_kmh + jitter_kmh * (2.0 * u - 1.0)).max(0.0);
            f
        })
        .collect()
}

fn trace(pool: &Pool, index: usize, keep: usize, jitter: f32, seed: u64) -> LapTrace {
    let (frames, ms) = &pool.laps[index];
    LapTrace::with_length(
        &thinned(frames, keep, jitter, seed),
        Some(*ms),
        pool.map.length_m,
    )
    .unwrap()
}

/// The order a corner is driven in.
fn in_order(name: &str, m: &CornerMetrics) -> Result<(), TestCaseError> {
    if let Some(b) = m.brake_point_m {
        prop_assert!(
            b <= m.apex_m,
            "{name}: brakes at {b} after its apex {}",
            m.apex_m
        );
        if let Some(p) = m.throttle_pickup_m {
            prop_assert!(b < p, "{name}: braking at {b}, throttle back on at {p}");
        }
    }
    if let Some(t) = m.turn_in_m {
        prop_assert!(
            t <= m.apex_m,
            "{name}: turns in at {t} after its apex {}",
            m.apex_m
        );
    }
    if let (Some(p), Some(f)) = (m.throttle_pickup_m, m.full_throttle_m) {
        prop_assert!(
            p <= f,
            "{name}: full throttle at {f} before the pick-up at {p}"
        );
    }
    Ok(())
}

fn check(a: &Analysis, b: &Analysis) -> Result<(), TestCaseError> {
    prop_assert_eq!(a.segments.len(), b.segments.len());
    for (x, y) in a.segments.iter().zip(&b.segments) {
        prop_assert_eq!(&x.name, &y.name);
        prop_assert!((x.start_m - y.start_m).abs() < 1e-9 && (x.end_m - y.end_m).abs() < 1e-9);
        prop_assert!(
            (x.time_loss_s + y.time_loss_s).abs() <= 0.001,
            "{}: {} one way, {} the other",
            x.name,
            x.time_loss_s,
            y.time_loss_s
        );
    }
    prop_assert!((a.gap_s + b.gap_s).abs() <= 0.001);
    for analysis in [a, b] {
        let rows: f64 = analysis.segments.iter().map(|s| s.time_loss_s).sum();
        prop_assert!(
            (rows - analysis.gap_s).abs() <= 0.005,
            "{rows} against {}",
            analysis.gap_s
        );
        let own: f64 =
            analysis.segments.iter().map(|s| s.own_loss_s).sum::<f64>() + analysis.from_line_loss_s;
        prop_assert!(
            (own - analysis.gap_s).abs() <= 0.005,
            "{own} against {}",
            analysis.gap_s
        );
        for c in &analysis.corners {
            in_order(&c.corner.name, &c.lap)?;
            in_order(&c.corner.name, &c.reference)?;
        }
        let (_, rejected) = validate_suggestions(analysis, heuristic_suggestions(analysis));
        prop_assert!(rejected.is_empty(), "{:?}", rejected);
        // A corner is a loss or a gain, not both.
        for s in heuristic_strengths(analysis) {
            prop_assert!(
                !heuristic_suggestions(analysis)
                    .iter()
                    .any(|x| x.corner.is_some() && x.corner == s.corner),
                "{:?} both lost and gained",
                s.corner
            );
        }
    }
    // The same corners, by id and name, whichever lap is the reference.
    let ids = |x: &Analysis| -> Vec<(String, String)> {
        x.corners
            .iter()
            .map(|c| (c.corner.id.clone(), c.corner.name.clone()))
            .collect()
    };
    prop_assert_eq!(ids(a), ids(b));
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn simulated_laps_swap_and_sum(
        i in 0usize..18,
        j in 0usize..18,
        keep in 1usize..40,
        jitter in 0.0f32..0.1,
        seed in any::<u64>(),
    ) {
        prop_assume!(i != j);
        let pool = simulated();
        let (lap, reference) = (trace(pool, i, keep, jitter, seed), trace(pool, j, keep, jitter, seed ^ 1));
        let a = analyze_traces(&lap, &reference, &pool.map.corners);
        let b = analyze_traces(&reference, &lap, &pool.map.corners);
        check(&a, &b)?;
    }

    #[test]
    fn real_laps_swap_and_sum(
        keep in 1usize..3,
        jitter in 0.0f32..0.1,
        seed in any::<u64>(),
    ) {
        let pool = imola();
        let (lap, reference) = (trace(pool, 0, keep, jitter, seed), trace(pool, 1, keep, jitter, seed ^ 1));
        let a = analyze_traces(&lap, &reference, &pool.map.corners);
        let b = analyze_traces(&reference, &lap, &pool.map.corners);
        check(&a, &b)?;
    }
}
