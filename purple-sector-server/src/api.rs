//! The REST API under `/api`: the original app's routes and camelCase shapes, plus our fields.

use axum::Json;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use purple_sector_core::import::{OriginalFrame, check_frame, whole_lap};
use purple_sector_core::lap::{Lap, LapEvent, LapSegmenter, PartialCause, SegmenterConfig};
use purple_sector_core::record::RecorderState;
use purple_sector_core::store::{
    Channel, LapId, LapOrigin, LapRecord, LapUpdate, NewSession, Session, SessionId, SessionSource,
    SessionStatus, SessionUpdate, StoreError, best_lap,
};
use purple_sector_core::telemetry::Frame;
use serde::{Deserialize, Serialize};

use crate::AppState;
use crate::auth::Caller;
use crate::error::{ApiError, error_chain};
use crate::json::JsonBody;
use crate::limits::{
    MAX_COMMENT_BYTES, MAX_NAME_CHARS, MAX_POSTED_FRAMES, MAX_POSTED_TIME_ERROR_MS, MAX_TAG_CHARS,
    MAX_TAGS,
};

/// A session as the API shows it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionDto {
    id: i64,
    name: String,
    source: &'static str,
    status: &'static str,
    car: String,
    driver: String,
    track: String,
    track_config: String,
    tags: Vec<String>,
    created_at: i64,
    updated_at: i64,
    /// The user who made it (`null`: made without an account).
    owner: Option<String>,
    /// Its stored laps (the one in progress included); in the list and with the laps.
    #[serde(skip_serializing_if = "Option::is_none")]
    lap_count: Option<usize>,
    /// Its best lap's time ([`best_lap`]), ms; `null` when no lap ranks.
    #[serde(skip_serializing_if = "Option::is_none")]
    best_lap_time_ms: Option<Option<i32>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    laps: Option<Vec<LapDto>>,
}

impl SessionDto {
    fn new(session: Session, laps: Option<Vec<LapRecord>>) -> Self {
        let lap_count = laps.as_ref().map(Vec::len);
        let best_lap_time_ms = laps
            .as_ref()
            .map(|laps| best_lap(laps).and_then(LapRecord::ranking_time_ms));
        Self {
            lap_count,
            best_lap_time_ms,
            id: session.id.0,
            name: session.name,
            source: session.source.as_str(),
            status: session.status.as_str(),
            car: session.car,
            driver: session.driver,
            track: session.track,
            track_config: session.track_config,
            tags: session.tags,
            created_at: session.created_ms,
            updated_at: session.updated_ms,
            owner: session.owner,
            laps: laps.map(|laps| laps.into_iter().map(LapDto::from).collect()),
        }
    }
}

/// A lap as the API shows it (never with telemetry).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LapDto {
    id: i64,
    session_id: i64,
    lap_number: i32,
    /// Seconds, as in the original; `null` for a lap without a time (partial).
    lap_time: Option<f64>,
    lap_time_ms: Option<i32>,
    /// Where the time comes from: `official` (the game's) or `telemetry` (the lap clock of
    /// a lap run line to line); `null` without a time.
    lap_time_source: Option<&'static str>,
    kind: &'static str,
    valid: bool,
    invalid_reason: Option<String>,
    frame_count: u32,
    in_progress: bool,
    tags: Vec<String>,
    comments: String,
    analyzed: bool,
    suggestions: Vec<purple_sector_core::analysis::Suggestion>,
    created_at: i64,
    /// How the lap came in: `recorded` or `posted`.
    source: &'static str,
    /// The user who recorded or posted it (`null`: without an account).
    owner: Option<String>,
}

impl From<LapRecord> for LapDto {
    fn from(lap: LapRecord) -> Self {
        Self {
            id: lap.id.0,
            session_id: lap.session.0,
            lap_number: lap.number,
            lap_time: lap.time_ms().map(|ms| f64::from(ms) / 1000.0),
            lap_time_ms: lap.time_ms(),
            lap_time_source: lap.time.map(|t| t.source.as_str()),
            kind: lap.kind.as_str(),
            valid: lap.valid,
            invalid_reason: lap.invalid_reason.map(|r| r.to_string()),
            frame_count: lap.frame_count,
            in_progress: lap.in_progress,
            tags: lap.tags,
            comments: lap.comments,
            analyzed: lap.analyzed,
            suggestions: lap.suggestions.unwrap_or_default(),
            created_at: lap.created_ms,
            source: lap.origin.as_str(),
            owner: lap.owner,
        }
    }
}

/// An id as the path gives it: `[1-9][0-9]*` and nothing else (no `+7`, no `007`).
pub(crate) fn strict_id(text: &str, what: &str) -> Result<i64, ApiError> {
    let bad = || {
        ApiError::bad_request(format!(
            "{what} id must be a positive integer without sign or leading zero, got {text:?}"
        ))
    };
    let mut bytes = text.bytes();
    let well_formed =
        matches!(bytes.next(), Some(b'1'..=b'9')) && bytes.all(|b| b.is_ascii_digit());
    if !well_formed {
        return Err(bad());
    }
    text.parse().map_err(|_| bad())
}

fn parse_id<T: From<i64>>(text: &str, what: &str) -> Result<T, ApiError> {
    strict_id(text, what).map(T::from)
}

fn non_empty(name: &str, field: &str) -> Result<String, ApiError> {
    let trimmed = name.trim();
    if trimmed.is_empty() {
        return Err(ApiError::unprocessable(format!(
            "{field} must not be empty"
        )));
    }
    if trimmed.chars().count() > MAX_NAME_CHARS {
        return Err(ApiError::unprocessable(format!(
            "{field} is longer than {MAX_NAME_CHARS} characters"
        )));
    }
    Ok(trimmed.to_owned())
}

/// Tags within the limits: at most [`MAX_TAGS`], each at most [`MAX_TAG_CHARS`].
fn checked_tags(tags: Vec<String>) -> Result<Vec<String>, ApiError> {
    if tags.len() > MAX_TAGS {
        return Err(ApiError::unprocessable(format!(
            "{} tags, at most {MAX_TAGS}",
            tags.len()
        )));
    }
    if let Some(long) = tags
        .iter()
        .find(|t| t.trim().chars().count() > MAX_TAG_CHARS)
    {
        return Err(ApiError::unprocessable(format!(
            "tag of {} characters, at most {MAX_TAG_CHARS}",
            long.trim().chars().count()
        )));
    }
    Ok(tags)
}

/// `GET /api/sessions`.
pub async fn list_sessions(
    State(state): State<AppState>,
) -> Result<Json<Vec<SessionDto>>, ApiError> {
    let sessions = state.store.list_sessions().await?;
    let mut out = Vec::with_capacity(sessions.len());
    for session in sessions {
        let laps = state.store.list_laps(Some(session.id)).await?;
        let mut dto = SessionDto::new(session, Some(laps));
        // The list shows counts, not the laps themselves.
        dto.laps = None;
        out.push(dto);
    }
    Ok(Json(out))
}

/// `POST /api/sessions` body.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateSession {
    name: String,
    #[serde(default)]
    source: Option<String>,
    #[serde(default)]
    tags: Vec<String>,
}

fn parse_enum<T>(
    value: &str,
    field: &str,
    parse: impl Fn(&str) -> Option<T>,
    allowed: &str,
) -> Result<T, ApiError> {
    parse(value).ok_or_else(|| {
        ApiError::unprocessable(format!("{field} must be one of {allowed}, got {value:?}"))
    })
}

/// `POST /api/sessions`.
pub async fn create_session(
    State(state): State<AppState>,
    caller: Caller,
    body: Result<JsonBody<CreateSession>, ApiError>,
) -> Result<(StatusCode, Json<SessionDto>), ApiError> {
    caller.may_record()?;
    let JsonBody(body) = body?;
    let source = match &body.source {
        Some(s) => parse_enum(s, "source", SessionSource::parse, "live, demo, import")?,
        None => SessionSource::Live,
    };
    let mut new = NewSession::new(non_empty(&body.name, "name")?, source);
    new.tags = checked_tags(body.tags)?;
    new.owner = caller.name.clone();
    let session = state.store.create_session(new).await?;
    Ok((StatusCode::CREATED, Json(SessionDto::new(session, None))))
}

/// `GET /api/sessions/{id}`: the session with its laps.
pub async fn get_session(
    State(state): State<AppState>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<SessionDto>, ApiError> {
    let Path(id) = id?;
    let id: SessionId = parse_id(&id, "session")?;
    let session = state.store.get_session(id).await?;
    let laps = state.store.list_laps(Some(id)).await?;
    Ok(Json(SessionDto::new(session, Some(laps))))
}

/// `PATCH /api/sessions/{id}` body.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PatchSession {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    tags: Option<Vec<String>>,
}

/// `PATCH /api/sessions/{id}`.
pub async fn patch_session(
    State(state): State<AppState>,
    caller: Caller,
    id: Result<Path<String>, PathRejection>,
    body: Result<JsonBody<PatchSession>, ApiError>,
) -> Result<Json<SessionDto>, ApiError> {
    let Path(id) = id?;
    let id: SessionId = parse_id(&id, "session")?;
    caller.may_change(
        state.store.get_session(id).await?.owner.as_deref(),
        "session",
    )?;
    let JsonBody(body) = body?;
    let update = SessionUpdate {
        name: body
            .name
            .as_deref()
            .map(|n| non_empty(n, "name"))
            .transpose()?,
        status: body
            .status
            .as_deref()
            .map(|s| {
                parse_enum(
                    s,
                    "status",
                    SessionStatus::parse,
                    "active, paused, completed, archived",
                )
            })
            .transpose()?,
        tags: body.tags.map(checked_tags).transpose()?,
        ..SessionUpdate::default()
    };
    let session = state.store.update_session(id, update).await?;
    Ok(Json(SessionDto::new(session, None)))
}

/// `DELETE /api/sessions/{id}`.
pub async fn delete_session(
    State(state): State<AppState>,
    caller: Caller,
    id: Result<Path<String>, PathRejection>,
) -> Result<StatusCode, ApiError> {
    let Path(id) = id?;
    let id: SessionId = parse_id(&id, "session")?;
    caller.may_change(
        state.store.get_session(id).await?.owner.as_deref(),
        "session",
    )?;
    state.store.delete_session(id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/laps` body: the original's shape.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateLap {
    session_id: i64,
    lap_number: i32,
    /// Seconds.
    #[serde(default)]
    lap_time: Option<f64>,
    #[serde(default)]
    telemetry_data: PostedFrames,
}

/// The frames of a posted lap; a frame that does not parse is named by its index.
#[derive(Debug, Default)]
pub struct PostedFrames(Vec<OriginalFrame>);

impl<'de> Deserialize<'de> for PostedFrames {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Frames;
        impl<'de> serde::de::Visitor<'de> for Frames {
            type Value = PostedFrames;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a list of frames")
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<PostedFrames, A::Error> {
                let mut frames = Vec::new();
                loop {
                    match seq.next_element::<OriginalFrame>() {
                        Ok(Some(frame)) => frames.push(frame),
                        Ok(None) => return Ok(PostedFrames(frames)),
                        Err(e) => {
                            return Err(serde::de::Error::custom(format!(
                                "telemetryData[{}]: {e}",
                                frames.len()
                            )));
                        }
                    }
                }
            }
        }
        deserializer.deserialize_seq(Frames)
    }
}

/// `POST /api/laps`: a lap of the original app's frames, recomputed from its telemetry as a
/// recorded lap would be — its time from its lap clock (when it runs line to line), its kind
/// and validity by the segmenter's rules — and kept as `posted` (never anyone's default
/// reference). A stated `lapTime` more than [`MAX_POSTED_TIME_ERROR_MS`] from the
/// telemetry's is refused; so is a frame with an impossible value, a lap number the session
/// has, and a session being recorded.
pub async fn create_lap(
    State(state): State<AppState>,
    caller: Caller,
    body: Result<JsonBody<CreateLap>, ApiError>,
) -> Result<(StatusCode, Json<LapDto>), ApiError> {
    caller.may_record()?;
    let JsonBody(body) = body?;
    if body.session_id < 1 {
        return Err(ApiError::unprocessable(format!(
            "sessionId must be a positive integer, got {}",
            body.session_id
        )));
    }
    if body.lap_number < 1 {
        return Err(ApiError::unprocessable(format!(
            "lapNumber must be ≥ 1, got {}",
            body.lap_number
        )));
    }
    let posted = body.telemetry_data.0;
    if posted.len() > MAX_POSTED_FRAMES {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "telemetryData holds {} frames, at most {MAX_POSTED_FRAMES}",
                posted.len()
            ),
        ));
    }
    let stated_ms = match body.lap_time {
        Some(s) if s.is_finite() && (0.0..86_400.0).contains(&s) => {
            Some((s * 1000.0).round() as i32)
        }
        Some(s) => {
            return Err(ApiError::unprocessable(format!(
                "lapTime must be seconds in 0..86400, got {s}"
            )));
        }
        None => None,
    };
    let mut frames = Vec::with_capacity(posted.len());
    for (index, original) in posted.iter().enumerate() {
        let frame = original.to_frame(0.0);
        if let Err((field, value, rule)) = check_frame(&frame) {
            return Err(ApiError::unprocessable(format!(
                "telemetryData[{index}]: {field} = {value} is impossible ({rule})"
            )));
        }
        frames.push(frame);
    }
    let session = SessionId(body.session_id);
    let owner = state.store.get_session(session).await?.owner;
    caller.may_change(owner.as_deref(), "session")?;
    let recording = state
        .recorder
        .status()
        .await
        .is_some_and(|s| s.state != RecorderState::Finished && s.session == Some(session));
    let in_progress = state
        .store
        .list_laps(Some(session))
        .await?
        .iter()
        .any(|l| l.in_progress);
    if recording || in_progress {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            format!("session {session} is being recorded: post laps to another session"),
        ));
    }
    let lap = recompute(body.lap_number, frames)?;
    if let Some(stated) = stated_ms {
        match lap.time_ms() {
            Some(ms) if (ms - stated).abs() <= MAX_POSTED_TIME_ERROR_MS => {}
            Some(ms) => {
                return Err(ApiError::unprocessable(format!(
                    "lapTime {stated} ms is not the telemetry's {ms} ms (more than {MAX_POSTED_TIME_ERROR_MS} ms apart)"
                )));
            }
            None => {
                return Err(ApiError::unprocessable(format!(
                    "lapTime {stated} ms given for telemetry that does not run from the line to the line"
                )));
            }
        }
    }
    let record = state
        .store
        .add_lap(session, &lap, LapOrigin::Posted, caller.name.as_deref())
        .await
        .map_err(|e| match e {
            StoreError::LapNumberTaken { .. } => {
                ApiError::new(StatusCode::CONFLICT, error_chain(&e))
            }
            other => other.into(),
        })?;
    Ok((StatusCode::CREATED, Json(LapDto::from(record))))
}

/// A posted lap as a recorded one would be: validity by the segmenter's rules over its
/// frames (one lap's worth), kind and time by whether it runs from the line to the line.
fn recompute(number: i32, frames: Vec<Frame>) -> Result<Lap, ApiError> {
    let mut segmenter = LapSegmenter::new(SegmenterConfig::default());
    let mut events = Vec::new();
    for frame in &frames {
        segmenter.push_frame(*frame, &mut events);
    }
    segmenter.finish(PartialCause::Stopped, &mut events);
    let laps: Vec<&Lap> = events
        .iter()
        .filter_map(|e| match e {
            LapEvent::Lap(lap) => Some(lap),
            _ => None,
        })
        .collect();
    if laps.len() > 1 {
        return Err(ApiError::unprocessable(format!(
            "telemetryData holds {} laps (its lapNumber changes): post one lap at a time",
            laps.len()
        )));
    }
    let invalid_reason = laps.first().and_then(|l| l.invalid_reason);
    let lap = whole_lap(number, frames);
    Ok(Lap {
        invalid_reason,
        ..lap
    })
}

/// `GET /api/laps/{id}`.
pub async fn get_lap(
    State(state): State<AppState>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<LapDto>, ApiError> {
    let Path(id) = id?;
    let lap = state.store.get_lap(parse_id::<LapId>(&id, "lap")?).await?;
    Ok(Json(LapDto::from(lap)))
}

/// `PATCH /api/laps/{id}` body.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PatchLap {
    #[serde(default)]
    tags: Option<Vec<String>>,
    #[serde(default)]
    comments: Option<String>,
}

/// `PATCH /api/laps/{id}`.
pub async fn patch_lap(
    State(state): State<AppState>,
    caller: Caller,
    id: Result<Path<String>, PathRejection>,
    body: Result<JsonBody<PatchLap>, ApiError>,
) -> Result<Json<LapDto>, ApiError> {
    let Path(id) = id?;
    let id: LapId = parse_id(&id, "lap")?;
    caller.may_change(state.store.get_lap(id).await?.owner.as_deref(), "lap")?;
    let JsonBody(body) = body?;
    if let Some(comments) = &body.comments {
        if comments.len() > MAX_COMMENT_BYTES {
            return Err(ApiError::unprocessable(format!(
                "comments of {} bytes, at most {MAX_COMMENT_BYTES}",
                comments.len()
            )));
        }
    }
    let update = LapUpdate {
        tags: body.tags.map(checked_tags).transpose()?,
        comments: body.comments,
        ..LapUpdate::default()
    };
    let lap = state.store.update_lap(id, update).await?;
    Ok(Json(LapDto::from(lap)))
}

/// `DELETE /api/laps/{id}`.
pub async fn delete_lap(
    State(state): State<AppState>,
    caller: Caller,
    id: Result<Path<String>, PathRejection>,
) -> Result<StatusCode, ApiError> {
    let Path(id) = id?;
    let id: LapId = parse_id(&id, "lap")?;
    caller.may_change(state.store.get_lap(id).await?.owner.as_deref(), "lap")?;
    state.store.delete_lap(id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `GET /api/laps/{id}/telemetry` query.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TelemetryQuery {
    #[serde(default)]
    step: Option<usize>,
}

/// The frames as JSON columns.
#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TelemetryColumns {
    lap_id: i64,
    step: usize,
    count: usize,
    time_ns: Vec<u64>,
    lap_time_ms: Vec<i32>,
    position: Vec<f32>,
    speed_kmh: Vec<f32>,
    gas: Vec<f32>,
    brake: Vec<f32>,
    steer_deg: Vec<f32>,
    gear: Vec<i32>,
    rpm: Vec<f32>,
    g_lateral: Vec<f32>,
    g_longitudinal: Vec<f32>,
    x: Vec<f32>,
    z: Vec<f32>,
}

/// The channels `GET /api/laps/{id}/telemetry` sends (decoded alone).
const TELEMETRY_CHANNELS: &[Channel] = &[
    Channel::TimeNs,
    Channel::LapTimeMs,
    Channel::PositionNormalized,
    Channel::SpeedKmh,
    Channel::Gas,
    Channel::Brake,
    Channel::SteerDeg,
    Channel::Gear,
    Channel::EngineRpm,
    Channel::GLateral,
    Channel::GLongitudinal,
    Channel::WorldX,
    Channel::WorldZ,
];

/// `GET /api/laps/{id}/telemetry?step=N`: every Nth frame, as columns.
pub async fn lap_telemetry(
    State(state): State<AppState>,
    id: Result<Path<String>, PathRejection>,
    query: Result<Query<TelemetryQuery>, QueryRejection>,
) -> Result<Json<TelemetryColumns>, ApiError> {
    let Path(id) = id?;
    let Query(query) = query?;
    let step = query.step.unwrap_or(1);
    if !(1..=10_000).contains(&step) {
        return Err(ApiError::bad_request(format!(
            "step must be in 1..=10000, got {step}"
        )));
    }
    let id: LapId = parse_id(&id, "lap")?;
    let columns = state.store.lap_columns(id, TELEMETRY_CHANNELS).await?;
    fn every<T: Copy>(column: &[T], step: usize) -> Vec<T> {
        column.iter().step_by(step).copied().collect()
    }
    let time_ns = every(&columns.time_ns, step);
    Ok(Json(TelemetryColumns {
        lap_id: id.0,
        step,
        count: time_ns.len(),
        time_ns,
        lap_time_ms: every(&columns.lap_time_ms, step),
        position: every(&columns.position_normalized, step),
        speed_kmh: every(&columns.speed_kmh, step),
        gas: every(&columns.gas, step),
        brake: every(&columns.brake, step),
        steer_deg: every(&columns.steer_deg, step),
        gear: every(&columns.gear, step),
        rpm: every(&columns.engine_rpm, step),
        g_lateral: every(&columns.g_lateral, step),
        g_longitudinal: every(&columns.g_longitudinal, step),
        x: every(&columns.world_x_m, step),
        z: every(&columns.world_z_m, step),
    }))
}
