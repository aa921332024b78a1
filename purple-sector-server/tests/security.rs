//! A hostile but careful tester against a real server on loopback: each attack refused, each
//! legitimate path still working.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use support::http::{Running, host, parse_reply, request, request_from};

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use purple_sector_core::lap::{Lap, LapKind};
use purple_sector_core::store::{NewSession, SessionSource, Store};
use purple_sector_core::telemetry::Frame;
use purple_sector_server::limits::{HEADER_READ_TIMEOUT, MAX_CONNECTIONS};
use purple_sector_server::{AppState, RateLimit, RateLimits, serve};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_foreign_host_is_refused_before_any_handler_runs() {
    let server = Running::start(|_| {}).await;
    let (addr, lap) = (server.addr, server.lap);
    // DNS rebinding: a page of rebind.attacker.example resolving to 127.0.0.1.
    let reply = request(
        addr,
        &format!(
            "DELETE /api/laps/{lap} HTTP/1.1\r\nHost: rebind.attacker.example:{}",
            addr.port()
        ),
        b"",
    )
    .await;
    assert_eq!(reply.status, 421, "{}", reply.body);
    assert!(
        reply.json()["error"]
            .as_str()
            .unwrap()
            .contains("rebind.attacker.example")
    );
    assert!(server.store.get_lap(lap).await.is_ok(), "nothing deleted");
    for name in ["localhost", "127.0.0.1"] {
        let reply = request(
            addr,
            &format!("GET /api/sessions HTTP/1.1\r\nHost: {name}:{}", addr.port()),
            b"",
        )
        .await;
        assert_eq!(reply.status, 200, "{name}");
    }
    server.stop().await;

    // A name the user allows.
    let server = Running::start(|s| s.allow_host("pit-wall.lan")).await;
    let reply = request(
        server.addr,
        &format!(
            "GET /api/sessions HTTP/1.1\r\nHost: pit-wall.lan:{}",
            server.addr.port()
        ),
        b"",
    )
    .await;
    assert_eq!(reply.status, 200);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cross_site_requests_and_non_json_bodies_are_refused() {
    let server = Running::start(|s| s.allow_origin("https://league.example").unwrap()).await;
    let (addr, lap) = (server.addr, server.lap);
    let analyze = |origin: Option<&str>, content_type: &str| {
        let mut head = format!("POST /api/laps/{lap}/analyze HTTP/1.1\r\n{}", host(addr));
        if let Some(origin) = origin {
            head.push_str(&format!("\r\nOrigin: {origin}"));
        }
        if !content_type.is_empty() {
            head.push_str(&format!("\r\nContent-Type: {content_type}"));
        }
        head
    };
    // A form, text/plain or multipart POST from another site (no preflight): refused.
    for content_type in [
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
    ] {
        let reply = request(
            addr,
            &analyze(Some("http://evil.example"), content_type),
            b"{}",
        )
        .await;
        assert_eq!(reply.status, 403, "{content_type}: {}", reply.body);
        assert!(
            reply.json()["error"]
                .as_str()
                .unwrap()
                .contains("evil.example")
        );
        // Without an Origin (a non-browser client) the body must still be JSON.
        let reply = request(addr, &analyze(None, content_type), b"{}").await;
        assert_eq!(reply.status, 415, "{content_type}: {}", reply.body);
    }
    let reply = request(addr, &analyze(Some("null"), "application/json"), b"{}").await;
    assert_eq!(reply.status, 403, "Origin: null");
    assert!(
        !server.store.get_lap(lap).await.unwrap().analyzed,
        "nothing analysed"
    );

    // The legitimate paths: the server's own origin, an allowed one, no origin.
    let own = format!("http://{addr}");
    for origin in [Some(own.as_str()), Some("https://league.example"), None] {
        let reply = request(addr, &analyze(origin, "application/json"), b"{}").await;
        assert_ne!(reply.status, 403, "{origin:?}: {}", reply.body);
        assert_ne!(reply.status, 415, "{origin:?}: {}", reply.body);
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_upgrades_only_from_allowed_origins() {
    let server = Running::start(|s| s.allow_origin("https://league.example").unwrap()).await;
    let addr = server.addr;
    let connect = |origin: Option<&'static str>| async move {
        let mut request = format!("ws://{addr}/ws").into_client_request().unwrap();
        if let Some(origin) = origin {
            request
                .headers_mut()
                .insert("origin", origin.parse().unwrap());
        }
        tokio_tungstenite::connect_async(request).await
    };
    for origin in ["http://evil.example", "null"] {
        match connect(Some(origin)).await {
            Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
                assert_eq!(response.status(), 403, "{origin}");
                let body = response.body().clone().unwrap_or_default();
                let body: Value = serde_json::from_slice(&body).unwrap();
                assert!(body["error"].is_string());
            }
            other => panic!("{origin}: expected a 403, got {other:?}"),
        }
    }
    for origin in [None, Some("https://league.example")] {
        let (mut ws, _) = connect(origin).await.unwrap();
        let hello = ws.next().await.unwrap().unwrap();
        assert!(hello.to_text().unwrap().contains("connected"));
        ws.close(None).await.unwrap();
    }
    // /ws without an upgrade: a JSON error.
    let reply = request(addr, &format!("GET /ws HTTP/1.1\r\n{}", host(addr)), b"").await;
    assert!(reply.status >= 400);
    assert!(
        reply.json()["error"]
            .as_str()
            .unwrap()
            .contains("WebSocket")
    );
    server.stop().await;
}

/// The browser's own rules at work: a page served on another loopback port tries the
/// WebSocket, a CSRF form post and a no-cors fetch; none gets through.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_on_another_port_cannot_use_the_server() {
    let Some(binary) = support::browser::chromium() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "chromium is required under CI"
        );
        eprintln!("chromium not installed: the cross-site browser test was not run");
        return;
    };
    let server = Running::start(|_| {}).await;
    let (addr, lap) = (server.addr, server.lap);
    let evil = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let evil_addr = evil.local_addr().unwrap();
    let page = format!(
        r#"<!doctype html><html><body><script>
window.results = {{}};
const ws = new WebSocket("ws://{addr}/ws");
ws.onopen = () => {{ window.results.ws = "open"; ws.send(JSON.stringify({{type: "start_demo"}})); }};
ws.onerror = () => {{ window.results.ws = window.results.ws || "refused"; }};
ws.onclose = () => {{ window.results.ws = window.results.ws || "refused"; }};
fetch("http://{addr}/api/laps/{lap}/analyze", {{method: "POST", mode: "no-cors", headers: {{"content-type": "text/plain"}}, body: "{{}}"}})
  .then(() => window.results.post = "sent", () => window.results.post = "blocked");
fetch("http://{addr}/api/laps/{lap}", {{method: "DELETE", mode: "no-cors"}})
  .then(() => window.results.del = "sent", () => window.results.del = "blocked");
</script></body></html>"#
    );
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = evil.accept().await else {
                return;
            };
            let page = page.clone();
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = stream.read(&mut buf).await;
                let reply = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: text/html\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{page}",
                    page.len()
                );
                let _ = stream.write_all(reply.as_bytes()).await;
            });
        }
    });
    let (browser, port) = support::browser::launch(&binary, &format!("http://{evil_addr}/"));
    let (cdp, _) = tokio_tungstenite::connect_async(support::browser::page_socket(port))
        .await
        .unwrap();
    let mut page = support::browser::Page::new(cdp);
    page.call("Runtime.enable", json!({})).await;
    page.wait_for(
        "!!(window.results && window.results.ws && window.results.post && window.results.del)",
        "the page's attempts",
    )
    .await;
    let results = page.eval("JSON.stringify(window.results)").await;
    let results: Value = serde_json::from_str(results.as_str().unwrap()).unwrap();
    assert_eq!(results["ws"], "refused", "{results}");
    drop(browser);
    // Whatever the browser could send, the server did nothing.
    let kept = server.store.get_lap(lap).await.unwrap();
    assert!(!kept.analyzed, "the cross-site POST analysed nothing");
    assert!(
        server.store.list_sessions().await.unwrap().len() == 1,
        "no demo was started"
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_and_idle_connections_are_closed_within_seconds() {
    let server = Running::start(|_| {}).await;
    let addr = server.addr;
    let started = Instant::now();
    // Slowloris: a header byte every second.
    let mut slow = TcpStream::connect(addr).await.unwrap();
    let slow_task = tokio::spawn(async move {
        for byte in
            b"GET /api/sessions HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaa"
                .iter()
        {
            if slow.write_all(&[*byte]).await.is_err() {
                return Instant::now();
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        Instant::now()
    });
    // And one that sends nothing at all.
    let mut idle = TcpStream::connect(addr).await.unwrap();
    let mut buf = [0u8; 64];
    let closed = tokio::time::timeout(HEADER_READ_TIMEOUT * 3, idle.read(&mut buf)).await;
    assert!(closed.is_ok(), "an idle connection stays open");
    let slow_done = tokio::time::timeout(Duration::from_secs(40), slow_task)
        .await
        .unwrap()
        .unwrap();
    assert!(
        slow_done.duration_since(started) < HEADER_READ_TIMEOUT * 3,
        "the slow client kept its connection for {:?}",
        slow_done.duration_since(started)
    );
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_idle_connections_gets_clear_refusals_and_the_server_recovers() {
    let server = Running::start(|_| {}).await;
    let addr = server.addr;
    let mut held = Vec::new();
    for _ in 0..1_100 {
        held.push(TcpStream::connect(addr).await.unwrap());
    }
    // Those over the cap are told so at once and closed.
    let mut refused = 0;
    for stream in &mut held {
        let mut buf = vec![0u8; 1024];
        if let Ok(Ok(n)) =
            tokio::time::timeout(Duration::from_millis(20), stream.read(&mut buf)).await
        {
            let reply = parse_reply(&buf[..n]);
            if reply.status == 503 {
                assert!(
                    reply.json()["error"]
                        .as_str()
                        .unwrap()
                        .contains("connections")
                );
                refused += 1;
            }
        }
    }
    assert!(refused >= 1_100 - MAX_CONNECTIONS, "{refused} refused");
    // The idle ones are closed after the header timeout; then a normal request is served.
    tokio::time::sleep(HEADER_READ_TIMEOUT + Duration::from_secs(2)).await;
    let reply = request(
        addr,
        &format!("GET /api/sessions HTTP/1.1\r\n{}", host(addr)),
        b"",
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    drop(held);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn huge_websocket_messages_close_the_stream_with_1009() {
    let server = Running::start(|_| {}).await;
    let addr = server.addr;
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/ws"))
        .await
        .unwrap();
    let _hello = ws.next().await.unwrap().unwrap();
    let big = "x".repeat(64 << 20);
    let _ = ws.send(Message::Text(big.into())).await;
    let mut code = None;
    while let Ok(Some(message)) = tokio::time::timeout(Duration::from_secs(20), ws.next()).await {
        match message {
            Ok(Message::Close(Some(frame))) => {
                code = Some(frame.code);
                break;
            }
            Ok(_) => {}
            Err(_) => break,
        }
    }
    assert_eq!(code, Some(CloseCode::Size));
    // The server is still there.
    let reply = request(
        addr,
        &format!("GET /api/sessions HTTP/1.1\r\n{}", host(addr)),
        b"",
    )
    .await;
    assert_eq!(reply.status, 200);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicate_keys_and_unknown_messages_are_refused() {
    let server = Running::start(|_| {}).await;
    let addr = server.addr;
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/ws"))
        .await
        .unwrap();
    let _hello = ws.next().await.unwrap().unwrap();
    ws.send(Message::Text(
        r#"{"type":"ping","type":"start_demo"}"#.into(),
    ))
    .await
    .unwrap();
    let reply: Value =
        serde_json::from_str(ws.next().await.unwrap().unwrap().to_text().unwrap()).unwrap();
    assert_eq!(reply["type"], "error", "{reply}");
    assert!(
        reply["message"].as_str().unwrap().contains("duplicate"),
        "{reply}"
    );
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        server.store.list_sessions().await.unwrap().len(),
        1,
        "no demo started"
    );
    ws.close(None).await.unwrap();

    // In a request body too, and `[]` is not "no change".
    let patch = |body: &'static str| {
        let head = format!(
            "PATCH /api/sessions/1 HTTP/1.1\r\n{}\r\nContent-Type: application/json",
            host(addr)
        );
        async move { request(addr, &head, body.as_bytes()).await }
    };
    let reply = patch(r#"{"name":"a","name":"b"}"#).await;
    assert_eq!(reply.status, 422, "{}", reply.body);
    let reply = patch("[]").await;
    assert_eq!(reply.status, 422, "{}", reply.body);
    // Ids are [1-9][0-9]*.
    for id in ["+1", "01", "-1", "1.0"] {
        let reply = request(
            addr,
            &format!("GET /api/laps/{id} HTTP/1.1\r\n{}", host(addr)),
            b"",
        )
        .await;
        assert_eq!(reply.status, 400, "{id}: {}", reply.body);
    }
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_error_is_json_and_pages_cannot_be_framed() {
    let server = Running::start(|_| {}).await;
    let addr = server.addr;
    // 405, 413, 415.
    let reply = request(
        addr,
        &format!("GET /api/laps HTTP/1.1\r\n{}", host(addr)),
        b"",
    )
    .await;
    assert_eq!(reply.status, 405);
    assert!(reply.json()["error"].is_string());
    let big = vec![b' '; 200 << 10];
    let reply = request(
        addr,
        &format!(
            "POST /api/sessions HTTP/1.1\r\n{}\r\nContent-Type: application/json",
            host(addr)
        ),
        &big,
    )
    .await;
    assert_eq!(reply.status, 413, "{}", reply.body);
    assert!(reply.json()["error"].is_string());
    let reply = request(
        addr,
        &format!(
            "POST /api/sessions HTTP/1.1\r\n{}\r\nContent-Type: text/plain",
            host(addr)
        ),
        br#"{"name":"x"}"#,
    )
    .await;
    assert_eq!(reply.status, 415);
    assert!(reply.json()["error"].is_string());
    // The dashboard cannot be framed, sniffed, or made to run inline script.
    let page = request(addr, &format!("GET / HTTP/1.1\r\n{}", host(addr)), b"").await;
    assert_eq!(page.status, 200);
    let csp = page.header("content-security-policy").unwrap();
    assert!(csp.contains("default-src 'self'") && csp.contains("frame-ancestors 'none'"));
    assert!(!csp.contains("script-src 'self' 'unsafe-inline'"));
    assert_eq!(page.header("x-frame-options"), Some("DENY"));
    assert_eq!(page.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(page.header("referrer-policy"), Some("no-referrer"));
    assert!(!page.body.contains("<script>"), "no inline script");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn posted_laps_cannot_poison_the_data() {
    let server = Running::start(|_| {}).await;
    let addr = server.addr;
    let post = |body: String| {
        let head = format!(
            "POST /api/laps HTTP/1.1\r\n{}\r\nContent-Type: application/json",
            host(addr)
        );
        async move { request(addr, &head, body.as_bytes()).await }
    };
    let frame = |k: usize, speed: f64| {
        json!({"timestamp": 1_700_000_000_000u64 + k as u64 * 16, "throttle": 1.0, "brake": 0.0,
               "steering": 0.0, "speed": speed, "gear": 4, "rpm": 6000.0, "lapNumber": 7,
               "lapTime": k * 16, "normalizedPosition": k as f64 / 25.0})
    };
    // 25 frames claiming a 1-second lap.
    let frames: Vec<Value> = (0..25).map(|k| frame(k, 150.0)).collect();
    let reply = post(
        json!({"sessionId": 1, "lapNumber": 7, "lapTime": 1.0, "telemetryData": frames})
            .to_string(),
    )
    .await;
    assert_eq!(reply.status, 422, "{}", reply.body);
    assert!(
        reply.json()["error"]
            .as_str()
            .unwrap()
            .contains("telemetry")
    );
    // Impossible values, with the frame's index.
    let mut bad = frames.clone();
    bad[3]["speed"] = json!(1e39);
    let reply =
        post(json!({"sessionId": 1, "lapNumber": 7, "telemetryData": bad}).to_string()).await;
    assert_eq!(reply.status, 422, "{}", reply.body);
    assert!(
        reply.json()["error"]
            .as_str()
            .unwrap()
            .contains("telemetryData[3]"),
        "{}",
        reply.body
    );
    // Too many frames.
    let many: Vec<Value> = (0..80_000).map(|k| frame(k, 150.0)).collect();
    let reply =
        post(json!({"sessionId": 1, "lapNumber": 8, "telemetryData": many}).to_string()).await;
    assert!(matches!(reply.status, 413 | 422), "{}", reply.status);
    // A lap without a stated time is kept, as posted, never the reference.
    let reply =
        post(json!({"sessionId": 1, "lapNumber": 7, "telemetryData": frames}).to_string()).await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    assert_eq!(reply.json()["source"], "posted");
    // The same lap number again.
    let reply =
        post(json!({"sessionId": 1, "lapNumber": 7, "telemetryData": frames}).to_string()).await;
    assert_eq!(reply.status, 409, "{}", reply.body);
    // Oversized tags and comments.
    let patch = |path: &str, body: String| {
        let head = format!(
            "PATCH {path} HTTP/1.1\r\n{}\r\nContent-Type: application/json",
            host(addr)
        );
        async move { request(addr, &head, body.as_bytes()).await }
    };
    let reply = patch("/api/laps/1", json!({"tags": ["x".repeat(65)]}).to_string()).await;
    assert_eq!(reply.status, 422);
    let tags: Vec<String> = (0..33).map(|k| format!("t{k}")).collect();
    let reply = patch("/api/sessions/1", json!({"tags": tags}).to_string()).await;
    assert_eq!(reply.status, 422);
    let reply = patch(
        "/api/laps/1",
        json!({"comments": "x".repeat(5_000)}).to_string(),
    )
    .await;
    assert_eq!(reply.status, 422);
    let reply = patch(
        "/api/laps/1",
        json!({"comments": "x".repeat(7 << 20)}).to_string(),
    )
    .await;
    assert_eq!(reply.status, 413);
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_recording_at_a_time_and_no_post_into_it() {
    let server = Running::start(|_| {}).await;
    let addr = server.addr;
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/ws"))
        .await
        .unwrap();
    let hello: Value =
        serde_json::from_str(ws.next().await.unwrap().unwrap().to_text().unwrap()).unwrap();
    assert_eq!(hello["recording"], false);
    ws.send(Message::Text(r#"{"type":"start_demo"}"#.into()))
        .await
        .unwrap();
    ws.send(Message::Text(r#"{"type":"start_demo"}"#.into()))
        .await
        .unwrap();
    let mut replies = Vec::new();
    let mut session = None;
    while replies.len() < 2 {
        let m: Value =
            serde_json::from_str(ws.next().await.unwrap().unwrap().to_text().unwrap()).unwrap();
        match m["type"].as_str() {
            Some("demo") | Some("error") => replies.push(m),
            Some("session") => session = m["data"]["id"].as_i64(),
            _ => {}
        }
    }
    assert_eq!(replies[0]["state"], "started");
    assert_eq!(replies[1]["type"], "error");
    assert_eq!(replies[1]["message"], "a recording is already running");
    let (mut other, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/ws"))
        .await
        .unwrap();
    let hello: Value =
        serde_json::from_str(other.next().await.unwrap().unwrap().to_text().unwrap()).unwrap();
    assert_eq!(hello["recording"], true, "connected tells the truth");
    while session.is_none() {
        let m: Value =
            serde_json::from_str(ws.next().await.unwrap().unwrap().to_text().unwrap()).unwrap();
        if m["type"] == "session" {
            session = m["data"]["id"].as_i64();
        }
    }
    // A post into the session being recorded is refused.
    let frames: Vec<Value> = (0..30)
        .map(|k| {
            json!({"timestamp": k, "throttle": 0.5, "brake": 0.0, "steering": 0.0, "speed": 100.0,
                        "gear": 3, "rpm": 5000.0, "lapNumber": 50, "lapTime": k * 10})
        })
        .collect();
    let body = json!({"sessionId": session.unwrap(), "lapNumber": 50, "telemetryData": frames})
        .to_string();
    let reply = request(
        addr,
        &format!(
            "POST /api/laps HTTP/1.1\r\n{}\r\nContent-Type: application/json",
            host(addr)
        ),
        body.as_bytes(),
    )
    .await;
    assert_eq!(reply.status, 409, "{}", reply.body);
    ws.send(Message::Text(r#"{"type":"stop_demo"}"#.into()))
        .await
        .unwrap();
    loop {
        let m: Value =
            serde_json::from_str(ws.next().await.unwrap().unwrap().to_text().unwrap()).unwrap();
        if m["type"] == "demo" && m["state"] == "stopped" {
            break;
        }
    }
    ws.close(None).await.unwrap();
    other.close(None).await.unwrap();
    // The recording ended cleanly: its session is completed.
    let store = Arc::clone(&server.store);
    server.stop().await;
    let recorded = store
        .get_session(purple_sector_core::store::SessionId(session.unwrap()))
        .await
        .unwrap();
    assert_eq!(recorded.status.as_str(), "completed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_are_per_client_with_retry_after_and_cover_wrong_tokens() {
    let server = Running::start(|s| {
        s.limits = Arc::new(RateLimits {
            analyze: RateLimit::new(0.01, 2.0),
            login: RateLimit::new(0.01, 3.0),
            ..RateLimits::default()
        });
    })
    .await;
    let (addr, lap) = (server.addr, server.lap);
    let analyze = |from: &'static str| {
        let head = format!(
            "POST /api/laps/{lap}/analyze HTTP/1.1\r\n{}\r\nContent-Type: application/json",
            host(addr)
        );
        async move { request_from(from.parse().unwrap(), addr, &head, b"").await }
    };
    let mut statuses = Vec::new();
    for _ in 0..3 {
        statuses.push(analyze("127.0.0.1").await);
    }
    assert_eq!(statuses[2].status, 429, "{}", statuses[2].body);
    let retry: u64 = statuses[2].header("retry-after").unwrap().parse().unwrap();
    assert!(retry >= 1);
    // Another client (another loopback address) is not locked out.
    let other = analyze("127.0.0.2").await;
    assert_ne!(other.status, 429, "{}", other.body);
    // Malformed ids spend no budget.
    let reply = request_from(
        "127.0.0.3".parse().unwrap(),
        addr,
        &format!(
            "POST /api/laps/x/analyze HTTP/1.1\r\n{}\r\nContent-Type: application/json",
            host(addr)
        ),
        b"",
    )
    .await;
    assert_eq!(reply.status, 400);
    for _ in 0..2 {
        assert_ne!(analyze("127.0.0.3").await.status, 429);
    }
    server.stop().await;

    // Wrong tokens: 401, then 429.
    let server = Running::start(|s| {
        s.token = Some("s3cret".into());
        s.limits = Arc::new(RateLimits {
            login: RateLimit::new(0.01, 3.0),
            ..RateLimits::default()
        });
    })
    .await;
    let addr = server.addr;
    let mut last = 0;
    for k in 0..5 {
        let reply = request(
            addr,
            &format!(
                "GET /api/sessions HTTP/1.1\r\n{}\r\nAuthorization: Bearer guess{k}",
                host(addr)
            ),
            b"",
        )
        .await;
        last = reply.status;
        if k < 3 {
            assert_eq!(reply.status, 401);
        }
    }
    assert_eq!(last, 429);
    server.stop().await;
}

/// After a `kill -9` mid-recording: at start, the lap left in progress becomes partial (with
/// its frames) and its session `paused`, instead of `inProgress` and `active` forever.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn laps_left_in_progress_by_a_crash_are_recovered_at_start() {
    use purple_sector_core::store::SqliteStore;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("crashed.db");
    {
        let store = SqliteStore::open(&path).unwrap();
        let session = store
            .create_session(NewSession::new("crashed", SessionSource::Live))
            .await
            .unwrap();
        let frames = vec![Frame::default(); 40];
        let lap = Lap {
            stint: 0,
            number: 3,
            kind: LapKind::Partial,
            invalid_reason: None,
            time: None,
            frames,
        };
        store.checkpoint_lap(session.id, &lap).await.unwrap();
        // The recorder died a minute ago.
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute("UPDATE sessions SET updated_ms = updated_ms - 60000", [])
            .unwrap();
    }
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&path).unwrap());
    let state = AppState::new(Arc::clone(&store));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(serve(listener, state, async {
        let _ = stopped.await;
    }));
    let session = loop {
        let reply = request(
            addr,
            &format!("GET /api/sessions/1 HTTP/1.1\r\n{}", host(addr)),
            b"",
        )
        .await;
        if reply.status == 200 {
            break reply.json();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(session["status"], "paused", "{session}");
    let lap = &session["laps"][0];
    assert_eq!(lap["inProgress"], false);
    assert_eq!(lap["kind"], "partial");
    assert_eq!(lap["frameCount"], 40);
    stop.send(()).unwrap();
    task.await.unwrap().unwrap();
}
