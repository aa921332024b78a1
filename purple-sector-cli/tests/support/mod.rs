//! A tiny scripted game for the CLI's end-to-end tests: short laps on a 1 km loop, streamed
//! over real loopback UDP by the library's `GameServer`.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use purple_sector_core::protocol::{Name, OwnedCarInfo, OwnedHandshakeResponse};
use purple_sector_core::sim::GameServer;

/// Lap clock per lap, ms.
pub const LAP_MS: i32 = 2_000;
/// Lap clock step between packets, ms (333 Hz).
pub const STEP_MS: i32 = 3;

pub fn hello() -> OwnedHandshakeResponse {
    OwnedHandshakeResponse {
        car_name: Name::with_junk("ks_corvette_c7r", &[0xbdaf, 0x0230]).unwrap(),
        driver_name: Name::new("Test Driver").unwrap(),
        identifier: 4242,
        version: 1,
        track_name: Name::with_junk("imola", &[0x1c00]).unwrap(),
        track_config: Name::new("imola").unwrap(),
    }
}

/// The packet at lap clock `t_ms` of lap index `lap` (0-based: `lap_count` = `lap`). Lap
/// times are `LAP_MS + lap` ms so that each lap's official time is distinct.
pub fn packet(lap: i32, t_ms: i32) -> [u8; 328] {
    let lap_ms = LAP_MS + lap;
    OwnedCarInfo {
        lap_time_ms: t_ms,
        lap_count: lap,
        last_lap_ms: if lap > 0 { LAP_MS + lap - 1 } else { 0 },
        best_lap_ms: if lap > 0 { LAP_MS } else { 0 },
        car_position_normalized: t_ms as f32 / lap_ms as f32,
        speed_kmh: 180.0,
        speed_ms: 50.0,
        gas: 1.0,
        gear_raw: 5,
        engine_rpm: 7_000.0,
        car_coordinates_m: [t_ms as f32 * 0.05, 0.0, 0.0],
        ..OwnedCarInfo::default()
    }
    .encode()
}

/// The packets of laps `laps` (lap index, lap clock), in order, starting at the line.
pub fn script(laps: std::ops::Range<i32>) -> Vec<[u8; 328]> {
    let mut out = Vec::new();
    for lap in laps {
        let mut t = 0;
        while t < LAP_MS + lap {
            out.push(packet(lap, t));
            t += STEP_MS;
        }
    }
    out
}

pub async fn server() -> GameServer {
    GameServer::bind("127.0.0.1:0".parse().unwrap(), hello())
        .await
        .unwrap()
}

/// Waits for a subscriber, then streams the packets: 3 per millisecond (about 9× real time).
pub async fn stream(server: &GameServer, packets: &[[u8; 328]]) {
    wait_for_subscriber(server).await;
    for chunk in packets.chunks(3) {
        for p in chunk {
            server.send_car_info(p).await.unwrap();
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

pub async fn wait_for_subscriber(server: &GameServer) {
    tokio::time::timeout(Duration::from_secs(10), server.subscribed())
        .await
        .expect("no client subscribed within 10 s");
}

pub fn binary() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_purple-sector"));
    command.env_remove("PURPLE_SECTOR_DB");
    command
}

pub fn temp_db(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("purple-sector-tests-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("{name}.db"));
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    path
}

pub fn game_arg(addr: SocketAddr) -> String {
    addr.to_string()
}

pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../purple-sector-core/tests/fixtures")
        .join(name)
}

/// A two-worker runtime for the tests that drive the game from outside async code.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// The JSON Lines a command printed.
pub fn json_lines(stdout: &[u8]) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

/// The `data` of every line of one `type`.
pub fn data_of<'a>(lines: &'a [serde_json::Value], kind: &str) -> Vec<&'a serde_json::Value> {
    lines
        .iter()
        .filter(|l| l["type"] == kind)
        .map(|l| &l["data"])
        .collect()
}

/// Waits for the process to exit, at most `limit` (then kills it and fails).
pub fn wait(mut child: std::process::Child, limit: Duration) -> std::process::Output {
    let start = Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            return child.wait_with_output().unwrap();
        }
        if start.elapsed() > limit {
            child.kill().unwrap();
            let out = child.wait_with_output().unwrap();
            panic!(
                "purple-sector did not exit within {limit:?}; stderr: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Runs the binary on the database `db`, offline (no LLM configured).
pub fn run(db: &Path, args: &[&str]) -> std::process::Output {
    binary()
        .args(args)
        .args(["--db", db.to_str().unwrap()])
        .env_remove("OPENAI_API_KEY")
        .env_remove("OPENAI_BASE_URL")
        .output()
        .unwrap()
}

/// The stdout of a command that must have succeeded (else its stderr in the failure).
pub fn ok(out: std::process::Output) -> String {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}
