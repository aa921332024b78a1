//! A [`Store`] that times every operation of another one, for `/metrics`.

use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use purple_sector_core::lap::Lap;
use purple_sector_core::store::codec::EncodedFrames;
use purple_sector_core::store::{
    Channel, ChatMessage, ChatRole, Columns, LapId, LapOrigin, LapRecord, LapUpdate, LeaseOutcome,
    MalformedDatagram, NewSession, NewUser, PoolStats, Put, Result, Session, SessionId,
    SessionUpdate, Store, TokenHash, User,
};
use purple_sector_core::telemetry::Frame;
use purple_sector_core::track::TrackMap;

use crate::metrics::Metrics;

/// Wraps a store; each call is timed into [`Metrics`] under its operation's name.
#[derive(Debug)]
pub struct TimedStore {
    inner: Arc<dyn Store>,
    metrics: Arc<Metrics>,
}

impl TimedStore {
    /// Times `inner`'s operations into `metrics`.
    pub fn new(inner: Arc<dyn Store>, metrics: Arc<Metrics>) -> Self {
        Self { inner, metrics }
    }
}

macro_rules! timed {
    ($self:ident, $op:literal, $call:expr) => {{
        let started = Instant::now();
        let result = $call.await;
        $self.metrics.record_store($op, started.elapsed());
        result
    }};
}

#[async_trait]
impl Store for TimedStore {
    async fn create_session(&self, new: NewSession) -> Result<Session> {
        timed!(self, "create_session", self.inner.create_session(new))
    }
    async fn get_session(&self, id: SessionId) -> Result<Session> {
        timed!(self, "get_session", self.inner.get_session(id))
    }
    async fn list_sessions(&self) -> Result<Vec<Session>> {
        timed!(self, "list_sessions", self.inner.list_sessions())
    }
    async fn update_session(&self, id: SessionId, update: SessionUpdate) -> Result<Session> {
        timed!(
            self,
            "update_session",
            self.inner.update_session(id, update)
        )
    }
    async fn delete_session(&self, id: SessionId) -> Result<()> {
        timed!(self, "delete_session", self.inner.delete_session(id))
    }
    async fn save_lap(&self, session: SessionId, lap: &Lap) -> Result<LapRecord> {
        timed!(self, "save_lap", self.inner.save_lap(session, lap))
    }
    async fn checkpoint_lap(&self, session: SessionId, lap: &Lap) -> Result<LapRecord> {
        timed!(
            self,
            "checkpoint_lap",
            self.inner.checkpoint_lap(session, lap)
        )
    }
    async fn close_checkpoint(&self, session: SessionId) -> Result<Option<LapRecord>> {
        timed!(
            self,
            "close_checkpoint",
            self.inner.close_checkpoint(session)
        )
    }
    async fn add_lap(
        &self,
        session: SessionId,
        lap: &Lap,
        origin: LapOrigin,
        owner: Option<&str>,
    ) -> Result<LapRecord> {
        timed!(
            self,
            "add_lap",
            self.inner.add_lap(session, lap, origin, owner)
        )
    }
    async fn get_lap(&self, id: LapId) -> Result<LapRecord> {
        timed!(self, "get_lap", self.inner.get_lap(id))
    }
    async fn list_laps(&self, session: Option<SessionId>) -> Result<Vec<LapRecord>> {
        timed!(self, "list_laps", self.inner.list_laps(session))
    }
    async fn lap_frames(&self, id: LapId) -> Result<Vec<Frame>> {
        timed!(self, "lap_frames", self.inner.lap_frames(id))
    }
    async fn lap_principal_frames(&self, id: LapId) -> Result<Vec<Frame>> {
        timed!(
            self,
            "lap_principal_frames",
            self.inner.lap_principal_frames(id)
        )
    }
    async fn save_lap_unsynced(&self, session: SessionId, lap: &Lap) -> Result<LapRecord> {
        timed!(
            self,
            "save_lap_unsynced",
            self.inner.save_lap_unsynced(session, lap)
        )
    }
    async fn save_encoded_lap_unsynced(
        &self,
        session: SessionId,
        lap: &Lap,
        encoded: EncodedFrames,
    ) -> Result<LapRecord> {
        timed!(
            self,
            "save_encoded_lap_unsynced",
            self.inner.save_encoded_lap_unsynced(session, lap, encoded)
        )
    }
    async fn sync(&self) -> Result<()> {
        timed!(self, "sync", self.inner.sync())
    }
    async fn lap_columns(&self, id: LapId, channels: &[Channel]) -> Result<Columns> {
        timed!(self, "lap_columns", self.inner.lap_columns(id, channels))
    }
    async fn update_lap(&self, id: LapId, update: LapUpdate) -> Result<LapRecord> {
        timed!(self, "update_lap", self.inner.update_lap(id, update))
    }
    async fn delete_lap(&self, id: LapId) -> Result<()> {
        timed!(self, "delete_lap", self.inner.delete_lap(id))
    }
    async fn add_chat_message(
        &self,
        lap: LapId,
        role: ChatRole,
        content: String,
    ) -> Result<ChatMessage> {
        timed!(
            self,
            "add_chat_message",
            self.inner.add_chat_message(lap, role, content)
        )
    }
    async fn list_chat_messages(&self, lap: LapId) -> Result<Vec<ChatMessage>> {
        timed!(
            self,
            "list_chat_messages",
            self.inner.list_chat_messages(lap)
        )
    }
    async fn save_malformed(&self, session: SessionId, time_ns: u64, bytes: &[u8]) -> Result<()> {
        timed!(
            self,
            "save_malformed",
            self.inner.save_malformed(session, time_ns, bytes)
        )
    }
    async fn count_malformed(&self, session: SessionId) -> Result<u64> {
        timed!(self, "count_malformed", self.inner.count_malformed(session))
    }
    async fn list_malformed(&self, session: SessionId) -> Result<Vec<MalformedDatagram>> {
        timed!(self, "list_malformed", self.inner.list_malformed(session))
    }
    async fn get_track_map(&self, track: &str, config: &str) -> Result<Option<TrackMap>> {
        timed!(
            self,
            "get_track_map",
            self.inner.get_track_map(track, config)
        )
    }
    async fn save_track_map(&self, map: &TrackMap) -> Result<()> {
        timed!(self, "save_track_map", self.inner.save_track_map(map))
    }
    async fn list_track_maps(&self) -> Result<Vec<TrackMap>> {
        timed!(self, "list_track_maps", self.inner.list_track_maps())
    }
    async fn delete_track_map(&self, track: &str, config: &str) -> Result<bool> {
        timed!(
            self,
            "delete_track_map",
            self.inner.delete_track_map(track, config)
        )
    }
    async fn add_user(&self, new: NewUser) -> Result<User> {
        timed!(self, "add_user", self.inner.add_user(new))
    }
    async fn list_users(&self) -> Result<Vec<User>> {
        timed!(self, "list_users", self.inner.list_users())
    }
    async fn revoke_user(&self, name: &str) -> Result<User> {
        timed!(self, "revoke_user", self.inner.revoke_user(name))
    }
    async fn user_by_token(&self, hash: &TokenHash) -> Result<Option<User>> {
        timed!(self, "user_by_token", self.inner.user_by_token(hash))
    }
    async fn acquire_lease(&self, key: &str, holder: &str, ttl_ms: i64) -> Result<LeaseOutcome> {
        timed!(
            self,
            "acquire_lease",
            self.inner.acquire_lease(key, holder, ttl_ms)
        )
    }
    async fn renew_lease(
        &self,
        key: &str,
        holder: &str,
        ttl_ms: i64,
        session: Option<SessionId>,
    ) -> Result<bool> {
        timed!(
            self,
            "renew_lease",
            self.inner.renew_lease(key, holder, ttl_ms, session)
        )
    }
    async fn release_lease(&self, key: &str, holder: &str) -> Result<()> {
        timed!(self, "release_lease", self.inner.release_lease(key, holder))
    }
    async fn put_session(&self, session: &Session) -> Result<Put> {
        timed!(self, "put_session", self.inner.put_session(session))
    }
    async fn put_lap(&self, lap: &LapRecord, frames: &[Frame]) -> Result<Put> {
        timed!(self, "put_lap", self.inner.put_lap(lap, frames))
    }
    async fn put_chat_message(&self, message: &ChatMessage) -> Result<Put> {
        timed!(
            self,
            "put_chat_message",
            self.inner.put_chat_message(message)
        )
    }
    async fn put_user(&self, user: &User) -> Result<Put> {
        timed!(self, "put_user", self.inner.put_user(user))
    }
    async fn ping(&self) -> Result<()> {
        timed!(self, "ping", self.inner.ping())
    }
    fn pool_stats(&self) -> Option<PoolStats> {
        self.inner.pool_stats()
    }
}
