//! Storage: sessions, laps with their telemetry, coaching chat, and malformed datagrams.
//!
//! [`Store`] is the one trait; [`SqliteStore`] (embedded SQLite, the default) and
//! [`MemoryStore`] (tests, throwaway runs) implement it, and one conformance suite
//! (`tests/store_conformance.rs`) runs on both. Use it as `Arc<dyn Store>`.
//!
//! # Data model
//!
//! The original app's entities, under their names, with what users need added:
//!
//! - [`Session`]: name, [`SessionSource`] (`live`, `demo`, `import`), [`SessionStatus`]
//!   (`active`, `paused`, `archived`), car, driver, track and track configuration (empty
//!   when unknown), tags.
//! - [`LapRecord`]: a lap's metadata — stint, number, [`LapKind`], validity and
//!   [`InvalidReason`], time and its source, frame count, tags, driver comments, analysis flag
//!   and the analysis's [`Suggestion`]s. Its telemetry is stored apart, column by column in a compact
//!   lossless encoding ([`codec`]), and is loaded only by [`Store::lap_frames`] (every
//!   field), [`Store::lap_principal_frames`] (the 16 principal channels, faster) or
//!   [`Store::lap_columns`] (the principal channels asked for, as columns: fastest).
//! - [`ChatMessage`]: one message of the coaching chat about a lap.
//! - [`MalformedDatagram`]: a datagram that did not parse, kept raw with its receive time.
//! - [`TrackMap`]: one per track and layout (see [`crate::track`]): the corners every lap
//!   on it is analysed at, built once from the first clean laps.
//! - [`User`]: an account of a shared server — name, [`Role`], the hash of its token
//!   ([`accounts`](TokenHash)); sessions and laps name their owner.
//! - [`Lease`]: a claim only one process holds at a time, expiring unless renewed (one
//!   recorder per game session, across every process sharing the store).
//!
//! Timestamps (`created_ms`, `updated_ms`) are Unix time in milliseconds (`i64`), from the
//! system clock. Frame times (`time_ns`) are the receive times, ns since the Unix epoch.
//! IDs are positive `i64` newtypes ([`SessionId`], [`LapId`], [`ChatMessageId`]), assigned
//! in increasing order and never reused, even after a delete.
//!
//! # Laps in progress
//!
//! While a lap is driven, the recorder calls [`Store::checkpoint_lap`] about once a second:
//! the session's one *in-progress* lap row is replaced by the lap so far (same id every
//! time). When the lap ends, [`Store::save_lap`] turns that row into the finished lap in
//! the same transaction (same id again; tags, comments and chat kept). If the process dies
//! in between, the last checkpoint survives.
//!
//! **Telling them apart:** [`LapRecord::in_progress`] is true for a checkpoint, false for a
//! finished lap. A checkpoint always has kind [`LapKind::Partial`] and no time.
//! An in-progress row while nothing records is the remnant of a crash; a recorder that
//! resumes a session calls [`Store::close_checkpoint`] first, which turns it into a
//! finished partial lap (`in_progress` false), so the next checkpoint starts a new row.
//!
//! # Ordering
//!
//! Lists are deterministic: sessions oldest first (by id); laps by session id, then stint,
//! number and id; chat messages and malformed datagrams in the order they were added.
//!
//! ```
//! use std::sync::Arc;
//! use purple_sector_core::lap::{Lap, LapKind, LapTime};
//! use purple_sector_core::store::{MemoryStore, NewSession, SessionSource, Store};
//! use purple_sector_core::telemetry::Frame;
//!
//! # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
//! let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
//! let session = store.create_session(NewSession::new("Imola practice", SessionSource::Live)).await?;
//! let lap = Lap {
//!     stint: 0,
//!     number: 3,
//!     kind: LapKind::Flying,
//!     invalid_reason: None,
//!     time: Some(LapTime::official(108_633)),
//!     frames: vec![Frame { speed_kmh: 250.0, ..Frame::default() }; 3],
//! };
//! let record = store.save_lap(session.id, &lap).await?;
//! assert!(record.valid && !record.in_progress);
//! assert_eq!(store.lap_frames(record.id).await?, lap.frames);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # })?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod codec;
mod copy;
pub use copy::{Copied, CopyProgress, CopySummary, copy_store};
mod location;
mod memory;
pub use location::{is_postgres_url, redact_url};
#[cfg(feature = "postgres")]
mod postgres;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod rows;
#[cfg(feature = "sqlite")]
mod sqlite;

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::{SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::analysis::Suggestion;
use crate::lap::{InvalidReason, Lap, LapKind, LapTime};
use crate::telemetry::Frame;
use crate::track::TrackMap;

pub use codec::{Channel, CodecError, Columns};
pub use memory::MemoryStore;
#[cfg(feature = "postgres")]
pub use postgres::{PostgresOptions, PostgresStore};
#[cfg(feature = "sqlite")]
pub use sqlite::SqliteStore;

/// The encoding of `lap`'s frames a store writes: the one given with the lap
/// ([`Store::save_encoded_lap_unsynced`]) when both its blobs hold as many frames as the
/// lap, else `encode`'s.
#[cfg(any(feature = "sqlite", feature = "postgres"))]
fn encoding_of(
    lap: &Lap,
    given: Option<codec::EncodedFrames>,
    encode: impl FnOnce() -> Result<codec::EncodedFrames>,
) -> Result<codec::EncodedFrames> {
    let n = Ok(lap.frames.len());
    match given {
        Some(e) if codec::frame_count(&e.principal) == n && codec::frame_count(&e.rest) == n => {
            Ok(e)
        }
        _ => encode(),
    }
}

/// The result of every store operation.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub i64);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }

        impl FromStr for $name {
            type Err = std::num::ParseIntError;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                s.parse().map(Self)
            }
        }

        impl From<$name> for i64 {
            fn from(id: $name) -> i64 {
                id.0
            }
        }

        impl From<i64> for $name {
            fn from(id: i64) -> Self {
                Self(id)
            }
        }
    };
}

id_type!(
    /// A session's id.
    SessionId
);
id_type!(
    /// A lap's id.
    LapId
);
id_type!(
    /// A chat message's id.
    ChatMessageId
);
id_type!(
    /// A user's id.
    UserId
);

macro_rules! name_enum {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name {
            $($(#[$vdoc])* $variant),+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [Self] = &[$(Self::$variant),+];

            /// The lowercase name, as stored.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $text),+
                }
            }

            /// The value for a lowercase name.
            pub fn parse(name: &str) -> Option<Self> {
                match name {
                    $($text => Some(Self::$variant),)+
                    _ => None,
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

mod accounts;
pub use accounts::{NewUser, Role, TOKEN_PREFIX, TokenHash, User, new_token};

name_enum!(
    /// Where a session's data came from.
    SessionSource {
        /// Recorded from the game.
        Live = "live",
        /// The built-in simulator or demo playback.
        Demo = "demo",
        /// Imported from a capture or a log file.
        Import = "import",
    }
);

name_enum!(
    /// A session's state.
    SessionStatus {
        /// Being recorded or worked on.
        Active = "active",
        /// Recording paused, or interrupted (the process died mid-lap: the lap it was on is
        /// kept as partial).
        Paused = "paused",
        /// Recorded (or imported) to its end.
        Completed = "completed",
        /// Put away.
        Archived = "archived",
    }
);

name_enum!(
    /// How a lap came into the store.
    LapOrigin {
        /// Recorded (live, the built-in game) or imported from a file.
        Recorded = "recorded",
        /// Posted to the API by a client (`POST /api/laps`): never anyone's default reference.
        Posted = "posted",
    }
);

name_enum!(
    /// Who wrote a chat message.
    ChatRole {
        /// The driver.
        User = "user",
        /// The coach.
        Assistant = "assistant",
    }
);

/// A recording session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// Its id.
    pub id: SessionId,
    /// User-given name.
    pub name: String,
    /// Where the data came from.
    pub source: SessionSource,
    /// Its state.
    pub status: SessionStatus,
    /// Car model (from the handshake); empty when unknown.
    pub car: String,
    /// Driver name (from the handshake); empty when unknown.
    pub driver: String,
    /// Track (from the handshake); empty when unknown.
    pub track: String,
    /// Track configuration (layout); empty when unknown or when the track has one layout.
    pub track_config: String,
    /// Tags: trimmed, non-empty, no duplicates, in the order first given.
    pub tags: Vec<String>,
    /// Created, Unix ms.
    pub created_ms: i64,
    /// Last changed by [`Store::update_session`], Unix ms.
    pub updated_ms: i64,
    /// The user who made it (see [`User::name`]); `None` on a server without accounts.
    #[serde(default)]
    pub owner: Option<String>,
}

/// What a new session starts with (status [`SessionStatus::Active`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSession {
    /// User-given name.
    pub name: String,
    /// Where the data comes from.
    pub source: SessionSource,
    /// Car model; empty when unknown.
    pub car: String,
    /// Driver name; empty when unknown.
    pub driver: String,
    /// Track; empty when unknown.
    pub track: String,
    /// Track configuration; empty when unknown.
    pub track_config: String,
    /// Tags (normalised as in [`Session::tags`]).
    pub tags: Vec<String>,
    /// The user making it.
    pub owner: Option<String>,
}

impl NewSession {
    /// The session as created: status active, tags normalised, created and updated `now_ms`.
    pub(crate) fn into_session(self, id: SessionId, now_ms: i64) -> Session {
        Session {
            id,
            name: self.name,
            source: self.source,
            status: SessionStatus::Active,
            car: self.car,
            driver: self.driver,
            track: self.track,
            track_config: self.track_config,
            tags: normalize_tags(self.tags),
            created_ms: now_ms,
            updated_ms: now_ms,
            owner: self.owner,
        }
    }

    /// A session with a name and a source, everything else empty.
    pub fn new(name: impl Into<String>, source: SessionSource) -> Self {
        Self {
            name: name.into(),
            source,
            car: String::new(),
            driver: String::new(),
            track: String::new(),
            track_config: String::new(),
            tags: Vec::new(),
            owner: None,
        }
    }
}

/// Changes to a session; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionUpdate {
    /// New name.
    pub name: Option<String>,
    /// New status.
    pub status: Option<SessionStatus>,
    /// New car.
    pub car: Option<String>,
    /// New driver.
    pub driver: Option<String>,
    /// New track.
    pub track: Option<String>,
    /// New track configuration.
    pub track_config: Option<String>,
    /// New tags (replacing the old ones).
    pub tags: Option<Vec<String>>,
}

impl SessionUpdate {
    /// Applies the changes and sets `updated_ms`.
    pub(crate) fn apply(self, session: &mut Session, now_ms: i64) {
        let set = |field: &mut String, value: Option<String>| {
            if let Some(value) = value {
                *field = value;
            }
        };
        set(&mut session.name, self.name);
        set(&mut session.car, self.car);
        set(&mut session.driver, self.driver);
        set(&mut session.track, self.track);
        set(&mut session.track_config, self.track_config);
        if let Some(status) = self.status {
            session.status = status;
        }
        if let Some(tags) = self.tags {
            session.tags = normalize_tags(tags);
        }
        session.updated_ms = now_ms.max(session.updated_ms);
    }
}

/// A stored lap, without its telemetry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LapRecord {
    /// Its id.
    pub id: LapId,
    /// The session it belongs to.
    pub session: SessionId,
    /// Stint within the recording (see [`Lap::stint`]).
    pub stint: u32,
    /// Lap number in the game's session (see [`Lap::number`]).
    pub number: i32,
    /// How it began and ended; always [`LapKind::Partial`] while in progress.
    pub kind: LapKind,
    /// True when the lap counts (no invalid reason).
    pub valid: bool,
    /// Why it does not count.
    pub invalid_reason: Option<InvalidReason>,
    /// The lap's time and its source (the game's, or the lap clock's for a lap that ran
    /// line to line); `None` for a lap that did not complete (and in progress).
    pub time: Option<LapTime>,
    /// Frames stored.
    pub frame_count: u32,
    /// True for the session's checkpoint of the lap being driven (see the module docs).
    pub in_progress: bool,
    /// Tags (normalised as in [`Session::tags`]).
    pub tags: Vec<String>,
    /// The driver's comments.
    pub comments: String,
    /// Has an analysis been run?
    pub analyzed: bool,
    /// The suggestions of the lap's latest analysis; `None` until set.
    pub suggestions: Option<Vec<Suggestion>>,
    /// First stored (first checkpoint or save), Unix ms.
    pub created_ms: i64,
    /// How it came into the store.
    #[serde(default = "recorded")]
    pub origin: LapOrigin,
    /// The user who made it: the session's owner for a recorded lap, the poster for a
    /// posted one; `None` on a server without accounts.
    #[serde(default)]
    pub owner: Option<String>,
}

fn recorded() -> LapOrigin {
    LapOrigin::Recorded
}

impl LapRecord {
    /// The lap's time, ms, whatever its source.
    pub fn time_ms(&self) -> Option<i32> {
        self.time.map(|t| t.ms)
    }

    /// The time this lap is ranked by, when it can be anyone's best lap: a finished
    /// (not in progress), valid, flying, recorded lap with a time (the game's or the lap
    /// clock's). Out, in, partial and posted laps never rank. This is the one best-lap rule;
    /// see [`best_lap`].
    pub fn ranking_time_ms(&self) -> Option<i32> {
        let counts = self.valid
            && !self.in_progress
            && self.kind == LapKind::Flying
            && self.origin == LapOrigin::Recorded;
        self.time_ms().filter(|_| counts)
    }
}

/// The best lap among `laps`: the one with the lowest [`LapRecord::ranking_time_ms`]; on a
/// tie, the first one driven (lowest id). `None` when no lap ranks.
pub fn best_lap<'a>(laps: impl IntoIterator<Item = &'a LapRecord>) -> Option<&'a LapRecord> {
    laps.into_iter()
        .filter_map(|lap| lap.ranking_time_ms().map(|t| (t, lap.id, lap)))
        .min_by_key(|&(t, id, _)| (t, id))
        .map(|(_, _, lap)| lap)
}

/// How long a session's lap in progress may go without a checkpoint before it counts as
/// interrupted (its recorder died): checkpoints come about once a second.
pub const STALE_CHECKPOINT_MS: i64 = 30_000;

/// After a crash: every session whose lap in progress has not been checkpointed for
/// [`STALE_CHECKPOINT_MS`] gets that lap closed as partial (kept, with its frames) and its
/// status set to [`SessionStatus::Paused`]. Returns those sessions. A recording running in
/// another process checkpoints every second, so its session is left alone.
pub async fn recover_interrupted(store: &dyn Store) -> Result<Vec<SessionId>> {
    let now = now_ms();
    let mut recovered = Vec::new();
    for session in store.list_sessions().await? {
        if now - session.updated_ms < STALE_CHECKPOINT_MS {
            continue;
        }
        let in_progress = store
            .list_laps(Some(session.id))
            .await?
            .iter()
            .any(|l| l.in_progress);
        if !in_progress {
            continue;
        }
        store.close_checkpoint(session.id).await?;
        let update = SessionUpdate {
            status: Some(SessionStatus::Paused),
            ..SessionUpdate::default()
        };
        store.update_session(session.id, update).await?;
        recovered.push(session.id);
    }
    Ok(recovered)
}

/// Changes to a lap; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LapUpdate {
    /// New tags (replacing the old ones).
    pub tags: Option<Vec<String>>,
    /// New comments.
    pub comments: Option<String>,
    /// New analysis flag.
    pub analyzed: Option<bool>,
    /// New suggestions: `Some(None)` clears them.
    pub suggestions: Option<Option<Vec<Suggestion>>>,
}

impl LapUpdate {
    pub(crate) fn apply(self, lap: &mut LapRecord) {
        if let Some(tags) = self.tags {
            lap.tags = normalize_tags(tags);
        }
        if let Some(comments) = self.comments {
            lap.comments = comments;
        }
        if let Some(analyzed) = self.analyzed {
            lap.analyzed = analyzed;
        }
        if let Some(suggestions) = self.suggestions {
            lap.suggestions = suggestions;
        }
    }
}

/// One message of the coaching chat about a lap.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChatMessage {
    /// Its id.
    pub id: ChatMessageId,
    /// The lap it is about.
    pub lap: LapId,
    /// Who wrote it.
    pub role: ChatRole,
    /// The text.
    pub content: String,
    /// Written, Unix ms.
    pub created_ms: i64,
}

/// A datagram that did not parse, as received.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MalformedDatagram {
    /// The session it was received in.
    pub session: SessionId,
    /// Receive time, ns since the Unix epoch.
    pub time_ns: u64,
    /// The bytes.
    pub bytes: Vec<u8>,
}

/// A claim that only one process may hold at a time, expiring unless renewed: a recorder
/// holds one on the game session it records (see [`Store::acquire_lease`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lease {
    /// What is claimed.
    pub key: String,
    /// Who holds it (a process's own name for itself).
    pub holder: String,
    /// The session the holder records into, once it said so ([`Store::renew_lease`]).
    pub session: Option<SessionId>,
    /// When it lapses unless renewed, Unix ms.
    pub expires_ms: i64,
}

/// What [`Store::acquire_lease`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LeaseOutcome {
    /// The lease is the caller's now. `taken_over` is the lapsed lease of another holder it
    /// replaced (a recorder that died): its session is the one to take over.
    Acquired {
        /// The lapsed lease replaced, if any.
        taken_over: Option<Lease>,
    },
    /// Someone else holds it.
    Held(Lease),
}

/// What a `put_*` copy did (see [`Store::put_session`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Put {
    /// The row was not there: it is now, as given.
    Inserted,
    /// The same row was there already (a copy run again, or resumed): nothing changed.
    AlreadyThere,
}

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// No session with this id.
    #[error("session {id} not found")]
    SessionNotFound {
        /// The id asked for.
        id: SessionId,
    },
    /// No lap with this id.
    #[error("lap {id} not found")]
    LapNotFound {
        /// The id asked for.
        id: LapId,
    },
    /// The database was written by a newer version of this program.
    #[error("database schema version {found} is newer than this build supports ({supported})")]
    SchemaTooNew {
        /// `PRAGMA user_version` of the file.
        found: i64,
        /// The newest version this build knows.
        supported: i64,
    },
    /// Frames could not be encoded (too many for one lap).
    #[error("cannot encode the lap's telemetry")]
    Codec(#[source] CodecError),
    /// A lap's stored telemetry does not decode.
    #[error("lap {lap}: stored telemetry is corrupt")]
    CorruptTelemetry {
        /// The lap.
        lap: LapId,
        /// What is wrong with it.
        #[source]
        source: CodecError,
    },
    /// The session already has a lap of this stint and number.
    #[error("session {session} already has lap {number} (stint {stint})")]
    LapNumberTaken {
        /// The session.
        session: SessionId,
        /// The stint.
        stint: u32,
        /// The lap number.
        number: i32,
    },
    /// A stored value is not one this build understands (edited by hand, or corrupt).
    #[error("{table} row {id}: column {column} holds an invalid value")]
    CorruptRow {
        /// Table name.
        table: &'static str,
        /// Row id.
        id: i64,
        /// Column name.
        column: &'static str,
    },
    /// A user of that name exists.
    #[error("a user named {name:?} exists")]
    UserExists {
        /// The name.
        name: String,
    },
    /// No user of that name.
    #[error("no user named {name:?}")]
    UserNotFound {
        /// The name.
        name: String,
    },
    /// Another recorder holds the lease on this game session.
    #[error("{key} is being recorded by {holder} (its lease runs to {expires_ms} ms)")]
    LeaseHeld {
        /// What is claimed.
        key: String,
        /// Who holds it.
        holder: String,
        /// When it lapses unless renewed, Unix ms.
        expires_ms: i64,
    },
    /// This recorder's lease lapsed and another recorder took the game session over.
    #[error("the lease on {key} was taken over by another recorder")]
    LeaseLost {
        /// What was claimed.
        key: String,
    },
    /// Recording into an existing session: the game runs another track, layout or car.
    #[error("session {session} is of {field} {stored:?}; the game runs {recorded:?}")]
    SessionMismatch {
        /// The session.
        session: SessionId,
        /// `track`, `track config` or `car`.
        field: &'static str,
        /// The session's value.
        stored: String,
        /// The game's.
        recorded: String,
    },
    /// Copying between stores: the target has another row under the same id.
    #[error("{table} row {id} differs from the one being copied")]
    Conflict {
        /// Table name.
        table: &'static str,
        /// Row id.
        id: i64,
    },
    /// The target of a copy has a map of this track and layout with other corners.
    #[error("the map of track {track:?} (layout {config:?}) is already there, with other corners")]
    TrackMapConflict {
        /// The track.
        track: String,
        /// Its layout.
        config: String,
    },
    /// A value cannot be written in the store's format.
    #[error("lap {lap}: the {column} cannot be stored")]
    Unencodable {
        /// The lap.
        lap: LapId,
        /// What could not be written.
        column: &'static str,
        /// Why.
        #[source]
        source: serde_json::Error,
    },
    /// A track map cannot be written in the store's format.
    #[error("the map of track {track:?} (layout {config:?}) cannot be stored")]
    UnencodableTrackMap {
        /// The track.
        track: String,
        /// Its layout.
        config: String,
        /// Why.
        #[source]
        source: serde_json::Error,
    },
    /// A stored track map does not read back (edited by hand, or corrupt).
    #[error("the stored map of track {track:?} (layout {config:?}) is corrupt")]
    CorruptTrackMap {
        /// The track.
        track: String,
        /// Its layout.
        config: String,
    },
    /// SQLite failed.
    #[cfg(feature = "sqlite")]
    #[error("SQLite error")]
    Sqlite {
        /// SQLite's error.
        #[from]
        source: rusqlite::Error,
    },
    /// PostgreSQL failed.
    #[cfg(feature = "postgres")]
    #[error("PostgreSQL error")]
    Postgres {
        /// The driver's error.
        #[from]
        source: tokio_postgres::Error,
    },
    /// A PostgreSQL URL does not parse.
    #[cfg(feature = "postgres")]
    #[error("not a PostgreSQL URL: {url}")]
    PostgresUrl {
        /// The URL, without its password.
        url: String,
        /// Why.
        #[source]
        source: tokio_postgres::Error,
    },
    /// No connection to PostgreSQL could be had (the server is down, refused us, or every
    /// connection of the pool stayed busy).
    #[cfg(feature = "postgres")]
    #[error("no connection to {url}")]
    PostgresPool {
        /// The URL, without its password.
        url: String,
        /// Why.
        #[source]
        source: deadpool_postgres::PoolError,
    },
    /// The connection pool cannot be made.
    #[cfg(feature = "postgres")]
    #[error("cannot set up connections to {url}")]
    PostgresSetup {
        /// The URL, without its password.
        url: String,
        /// Why.
        #[source]
        source: deadpool_postgres::BuildError,
    },
    /// A file-system operation failed (creating the database's directory).
    #[error("{}", path.display())]
    Io {
        /// The path involved.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// The task that ran the operation panicked or was cancelled.
    #[cfg(any(feature = "sqlite", feature = "net", feature = "postgres"))]
    #[error("storage task failed")]
    Task {
        /// Tokio's error.
        #[source]
        source: tokio::task::JoinError,
    },
}

/// Sessions, laps and their telemetry, chat, malformed datagrams.
///
/// Every operation that names a session or lap fails with [`StoreError::SessionNotFound`] or
/// [`StoreError::LapNotFound`] (with the id) when it does not exist. See the
/// [module docs](self) for checkpoints, ordering and timestamps.
#[async_trait]
pub trait Store: Send + Sync + fmt::Debug {
    /// Creates a session (status [`SessionStatus::Active`], `created_ms = updated_ms` = now).
    async fn create_session(&self, new: NewSession) -> Result<Session>;

    /// One session.
    async fn get_session(&self, id: SessionId) -> Result<Session>;

    /// Every session, oldest first.
    async fn list_sessions(&self) -> Result<Vec<Session>>;

    /// Changes a session's name, status, car, driver, track, configuration or tags; sets
    /// `updated_ms`. Returns the session as stored.
    async fn update_session(&self, id: SessionId, update: SessionUpdate) -> Result<Session>;

    /// Deletes a session with its laps, their telemetry and chat, and its malformed
    /// datagrams.
    async fn delete_session(&self, id: SessionId) -> Result<()>;

    /// Saves a completed (or partial) lap with its frames, in one transaction. When the
    /// session has a checkpoint, it becomes this lap (same id, tags, comments, chat);
    /// otherwise a new lap row is made. Several laps may share a number (e.g. imports).
    /// A recorded lap's owner is its session's.
    async fn save_lap(&self, session: SessionId, lap: &Lap) -> Result<LapRecord>;

    /// As [`Store::save_lap`], but the commit need not be on the disk when this returns: a
    /// crash of the process keeps it, a crash of the machine may lose it until the next
    /// [`Store::sync`]. For bulk writes that are all or nothing anyway (an import, which
    /// syncs once at its end). By default the same as [`Store::save_lap`].
    async fn save_lap_unsynced(&self, session: SessionId, lap: &Lap) -> Result<LapRecord> {
        self.save_lap(session, lap).await
    }

    /// As [`Store::save_lap_unsynced`], with the lap's telemetry already encoded
    /// (`encoded` is [`codec::encode`] of `lap.frames`): so that a bulk writer encodes the
    /// next lap while this one commits. An encoding of another number of frames is not
    /// used. By default the encoding is dropped and the lap saved as
    /// [`Store::save_lap_unsynced`] saves it (a store that keeps frames as they are, as
    /// [`MemoryStore`] does, has nothing to gain from it).
    async fn save_encoded_lap_unsynced(
        &self,
        session: SessionId,
        lap: &Lap,
        encoded: codec::EncodedFrames,
    ) -> Result<LapRecord> {
        drop(encoded);
        self.save_lap_unsynced(session, lap).await
    }

    /// Makes every commit so far durable (see [`Store::save_lap_unsynced`]). By default
    /// nothing to do: every commit is.
    async fn sync(&self) -> Result<()> {
        Ok(())
    }

    /// Stores the lap being driven as the session's checkpoint, replacing the previous one
    /// (same id). Kept with kind [`LapKind::Partial`], no time, `in_progress`.
    async fn checkpoint_lap(&self, session: SessionId, lap: &Lap) -> Result<LapRecord>;

    /// Turns the session's checkpoint, if any, into a finished partial lap (after a crash).
    async fn close_checkpoint(&self, session: SessionId) -> Result<Option<LapRecord>>;

    /// Adds a lap as a new row, in one transaction, never touching the session's lap in
    /// progress: for laps that do not come from the session's own recording (posted laps).
    /// Fails with [`StoreError::LapNumberTaken`] when the session has a lap of this stint and
    /// number already.
    async fn add_lap(
        &self,
        session: SessionId,
        lap: &Lap,
        origin: LapOrigin,
        owner: Option<&str>,
    ) -> Result<LapRecord>;

    /// One lap's metadata.
    async fn get_lap(&self, id: LapId) -> Result<LapRecord>;

    /// Laps' metadata, of one session or of all; never loads telemetry.
    async fn list_laps(&self, session: Option<SessionId>) -> Result<Vec<LapRecord>>;

    /// A lap's frames, every field, bit-exact as saved.
    async fn lap_frames(&self, id: LapId) -> Result<Vec<Frame>>;

    /// A lap's frames with only the 16 principal channels (see [`codec`]); every other field
    /// is zero. Faster than [`Store::lap_frames`].
    async fn lap_principal_frames(&self, id: LapId) -> Result<Vec<Frame>>;

    /// Some of a lap's principal channels as columns, decoding those and no others: the
    /// fastest load, for readers that want a few channels (a chart, an export, the live
    /// delta). Bit-exact, as [`Store::lap_principal_frames`] would give them; channels not
    /// asked for are empty.
    async fn lap_columns(&self, id: LapId, channels: &[Channel]) -> Result<Columns>;

    /// Changes a lap's tags, comments, analysis flag or suggestions.
    async fn update_lap(&self, id: LapId, update: LapUpdate) -> Result<LapRecord>;

    /// Deletes a lap with its telemetry and chat.
    async fn delete_lap(&self, id: LapId) -> Result<()>;

    /// Adds a chat message to a lap.
    async fn add_chat_message(
        &self,
        lap: LapId,
        role: ChatRole,
        content: String,
    ) -> Result<ChatMessage>;

    /// A lap's chat, oldest first.
    async fn list_chat_messages(&self, lap: LapId) -> Result<Vec<ChatMessage>>;

    /// Keeps a datagram that did not parse, with its receive time.
    async fn save_malformed(&self, session: SessionId, time_ns: u64, bytes: &[u8]) -> Result<()>;

    /// How many malformed datagrams a session kept.
    async fn count_malformed(&self, session: SessionId) -> Result<u64>;

    /// A session's malformed datagrams, in the order they were saved.
    async fn list_malformed(&self, session: SessionId) -> Result<Vec<MalformedDatagram>>;

    /// The map kept for a track and layout ([`TrackMap::track`], [`TrackMap::config`]),
    /// `None` when there is none.
    async fn get_track_map(&self, track: &str, config: &str) -> Result<Option<TrackMap>>;

    /// Keeps a track map, replacing the one of the same track and layout. Maps belong to no
    /// session: deleting sessions leaves them.
    async fn save_track_map(&self, map: &TrackMap) -> Result<()>;

    /// Every kept map, by track, then layout.
    async fn list_track_maps(&self) -> Result<Vec<TrackMap>>;

    /// Deletes the map of a track and layout; false when there was none.
    async fn delete_track_map(&self, track: &str, config: &str) -> Result<bool>;

    // --- Accounts ----------------------------------------------------------------------

    /// Adds a user; [`StoreError::UserExists`] when the name is taken (revoked users keep
    /// their names).
    async fn add_user(&self, new: NewUser) -> Result<User>;

    /// Every user, revoked ones included, oldest first.
    async fn list_users(&self) -> Result<Vec<User>>;

    /// Revokes a user's token at once; [`StoreError::UserNotFound`] without such a user.
    /// Revoking twice keeps the first time.
    async fn revoke_user(&self, name: &str) -> Result<User>;

    /// The active (not revoked) user whose token has this hash.
    async fn user_by_token(&self, hash: &TokenHash) -> Result<Option<User>>;

    // --- Leases ------------------------------------------------------------------------

    /// Claims `key` for `holder` for `ttl_ms`: granted when nobody holds it, when the
    /// current lease has lapsed (its holder died), or when `holder` holds it already (then
    /// renewed). Atomic: of two processes asking at once, one gets it.
    async fn acquire_lease(&self, key: &str, holder: &str, ttl_ms: i64) -> Result<LeaseOutcome>;

    /// Extends `holder`'s lease on `key` by `ttl_ms` from now and records the session it
    /// records into. False when the lease is no longer the holder's (it lapsed and was
    /// taken): the holder must stop.
    async fn renew_lease(
        &self,
        key: &str,
        holder: &str,
        ttl_ms: i64,
        session: Option<SessionId>,
    ) -> Result<bool>;

    /// Gives up `holder`'s lease on `key` (nothing when it is not the holder's).
    async fn release_lease(&self, key: &str, holder: &str) -> Result<()>;

    // --- Copying between stores (`purple-sector migrate`) --------------------------------
    //
    // Rows go in as they are: same ids, timestamps, states. Each returns
    // [`Put::AlreadyThere`] for a row that is there already and equal, so a copy can be run
    // again or resumed after an interruption; [`StoreError::Conflict`] when the id holds a
    // different row. Id sequences move past the ids put, so new rows never reuse them.

    /// Puts a session.
    async fn put_session(&self, session: &Session) -> Result<Put>;

    /// Puts a lap and its frames, in one transaction (its session must be there).
    async fn put_lap(&self, lap: &LapRecord, frames: &[Frame]) -> Result<Put>;

    /// Puts a chat message (its lap must be there).
    async fn put_chat_message(&self, message: &ChatMessage) -> Result<Put>;

    /// Puts a user, with its token hash.
    async fn put_user(&self, user: &User) -> Result<Put>;

    // --- Operations ----------------------------------------------------------------------

    /// Checks that the database answers (for readiness probes). Always fine in memory.
    async fn ping(&self) -> Result<()> {
        Ok(())
    }

    /// The connection pool's figures, for stores that have one.
    fn pool_stats(&self) -> Option<PoolStats> {
        None
    }
}

/// A connection pool's figures now (see [`Store::pool_stats`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct PoolStats {
    /// Connections it may open, at most.
    pub max_size: usize,
    /// Connections open.
    pub size: usize,
    /// Open and idle.
    pub available: usize,
    /// Operations waiting for a connection.
    pub waiting: usize,
}

#[cfg(feature = "sqlite")]
/// Where the database lives by default: `$PURPLE_SECTOR_DB` when set and not empty, else
/// `purple-sector.db` in the platform's data directory (Linux
/// `~/.local/share/purple-sector`, macOS `~/Library/Application Support/purple-sector`,
/// Windows `%APPDATA%\purple-sector\data`), else in the current directory.
pub fn default_db_path() -> PathBuf {
    db_path_from(std::env::var_os("PURPLE_SECTOR_DB"))
}

/// The database file name in the data directory.
#[cfg(feature = "sqlite")]
pub const DB_FILE_NAME: &str = "purple-sector.db";

#[cfg(feature = "sqlite")]
fn db_path_from(env: Option<std::ffi::OsString>) -> PathBuf {
    if let Some(path) = env.filter(|p| !p.is_empty()) {
        return PathBuf::from(path);
    }
    match directories::ProjectDirs::from("", "", "purple-sector") {
        Some(dirs) => dirs.data_dir().join(DB_FILE_NAME),
        None => PathBuf::from(DB_FILE_NAME),
    }
}

/// Now, Unix ms.
pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Trims tags, drops empty ones and repeats (keeping the first).
pub(crate) fn normalize_tags(tags: Vec<String>) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(tags.len());
    for tag in tags {
        let tag = tag.trim();
        if !tag.is_empty() && !out.iter().any(|t| t == tag) {
            out.push(tag.to_owned());
        }
    }
    out
}

/// The stored fields of a lap, as `save_lap` (finished) or `checkpoint_lap` (in progress)
/// keeps them.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LapFields {
    pub stint: u32,
    pub number: i32,
    pub kind: LapKind,
    pub invalid_reason: Option<InvalidReason>,
    pub time: Option<LapTime>,
    pub frame_count: u32,
    pub in_progress: bool,
}

impl LapFields {
    pub(crate) fn new(lap: &Lap, in_progress: bool) -> Result<Self> {
        let frame_count = u32::try_from(lap.frames.len())
            .ok()
            .filter(|&n| n as usize <= codec::MAX_FRAMES)
            .ok_or(StoreError::Codec(CodecError::TooManyFrames {
                count: lap.frames.len(),
                max: codec::MAX_FRAMES,
            }))?;
        Ok(Self {
            stint: lap.stint,
            number: lap.number,
            kind: if in_progress {
                LapKind::Partial
            } else {
                lap.kind
            },
            invalid_reason: lap.invalid_reason,
            time: if in_progress { None } else { lap.time },
            frame_count,
            in_progress,
        })
    }

    /// Writes these fields over a record's.
    pub(crate) fn apply(self, record: &mut LapRecord) {
        record.stint = self.stint;
        record.number = self.number;
        record.kind = self.kind;
        record.valid = self.invalid_reason.is_none();
        record.invalid_reason = self.invalid_reason;
        record.time = self.time;
        record.frame_count = self.frame_count;
        record.in_progress = self.in_progress;
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn ids_display_parse_and_serialize_as_numbers() {
        let id: LapId = "42".parse().unwrap();
        assert_eq!(id, LapId(42));
        assert_eq!(id.to_string(), "42");
        assert_eq!(serde_json::to_string(&SessionId(7)).unwrap(), "7");
        assert_eq!(
            serde_json::from_str::<ChatMessageId>("9").unwrap(),
            ChatMessageId(9)
        );
        assert!("x".parse::<SessionId>().is_err());
    }

    #[test]
    fn names_round_trip() {
        for s in SessionSource::ALL {
            assert_eq!(SessionSource::parse(s.as_str()), Some(*s));
        }
        for s in SessionStatus::ALL {
            assert_eq!(SessionStatus::parse(s.as_str()), Some(*s));
        }
        for r in ChatRole::ALL {
            assert_eq!(ChatRole::parse(r.as_str()), Some(*r));
        }
        assert_eq!(
            serde_json::to_string(&SessionStatus::Archived).unwrap(),
            "\"archived\""
        );
        assert_eq!(SessionSource::parse("Live"), None);
    }

    #[test]
    fn tags_are_trimmed_and_deduplicated() {
        let tags = normalize_tags(vec![" wet ".into(), "".into(), "wet".into(), "pb".into()]);
        assert_eq!(tags, ["wet", "pb"]);
    }

    #[cfg(feature = "sqlite")]
    #[test]
    fn db_path_honours_the_environment() {
        assert_eq!(
            db_path_from(Some("/tmp/x.db".into())),
            PathBuf::from("/tmp/x.db")
        );
        let default = db_path_from(Some("".into()));
        assert!(default.ends_with(DB_FILE_NAME), "{}", default.display());
        assert_eq!(default, db_path_from(None));
    }
}
