//! JSON request bodies, strictly: `Content-Type: application/json` (415 otherwise: a form or
//! `text/plain` POST from another site never gets through), a JSON object (not `[]` or a
//! bare value), no key twice, no unknown key where the route says so.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{StatusCode, header};
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// A JSON object body.
#[derive(Debug)]
pub struct JsonBody<T>(pub T);

/// A JSON object body, or an empty one (the route's defaults); the content type is required
/// either way.
#[derive(Debug)]
pub struct OptionalJsonBody<T>(pub T);

fn check_content_type(request: &Request) -> Result<(), ApiError> {
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let essence = content_type.split(';').next().unwrap_or("").trim();
    if essence.eq_ignore_ascii_case("application/json") {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            format!("the body must be Content-Type: application/json, got {content_type:?}"),
        ))
    }
}

async fn body<S: Send + Sync>(request: Request, state: &S) -> Result<Bytes, ApiError> {
    check_content_type(&request)?;
    Bytes::from_request(request, state)
        .await
        .map_err(|rejection| ApiError::new(rejection.status(), rejection.body_text()))
}

/// Parses a body that must be one JSON object.
pub fn parse_object<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if bytes.trim_ascii_start().first() != Some(&b'{') {
        return Err(ApiError::unprocessable("the body must be a JSON object"));
    }
    serde_json::from_slice(bytes).map_err(|e| {
        if e.is_data() {
            ApiError::unprocessable(format!("invalid request: {e}"))
        } else {
            ApiError::bad_request(format!("invalid JSON: {e}"))
        }
    })
}

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let bytes = body(request, state).await?;
        parse_object(&bytes).map(Self)
    }
}

impl<S: Send + Sync, T: DeserializeOwned + Default> FromRequest<S> for OptionalJsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let bytes = body(request, state).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(Self(T::default()));
        }
        parse_object(&bytes).map(Self)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Name {
        #[allow(dead_code)]
        name: String,
    }

    #[test]
    fn only_objects_with_each_key_once() {
        assert!(parse_object::<Name>(br#"{"name": "a"}"#).is_ok());
        let twice = parse_object::<Name>(br#"{"name": "a", "name": "b"}"#).unwrap_err();
        assert_eq!(twice.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(twice.message.contains("duplicate"), "{}", twice.message);
        assert_eq!(
            parse_object::<Name>(b"[]").unwrap_err().status,
            StatusCode::UNPROCESSABLE_ENTITY
        );
        assert_eq!(
            parse_object::<Name>(b"{").unwrap_err().status,
            StatusCode::BAD_REQUEST
        );
    }
}
