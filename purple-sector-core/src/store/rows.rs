//! Rows as the SQL stores read and write them: text columns checked on the way in, one
//! home for both SQLite and PostgreSQL.

use super::{
    LapId, LapOrigin, LapRecord, Result, Role, Session, SessionId, SessionSource, SessionStatus,
    StoreError, TokenHash, User, UserId,
};
use crate::lap::{InvalidReason, LapKind, LapTime, LapTimeSource};
use crate::track::TrackMap;

/// A track map as stored: its JSON.
pub(crate) fn track_map_json(map: &TrackMap) -> Result<String> {
    serde_json::to_string(map).map_err(|source| StoreError::UnencodableTrackMap {
        track: map.track.clone(),
        config: map.config.clone(),
        source,
    })
}

/// A stored map's JSON, read back; its key columns must agree with it.
pub(crate) fn parse_track_map(text: &str, track: &str, config: &str) -> Result<TrackMap> {
    serde_json::from_str::<TrackMap>(text)
        .ok()
        .filter(|m| m.track == track && m.config == config)
        .ok_or_else(|| StoreError::CorruptTrackMap {
            track: track.to_owned(),
            config: config.to_owned(),
        })
}

/// Tags as stored: a JSON array of strings.
pub(crate) fn tags_json(tags: &[String]) -> String {
    serde_json::Value::from(tags.to_vec()).to_string()
}

pub(crate) fn parse_tags(text: &str, table: &'static str, id: i64) -> Result<Vec<String>> {
    serde_json::from_str(text).map_err(|_| StoreError::CorruptRow {
        table,
        id,
        column: "tags",
    })
}

/// An invalid reason as stored: its JSON. Cannot fail for these plain enums (were it to,
/// the `valid` CHECK would refuse the row).
pub(crate) fn invalid_reason_json(reason: Option<InvalidReason>) -> Option<String> {
    reason.and_then(|r| serde_json::to_string(&r).ok())
}

/// Suggestions as stored: their JSON.
pub(crate) fn suggestions_json(lap: &LapRecord) -> Result<Option<String>> {
    lap.suggestions
        .as_ref()
        .map(serde_json::to_string)
        .transpose()
        .map_err(|source| StoreError::Unencodable {
            lap: lap.id,
            column: "suggestions",
            source,
        })
}

/// A session row as read, before its text columns are checked.
pub(crate) struct SessionRow {
    pub id: i64,
    pub name: String,
    pub source: String,
    pub status: String,
    pub car: String,
    pub driver: String,
    pub track: String,
    pub track_config: String,
    pub tags: String,
    pub created_ms: i64,
    pub updated_ms: i64,
    pub owner: Option<String>,
}

impl SessionRow {
    pub(crate) fn into_session(self) -> Result<Session> {
        let corrupt = |column| StoreError::CorruptRow {
            table: "sessions",
            id: self.id,
            column,
        };
        Ok(Session {
            id: SessionId(self.id),
            source: SessionSource::parse(&self.source).ok_or_else(|| corrupt("source"))?,
            status: SessionStatus::parse(&self.status).ok_or_else(|| corrupt("status"))?,
            tags: parse_tags(&self.tags, "sessions", self.id)?,
            name: self.name,
            car: self.car,
            driver: self.driver,
            track: self.track,
            track_config: self.track_config,
            created_ms: self.created_ms,
            updated_ms: self.updated_ms,
            owner: self.owner,
        })
    }
}

/// A lap row as read, before its text columns are checked.
pub(crate) struct LapRow {
    pub id: i64,
    pub session_id: i64,
    pub stint: i64,
    pub number: i64,
    pub kind: String,
    pub invalid_reason: Option<String>,
    pub time_ms: Option<i64>,
    pub time_source: Option<String>,
    pub origin: String,
    pub frame_count: i64,
    pub in_progress: bool,
    pub tags: String,
    pub comments: String,
    pub analyzed: bool,
    pub suggestions: Option<String>,
    pub created_ms: i64,
    pub owner: Option<String>,
}

impl LapRow {
    pub(crate) fn into_record(self) -> Result<LapRecord> {
        let id = self.id;
        let corrupt = |column| StoreError::CorruptRow {
            table: "laps",
            id,
            column,
        };
        let invalid_reason: Option<InvalidReason> = self
            .invalid_reason
            .as_deref()
            .map(serde_json::from_str)
            .transpose()
            .map_err(|_| corrupt("invalid_reason"))?;
        let suggestions = self
            .suggestions
            .as_deref()
            .map(serde_json::from_str)
            .transpose()
            .map_err(|_| corrupt("suggestions"))?;
        Ok(LapRecord {
            id: LapId(id),
            session: SessionId(self.session_id),
            stint: u32::try_from(self.stint).map_err(|_| corrupt("stint"))?,
            number: i32::try_from(self.number).map_err(|_| corrupt("number"))?,
            kind: LapKind::parse(&self.kind).ok_or_else(|| corrupt("kind"))?,
            valid: invalid_reason.is_none(),
            invalid_reason,
            time: match (self.time_ms, self.time_source.as_deref()) {
                (Some(ms), Some(source)) => Some(LapTime {
                    ms: i32::try_from(ms).map_err(|_| corrupt("time_ms"))?,
                    source: LapTimeSource::parse(source).ok_or_else(|| corrupt("time_source"))?,
                }),
                (None, None) => None,
                _ => return Err(corrupt("time_source")),
            },
            frame_count: u32::try_from(self.frame_count).map_err(|_| corrupt("frame_count"))?,
            in_progress: self.in_progress,
            tags: parse_tags(&self.tags, "laps", id)?,
            comments: self.comments,
            analyzed: self.analyzed,
            suggestions,
            created_ms: self.created_ms,
            origin: LapOrigin::parse(&self.origin).ok_or_else(|| corrupt("origin"))?,
            owner: self.owner,
        })
    }
}

/// A user row as read.
pub(crate) struct UserRow {
    pub id: i64,
    pub name: String,
    pub role: String,
    pub token_hash: Vec<u8>,
    pub created_ms: i64,
    pub revoked_ms: Option<i64>,
}

impl UserRow {
    pub(crate) fn into_user(self) -> Result<User> {
        let corrupt = |column| StoreError::CorruptRow {
            table: "users",
            id: self.id,
            column,
        };
        Ok(User {
            id: UserId(self.id),
            role: Role::parse(&self.role).ok_or_else(|| corrupt("role"))?,
            token_hash: TokenHash(
                self.token_hash
                    .as_slice()
                    .try_into()
                    .map_err(|_| corrupt("token_hash"))?,
            ),
            name: self.name,
            created_ms: self.created_ms,
            revoked_ms: self.revoked_ms,
        })
    }
}
