//! `--hub`: the live hub of `record`, `demo` and `serve` bridged to Redis.

use purple_sector_core::live::Hub;

use crate::args::HubArgs;

/// The bridge of `--hub`, when one was given.
#[derive(Debug)]
pub struct HubBridge {
    #[cfg(feature = "redis")]
    bridge: Option<std::sync::Arc<purple_sector_core::live::redis::RedisBridge>>,
}

impl HubBridge {
    /// Bridges `hub` to the Redis of `--hub` (nothing without one). Fails when Redis does not
    /// answer; once connected, a lost connection is made again in the background.
    #[cfg(feature = "redis")]
    pub async fn connect(args: &HubArgs, hub: &Hub, json: bool) -> anyhow::Result<Self> {
        use purple_sector_core::live::redis::{RedisBridge, RedisBridgeOptions};

        let Some(url) = &args.hub else {
            return Ok(Self { bridge: None });
        };
        let options = RedisBridgeOptions {
            prefix: args.hub_prefix.clone(),
            ..RedisBridgeOptions::default()
        };
        let bridge = RedisBridge::connect(url, hub.clone(), options).await?;
        if !json {
            eprintln!(
                "purple-sector: live stream shared on {} and {}",
                bridge.frames_channel(),
                bridge.events_stream()
            );
        }
        Ok(Self {
            bridge: Some(std::sync::Arc::new(bridge)),
        })
    }

    /// Without the `redis` feature, `--hub` is refused.
    #[cfg(not(feature = "redis"))]
    pub async fn connect(args: &HubArgs, _hub: &Hub, _json: bool) -> anyhow::Result<Self> {
        if args.hub.is_some() {
            anyhow::bail!("--hub needs purple-sector built with the redis feature");
        }
        Ok(Self {})
    }

    /// True when a hub was given.
    pub fn is_some(&self) -> bool {
        #[cfg(feature = "redis")]
        return self.bridge.is_some();
        #[cfg(not(feature = "redis"))]
        false
    }

    /// Puts the bridge in the server's state (its figures on /metrics, its Redis checked by
    /// /readyz; `serve` flushes it).
    pub fn install(&self, state: &mut purple_sector_server::AppState) {
        #[cfg(feature = "redis")]
        if let Some(bridge) = &self.bridge {
            state.set_bridge(std::sync::Arc::clone(bridge));
        }
        #[cfg(not(feature = "redis"))]
        let _ = state;
    }

    /// Sends what is still queued, stops, and says on stderr what went through (not with
    /// `--json`).
    pub async fn finish(self, json: bool) {
        #[cfg(feature = "redis")]
        if let Some(bridge) = self.bridge {
            bridge.shutdown().await;
            let s = bridge.stats();
            if !json {
                let ms = |d: std::time::Duration| d.as_secs_f64() * 1_000.0;
                eprintln!(
                    "purple-sector: hub: {} frames and {} events published, {} frames and {} events dropped; publish latency p50 {:.2} ms, p99 {:.2} ms",
                    s.frames_published,
                    s.events_published,
                    s.frames_lost_outbound + s.hub_lagged,
                    s.events_lost_outbound,
                    ms(s.publish_latency.p50),
                    ms(s.publish_latency.p99),
                );
            }
        }
        #[cfg(not(feature = "redis"))]
        let _ = (self, json);
    }
}
