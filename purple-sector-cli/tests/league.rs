//! A league server end to end, real processes on one PostgreSQL database: a lap `serve` A
//! records is in `serve` B's REST as soon as A stored it; two `record`s never claim one game
//! session, and one killed with SIGKILL leaves a claim that lapses, after which the next
//! recorder continues its session. Needs PostgreSQL (`support/pg.rs`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../../purple-sector-core/tests/support/pg.rs"]
mod pg;
mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use purple_sector_core::store::{PostgresStore, Store};
use serde_json::Value;
use support::*;

/// Kills the process when dropped, so a failing test leaves nothing running.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `serve` on a free port; returns it with the address it printed.
fn spawn_serve(db: &str, extra: &[&str]) -> (Running, SocketAddr) {
    let mut child = binary()
        .args(["--db", db, "serve", "--bind", "127.0.0.1:0"])
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    stderr.read_line(&mut line).unwrap();
    let addr = line
        .split("http://")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no address in {line:?}"))
        .parse()
        .unwrap();
    // Keep draining stderr so the server never blocks on it.
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut stderr, &mut std::io::sink());
    });
    (Running(child), addr)
}

fn get(addr: SocketAddr, path: &str) -> Value {
    let mut stream = TcpStream::connect(addr).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = String::new();
    stream.read_to_string(&mut raw).unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}\n{body}");
    serde_json::from_str(body).unwrap()
}

#[test]
fn a_lap_recorded_by_one_serve_is_in_the_others_rest_at_once() {
    let runtime = runtime();
    let Some(schema) = runtime.block_on(pg::Schema::create()) else {
        return;
    };
    let url = schema.url.as_str();
    let (_a, a) = spawn_serve(url, &["--demo", "--demo-speed", "25", "--demo-laps", "1"]);
    let (_b, b) = spawn_serve(url, &[]);
    let started = Instant::now();
    let lap = loop {
        assert!(
            started.elapsed() < Duration::from_secs(90),
            "no lap reached B"
        );
        let sessions = get(b, "/api/sessions");
        if let Some(session) = sessions.as_array().unwrap().first() {
            let id = session["id"].as_i64().unwrap();
            let detail = get(b, &format!("/api/sessions/{id}"));
            if let Some(lap) = detail["laps"]
                .as_array()
                .unwrap()
                .iter()
                .find(|l| l["inProgress"] == false)
            {
                break lap.clone();
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    // The same lap on both, and its telemetry from B.
    let id = lap["id"].as_i64().unwrap();
    assert_eq!(
        get(a, &format!("/api/laps/{id}")),
        get(b, &format!("/api/laps/{id}"))
    );
    let telemetry = get(b, &format!("/api/laps/{id}/telemetry?step=100"));
    assert_eq!(
        telemetry["count"].as_u64(),
        Some(u64::from(lap["frameCount"].as_u64().unwrap() as u32).div_ceil(100))
    );
    // Both are ready (the database answers).
    assert_eq!(get(b, "/readyz")["ready"], true);
}

#[test]
fn one_recorder_per_game_session_across_processes_and_a_dead_ones_claim_lapses() {
    let runtime = runtime();
    let Some(schema) = runtime.block_on(pg::Schema::create()) else {
        return;
    };
    let url = schema.url.clone();
    let game = runtime.block_on(server());
    let addr = game_arg(game.local_addr().unwrap());
    let spawn_record = |owner: &str| {
        binary()
            .args(["--db", &url, "record", "--ac", &addr, "--owner", owner])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let mut first = Running(spawn_record("lena"));
    runtime.block_on(async {
        stream(&game, &script(0..1)).await;
        // Lap 2 at the game's real rate for 1.5 s, so the recorder checkpoints it.
        let mut interval = tokio::time::interval(Duration::from_millis(3));
        for packet in script(1..2).iter().take(500) {
            interval.tick().await;
            game.send_car_info(packet).await.unwrap();
        }
        tokio::time::sleep(Duration::from_millis(1_500)).await;
    });

    // A second recorder on the same game session is refused, naming the first.
    let second = wait(spawn_record("marco"), Duration::from_secs(30));
    assert_eq!(second.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(stderr.contains("is being recorded by recorder"), "{stderr}");
    assert!(
        stderr.contains("Test Driver/ks_corvette_c7r/imola"),
        "{stderr}"
    );

    // The first dies without a word.
    first.0.kill().unwrap(); // SIGKILL
    first.0.wait().unwrap();
    let store = runtime.block_on(PostgresStore::connect(&url)).unwrap();
    let sessions = runtime.block_on(store.list_sessions()).unwrap();
    assert_eq!(sessions.len(), 1);
    let session = sessions[0].id;
    assert_eq!(sessions[0].owner.as_deref(), Some("lena"));

    // Once its claim lapsed, the next recorder takes the game session over, session and all.
    std::thread::sleep(Duration::from_secs(16));
    let third = spawn_record("lena");
    runtime.block_on(async {
        wait_for_subscriber(&game).await;
        // At about 3× the game's rate: a busy machine's socket buffer loses nothing.
        let mut interval = tokio::time::interval(Duration::from_millis(1));
        for packet in &script(1..4) {
            interval.tick().await;
            game.send_car_info(packet).await.unwrap();
        }
    });
    std::thread::sleep(Duration::from_millis(1_000));
    let status = std::process::Command::new("kill")
        .args(["-INT", &third.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let third = wait(third, Duration::from_secs(20));
    assert_eq!(
        third.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&third.stderr)
    );
    let sessions = runtime.block_on(store.list_sessions()).unwrap();
    assert_eq!(sessions.len(), 1, "{sessions:?}");
    let laps = runtime.block_on(store.list_laps(Some(session))).unwrap();
    let times: Vec<(u32, Option<i32>)> = laps
        .iter()
        .filter(|l| l.time_ms().is_some())
        .map(|l| (l.stint, l.time_ms()))
        .collect();
    // Lap 1 by the first recorder, its lap 2 (in progress when it died) closed as partial
    // from its last checkpoint; laps 2 (again, whole) and 3 by the third, in a stint of its
    // own so that numbers never clash.
    assert!(times.contains(&(0, Some(2_000))), "{times:?}");
    assert!(times.contains(&(1, Some(2_001))), "{times:?}");
    assert!(times.contains(&(1, Some(2_002))), "{times:?}");
    assert!(
        laps.iter().any(|l| l.stint == 0
            && l.number == 2
            && l.kind.as_str() == "partial"
            && l.frame_count > 0),
        "{laps:?}"
    );
    assert!(laps.iter().all(|l| !l.in_progress), "{laps:?}");
    assert!(
        laps.iter().all(|l| l.owner.as_deref() == Some("lena")),
        "{laps:?}"
    );
}

/// `GET path` with a bearer token: the status.
fn status_with(addr: SocketAddr, path: &str, token: &str) -> u16 {
    let mut stream = TcpStream::connect(addr).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = String::new();
    stream.read_to_string(&mut raw).unwrap();
    raw.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[test]
fn a_user_added_or_revoked_counts_on_every_instance_at_once() {
    let runtime = runtime();
    let Some(schema) = runtime.block_on(pg::Schema::create()) else {
        return;
    };
    let url = schema.url.as_str();
    let (_a, a) = spawn_serve(url, &["--token", "admin-of-the-league"]);
    let (_b, b) = spawn_serve(url, &["--token", "admin-of-the-league"]);
    let added = binary()
        .args([
            "--db", url, "--json", "users", "add", "lena", "--role", "driver",
        ])
        .output()
        .unwrap();
    assert!(added.status.success());
    let lines = json_lines(&added.stdout);
    let token = data_of(&lines, "user")[0]["token"]
        .as_str()
        .unwrap()
        .to_owned();
    for server in [a, b] {
        assert_eq!(status_with(server, "/api/sessions", &token), 200);
        assert_eq!(status_with(server, "/api/sessions", "ps_not_a_token"), 401);
    }
    let revoked = binary()
        .args(["--db", url, "users", "revoke", "lena"])
        .output()
        .unwrap();
    assert!(revoked.status.success());
    for server in [a, b] {
        assert_eq!(status_with(server, "/api/sessions", &token), 401);
        assert_eq!(
            status_with(server, "/api/sessions", "admin-of-the-league"),
            200
        );
    }
    // The listing shows the revocation and never a token.
    let listed = binary()
        .args(["--db", url, "--json", "users", "list"])
        .output()
        .unwrap();
    let lines = json_lines(&listed.stdout);
    let users = data_of(&lines, "user");
    assert_eq!(users.len(), 1);
    assert!(users[0]["revoked_ms"].is_i64());
    assert!(users[0].get("token").is_none());
}
