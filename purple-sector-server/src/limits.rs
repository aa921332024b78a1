//! Every limit of the server, named, and the per-client rate limits.
//!
//! | limit | value |
//! | --- | --- |
//! | [`HEADER_READ_TIMEOUT`] | 5 s to send a request's headers, and to start the next request on a kept-alive connection |
//! | [`MAX_CONNECTIONS`] | 512 HTTP connections at once; the next gets a 503 JSON refusal and is closed |
//! | [`MAX_WS_CLIENTS`] | 2 048 WebSocket clients at once; the next gets a 503 |
//! | [`MAX_WS_MESSAGE_BYTES`] | 64 KiB per WebSocket message from a client (close 1009 beyond) |
//! | [`MAX_JSON_BODY_BYTES`] | 64 KiB for every JSON body but a posted lap |
//! | [`MAX_POSTED_FRAMES`] × [`MAX_POSTED_FRAME_BYTES`] | 50 000 frames of at most 1 KiB in `POST /api/laps` |
//! | [`MAX_NAME_CHARS`] | 200 characters in a session name |
//! | [`MAX_TAGS`], [`MAX_TAG_CHARS`] | 32 tags per session or lap, 64 characters each |
//! | [`MAX_COMMENT_BYTES`] | 4 096 bytes of comments on a lap |
//! | [`MAX_QUESTION_CHARS`] | 4 000 characters in a coach question |
//! | [`MAX_POSTED_TIME_ERROR_MS`] | 100 ms between a posted lap's stated time and its telemetry's |
//! | analyze | 5 a second per client, 10 at once ([`RateLimits::default`]) |
//! | chat | 2 a second per client, 5 at once |
//! | login attempts | 1 a second per client, 5 at once |
//!
//! A client is its token when it presents one, else its peer address; over its limit it gets
//! a 429 with `Retry-After`.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;

/// Time a client has to send a request's headers (and, on a kept-alive connection, to begin
/// the next request) before the connection is closed.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(5);
/// HTTP connections served at once; the next is refused with a 503.
pub const MAX_CONNECTIONS: usize = 512;
/// WebSocket clients at once.
pub const MAX_WS_CLIENTS: u64 = 2_048;
/// Largest WebSocket message a client may send, bytes (real ones are ~25 bytes).
pub const MAX_WS_MESSAGE_BYTES: usize = 64 << 10;
/// Largest JSON body of every route but `POST /api/laps`, bytes.
pub const MAX_JSON_BODY_BYTES: usize = 64 << 10;
/// Most frames one `POST /api/laps` may carry (about 15 minutes at 60 Hz).
pub const MAX_POSTED_FRAMES: usize = 50_000;
/// Largest JSON text of one posted frame, bytes (a frame with every field is ~400).
pub const MAX_POSTED_FRAME_BYTES: usize = 1_024;
/// Largest `POST /api/laps` body, bytes.
pub const MAX_POSTED_LAP_BYTES: usize = MAX_POSTED_FRAMES * MAX_POSTED_FRAME_BYTES;
/// Longest session name, characters.
pub const MAX_NAME_CHARS: usize = 200;
/// Most tags on a session or a lap.
pub const MAX_TAGS: usize = 32;
/// Longest tag, characters.
pub const MAX_TAG_CHARS: usize = 64;
/// Longest lap comment, bytes.
pub const MAX_COMMENT_BYTES: usize = 4_096;
/// Longest coach question, characters.
pub const MAX_QUESTION_CHARS: usize = 4_000;
/// How far a posted lap's stated time may be from the time its telemetry gives, ms.
pub const MAX_POSTED_TIME_ERROR_MS: i32 = 100;
/// Clients remembered per rate limit before the idlest are forgotten.
const MAX_TRACKED_CLIENTS: usize = 4_096;

/// Who a request comes from, for rate limits.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ClientKey {
    /// The token it presented.
    Token(String),
    /// Its peer address.
    Peer(IpAddr),
    /// Neither known (a request that did not come over a socket).
    Unknown,
}

/// A token bucket per client: `burst` requests at once, refilled at `per_second`.
#[derive(Debug)]
pub struct RateLimit {
    burst: f64,
    per_second: f64,
    clients: Mutex<HashMap<ClientKey, (f64, Instant)>>,
}

/// Over a rate limit: a 429 with `Retry-After`.
#[derive(Debug)]
pub struct TooMany {
    route: &'static str,
    per_second: f64,
    retry_after_s: u64,
}

impl From<TooMany> for ApiError {
    fn from(too_many: TooMany) -> Self {
        Self {
            retry_after_s: Some(too_many.retry_after_s),
            ..ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                format!(
                    "{}: at most {} requests per second; retry in {} s",
                    too_many.route, too_many.per_second, too_many.retry_after_s
                ),
            )
        }
    }
}

impl IntoResponse for TooMany {
    fn into_response(self) -> Response {
        ApiError::from(self).into_response()
    }
}

impl RateLimit {
    /// `per_second` requests a second for each client, `burst` at once.
    pub fn new(per_second: f64, burst: f64) -> Self {
        Self {
            burst,
            per_second,
            clients: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one of `client`'s tokens, or says when to retry.
    pub fn check(&self, route: &'static str, client: &ClientKey) -> Result<(), TooMany> {
        let mut clients = self.clients.lock().unwrap_or_else(PoisonError::into_inner);
        let now = Instant::now();
        if clients.len() >= MAX_TRACKED_CLIENTS && !clients.contains_key(client) {
            // Forget the clients whose buckets are full again: they lost nothing.
            let full_after = Duration::from_secs_f64(self.burst / self.per_second.max(1e-9));
            clients.retain(|_, (_, at)| now.duration_since(*at) < full_after);
        }
        let bucket = clients.entry(client.clone()).or_insert((self.burst, now));
        let refill = now.duration_since(bucket.1).as_secs_f64() * self.per_second;
        bucket.0 = (bucket.0 + refill).min(self.burst);
        bucket.1 = now;
        if bucket.0 >= 1.0 {
            bucket.0 -= 1.0;
            Ok(())
        } else {
            let wait_s = (1.0 - bucket.0) / self.per_second.max(1e-9);
            Err(TooMany {
                route,
                per_second: self.per_second,
                retry_after_s: wait_s.ceil().max(1.0) as u64,
            })
        }
    }
}

/// The rate limits of the costly routes and of the token check.
#[derive(Debug)]
pub struct RateLimits {
    /// `POST /api/laps/{id}/analyze`.
    pub analyze: RateLimit,
    /// `POST /api/chat`.
    pub chat: RateLimit,
    /// Requests with a wrong token (and `/login` attempts).
    pub login: RateLimit,
}

impl Default for RateLimits {
    /// Analyze: 5 a second, 10 at once; chat: 2 a second, 5 at once; wrong tokens: 1 a
    /// second, 5 at once — each per client.
    fn default() -> Self {
        Self {
            analyze: RateLimit::new(5.0, 10.0),
            chat: RateLimit::new(2.0, 5.0),
            login: RateLimit::new(1.0, 5.0),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn each_client_has_its_own_bucket() {
        let limit = RateLimit::new(1.0, 2.0);
        let a = ClientKey::Peer("127.0.0.1".parse().unwrap());
        let b = ClientKey::Token("t".into());
        assert!(limit.check("x", &a).is_ok());
        assert!(limit.check("x", &a).is_ok());
        let refused = limit.check("x", &a).unwrap_err();
        assert_eq!(refused.retry_after_s, 1);
        assert!(
            limit.check("x", &b).is_ok(),
            "another client is not locked out"
        );
    }
}
