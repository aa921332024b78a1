//! `POST /api/laps/{id}/analyze` and `POST /api/chat` (+ `GET /api/laps/{id}/chat`).

use std::sync::Arc;
use std::time::Instant;

use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use purple_sector_core::analysis::{Analysis, Coach, Strength, Suggestion, analyzer_for};
use purple_sector_core::review::{Against, ReviewError, review, review_cached};
use purple_sector_core::store::{ChatMessage, LapId};
use serde::{Deserialize, Serialize};

use crate::AppState;
use crate::api::strict_id;
use crate::auth::Client;
use crate::error::{ApiError, error_chain};
use crate::json::{JsonBody, OptionalJsonBody};
use crate::limits::MAX_QUESTION_CHARS;

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
    Client(client): Client,
    id: Result<Path<String>, PathRejection>,
    body: Result<OptionalJsonBody<AnalyzeRequest>, ApiError>,
) -> Result<Json<AnalyzeResponse>, ApiError> {
    // A malformed request spends no budget.
    let Path(id) = id?;
    let id = LapId(strict_id(&id, "lap")?);
    let OptionalJsonBody(request) = body?;
    state.limits.analyze.check("analyze", &client)?;
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

/// `POST /api/chat`.
pub async fn chat(
    State(state): State<AppState>,
    Client(client): Client,
    body: Result<JsonBody<ChatRequest>, ApiError>,
) -> Result<Json<ChatResponse>, ApiError> {
    let JsonBody(body) = body?;
    if body.lap_id < 1 {
        return Err(ApiError::unprocessable(format!(
            "lapId must be a positive integer, got {}",
            body.lap_id
        )));
    }
    state.limits.chat.check("chat", &client)?;
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
    let id = LapId(strict_id(&id, "lap")?);
    state.store.get_lap(id).await?;
    Ok(Json(state.store.list_chat_messages(id).await?))
}
