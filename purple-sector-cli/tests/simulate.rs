//! `simulate` and `demo` end to end: the built-in game over real loopback UDP.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::net::SocketAddr;
use std::process::{Child, Stdio};
use std::time::Duration;

use purple_sector_core::net::{AcClient, ClientConfig, ClientEvent};
use purple_sector_core::protocol::{Datagram, parse_datagram};
use serde_json::Value;
use support::*;
use tokio::sync::{mpsc, watch};

fn free_port() -> SocketAddr {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

fn spawn_simulate(game: SocketAddr, extra: &[&str]) -> Child {
    binary()
        .args([
            "simulate",
            "--bind",
            &game.to_string(),
            "--track",
            "test",
            "--json",
        ])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

struct Listener {
    events: mpsc::Receiver<ClientEvent>,
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<
        Result<purple_sector_core::net::ClientCounters, purple_sector_core::net::NetError>,
    >,
}

fn listen(game: SocketAddr, silence: Duration) -> Listener {
    let config = ClientConfig {
        handshake_interval: Duration::from_millis(100),
        silence_timeout: silence,
        ..ClientConfig::new(game)
    };
    let client = AcClient::bind(config).unwrap();
    let (tx, events) = mpsc::channel(1 << 16);
    let (stop, shutdown) = watch::channel(false);
    Listener {
        events,
        stop,
        task: tokio::spawn(client.run(tx, shutdown)),
    }
}

async fn next(events: &mut mpsc::Receiver<ClientEvent>) -> ClientEvent {
    tokio::time::timeout(Duration::from_secs(20), events.recv())
        .await
        .expect("nothing for 20 s")
        .expect("client ended")
}

/// Reads car-info datagrams until `n` arrived; returns their lap clocks.
async fn car_infos(events: &mut mpsc::Receiver<ClientEvent>, n: usize) -> Vec<i32> {
    let mut clocks = Vec::new();
    while clocks.len() < n {
        if let ClientEvent::Datagram { bytes, .. } = next(events).await {
            if let Ok(Datagram::CarInfo(car)) = parse_datagram(&bytes) {
                clocks.push(car.lap_time_ms());
            }
        }
    }
    clocks
}

#[test]
fn several_clients_at_once_and_dismiss_stops_only_that_one() {
    let game = free_port();
    let mut child = spawn_simulate(game, &["--laps", "2", "--speed", "4"]);
    let rt = runtime();
    rt.block_on(async {
        let mut a = listen(game, Duration::from_secs(5));
        let mut b = listen(game, Duration::from_secs(5));
        for l in [&mut a, &mut b] {
            let ClientEvent::Connected(hello) = next(&mut l.events).await else {
                panic!("expected Connected");
            };
            // Names end at '%'; the junk after it is not part of them.
            assert_eq!(hello.car_name.to_string_lossy(), "ks_corvette_c7r");
            assert_eq!(hello.track_name.to_string_lossy(), "test");
            assert_eq!(hello.identifier, 4242);
            assert_eq!(hello.version, 1);
            let raw: Vec<u16> = hello.car_name.raw_units().to_vec();
            assert_eq!(raw[15], 0x25);
            assert!(raw[16..].iter().any(|&u| u != 0), "junk after '%'");
        }
        // Both receive the same stream.
        let from_a = car_infos(&mut a.events, 200).await;
        let from_b = car_infos(&mut b.events, 200).await;
        assert!(from_a.windows(2).all(|w| w[1] - w[0] == 3 || w[1] < w[0]));
        assert!(from_b.windows(2).all(|w| w[1] - w[0] == 3 || w[1] < w[0]));

        // A dismisses (its run() sends DISMISS on stop); B keeps receiving.
        a.stop.send(true).unwrap();
        a.task.await.unwrap().unwrap();
        let more = car_infos(&mut b.events, 300).await;
        assert_eq!(more.len(), 300);
        b.stop.send(true).unwrap();
        b.task.await.unwrap().unwrap();
    });
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn silent_between_runs_then_a_new_session() {
    let game = free_port();
    let mut child = spawn_simulate(
        game,
        &[
            "--laps", "1", "--speed", "40", "--runs", "2", "--pause", "1.0",
        ],
    );
    let rt = runtime();
    rt.block_on(async {
        let mut l = listen(game, Duration::from_millis(500));
        let mut connected = 0;
        let mut silences = 0;
        let mut max_count_before_silence = 0;
        let mut counts_after = Vec::new();
        while connected < 2 || counts_after.len() < 50 {
            match next(&mut l.events).await {
                ClientEvent::Connected(_) => connected += 1,
                ClientEvent::Silence => silences += 1,
                ClientEvent::Datagram { bytes, .. } => {
                    if let Ok(Datagram::CarInfo(car)) = parse_datagram(&bytes) {
                        if silences == 0 {
                            max_count_before_silence =
                                max_count_before_silence.max(car.lap_count());
                        } else {
                            counts_after.push(car.lap_count());
                        }
                    }
                }
            }
        }
        assert!(silences >= 1);
        // The first run completed its out lap and flying lap; the second starts over at 0.
        assert_eq!(max_count_before_silence, 2);
        assert_eq!(counts_after[0], 0);
        l.stop.send(true).unwrap();
        l.task.await.unwrap().unwrap();
    });
    let out = {
        let _ = child.kill();
        child.wait_with_output().unwrap()
    };
    let text = String::from_utf8(out.stdout).unwrap();
    let first: Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    assert_eq!(first["type"], "sim_lap");
}

#[test]
fn demo_records_laps_and_reports_them() {
    let db = temp_db("demo");
    let out = binary()
        .args([
            "demo", "--track", "test", "--laps", "3", "--speed", "40", "--json",
        ])
        .args(["--db", db.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines = json_lines(&out.stdout);
    assert_eq!(lines[0]["type"], "session");
    assert_eq!(lines[0]["data"]["source"], "demo");
    let laps = data_of(&lines, "lap");
    let sim = data_of(&lines, "sim_lap");
    // Out lap plus three flying laps, with the game's own times.
    let kinds: Vec<&str> = laps.iter().map(|l| l["kind"].as_str().unwrap()).collect();
    assert_eq!(&kinds[..4], ["out", "flying", "flying", "flying"]);
    for (lap, report) in laps.iter().zip(&sim) {
        assert_eq!(lap["number"], report["lap"]);
        assert_eq!(lap["lap_time_ms"], report["reported_ms"]);
    }
    // The default mistakes were made, on laps 3 and 4, and cost time.
    let costs: Vec<f64> = sim
        .iter()
        .flat_map(|r| r["mistakes"].as_array().unwrap().iter())
        .map(|m| m["cost_ms"].as_f64().unwrap())
        .collect();
    assert_eq!(costs.len(), 2);
    assert!(costs.iter().all(|&c| c > 0.0), "{costs:?}");
    let summary = lines.iter().find(|l| l["type"] == "summary").unwrap();
    assert_eq!(summary["data"]["client"]["dropped"], 0);
}
