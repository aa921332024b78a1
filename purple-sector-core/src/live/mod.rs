//! The live hub: what the recorder sees, broadcast to any number of subscribers.
//!
//! A slow subscriber loses frames (counted in its [`Subscription`]), it never slows the
//! recorder or the other subscribers: frames go through a bounded broadcast ring. Lap and
//! session events have a ring of their own ([`Hub::EVENT_CAPACITY`]), so however many frames
//! a slow subscriber loses, it still gets every lap; it gets both in the order they were
//! published.
//!
//! Each frame travels as a [`LiveFrame`] with its session and the live delta, computed once
//! by the recorder ([`LiveDelta`]) however many subscribers there are.
//!
//! A bridge to other processes (the `redis` module, feature `redis`) relays their events
//! into the hub with [`Hub::publish_relayed`] and forwards this process's own from
//! [`Hub::subscribe_local`], which skips the relayed ones so nothing is echoed back. Ordinary
//! subscribers ([`Hub::subscribe`]) get both alike.
//!
//! The hub also remembers which sessions are live, started and not yet stopped, whoever
//! recorded them ([`Hub::live_sessions`]): what a display that connects mid-session is told.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::broadcast;

use crate::store::{LapId, LapRecord, Session, SessionId};
use crate::telemetry::Frame;

#[cfg(feature = "redis")]
pub mod redis;

/// A frame as live displays get it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LiveFrame {
    /// The session it is recorded into (`None` until the recorder made the session).
    pub session: Option<SessionId>,
    /// The frame, as received.
    pub frame: Frame,
    /// Seconds behind (+) or ahead (−) of the reference lap at this track position, once
    /// there is a reference (see [`LiveDelta`]).
    pub delta_s: Option<f64>,
}

/// Whether a session started or stopped recording.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionState {
    /// Recording began.
    Started,
    /// Recording ended.
    Stopped,
}

/// One thing that happened while recording.
#[derive(Debug, Clone, PartialEq)]
pub enum LiveEvent {
    /// A frame, as received, with its session and live delta.
    Frame(Arc<LiveFrame>),
    /// A lap was stored.
    LapCompleted(Arc<LapRecord>),
    /// A session started or stopped.
    Session {
        /// The session.
        session: Arc<Session>,
        /// Started or stopped.
        state: SessionState,
    },
}

/// Broadcasts [`LiveEvent`]s; cheap to clone (all clones share one ring).
///
/// ```
/// use std::sync::Arc;
/// use purple_sector_core::live::{Hub, LiveEvent, LiveFrame};
/// use purple_sector_core::telemetry::Frame;
///
/// # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
/// let hub = Hub::default();
/// let mut display = hub.subscribe();
/// let frame = Frame { speed_kmh: 212.5, ..Frame::default() };
/// hub.publish(LiveEvent::Frame(Arc::new(LiveFrame { session: None, frame, delta_s: None })));
/// match display.recv().await {
///     Some(LiveEvent::Frame(live)) => assert_eq!(live.frame.speed_kmh, 212.5),
///     other => panic!("expected a frame, got {other:?}"),
/// }
/// assert_eq!(display.dropped(), 0);
/// # Ok::<(), std::io::Error>(())
/// # })?;
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Hub {
    frames: broadcast::Sender<Envelope>,
    events: broadcast::Sender<Envelope>,
    /// Events published so far; each envelope's `seq` is the count before it.
    published: Arc<AtomicU64>,
    /// Sessions started and not yet stopped, by id.
    live: Arc<Mutex<BTreeMap<SessionId, Arc<Session>>>>,
}

/// An event in a ring, in publishing order (`seq`), marked when a bridge relayed it from
/// another process.
#[derive(Debug, Clone)]
struct Envelope {
    seq: u64,
    event: LiveEvent,
    relayed: bool,
}

impl Hub {
    /// Lap and session events kept for a slow subscriber: at one lap a minute, 17 hours of
    /// them (frames have the capacity given to [`Hub::new`]).
    pub const EVENT_CAPACITY: usize = 1_024;

    /// A hub keeping the last `capacity` frames for slow subscribers (at least 1), and the
    /// last [`Hub::EVENT_CAPACITY`] lap and session events.
    pub fn new(capacity: usize) -> Self {
        Self {
            frames: broadcast::channel(capacity.max(1)).0,
            events: broadcast::channel(Self::EVENT_CAPACITY).0,
            published: Arc::default(),
            live: Arc::default(),
        }
    }

    /// Sends an event to every subscriber; returns how many there were.
    pub fn publish(&self, event: LiveEvent) -> usize {
        self.send(event, false)
    }

    /// Sends an event that happened in another process, as a bridge relays it: every
    /// [`Hub::subscribe`] subscriber gets it, [`Hub::subscribe_local`] ones do not (so the
    /// bridge does not send it back out). Returns how many subscribers there were.
    pub fn publish_relayed(&self, event: LiveEvent) -> usize {
        self.send(event, true)
    }

    fn send(&self, event: LiveEvent, relayed: bool) -> usize {
        let seq = self.published.fetch_add(1, Ordering::Relaxed);
        if let LiveEvent::Session { session, state } = &event {
            let mut live = self.live.lock().unwrap_or_else(PoisonError::into_inner);
            match state {
                SessionState::Started => live.insert(session.id, Arc::clone(session)),
                SessionState::Stopped => live.remove(&session.id),
            };
        }
        let ring = match event {
            LiveEvent::Frame(_) => &self.frames,
            LiveEvent::LapCompleted(_) | LiveEvent::Session { .. } => &self.events,
        };
        ring.send(Envelope {
            seq,
            event,
            relayed,
        })
        .unwrap_or(0)
    }

    /// Events published so far, relayed ones included.
    pub fn published(&self) -> u64 {
        self.published.load(Ordering::Relaxed)
    }

    /// The sessions started and not yet stopped, here or (relayed) in another process, by
    /// id. A recorder that died without stopping leaves its session here until this process
    /// ends.
    pub fn live_sessions(&self) -> Vec<Arc<Session>> {
        let live = self.live.lock().unwrap_or_else(PoisonError::into_inner);
        live.values().cloned().collect()
    }

    /// Subscribers now.
    pub fn subscribers(&self) -> usize {
        self.frames.receiver_count()
    }

    /// A new subscriber, receiving events published from now on.
    pub fn subscribe(&self) -> Subscription {
        Subscription {
            frames: Ring::new(self.frames.subscribe()),
            events: Ring::new(self.events.subscribe()),
            local_only: false,
        }
    }

    /// A new subscriber to this process's own events from now on: those published with
    /// [`Hub::publish`], not those relayed with [`Hub::publish_relayed`]. What a bridge sends
    /// out.
    pub fn subscribe_local(&self) -> Subscription {
        Subscription {
            local_only: true,
            ..self.subscribe()
        }
    }
}

impl Default for Hub {
    /// A hub with room for about 4 s of 333 Hz frames.
    fn default() -> Self {
        Self::new(1_024)
    }
}

/// One subscriber's end of the [`Hub`].
#[derive(Debug)]
pub struct Subscription {
    frames: Ring,
    events: Ring,
    /// Skip relayed events ([`Hub::subscribe_local`]).
    local_only: bool,
}

/// A subscriber's end of one of the hub's rings, with the envelope taken from it and not yet
/// returned (while the other ring may hold an earlier one).
#[derive(Debug)]
struct Ring {
    rx: broadcast::Receiver<Envelope>,
    next: Option<Envelope>,
    dropped: u64,
    closed: bool,
}

impl Ring {
    fn new(rx: broadcast::Receiver<Envelope>) -> Self {
        Self {
            rx,
            next: None,
            dropped: 0,
            closed: false,
        }
    }

    /// Fills `next` from what is waiting, without waiting.
    fn fill(&mut self) {
        while self.next.is_none() && !self.closed {
            match self.rx.try_recv() {
                Ok(envelope) => self.next = Some(envelope),
                Err(broadcast::error::TryRecvError::Lagged(n)) => self.dropped += n,
                Err(broadcast::error::TryRecvError::Empty) => break,
                Err(broadcast::error::TryRecvError::Closed) => self.closed = true,
            }
        }
    }

    /// Waits until `next` is filled or the ring is closed (forever once it is).
    async fn wait(&mut self) {
        if self.closed {
            return std::future::pending().await;
        }
        loop {
            match self.rx.recv().await {
                Ok(envelope) => {
                    self.next = Some(envelope);
                    return;
                }
                Err(broadcast::error::RecvError::Lagged(n)) => self.dropped += n,
                Err(broadcast::error::RecvError::Closed) => {
                    self.closed = true;
                    return;
                }
            }
        }
    }
}

impl Subscription {
    /// The next event, skipping (and counting) any this subscriber was too slow to take;
    /// `None` once every [`Hub`] clone is gone.
    pub async fn recv(&mut self) -> Option<LiveEvent> {
        loop {
            if let Some(event) = self.try_recv() {
                return Some(event);
            }
            if self.frames.closed && self.events.closed {
                return None;
            }
            tokio::select! {
                () = self.events.wait() => {}
                () = self.frames.wait() => {}
            }
        }
    }

    /// The next event if one is waiting, as [`Subscription::recv`] but without waiting.
    pub fn try_recv(&mut self) -> Option<LiveEvent> {
        loop {
            self.frames.fill();
            self.events.fill();
            // The earlier of the two rings' next envelopes.
            let ring = match (&self.frames.next, &self.events.next) {
                (Some(frame), Some(event)) if event.seq < frame.seq => &mut self.events,
                (Some(_), _) => &mut self.frames,
                (None, Some(_)) => &mut self.events,
                (None, None) => return None,
            };
            let envelope = ring.next.take()?;
            if !(self.local_only && envelope.relayed) {
                return Some(envelope.event);
            }
        }
    }

    /// Events this subscriber lost by being slow (frames, unless it fell
    /// [`Hub::EVENT_CAPACITY`] lap and session events behind).
    pub fn dropped(&self) -> u64 {
        self.frames.dropped + self.events.dropped
    }
}

/// The reference lap of a recording as track position → lap clock, for the live delta.
///
/// The recorder offers every lap it stores ([`LiveDelta::offer`]); the fastest that counts
/// (the one best-lap rule, [`LapRecord::ranking_time_ms`]) becomes the reference. Then
/// [`LiveDelta::delta_s`] is one binary search per frame.
#[derive(Debug, Default)]
pub struct LiveDelta {
    table: Mutex<DeltaTable>,
}

#[derive(Debug, Default)]
struct DeltaTable {
    /// The reference lap and its time, ms.
    reference: Option<(LapId, i32)>,
    /// (position, lap clock ms) of the reference from the line (0, 0) to the line again
    /// (1, lap time), position strictly increasing, clock never decreasing.
    points: Vec<(f32, i32)>,
}

impl LiveDelta {
    fn lock(&self) -> std::sync::MutexGuard<'_, DeltaTable> {
        self.table.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Offers a stored lap and its frames: when it counts and beats the reference so far, it
    /// becomes the reference. True when it did.
    pub fn offer(&self, lap: &LapRecord, frames: &[Frame]) -> bool {
        let Some(time_ms) = lap.ranking_time_ms() else {
            return false;
        };
        if self
            .lock()
            .reference
            .is_some_and(|(_, best)| best <= time_ms)
        {
            return false;
        }
        // The line at both ends: position 0 at 0 ms, position 1 at the lap's time.
        let mut points: Vec<(f32, i32)> = Vec::with_capacity(frames.len() + 2);
        points.push((0.0, 0));
        for f in frames {
            let p = f.position_normalized;
            let ahead = points
                .last()
                .is_none_or(|&(q, t)| p > q && f.lap_time_ms >= t);
            if p < 1.0 && ahead && f.lap_time_ms < time_ms {
                points.push((p, f.lap_time_ms));
            }
        }
        points.push((1.0, time_ms));
        let mut table = self.lock();
        if table.reference.is_some_and(|(_, best)| best <= time_ms) {
            return false;
        }
        *table = DeltaTable {
            reference: Some((lap.id, time_ms)),
            points,
        };
        true
    }

    /// The reference lap, once there is one.
    pub fn reference(&self) -> Option<LapId> {
        self.lock().reference.map(|(id, _)| id)
    }

    /// Seconds behind (+) or ahead (−) of the reference at this frame's track position;
    /// `None` without a reference or outside its span.
    pub fn delta_s(&self, frame: &Frame) -> Option<f64> {
        let table = self.lock();
        let points = &table.points;
        let p = frame.position_normalized;
        let i = points.partition_point(|&(q, _)| q < p);
        let (lo, hi) = (points.get(i.checked_sub(1)?)?, points.get(i)?);
        let span = f64::from(hi.0 - lo.0);
        let t = if span > 0.0 {
            f64::from(p - lo.0) / span
        } else {
            0.0
        };
        let reference_ms = f64::from(lo.1) + t * f64::from(hi.1 - lo.1);
        Some((f64::from(frame.lap_time_ms) - reference_ms) / 1000.0)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::lap::{LapKind, LapTime};

    fn lap_record(id: i64, time_ms: Option<i32>, kind: LapKind) -> LapRecord {
        LapRecord {
            id: LapId(id),
            session: SessionId(1),
            stint: 0,
            number: 2,
            kind,
            valid: true,
            invalid_reason: None,
            time: time_ms.map(LapTime::official),
            frame_count: 0,
            in_progress: false,
            tags: Vec::new(),
            comments: String::new(),
            analyzed: false,
            suggestions: None,
            created_ms: 0,
            origin: crate::store::LapOrigin::Recorded,
            owner: None,
        }
    }

    fn frames(lap_ms: i32) -> Vec<Frame> {
        (0..=100)
            .map(|k| Frame {
                position_normalized: k as f32 / 100.0,
                lap_time_ms: lap_ms * k / 100,
                ..Frame::default()
            })
            .collect()
    }

    #[test]
    fn the_fastest_lap_that_counts_becomes_the_reference() {
        let delta = LiveDelta::default();
        let at_half = Frame {
            position_normalized: 0.5,
            lap_time_ms: 50_500,
            ..Frame::default()
        };
        assert_eq!(delta.delta_s(&at_half), None);
        assert!(!delta.offer(&lap_record(1, None, LapKind::Partial), &frames(90_000)));
        assert!(!delta.offer(&lap_record(2, Some(90_000), LapKind::Out), &frames(90_000)));
        assert!(delta.offer(
            &lap_record(3, Some(100_000), LapKind::Flying),
            &frames(100_000)
        ));
        assert!((delta.delta_s(&at_half).unwrap() - 0.5).abs() < 1e-9);
        assert!(!delta.offer(
            &lap_record(4, Some(101_000), LapKind::Flying),
            &frames(101_000)
        ));
        assert!(delta.offer(
            &lap_record(5, Some(99_000), LapKind::Flying),
            &frames(99_000)
        ));
        assert_eq!(delta.reference(), Some(LapId(5)));
        assert!((delta.delta_s(&at_half).unwrap() - 1.0).abs() < 1e-9);
    }

    #[tokio::test]
    async fn a_slow_subscriber_loses_frames_and_counts_them() {
        let hub = Hub::new(4);
        let mut slow = hub.subscribe();
        let mut fast = hub.subscribe();
        for k in 0..10 {
            let frame = Frame {
                lap_time_ms: k,
                ..Frame::default()
            };
            let live = LiveFrame {
                session: None,
                frame,
                delta_s: None,
            };
            assert_eq!(hub.publish(LiveEvent::Frame(Arc::new(live))), 2);
            let Some(LiveEvent::Frame(got)) = fast.recv().await else {
                panic!("fast subscriber missed a frame");
            };
            assert_eq!(got.frame.lap_time_ms, k);
        }
        // The slow one gets the last four, and knows it lost six.
        let mut seen = Vec::new();
        for _ in 0..4 {
            if let Some(LiveEvent::Frame(f)) = slow.recv().await {
                seen.push(f.frame.lap_time_ms);
            }
        }
        assert_eq!(seen, [6, 7, 8, 9]);
        assert_eq!(slow.dropped(), 6);
        assert_eq!(fast.dropped(), 0);
        assert_eq!(hub.published(), 10);
    }

    /// Laps are never crowded out by frames: a subscriber too slow for thousands of frames
    /// still gets every lap, in its place between the frames it did get.
    #[tokio::test]
    async fn a_slow_subscriber_loses_frames_never_laps_and_keeps_the_order() {
        let hub = Hub::new(8);
        let mut slow = hub.subscribe();
        let frame = |k: i32| {
            LiveEvent::Frame(Arc::new(LiveFrame {
                session: None,
                frame: Frame {
                    lap_time_ms: k,
                    ..Frame::default()
                },
                delta_s: None,
            }))
        };
        for lap in 0..5 {
            for k in 0..1_000 {
                hub.publish(frame(lap * 1_000 + k));
            }
            hub.publish(LiveEvent::LapCompleted(Arc::new(lap_record(
                i64::from(lap),
                Some(90_000),
                LapKind::Flying,
            ))));
        }
        hub.publish(frame(5_000));
        let mut seen = Vec::new();
        while let Some(event) = slow.try_recv() {
            seen.push(match event {
                LiveEvent::Frame(live) => format!("f{}", live.frame.lap_time_ms),
                LiveEvent::LapCompleted(lap) => format!("lap{}", lap.id.0),
                LiveEvent::Session { .. } => "session".to_owned(),
            });
        }
        // Every lap; of the frames the last eight: seven from before lap 4 was stored, one
        // after.
        let mut expected: Vec<String> = (0..4).map(|lap| format!("lap{lap}")).collect();
        expected.extend((4_993..5_000).map(|k| format!("f{k}")));
        expected.extend(["lap4".to_owned(), "f5000".to_owned()]);
        assert_eq!(seen, expected);
        assert_eq!(slow.dropped(), 5_001 - 8);
        assert_eq!(hub.published(), 5_006);
    }

    #[test]
    fn the_hub_knows_which_sessions_are_live() {
        let hub = Hub::new(1);
        let session = |id: i64| {
            Arc::new(Session {
                id: SessionId(id),
                name: format!("S{id}"),
                source: crate::store::SessionSource::Live,
                status: crate::store::SessionStatus::Active,
                car: String::new(),
                driver: String::new(),
                track: String::new(),
                track_config: String::new(),
                tags: Vec::new(),
                created_ms: 0,
                updated_ms: 0,
                owner: None,
            })
        };
        let ids = |hub: &Hub| {
            hub.live_sessions()
                .iter()
                .map(|s| s.id.0)
                .collect::<Vec<_>>()
        };
        assert!(hub.live_sessions().is_empty());
        for (id, relayed) in [(3, false), (1, true)] {
            let event = LiveEvent::Session {
                session: session(id),
                state: SessionState::Started,
            };
            if relayed {
                hub.publish_relayed(event);
            } else {
                hub.publish(event);
            }
        }
        assert_eq!(ids(&hub), [1, 3]);
        hub.publish(LiveEvent::Session {
            session: session(3),
            state: SessionState::Stopped,
        });
        assert_eq!(ids(&hub), [1]);
        assert_eq!(ids(&hub.clone()), [1], "clones share it");
    }
}
