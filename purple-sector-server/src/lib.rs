//! The Purple Sector web app: the original app in one process — REST API under `/api`, the
//! WebSocket stream on `/ws`, a dashboard at `/`, Prometheus metrics at `/metrics`.
//!
//! [`app`] builds the router from an [`AppState`] (tests call it without a socket); [`serve`]
//! binds, serves until the shutdown future resolves, then stops any recording cleanly.
//! Binds 127.0.0.1 by default; any other address needs a token, accepted as
//! `Authorization: Bearer …` or, for the page, as an HttpOnly cookie set by `/login?token=…`.

mod api;
mod auth;
mod chart;
mod coach_api;
mod error;
mod fanout;
pub mod health;
mod json;
pub mod limits;
mod listen;
mod metrics;
mod recording;
mod security;
mod state;
mod timed_store;
mod tls;
mod users_api;
mod ws;

use std::future::Future;
use std::net::SocketAddr;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{StatusCode, header};
use axum::middleware;
use axum::response::{Html, IntoResponse};
use axum::routing::get;

pub use auth::{Caller, TOKEN_COOKIE};
pub use error::ApiError;
pub use limits::{RateLimit, RateLimits};
pub use metrics::Metrics;
pub use recording::{DemoSettings, RecorderSlot, StartError};
pub use security::CONTENT_SECURITY_POLICY;
pub use state::{AppState, InvalidOrigin};
pub use timed_store::TimedStore;
pub use tls::{TlsError, tls_config};

async fn dashboard() -> Html<&'static str> {
    Html(include_str!("../assets/dashboard.html"))
}

async fn dashboard_js() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        include_str!("../assets/dashboard.js"),
    )
}

async fn dashboard_css() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
        include_str!("../assets/dashboard.css"),
    )
}

/// A vendored file, embedded: `(content type, body)`.
fn asset(content_type: &'static str, body: &'static str) -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        body,
    )
}

async fn uplot_js() -> impl IntoResponse {
    asset(
        "text/javascript; charset=utf-8",
        include_str!("../assets/vendor/uPlot.iife.min.js"),
    )
}

async fn uplot_css() -> impl IntoResponse {
    asset(
        "text/css; charset=utf-8",
        include_str!("../assets/vendor/uPlot.min.css"),
    )
}

async fn uplot_license() -> impl IntoResponse {
    asset(
        "text/plain; charset=utf-8",
        include_str!("../assets/vendor/uPlot.LICENSE"),
    )
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
        .route(
            "/laps",
            axum::routing::post(api::create_lap)
                .layer(DefaultBodyLimit::max(limits::MAX_POSTED_LAP_BYTES)),
        )
        .route(
            "/laps/{id}",
            get(api::get_lap)
                .patch(api::patch_lap)
                .delete(api::delete_lap),
        )
        .route("/laps/{id}/telemetry", get(api::lap_telemetry))
        .route("/laps/{id}/chart", get(chart::lap_chart))
        .route("/laps/{id}/ideal/chart", get(chart::ideal_chart))
        .route("/laps/{id}/comparable", get(chart::comparable))
        .route(
            "/laps/{id}/analyze",
            axum::routing::post(coach_api::analyze),
        )
        .route("/laps/{id}/chat", get(coach_api::history))
        .route("/chat", axum::routing::post(coach_api::chat))
        .route("/users", get(users_api::list).post(users_api::create))
        .route("/users/{name}", axum::routing::delete(users_api::revoke));
    let cors = (!state.cors_origins.is_empty()).then(|| {
        tower_http::cors::CorsLayer::new()
            .allow_origin(state.cors_origins.clone())
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
        .route("/login", get(auth::login))
        .route("/metrics", get(metrics::metrics))
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/", get(dashboard))
        // The dashboard's own URLs: each loads the page, which reads the path.
        .route("/sessions/{id}", get(dashboard))
        .route("/laps/{id}", get(dashboard))
        .route("/assets/vendor/uPlot.iife.min.js", get(uplot_js))
        .route("/assets/vendor/uPlot.min.css", get(uplot_css))
        .route("/assets/vendor/uPlot.LICENSE", get(uplot_license))
        .route("/assets/dashboard.js", get(dashboard_js))
        .route("/assets/dashboard.css", get(dashboard_css))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(limits::MAX_JSON_BODY_BYTES))
        .layer(middleware::from_fn_with_state(state.clone(), auth::guard));
    // CORS answers preflights before the token guard sees them.
    let router = match cors {
        Some(cors) => router.layer(cors),
        None => router,
    };
    // Outermost: the Host and Origin checks and the security headers, then JSON for every
    // error whatever produced it.
    router
        .layer(middleware::from_fn_with_state(
            state.clone(),
            security::guard,
        ))
        .layer(middleware::from_fn(security::json_errors))
        // gzip or brotli when the client accepts it (never the WebSocket's upgrade: it
        // has no body).
        .layer(tower_http::compression::CompressionLayer::new())
        .with_state(state)
}

/// Why the server will not start.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// Off loopback without a token or users.
    #[error(
        "{addr} is reachable from other machines: give --token (or PURPLE_SECTOR_TOKEN), or add users (purple-sector users add)"
    )]
    TokenRequired {
        /// The address asked for.
        addr: SocketAddr,
    },
    /// Binding or serving failed.
    #[error("cannot serve on {addr}")]
    Io {
        /// The address.
        addr: SocketAddr,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

/// Serves `state` on `listener` until `shutdown` resolves; then stops the recording (its lap
/// in progress saved), flushes and stops the hub's bridge to Redis if there is one, and lets
/// the requests under way finish. First, laps a crash left in
/// progress are closed as partial ([`purple_sector_core::store::recover_interrupted`]).
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    serve_with(listener, state, shutdown, None).await
}

/// [`serve`], over TLS with `tls` (see [`tls_config`]): `https://` and `wss://`.
pub async fn serve_with(
    listener: tokio::net::TcpListener,
    mut state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
    tls: Option<std::sync::Arc<tokio_rustls::rustls::ServerConfig>>,
) -> Result<(), ServeError> {
    state.tls = tls.is_some();
    let addr = listener
        .local_addr()
        .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)));
    // A store with users: they sign in with their tokens (and so must everyone).
    match state.store.list_users().await {
        Ok(users) => state.accounts |= state.token.is_some() || users.iter().any(|u| u.is_active()),
        Err(e) => tracing::warn!("cannot read the users: {e}"),
    }
    if !addr.ip().is_loopback() && !state.requires_token() {
        return Err(ServeError::TokenRequired { addr });
    }
    match purple_sector_core::store::recover_interrupted(&*state.store).await {
        Ok(recovered) if !recovered.is_empty() => {
            tracing::warn!("closed the laps left in progress of sessions {recovered:?}");
        }
        Ok(_) => {}
        Err(e) => tracing::warn!("could not check for laps left in progress: {e}"),
    }
    state.bound = Some(addr);
    let recorder = state.recorder.clone();
    #[cfg(feature = "redis")]
    let bridge = state.bridge.clone();
    let result = listen::run(
        listener,
        app(state),
        async move {
            shutdown.await;
            if let Some(Err(e)) = recorder.stop().await {
                tracing::warn!("the recording failed: {e}");
            }
            // The recording's last lap and its end go out to the other instances.
            #[cfg(feature = "redis")]
            if let Some(bridge) = bridge {
                bridge.shutdown().await;
            }
        },
        tls,
    )
    .await;
    result.map_err(|source| ServeError::Io { addr, source })
}
