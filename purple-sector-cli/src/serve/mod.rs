//! `purple-sector serve`: the original web app in one process — REST API under `/api`, the
//! WebSocket stream on `/ws`, a dashboard at `/`, Prometheus metrics at `/metrics`.
//!
//! [`app`] builds the router from an [`AppState`] (tests call it without a socket); [`run`]
//! binds, serves until the shutdown future resolves, then stops any recording cleanly.
//! Binds 127.0.0.1 by default; any other address needs a token, accepted as
//! `Authorization: Bearer …` or, for the page, as an HttpOnly cookie set by `/login?token=…`.

mod api;
mod coach_api;
mod error;
mod timed_store;
mod ws;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use axum::Router;
use axum::extract::{DefaultBodyLimit, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use purple_sector_core::live::Hub;
use purple_sector_core::record::{RecordOptions, record_simulator};
use purple_sector_core::sim::{SimConfig, Track};
use purple_sector_core::store::{LapRecord, SessionId, SessionSource, Store};
use purple_sector_core::telemetry::Frame;
use tokio::sync::watch;

pub use coach_api::RateLimit;
pub use error::ApiError;
pub use timed_store::TimedStore;

/// Largest request body, bytes.
pub const MAX_BODY_BYTES: usize = 8 << 20;
/// Name of the cookie that carries the token for the page.
pub const TOKEN_COOKIE: &str = "purple_sector_token";

/// Counters for `/metrics`.
#[derive(Debug, Default)]
pub struct Metrics {
    /// WebSocket clients connected now.
    pub ws_clients: AtomicU64,
    /// Telemetry messages sent to clients.
    pub frames_out: AtomicU64,
    /// Frames not sent to a client because a newer one replaced it within its rate.
    pub frames_thinned: AtomicU64,
    /// Frames a slow client lost (the hub moved on without it).
    pub frames_dropped: AtomicU64,
    /// Client messages ignored (unknown types, attempts to send telemetry).
    pub ws_ignored: AtomicU64,
    /// HTTP requests served.
    pub requests: AtomicU64,
    /// HTTP responses with a 4xx or 5xx status.
    pub errors: AtomicU64,
    /// Analyses run, and their total time in µs.
    pub analyses: AtomicU64,
    /// Total analysis time, µs.
    pub analysis_us: AtomicU64,
    /// Request durations by route.
    latency: Mutex<std::collections::BTreeMap<String, Histogram>>,
    /// Store operation durations by operation.
    store: Mutex<std::collections::BTreeMap<&'static str, Histogram>>,
    /// Frames each connected WebSocket client lost so far, by client number.
    client_dropped: Mutex<std::collections::BTreeMap<u64, u64>>,
    /// Numbers given to WebSocket clients.
    next_client: AtomicU64,
}

/// Upper bounds of the latency buckets, seconds.
const LATENCY_BUCKETS_S: [f64; 10] = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5];

#[derive(Debug, Default, Clone)]
struct Histogram {
    buckets: [u64; LATENCY_BUCKETS_S.len()],
    count: u64,
    sum_s: f64,
}

impl Histogram {
    fn observe(&mut self, seconds: f64) {
        for (bucket, bound) in self.buckets.iter_mut().zip(LATENCY_BUCKETS_S) {
            if seconds <= bound {
                *bucket += 1;
            }
        }
        self.count += 1;
        self.sum_s += seconds;
    }
}

impl Metrics {
    /// Counts one request to `route` that took `took`.
    pub fn record_request(&self, route: &str, took: std::time::Duration) {
        let mut latency = self.latency.lock().unwrap_or_else(PoisonError::into_inner);
        latency
            .entry(route.to_owned())
            .or_default()
            .observe(took.as_secs_f64());
    }

    /// Counts one store operation that took `took`.
    pub fn record_store(&self, op: &'static str, took: std::time::Duration) {
        let mut store = self.store.lock().unwrap_or_else(PoisonError::into_inner);
        store.entry(op).or_default().observe(took.as_secs_f64());
    }

    /// A number for a new WebSocket client.
    pub fn client_connected(&self) -> u64 {
        let id = self.next_client.fetch_add(1, Ordering::Relaxed) + 1;
        self.client_dropped
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(id, 0);
        id
    }

    /// What client `id` lost so far.
    pub fn client_dropped(&self, id: u64, dropped: u64) {
        if let Some(d) = self
            .client_dropped
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get_mut(&id)
        {
            *d = dropped;
        }
    }

    /// Client `id` left: its losses move to the total.
    pub fn client_disconnected(&self, id: u64) {
        let dropped = self
            .client_dropped
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&id)
            .unwrap_or(0);
        self.frames_dropped.fetch_add(dropped, Ordering::Relaxed);
    }

    fn histogram_text<K: std::fmt::Display>(
        name: &str,
        help: &str,
        label: &str,
        map: &std::collections::BTreeMap<K, Histogram>,
    ) -> String {
        let mut out = format!("# HELP {name} {help}\n# TYPE {name} histogram\n");
        for (key, h) in map {
            for (count, bound) in h.buckets.iter().zip(LATENCY_BUCKETS_S) {
                out.push_str(&format!(
                    "{name}_bucket{{{label}=\"{key}\",le=\"{bound}\"}} {count}\n"
                ));
            }
            out.push_str(&format!(
                "{name}_bucket{{{label}=\"{key}\",le=\"+Inf\"}} {}\n",
                h.count
            ));
            out.push_str(&format!("{name}_sum{{{label}=\"{key}\"}} {}\n", h.sum_s));
            out.push_str(&format!("{name}_count{{{label}=\"{key}\"}} {}\n", h.count));
        }
        out
    }

    fn latency_text(&self) -> String {
        let latency = self.latency.lock().unwrap_or_else(PoisonError::into_inner);
        let store = self.store.lock().unwrap_or_else(PoisonError::into_inner);
        let clients = self
            .client_dropped
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let mut out = Self::histogram_text(
            "purple_sector_http_request_duration_seconds",
            "HTTP request durations by route.",
            "route",
            &latency,
        );
        out.push_str(&Self::histogram_text(
            "purple_sector_store_operation_duration_seconds",
            "Store operation durations by operation.",
            "op",
            &store,
        ));
        let name = "purple_sector_ws_client_frames_dropped";
        out.push_str(&format!(
            "# HELP {name} Frames each connected WebSocket client lost by being slow.\n# TYPE {name} gauge\n"
        ));
        for (client, dropped) in clients.iter() {
            out.push_str(&format!("{name}{{client=\"{client}\"}} {dropped}\n"));
        }
        out
    }

    /// Counts one analysis and its duration.
    pub fn record_analysis(&self, took: std::time::Duration) {
        self.analyses.fetch_add(1, Ordering::Relaxed);
        self.analysis_us.fetch_add(
            u64::try_from(took.as_micros()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
    }
}

/// The built-in game session `start_demo` records.
#[derive(Debug, Clone)]
pub struct DemoSettings {
    /// Track name (`imola`, `test`).
    pub track: String,
    /// Flying laps.
    pub laps: u32,
    /// Time scale.
    pub speed: f64,
}

impl Default for DemoSettings {
    fn default() -> Self {
        Self {
            track: "imola".to_owned(),
            laps: 3,
            speed: 1.0,
        }
    }
}

struct Running {
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

/// Starts and stops the one recording the server runs at a time.
#[derive(Clone, Default)]
pub struct RecorderControl {
    running: Arc<tokio::sync::Mutex<Option<Running>>>,
    busy: Arc<std::sync::atomic::AtomicBool>,
}

impl std::fmt::Debug for RecorderControl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecorderControl")
            .field("running", &self.is_running())
            .finish()
    }
}

impl RecorderControl {
    /// True while a recording runs.
    pub fn is_running(&self) -> bool {
        self.busy.load(Ordering::Relaxed)
    }

    /// Starts recording the built-in game, unless a recording already runs.
    pub async fn start_demo(&self, state: &AppState) -> Result<(), String> {
        let mut running = self.running.lock().await;
        if let Some(r) = running.as_ref() {
            if !r.task.is_finished() {
                return Err("a recording is already running".to_owned());
            }
        }
        let track = Track::by_name(&state.demo.track).map_err(|e| e.to_string())?;
        let config = SimConfig {
            laps: state.demo.laps,
            mistakes: purple_sector_core::sim::demo_mistakes(&track, state.demo.laps),
            ..SimConfig::new(track.clone())
        };
        let options = RecordOptions {
            session_name: Some(format!("Demo — {}", state.demo.track)),
            source: SessionSource::Demo,
            hub: Some(state.hub.clone()),
            ..RecordOptions::default()
        };
        let (stop, shutdown) = watch::channel(false);
        let store = Arc::clone(&state.store);
        let speed = state.demo.speed;
        let busy = Arc::clone(&self.busy);
        busy.store(true, Ordering::Relaxed);
        let task = tokio::spawn(async move {
            if let Err(e) = record_simulator(store, config, speed, options, shutdown).await {
                tracing::warn!("demo recording failed: {e}");
            }
            busy.store(false, Ordering::Relaxed);
        });
        *running = Some(Running { stop, task });
        Ok(())
    }

    /// Stops the recording, if any, and waits until its lap in progress is saved.
    pub async fn stop(&self) {
        let taken = self.running.lock().await.take();
        if let Some(r) = taken {
            let _ = r.stop.send(true);
            let _ = r.task.await;
        }
    }
}

#[derive(Debug, Default)]
struct DeltaTable {
    session: Option<SessionId>,
    best_ms: Option<i32>,
    /// (position, lap clock ms) of the best lap, position increasing.
    points: Vec<(f32, i32)>,
}

/// The session's best lap as position → time, for the live delta.
#[derive(Debug, Default)]
pub struct LiveDelta {
    table: Mutex<DeltaTable>,
}

impl LiveDelta {
    fn lock(&self) -> std::sync::MutexGuard<'_, DeltaTable> {
        self.table.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A new session: no best lap yet.
    pub fn reset(&self, session: SessionId) {
        *self.lock() = DeltaTable {
            session: Some(session),
            ..DeltaTable::default()
        };
    }

    /// A lap was stored: if it is the session's new best valid lap, it becomes the reference.
    pub async fn lap_stored(&self, store: &Arc<dyn Store>, lap: &LapRecord) {
        let Some(time) = lap.official_time_ms else {
            return;
        };
        {
            let table = self.lock();
            let same_session = table.session.is_none_or(|s| s == lap.session);
            if !lap.valid || !same_session || table.best_ms.is_some_and(|best| best <= time) {
                return;
            }
        }
        let Ok(frames) = store.lap_principal_frames(lap.id).await else {
            return;
        };
        let mut points = Vec::with_capacity(frames.len());
        for f in &frames {
            let monotonic = points
                .last()
                .is_none_or(|&(p, _)| f.position_normalized > p);
            if monotonic && (0.0..=1.0).contains(&f.position_normalized) {
                points.push((f.position_normalized, f.lap_time_ms));
            }
        }
        let mut table = self.lock();
        if table.best_ms.is_none_or(|best| time < best) {
            table.session = Some(lap.session);
            table.best_ms = Some(time);
            table.points = points;
        }
    }

    /// Seconds behind (+) the best lap at this frame's position, once there is a best lap.
    pub fn delta_s(&self, frame: &Frame) -> Option<f64> {
        let table = self.lock();
        let points = &table.points;
        let p = frame.position_normalized;
        let i = points.partition_point(|&(q, _)| q < p);
        let (lo, hi) = (points.get(i.checked_sub(1)?)?, points.get(i)?);
        let span = f64::from(hi.0 - lo.0);
        let t = if span > 0.0 {
            f64::from(p - lo.0) / span
        } else {
            0.0
        };
        let best_ms = f64::from(lo.1) + t * f64::from(hi.1 - lo.1);
        Some((f64::from(frame.lap_time_ms) - best_ms) / 1000.0)
    }
}

/// Everything the handlers share.
#[derive(Clone)]
pub struct AppState {
    /// The database.
    pub store: Arc<dyn Store>,
    /// Live frames and laps from the recorder.
    pub hub: Hub,
    /// The recording the server runs.
    pub recorder: RecorderControl,
    /// Counters for `/metrics`.
    pub metrics: Arc<Metrics>,
    /// The live delta's reference.
    pub live_delta: Arc<LiveDelta>,
    /// The access token, when one is required.
    pub token: Option<Arc<str>>,
    /// What `start_demo` runs.
    pub demo: DemoSettings,
    /// The LLM, when one is configured (`OPENAI_API_KEY` / `OPENAI_BASE_URL`).
    pub openai: Option<purple_sector_core::analysis::OpenAiConfig>,
    /// Rate limits of the costly routes.
    pub limits: Arc<Limits>,
    /// The one browser origin allowed to call the API from another site (CORS is off without
    /// it).
    pub cors_origin: Option<HeaderValue>,
}

/// Rate limits of the costly routes.
#[derive(Debug)]
pub struct Limits {
    /// `POST /api/laps/{id}/analyze`.
    pub analyze: coach_api::RateLimit,
    /// `POST /api/chat`.
    pub chat: coach_api::RateLimit,
}

impl Default for Limits {
    /// Analyze: 5 a second, 10 at once; chat: 2 a second, 5 at once.
    fn default() -> Self {
        Self {
            analyze: coach_api::RateLimit::new(5.0, 10.0),
            chat: coach_api::RateLimit::new(2.0, 5.0),
        }
    }
}

impl AppState {
    /// State over a store (timed for `/metrics`), with a fresh hub, no token and the default
    /// demo.
    pub fn new(store: Arc<dyn Store>) -> Self {
        let metrics: Arc<Metrics> = Arc::default();
        Self {
            store: Arc::new(TimedStore::new(store, Arc::clone(&metrics))),
            hub: Hub::default(),
            recorder: RecorderControl::default(),
            metrics,
            live_delta: Arc::default(),
            token: None,
            demo: DemoSettings::default(),
            openai: None,
            limits: Arc::default(),
            cors_origin: None,
        }
    }
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("token", &self.token.as_ref().map(|_| "…"))
            .field("recorder", &self.recorder)
            .finish_non_exhaustive()
    }
}

fn presented_token(headers: &HeaderMap) -> Option<String> {
    if let Some(bearer) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
    {
        return Some(bearer.trim().to_owned());
    }
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == TOKEN_COOKIE)
        .map(|(_, value)| value.to_owned())
}

/// Constant-time comparison, so the token cannot be guessed byte by byte from timings.
fn same_token(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

async fn guard(State(state): State<AppState>, request: Request, next: Next) -> Response {
    state.metrics.requests.fetch_add(1, Ordering::Relaxed);
    if let Some(token) = &state.token {
        let ok = request.uri().path() == "/login"
            || presented_token(request.headers()).is_some_and(|t| same_token(&t, token));
        if !ok {
            state.metrics.errors.fetch_add(1, Ordering::Relaxed);
            return ApiError::new(StatusCode::UNAUTHORIZED, "a valid token is required")
                .into_response();
        }
    }
    let route = request
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let started = std::time::Instant::now();
    let response = next.run(request).await;
    state.metrics.record_request(&route, started.elapsed());
    if response.status().is_client_error() || response.status().is_server_error() {
        state.metrics.errors.fetch_add(1, Ordering::Relaxed);
    }
    response
}

#[derive(serde::Deserialize)]
struct LoginQuery {
    token: String,
}

/// `/login?token=…`: puts the token into an HttpOnly cookie and sends the browser to `/`.
async fn login(
    State(state): State<AppState>,
    query: Result<Query<LoginQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let Ok(Query(query)) = query else {
        return ApiError::bad_request("login needs ?token=").into_response();
    };
    match &state.token {
        Some(token) if same_token(&query.token, token) => {
            let cookie = format!(
                "{TOKEN_COOKIE}={}; HttpOnly; SameSite=Strict; Path=/",
                query.token
            );
            let mut response = Redirect::to("/").into_response();
            if let Ok(value) = HeaderValue::from_str(&cookie) {
                response.headers_mut().insert(header::SET_COOKIE, value);
            }
            response
        }
        Some(_) => ApiError::new(StatusCode::UNAUTHORIZED, "wrong token").into_response(),
        None => Redirect::to("/").into_response(),
    }
}

async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let m = &state.metrics;
    let line = |name: &str, help: &str, kind: &str, value: u64| {
        format!("# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}\n")
    };
    let body = [
        line(
            "purple_sector_ws_clients",
            "WebSocket clients connected.",
            "gauge",
            m.ws_clients.load(Ordering::Relaxed),
        ),
        line(
            "purple_sector_frames_in_total",
            "Frames published by the recorder.",
            "counter",
            state.hub.published(),
        ),
        line(
            "purple_sector_frames_out_total",
            "Telemetry messages sent to WebSocket clients.",
            "counter",
            m.frames_out.load(Ordering::Relaxed),
        ),
        line(
            "purple_sector_frames_thinned_total",
            "Frames skipped to keep each client at its rate.",
            "counter",
            m.frames_thinned.load(Ordering::Relaxed),
        ),
        line(
            "purple_sector_frames_dropped_total",
            "Frames WebSocket clients that left had lost by being slow.",
            "counter",
            m.frames_dropped.load(Ordering::Relaxed),
        ),
        line(
            "purple_sector_ws_ignored_total",
            "Client messages ignored.",
            "counter",
            m.ws_ignored.load(Ordering::Relaxed),
        ),
        line(
            "purple_sector_http_requests_total",
            "HTTP requests.",
            "counter",
            m.requests.load(Ordering::Relaxed),
        ),
        line(
            "purple_sector_http_errors_total",
            "HTTP responses with an error status.",
            "counter",
            m.errors.load(Ordering::Relaxed),
        ),
        m.latency_text(),
    ]
    .concat();
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body)
}

async fn dashboard() -> Html<&'static str> {
    Html(include_str!("dashboard.html"))
}

async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "no such route")
}

/// The router: every route, the token guard and the body limit.
pub fn app(state: AppState) -> Router {
    let api = Router::new()
        .route(
            "/sessions",
            get(api::list_sessions).post(api::create_session),
        )
        .route(
            "/sessions/{id}",
            get(api::get_session)
                .patch(api::patch_session)
                .delete(api::delete_session),
        )
        .route("/laps", axum::routing::post(api::create_lap))
        .route(
            "/laps/{id}",
            get(api::get_lap)
                .patch(api::patch_lap)
                .delete(api::delete_lap),
        )
        .route("/laps/{id}/telemetry", get(api::lap_telemetry))
        .route(
            "/laps/{id}/analyze",
            axum::routing::post(coach_api::analyze),
        )
        .route("/laps/{id}/chat", get(coach_api::history))
        .route("/chat", axum::routing::post(coach_api::chat));
    let cors = state.cors_origin.clone().map(|origin| {
        tower_http::cors::CorsLayer::new()
            .allow_origin(origin)
            .allow_methods([
                axum::http::Method::GET,
                axum::http::Method::POST,
                axum::http::Method::PATCH,
                axum::http::Method::DELETE,
            ])
            .allow_headers([header::CONTENT_TYPE, header::AUTHORIZATION])
    });
    let router = Router::new()
        .nest("/api", api)
        .route("/ws", get(ws::upgrade))
        .route("/login", get(login))
        .route("/metrics", get(metrics))
        .route("/", get(dashboard))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(middleware::from_fn_with_state(state.clone(), guard));
    // CORS answers preflights before the token guard sees them.
    let router = match cors {
        Some(cors) => router.layer(cors),
        None => router,
    };
    router.with_state(state)
}

/// Why the server will not start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// Off loopback without a token.
    #[error("{addr} is reachable from other machines: give --token (or PURPLE_SECTOR_TOKEN)")]
    TokenRequired {
        /// The address asked for.
        addr: SocketAddr,
    },
    /// Binding or serving failed.
    #[error("cannot serve on {addr}: {source}")]
    Io {
        /// The address.
        addr: SocketAddr,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

/// Serves `state` on `listener` until `shutdown` resolves; then stops the recording (its lap
/// in progress saved) and finishes the requests under way.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let addr = listener
        .local_addr()
        .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)));
    if !addr.ip().is_loopback() && state.token.is_none() {
        return Err(ServeError::TokenRequired { addr });
    }
    let recorder = state.recorder.clone();
    let result = axum::serve(listener, app(state))
        .with_graceful_shutdown(async move {
            shutdown.await;
            recorder.stop().await;
        })
        .await;
    result.map_err(|source| ServeError::Io { addr, source })
}
