//! A real server on loopback for the integration tests, and raw HTTP/1.1 requests to it.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use purple_sector_core::lap::{Lap, LapKind, LapTime};
use purple_sector_core::store::{LapId, MemoryStore, NewSession, SessionSource, Store};
use purple_sector_core::telemetry::Frame;
use purple_sector_server::{AppState, DemoSettings, serve_with};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpSocket;

/// A server over a memory store with one session and one lap, on a free loopback port.
pub struct Running {
    pub addr: SocketAddr,
    pub store: Arc<dyn Store>,
    pub lap: LapId,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl Running {
    pub async fn start(configure: impl FnOnce(&mut AppState)) -> Self {
        Self::start_with(configure, None).await
    }

    /// [`Running::start`], over TLS with `tls`.
    pub async fn start_with(
        configure: impl FnOnce(&mut AppState),
        tls: Option<Arc<tokio_rustls::rustls::ServerConfig>>,
    ) -> Self {
        let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
        let session = store
            .create_session(NewSession::new("s", SessionSource::Live))
            .await
            .unwrap();
        let frames: Vec<Frame> = (0..100)
            .map(|k| Frame {
                lap_time_ms: k * 10,
                position_normalized: k as f32 / 100.0,
                speed_kmh: 100.0,
                ..Frame::default()
            })
            .collect();
        let lap = Lap {
            stint: 0,
            number: 1,
            kind: LapKind::Flying,
            invalid_reason: None,
            time: Some(LapTime::official(1_000)),
            frames,
        };
        let lap = store.save_lap(session.id, &lap).await.unwrap().id;
        let mut state = AppState::new(Arc::clone(&store));
        state.demo = DemoSettings {
            track: "test".into(),
            laps: 1,
            speed: 5.0,
        };
        configure(&mut state);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            serve_with(
                listener,
                state,
                async {
                    let _ = stopped.await;
                },
                tls,
            )
            .await
            .unwrap();
        });
        Self {
            addr,
            store,
            lap,
            stop: Some(stop),
            task,
        }
    }

    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        tokio::time::timeout(Duration::from_secs(20), &mut self.task)
            .await
            .expect("the server stops")
            .unwrap();
    }
}

/// A response: status, headers (lowercase names), body.
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {} {}", self.status, self.body))
    }
}

/// One HTTP/1.1 request over a fresh connection from `from` (a loopback address).
pub async fn request_from(from: IpAddr, to: SocketAddr, head: &str, body: &[u8]) -> Reply {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(SocketAddr::new(from, 0)).unwrap();
    let mut stream = socket.connect(to).await.unwrap();
    let text = format!(
        "{head}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(text.as_bytes()).await.unwrap();
    // A server that refuses a body too large answers and closes before reading it all.
    let _ = stream.write_all(body).await;
    let mut raw = Vec::new();
    tokio::time::timeout(Duration::from_secs(20), stream.read_to_end(&mut raw))
        .await
        .expect("a reply")
        .unwrap();
    parse_reply(&raw)
}

pub fn parse_reply(raw: &[u8]) -> Reply {
    let text = String::from_utf8_lossy(raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    Reply {
        status,
        headers,
        body: body.to_owned(),
    }
}

pub async fn request(to: SocketAddr, head: &str, body: &[u8]) -> Reply {
    request_from("127.0.0.1".parse().unwrap(), to, head, body).await
}

pub fn host(addr: SocketAddr) -> String {
    format!("Host: {addr}")
}
