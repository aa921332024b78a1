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

use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, close_code};
use axum::extract::{Query, State, WebSocketUpgrade};
use axum::http::StatusCode;
use axum::response::Response;
use futures_util::SinkExt;
use purple_sector_core::live::SessionState;
use purple_sector_core::store::SessionId;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::AppState;
use crate::api::strict_id;
use crate::auth::Caller;
use crate::error::{ApiError, error_chain};
use crate::fanout::{FanoutClient, session_message};
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

/// What a client's socket reads at a time. Not tungstenite's 128 KiB: it zero-fills its
/// whole read buffer before every read (snapview/tungstenite-rs#547), once per message this
/// client is sent, and at 500 clients × 60 Hz that memset was half the server's CPU. Clients
/// send a few dozen bytes at a time; a 64 KiB message still arrives, in more reads.
const READ_BUFFER_BYTES: usize = 4 << 10;

fn now_ms() -> u64 {
    purple_sector_core::net::now_ns() / 1_000_000
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
        .read_buffer_size(READ_BUFFER_BYTES)
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

/// A client's send times: every `1/hz` s, at a phase of its own (its number times the golden
/// ratio, modulo the period), so that clients that joined together do not all send at once.
#[derive(Debug, Clone, Copy)]
struct Slots {
    first: tokio::time::Instant,
    period: Duration,
}

impl Slots {
    fn new(epoch: tokio::time::Instant, hz: u32, client: u64) -> Self {
        let period = Duration::from_secs_f64(1.0 / f64::from(hz));
        let phase = (client as f64 * 0.618_033_988_749_895).fract();
        Self {
            first: epoch + period.mul_f64(phase),
            period,
        }
    }

    /// The first slot after `now`.
    fn after(&self, now: tokio::time::Instant) -> tokio::time::Instant {
        if now < self.first {
            return self.first;
        }
        let period_ns = self.period.as_nanos().max(1);
        let n = (now - self.first).as_nanos() / period_ns + 1;
        self.first + Duration::from_nanos(u64::try_from(n * period_ns).unwrap_or(u64::MAX))
    }
}

/// Sends messages already serialised, flushing once after the last.
async fn send_all(socket: &mut WebSocket, texts: Vec<Utf8Bytes>) -> bool {
    for text in texts {
        if socket.feed(Message::Text(text)).await.is_err() {
            return false;
        }
    }
    socket.flush().await.is_ok()
}

/// Sends one message, serialised from its own types (an `f32` keeps its shortest form).
async fn send(socket: &mut WebSocket, value: &impl Serialize) -> bool {
    let Ok(text) = serde_json::to_string(value) else {
        return false;
    };
    socket.send(Message::Text(text.into())).await.is_ok()
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
    let fanout = state.fanout();
    let connected = json!({
        "type": "connected",
        "message": "Purple Sector telemetry stream",
        "timestamp": now_ms(),
        "recording": state.recorder.is_running().await,
    });
    let FanoutClient {
        mut frames,
        mut events,
    } = fanout.subscribe(watch);
    let slots = Slots::new(fanout.epoch(), hz, client_id);
    // One frame per slot, when one newer than the last sent is there: at most `hz` a second,
    // each at most one frame interval old.
    let mut next_frames = slots.after(tokio::time::Instant::now());
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
            () = async {
                tokio::time::sleep_until(next_frames).await;
                frames.changed().await;
            } => {
                let (texts, skipped) = frames.take();
                metrics.frames_thinned.fetch_add(skipped, Ordering::Relaxed);
                if !texts.is_empty() {
                    next_frames = slots.after(tokio::time::Instant::now());
                    metrics.frames_out.fetch_add(texts.len() as u64, Ordering::Relaxed);
                    // Written together, flushed once.
                    open = send_all(&mut socket, texts).await;
                }
            }
            event = events.next() => match event {
                Some(text) => {
                    open = socket.send(Message::Text(text)).await.is_ok();
                    metrics.client_dropped(client_id, events.lost());
                }
                None => break,
            },
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
    metrics.client_dropped(client_id, events.lost());
    metrics.client_disconnected(client_id);
    metrics.ws_clients.fetch_sub(1, Ordering::Relaxed);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_come_once_a_period_at_a_phase_of_each_client() {
        let epoch = tokio::time::Instant::now();
        let period = Duration::from_millis(100);
        let slots: Vec<Slots> = (1..=20).map(|c| Slots::new(epoch, 10, c)).collect();
        for s in &slots {
            // Before its first slot: the first; then one period apart, always after `now`.
            assert_eq!(s.after(epoch), s.first);
            let mut t = s.first;
            for step in [0, 1, 37, 99, 100, 150] {
                let now = t + Duration::from_millis(step);
                let next = s.after(now);
                assert!(next > now && next <= now + period, "{step}");
                assert_eq!((next - s.first).as_nanos() % period.as_nanos(), 0);
                t = next;
            }
        }
        // Twenty clients spread over the period: no two within 2 ms of each other.
        let mut phases: Vec<u128> = slots
            .iter()
            .map(|s| (s.first - epoch).as_micros())
            .collect();
        phases.sort_unstable();
        assert!(
            phases.windows(2).all(|w| w[1] - w[0] >= 2_000),
            "{phases:?}"
        );
        assert!(*phases.last().unwrap_or(&0) < period.as_micros());
    }
}
