//! Several `serve` instances on one Redis hub (and one database), in one test process: every
//! instance's WebSocket clients see every recording, one session or all, and `/metrics`
//! shows the hub's figures.
//!
//! Redis comes from `PURPLE_SECTOR_TEST_REDIS_URL`; without it the test says so and passes,
//! unless `CI` is set.
#![cfg(feature = "redis")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use futures_util::StreamExt;
use http_body_util::BodyExt;
use purple_sector_core::live::redis::{RedisBridge, RedisBridgeOptions};
use purple_sector_core::store::{MemoryStore, Store};
use purple_sector_server::{AppState, DemoSettings, app, serve};
use serde_json::Value;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use tower::ServiceExt;

#[path = "support/stream.rs"]
mod stream;
use stream::assert_stream_covers;

type Ws = WebSocketStream<MaybeTlsStream<tokio::net::TcpStream>>;

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

fn prefix(test: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("ps-test:{test}:{}:{nanos}", std::process::id())
}

/// An instance over the shared database, its hub bridged to Redis under `prefix`.
async fn instance(store: &Arc<dyn Store>, url: &str, prefix: &str, demo: DemoSettings) -> AppState {
    let mut state = AppState::new(Arc::clone(store));
    state.demo = demo;
    let options = RedisBridgeOptions {
        prefix: prefix.to_owned(),
        ..RedisBridgeOptions::default()
    };
    let bridge = RedisBridge::connect(url, state.hub.clone(), options)
        .await
        .unwrap();
    state.set_bridge(Arc::new(bridge));
    state
}

async fn start(state: AppState) -> (std::net::SocketAddr, tokio::sync::oneshot::Sender<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(async move {
        serve(listener, state, async {
            let _ = stopped.await;
        })
        .await
        .unwrap();
    });
    (addr, stop)
}

async fn get(state: &AppState, uri: &str) -> (StatusCode, String) {
    let request = Request::builder()
        .uri(uri)
        .header(header::HOST, "127.0.0.1:3000")
        .body(Body::empty())
        .unwrap();
    let response = app(state.clone()).oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

async fn ws(addr: std::net::SocketAddr, path: &str) -> Ws {
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}{path}"))
        .await
        .unwrap();
    assert_eq!(next(&mut ws).await["type"], "connected");
    ws
}

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

/// Messages until `done` says so (the last one included).
async fn until(ws: &mut Ws, mut done: impl FnMut(&Value) -> bool) -> Vec<Value> {
    let mut out = Vec::new();
    loop {
        let m = next(ws).await;
        let end = done(&m);
        out.push(m);
        if end {
            return out;
        }
    }
}

fn is_session(m: &Value, state: &str) -> Option<i64> {
    (m["type"] == "session" && m["data"]["state"] == state)
        .then(|| m["data"]["id"].as_i64().unwrap())
}

fn metric(text: &str, name: &str) -> f64 {
    text.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("no {name} in\n{text}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_servers_on_one_hub_share_every_recording() {
    let Some(url) = redis_url() else { return };
    let prefix = prefix("serve");
    // One database for all, as `--db postgres://…` would be.
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    // A records a longer session (out lap and two flying laps), B a short one of its own.
    let demo = |laps, speed| DemoSettings {
        track: "test".to_owned(),
        laps,
        speed,
    };
    let a = instance(&store, &url, &prefix, demo(2, 15.0)).await;
    let b = instance(&store, &url, &prefix, demo(1, 40.0)).await;
    let (_, stop_a) = start(a.clone()).await;
    let (addr_b, stop_b) = start(b.clone()).await;
    let (status, ready) = get(&a, "/readyz").await;
    assert_eq!(status, StatusCode::OK, "{ready}");
    let ready: Value = serde_json::from_str(&ready).unwrap();
    assert_eq!(ready["checks"]["hub"], "ok", "{ready}");

    // A session id that is not one is refused before the upgrade.
    let refused = tokio_tungstenite::connect_async(format!("ws://{addr_b}/ws?session=07")).await;
    match refused {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        }
        other => panic!("{other:?}"),
    }

    // A client of B watching everything, read on its own.
    let mut all_b = ws(addr_b, "/ws?hz=333").await;
    a.recorder.start_demo(&a, None, None).await.unwrap();
    let first = until(&mut all_b, |m| is_session(m, "started").is_some()).await;
    let x = is_session(first.last().unwrap(), "started").unwrap();
    let watcher = tokio::spawn(async move {
        let mut stopped = BTreeSet::new();
        let messages = until(&mut all_b, |m| {
            if let Some(id) = is_session(m, "stopped") {
                stopped.insert(id);
            }
            stopped.len() == 2
        })
        .await;
        let _ = all_b.close(None).await;
        messages
    });

    // An instance that starts now is told that A's session is live (replayed from the
    // Stream into its hub).
    let c = instance(&store, &url, &prefix, DemoSettings::default()).await;
    let (addr_c, stop_c) = start(c.clone()).await;
    let mut all_c = ws(addr_c, "/ws").await;
    assert_eq!(is_session(&next(&mut all_c).await, "started"), Some(x));
    let _ = all_c.close(None).await;

    // B records too; a client of B watching A's session only gets A's.
    b.recorder.start_demo(&b, None, None).await.unwrap();
    let mut only_x = ws(addr_b, &format!("/ws?hz=333&session={x}")).await;
    assert_eq!(
        is_session(&next(&mut only_x).await, "started"),
        Some(x),
        "joined mid-session: told it is live"
    );
    let watched = until(&mut only_x, |m| is_session(m, "stopped") == Some(x)).await;
    let _ = only_x.close(None).await;
    let (mut frames, mut deltas, mut laps) = (0, 0, Vec::new());
    for m in &watched {
        match m["type"].as_str().unwrap() {
            "telemetry" => {
                assert_eq!(m["data"]["sessionId"], x, "{m}");
                frames += 1;
                deltas += usize::from(m["data"]["delta"].is_f64());
            }
            "lap_completed" => {
                assert_eq!(m["data"]["sessionId"], x, "{m}");
                laps.push(m["data"]["id"].as_i64().unwrap());
            }
            "session" => assert_eq!(m["data"]["id"], x, "{m}"),
            other => panic!("{other}: {m}"),
        }
    }
    assert_eq!(assert_stream_covers(&watched, x), frames);
    assert!(
        deltas > 0,
        "the live delta A computed travels with the frame"
    );
    // The out lap, two flying laps, and whatever the end of the session left (partial).
    assert!(laps.len() >= 3, "{laps:?}");

    // B's client of everything saw both sessions, each with its frames.
    let seen = watcher.await.unwrap();
    let y = seen
        .iter()
        .find_map(|m| is_session(m, "started"))
        .expect("B's session started");
    assert_ne!(x, y);
    assert_stream_covers(&seen, x);
    assert_stream_covers(&seen, y);

    // B's REST has A's laps (one database), and B's metrics count what came over the hub.
    for lap in &laps {
        let (status, body) = get(&b, &format!("/api/laps/{lap}")).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let (_, text_b) = get(&b, "/metrics").await;
    assert_eq!(metric(&text_b, "purple_sector_hub_connected"), 1.0);
    assert!(metric(&text_b, "purple_sector_hub_frames_received_total") > 100.0);
    assert!(metric(&text_b, "purple_sector_hub_events_received_total") >= 5.0);
    assert_eq!(metric(&text_b, "purple_sector_hub_malformed_total"), 0.0);
    let (_, text_a) = get(&a, "/metrics").await;
    assert!(metric(&text_a, "purple_sector_hub_frames_published_total") > 100.0);
    let p99 = metric(
        &text_a,
        "purple_sector_hub_publish_latency_seconds{quantile=\"0.99\"}",
    );
    assert!(p99 > 0.0 && p99 < 1.0, "{p99}");
    assert!(text_a.contains("purple_sector_ws_client_frames_dropped"));

    for stop in [stop_a, stop_b, stop_c] {
        stop.send(()).unwrap();
    }
    let mut conn = redis::Client::open(url.as_str())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let _: () = redis::cmd("DEL")
        .arg(format!("{prefix}:events"))
        .query_async(&mut conn)
        .await
        .unwrap();
}
