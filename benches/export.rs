//! Exports against the formatting alone: a session of 4 laps of 30 000 frames each, stored in
//! SQLite, exported to a file as JSON, CSV, pcap and MoTeC; beside each, the same laps
//! formatted from memory into a sink (the encode alone, no store, no disk).
//!
//! `cargo bench -p purple-sector-benches --bench export`
//!
//! Target: each export at least as fast as its encode alone (ratio printed: export time /
//! encode time, ≤ 1.0 is the target; the store's decode runs beside the formatting).

use std::hint::black_box;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use purple_sector_benches::imola_lap;
use purple_sector_benches::store_data::resampled_333hz;
use purple_sector_core::capture::SessionCapture;
use purple_sector_core::export::{CsvWriter, ExportFormat, JsonWriter, LapWriter, export};
use purple_sector_core::lap::{Lap, LapKind, LapTime};
use purple_sector_core::store::{
    LapRecord, NewSession, Session, SessionSource, SqliteStore, Store,
};
use purple_sector_core::telemetry::Frame;

const LAPS: i32 = 4;

fn ok<T, E: std::fmt::Display>(result: Result<T, E>) -> T {
    match result {
        Ok(v) => v,
        Err(e) => panic!("{e}"),
    }
}

fn encode(format: ExportFormat, session: &Session, laps: &[(LapRecord, Vec<Frame>)]) -> u64 {
    let sink = std::io::sink();
    let mut writer: Box<dyn LapWriter> = match format {
        ExportFormat::Csv => Box::new(ok(CsvWriter::new(sink, session))),
        ExportFormat::Json => Box::new(ok(JsonWriter::new(sink, session))),
        ExportFormat::Pcap => Box::new(ok(SessionCapture::new(sink, session))),
        ExportFormat::Ld => unreachable!("the .ld encode needs a seekable file"),
    };
    let mut frames = 0;
    for (lap, f) in laps {
        ok(writer.write_lap(lap, f));
        frames += f.len() as u64;
    }
    ok(writer.finish());
    frames
}

fn exports(c: &mut Criterion) {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("export-bench-{}", std::process::id()));
    ok(std::fs::create_dir_all(&dir));
    let rt = ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build());
    let lap_frames = resampled_333hz(&imola_lap());
    let store = ok(SqliteStore::open(dir.join("bench.db")));
    let (session, laps) = rt.block_on(async {
        let session = ok(store
            .create_session(NewSession::new("bench", SessionSource::Demo))
            .await);
        let mut laps = Vec::new();
        for n in 0..LAPS {
            let offset = u64::try_from(n).unwrap_or(0) * 120_000_000_000;
            let frames: Vec<Frame> = lap_frames
                .iter()
                .map(|f| Frame {
                    time_ns: f.time_ns + offset,
                    lap_count: n,
                    ..*f
                })
                .collect();
            let lap = Lap {
                stint: 0,
                number: n + 1,
                kind: LapKind::Flying,
                invalid_reason: None,
                time: Some(LapTime::official(108_633)),
                frames: frames.clone(),
            };
            let record = ok(store.save_lap(session.id, &lap).await);
            laps.push((record, frames));
        }
        (session, laps)
    });
    let records: Vec<LapRecord> = laps.iter().map(|(l, _)| l.clone()).collect();
    let total: u64 = laps.iter().map(|(_, f)| f.len() as u64).sum();

    let mut group = c.benchmark_group(format!("export ({LAPS} laps, {total} frames)"));
    group.throughput(Throughput::Elements(total));
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(8));
    let mut medians = Vec::new();
    for (name, format) in [
        ("json", ExportFormat::Json),
        ("csv", ExportFormat::Csv),
        ("pcap", ExportFormat::Pcap),
        ("ld", ExportFormat::Ld),
    ] {
        let path = dir.join(format!("out.{name}"));
        let mut export_ns = Vec::new();
        group.bench_function(format!("{name}: store → file"), |b| {
            b.iter(|| {
                let started = Instant::now();
                let summary = rt.block_on(export(&store, &session, &records, format, &path, true));
                export_ns.push(started.elapsed().as_nanos());
                black_box(ok(summary));
            })
        });
        if format == ExportFormat::Ld {
            continue;
        }
        let mut encode_ns = Vec::new();
        group.bench_function(format!("{name}: encode alone (memory → sink)"), |b| {
            b.iter(|| {
                let started = Instant::now();
                black_box(encode(format, &session, black_box(&laps)));
                encode_ns.push(started.elapsed().as_nanos());
            })
        });
        let median = |v: &mut Vec<u128>| {
            v.sort_unstable();
            v.get(v.len() / 2).copied().unwrap_or(0) as f64
        };
        medians.push((name, median(&mut export_ns), median(&mut encode_ns)));
    }
    group.finish();
    for (name, export_ns, encode_ns) in medians {
        eprintln!(
            "{name}: export {:.0} ms, encode alone {:.0} ms, ratio {:.2} ({:.0} k frames/s)",
            export_ns / 1e6,
            encode_ns / 1e6,
            export_ns / encode_ns.max(1.0),
            total as f64 / (export_ns / 1e9) / 1e3
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(benches, exports);
criterion_main!(benches);
