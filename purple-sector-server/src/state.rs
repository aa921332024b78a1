//! What every handler shares.

use std::sync::Arc;
use std::time::Duration;

use axum::http::HeaderValue;
use purple_sector_core::live::Hub;
use purple_sector_core::store::Store;

use crate::limits::RateLimits;
use crate::metrics::Metrics;
use crate::recording::{DemoSettings, RecorderSlot};
use crate::timed_store::TimedStore;

/// Everything the handlers share.
#[derive(Clone)]
pub struct AppState {
    /// The database.
    pub store: Arc<dyn Store>,
    /// Live frames and laps from the recorder (and, with a [`AppState::bridge`], from every
    /// recorder on the same Redis).
    pub hub: Hub,
    /// The bridge joining [`AppState::hub`] to Redis, when the server has one (`--hub`): its
    /// figures go on `/metrics`, [`AppState::ping_hub`] checks it.
    #[cfg(feature = "redis")]
    pub bridge: Option<Arc<purple_sector_core::live::redis::RedisBridge>>,
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
    /// Per-client rate limits of the costly routes and of the token check.
    pub limits: Arc<RateLimits>,
    /// Browser origins other than the server's own allowed to call the API and open the
    /// stream (`--cors-origin`; CORS is off without one).
    pub cors_origins: Vec<HeaderValue>,
    /// Host names the server answers for besides localhost, 127.0.0.1, [::1] and the address
    /// it is bound to (`--allowed-host`).
    pub allowed_hosts: Vec<String>,
    /// The address the server is bound to ([`crate::serve`] sets it).
    pub bound: Option<std::net::SocketAddr>,
    /// True when served over TLS (the server's own origin is `https://…`).
    pub tls: bool,
}

impl AppState {
    /// State over a store (timed for `/metrics`), with a fresh hub, no token and the default
    /// demo.
    pub fn new(store: Arc<dyn Store>) -> Self {
        let metrics: Arc<Metrics> = Arc::default();
        Self {
            store: Arc::new(TimedStore::new(store, Arc::clone(&metrics))),
            hub: Hub::default(),
            #[cfg(feature = "redis")]
            bridge: None,
            recorder: RecorderSlot::default(),
            metrics,
            token: None,
            demo: DemoSettings::default(),
            openai: None,
            limits: Arc::default(),
            cors_origins: Vec::new(),
            allowed_hosts: Vec::new(),
            bound: None,
            tls: false,
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

/// The live hub's Redis did not answer (see [`AppState::ping_hub`]).
#[derive(Debug, thiserror::Error)]
#[error("the live hub is not reachable")]
pub struct HubUnreachable {
    /// Why.
    #[source]
    pub source: Box<dyn std::error::Error + Send + Sync + 'static>,
}

impl AppState {
    /// Whether the live hub answers, for readiness: `None` when the server has no hub across
    /// processes (nothing to check), else the round trip of a PING to its Redis or why there
    /// was none (within the bridge's timeout, 2 s by default).
    pub async fn ping_hub(&self) -> Option<Result<Duration, HubUnreachable>> {
        #[cfg(feature = "redis")]
        if let Some(bridge) = &self.bridge {
            return Some(bridge.ping().await.map_err(|e| HubUnreachable {
                source: Box::new(e),
            }));
        }
        None
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
        self.cors_origins.push(value);
        Ok(())
    }

    /// Answers for host name `host` too (a LAN name, or the name a reverse proxy forwards).
    pub fn allow_host(&mut self, host: &str) {
        self.allowed_hosts.push(host.trim().to_ascii_lowercase());
    }
}
