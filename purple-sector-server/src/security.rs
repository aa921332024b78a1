//! What keeps a web page the user visits from using the server: the Host check (DNS
//! rebinding), the Origin check on the WebSocket and on every state-changing request
//! (cross-site WebSocket hijacking, CSRF), the response headers that stop framing and
//! sniffing, and JSON for every error.

use axum::body::to_bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::AppState;
use crate::error::ApiError;

/// The host part of a `Host` header or an origin's authority: `[::1]:3000` → `[::1]`,
/// `LocalHost:80` → `localhost`.
fn host_part(authority: &str) -> String {
    let authority = authority.trim().to_ascii_lowercase();
    if authority.starts_with('[') {
        return authority
            .split_once(']')
            .map_or(authority.clone(), |(h, _)| format!("{h}]"));
    }
    match authority.rsplit_once(':') {
        Some((host, port)) if port.bytes().all(|b| b.is_ascii_digit()) => host.to_owned(),
        _ => authority,
    }
}

impl AppState {
    /// True when `host` (a `Host` header's host part) names this server: localhost,
    /// 127.0.0.1, `[::1]`, the address it is bound to, or a name given with `--allowed-host`.
    pub fn is_allowed_host(&self, host: &str) -> bool {
        let host = host_part(host);
        if matches!(host.as_str(), "localhost" | "127.0.0.1" | "[::1]") {
            return true;
        }
        if let Some(bound) = self.bound {
            let ip = bound.ip();
            let named = if ip.is_ipv6() {
                format!("[{ip}]")
            } else {
                ip.to_string()
            };
            if !ip.is_unspecified() && named == host {
                return true;
            }
        }
        self.allowed_hosts.iter().any(|h| host_part(h) == host)
    }
}

/// Whether `origin` may change things or open the stream: the server's own origin (its
/// scheme, and the host and port the request was sent to), or one given with
/// `--cors-origin`.
fn is_allowed_origin(state: &AppState, headers: &HeaderMap, origin: &str) -> bool {
    if state
        .cors_origins
        .iter()
        .any(|o| o.as_bytes().eq_ignore_ascii_case(origin.as_bytes()))
    {
        return true;
    }
    let Some(host) = headers.get(header::HOST).and_then(|h| h.to_str().ok()) else {
        return false;
    };
    let scheme = if state.tls { "https" } else { "http" };
    origin.eq_ignore_ascii_case(&format!("{scheme}://{host}"))
}

/// The first guard: the `Host` must name this server (421 otherwise, before any handler
/// runs: a page on `rebind.attacker.example` resolving to 127.0.0.1 gets nothing); then
/// `/ws` and every POST, PATCH and DELETE must come from an allowed origin or from a
/// client that sends none (403). Every response gets the security headers.
pub(crate) async fn guard(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let mut response = check(&state, request, next).await;
    let headers = response.headers_mut();
    for (name, value) in SECURITY_HEADERS {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}

async fn check(state: &AppState, request: Request, next: Next) -> Response {
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| request.uri().authority().map(|a| a.as_str()));
    match host {
        Some(host) if state.is_allowed_host(host) => {}
        Some(host) => {
            return ApiError::new(
                StatusCode::MISDIRECTED_REQUEST,
                format!(
                    "this server does not answer for host {:?} (allow it with --allowed-host)",
                    host_part(host)
                ),
            )
            .into_response();
        }
        None => return ApiError::bad_request("the request has no Host").into_response(),
    }
    let changes = matches!(
        *request.method(),
        Method::POST | Method::PATCH | Method::DELETE | Method::PUT
    );
    if changes || request.uri().path() == "/ws" {
        if let Some(origin) = request.headers().get(header::ORIGIN) {
            let allowed = origin
                .to_str()
                .is_ok_and(|o| is_allowed_origin(state, request.headers(), o));
            if !allowed {
                return ApiError::new(
                    StatusCode::FORBIDDEN,
                    format!(
                        "requests from origin {:?} are not allowed (allow it with --cors-origin)",
                        String::from_utf8_lossy(origin.as_bytes())
                    ),
                )
                .into_response();
            }
        }
    }
    next.run(request).await
}

/// Content-Security-Policy: the page's own scripts only (no inline script), nothing framed,
/// nothing framing it.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// The headers on every response.
const SECURITY_HEADERS: [(HeaderName, &str); 4] = [
    (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
    (header::X_FRAME_OPTIONS, "DENY"),
    (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    (header::REFERRER_POLICY, "no-referrer"),
];

/// Largest error body rewritten as JSON; anything longer is summarised.
const MAX_ERROR_TEXT: usize = 4_096;

/// Every error is JSON: an error response that is not (axum's 405, 413 and 415, a
/// WebSocket upgrade's refusal…) gets `{"error": …}` with its text, or the status's reason.
pub(crate) async fn json_errors(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let (parts, body) = response.into_parts();
    let text = match to_bytes(body, MAX_ERROR_TEXT).await {
        Ok(bytes) if !bytes.is_empty() => String::from_utf8_lossy(&bytes).trim().to_owned(),
        _ => status.canonical_reason().unwrap_or("error").to_owned(),
    };
    let mut json = ApiError::new(status, text).into_response();
    for (name, value) in &parts.headers {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            json.headers_mut().insert(name, value.clone());
        }
    }
    json
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_parts() {
        assert_eq!(host_part("localhost:3000"), "localhost");
        assert_eq!(host_part("[::1]:3000"), "[::1]");
        assert_eq!(host_part("127.0.0.1"), "127.0.0.1");
        assert_eq!(
            host_part("Rebind.Attacker.Example:80"),
            "rebind.attacker.example"
        );
    }
}
