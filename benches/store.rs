//! Saving and loading a lap of 30 000 frames (90 s at 333 Hz), and the telemetry codec alone.
//!
//! `cargo bench -p purple-sector-benches --bench store`
//!
//! Targets: ≤ 12 B/frame for the 16 principal channels on a 333 Hz lap, bit-exact; lap save
//! ≤ 5 ms and load ≤ 2 ms for 30 000 frames.
//!
//! - `store lap (30 000 frames)`: [`SqliteStore`] on a file (WAL, the lap commit synced), save
//!   (encode + one transaction), the per-second checkpoint of the lap in progress (same
//!   work, replacing its row, not synced), load of every field, load of the principal
//!   channels only (as frames, and as columns: all 16, and two);
//!   beside them the original app's layout as the baseline: the frames as one JSON text (an
//!   array of objects with the original `TelemetryFrame` fields plus ours), serialised and
//!   stored as TEXT in SQLite with the same pragmas, then selected and parsed back.
//! - `codec (30 000 frames)`: encode and decode, both groups and the principal group alone
//!   (as frames and as columns).
//!
//! Before the timings, `store targets: …` prints the targets as ratios against
//! baselines measured in the same run (see [`targets`]).
//!
//! Bytes per frame (principal and full, on the synthetic 333 Hz lap and on the real Imola
//! lap's ~45 Hz rows as they are, plus the JSON baseline) and where the principal bytes go
//! are printed to stderr before the timings. The 333 Hz lap is made by
//! `purple_sector_benches::store_data::resampled_333hz` (its docs say how: the real lap
//! interpolated, modelled channels with sensor noise).

use std::hint::black_box;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use purple_sector_benches::store_data::{self as testing, JsonTextBaseline};
use purple_sector_benches::{imola_lap, median};
use purple_sector_core::lap::{Lap, LapKind, LapTime};
use purple_sector_core::store::codec::{self, Channel, PRINCIPAL_CHANNEL_NAMES};
use purple_sector_core::store::{LapId, NewSession, SessionId, SessionSource, SqliteStore, Store};
use purple_sector_core::telemetry::Frame;

const FRAMES: usize = 30_000;

/// Runs of each side of a printed target ratio.
const TARGET_RUNS: usize = 15;

/// A directory under Cargo's target tmp (a real disk, so the lap commit's fsync is real),
/// removed at drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Self {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("store-bench-{}", std::process::id()));
        if let Err(e) = std::fs::create_dir_all(&dir) {
            panic!("{}: {e}", dir.display());
        }
        Self(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn ok<T, E: std::fmt::Display>(result: Result<T, E>) -> T {
    match result {
        Ok(v) => v,
        Err(e) => panic!("{e}"),
    }
}

fn lap_of(frames: &[Frame]) -> Lap {
    Lap {
        stint: 0,
        number: 2,
        kind: LapKind::Flying,
        invalid_reason: None,
        time: Some(LapTime::official(108_633)),
        frames: frames.to_vec(),
    }
}

fn same_bits(a: &[Frame], b: &[Frame]) -> bool {
    a.len() == b.len()
        && a.iter().zip(b).all(|(x, y)| {
            x.time_ns == y.time_ns && x.to_car_info().encode() == y.to_car_info().encode()
        })
}

/// Prints bytes per frame for a lap, and checks the round trip is bit-exact.
fn report(name: &str, frames: &[Frame], json_bytes: Option<usize>) {
    let n = frames.len() as f64;
    let encoded = ok(codec::encode(frames));
    assert!(
        same_bits(
            &ok(codec::decode(&encoded.principal, &encoded.rest)),
            frames
        ),
        "{name}: not bit-exact"
    );
    eprintln!(
        "{name}: {} frames, principal {:.2} B/frame, full {:.2} B/frame (rest {:.2}){}",
        frames.len(),
        encoded.principal.len() as f64 / n,
        encoded.len() as f64 / n,
        encoded.rest.len() as f64 / n,
        json_bytes.map_or(String::new(), |b| format!(
            "; JSON text {:.1} B/frame",
            b as f64 / n
        )),
    );
}

/// The first flying lap of the built-in simulator at Imola, as the recorder would store it
/// (receive times = simulated times from a fixed epoch).
fn simulator_lap() -> Vec<Frame> {
    let track = ok(purple_sector_core::sim::Track::by_name("imola"));
    let sim = purple_sector_core::sim::Simulator::new(purple_sector_core::sim::SimConfig {
        laps: 1,
        ..purple_sector_core::sim::SimConfig::new(track)
    });
    sim.filter(|step| step.car_info.lap_count == 1)
        .map(|step| {
            Frame::from_owned_car_info(&step.car_info, 1_700_000_000_000_000_000 + step.sim_time_ns)
        })
        .collect()
}

fn print_sizes(synthetic: &[Frame], logged: &[Frame], json_bytes: usize) {
    eprintln!();
    report("333 Hz lap (synthetic, whole lap)", synthetic, None);
    report(
        "333 Hz lap (first 30 000 frames)",
        &synthetic[..FRAMES],
        Some(json_bytes),
    );
    report("Imola lap (real ~45 Hz rows)", logged, None);
    report(
        "Imola lap (built-in simulator, 333 Hz, no sensor noise)",
        &simulator_lap(),
        None,
    );
    for (name, frames) in [("333 Hz", synthetic), ("Imola 45 Hz", logged)] {
        let bytes = ok(codec::principal_channel_bytes(frames));
        let n = frames.len() as f64;
        let parts: Vec<String> = PRINCIPAL_CHANNEL_NAMES
            .iter()
            .zip(bytes)
            .map(|(channel, b)| format!("{channel} {:.2}", b as f64 / n))
            .collect();
        eprintln!(
            "  {name} principal B/frame per channel: {}",
            parts.join(", ")
        );
    }
    eprintln!();
}

/// The store targets, each against its baseline in the same run (medians of
/// [`TARGET_RUNS`] interleaved rounds), printed as `store targets: …`: the synced save against the encode
/// plus 1.5 times one write and fsync of the same bytes to a new file on the same disk; the
/// principal channels' load in ms; every field's load against the codec's decode alone.
fn targets(
    rt: &tokio::runtime::Runtime,
    store: &SqliteStore,
    session: SessionId,
    lap: &Lap,
    kept: LapId,
    dir: &std::path::Path,
) {
    use std::io::Write;
    let encoded = ok(codec::encode(&lap.frames));
    let path = dir.join("fsync-baseline.bin");
    let time = |f: &mut dyn FnMut()| {
        let started = Instant::now();
        f();
        started.elapsed().as_secs_f64()
    };
    // Interleaved, one of each a round, so that the machine's drifts fall on both sides of
    // every ratio alike; medians of the rounds.
    let mut runs: [Vec<f64>; 7] = Default::default();
    for _ in 0..TARGET_RUNS {
        // The save alone: the delete that makes room for the next is not timed.
        let mut saved = None;
        runs[0].push(time(&mut || {
            saved = Some(ok(rt.block_on(store.save_lap(session, black_box(lap)))).id);
        }));
        if let Some(id) = saved {
            ok(rt.block_on(store.delete_lap(id)));
        }
        runs[1].push(time(&mut || {
            drop(black_box(ok(codec::encode(black_box(&lap.frames)))));
        }));
        runs[2].push(time(&mut || {
            let mut file = ok(std::fs::File::create(&path));
            ok(file.write_all(black_box(&encoded.principal)));
            ok(file.write_all(black_box(&encoded.rest)));
            ok(file.sync_data());
        }));
        runs[3].push(time(&mut || {
            drop(black_box(ok(
                rt.block_on(store.lap_principal_frames(black_box(kept)))
            )));
        }));
        runs[4].push(time(&mut || {
            let columns = store.lap_columns(black_box(kept), &Channel::ALL);
            drop(black_box(ok(rt.block_on(columns))));
        }));
        runs[5].push(time(&mut || {
            drop(black_box(
                ok(rt.block_on(store.lap_frames(black_box(kept)))),
            ));
        }));
        runs[6].push(time(&mut || {
            drop(black_box(ok(codec::decode(
                black_box(&encoded.principal),
                black_box(&encoded.rest),
            ))));
        }));
    }
    let [
        save,
        encode,
        fsync,
        load_principal,
        load_columns,
        load,
        decode,
    ] = runs.map(median);
    let ms = |s: f64| s * 1e3;
    eprintln!(
        "store targets: {} frames, {:.2} MB encoded; save (synced) {:.1} ms / (encode {:.1} ms + 1.5 x write+fsync of the same bytes {:.1} ms) = {:.2} (target <= 1); load of the principal channels as columns {:.2} ms, as frames {:.2} ms (target <= 2 ms); load of every field {:.1} ms / codec decode {:.1} ms = {:.2} (target <= 1.2)",
        lap.frames.len(),
        encoded.len() as f64 / 1e6,
        ms(save),
        ms(encode),
        ms(fsync),
        save / (encode + 1.5 * fsync),
        ms(load_columns),
        ms(load_principal),
        ms(load),
        ms(decode),
        load / decode,
    );
}

fn store(c: &mut Criterion) {
    let lap = imola_lap();
    let synthetic = testing::resampled_333hz(&lap);
    let logged = testing::logged_frames(&lap);
    assert!(synthetic.len() >= FRAMES);
    let frames = &synthetic[..FRAMES];
    let scratch = Scratch::new();
    let rt = ok(testing::runtime());

    let store = ok(SqliteStore::open(scratch.0.join("store.db")));
    let session =
        ok(rt.block_on(store.create_session(NewSession::new("bench", SessionSource::Demo)))).id;
    let lap = lap_of(frames);
    let kept = ok(rt.block_on(store.save_lap(session, &lap))).id;
    assert!(same_bits(&ok(rt.block_on(store.lap_frames(kept))), frames));

    let mut json = ok(JsonTextBaseline::open(&scratch.0.join("json.db")));
    let json_id = ok(json.save(2, frames));
    let json_bytes = ok(json.stored_len(json_id));
    assert_eq!(ok(json.load(json_id)).map(|f| f.len()), Some(FRAMES));
    print_sizes(&synthetic, &logged, json_bytes);
    targets(&rt, &store, session, &lap, kept, &scratch.0);

    let mut group = c.benchmark_group(format!("store lap ({FRAMES} frames)"));
    group.throughput(Throughput::Elements(FRAMES as u64));
    group.sample_size(20);
    group.bench_function("sqlite save (codec, one transaction, synced)", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let start = Instant::now();
                let id = ok(rt.block_on(store.save_lap(session, black_box(&lap)))).id;
                total += start.elapsed();
                ok(rt.block_on(store.delete_lap(id)));
            }
            total
        })
    });
    group.bench_function("sqlite checkpoint (replaces the row, not synced)", |b| {
        b.iter(|| ok(rt.block_on(store.checkpoint_lap(session, black_box(&lap)))))
    });
    ok(rt.block_on(store.close_checkpoint(session)));
    group.bench_function("sqlite load, every field", |b| {
        b.iter(|| ok(rt.block_on(store.lap_frames(black_box(kept)))))
    });
    group.bench_function("sqlite load, principal channels", |b| {
        b.iter(|| ok(rt.block_on(store.lap_principal_frames(black_box(kept)))))
    });
    group.bench_function("sqlite load, principal channels as columns", |b| {
        b.iter(|| ok(rt.block_on(store.lap_columns(black_box(kept), &Channel::ALL))))
    });
    group.bench_function("sqlite load, speed and position as columns", |b| {
        let channels = [Channel::PositionNormalized, Channel::SpeedKmh];
        b.iter(|| ok(rt.block_on(store.lap_columns(black_box(kept), &channels))))
    });
    // The same on 30 000 frames of the built-in simulator's lap (no sensor noise: the
    // telemetry is ~8× smaller than the noisy lap's).
    let simulated = simulator_lap();
    let sim_lap = lap_of(&simulated[..FRAMES.min(simulated.len())]);
    let sim_kept = ok(rt.block_on(store.save_lap(session, &sim_lap))).id;
    group.bench_function("sqlite save, simulator lap (synced)", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let start = Instant::now();
                let id = ok(rt.block_on(store.save_lap(session, black_box(&sim_lap)))).id;
                total += start.elapsed();
                ok(rt.block_on(store.delete_lap(id)));
            }
            total
        })
    });
    group.bench_function("sqlite load every field, simulator lap", |b| {
        b.iter(|| ok(rt.block_on(store.lap_frames(black_box(sim_kept)))))
    });
    group.bench_function("baseline: JSON text save", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let start = Instant::now();
                let id = ok(json.save(2, black_box(frames)));
                total += start.elapsed();
                ok(json.delete(id));
            }
            total
        })
    });
    group.bench_function("baseline: JSON text load", |b| {
        b.iter(|| ok(json.load(black_box(json_id))))
    });
    group.finish();

    let encoded = ok(codec::encode(frames));
    let mut group = c.benchmark_group(format!("codec ({FRAMES} frames)"));
    group.throughput(Throughput::Elements(FRAMES as u64));
    group.sample_size(20);
    group.bench_function("encode, every field", |b| {
        b.iter(|| ok(codec::encode(black_box(frames))))
    });
    group.bench_function("encode, principal channels", |b| {
        b.iter(|| ok(codec::encode_principal(black_box(frames))))
    });
    group.bench_function("decode, every field", |b| {
        b.iter(|| {
            ok(codec::decode(
                black_box(&encoded.principal),
                black_box(&encoded.rest),
            ))
        })
    });
    group.bench_function("decode, principal channels", |b| {
        b.iter(|| ok(codec::decode_principal(black_box(&encoded.principal))))
    });
    group.bench_function("decode, principal channels as columns", |b| {
        b.iter(|| {
            ok(codec::decode_columns(
                black_box(&encoded.principal),
                &Channel::ALL,
            ))
        })
    });
    group.finish();
    drop(store);
    drop(json);
    drop(scratch);
}

criterion_group!(benches, store);
criterion_main!(benches);
