//! The Purple Sector web app: the original app in one process — REST API under `/api`, the
//! WebSocket stream on `/ws`, a dashboard at `/`, Prometheus metrics at `/metrics`.
//!
//! [`app`] builds the router from an [`AppState`] (tests call it without a socket); [`serve`]
//! binds, serves until the shutdown future resolves, then stops any recording cleanly.
//! Binds 127.0.0.1 by default; any other address needs a token, accepted as
//! `Authorization: Bearer …` or, for the page, as an HttpOnly cookie set by `/login?token=…`.

mod api;
mod auth;
mod coach_api;
mod error;
mod metrics;
mod recording;
mod state;
mod timed_store;
mod ws;

use std::future::Future;
use std::net::SocketAddr;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{StatusCode, header};
use axum::middleware;
use axum::response::Html;
use axum::routing::get;

pub use auth::TOKEN_COOKIE;
pub use coach_api::RateLimit;
pub use error::ApiError;
pub use metrics::Metrics;
pub use recording::{DemoSettings, RecorderSlot, StartError};
pub use state::{AppState, InvalidOrigin, Limits};
pub use timed_store::TimedStore;

/// Largest request body, bytes.
pub const MAX_BODY_BYTES: usize = 8 << 20;

async fn dashboard() -> Html<&'static str> {
    Html(include_str!("../assets/dashboard.html"))
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
        .route("/login", get(auth::login))
        .route("/metrics", get(metrics::metrics))
        .route("/", get(dashboard))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(middleware::from_fn_with_state(state.clone(), auth::guard));
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
            if let Some(Err(e)) = recorder.stop().await {
                tracing::warn!("the recording failed: {e}");
            }
        })
        .await;
    result.map_err(|source| ServeError::Io { addr, source })
}
