//! `/api/users`: the accounts of a shared server, for admins.
//!
//! - `GET /api/users`: every user (never a token).
//! - `POST /api/users` `{"name": …, "role": "driver" | "engineer" | "admin"}`: 201 with the
//!   user and their `token`, shown this once (the store keeps only its hash).
//! - `DELETE /api/users/{name}`: revokes the user's token (200 with the user).

use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use purple_sector_core::store::{NewUser, Role, User, new_token};
use serde::{Deserialize, Serialize};

use crate::AppState;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::json::JsonBody;
use crate::limits::MAX_NAME_CHARS;

/// A user as the API shows it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UserDto {
    id: i64,
    name: String,
    role: &'static str,
    created_at: i64,
    revoked_at: Option<i64>,
    /// Only in the answer to the `POST` that made the user.
    #[serde(skip_serializing_if = "Option::is_none")]
    token: Option<String>,
}

impl UserDto {
    fn new(user: User, token: Option<String>) -> Self {
        Self {
            id: user.id.0,
            name: user.name,
            role: user.role.as_str(),
            created_at: user.created_ms,
            revoked_at: user.revoked_ms,
            token,
        }
    }
}

/// `POST /api/users` body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateUser {
    name: String,
    role: String,
}

/// `GET /api/users`.
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Vec<UserDto>>, ApiError> {
    caller.may_manage_users()?;
    let users = state.store.list_users().await?;
    Ok(Json(
        users.into_iter().map(|u| UserDto::new(u, None)).collect(),
    ))
}

/// `POST /api/users`.
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    body: Result<JsonBody<CreateUser>, ApiError>,
) -> Result<(StatusCode, Json<UserDto>), ApiError> {
    caller.may_manage_users()?;
    let JsonBody(body) = body?;
    let name = body.name.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
        return Err(ApiError::unprocessable(format!(
            "name must be 1 to {MAX_NAME_CHARS} characters"
        )));
    }
    let role = Role::parse(&body.role).ok_or_else(|| {
        ApiError::unprocessable(format!(
            "role must be one of driver, engineer, admin, got {:?}",
            body.role
        ))
    })?;
    let token = new_token().map_err(|e| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("no randomness for a token: {e}"),
        )
    })?;
    let user = state
        .store
        .add_user(NewUser::new(name, role, &token))
        .await?;
    Ok((StatusCode::CREATED, Json(UserDto::new(user, Some(token)))))
}

/// `DELETE /api/users/{name}`.
pub async fn revoke(
    State(state): State<AppState>,
    caller: Caller,
    name: Result<Path<String>, PathRejection>,
) -> Result<Json<UserDto>, ApiError> {
    caller.may_manage_users()?;
    let Path(name) = name?;
    let user = state.store.revoke_user(&name).await?;
    Ok(Json(UserDto::new(user, None)))
}
