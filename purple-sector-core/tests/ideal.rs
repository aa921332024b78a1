//! Analysis against the ideal lap: the best of each segment across laps.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use purple_sector_core::analysis::{LapTrace, analyze_against_ideal, detect_corners};
use purple_sector_core::sim::{Mistake, MistakeKind, SimConfig, Simulator, Track};
use purple_sector_core::telemetry::Frame;

#[test]
fn every_row_is_a_loss_against_the_best_done_there() {
    let track = Track::by_name("test").unwrap();
    let t1 = track.corner("T1").unwrap().name.clone();
    let t3 = track.corner("T3").unwrap().name.clone();
    let mut sim = Simulator::new(SimConfig {
        laps: 3,
        seed: 3,
        // Lap 2 loses at T3, lap 3 at T1, lap 4 at both.
        mistakes: vec![
            Mistake::new(2, t3.as_str(), MistakeKind::LateThrottle, 30.0),
            Mistake::new(3, t1.as_str(), MistakeKind::EarlyBraking, 30.0),
            Mistake::new(4, t1.as_str(), MistakeKind::EarlyBraking, 30.0),
            Mistake::new(4, t3.as_str(), MistakeKind::LateThrottle, 30.0),
        ],
        ..SimConfig::new(track)
    });
    let mut laps: Vec<Vec<Frame>> = vec![Vec::new(); 5];
    for step in sim.by_ref() {
        let count = step.car_info.lap_count as usize;
        if let Some(lap) = laps.get_mut(count) {
            lap.push(Frame::from_owned_car_info(&step.car_info, step.sim_time_ns));
        }
    }
    let reports = sim.lap_reports().to_vec();
    let official = |lap: usize| {
        reports
            .iter()
            .find(|r| r.lap as usize == lap)
            .map(|r| r.reported_ms)
    };
    let reference = LapTrace::new(&laps[1], official(2)).unwrap();
    let traces: Vec<LapTrace> = (1..4)
        .map(|i| LapTrace::with_length(&laps[i], official(i + 1), reference.length_m()).unwrap())
        .collect();
    let corners = detect_corners(&reference);
    let worst = &traces[2];
    let (analysis, ideal) = analyze_against_ideal(worst, &traces, &corners).unwrap();

    // The ideal is faster than every lap, and the gap is the lap's time minus it.
    let best_lap_ms = traces.iter().map(LapTrace::lap_time_ms).min().unwrap();
    assert!(
        ideal.time_ms < f64::from(best_lap_ms),
        "{} vs {best_lap_ms}",
        ideal.time_ms
    );
    let expected_gap_s = (f64::from(worst.lap_time_ms()) - ideal.time_ms) / 1000.0;
    assert!(
        (analysis.gap_s - expected_gap_s).abs() < 0.002,
        "{} vs {expected_gap_s}",
        analysis.gap_s
    );
    // Against the best done in each segment, no segment is gained.
    for s in &analysis.segments {
        assert!(
            s.time_loss_s > -0.000_5,
            "{} gained {}",
            s.name,
            s.time_loss_s
        );
    }
    assert_eq!(analysis.segments.len(), ideal.segments.len());
    // The two mistakes show as the biggest losses.
    let mut rows = analysis.corners.clone();
    rows.sort_by(|a, b| b.time_loss_s.total_cmp(&a.time_loss_s));
    assert!(
        rows[0].time_loss_s > 0.05 && rows[1].time_loss_s > 0.05,
        "{rows:?}"
    );
}
