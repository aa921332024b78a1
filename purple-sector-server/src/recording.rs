//! The one recording the server runs, and the live delta against the session's best lap.

use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, PoisonError};

use purple_sector_core::record::{RecordOptions, record_simulator};
use purple_sector_core::sim::{SimConfig, Track};
use purple_sector_core::store::{LapRecord, SessionId, SessionSource, Store};
use purple_sector_core::telemetry::Frame;
use tokio::sync::watch;

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

struct Running {
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

/// Starts and stops the one recording the server runs at a time.
#[derive(Clone, Default)]
pub struct RecorderControl {
    running: Arc<tokio::sync::Mutex<Option<Running>>>,
    busy: Arc<std::sync::atomic::AtomicBool>,
}

impl std::fmt::Debug for RecorderControl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecorderControl")
            .field("running", &self.is_running())
            .finish()
    }
}

impl RecorderControl {
    /// True while a recording runs.
    pub fn is_running(&self) -> bool {
        self.busy.load(Ordering::Relaxed)
    }

    /// Starts recording the built-in game, unless a recording already runs.
    pub async fn start_demo(&self, state: &AppState) -> Result<(), String> {
        let mut running = self.running.lock().await;
        if let Some(r) = running.as_ref() {
            if !r.task.is_finished() {
                return Err("a recording is already running".to_owned());
            }
        }
        let track = Track::by_name(&state.demo.track).map_err(|e| e.to_string())?;
        let config = SimConfig {
            laps: state.demo.laps,
            mistakes: purple_sector_core::sim::demo_mistakes(&track, state.demo.laps),
            ..SimConfig::new(track.clone())
        };
        let options = RecordOptions {
            session_name: Some(format!("Demo — {}", state.demo.track)),
            source: SessionSource::Demo,
            hub: Some(state.hub.clone()),
            ..RecordOptions::default()
        };
        let (stop, shutdown) = watch::channel(false);
        let store = Arc::clone(&state.store);
        let speed = state.demo.speed;
        let busy = Arc::clone(&self.busy);
        busy.store(true, Ordering::Relaxed);
        let task = tokio::spawn(async move {
            if let Err(e) = record_simulator(store, config, speed, options, shutdown).await {
                tracing::warn!("demo recording failed: {e}");
            }
            busy.store(false, Ordering::Relaxed);
        });
        *running = Some(Running { stop, task });
        Ok(())
    }

    /// Stops the recording, if any, and waits until its lap in progress is saved.
    pub async fn stop(&self) {
        let taken = self.running.lock().await.take();
        if let Some(r) = taken {
            let _ = r.stop.send(true);
            let _ = r.task.await;
        }
    }
}

#[derive(Debug, Default)]
struct DeltaTable {
    session: Option<SessionId>,
    best_ms: Option<i32>,
    /// (position, lap clock ms) of the best lap, position increasing.
    points: Vec<(f32, i32)>,
}

/// The session's best lap as position → time, for the live delta.
#[derive(Debug, Default)]
pub struct LiveDelta {
    table: Mutex<DeltaTable>,
}

impl LiveDelta {
    fn lock(&self) -> std::sync::MutexGuard<'_, DeltaTable> {
        self.table.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A new session: no best lap yet.
    pub fn reset(&self, session: SessionId) {
        *self.lock() = DeltaTable {
            session: Some(session),
            ..DeltaTable::default()
        };
    }

    /// A lap was stored: if it is the session's new best valid lap, it becomes the reference.
    pub async fn lap_stored(&self, store: &Arc<dyn Store>, lap: &LapRecord) {
        let Some(time) = lap.official_time_ms else {
            return;
        };
        {
            let table = self.lock();
            let same_session = table.session.is_none_or(|s| s == lap.session);
            if !lap.valid || !same_session || table.best_ms.is_some_and(|best| best <= time) {
                return;
            }
        }
        let Ok(frames) = store.lap_principal_frames(lap.id).await else {
            return;
        };
        let mut points = Vec::with_capacity(frames.len());
        for f in &frames {
            let monotonic = points
                .last()
                .is_none_or(|&(p, _)| f.position_normalized > p);
            if monotonic && (0.0..=1.0).contains(&f.position_normalized) {
                points.push((f.position_normalized, f.lap_time_ms));
            }
        }
        let mut table = self.lock();
        if table.best_ms.is_none_or(|best| time < best) {
            table.session = Some(lap.session);
            table.best_ms = Some(time);
            table.points = points;
        }
    }

    /// Seconds behind (+) the best lap at this frame's position, once there is a best lap.
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
        let best_ms = f64::from(lo.1) + t * f64::from(hi.1 - lo.1);
        Some((f64::from(frame.lap_time_ms) - best_ms) / 1000.0)
    }
}
