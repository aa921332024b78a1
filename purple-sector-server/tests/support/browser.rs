//! Headless Chromium over the DevTools protocol, for the dashboard and security tests.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

pub fn chromium() -> Option<PathBuf> {
    [
        "/usr/bin/chromium",
        "/usr/bin/chromium-browser",
        "/usr/bin/google-chrome",
    ]
    .iter()
    .map(PathBuf::from)
    .find(|p| p.exists())
}

pub struct Browser {
    child: Child,
    profile: PathBuf,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}

pub fn launch(binary: &Path, url: &str) -> (Browser, u16) {
    static LAUNCHED: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = LAUNCHED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let profile = std::env::temp_dir().join(format!("ps-chromium-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&profile);
    std::fs::create_dir_all(&profile).unwrap();
    let child = Command::new(binary)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--window-size=1280,900",
            "--remote-debugging-port=0",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(url)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let browser = Browser { child, profile };
    let port_file = browser.profile.join("DevToolsActivePort");
    let start = Instant::now();
    loop {
        if let Ok(text) = std::fs::read_to_string(&port_file) {
            if let Some(port) = text.lines().next().and_then(|l| l.parse().ok()) {
                return (browser, port);
            }
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "chromium did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The page target's DevTools WebSocket URL, from `/json/list`.
pub fn page_socket(port: u16) -> String {
    let start = Instant::now();
    loop {
        let body = http_get(port, "/json/list");
        let targets: Value = serde_json::from_str(&body).unwrap_or(json!([]));
        if let Some(url) = targets
            .as_array()
            .into_iter()
            .flatten()
            .find(|t| t["type"] == "page")
            .and_then(|t| t["webSocketDebuggerUrl"].as_str())
        {
            // Chromium may name the host `localhost`, which can resolve to ::1 first.
            let path = url.split("/devtools/").nth(1).unwrap_or_default();
            return format!("ws://127.0.0.1:{port}/devtools/{path}");
        }
        assert!(start.elapsed() < Duration::from_secs(30), "no page target");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// A GET on the DevTools HTTP endpoint (which keeps connections open): reads the headers,
/// then exactly `Content-Length` bytes.
pub fn http_get(port: u16, path: &str) -> String {
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(stream, "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").unwrap();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        let n = stream.read(&mut chunk).unwrap();
        assert!(n > 0, "DevTools closed the connection");
        buf.extend_from_slice(&chunk[..n]);
        let text = String::from_utf8_lossy(&buf).into_owned();
        if let Some((head, body)) = text.split_once("\r\n\r\n") {
            let length = head
                .lines()
                .find_map(|l| {
                    let (name, value) = l.split_once(':')?;
                    name.eq_ignore_ascii_case("content-length")
                        .then(|| value.trim().parse::<usize>().ok())
                        .flatten()
                })
                .unwrap_or(0);
            if body.len() >= length {
                return body[..length].to_owned();
            }
        }
    }
}

pub type Cdp =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

pub struct Page {
    pub cdp: Cdp,
    pub next_id: u64,
    /// The events DevTools sent (console, exceptions, network …), in order.
    pub events: Vec<Value>,
}

impl Page {
    /// A page over its DevTools socket.
    pub fn new(cdp: Cdp) -> Self {
        Self {
            cdp,
            next_id: 0,
            events: Vec::new(),
        }
    }

    /// Reads the events that arrived within `wait`.
    pub async fn drain(&mut self, wait: Duration) {
        let end = Instant::now() + wait;
        loop {
            let left = end.saturating_duration_since(Instant::now());
            match tokio::time::timeout(left, self.cdp.next()).await {
                Ok(Some(Ok(Message::Text(text)))) => {
                    let v: Value = serde_json::from_str(&text).unwrap();
                    if v.get("method").is_some() {
                        self.events.push(v);
                    }
                }
                Ok(Some(Ok(_))) => {}
                _ => return,
            }
        }
    }

    /// The console errors, uncaught exceptions and error log entries seen so far.
    pub fn errors(&self) -> Vec<String> {
        self.events
            .iter()
            .filter(|e| {
                (e["method"] == "Runtime.consoleAPICalled" && e["params"]["type"] == "error")
                    || e["method"] == "Runtime.exceptionThrown"
                    || (e["method"] == "Log.entryAdded" && e["params"]["entry"]["level"] == "error")
            })
            .map(Value::to_string)
            .collect()
    }

    /// Loads `url` and waits until the document has loaded.
    pub async fn navigate(&mut self, url: &str) {
        self.call("Page.navigate", json!({ "url": url })).await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        self.wait_for("document.readyState === 'complete'", url)
            .await;
    }

    /// A PNG of the whole page, written to `path`.
    pub async fn screenshot(&mut self, path: &Path) {
        self.capture(path, true).await;
    }

    /// A PNG of what the viewport shows, written to `path`.
    pub async fn screenshot_viewport(&mut self, path: &Path) {
        self.capture(path, false).await;
    }

    async fn capture(&mut self, path: &Path, whole: bool) {
        let shot = self
            .call(
                "Page.captureScreenshot",
                json!({"format": "png", "captureBeyondViewport": whole}),
            )
            .await;
        let png = base64_decode(shot["data"].as_str().unwrap());
        assert!(png.starts_with(b"\x89PNG"));
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, png).unwrap();
    }

    /// One mouse event at viewport CSS pixels (`mousePressed`, `mouseMoved`, `mouseReleased`).
    pub async fn mouse(&mut self, kind: &str, x: f64, y: f64, clicks: u32) {
        let button = if kind == "mouseMoved" && clicks == 0 {
            "none"
        } else {
            "left"
        };
        let buttons = if button == "left" && kind != "mouseReleased" {
            1
        } else {
            0
        };
        self.call(
            "Input.dispatchMouseEvent",
            json!({"type": kind, "x": x, "y": y, "button": button, "buttons": buttons, "clickCount": clicks}),
        )
        .await;
    }

    /// The viewport as a phone or a desktop: CSS width, height and device pixel ratio.
    pub async fn viewport(&mut self, width: u32, height: u32, dpr: f64) {
        self.call(
            "Emulation.setDeviceMetricsOverride",
            json!({"width": width, "height": height, "deviceScaleFactor": dpr, "mobile": width < 600}),
        )
        .await;
    }
    pub async fn call(&mut self, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let message = json!({"id": id, "method": method, "params": params});
        self.cdp
            .send(Message::Text(message.to_string().into()))
            .await
            .unwrap();
        loop {
            let reply = tokio::time::timeout(Duration::from_secs(30), self.cdp.next())
                .await
                .expect("DevTools did not answer")
                .expect("DevTools closed")
                .unwrap();
            if let Message::Text(text) = reply {
                let v: Value = serde_json::from_str(&text).unwrap();
                if v["id"] == id {
                    assert!(v.get("error").is_none(), "{method}: {v}");
                    return v["result"].clone();
                }
                if v.get("method").is_some() {
                    self.events.push(v);
                }
            }
        }
    }

    /// The value of `expression`; an exception it throws fails the test.
    pub async fn eval(&mut self, expression: &str) -> Value {
        let r = self.try_eval(expression).await;
        assert!(
            r.get("exceptionDetails").is_none(),
            "{expression}: {}",
            r["exceptionDetails"]
        );
        r["result"]["value"].clone()
    }

    /// `Runtime.evaluate`'s answer: `result` or `exceptionDetails`.
    pub async fn try_eval(&mut self, expression: &str) -> Value {
        self.call(
            "Runtime.evaluate",
            json!({"expression": expression, "returnByValue": true, "awaitPromise": true}),
        )
        .await
    }

    /// Polls `expression` until it is true (an exception counts as not yet).
    pub async fn wait_for(&mut self, expression: &str, what: &str) {
        let start = Instant::now();
        while self.try_eval(expression).await["result"]["value"] != Value::Bool(true) {
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "timed out waiting for {what}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// Standard base64 (the screenshot), without a crate for twenty lines.
pub fn base64_decode(text: &str) -> Vec<u8> {
    let value = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    let digits: Vec<u32> = text.bytes().filter_map(value).collect();
    let mut out = Vec::with_capacity(digits.len() * 3 / 4);
    for chunk in digits.chunks(4) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |acc, (i, d)| acc | d << (18 - 6 * i));
        let bytes = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
        out.extend_from_slice(&bytes[..chunk.len().saturating_sub(1)]);
    }
    out
}
