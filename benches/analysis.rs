//! Analysing a lap against a reference, from frames to suggestions — the `analyze` command's
//! path.
//!
//! `cargo bench -p purple-sector-benches --bench analysis`
//!
//! Two simulated flying laps of Imola at the game's 333 Hz (≈ 33 000 frames each), the
//! second braking early into one corner. The baseline in the same group is putting one lap
//! on the distance grid alone (the floor: every analysis does it twice); `analyze` finds the
//! corners on the reference; the same from the laps' stored columns (what the store gives
//! `analyze LAP` and the server: no frames made); the last case uses the track's map as
//! `analyze LAP` does.
//! Target: a whole analysis ≤ 10 ms.

#![allow(clippy::expect_used)]

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use purple_sector_core::analysis::{
    LapTrace, analyze, analyze_traces, detect_corners, heuristic_strengths, heuristic_suggestions,
};
use purple_sector_core::sim::{Mistake, MistakeKind, SimConfig, Simulator, Track};
use purple_sector_core::store::Columns;
use purple_sector_core::telemetry::Frame;
use purple_sector_core::track::TrackMap;

/// Frames of laps 2 (the reference) and 3, with their official times.
fn imola_laps() -> ((Vec<Frame>, i32), (Vec<Frame>, i32)) {
    let mut config = SimConfig::new(Track::imola());
    config.laps = 2;
    config.mistakes = vec![Mistake::new(3, "T5", MistakeKind::EarlyBraking, 30.0)];
    let mut sim = Simulator::new(config);
    let mut laps: Vec<Vec<Frame>> = vec![Vec::new(); 4];
    while let Some(step) = sim.step() {
        let n = step.car_info.lap_count as usize;
        laps[n].push(Frame::from_owned_car_info(&step.car_info, step.sim_time_ns));
    }
    let official = |lap: usize| sim.lap_reports()[lap - 1].reported_ms;
    let (reference, lap) = (official(2), official(3));
    let mut laps = laps.into_iter().skip(1);
    let reference_frames = laps.next().expect("lap 2");
    let lap_frames = laps.next().expect("lap 3");
    ((lap_frames, lap), (reference_frames, reference))
}

fn analysis(c: &mut Criterion) {
    let ((lap, lap_ms), (reference, reference_ms)) = imola_laps();
    let length = LapTrace::new(&reference, Some(reference_ms))
        .expect("reference trace")
        .length_m();
    let mut group = c.benchmark_group("analysis");
    group.throughput(Throughput::Elements((lap.len() + reference.len()) as u64));
    group.sample_size(30);

    group.bench_function(
        format!("baseline: one lap on the grid ({} frames)", lap.len()),
        |b| {
            b.iter(|| LapTrace::with_length(black_box(&lap), Some(lap_ms), length).expect("trace"));
        },
    );
    group.bench_function("analyze: lap against reference", |b| {
        b.iter(|| {
            analyze(
                black_box(&lap),
                Some(lap_ms),
                black_box(&reference),
                Some(reference_ms),
            )
            .expect("analysis")
        });
    });
    group.bench_function("analyze + heuristic suggestions", |b| {
        b.iter(|| {
            let analysis = analyze(
                black_box(&lap),
                Some(lap_ms),
                black_box(&reference),
                Some(reference_ms),
            )
            .expect("analysis");
            heuristic_suggestions(&analysis)
        });
    });
    // What a stored lap is analysed from (`Store::lap_columns`, as `analyze LAP` and the
    // server load it): the two laps' columns, no frames.
    let lap_columns = Columns::from_frames(&lap, &LapTrace::CHANNELS);
    let reference_columns = Columns::from_frames(&reference, &LapTrace::CHANNELS);
    group.bench_function(
        "analyze from stored columns: traces, corners, analysis",
        |b| {
            b.iter(|| {
                let reference_trace =
                    LapTrace::from_columns(black_box(&reference_columns), Some(reference_ms), None)
                        .expect("reference");
                let lap_trace = LapTrace::from_columns(
                    black_box(&lap_columns),
                    Some(lap_ms),
                    Some(reference_trace.length_m()),
                )
                .expect("lap");
                let corners = detect_corners(&reference_trace);
                analyze_traces(&lap_trace, &reference_trace, &corners)
            });
        },
    );
    // What `analyze LAP` does on a stored track: both laps on the map's grid, the map's
    // corners, suggestions and strengths (the map itself is built once and kept).
    let reference_trace =
        LapTrace::with_length(&reference, Some(reference_ms), length).expect("reference trace");
    let map = TrackMap::build("imola", "", &[&reference_trace]).expect("map");
    group.bench_function(
        "on the track map: traces, analysis, suggestions, strengths",
        |b| {
            b.iter(|| {
                let lap_trace = LapTrace::with_length(black_box(&lap), Some(lap_ms), map.length_m)
                    .expect("lap");
                let reference_trace =
                    LapTrace::with_length(black_box(&reference), Some(reference_ms), map.length_m)
                        .expect("reference");
                let analysis = analyze_traces(&lap_trace, &reference_trace, &map.corners);
                (
                    heuristic_suggestions(&analysis),
                    heuristic_strengths(&analysis),
                )
            });
        },
    );
    group.finish();
}

criterion_group!(benches, analysis);
criterion_main!(benches);
