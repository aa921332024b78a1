//! Counters and histograms for `/metrics` (Prometheus text format).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;

use crate::AppState;

/// Counters for `/metrics`.
#[derive(Debug, Default)]
pub struct Metrics {
    /// WebSocket clients connected now.
    pub ws_clients: AtomicU64,
    /// Telemetry messages sent to clients.
    pub frames_out: AtomicU64,
    /// Frames not sent to a client because a newer one replaced it within its rate.
    pub frames_thinned: AtomicU64,
    /// Live events lost by being slow: hub events the stream's fan-out missed (nobody got
    /// them), and lap or session events of clients that left. Frames are never lost by a
    /// slow client, only thinned (it gets the newest).
    pub frames_dropped: AtomicU64,
    /// Client messages ignored (unknown types, attempts to send telemetry).
    pub ws_ignored: AtomicU64,
    /// HTTP requests served.
    pub requests: AtomicU64,
    /// HTTP responses with a 4xx or 5xx status.
    pub errors: AtomicU64,
    /// Analyses run, and their total time in µs.
    pub analyses: AtomicU64,
    /// Total analysis time, µs.
    pub analysis_us: AtomicU64,
    /// Request durations by route.
    latency: Mutex<std::collections::BTreeMap<String, Histogram>>,
    /// Store operation durations by operation.
    store: Mutex<std::collections::BTreeMap<&'static str, Histogram>>,
    /// Frames each connected WebSocket client lost so far, by client number.
    client_dropped: Mutex<std::collections::BTreeMap<u64, u64>>,
    /// Numbers given to WebSocket clients.
    next_client: AtomicU64,
}

/// Upper bounds of the latency buckets, seconds.
const LATENCY_BUCKETS_S: [f64; 10] = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5];

#[derive(Debug, Default, Clone)]
struct Histogram {
    buckets: [u64; LATENCY_BUCKETS_S.len()],
    count: u64,
    sum_s: f64,
}

impl Histogram {
    fn observe(&mut self, seconds: f64) {
        for (bucket, bound) in self.buckets.iter_mut().zip(LATENCY_BUCKETS_S) {
            if seconds <= bound {
                *bucket += 1;
            }
        }
        self.count += 1;
        self.sum_s += seconds;
    }
}

impl Metrics {
    /// Counts one request to `route` that took `took`.
    pub fn record_request(&self, route: &str, took: std::time::Duration) {
        let mut latency = self.latency.lock().unwrap_or_else(PoisonError::into_inner);
        latency
            .entry(route.to_owned())
            .or_default()
            .observe(took.as_secs_f64());
    }

    /// Counts one store operation that took `took`.
    pub fn record_store(&self, op: &'static str, took: std::time::Duration) {
        let mut store = self.store.lock().unwrap_or_else(PoisonError::into_inner);
        store.entry(op).or_default().observe(took.as_secs_f64());
    }

    /// A number for a new WebSocket client.
    pub fn client_connected(&self) -> u64 {
        let id = self.next_client.fetch_add(1, Ordering::Relaxed) + 1;
        self.client_dropped
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(id, 0);
        id
    }

    /// What client `id` lost so far.
    pub fn client_dropped(&self, id: u64, dropped: u64) {
        if let Some(d) = self
            .client_dropped
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get_mut(&id)
        {
            *d = dropped;
        }
    }

    /// Client `id` left: its losses move to the total.
    pub fn client_disconnected(&self, id: u64) {
        let dropped = self
            .client_dropped
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&id)
            .unwrap_or(0);
        self.frames_dropped.fetch_add(dropped, Ordering::Relaxed);
    }

    fn histogram_text<K: std::fmt::Display>(
        name: &str,
        help: &str,
        label: &str,
        map: &std::collections::BTreeMap<K, Histogram>,
    ) -> String {
        let mut out = format!("# HELP {name} {help}\n# TYPE {name} histogram\n");
        for (key, h) in map {
            for (count, bound) in h.buckets.iter().zip(LATENCY_BUCKETS_S) {
                out.push_str(&format!(
                    "{name}_bucket{{{label}=\"{key}\",le=\"{bound}\"}} {count}\n"
                ));
            }
            out.push_str(&format!(
                "{name}_bucket{{{label}=\"{key}\",le=\"+Inf\"}} {}\n",
                h.count
            ));
            out.push_str(&format!("{name}_sum{{{label}=\"{key}\"}} {}\n", h.sum_s));
            out.push_str(&format!("{name}_count{{{label}=\"{key}\"}} {}\n", h.count));
        }
        out
    }

    fn latency_text(&self) -> String {
        let latency = self.latency.lock().unwrap_or_else(PoisonError::into_inner);
        let store = self.store.lock().unwrap_or_else(PoisonError::into_inner);
        let clients = self
            .client_dropped
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let mut out = Self::histogram_text(
            "purple_sector_http_request_duration_seconds",
            "HTTP request durations by route.",
            "route",
            &latency,
        );
        out.push_str(&Self::histogram_text(
            "purple_sector_store_operation_duration_seconds",
            "Store operation durations by operation.",
            "op",
            &store,
        ));
        let name = "purple_sector_ws_client_frames_dropped";
        out.push_str(&format!(
            "# HELP {name} Lap and session events each connected WebSocket client lost by being slow.\n# TYPE {name} gauge\n"
        ));
        for (client, dropped) in clients.iter() {
            out.push_str(&format!("{name}{{client=\"{client}\"}} {dropped}\n"));
        }
        out
    }

    /// Counts one analysis and its duration.
    pub fn record_analysis(&self, took: std::time::Duration) {
        self.analyses.fetch_add(1, Ordering::Relaxed);
        self.analysis_us.fetch_add(
            u64::try_from(took.as_micros()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
    }
}

/// The bridge's figures, when the server has one (`--hub`).
#[cfg(feature = "redis")]
fn hub_text(state: &AppState) -> String {
    let Some(bridge) = &state.bridge else {
        return String::new();
    };
    let s = bridge.stats();
    let mut out = String::new();
    let mut line = |name: &str, help: &str, kind: &str, value: u64| {
        out.push_str(&format!(
            "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}\n"
        ));
    };
    line(
        "purple_sector_hub_connected",
        "1 while every connection to the hub's Redis is up.",
        "gauge",
        u64::from(s.connected),
    );
    line(
        "purple_sector_hub_frames_published_total",
        "Frames of this process's recordings Redis took.",
        "counter",
        s.frames_published,
    );
    line(
        "purple_sector_hub_events_published_total",
        "Lap and session events of this process's recordings Redis took.",
        "counter",
        s.events_published,
    );
    line(
        "purple_sector_hub_frames_dropped_total",
        "Frames of this process's recordings not sent (queue full, Redis away, refused).",
        "counter",
        s.frames_lost_outbound,
    );
    line(
        "purple_sector_hub_events_dropped_total",
        "Events of this process's recordings not sent (queue full, refused three times).",
        "counter",
        s.events_lost_outbound,
    );
    line(
        "purple_sector_hub_lagged_total",
        "Hub events the bridge was too slow to take.",
        "counter",
        s.hub_lagged,
    );
    line(
        "purple_sector_hub_publish_errors_total",
        "Messages Redis refused or that went with a broken connection.",
        "counter",
        s.publish_errors,
    );
    line(
        "purple_sector_hub_frames_received_total",
        "Frames of other instances' recordings received.",
        "counter",
        s.frames_received,
    );
    line(
        "purple_sector_hub_events_received_total",
        "Events of other instances' recordings received (replayed ones included).",
        "counter",
        s.events_received,
    );
    line(
        "purple_sector_hub_frames_missed_total",
        "Frames other instances sent that never arrived here (gaps in their numbers).",
        "counter",
        s.frames_missed,
    );
    line(
        "purple_sector_hub_events_missed_total",
        "Events other instances sent that never arrived here (gaps in their numbers).",
        "counter",
        s.events_missed,
    );
    line(
        "purple_sector_hub_malformed_total",
        "Messages on the hub's channel or Stream that are not ours to read.",
        "counter",
        s.malformed,
    );
    line(
        "purple_sector_hub_reconnects_total",
        "Connections to the hub's Redis made again after one was lost.",
        "counter",
        s.reconnects,
    );
    let latency = s.publish_latency;
    let name = "purple_sector_hub_publish_latency_seconds";
    out.push_str(&format!(
        "# HELP {name} From the hub to Redis's acknowledgement; quantiles over the last {} messages.\n# TYPE {name} summary\n",
        latency.window
    ));
    for (quantile, value) in [("0.5", latency.p50), ("0.99", latency.p99)] {
        out.push_str(&format!(
            "{name}{{quantile=\"{quantile}\"}} {}\n",
            value.as_secs_f64()
        ));
    }
    out.push_str(&format!("{name}_sum {}\n", latency.sum.as_secs_f64()));
    out.push_str(&format!("{name}_count {}\n", latency.count));
    out
}

#[cfg(not(feature = "redis"))]
fn hub_text(_: &AppState) -> String {
    String::new()
}

/// `GET /metrics`.
pub(crate) async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let m = &state.metrics;
    let line = |name: &str, help: &str, kind: &str, value: u64| {
        format!("# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}\n")
    };
    let body = [
        line(
            "purple_sector_ws_clients",
            "WebSocket clients connected.",
            "gauge",
            m.ws_clients.load(Ordering::Relaxed),
        ),
        line(
            "purple_sector_frames_in_total",
            "Events published on the live hub: the recorder's, and other instances' with a hub.",
            "counter",
            state.hub.published(),
        ),
        line(
            "purple_sector_frames_out_total",
            "Telemetry messages sent to WebSocket clients.",
            "counter",
            m.frames_out.load(Ordering::Relaxed),
        ),
        line(
            "purple_sector_frames_thinned_total",
            "Frames skipped to keep each client at its rate.",
            "counter",
            m.frames_thinned.load(Ordering::Relaxed),
        ),
        line(
            "purple_sector_frames_dropped_total",
            "Live events lost by being slow: by the stream's fan-out, or by WebSocket clients that left.",
            "counter",
            m.frames_dropped.load(Ordering::Relaxed),
        ),
        line(
            "purple_sector_ws_ignored_total",
            "Client messages ignored.",
            "counter",
            m.ws_ignored.load(Ordering::Relaxed),
        ),
        line(
            "purple_sector_http_requests_total",
            "HTTP requests.",
            "counter",
            m.requests.load(Ordering::Relaxed),
        ),
        line(
            "purple_sector_http_errors_total",
            "HTTP responses with an error status.",
            "counter",
            m.errors.load(Ordering::Relaxed),
        ),
        m.latency_text(),
        pool_text(&state),
        hub_text(&state),
    ]
    .concat();
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body)
}

/// The database pool's figures, for a store with one (PostgreSQL).
fn pool_text(state: &AppState) -> String {
    let Some(pool) = state.store.pool_stats() else {
        return String::new();
    };
    let gauge = |name: &str, help: &str, value: u64| {
        format!("# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}\n")
    };
    [
        gauge(
            "purple_sector_db_pool_max_connections",
            "Most database connections the pool opens.",
            pool.max_size as u64,
        ),
        gauge(
            "purple_sector_db_pool_connections",
            "Database connections open.",
            pool.size as u64,
        ),
        gauge(
            "purple_sector_db_pool_idle_connections",
            "Database connections open and idle.",
            pool.available as u64,
        ),
        gauge(
            "purple_sector_db_pool_waiting",
            "Requests waiting for a database connection.",
            pool.waiting as u64,
        ),
    ]
    .concat()
}
