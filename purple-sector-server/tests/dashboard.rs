//! The dashboard in a real headless browser (Debian's `chromium`), driven over the Chrome
//! DevTools Protocol: load the page, start the demo, see live frames and completed laps, open
//! a lap, run the analysis, see suggestions, ask the coach.
//! A screenshot goes to `target/dashboard.png`.
//!
//! Without chromium the test says so and passes, except under CI (`CI` set), where it fails:
//! `.ci/run` installs it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use purple_sector_core::store::{MemoryStore, Store};
use purple_sector_server::{AppState, DemoSettings, serve};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

fn chromium() -> Option<PathBuf> {
    [
        "/usr/bin/chromium",
        "/usr/bin/chromium-browser",
        "/usr/bin/google-chrome",
    ]
    .iter()
    .map(PathBuf::from)
    .find(|p| p.exists())
}

struct Browser {
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

fn launch(binary: &Path, url: &str) -> (Browser, u16) {
    let profile = std::env::temp_dir().join(format!("ps-chromium-{}", std::process::id()));
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
fn page_socket(port: u16) -> String {
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
fn http_get(port: u16, path: &str) -> String {
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

type Cdp =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

struct Page {
    cdp: Cdp,
    next_id: u64,
}

impl Page {
    async fn call(&mut self, method: &str, params: Value) -> Value {
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
            }
        }
    }

    async fn eval(&mut self, expression: &str) -> Value {
        let r = self
            .call(
                "Runtime.evaluate",
                json!({"expression": expression, "returnByValue": true}),
            )
            .await;
        r["result"]["value"].clone()
    }

    /// Polls `expression` until it is true.
    async fn wait_for(&mut self, expression: &str, what: &str) {
        let start = Instant::now();
        while self.eval(expression).await != Value::Bool(true) {
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "timed out waiting for {what}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboard_shows_the_demo_live() {
    let Some(binary) = chromium() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "chromium is required under CI"
        );
        eprintln!("chromium not installed: dashboard test skipped (apt-get install chromium)");
        return;
    };
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let mut state = AppState::new(Arc::clone(&store));
    state.demo = DemoSettings {
        track: "test".to_owned(),
        laps: 2,
        speed: 40.0,
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve(listener, state, async {
        let _ = stopped.await;
    }));

    let (browser, port) = launch(&binary, &format!("http://{addr}/"));
    let (cdp, _) = tokio_tungstenite::connect_async(page_socket(port))
        .await
        .unwrap();
    let mut page = Page { cdp, next_id: 0 };
    page.call("Runtime.enable", json!({})).await;

    page.wait_for(
        "document.getElementById('status').textContent === 'connected'",
        "the WebSocket",
    )
    .await;
    page.eval("document.getElementById('start').click(); true")
        .await;
    page.wait_for(
        "Number(document.getElementById('frames').textContent) > 30",
        "live frames",
    )
    .await;
    page.wait_for(
        "document.querySelectorAll('#laps tr').length >= 1",
        "a completed lap",
    )
    .await;
    let first_lap = page
        .eval("document.querySelector('#laps tr td:nth-child(2)').textContent")
        .await;
    assert_eq!(first_lap, "out");
    page.wait_for(
        "document.querySelectorAll('#sessions li').length >= 1",
        "the session in the list",
    )
    .await;
    let speed: f64 = page
        .eval("Number(document.getElementById('speed').textContent)")
        .await
        .as_f64()
        .unwrap();
    assert!((0.0..400.0).contains(&speed));

    // Out lap, then two flying laps; the second brakes early into the slowest corner.
    page.wait_for(
        "document.querySelectorAll('#laps tr').length >= 3",
        "three completed laps",
    )
    .await;
    page.eval(
        "[...document.querySelectorAll('#laps tr')].find(r => r.firstChild.textContent === '3').click(); true",
    )
    .await;
    page.wait_for(
        "document.querySelectorAll('#corners tr').length >= 3",
        "the corner table",
    )
    .await;
    page.wait_for(
        "document.querySelectorAll('#suggestions li').length >= 1",
        "suggestions",
    )
    .await;
    let suggestion = page
        .eval("document.querySelector('#suggestions li').textContent")
        .await;
    assert!(
        suggestion.as_str().unwrap().contains("brak"),
        "{suggestion}"
    );
    let gap = page
        .eval("document.getElementById('gap').textContent")
        .await;
    assert!(gap.as_str().unwrap().contains("against lap #"), "{gap}");
    page.eval(
        "document.getElementById('chat-input').value = 'where am I losing time?'; \
         document.getElementById('chat-form').requestSubmit(); true",
    )
    .await;
    page.wait_for(
        "document.querySelectorAll('#chat-log p').length >= 2",
        "the coach's answer",
    )
    .await;
    let answer = page
        .eval("document.getElementById('chat-log').innerText")
        .await;
    assert!(answer.as_str().unwrap().contains("Coach:"), "{answer}");

    let shot = page
        .call(
            "Page.captureScreenshot",
            json!({"format": "png", "captureBeyondViewport": true}),
        )
        .await;
    let png = base64_decode(shot["data"].as_str().unwrap());
    assert!(png.starts_with(b"\x89PNG"));
    let target = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/dashboard.png");
    std::fs::write(&target, png).unwrap();

    page.eval("document.getElementById('stop').click(); true")
        .await;
    drop(browser);
    stop.send(()).unwrap();
    server.await.unwrap().unwrap();
    assert!(!store.list_laps(None).await.unwrap().is_empty());
}

/// Standard base64 (the screenshot), without a crate for twenty lines.
fn base64_decode(text: &str) -> Vec<u8> {
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
