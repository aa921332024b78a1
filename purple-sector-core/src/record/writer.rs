//! The store side of a recording: applies [`StoreOp`]s for one session, and tells the live
//! hub and the live delta what it stored.

use std::sync::Arc;

use tokio::sync::watch;

use crate::live::{Hub, LiveDelta, LiveEvent, SessionState};
use crate::store::{
    LapRecord, NewSession, Session, SessionId, SessionStatus, SessionUpdate, Store, StoreError,
    best_lap,
};

use super::StoreOp;

/// Who hears about what a [`Writer`] stored, while recording live.
#[derive(Debug)]
pub(super) struct LiveSinks {
    /// Where stored laps and the session's start and stop are broadcast.
    pub hub: Option<Hub>,
    /// The live delta's reference: offered every stored lap, and at the start the best lap
    /// of the same track, layout and car in the store.
    pub delta: Arc<LiveDelta>,
    /// The session, once made, for the frames the pipeline publishes.
    pub session: watch::Sender<Option<SessionId>>,
}

/// Applies store operations for one session, creating it on the first handshake (or, for
/// sources without one, on the first lap).
#[derive(Debug)]
pub(super) struct Writer {
    store: Arc<dyn Store>,
    template: NewSession,
    session: Option<Session>,
    laps: Vec<LapRecord>,
    live: Option<LiveSinks>,
}

impl Writer {
    pub(super) fn new(store: Arc<dyn Store>, template: NewSession) -> Self {
        Self {
            store,
            template,
            session: None,
            laps: Vec::new(),
            live: None,
        }
    }

    pub(super) fn live(store: Arc<dyn Store>, template: NewSession, live: LiveSinks) -> Self {
        Self {
            live: Some(live),
            ..Self::new(store, template)
        }
    }

    /// The session made so far, if any.
    pub(super) fn session_id(&self) -> Option<SessionId> {
        self.session.as_ref().map(|s| s.id)
    }

    async fn session(&mut self) -> Result<SessionId, StoreError> {
        if let Some(session) = &self.session {
            return Ok(session.id);
        }
        let session = self.store.create_session(self.template.clone()).await?;
        let id = session.id;
        if let Some(live) = &self.live {
            live.session.send_replace(Some(id));
            if !session.track.is_empty() {
                self.offer_best_of_track(&session).await?;
            }
            if let Some(hub) = &live.hub {
                hub.publish(LiveEvent::Session {
                    session: Arc::new(session.clone()),
                    state: SessionState::Started,
                });
            }
        }
        self.session = Some(session);
        Ok(id)
    }

    /// The best lap already stored for this session's track, layout and car becomes the
    /// live delta's first reference.
    async fn offer_best_of_track(&self, session: &Session) -> Result<(), StoreError> {
        let Some(live) = &self.live else {
            return Ok(());
        };
        let laps = crate::review::comparable_laps(&*self.store, session.id).await?;
        if let Some(best) = best_lap(&laps) {
            let frames = self.store.lap_principal_frames(best.id).await?;
            live.delta.offer(best, &frames);
        }
        Ok(())
    }

    pub(super) async fn apply(&mut self, op: StoreOp) -> Result<(), StoreError> {
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
                        let session = self.store.update_session(session.id, update).await?;
                        self.offer_best_of_track(&session).await?;
                        self.session = Some(session);
                    }
                }
            }
            StoreOp::SaveLap(lap) => {
                let id = self.session().await?;
                let record = self.store.save_lap(id, &lap).await?;
                if let Some(live) = &self.live {
                    live.delta.offer(&record, &lap.frames);
                    if let Some(hub) = &live.hub {
                        hub.publish(LiveEvent::LapCompleted(Arc::new(record.clone())));
                    }
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

    pub(super) async fn finish(mut self) -> Result<(Option<Session>, Vec<LapRecord>), StoreError> {
        if let Some(session) = &self.session {
            // Recorded (or imported) to its end.
            let update = SessionUpdate {
                status: Some(SessionStatus::Completed),
                ..SessionUpdate::default()
            };
            let session = self.store.update_session(session.id, update).await?;
            if let Some(hub) = self.live.as_ref().and_then(|l| l.hub.as_ref()) {
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
