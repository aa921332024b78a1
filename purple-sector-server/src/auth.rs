//! The access token: `Authorization: Bearer …`, or the HttpOnly cookie `/login?token=…` sets.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;

use axum::extract::{ConnectInfo, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};

use crate::AppState;
use crate::error::ApiError;
use crate::limits::ClientKey;

/// Name of the cookie that carries the token for the page.
pub const TOKEN_COOKIE: &str = "purple_sector_token";

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

/// Who a request comes from: its token when it presents one, else its peer address.
pub(crate) fn client_key(headers: &HeaderMap, extensions: &axum::http::Extensions) -> ClientKey {
    if let Some(token) = presented_token(headers) {
        return ClientKey::Token(token);
    }
    extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(ClientKey::Unknown, |c| ClientKey::Peer(c.0.ip()))
}

/// A request's client, for the per-client rate limits.
#[derive(Debug, Clone)]
pub struct Client(pub ClientKey);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Client {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Self, Self::Rejection> {
        Ok(Self(client_key(&parts.headers, &parts.extensions)))
    }
}

/// A wrong (or missing) token: 401, or 429 once the peer has tried too often. Guesses are
/// limited by peer address, not by the token presented (each guess is a new token).
fn refused(state: &AppState, peer: &ClientKey, message: &'static str) -> Response {
    state.metrics.errors.fetch_add(1, Ordering::Relaxed);
    match state.limits.login.check("token check", peer) {
        Ok(()) => ApiError::new(StatusCode::UNAUTHORIZED, message).into_response(),
        Err(too_many) => too_many.into_response(),
    }
}

/// The peer of a request, as a client key (for limits that must not trust the token).
fn peer_key(extensions: &axum::http::Extensions) -> ClientKey {
    extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(ClientKey::Unknown, |c| ClientKey::Peer(c.0.ip()))
}

pub(crate) async fn guard(State(state): State<AppState>, request: Request, next: Next) -> Response {
    state.metrics.requests.fetch_add(1, Ordering::Relaxed);
    if let Some(token) = &state.token {
        let ok = request.uri().path() == "/login"
            || presented_token(request.headers()).is_some_and(|t| same_token(&t, token));
        if !ok {
            let peer = peer_key(request.extensions());
            return refused(&state, &peer, "a valid token is required");
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

/// The peer of a request, as a client key.
pub(crate) struct ConnectPeer(ClientKey);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for ConnectPeer {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Self, Self::Rejection> {
        Ok(Self(peer_key(&parts.extensions)))
    }
}

#[derive(serde::Deserialize)]
pub(crate) struct LoginQuery {
    token: String,
}

/// `/login?token=…`: puts the token into an HttpOnly cookie and sends the browser to `/`.
pub(crate) async fn login(
    State(state): State<AppState>,
    ConnectPeer(peer): ConnectPeer,
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
        Some(_) => refused(&state, &peer, "wrong token"),
        None => Redirect::to("/").into_response(),
    }
}
