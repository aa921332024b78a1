//! Ctrl-C and SIGTERM, the one way every command stops.

use tokio::sync::watch;

/// Resolves on Ctrl-C (SIGINT) or SIGTERM.
pub async fn stopped() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let Ok(mut term) = signal(SignalKind::terminate()) else {
            let _ = tokio::signal::ctrl_c().await;
            return;
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// A flag that turns true on Ctrl-C or SIGTERM, for the library's loops that take one.
pub fn stop_flag() -> watch::Receiver<bool> {
    let (stop, flag) = watch::channel(false);
    tokio::spawn(async move {
        stopped().await;
        let _ = stop.send(true);
    });
    flag
}
