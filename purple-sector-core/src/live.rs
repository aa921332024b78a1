//! The live hub: what the recorder sees, broadcast to any number of subscribers.
//!
//! A slow subscriber loses events (counted in its [`Subscription`]), it never slows the
//! recorder or the other subscribers: the hub is a bounded broadcast ring.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::broadcast;

use crate::store::{LapRecord, Session};
use crate::telemetry::Frame;

/// Whether a session started or stopped recording.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
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
    /// A frame, as received.
    Frame(Arc<Frame>),
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
#[derive(Debug, Clone)]
pub struct Hub {
    tx: broadcast::Sender<LiveEvent>,
    published: Arc<AtomicU64>,
}

impl Hub {
    /// A hub keeping the last `capacity` events for slow subscribers (at least 1).
    pub fn new(capacity: usize) -> Self {
        let (tx, _) = broadcast::channel(capacity.max(1));
        Self {
            tx,
            published: Arc::default(),
        }
    }

    /// Sends an event to every subscriber; returns how many there were.
    pub fn publish(&self, event: LiveEvent) -> usize {
        self.published.fetch_add(1, Ordering::Relaxed);
        self.tx.send(event).unwrap_or(0)
    }

    /// Events published so far.
    pub fn published(&self) -> u64 {
        self.published.load(Ordering::Relaxed)
    }

    /// Subscribers now.
    pub fn subscribers(&self) -> usize {
        self.tx.receiver_count()
    }

    /// A new subscriber, receiving events published from now on.
    pub fn subscribe(&self) -> Subscription {
        Subscription {
            rx: self.tx.subscribe(),
            dropped: 0,
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
    rx: broadcast::Receiver<LiveEvent>,
    dropped: u64,
}

impl Subscription {
    /// The next event, skipping (and counting) any this subscriber was too slow to take;
    /// `None` once every [`Hub`] clone is gone.
    pub async fn recv(&mut self) -> Option<LiveEvent> {
        loop {
            match self.rx.recv().await {
                Ok(event) => return Some(event),
                Err(broadcast::error::RecvError::Lagged(n)) => self.dropped += n,
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    }

    /// Events this subscriber lost by being slow.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

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
            assert_eq!(hub.publish(LiveEvent::Frame(Arc::new(frame))), 2);
            let Some(LiveEvent::Frame(got)) = fast.recv().await else {
                panic!("fast subscriber missed a frame");
            };
            assert_eq!(got.lap_time_ms, k);
        }
        // The slow one gets the last four, and knows it lost six.
        let mut seen = Vec::new();
        for _ in 0..4 {
            if let Some(LiveEvent::Frame(f)) = slow.recv().await {
                seen.push(f.lap_time_ms);
            }
        }
        assert_eq!(seen, [6, 7, 8, 9]);
        assert_eq!(slow.dropped(), 6);
        assert_eq!(fast.dropped(), 0);
        assert_eq!(hub.published(), 10);
    }
}
