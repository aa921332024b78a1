//! `replay` end to end: the binary serves a capture as the game; our client receives it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use purple_sector_core::capture::{CaptureWriter, LinkType};
use purple_sector_core::net::{AcClient, ClientConfig, ClientEvent};
use purple_sector_core::protocol::{CarInfo, Operation, Request};
use support::*;
use tokio::sync::{mpsc, watch};

/// A capture of a client's session: handshake, reply, then 400 car-info datagrams 3 ms apart.
fn short_capture(path: &Path) -> u64 {
    let game = SocketAddrV4::new(Ipv4Addr::LOCALHOST, 9996);
    let client = SocketAddrV4::new(Ipv4Addr::LOCALHOST, 40_000);
    let mut w = CaptureWriter::create(path, LinkType::RawIpv4).unwrap();
    let t0 = 1_700_000_000_000_000_000u64;
    w.write_datagram(
        t0,
        client,
        game,
        &Request::new(Operation::Handshake).encode(),
    )
    .unwrap();
    w.write_datagram(t0 + 500_000, game, client, &hello().encode())
        .unwrap();
    for k in 0..400u64 {
        let t = t0 + 10_000_000 + k * 3_000_000;
        w.write_datagram(t, game, client, &packet(0, (k * 3) as i32))
            .unwrap();
    }
    w.finish().unwrap();
    399 * 3_000_000
}

fn free_port() -> SocketAddr {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

fn spawn_replay(capture: &Path, game: SocketAddr, speed: &str) -> Child {
    binary()
        .args([
            "replay",
            capture.to_str().unwrap(),
            "--as-game",
            &game.to_string(),
        ])
        .args(["--speed", speed])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Receives the replay; returns each car-info's lap clock and arrival time.
async fn receive(game: SocketAddr, count: usize) -> (String, Vec<(i32, Instant)>) {
    let config = ClientConfig {
        handshake_interval: Duration::from_millis(100),
        ..ClientConfig::new(game)
    };
    let client = AcClient::bind(config).unwrap();
    let (tx, mut rx) = mpsc::channel(4096);
    let (stop, shutdown) = watch::channel(false);
    let task = tokio::spawn(client.run(tx, shutdown));
    let mut car = String::new();
    let mut arrivals = Vec::new();
    while arrivals.len() < count {
        match tokio::time::timeout(Duration::from_secs(20), rx.recv())
            .await
            .unwrap()
        {
            Some(ClientEvent::Connected(hello)) => car = hello.car_name.to_string_lossy(),
            Some(ClientEvent::Datagram { bytes, .. }) => {
                arrivals.push((CarInfo::new(&bytes).unwrap().lap_time_ms(), Instant::now()));
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    stop.send(true).unwrap();
    task.await.unwrap().unwrap();
    (car, arrivals)
}

fn span_s(arrivals: &[(i32, Instant)]) -> f64 {
    let first = arrivals.first().unwrap().1;
    let last = arrivals.last().unwrap().1;
    last.duration_since(first).as_secs_f64()
}

#[test]
fn replay_keeps_the_capture_timing_scaled() {
    let capture = temp_db("replay").with_extension("pcap");
    let capture_span_s = short_capture(&capture) as f64 / 1e9;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();

    let mut spans = Vec::new();
    for speed in ["1", "10"] {
        let game = free_port();
        let child = spawn_replay(&capture, game, speed);
        let (car, arrivals) = rt.block_on(receive(game, 400));
        let mut child = child;
        child.wait().unwrap();
        // The handshake is answered from the capture's own reply; data in order, complete.
        assert_eq!(car, "ks_corvette_c7r");
        let clocks: Vec<i32> = arrivals.iter().map(|(c, _)| *c).collect();
        assert_eq!(clocks, (0..400).map(|k| k * 3).collect::<Vec<_>>());
        spans.push(span_s(&arrivals));
    }
    // At 1× the replay spans the capture's own 1.197 s; at 10× a tenth of it.
    let ratio_1x = spans[0] / capture_span_s;
    assert!(
        (0.98..1.02).contains(&ratio_1x),
        "1×: {:.4} of the capture's span",
        ratio_1x
    );
    let speedup = spans[0] / spans[1];
    assert!(
        (9.0..11.0).contains(&speedup),
        "10× played {speedup:.2}× faster"
    );
}

#[test]
fn replay_import_is_import() {
    let db = temp_db("replay-import");
    let capture = fixture("imola-lap2.pcap");
    let out = binary()
        .args([
            "replay",
            capture.to_str().unwrap(),
            "--import",
            "--json",
            "--db",
            db.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.lines()
            .any(|l| l.contains("\"type\":\"lap\"") && l.contains("\"frames\":4880"))
    );
}
