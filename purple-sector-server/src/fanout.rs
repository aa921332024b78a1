//! The live stream's fan-out: one task takes the hub's events and serialises each once; the
//! WebSocket clients share the bytes.
//!
//! Frames arrive at the game's rate (333 Hz) and each client wants at most its own (`hz`):
//! the newest frame of each session is kept here, numbered, and a client picks it up when
//! its period has passed, so a client wakes about `hz` times a second, not once per frame,
//! and what it sends is at most one frame interval old. A client that watches one session
//! waits on that session's frames alone, so other drivers' frames never wake it. Lap and
//! session events, rare and never thinned, go to every client through a broadcast channel.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, PoisonError};

use axum::extract::ws::Utf8Bytes;
use purple_sector_core::live::{Hub, LiveEvent, LiveFrame, SessionState};
use purple_sector_core::store::{Session, SessionId};
use serde::Serialize;
use serde_json::json;
use tokio::sync::{broadcast, watch};

use crate::api::LapDto;
use crate::metrics::Metrics;

/// A session's newest frame, serialised.
#[derive(Debug, Clone)]
pub(crate) struct EncodedFrame {
    /// This session's frames so far (the first is 1).
    pub(crate) seq: u64,
    /// The `telemetry` message.
    pub(crate) text: Utf8Bytes,
}

/// A lap or session event, serialised, with the session it is about.
#[derive(Debug, Clone)]
pub(crate) struct EncodedEvent {
    pub(crate) session: SessionId,
    pub(crate) text: Utf8Bytes,
}

/// The shared, serialised state of the stream (see the module's documentation).
#[derive(Debug)]
pub(crate) struct Fanout {
    /// The newest frame of each session (`None`: frames before the recorder made one).
    frames: Mutex<BTreeMap<Option<SessionId>, EncodedFrame>>,
    /// Bumped with every frame: what a client of every session waits on.
    frame_count: watch::Sender<u64>,
    /// Bumped with every frame of one session: what a client of that session alone waits on
    /// (one for each session some client watches alone, kept while one does).
    session_counts: Mutex<HashMap<SessionId, watch::Sender<u64>>>,
    events: broadcast::Sender<EncodedEvent>,
    /// When the fanout started: the origin of every client's send slots.
    epoch: tokio::time::Instant,
}

impl Fanout {
    /// When the fanout started.
    pub(crate) fn epoch(&self) -> tokio::time::Instant {
        self.epoch
    }

    /// Starts the task that serialises `hub`'s events (it ends with the hub).
    pub(crate) fn start(hub: &Hub, metrics: Arc<Metrics>) -> Arc<Self> {
        let fanout = Arc::new(Self::new());
        let mut subscription = hub.subscribe();
        let shared = Arc::clone(&fanout);
        tokio::spawn(async move {
            let mut lost = 0;
            while let Some(event) = subscription.recv().await {
                shared.take(event);
                // Hub events this task was too slow for: nobody got them.
                let now = subscription.dropped();
                metrics
                    .frames_dropped
                    .fetch_add(now - lost, Ordering::Relaxed);
                lost = now;
            }
        });
        fanout
    }

    fn new() -> Self {
        Self {
            frames: Mutex::default(),
            frame_count: watch::Sender::new(0),
            session_counts: Mutex::default(),
            events: broadcast::channel(256).0,
            epoch: tokio::time::Instant::now(),
        }
    }

    fn take(&self, event: LiveEvent) {
        match event {
            LiveEvent::Frame(live) => {
                let Ok(text) = serde_json::to_string(&telemetry(&live)) else {
                    return;
                };
                {
                    let mut frames = self.frames.lock().unwrap_or_else(PoisonError::into_inner);
                    let slot = frames.entry(live.session).or_insert(EncodedFrame {
                        seq: 0,
                        text: Utf8Bytes::from_static(""),
                    });
                    slot.seq += 1;
                    slot.text = text.into();
                }
                self.frame_count.send_modify(|n| *n += 1);
                if let Some(id) = live.session {
                    let counts = self
                        .session_counts
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner);
                    if let Some(count) = counts.get(&id) {
                        count.send_modify(|n| *n += 1);
                    }
                }
            }
            LiveEvent::LapCompleted(lap) => {
                let message = Envelope {
                    kind: "lap_completed",
                    data: LapDto::from((*lap).clone()),
                };
                self.event(lap.session, &message);
            }
            LiveEvent::Session { session, state } => {
                {
                    let mut frames = self.frames.lock().unwrap_or_else(PoisonError::into_inner);
                    // Frames from before the recorder made its session are done with once it
                    // has one; a stopped session's frames end. Neither reaches a client
                    // joining later.
                    frames.remove(&None);
                    if state == SessionState::Stopped {
                        frames.remove(&Some(session.id));
                    }
                }
                self.event(session.id, &session_message(&session, state));
            }
        }
    }

    fn event(&self, session: SessionId, message: &impl Serialize) {
        if let Ok(text) = serde_json::to_string(message) {
            // No client connected: nobody to tell.
            let _ = self.events.send(EncodedEvent {
                session,
                text: text.into(),
            });
        }
    }

    /// A client's view of the sessions it watches (`None`: every one): frames it has not
    /// sent yet, events from now on.
    pub(crate) fn subscribe(self: &Arc<Self>, watch: Option<SessionId>) -> FanoutClient {
        let seen = match watch {
            None => self.frame_count.subscribe(),
            Some(id) => {
                let mut counts = self
                    .session_counts
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner);
                // Sessions nobody watches alone any more: their counts go.
                counts.retain(|_, count| count.receiver_count() > 0);
                counts
                    .entry(id)
                    .or_insert_with(|| watch::Sender::new(0))
                    .subscribe()
            }
        };
        FanoutClient {
            frames: FrameFeed {
                fanout: Arc::clone(self),
                watch,
                seen,
                sent: BTreeMap::new(),
            },
            events: EventFeed {
                rx: self.events.subscribe(),
                watch,
                lost: 0,
            },
        }
    }
}

/// One WebSocket client's end of the [`Fanout`]: two halves, waited on side by side.
#[derive(Debug)]
pub(crate) struct FanoutClient {
    /// The newest frames.
    pub(crate) frames: FrameFeed,
    /// Lap and session events.
    pub(crate) events: EventFeed,
}

/// A client's frames (see [`Fanout`]).
#[derive(Debug)]
pub(crate) struct FrameFeed {
    fanout: Arc<Fanout>,
    /// The session watched (`None`: every one).
    watch: Option<SessionId>,
    /// The frame count this feed waits on: every session's, or the watched one's.
    seen: watch::Receiver<u64>,
    /// The last frame sent of each session.
    sent: BTreeMap<Option<SessionId>, u64>,
}

impl FrameFeed {
    /// Waits until a frame not taken yet may be there (at once if one arrived since).
    pub(crate) async fn changed(&mut self) {
        // The sender lives in the fanout this feed holds: this cannot fail.
        let _ = self.seen.changed().await;
    }

    /// The newest frame of each watched session that this client has not taken yet, and
    /// how many frames of those sessions it skipped since the last it took.
    pub(crate) fn take(&mut self) -> (Vec<Utf8Bytes>, u64) {
        self.seen.mark_unchanged();
        let watch = self.watch;
        let frames = self
            .fanout
            .frames
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let mut out = Vec::new();
        let mut skipped = 0;
        for (session, frame) in frames.iter() {
            if watch.is_some_and(|id| *session != Some(id)) {
                continue;
            }
            let sent = self.sent.entry(*session).or_insert(0);
            if frame.seq > *sent {
                // A client's first frame of a session skips nothing.
                if *sent > 0 {
                    skipped += frame.seq - *sent - 1;
                }
                *sent = frame.seq;
                out.push(frame.text.clone());
            }
        }
        (out, skipped)
    }
}

/// A client's lap and session events.
#[derive(Debug)]
pub(crate) struct EventFeed {
    rx: broadcast::Receiver<EncodedEvent>,
    /// The session watched (`None`: every one).
    watch: Option<SessionId>,
    lost: u64,
}

impl EventFeed {
    /// The next event of a watched session; `None` once the fanout is gone.
    pub(crate) async fn next(&mut self) -> Option<Utf8Bytes> {
        loop {
            match self.rx.recv().await {
                Ok(event) if self.watch.is_some_and(|id| id != event.session) => {}
                Ok(event) => return Some(event.text),
                Err(broadcast::error::RecvError::Lagged(n)) => self.lost += n,
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    }

    /// Events this client lost by being slow.
    pub(crate) fn lost(&self) -> u64 {
        self.lost
    }
}

/// The telemetry message's frame: the original's fields plus ours, and the live delta.
#[derive(Debug, Serialize)]
struct TelemetryOut {
    #[serde(flatten)]
    frame: purple_sector_core::import::OriginalFrame,
    /// The session it is recorded into (`null` before the recorder made it).
    #[serde(rename = "sessionId")]
    session_id: Option<i64>,
    /// Seconds behind (+) or ahead (−) of the reference lap at this position.
    delta: Option<f64>,
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
            frame: purple_sector_core::import::OriginalFrame::from_frame(&live.frame),
            session_id: live.session.map(|s| s.0),
            delta: live.delta_s,
        },
    }
}

/// The `session` message.
pub(crate) fn session_message(session: &Session, state: SessionState) -> serde_json::Value {
    json!({"type": "session", "data": {"id": session.id.0, "name": session.name, "state": state, "track": session.track, "car": session.car}})
}

#[cfg(test)]
mod tests {
    use super::*;
    use purple_sector_core::store::{MemoryStore, NewSession, SessionSource, Store};
    use purple_sector_core::telemetry::Frame;

    fn frame(session: Option<SessionId>, speed_kmh: f32) -> LiveEvent {
        LiveEvent::Frame(Arc::new(LiveFrame {
            session,
            frame: Frame {
                speed_kmh,
                ..Frame::default()
            },
            delta_s: None,
        }))
    }

    /// What a client takes: the speeds of the frames, and how many it skipped.
    fn took(feed: &mut FrameFeed) -> (Vec<f64>, u64) {
        let (texts, skipped) = feed.take();
        let speeds = texts
            .iter()
            .map(|t| {
                let v: serde_json::Value =
                    serde_json::from_str(t).unwrap_or_else(|e| panic!("{e}: {}", t.as_str()));
                v["data"]["speed"].as_f64().unwrap_or(f64::NAN)
            })
            .collect();
        (speeds, skipped)
    }

    /// Whether a frame arrived that would wake the feed's client.
    fn woken(feed: &FrameFeed) -> bool {
        feed.seen.has_changed().unwrap_or(true)
    }

    #[tokio::test]
    async fn a_client_takes_each_sessions_newest_frame_once_and_counts_the_rest() {
        let store = MemoryStore::new();
        let new = |name: &str| NewSession::new(name, SessionSource::Demo);
        let a = Arc::new(
            store
                .create_session(new("a"))
                .await
                .unwrap_or_else(|e| panic!("{e}")),
        );
        let b = Arc::new(
            store
                .create_session(new("b"))
                .await
                .unwrap_or_else(|e| panic!("{e}")),
        );
        let fanout = Arc::new(Fanout::new());
        let mut all = fanout.subscribe(None);
        let mut only_b = fanout.subscribe(Some(b.id));
        let mut events = fanout.subscribe(None).events;

        // A frame before the session exists, then the session: the early frame is gone.
        fanout.take(frame(None, 1.0));
        fanout.take(LiveEvent::Session {
            session: Arc::clone(&a),
            state: SessionState::Started,
        });
        assert_eq!(took(&mut all.frames), (vec![], 0));
        let started = events.next().await.unwrap_or_else(|| panic!("no event"));
        assert!(started.contains("\"started\""), "{started}");

        for speed in [10.0, 11.0, 12.0] {
            fanout.take(frame(Some(a.id), speed));
        }
        // a's frames wake the client of every session, not b's.
        assert!(woken(&all.frames));
        assert!(!woken(&only_b.frames));
        fanout.take(frame(Some(b.id), 50.0));
        assert!(woken(&only_b.frames));
        // The newest of each session, once; the first take skips nothing.
        assert_eq!(took(&mut all.frames), (vec![12.0, 50.0], 0));
        assert_eq!(took(&mut all.frames), (vec![], 0));
        assert_eq!(took(&mut only_b.frames), (vec![50.0], 0));
        // Two more of a: the newest, one skipped.
        fanout.take(frame(Some(a.id), 13.0));
        fanout.take(frame(Some(a.id), 14.0));
        assert_eq!(took(&mut all.frames), (vec![14.0], 1));
        assert!(!woken(&only_b.frames));
        assert_eq!(took(&mut only_b.frames), (vec![], 0));

        // a stops: its frames end, and a client that joins later gets none of them.
        fanout.take(LiveEvent::Session {
            session: Arc::clone(&a),
            state: SessionState::Stopped,
        });
        let mut late = fanout.subscribe(None);
        assert_eq!(took(&mut late.frames), (vec![50.0], 0));
    }

    #[tokio::test]
    async fn a_client_of_one_session_waits_for_it_alone_even_before_it_starts() {
        let fanout = Arc::new(Fanout::new());
        let (first, later) = (SessionId(7), SessionId(8));
        let mut early = fanout.subscribe(Some(later));
        let mut other = fanout.subscribe(Some(first));
        fanout.take(frame(Some(first), 10.0));
        assert!(!woken(&early.frames));
        assert!(woken(&other.frames));
        // The session it watches starts after it connected: its first frame wakes it.
        fanout.take(frame(Some(later), 20.0));
        assert!(woken(&early.frames));
        tokio::time::timeout(std::time::Duration::from_secs(5), early.frames.changed())
            .await
            .unwrap_or_else(|_| panic!("the watched session's frame did not wake its client"));
        assert_eq!(took(&mut early.frames), (vec![20.0], 0));
        assert_eq!(took(&mut other.frames), (vec![10.0], 0));

        // Clients gone: their sessions' counts go with the next client of one session.
        drop((early, other));
        let _next = fanout.subscribe(Some(SessionId(9)));
        let counts = fanout
            .session_counts
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        assert_eq!(counts.keys().copied().collect::<Vec<_>>(), [SessionId(9)]);
    }
}
