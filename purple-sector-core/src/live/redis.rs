//! The live hub across processes, through Redis (feature `redis`).
//!
//! A [`RedisBridge`] joins this process's [`Hub`] to one Redis that any number of processes
//! share (`serve` instances behind a load balancer, `record` on the drivers' PCs): what the
//! recorder publishes here goes out, and what the others publish comes into the local hub, so
//! every subscriber sees every recording. Subscribers need nothing new: they keep
//! [`Hub::subscribe`].
//!
//! # Keys
//!
//! With the prefix `P` ([`RedisBridgeOptions::prefix`], default `purple-sector`):
//!
//! - `P:frames`, a pub/sub channel: one message per frame.
//! - `P:events`, a Stream: one entry per lap stored and per session started or stopped,
//!   trimmed with `XADD … MAXLEN ~ N` ([`RedisBridgeOptions::stream_max_len`]).
//!
//! # Messages
//!
//! Every message names the bridge that sent it, an [`InstanceId`] drawn at random for each
//! bridge, and carries a sequence number that bridge counts up per kind (frames, events), so
//! a receiver skips its own messages, skips an event it already has, and counts what it
//! missed.
//!
//! A **frame** is 373 bytes, little-endian, fixed layout (the frame itself is the game's own
//! 328-byte car-info datagram, as [`Frame::to_car_info`] encodes it, so every field arrives
//! bit for bit, NaN included):
//!
//! | offset | bytes | field |
//! | ---: | ---: | --- |
//! | 0 | 4 | `PSF` and the format version, 1 |
//! | 4 | 8 | sender's instance id, `u64` |
//! | 12 | 8 | frame sequence number, `u64` |
//! | 20 | 1 | bit 0: a session id follows, bit 1: a delta follows; other bits 0 |
//! | 21 | 8 | session id, `i64` (0 without one) |
//! | 29 | 8 | live delta, s, `f64` (0 without one) |
//! | 37 | 8 | frame receive time, ns since the Unix epoch, `u64` |
//! | 45 | 328 | the car-info datagram |
//!
//! An **event** is a Stream entry of six fields, each text:
//!
//! | field | value |
//! | --- | --- |
//! | `v` | `1`, the format version |
//! | `from` | sender's instance id, 16 lowercase hex digits |
//! | `seq` | event sequence number, decimal |
//! | `session` | session id, decimal |
//! | `type` | `lap_completed` or `session` |
//! | `data` | JSON: the [`LapRecord`], or `{"session": Session, "state": "started"\|"stopped"}` |
//!
//! A message that does not read as one of these is counted
//! ([`RedisBridgeStats::malformed`]) and skipped.
//!
//! # Guarantees
//!
//! - **Frames are best effort.** Nothing waits for Redis: the bridge reads the hub as any
//!   subscriber does (losing what it is too slow for) into a bounded queue. Frames that do not
//!   fit, fail to publish or go out while Redis is away are dropped and counted; so are frames
//!   another bridge sent while this one was disconnected (from the gaps in their sequence
//!   numbers). Frames from one sender arrive in order.
//! - **Events are durable within the Stream's cap.** They wait in their own queue while Redis
//!   is away and are sent when it is back. At connect a bridge replays the events of the last
//!   [`RedisBridgeOptions::replay_window`] (by Redis's clock), or those after
//!   [`RedisBridgeOptions::resume_after`]; after a lost connection it reconnects with backoff
//!   and resumes reading after the last entry it saw, so it misses none the Stream still
//!   holds. Events from one sender arrive in order, once.
//! - Frames and events travel apart (pub/sub and a Stream): their order relative to each
//!   other is not kept across processes (a session's first frames may come before its
//!   `started` event).
//! - The replay is over when [`RedisBridge::connect`] returns (so [`Hub::live_sessions`]
//!   knows the sessions live elsewhere); subscribe to the hub before connecting to see the
//!   replayed events themselves.

use std::collections::HashMap;
use std::collections::VecDeque;
use std::collections::hash_map::{Entry, RandomState};
use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use redis::aio::{MultiplexedConnection, PubSubSink, PubSubStream};
use redis::io::tcp::TcpSettings;
use redis::{AsyncConnectionConfig, Client, IntoConnectionInfo, Value};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use super::{Hub, LiveEvent, LiveFrame, SessionState, Subscription};
use crate::net::now_ns;
use crate::protocol::{CAR_INFO_LEN, CarInfo, ParseError};
use crate::store::{LapRecord, Session, SessionId};
use crate::telemetry::Frame;

/// A foreign error kept as a cause.
type Cause = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Why a [`RedisBridge`] could not connect, or a [`RedisBridge::ping`] failed. URLs are shown
/// with their password replaced by `***`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RedisBridgeError {
    /// The URL is not one the Redis client takes (`redis://[user:password@]host[:port][/db]`,
    /// `redis+unix:///path`).
    #[error("{url} is not a Redis URL")]
    Url {
        /// The URL.
        url: String,
        /// What the client said.
        #[source]
        source: Cause,
    },
    /// No connection: refused, unknown host, authentication failed …
    #[error("could not connect to Redis at {url}")]
    Connect {
        /// The URL.
        url: String,
        /// The cause.
        #[source]
        source: Cause,
    },
    /// Redis answered a command with an error, or the connection broke during it.
    #[error("Redis at {url} failed {command}")]
    Command {
        /// The URL.
        url: String,
        /// The command.
        command: &'static str,
        /// The cause.
        #[source]
        source: Cause,
    },
    /// No answer in time.
    #[error("Redis at {url} did not answer {command} within {timeout_ms} ms")]
    Timeout {
        /// The URL.
        url: String,
        /// What was waited for (`connect`, `PING` …).
        command: &'static str,
        /// How long, ms.
        timeout_ms: u64,
    },
}

/// How a [`RedisBridge`] uses Redis; [`Default`] for the documented defaults.
///
/// ```
/// use std::time::Duration;
/// use purple_sector_core::live::redis::RedisBridgeOptions;
///
/// let options = RedisBridgeOptions {
///     prefix: "league-7".into(),
///     replay_window: Duration::from_secs(30 * 60),
///     ..RedisBridgeOptions::default()
/// };
/// assert_eq!(options.stream_max_len, 10_000);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedisBridgeOptions {
    /// Prefix of the keys: frames on `{prefix}:frames`, events on `{prefix}:events`.
    /// Default `purple-sector`.
    pub prefix: String,
    /// At connect, replay the events of this long ago up to now (by Redis's clock). Default
    /// 10 minutes; zero replays nothing.
    pub replay_window: Duration,
    /// At connect, replay the events after this one instead (a bridge's
    /// [`RedisBridgeStats::last_event_id`] before it stopped), as far as the Stream still
    /// holds them. Default `None`.
    pub resume_after: Option<EventId>,
    /// The events Stream keeps about this many entries (`XADD … MAXLEN ~`). Default 10 000.
    pub stream_max_len: usize,
    /// Longest wait for a connection or an answer. Default 2 s.
    pub timeout: Duration,
    /// First wait before reconnecting; it doubles up to `reconnect_max`. Default 100 ms.
    pub reconnect_min: Duration,
    /// Longest wait between two reconnects. Default 5 s.
    pub reconnect_max: Duration,
    /// Frames waiting to go out, at most (more are dropped and counted). Default 1 024,
    /// about 3 s of 333 Hz.
    pub frame_queue: usize,
    /// Events waiting to go out, at most, kept while Redis is away (more are dropped and
    /// counted). Default 4 096.
    pub event_queue: usize,
    /// How long [`RedisBridge::shutdown`] waits to send what is queued. Default 2 s.
    pub flush_timeout: Duration,
}

impl Default for RedisBridgeOptions {
    fn default() -> Self {
        Self {
            prefix: "purple-sector".to_owned(),
            replay_window: Duration::from_secs(10 * 60),
            resume_after: None,
            stream_max_len: 10_000,
            timeout: Duration::from_secs(2),
            reconnect_min: Duration::from_millis(100),
            reconnect_max: Duration::from_secs(5),
            frame_queue: 1_024,
            event_queue: 4_096,
            flush_timeout: Duration::from_secs(2),
        }
    }
}

/// Which bridge sent a message: drawn at random for each [`RedisBridge`]; shown as 16 hex
/// digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct InstanceId(pub u64);

impl InstanceId {
    /// A fresh id: the process's random hash keys over the time, the process id and a counter.
    fn new() -> Self {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let mut hasher = RandomState::new().build_hasher();
        hasher.write_u64(now_ns());
        hasher.write_u32(std::process::id());
        hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
        Self(hasher.finish())
    }

    fn parse(text: &[u8]) -> Option<Self> {
        let text = std::str::from_utf8(text).ok()?;
        if text.len() != 16 {
            return None;
        }
        u64::from_str_radix(text, 16).ok().map(Self)
    }
}

impl fmt::Display for InstanceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

/// A Stream entry's id, `{ms}-{seq}`: Redis's clock when the entry was added, and a counter
/// within that millisecond.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct EventId {
    /// Unix ms, by Redis's clock.
    pub ms: u64,
    /// Entries before it in the same millisecond.
    pub seq: u64,
}

impl EventId {
    fn parse(text: &[u8]) -> Option<Self> {
        let text = std::str::from_utf8(text).ok()?;
        let (ms, seq) = text.split_once('-')?;
        Some(Self {
            ms: ms.parse().ok()?,
            seq: seq.parse().ok()?,
        })
    }
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.ms, self.seq)
    }
}

/// Publish latency (from the bridge taking a message off the hub to Redis acknowledging it):
/// totals since connect, quantiles over the last [`LatencySummary::window`] messages. Enough
/// for a Prometheus summary.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LatencySummary {
    /// Messages measured since connect.
    pub count: u64,
    /// Their latencies added up.
    pub sum: Duration,
    /// Median of the recent window.
    pub p50: Duration,
    /// 99th percentile of the recent window.
    pub p99: Duration,
    /// Largest in the recent window.
    pub max: Duration,
    /// Messages in the recent window (at most 2 048).
    pub window: usize,
}

/// A snapshot of a [`RedisBridge`]'s counters (totals since connect); cheap to take.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RedisBridgeStats {
    /// Every connection (publishing, frames, events) is up.
    pub connected: bool,
    /// Frames Redis took.
    pub frames_published: u64,
    /// Events Redis took.
    pub events_published: u64,
    /// Messages Redis refused, or that went with a broken connection.
    pub publish_errors: u64,
    /// Frames not sent: the queue was full, Redis was away, or publishing failed.
    pub frames_lost_outbound: u64,
    /// Events not sent: the queue was full, or Redis refused them three times.
    pub events_lost_outbound: u64,
    /// Events of either kind the bridge's own hub subscription was too slow for.
    pub hub_lagged: u64,
    /// Publish latency.
    pub publish_latency: LatencySummary,
    /// Frames from other bridges put into the local hub.
    pub frames_received: u64,
    /// Events from other bridges put into the local hub.
    pub events_received: u64,
    /// Frames other bridges sent that never arrived (gaps in their sequence numbers).
    pub frames_missed: u64,
    /// Events other bridges sent that never arrived (gaps in their sequence numbers: trimmed
    /// from the Stream, or lost by their sender).
    pub events_missed: u64,
    /// This bridge's own messages, seen coming back and skipped.
    pub own_skipped: u64,
    /// Messages seen before (an event sent again after a lost acknowledgement), skipped.
    pub duplicates_skipped: u64,
    /// Messages that are not ours to read, skipped.
    pub malformed: u64,
    /// Connections made again after one was lost.
    pub reconnects: u64,
    /// The last Stream entry read, to resume after ([`RedisBridgeOptions::resume_after`]).
    pub last_event_id: Option<EventId>,
}

/// Joins a local [`Hub`] to Redis, both ways, until dropped or [`RedisBridge::shutdown`].
///
/// What this process publishes on the hub goes to Redis; what other bridges publish comes
/// into the hub as relayed events (so it is not sent back out). See the [module](self) for
/// the keys, the format and the guarantees.
///
/// ```no_run
/// use purple_sector_core::live::{Hub, LiveEvent};
/// use purple_sector_core::live::redis::{RedisBridge, RedisBridgeOptions};
///
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// let hub = Hub::default();
/// let mut display = hub.subscribe(); // before connecting, to get the replayed events too
/// let bridge =
///     RedisBridge::connect("redis://127.0.0.1:6379", hub.clone(), RedisBridgeOptions::default())
///         .await?;
/// // The recorder publishes on `hub`; `display` now gets every process's events.
/// while let Some(event) = display.recv().await {
///     if let LiveEvent::LapCompleted(lap) = event {
///         println!("session {} lap {}: {:?} ms", lap.session.0, lap.number, lap.time_ms());
///         break;
///     }
/// }
/// let stats = bridge.stats();
/// println!("{} frames from others, {} lost on the way out", stats.frames_received,
///          stats.frames_lost_outbound);
/// bridge.ping().await?; // readiness
/// bridge.shutdown().await; // sends what is still queued
/// # Ok(())
/// # }
/// ```
pub struct RedisBridge {
    instance: InstanceId,
    keys: Keys,
    link: Link,
    counters: Arc<Counters>,
    ping: tokio::sync::Mutex<Option<MultiplexedConnection>>,
    stop: watch::Sender<bool>,
    /// The router and the two readers.
    tasks: Mutex<Vec<JoinHandle<()>>>,
    writer: Mutex<Option<JoinHandle<()>>>,
    flush_timeout: Duration,
}

impl fmt::Debug for RedisBridge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisBridge")
            .field("url", &self.link.url)
            .field("instance", &self.instance)
            .field("frames", &self.keys.frames)
            .field("events", &self.keys.events)
            .finish_non_exhaustive()
    }
}

impl RedisBridge {
    /// Connects to Redis at `url` (PING first, then subscribe), and bridges `hub` to it in
    /// background tasks of the current tokio runtime. Fails when Redis cannot be reached or
    /// does not answer within [`RedisBridgeOptions::timeout`]; once connected, a lost
    /// connection is made again in the background, for as long as the bridge lives.
    pub async fn connect(
        url: &str,
        hub: Hub,
        options: RedisBridgeOptions,
    ) -> Result<Self, RedisBridgeError> {
        let shown = redact(url);
        let info = url
            .into_connection_info()
            .map_err(|e| RedisBridgeError::Url {
                url: shown.clone(),
                source: e.into(),
            })?
            .set_tcp_settings(TcpSettings::default().set_nodelay(true));
        let client = Client::open(info).map_err(|e| RedisBridgeError::Url {
            url: shown.clone(),
            source: e.into(),
        })?;
        let instance = InstanceId::new();
        let link = Link {
            client,
            url: shown.into(),
            instance,
            timeout: options.timeout,
        };
        let keys = Keys::new(&options.prefix);

        let mut out = link.connection("out", options.timeout).await?;
        link.command::<String>(&mut out, "PING", &redis::cmd("PING"))
            .await?;
        let (seconds, micros): (u64, u64) =
            link.command(&mut out, "TIME", &redis::cmd("TIME")).await?;
        let now_ms = seconds * 1_000 + micros / 1_000;
        let window_ms = u64::try_from(options.replay_window.as_millis()).unwrap_or(u64::MAX);
        let start = options.resume_after.unwrap_or(EventId {
            ms: now_ms.saturating_sub(window_ms),
            seq: 0,
        });
        let pubsub = link.subscribe(&keys.frames).await?;
        let mut events_in = link
            .connection("events", EVENTS_BLOCK + options.timeout)
            .await?;

        let counters = Arc::new(Counters::default());
        let backoff = Backoff::new(options.reconnect_min, options.reconnect_max);
        let inbound = Inbound {
            link: link.clone(),
            keys: keys.clone(),
            hub: hub.clone(),
            counters: Arc::clone(&counters),
            backoff: backoff.clone(),
        };
        // The replay, before connect returns: the hub holds what the Stream says (which
        // sessions are live, above all) from the start.
        let mut senders = SeqTracker::default();
        let after = inbound.replay(&mut events_in, start, &mut senders).await?;
        for flag in [
            &counters.out_connected,
            &counters.frames_in_connected,
            &counters.events_in_connected,
        ] {
            flag.store(true, Ordering::Relaxed);
        }
        let (stop, _) = watch::channel(false);
        let (frames_tx, frames_rx) = mpsc::channel(options.frame_queue.max(1));
        let (events_tx, events_rx) = mpsc::channel(options.event_queue.max(1));
        let router = tokio::spawn(route(
            hub.subscribe_local(),
            frames_tx,
            events_tx,
            Arc::clone(&counters),
            stop.subscribe(),
        ));
        let writer = Writer {
            link: link.clone(),
            keys: keys.clone(),
            counters: Arc::clone(&counters),
            conn: Some(out.clone()),
            frames: frames_rx,
            events: events_rx,
            frames_open: true,
            events_open: true,
            batch: Vec::new(),
            pending: VecDeque::new(),
            frame_seq: 0,
            event_seq: 0,
            stream_max_len: options.stream_max_len,
            backoff,
        };
        let writer = tokio::spawn(writer.run());
        let frames_reader = tokio::spawn(inbound.clone().frames(pubsub, stop.subscribe()));
        let events_reader =
            tokio::spawn(inbound.events(events_in, after, senders, stop.subscribe()));
        tracing::info!(url = %link.url, %instance, frames = %keys.frames, events = %keys.events, "bridged the live hub to Redis");
        Ok(Self {
            instance,
            keys,
            link,
            counters,
            ping: tokio::sync::Mutex::new(Some(out)),
            stop,
            tasks: Mutex::new(vec![router, frames_reader, events_reader]),
            writer: Mutex::new(Some(writer)),
            flush_timeout: options.flush_timeout,
        })
    }

    /// This bridge's id, in every message it sends.
    pub fn instance(&self) -> InstanceId {
        self.instance
    }

    /// The pub/sub channel of frames, `{prefix}:frames`.
    pub fn frames_channel(&self) -> &str {
        &self.keys.frames
    }

    /// The Stream of events, `{prefix}:events`.
    pub fn events_stream(&self) -> &str {
        &self.keys.events
    }

    /// The counters now.
    pub fn stats(&self) -> RedisBridgeStats {
        self.counters.snapshot()
    }

    /// Asks Redis for a PONG (for readiness) and gives the round trip; its own connection,
    /// made again when the last one failed.
    pub async fn ping(&self) -> Result<Duration, RedisBridgeError> {
        let mut slot = self.ping.lock().await;
        let mut conn = match slot.take() {
            Some(conn) => conn,
            None => self.link.connection("ping", self.link.timeout).await?,
        };
        let started = Instant::now();
        self.link
            .command::<String>(&mut conn, "PING", &redis::cmd("PING"))
            .await?;
        let round_trip = started.elapsed();
        *slot = Some(conn);
        Ok(round_trip)
    }

    /// Stops the bridge: nothing more comes in; what this process published until now is
    /// sent, for at most [`RedisBridgeOptions::flush_timeout`]. Later calls return at once.
    /// (Dropping the bridge stops it at once, queue and all.)
    pub async fn shutdown(&self) {
        let _ = self.stop.send(true);
        let tasks = std::mem::take(&mut *lock(&self.tasks));
        for task in tasks {
            let _ = task.await;
        }
        let writer = lock(&self.writer).take();
        if let Some(mut writer) = writer {
            if tokio::time::timeout(self.flush_timeout, &mut writer)
                .await
                .is_err()
            {
                writer.abort();
                tracing::warn!(url = %self.link.url, "Redis did not take the last events in time");
            }
        }
        self.counters.out_connected.store(false, Ordering::Relaxed);
    }
}

impl Drop for RedisBridge {
    fn drop(&mut self) {
        let tasks = lock(&self.tasks);
        let writer = lock(&self.writer);
        for task in tasks.iter().chain(writer.as_ref()) {
            task.abort();
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// How long one XREAD waits for new entries.
const EVENTS_BLOCK: Duration = Duration::from_secs(2);
/// Entries one XREAD takes at most.
const EVENTS_READ_COUNT: usize = 256;
/// Messages in one pipeline at most, per kind.
const BATCH: usize = 256;
/// How often the frames subscription checks its connection with a PING.
const HEALTH_INTERVAL: Duration = Duration::from_secs(2);
/// Attempts at an event Redis refuses before it is dropped.
const EVENT_ATTEMPTS: u8 = 3;
/// Latencies kept for the quantiles.
const LATENCY_WINDOW: usize = 2_048;
/// Senders whose sequence numbers are followed at most (then the table starts over).
const MAX_SENDERS: usize = 4_096;

#[derive(Debug, Clone)]
struct Keys {
    frames: String,
    events: String,
}

impl Keys {
    fn new(prefix: &str) -> Self {
        Self {
            frames: format!("{prefix}:frames"),
            events: format!("{prefix}:events"),
        }
    }
}

/// A URL with its password replaced by `***`.
fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:***@{host}{tail}"),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

/// What every task needs to (re)connect.
#[derive(Clone)]
struct Link {
    client: Client,
    url: Arc<str>,
    instance: InstanceId,
    timeout: Duration,
}

impl Link {
    fn timeout_ms(&self) -> u64 {
        u64::try_from(self.timeout.as_millis()).unwrap_or(u64::MAX)
    }

    fn timed_out(&self, command: &'static str) -> RedisBridgeError {
        RedisBridgeError::Timeout {
            url: self.url.to_string(),
            command,
            timeout_ms: self.timeout_ms(),
        }
    }

    fn connect_error(&self, e: redis::RedisError) -> RedisBridgeError {
        RedisBridgeError::Connect {
            url: self.url.to_string(),
            source: e.into(),
        }
    }

    /// A connection named `purple-sector:{instance}:{role}` (in `CLIENT LIST`).
    async fn connection(
        &self,
        role: &'static str,
        response_timeout: Duration,
    ) -> Result<MultiplexedConnection, RedisBridgeError> {
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(None)
            .set_response_timeout(Some(response_timeout));
        let connecting = self
            .client
            .get_multiplexed_async_connection_with_config(&config);
        let mut conn = tokio::time::timeout(self.timeout, connecting)
            .await
            .map_err(|_| self.timed_out("connect"))?
            .map_err(|e| self.connect_error(e))?;
        let name = format!("purple-sector:{}:{role}", self.instance);
        // A name only helps whoever reads CLIENT LIST: a server that refuses it is fine.
        let mut setname = redis::cmd("CLIENT");
        setname.arg("SETNAME").arg(name);
        let _ = self
            .command::<()>(&mut conn, "CLIENT SETNAME", &setname)
            .await;
        Ok(conn)
    }

    /// One command, within the timeout.
    async fn command<T: redis::FromRedisValue>(
        &self,
        conn: &mut MultiplexedConnection,
        name: &'static str,
        cmd: &redis::Cmd,
    ) -> Result<T, RedisBridgeError> {
        tokio::time::timeout(self.timeout, cmd.query_async(conn))
            .await
            .map_err(|_| self.timed_out(name))?
            .map_err(|e| RedisBridgeError::Command {
                url: self.url.to_string(),
                command: name,
                source: e.into(),
            })
    }

    /// A pub/sub connection subscribed to `channel`.
    async fn subscribe(
        &self,
        channel: &str,
    ) -> Result<(PubSubSink, PubSubStream), RedisBridgeError> {
        let mut pubsub = tokio::time::timeout(self.timeout, self.client.get_async_pubsub())
            .await
            .map_err(|_| self.timed_out("connect"))?
            .map_err(|e| self.connect_error(e))?;
        tokio::time::timeout(self.timeout, pubsub.subscribe(channel))
            .await
            .map_err(|_| self.timed_out("SUBSCRIBE"))?
            .map_err(|e| RedisBridgeError::Command {
                url: self.url.to_string(),
                command: "SUBSCRIBE",
                source: e.into(),
            })?;
        Ok(pubsub.split())
    }
}

/// Waits that double from `min` to `max`, with up to a quarter more at random.
#[derive(Debug, Clone)]
struct Backoff {
    min: Duration,
    max: Duration,
    next: Duration,
}

impl Backoff {
    fn new(min: Duration, max: Duration) -> Self {
        Self {
            min,
            max: max.max(min),
            next: min,
        }
    }

    fn next(&mut self) -> Duration {
        let wait = self.next;
        self.next = (wait * 2).min(self.max);
        let quarter = u64::try_from(wait.as_nanos() / 4).unwrap_or(u64::MAX);
        wait + Duration::from_nanos(now_ns() % quarter.max(1))
    }

    fn reset(&mut self) {
        self.next = self.min;
    }
}

#[derive(Debug, Default)]
struct Counters {
    out_connected: AtomicBool,
    frames_in_connected: AtomicBool,
    events_in_connected: AtomicBool,
    frames_published: AtomicU64,
    events_published: AtomicU64,
    publish_errors: AtomicU64,
    frames_lost_outbound: AtomicU64,
    events_lost_outbound: AtomicU64,
    hub_lagged: AtomicU64,
    frames_received: AtomicU64,
    events_received: AtomicU64,
    frames_missed: AtomicU64,
    events_missed: AtomicU64,
    own_skipped: AtomicU64,
    duplicates_skipped: AtomicU64,
    malformed: AtomicU64,
    reconnects: AtomicU64,
    last_event_id: Mutex<Option<EventId>>,
    latency: Mutex<Latencies>,
}

fn add(counter: &AtomicU64, n: u64) {
    counter.fetch_add(n, Ordering::Relaxed);
}

impl Counters {
    fn snapshot(&self) -> RedisBridgeStats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        RedisBridgeStats {
            connected: self.out_connected.load(Ordering::Relaxed)
                && self.frames_in_connected.load(Ordering::Relaxed)
                && self.events_in_connected.load(Ordering::Relaxed),
            frames_published: get(&self.frames_published),
            events_published: get(&self.events_published),
            publish_errors: get(&self.publish_errors),
            frames_lost_outbound: get(&self.frames_lost_outbound),
            events_lost_outbound: get(&self.events_lost_outbound),
            hub_lagged: get(&self.hub_lagged),
            publish_latency: self
                .latency
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .summary(),
            frames_received: get(&self.frames_received),
            events_received: get(&self.events_received),
            frames_missed: get(&self.frames_missed),
            events_missed: get(&self.events_missed),
            own_skipped: get(&self.own_skipped),
            duplicates_skipped: get(&self.duplicates_skipped),
            malformed: get(&self.malformed),
            reconnects: get(&self.reconnects),
            last_event_id: *self
                .last_event_id
                .lock()
                .unwrap_or_else(PoisonError::into_inner),
        }
    }

    fn latencies(&self) -> std::sync::MutexGuard<'_, Latencies> {
        self.latency.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Totals and the last [`LATENCY_WINDOW`] latencies, µs.
#[derive(Debug, Default)]
struct Latencies {
    count: u64,
    sum_us: u64,
    recent_us: VecDeque<u64>,
}

impl Latencies {
    fn record(&mut self, latency: Duration) {
        let us = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        self.count += 1;
        self.sum_us = self.sum_us.saturating_add(us);
        if self.recent_us.len() == LATENCY_WINDOW {
            self.recent_us.pop_front();
        }
        self.recent_us.push_back(us);
    }

    fn summary(&self) -> LatencySummary {
        let mut sorted: Vec<u64> = self.recent_us.iter().copied().collect();
        sorted.sort_unstable();
        // Nearest rank: the smallest value with at least q of them at or below it.
        let rank = |q: f64| {
            let n = sorted.len();
            let k = ((q * n as f64).ceil() as usize).clamp(1, n.max(1)) - 1;
            Duration::from_micros(sorted.get(k).copied().unwrap_or(0))
        };
        LatencySummary {
            count: self.count,
            sum: Duration::from_micros(self.sum_us),
            p50: rank(0.50),
            p99: rank(0.99),
            max: Duration::from_micros(sorted.last().copied().unwrap_or(0)),
            window: sorted.len(),
        }
    }
}

/// The last sequence number seen from each sender.
#[derive(Debug, Default)]
struct SeqTracker {
    last: HashMap<InstanceId, u64>,
}

/// How a message's sequence number follows its sender's last.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Seen {
    /// The first from this sender.
    First,
    /// After the last, with `missed` in between.
    Next { missed: u64 },
    /// At or before the last: had already.
    Again,
}

impl SeqTracker {
    fn see(&mut self, from: InstanceId, seq: u64) -> Seen {
        if self.last.len() >= MAX_SENDERS && !self.last.contains_key(&from) {
            self.last.clear();
        }
        match self.last.entry(from) {
            Entry::Vacant(slot) => {
                slot.insert(seq);
                Seen::First
            }
            Entry::Occupied(mut slot) => {
                let last = *slot.get();
                if seq <= last {
                    Seen::Again
                } else {
                    slot.insert(seq);
                    Seen::Next {
                        missed: seq - last - 1,
                    }
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Outbound: the hub → two queues → Redis.

struct QueuedFrame {
    at: Instant,
    live: Arc<LiveFrame>,
}

struct QueuedEvent {
    at: Instant,
    event: LiveEvent,
}

/// Takes this process's events off the hub as fast as they come, into the writer's queues;
/// full queues drop (and count), so the hub never waits. On stop, takes what the hub still
/// holds, then closes the queues.
async fn route(
    mut hub: Subscription,
    frames: mpsc::Sender<QueuedFrame>,
    events: mpsc::Sender<QueuedEvent>,
    counters: Arc<Counters>,
    mut stop: watch::Receiver<bool>,
) {
    let forward = |event: LiveEvent, lagged: u64| {
        counters.hub_lagged.store(lagged, Ordering::Relaxed);
        let at = Instant::now();
        match event {
            LiveEvent::Frame(live) => {
                if frames.try_send(QueuedFrame { at, live }).is_err() {
                    add(&counters.frames_lost_outbound, 1);
                }
            }
            event => {
                if events.try_send(QueuedEvent { at, event }).is_err() {
                    add(&counters.events_lost_outbound, 1);
                }
            }
        }
    };
    loop {
        tokio::select! {
            biased;
            _ = stop.changed() => {
                while let Some(event) = hub.try_recv() {
                    forward(event, hub.dropped());
                }
                return;
            }
            event = hub.recv() => match event {
                Some(event) => forward(event, hub.dropped()),
                None => return,
            },
        }
    }
}

/// An event as it goes out, with its fields encoded once (and kept for a retry).
struct PendingEvent {
    at: Instant,
    fields: EventFields,
    attempts: u8,
}

/// Publishes what the router queued, in pipelines of what is ready; reconnects when Redis
/// goes away (dropping frames, keeping events). Ends when both queues are closed and empty.
struct Writer {
    link: Link,
    keys: Keys,
    counters: Arc<Counters>,
    conn: Option<MultiplexedConnection>,
    frames: mpsc::Receiver<QueuedFrame>,
    events: mpsc::Receiver<QueuedEvent>,
    frames_open: bool,
    events_open: bool,
    batch: Vec<QueuedFrame>,
    pending: VecDeque<PendingEvent>,
    frame_seq: u64,
    event_seq: u64,
    stream_max_len: usize,
    backoff: Backoff,
}

impl Writer {
    async fn run(mut self) {
        loop {
            if self.conn.is_none() {
                self.reconnect().await;
                continue;
            }
            if self.pending.is_empty() && self.batch.is_empty() {
                tokio::select! {
                    biased;
                    event = self.events.recv(), if self.events_open => match event {
                        Some(event) => self.enqueue(event),
                        None => self.events_open = false,
                    },
                    frame = self.frames.recv(), if self.frames_open => match frame {
                        Some(frame) => self.batch.push(frame),
                        None => self.frames_open = false,
                    },
                    else => return,
                }
            }
            while self.pending.len() < BATCH {
                match self.events.try_recv() {
                    Ok(event) => self.enqueue(event),
                    Err(_) => break,
                }
            }
            while self.batch.len() < BATCH {
                match self.frames.try_recv() {
                    Ok(frame) => self.batch.push(frame),
                    Err(_) => break,
                }
            }
            if !self.pending.is_empty() || !self.batch.is_empty() {
                self.send().await;
            }
        }
    }

    /// Gives an event its sequence number and encodes it, once.
    fn enqueue(&mut self, queued: QueuedEvent) {
        self.event_seq += 1;
        match EventFields::encode(self.link.instance, self.event_seq, &queued.event) {
            Some(fields) => self.pending.push_back(PendingEvent {
                at: queued.at,
                fields,
                attempts: 0,
            }),
            None => add(&self.counters.events_lost_outbound, 1),
        }
    }

    /// Frames waiting while Redis is away are stale: dropped, counted.
    fn drop_frames(&mut self) {
        let mut lost = self.batch.len() as u64;
        self.batch.clear();
        loop {
            match self.frames.try_recv() {
                Ok(_) => lost += 1,
                Err(mpsc::error::TryRecvError::Empty) => break,
                Err(mpsc::error::TryRecvError::Disconnected) => {
                    self.frames_open = false;
                    break;
                }
            }
        }
        add(&self.counters.frames_lost_outbound, lost);
    }

    async fn reconnect(&mut self) {
        self.drop_frames();
        tokio::time::sleep(self.backoff.next()).await;
        self.drop_frames();
        match self.link.connection("out", self.link.timeout).await {
            Ok(conn) => {
                self.conn = Some(conn);
                self.backoff.reset();
                add(&self.counters.reconnects, 1);
                self.counters.out_connected.store(true, Ordering::Relaxed);
                tracing::info!(url = %self.link.url, "publishing to Redis again");
            }
            Err(e) => tracing::debug!(error = %e, "still no Redis to publish to"),
        }
    }

    /// One pipeline: the waiting events (XADD), then the frames (PUBLISH).
    async fn send(&mut self) {
        let Some(conn) = self.conn.as_mut() else {
            return;
        };
        let n_events = self.pending.len().min(BATCH);
        let frames = std::mem::take(&mut self.batch);
        let mut pipe = redis::pipe();
        pipe.ignore_errors();
        for event in self.pending.iter().take(n_events) {
            pipe.cmd("XADD")
                .arg(&self.keys.events)
                .arg("MAXLEN")
                .arg("~")
                .arg(self.stream_max_len)
                .arg("*");
            for (name, value) in event.fields.pairs() {
                pipe.arg(name).arg(value);
            }
        }
        for frame in &frames {
            self.frame_seq += 1;
            let message = encode_frame(self.link.instance, self.frame_seq, &frame.live);
            pipe.cmd("PUBLISH").arg(&self.keys.frames).arg(&message[..]);
        }
        let counters = Arc::clone(&self.counters);
        match pipe.query_async::<Vec<Value>>(conn).await {
            Ok(replies) => {
                let now = Instant::now();
                let mut latencies = counters.latencies();
                let mut replies = replies.into_iter();
                let mut retry = Vec::new();
                for mut event in self.pending.drain(..n_events) {
                    match replies.next() {
                        Some(Value::ServerError(e)) => {
                            add(&counters.publish_errors, 1);
                            event.attempts += 1;
                            if event.attempts < EVENT_ATTEMPTS {
                                retry.push(event);
                            } else {
                                add(&counters.events_lost_outbound, 1);
                                tracing::warn!(url = %self.link.url, error = ?e, "Redis refused an event");
                            }
                        }
                        Some(_) => {
                            add(&counters.events_published, 1);
                            latencies.record(now - event.at);
                        }
                        None => retry.push(event),
                    }
                }
                for event in retry.into_iter().rev() {
                    self.pending.push_front(event);
                }
                for frame in &frames {
                    match replies.next() {
                        Some(Value::Int(_)) => {
                            add(&counters.frames_published, 1);
                            latencies.record(now - frame.at);
                        }
                        _ => {
                            add(&counters.publish_errors, 1);
                            add(&counters.frames_lost_outbound, 1);
                        }
                    }
                }
            }
            Err(e) => {
                // The connection broke: the frames are lost, the events go again (a receiver
                // skips any that did arrive, by their sequence numbers).
                let failed = (n_events + frames.len()) as u64;
                add(&counters.publish_errors, failed);
                add(&counters.frames_lost_outbound, frames.len() as u64);
                self.conn = None;
                counters.out_connected.store(false, Ordering::Relaxed);
                tracing::warn!(url = %self.link.url, error = %e, "lost the connection to Redis for publishing");
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Inbound: Redis → the hub, relayed.

#[derive(Clone)]
struct Inbound {
    link: Link,
    keys: Keys,
    hub: Hub,
    counters: Arc<Counters>,
    backoff: Backoff,
}

/// True once the bridge is stopping (or gone).
async fn stopping(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|stop| *stop).await;
}

impl Inbound {
    /// Frames from the channel into the hub; resubscribes when the connection is lost (or a
    /// PING goes unanswered).
    async fn frames(mut self, first: (PubSubSink, PubSubStream), mut stop: watch::Receiver<bool>) {
        let mut senders = SeqTracker::default();
        let mut connection = Some(first);
        loop {
            let (mut sink, mut messages) = match connection.take() {
                Some(connection) => connection,
                None => {
                    tokio::select! {
                        _ = stopping(&mut stop) => return,
                        _ = tokio::time::sleep(self.backoff.next()) => {}
                    }
                    match self.link.subscribe(&self.keys.frames).await {
                        Ok(connection) => {
                            add(&self.counters.reconnects, 1);
                            tracing::info!(url = %self.link.url, "subscribed to frames again");
                            connection
                        }
                        Err(e) => {
                            tracing::debug!(error = %e, "still no Redis to take frames from");
                            continue;
                        }
                    }
                }
            };
            self.backoff.reset();
            self.counters
                .frames_in_connected
                .store(true, Ordering::Relaxed);
            let mut health = tokio::time::interval(HEALTH_INTERVAL);
            health.tick().await;
            loop {
                tokio::select! {
                    _ = stopping(&mut stop) => return,
                    message = messages.next() => match message {
                        Some(message) => self.frame(message.get_payload_bytes(), &mut senders),
                        None => break,
                    },
                    _ = health.tick() => {
                        let ping = tokio::time::timeout(self.link.timeout, sink.ping::<Value>()).await;
                        if !matches!(ping, Ok(Ok(_))) {
                            break;
                        }
                    }
                }
            }
            self.counters
                .frames_in_connected
                .store(false, Ordering::Relaxed);
            tracing::warn!(url = %self.link.url, "lost the frames subscription to Redis");
        }
    }

    fn frame(&self, bytes: &[u8], senders: &mut SeqTracker) {
        let counters = &self.counters;
        // Our own come back too: skipped before the frame is read.
        if frame_sender(bytes) == Some(self.link.instance) {
            return add(&counters.own_skipped, 1);
        }
        match decode_frame(bytes) {
            Err(e) => {
                add(&counters.malformed, 1);
                tracing::debug!(error = %e, "skipped a frame message");
            }
            Ok(message) if message.from == self.link.instance => add(&counters.own_skipped, 1),
            Ok(message) => {
                match senders.see(message.from, message.seq) {
                    Seen::Again => return add(&counters.duplicates_skipped, 1),
                    Seen::Next { missed } => add(&counters.frames_missed, missed),
                    Seen::First => {}
                }
                add(&counters.frames_received, 1);
                self.hub
                    .publish_relayed(LiveEvent::Frame(Arc::new(message.live)));
            }
        }
    }

    /// The events the Stream holds after `after`, into the hub, without waiting for more;
    /// returns the last entry read (`after` when there was none).
    async fn replay(
        &self,
        conn: &mut MultiplexedConnection,
        mut after: EventId,
        senders: &mut SeqTracker,
    ) -> Result<EventId, RedisBridgeError> {
        loop {
            let mut read = redis::cmd("XREAD");
            read.arg("COUNT")
                .arg(EVENTS_READ_COUNT)
                .arg("STREAMS")
                .arg(&self.keys.events)
                .arg(after.to_string());
            let reply: Value = self.link.command(conn, "XREAD", &read).await?;
            let Ok(entries) = parse_xread(reply) else {
                add(&self.counters.malformed, 1);
                return Ok(after);
            };
            if entries.is_empty() {
                self.set_last_event(after);
                return Ok(after);
            }
            for entry in entries {
                after = after.max(entry.id);
                self.event(&entry.fields, senders);
            }
        }
    }

    fn set_last_event(&self, id: EventId) {
        *self
            .counters
            .last_event_id
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(id);
    }

    /// Events from the Stream into the hub, from `after` on; reconnects when the connection
    /// is lost and reads on after the last entry seen.
    async fn events(
        mut self,
        first: MultiplexedConnection,
        mut after: EventId,
        mut senders: SeqTracker,
        mut stop: watch::Receiver<bool>,
    ) {
        let mut connection = Some(first);
        let block_ms = u64::try_from(EVENTS_BLOCK.as_millis()).unwrap_or(u64::MAX);
        loop {
            let Some(conn) = connection.as_mut() else {
                tokio::select! {
                    _ = stopping(&mut stop) => return,
                    _ = tokio::time::sleep(self.backoff.next()) => {}
                }
                match self
                    .link
                    .connection("events", EVENTS_BLOCK + self.link.timeout)
                    .await
                {
                    Ok(conn) => {
                        connection = Some(conn);
                        self.backoff.reset();
                        add(&self.counters.reconnects, 1);
                        self.counters
                            .events_in_connected
                            .store(true, Ordering::Relaxed);
                        tracing::info!(url = %self.link.url, %after, "reading events again");
                    }
                    Err(e) => tracing::debug!(error = %e, "still no Redis to read events from"),
                }
                continue;
            };
            let mut read = redis::cmd("XREAD");
            read.arg("COUNT")
                .arg(EVENTS_READ_COUNT)
                .arg("BLOCK")
                .arg(block_ms)
                .arg("STREAMS")
                .arg(&self.keys.events)
                .arg(after.to_string());
            let reply = tokio::select! {
                _ = stopping(&mut stop) => return,
                reply = read.query_async::<Value>(conn) => reply,
            };
            let failure = match reply.map(parse_xread) {
                Ok(Ok(entries)) => {
                    for entry in entries {
                        after = after.max(entry.id);
                        self.event(&entry.fields, &mut senders);
                    }
                    self.set_last_event(after);
                    continue;
                }
                Ok(Err(e)) => {
                    add(&self.counters.malformed, 1);
                    e.to_string()
                }
                Err(e) => e.to_string(),
            };
            connection = None;
            self.counters
                .events_in_connected
                .store(false, Ordering::Relaxed);
            tracing::warn!(url = %self.link.url, error = %failure, "lost the events connection to Redis");
        }
    }

    fn event(&self, fields: &[(Vec<u8>, Vec<u8>)], senders: &mut SeqTracker) {
        let counters = &self.counters;
        match decode_event(fields) {
            Err(e) => {
                add(&counters.malformed, 1);
                tracing::debug!(error = %e, "skipped an event entry");
            }
            Ok(message) if message.from == self.link.instance => add(&counters.own_skipped, 1),
            Ok(message) => {
                match senders.see(message.from, message.seq) {
                    Seen::Again => return add(&counters.duplicates_skipped, 1),
                    Seen::Next { missed } => add(&counters.events_missed, missed),
                    Seen::First => {}
                }
                add(&counters.events_received, 1);
                self.hub.publish_relayed(message.event);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The wire format (see the module docs).

/// Why a message is not one of ours.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
enum WireError {
    #[error("a frame message is {expected} bytes, got {found}")]
    FrameLength { expected: usize, found: usize },
    #[error("a frame message starts with {expected:?}, got {found:?}")]
    FrameMagic { expected: [u8; 4], found: [u8; 4] },
    #[error("unknown bits in the frame message's presence byte {found:#04x}")]
    FramePresence { found: u8 },
    #[error("the frame's car-info datagram at offset {offset}")]
    CarInfo {
        offset: usize,
        #[source]
        source: ParseError,
    },
    #[error("no field {field:?}")]
    MissingField { field: &'static str },
    #[error("field {field:?} does not read")]
    BadField { field: &'static str },
    #[error("event version {found}, we read 1")]
    Version { found: u64 },
    #[error("field \"data\" is not the JSON of its type, at line {line} column {column}")]
    Json { line: usize, column: usize },
    #[error("field \"session\" says {field}, the data {data}")]
    SessionMismatch { field: i64, data: i64 },
    #[error("an XREAD reply of an unknown shape")]
    Reply,
}

/// Bytes of a frame message.
const FRAME_MESSAGE_LEN: usize = CAR_OFFSET + CAR_INFO_LEN;
const FRAME_MAGIC: [u8; 4] = *b"PSF\x01";
const HAS_SESSION: u8 = 1;
const HAS_DELTA: u8 = 1 << 1;
const CAR_OFFSET: usize = 45;

/// A frame as it travels.
#[derive(Debug, Clone, Copy, PartialEq)]
struct FrameMessage {
    from: InstanceId,
    seq: u64,
    live: LiveFrame,
}

fn encode_frame(from: InstanceId, seq: u64, live: &LiveFrame) -> [u8; FRAME_MESSAGE_LEN] {
    let mut out = [0u8; FRAME_MESSAGE_LEN];
    out[0..4].copy_from_slice(&FRAME_MAGIC);
    out[4..12].copy_from_slice(&from.0.to_le_bytes());
    out[12..20].copy_from_slice(&seq.to_le_bytes());
    let mut presence = 0;
    if let Some(session) = live.session {
        presence |= HAS_SESSION;
        out[21..29].copy_from_slice(&session.0.to_le_bytes());
    }
    if let Some(delta_s) = live.delta_s {
        presence |= HAS_DELTA;
        out[29..37].copy_from_slice(&delta_s.to_le_bytes());
    }
    out[20] = presence;
    out[37..CAR_OFFSET].copy_from_slice(&live.frame.time_ns.to_le_bytes());
    out[CAR_OFFSET..].copy_from_slice(&live.frame.to_car_info().encode());
    out
}

/// Who sent a frame message, read from its header alone; `None` when it is not one.
fn frame_sender(bytes: &[u8]) -> Option<InstanceId> {
    if bytes.len() != FRAME_MESSAGE_LEN || bytes.get(..4)? != FRAME_MAGIC {
        return None;
    }
    let id: [u8; 8] = bytes.get(4..12)?.try_into().ok()?;
    Some(InstanceId(u64::from_le_bytes(id)))
}

fn decode_frame(bytes: &[u8]) -> Result<FrameMessage, WireError> {
    let bytes: &[u8; FRAME_MESSAGE_LEN] = bytes.try_into().map_err(|_| WireError::FrameLength {
        expected: FRAME_MESSAGE_LEN,
        found: bytes.len(),
    })?;
    fn field<const N: usize>(bytes: &[u8; FRAME_MESSAGE_LEN], at: usize) -> [u8; N] {
        let mut out = [0u8; N];
        out.copy_from_slice(&bytes[at..at + N]);
        out
    }
    let magic = field::<4>(bytes, 0);
    if magic != FRAME_MAGIC {
        return Err(WireError::FrameMagic {
            expected: FRAME_MAGIC,
            found: magic,
        });
    }
    let presence = bytes[20];
    if presence & !(HAS_SESSION | HAS_DELTA) != 0 {
        return Err(WireError::FramePresence { found: presence });
    }
    let car = CarInfo::new(&bytes[CAR_OFFSET..]).map_err(|source| WireError::CarInfo {
        offset: CAR_OFFSET,
        source,
    })?;
    let time_ns = u64::from_le_bytes(field(bytes, 37));
    Ok(FrameMessage {
        from: InstanceId(u64::from_le_bytes(field(bytes, 4))),
        seq: u64::from_le_bytes(field(bytes, 12)),
        live: LiveFrame {
            session: (presence & HAS_SESSION != 0)
                .then(|| SessionId(i64::from_le_bytes(field(bytes, 21)))),
            frame: Frame::from_car_info(&car, time_ns),
            delta_s: (presence & HAS_DELTA != 0).then(|| f64::from_le_bytes(field(bytes, 29))),
        },
    })
}

/// The six fields of an event entry, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
struct EventFields {
    from: String,
    seq: String,
    session: String,
    kind: &'static str,
    data: Vec<u8>,
}

const LAP_COMPLETED: &str = "lap_completed";
const SESSION: &str = "session";

#[derive(serde::Serialize)]
struct SessionOut<'a> {
    session: &'a Session,
    state: SessionState,
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct SessionIn {
    session: Session,
    state: SessionState,
}

impl EventFields {
    /// The fields of a lap or session event; `None` for a frame (or JSON that cannot be
    /// written).
    fn encode(from: InstanceId, seq: u64, event: &LiveEvent) -> Option<Self> {
        let (session, kind, data) = match event {
            LiveEvent::Frame(_) => return None,
            LiveEvent::LapCompleted(lap) => {
                (lap.session, LAP_COMPLETED, serde_json::to_vec(&**lap))
            }
            LiveEvent::Session { session, state } => (
                session.id,
                SESSION,
                serde_json::to_vec(&SessionOut {
                    session,
                    state: *state,
                }),
            ),
        };
        Some(Self {
            from: from.to_string(),
            seq: seq.to_string(),
            session: session.0.to_string(),
            kind,
            data: data.ok()?,
        })
    }

    fn pairs(&self) -> [(&'static str, &[u8]); 6] {
        [
            ("v", b"1"),
            ("from", self.from.as_bytes()),
            ("seq", self.seq.as_bytes()),
            ("session", self.session.as_bytes()),
            ("type", self.kind.as_bytes()),
            ("data", &self.data),
        ]
    }
}

/// An event as it travels.
#[derive(Debug, Clone, PartialEq)]
struct EventMessage {
    from: InstanceId,
    seq: u64,
    event: LiveEvent,
}

fn decode_event(fields: &[(Vec<u8>, Vec<u8>)]) -> Result<EventMessage, WireError> {
    let get = |field: &'static str| {
        fields
            .iter()
            .find(|(name, _)| name == field.as_bytes())
            .map(|(_, value)| value.as_slice())
            .ok_or(WireError::MissingField { field })
    };
    let number = |field: &'static str| -> Result<u64, WireError> {
        std::str::from_utf8(get(field)?)
            .ok()
            .and_then(|text| text.parse().ok())
            .ok_or(WireError::BadField { field })
    };
    let version = number("v")?;
    if version != 1 {
        return Err(WireError::Version { found: version });
    }
    let from = InstanceId::parse(get("from")?).ok_or(WireError::BadField { field: "from" })?;
    let seq = number("seq")?;
    let session = std::str::from_utf8(get("session")?)
        .ok()
        .and_then(|text| text.parse::<i64>().ok())
        .ok_or(WireError::BadField { field: "session" })?;
    let data = get("data")?;
    let json = |e: serde_json::Error| WireError::Json {
        line: e.line(),
        column: e.column(),
    };
    let (event, data_session) = match get("type")? {
        kind if kind == LAP_COMPLETED.as_bytes() => {
            let lap: LapRecord = serde_json::from_slice(data).map_err(json)?;
            let id = lap.session;
            (LiveEvent::LapCompleted(Arc::new(lap)), id)
        }
        kind if kind == SESSION.as_bytes() => {
            let SessionIn { session, state } = serde_json::from_slice(data).map_err(json)?;
            let id = session.id;
            (
                LiveEvent::Session {
                    session: Arc::new(session),
                    state,
                },
                id,
            )
        }
        _ => return Err(WireError::BadField { field: "type" }),
    };
    if data_session.0 != session {
        return Err(WireError::SessionMismatch {
            field: session,
            data: data_session.0,
        });
    }
    Ok(EventMessage { from, seq, event })
}

/// One entry of an XREAD reply.
#[derive(Debug, Clone, PartialEq, Eq)]
struct StreamEntry {
    id: EventId,
    fields: Vec<(Vec<u8>, Vec<u8>)>,
}

/// The entries of an XREAD reply on one stream (RESP2 arrays or a RESP3 map); nil when none
/// came in time.
fn parse_xread(reply: Value) -> Result<Vec<StreamEntry>, WireError> {
    let streams = match reply {
        Value::Nil => return Ok(Vec::new()),
        Value::Array(streams) => streams
            .into_iter()
            .map(|stream| match stream {
                Value::Array(pair) => pair.into_iter().nth(1).ok_or(WireError::Reply),
                _ => Err(WireError::Reply),
            })
            .collect::<Result<Vec<_>, _>>()?,
        Value::Map(streams) => streams.into_iter().map(|(_, entries)| entries).collect(),
        _ => return Err(WireError::Reply),
    };
    let mut out = Vec::new();
    for entries in streams {
        let Value::Array(entries) = entries else {
            return Err(WireError::Reply);
        };
        for entry in entries {
            let Value::Array(entry) = entry else {
                return Err(WireError::Reply);
            };
            let mut entry = entry.into_iter();
            let id = entry
                .next()
                .and_then(bytes_of)
                .and_then(|id| EventId::parse(&id))
                .ok_or(WireError::Reply)?;
            let mut fields = Vec::new();
            if let Some(Value::Array(values)) = entry.next() {
                let mut values = values.into_iter();
                while let (Some(name), Some(value)) = (values.next(), values.next()) {
                    if let (Some(name), Some(value)) = (bytes_of(name), bytes_of(value)) {
                        fields.push((name, value));
                    }
                }
            }
            out.push(StreamEntry { id, fields });
        }
    }
    Ok(out)
}

fn bytes_of(value: Value) -> Option<Vec<u8>> {
    match value {
        Value::BulkString(bytes) => Some(bytes),
        Value::SimpleString(text) => Some(text.into_bytes()),
        _ => None,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::lap::{LapKind, LapTime};
    use crate::store::{LapId, LapOrigin, SessionSource, SessionStatus};
    use proptest::prelude::*;
    use proptest::strategy::ValueTree;

    fn frame_strategy() -> impl Strategy<Value = Frame> {
        (
            proptest::collection::vec(any::<u8>(), CAR_INFO_LEN),
            any::<[bool; 6]>(),
            any::<u64>(),
        )
            .prop_map(|(mut bytes, flags, time_ns)| {
                bytes[0] = b'a';
                bytes[4..8].copy_from_slice(&(CAR_INFO_LEN as i32).to_le_bytes());
                for (k, f) in flags.into_iter().enumerate() {
                    bytes[20 + k] = u8::from(f);
                }
                Frame::from_car_info(&CarInfo::new(&bytes).unwrap(), time_ns)
            })
    }

    /// Bit for bit (NaN ≠ NaN, so compare encodings and bits).
    fn same_frame(a: &Frame, b: &Frame) -> bool {
        a.time_ns == b.time_ns && a.to_car_info().encode() == b.to_car_info().encode()
    }

    fn lap_strategy() -> impl Strategy<Value = LapRecord> {
        (
            (1i64..i64::MAX, 1i64..i64::MAX, any::<u32>(), any::<i32>()),
            (
                prop_oneof![
                    Just(LapKind::Out),
                    Just(LapKind::Flying),
                    Just(LapKind::In),
                    Just(LapKind::Partial)
                ],
                any::<bool>(),
                proptest::option::of(any::<i32>()),
                any::<u32>(),
            ),
            (
                proptest::collection::vec(".{0,12}", 0..4),
                ".{0,40}",
                any::<i64>(),
            ),
        )
            .prop_map(
                |(
                    (id, session, stint, number),
                    (kind, valid, time, frames),
                    (tags, comments, created_ms),
                )| {
                    LapRecord {
                        id: LapId(id),
                        session: SessionId(session),
                        stint,
                        number,
                        kind,
                        valid,
                        invalid_reason: None,
                        time: time.map(LapTime::official),
                        frame_count: frames,
                        in_progress: false,
                        tags,
                        comments,
                        analyzed: false,
                        suggestions: None,
                        created_ms,
                        origin: LapOrigin::Recorded,
                        owner: (created_ms % 2 == 0).then(|| format!("driver-{stint}")),
                    }
                },
            )
    }

    fn session_strategy() -> impl Strategy<Value = Session> {
        (
            1i64..i64::MAX,
            ".{0,30}",
            ".{0,20}",
            ".{0,20}",
            any::<i64>(),
        )
            .prop_map(|(id, name, car, track, created_ms)| Session {
                id: SessionId(id),
                name,
                source: SessionSource::Live,
                status: SessionStatus::Active,
                car,
                driver: "Driver".into(),
                track,
                track_config: String::new(),
                tags: vec!["league".into()],
                created_ms,
                updated_ms: created_ms,
                owner: (created_ms % 2 == 0).then(|| "driver-a".to_owned()),
            })
    }

    fn owned(fields: &EventFields) -> Vec<(Vec<u8>, Vec<u8>)> {
        fields
            .pairs()
            .iter()
            .map(|(name, value)| (name.as_bytes().to_vec(), value.to_vec()))
            .collect()
    }

    proptest! {
        #[test]
        fn frames_round_trip_bit_for_bit(
            frame in frame_strategy(),
            from in any::<u64>(),
            seq in any::<u64>(),
            session in proptest::option::of(any::<i64>()),
            delta_bits in proptest::option::of(any::<u64>()),
        ) {
            let live = LiveFrame {
                session: session.map(SessionId),
                frame,
                delta_s: delta_bits.map(f64::from_bits),
            };
            let bytes = encode_frame(InstanceId(from), seq, &live);
            prop_assert_eq!(bytes.len(), 373);
            let back = decode_frame(&bytes).unwrap();
            prop_assert_eq!(frame_sender(&bytes), Some(InstanceId(from)));
            prop_assert_eq!(back.from, InstanceId(from));
            prop_assert_eq!(back.seq, seq);
            prop_assert_eq!(back.live.session, live.session);
            prop_assert_eq!(back.live.delta_s.map(f64::to_bits), delta_bits);
            prop_assert!(same_frame(&back.live.frame, &frame));
            prop_assert_eq!(encode_frame(back.from, back.seq, &back.live), bytes);
        }

        #[test]
        fn every_truncation_of_a_frame_gives_its_length(frame in frame_strategy(), cut in 0usize..373) {
            let live = LiveFrame { session: None, frame, delta_s: None };
            let bytes = encode_frame(InstanceId(7), 1, &live);
            prop_assert_eq!(
                decode_frame(&bytes[..cut]),
                Err(WireError::FrameLength { expected: 373, found: cut })
            );
        }

        #[test]
        fn any_bytes_decode_or_fail_without_panicking(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            let _ = decode_frame(&bytes);
            let fields = bytes.chunks(16).map(|c| (c.to_vec(), c.to_vec())).collect::<Vec<_>>();
            let _ = decode_event(&fields);
        }

        #[test]
        fn laps_round_trip(lap in lap_strategy(), from in any::<u64>(), seq in any::<u64>()) {
            let event = LiveEvent::LapCompleted(Arc::new(lap));
            let fields = EventFields::encode(InstanceId(from), seq, &event).unwrap();
            let back = decode_event(&owned(&fields)).unwrap();
            prop_assert_eq!(back, EventMessage { from: InstanceId(from), seq, event });
        }

        #[test]
        fn sessions_round_trip(session in session_strategy(), started in any::<bool>(), from in any::<u64>(), seq in any::<u64>()) {
            let state = if started { SessionState::Started } else { SessionState::Stopped };
            let event = LiveEvent::Session { session: Arc::new(session), state };
            let fields = EventFields::encode(InstanceId(from), seq, &event).unwrap();
            let back = decode_event(&owned(&fields)).unwrap();
            prop_assert_eq!(back, EventMessage { from: InstanceId(from), seq, event });
        }
    }

    #[test]
    fn frames_are_not_events_and_odd_frames_are_refused() {
        let live = LiveFrame {
            session: Some(SessionId(3)),
            frame: Frame::default(),
            delta_s: Some(-0.25),
        };
        assert!(EventFields::encode(InstanceId(1), 1, &LiveEvent::Frame(Arc::new(live))).is_none());
        let good = encode_frame(InstanceId(1), 1, &live);
        let mut bad = good;
        bad[3] = 2;
        assert_eq!(
            decode_frame(&bad),
            Err(WireError::FrameMagic {
                expected: FRAME_MAGIC,
                found: *b"PSF\x02"
            })
        );
        let mut bad = good;
        bad[20] = 0x07;
        assert_eq!(
            decode_frame(&bad),
            Err(WireError::FramePresence { found: 0x07 })
        );
        let mut bad = good;
        bad[CAR_OFFSET] = b'b';
        assert!(matches!(
            decode_frame(&bad),
            Err(WireError::CarInfo {
                offset: CAR_OFFSET,
                ..
            })
        ));
    }

    #[test]
    fn odd_events_name_what_is_wrong() {
        let lap = lap_strategy()
            .new_tree(&mut proptest::test_runner::TestRunner::deterministic())
            .unwrap()
            .current();
        let event = LiveEvent::LapCompleted(Arc::new(lap.clone()));
        let good = owned(&EventFields::encode(InstanceId(9), 4, &event).unwrap());
        let with = |name: &str, value: &[u8]| {
            good.iter()
                .map(|(n, v)| {
                    if n == name.as_bytes() {
                        (n.clone(), value.to_vec())
                    } else {
                        (n.clone(), v.clone())
                    }
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(
            decode_event(&with("v", b"2")),
            Err(WireError::Version { found: 2 })
        );
        assert_eq!(
            decode_event(&with("from", b"xyz")),
            Err(WireError::BadField { field: "from" })
        );
        assert_eq!(
            decode_event(&with("type", b"frame")),
            Err(WireError::BadField { field: "type" })
        );
        assert_eq!(
            decode_event(&with("session", b"-1")),
            Err(WireError::SessionMismatch {
                field: -1,
                data: lap.session.0
            })
        );
        assert!(matches!(
            decode_event(&with("data", b"{\"id\": 1}")),
            Err(WireError::Json { line: 1, .. })
        ));
        assert_eq!(
            decode_event(&good[1..]),
            Err(WireError::MissingField { field: "v" })
        );
    }

    #[test]
    fn xread_replies_in_both_protocols() {
        let bulk = |s: &str| Value::BulkString(s.as_bytes().to_vec());
        let entry = Value::Array(vec![
            bulk("1700000000000-3"),
            Value::Array(vec![bulk("v"), bulk("1"), bulk("odd")]),
        ]);
        let expected = vec![StreamEntry {
            id: EventId {
                ms: 1_700_000_000_000,
                seq: 3,
            },
            fields: vec![(b"v".to_vec(), b"1".to_vec())],
        }];
        let resp2 = Value::Array(vec![Value::Array(vec![
            bulk("p:events"),
            Value::Array(vec![entry.clone()]),
        ])]);
        assert_eq!(parse_xread(resp2), Ok(expected.clone()));
        let resp3 = Value::Map(vec![(bulk("p:events"), Value::Array(vec![entry]))]);
        assert_eq!(parse_xread(resp3), Ok(expected));
        assert_eq!(parse_xread(Value::Nil), Ok(Vec::new()));
        assert_eq!(parse_xread(Value::Int(1)), Err(WireError::Reply));
    }

    #[test]
    fn sequence_numbers_tell_first_next_missed_and_again() {
        let mut senders = SeqTracker::default();
        let (a, b) = (InstanceId(1), InstanceId(2));
        assert_eq!(senders.see(a, 5), Seen::First);
        assert_eq!(senders.see(a, 6), Seen::Next { missed: 0 });
        assert_eq!(senders.see(b, 1), Seen::First);
        assert_eq!(senders.see(a, 10), Seen::Next { missed: 3 });
        assert_eq!(senders.see(a, 10), Seen::Again);
        assert_eq!(senders.see(a, 2), Seen::Again);
    }

    #[test]
    fn latency_quantiles_are_nearest_rank_over_the_window() {
        let mut latencies = Latencies::default();
        assert_eq!(latencies.summary(), LatencySummary::default());
        for ms in 1..=100 {
            latencies.record(Duration::from_millis(ms));
        }
        let summary = latencies.summary();
        assert_eq!(summary.count, 100);
        assert_eq!(summary.sum, Duration::from_millis(5_050));
        assert_eq!(summary.p50, Duration::from_millis(50));
        assert_eq!(summary.p99, Duration::from_millis(99));
        assert_eq!(summary.max, Duration::from_millis(100));
        for _ in 0..LATENCY_WINDOW {
            latencies.record(Duration::from_millis(1));
        }
        let summary = latencies.summary();
        assert_eq!(
            (summary.window, summary.max),
            (LATENCY_WINDOW, Duration::from_millis(1))
        );
        assert_eq!(summary.count, 100 + LATENCY_WINDOW as u64);
    }

    #[test]
    fn ids_print_and_parse() {
        assert_eq!(InstanceId(0xab).to_string(), "00000000000000ab");
        assert_eq!(
            InstanceId::parse(b"00000000000000ab"),
            Some(InstanceId(0xab))
        );
        assert_eq!(InstanceId::parse(b"ab"), None);
        assert_ne!(InstanceId::new(), InstanceId::new());
        let id = EventId { ms: 17, seq: 2 };
        assert_eq!(EventId::parse(id.to_string().as_bytes()), Some(id));
        assert_eq!(EventId::parse(b"17"), None);
        assert!(EventId { ms: 17, seq: 3 } > id);
    }

    #[test]
    fn urls_hide_their_password() {
        assert_eq!(
            redact("redis://user:secret@db.example:6379/2"),
            "redis://user:***@db.example:6379/2"
        );
        assert_eq!(redact("redis://:secret@h"), "redis://:***@h");
        assert_eq!(redact("redis://h:6379"), "redis://h:6379");
        assert_eq!(
            redact("redis+unix:///tmp/r.sock"),
            "redis+unix:///tmp/r.sock"
        );
        assert_eq!(redact("not a url"), "not a url");
    }

    #[test]
    fn backoff_doubles_to_its_cap_and_resets() {
        let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_millis(300));
        let waits: Vec<Duration> = (0..4).map(|_| backoff.next()).collect();
        for (wait, base) in waits.iter().zip([100, 200, 300, 300]) {
            let base = Duration::from_millis(base);
            assert!(
                *wait >= base && *wait <= base + base / 4,
                "{wait:?} for {base:?}"
            );
        }
        backoff.reset();
        assert!(backoff.next() < Duration::from_millis(126));
    }
}
