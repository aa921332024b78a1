//! What every handler shares.

use std::sync::Arc;

use axum::http::HeaderValue;
use purple_sector_core::live::Hub;
use purple_sector_core::store::Store;

use crate::coach_api::RateLimit;
use crate::metrics::Metrics;
use crate::recording::{DemoSettings, RecorderSlot};
use crate::timed_store::TimedStore;

/// Everything the handlers share.
#[derive(Clone)]
pub struct AppState {
    /// The database.
    pub store: Arc<dyn Store>,
    /// Live frames and laps from the recorder.
    pub hub: Hub,
    /// The recording the server runs.
    pub recorder: RecorderSlot,
    /// Counters for `/metrics`.
    pub metrics: Arc<Metrics>,
    /// The access token, when one is required.
    pub token: Option<Arc<str>>,
    /// What `start_demo` runs.
    pub demo: DemoSettings,
    /// The LLM, when one is configured (`OPENAI_API_KEY` / `OPENAI_BASE_URL`).
    pub openai: Option<purple_sector_core::analysis::OpenAiConfig>,
    /// Rate limits of the costly routes.
    pub limits: Arc<Limits>,
    /// The one browser origin allowed to call the API from another site (CORS is off without
    /// it).
    pub cors_origin: Option<HeaderValue>,
}

/// Rate limits of the costly routes.
#[derive(Debug)]
pub struct Limits {
    /// `POST /api/laps/{id}/analyze`.
    pub analyze: RateLimit,
    /// `POST /api/chat`.
    pub chat: RateLimit,
}

impl Default for Limits {
    /// Analyze: 5 a second, 10 at once; chat: 2 a second, 5 at once.
    fn default() -> Self {
        Self {
            analyze: RateLimit::new(5.0, 10.0),
            chat: RateLimit::new(2.0, 5.0),
        }
    }
}

impl AppState {
    /// State over a store (timed for `/metrics`), with a fresh hub, no token and the default
    /// demo.
    pub fn new(store: Arc<dyn Store>) -> Self {
        let metrics: Arc<Metrics> = Arc::default();
        Self {
            store: Arc::new(TimedStore::new(store, Arc::clone(&metrics))),
            hub: Hub::default(),
            recorder: RecorderSlot::default(),
            metrics,
            token: None,
            demo: DemoSettings::default(),
            openai: None,
            limits: Arc::default(),
            cors_origin: None,
        }
    }
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("token", &self.token.as_ref().map(|_| "…"))
            .field("recorder", &self.recorder)
            .finish_non_exhaustive()
    }
}

/// A `--cors-origin` that is not a valid origin header value.
#[derive(Debug, thiserror::Error)]
#[error("{origin:?} is not a valid origin (scheme://host[:port])")]
pub struct InvalidOrigin {
    /// What was given.
    pub origin: String,
}

impl AppState {
    /// Lets the browser origin `origin` (e.g. `https://league.example`) call the API from
    /// another site (CORS).
    pub fn allow_origin(&mut self, origin: &str) -> Result<(), InvalidOrigin> {
        let value = origin.parse::<HeaderValue>().map_err(|_| InvalidOrigin {
            origin: origin.to_owned(),
        })?;
        self.cors_origin = Some(value);
        Ok(())
    }
}
