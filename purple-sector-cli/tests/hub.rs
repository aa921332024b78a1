//! `--hub` end to end: real `serve` processes and a `demo` sharing one Redis (and one SQLite
//! file, or one PostgreSQL database), a WebSocket client on one instance watching what the
//! others record.
//!
//! Redis comes from `PURPLE_SECTOR_TEST_REDIS_URL` (PostgreSQL from
//! `PURPLE_SECTOR_TEST_POSTGRES_URL`, `support/pg.rs`); without it a test says so and passes,
//! unless `CI` is set.
#![cfg(feature = "redis")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../../purple-sector-core/tests/support/pg.rs"]
mod pg;
#[path = "../../purple-sector-server/tests/support/stream.rs"]
mod stream;
mod support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde_json::Value;
use stream::assert_stream_covers;
use support::*;
use tokio_tungstenite::tungstenite::Message;

fn redis_url() -> Option<String> {
    match std::env::var("PURPLE_SECTOR_TEST_REDIS_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            assert!(
                std::env::var_os("CI").is_none(),
                "PURPLE_SECTOR_TEST_REDIS_URL is not set, but CI is: .ci/run starts redis-server and sets it"
            );
            eprintln!("NOTICE: PURPLE_SECTOR_TEST_REDIS_URL is not set; skipping this Redis test");
            None
        }
    }
}

fn free_port() -> SocketAddr {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

/// A child that is killed if the test fails before it stops it.
struct Running(Option<Child>);

impl Running {
    /// SIGTERM, then its stderr once it exited (0 expected).
    fn stop(mut self) -> String {
        let mut child = self.0.take().unwrap();
        let status = std::process::Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let deadline = Instant::now() + Duration::from_secs(15);
        while child.try_wait().unwrap().is_none() {
            assert!(Instant::now() < deadline, "did not stop on SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        }
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success(), "{stderr}");
        stderr
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Some(child) = self.0.as_mut() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// `serve` on `addr` with `--hub`, once it listens.
fn serve(
    db: impl AsRef<std::ffi::OsStr>,
    addr: SocketAddr,
    hub: &[&str],
    extra: &[&str],
) -> Running {
    let child = binary()
        .args(["serve", "--bind", &addr.to_string(), "--db"])
        .arg(db)
        .args(hub)
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let running = Running(Some(child));
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(addr).is_err() {
        assert!(Instant::now() < deadline, "serve did not listen on {addr}");
        std::thread::sleep(Duration::from_millis(20));
    }
    running
}

/// A GET over plain HTTP/1.1: status and body.
fn get(addr: SocketAddr, path: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, body.to_owned())
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn next(ws: &mut Ws) -> Value {
    loop {
        let message = tokio::time::timeout(Duration::from_secs(30), ws.next())
            .await
            .expect("no message within 30 s");
        match message {
            Some(Ok(Message::Text(text))) => return serde_json::from_str(&text).unwrap(),
            Some(Ok(_)) => continue,
            other => panic!("socket ended: {other:?}"),
        }
    }
}

fn session_event(m: &Value, state: &str) -> Option<i64> {
    (m["type"] == "session" && m["data"]["state"] == state)
        .then(|| m["data"]["id"].as_i64().unwrap())
}

/// Messages until session `id` stops (`None`: the first that starts, then until it stops).
async fn one_session(ws: &mut Ws) -> (i64, Vec<Value>) {
    let mut id = None;
    let mut out = Vec::new();
    loop {
        let m = next(ws).await;
        if id.is_none() {
            id = session_event(&m, "started");
        }
        let end = id.is_some() && session_event(&m, "stopped") == id;
        out.push(m);
        if end {
            return (id.unwrap(), out);
        }
    }
}

#[test]
fn serve_instances_and_a_demo_share_one_hub() {
    let Some(url) = redis_url() else { return };
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let prefix = format!("ps-test:cli:{}:{nanos}", std::process::id());
    let hub = ["--hub", url.as_str(), "--hub-prefix", prefix.as_str()];
    let db = temp_db("hub-shared");
    let rt = runtime();

    // B only serves; A records the built-in game once B's client watches.
    let (addr_a, addr_b) = (free_port(), free_port());
    let b = serve(&db, addr_b, &hub, &[]);
    let (mut ws, _) = rt
        .block_on(tokio_tungstenite::connect_async(format!(
            "ws://{addr_b}/ws?hz=333"
        )))
        .unwrap();
    assert_eq!(rt.block_on(next(&mut ws))["type"], "connected");
    let demo = [
        "--demo",
        "--demo-track",
        "test",
        "--demo-laps",
        "1",
        "--demo-speed",
        "30",
    ];
    let a = serve(&db, addr_a, &hub, &demo);
    let (x, seen) = rt.block_on(one_session(&mut ws));
    assert!(
        seen.iter()
            .filter(|m| m["type"] == "telemetry")
            .all(|m| m["data"]["sessionId"] == x)
    );
    assert_stream_covers(&seen, x);
    let laps: Vec<i64> = seen
        .iter()
        .filter(|m| m["type"] == "lap_completed")
        .map(|m| {
            assert_eq!(m["data"]["sessionId"], x);
            m["data"]["id"].as_i64().unwrap()
        })
        .collect();
    assert!(laps.len() >= 2, "out lap and flying lap: {laps:?}");

    // B's REST has them (one database), with their telemetry.
    for lap in &laps {
        let (status, body) = get(addr_b, &format!("/api/laps/{lap}/telemetry"));
        assert_eq!(status, 200, "{body}");
        let telemetry: Value = serde_json::from_str(&body).unwrap();
        assert!(telemetry["count"].as_u64().unwrap() > 0);
    }

    // A `demo` (as `record` on a driver's PC would) into the same database and hub: session
    // ids are the database's, so the processes on one hub share one.
    let demo = binary()
        .args([
            "demo", "--track", "test", "--laps", "1", "--speed", "20", "--db",
        ])
        .arg(&db)
        .args(hub)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (y, seen) = rt.block_on(one_session(&mut ws));
    assert_ne!(x, y);
    assert!(
        seen.iter()
            .filter(|m| m["type"] == "telemetry")
            .all(|m| m["data"]["sessionId"] == y)
    );
    assert_stream_covers(&seen, y);
    let out = demo.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("live stream shared on"), "{stderr}");
    assert!(stderr.contains("events published"), "{stderr}");

    let (status, text) = get(addr_b, "/metrics");
    assert_eq!(status, 200);
    assert!(text.contains("purple_sector_hub_connected 1"), "{text}");
    assert!(
        text.contains("purple_sector_hub_malformed_total 0"),
        "{text}"
    );
    let (_, text_a) = get(addr_a, "/metrics");
    assert!(text_a.contains("purple_sector_hub_publish_latency_seconds_count"));

    drop(ws);
    a.stop();
    b.stop();
}

/// The league case on the real engines: PostgreSQL for the database, Redis for the hub. A
/// client of B sees the frames and laps A records; B's REST gives each lap's telemetry exactly
/// as A's does; B is ready (database and hub).
#[test]
fn on_postgres_and_redis_a_client_of_b_watches_what_a_records() {
    let Some(url) = redis_url() else { return };
    let rt = runtime();
    let Some(schema) = rt.block_on(pg::Schema::create()) else {
        return;
    };
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let prefix = format!("ps-test:cli-pg:{}:{nanos}", std::process::id());
    let hub = ["--hub", url.as_str(), "--hub-prefix", prefix.as_str()];
    let (addr_a, addr_b) = (free_port(), free_port());
    let b = serve(&schema.url, addr_b, &hub, &[]);
    let (mut ws, _) = rt
        .block_on(tokio_tungstenite::connect_async(format!(
            "ws://{addr_b}/ws?hz=333"
        )))
        .unwrap();
    assert_eq!(rt.block_on(next(&mut ws))["type"], "connected");
    let demo = [
        "--demo",
        "--demo-track",
        "test",
        "--demo-laps",
        "1",
        "--demo-speed",
        "30",
    ];
    let a = serve(&schema.url, addr_a, &hub, &demo);
    let (x, seen) = rt.block_on(one_session(&mut ws));
    assert!(
        seen.iter()
            .filter(|m| m["type"] == "telemetry")
            .all(|m| m["data"]["sessionId"] == x)
    );
    assert_stream_covers(&seen, x);
    let laps: Vec<&Value> = seen
        .iter()
        .filter(|m| m["type"] == "lap_completed")
        .map(|m| &m["data"])
        .collect();
    assert!(laps.len() >= 2, "{laps:?}");
    for lap in laps {
        let id = lap["id"].as_i64().unwrap();
        let (status, from_b) = get(addr_b, &format!("/api/laps/{id}/telemetry"));
        assert_eq!(status, 200, "{from_b}");
        let (_, from_a) = get(addr_a, &format!("/api/laps/{id}/telemetry"));
        assert_eq!(
            from_a, from_b,
            "lap {id}: B's telemetry is A's, byte for byte"
        );
        let telemetry: Value = serde_json::from_str(&from_b).unwrap();
        assert_eq!(telemetry["count"], lap["frameCount"], "lap {id}");
    }
    let (status, ready) = get(addr_b, "/readyz");
    assert_eq!(status, 200, "{ready}");
    let ready: Value = serde_json::from_str(&ready).unwrap();
    assert_eq!(ready["checks"]["database"], "ok");
    assert_eq!(ready["checks"]["hub"], "ok");
    drop(ws);
    a.stop();
    b.stop();
}
