//! The league server's store against the embedded one, in one run on one machine: save and
//! load of a 30 000-frame lap, and `import` of a 146 400-packet capture end to end, on SQLite
//! (a file, the lap commit synced) and on PostgreSQL (a schema of its own, dropped after).
//!
//! `PURPLE_SECTOR_TEST_POSTGRES_URL=postgres://… cargo bench -p purple-sector-benches --bench league`
//!
//! Targets: PostgreSQL's save and load within 2× of SQLite's; import into PostgreSQL
//! ≥ 1 M frames/s. Each figure is the median of several runs; ratios are printed.
//! Without a PostgreSQL URL it says so and measures nothing.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::future::Future;
use std::hint::black_box;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::sync::Arc;
use std::time::{Duration, Instant};

use purple_sector_benches::store_data::resampled_333hz;
use purple_sector_benches::{imola_lap, lap_packets};
use purple_sector_core::capture::{CaptureWriter, LinkType};
use purple_sector_core::import::capture_inputs;
use purple_sector_core::lap::{Lap, LapKind, LapTime};
use purple_sector_core::protocol::CAR_INFO_LEN;
use purple_sector_core::record::import_inputs;
use purple_sector_core::store::{
    NewSession, PostgresStore, SessionId, SessionSource, SqliteStore, Store,
};

const FRAMES: usize = 30_000;
const PACKETS: usize = 146_400;
const RUNS: usize = 11;

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

/// The median of `RUNS` runs of `f` (after one to warm up).
fn measure<F, Fut>(runtime: &tokio::runtime::Runtime, mut f: F) -> Duration
where
    F: FnMut(usize) -> Fut,
    Fut: Future<Output = ()>,
{
    runtime.block_on(f(usize::MAX));
    median(
        (0..RUNS)
            .map(|run| {
                let start = Instant::now();
                runtime.block_on(f(run));
                start.elapsed()
            })
            .collect(),
    )
}

struct Figures {
    save: Duration,
    load_all: Duration,
    load_principal: Duration,
    import: Duration,
}

fn figures(
    runtime: &tokio::runtime::Runtime,
    store: Arc<dyn Store>,
    lap: &Lap,
    capture: &std::path::Path,
) -> Figures {
    let session = runtime
        .block_on(store.create_session(NewSession::new("bench", SessionSource::Live)))
        .unwrap()
        .id;
    let mut number = 0;
    let save = measure(runtime, |_| {
        number += 1;
        let lap = Lap {
            number,
            ..lap.clone()
        };
        let store = Arc::clone(&store);
        async move {
            black_box(store.save_lap(session, &lap).await.unwrap());
        }
    });
    let id = runtime.block_on(store.list_laps(Some(session))).unwrap()[0].id;
    let load_all = measure(runtime, |_| {
        let store = Arc::clone(&store);
        async move {
            assert_eq!(black_box(store.lap_frames(id).await.unwrap()).len(), FRAMES);
        }
    });
    let load_principal = measure(runtime, |_| {
        let store = Arc::clone(&store);
        async move {
            black_box(store.lap_principal_frames(id).await.unwrap());
        }
    });
    let import = measure(runtime, |_| {
        let store = Arc::clone(&store);
        let inputs = capture_inputs(capture, &Default::default(), Default::default()).unwrap();
        async move {
            let summary = import_inputs(
                store,
                NewSession::new("bench import", SessionSource::Import),
                inputs,
            )
            .await
            .unwrap()
            .unwrap();
            assert_eq!(summary.pipeline.frames, PACKETS as u64);
        }
    });
    let _: SessionId = session;
    Figures {
        save,
        load_all,
        load_principal,
        import,
    }
}

fn capture_file(dir: &std::path::Path) -> std::path::PathBuf {
    let path = dir.join("import.pcap");
    let game = SocketAddrV4::new(Ipv4Addr::LOCALHOST, 9996);
    let client = SocketAddrV4::new(Ipv4Addr::LOCALHOST, 50_000);
    let mut writer = CaptureWriter::create(&path, LinkType::Ethernet).unwrap();
    let packets = lap_packets(PACKETS);
    for (k, packet) in packets.chunks_exact(CAR_INFO_LEN).take(PACKETS).enumerate() {
        let t_ns = 1_700_000_000_000_000_000 + k as u64 * 3_003_003;
        writer.write_datagram(t_ns, game, client, packet).unwrap();
    }
    writer.finish().unwrap();
    path
}

fn main() {
    // `cargo bench` passes `--bench`; a filter that is not ours means another bench is wanted.
    if std::env::args()
        .skip(1)
        .any(|a| !a.starts_with('-') && !"league".contains(&a))
    {
        return;
    }
    let Some(url) = std::env::var("PURPLE_SECTOR_TEST_POSTGRES_URL")
        .ok()
        .filter(|u| !u.is_empty())
    else {
        eprintln!("league: skipped, PURPLE_SECTOR_TEST_POSTGRES_URL is not set (no PostgreSQL)");
        return;
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join(format!("league-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let capture = capture_file(&dir);
    let frames = resampled_333hz(&imola_lap());
    let lap = Lap {
        stint: 0,
        number: 1,
        kind: LapKind::Flying,
        invalid_reason: None,
        time: Some(LapTime::official(108_633)),
        frames: frames[..FRAMES].to_vec(),
    };

    let sqlite: Arc<dyn Store> = Arc::new(SqliteStore::open(dir.join("bench.db")).unwrap());
    let lite = figures(&runtime, sqlite, &lap, &capture);

    let schema = format!("ps_bench_{}", std::process::id());
    let admin = |sql: String| {
        let url = url.clone();
        runtime.block_on(async move {
            let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
                .await
                .unwrap();
            let task = tokio::spawn(connection);
            client.batch_execute(&sql).await.unwrap();
            drop(client);
            let _ = task.await;
        });
    };
    admin(format!("CREATE SCHEMA {schema}"));
    let separator = if url.contains('?') { '&' } else { '?' };
    let schema_url = format!("{url}{separator}options=-c%20search_path%3D{schema}");
    let postgres: Arc<dyn Store> = Arc::new(
        runtime
            .block_on(PostgresStore::connect(&schema_url))
            .unwrap(),
    );
    let pg = figures(&runtime, postgres, &lap, &capture);
    admin(format!("DROP SCHEMA {schema} CASCADE"));
    let _ = std::fs::remove_dir_all(&dir);

    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!("league store, median of {RUNS} runs (30 000-frame lap; {PACKETS}-packet import):");
    for (what, a, b, target) in [
        ("save", lite.save, pg.save, "≤ 2×"),
        ("load every field", lite.load_all, pg.load_all, "≤ 2×"),
        (
            "load principal channels",
            lite.load_principal,
            pg.load_principal,
            "≤ 2×",
        ),
        ("import end to end", lite.import, pg.import, ""),
    ] {
        println!(
            "  {what:<24} SQLite {:>8.2} ms  PostgreSQL {:>8.2} ms  ratio {:.2}× {target}",
            ms(a),
            ms(b),
            b.as_secs_f64() / a.as_secs_f64()
        );
    }
    let rate = |d: Duration| PACKETS as f64 / d.as_secs_f64() / 1e6;
    println!(
        "  import into SQLite {:.2} M frames/s, into PostgreSQL {:.2} M frames/s (target ≥ 1)",
        rate(lite.import),
        rate(pg.import)
    );
}
