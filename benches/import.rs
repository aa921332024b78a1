//! Import of a large capture into SQLite, end to end: read the pcap, parse every datagram,
//! cut laps, encode their telemetry and commit each lap — the `import` command's path.
//!
//! `cargo bench -p purple-sector-benches --bench import`
//!
//! 146 400 car-info packets (30 laps of the real Imola lap's rows). The baseline in the same
//! group is reading the capture alone (the floor of any import). Target: ≥ 2 M frames/s.

#![allow(clippy::expect_used)]

use std::hint::black_box;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::path::PathBuf;
use std::sync::Arc;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use purple_sector_benches::lap_packets;
use purple_sector_core::capture::{CaptureReader, CaptureWriter, LinkType};
use purple_sector_core::import::capture_inputs;
use purple_sector_core::protocol::CAR_INFO_LEN;
use purple_sector_core::record::import_inputs;
use purple_sector_core::store::{NewSession, SessionSource, SqliteStore, Store};

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
            let inputs =
                capture_inputs(&capture, &Default::default(), Default::default()).expect("capture");
            let summary = runtime
                .block_on(import_inputs(
                    store,
                    NewSession::new("bench", SessionSource::Import),
                    inputs,
                ))
                .expect("store")
                .expect("source");
            assert_eq!(summary.pipeline.frames, PACKETS as u64);
            black_box(summary.laps.len())
        })
    });
    group.finish();
    let _ = std::fs::remove_dir_all(&db_dir);
    let _ = std::fs::remove_file(&capture);
}

criterion_group!(benches, import);
criterion_main!(benches);
