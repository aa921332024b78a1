//! Suggestions phrased by an LLM over any OpenAI-compatible server, checked against the facts.
//!
//! [`OpenAiAnalyzer`] sends the computed fact table ([`Analysis`], as compact JSON with
//! numbers rounded to three decimals) and the fallback analyzer's suggestions as hints, asks
//! for suggestions as JSON, and keeps only those that pass
//! [`validate_suggestions`]. On any failure — the server cannot
//! be reached or answers an error status (429 included), no answer within the timeout, a
//! reply that is not the JSON asked for, or no valid suggestion left — it returns the
//! fallback analyzer's suggestions instead, and [`Outcome`] says which path was taken and
//! why. Nothing the model invented is ever returned.
//!
//! The server is chosen by [`OpenAiConfig`]: `OPENAI_API_KEY` and `OPENAI_BASE_URL`
//! (`http://localhost:11434/v1` for Ollama, `http://localhost:1234/v1` for LM Studio), a
//! model name and a timeout. Structured output (`response_format: json_schema`) is asked for
//! first; a server that rejects it with HTTP 400 or 422 is asked again with `json_object`,
//! then with the instruction in the prompt only ([`JsonMode`]).
//!
//! async-openai itself retries a 429 (except `insufficient_quota`), a 5xx or a refused
//! connection up to three times, after 0.1, 0.2 and 0.4 s (or the server's `Retry-After`);
//! all of that counts against the one timeout.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_openai::Client;
use async_openai::config::OpenAIConfig as ClientConfig;
use async_openai::error::OpenAIError;
use async_openai::types::chat::{
    ChatCompletionRequestMessage, ChatCompletionRequestSystemMessage,
    ChatCompletionRequestUserMessage, CreateChatCompletionRequest, ResponseFormat,
    ResponseFormatJsonSchema,
};
use serde::Deserialize;

use super::validate::{Rejected, Rejection, validate_suggestions};
use super::{
    Advice, Analysis, Analyzer, AnalyzerError, Cause, Severity, Suggestion, SuggestionType,
};

/// How to ask the server for JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum JsonMode {
    /// `response_format: json_schema` (structured output), stepping down to
    /// [`JsonMode::Object`] and then [`JsonMode::Prompt`] when the server rejects it.
    #[default]
    Schema,
    /// `response_format: json_object`, stepping down to [`JsonMode::Prompt`] when rejected.
    Object,
    /// No `response_format`: the JSON is asked for in the prompt only.
    Prompt,
}

impl JsonMode {
    /// The next mode to try when the server rejects this one.
    const fn step_down(self) -> Option<Self> {
        match self {
            Self::Schema => Some(Self::Object),
            Self::Object => Some(Self::Prompt),
            Self::Prompt => None,
        }
    }
}

/// Where and how to reach an OpenAI-compatible server.
#[derive(Clone, PartialEq, Eq)]
pub struct OpenAiConfig {
    /// Sent as `Authorization: Bearer <key>`; `None` sends an empty key (local servers).
    pub api_key: Option<String>,
    /// The API's base URL, up to and including `/v1` (`None`: OpenAI's).
    pub base_url: Option<String>,
    /// The model name (`gpt-4o-mini`, `llama3.1`, …).
    pub model: String,
    /// The most one request may take, retries with a simpler [`JsonMode`] included.
    pub timeout: Duration,
    /// How to ask for JSON.
    pub json_mode: JsonMode,
}

impl fmt::Debug for OpenAiConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OpenAiConfig")
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .field("base_url", &self.base_url)
            .field("model", &self.model)
            .field("timeout", &self.timeout)
            .field("json_mode", &self.json_mode)
            .finish()
    }
}

impl OpenAiConfig {
    /// The model used when none is given.
    pub const DEFAULT_MODEL: &'static str = "gpt-4o-mini";
    /// The request timeout used when none is given.
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
    /// OpenAI's API, used when no base URL is given.
    pub const OPENAI_BASE_URL: &'static str = "https://api.openai.com/v1";

    /// A configuration for this model, with no key, OpenAI's URL and the defaults.
    pub fn new(model: impl Into<String>) -> Self {
        Self {
            api_key: None,
            base_url: None,
            model: model.into(),
            timeout: Self::DEFAULT_TIMEOUT,
            json_mode: JsonMode::default(),
        }
    }

    /// From `OPENAI_API_KEY` and `OPENAI_BASE_URL` (empty counts as unset), with the default
    /// model and timeout; `None` when neither is set, so nothing reaches the network unless
    /// the user asked for it.
    pub fn from_env() -> Option<Self> {
        Self::from_vars(|name| std::env::var(name).ok())
    }

    /// [`OpenAiConfig::from_env`] over any source of variables (for tests and the CLI).
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Option<Self> {
        let get = |name: &str| var(name).filter(|v| !v.trim().is_empty());
        let api_key = get("OPENAI_API_KEY");
        let base_url = get("OPENAI_BASE_URL");
        if api_key.is_none() && base_url.is_none() {
            return None;
        }
        Some(Self {
            api_key,
            base_url,
            ..Self::new(Self::DEFAULT_MODEL)
        })
    }

    /// With another model.
    #[must_use]
    pub fn with_model(mut self, model: impl Into<String>) -> Self {
        self.model = model.into();
        self
    }

    /// With another timeout.
    #[must_use]
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// With another base URL (`http://127.0.0.1:11434/v1`).
    #[must_use]
    pub fn with_base_url(mut self, base_url: impl Into<String>) -> Self {
        self.base_url = Some(base_url.into());
        self
    }

    /// With an API key.
    #[must_use]
    pub fn with_api_key(mut self, api_key: impl Into<String>) -> Self {
        self.api_key = Some(api_key.into());
        self
    }

    /// With another way of asking for JSON.
    #[must_use]
    pub fn with_json_mode(mut self, json_mode: JsonMode) -> Self {
        self.json_mode = json_mode;
        self
    }

    /// The base URL requests go to (no trailing slash).
    pub fn effective_base_url(&self) -> &str {
        self.base_url
            .as_deref()
            .unwrap_or(Self::OPENAI_BASE_URL)
            .trim_end_matches('/')
    }
}

/// A chat-completion client with a timeout, shared by the analyzer and the coach.
#[derive(Debug, Clone)]
pub(crate) struct LlmClient {
    client: Client<ClientConfig>,
    config: OpenAiConfig,
}

impl LlmClient {
    pub(crate) fn new(config: OpenAiConfig) -> Self {
        let client_config = ClientConfig::new()
            .with_api_base(config.effective_base_url())
            .with_api_key(config.api_key.clone().unwrap_or_default());
        Self {
            client: Client::with_config(client_config),
            config,
        }
    }

    pub(crate) fn config(&self) -> &OpenAiConfig {
        &self.config
    }

    /// The first choice's text for these messages, within the timeout. With a `schema`, JSON
    /// is asked for as the config's [`JsonMode`] says, stepping down when rejected.
    pub(crate) async fn complete(
        &self,
        messages: Vec<ChatCompletionRequestMessage>,
        schema: Option<&serde_json::Value>,
    ) -> Result<String, AnalyzerError> {
        let timeout = self.config.timeout;
        match tokio::time::timeout(timeout, self.complete_untimed(messages, schema)).await {
            Ok(result) => result,
            Err(_) => Err(AnalyzerError::Timeout {
                seconds: timeout.as_secs_f64().ceil() as u64,
            }),
        }
    }

    async fn complete_untimed(
        &self,
        messages: Vec<ChatCompletionRequestMessage>,
        schema: Option<&serde_json::Value>,
    ) -> Result<String, AnalyzerError> {
        let mut mode = schema.map(|_| self.config.json_mode);
        loop {
            let response_format = match (mode, schema) {
                (Some(JsonMode::Schema), Some(schema)) => Some(ResponseFormat::JsonSchema {
                    json_schema: ResponseFormatJsonSchema {
                        description: Some("Driving suggestions for one lap".into()),
                        name: "lap_suggestions".into(),
                        schema: schema.clone(),
                        strict: Some(true),
                    },
                }),
                (Some(JsonMode::Object), _) => Some(ResponseFormat::JsonObject),
                _ => None,
            };
            let request = CreateChatCompletionRequest {
                model: self.config.model.clone(),
                messages: messages.clone(),
                response_format,
                temperature: Some(0.2),
                ..Default::default()
            };
            match self.client.chat().create(request).await {
                Ok(response) => {
                    let message = response
                        .choices
                        .into_iter()
                        .next()
                        .ok_or_else(|| bad_reply("the reply has no choices"))?
                        .message;
                    return match (message.content, message.refusal) {
                        (Some(content), _) if !content.trim().is_empty() => Ok(content),
                        (_, Some(refusal)) => {
                            Err(bad_reply(format!("the model refused: {refusal}")))
                        }
                        _ => Err(bad_reply("the reply is empty")),
                    };
                }
                Err(error) => {
                    let error = map_error(error);
                    let rejected_format = matches!(
                        error,
                        AnalyzerError::Request {
                            status: Some(400 | 422),
                            ..
                        }
                    );
                    match mode.and_then(JsonMode::step_down) {
                        Some(next) if rejected_format => {
                            tracing::info!(
                                "LLM server rejected {mode:?} output ({error}); trying {next:?}"
                            );
                            mode = Some(next);
                        }
                        _ => return Err(error),
                    }
                }
            }
        }
    }
}

fn bad_reply(message: impl Into<String>) -> AnalyzerError {
    AnalyzerError::BadReply {
        message: message.into(),
    }
}

fn map_error(error: OpenAIError) -> AnalyzerError {
    match error {
        OpenAIError::ApiError(response) => AnalyzerError::Request {
            status: Some(response.status_code.as_u16()),
            message: response.api_error.message,
        },
        OpenAIError::Reqwest(error) => AnalyzerError::Request {
            status: error.status().map(|s| s.as_u16()),
            message: error.to_string(),
        },
        OpenAIError::JSONDeserialize(error, content) => AnalyzerError::BadReply {
            message: format!("{error}: {}", truncate(&content, 200)),
        },
        other => AnalyzerError::Request {
            status: None,
            message: other.to_string(),
        },
    }
}

fn truncate(text: &str, max_chars: usize) -> String {
    match text.char_indices().nth(max_chars) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_owned(),
    }
}

/// The facts as compact JSON, floats rounded to three decimals (what the model sees).
pub(crate) fn compact_json(value: &impl serde::Serialize) -> String {
    fn round(value: &mut serde_json::Value) {
        match value {
            serde_json::Value::Number(n) if n.is_f64() => {
                if let Some(rounded) = n
                    .as_f64()
                    .map(|f| (f * 1000.0).round() / 1000.0)
                    .and_then(serde_json::Number::from_f64)
                {
                    *n = rounded;
                }
            }
            serde_json::Value::Array(items) => items.iter_mut().for_each(round),
            serde_json::Value::Object(fields) => fields.values_mut().for_each(round),
            _ => {}
        }
    }
    let mut value = serde_json::to_value(value).unwrap_or(serde_json::Value::Null);
    round(&mut value);
    value.to_string()
}

/// The instructions for the suggestions request.
const SUGGEST_PROMPT: &str = "You are a motorsport driving coach. The user message is JSON with \
\"facts\", the measurements of one lap against a reference lap (the driver's best): lap times in \
ms, gap_s (lap minus reference, s), corners with the metrics of both laps (distances in m from \
the line, speeds in km/h, brake as 0..1) and time_loss_s per corner, and segments (corners and \
the straights between them) with time_loss_s (positive = time lost). \"hints\" are suggestions \
computed from the facts offline. Reply with JSON only: {\"suggestions\": [...]}, 3 to 6 \
suggestions, the largest losses first, each with id, type (braking, throttle, steering, general, \
corner_speed, coasting, line), cause (early_braking, late_braking_overslowed, low_apex_speed, \
late_throttle, coasting, mid_corner_lift, lower_gear, slow_exit, line or general: the one cause \
that explains most of the corner's loss, as in the hints), corner (a corner name from the facts, \
or null), message (one or \
two plain sentences for the driver), severity (info, warning, critical), position (0..1 along \
the lap), distance_m, time_loss_s and evidence (a list of {name, value}). Rules: name only \
corners that are in the facts; every number you write must be a value from the facts or the \
difference of two values of the same corner, rounded (e.g. brake points 412 and 444 m: \"32 m \
earlier\"); time_loss_s must be copied from the corner's attributed_loss_s (the time it explains, \
the straight after it included) or time_loss_s, or a segment's; distance_m \
must be a distance from the facts and position that distance divided by track_length_m. Never \
estimate or invent a number.";

/// The JSON schema of the reply (strict structured output), corners limited to the facts'.
fn reply_schema(analysis: &Analysis) -> serde_json::Value {
    let mut corners: Vec<serde_json::Value> = analysis
        .corners
        .iter()
        .map(|c| c.corner.name.clone().into())
        .collect();
    corners.push(serde_json::Value::Null);
    let kinds: Vec<&str> = SuggestionType::ALL.iter().map(|k| k.as_str()).collect();
    let causes: Vec<&str> = Cause::ALL.iter().map(|c| c.as_str()).collect();
    serde_json::json!({
        "type": "object",
        "additionalProperties": false,
        "required": ["suggestions"],
        "properties": {
            "suggestions": {
                "type": "array",
                "items": {
                    "type": "object",
                    "additionalProperties": false,
                    "required": ["id", "type", "cause", "corner", "message", "severity",
                                 "position", "distance_m", "time_loss_s", "evidence"],
                    "properties": {
                        "id": {"type": "string"},
                        "type": {"type": "string", "enum": kinds},
                        "cause": {"type": "string", "enum": causes},
                        "corner": {"type": ["string", "null"], "enum": corners},
                        "message": {"type": "string"},
                        "severity": {"type": "string", "enum": ["info", "warning", "critical"]},
                        "position": {"type": "number"},
                        "distance_m": {"type": "number"},
                        "time_loss_s": {"type": "number"},
                        "evidence": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "additionalProperties": false,
                                "required": ["name", "value"],
                                "properties": {
                                    "name": {"type": "string"},
                                    "value": {"type": "number"}
                                }
                            }
                        }
                    }
                }
            }
        }
    })
}

/// A suggestion as the model writes it (evidence as a list or a map).
#[derive(Debug, Deserialize)]
struct WireSuggestion {
    id: String,
    #[serde(rename = "type")]
    kind: SuggestionType,
    #[serde(default)]
    cause: Option<Cause>,
    #[serde(default)]
    corner: Option<String>,
    message: String,
    severity: Severity,
    position: f64,
    distance_m: f64,
    time_loss_s: f64,
    #[serde(default)]
    evidence: Option<WireEvidence>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum WireEvidence {
    List(Vec<WireEvidenceItem>),
    Map(BTreeMap<String, f64>),
}

#[derive(Debug, Deserialize)]
struct WireEvidenceItem {
    name: String,
    value: f64,
}

impl From<WireSuggestion> for Suggestion {
    fn from(w: WireSuggestion) -> Self {
        let evidence = match w.evidence {
            Some(WireEvidence::List(items)) => {
                items.into_iter().map(|i| (i.name, i.value)).collect()
            }
            Some(WireEvidence::Map(map)) => map,
            None => BTreeMap::new(),
        };
        Self {
            id: w.id,
            kind: w.kind,
            cause: w.cause.unwrap_or_default(),
            corner: w.corner.filter(|c| !c.trim().is_empty()),
            message: w.message,
            severity: w.severity,
            position: w.position,
            distance_m: w.distance_m,
            time_loss_s: w.time_loss_s,
            evidence,
        }
    }
}

/// The text between a ```json fence, or all of it.
pub(crate) fn strip_fence(text: &str) -> &str {
    let text = text.trim();
    let Some(rest) = text.strip_prefix("```") else {
        return text;
    };
    let rest = rest.split_once('\n').map_or("", |(_, body)| body);
    rest.rsplit_once("```")
        .map_or(rest, |(body, _)| body)
        .trim()
}

/// Suggestions parsed from a reply, and the errors of the items that did not parse.
fn parse_reply(content: &str) -> Result<(Vec<Suggestion>, Vec<String>), AnalyzerError> {
    let value: serde_json::Value = serde_json::from_str(strip_fence(content))
        .map_err(|e| bad_reply(format!("{e}: {}", truncate(content, 200))))?;
    let items = match value {
        serde_json::Value::Object(mut fields) => match fields.remove("suggestions") {
            Some(serde_json::Value::Array(items)) => items,
            _ => return Err(bad_reply("no \"suggestions\" list in the reply")),
        },
        serde_json::Value::Array(items) => items,
        _ => return Err(bad_reply("the reply is not a JSON object")),
    };
    let mut suggestions = Vec::new();
    let mut malformed = Vec::new();
    for item in items {
        match serde_json::from_value::<WireSuggestion>(item) {
            Ok(wire) => suggestions.push(wire.into()),
            Err(e) => malformed.push(e.to_string()),
        }
    }
    Ok((suggestions, malformed))
}

/// Which suggestions [`OpenAiAnalyzer::suggest_with_report`] returned.
#[derive(Debug, Clone, PartialEq)]
pub enum SuggestionSource {
    /// The model's, those that passed validation.
    Llm,
    /// The fallback analyzer's.
    Fallback {
        /// Why the model's were not used.
        reason: FallbackReason,
    },
}

/// Why the LLM's suggestions were not used.
#[derive(Debug, Clone, PartialEq)]
pub enum FallbackReason {
    /// The server could not be reached, or answered an error status (429: rate limited).
    Request {
        /// HTTP status, when there was one.
        status: Option<u16>,
        /// What went wrong.
        message: String,
    },
    /// No answer within the timeout.
    Timeout {
        /// The timeout, s (rounded up).
        seconds: u64,
    },
    /// The reply was not the JSON asked for.
    BadReply {
        /// What was wrong with it.
        message: String,
    },
    /// The reply parsed, but no suggestion in it passed validation.
    NoValidSuggestions {
        /// The first rejection, if any suggestion was given at all.
        first: Option<Rejection>,
    },
}

impl From<AnalyzerError> for FallbackReason {
    fn from(error: AnalyzerError) -> Self {
        match error {
            AnalyzerError::Request { status, message } => Self::Request { status, message },
            AnalyzerError::Timeout { seconds } => Self::Timeout { seconds },
            AnalyzerError::BadReply { message } => Self::BadReply { message },
        }
    }
}

impl fmt::Display for FallbackReason {
    /// A clause for the user: "the LLM reply cited T14, which does not exist".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Request {
                status: Some(429),
                message,
            } => write!(f, "the LLM server is rate limiting (HTTP 429): {message}"),
            Self::Request {
                status: Some(status),
                message,
            } => write!(f, "the LLM server answered HTTP {status}: {message}"),
            Self::Request {
                status: None,
                message,
            } => write!(f, "the LLM server could not be reached: {message}"),
            Self::Timeout { seconds } => write!(f, "the LLM did not answer within {seconds} s"),
            Self::BadReply { message } => {
                write!(
                    f,
                    "the LLM reply is not the suggestions JSON asked for: {message}"
                )
            }
            Self::NoValidSuggestions { first: Some(first) } => write!(f, "the LLM reply {first}"),
            Self::NoValidSuggestions { first: None } => {
                f.write_str("the LLM reply had no suggestions")
            }
        }
    }
}

/// What [`OpenAiAnalyzer::suggest_with_report`] did.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// Whose suggestions were returned.
    pub source: SuggestionSource,
    /// The model's suggestions that failed validation, with why.
    pub dropped: Vec<Rejected>,
    /// The model's items that were not suggestions at all (parse errors).
    pub malformed: Vec<String>,
}

impl Outcome {
    /// How many of the model's suggestions were dropped (invalid or malformed).
    pub fn dropped_count(&self) -> usize {
        self.dropped.len() + self.malformed.len()
    }

    /// True when the fallback's suggestions were returned.
    pub fn is_fallback(&self) -> bool {
        matches!(self.source, SuggestionSource::Fallback { .. })
    }
}

impl fmt::Display for Outcome {
    /// One line for the user: "suggestions by the LLM (1 dropped: …)" or "… : using the
    /// offline suggestions".
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.source {
            SuggestionSource::Llm => {
                f.write_str("suggestions by the LLM")?;
                if self.dropped_count() > 0 {
                    write!(f, " ({} dropped", self.dropped_count())?;
                    if let Some(first) = self.dropped.first() {
                        write!(f, ": the reply {}", first.reason)?;
                    }
                    f.write_str(")")?;
                }
                Ok(())
            }
            SuggestionSource::Fallback { reason } => {
                write!(f, "{reason}: using the offline suggestions")
            }
        }
    }
}

/// An [`Analyzer`] that lets an LLM phrase and prioritise the facts, validated, with a
/// fallback analyzer for every failure.
#[derive(Debug, Clone)]
pub struct OpenAiAnalyzer {
    llm: LlmClient,
    fallback: Arc<dyn Analyzer>,
}

impl OpenAiAnalyzer {
    /// An analyzer for this server; `fallback` (the heuristic analyzer, normally) gives the
    /// hints sent to the model and the suggestions returned when the model's cannot be used.
    pub fn new(config: OpenAiConfig, fallback: Arc<dyn Analyzer>) -> Self {
        Self {
            llm: LlmClient::new(config),
            fallback,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &OpenAiConfig {
        self.llm.config()
    }

    /// Suggestions and which path gave them. Fails only when the model's cannot be used
    /// *and* the fallback analyzer fails.
    pub async fn suggest_with_report(
        &self,
        analysis: &Analysis,
    ) -> Result<(Vec<Suggestion>, Outcome), AnalyzerError> {
        let fallback = self.fallback.suggest(analysis).await;
        let hints = fallback.as_deref().unwrap_or_default();
        let (reason, dropped, malformed) = match self.request_suggestions(analysis, hints).await {
            Ok(reply) if !reply.suggestions.is_empty() => {
                return Ok((
                    reply.suggestions,
                    Outcome {
                        source: SuggestionSource::Llm,
                        dropped: reply.dropped,
                        malformed: reply.malformed,
                    },
                ));
            }
            Ok(reply) => (
                FallbackReason::NoValidSuggestions {
                    first: reply.dropped.first().map(|r| r.reason.clone()),
                },
                reply.dropped,
                reply.malformed,
            ),
            Err(error) => (FallbackReason::from(error), Vec::new(), Vec::new()),
        };
        tracing::warn!("{reason}: using the {} suggestions", self.fallback.name());
        let outcome = Outcome {
            source: SuggestionSource::Fallback { reason },
            dropped,
            malformed,
        };
        fallback.map(|suggestions| (suggestions, outcome))
    }

    /// The model's suggestions for these facts and hints, validated, without any fallback.
    /// `Ok` with no suggestions when none passed.
    pub async fn request_suggestions(
        &self,
        analysis: &Analysis,
        hints: &[Suggestion],
    ) -> Result<LlmReply, AnalyzerError> {
        let facts = compact_json(&serde_json::json!({ "facts": analysis, "hints": hints }));
        let messages = vec![
            ChatCompletionRequestSystemMessage::from(SUGGEST_PROMPT).into(),
            ChatCompletionRequestUserMessage::from(facts).into(),
        ];
        let content = self
            .llm
            .complete(messages, Some(&reply_schema(analysis)))
            .await?;
        let (mut suggestions, malformed) = parse_reply(&content)?;
        // A model that gives no cause gets the hint's for the same corner, else the offline
        // coach's reading of that corner's facts.
        let mut own: Option<Vec<Suggestion>> = None;
        for s in &mut suggestions {
            if s.cause != Cause::General || s.corner.is_none() {
                continue;
            }
            let same_corner = |h: &&Suggestion| h.corner == s.corner;
            if let Some(hint) = hints.iter().find(same_corner) {
                s.cause = hint.cause;
            } else if let Some(fact) = own
                .get_or_insert_with(|| super::heuristic_suggestions(analysis))
                .iter()
                .find(same_corner)
            {
                s.cause = fact.cause;
            }
        }
        let (suggestions, dropped) = validate_suggestions(analysis, suggestions);
        Ok(LlmReply {
            suggestions,
            dropped,
            malformed,
        })
    }
}

/// The model's reply, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct LlmReply {
    /// The suggestions that passed validation, in the model's order.
    pub suggestions: Vec<Suggestion>,
    /// Those that did not, with why.
    pub dropped: Vec<Rejected>,
    /// Items that were not suggestions (parse errors).
    pub malformed: Vec<String>,
}

#[async_trait::async_trait]
impl Analyzer for OpenAiAnalyzer {
    fn name(&self) -> &'static str {
        "openai"
    }

    async fn suggest(&self, analysis: &Analysis) -> Result<Vec<Suggestion>, AnalyzerError> {
        self.suggest_with_report(analysis)
            .await
            .map(|(suggestions, _)| suggestions)
    }

    async fn advise(&self, analysis: &Analysis) -> Result<Advice, AnalyzerError> {
        let (suggestions, outcome) = self.suggest_with_report(analysis).await?;
        let engine = if outcome.is_fallback() {
            self.fallback.name()
        } else {
            self.name()
        };
        Ok(Advice {
            suggestions,
            engine,
            note: Some(outcome.to_string()),
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn config_from_vars() {
        assert_eq!(OpenAiConfig::from_vars(|_| None), None);
        assert_eq!(
            OpenAiConfig::from_vars(|n| (n == "OPENAI_API_KEY").then(String::new)),
            None
        );
        let config = OpenAiConfig::from_vars(|n| {
            (n == "OPENAI_BASE_URL").then(|| "http://127.0.0.1:11434/v1/".to_owned())
        })
        .unwrap();
        assert_eq!(config.api_key, None);
        assert_eq!(config.model, OpenAiConfig::DEFAULT_MODEL);
        assert_eq!(config.timeout, Duration::from_secs(30));
        assert_eq!(config.effective_base_url(), "http://127.0.0.1:11434/v1");
        let config =
            OpenAiConfig::from_vars(|n| (n == "OPENAI_API_KEY").then(|| "sk-x".into())).unwrap();
        assert_eq!(config.effective_base_url(), "https://api.openai.com/v1");
        assert!(!format!("{config:?}").contains("sk-x"));
    }

    #[test]
    fn replies_parse_with_fences_lists_and_maps() {
        let item = r#"{"id":"a","type":"braking","corner":"T1","message":"m","severity":"info",
            "position":0.1,"distance_m":1,"time_loss_s":0.1,"evidence":[{"name":"x","value":2}]}"#;
        let (s, bad) =
            parse_reply(&format!("```json\n{{\"suggestions\":[{item}, 3]}}\n```")).unwrap();
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].evidence["x"], 2.0);
        assert_eq!(bad.len(), 1);
        let map = item.replace(r#"[{"name":"x","value":2}]"#, r#"{"y":3}"#);
        let (s, _) = parse_reply(&format!("[{map}]")).unwrap();
        assert_eq!(s[0].evidence["y"], 3.0);
        assert!(parse_reply("Sure! Here are").is_err());
        assert!(parse_reply("{\"advice\":[]}").is_err());
    }

    #[test]
    fn compact_json_rounds_floats_only() {
        let json = compact_json(&serde_json::json!({"a": 0.123_456, "b": [108_633, 2.0]}));
        assert_eq!(json, r#"{"a":0.123,"b":[108633,2.0]}"#);
    }

    #[test]
    fn reasons_read_as_sentences() {
        let reason = FallbackReason::NoValidSuggestions {
            first: Some(Rejection::UnknownCorner {
                corner: "T14".into(),
            }),
        };
        assert_eq!(
            reason.to_string(),
            "the LLM reply cited T14, which does not exist"
        );
    }
}
