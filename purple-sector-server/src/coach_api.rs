//! `POST /api/laps/{id}/analyze` and `POST /api/chat` (+ `GET /api/laps/{id}/chat`).

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use axum::Json;
use axum::extract::rejection::{JsonRejection, PathRejection};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use purple_sector_core::analysis::{Analysis, Coach, Strength, Suggestion, analyzer_for};
use purple_sector_core::review::{Against, ReviewError, review, review_cached};
use purple_sector_core::store::{ChatMessage, LapId};
use serde::{Deserialize, Serialize};

use crate::AppState;
use crate::error::{ApiError, error_chain};

/// A token bucket: `burst` requests at once, refilled at `per_second`.
#[derive(Debug)]
pub struct RateLimit {
    burst: f64,
    per_second: f64,
    state: Mutex<(f64, Instant)>,
}

impl RateLimit {
    /// A limit of `per_second` requests a second, `burst` at once.
    pub fn new(per_second: f64, burst: f64) -> Self {
        Self {
            burst,
            per_second,
            state: Mutex::new((burst, Instant::now())),
        }
    }

    /// Takes a token, or says how it went over the limit.
    pub fn check(&self, route: &str) -> Result<(), ApiError> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let now = Instant::now();
        let refill = now.duration_since(state.1).as_secs_f64() * self.per_second;
        state.0 = (state.0 + refill).min(self.burst);
        state.1 = now;
        if state.0 >= 1.0 {
            state.0 -= 1.0;
            Ok(())
        } else {
            Err(ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                format!("{route}: at most {} requests per second", self.per_second),
            ))
        }
    }
}

impl From<ReviewError> for ApiError {
    fn from(error: ReviewError) -> Self {
        match error {
            ReviewError::Store(e) => e.into(),
            ReviewError::Advice { .. } => {
                ApiError::new(StatusCode::BAD_GATEWAY, error_chain(&error))
            }
            other => ApiError::unprocessable(error_chain(&other)),
        }
    }
}

/// `POST /api/laps/{id}/analyze` body.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AnalyzeRequest {
    #[serde(default)]
    reference_lap_id: Option<i64>,
    /// `"best"` (default) or `"ideal"`, when no reference lap is given.
    #[serde(default)]
    against: Option<String>,
    #[serde(default)]
    force_reanalyze: bool,
}

/// The analysis of a lap.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AnalyzeResponse {
    lap_id: i64,
    reference_lap_id: Option<i64>,
    analysis: Analysis,
    suggestions: Vec<Suggestion>,
    /// Where the lap gained on the reference (≥ 0.05 s), largest first.
    strengths: Vec<Strength>,
    /// Who wrote the suggestions: `heuristic`, `openai`, or `stored`.
    engine: String,
}

/// `POST /api/laps/{id}/analyze`.
pub async fn analyze(
    State(state): State<AppState>,
    id: Result<Path<String>, PathRejection>,
    body: axum::body::Bytes,
) -> Result<Json<AnalyzeResponse>, ApiError> {
    state.limits.analyze.check("analyze")?;
    let Path(id) = id?;
    let id: LapId = id.parse().map_err(|_| {
        ApiError::bad_request(format!("lap id must be a positive integer, got {id:?}"))
    })?;
    // The body is optional: empty means the defaults.
    let request = if body.iter().all(u8::is_ascii_whitespace) {
        AnalyzeRequest::default()
    } else {
        serde_json::from_slice::<AnalyzeRequest>(&body).map_err(|e| {
            if e.is_data() {
                ApiError::unprocessable(format!("invalid analyze request: {e}"))
            } else {
                ApiError::bad_request(format!("invalid JSON: {e}"))
            }
        })?
    };
    let against = match (request.reference_lap_id, request.against.as_deref()) {
        (Some(r), _) => Against::Lap(LapId(r)),
        (None, None | Some("best")) => Against::Best,
        (None, Some("ideal")) => Against::Ideal,
        (None, Some(other)) => {
            return Err(ApiError::unprocessable(format!(
                "against must be best or ideal, got {other:?}"
            )));
        }
    };
    let started = Instant::now();
    let analyzer = analyzer_for(state.openai.clone());
    let reviewed = if request.force_reanalyze {
        review(&*state.store, id, against, &*analyzer).await?
    } else {
        review_cached(&*state.store, id, against, &*analyzer).await?
    };
    state.metrics.record_analysis(started.elapsed());
    Ok(Json(AnalyzeResponse {
        lap_id: id.0,
        reference_lap_id: reviewed.comparison.reference_id.map(|r| r.0),
        analysis: reviewed.comparison.analysis,
        suggestions: reviewed.suggestions,
        strengths: reviewed.strengths,
        engine: reviewed.engine.to_owned(),
    }))
}

/// `POST /api/chat` body: the original's shape.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ChatRequest {
    lap_id: i64,
    message: String,
}

/// The coach's answer.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ChatResponse {
    message: ChatMessage,
    question: ChatMessage,
    source: &'static str,
}

/// Longest question, characters.
const MAX_QUESTION_CHARS: usize = 4_000;

/// `POST /api/chat`.
pub async fn chat(
    State(state): State<AppState>,
    body: Result<Json<ChatRequest>, JsonRejection>,
) -> Result<Json<ChatResponse>, ApiError> {
    state.limits.chat.check("chat")?;
    let Json(body) = body?;
    let question = body.message.trim();
    if question.is_empty() {
        return Err(ApiError::unprocessable("message must not be empty"));
    }
    if question.chars().count() > MAX_QUESTION_CHARS {
        return Err(ApiError::unprocessable(format!(
            "message is longer than {MAX_QUESTION_CHARS} characters"
        )));
    }
    let id = LapId(body.lap_id);
    // The lap's stored advice; an offline analysis when it has none yet.
    let reviewed = review_cached(&*state.store, id, Against::Best, &*analyzer_for(None)).await?;
    let coach = Coach::new(Arc::clone(&state.store), state.openai.clone());
    // An error goes back to the user; it is never stored as the coach's words.
    let answer = coach
        .ask(
            id,
            &reviewed.comparison.analysis,
            &reviewed.suggestions,
            question,
        )
        .await
        .map_err(|e| ApiError::new(StatusCode::BAD_GATEWAY, error_chain(&e)))?;
    Ok(Json(ChatResponse {
        source: match answer.source {
            purple_sector_core::analysis::AnswerSource::Llm => "llm",
            _ => "offline",
        },
        message: answer.answer,
        question: answer.question,
    }))
}

/// `GET /api/laps/{id}/chat`: the conversation about a lap.
pub async fn history(
    State(state): State<AppState>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<Vec<ChatMessage>>, ApiError> {
    let Path(id) = id?;
    let id: LapId = id.parse().map_err(|_| {
        ApiError::bad_request(format!("lap id must be a positive integer, got {id:?}"))
    })?;
    state.store.get_lap(id).await?;
    Ok(Json(state.store.list_chat_messages(id).await?))
}
