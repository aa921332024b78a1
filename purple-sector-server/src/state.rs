//! What every handler shares.

use std::sync::{Arc, OnceLock};

use axum::http::HeaderValue;
use purple_sector_core::live::Hub;
use purple_sector_core::store::Store;

use crate::fanout::Fanout;
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
    /// The bridge joining [`AppState::hub`] to Redis, when the server has one (`--hub`; set it
    /// with [`AppState::set_bridge`]): its figures go on `/metrics`, `/readyz` checks it.
    #[cfg(feature = "redis")]
    pub bridge: Option<Arc<purple_sector_core::live::redis::RedisBridge>>,
    /// The recording the server runs.
    pub recorder: RecorderSlot,
    /// Counters for `/metrics`.
    pub metrics: Arc<Metrics>,
    /// The server's own access token (an admin's), when one is required.
    pub token: Option<Arc<str>>,
    /// True when the store's users may sign in with their tokens (`serve` turns it on when
    /// the store has users, or with a token of its own).
    pub accounts: bool,
    /// What `start_demo` runs.
    pub demo: DemoSettings,
    /// The LLM, when one is configured (`OPENAI_API_KEY` / `OPENAI_BASE_URL`).
    pub openai: Option<purple_sector_core::analysis::OpenAiConfig>,
    /// Per-client rate limits of the costly routes and of the token check.
    pub limits: Arc<RateLimits>,
    /// Browser origins other than the server's own allowed to call the API and open the
    /// stream (`--cors-origin`; CORS is off without one).
    pub cors_origins: Vec<HeaderValue>,
    /// Host names the server answers for besides localhost, 127.0.0.1, `[::1]` and the address
    /// it is bound to (`--allowed-host`).
    pub allowed_hosts: Vec<String>,
    /// The address the server is bound to ([`crate::serve`] sets it).
    pub bound: Option<std::net::SocketAddr>,
    /// What `/readyz` checks besides the database (a Redis hub, say).
    pub probes: Vec<crate::health::SharedProbe>,
    /// True when served over TLS (the server's own origin is `https://…`).
    pub tls: bool,
    /// The live stream's serialised frames and events, started with the first client.
    fanout: Arc<OnceLock<Arc<Fanout>>>,
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
            accounts: false,
            demo: DemoSettings::default(),
            openai: None,
            limits: Arc::default(),
            cors_origins: Vec::new(),
            allowed_hosts: Vec::new(),
            bound: None,
            tls: false,
            probes: Vec::new(),
            fanout: Arc::default(),
        }
    }

    /// The live stream over [`AppState::hub`], started on first use (inside the runtime).
    pub(crate) fn fanout(&self) -> Arc<Fanout> {
        Arc::clone(
            self.fanout
                .get_or_init(|| Fanout::start(&self.hub, Arc::clone(&self.metrics))),
        )
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

#[cfg(feature = "redis")]
impl AppState {
    /// Joins the server to other processes through `bridge` (which must bridge
    /// [`AppState::hub`]): its figures go on `/metrics`, `/readyz` checks its Redis (as
    /// `hub`), and [`crate::serve`] flushes it after the recording stops.
    pub fn set_bridge(&mut self, bridge: Arc<purple_sector_core::live::redis::RedisBridge>) {
        self.probes.push(Arc::new(HubProbe(Arc::clone(&bridge))));
        self.bridge = Some(bridge);
    }
}

/// `/readyz`'s check of the hub: a PING to its Redis.
#[cfg(feature = "redis")]
struct HubProbe(Arc<purple_sector_core::live::redis::RedisBridge>);

#[cfg(feature = "redis")]
#[async_trait::async_trait]
impl crate::health::Probe for HubProbe {
    fn name(&self) -> &str {
        "hub"
    }

    async fn check(&self) -> Result<(), String> {
        self.0
            .ping()
            .await
            .map(|_| ())
            .map_err(|e| crate::error::error_chain(&e))
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

    /// True when a request needs a token: the server has one of its own, or users.
    pub fn requires_token(&self) -> bool {
        self.token.is_some() || self.accounts
    }

    /// Answers for host name `host` too (a LAN name, or the name a reverse proxy forwards).
    pub fn allow_host(&mut self, host: &str) {
        self.allowed_hosts.push(host.trim().to_ascii_lowercase());
    }
}
