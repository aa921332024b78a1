//! The one recording the server runs at a time, over the library's [`Recorder`].

use std::sync::Arc;

use purple_sector_core::record::{
    RecordError, RecordOptions, Recorder, RecorderStatus, Recording, Source,
};
use purple_sector_core::review::{ReviewError, simulator_map};
use purple_sector_core::sim::{Car, SimConfig, Track, TrackError, demo_mistakes};
use purple_sector_core::store::{SessionId, SessionSource, Store};
use tokio::sync::Mutex;

use crate::AppState;

/// The built-in game session `start_demo` records.
#[derive(Debug, Clone)]
pub struct DemoSettings {
    /// Track name (`imola`, `test`).
    pub track: String,
    /// Flying laps.
    pub laps: u32,
    /// Time scale.
    pub speed: f64,
}

impl Default for DemoSettings {
    fn default() -> Self {
        Self {
            track: "imola".to_owned(),
            laps: 3,
            speed: 1.0,
        }
    }
}

impl DemoSettings {
    /// The built-in game's source for these settings, with the demo's mistakes at the
    /// corners of the coach's map of the track in `store` ([`simulator_map`]).
    pub async fn source(&self, store: &dyn Store) -> Result<Source, StartError> {
        let track = Track::by_name(&self.track).map_err(StartError::Track)?;
        let map = simulator_map(store, &track, &Car::default())
            .await
            .map_err(StartError::Map)?;
        let config = SimConfig {
            laps: self.laps,
            mistakes: demo_mistakes(&track, &map, self.laps),
            map: Some(map),
            ..SimConfig::new(track)
        };
        Ok(Source::Simulator {
            config,
            speed: self.speed,
        })
    }
}

/// Why a recording did not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StartError {
    /// This server records one session at a time.
    #[error("a recording is already running")]
    Busy,
    /// The demo's track is not one the built-in game has.
    #[error("the demo cannot start")]
    Track(#[source] TrackError),
    /// The demo's track has no map to name its corners by.
    #[error("the demo cannot start")]
    Map(#[source] ReviewError),
    /// The recorder could not start.
    #[error("the recording cannot start")]
    Record(#[source] RecordError),
}

/// The one recording this server runs at a time (the library's [`Recorder`] would run any
/// number: how many is the server's decision). Cheap to clone; clones share the slot.
#[derive(Debug, Clone, Default)]
pub struct RecorderSlot {
    current: Arc<Mutex<Option<Running>>>,
}

#[derive(Debug)]
struct Running {
    recorder: Recorder,
    /// Started by `start_demo` (only a demo may be stopped by `stop_demo`).
    demo: bool,
}

impl RecorderSlot {
    /// Starts recording `source` with the server's hub, unless a recording runs.
    pub async fn start(
        &self,
        state: &AppState,
        source: Source,
        options: RecordOptions,
    ) -> Result<(), StartError> {
        self.start_as(state, source, options, false).await
    }

    async fn start_as(
        &self,
        state: &AppState,
        source: Source,
        options: RecordOptions,
        demo: bool,
    ) -> Result<(), StartError> {
        let mut current = self.current.lock().await;
        if current.as_ref().is_some_and(|r| !r.recorder.is_finished()) {
            return Err(StartError::Busy);
        }
        if let Some(done) = current.take() {
            if let Err(e) = done.recorder.stop().await {
                tracing::warn!("the previous recording failed: {e}");
            }
        }
        let options = RecordOptions {
            hub: Some(state.hub.clone()),
            ..options
        };
        let recorder = Recorder::start(std::sync::Arc::clone(&state.store), source, options)
            .await
            .map_err(StartError::Record)?;
        *current = Some(Running { recorder, demo });
        Ok(())
    }

    /// Starts the built-in game of `state.demo` for `owner`, unless a recording runs: into
    /// the existing `session` if given (see [`RecordOptions::session`]), else into a new
    /// numbered demo session.
    pub async fn start_demo(
        &self,
        state: &AppState,
        owner: Option<String>,
        session: Option<SessionId>,
    ) -> Result<(), StartError> {
        let source = state.demo.source(&*state.store).await?;
        if session.is_some() {
            let options = RecordOptions {
                session,
                owner,
                ..RecordOptions::default()
            };
            return self.start_as(state, source, options, true).await;
        }
        // Numbered, so that demo sessions can be told apart in a list.
        let earlier = match state.store.list_sessions().await {
            Ok(sessions) => sessions
                .iter()
                .filter(|s| s.source == SessionSource::Demo)
                .count(),
            Err(_) => 0,
        };
        let options = RecordOptions {
            session_name: Some(format!("Demo — {} #{}", state.demo.track, earlier + 1)),
            source: SessionSource::Demo,
            owner,
            ..RecordOptions::default()
        };
        self.start_as(state, source, options, true).await
    }

    /// True while a recording runs.
    pub async fn is_running(&self) -> bool {
        self.current
            .lock()
            .await
            .as_ref()
            .is_some_and(|r| !r.recorder.is_finished())
    }

    /// The running (or last) recording's state.
    pub async fn status(&self) -> Option<RecorderStatus> {
        self.current
            .lock()
            .await
            .as_ref()
            .map(|r| r.recorder.status())
    }

    /// Stops the recording, if any, and waits until its lap in progress is saved.
    pub async fn stop(&self) -> Option<Result<Recording, RecordError>> {
        let taken = self.current.lock().await.take();
        match taken {
            Some(running) => Some(running.recorder.stop().await),
            None => None,
        }
    }

    /// Stops the recording if it is a demo (`start_demo`'s); a recording from a game is left
    /// alone. True when a demo was stopped.
    pub async fn stop_demo(&self) -> bool {
        let mut current = self.current.lock().await;
        if !current.as_ref().is_some_and(|r| r.demo) {
            return false;
        }
        let Some(running) = current.take() else {
            return false;
        };
        drop(current);
        if let Err(e) = running.recorder.stop().await {
            tracing::warn!("the demo recording failed: {e}");
        }
        true
    }
}
