//! Who a request comes from, and what they may do.
//!
//! A token comes as `Authorization: Bearer …`, or as the HttpOnly cookie `/login?token=…`
//! sets. It is the server's own (`--token`: an admin, for one-person use) or a user's (kept
//! hashed in the store, `purple-sector users add`). Without either, on loopback, every
//! request is the admin's. Roles ([`Role`]): a driver records, reads everything and changes or
//! deletes only their own sessions and laps; an engineer reads, analyses and chats; an admin
//! does everything, users included. A refusal is a 403 with a JSON message.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;

use axum::extract::{ConnectInfo, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};

use purple_sector_core::store::{Role, TokenHash};

use crate::AppState;
use crate::error::ApiError;
use crate::limits::ClientKey;

/// Who makes a request: a user of the store, or the server's own token (no name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The user's name; `None` for the server's own token or an open server.
    pub name: Option<String>,
    /// What they may do.
    pub role: Role,
}

impl Caller {
    /// The server's own token, or an open server.
    pub const ADMIN: Self = Self {
        name: None,
        role: Role::Admin,
    };

    fn forbidden(&self, what: &str) -> ApiError {
        let who = self.name.as_deref().unwrap_or("this token");
        ApiError::new(
            StatusCode::FORBIDDEN,
            format!("{who} ({}) may not {what}", self.role),
        )
    }

    /// Recording and posting laps: drivers and admins.
    pub fn may_record(&self) -> Result<(), ApiError> {
        match self.role {
            Role::Driver | Role::Admin => Ok(()),
            Role::Engineer => Err(self.forbidden("record or post laps")),
        }
    }

    /// Changing or deleting a row `owner` made: admins, and drivers their own.
    pub fn may_change(&self, owner: Option<&str>, what: &str) -> Result<(), ApiError> {
        match self.role {
            Role::Admin => Ok(()),
            Role::Driver if owner.is_some() && owner == self.name.as_deref() => Ok(()),
            Role::Driver => Err(self.forbidden(&format!(
                "change a {what} of {}",
                owner.unwrap_or("nobody's account")
            ))),
            Role::Engineer => Err(self.forbidden(&format!("change or delete a {what}"))),
        }
    }

    /// Managing users: admins.
    pub fn may_manage_users(&self) -> Result<(), ApiError> {
        match self.role {
            Role::Admin => Ok(()),
            Role::Driver | Role::Engineer => Err(self.forbidden("manage users")),
        }
    }
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Caller {
    type Rejection = std::convert::Infallible;

    /// The guard puts it on every request it lets through.
    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Self, Self::Rejection> {
        Ok(parts
            .extensions
            .get::<Self>()
            .cloned()
            .unwrap_or(Self::ADMIN))
    }
}

/// The caller a token names, if any: the server's own token, or an active user's.
async fn caller_of(state: &AppState, token: &str) -> Result<Option<Caller>, ApiError> {
    if state
        .token
        .as_deref()
        .is_some_and(|own| same_token(token, own))
    {
        return Ok(Some(Caller::ADMIN));
    }
    if !state.accounts {
        return Ok(None);
    }
    let user = state.store.user_by_token(&TokenHash::of(token)).await?;
    Ok(user.map(|user| Caller {
        name: Some(user.name),
        role: user.role,
    }))
}

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

/// Paths anyone may call: the login page, and the probes of a load balancer.
fn is_open(path: &str) -> bool {
    matches!(path, "/login" | "/healthz" | "/readyz")
}

pub(crate) async fn guard(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    state.metrics.requests.fetch_add(1, Ordering::Relaxed);
    if state.requires_token() && !is_open(request.uri().path()) {
        let caller = match presented_token(request.headers()) {
            Some(token) => match caller_of(&state, &token).await {
                Ok(caller) => caller,
                Err(e) => return e.into_response(),
            },
            None => None,
        };
        let Some(caller) = caller else {
            let peer = peer_key(request.extensions());
            return refused(&state, &peer, "a valid token is required");
        };
        request.extensions_mut().insert(caller);
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
    if !state.requires_token() {
        return Redirect::to("/").into_response();
    }
    match caller_of(&state, &query.token).await {
        Err(e) => e.into_response(),
        Ok(Some(_)) => {
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
        Ok(None) => refused(&state, &peer, "wrong token"),
    }
}
