//! Lap analysis end to end: the delta against the official times over many simulated laps,
//! the coach's accuracy on simulated mistakes, and the two real Imola laps.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use purple_sector_core::analysis::{
    Analysis, AnalysisError, Analyzer, Cause, Delta, HeuristicAnalyzer, LapRole, LapTrace,
    SegmentKind, SuggestionType, analyze, analyze_laps, analyze_traces, consistency,
    detect_corners, heuristic_strengths, heuristic_suggestions, ideal_lap, validate_suggestions,
};
use purple_sector_core::import::logger_input;
use purple_sector_core::lap::Lap;
use purple_sector_core::record::Input;
use purple_sector_core::sim::{LapReport, Mistake, MistakeKind, SimConfig, Simulator, Track};
use purple_sector_core::telemetry::Frame;
use purple_sector_core::track::TrackMap;

/// A simulated session: frames and report of each lap (index = lap number − 1).
struct Session {
    laps: Vec<Vec<Frame>>,
    reports: Vec<LapReport>,
}

impl Session {
    fn simulate(seed: u64, flying_laps: u32, mistakes: Vec<Mistake>) -> Self {
        let track = Track::by_name("test").unwrap();
        let mut config = SimConfig::new(track.clone());
        config.laps = flying_laps;
        config.seed = seed;
        config.mistakes = mistakes;
        let mut sim = Simulator::new(config);
        let mut laps: Vec<Vec<Frame>> = vec![Vec::new(); flying_laps as usize + 2];
        while let Some(step) = sim.step() {
            // Lap n's frames are those with lap_count n − 1.
            let index = step.car_info.lap_count as usize;
            laps[index].push(Frame::from_owned_car_info(&step.car_info, step.sim_time_ns));
        }
        laps.truncate(flying_laps as usize + 1);
        Self {
            laps,
            reports: sim.lap_reports().to_vec(),
        }
    }

    fn frames(&self, lap: u32) -> &[Frame] {
        &self.laps[lap as usize - 1]
    }

    fn report(&self, lap: u32) -> &LapReport {
        &self.reports[lap as usize - 1]
    }

    fn official_ms(&self, lap: u32) -> i32 {
        self.report(lap).reported_ms
    }

    fn trace(&self, lap: u32, length_m: Option<f64>) -> LapTrace {
        let official = Some(self.official_ms(lap));
        match length_m {
            Some(l) => LapTrace::with_length(self.frames(lap), official, l).unwrap(),
            None => LapTrace::new(self.frames(lap), official).unwrap(),
        }
    }
}

fn rows_sum(analysis: &Analysis) -> f64 {
    analysis.segments.iter().map(|s| s.time_loss_s).sum()
}

/// The delta at the line is the official gap (it is pinned there), and — the real check —
/// the lap times measured from the frames alone agree with the official ones to 2 ms, over
/// every pair of flying laps of several seeded sessions with mistakes.
#[test]
fn delta_at_the_line_is_the_official_gap() {
    let mut pairs = 0;
    let mut worst_measured_ms = 0.0f64;
    for seed in 1..=4u64 {
        let kind = MistakeKind::ALL[seed as usize % 4];
        let mistakes = vec![
            Mistake::new(3, "T3", kind, 20.0 + seed as f64),
            Mistake::new(
                5,
                format!("T{}", seed % 6 + 1),
                MistakeKind::OverSlowing,
                4.0,
            ),
        ];
        let session = Session::simulate(seed, 5, mistakes);
        let reference_length = session.trace(2, None).length_m();
        let traces: Vec<(u32, LapTrace)> = (2..=6)
            .map(|n| (n, session.trace(n, Some(reference_length))))
            .collect();
        for (n, trace) in &traces {
            let measured = trace.measured_time_s() * 1000.0;
            let official = f64::from(session.official_ms(*n));
            worst_measured_ms = worst_measured_ms.max((measured - official).abs());
        }
        for (j, reference) in &traces {
            let corners = detect_corners(reference);
            for (i, lap) in &traces {
                if i == j {
                    continue;
                }
                let official_gap_ms = f64::from(session.official_ms(*i) - session.official_ms(*j));
                let analysis = analyze_traces(lap, reference, &corners);
                assert!(
                    (analysis.gap_s * 1000.0 - official_gap_ms).abs() <= 2.0,
                    "seed {seed} lap {i} vs {j}: {} against {official_gap_ms} ms",
                    analysis.gap_s * 1000.0
                );
                let measured_gap_ms = (lap.measured_time_s() - reference.measured_time_s()) * 1e3;
                assert!(
                    (measured_gap_ms - official_gap_ms).abs() <= 2.0,
                    "seed {seed} lap {i} vs {j}: measured {measured_gap_ms:.3} ms against {official_gap_ms} ms"
                );
                assert!((rows_sum(&analysis) - analysis.gap_s).abs() <= 0.005);
                let delta = Delta::new(lap, reference);
                assert!((delta.at_line() - analysis.gap_s).abs() < 1e-9);
                pairs += 1;
            }
        }
    }
    eprintln!(
        "delta: {pairs} pairs of simulated laps; lap time from the frames within {worst_measured_ms:.3} ms of the official time"
    );
    assert!(worst_measured_ms <= 1.0);
}

/// The line wrap as the game does it (position zero a little before or after the timing
/// line, so a lap's first frames read 0.999… or its last ones 0.000…), duplicated packets and
/// backward jitter change nothing.
#[test]
fn wraps_duplicates_and_jitter_are_handled() {
    let session = Session::simulate(11, 2, Vec::new());
    let (lap, reference) = (3, 2);
    let official_gap = f64::from(session.official_ms(lap) - session.official_ms(reference));
    let clean = analyze(
        session.frames(lap),
        Some(session.official_ms(lap)),
        session.frames(reference),
        Some(session.official_ms(reference)),
    )
    .unwrap();
    for shift in [-0.0004f32, 0.0004] {
        let mangle = |frames: &[Frame]| -> Vec<Frame> {
            let mut out = Vec::with_capacity(frames.len() + frames.len() / 100);
            for (k, f) in frames.iter().enumerate() {
                let mut f = *f;
                f.position_normalized = (f.position_normalized + shift).rem_euclid(1.0);
                if k % 50 == 25 {
                    f.position_normalized -= 2e-5; // a step back
                }
                out.push(f);
                if k % 100 == 0 {
                    out.push(f); // a duplicated packet
                }
            }
            out
        };
        let (lap_frames, reference_frames) = (
            mangle(session.frames(lap)),
            mangle(session.frames(reference)),
        );
        if shift < 0.0 {
            assert!(lap_frames[0].position_normalized > 0.99);
        } else {
            assert!(lap_frames.last().unwrap().position_normalized < 0.01);
        }
        let analysis = analyze(
            &lap_frames,
            Some(session.official_ms(lap)),
            &reference_frames,
            Some(session.official_ms(reference)),
        )
        .unwrap();
        assert!((analysis.gap_s * 1000.0 - official_gap).abs() <= 2.0);
        let lap_trace = LapTrace::with_length(&lap_frames, None, analysis.track_length_m).unwrap();
        let reference_trace = LapTrace::new(&reference_frames, None).unwrap();
        let measured = (lap_trace.measured_time_s() - reference_trace.measured_time_s()) * 1e3;
        assert!(
            (measured - official_gap).abs() <= 2.0,
            "shift {shift}: {measured} against {official_gap}"
        );
        assert_eq!(analysis.corners.len(), clean.corners.len());
        for (a, b) in analysis.corners.iter().zip(&clean.corners) {
            assert!((a.time_loss_s - b.time_loss_s).abs() < 0.003, "{a:?} {b:?}");
        }
    }
}

/// The ideal lap and the consistency of a session's clean laps: the ideal no slower than
/// the best and not absurdly faster, every corner within the driver's variation. (The
/// coach's accuracy on mistakes is `tests/accuracy.rs`.)
#[test]
fn ideal_lap_and_consistency_of_clean_laps() {
    let session = Session::simulate(7, 8, Vec::new());
    let length = session.trace(2, None).length_m();
    let clean: Vec<LapTrace> = (3..=9).map(|n| session.trace(n, Some(length))).collect();
    let corners = detect_corners(&clean[0]);
    let ideal = ideal_lap(&clean, &corners).unwrap();
    let best = clean.iter().map(|t| t.lap_time_ms()).min().unwrap();
    assert!(ideal.time_ms <= f64::from(best) + 1e-6);
    assert!(ideal.time_ms > f64::from(best) - 150.0, "{ideal:?}");
    assert!(ideal.segments.iter().all(|s| s.lap < clean.len()));
    let c = consistency(&clean, &corners);
    assert_eq!(c.laps, clean.len());
    assert!(c.lap_time_sd_s < 0.1, "{c:?}");
    for corner in &c.corners {
        assert!(corner.min_speed_sd_kmh < 1.0, "{corner:?}");
        if let Some(sd) = corner.brake_point_sd_m {
            assert!(sd < 3.0, "{corner:?}");
        }
    }
    let laps_used: std::collections::BTreeSet<usize> =
        ideal.segments.iter().map(|s| s.lap).collect();
    eprintln!(
        "ideal lap of {} clean laps: {:.1} ms from {} of them (best {best} ms); lap time σ {:.1} ms",
        clean.len(),
        ideal.time_ms,
        laps_used.len(),
        c.lap_time_sd_s * 1000.0,
    );
}

fn imola_lap(file: &str) -> Lap {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(file);
    match logger_input(&path, &Default::default(), &Default::default()).unwrap() {
        Input::Lap(lap) => lap,
        other => panic!("not a lap: {other:?}"),
    }
}

/// Lap 0 against lap 2 on the map the store builds from the two (oldest first), and the
/// same the other way round.
fn imola_analyses() -> (Analysis, Analysis, TrackMap, [Lap; 2]) {
    let (lap0, lap2) = (
        imola_lap("imola-c7r-lap0.tsv"),
        imola_lap("imola-c7r-lap2.tsv"),
    );
    let first = LapTrace::new(&lap0.frames, lap0.time_ms()).unwrap();
    let length = first.length_m();
    let second = LapTrace::with_length(&lap2.frames, lap2.time_ms(), length).unwrap();
    let map = TrackMap::build("imola", "", &[&first, &second]).unwrap();
    let forward = analyze_traces(&first, &second, &map.corners);
    let backward = analyze_traces(&second, &first, &map.corners);
    (forward, backward, map, [lap0, lap2])
}

/// Where a logged lap's brake first reaches 10 % between `from_m` and `to_m`, read from its
/// rows directly: distance along its x/z path, put on `length_m`.
fn raw_brake_point_m(lap: &Lap, length_m: f64, from_m: f64, to_m: f64) -> f64 {
    let mut along = vec![0.0f64];
    for w in lap.frames.windows(2) {
        let (a, b) = (w[0].world_m, w[1].world_m);
        let step = f64::from((b[0] - a[0]).hypot(b[2] - a[2]));
        along.push(along.last().unwrap() + step);
    }
    let scale = length_m / along.last().unwrap();
    lap.frames
        .iter()
        .zip(&along)
        .map(|(f, d)| (f, d * scale))
        .find(|(f, d)| *d >= from_m && *d <= to_m && f.brake >= 0.1)
        .map(|(_, d)| d)
        .unwrap()
}

fn print_table(analysis: &Analysis) {
    let m = |v: Option<f64>| v.map_or("—".to_owned(), |v| format!("{v:.0}"));
    eprintln!(
        "{:<3} {:<15} {:>11} {:>6} {:>8} {:>8} {:>11} {:>11} {:>9} {:>9} {:>5} {:>11}",
        "id",
        "corner",
        "window m",
        "apex",
        "lost s",
        "cause s",
        "brake m",
        "min km/h",
        "pick-up",
        "full",
        "gear",
        "exit km/h"
    );
    for c in &analysis.corners {
        eprintln!(
            "{:<3} {:<15} {:>5.0}–{:<5.0} {:>6.0} {:>+8.3} {:>+8.3} {:>5}/{:<5} {:>5.1}/{:<5.1} {:>4}/{:<4} {:>4}/{:<4} {:>2}/{:<2} {:>5.1}/{:<5.1}",
            c.corner.id,
            c.corner.name,
            c.corner.start_m,
            c.corner.end_m,
            c.corner.apex_m,
            c.time_loss_s,
            c.attributed_loss_s,
            m(c.lap.brake_point_m),
            m(c.reference.brake_point_m),
            c.lap.min_speed_kmh,
            c.reference.min_speed_kmh,
            m(c.lap.throttle_pickup_m),
            m(c.reference.throttle_pickup_m),
            m(c.lap.full_throttle_m),
            m(c.reference.full_throttle_m),
            c.lap.gear_at_apex,
            c.reference.gear_at_apex,
            c.lap.exit_speed_kmh,
            c.reference.exit_speed_kmh
        );
    }
    for s in &analysis.segments {
        eprintln!(
            "    {:<28} {:>5.0}–{:<5.0} {:+.3} s (explains {:+.3} s)",
            s.name, s.start_m, s.end_m, s.time_loss_s, s.own_loss_s
        );
    }
}

/// The two real Imola laps, lap 0 against lap 2 (0.87 s slower), read as a driver would.
#[test]
fn real_imola_lap0_against_lap2() {
    let started = std::time::Instant::now();
    let (analysis, back, map, [lap0, lap2]) = imola_analyses();
    let took = started.elapsed();
    eprintln!(
        "Imola: {:.1} m, lap 0 {} ms against lap 2 {} ms, gap {:.3} s; map and both analyses in {took:?}",
        analysis.track_length_m,
        analysis.lap_time_ms,
        analysis.reference_lap_time_ms,
        analysis.gap_s
    );
    print_table(&analysis);
    let suggestions = heuristic_suggestions(&analysis);
    let strengths = heuristic_strengths(&analysis);
    for s in &suggestions {
        eprintln!("  [{:?}/{}] {}", s.severity, s.cause, s.message);
    }
    for s in &strengths {
        eprintln!("  + [{}] {}", s.cause, s.message);
    }

    // The laps' times come from their lap clocks, run to the line: 1:49.54 and 1:48.67; the
    // rows sum to the gap.
    let (t0, t2) = (lap0.time_ms().unwrap(), lap2.time_ms().unwrap());
    assert!(
        (t0 - 109_540).abs() <= 15 && (t2 - 108_670).abs() <= 15,
        "{t0} {t2}"
    );
    assert!((analysis.gap_s * 1000.0 - f64::from(t0 - t2)).abs() <= 5.0);
    assert!((rows_sum(&analysis) - analysis.gap_s).abs() <= 0.005);
    let (first, last) = (&analysis.segments[0], analysis.segments.last().unwrap());
    assert_eq!((first.start_m, last.end_m), (0.0, analysis.track_length_m));
    assert!(
        analysis
            .segments
            .windows(2)
            .all(|w| w[0].end_m == w[1].start_m)
    );

    // Imola's named corners, in order, each once: Tamburello one corner (both its flicks),
    // nothing on the flat approach to Rivazza.
    let names: Vec<&str> = analysis
        .corners
        .iter()
        .map(|c| c.corner.name.as_str())
        .collect();
    assert_eq!(
        names,
        [
            "Tamburello",
            "Villeneuve",
            "Tosa",
            "Piratella",
            "Acque Minerali",
            "Variante Alta",
            "Rivazza"
        ]
    );
    let ids: Vec<&str> = analysis
        .corners
        .iter()
        .map(|c| c.corner.id.as_str())
        .collect();
    assert_eq!(ids, ["T1", "T2", "T3", "T4", "T5", "T6", "T7"]);
    let tamburello = analysis.corner("Tamburello").unwrap();
    assert!(tamburello.corner.start_m < 748.0 && 869.0 < tamburello.corner.end_m);
    let alta = analysis.corner("Variante Alta").unwrap();
    let rivazza = analysis.corner("Rivazza").unwrap();
    assert!(
        rivazza.corner.start_m - alta.corner.end_m > 300.0,
        "the approach to Rivazza is a straight"
    );
    // Straights are real segments, not slivers.
    let longest_straight = analysis
        .segments
        .iter()
        .filter(|s| s.kind == SegmentKind::Straight)
        .map(|s| s.end_m - s.start_m)
        .fold(0.0, f64::max);
    assert!(longest_straight > 300.0);

    // Variante Alta: the overshoot. Braked 8 m later (3229 against 3221 m), 71.5 against
    // 87.7 km/h, a gear lower: late braking and over-slowing, the biggest loss.
    let s = suggestions
        .iter()
        .find(|s| s.corner.as_deref() == Some("Variante Alta"))
        .unwrap();
    assert_eq!(s.cause, Cause::LateBrakingOverslowed, "{}", s.message);
    assert_eq!(s.kind, SuggestionType::Braking);
    let (lap_brake, ref_brake) = (
        alta.lap.brake_point_m.unwrap(),
        alta.reference.brake_point_m.unwrap(),
    );
    assert!(
        (lap_brake - ref_brake - 8.0).abs() <= 2.0,
        "{lap_brake} against {ref_brake}"
    );
    assert!(
        (alta.lap.min_speed_kmh - 71.5).abs() < 0.5
            && (alta.reference.min_speed_kmh - 87.7).abs() < 0.5
    );
    assert_eq!(alta.lap.gear_at_apex + 1, alta.reference.gear_at_apex);
    assert!(s.message.contains("a gear lower"), "{}", s.message);
    assert_eq!(suggestions[0].corner.as_deref(), Some("Variante Alta"));

    // Rivazza's brake points where the data has them (the rows' own read, ±3 m), each lap's
    // own: not the same point, and the lap's earlier.
    for (report, lap) in [(&rivazza.lap, &lap0), (&rivazza.reference, &lap2)] {
        let raw = raw_brake_point_m(lap, analysis.track_length_m, 3800.0, 4050.0);
        let measured = report.brake_point_m.unwrap();
        assert!(
            (measured - raw).abs() <= 3.0,
            "{measured} against the rows' {raw}"
        );
    }
    assert!(rivazza.lap.brake_point_m.unwrap() < rivazza.reference.brake_point_m.unwrap() - 4.0);

    // Gains where the lap made them: Tamburello (its exit) and Tosa.
    for corner in ["Tamburello", "Tosa"] {
        let gain = strengths
            .iter()
            .find(|s| s.corner.as_deref() == Some(corner))
            .unwrap_or_else(|| panic!("no strength at {corner}"));
        assert!(gain.time_gained_s >= 0.05 && gain.message.ends_with("keep that."));
    }
    let tamburello_gain = strengths
        .iter()
        .find(|s| s.corner.as_deref() == Some("Tamburello"))
        .unwrap();
    assert!(
        (tamburello_gain.time_gained_s - 0.31).abs() <= 0.05,
        "{}",
        tamburello_gain.time_gained_s
    );

    // Never an impossible order: brake point and turn-in at or before the apex, the
    // throttle back on after braking, full throttle after that.
    for c in &analysis.corners {
        for m in [&c.lap, &c.reference] {
            if let Some(b) = m.brake_point_m {
                assert!(
                    b <= m.apex_m,
                    "{} brakes at {b} after its apex {}",
                    c.corner.name,
                    m.apex_m
                );
                if let Some(p) = m.throttle_pickup_m {
                    assert!(
                        b < p,
                        "{}: braking at {b}, throttle back at {p}",
                        c.corner.name
                    );
                }
            }
            if let Some(t) = m.turn_in_m {
                assert!(t <= m.apex_m, "{}", c.corner.name);
            }
            if let (Some(p), Some(f)) = (m.throttle_pickup_m, m.full_throttle_m) {
                assert!(p <= f, "{}", c.corner.name);
            }
        }
    }

    // Swapping the laps flips every row, nothing else.
    for (x, y) in analysis.segments.iter().zip(&back.segments) {
        assert_eq!((&x.name, x.start_m, x.end_m), (&y.name, y.start_m, y.end_m));
        assert!((x.time_loss_s + y.time_loss_s).abs() <= 0.001, "{}", x.name);
    }
    let (_, rejected) = validate_suggestions(&analysis, suggestions.clone());
    assert!(rejected.is_empty(), "{rejected:?}");
    assert!(
        suggestions
            .windows(2)
            .all(|w| w[0].time_loss_s >= w[1].time_loss_s)
    );
    assert!(map.corners.len() == 7 && map.length_m == analysis.track_length_m);
}

#[tokio::test]
async fn the_heuristic_analyzer_is_deterministic() {
    let (lap0, lap2) = (
        imola_lap("imola-c7r-lap0.tsv"),
        imola_lap("imola-c7r-lap2.tsv"),
    );
    let analysis = analyze_laps(&lap0, &lap2).unwrap();
    let analyzer = HeuristicAnalyzer;
    assert_eq!(analyzer.name(), "heuristic");
    let first = analyzer.suggest(&analysis).await.unwrap();
    let again = analyzer.suggest(&analysis).await.unwrap();
    assert_eq!(first, again);
    assert_eq!(first, heuristic_suggestions(&analysis));
}

#[test]
fn errors_say_which_lap_and_why() {
    let lap = imola_lap("imola-c7r-lap2.tsv");
    let err = analyze(&lap.frames, None, &lap.frames[..10], None).unwrap_err();
    assert_eq!(
        err,
        AnalysisError::TooFewFrames {
            role: LapRole::Reference,
            found: 10,
            min: 20
        }
    );
    assert_eq!(err.to_string(), "reference: 10 frames, at least 20 needed");
    let half = &lap.frames[..lap.frames.len() / 2];
    assert!(matches!(
        analyze(half, None, &lap.frames, None),
        Err(AnalysisError::IncompleteLap {
            role: LapRole::Lap,
            ..
        })
    ));
    // The test track's lap against Imola: not the same track.
    let session = Session::simulate(3, 1, Vec::new());
    assert!(matches!(
        analyze(session.frames(2), None, &lap.frames, None),
        Err(AnalysisError::LengthMismatch { .. })
    ));
}

/// An out lap starts in the pit lane, at rest, metres past the line; its gap to a flying lap
/// is all in the pit lane and the first straight. Nothing explains more than that gap, and
/// the corners, driven as on the flying lap, explain next to nothing. (When the attribution
/// took the standing car's held speed for the metres before its first frame, they were
/// charged seconds each, and the start of the real game's out lap a minute.)
#[test]
fn an_out_lap_is_charged_where_it_lost() {
    let session = Session::simulate(7, 1, Vec::new());
    let reference = session.trace(2, None);
    let out = session.trace(1, Some(reference.length_m()));
    let analysis = analyze_traces(&out, &reference, &detect_corners(&reference));
    let gap = analysis.gap_s.abs();
    assert!(gap > 1.0, "an out lap is slower: {gap} s");
    assert!(
        analysis.from_line_loss_s.abs() <= gap,
        "from the line {} s of a {gap} s gap",
        analysis.from_line_loss_s
    );
    for s in &analysis.segments {
        assert!(
            s.own_loss_s.abs() <= gap,
            "{}: {} s of a {gap} s gap",
            s.name,
            s.own_loss_s
        );
    }
    for c in &analysis.corners {
        assert!(
            c.attributed_loss_s.abs() <= gap,
            "{}: {} s",
            c.corner.id,
            c.attributed_loss_s
        );
        if c.time_loss_s.abs() < 0.1 {
            assert!(
                c.attributed_loss_s.abs() < 0.25,
                "{}, driven alike ({:.3} s over its window), explains {:.3} s",
                c.corner.id,
                c.time_loss_s,
                c.attributed_loss_s
            );
        }
    }
}
