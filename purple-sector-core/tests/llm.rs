//! The LLM analyzer, the validation of suggestions and the coach, against a small
//! OpenAI-compatible server started inside each test on 127.0.0.1 (no other network).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use purple_sector_core::analysis::{
    Analysis, Analyzer, AnalyzerError, AnswerSource, Cause, Coach, CoachError, Corner,
    CornerMetrics, CornerReport, FallbackReason, Intent, JsonMode, OfflineCoach, OpenAiAnalyzer,
    OpenAiConfig, PhaseLosses, Rejection, SegmentKind, SegmentLoss, Severity, Suggestion,
    SuggestionSource, SuggestionType, validate_suggestions,
};
use purple_sector_core::lap::{Lap, LapKind, LapTime};
use purple_sector_core::store::{
    ChatRole, LapId, MemoryStore, NewSession, SessionSource, SqliteStore, Store,
};
use purple_sector_core::telemetry::Frame;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

// ---------------------------------------------------------------------------------------------
// A tiny OpenAI-compatible server
// ---------------------------------------------------------------------------------------------

/// One request as the server read it.
#[derive(Debug, Clone)]
struct Recorded {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
    body: String,
}

impl Recorded {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap()
    }

    /// The request's messages as (role, content).
    fn messages(&self) -> Vec<(String, String)> {
        self.json()["messages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| {
                (
                    m["role"].as_str().unwrap().to_owned(),
                    m["content"].as_str().unwrap_or_default().to_owned(),
                )
            })
            .collect()
    }
}

/// What the server answers.
#[derive(Debug, Clone)]
struct Reply {
    status: u16,
    body: String,
    delay: Duration,
}

impl Reply {
    /// A chat completion whose first choice says `content`.
    fn completion(content: &str) -> Self {
        let body = json!({
            "id": "chatcmpl-test",
            "object": "chat.completion",
            "created": 1_700_000_000,
            "model": "test-model",
            "choices": [{
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": "stop",
                "logprobs": null
            }],
            "usage": {"prompt_tokens": 10, "completion_tokens": 10, "total_tokens": 20}
        });
        Self {
            status: 200,
            body: body.to_string(),
            delay: Duration::ZERO,
        }
    }

    /// Suggestions JSON as the first choice.
    fn suggestions(items: Value) -> Self {
        Self::completion(&json!({ "suggestions": items }).to_string())
    }

    fn error(status: u16, message: &str) -> Self {
        Self {
            status,
            body:
                json!({"error": {"message": message, "type": "test", "param": null, "code": null}})
                    .to_string(),
            delay: Duration::ZERO,
        }
    }

    fn after(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }
}

type Handler = dyn Fn(&Recorded, usize) -> Reply + Send + Sync;

/// The server: answers each request with `handler(request, index)`, records them all.
struct TestServer {
    base_url: String,
    requests: Arc<Mutex<Vec<Recorded>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl TestServer {
    async fn start(handler: impl Fn(&Recorded, usize) -> Reply + Send + Sync + 'static) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base_url = format!("http://{}/v1", listener.local_addr().unwrap());
        let requests = Arc::new(Mutex::new(Vec::new()));
        let handler: Arc<Handler> = Arc::new(handler);
        let recorded = Arc::clone(&requests);
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let handler = Arc::clone(&handler);
                let recorded = Arc::clone(&recorded);
                tokio::spawn(async move {
                    let _ = serve_one(stream, &*handler, &recorded).await;
                });
            }
        });
        Self {
            base_url,
            requests,
            task,
        }
    }

    /// A server that always gives the same reply.
    async fn always(reply: Reply) -> Self {
        Self::start(move |_, _| reply.clone()).await
    }

    fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().unwrap().clone()
    }

    fn config(&self) -> OpenAiConfig {
        OpenAiConfig::new("test-model")
            .with_base_url(&self.base_url)
            .with_api_key("sk-test")
            .with_timeout(Duration::from_secs(1))
    }
}

/// Reads one HTTP/1.1 request, answers it, closes the connection.
async fn serve_one(
    mut stream: TcpStream,
    handler: &Handler,
    recorded: &Mutex<Vec<Recorded>>,
) -> std::io::Result<()> {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 4096];
    let header_end = loop {
        if let Some(at) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break at + 4;
        }
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(());
        }
        buffer.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buffer[..header_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut request_line = lines.next().unwrap_or_default().split(' ');
    let method = request_line.next().unwrap_or_default().to_owned();
    let path = request_line.next().unwrap_or_default().to_owned();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    while buffer.len() < header_end + length {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        buffer.extend_from_slice(&chunk[..n]);
    }
    let end = (header_end + length).min(buffer.len());
    let request = Recorded {
        method,
        path,
        headers,
        body: String::from_utf8_lossy(&buffer[header_end..end]).into_owned(),
    };
    let index = {
        let mut all = recorded.lock().unwrap();
        all.push(request.clone());
        all.len() - 1
    };
    let reply = handler(&request, index);
    tokio::time::sleep(reply.delay).await;
    let reason = match reply.status {
        200 => "OK",
        400 => "Bad Request",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        _ => "Status",
    };
    let response = format!(
        "HTTP/1.1 {} {reason}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{}",
        reply.status,
        reply.body.len(),
        reply.body
    );
    stream.write_all(response.as_bytes()).await?;
    stream.shutdown().await
}

// ---------------------------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------------------------

#[allow(clippy::too_many_arguments)]
fn metrics(
    brake_point_m: Option<f64>,
    peak_brake: f64,
    apex_m: f64,
    min_speed_kmh: f64,
    throttle_pickup_m: Option<f64>,
    full_throttle_m: Option<f64>,
    exit_speed_kmh: f64,
    gear_at_apex: i32,
) -> CornerMetrics {
    CornerMetrics {
        brake_point_m,
        peak_brake,
        trail_brake_m: 18.0,
        turn_in_m: brake_point_m.map(|b| b + 60.0),
        apex_m,
        min_speed_kmh,
        throttle_pickup_m,
        full_throttle_m,
        coasting_m: 6.0,
        exit_speed_kmh,
        gear_at_apex,
        lift_point_m: None,
        mid_corner_lift_m: 0.0,
        entry_speed_kmh: 0.0,
        slowest_from_m: 0.0,
        exit_throttle: 0.0,
    }
}

fn segment(name: &str, kind: SegmentKind, start_m: f64, end_m: f64, loss: f64) -> SegmentLoss {
    SegmentLoss {
        name: name.into(),
        kind,
        start_m,
        end_m,
        time_loss_s: loss,
        own_loss_s: loss,
    }
}

fn corner(name: &str, start_m: f64, apex_m: f64, end_m: f64) -> Corner {
    Corner::numbered(name, start_m, apex_m, end_m)
}

/// A 3 km lap, 0.732 s slower than its reference, three corners.
fn analysis() -> Analysis {
    use SegmentKind::{Corner as C, Straight as S};
    Analysis {
        track_length_m: 3000.0,
        lap_time_ms: 100_732,
        reference_lap_time_ms: 100_000,
        gap_s: 0.732,
        corners: vec![
            CornerReport {
                corner: corner("T1", 300.0, 420.0, 560.0),
                time_loss_s: 0.41,
                attributed_loss_s: 0.0,
                phases: PhaseLosses::default(),
                slower_at: None,
                faster_at: None,
                lap: metrics(
                    Some(312.0),
                    0.95,
                    422.0,
                    87.4,
                    Some(450.0),
                    Some(505.0),
                    142.3,
                    3,
                ),
                reference: metrics(
                    Some(344.0),
                    1.0,
                    420.0,
                    91.0,
                    Some(440.0),
                    Some(490.0),
                    146.8,
                    3,
                ),
            },
            CornerReport {
                corner: corner("T2", 1100.0, 1190.0, 1300.0),
                time_loss_s: 0.12,
                attributed_loss_s: 0.0,
                phases: PhaseLosses::default(),
                slower_at: None,
                faster_at: None,
                lap: metrics(
                    Some(1120.0),
                    0.8,
                    1188.0,
                    132.6,
                    Some(1205.0),
                    Some(1240.0),
                    171.0,
                    4,
                ),
                reference: metrics(
                    Some(1126.0),
                    0.85,
                    1190.0,
                    134.1,
                    Some(1200.0),
                    Some(1236.0),
                    172.5,
                    4,
                ),
            },
            CornerReport {
                corner: corner("T3", 2200.0, 2350.0, 2500.0),
                time_loss_s: -0.05,
                attributed_loss_s: 0.0,
                phases: PhaseLosses::default(),
                slower_at: None,
                faster_at: None,
                lap: metrics(
                    None,
                    0.0,
                    2350.0,
                    201.2,
                    Some(2360.0),
                    Some(2380.0),
                    220.0,
                    6,
                ),
                reference: metrics(
                    None,
                    0.0,
                    2348.0,
                    199.9,
                    Some(2362.0),
                    Some(2385.0),
                    219.1,
                    6,
                ),
            },
        ],
        segments: vec![
            segment("Start–T1", S, 0.0, 300.0, 0.02),
            segment("T1", C, 300.0, 560.0, 0.41),
            segment("T1–T2", S, 560.0, 1100.0, 0.2),
            segment("T2", C, 1100.0, 1300.0, 0.12),
            segment("T2–T3", S, 1300.0, 2200.0, 0.03),
            segment("T3", C, 2200.0, 2500.0, -0.05),
            segment("T3–Finish", S, 2500.0, 3000.0, 0.002),
        ],
        start_speed_kmh: 200.0,
        reference_start_speed_kmh: 200.0,
        from_line_loss_s: 0.0,
        follows_previous_lap: false,
        lap_kind: None,
        reference_kind: None,
    }
}

/// The offline suggestion the fake fallback analyzer gives.
fn offline_suggestion() -> Suggestion {
    Suggestion {
        id: "T1-braking".into(),
        kind: SuggestionType::Braking,
        cause: Cause::EarlyBraking,
        corner: Some("T1".into()),
        message: "You braked 32 m earlier than your best into T1 and lost 0.41 s.".into(),
        severity: Severity::Critical,
        position: 0.104,
        distance_m: 312.0,
        time_loss_s: 0.41,
        evidence: BTreeMap::from([
            ("brake_point_m".to_owned(), 312.0),
            ("reference_brake_point_m".to_owned(), 344.0),
        ]),
    }
}

/// A fallback analyzer with fixed suggestions (or a failure).
#[derive(Debug)]
struct Fixed(Option<Vec<Suggestion>>);

#[async_trait::async_trait]
impl Analyzer for Fixed {
    fn name(&self) -> &'static str {
        "fixed"
    }

    async fn suggest(&self, _: &Analysis) -> Result<Vec<Suggestion>, AnalyzerError> {
        self.0.clone().ok_or(AnalyzerError::BadReply {
            message: "fallback failed".into(),
        })
    }
}

fn offline() -> Arc<dyn Analyzer> {
    Arc::new(Fixed(Some(vec![offline_suggestion()])))
}

/// Two good suggestions, as the model would write them.
fn good_items() -> Value {
    json!([
        {
            "id": "T1-brake-later", "type": "braking", "corner": "T1",
            "message": "Into T1 you braked at 312 m, 32 m before your best (344 m): that cost 0.41 s.",
            "severity": "critical", "position": 0.104, "distance_m": 312, "time_loss_s": 0.41,
            "evidence": [{"name": "brake_point_m", "value": 312}, {"name": "reference_brake_point_m", "value": 344}]
        },
        {
            "id": "T1-T2-throttle", "type": "throttle", "corner": null,
            "message": "Full throttle out of T1 came 15 m later than on your best; the straight to T2 cost 0.20 s.",
            "severity": "warning", "position": 0.168, "distance_m": 505, "time_loss_s": 0.2,
            "evidence": [{"name": "full_throttle_m", "value": 505}]
        }
    ])
}

fn good_suggestions() -> Vec<Suggestion> {
    vec![
        Suggestion {
            id: "T1-brake-later".into(),
            kind: SuggestionType::Braking,
            cause: Cause::EarlyBraking,
            corner: Some("T1".into()),
            message:
                "Into T1 you braked at 312 m, 32 m before your best (344 m): that cost 0.41 s."
                    .into(),
            severity: Severity::Critical,
            position: 0.104,
            distance_m: 312.0,
            time_loss_s: 0.41,
            evidence: BTreeMap::from([
                ("brake_point_m".to_owned(), 312.0),
                ("reference_brake_point_m".to_owned(), 344.0),
            ]),
        },
        Suggestion {
            id: "T1-T2-throttle".into(),
            kind: SuggestionType::Throttle,
            // No cause given, and no corner to take one from.
            cause: Cause::General,
            corner: None,
            message: "Full throttle out of T1 came 15 m later than on your best; the straight to \
                      T2 cost 0.20 s."
                .into(),
            severity: Severity::Warning,
            position: 0.168,
            distance_m: 505.0,
            time_loss_s: 0.2,
            evidence: BTreeMap::from([("full_throttle_m".to_owned(), 505.0)]),
        },
    ]
}

fn fallback_reason(outcome_source: &SuggestionSource) -> &FallbackReason {
    match outcome_source {
        SuggestionSource::Fallback { reason } => reason,
        SuggestionSource::Llm => panic!("expected the fallback"),
    }
}

// ---------------------------------------------------------------------------------------------
// OpenAiAnalyzer
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn a_good_reply_is_returned_exactly_and_the_request_carries_the_facts() {
    let server = TestServer::always(Reply::suggestions(good_items())).await;
    let analyzer = OpenAiAnalyzer::new(server.config(), offline());
    let (suggestions, outcome) = analyzer.suggest_with_report(&analysis()).await.unwrap();
    assert_eq!(outcome.source, SuggestionSource::Llm);
    assert_eq!(outcome.dropped_count(), 0);
    assert_eq!(suggestions, good_suggestions());
    assert_eq!(outcome.to_string(), "suggestions by the LLM");

    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!(request.method, "POST");
    assert_eq!(request.path, "/v1/chat/completions");
    assert_eq!(request.header("authorization"), Some("Bearer sk-test"));
    let body = request.json();
    assert_eq!(body["model"], "test-model");
    assert_eq!(body["response_format"]["type"], "json_schema");
    let corners = &body["response_format"]["json_schema"]["schema"]["properties"]["suggestions"]["items"]
        ["properties"]["corner"]["enum"];
    assert_eq!(corners, &json!(["T1", "T2", "T3", null]));
    let messages = request.messages();
    assert_eq!(messages[0].0, "system");
    let (role, user) = &messages[1];
    assert_eq!(role, "user");
    let sent: Value = serde_json::from_str(user).unwrap();
    assert_eq!(sent["facts"]["gap_s"], 0.732);
    assert_eq!(sent["facts"]["lap_time_ms"], 100_732);
    let names: Vec<&str> = sent["facts"]["corners"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["corner"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["T1", "T2", "T3"]);
    assert!(user.contains("T3–Finish"));
    assert_eq!(sent["hints"][0]["id"], "T1-braking");

    // Through the trait too.
    assert_eq!(
        analyzer.suggest(&analysis()).await.unwrap(),
        good_suggestions()
    );
    assert_eq!(analyzer.name(), "openai");
}

#[tokio::test]
async fn malformed_json_falls_back() {
    for reply in [
        Reply::completion("Sure! Brake later into T1."),
        Reply::completion(r#"{"advice": "brake later"}"#),
        Reply {
            status: 200,
            body: "this is not JSON".into(),
            delay: Duration::ZERO,
        },
    ] {
        let server = TestServer::always(reply).await;
        let analyzer = OpenAiAnalyzer::new(server.config(), offline());
        let (suggestions, outcome) = analyzer.suggest_with_report(&analysis()).await.unwrap();
        assert_eq!(suggestions, vec![offline_suggestion()]);
        assert!(
            matches!(
                fallback_reason(&outcome.source),
                FallbackReason::BadReply { .. }
            ),
            "{outcome:?}"
        );
        assert!(
            outcome
                .to_string()
                .ends_with(": using the offline suggestions")
        );
    }
}

#[tokio::test]
async fn a_timeout_falls_back() {
    let server =
        TestServer::always(Reply::suggestions(good_items()).after(Duration::from_secs(10))).await;
    let analyzer = OpenAiAnalyzer::new(server.config(), offline());
    let started = Instant::now();
    let (suggestions, outcome) = analyzer.suggest_with_report(&analysis()).await.unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(suggestions, vec![offline_suggestion()]);
    assert_eq!(
        fallback_reason(&outcome.source),
        &FallbackReason::Timeout { seconds: 1 }
    );
    assert_eq!(
        outcome.to_string(),
        "the LLM did not answer within 1 s: using the offline suggestions"
    );
}

#[tokio::test]
async fn rate_limiting_falls_back() {
    let server = TestServer::always(Reply::error(429, "Rate limit reached")).await;
    let analyzer = OpenAiAnalyzer::new(server.config(), offline());
    let (suggestions, outcome) = analyzer.suggest_with_report(&analysis()).await.unwrap();
    assert_eq!(suggestions, vec![offline_suggestion()]);
    assert_eq!(
        fallback_reason(&outcome.source),
        &FallbackReason::Request {
            status: Some(429),
            message: "Rate limit reached".into()
        }
    );
    // async-openai itself retries a 429 a few times with a short backoff (all within the
    // timeout) before giving up.
    assert!((1..=4).contains(&server.requests().len()));
}

#[tokio::test]
async fn an_unreachable_server_falls_back() {
    // Bind then drop a listener: nothing listens on that port.
    let port = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = OpenAiConfig::new("m")
        .with_base_url(format!("http://127.0.0.1:{port}/v1"))
        .with_timeout(Duration::from_secs(1));
    let analyzer = OpenAiAnalyzer::new(config, offline());
    let (suggestions, outcome) = analyzer.suggest_with_report(&analysis()).await.unwrap();
    assert_eq!(suggestions, vec![offline_suggestion()]);
    assert!(outcome.is_fallback());
}

#[tokio::test]
async fn a_reply_citing_an_unknown_corner_loses_that_suggestion() {
    let mut items = good_items();
    let mut t14 = items[0].clone();
    t14["id"] = json!("T14-brake");
    t14["corner"] = json!("T14");
    items.as_array_mut().unwrap().push(t14.clone());
    let mut in_message = items[1].clone();
    in_message["id"] = json!("T2-T14");
    in_message["message"] = json!("Between T2 and T14 you lost 0.20 s.");
    items.as_array_mut().unwrap().push(in_message);
    let server = TestServer::always(Reply::suggestions(items)).await;
    let analyzer = OpenAiAnalyzer::new(server.config(), offline());
    let (suggestions, outcome) = analyzer.suggest_with_report(&analysis()).await.unwrap();
    assert_eq!(outcome.source, SuggestionSource::Llm);
    assert_eq!(suggestions, good_suggestions());
    let reasons: Vec<_> = outcome.dropped.iter().map(|r| r.reason.clone()).collect();
    let t14_rejection = Rejection::UnknownCorner {
        corner: "T14".into(),
    };
    assert_eq!(reasons, [t14_rejection.clone(), t14_rejection.clone()]);
    assert_eq!(outcome.dropped[0].suggestion.id, "T14-brake");

    // Nothing left: the fallback, saying why.
    let server = TestServer::always(Reply::suggestions(json!([t14]))).await;
    let analyzer = OpenAiAnalyzer::new(server.config(), offline());
    let (suggestions, outcome) = analyzer.suggest_with_report(&analysis()).await.unwrap();
    assert_eq!(suggestions, vec![offline_suggestion()]);
    assert_eq!(
        fallback_reason(&outcome.source),
        &FallbackReason::NoValidSuggestions {
            first: Some(t14_rejection)
        }
    );
    assert_eq!(
        outcome.to_string(),
        "the LLM reply cited T14, which does not exist: using the offline suggestions"
    );
}

#[tokio::test]
async fn a_reply_inventing_numbers_loses_those_suggestions() {
    let mut items = good_items();
    let mut invented = items[0].clone();
    invented["id"] = json!("T1-invented");
    invented["message"] = json!("Brake 45 m later into T1 to gain 0.41 s.");
    let mut wrong_loss = items[0].clone();
    wrong_loss["id"] = json!("T1-wrong-loss");
    wrong_loss["time_loss_s"] = json!(0.5);
    let mut wrong_place = items[0].clone();
    wrong_place["id"] = json!("T1-wrong-place");
    wrong_place["distance_m"] = json!(777);
    let mut wrong_evidence = items[0].clone();
    wrong_evidence["id"] = json!("T1-wrong-evidence");
    wrong_evidence["evidence"] = json!([{"name": "brake_point_m", "value": 299}]);
    let array = items.as_array_mut().unwrap();
    array.extend([invented, wrong_loss, wrong_place, wrong_evidence]);
    let server = TestServer::always(Reply::suggestions(items)).await;
    let analyzer = OpenAiAnalyzer::new(server.config(), offline());
    let (suggestions, outcome) = analyzer.suggest_with_report(&analysis()).await.unwrap();
    assert_eq!(suggestions, good_suggestions());
    let reasons: Vec<_> = outcome.dropped.iter().map(|r| r.reason.clone()).collect();
    assert_eq!(
        reasons,
        [
            Rejection::NumberNotInFacts {
                number: "45".into()
            },
            Rejection::TimeLossMismatch {
                claimed: 0.5,
                expected: Some(0.41)
            },
            Rejection::DistanceNotInFacts { distance_m: 777.0 },
            Rejection::EvidenceNotInFacts {
                name: "brake_point_m".into(),
                value: 299.0
            },
        ]
    );
    assert_eq!(
        outcome.to_string(),
        "suggestions by the LLM (4 dropped: the reply cited 45, which is not in the measurements)"
    );
}

#[tokio::test]
async fn a_server_rejecting_structured_output_is_asked_again_more_simply() {
    let server = TestServer::start(|request, _| {
        if request.body.contains("json_schema") {
            Reply::error(400, "response_format json_schema is not supported")
        } else {
            Reply::suggestions(good_items())
        }
    })
    .await;
    let analyzer = OpenAiAnalyzer::new(server.config(), offline());
    let (suggestions, outcome) = analyzer.suggest_with_report(&analysis()).await.unwrap();
    assert_eq!(outcome.source, SuggestionSource::Llm);
    assert_eq!(suggestions, good_suggestions());
    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[1].json()["response_format"]["type"], "json_object");

    // Prompt-only mode sends no response_format at all.
    let server = TestServer::always(Reply::suggestions(good_items())).await;
    let config = server.config().with_json_mode(JsonMode::Prompt);
    let analyzer = OpenAiAnalyzer::new(config, offline());
    let (_, outcome) = analyzer.suggest_with_report(&analysis()).await.unwrap();
    assert_eq!(outcome.source, SuggestionSource::Llm);
    assert!(server.requests()[0].json().get("response_format").is_none());
}

#[tokio::test]
async fn only_a_failing_fallback_makes_an_error() {
    let server = TestServer::always(Reply::error(500, "boom")).await;
    let analyzer = OpenAiAnalyzer::new(server.config(), Arc::new(Fixed(None)));
    assert!(matches!(
        analyzer.suggest(&analysis()).await,
        Err(AnalyzerError::BadReply { .. })
    ));
    // With a good reply, the failing fallback does not matter (no hints are sent).
    let server = TestServer::always(Reply::suggestions(good_items())).await;
    let analyzer = OpenAiAnalyzer::new(server.config(), Arc::new(Fixed(None)));
    assert_eq!(
        analyzer.suggest(&analysis()).await.unwrap(),
        good_suggestions()
    );
    let sent: Value = serde_json::from_str(&server.requests()[0].messages()[1].1).unwrap();
    assert_eq!(sent["hints"], json!([]));
}

// ---------------------------------------------------------------------------------------------
// validate_suggestions
// ---------------------------------------------------------------------------------------------

fn reason_for(edit: impl FnOnce(&mut Suggestion)) -> Option<Rejection> {
    let mut suggestion = offline_suggestion();
    edit(&mut suggestion);
    let (_, rejected) = validate_suggestions(&analysis(), vec![suggestion]);
    rejected.into_iter().next().map(|r| r.reason)
}

#[test]
fn validation_rules() {
    assert_eq!(reason_for(|_| {}), None);
    // Rounding to the message's precision, sums and differences within one corner.
    assert_eq!(
        reason_for(|s| s.message =
            "T1: 87 km/h, 3.6 km/h slower; 1:40.732 vs 1:40.000; 95 % brake, 0.4 s.".into()),
        None
    );
    assert_eq!(
        reason_for(|s| s.message = "You gained 0.05 s in T3.".into()),
        None
    );
    assert_eq!(
        reason_for(|s| s.message = "  ".into()),
        Some(Rejection::EmptyMessage)
    );
    assert_eq!(reason_for(|s| s.id.clear()), Some(Rejection::EmptyId));
    assert_eq!(
        reason_for(|s| s.corner = Some("T9".into())),
        Some(Rejection::UnknownCorner {
            corner: "T9".into()
        })
    );
    assert_eq!(
        reason_for(|s| s.message = "Turn 7 costs 0.41 s.".into()),
        Some(Rejection::UnknownCorner {
            corner: "T7".into()
        })
    );
    assert_eq!(
        reason_for(|s| s.message = "You lost 0.63 s in T1.".into()),
        Some(Rejection::NumberNotInFacts {
            number: "0.63".into()
        })
    );
    // Across corners, differences are not facts: T2's brake point minus T1's.
    assert_eq!(
        reason_for(|s| s.message = "808 m between the brake points.".into()),
        Some(Rejection::NumberNotInFacts {
            number: "808".into()
        })
    );
    assert_eq!(
        reason_for(|s| s.time_loss_s = 0.416),
        Some(Rejection::TimeLossMismatch {
            claimed: 0.416,
            expected: Some(0.41)
        })
    );
    assert_eq!(reason_for(|s| s.time_loss_s = 0.414), None);
    assert_eq!(
        reason_for(|s| {
            s.corner = None;
            s.time_loss_s = 0.3;
        }),
        Some(Rejection::TimeLossMismatch {
            claimed: 0.3,
            expected: None
        })
    );
    assert_eq!(
        reason_for(|s| s.position = 1.5),
        Some(Rejection::PositionOutOfRange { position: 1.5 })
    );
    assert_eq!(
        reason_for(|s| s.position = 0.5),
        Some(Rejection::PositionNotInFacts { position: 0.5 })
    );
    assert_eq!(
        reason_for(|s| s.distance_m = f64::NAN),
        Some(Rejection::NotFinite {
            field: "distance_m".into()
        })
    );
    let (kept, rejected) = validate_suggestions(
        &analysis(),
        vec![offline_suggestion(), offline_suggestion()],
    );
    assert_eq!(kept.len(), 1);
    assert_eq!(
        rejected[0].reason,
        Rejection::DuplicateId {
            id: "T1-braking".into()
        }
    );
}

// ---------------------------------------------------------------------------------------------
// The offline coach
// ---------------------------------------------------------------------------------------------

#[test]
fn offline_coach_answers_each_intent_from_the_facts() {
    let a = analysis();
    let coach = OfflineCoach;
    let ask = |q: &str| coach.answer(&a, &[offline_suggestion()], q);

    let answer = ask("Where am I losing time?");
    assert_eq!(
        answer,
        "This lap was 0.732 s slower than the reference lap (1:40.732 against 1:40.000). Time \
         lost: T1 0.41 s, T1–T2 0.20 s, T2 0.12 s, T2–T3 0.03 s, Start–T1 0.02 s. First thing \
         to work on: You braked 32 m earlier than your best into T1 and lost 0.41 s."
    );

    let answer = ask("What about T1?");
    assert!(
        answer.starts_with(
            "T1 (from 300 m to 560 m, apex at 420 m): you lost 0.41 s to the reference lap."
        ),
        "{answer}"
    );
    for part in [
        "Braking: 312 m, reference 344 m (32 m earlier); peak 95 % against 100 %",
        "Minimum speed: 87.4 km/h, reference 91.0 km/h (3.6 km/h slower), at 422 m against 420 m",
        "Throttle: back on at 450 m, reference 440 m (10 m later); full at 505 m, reference 490 m (15 m later)",
        "Exit speed: 142.3 km/h, reference 146.8 km/h (4.5 km/h slower)",
        "Gear at the apex: 3 against 3",
    ] {
        assert!(answer.contains(part), "{part:?} not in {answer}");
    }
    assert!(ask("and turn 3?").contains("you gained 0.05 s on the reference lap"));
    assert_eq!(
        ask("What about T14?"),
        "There is no T14 in this lap's measurements: they are T1 to T3."
    );

    let answer = ask("How's my braking?");
    assert!(
        answer.starts_with(
            "Brake points, this lap against the reference lap: you braked earlier in 2 and \
             later in 0 of 2 corners; the biggest difference: T1, 32 m earlier."
        ),
        "{answer}"
    );
    assert!(
        answer.contains("\n- T2: 1120 m, reference 1126 m (6 m earlier); peak 80 % against 85 %")
    );
    assert!(answer.contains("\n- T3: no braking on either lap"));

    let answer = ask("When should I get on the throttle?");
    assert!(
        answer.contains("\n- T1: 450 m, reference 440 m (10 m later)"),
        "{answer}"
    );
    assert!(answer.contains("later in 2 of 3 corners"), "{answer}");

    let answer = ask("How does this compare to my best?");
    assert_eq!(
        answer,
        "This lap was 0.732 s slower than the reference lap (1:40.732 against 1:40.000). The \
         biggest losses: T1 0.41 s, T1–T2 0.20 s, T2 0.12 s. Gained: T3 0.05 s."
    );

    let answer = ask("Should I change my tyre pressures?");
    assert!(
        answer.starts_with("I can only answer from this lap's measurements: where you lose time"),
        "{answer}"
    );
    // Deterministic.
    assert_eq!(ask("What about T1?"), ask("What about T1?"));
    assert_eq!(OfflineCoach::intent("versus my best"), Intent::VersusBest);
}

// ---------------------------------------------------------------------------------------------
// The coach with a store
// ---------------------------------------------------------------------------------------------

async fn lap_in(store: &Arc<dyn Store>) -> LapId {
    let session = store
        .create_session(NewSession::new("coach test", SessionSource::Demo))
        .await
        .unwrap();
    let lap = Lap {
        stint: 0,
        number: 1,
        kind: LapKind::Flying,
        invalid_reason: None,
        time: Some(LapTime::official(100_732)),
        frames: vec![Frame::default(); 2],
    };
    store.save_lap(session.id, &lap).await.unwrap().id
}

fn roles(history: &[purple_sector_core::store::ChatMessage]) -> Vec<(ChatRole, String)> {
    history
        .iter()
        .map(|m| (m.role, m.content.clone()))
        .collect()
}

#[tokio::test]
async fn offline_coach_stores_question_then_answer() {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let lap = lap_in(&store).await;
    let coach = Coach::offline(Arc::clone(&store));
    assert_eq!(coach.source(), AnswerSource::Offline);
    let answer = coach
        .ask(lap, &analysis(), &[], "  Where am I losing time?  ")
        .await
        .unwrap();
    assert_eq!(answer.source, AnswerSource::Offline);
    assert!(answer.content.contains("T1 0.41 s"));
    assert_eq!(
        roles(&coach.history(lap).await.unwrap()),
        [
            (ChatRole::User, "Where am I losing time?".to_owned()),
            (ChatRole::Assistant, answer.content.clone()),
        ]
    );
    assert_eq!(answer.question.role, ChatRole::User);
    assert_eq!(answer.answer.content, answer.content);
    assert!(matches!(
        coach.ask(lap, &analysis(), &[], " ").await,
        Err(CoachError::EmptyQuestion)
    ));
    assert!(matches!(
        coach.ask(LapId(9999), &analysis(), &[], "T1?").await,
        Err(CoachError::Store(_))
    ));
    assert_eq!(coach.history(lap).await.unwrap().len(), 2);
}

#[tokio::test]
async fn llm_coach_stores_answers_and_passes_the_history_on() {
    let server = TestServer::start(|_, index| {
        Reply::completion(if index == 0 {
            "  T1: you braked 32 m early and lost 0.41 s.  "
        } else {
            "Yes, T1 again."
        })
    })
    .await;
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let lap = lap_in(&store).await;
    let coach = Coach::new(Arc::clone(&store), Some(server.config()));
    assert_eq!(coach.source(), AnswerSource::Llm);
    let suggestions = [offline_suggestion()];
    let first = coach
        .ask(lap, &analysis(), &suggestions, "Where am I losing time?")
        .await
        .unwrap();
    assert_eq!(first.source, AnswerSource::Llm);
    assert_eq!(first.content, "T1: you braked 32 m early and lost 0.41 s.");
    coach
        .ask(lap, &analysis(), &suggestions, "Still T1?")
        .await
        .unwrap();
    assert_eq!(
        roles(&coach.history(lap).await.unwrap()),
        [
            (ChatRole::User, "Where am I losing time?".to_owned()),
            (ChatRole::Assistant, first.content.clone()),
            (ChatRole::User, "Still T1?".to_owned()),
            (ChatRole::Assistant, "Yes, T1 again.".to_owned()),
        ]
    );

    let requests = server.requests();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[1].header("authorization"), Some("Bearer sk-test"));
    assert_eq!(requests[1].json()["model"], "test-model");
    assert!(requests[1].json().get("response_format").is_none());
    let messages = requests[1].messages();
    assert_eq!(messages[0].0, "system");
    assert!(
        messages[0].1.contains("\"gap_s\":0.732"),
        "{}",
        messages[0].1
    );
    assert!(messages[0].1.contains("T1-braking"));
    let rest: Vec<(&str, &str)> = messages[1..]
        .iter()
        .map(|(r, c)| (r.as_str(), c.as_str()))
        .collect();
    assert_eq!(
        rest,
        [
            ("user", "Where am I losing time?"),
            ("assistant", "T1: you braked 32 m early and lost 0.41 s."),
            ("user", "Still T1?"),
        ]
    );
}

#[tokio::test]
async fn llm_coach_errors_store_nothing() {
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let lap = lap_in(&store).await;

    let server = TestServer::always(Reply::error(500, "model crashed")).await;
    let coach = Coach::new(Arc::clone(&store), Some(server.config()));
    let error = coach.ask(lap, &analysis(), &[], "T1?").await.unwrap_err();
    assert!(
        matches!(
            error,
            CoachError::Llm(AnalyzerError::Request {
                status: Some(500),
                ..
            })
        ),
        "{error:?}"
    );

    let server = TestServer::always(Reply::completion("late").after(Duration::from_secs(10))).await;
    let coach = Coach::new(Arc::clone(&store), Some(server.config()));
    let started = Instant::now();
    let error = coach.ask(lap, &analysis(), &[], "T1?").await.unwrap_err();
    assert!(started.elapsed() < Duration::from_secs(8));
    assert!(
        matches!(
            error,
            CoachError::Llm(AnalyzerError::Timeout { seconds: 1 })
        ),
        "{error:?}"
    );

    let server = TestServer::always(Reply::completion("   ")).await;
    let coach = Coach::new(Arc::clone(&store), Some(server.config()));
    assert!(matches!(
        coach.ask(lap, &analysis(), &[], "T1?").await,
        Err(CoachError::Llm(AnalyzerError::BadReply { .. }))
    ));

    assert!(store.list_chat_messages(lap).await.unwrap().is_empty());
}

#[tokio::test]
async fn coach_history_survives_in_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("coach.db");
    let server = TestServer::always(Reply::completion("Brake later into T1.")).await;
    let lap = {
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&path).unwrap());
        let lap = lap_in(&store).await;
        Coach::offline(Arc::clone(&store))
            .ask(lap, &analysis(), &[], "What about T2?")
            .await
            .unwrap();
        Coach::new(Arc::clone(&store), Some(server.config()))
            .ask(lap, &analysis(), &[], "And T1?")
            .await
            .unwrap();
        lap
    };
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&path).unwrap());
    let history = Coach::offline(store).history(lap).await.unwrap();
    let roles: Vec<(ChatRole, &str)> = history
        .iter()
        .map(|m| (m.role, m.content.as_str()))
        .collect();
    assert_eq!(roles.len(), 4);
    assert_eq!(roles[0], (ChatRole::User, "What about T2?"));
    assert!(roles[1].1.starts_with("T2 (from 1100 m to 1300 m"));
    assert_eq!(roles[2], (ChatRole::User, "And T1?"));
    assert_eq!(roles[3], (ChatRole::Assistant, "Brake later into T1."));
    // The LLM saw the offline exchange as history.
    let messages = server.requests()[0].messages();
    assert_eq!(
        messages[1],
        ("user".to_owned(), "What about T2?".to_owned())
    );
    assert_eq!(messages[2].0, "assistant");
}
