//! The live hub through Redis: what it adds to a frame's way from the recorder to a client.
//!
//! 1. `publish→receive` (criterion): one frame published on instance A's hub, received by a
//!    subscriber of instance B's hub through Redis (pub/sub), one at a time; p50/p99 printed.
//! 2. The league case: the built-in game recorded at 333 Hz (real time) on instance A, 100
//!    WebSocket clients at 60 Hz (the server's default rate) split over A and B (`serve`
//!    both, one Redis, in this one process): latency from
//!    the recorder's receive to the client's receive on each instance, what B's adds at p99,
//!    frames lost by the recorder and by the bridge.
//!
//! Needs Redis: `PURPLE_SECTOR_TEST_REDIS_URL=redis://127.0.0.1:6379 cargo bench -p
//! purple-sector-benches --bench hub_redis`; without the variable it says so and does
//! nothing. `PURPLE_SECTOR_BENCH_CLIENTS` (default 100), `PURPLE_SECTOR_BENCH_HZ` (each
//! client's rate, default 60) and `PURPLE_SECTOR_BENCH_SECONDS` (default 10) size part 2.
//!
//! Target: the hub adds at most 5 ms at p99, and the recorder loses no frame, on the 2-core
//! machine.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput};
use futures_util::StreamExt;
use purple_sector_core::live::redis::{RedisBridge, RedisBridgeOptions};
use purple_sector_core::live::{Hub, LiveEvent, LiveFrame};
use purple_sector_core::net::now_ns;
use purple_sector_core::record::{RecordOptions, Recorder, Source};
use purple_sector_core::sim::{SimConfig, Track};
use purple_sector_core::store::{MemoryStore, SessionId, SessionSource, Store};
use purple_sector_core::telemetry::Frame;
use purple_sector_server::{AppState, serve};
use tokio_tungstenite::tungstenite::Message;

fn main() {
    let Some(url) = std::env::var("PURPLE_SECTOR_TEST_REDIS_URL")
        .ok()
        .filter(|u| !u.is_empty())
    else {
        println!("hub_redis: PURPLE_SECTOR_TEST_REDIS_URL is not set; skipped");
        return;
    };
    let env = |name: &str, default: u64| {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let clients = env("PURPLE_SECTOR_BENCH_CLIENTS", 100) as usize;
    let seconds = env("PURPLE_SECTOR_BENCH_SECONDS", 10);
    let hz = env("PURPLE_SECTOR_BENCH_HZ", 60);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let mut criterion = Criterion::default().configure_from_args();
    publish_receive(&mut criterion, &rt, &url);
    criterion.final_summary();
    rt.block_on(league(&url, clients, hz, seconds));
}

fn prefix(what: &str) -> String {
    format!("ps-bench:{what}:{}:{}", std::process::id(), now_ns())
}

fn options(prefix: &str) -> RedisBridgeOptions {
    RedisBridgeOptions {
        prefix: prefix.to_owned(),
        replay_window: Duration::ZERO,
        ..RedisBridgeOptions::default()
    }
}

/// Nearest-rank quantile of sorted values.
fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let k = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[k]
}

fn publish_receive(c: &mut Criterion, rt: &tokio::runtime::Runtime, url: &str) {
    let prefix = prefix("publish-receive");
    let (hub_a, hub_b) = (Hub::default(), Hub::default());
    let mut watch_b = hub_b.subscribe();
    let (a, b) = rt.block_on(async {
        let a = RedisBridge::connect(url, hub_a.clone(), options(&prefix))
            .await
            .expect("Redis");
        let b = RedisBridge::connect(url, hub_b.clone(), options(&prefix))
            .await
            .expect("Redis");
        (a, b)
    });
    let frame = LiveFrame {
        session: Some(SessionId(1)),
        frame: Frame {
            speed_kmh: 212.5,
            ..Frame::default()
        },
        delta_s: Some(-0.125),
    };
    let mut samples_us: Vec<f64> = Vec::new();
    let mut group = c.benchmark_group("hub_redis");
    group.throughput(Throughput::Elements(1));
    group.bench_function("publish_receive", |bencher| {
        bencher.iter_custom(|iters| {
            rt.block_on(async {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let started = Instant::now();
                    hub_a.publish(LiveEvent::Frame(Arc::new(frame)));
                    loop {
                        match tokio::time::timeout(Duration::from_secs(5), watch_b.recv()).await {
                            Ok(Some(LiveEvent::Frame(_))) => break,
                            Ok(Some(_)) => {}
                            other => panic!("no frame through Redis: {other:?}"),
                        }
                    }
                    let took = started.elapsed();
                    samples_us.push(took.as_secs_f64() * 1e6);
                    total += took;
                }
                total
            })
        });
    });
    group.finish();
    samples_us.sort_by(f64::total_cmp);
    println!(
        "hub_redis publish→receive over {} frames: p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms (target p99 ≤ 5 ms)",
        samples_us.len(),
        quantile(&samples_us, 0.50) / 1e3,
        quantile(&samples_us, 0.99) / 1e3,
        quantile(&samples_us, 1.0) / 1e3,
    );
    rt.block_on(async {
        a.shutdown().await;
        b.shutdown().await;
    });
}

/// One `serve` instance on the shared store, bridged under `prefix`.
async fn instance(
    store: &Arc<dyn Store>,
    url: &str,
    prefix: &str,
) -> (
    AppState,
    std::net::SocketAddr,
    tokio::sync::oneshot::Sender<()>,
) {
    let mut state = AppState::new(Arc::clone(store));
    let bridge = RedisBridge::connect(url, state.hub.clone(), options(prefix))
        .await
        .expect("Redis");
    state.set_bridge(Arc::new(bridge));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(serve(listener, state.clone(), async {
        let _ = stopped.await;
    }));
    (state, addr, stop)
}

async fn league(url: &str, clients: usize, hz: u64, seconds: u64) {
    let prefix = prefix("league");
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let (a, addr_a, stop_a) = instance(&store, url, &prefix).await;
    let (b, addr_b, stop_b) = instance(&store, url, &prefix).await;

    let (go, _) = tokio::sync::broadcast::channel::<()>(1);
    let mut tasks = Vec::with_capacity(clients);
    for k in 0..clients {
        let addr = if k % 2 == 0 { addr_a } else { addr_b };
        let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/ws?hz={hz}"))
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
                            if let Ok(v) = serde_json::from_str::<serde_json::Value>(&text) {
                                if v["type"] == "telemetry" {
                                    let received = v["data"]["receivedNs"].as_u64().unwrap_or(now);
                                    latencies_us.push(now.saturating_sub(received) as f64 / 1e3);
                                }
                            }
                        }
                        Some(Ok(_)) => {}
                        _ => break,
                    }
                }
            }
            (k % 2 == 0, latencies_us)
        }));
    }
    println!(
        "hub_redis league: {clients} clients at {hz} Hz over two instances; the built-in game recorded on A at 333 Hz for {seconds} s"
    );

    let config = SimConfig {
        laps: 50,
        ..SimConfig::new(Track::by_name("test").expect("track"))
    };
    let options = RecordOptions {
        source: SessionSource::Demo,
        hub: Some(a.hub.clone()),
        ..RecordOptions::default()
    };
    let started = Instant::now();
    let source = Source::Simulator { config, speed: 1.0 };
    let recorder = Recorder::start(Arc::clone(&store), source, options)
        .await
        .expect("recorder");
    tokio::time::sleep(Duration::from_secs(seconds)).await;
    let recorded = recorder.stop().await.expect("recording");
    let elapsed = started.elapsed().as_secs_f64();
    // Let the last frames arrive.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let _ = go.send(());
    let (mut on_a, mut on_b) = (Vec::new(), Vec::new());
    for task in tasks {
        let (local, latencies) = task.await.expect("client");
        if local {
            on_a.extend(latencies);
        } else {
            on_b.extend(latencies);
        }
    }
    let stats_a = a.bridge.as_ref().expect("bridge").stats();
    let stats_b = b.bridge.as_ref().expect("bridge").stats();
    let _ = stop_a.send(());
    let _ = stop_b.send(());

    let frames = recorded.summary.pipeline.frames;
    println!(
        "recorder: {frames} frames in {elapsed:.1} s ({:.0}/s), {} lost by the recorder; bridge A published {}, dropped {}; B received {}, missed {}",
        frames as f64 / elapsed,
        recorded.summary.client.dropped,
        stats_a.frames_published,
        stats_a.frames_lost_outbound + stats_a.hub_lagged,
        stats_b.frames_received,
        stats_b.frames_missed,
    );
    let latency = stats_a.publish_latency;
    println!(
        "bridge A publish latency (hub → Redis ack): p50 {:.3} ms, p99 {:.3} ms over the last {}",
        latency.p50.as_secs_f64() * 1e3,
        latency.p99.as_secs_f64() * 1e3,
        latency.window,
    );
    on_a.sort_by(f64::total_cmp);
    on_b.sort_by(f64::total_cmp);
    for (name, all) in [("A (local hub)", &on_a), ("B (through Redis)", &on_b)] {
        println!(
            "clients on {name}: {} messages; recorder → client ms p50 {:.2} p90 {:.2} p99 {:.2} max {:.2}",
            all.len(),
            quantile(all, 0.50) / 1e3,
            quantile(all, 0.90) / 1e3,
            quantile(all, 0.99) / 1e3,
            quantile(all, 1.0) / 1e3,
        );
    }
    println!(
        "the hub adds {:.2} ms at p50 and {:.2} ms at p99 (target ≤ 5 ms at p99)",
        (quantile(&on_b, 0.50) - quantile(&on_a, 0.50)) / 1e3,
        (quantile(&on_b, 0.99) - quantile(&on_a, 0.99)) / 1e3,
    );
}
