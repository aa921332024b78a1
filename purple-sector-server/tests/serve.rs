//! `serve`: routes through `app()` without a socket, then a real socket with the WebSocket
//! protocol and the token guard.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use purple_sector_core::store::{MemoryStore, Store};
use purple_sector_server::{AppState, DemoSettings, app, serve};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tower::ServiceExt;

fn state() -> AppState {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let mut state = AppState::new(store);
    state.demo = DemoSettings {
        track: "test".to_owned(),
        laps: 1,
        speed: 40.0,
    };
    state
}

async fn call(
    state: &AppState,
    method: &str,
    uri: &str,
    body: Option<&str>,
) -> (StatusCode, Value) {
    let mut request = Request::builder()
        .method(method)
        .uri(uri)
        .header(header::HOST, "127.0.0.1:3000");
    if body.is_some() {
        request = request.header(header::CONTENT_TYPE, "application/json");
    }
    let request = request
        .body(body.map_or_else(Body::empty, |b| Body::from(b.to_owned())))
        .unwrap();
    let response = app(state.clone()).oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let value = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes)
            .unwrap_or(Value::String(String::from_utf8_lossy(&bytes).into()))
    };
    (status, value)
}

#[tokio::test]
async fn sessions_and_laps_through_the_router() {
    let s = state();
    let (status, created) = call(
        &s,
        "POST",
        "/api/sessions",
        Some(r#"{"name":"Friday","source":"live"}"#),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["name"], "Friday");
    assert_eq!(created["status"], "active");
    assert!(created["createdAt"].is_i64());
    let id = created["id"].as_i64().unwrap();

    let frames: Vec<Value> = (0..50)
        .map(|k| json!({"timestamp": 1_700_000_000_000i64 + k, "throttle": 1.0, "brake": 0.0, "steering": -0.5,
                        "speed": 200.0, "gear": 5, "rpm": 7000.0, "lapTime": k * 16, "lapNumber": 1, "normalizedPosition": k as f64 / 50.0}))
        .collect();
    // A short lap: 0.784 s of lap clock, 2 % of the way from the line at 200 km/h.
    let lap = json!({"sessionId": id, "lapNumber": 1, "lapTime": 0.8, "telemetryData": frames})
        .to_string();
    let (status, lap) = call(&s, "POST", "/api/laps", Some(&lap)).await;
    assert_eq!(status, StatusCode::CREATED, "{lap}");
    assert_eq!(lap["lapTime"], 0.8);
    assert_eq!(lap["lapTimeSource"], "telemetry");
    assert_eq!(lap["source"], "posted");
    assert_eq!(lap["frameCount"], 50);
    assert!(
        lap.get("telemetryData").is_none(),
        "lists and laps never carry telemetry"
    );
    let lap_id = lap["id"].as_i64().unwrap();

    let (status, session) = call(&s, "GET", &format!("/api/sessions/{id}"), None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(session["laps"][0]["lapNumber"], 1);
    let (_, list) = call(&s, "GET", "/api/sessions", None).await;
    assert_eq!(list.as_array().unwrap().len(), 1);

    let (status, t) = call(
        &s,
        "GET",
        &format!("/api/laps/{lap_id}/telemetry?step=10"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(t["count"], 5);
    assert_eq!(t["steerDeg"][0], -225.0); // −0.5 of the 450° lock

    let (status, patched) = call(
        &s,
        "PATCH",
        &format!("/api/sessions/{id}"),
        Some(r#"{"status":"archived","tags":["wet"]}"#),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(patched["status"], "archived");
    let (status, _) = call(
        &s,
        "PATCH",
        &format!("/api/laps/{lap_id}"),
        Some(r#"{"comments":"late on the brakes"}"#),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = call(&s, "DELETE", &format!("/api/laps/{lap_id}"), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = call(&s, "DELETE", &format!("/api/sessions/{id}"), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body) = call(&s, "GET", &format!("/api/sessions/{id}"), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(body["error"].as_str().unwrap().contains("not found"));
}

#[tokio::test]
async fn bad_input_gets_a_4xx_with_a_json_message_and_writes_nothing() {
    let s = state();
    let cases: [(&str, &str, Option<&str>, StatusCode); 10] = [
        (
            "POST",
            "/api/sessions",
            Some(r#"{"name": 5}"#),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "POST",
            "/api/sessions",
            Some(r#"{"name": "x", "source": "moon"}"#),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "POST",
            "/api/sessions",
            Some(r#"{}"#),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "POST",
            "/api/sessions",
            Some(r#"{"name": "x", "admin": true}"#),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            "POST",
            "/api/sessions",
            Some(r#"{"name": "#),
            StatusCode::BAD_REQUEST,
        ),
        (
            "POST",
            "/api/sessions",
            Some(r#"{"name": "   "}"#),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        ("GET", "/api/sessions/abc", None, StatusCode::BAD_REQUEST),
        ("GET", "/api/laps/999", None, StatusCode::NOT_FOUND),
        (
            "POST",
            "/api/laps",
            Some(r#"{"sessionId": 999, "lapNumber": 1}"#),
            StatusCode::NOT_FOUND,
        ),
        (
            "GET",
            "/api/laps/1/telemetry?step=0",
            None,
            StatusCode::BAD_REQUEST,
        ),
    ];
    for (method, uri, body, expected) in cases {
        let (status, value) = call(&s, method, uri, body).await;
        assert_eq!(status, expected, "{method} {uri} {body:?}: {value}");
        assert!(
            value["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{value}"
        );
    }
    // Oversized body.
    let huge = format!(r#"{{"name": "{}"}}"#, "x".repeat(9 << 20));
    let (status, value) = call(&s, "POST", "/api/sessions", Some(&huge)).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{value}");
    // Nothing was written.
    assert!(s.store.list_sessions().await.unwrap().is_empty());
}

async fn start(
    state: AppState,
) -> (
    std::net::SocketAddr,
    tokio::sync::oneshot::Sender<()>,
    tokio::task::JoinHandle<()>,
) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        serve(listener, state, async {
            let _ = stopped.await;
        })
        .await
        .unwrap();
    });
    (addr, stop, task)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_demo_ping_and_an_injection_attempt() {
    let s = state();
    let metrics = Arc::clone(&s.metrics);
    let store = Arc::clone(&s.store);
    let (addr, stop, task) = start(s).await;
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/ws?hz=100"))
        .await
        .unwrap();
    use futures_util_lite::{next_json, send_json};
    let hello = next_json(&mut ws).await;
    assert_eq!(hello["type"], "connected");

    send_json(&mut ws, json!({"type": "ping"})).await;
    assert_eq!(next_json(&mut ws).await["type"], "pong");

    // A client cannot inject telemetry: ignored, counted, not rebroadcast.
    send_json(
        &mut ws,
        json!({"type": "telemetry", "data": {"speed": 999}}),
    )
    .await;

    send_json(&mut ws, json!({"type": "start_demo"})).await;
    let (mut telemetry, mut lap_done, mut session) = (0, None, false);
    while lap_done.is_none() {
        let m = next_json(&mut ws).await;
        match m["type"].as_str().unwrap() {
            "telemetry" => {
                telemetry += 1;
                assert!(m["data"]["speed"].as_f64().unwrap() < 400.0);
                assert!(m["data"]["steering"].as_f64().unwrap().abs() <= 1.0);
            }
            "lap_completed" => lap_done = Some(m["data"].clone()),
            "session" => session = true,
            _ => {}
        }
    }
    assert!(session);
    assert!(telemetry > 20, "{telemetry} telemetry messages");
    let lap = lap_done.unwrap();
    assert_eq!(lap["lapNumber"], 1);
    assert_eq!(lap["kind"], "out");
    send_json(&mut ws, json!({"type": "stop_demo"})).await;
    loop {
        let m = next_json(&mut ws).await;
        if m["type"] == "demo" && m["state"] == "stopped" {
            break;
        }
    }
    assert_eq!(
        metrics
            .ws_ignored
            .load(std::sync::atomic::Ordering::Relaxed),
        1
    );
    let sessions = store.list_sessions().await.unwrap();
    assert_eq!(sessions.len(), 1);
    assert_eq!(sessions[0].source.as_str(), "demo");
    futures_util_lite::close(&mut ws).await;
    stop.send(()).unwrap();
    task.await.unwrap();
}

/// A client gets frames at its own rate, never faster (the game sends 333 a second, here
/// 40 times that), the newest each time; the frames in between are counted as thinned. Two
/// clients at different rates share the one serialisation of each frame.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_client_gets_the_newest_frames_at_its_own_rate() {
    use futures_util_lite::{next_json, send_json, until};
    let s = state();
    let metrics = Arc::clone(&s.metrics);
    let (addr, stop, task) = start(s).await;
    let mut slow = tokio_tungstenite::connect_async(format!("ws://{addr}/ws?hz=20"))
        .await
        .unwrap()
        .0;
    let mut fast = tokio_tungstenite::connect_async(format!("ws://{addr}/ws?hz=200"))
        .await
        .unwrap()
        .0;
    assert_eq!(next_json(&mut slow).await["type"], "connected");
    assert_eq!(next_json(&mut fast).await["type"], "connected");
    send_json(&mut slow, json!({"type": "start_demo"})).await;
    let telemetry = |m: &Value| m["type"] == "telemetry";
    // For a second from its first frame, the slow client gets at most one a slot (20, give
    // or take the slots at the edges and a send delayed into the window), each newer than
    // the last. The game sent ~13 000.
    let first = until(&mut slow, telemetry).await;
    let mut clocks = vec![first["data"]["receivedNs"].as_u64().unwrap()];
    let window = tokio::time::Instant::now() + Duration::from_secs(1);
    while let Ok(m) = tokio::time::timeout_at(window, until(&mut slow, telemetry)).await {
        clocks.push(m["data"]["receivedNs"].as_u64().unwrap());
    }
    assert!(
        (3..=24).contains(&clocks.len()),
        "{} frames in 1 s at 20 Hz",
        clocks.len()
    );
    assert!(clocks.windows(2).all(|w| w[1] > w[0]), "{clocks:?}");
    let mut fast_count = 0;
    let fast_started = std::time::Instant::now();
    while fast_started.elapsed() < Duration::from_millis(200) {
        until(&mut fast, telemetry).await;
        fast_count += 1;
    }
    assert!(
        fast_count >= 2,
        "the fast client got {fast_count} frames in 200 ms"
    );
    assert!(
        metrics
            .frames_thinned
            .load(std::sync::atomic::Ordering::Relaxed)
            > 100
    );
    futures_util_lite::close(&mut slow).await;
    futures_util_lite::close(&mut fast).await;
    stop.send(()).unwrap();
    task.await.unwrap();
}

/// `start_demo` with a `sessionId` records into that session (one made with the form), not a
/// new one; a session that does not exist, or is of another track, is refused at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_demo_records_into_the_session_it_names() {
    let s = state();
    let store = Arc::clone(&s.store);
    let (status, form) = call(&s, "POST", "/api/sessions", Some(r#"{"name":"Form"}"#)).await;
    assert_eq!(status, StatusCode::CREATED);
    let monza = store
        .create_session(purple_sector_core::store::NewSession {
            track: "monza".to_owned(),
            ..purple_sector_core::store::NewSession::new(
                "Monza",
                purple_sector_core::store::SessionSource::Live,
            )
        })
        .await
        .unwrap();
    let (addr, stop, task) = start(s).await;
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/ws?hz=10"))
        .await
        .unwrap();
    use futures_util_lite::{next_json, send_json};
    assert_eq!(next_json(&mut ws).await["type"], "connected");
    use futures_util_lite::until;
    let reply = |wanted: &'static str| move |m: &Value| m["type"] == wanted;

    for (id, said) in [
        (json!(999), "session 999 not found".to_owned()),
        (
            json!(monza.id.0),
            format!(
                "session {} is of track \"monza\"; the game runs \"test\"",
                monza.id
            ),
        ),
        (json!("two"), "not a message we take".to_owned()),
    ] {
        send_json(&mut ws, json!({"type": "start_demo", "sessionId": id})).await;
        let m = until(&mut ws, reply("error")).await;
        assert!(m["message"].as_str().unwrap().contains(&said), "{m}");
    }

    send_json(
        &mut ws,
        json!({"type": "start_demo", "sessionId": form["id"]}),
    )
    .await;
    assert_eq!(until(&mut ws, reply("demo")).await["state"], "started");
    let ended = until(&mut ws, |m| {
        m["type"] == "session" && m["data"]["state"] == "stopped"
    })
    .await;
    assert_eq!(ended["data"]["id"], form["id"], "{ended}");
    let recorded = store
        .get_session(purple_sector_core::store::SessionId(
            form["id"].as_i64().unwrap(),
        ))
        .await
        .unwrap();
    assert_eq!(
        (recorded.name.as_str(), recorded.track.as_str()),
        ("Form", "test")
    );
    assert!(!store.list_laps(Some(recorded.id)).await.unwrap().is_empty());
    assert!(store.list_laps(Some(monza.id)).await.unwrap().is_empty());
    assert_eq!(
        store.list_sessions().await.unwrap().len(),
        2,
        "a demo session was made"
    );
    futures_util_lite::close(&mut ws).await;
    stop.send(()).unwrap();
    task.await.unwrap();
}

/// Frames streamed on `/ws` and posted back to `/api/laps` are stored with the values they
/// were streamed with: one conversion of the original app's frame, steering in degrees.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frames_streamed_and_posted_back_keep_their_values() {
    let mut s = state();
    // Slow enough that the demo outlasts the frames taken, even on a busy machine.
    s.demo.speed = 10.0;
    let (addr, stop, task) = start(s.clone()).await;
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{addr}/ws?hz=333"))
        .await
        .unwrap();
    use futures_util_lite::{next_json, send_json};
    assert_eq!(next_json(&mut ws).await["type"], "connected");
    send_json(&mut ws, json!({"type": "start_demo"})).await;
    // Frames until the car has been through a corner or two.
    let (mut streamed, mut steered): (Vec<Value>, usize) = (Vec::new(), 0);
    while steered < 50 {
        let m = next_json(&mut ws).await;
        if m["type"] == "telemetry" {
            steered += usize::from(m["data"]["steerDeg"].as_f64().unwrap().abs() > 1.0);
            streamed.push(m["data"].clone());
        }
    }
    send_json(&mut ws, json!({"type": "stop_demo"})).await;

    let (status, session) = call(&s, "POST", "/api/sessions", Some(r#"{"name":"posted"}"#)).await;
    assert_eq!(status, StatusCode::CREATED);
    let body = json!({
        "sessionId": session["id"],
        "lapNumber": 1,
        "telemetryData": streamed,
    });
    let (status, lap) = call(&s, "POST", "/api/laps", Some(&body.to_string())).await;
    assert_eq!(status, StatusCode::CREATED, "{lap}");
    let (status, t) = call(
        &s,
        "GET",
        &format!("/api/laps/{}/telemetry", lap["id"]),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(t["count"], streamed.len());
    for (i, f) in streamed.iter().enumerate() {
        for (ours, theirs) in [
            ("steerDeg", "steerDeg"),
            ("speedKmh", "speed"),
            ("gas", "throttle"),
            ("brake", "brake"),
            ("gear", "gear"),
            ("rpm", "rpm"),
            ("lapTimeMs", "lapTime"),
            ("position", "normalizedPosition"),
            ("gLateral", "gLateral"),
            ("gLongitudinal", "gLongitudinal"),
            ("x", "x"),
            ("z", "z"),
            ("timeNs", "receivedNs"),
        ] {
            assert_eq!(
                t[ours][i].as_f64(),
                f[theirs].as_f64(),
                "frame {i}: {ours} stored, {theirs} streamed"
            );
        }
        let steering = f["steering"].as_f64().unwrap();
        let steer_deg = f["steerDeg"].as_f64().unwrap();
        assert!((steering - (steer_deg / 450.0).clamp(-1.0, 1.0)).abs() < 1e-6);
    }
    futures_util_lite::close(&mut ws).await;
    stop.send(()).unwrap();
    task.await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_is_required_when_one_is_set_and_off_loopback() {
    let mut s = state();
    s.token = Some("s3cret".into());
    let (status, _) = call(&s, "GET", "/api/sessions", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let request = Request::get("/api/sessions")
        .header(header::HOST, "127.0.0.1:3000")
        .header(header::AUTHORIZATION, "Bearer s3cret")
        .body(Body::empty())
        .unwrap();
    assert_eq!(
        app(s.clone()).oneshot(request).await.unwrap().status(),
        StatusCode::OK
    );
    // The page gets it once, into an HttpOnly cookie.
    let login = app(s.clone())
        .oneshot(
            Request::get("/login?token=s3cret")
                .header(header::HOST, "127.0.0.1:3000")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    let cookie = login.headers()[header::SET_COOKIE]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(cookie.contains("HttpOnly"));
    let with_cookie = Request::get("/api/sessions")
        .header(header::HOST, "127.0.0.1:3000")
        .header(header::COOKIE, cookie.split(';').next().unwrap())
        .body(Body::empty())
        .unwrap();
    assert_eq!(
        app(s.clone()).oneshot(with_cookie).await.unwrap().status(),
        StatusCode::OK
    );

    // Over a real socket: the WebSocket needs it too.
    let (addr, stop, task) = start(s).await;
    let refused = tokio_tungstenite::connect_async(format!("ws://{addr}/ws")).await;
    assert!(refused.is_err());
    let mut request = format!("ws://{addr}/ws").into_client_request().unwrap();
    request
        .headers_mut()
        .insert(header::AUTHORIZATION, "Bearer s3cret".parse().unwrap());
    let (mut ws, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    assert_eq!(
        futures_util_lite::next_json(&mut ws).await["type"],
        "connected"
    );
    futures_util_lite::close(&mut ws).await;
    stop.send(()).unwrap();
    task.await.unwrap();

    // Off loopback without a token the server refuses to start.
    let listener = tokio::net::TcpListener::bind("0.0.0.0:0").await.unwrap();
    let error = serve(listener, state(), async {}).await.unwrap_err();
    assert!(error.to_string().contains("--token"), "{error}");
}

mod futures_util_lite {
    //! The two WebSocket helpers the tests need.
    use super::*;
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

    pub type Ws = WebSocketStream<MaybeTlsStream<tokio::net::TcpStream>>;

    pub async fn next_json(ws: &mut Ws) -> Value {
        loop {
            let message = tokio::time::timeout(Duration::from_secs(20), ws.next())
                .await
                .expect("no message within 20 s");
            match message {
                Some(Ok(Message::Text(text))) => return serde_json::from_str(&text).unwrap(),
                Some(Ok(_)) => continue,
                other => panic!("socket ended: {other:?}"),
            }
        }
    }

    /// The next message `wanted` takes, skipping the others.
    pub async fn until(ws: &mut Ws, wanted: impl Fn(&Value) -> bool) -> Value {
        loop {
            let m = next_json(ws).await;
            if wanted(&m) {
                return m;
            }
        }
    }

    pub async fn close(ws: &mut Ws) {
        let _ = ws.close(None).await;
    }

    pub async fn send_json(ws: &mut Ws, value: Value) {
        ws.send(Message::Text(value.to_string().into()))
            .await
            .unwrap();
    }
}

/// A session the built-in game drove: out lap and two flying laps of the test track.
async fn driven_state() -> AppState {
    use purple_sector_core::record::{Recorder, Source};
    use purple_sector_core::sim::{SimConfig, Track};
    let s = state();
    let config = SimConfig {
        laps: 2,
        ..SimConfig::new(Track::by_name("test").unwrap())
    };
    let source = Source::Simulator {
        config,
        // Faster, a loaded machine drops frames and a lap clock gap invalidates a lap.
        speed: 20.0,
    };
    Recorder::start(Arc::clone(&s.store), source, Default::default())
        .await
        .unwrap()
        .run_until(std::future::pending())
        .await
        .unwrap();
    s
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn analyze_and_chat_routes() {
    let s = driven_state().await;
    let (status, a) = call(&s, "POST", "/api/laps/3/analyze", Some("")).await;
    assert_eq!(status, StatusCode::OK, "{a}");
    assert_eq!(a["lapId"], 3);
    assert_eq!(a["referenceLapId"], 2);
    assert_eq!(a["engine"], "heuristic");
    assert!(a["analysis"]["corners"].as_array().unwrap().len() >= 4);
    let sum: f64 = a["analysis"]["segments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["time_loss_s"].as_f64().unwrap())
        .sum();
    assert!((sum - a["analysis"]["gap_s"].as_f64().unwrap()).abs() < 0.005);
    // Kept on the lap; asked again it comes from the store, unless forced.
    let (_, again) = call(&s, "POST", "/api/laps/3/analyze", Some("{}")).await;
    assert_eq!(again["engine"], "stored");
    assert_eq!(again["suggestions"], a["suggestions"]);
    let (_, forced) = call(
        &s,
        "POST",
        "/api/laps/3/analyze",
        Some(r#"{"forceReanalyze": true, "against": "ideal"}"#),
    )
    .await;
    assert_eq!(forced["engine"], "heuristic");
    assert_eq!(forced["referenceLapId"], Value::Null);
    let (_, lap) = call(&s, "GET", "/api/laps/3", None).await;
    assert_eq!(lap["analyzed"], true);

    for (body, expected) in [
        (
            r#"{"against": "yesterday"}"#,
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            r#"{"referenceLapId": "two"}"#,
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (r#"{"referenceLapId": 99}"#, StatusCode::NOT_FOUND),
        (r#"{"against": "#, StatusCode::BAD_REQUEST),
    ] {
        let (status, v) = call(&s, "POST", "/api/laps/3/analyze", Some(body)).await;
        assert_eq!(status, expected, "{body}: {v}");
        assert!(v["error"].is_string());
    }

    let (status, chat) = call(
        &s,
        "POST",
        "/api/chat",
        Some(r#"{"lapId": 3, "message": "where am I losing time?"}"#),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{chat}");
    assert_eq!(chat["source"], "offline");
    assert_eq!(chat["message"]["role"], "assistant");
    let (status, _) = call(
        &s,
        "POST",
        "/api/chat",
        Some(r#"{"lapId": 3, "message": "   "}"#),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, _) = call(
        &s,
        "POST",
        "/api/chat",
        Some(r#"{"lapId": 77, "message": "hi"}"#),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, history) = call(&s, "GET", "/api/laps/3/chat", None).await;
    assert_eq!(history.as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn analyze_and_chat_are_rate_limited() {
    use purple_sector_server::{RateLimit, RateLimits};
    let mut s = state();
    s.limits = Arc::new(RateLimits {
        analyze: RateLimit::new(0.01, 1.0),
        chat: RateLimit::new(0.01, 1.0),
        ..RateLimits::default()
    });
    let (first, _) = call(&s, "POST", "/api/laps/1/analyze", Some("")).await;
    assert_eq!(first, StatusCode::NOT_FOUND);
    let (second, v) = call(&s, "POST", "/api/laps/1/analyze", Some("")).await;
    assert_eq!(second, StatusCode::TOO_MANY_REQUESTS, "{v}");
    assert!(v["error"].as_str().unwrap().contains("per second"));
}

#[tokio::test]
async fn cors_only_for_the_given_origin_and_metrics_by_route() {
    let preflight = |origin: &str| {
        Request::builder()
            .method("OPTIONS")
            .uri("/api/sessions")
            .header(header::HOST, "127.0.0.1:3000")
            .header(header::ORIGIN, origin)
            .header(header::ACCESS_CONTROL_REQUEST_METHOD, "POST")
            .body(Body::empty())
            .unwrap()
    };
    // Off by default: no CORS headers at all.
    let plain = app(state())
        .oneshot(preflight("https://league.example"))
        .await
        .unwrap();
    assert!(
        plain
            .headers()
            .get(header::ACCESS_CONTROL_ALLOW_ORIGIN)
            .is_none()
    );
    let mut s = state();
    s.allow_origin("https://league.example").unwrap();
    let allowed = app(s.clone())
        .oneshot(preflight("https://league.example"))
        .await
        .unwrap();
    assert_eq!(
        allowed.headers()[header::ACCESS_CONTROL_ALLOW_ORIGIN],
        "https://league.example"
    );
    let other = app(s.clone())
        .oneshot(preflight("https://evil.example"))
        .await
        .unwrap();
    assert_ne!(
        other
            .headers()
            .get(header::ACCESS_CONTROL_ALLOW_ORIGIN)
            .map(|v| v.to_str().unwrap()),
        Some("https://evil.example")
    );

    call(&s, "GET", "/api/sessions", None).await;
    call(&s, "GET", "/api/sessions/7", None).await;
    let response = app(s.clone())
        .oneshot(
            Request::get("/metrics")
                .header(header::HOST, "127.0.0.1:3000")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    let text = String::from_utf8(
        response
            .into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes()
            .to_vec(),
    )
    .unwrap();
    assert!(
        text.contains(
            r#"purple_sector_http_request_duration_seconds_count{route="/api/sessions"} 1"#
        ),
        "{text}"
    );
    assert!(text.contains(r#"route="/api/sessions/{id}""#), "{text}");
    assert!(text.contains("purple_sector_http_errors_total 1"), "{text}");
    assert!(text.contains("purple_sector_ws_clients 0"));
    assert!(
        text.contains(
            r#"purple_sector_store_operation_duration_seconds_count{op="list_sessions"} 1"#
        ),
        "{text}"
    );
    assert!(
        text.contains(
            r#"purple_sector_store_operation_duration_seconds_count{op="get_session"} 1"#
        ),
        "{text}"
    );
}

/// A GET through `app()` with request headers: status, response headers, body bytes.
async fn get_with(
    state: &AppState,
    uri: &str,
    headers: &[(&str, &str)],
) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
    let mut request = Request::builder()
        .method("GET")
        .uri(uri)
        .header(header::HOST, "127.0.0.1:3000");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = app(state.clone())
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let (parts, body) = response.into_parts();
    let bytes = body.collect().await.unwrap().to_bytes().to_vec();
    (parts.status, parts.headers, bytes)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chart_data_is_compact_runs_to_the_line_and_is_compressed() {
    let s = driven_state().await;
    let columns = [
        "distanceM",
        "timeS",
        "speedKmh",
        "gas",
        "brake",
        "steerDeg",
        "gear",
        "rpm",
        "x",
        "z",
    ];
    let (status, lap) = call(&s, "GET", "/api/laps/3/chart?points=500", None).await;
    assert_eq!(status, StatusCode::OK, "{lap}");
    let n = lap["count"].as_u64().unwrap() as usize;
    assert!((400..=501).contains(&n), "{n} samples for 500 points");
    for c in columns {
        assert_eq!(lap[c].as_array().unwrap().len(), n, "{c}");
    }
    let last = |v: &Value, c: &str| v[c].as_array().unwrap().last().unwrap().as_f64().unwrap();
    // The last sample is the line: the whole length, the lap's time.
    assert_eq!(lap["distanceM"][0], 0.0);
    assert!((last(&lap, "distanceM") - lap["lengthM"].as_f64().unwrap()).abs() < 1.5);
    assert!((last(&lap, "timeS") * 1000.0 - lap["lapTimeMs"].as_f64().unwrap()).abs() < 1.5);
    let (_, reference) = call(&s, "GET", "/api/laps/2/chart?points=500", None).await;
    let (_, a) = call(&s, "POST", "/api/laps/3/analyze", Some("{}")).await;
    assert_eq!(a["referenceLapId"], 2);
    // The delta the dashboard draws (this lap's clock minus the reference's at the same
    // share of the lap) ends at the gap: no sample falls short of the line.
    let end = last(&lap, "timeS") - last(&reference, "timeS");
    let gap = a["analysis"]["gap_s"].as_f64().unwrap();
    assert!((end - gap).abs() < 0.005, "delta ends at {end}, gap {gap}");

    // The ideal lap: drawn from the laps' best segments, its clock running to its time.
    let (status, ideal) = call(&s, "GET", "/api/laps/3/ideal/chart?points=500", None).await;
    assert_eq!(status, StatusCode::OK, "{ideal}");
    assert_eq!(ideal["ideal"], true);
    assert_eq!(ideal["lapId"], Value::Null);
    let times: Vec<f64> = ideal["timeS"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_f64().unwrap())
        .collect();
    assert!(
        times.windows(2).all(|w| w[1] >= w[0] - 1e-9),
        "ideal clock runs back"
    );
    let ideal_ms = ideal["lapTimeMs"].as_f64().unwrap();
    assert!((times.last().unwrap() * 1000.0 - ideal_ms).abs() < 2.0);
    let (_, lap2) = call(&s, "GET", "/api/laps/2", None).await;
    let (_, lap3) = call(&s, "GET", "/api/laps/3", None).await;
    let fastest = lap2["lapTimeMs"]
        .as_f64()
        .unwrap()
        .min(lap3["lapTimeMs"].as_f64().unwrap());
    assert!(
        ideal_ms <= fastest + 1.0,
        "ideal {ideal_ms} ms, fastest {fastest} ms"
    );
    let (_, against_ideal) = call(
        &s,
        "POST",
        "/api/laps/3/analyze",
        Some(r#"{"against": "ideal"}"#),
    )
    .await;
    let gap = against_ideal["analysis"]["gap_s"].as_f64().unwrap();
    let end = last(&lap, "timeS") - times.last().unwrap();
    assert!(
        (end - gap).abs() < 0.01,
        "delta to the ideal ends at {end}, gap {gap}"
    );

    let (_, comparable) = call(&s, "GET", "/api/laps/3/comparable", None).await;
    assert!(comparable.as_array().unwrap().len() >= 3, "{comparable}");
    let (_, sessions) = call(&s, "GET", "/api/sessions", None).await;
    assert!(sessions[0]["lapCount"].as_u64().unwrap() >= 3, "{sessions}");
    assert_eq!(sessions[0]["bestLapTimeMs"].as_f64(), Some(fastest));
    for (uri, expected) in [
        ("/api/laps/3/chart?points=1", StatusCode::BAD_REQUEST),
        ("/api/laps/3/chart?points=99999", StatusCode::BAD_REQUEST),
        ("/api/laps/3/chart?step=2", StatusCode::BAD_REQUEST),
        ("/api/laps/99/chart", StatusCode::NOT_FOUND),
        ("/api/laps/99/ideal/chart", StatusCode::NOT_FOUND),
        ("/api/laps/007/comparable", StatusCode::BAD_REQUEST),
    ] {
        let (status, v) = call(&s, "GET", uri, None).await;
        assert_eq!(status, expected, "{uri}: {v}");
        assert!(v["error"].is_string(), "{uri}: {v}");
    }

    // Compressed when the client accepts it, and only then.
    let (_, plain_headers, plain) = get_with(&s, "/api/laps/3/chart", &[]).await;
    assert!(plain_headers.get(header::CONTENT_ENCODING).is_none());
    for encoding in ["gzip", "br"] {
        let (status, headers, body) =
            get_with(&s, "/api/laps/3/chart", &[("accept-encoding", encoding)]).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(headers[header::CONTENT_ENCODING], encoding);
        assert!(
            body.len() * 3 < plain.len(),
            "{encoding}: {} of {}",
            body.len(),
            plain.len()
        );
    }
    // The dashboard's own URLs load the page; the chart library is embedded.
    for uri in ["/", "/sessions/1", "/laps/3"] {
        let (status, headers, body) = get_with(&s, uri, &[]).await;
        assert_eq!(status, StatusCode::OK, "{uri}");
        assert!(
            headers[header::CONTENT_TYPE]
                .to_str()
                .unwrap()
                .starts_with("text/html")
        );
        assert!(String::from_utf8_lossy(&body).contains("/assets/vendor/uPlot.iife.min.js"));
    }
    let (status, headers, body) = get_with(&s, "/assets/vendor/uPlot.iife.min.js", &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .contains("javascript")
    );
    assert!(String::from_utf8_lossy(&body).contains("uPlot (v1.6.32)"));
}
