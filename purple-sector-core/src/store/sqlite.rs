//! [`SqliteStore`]: the embedded default, one SQLite file.
//!
//! # Durability
//!
//! The file is in WAL mode with `synchronous = NORMAL`, foreign keys on. Every write is one
//! transaction. With WAL, a committed transaction survives the process being killed
//! (`kill -9`, a crash, the game taking the PC down to the desktop) at any point: it is in
//! the WAL file, and the next open replays it. What NORMAL gives up is durability against
//! power loss or an OS crash: the last transactions since the WAL was last synced can roll
//! back (the file stays consistent).
//!
//! A completed lap is the precious unit, so [`Store::save_lap`] commits with
//! `synchronous = FULL`: the WAL is synced before the commit returns, and the lap survives
//! power loss too. That is one fsync per lap (a lap takes a minute or two), on the writer
//! task, never on the socket's. Checkpoints (every second), sessions, chat and malformed
//! datagrams stay on NORMAL: a checkpoint lost to a power cut is at most a second of a
//! partial lap. An import's laps ([`Store::save_lap_unsynced`]) stay on NORMAL too, and the
//! import ends with one [`Store::sync`] (a full WAL checkpoint, which syncs the WAL and the
//! database): an import is all or nothing, a lap of it is not worth an fsync of its own.
//!
//! # Schema
//!
//! Versioned by `PRAGMA user_version`: 0 (a new or empty file) is migrated to 1, which
//! creates every table, then to 2 (a lap's time gets its source), then to 3 (sessions can be
//! completed, laps know their origin), then to 4 (accounts, owners, leases), then to 5
//! (track maps, `track_maps`: one JSON map per track and layout); a version above
//! [`SqliteStore::SCHEMA_VERSION`] is refused with
//! [`StoreError::SchemaTooNew`]. Telemetry lives in its own table (`lap_telemetry`, one
//! row per lap: the principal and rest blobs of [`super::codec`]), so listing laps never
//! reads it. Tags are JSON arrays of strings; the invalid reason is the JSON of
//! [`InvalidReason`]; suggestions are JSON text; `time_ns` of malformed datagrams is the u64
//! stored as i64 (same bits).
//!
//! # Threads
//!
//! One connection behind a mutex; every operation runs on Tokio's blocking pool
//! (`spawn_blocking`), so a Tokio runtime must be running. Frames are encoded on the calling
//! task before the blocking part (about 9 ms for 30 000 frames; inside `block_in_place` on a
//! multi-thread runtime, so other tasks move to other workers), and decoded on the blocking
//! pool.
//!
//! New files get 16 KiB pages (telemetry blobs of a few MB write about twice as fast as with
//! 4 KiB pages).

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};

use super::codec::{self, Channel, Columns, EncodedFrames};
use super::encoding_of;
use super::rows::{
    LapRow, SessionRow, UserRow, invalid_reason_json, parse_track_map, suggestions_json, tags_json,
    track_map_json,
};
use super::{
    ChatMessage, ChatMessageId, ChatRole, LapFields, LapId, LapOrigin, LapRecord, LapUpdate, Lease,
    LeaseOutcome, MalformedDatagram, NewSession, NewUser, Put, Result, Session, SessionId,
    SessionUpdate, Store, StoreError, TokenHash, User, UserId, now_ms,
};
use crate::lap::Lap;
use crate::telemetry::Frame;
use crate::track::TrackMap;

/// Schema version 1: everything.
const SCHEMA_V1: &str = "
CREATE TABLE sessions (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    name         TEXT    NOT NULL,
    source       TEXT    NOT NULL CHECK (source IN ('live', 'demo', 'import')),
    status       TEXT    NOT NULL CHECK (status IN ('active', 'paused', 'archived')),
    car          TEXT    NOT NULL DEFAULT '',
    driver       TEXT    NOT NULL DEFAULT '',
    track        TEXT    NOT NULL DEFAULT '',
    track_config TEXT    NOT NULL DEFAULT '',
    tags         TEXT    NOT NULL DEFAULT '[]',
    created_ms   INTEGER NOT NULL,
    updated_ms   INTEGER NOT NULL
);

CREATE TABLE laps (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id       INTEGER NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    stint            INTEGER NOT NULL,
    number           INTEGER NOT NULL,
    kind             TEXT    NOT NULL CHECK (kind IN ('out', 'flying', 'in', 'partial')),
    valid            INTEGER NOT NULL CHECK (valid = (invalid_reason IS NULL)),
    invalid_reason   TEXT,
    official_time_ms INTEGER,
    frame_count      INTEGER NOT NULL,
    in_progress      INTEGER NOT NULL DEFAULT 0 CHECK (in_progress IN (0, 1)),
    tags             TEXT    NOT NULL DEFAULT '[]',
    comments         TEXT    NOT NULL DEFAULT '',
    analyzed         INTEGER NOT NULL DEFAULT 0,
    suggestions      TEXT,
    created_ms       INTEGER NOT NULL
);
CREATE INDEX laps_by_session ON laps (session_id, stint, number, id);
-- At most one lap in progress per session.
CREATE UNIQUE INDEX laps_one_checkpoint ON laps (session_id) WHERE in_progress = 1;

CREATE TABLE lap_telemetry (
    lap_id    INTEGER PRIMARY KEY REFERENCES laps (id) ON DELETE CASCADE,
    principal BLOB NOT NULL,
    rest      BLOB NOT NULL
);

CREATE TABLE chat_messages (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    lap_id     INTEGER NOT NULL REFERENCES laps (id) ON DELETE CASCADE,
    role       TEXT    NOT NULL CHECK (role IN ('user', 'assistant')),
    content    TEXT    NOT NULL,
    created_ms INTEGER NOT NULL
);
CREATE INDEX chat_messages_by_lap ON chat_messages (lap_id, id);

CREATE TABLE malformed_datagrams (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id INTEGER NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    time_ns    INTEGER NOT NULL,
    bytes      BLOB    NOT NULL
);
CREATE INDEX malformed_datagrams_by_session ON malformed_datagrams (session_id, id);
";

/// Page size of new databases, bytes.
const PAGE_SIZE: i64 = 16_384;

/// Schema version 2: a lap's time has a source (`official`, or `telemetry` for a lap that ran
/// line to line); the column says time, not official time.
const SCHEMA_V2: &str = "
ALTER TABLE laps RENAME COLUMN official_time_ms TO time_ms;
ALTER TABLE laps ADD COLUMN time_source TEXT
    CHECK (time_source IS NULL OR time_source IN ('official', 'telemetry'));
UPDATE laps SET time_source = 'official' WHERE time_ms IS NOT NULL;
";

/// Schema version 3: sessions can be `completed`; a lap knows how it came in (`recorded`,
/// or `posted` to the API). SQLite cannot change a CHECK: the sessions table is rebuilt
/// (with foreign keys off, see [`migrate`]).
const SCHEMA_V3: &str = "
CREATE TABLE sessions_v3 (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    name         TEXT    NOT NULL,
    source       TEXT    NOT NULL CHECK (source IN ('live', 'demo', 'import')),
    status       TEXT    NOT NULL
                 CHECK (status IN ('active', 'paused', 'completed', 'archived')),
    car          TEXT    NOT NULL DEFAULT '',
    driver       TEXT    NOT NULL DEFAULT '',
    track        TEXT    NOT NULL DEFAULT '',
    track_config TEXT    NOT NULL DEFAULT '',
    tags         TEXT    NOT NULL DEFAULT '[]',
    created_ms   INTEGER NOT NULL,
    updated_ms   INTEGER NOT NULL
);
INSERT INTO sessions_v3 SELECT * FROM sessions;
DROP TABLE sessions;
ALTER TABLE sessions_v3 RENAME TO sessions;
ALTER TABLE laps ADD COLUMN origin TEXT NOT NULL DEFAULT 'recorded'
    CHECK (origin IN ('recorded', 'posted'));
";

/// Schema version 4: accounts (users with a role and the hash of their token), owners of
/// sessions and laps, and leases (one recorder per game session across processes).
const SCHEMA_V4: &str = "
CREATE TABLE users (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    name       TEXT    NOT NULL UNIQUE,
    role       TEXT    NOT NULL CHECK (role IN ('driver', 'engineer', 'admin')),
    token_hash BLOB    NOT NULL UNIQUE CHECK (length(token_hash) = 32),
    created_ms INTEGER NOT NULL,
    revoked_ms INTEGER
);
CREATE TABLE leases (
    key        TEXT    PRIMARY KEY,
    holder     TEXT    NOT NULL,
    session_id INTEGER,
    expires_ms INTEGER NOT NULL
);
ALTER TABLE sessions ADD COLUMN owner TEXT;
ALTER TABLE laps ADD COLUMN owner TEXT;
";

/// Schema version 5: track maps, one per track and layout, as JSON (see
/// [`crate::track::TrackMap`]).
const SCHEMA_V5: &str = "
CREATE TABLE track_maps (
    track      TEXT    NOT NULL,
    config     TEXT    NOT NULL,
    map        TEXT    NOT NULL,
    created_ms INTEGER NOT NULL,
    PRIMARY KEY (track, config)
);
";

/// Migrations: entry `k` takes the schema from version `k` to `k + 1`.
const MIGRATIONS: [&str; 5] = [SCHEMA_V1, SCHEMA_V2, SCHEMA_V3, SCHEMA_V4, SCHEMA_V5];

const SESSION_COLUMNS: &str = "id, name, source, status, car, driver, track, track_config, tags, \
     created_ms, updated_ms, owner";
const LAP_COLUMNS: &str = "id, session_id, stint, number, kind, invalid_reason, time_ms, \
     frame_count, in_progress, tags, comments, analyzed, suggestions, created_ms, time_source, \
     origin, owner";
const USER_COLUMNS: &str = "id, name, role, token_hash, created_ms, revoked_ms";

/// The [`Store`] on a SQLite file (see the module docs for durability and schema).
#[derive(Debug, Clone)]
pub struct SqliteStore {
    conn: Arc<Mutex<Connection>>,
    path: Option<PathBuf>,
}

impl SqliteStore {
    /// The schema version this build writes (`PRAGMA user_version`).
    pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

    /// Opens the database file, creating it and its directory if needed, and migrates it to
    /// [`Self::SCHEMA_VERSION`]. Blocks while it does (once, at start-up).
    pub fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| StoreError::Io {
                path: dir.to_path_buf(),
                source,
            })?;
        }
        let conn = Connection::open(path)?;
        Self::setup(conn, Some(path.to_path_buf()))
    }

    /// A database in memory (no WAL, nothing survives the store).
    pub fn open_in_memory() -> Result<Self> {
        Self::setup(Connection::open_in_memory()?, None)
    }

    /// The database file, `None` in memory.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    fn setup(mut conn: Connection, path: Option<PathBuf>) -> Result<Self> {
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        // Refuse a newer schema before changing anything in the file.
        let version: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
        if version > Self::SCHEMA_VERSION {
            return Err(StoreError::SchemaTooNew {
                found: version,
                supported: Self::SCHEMA_VERSION,
            });
        }
        if version == 0 {
            // A new database: bigger pages suit the telemetry blobs (measured: a 4.3 MB lap
            // writes in about half the time of 4 KiB pages). Ignored on a file with content.
            conn.pragma_update(None, "page_size", PAGE_SIZE)?;
        }
        let _mode: String =
            conn.pragma_update_and_check(None, "journal_mode", "WAL", |r| r.get(0))?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", true)?;
        migrate(&mut conn)?;
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
            path,
        })
    }

    /// Runs `f` with the connection on the blocking pool.
    async fn run<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T> + Send + 'static,
    {
        let conn = Arc::clone(&self.conn);
        tokio::task::spawn_blocking(move || {
            // A panic mid-transaction rolled it back (the transaction's drop): the
            // connection is usable.
            let mut conn = conn.lock().unwrap_or_else(PoisonError::into_inner);
            f(&mut conn)
        })
        .await
        .map_err(|source| StoreError::Task { source })?
    }

    async fn store_lap(
        &self,
        session: SessionId,
        lap: &Lap,
        in_progress: bool,
        origin: Option<(LapOrigin, Option<String>)>,
        durability: Durability,
        encoded: Option<EncodedFrames>,
    ) -> Result<LapRecord> {
        let fields = LapFields::new(lap, in_progress)?;
        let encoded = encoding_of(lap, encoded, || encode_off_the_reactor(&lap.frames))?;
        self.run(move |conn| match durability {
            Durability::Deferred => write_lap(conn, session, fields, &encoded, origin),
            Durability::Synced => {
                // Sync the WAL for this commit only (see the module docs).
                conn.pragma_update(None, "synchronous", "FULL")?;
                let result = write_lap(conn, session, fields, &encoded, origin);
                conn.pragma_update(None, "synchronous", "NORMAL")?;
                result
            }
        })
        .await
    }
}

/// Whether a lap's commit waits for the disk.
#[derive(Debug, Clone, Copy)]
enum Durability {
    /// The WAL is synced before the commit returns.
    Synced,
    /// Left to the next synced commit or checkpoint (a checkpoint of the lap in progress,
    /// a bulk write ended by [`Store::sync`]).
    Deferred,
}

/// Encodes frames (milliseconds of CPU for a long lap) without stalling other tasks: on a
/// multi-thread runtime the worker hands its other tasks over while it encodes
/// (`block_in_place`); elsewhere (a current-thread runtime) it encodes in place. Either way
/// the frames are not copied.
fn encode_off_the_reactor(frames: &[Frame]) -> Result<EncodedFrames> {
    let encode = || codec::encode(frames).map_err(StoreError::Codec);
    match tokio::runtime::Handle::try_current() {
        Ok(handle) if handle.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(encode)
        }
        _ => encode(),
    }
}

fn migrate(conn: &mut Connection) -> Result<()> {
    // A migration may rebuild a table that others reference: with foreign keys on, dropping
    // it would delete their rows. The pragma has no effect inside a transaction.
    conn.pragma_update(None, "foreign_keys", false)?;
    let migrated = migrate_in_transaction(conn);
    conn.pragma_update(None, "foreign_keys", true)?;
    migrated
}

fn migrate_in_transaction(conn: &mut Connection) -> Result<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let version: i64 = tx.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if version > SqliteStore::SCHEMA_VERSION {
        return Err(StoreError::SchemaTooNew {
            found: version,
            supported: SqliteStore::SCHEMA_VERSION,
        });
    }
    for (from, script) in MIGRATIONS.iter().enumerate() {
        if (from as i64) >= version {
            tx.execute_batch(script)?;
            tracing::info!(from, to = from + 1, "migrated the store's schema");
        }
    }
    tx.pragma_update(None, "user_version", SqliteStore::SCHEMA_VERSION)?;
    let broken: Option<String> = tx
        .prepare("PRAGMA foreign_key_check")?
        .query_row([], |r| r.get(0))
        .optional()?;
    if let Some(table) = broken {
        tracing::warn!("foreign keys of table {table} are broken after the migration");
    }
    tx.commit()?;
    Ok(())
}

fn session_exists(tx: &Connection, id: SessionId) -> Result<()> {
    let found: Option<i64> = tx
        .prepare_cached("SELECT 1 FROM sessions WHERE id = ?1")?
        .query_row([id.0], |r| r.get(0))
        .optional()?;
    found.map(|_| ()).ok_or(StoreError::SessionNotFound { id })
}

fn lap_exists(tx: &Connection, id: LapId) -> Result<()> {
    let found: Option<i64> = tx
        .prepare_cached("SELECT 1 FROM laps WHERE id = ?1")?
        .query_row([id.0], |r| r.get(0))
        .optional()?;
    found.map(|_| ()).ok_or(StoreError::LapNotFound { id })
}

fn session_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<SessionRow> {
    Ok(SessionRow {
        id: r.get(0)?,
        name: r.get(1)?,
        source: r.get(2)?,
        status: r.get(3)?,
        car: r.get(4)?,
        driver: r.get(5)?,
        track: r.get(6)?,
        track_config: r.get(7)?,
        tags: r.get(8)?,
        created_ms: r.get(9)?,
        updated_ms: r.get(10)?,
        owner: r.get(11)?,
    })
}

fn lap_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<LapRow> {
    Ok(LapRow {
        id: r.get(0)?,
        session_id: r.get(1)?,
        stint: r.get(2)?,
        number: r.get(3)?,
        kind: r.get(4)?,
        invalid_reason: r.get(5)?,
        time_ms: r.get(6)?,
        frame_count: r.get(7)?,
        in_progress: r.get(8)?,
        tags: r.get(9)?,
        comments: r.get(10)?,
        analyzed: r.get(11)?,
        suggestions: r.get(12)?,
        created_ms: r.get(13)?,
        time_source: r.get(14)?,
        origin: r.get(15)?,
        owner: r.get(16)?,
    })
}

fn user_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<UserRow> {
    Ok(UserRow {
        id: r.get(0)?,
        name: r.get(1)?,
        role: r.get(2)?,
        token_hash: r.get(3)?,
        created_ms: r.get(4)?,
        revoked_ms: r.get(5)?,
    })
}

fn read_session(conn: &Connection, id: SessionId) -> Result<Session> {
    conn.prepare_cached(&format!(
        "SELECT {SESSION_COLUMNS} FROM sessions WHERE id = ?1"
    ))?
    .query_row([id.0], session_row)
    .optional()?
    .ok_or(StoreError::SessionNotFound { id })?
    .into_session()
}

fn read_lap(conn: &Connection, id: LapId) -> Result<LapRecord> {
    conn.prepare_cached(&format!("SELECT {LAP_COLUMNS} FROM laps WHERE id = ?1"))?
        .query_row([id.0], lap_row)
        .optional()?
        .ok_or(StoreError::LapNotFound { id })?
        .into_record()
}

fn checkpoint_id(tx: &Transaction<'_>, session: SessionId) -> Result<Option<LapId>> {
    Ok(tx
        .prepare_cached("SELECT id FROM laps WHERE session_id = ?1 AND in_progress = 1")?
        .query_row([session.0], |r| r.get(0))
        .optional()?
        .map(LapId))
}

/// Writes a lap into the session's checkpoint row, or a new row; one transaction. With an
/// `origin` (laps from elsewhere), always a new row, and never a lap number the session has.
fn write_lap(
    conn: &mut Connection,
    session: SessionId,
    fields: LapFields,
    encoded: &EncodedFrames,
    origin: Option<(LapOrigin, Option<String>)>,
) -> Result<LapRecord> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let session_owner: Option<String> = tx
        .prepare_cached("SELECT owner FROM sessions WHERE id = ?1")?
        .query_row([session.0], |r| r.get(0))
        .optional()?
        .ok_or(StoreError::SessionNotFound { id: session })?;
    if fields.in_progress {
        tx.prepare_cached("UPDATE sessions SET updated_ms = max(updated_ms, ?2) WHERE id = ?1")?
            .execute(params![session.0, now_ms()])?;
    }
    if origin.is_some() {
        let taken: bool = tx
            .prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM laps WHERE session_id = ?1 AND stint = ?2 AND number = ?3)",
            )?
            .query_row(params![session.0, fields.stint, fields.number], |r| r.get(0))?;
        if taken {
            return Err(StoreError::LapNumberTaken {
                session,
                stint: fields.stint,
                number: fields.number,
            });
        }
    }
    let checkpoint = if origin.is_some() {
        None
    } else {
        checkpoint_id(&tx, session)?
    };
    let invalid_reason = invalid_reason_json(fields.invalid_reason);
    let (origin, owner) = match origin {
        Some((origin, owner)) => (origin, owner),
        None => (LapOrigin::Recorded, session_owner),
    };
    let id = match checkpoint {
        Some(id) => {
            tx.prepare_cached(
                "UPDATE laps SET stint = ?2, number = ?3, kind = ?4, valid = ?5,
                     invalid_reason = ?6, time_ms = ?7, frame_count = ?8,
                     in_progress = ?9, time_source = ?10
                 WHERE id = ?1",
            )?
            .execute(params![
                id.0,
                fields.stint,
                fields.number,
                fields.kind.as_str(),
                fields.invalid_reason.is_none(),
                invalid_reason,
                fields.time.map(|t| t.ms),
                fields.frame_count,
                fields.in_progress,
                fields.time.map(|t| t.source.as_str()),
            ])?;
            tx.prepare_cached(
                "UPDATE lap_telemetry SET principal = ?2, rest = ?3 WHERE lap_id = ?1",
            )?
            .execute(params![id.0, encoded.principal, encoded.rest])?;
            id
        }
        None => {
            tx.prepare_cached(
                "INSERT INTO laps (session_id, stint, number, kind, valid, invalid_reason,
                     time_ms, frame_count, in_progress, created_ms, time_source, origin, owner)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
            )?
            .execute(params![
                session.0,
                fields.stint,
                fields.number,
                fields.kind.as_str(),
                fields.invalid_reason.is_none(),
                invalid_reason,
                fields.time.map(|t| t.ms),
                fields.frame_count,
                fields.in_progress,
                now_ms(),
                fields.time.map(|t| t.source.as_str()),
                origin.as_str(),
                owner,
            ])?;
            let id = LapId(tx.last_insert_rowid());
            tx.prepare_cached(
                "INSERT INTO lap_telemetry (lap_id, principal, rest) VALUES (?1, ?2, ?3)",
            )?
            .execute(params![id.0, encoded.principal, encoded.rest])?;
            id
        }
    };
    let record = read_lap(&tx, id)?;
    tx.commit()?;
    Ok(record)
}

/// Reads a lap's blobs and decodes them (both, or the principal one).
fn read_frames(conn: &Connection, id: LapId, full: bool) -> Result<Vec<Frame>> {
    read_telemetry(conn, id, full, |principal, rest| match rest {
        Some(rest) => codec::decode(principal, rest),
        None => codec::decode_principal(principal),
    })
}

/// Reads a lap's principal blob, and the rest blob when `full`, and decodes them with
/// `decode` straight from SQLite's buffers.
fn read_telemetry<T>(
    conn: &Connection,
    id: LapId,
    full: bool,
    decode: impl FnOnce(&[u8], Option<&[u8]>) -> std::result::Result<T, codec::CodecError>,
) -> Result<T> {
    let sql = if full {
        "SELECT principal, rest FROM lap_telemetry WHERE lap_id = ?1"
    } else {
        "SELECT principal FROM lap_telemetry WHERE lap_id = ?1"
    };
    let corrupt = |column| StoreError::CorruptRow {
        table: "lap_telemetry",
        id: id.0,
        column,
    };
    conn.prepare_cached(sql)?
        .query_row([id.0], |r| {
            let Ok(principal) = r.get_ref(0)?.as_blob() else {
                return Ok(Err(corrupt("principal")));
            };
            let rest = if full {
                match r.get_ref(1)?.as_blob() {
                    Ok(rest) => Some(rest),
                    Err(_) => return Ok(Err(corrupt("rest"))),
                }
            } else {
                None
            };
            Ok(decode(principal, rest)
                .map_err(|source| StoreError::CorruptTelemetry { lap: id, source }))
        })
        .optional()?
        .ok_or(StoreError::LapNotFound { id })?
}

#[async_trait]
impl Store for SqliteStore {
    async fn create_session(&self, new: NewSession) -> Result<Session> {
        self.run(move |conn| {
            let mut session = new.into_session(SessionId(0), now_ms());
            conn.prepare_cached(
                "INSERT INTO sessions (name, source, status, car, driver, track, track_config,
                     tags, created_ms, updated_ms, owner)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9, ?10)",
            )?
            .execute(params![
                session.name,
                session.source.as_str(),
                session.status.as_str(),
                session.car,
                session.driver,
                session.track,
                session.track_config,
                tags_json(&session.tags),
                session.created_ms,
                session.owner,
            ])?;
            session.id = SessionId(conn.last_insert_rowid());
            Ok(session)
        })
        .await
    }

    async fn get_session(&self, id: SessionId) -> Result<Session> {
        self.run(move |conn| read_session(conn, id)).await
    }

    async fn list_sessions(&self) -> Result<Vec<Session>> {
        self.run(|conn| {
            let rows = conn
                .prepare_cached(&format!(
                    "SELECT {SESSION_COLUMNS} FROM sessions ORDER BY id"
                ))?
                .query_map([], session_row)?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            rows.into_iter().map(SessionRow::into_session).collect()
        })
        .await
    }

    async fn update_session(&self, id: SessionId, update: SessionUpdate) -> Result<Session> {
        self.run(move |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let mut session = read_session(&tx, id)?;
            update.apply(&mut session, now_ms());
            tx.prepare_cached(
                "UPDATE sessions SET name = ?2, status = ?3, car = ?4, driver = ?5, track = ?6,
                     track_config = ?7, tags = ?8, updated_ms = ?9
                 WHERE id = ?1",
            )?
            .execute(params![
                id.0,
                session.name,
                session.status.as_str(),
                session.car,
                session.driver,
                session.track,
                session.track_config,
                tags_json(&session.tags),
                session.updated_ms,
            ])?;
            tx.commit()?;
            Ok(session)
        })
        .await
    }

    async fn delete_session(&self, id: SessionId) -> Result<()> {
        self.run(move |conn| {
            let deleted = conn
                .prepare_cached("DELETE FROM sessions WHERE id = ?1")?
                .execute([id.0])?;
            if deleted == 0 {
                return Err(StoreError::SessionNotFound { id });
            }
            Ok(())
        })
        .await
    }

    async fn save_lap(&self, session: SessionId, lap: &Lap) -> Result<LapRecord> {
        self.store_lap(session, lap, false, None, Durability::Synced, None)
            .await
    }

    async fn save_lap_unsynced(&self, session: SessionId, lap: &Lap) -> Result<LapRecord> {
        self.store_lap(session, lap, false, None, Durability::Deferred, None)
            .await
    }

    async fn save_encoded_lap_unsynced(
        &self,
        session: SessionId,
        lap: &Lap,
        encoded: EncodedFrames,
    ) -> Result<LapRecord> {
        let deferred = Durability::Deferred;
        self.store_lap(session, lap, false, None, deferred, Some(encoded))
            .await
    }

    async fn sync(&self) -> Result<()> {
        // With `synchronous = NORMAL` a checkpoint syncs the WAL before it copies it into
        // the database, and the database after; FULL waits (the busy timeout) for readers
        // so that it copies everything.
        self.run(|conn| {
            conn.query_row("PRAGMA wal_checkpoint(FULL)", [], |_| Ok(()))?;
            Ok(())
        })
        .await
    }

    async fn checkpoint_lap(&self, session: SessionId, lap: &Lap) -> Result<LapRecord> {
        self.store_lap(session, lap, true, None, Durability::Deferred, None)
            .await
    }

    async fn add_lap(
        &self,
        session: SessionId,
        lap: &Lap,
        origin: LapOrigin,
        owner: Option<&str>,
    ) -> Result<LapRecord> {
        self.store_lap(
            session,
            lap,
            false,
            Some((origin, owner.map(str::to_owned))),
            Durability::Synced,
            None,
        )
        .await
    }

    async fn close_checkpoint(&self, session: SessionId) -> Result<Option<LapRecord>> {
        self.run(move |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            session_exists(&tx, session)?;
            let Some(id) = checkpoint_id(&tx, session)? else {
                return Ok(None);
            };
            tx.prepare_cached("UPDATE laps SET in_progress = 0 WHERE id = ?1")?
                .execute([id.0])?;
            let record = read_lap(&tx, id)?;
            tx.commit()?;
            Ok(Some(record))
        })
        .await
    }

    async fn get_lap(&self, id: LapId) -> Result<LapRecord> {
        self.run(move |conn| read_lap(conn, id)).await
    }

    async fn list_laps(&self, session: Option<SessionId>) -> Result<Vec<LapRecord>> {
        self.run(move |conn| {
            let tx = conn.transaction()?;
            let rows = match session {
                Some(id) => {
                    session_exists(&tx, id)?;
                    tx.prepare_cached(&format!(
                        "SELECT {LAP_COLUMNS} FROM laps WHERE session_id = ?1
                         ORDER BY stint, number, id"
                    ))?
                    .query_map([id.0], lap_row)?
                    .collect::<rusqlite::Result<Vec<_>>>()?
                }
                None => tx
                    .prepare_cached(&format!(
                        "SELECT {LAP_COLUMNS} FROM laps ORDER BY session_id, stint, number, id"
                    ))?
                    .query_map([], lap_row)?
                    .collect::<rusqlite::Result<Vec<_>>>()?,
            };
            drop(tx);
            rows.into_iter().map(LapRow::into_record).collect()
        })
        .await
    }

    async fn lap_frames(&self, id: LapId) -> Result<Vec<Frame>> {
        self.run(move |conn| read_frames(conn, id, true)).await
    }

    async fn lap_principal_frames(&self, id: LapId) -> Result<Vec<Frame>> {
        self.run(move |conn| read_frames(conn, id, false)).await
    }

    async fn lap_columns(&self, id: LapId, channels: &[Channel]) -> Result<Columns> {
        let channels = channels.to_vec();
        self.run(move |conn| {
            read_telemetry(conn, id, false, |principal, _| {
                codec::decode_columns(principal, &channels)
            })
        })
        .await
    }

    async fn update_lap(&self, id: LapId, update: LapUpdate) -> Result<LapRecord> {
        self.run(move |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let mut lap = read_lap(&tx, id)?;
            update.apply(&mut lap);
            tx.prepare_cached(
                "UPDATE laps SET tags = ?2, comments = ?3, analyzed = ?4, suggestions = ?5
                 WHERE id = ?1",
            )?
            .execute(params![
                id.0,
                tags_json(&lap.tags),
                lap.comments,
                lap.analyzed,
                suggestions_json(&lap)?,
            ])?;
            tx.commit()?;
            Ok(lap)
        })
        .await
    }

    async fn delete_lap(&self, id: LapId) -> Result<()> {
        self.run(move |conn| {
            let deleted = conn
                .prepare_cached("DELETE FROM laps WHERE id = ?1")?
                .execute([id.0])?;
            if deleted == 0 {
                return Err(StoreError::LapNotFound { id });
            }
            Ok(())
        })
        .await
    }

    async fn add_chat_message(
        &self,
        lap: LapId,
        role: ChatRole,
        content: String,
    ) -> Result<ChatMessage> {
        self.run(move |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            lap_exists(&tx, lap)?;
            let now = now_ms();
            tx.prepare_cached(
                "INSERT INTO chat_messages (lap_id, role, content, created_ms)
                 VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![lap.0, role.as_str(), content, now])?;
            let id = ChatMessageId(tx.last_insert_rowid());
            tx.commit()?;
            Ok(ChatMessage {
                id,
                lap,
                role,
                content,
                created_ms: now,
            })
        })
        .await
    }

    async fn list_chat_messages(&self, lap: LapId) -> Result<Vec<ChatMessage>> {
        self.run(move |conn| {
            let tx = conn.transaction()?;
            lap_exists(&tx, lap)?;
            let rows = tx
                .prepare_cached(
                    "SELECT id, role, content, created_ms FROM chat_messages
                     WHERE lap_id = ?1 ORDER BY id",
                )?
                .query_map([lap.0], |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, i64>(3)?,
                    ))
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            drop(tx);
            rows.into_iter()
                .map(|(id, role, content, created_ms)| {
                    Ok(ChatMessage {
                        id: ChatMessageId(id),
                        lap,
                        role: ChatRole::parse(&role).ok_or(StoreError::CorruptRow {
                            table: "chat_messages",
                            id,
                            column: "role",
                        })?,
                        content,
                        created_ms,
                    })
                })
                .collect()
        })
        .await
    }

    async fn save_malformed(&self, session: SessionId, time_ns: u64, bytes: &[u8]) -> Result<()> {
        let bytes = bytes.to_vec();
        self.run(move |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            session_exists(&tx, session)?;
            tx.prepare_cached(
                "INSERT INTO malformed_datagrams (session_id, time_ns, bytes) VALUES (?1, ?2, ?3)",
            )?
            .execute(params![session.0, time_ns as i64, bytes])?;
            tx.commit()?;
            Ok(())
        })
        .await
    }

    async fn count_malformed(&self, session: SessionId) -> Result<u64> {
        self.run(move |conn| {
            let tx = conn.transaction()?;
            session_exists(&tx, session)?;
            let count: i64 = tx
                .prepare_cached("SELECT COUNT(*) FROM malformed_datagrams WHERE session_id = ?1")?
                .query_row([session.0], |r| r.get(0))?;
            Ok(u64::try_from(count).unwrap_or(0))
        })
        .await
    }

    async fn list_malformed(&self, session: SessionId) -> Result<Vec<MalformedDatagram>> {
        self.run(move |conn| {
            let tx = conn.transaction()?;
            session_exists(&tx, session)?;
            let rows = tx
                .prepare_cached(
                    "SELECT time_ns, bytes FROM malformed_datagrams WHERE session_id = ?1
                     ORDER BY id",
                )?
                .query_map([session.0], |r| {
                    Ok(MalformedDatagram {
                        session,
                        time_ns: r.get::<_, i64>(0)? as u64,
                        bytes: r.get(1)?,
                    })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        })
        .await
    }

    async fn add_user(&self, new: NewUser) -> Result<User> {
        self.run(move |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            if name_taken(&tx, &new.name)? {
                return Err(StoreError::UserExists { name: new.name });
            }
            let now = now_ms();
            tx.prepare_cached(
                "INSERT INTO users (name, role, token_hash, created_ms) VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![
                new.name,
                new.role.as_str(),
                new.token_hash.0.as_slice(),
                now
            ])?;
            let id = UserId(tx.last_insert_rowid());
            tx.commit()?;
            Ok(User {
                id,
                name: new.name,
                role: new.role,
                token_hash: new.token_hash,
                created_ms: now,
                revoked_ms: None,
            })
        })
        .await
    }

    async fn list_users(&self) -> Result<Vec<User>> {
        self.run(|conn| {
            let rows = conn
                .prepare_cached(&format!("SELECT {USER_COLUMNS} FROM users ORDER BY id"))?
                .query_map([], user_row)?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            rows.into_iter().map(UserRow::into_user).collect()
        })
        .await
    }

    async fn revoke_user(&self, name: &str) -> Result<User> {
        let name = name.to_owned();
        self.run(move |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            tx.prepare_cached(
                "UPDATE users SET revoked_ms = coalesce(revoked_ms, ?2) WHERE name = ?1",
            )?
            .execute(params![name, now_ms()])?;
            let row = tx
                .prepare_cached(&format!("SELECT {USER_COLUMNS} FROM users WHERE name = ?1"))?
                .query_row([&name], user_row)
                .optional()?
                .ok_or(StoreError::UserNotFound { name })?;
            tx.commit()?;
            row.into_user()
        })
        .await
    }

    async fn user_by_token(&self, hash: &TokenHash) -> Result<Option<User>> {
        let hash = *hash;
        self.run(move |conn| {
            conn.prepare_cached(&format!(
                "SELECT {USER_COLUMNS} FROM users WHERE token_hash = ?1 AND revoked_ms IS NULL"
            ))?
            .query_row([hash.0.as_slice()], user_row)
            .optional()?
            .map(UserRow::into_user)
            .transpose()
        })
        .await
    }

    async fn acquire_lease(&self, key: &str, holder: &str, ttl_ms: i64) -> Result<LeaseOutcome> {
        let (key, holder) = (key.to_owned(), holder.to_owned());
        self.run(move |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let now = now_ms();
            let current = tx
                .prepare_cached(
                    "SELECT key, holder, session_id, expires_ms FROM leases WHERE key = ?1",
                )?
                .query_row([&key], |r| {
                    Ok(Lease {
                        key: r.get(0)?,
                        holder: r.get(1)?,
                        session: r.get::<_, Option<i64>>(2)?.map(SessionId),
                        expires_ms: r.get(3)?,
                    })
                })
                .optional()?;
            let (taken_over, session) = match current {
                Some(lease) if lease.holder == holder => (None, lease.session),
                Some(lease) if lease.expires_ms > now => return Ok(LeaseOutcome::Held(lease)),
                lapsed => (lapsed, None),
            };
            tx.prepare_cached(
                "INSERT INTO leases (key, holder, session_id, expires_ms) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (key) DO UPDATE SET holder = excluded.holder,
                     session_id = excluded.session_id, expires_ms = excluded.expires_ms",
            )?
            .execute(params![key, holder, session.map(|s| s.0), now + ttl_ms])?;
            tx.commit()?;
            Ok(LeaseOutcome::Acquired { taken_over })
        })
        .await
    }

    async fn renew_lease(
        &self,
        key: &str,
        holder: &str,
        ttl_ms: i64,
        session: Option<SessionId>,
    ) -> Result<bool> {
        let (key, holder) = (key.to_owned(), holder.to_owned());
        self.run(move |conn| {
            let renewed = conn
                .prepare_cached(
                    "UPDATE leases SET expires_ms = ?3, session_id = ?4
                     WHERE key = ?1 AND holder = ?2",
                )?
                .execute(params![
                    key,
                    holder,
                    now_ms() + ttl_ms,
                    session.map(|s| s.0)
                ])?;
            Ok(renewed == 1)
        })
        .await
    }

    async fn release_lease(&self, key: &str, holder: &str) -> Result<()> {
        let (key, holder) = (key.to_owned(), holder.to_owned());
        self.run(move |conn| {
            conn.prepare_cached("DELETE FROM leases WHERE key = ?1 AND holder = ?2")?
                .execute(params![key, holder])?;
            Ok(())
        })
        .await
    }

    async fn put_session(&self, session: &Session) -> Result<Put> {
        let session = session.clone();
        self.run(move |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            match read_session(&tx, session.id) {
                Ok(there) if there == session => return Ok(Put::AlreadyThere),
                Ok(_) => {
                    return Err(StoreError::Conflict {
                        table: "sessions",
                        id: session.id.0,
                    });
                }
                Err(StoreError::SessionNotFound { .. }) => {}
                Err(e) => return Err(e),
            }
            tx.prepare_cached(&format!(
                "INSERT INTO sessions ({SESSION_COLUMNS})
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)"
            ))?
            .execute(params![
                session.id.0,
                session.name,
                session.source.as_str(),
                session.status.as_str(),
                session.car,
                session.driver,
                session.track,
                session.track_config,
                tags_json(&session.tags),
                session.created_ms,
                session.updated_ms,
                session.owner,
            ])?;
            tx.commit()?;
            Ok(Put::Inserted)
        })
        .await
    }

    async fn put_lap(&self, lap: &LapRecord, frames: &[Frame]) -> Result<Put> {
        let lap = lap.clone();
        let encoded = encode_off_the_reactor(frames)?;
        self.run(move |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            session_exists(&tx, lap.session)?;
            match read_lap(&tx, lap.id) {
                Ok(there) if there == lap => return Ok(Put::AlreadyThere),
                Ok(_) => {
                    return Err(StoreError::Conflict {
                        table: "laps",
                        id: lap.id.0,
                    });
                }
                Err(StoreError::LapNotFound { .. }) => {}
                Err(e) => return Err(e),
            }
            tx.prepare_cached(&format!(
                "INSERT INTO laps ({LAP_COLUMNS}, valid) VALUES
                 (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)"
            ))?
            .execute(params![
                lap.id.0,
                lap.session.0,
                lap.stint,
                lap.number,
                lap.kind.as_str(),
                invalid_reason_json(lap.invalid_reason),
                lap.time.map(|t| t.ms),
                lap.frame_count,
                lap.in_progress,
                tags_json(&lap.tags),
                lap.comments,
                lap.analyzed,
                suggestions_json(&lap)?,
                lap.created_ms,
                lap.time.map(|t| t.source.as_str()),
                lap.origin.as_str(),
                lap.owner,
                lap.invalid_reason.is_none(),
            ])?;
            tx.prepare_cached(
                "INSERT INTO lap_telemetry (lap_id, principal, rest) VALUES (?1, ?2, ?3)",
            )?
            .execute(params![lap.id.0, encoded.principal, encoded.rest])?;
            tx.commit()?;
            Ok(Put::Inserted)
        })
        .await
    }

    async fn put_chat_message(&self, message: &ChatMessage) -> Result<Put> {
        let message = message.clone();
        self.run(move |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            lap_exists(&tx, message.lap)?;
            let there = tx
                .prepare_cached(
                    "SELECT lap_id, role, content, created_ms FROM chat_messages WHERE id = ?1",
                )?
                .query_row([message.id.0], |r| {
                    Ok((
                        r.get::<_, i64>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                        r.get::<_, i64>(3)?,
                    ))
                })
                .optional()?;
            if let Some(there) = there {
                let same = there
                    == (
                        message.lap.0,
                        message.role.as_str().to_owned(),
                        message.content.clone(),
                        message.created_ms,
                    );
                return if same {
                    Ok(Put::AlreadyThere)
                } else {
                    Err(StoreError::Conflict {
                        table: "chat_messages",
                        id: message.id.0,
                    })
                };
            }
            tx.prepare_cached(
                "INSERT INTO chat_messages (id, lap_id, role, content, created_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![
                message.id.0,
                message.lap.0,
                message.role.as_str(),
                message.content,
                message.created_ms
            ])?;
            tx.commit()?;
            Ok(Put::Inserted)
        })
        .await
    }

    async fn put_user(&self, user: &User) -> Result<Put> {
        let user = user.clone();
        self.run(move |conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let there = tx
                .prepare_cached(&format!("SELECT {USER_COLUMNS} FROM users WHERE id = ?1"))?
                .query_row([user.id.0], user_row)
                .optional()?
                .map(UserRow::into_user)
                .transpose()?;
            match there {
                Some(there) if there == user => return Ok(Put::AlreadyThere),
                Some(_) => {
                    return Err(StoreError::Conflict {
                        table: "users",
                        id: user.id.0,
                    });
                }
                None if name_taken(&tx, &user.name)? => {
                    return Err(StoreError::UserExists { name: user.name });
                }
                None => {}
            }
            tx.prepare_cached(&format!(
                "INSERT INTO users ({USER_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
            ))?
            .execute(params![
                user.id.0,
                user.name,
                user.role.as_str(),
                user.token_hash.0.as_slice(),
                user.created_ms,
                user.revoked_ms
            ])?;
            tx.commit()?;
            Ok(Put::Inserted)
        })
        .await
    }

    async fn ping(&self) -> Result<()> {
        self.run(|conn| {
            conn.prepare_cached("SELECT 1")?.query_row([], |_| Ok(()))?;
            Ok(())
        })
        .await
    }

    async fn get_track_map(&self, track: &str, config: &str) -> Result<Option<TrackMap>> {
        let (track, config) = (track.to_owned(), config.to_owned());
        self.run(move |conn| {
            let text: Option<String> = conn
                .prepare_cached("SELECT map FROM track_maps WHERE track = ?1 AND config = ?2")?
                .query_row(params![track, config], |r| r.get(0))
                .optional()?;
            text.map(|t| parse_track_map(&t, &track, &config))
                .transpose()
        })
        .await
    }

    async fn save_track_map(&self, map: &TrackMap) -> Result<()> {
        let text = track_map_json(map)?;
        let (track, config) = (map.track.clone(), map.config.clone());
        self.run(move |conn| {
            conn.prepare_cached(
                "INSERT INTO track_maps (track, config, map, created_ms) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (track, config) DO UPDATE SET map = ?3, created_ms = ?4",
            )?
            .execute(params![track, config, text, now_ms()])?;
            Ok(())
        })
        .await
    }

    async fn list_track_maps(&self) -> Result<Vec<TrackMap>> {
        self.run(|conn| {
            let rows = conn
                .prepare_cached("SELECT track, config, map FROM track_maps ORDER BY track, config")?
                .query_map([], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, String>(1)?,
                        r.get::<_, String>(2)?,
                    ))
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            rows.iter()
                .map(|(track, config, text)| parse_track_map(text, track, config))
                .collect()
        })
        .await
    }

    async fn delete_track_map(&self, track: &str, config: &str) -> Result<bool> {
        let (track, config) = (track.to_owned(), config.to_owned());
        self.run(move |conn| {
            let deleted = conn
                .prepare_cached("DELETE FROM track_maps WHERE track = ?1 AND config = ?2")?
                .execute(params![track, config])?;
            Ok(deleted > 0)
        })
        .await
    }
}

fn name_taken(tx: &Connection, name: &str) -> Result<bool> {
    Ok(tx
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM users WHERE name = ?1)")?
        .query_row([name], |r| r.get(0))?)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::lap::LapTime;

    /// A version-1 file (lap times without a source) migrates: its timed laps are the game's.
    #[test]
    fn version_1_laps_keep_their_times_as_official() {
        let mut conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(SCHEMA_V1).unwrap();
        conn.pragma_update(None, "user_version", 1).unwrap();
        conn.execute_batch(
            "INSERT INTO sessions (name, source, status, created_ms, updated_ms)
                 VALUES ('old', 'live', 'active', 0, 0);
             INSERT INTO laps (session_id, stint, number, kind, valid, official_time_ms,
                 frame_count, created_ms) VALUES (1, 0, 2, 'flying', 1, 108633, 0, 0);
             INSERT INTO laps (session_id, stint, number, kind, valid, official_time_ms,
                 frame_count, created_ms) VALUES (1, 0, 3, 'partial', 1, NULL, 0, 0);",
        )
        .unwrap();
        migrate(&mut conn).unwrap();
        let laps: Vec<LapRecord> = conn
            .prepare(&format!("SELECT {LAP_COLUMNS} FROM laps ORDER BY id"))
            .unwrap()
            .query_map([], lap_row)
            .unwrap()
            .map(|row| row.unwrap().into_record().unwrap())
            .collect();
        assert_eq!(laps[0].time, Some(LapTime::official(108_633)));
        assert_eq!(laps[1].time, None);
        // A time without a source (edited by hand) is a corrupt row, not a guess.
        conn.execute("UPDATE laps SET time_source = NULL WHERE id = 1", [])
            .unwrap();
        let row = conn
            .query_row(
                &format!("SELECT {LAP_COLUMNS} FROM laps WHERE id = 1"),
                [],
                lap_row,
            )
            .unwrap();
        assert!(matches!(
            row.into_record(),
            Err(StoreError::CorruptRow {
                column: "time_source",
                ..
            })
        ));
    }

    #[test]
    fn schema_version_is_the_number_of_migrations() {
        assert_eq!(SqliteStore::SCHEMA_VERSION, 5);
        let store = SqliteStore::open_in_memory().unwrap();
        let conn = store.conn.lock().unwrap();
        let version: i64 = conn
            .pragma_query_value(None, "user_version", |r| r.get(0))
            .unwrap();
        assert_eq!(version, 5);
        let fk: bool = conn
            .pragma_query_value(None, "foreign_keys", |r| r.get(0))
            .unwrap();
        assert!(fk);
    }
}
