//! Pacing: sends timed datagrams through a [`GameServer`] on the game's own clock, scaled.

use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::{Notify, watch};
use tokio::time::Instant;

use super::GameServer;

/// What the game sends, and to whom.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outgoing {
    /// To the car-info subscribers (car info, or any other stream datagram of a capture).
    Update(Vec<u8>),
    /// To the spot subscribers.
    Spot(Vec<u8>),
}

/// A datagram and when it is due, relative to the start of the run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Timed {
    /// Due time from the start, ns of game time.
    pub offset_ns: u64,
    /// The datagram.
    pub datagram: Outgoing,
}

/// What a run sent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct PlayStats {
    /// Datagrams played (each sent to every subscriber of its kind).
    pub played: u64,
    /// Largest lateness seen against the scaled schedule, µs.
    pub max_late_us: u64,
    /// True when the run was stopped before its end.
    pub stopped: bool,
}

/// How close to its due time a datagram is sent: the timer sleeps until this much before
/// the due time, then the task yields until the time comes. Timers alone are ~1 ms coarse.
const SPIN: Duration = Duration::from_micros(1_500);

/// Holds the built-in game back while the recorder it feeds in the same process is behind,
/// so that a fast run on a busy machine loses no datagram in the socket's buffer: the game
/// sends while fewer than [`Backpressure::WINDOW`] of its datagrams are unconsumed.
///
/// A datagram that never arrives (lost anyway) is written off after
/// [`Backpressure::PATIENCE`], so the game never waits for it twice.
#[derive(Debug, Default)]
pub struct Backpressure {
    consumed: AtomicU64,
    written_off: AtomicU64,
    more: Notify,
}

impl Backpressure {
    /// Datagrams the game may be ahead of its consumer: well under what a socket's default
    /// receive buffer holds (~270 datagrams of 328 bytes in Linux's 208 KiB).
    pub const WINDOW: u64 = 128;
    /// How long the game waits for its consumer before it writes the gap off.
    pub const PATIENCE: Duration = Duration::from_millis(50);

    /// The consumer took one datagram.
    pub fn consumed(&self) {
        self.consumed.fetch_add(1, Ordering::Release);
        self.more.notify_one();
    }

    /// Waits until the consumer is less than a window behind `sent`.
    async fn room(&self, sent: u64) {
        loop {
            let done =
                self.consumed.load(Ordering::Acquire) + self.written_off.load(Ordering::Relaxed);
            let ahead = sent.saturating_sub(done);
            if ahead < Self::WINDOW {
                return;
            }
            if tokio::time::timeout(Self::PATIENCE, self.more.notified())
                .await
                .is_err()
            {
                // Lost on the way, or a consumer that stopped counting: not waited for again.
                self.written_off.fetch_add(ahead, Ordering::Relaxed);
                return;
            }
        }
    }
}

/// Sends `items` in order, each at `start + offset / speed`, until they run out or
/// `shutdown` turns true. A late datagram is sent at once (no catch-up bursts are skipped:
/// every datagram is sent, in order).
pub async fn play(
    server: &GameServer,
    items: impl IntoIterator<Item = Timed>,
    speed: f64,
    shutdown: &mut watch::Receiver<bool>,
) -> io::Result<PlayStats> {
    play_paced(server, items, speed, shutdown, None).await
}

/// As [`play`], never more than a window ahead of `pace`'s consumer (see [`Backpressure`]):
/// datagrams held back are sent late, none is skipped.
pub async fn play_paced(
    server: &GameServer,
    items: impl IntoIterator<Item = Timed>,
    speed: f64,
    shutdown: &mut watch::Receiver<bool>,
    pace: Option<&Backpressure>,
) -> io::Result<PlayStats> {
    let speed = if speed.is_finite() && speed > 0.0 {
        speed
    } else {
        1.0
    };
    let start = Instant::now();
    let mut stats = PlayStats::default();
    for item in items {
        let due = start + Duration::from_secs_f64(item.offset_ns as f64 / 1e9 / speed);
        if let Some(early) = due.checked_duration_since(Instant::now()) {
            if early > SPIN {
                tokio::select! {
                    _ = shutdown.wait_for(|stop| *stop) => {
                        stats.stopped = true;
                        return Ok(stats);
                    }
                    _ = tokio::time::sleep_until(due - SPIN) => {}
                }
            }
            while Instant::now() < due {
                tokio::task::yield_now().await;
            }
        } else if *shutdown.borrow() {
            stats.stopped = true;
            return Ok(stats);
        }
        if let Some(pace) = pace {
            pace.room(stats.played).await;
        }
        let late = Instant::now().saturating_duration_since(due);
        stats.max_late_us = stats
            .max_late_us
            .max(u64::try_from(late.as_micros()).unwrap_or(u64::MAX));
        match &item.datagram {
            Outgoing::Update(bytes) => server.send_car_info(bytes).await?,
            Outgoing::Spot(bytes) => server.send_lap_completed(bytes).await?,
        };
        stats.played += 1;
    }
    Ok(stats)
}

/// What a capture holds for a replay: the game's handshake reply (the first one) and the
/// game's stream, timed from its first datagram. Requests to the game are left out, and so
/// are further handshake replies (the server answers handshakes itself).
pub fn capture_schedule(
    datagrams: &[crate::capture::OwnedCapturedDatagram],
) -> (Option<crate::protocol::OwnedHandshakeResponse>, Vec<Timed>) {
    use crate::capture::Direction;
    use crate::protocol::{Datagram, parse_datagram};

    let mut hello = None;
    let mut schedule = Vec::new();
    let mut first_ns = None;
    for d in datagrams
        .iter()
        .filter(|d| d.direction == Direction::FromGame)
    {
        let datagram = match parse_datagram(&d.payload) {
            Ok(Datagram::HandshakeResponse(reply)) => {
                hello.get_or_insert_with(|| reply.to_owned());
                continue;
            }
            Ok(Datagram::LapCompleted(_)) => Outgoing::Spot(d.payload.clone()),
            _ => Outgoing::Update(d.payload.clone()),
        };
        let first = *first_ns.get_or_insert(d.timestamp_ns);
        schedule.push(Timed {
            offset_ns: d.timestamp_ns.saturating_sub(first),
            datagram,
        });
    }
    (hello, schedule)
}

/// The simulator's output as a schedule: each step's car info at its simulated time, and
/// the lap event of a crossing right after it. Borrowing the simulator lets the caller read
/// its [`lap_reports`](super::Simulator::lap_reports) once the run is played.
pub fn simulator_schedule(sim: &mut super::Simulator) -> impl Iterator<Item = Timed> + '_ {
    std::iter::from_fn(move || sim.step()).flat_map(|step| {
        let car = Timed {
            offset_ns: step.sim_time_ns,
            datagram: Outgoing::Update(step.car_info.encode().to_vec()),
        };
        let spot = step.lap_completed.map(|event| Timed {
            offset_ns: step.sim_time_ns,
            datagram: Outgoing::Spot(event.encode().to_vec()),
        });
        std::iter::once(car).chain(spot)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn the_game_waits_for_its_consumer_and_writes_off_what_never_comes() {
        runtime().block_on(async {
            let pace = std::sync::Arc::new(Backpressure::default());
            // Less than a window ahead: no wait, nothing written off.
            pace.room(Backpressure::WINDOW - 1).await;
            assert_eq!(pace.written_off.load(Ordering::Relaxed), 0);

            // A window ahead: it waits until the consumer takes one.
            let consumer = {
                let pace = std::sync::Arc::clone(&pace);
                tokio::spawn(async move {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                    pace.consumed();
                })
            };
            pace.room(Backpressure::WINDOW).await;
            consumer.await.unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(pace.consumed.load(Ordering::Relaxed), 1);
            assert_eq!(pace.written_off.load(Ordering::Relaxed), 0);

            // A consumer that stopped: after its patience the game writes the gap off, and
            // the next datagram goes at once.
            let sent = Backpressure::WINDOW + 10;
            pace.room(sent).await;
            assert_eq!(pace.written_off.load(Ordering::Relaxed), sent - 1);
            pace.room(sent + 1).await;
            assert_eq!(pace.written_off.load(Ordering::Relaxed), sent - 1);
        });
    }
}
