//! `record` end to end: the real binary against a game over loopback UDP, a real SQLite file.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::Path;
use std::process::{Child, Stdio};
use std::time::Duration;

use purple_sector_core::protocol::Operation;
use purple_sector_core::store::{LapRecord, SqliteStore, Store};
use support::*;

fn spawn_record(db: &Path, game: std::net::SocketAddr, extra: &[&str]) -> Child {
    binary()
        .args([
            "record",
            "--ac",
            &game_arg(game),
            "--db",
            db.to_str().unwrap(),
        ])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

async fn laps_in(db: &Path) -> Vec<LapRecord> {
    let store = SqliteStore::open(db).unwrap();
    store.list_laps(None).await.unwrap()
}

#[test]
fn records_two_laps_then_stops_with_dismiss() {
    let db = temp_db("two-laps");
    let rt = runtime();
    let server = rt.block_on(server());
    let game = server.local_addr().unwrap();
    let child = spawn_record(&db, game, &["--laps", "2", "--json"]);
    rt.block_on(stream(&server, &script(0..3)));
    let stdout = ok(wait(child, Duration::from_secs(30)));

    // stdout: the session, its laps, a summary.
    let lines = json_lines(stdout.as_bytes());
    assert_eq!(lines[0]["type"], "session");
    assert_eq!(lines[0]["data"]["track"], "imola");
    assert_eq!(lines[0]["data"]["car"], "ks_corvette_c7r");
    let laps = data_of(&lines, "lap");
    assert_eq!(laps[0]["lap_time_ms"], 2_000);
    assert_eq!(laps[1]["lap_time_ms"], 2_001);
    assert_eq!(laps[0]["kind"], "flying");
    assert_eq!(laps[1]["kind"], "flying");
    assert_eq!(laps[0]["valid"], true);

    // The database agrees, frames bit-exact.
    let stored = rt.block_on(laps_in(&db));
    let completed: Vec<&LapRecord> = stored.iter().filter(|l| l.time.is_some()).collect();
    assert_eq!(completed.len(), 2);
    let frames = rt.block_on(async {
        SqliteStore::open(&db)
            .unwrap()
            .lap_frames(completed[0].id)
            .await
            .unwrap()
    });
    let expected = script(0..1);
    assert_eq!(frames.len(), expected.len());
    for (frame, packet) in frames.iter().zip(&expected) {
        assert_eq!(frame.to_car_info().encode()[..], packet[..]);
    }

    // The client said DISMISS on the way out.
    let log = server.request_log();
    assert_eq!(log.first().map(|(_, op)| *op), Some(Operation::Dismiss));
    assert_eq!(log.last().map(|(_, op)| *op), Some(Operation::Dismiss));
}

#[test]
fn kill_9_after_lap_2_keeps_completed_laps_and_the_last_checkpoint() {
    let db = temp_db("kill-9");
    let rt = runtime();
    let server = rt.block_on(server());
    let child = spawn_record(&db, server.local_addr().unwrap(), &[]);
    let lap3 = script(2..3);
    let sent_lap3 = rt.block_on(async {
        stream(&server, &script(0..2)).await;
        // Lap 3 at the game's real rate, 1.5 s of it, so the recorder checkpoints it.
        let mut sent = 0;
        let mut interval = tokio::time::interval(Duration::from_millis(3));
        for p in lap3.iter().take(500) {
            interval.tick().await;
            server.send_car_info(p).await.unwrap();
            sent += 1;
        }
        // Let the last checkpoint land.
        tokio::time::sleep(Duration::from_millis(1_500)).await;
        sent
    });
    let mut child = child;
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();

    let laps = rt.block_on(laps_in(&db));
    let done: Vec<&LapRecord> = laps.iter().filter(|l| !l.in_progress).collect();
    assert_eq!(done.len(), 2, "{laps:?}");
    assert_eq!(done[0].time_ms(), Some(2_000));
    assert_eq!(done[1].time_ms(), Some(2_001));
    assert_eq!(done[1].frame_count as usize, script(1..2).len());
    // The lap in progress survives up to its last checkpoint: at most about a second lost.
    let checkpoint = laps.iter().find(|l| l.in_progress).expect("a checkpoint");
    let kept = checkpoint.frame_count as usize;
    assert!(kept <= sent_lap3);
    assert!(sent_lap3 - kept <= 340, "lost {} frames", sent_lap3 - kept);

    let conn = rusqlite::Connection::open(&db).unwrap();
    let check: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");
}

#[test]
fn sigint_flushes_the_lap_in_progress_and_exits_0() {
    let db = temp_db("sigint");
    let rt = runtime();
    let server = rt.block_on(server());
    let child = spawn_record(&db, server.local_addr().unwrap(), &[]);
    let packets = script(0..1);
    rt.block_on(async {
        stream(&server, &packets[..300]).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
    });
    let status = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let out = wait(child, Duration::from_secs(15));
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let laps = rt.block_on(laps_in(&db));
    assert_eq!(laps.len(), 1, "{laps:?}");
    assert_eq!(laps[0].kind.as_str(), "partial");
    assert!(!laps[0].in_progress);
    assert_eq!(laps[0].frame_count, 300);
    // DISMISS went out.
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(
        server.request_log().last().map(|(_, op)| *op),
        Some(Operation::Dismiss)
    );
}

/// `--into ID`: the laps go into a session made beforehand, which the game's handshake
/// fills in; a session that does not exist is one line on stderr, before any game is asked.
#[test]
fn records_into_an_existing_session() {
    use purple_sector_core::store::{NewSession, SessionSource};
    let db = temp_db("into");
    let rt = runtime();
    let made = rt.block_on(async {
        SqliteStore::open(&db)
            .unwrap()
            .create_session(NewSession::new("Made before", SessionSource::Live))
            .await
            .unwrap()
    });
    let server = rt.block_on(server());
    let game = server.local_addr().unwrap();
    let id = made.id.to_string();
    let child = spawn_record(&db, game, &["--into", &id, "--laps", "2", "--json"]);
    rt.block_on(stream(&server, &script(0..3)));
    let lines = json_lines(ok(wait(child, Duration::from_secs(30))).as_bytes());
    assert_eq!(lines[0]["type"], "session");
    assert_eq!(lines[0]["data"]["id"], made.id.0);
    assert_eq!(lines[0]["data"]["name"], "Made before");
    assert_eq!(lines[0]["data"]["track"], "imola");
    let stored = rt.block_on(laps_in(&db));
    assert!(stored.iter().all(|l| l.session == made.id), "{stored:#?}");
    assert_eq!(stored.iter().filter(|l| l.time.is_some()).count(), 2);

    let out = wait(
        spawn_record(&db, game, &["--into", "999"]),
        Duration::from_secs(10),
    );
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(stderr.contains("session 999 not found"), "{stderr}");
}
