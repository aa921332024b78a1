//! `/healthz` (the process answers) and `/readyz` (it can serve: the database answers, and
//! so does every other service it was given, such as a Redis hub). Both are open to anyone
//! (a load balancer's probes carry no token) and answer JSON.

use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::AppState;

/// How long `/readyz` waits for each check.
pub const READY_TIMEOUT: Duration = Duration::from_secs(2);

/// A service `/readyz` checks besides the database.
#[async_trait::async_trait]
pub trait Probe: Send + Sync {
    /// Its name in `/readyz`'s answer (`hub`).
    fn name(&self) -> &str;
    /// `Ok` when it answers; else why not.
    async fn check(&self) -> Result<(), String>;
}

/// A shared probe.
pub type SharedProbe = Arc<dyn Probe>;

/// `GET /healthz`: 200 while the process serves.
pub(crate) async fn healthz() -> Json<Value> {
    Json(json!({"status": "ok"}))
}

async fn timed(check: impl Future<Output = Result<(), String>>) -> Result<(), String> {
    tokio::time::timeout(READY_TIMEOUT, check)
        .await
        .unwrap_or_else(|_| Err(format!("no answer within {} s", READY_TIMEOUT.as_secs())))
}

/// `GET /readyz`: 200 `{"ready": true, "checks": {"database": "ok", …}}` when every check
/// passes, else 503 with each failure's reason.
pub(crate) async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Value>) {
    let mut checks = serde_json::Map::new();
    let mut ready = true;
    let mut record = |name: &str, result: Result<(), String>| {
        ready &= result.is_ok();
        checks.insert(
            name.to_owned(),
            Value::String(result.err().unwrap_or_else(|| "ok".to_owned())),
        );
    };
    let database = timed(async {
        state
            .store
            .ping()
            .await
            .map_err(|e| crate::error::error_chain(&e))
    })
    .await;
    record("database", database);
    for probe in &state.probes {
        let result = timed(probe.check()).await;
        record(probe.name(), result);
    }
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(json!({"ready": ready, "checks": checks})))
}
