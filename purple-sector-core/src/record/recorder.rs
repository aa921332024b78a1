//! [`Recorder`]: one recording, from a game, the built-in game or a capture, into the store.

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::lap::PartialCause;
use crate::live::{Hub, LiveDelta, LiveEvent, LiveFrame};
use crate::net::{AcClient, ClientConfig, ClientCounters, ClientEvent, NetError};
use crate::store::{LapRecord, NewSession, Session, SessionId, SessionSource, Store, StoreError};

use super::writer::{GAME_LEASE_TTL, GameLease, LiveSinks, Writer};
use super::{Input, LiveStatus, Pipeline, PipelineCounters, StoreOp};

/// Where a recording's datagrams come from.
#[derive(Debug, Clone)]
#[non_exhaustive]
// Made once per recording: the simulator's configuration is not worth a box.
#[allow(clippy::large_enum_variant)]
pub enum Source {
    /// A running game (or anything that speaks its protocol), through the UDP client.
    Game(ClientConfig),
    /// The built-in game, served on a free loopback port at `speed`× real time and recorded
    /// through the real UDP client, exactly as a game would be. The recording ends once the
    /// simulated session completed all its laps, the out lap included.
    #[cfg(feature = "sim")]
    Simulator {
        /// The session the simulator drives.
        config: crate::sim::SimConfig,
        /// Speed of time (2.0: twice as fast).
        speed: f64,
    },
    /// A capture of the game's traffic, served on a free loopback port as the game at its
    /// own timing (× `speed`) and recorded like a game; the recording ends with the capture.
    #[cfg(feature = "sim")]
    Capture {
        /// The pcap or pcapng file.
        path: PathBuf,
        /// The game's UDP port in the capture.
        game_port: u16,
        /// Speed of time.
        speed: f64,
    },
}

/// How a recording runs: the session it makes, when it stops on its own, who watches.
#[derive(Debug, Clone)]
pub struct RecordOptions {
    /// The session's name; `None` names it after the track.
    pub session_name: Option<String>,
    /// What kind of session it is.
    pub source: SessionSource,
    /// Stop after this many completed laps (of any kind but partial). The simulator sets
    /// its own: all its laps.
    pub laps: Option<u64>,
    /// Stop after this long.
    pub duration: Option<Duration>,
    /// How often the lap in progress is checkpointed.
    pub checkpoint_every: Duration,
    /// Where frames (with their session and live delta), stored laps and the session's
    /// start and stop are broadcast.
    pub hub: Option<Hub>,
    /// Who records: the user the session (and each of its laps) is recorded for.
    pub owner: Option<String>,
    /// Record into this existing session (one made in the dashboard's form, say) instead of
    /// a new one: its laps continue in a stint of their own, its empty car, driver and track
    /// are filled from the game's handshake, and a game on another track or car is refused
    /// ([`StoreError::SessionMismatch`](crate::store::StoreError::SessionMismatch)). `session_name` and `source` are then unused.
    pub session: Option<SessionId>,
}

impl Default for RecordOptions {
    fn default() -> Self {
        Self {
            session_name: None,
            source: SessionSource::Live,
            laps: None,
            duration: None,
            checkpoint_every: Duration::from_secs(1),
            hub: None,
            owner: None,
            session: None,
        }
    }
}

/// Errors of a recording or an import.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RecordError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The UDP client failed.
    #[error(transparent)]
    Net(#[from] NetError),
    /// The built-in game could not be served.
    #[error("the built-in game cannot serve on {addr}")]
    Game {
        /// The address it tried.
        addr: SocketAddr,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A capture to record from cannot be read.
    #[error("{}", path.display())]
    Capture {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: crate::capture::CaptureError,
    },
    /// A capture to record from holds no handshake reply from the game, so no client can
    /// connect to it.
    #[error(
        "{}: no handshake response from the game in this capture (start the capture before the client connects)",
        path.display()
    )]
    NoHandshake {
        /// The file.
        path: PathBuf,
    },
    /// A task of the pipeline panicked or was cancelled.
    #[error("recorder task failed")]
    Task(#[from] tokio::task::JoinError),
}

/// What a recording or an import produced.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct RecordSummary {
    /// The session written to; `None` when the game never answered.
    pub session: Option<Session>,
    /// The laps saved, in order (checkpoints not included).
    pub laps: Vec<LapRecord>,
    /// Pipeline counts.
    pub pipeline: PipelineCounters,
    /// Client counts (zero for imports).
    pub client: ClientCounters,
}

/// A finished recording.
#[derive(Debug, Clone)]
pub struct Recording {
    /// The session, its laps and the counts.
    pub summary: RecordSummary,
    /// The simulator's own account of its laps (times, and what each injected mistake
    /// cost); empty for other sources.
    #[cfg(feature = "sim")]
    pub sim_laps: Vec<crate::sim::LapReport>,
}

/// Where a recording is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RecorderState {
    /// Waiting for the game to answer.
    #[default]
    Connecting,
    /// The game answered; laps are being recorded.
    Recording,
    /// The recording ended: every lap is stored.
    Finished,
}

/// A recording's state, for status displays.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
pub struct RecorderStatus {
    /// Where the recording is.
    pub state: RecorderState,
    /// The session recorded into, once made.
    pub session: Option<SessionId>,
    /// The lap being driven and the pipeline's counts.
    pub lap: LiveStatus,
    /// The UDP client's counts.
    pub client: ClientCounters,
}

/// One recording running in the background: source → UDP client → pipeline (laps cut,
/// live delta, frames to the hub) → store writer (one transaction per lap). The same for
/// `record`, `demo` and `serve`; how many may run at once is the caller's business.
///
/// The socket task never waits on the disk: datagrams reach the pipeline over a bounded
/// channel (a full channel drops and counts), and completed laps reach the writer over
/// another; checkpoints of the lap in progress (about once a second) are skipped, never
/// queued, while the writer is busy. On the way out the client sends DISMISS, the lap in
/// progress is saved as partial, and every write finishes.
///
/// ```
/// use std::sync::Arc;
/// use purple_sector_core::record::{RecordOptions, Recorder, Source};
/// use purple_sector_core::sim::{SimConfig, Track};
/// use purple_sector_core::store::{MemoryStore, Store};
///
/// # tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?.block_on(async {
/// let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
/// // The built-in game on the 1.3 km test circuit: an out lap and one flying lap, at 50×.
/// let config = SimConfig { laps: 1, ..SimConfig::new(Track::by_name("test")?) };
/// let source = Source::Simulator { config, speed: 50.0 };
/// let recorder = Recorder::start(Arc::clone(&store), source, RecordOptions::default()).await?;
/// let recording = recorder.run_until(std::future::pending()).await?;
/// let flying = recording.summary.laps.iter().filter(|l| l.kind.as_str() == "flying").count();
/// assert_eq!(flying, 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct Recorder {
    stop: Arc<watch::Sender<bool>>,
    status: watch::Receiver<RecorderStatus>,
    task: JoinHandle<Result<Recording, RecordError>>,
}

impl Recorder {
    /// Starts recording `source` into `store`. Sockets are bound before this returns, so an
    /// address in use or a capture that cannot be read fails here; everything after that is
    /// reported by [`Recorder::stop`] or [`Recorder::run_until`]. Needs a tokio runtime.
    pub async fn start(
        store: Arc<dyn Store>,
        source: Source,
        options: RecordOptions,
    ) -> Result<Self, RecordError> {
        // The session to record into, checked now rather than when the game first answers
        // (and, for the built-in game, whose handshake is known, against its track and car).
        let into = match options.session {
            Some(id) => Some(store.get_session(id).await?),
            None => None,
        };
        #[cfg(feature = "sim")]
        let fits = |hello: &crate::protocol::OwnedHandshakeResponse| match &into {
            Some(session) => super::writer::Heard::from(hello).fits(session),
            None => Ok(()),
        };
        #[cfg(not(feature = "sim"))]
        drop(into);
        let (stop, stop_rx) = watch::channel(false);
        let stop = Arc::new(stop);
        let (status_tx, status) = watch::channel(RecorderStatus::default());
        let task = match source {
            Source::Game(client) => {
                let lease = GameLease {
                    game: client.game,
                    holder: recorder_name(),
                    ttl: GAME_LEASE_TTL,
                };
                let client = AcClient::bind(client)?;
                tokio::spawn(async move {
                    let pipeline = Pipeline::new(Some(options.checkpoint_every));
                    let summary = record(
                        store,
                        client,
                        pipeline,
                        options,
                        Some(lease),
                        stop_rx,
                        status_tx,
                        #[cfg(feature = "sim")]
                        None,
                    )
                    .await?;
                    Ok(Recording {
                        summary,
                        #[cfg(feature = "sim")]
                        sim_laps: Vec::new(),
                    })
                })
            }
            #[cfg(feature = "sim")]
            Source::Simulator { config, speed } => {
                let flying = config.laps;
                let mut sim = crate::sim::Simulator::new(config);
                fits(&sim.handshake_response())?;
                let server = bind_game(sim.handshake_response()).await?;
                let mut options = options;
                // The out lap and every flying lap.
                options.laps = Some(u64::from(flying) + 1);
                let client = local_client(&server)?;
                let stop = Arc::clone(&stop);
                tokio::spawn(async move {
                    let schedule = crate::sim::simulator_schedule(&mut sim);
                    let pipeline = Pipeline::new(Some(options.checkpoint_every));
                    let summary = play_and_record(
                        &server, schedule, speed, store, client, pipeline, options, stop, status_tx,
                    )
                    .await?;
                    Ok(Recording {
                        summary,
                        sim_laps: sim.lap_reports().to_vec(),
                    })
                })
            }
            #[cfg(feature = "sim")]
            Source::Capture {
                path,
                game_port,
                speed,
            } => {
                let capture_error = |source| RecordError::Capture {
                    path: path.clone(),
                    source,
                };
                let datagrams = crate::capture::CaptureReader::open(&path)
                    .map_err(capture_error)?
                    .with_game_port(game_port)
                    .into_owned_vec()
                    .map_err(capture_error)?;
                let (hello, schedule) = crate::sim::capture_schedule(&datagrams);
                let hello = hello.ok_or(RecordError::NoHandshake { path })?;
                fits(&hello)?;
                let server = bind_game(hello).await?;
                let client = local_client(&server)?;
                let stop = Arc::clone(&stop);
                tokio::spawn(async move {
                    // Played to its end, the capture's last lap is complete at the line,
                    // as its import would be.
                    let pipeline =
                        Pipeline::new(Some(options.checkpoint_every)).completing_laps_at_the_line();
                    let summary = play_and_record(
                        &server, schedule, speed, store, client, pipeline, options, stop, status_tx,
                    )
                    .await?;
                    Ok(Recording {
                        summary,
                        sim_laps: Vec::new(),
                    })
                })
            }
        };
        Ok(Self { stop, status, task })
    }

    /// The recording's state now.
    pub fn status(&self) -> RecorderStatus {
        *self.status.borrow()
    }

    /// A receiver of every change of state, for progress displays.
    pub fn watch_status(&self) -> watch::Receiver<RecorderStatus> {
        self.status.clone()
    }

    /// True once the recording ended (on its own, on a stop, or on an error).
    pub fn is_finished(&self) -> bool {
        self.task.is_finished()
    }

    /// Stops the recording and waits until every lap, the one in progress included (as
    /// partial), is stored.
    pub async fn stop(self) -> Result<Recording, RecordError> {
        self.stop.send_replace(true);
        self.task.await?
    }

    /// Waits until the recording ends on its own (laps or duration reached, the built-in
    /// game or the capture done, or the game gone silent with `exit_on_silence`) or until
    /// `stop` resolves, in which case it is stopped as by [`Recorder::stop`].
    pub async fn run_until(
        mut self,
        stop: impl Future<Output = ()>,
    ) -> Result<Recording, RecordError> {
        tokio::select! {
            done = &mut self.task => done?,
            () = stop => self.stop().await,
        }
    }
}

/// A recorder's name for itself in the leases it takes: unique per recording.
fn recorder_name() -> String {
    let mut random = [0u8; 8];
    // Without randomness, the time keeps names apart well enough.
    if getrandom::fill(&mut random).is_err() {
        random = crate::net::now_ns().to_le_bytes();
    }
    format!(
        "recorder {:016x} (pid {})",
        u64::from_le_bytes(random),
        std::process::id()
    )
}

/// The built-in game's server on a free loopback port.
#[cfg(feature = "sim")]
async fn bind_game(
    hello: crate::protocol::OwnedHandshakeResponse,
) -> Result<crate::sim::GameServer, RecordError> {
    let addr = SocketAddr::from(([127, 0, 0, 1], 0));
    crate::sim::GameServer::bind(addr, hello)
        .await
        .map_err(|source| RecordError::Game { addr, source })
}

/// A client for a game on this machine: it answers at once, so handshake often.
#[cfg(feature = "sim")]
fn local_client(server: &crate::sim::GameServer) -> Result<AcClient, RecordError> {
    let addr = SocketAddr::from(([127, 0, 0, 1], 0));
    let game = server
        .local_addr()
        .map_err(|source| RecordError::Game { addr, source })?;
    Ok(AcClient::bind(ClientConfig {
        handshake_interval: Duration::from_millis(200),
        ..ClientConfig::new(game)
    })?)
}

/// Plays `schedule` as the game once the client subscribed, and records it; when the game
/// has nothing more to send, the recording stops.
#[cfg(feature = "sim")]
#[allow(clippy::too_many_arguments)]
async fn play_and_record(
    server: &crate::sim::GameServer,
    schedule: impl IntoIterator<Item = crate::sim::Timed>,
    speed: f64,
    store: Arc<dyn Store>,
    client: AcClient,
    pipeline: Pipeline,
    options: RecordOptions,
    stop: Arc<watch::Sender<bool>>,
    status: watch::Sender<RecorderStatus>,
) -> Result<RecordSummary, RecordError> {
    /// Time for the last datagrams to reach the pipeline once the game is done.
    const DRAIN: Duration = Duration::from_millis(200);
    let (stop_game, mut game_stop) = watch::channel(false);
    // The game waits for the recorder: a fast run on a busy machine loses nothing.
    let pace = Arc::new(crate::sim::Backpressure::default());
    let game = async {
        let mut wait = stop.subscribe();
        let played = if server.wait_for_subscriber(&mut wait).await {
            crate::sim::play_paced(server, schedule, speed, &mut game_stop, Some(&pace))
                .await
                .map(drop)
        } else {
            Ok(())
        };
        if !*game_stop.borrow() {
            tokio::time::sleep(DRAIN).await;
            stop.send_replace(true);
        }
        played
    };
    let recording = async {
        let summary = record(
            store,
            client,
            pipeline,
            options,
            None,
            stop.subscribe(),
            status,
            Some(Arc::clone(&pace)),
        )
        .await;
        stop_game.send_replace(true);
        summary
    };
    let (played, summary) = tokio::join!(game, recording);
    let addr = server
        .local_addr()
        .unwrap_or(SocketAddr::from(([127, 0, 0, 1], 0)));
    played.map_err(|source| RecordError::Game { addr, source })?;
    summary
}

/// Records from a bound client until `stop` turns true, the options' limits are reached, or
/// — with `exit_on_silence` — the game goes silent. The lap in progress is then closed by
/// `pipeline`'s rules (partial, or complete at the line for a capture played to its end).
/// With `pace`, each datagram consumed is counted for the built-in game that sends them.
#[allow(clippy::too_many_arguments)]
async fn record(
    store: Arc<dyn Store>,
    client: AcClient,
    mut pipeline: Pipeline,
    options: RecordOptions,
    lease: Option<GameLease>,
    mut stop: watch::Receiver<bool>,
    status: watch::Sender<RecorderStatus>,
    #[cfg(feature = "sim")] pace: Option<Arc<crate::sim::Backpressure>>,
) -> Result<RecordSummary, RecordError> {
    let client_counters = client.counters();
    let (events_tx, mut events) = mpsc::channel::<ClientEvent>(16_384);
    let (stop_client, client_shutdown) = watch::channel(false);
    let client_task = tokio::spawn(client.run(events_tx, client_shutdown));

    let hub = options.hub.clone();
    let delta = Arc::new(LiveDelta::default());
    let (session_tx, mut session) = watch::channel(None);
    let sinks = LiveSinks {
        hub: hub.clone(),
        delta: Arc::clone(&delta),
        session: session_tx,
    };
    let (ops_tx, mut ops_rx) = mpsc::channel::<StoreOp>(256);
    let template = NewSession {
        owner: options.owner.clone(),
        ..NewSession::new(
            options.session_name.clone().unwrap_or_default(),
            options.source,
        )
    };
    let existing = options.session;
    let writer_task = tokio::spawn(async move {
        let mut writer = Writer::live(store, template, sinks);
        if let Some(session) = existing {
            writer = writer.into_session(session);
        }
        if let Some(lease) = lease {
            writer = writer.with_lease(lease);
        }
        while let Some(op) = ops_rx.recv().await {
            writer.apply(op).await?;
        }
        writer.finish().await
    });

    let mut ops = Vec::new();
    let deadline = options.duration.map(|d| Instant::now() + d);
    let mut last_status = Instant::now();
    let publish_status = |pipeline: &Pipeline, state: RecorderState, id: Option<SessionId>| {
        status.send_modify(|s| {
            s.state = state;
            s.session = id;
            s.lap = pipeline.status();
            s.client = client_counters.get();
        });
    };
    loop {
        let event = tokio::select! {
            _ = stop.wait_for(|stop| *stop) => break,
            () = sleep_until(deadline) => break,
            event = events.recv() => event,
        };
        let Some(event) = event else { break };
        let (input, connected, datagram) = match event {
            ClientEvent::Connected(hello) => (Input::Hello(hello), true, false),
            ClientEvent::Datagram { time_ns, bytes } => {
                (Input::Datagram { time_ns, bytes }, false, true)
            }
            ClientEvent::Silence => (Input::Silence, false, false),
        };
        let frames_before = pipeline.counters().frames;
        pipeline.feed(input, &mut ops);
        if let (Some(hub), Some(frame)) = (&hub, pipeline.last_frame()) {
            if pipeline.counters().frames > frames_before {
                hub.publish(LiveEvent::Frame(Arc::new(LiveFrame {
                    session: *session.borrow(),
                    frame: *frame,
                    delta_s: delta.delta_s(frame),
                })));
            }
        }
        send_ops(&ops_tx, &mut ops).await;
        #[cfg(feature = "sim")]
        if let (true, Some(pace)) = (datagram, &pace) {
            pace.consumed();
        }
        #[cfg(not(feature = "sim"))]
        let _ = datagram;
        if connected {
            // The writer makes the session on the handshake: wait for it, so that every
            // frame names its session (an error ends the writer, and is reported below).
            let _ = session.wait_for(Option::is_some).await;
            if writer_task.is_finished() {
                // It failed (a store error, or the game session is another recorder's).
                break;
            }
            publish_status(&pipeline, RecorderState::Recording, *session.borrow());
        }
        if last_status.elapsed() >= Duration::from_millis(100) {
            last_status = Instant::now();
            let state = status.borrow().state;
            publish_status(&pipeline, state, *session.borrow());
        }
        if options
            .laps
            .is_some_and(|n| pipeline.counters().completed_laps >= n)
        {
            break;
        }
    }

    // Stop the client (it sends DISMISS), then flush the lap in progress.
    let _ = stop_client.send(true);
    let client_result = client_task.await?;
    pipeline.finish(PartialCause::Stopped, &mut ops);
    send_ops(&ops_tx, &mut ops).await;
    drop(ops_tx);
    let (session, laps) = writer_task.await??;
    publish_status(
        &pipeline,
        RecorderState::Finished,
        session.as_ref().map(|s| s.id),
    );
    let client_counters = client_result?;
    Ok(RecordSummary {
        session,
        laps,
        pipeline: pipeline.counters(),
        client: client_counters,
    })
}

/// Hands ops to the writer: laps and malformed datagrams wait for room; a checkpoint is
/// dropped when the writer is busy (the next one will carry more).
async fn send_ops(tx: &mpsc::Sender<StoreOp>, ops: &mut Vec<StoreOp>) {
    for op in ops.drain(..) {
        match op {
            StoreOp::Checkpoint(_) => {
                let _ = tx.try_send(op);
            }
            op => {
                // The writer only stops on a store error, reported when it is joined.
                let _ = tx.send(op).await;
            }
        }
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => tokio::time::sleep_until(deadline).await,
        None => std::future::pending().await,
    }
}
