//! The recording pipeline: a source of datagrams or frames in, laps in the store out.
//!
//! [`Pipeline`] is the synchronous heart — datagrams and frames in, [`StoreOp`]s out — shared
//! by the live [`record_live`] (game → UDP client → pipeline → store writer, three tasks) and
//! by imports ([`import_inputs`]), so a capture imported gives the same laps as the same
//! traffic recorded live.
//!
//! Live, the socket task never waits on the disk: the client hands datagrams to the pipeline
//! over a bounded channel with `try_send` (a full channel drops and counts), and the pipeline
//! hands completed laps to the writer over another; checkpoints of the lap in progress (about
//! once a second) are skipped, never queued, while the writer is busy.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use crate::lap::{Lap, LapEvent, LapKind, LapSegmenter, PartialCause, SegmenterConfig};
use crate::live::{Hub, LiveEvent, SessionState};
use crate::net::{AcClient, ClientConfig, ClientCounters, ClientEvent, NetError};
use crate::protocol::{Datagram, OwnedHandshakeResponse, parse_datagram};
use crate::store::{
    LapRecord, NewSession, Session, SessionId, SessionSource, SessionUpdate, Store, StoreError,
};
use crate::telemetry::Frame;

/// One thing a source produces.
#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    /// The game's handshake reply: car, driver, track.
    Hello(Box<OwnedHandshakeResponse>),
    /// A datagram from the game, with its receive time (ns since the Unix epoch).
    Datagram {
        /// Receive time.
        time_ns: u64,
        /// The bytes.
        bytes: Bytes,
    },
    /// A frame from a source that has no datagrams.
    Frame(Box<Frame>),
    /// A whole lap from a source that already knows its laps (logger files, the original's
    /// JSON): stored as it is.
    Lap(Lap),
    /// The game went silent: it left the session.
    Silence,
}

/// What the pipeline asks of the store, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum StoreOp {
    /// Car, driver and track of the session (from the handshake).
    SessionInfo(Box<OwnedHandshakeResponse>),
    /// A lap is done.
    SaveLap(Lap),
    /// The lap in progress so far.
    Checkpoint(Lap),
    /// A datagram that did not parse, kept raw.
    Malformed {
        /// Receive time.
        time_ns: u64,
        /// The bytes.
        bytes: Bytes,
    },
}

/// Counts kept by a [`Pipeline`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct PipelineCounters {
    /// Car-info frames taken.
    pub frames: u64,
    /// Laps done, partial ones included.
    pub laps: u64,
    /// Laps done that completed at the line (any kind but partial).
    pub completed_laps: u64,
    /// Datagrams that did not parse.
    pub malformed: u64,
    /// Laps marked invalid for a lap-clock gap.
    pub gaps: u64,
    /// Spot events or lap clocks that disagreed with an official time.
    pub mismatches: u64,
}

/// The lap being driven, for status displays.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
pub struct LiveStatus {
    /// Lap number being driven (0 before the first frame).
    pub lap: i32,
    /// Lap clock, ms.
    pub lap_time_ms: i32,
    /// Last lap, ms (the game's).
    pub last_lap_ms: i32,
    /// Best lap, ms (the game's).
    pub best_lap_ms: i32,
    /// Pipeline counts.
    pub pipeline: PipelineCounters,
    /// Client counts (live only).
    pub client: ClientCounters,
}

/// Datagrams and frames in, store operations out. Pure: no I/O, no clock (checkpoint times
/// come from the frames' receive times).
#[derive(Debug)]
pub struct Pipeline {
    segmenter: LapSegmenter,
    events: Vec<LapEvent>,
    checkpoint_every_ns: Option<u64>,
    last_checkpoint_ns: Option<u64>,
    counters: PipelineCounters,
    last_frame: Option<Frame>,
    /// Driver and car of the handshake, to pick the player's spot events.
    player: Option<(String, String)>,
}

impl Pipeline {
    /// A pipeline with the segmenter's default rules; `checkpoint_every` enables checkpoints
    /// of the lap in progress (live recording), `None` disables them (imports).
    pub fn new(checkpoint_every: Option<Duration>) -> Self {
        Self {
            segmenter: LapSegmenter::new(SegmenterConfig::default()),
            events: Vec::new(),
            checkpoint_every_ns: checkpoint_every
                .map(|d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)),
            last_checkpoint_ns: None,
            counters: PipelineCounters::default(),
            last_frame: None,
            player: None,
        }
    }

    /// The counts so far.
    pub fn counters(&self) -> PipelineCounters {
        self.counters
    }

    /// Lap, lap clock, last and best lap of the latest frame.
    pub fn status(&self) -> LiveStatus {
        let frame = self.last_frame.unwrap_or_default();
        LiveStatus {
            lap: self.segmenter.current_lap().map_or(0, |l| l.number),
            lap_time_ms: frame.lap_time_ms,
            last_lap_ms: frame.last_lap_ms,
            best_lap_ms: frame.best_lap_ms,
            pipeline: self.counters,
            client: ClientCounters::default(),
        }
    }

    /// Takes one input; appends what the store must do to `ops`.
    pub fn feed(&mut self, input: Input, ops: &mut Vec<StoreOp>) {
        match input {
            Input::Hello(hello) => {
                self.player = Some((
                    hello.driver_name.to_string_lossy(),
                    hello.car_name.to_string_lossy(),
                ));
                ops.push(StoreOp::SessionInfo(hello));
            }
            Input::Frame(frame) => self.frame(*frame, ops),
            Input::Lap(lap) => {
                self.counters.frames += lap.frames.len() as u64;
                self.counters.laps += 1;
                if lap.kind != LapKind::Partial {
                    self.counters.completed_laps += 1;
                }
                ops.push(StoreOp::SaveLap(lap));
            }
            Input::Silence => self.finish(PartialCause::Silence, ops),
            Input::Datagram { time_ns, bytes } => match parse_datagram(&bytes) {
                Ok(Datagram::CarInfo(car)) => self.frame(Frame::from_car_info(&car, time_ns), ops),
                Ok(Datagram::LapCompleted(event)) => {
                    // Spot events may cover every car: only the player's cross-check laps.
                    let is_player = self.player.as_ref().is_none_or(|(driver, car)| {
                        event.driver_name().to_string_lossy() == *driver
                            && event.car_name().to_string_lossy() == *car
                    });
                    if is_player {
                        self.segmenter.push_lap_completed(
                            event.lap(),
                            event.time_ms(),
                            &mut self.events,
                        );
                        self.drain(ops);
                    }
                }
                Ok(Datagram::HandshakeResponse(hello)) => {
                    ops.push(StoreOp::SessionInfo(Box::new(hello.to_owned())));
                }
                // Requests are the client's own words; a game does not send them.
                Ok(Datagram::Request(_)) => {}
                Err(_) => {
                    self.counters.malformed += 1;
                    ops.push(StoreOp::Malformed { time_ns, bytes });
                }
            },
        }
    }

    /// Closes the lap in progress as partial (recording stopped, or the game went silent).
    pub fn finish(&mut self, cause: PartialCause, ops: &mut Vec<StoreOp>) {
        self.segmenter.finish(cause, &mut self.events);
        self.drain(ops);
        self.last_checkpoint_ns = None;
    }

    fn frame(&mut self, frame: Frame, ops: &mut Vec<StoreOp>) {
        self.counters.frames += 1;
        let time_ns = frame.time_ns;
        self.last_frame = Some(frame);
        self.segmenter.push_frame(frame, &mut self.events);
        let completed = self.drain(ops);
        if let Some(every) = self.checkpoint_every_ns {
            let last = *self.last_checkpoint_ns.get_or_insert(time_ns);
            if completed {
                self.last_checkpoint_ns = Some(time_ns);
            } else if time_ns.saturating_sub(last) >= every {
                if let Some(lap) = self.segmenter.current_lap() {
                    ops.push(StoreOp::Checkpoint(Lap {
                        stint: lap.stint,
                        number: lap.number,
                        kind: LapKind::Partial,
                        invalid_reason: lap.invalid_reason,
                        official_time_ms: None,
                        frames: lap.frames.to_vec(),
                    }));
                }
                self.last_checkpoint_ns = Some(time_ns);
            }
        }
    }

    /// Moves the segmenter's events to `ops`; true when a lap was done.
    fn drain(&mut self, ops: &mut Vec<StoreOp>) -> bool {
        let mut done = false;
        for event in self.events.drain(..) {
            match event {
                LapEvent::Lap(lap) => {
                    self.counters.laps += 1;
                    if lap.kind != LapKind::Partial {
                        self.counters.completed_laps += 1;
                    }
                    if matches!(
                        lap.invalid_reason,
                        Some(crate::lap::InvalidReason::ClockGap { .. })
                    ) {
                        self.counters.gaps += 1;
                    }
                    done = true;
                    ops.push(StoreOp::SaveLap(lap));
                }
                LapEvent::StintStarted { .. } => {}
                _ => self.counters.mismatches += 1,
            }
        }
        done
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
    /// A task of the pipeline panicked or was cancelled.
    #[error("recorder task failed: {0}")]
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

/// When a live recording stops (besides the shutdown signal), and who watches it.
#[derive(Debug, Clone)]
pub struct RecordOptions {
    /// The session's name; `None` names it after the track and the time.
    pub session_name: Option<String>,
    /// What kind of session it is.
    pub source: SessionSource,
    /// Stop after this many completed laps (of any kind but partial).
    pub laps: Option<u64>,
    /// Stop after this long.
    pub duration: Option<Duration>,
    /// How often the lap in progress is checkpointed.
    pub checkpoint_every: Duration,
    /// Where frames, stored laps and the session's start and stop are broadcast.
    pub hub: Option<Hub>,
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
        }
    }
}

/// Applies store operations for one session, creating it on the first handshake (or, for
/// sources without one, on the first lap).
#[derive(Debug)]
struct Writer {
    store: Arc<dyn Store>,
    template: NewSession,
    session: Option<Session>,
    laps: Vec<LapRecord>,
    hub: Option<Hub>,
}

impl Writer {
    fn new(store: Arc<dyn Store>, template: NewSession) -> Self {
        Self {
            store,
            template,
            session: None,
            laps: Vec::new(),
            hub: None,
        }
    }

    async fn session(&mut self) -> Result<SessionId, StoreError> {
        if let Some(session) = &self.session {
            return Ok(session.id);
        }
        let session = self.store.create_session(self.template.clone()).await?;
        let id = session.id;
        if let Some(hub) = &self.hub {
            hub.publish(LiveEvent::Session {
                session: Arc::new(session.clone()),
                state: SessionState::Started,
            });
        }
        self.session = Some(session);
        Ok(id)
    }

    async fn apply(&mut self, op: StoreOp) -> Result<(), StoreError> {
        match op {
            StoreOp::SessionInfo(hello) => {
                let car = hello.car_name.to_string_lossy();
                let driver = hello.driver_name.to_string_lossy();
                let track = hello.track_name.to_string_lossy();
                let config = hello.track_config.to_string_lossy();
                // A track without layouts sends its name as the configuration.
                let track_config = if config == track {
                    String::new()
                } else {
                    config
                };
                if self.session.is_none() {
                    self.template.car = car;
                    self.template.driver = driver;
                    if self.template.name.is_empty() {
                        self.template.name = track.clone();
                    }
                    self.template.track = track;
                    self.template.track_config = track_config;
                    self.session().await?;
                } else if let Some(session) = &self.session {
                    if session.track.is_empty() {
                        let update = SessionUpdate {
                            car: Some(car),
                            driver: Some(driver),
                            track: Some(track),
                            track_config: Some(track_config),
                            ..SessionUpdate::default()
                        };
                        self.session = Some(self.store.update_session(session.id, update).await?);
                    }
                }
            }
            StoreOp::SaveLap(lap) => {
                let id = self.session().await?;
                let record = self.store.save_lap(id, &lap).await?;
                if let Some(hub) = &self.hub {
                    hub.publish(LiveEvent::LapCompleted(Arc::new(record.clone())));
                }
                self.laps.push(record);
            }
            StoreOp::Checkpoint(lap) => {
                let id = self.session().await?;
                self.store.checkpoint_lap(id, &lap).await?;
            }
            StoreOp::Malformed { time_ns, bytes } => {
                let id = self.session().await?;
                self.store.save_malformed(id, time_ns, &bytes).await?;
            }
        }
        Ok(())
    }

    async fn finish(mut self) -> Result<(Option<Session>, Vec<LapRecord>), StoreError> {
        if let Some(session) = &self.session {
            let id = session.id;
            // The session's latest state (the handshake may have updated it).
            let session = self.store.get_session(id).await?;
            if let Some(hub) = &self.hub {
                hub.publish(LiveEvent::Session {
                    session: Arc::new(session.clone()),
                    state: SessionState::Stopped,
                });
            }
            self.session = Some(session);
        }
        Ok((self.session, self.laps))
    }
}

/// Imports a finished source into a new session: everything or nothing (on an error the
/// session made so far is deleted).
///
/// Two stages run side by side: this task reads the source, parses and cuts laps, while a
/// writer task encodes and commits the laps already cut.
pub async fn import_inputs<E>(
    store: Arc<dyn Store>,
    session: NewSession,
    inputs: impl IntoIterator<Item = Result<Input, E>>,
) -> Result<Result<RecordSummary, E>, StoreError> {
    let (ops_tx, mut ops_rx) = mpsc::channel::<StoreOp>(16);
    let writer_store = Arc::clone(&store);
    let writer_task = tokio::spawn(async move {
        let mut writer = Writer::new(writer_store, session);
        let mut failure = None;
        while let Some(op) = ops_rx.recv().await {
            if failure.is_none() {
                if let Err(e) = writer.apply(op).await {
                    // Keep draining so the reader never blocks on a dead writer.
                    failure = Some(e);
                }
            }
        }
        (writer, failure)
    });

    let mut pipeline = Pipeline::new(None);
    let mut ops = Vec::new();
    let mut source_error = None;
    for input in inputs {
        match input {
            Ok(input) => pipeline.feed(input, &mut ops),
            Err(e) => {
                source_error = Some(e);
                break;
            }
        }
        for op in ops.drain(..) {
            if ops_tx.send(op).await.is_err() {
                break;
            }
        }
    }
    if source_error.is_none() {
        pipeline.finish(PartialCause::Stopped, &mut ops);
        for op in ops.drain(..) {
            let _ = ops_tx.send(op).await;
        }
    }
    drop(ops_tx);
    let (writer, store_error) = writer_task
        .await
        .map_err(|source| StoreError::Task { source })?;
    let created = writer.session.as_ref().map(|s| s.id);
    match (store_error, source_error) {
        (None, None) => {
            let (session, laps) = writer.finish().await?;
            Ok(Ok(RecordSummary {
                session,
                laps,
                pipeline: pipeline.counters(),
                client: ClientCounters::default(),
            }))
        }
        (Some(store_error), _) => {
            if let Some(id) = created {
                // Best effort: the store just failed; its error matters more.
                let _ = store.delete_session(id).await;
            }
            Err(store_error)
        }
        (None, Some(source_error)) => {
            if let Some(id) = created {
                store.delete_session(id).await?;
            }
            Ok(Err(source_error))
        }
    }
}

/// Records from a game until `shutdown` turns true, the options' limits are reached, or —
/// with `exit_on_silence` — the game goes silent. On the way out: DISMISS, the lap in
/// progress saved as partial, every write finished.
pub async fn record_live(
    store: Arc<dyn Store>,
    client: ClientConfig,
    options: RecordOptions,
    mut shutdown: watch::Receiver<bool>,
    status: Option<watch::Sender<LiveStatus>>,
) -> Result<RecordSummary, RecordError> {
    let client = AcClient::bind(client)?;
    let client_counters = client.counters();
    let (events_tx, mut events) = mpsc::channel::<ClientEvent>(16_384);
    let (stop_client, client_shutdown) = watch::channel(false);
    let client_task = tokio::spawn(client.run(events_tx, client_shutdown));

    let (ops_tx, mut ops_rx) = mpsc::channel::<StoreOp>(256);
    let template = NewSession::new(
        options.session_name.clone().unwrap_or_default(),
        options.source,
    );
    let hub = options.hub.clone();
    let writer_hub = hub.clone();
    let writer_task = tokio::spawn(async move {
        let mut writer = Writer::new(store, template);
        writer.hub = writer_hub;
        while let Some(op) = ops_rx.recv().await {
            writer.apply(op).await?;
        }
        writer.finish().await
    });

    let mut pipeline = Pipeline::new(Some(options.checkpoint_every));
    let mut ops = Vec::new();
    let deadline = options.duration.map(|d| Instant::now() + d);
    let mut last_status = Instant::now();
    let outcome: Result<(), RecordError> = async {
        loop {
            let event = tokio::select! {
                _ = shutdown.wait_for(|stop| *stop) => break,
                _ = sleep_until(deadline) => break,
                event = events.recv() => event,
            };
            let Some(event) = event else { break };
            let input = match event {
                ClientEvent::Connected(hello) => Input::Hello(hello),
                ClientEvent::Datagram { time_ns, bytes } => Input::Datagram { time_ns, bytes },
                ClientEvent::Silence => Input::Silence,
            };
            let frames_before = pipeline.counters().frames;
            pipeline.feed(input, &mut ops);
            if let (Some(hub), Some(frame)) = (&hub, pipeline.last_frame) {
                if pipeline.counters().frames > frames_before {
                    hub.publish(LiveEvent::Frame(Arc::new(frame)));
                }
            }
            send_ops(&ops_tx, &mut ops).await;
            if let Some(status) = &status {
                if last_status.elapsed() >= Duration::from_millis(100) {
                    last_status = Instant::now();
                    let mut now = pipeline.status();
                    now.client = client_counters.get();
                    status.send_replace(now);
                }
            }
            if options
                .laps
                .is_some_and(|n| pipeline.counters().completed_laps >= n)
            {
                break;
            }
        }
        Ok(())
    }
    .await;

    // Stop the client (it sends DISMISS), then flush the lap in progress.
    let _ = stop_client.send(true);
    let client_result = client_task.await?;
    pipeline.finish(PartialCause::Stopped, &mut ops);
    send_ops(&ops_tx, &mut ops).await;
    drop(ops_tx);
    let (session, laps) = writer_task.await??;
    outcome?;
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

/// What [`record_simulator`] produced: the recording, and the simulator's own account of its
/// laps (times, and what each injected mistake cost).
#[derive(Debug, Clone)]
pub struct SimulatedRecording {
    /// The recording, as [`record_live`] returns it.
    pub summary: RecordSummary,
    /// The simulator's lap reports.
    pub sim_laps: Vec<crate::sim::LapReport>,
}

/// Records the built-in game: the simulator served on a free loopback port at `speed`× real
/// time, recorded through the real UDP client, exactly as a game would be. Stops when the
/// simulated session has completed all its laps (out lap included), or on `shutdown`.
pub async fn record_simulator(
    store: Arc<dyn Store>,
    config: crate::sim::SimConfig,
    speed: f64,
    mut options: RecordOptions,
    shutdown: watch::Receiver<bool>,
) -> Result<SimulatedRecording, RecordError> {
    use crate::sim::{GameServer, Simulator, play, simulator_schedule};

    let flying = config.laps;
    let mut sim = Simulator::new(config);
    // A free loopback port for the built-in game.
    let any_port = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
    let bind_error = |source| {
        RecordError::Net(NetError::Bind {
            game: any_port,
            source,
        })
    };
    let server = GameServer::bind(any_port, sim.handshake_response())
        .await
        .map_err(bind_error)?;
    let game = server.local_addr().map_err(bind_error)?;
    // The out lap and every flying lap.
    options.laps = Some(u64::from(flying) + 1);
    let client = ClientConfig {
        handshake_interval: Duration::from_millis(200),
        ..ClientConfig::new(game)
    };
    let (stop_game, mut game_shutdown) = watch::channel(false);
    let mut wait_shutdown = shutdown.clone();
    let game_run = async {
        // Like the game: stream once the recorder subscribed.
        while server.update_subscribers().is_empty() {
            tokio::select! {
                _ = wait_shutdown.wait_for(|s| *s) => return Ok(()),
                _ = tokio::time::sleep(Duration::from_millis(10)) => {}
            }
        }
        play(
            &server,
            simulator_schedule(&mut sim),
            speed,
            &mut game_shutdown,
        )
        .await
        .map(drop)
    };
    let record = async {
        let summary = record_live(store, client, options, shutdown, None).await;
        let _ = stop_game.send(true);
        summary
    };
    let (played, summary) = tokio::join!(game_run, record);
    played.map_err(|source| RecordError::Net(NetError::Io { game, source }))?;
    Ok(SimulatedRecording {
        summary: summary?,
        sim_laps: sim.lap_reports().to_vec(),
    })
}
