//! `/ws`: the original app's WebSocket messages, plus lap and session events.
//!
//! Server → client: `connected`, `telemetry` (a frame, at most `hz` per second per session,
//! with its `sessionId` and the live delta against the session's best lap), `pong`,
//! `lap_completed`, `session`, `error`. Right after `connected`, one `session` message
//! (state `started`) for each session live now, so a display that joins mid-session knows it.
//! Client → server: `ping`, `start_demo` (with `"sessionId": N` it records into that existing
//! session, one the caller may change; without, into a new numbered demo session),
//! `stop_demo`. Anything else is ignored and counted:
//! clients cannot inject telemetry.
//!
//! `/ws?session=ID` watches one session: its frames, laps and start and stop only. Without it
//! a client watches every session the hub carries (with `--hub`, every recording on the same
//! Redis), each at the client's rate.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{CloseFrame, Message, WebSocket, close_code};
use axum::extract::{Query, State, WebSocketUpgrade};
use axum::http::StatusCode;
use axum::response::Response;
use purple_sector_core::import::OriginalFrame;
use purple_sector_core::live::{LiveEvent, LiveFrame, SessionState};
use purple_sector_core::store::{Session, SessionId};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::AppState;
use crate::api::{LapDto, strict_id};
use crate::auth::Caller;
use crate::error::{ApiError, error_chain};
use crate::limits::{MAX_WS_CLIENTS, MAX_WS_MESSAGE_BYTES};

/// `/ws?hz=N&session=ID`.
#[derive(Debug, Deserialize)]
pub struct WsQuery {
    #[serde(default)]
    hz: Option<u32>,
    /// The one session to watch; all without it.
    #[serde(default)]
    session: Option<String>,
}

/// The telemetry message's frame: the original's fields plus ours, and the live delta.
#[derive(Debug, Serialize)]
struct TelemetryOut {
    #[serde(flatten)]
    frame: OriginalFrame,
    /// The session it is recorded into (`null` before the recorder made it).
    #[serde(rename = "sessionId")]
    session_id: Option<i64>,
    /// Seconds behind (+) or ahead (−) of the reference lap at this position.
    delta: Option<f64>,
}

fn now_ms() -> u64 {
    purple_sector_core::net::now_ns() / 1_000_000
}

/// A message with data: `{"type": kind, "data": data}`.
#[derive(Serialize)]
struct Envelope<'a, T: Serialize> {
    #[serde(rename = "type")]
    kind: &'a str,
    data: T,
}

fn telemetry(live: &LiveFrame) -> Envelope<'static, TelemetryOut> {
    Envelope {
        kind: "telemetry",
        data: TelemetryOut {
            frame: OriginalFrame::from_frame(&live.frame),
            session_id: live.session.map(|s| s.0),
            delta: live.delta_s,
        },
    }
}

/// Whether a receive failed on a message over the size limit.
fn is_too_big(error: &axum::Error) -> bool {
    let text = error.to_string().to_ascii_lowercase();
    text.contains("too long")
        || text.contains("too big")
        || text.contains("capacity")
        || text.contains("space limit")
}

/// `GET /ws`. Client messages are at most [`MAX_WS_MESSAGE_BYTES`] (a larger one closes the
/// stream with 1009); at most [`MAX_WS_CLIENTS`] clients at once.
pub async fn upgrade(
    State(state): State<AppState>,
    caller: Caller,
    query: Result<Query<WsQuery>, axum::extract::rejection::QueryRejection>,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> Result<Response, ApiError> {
    let ws = ws.map_err(|rejection| {
        ApiError::new(
            rejection.status(),
            format!("/ws is a WebSocket: {}", rejection.body_text()),
        )
    })?;
    let Query(query) = query?;
    let hz = query.hz.unwrap_or(60);
    if !(1..=333).contains(&hz) {
        return Err(ApiError::bad_request(format!(
            "hz must be in 1..=333, got {hz}"
        )));
    }
    let watch = query
        .session
        .as_deref()
        .map(|text| strict_id(text, "session").map(SessionId))
        .transpose()?;
    if state.metrics.ws_clients.load(Ordering::Relaxed) >= MAX_WS_CLIENTS {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("{MAX_WS_CLIENTS} WebSocket clients are connected, the most"),
        ));
    }
    Ok(ws
        .max_message_size(MAX_WS_MESSAGE_BYTES)
        .max_frame_size(MAX_WS_MESSAGE_BYTES)
        .on_upgrade(move |socket| client(socket, state, hz, watch, caller)))
}

/// A client's message: `{"type": …}` (and for `start_demo` an optional `sessionId` to
/// record into) and nothing else, each key once.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ClientMessage {
    #[serde(rename = "type")]
    kind: String,
    #[serde(rename = "sessionId", default)]
    session_id: Option<SessionId>,
}

/// Starts the demo for `caller`, into `session` if given (one they may change); the error
/// is the message to send back.
async fn start_demo(
    state: &AppState,
    caller: &Caller,
    session: Option<SessionId>,
) -> Result<(), String> {
    if let Some(id) = session {
        let stored = state
            .store
            .get_session(id)
            .await
            .map_err(|e| error_chain(&e))?;
        caller
            .may_change(stored.owner.as_deref(), "session")
            .map_err(|e| e.message)?;
    }
    state
        .recorder
        .start_demo(state, caller.name.clone(), session)
        .await
        .map_err(|e| error_chain(&e))
}

/// Sends one message, serialised from its own types (an `f32` keeps its shortest form).
async fn send(socket: &mut WebSocket, value: &impl Serialize) -> bool {
    let Ok(text) = serde_json::to_string(value) else {
        return false;
    };
    socket.send(Message::Text(text.into())).await.is_ok()
}

/// Whether a client watching `watch` (one session, or all) gets `event`.
fn watched(watch: Option<SessionId>, event: &LiveEvent) -> bool {
    let Some(watch) = watch else {
        return true;
    };
    match event {
        LiveEvent::Frame(live) => live.session == Some(watch),
        LiveEvent::LapCompleted(lap) => lap.session == watch,
        LiveEvent::Session { session, .. } => session.id == watch,
    }
}

/// The `session` message.
fn session_message(session: &Session, state: SessionState) -> serde_json::Value {
    json!({"type": "session", "data": {"id": session.id.0, "name": session.name, "state": state, "track": session.track, "car": session.car}})
}

async fn client(
    mut socket: WebSocket,
    state: AppState,
    hz: u32,
    watch: Option<SessionId>,
    caller: Caller,
) {
    let metrics = &state.metrics;
    metrics.ws_clients.fetch_add(1, Ordering::Relaxed);
    let client_id = metrics.client_connected();
    let mut events = state.hub.subscribe();
    let connected = json!({
        "type": "connected",
        "message": "Purple Sector telemetry stream",
        "timestamp": now_ms(),
        "recording": state.recorder.is_running().await,
    });
    let period = Duration::from_secs_f64(1.0 / f64::from(hz));
    let mut ticker = tokio::time::interval(period);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    // The newest frame of each session not sent yet: one session's frames never crowd out
    // another's.
    let mut latest: BTreeMap<Option<SessionId>, Arc<LiveFrame>> = BTreeMap::new();
    let mut open = send(&mut socket, &connected).await;
    for session in state.hub.live_sessions() {
        if open && watch.is_none_or(|id| id == session.id) {
            open = send(
                &mut socket,
                &session_message(&session, SessionState::Started),
            )
            .await;
        }
    }
    while open {
        tokio::select! {
            event = events.recv() => match event {
                Some(event) if !watched(watch, &event) => {}
                Some(LiveEvent::Frame(frame)) => {
                    if latest.insert(frame.session, frame).is_some() {
                        // Replaced before it was sent: this client's rate drops it.
                        metrics.frames_thinned.fetch_add(1, Ordering::Relaxed);
                    }
                }
                Some(LiveEvent::LapCompleted(lap)) => {
                    let message = Envelope { kind: "lap_completed", data: LapDto::from((*lap).clone()) };
                    open = send(&mut socket, &message).await;
                }
                Some(LiveEvent::Session { session, state: s }) => {
                    open = send(&mut socket, &session_message(&session, s)).await;
                }
                None => break,
            },
            _ = ticker.tick() => {
                metrics.client_dropped(client_id, events.dropped());
                for live in std::mem::take(&mut latest).into_values() {
                    if !open {
                        break;
                    }
                    open = send(&mut socket, &telemetry(&live)).await;
                    metrics.frames_out.fetch_add(1, Ordering::Relaxed);
                }
            }
            message = socket.recv() => {
                let message = match message {
                    Some(Ok(message)) => message,
                    Some(Err(e)) => {
                        // Over the size limit: say so (1009) and close.
                        if is_too_big(&e) {
                            let close = CloseFrame {
                                code: close_code::SIZE,
                                reason: format!("messages are at most {MAX_WS_MESSAGE_BYTES} bytes").into(),
                            };
                            let _ = socket.send(Message::Close(Some(close))).await;
                        }
                        break;
                    }
                    None => break,
                };
                let text = match &message {
                    Message::Text(text) => text.to_string(),
                    Message::Close(_) => break,
                    _ => continue,
                };
                let (kind, session_id) = match serde_json::from_str::<ClientMessage>(&text) {
                    Ok(m) => (Some(m.kind), m.session_id),
                    Err(e) => {
                        metrics.ws_ignored.fetch_add(1, Ordering::Relaxed);
                        let reply = json!({"type": "error", "message": format!("not a message we take: {e}")});
                        open = send(&mut socket, &reply).await;
                        continue;
                    }
                };
                match kind.as_deref() {
                    Some("ping") => {
                        open = send(&mut socket, &json!({"type": "pong", "timestamp": now_ms()})).await;
                    }
                    Some("start_demo" | "stop_demo") if caller.may_record().is_err() => {
                        let message = caller.may_record().err().map(|e| e.message);
                        open = send(&mut socket, &json!({"type": "error", "message": message})).await;
                    }
                    Some("start_demo") => {
                        let reply = match start_demo(&state, &caller, session_id).await {
                            Ok(()) => json!({"type": "demo", "state": "started"}),
                            Err(message) => json!({"type": "error", "message": message}),
                        };
                        open = send(&mut socket, &reply).await;
                    }
                    Some("stop_demo") => {
                        let reply = if state.recorder.stop_demo().await {
                            json!({"type": "demo", "state": "stopped"})
                        } else {
                            json!({"type": "error", "message": "no demo is running"})
                        };
                        open = send(&mut socket, &reply).await;
                    }
                    _ => {
                        metrics.ws_ignored.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        }
    }
    metrics.client_dropped(client_id, events.dropped());
    metrics.client_disconnected(client_id);
    metrics.ws_clients.fetch_sub(1, Ordering::Relaxed);
}
