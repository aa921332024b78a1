//! The store side of a recording: applies [`StoreOp`]s for one session, and tells the live
//! hub and the live delta what it stored.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::lap::Lap;
use crate::live::{Hub, LiveDelta, LiveEvent, SessionState};
use crate::protocol::OwnedHandshakeResponse;
use crate::store::codec::{CodecError, EncodedFrames};
use crate::store::{
    LapRecord, LeaseOutcome, NewSession, Session, SessionId, SessionStatus, SessionUpdate, Store,
    StoreError, best_lap,
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

/// How long a recorder's claim on a game session lasts unless renewed: a recorder that dies
/// frees its game session this long after its last renewal.
pub const GAME_LEASE_TTL: Duration = Duration::from_secs(15);

/// The claim a recording from a game makes on its game session, so that two recorders
/// (two `serve` instances, or `record` on two PCs) never record the same one.
#[derive(Debug, Clone)]
pub(super) struct GameLease {
    /// The game's address, as the recorder reaches it.
    pub game: std::net::SocketAddr,
    /// This recorder's name for itself, unique per recording.
    pub holder: String,
    /// How long a claim lasts unless renewed.
    pub ttl: Duration,
}

/// A claim held: renewed in the background until the writer finishes.
#[derive(Debug)]
struct HeldLease {
    key: String,
    holder: String,
    renewer: JoinHandle<()>,
    /// Turns true when a renewal found the claim taken by another recorder.
    lost: watch::Receiver<bool>,
}

impl Drop for HeldLease {
    fn drop(&mut self) {
        // A writer that failed stops renewing: the claim lapses on its own.
        self.renewer.abort();
    }
}

/// What a game's handshake says of its session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Heard {
    pub(super) car: String,
    pub(super) driver: String,
    pub(super) track: String,
    /// Empty for a track without layouts.
    pub(super) track_config: String,
}

impl From<&OwnedHandshakeResponse> for Heard {
    fn from(hello: &OwnedHandshakeResponse) -> Self {
        let track = hello.track_name.to_string_lossy();
        let config = hello.track_config.to_string_lossy();
        Self {
            car: hello.car_name.to_string_lossy(),
            driver: hello.driver_name.to_string_lossy(),
            // A track without layouts sends its name as the configuration.
            track_config: if config == track {
                String::new()
            } else {
                config
            },
            track,
        }
    }
}

impl Heard {
    /// Whether laps of this game may go into `stored`: a session without a track yet takes
    /// any; one with a track, only the same track, layout and (when it has one) car.
    pub(super) fn fits(&self, stored: &Session) -> Result<(), StoreError> {
        if stored.track.is_empty() {
            return Ok(());
        }
        let checked = [
            ("track", &stored.track, &self.track),
            ("track config", &stored.track_config, &self.track_config),
            ("car", &stored.car, &self.car),
        ];
        for (field, stored_value, recorded) in checked {
            let unset = field == "car" && stored_value.is_empty();
            if !unset && stored_value != recorded {
                return Err(StoreError::SessionMismatch {
                    session: stored.id,
                    field,
                    stored: stored_value.clone(),
                    recorded: recorded.clone(),
                });
            }
        }
        Ok(())
    }
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
    lease: Option<GameLease>,
    held: Option<HeldLease>,
    /// The session of a lapsed claim taken over: the one to continue.
    resumed: Option<Session>,
    /// The existing session to record into, rather than a new one.
    existing: Option<SessionId>,
    /// Added to the stint of every lap: a session taken over (or recorded into again)
    /// continues in a stint of its own, so its lap numbers never clash with earlier ones.
    stint_offset: u32,
    /// Laps saved unsynced, the store synced at the end (see [`Writer::bulk`]).
    bulk: bool,
}

impl Writer {
    pub(super) fn new(store: Arc<dyn Store>, template: NewSession) -> Self {
        Self {
            store,
            template,
            session: None,
            laps: Vec::new(),
            live: None,
            lease: None,
            held: None,
            resumed: None,
            existing: None,
            stint_offset: 0,
            bulk: false,
        }
    }

    /// Records into the existing session `session` (see `RecordOptions::session`).
    pub(super) fn into_session(mut self, session: SessionId) -> Self {
        self.existing = Some(session);
        self
    }

    /// Saves laps without waiting for the disk, and syncs the store once at the end
    /// ([`Store::save_lap_unsynced`]): for an import, all or nothing anyway.
    pub(super) fn bulk(mut self) -> Self {
        self.bulk = true;
        self
    }

    /// Continues `session` in a stint of its own: its lap left in progress, if any, closed
    /// as partial, and its status active again.
    async fn continue_session(&mut self, session: SessionId) -> Result<Session, StoreError> {
        self.store.close_checkpoint(session).await?;
        let laps = self.store.list_laps(Some(session)).await?;
        self.stint_offset = laps.iter().map(|l| l.stint + 1).max().unwrap_or(0);
        let update = SessionUpdate {
            status: Some(SessionStatus::Active),
            ..SessionUpdate::default()
        };
        self.store.update_session(session, update).await
    }

    /// The existing session to record into, with what the game said filled in where it is
    /// empty; a game on another track, layout or car is refused.
    async fn adopt(&mut self, id: SessionId) -> Result<Session, StoreError> {
        let stored = self.store.get_session(id).await?;
        let t = &self.template;
        // What the game did not say (a source without a handshake) is not compared.
        if !t.track.is_empty() {
            Heard {
                car: t.car.clone(),
                driver: t.driver.clone(),
                track: t.track.clone(),
                track_config: t.track_config.clone(),
            }
            .fits(&stored)?;
        }
        let fill = |stored: &str, recorded: &str| {
            (stored.is_empty() && !recorded.is_empty()).then(|| recorded.to_owned())
        };
        let update = SessionUpdate {
            car: fill(&stored.car, &t.car),
            driver: fill(&stored.driver, &t.driver),
            track: fill(&stored.track, &t.track),
            track_config: fill(&stored.track_config, &t.track_config)
                .filter(|_| stored.track.is_empty()),
            ..SessionUpdate::default()
        };
        if update != SessionUpdate::default() {
            self.store.update_session(id, update).await?;
        }
        self.continue_session(id).await
    }

    /// Claims the game session before recording it (see [`GameLease`]).
    pub(super) fn with_lease(mut self, lease: GameLease) -> Self {
        self.lease = Some(lease);
        self
    }

    /// Claims the game session `hello` names. Held by another recorder: an error. Lapsed
    /// (its recorder died): taken over, and so is its session, whose lap left in progress
    /// is closed as partial.
    async fn claim(&mut self, key_of: String) -> Result<Option<Session>, StoreError> {
        let Some(lease) = &self.lease else {
            return Ok(None);
        };
        let ttl_ms = i64::try_from(lease.ttl.as_millis()).unwrap_or(i64::MAX);
        let key = format!("game {} {key_of}", lease.game);
        let taken_over = match self
            .store
            .acquire_lease(&key, &lease.holder, ttl_ms)
            .await?
        {
            LeaseOutcome::Held(held) => {
                return Err(StoreError::LeaseHeld {
                    key,
                    holder: held.holder,
                    expires_ms: held.expires_ms,
                });
            }
            LeaseOutcome::Acquired { taken_over } => taken_over,
        };
        let (lost_tx, lost) = watch::channel(false);
        let renewer = {
            let store = Arc::clone(&self.store);
            let (key, holder) = (key.clone(), lease.holder.clone());
            let every = lease.ttl / 3;
            tokio::spawn(async move {
                loop {
                    tokio::time::sleep(every).await;
                    match store.renew_lease(&key, &holder, ttl_ms, None).await {
                        Ok(true) => {}
                        Ok(false) => {
                            lost_tx.send_replace(true);
                            return;
                        }
                        // The database away for a moment: the claim still has time.
                        Err(e) => tracing::warn!("cannot renew the lease on {key}: {e}"),
                    }
                }
            })
        };
        self.held = Some(HeldLease {
            key,
            holder: lease.holder.clone(),
            renewer,
            lost,
        });
        let Some(session) = taken_over.and_then(|lapsed| lapsed.session) else {
            return Ok(None);
        };
        match self.store.get_session(session).await {
            // Told which session to record into: the lapsed one is only closed.
            Ok(_) if self.existing.is_some() => {
                self.store.close_checkpoint(session).await?;
                Ok(None)
            }
            Ok(_) => Ok(Some(self.continue_session(session).await?)),
            // Deleted meanwhile: a new session.
            Err(StoreError::SessionNotFound { .. }) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Tells the lease which session it covers, so a recorder taking it over continues it.
    async fn name_leased_session(&self, session: SessionId) -> Result<(), StoreError> {
        let (Some(held), Some(lease)) = (&self.held, &self.lease) else {
            return Ok(());
        };
        let ttl_ms = i64::try_from(lease.ttl.as_millis()).unwrap_or(i64::MAX);
        if self
            .store
            .renew_lease(&held.key, &held.holder, ttl_ms, Some(session))
            .await?
        {
            Ok(())
        } else {
            Err(StoreError::LeaseLost {
                key: held.key.clone(),
            })
        }
    }

    /// Gives the claim up (the recording ended).
    async fn release(&mut self) -> Result<(), StoreError> {
        if let Some(held) = self.held.take() {
            held.renewer.abort();
            if *held.lost.borrow() {
                // Another recorder continues this session: leave it to them.
                return Err(StoreError::LeaseLost {
                    key: held.key.clone(),
                });
            }
            self.store.release_lease(&held.key, &held.holder).await?;
        }
        Ok(())
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
        let session = match (self.resumed.take(), self.existing) {
            (Some(session), _) => session,
            (None, Some(id)) => self.adopt(id).await?,
            (None, None) => self.store.create_session(self.template.clone()).await?,
        };
        let id = session.id;
        self.name_leased_session(id).await?;
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

    /// Ends the recording when its claim on the game session was taken over.
    fn check_lease(&self) -> Result<(), StoreError> {
        if let Some(held) = &self.held {
            if *held.lost.borrow() {
                return Err(StoreError::LeaseLost {
                    key: held.key.clone(),
                });
            }
        }
        Ok(())
    }

    /// [`StoreOp::SaveLap`] of a lap whose telemetry was encoded on the way
    /// ([`crate::store::codec::encode`] of its frames; its error is the save's).
    pub(super) async fn apply_encoded(
        &mut self,
        lap: Lap,
        encoded: Result<EncodedFrames, CodecError>,
    ) -> Result<(), StoreError> {
        self.check_lease()?;
        let encoded = encoded.map_err(StoreError::Codec)?;
        self.save_lap(lap, Some(encoded)).await
    }

    pub(super) async fn apply(&mut self, op: StoreOp) -> Result<(), StoreError> {
        self.check_lease()?;
        match op {
            StoreOp::SessionInfo(hello) => {
                let Heard {
                    car,
                    driver,
                    track,
                    track_config,
                } = Heard::from(&*hello);
                if self.session.is_none() {
                    let key = format!("{driver}/{car}/{track}/{track_config}");
                    self.resumed = self.claim(key).await?;
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
            StoreOp::SaveLap(lap) => self.save_lap(lap, None).await?,
            StoreOp::Checkpoint(mut lap) => {
                lap.stint += self.stint_offset;
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

    /// Saves a completed lap (with its telemetry already encoded, when it was).
    async fn save_lap(
        &mut self,
        mut lap: Lap,
        encoded: Option<EncodedFrames>,
    ) -> Result<(), StoreError> {
        lap.stint += self.stint_offset;
        let id = self.session().await?;
        let record = match (self.bulk, encoded) {
            (true, Some(encoded)) => {
                self.store
                    .save_encoded_lap_unsynced(id, &lap, encoded)
                    .await?
            }
            (true, None) => self.store.save_lap_unsynced(id, &lap).await?,
            (false, _) => self.store.save_lap(id, &lap).await?,
        };
        if let Some(live) = &self.live {
            live.delta.offer(&record, &lap.frames);
            if let Some(hub) = &live.hub {
                hub.publish(LiveEvent::LapCompleted(Arc::new(record.clone())));
            }
        }
        self.laps.push(record);
        Ok(())
    }

    pub(super) async fn finish(mut self) -> Result<(Option<Session>, Vec<LapRecord>), StoreError> {
        self.release().await?;
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
        if self.bulk {
            self.store.sync().await?;
        }
        Ok((self.session, self.laps))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::SessionSource;

    fn session(track: &str, config: &str, car: &str) -> Session {
        NewSession {
            track: track.to_owned(),
            track_config: config.to_owned(),
            car: car.to_owned(),
            ..NewSession::new("s", SessionSource::Live)
        }
        .into_session(SessionId(7), 0)
    }

    fn heard(track: &str, config: &str, car: &str) -> Heard {
        Heard {
            car: car.to_owned(),
            driver: "Lena".to_owned(),
            track: track.to_owned(),
            track_config: config.to_owned(),
        }
    }

    #[test]
    fn a_session_takes_a_game_of_its_track_layout_and_car() {
        let game = heard("ks_nordschleife", "endurance", "bmw_m4");
        // Nothing stored yet, or the same: fits.
        assert!(game.fits(&session("", "", "")).is_ok());
        assert!(game.fits(&session("", "", "ferrari_488")).is_ok());
        assert!(
            game.fits(&session("ks_nordschleife", "endurance", ""))
                .is_ok()
        );
        assert!(
            game.fits(&session("ks_nordschleife", "endurance", "bmw_m4"))
                .is_ok()
        );
        for (stored, field) in [
            (session("monza", "", ""), "track"),
            (session("ks_nordschleife", "", "bmw_m4"), "track config"),
            (
                session("ks_nordschleife", "endurance", "ferrari_488"),
                "car",
            ),
        ] {
            match game.fits(&stored) {
                Err(StoreError::SessionMismatch {
                    session,
                    field: got,
                    ..
                }) => assert_eq!((session, got), (SessionId(7), field)),
                other => panic!("{field}: {other:?}"),
            }
        }
    }

    #[test]
    fn a_track_without_layouts_has_an_empty_config() {
        let hello = OwnedHandshakeResponse {
            track_name: crate::protocol::Name::new("imola").unwrap_or_default(),
            track_config: crate::protocol::Name::new("imola").unwrap_or_default(),
            ..OwnedHandshakeResponse::default()
        };
        let heard = Heard::from(&hello);
        assert_eq!(
            (heard.track.as_str(), heard.track_config.as_str()),
            ("imola", "")
        );
    }
}
