//! The dashboard in a real headless browser (Debian's `chromium`), driven over the Chrome
//! DevTools Protocol: load the page, start the demo, see live frames and completed laps, open
//! a lap, run the analysis, see suggestions, ask the coach.
//! A screenshot goes to `target/dashboard.png`.
//!
//! Without chromium the test says so and passes, except under CI (`CI` set), where it fails:
//! `.ci/run` installs it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::Path;
use std::sync::Arc;

use purple_sector_core::store::{MemoryStore, Store};
use purple_sector_server::{AppState, DemoSettings, serve};
use serde_json::json;
use support::browser::*;

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
