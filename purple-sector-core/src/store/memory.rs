//! [`MemoryStore`]: everything in memory, for tests and throwaway runs.

use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;

use super::{
    ChatMessage, ChatMessageId, ChatRole, LapFields, LapId, LapOrigin, LapRecord, LapUpdate, Lease,
    LeaseOutcome, MalformedDatagram, NewSession, NewUser, Put, Result, Session, SessionId,
    SessionUpdate, Store, StoreError, TokenHash, User, UserId, codec, codec::Channel,
    codec::Columns, now_ms,
};
use crate::lap::Lap;
use crate::telemetry::Frame;
use crate::track::TrackMap;

/// A [`Store`] in memory: the same behaviour as [`super::SqliteStore`], nothing on disk.
/// Frames are kept as given (no encoding), so they come back bit-exact too.
#[derive(Debug, Default)]
pub struct MemoryStore {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    last_session: i64,
    last_lap: i64,
    last_chat: i64,
    last_user: i64,
    sessions: BTreeMap<SessionId, Session>,
    laps: BTreeMap<LapId, (LapRecord, Vec<Frame>)>,
    chat: BTreeMap<ChatMessageId, ChatMessage>,
    malformed: Vec<MalformedDatagram>,
    track_maps: BTreeMap<(String, String), TrackMap>,
    users: BTreeMap<UserId, User>,
    leases: BTreeMap<String, Lease>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // Every operation leaves the maps consistent before it can panic.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Inner {
    /// A fresh id in one of the sequences (increasing, never reused, as SQLite's).
    fn next(last: &mut i64) -> i64 {
        *last += 1;
        *last
    }

    fn session(&self, id: SessionId) -> Result<&Session> {
        self.sessions
            .get(&id)
            .ok_or(StoreError::SessionNotFound { id })
    }

    fn lap(&self, id: LapId) -> Result<&(LapRecord, Vec<Frame>)> {
        self.laps.get(&id).ok_or(StoreError::LapNotFound { id })
    }

    fn checkpoint(&self, session: SessionId) -> Option<LapId> {
        self.laps
            .values()
            .find(|(r, _)| r.session == session && r.in_progress)
            .map(|(r, _)| r.id)
    }

    fn store_lap(
        &mut self,
        session: SessionId,
        lap: &Lap,
        in_progress: bool,
        origin: Option<(LapOrigin, Option<&str>)>,
    ) -> Result<LapRecord> {
        let session_owner = self.session(session)?.owner.clone();
        let fields = LapFields::new(lap, in_progress)?;
        if origin.is_some()
            && self.laps.values().any(|(r, _)| {
                r.session == session && r.stint == lap.stint && r.number == lap.number
            })
        {
            return Err(StoreError::LapNumberTaken {
                session,
                stint: lap.stint,
                number: lap.number,
            });
        }
        if in_progress {
            let now = now_ms();
            if let Some(s) = self.sessions.get_mut(&session) {
                s.updated_ms = now.max(s.updated_ms);
            }
        }
        let checkpoint = if origin.is_some() {
            None
        } else {
            self.checkpoint(session)
        };
        let id = match checkpoint {
            Some(id) => id,
            None => {
                let id = LapId(Self::next(&mut self.last_lap));
                let record = LapRecord {
                    id,
                    session,
                    stint: 0,
                    number: 0,
                    kind: fields.kind,
                    valid: true,
                    invalid_reason: None,
                    time: None,
                    frame_count: 0,
                    in_progress,
                    tags: Vec::new(),
                    comments: String::new(),
                    analyzed: false,
                    suggestions: None,
                    created_ms: now_ms(),
                    origin: origin.map_or(LapOrigin::Recorded, |(o, _)| o),
                    owner: match origin {
                        Some((_, owner)) => owner.map(str::to_owned),
                        None => session_owner,
                    },
                };
                self.laps.insert(id, (record, Vec::new()));
                id
            }
        };
        let (record, frames) = self
            .laps
            .get_mut(&id)
            .ok_or(StoreError::LapNotFound { id })?;
        fields.apply(record);
        frames.clear();
        frames.extend_from_slice(&lap.frames);
        Ok(record.clone())
    }

    fn laps_sorted(&self, session: Option<SessionId>) -> Vec<LapRecord> {
        let mut laps: Vec<LapRecord> = self
            .laps
            .values()
            .filter(|(r, _)| session.is_none_or(|s| r.session == s))
            .map(|(r, _)| r.clone())
            .collect();
        laps.sort_by_key(|r| (r.session, r.stint, r.number, r.id));
        laps
    }
}

#[async_trait]
impl Store for MemoryStore {
    async fn create_session(&self, new: NewSession) -> Result<Session> {
        let mut inner = self.lock();
        let session = new.into_session(SessionId(Inner::next(&mut inner.last_session)), now_ms());
        inner.sessions.insert(session.id, session.clone());
        Ok(session)
    }

    async fn get_session(&self, id: SessionId) -> Result<Session> {
        self.lock().session(id).cloned()
    }

    async fn list_sessions(&self) -> Result<Vec<Session>> {
        Ok(self.lock().sessions.values().cloned().collect())
    }

    async fn update_session(&self, id: SessionId, update: SessionUpdate) -> Result<Session> {
        let mut inner = self.lock();
        let session = inner
            .sessions
            .get_mut(&id)
            .ok_or(StoreError::SessionNotFound { id })?;
        update.apply(session, now_ms());
        Ok(session.clone())
    }

    async fn delete_session(&self, id: SessionId) -> Result<()> {
        let mut inner = self.lock();
        inner
            .sessions
            .remove(&id)
            .ok_or(StoreError::SessionNotFound { id })?;
        inner.laps.retain(|_, (r, _)| r.session != id);
        let Inner { laps, chat, .. } = &mut *inner;
        chat.retain(|_, m| laps.contains_key(&m.lap));
        inner.malformed.retain(|m| m.session != id);
        Ok(())
    }

    async fn save_lap(&self, session: SessionId, lap: &Lap) -> Result<LapRecord> {
        self.lock().store_lap(session, lap, false, None)
    }

    async fn checkpoint_lap(&self, session: SessionId, lap: &Lap) -> Result<LapRecord> {
        self.lock().store_lap(session, lap, true, None)
    }

    async fn add_lap(
        &self,
        session: SessionId,
        lap: &Lap,
        origin: LapOrigin,
        owner: Option<&str>,
    ) -> Result<LapRecord> {
        self.lock()
            .store_lap(session, lap, false, Some((origin, owner)))
    }

    async fn close_checkpoint(&self, session: SessionId) -> Result<Option<LapRecord>> {
        let mut inner = self.lock();
        inner.session(session)?;
        let Some(id) = inner.checkpoint(session) else {
            return Ok(None);
        };
        let (record, _) = inner
            .laps
            .get_mut(&id)
            .ok_or(StoreError::LapNotFound { id })?;
        record.in_progress = false;
        Ok(Some(record.clone()))
    }

    async fn get_lap(&self, id: LapId) -> Result<LapRecord> {
        Ok(self.lock().lap(id)?.0.clone())
    }

    async fn list_laps(&self, session: Option<SessionId>) -> Result<Vec<LapRecord>> {
        let inner = self.lock();
        if let Some(id) = session {
            inner.session(id)?;
        }
        Ok(inner.laps_sorted(session))
    }

    async fn lap_frames(&self, id: LapId) -> Result<Vec<Frame>> {
        Ok(self.lock().lap(id)?.1.clone())
    }

    async fn lap_principal_frames(&self, id: LapId) -> Result<Vec<Frame>> {
        Ok(self
            .lock()
            .lap(id)?
            .1
            .iter()
            .map(codec::principal_only)
            .collect())
    }

    async fn lap_columns(&self, id: LapId, channels: &[Channel]) -> Result<Columns> {
        Ok(Columns::from_frames(&self.lock().lap(id)?.1, channels))
    }

    async fn update_lap(&self, id: LapId, update: LapUpdate) -> Result<LapRecord> {
        let mut inner = self.lock();
        let (record, _) = inner
            .laps
            .get_mut(&id)
            .ok_or(StoreError::LapNotFound { id })?;
        update.apply(record);
        Ok(record.clone())
    }

    async fn delete_lap(&self, id: LapId) -> Result<()> {
        let mut inner = self.lock();
        inner
            .laps
            .remove(&id)
            .ok_or(StoreError::LapNotFound { id })?;
        inner.chat.retain(|_, m| m.lap != id);
        Ok(())
    }

    async fn add_chat_message(
        &self,
        lap: LapId,
        role: ChatRole,
        content: String,
    ) -> Result<ChatMessage> {
        let mut inner = self.lock();
        inner.lap(lap)?;
        let message = ChatMessage {
            id: ChatMessageId(Inner::next(&mut inner.last_chat)),
            lap,
            role,
            content,
            created_ms: now_ms(),
        };
        inner.chat.insert(message.id, message.clone());
        Ok(message)
    }

    async fn list_chat_messages(&self, lap: LapId) -> Result<Vec<ChatMessage>> {
        let inner = self.lock();
        inner.lap(lap)?;
        Ok(inner
            .chat
            .values()
            .filter(|m| m.lap == lap)
            .cloned()
            .collect())
    }

    async fn save_malformed(&self, session: SessionId, time_ns: u64, bytes: &[u8]) -> Result<()> {
        let mut inner = self.lock();
        inner.session(session)?;
        inner.malformed.push(MalformedDatagram {
            session,
            time_ns,
            bytes: bytes.to_vec(),
        });
        Ok(())
    }

    async fn count_malformed(&self, session: SessionId) -> Result<u64> {
        let inner = self.lock();
        inner.session(session)?;
        Ok(inner
            .malformed
            .iter()
            .filter(|m| m.session == session)
            .count() as u64)
    }

    async fn list_malformed(&self, session: SessionId) -> Result<Vec<MalformedDatagram>> {
        let inner = self.lock();
        inner.session(session)?;
        Ok(inner
            .malformed
            .iter()
            .filter(|m| m.session == session)
            .cloned()
            .collect())
    }

    async fn get_track_map(&self, track: &str, config: &str) -> Result<Option<TrackMap>> {
        Ok(self
            .lock()
            .track_maps
            .get(&(track.to_owned(), config.to_owned()))
            .cloned())
    }

    async fn save_track_map(&self, map: &TrackMap) -> Result<()> {
        self.lock()
            .track_maps
            .insert((map.track.clone(), map.config.clone()), map.clone());
        Ok(())
    }

    async fn list_track_maps(&self) -> Result<Vec<TrackMap>> {
        Ok(self.lock().track_maps.values().cloned().collect())
    }

    async fn delete_track_map(&self, track: &str, config: &str) -> Result<bool> {
        Ok(self
            .lock()
            .track_maps
            .remove(&(track.to_owned(), config.to_owned()))
            .is_some())
    }

    async fn add_user(&self, new: NewUser) -> Result<User> {
        let mut inner = self.lock();
        if inner.users.values().any(|u| u.name == new.name) {
            return Err(StoreError::UserExists { name: new.name });
        }
        let user = User {
            id: UserId(Inner::next(&mut inner.last_user)),
            name: new.name,
            role: new.role,
            token_hash: new.token_hash,
            created_ms: now_ms(),
            revoked_ms: None,
        };
        inner.users.insert(user.id, user.clone());
        Ok(user)
    }

    async fn list_users(&self) -> Result<Vec<User>> {
        Ok(self.lock().users.values().cloned().collect())
    }

    async fn revoke_user(&self, name: &str) -> Result<User> {
        let mut inner = self.lock();
        let user = inner
            .users
            .values_mut()
            .find(|u| u.name == name)
            .ok_or_else(|| StoreError::UserNotFound {
                name: name.to_owned(),
            })?;
        user.revoked_ms.get_or_insert_with(now_ms);
        Ok(user.clone())
    }

    async fn user_by_token(&self, hash: &TokenHash) -> Result<Option<User>> {
        Ok(self
            .lock()
            .users
            .values()
            .find(|u| u.token_hash == *hash && u.is_active())
            .cloned())
    }

    async fn acquire_lease(&self, key: &str, holder: &str, ttl_ms: i64) -> Result<LeaseOutcome> {
        let mut inner = self.lock();
        let now = now_ms();
        let current = inner.leases.get(key).cloned();
        let taken_over = match current {
            Some(lease) if lease.holder != holder && lease.expires_ms > now => {
                return Ok(LeaseOutcome::Held(lease));
            }
            Some(lease) if lease.holder != holder => Some(lease),
            _ => None,
        };
        let session = inner
            .leases
            .get(key)
            .filter(|l| l.holder == holder)
            .and_then(|l| l.session);
        inner.leases.insert(
            key.to_owned(),
            Lease {
                key: key.to_owned(),
                holder: holder.to_owned(),
                session,
                expires_ms: now + ttl_ms,
            },
        );
        Ok(LeaseOutcome::Acquired { taken_over })
    }

    async fn renew_lease(
        &self,
        key: &str,
        holder: &str,
        ttl_ms: i64,
        session: Option<SessionId>,
    ) -> Result<bool> {
        let mut inner = self.lock();
        match inner.leases.get_mut(key) {
            Some(lease) if lease.holder == holder => {
                lease.expires_ms = now_ms() + ttl_ms;
                lease.session = session;
                Ok(true)
            }
            _ => Ok(false),
        }
    }

    async fn release_lease(&self, key: &str, holder: &str) -> Result<()> {
        let mut inner = self.lock();
        if inner.leases.get(key).is_some_and(|l| l.holder == holder) {
            inner.leases.remove(key);
        }
        Ok(())
    }

    async fn put_session(&self, session: &Session) -> Result<Put> {
        let mut inner = self.lock();
        match inner.sessions.get(&session.id) {
            Some(there) if there == session => Ok(Put::AlreadyThere),
            Some(_) => Err(StoreError::Conflict {
                table: "sessions",
                id: session.id.0,
            }),
            None => {
                inner.last_session = inner.last_session.max(session.id.0);
                inner.sessions.insert(session.id, session.clone());
                Ok(Put::Inserted)
            }
        }
    }

    async fn put_lap(&self, lap: &LapRecord, frames: &[Frame]) -> Result<Put> {
        let mut inner = self.lock();
        inner.session(lap.session)?;
        match inner.laps.get(&lap.id) {
            Some((there, _)) if there == lap => Ok(Put::AlreadyThere),
            Some(_) => Err(StoreError::Conflict {
                table: "laps",
                id: lap.id.0,
            }),
            None => {
                inner.last_lap = inner.last_lap.max(lap.id.0);
                inner.laps.insert(lap.id, (lap.clone(), frames.to_vec()));
                Ok(Put::Inserted)
            }
        }
    }

    async fn put_chat_message(&self, message: &ChatMessage) -> Result<Put> {
        let mut inner = self.lock();
        inner.lap(message.lap)?;
        match inner.chat.get(&message.id) {
            Some(there) if there == message => Ok(Put::AlreadyThere),
            Some(_) => Err(StoreError::Conflict {
                table: "chat_messages",
                id: message.id.0,
            }),
            None => {
                inner.last_chat = inner.last_chat.max(message.id.0);
                inner.chat.insert(message.id, message.clone());
                Ok(Put::Inserted)
            }
        }
    }

    async fn put_user(&self, user: &User) -> Result<Put> {
        let mut inner = self.lock();
        match inner.users.get(&user.id) {
            Some(there) if there == user => Ok(Put::AlreadyThere),
            Some(_) => Err(StoreError::Conflict {
                table: "users",
                id: user.id.0,
            }),
            None if inner.users.values().any(|u| u.name == user.name) => {
                Err(StoreError::UserExists {
                    name: user.name.clone(),
                })
            }
            None => {
                inner.last_user = inner.last_user.max(user.id.0);
                inner.users.insert(user.id, user.clone());
                Ok(Put::Inserted)
            }
        }
    }
}
