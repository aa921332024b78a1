//! 500 WebSocket clients at 60 Hz on loopback while the recorder takes the built-in game at
//! 333 Hz: frame latency (recorder receive → client receive) percentiles, frames lost by the
//! recorder, frames each client got, and the largest latency of each second of the run (is
//! the tail one event, such as the session's start or end, or spread over the run?), beside
//! how late a plain thread outside the runtime woke from 1 ms sleeps in the same second: when
//! both are late together, every task of the process was held up (the machine, the hypervisor
//! or the kernel), not one client or the fan-out.
//!
//! `cargo bench -p purple-sector-benches --bench ws_fanout [-- CLIENTS SECONDS HZ]`
//! (500 clients, 10 s, 60 Hz by default; the second target is `-- 2000 10 10`).
//!
//! Target: each client at its rate, p99 under 20 ms and max under 50 ms, no frame lost by the
//! recorder, on the 2-core machine. The clients run in the same process, on the same two
//! cores, so they are kept light: a typed parse of the two fields they read, and an 8 KiB
//! read buffer (tungstenite's 128 KiB one is zero-filled before every read).

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use purple_sector_core::net::now_ns;
use purple_sector_core::record::{RecordOptions, Recorder, Source};
use purple_sector_core::sim::{SimConfig, Track};
use purple_sector_core::store::{MemoryStore, SessionSource, Store};
use purple_sector_server::{AppState, serve};
use tokio_tungstenite::tungstenite::Message;

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    let clients: usize = args.first().and_then(|a| a.parse().ok()).unwrap_or(500);
    let seconds: u64 = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(10);
    let hz: u32 = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(60);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(run(clients, seconds, hz));
}

/// What a client reads of a message.
#[derive(serde::Deserialize)]
struct Received {
    #[serde(rename = "type")]
    kind: String,
    data: Option<Stamps>,
}

#[derive(serde::Deserialize)]
struct Stamps {
    timestamp: Option<f64>,
    #[serde(rename = "receivedNs")]
    received_ns: Option<u64>,
}

async fn run(clients: usize, seconds: u64, hz: u32) {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let state = AppState::new(Arc::clone(&store));
    let hub = state.hub.clone();
    let metrics = Arc::clone(&state.metrics);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (stop_server, server_stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve(listener, state, async {
        let _ = server_stopped.await;
    }));

    // The clients connect first.
    let mut tasks = Vec::with_capacity(clients);
    let (go, _) = tokio::sync::broadcast::channel::<()>(1);
    for _ in 0..clients {
        let config = tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default()
            .read_buffer_size(8 << 10);
        let (mut ws, _) = tokio_tungstenite::connect_async_with_config(
            format!("ws://{addr}/ws?hz={hz}"),
            Some(config),
            false,
        )
        .await
        .expect("connect");
        let mut stop = go.subscribe();
        tasks.push(tokio::spawn(async move {
            let mut latencies_us = Vec::new();
            loop {
                tokio::select! {
                    _ = stop.recv() => break,
                    m = ws.next() => match m {
                        Some(Ok(Message::Text(text))) => {
                            let now = now_ns();
                            if let Ok(Received { kind, data: Some(stamps) }) = serde_json::from_str(&text) {
                                if kind == "telemetry" {
                                    let sent_ms = stamps.timestamp.unwrap_or(0.0) as u64;
                                    let exact = stamps.received_ns.unwrap_or(sent_ms * 1_000_000);
                                    latencies_us.push((exact, now.saturating_sub(exact) / 1_000));
                                }
                            }
                        }
                        Some(Ok(_)) => {}
                        _ => break,
                    }
                }
            }
            latencies_us
        }));
    }
    eprintln!(
        "{clients} clients at {hz} Hz connected; recording the built-in game at 333 Hz for {seconds} s"
    );

    // The recorder: the built-in game at real time, long enough for the run.
    let config = SimConfig {
        laps: 50,
        ..SimConfig::new(Track::by_name("test").expect("track"))
    };
    let options = RecordOptions {
        source: SessionSource::Demo,
        hub: Some(hub),
        ..RecordOptions::default()
    };
    let watching = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let watcher = std::thread::spawn({
        let watching = Arc::clone(&watching);
        move || oversleeps(&watching)
    });
    let started = Instant::now();
    let source = Source::Simulator { config, speed: 1.0 };
    let recorder = Recorder::start(store, source, options)
        .await
        .expect("recorder");
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    let recorded = recorder.stop().await.expect("recording");
    let elapsed = started.elapsed().as_secs_f64();
    watching.store(false, std::sync::atomic::Ordering::Relaxed);
    let late = watcher.join().expect("watcher");
    let _ = go.send(());
    let mut stamped: Vec<(u64, u64)> = Vec::new();
    let mut per_client = Vec::new();
    for task in tasks {
        let l = task.await.expect("client");
        per_client.push(l.len());
        stamped.extend(l);
    }
    let mut all: Vec<u64> = stamped.iter().map(|&(_, us)| us).collect();
    let _ = stop_server.send(());
    let _ = server.await;

    all.sort_unstable();
    let pct = |p: f64| {
        all.get(((all.len() as f64 - 1.0) * p) as usize)
            .copied()
            .unwrap_or(0) as f64
            / 1000.0
    };
    let frames = recorded.summary.pipeline.frames;
    println!(
        "clients {clients} at {hz} Hz, {elapsed:.1} s: recorder took {frames} frames ({:.0}/s), dropped {} (client) / lost {} (hub→slow clients)",
        frames as f64 / elapsed,
        recorded.summary.client.dropped,
        metrics
            .frames_dropped
            .load(std::sync::atomic::Ordering::Relaxed),
    );
    println!(
        "messages {} (min {} / max {} per client, {:.1}/s each); latency ms p50 {:.2} p90 {:.2} p99 {:.2} max {:.2}",
        all.len(),
        per_client.iter().min().unwrap_or(&0),
        per_client.iter().max().unwrap_or(&0),
        all.len() as f64 / clients as f64 / elapsed,
        pct(0.50),
        pct(0.90),
        pct(0.99),
        pct(1.0),
    );
    // Where the tail is: the largest latency of the frames sent in each second of the run.
    let first_ns = stamped.iter().map(|&(at, _)| at).min().unwrap_or(0);
    let by_second = |stamps: &[(u64, u64)]| {
        let mut max = vec![0u64; seconds as usize + 2];
        for &(at, us) in stamps {
            let second =
                ((at.saturating_sub(first_ns) / 1_000_000_000) as usize).min(max.len() - 1);
            max[second] = max[second].max(us);
        }
        let ms: Vec<String> = max
            .iter()
            .map(|&us| format!("{:.1}", us as f64 / 1000.0))
            .collect();
        ms.join(" ")
    };
    println!(
        "max latency ms by second of the run: {}",
        by_second(&stamped)
    );
    println!(
        "a plain thread's largest oversleep of 1 ms sleeps, ms by second: {}",
        by_second(&late)
    );
}

/// How late a plain thread wakes from 1 ms sleeps while `watching`: (when it woke, on the
/// frames' clock, and how late, µs).
fn oversleeps(watching: &std::sync::atomic::AtomicBool) -> Vec<(u64, u64)> {
    let mut late = Vec::new();
    while watching.load(std::sync::atomic::Ordering::Relaxed) {
        let asleep = Instant::now();
        std::thread::sleep(Duration::from_millis(1));
        let over = asleep.elapsed().saturating_sub(Duration::from_millis(1));
        late.push((now_ns(), over.as_micros() as u64));
    }
    late
}
