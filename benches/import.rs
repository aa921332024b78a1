//! Import of a large capture into SQLite, end to end: read the pcap, parse every datagram,
//! cut laps, encode their telemetry and commit each lap — the `import` command's path.
//!
//! `cargo bench -p purple-sector-benches --bench import`
//!
//! 146 400 car-info packets (30 laps of the real Imola lap's rows). The baseline in the same
//! group is reading the capture alone (the floor of any import). Target: ≥ 2 M frames/s.
//!
//! Then, outside criterion, the import's two stages alone and the ratio the import is held
//! to (≥ 0.8 × its slowest stage, i.e. the stages overlap): the reader's (read the capture,
//! parse every datagram, cut laps) and the writer's (encode and commit each lap into a fresh
//! SQLite file, unsynced and synced once at the end, as the import does), medians of seven runs each, printed as `import stages: …`.

#![allow(clippy::expect_used)]

use std::hint::black_box;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::path::PathBuf;
use std::sync::Arc;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use purple_sector_benches::{lap_packets, median_s};
use purple_sector_core::capture::{CaptureReader, CaptureWriter, LinkType};
use purple_sector_core::import::capture_inputs;
use purple_sector_core::lap::{Lap, PartialCause};
use purple_sector_core::protocol::CAR_INFO_LEN;
use purple_sector_core::record::{Pipeline, RecordSummary, StoreOp, import_inputs};
use purple_sector_core::store::{NewSession, SessionSource, SqliteStore, Store, codec};

const PACKETS: usize = 146_400;

fn capture_file() -> PathBuf {
    let path = std::env::temp_dir().join(format!("ps-bench-import-{}.pcap", std::process::id()));
    let game = SocketAddrV4::new(Ipv4Addr::LOCALHOST, 9996);
    let client = SocketAddrV4::new(Ipv4Addr::LOCALHOST, 50_000);
    let mut writer = CaptureWriter::create(&path, LinkType::Ethernet).expect("create capture");
    let packets = lap_packets(PACKETS);
    for (k, packet) in packets.chunks_exact(CAR_INFO_LEN).take(PACKETS).enumerate() {
        let t_ns = 1_700_000_000_000_000_000 + k as u64 * 3_003_003;
        writer
            .write_datagram(t_ns, game, client, packet)
            .expect("write");
    }
    writer.finish().expect("finish");
    path
}

fn import(c: &mut Criterion) {
    let capture = capture_file();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let mut group = c.benchmark_group("import capture");
    group.throughput(Throughput::Elements(PACKETS as u64));
    group.sample_size(10);

    group.bench_function("baseline: read the capture", |b| {
        b.iter(|| {
            let mut reader = CaptureReader::open(&capture).expect("open");
            let mut n = 0usize;
            while let Ok(Some(d)) = reader.next_datagram() {
                n += d.payload.len();
            }
            black_box(n)
        })
    });

    let db_dir = std::env::temp_dir().join(format!("ps-bench-import-db-{}", std::process::id()));
    std::fs::create_dir_all(&db_dir).expect("temp dir");
    let mut run = 0u32;
    group.bench_function("into SQLite", |b| {
        b.iter(|| {
            run += 1;
            let db = db_dir.join(format!("{run}.db"));
            let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&db).expect("open db"));
            let summary = import_once(&capture, store, &runtime);
            assert_eq!(summary.pipeline.frames, PACKETS as u64);
            black_box(summary.laps.len())
        })
    });
    group.finish();
    stages(&capture, &db_dir, &runtime);
    let _ = std::fs::remove_dir_all(&db_dir);
    let _ = std::fs::remove_file(&capture);
}

/// The `import` command's path: the capture into a new session of `store`.
fn import_once(
    capture: &std::path::Path,
    store: Arc<dyn Store>,
    runtime: &tokio::runtime::Runtime,
) -> RecordSummary {
    let inputs = capture_inputs(capture, &Default::default(), Default::default()).expect("capture");
    runtime
        .block_on(import_inputs(
            store,
            NewSession::new("bench", SessionSource::Import),
            inputs,
        ))
        .expect("store")
        .expect("source")
}

/// The reader's stage alone: the capture read, parsed and cut into laps.
fn read_and_cut(capture: &std::path::Path) -> Vec<Lap> {
    let inputs = capture_inputs(capture, &Default::default(), Default::default()).expect("capture");
    let mut pipeline = Pipeline::new(None).completing_laps_at_the_line();
    let mut ops = Vec::new();
    let mut laps = Vec::new();
    let mut keep = |ops: &mut Vec<StoreOp>| {
        for op in ops.drain(..) {
            if let StoreOp::SaveLap(lap) = op {
                laps.push(lap);
            }
        }
    };
    for input in inputs {
        pipeline.feed(input.expect("input"), &mut ops);
        keep(&mut ops);
    }
    pipeline.finish(PartialCause::Stopped, &mut ops);
    keep(&mut ops);
    laps
}

/// The two stages alone and the whole import, medians of seven runs; prints the ratio.
fn stages(capture: &std::path::Path, db_dir: &std::path::Path, runtime: &tokio::runtime::Runtime) {
    const RUNS: usize = 7;
    let laps = read_and_cut(capture);
    let frames: usize = laps.iter().map(|l| l.frames.len()).sum();
    let reader = median_s(RUNS, || drop(black_box(read_and_cut(capture))));
    let encode = median_s(RUNS, || {
        for lap in &laps {
            black_box(codec::encode(&lap.frames).expect("encode"));
        }
    });
    // Each run of the writer and of the import into a new database, opened before its run.
    let new_dbs = |name: &str| -> Vec<Arc<dyn Store>> {
        (0..RUNS)
            .map(|run| {
                let db = db_dir.join(format!("stage-{name}-{run}.db"));
                Arc::new(SqliteStore::open(db).expect("open db")) as Arc<dyn Store>
            })
            .collect()
    };
    let mut stores = new_dbs("writer");
    let sessions: Vec<_> = stores
        .iter()
        .map(|store| {
            let new = NewSession::new("bench", SessionSource::Import);
            runtime
                .block_on(store.create_session(new))
                .expect("session")
        })
        .collect();
    let mut sessions = sessions.into_iter();
    let writer = median_s(RUNS, || {
        let (store, session) = (stores.pop().expect("a store a run"), sessions.next_back());
        let session = session.expect("a session a run");
        // As the import writes: unsynced, one sync at the end.
        runtime.block_on(async {
            for lap in &laps {
                store
                    .save_lap_unsynced(session.id, lap)
                    .await
                    .expect("save");
            }
            store.sync().await.expect("sync");
        })
    });
    let mut stores = new_dbs("import");
    let import = median_s(RUNS, || {
        let store = stores.pop().expect("a store a run");
        black_box(import_once(capture, store, runtime));
    });
    let rate = |s: f64| PACKETS as f64 / s / 1e6;
    let slowest = reader.max(writer);
    eprintln!(
        "import stages: {PACKETS} packets, {} laps, {frames} frames; reader (read, parse, cut) {:.2} M frames/s, writer (encode, commit) {:.2} M frames/s (of which the encode alone {:.2} M frames/s), import {:.2} M frames/s = {:.2}x the slowest stage (target >= 0.8), {:.2}x the reader, {:.2}x the encode",
        laps.len(),
        rate(reader),
        rate(writer),
        rate(encode),
        rate(import),
        slowest / import,
        reader / import,
        encode / import,
    );
}

criterion_group!(benches, import);
criterion_main!(benches);
