//! The access token: `Authorization: Bearer …`, or the HttpOnly cookie `/login?token=…` sets.

use std::sync::atomic::Ordering;

use axum::extract::{Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};

use crate::AppState;
use crate::error::ApiError;

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

pub(crate) async fn guard(State(state): State<AppState>, request: Request, next: Next) -> Response {
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
pub(crate) struct LoginQuery {
    token: String,
}

/// `/login?token=…`: puts the token into an HttpOnly cookie and sends the browser to `/`.
pub(crate) async fn login(
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
