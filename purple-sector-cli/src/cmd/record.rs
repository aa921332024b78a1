//! `purple-sector record --ac HOST[:PORT]`: laps from a running game into the database.

use std::io::IsTerminal;
use std::time::Duration;

use clap::Args;
use purple_sector_core::live::Hub;
use purple_sector_core::net::ClientConfig;
use purple_sector_core::record::{RecordOptions, Recorder, RecorderStatus, Source};
use purple_sector_core::store::{SessionId, SessionSource};
use tokio::sync::watch;

use crate::args::{HubArgs, game_address, seconds};
use crate::hub::HubBridge;
use crate::{Global, Outcome, report, tables};

#[derive(Debug, Args)]
pub struct RecordArgs {
    /// The game: HOST or HOST:PORT (port 9996 when omitted).
    #[arg(long, value_name = "HOST[:PORT]")]
    ac: String,
    /// Name of the session (default: the track's name).
    #[arg(long)]
    session: Option<String>,
    /// Record into this existing session (its id: one made in the dashboard, say) instead
    /// of a new one; the game's track and car must be the session's, if it has them.
    #[arg(long, value_name = "SESSION_ID", conflicts_with = "session")]
    into: Option<SessionId>,
    /// Stop after N completed laps (of any kind but partial).
    #[arg(long, value_name = "N")]
    laps: Option<u64>,
    /// Stop after this many seconds.
    #[arg(long, value_name = "SECS")]
    duration: Option<f64>,
    /// Seconds of silence that mean the game left the session.
    #[arg(long, value_name = "SECS", default_value_t = 5.0)]
    silence_timeout: f64,
    /// Stop when the game goes silent instead of waiting for it to come back.
    #[arg(long)]
    exit_on_silence: bool,
    /// Record for this user (their account on a shared database): the session and its laps
    /// are theirs.
    #[arg(long, value_name = "USER")]
    owner: Option<String>,
    #[command(flatten)]
    hub: HubArgs,
}

pub fn run(args: &RecordArgs, global: Global<'_>) -> anyhow::Result<Outcome> {
    let game = game_address(&args.ac)?;
    let client = ClientConfig {
        silence_timeout: seconds(args.silence_timeout, "--silence-timeout")?,
        exit_on_silence: args.exit_on_silence,
        ..ClientConfig::new(game)
    };
    let options = RecordOptions {
        session_name: args.session.clone(),
        source: SessionSource::Live,
        laps: args.laps,
        duration: args
            .duration
            .map(|d| seconds(d, "--duration"))
            .transpose()?,
        owner: args.owner.clone(),
        session: args.into,
        ..RecordOptions::default()
    };
    let store = crate::db::open(global.db)?;
    let recording = crate::runtime()?.block_on(async move {
        let hub = Hub::default();
        let bridge = HubBridge::connect(&args.hub, &hub, global.json).await?;
        let options = RecordOptions {
            hub: bridge.is_some().then_some(hub),
            ..options
        };
        let recorder = Recorder::start(store, Source::Game(client), options).await?;
        let progress = (!global.json && std::io::stderr().is_terminal())
            .then(|| tokio::spawn(show_progress(recorder.watch_status())));
        eprintln!("purple-sector: recording from {game} (Ctrl-C to stop)");
        let recording = recorder.run_until(crate::signals::stopped()).await;
        if let Some(progress) = progress {
            progress.abort();
        }
        bridge.finish(global.json).await;
        anyhow::Ok(recording?)
    })?;
    report::recording(&recording.summary, global.json)
}

/// The live status line on stderr (a terminal only).
async fn show_progress(mut status: watch::Receiver<RecorderStatus>) {
    let bar = indicatif::ProgressBar::new_spinner();
    bar.enable_steady_tick(Duration::from_millis(200));
    let mut last = (std::time::Instant::now(), 0u64);
    while status.changed().await.is_ok() {
        let s = *status.borrow();
        let elapsed = last.0.elapsed().as_secs_f64();
        let rate = if elapsed > 0.0 {
            (s.client.received.saturating_sub(last.1)) as f64 / elapsed
        } else {
            0.0
        };
        last = (std::time::Instant::now(), s.client.received);
        bar.set_message(format!(
            "lap {} {}  last {}  best {}  {:.0} pkt/s  dropped {}  malformed {}",
            s.lap.lap,
            tables::lap_time(Some(s.lap.lap_time_ms)),
            tables::lap_time((s.lap.last_lap_ms > 0).then_some(s.lap.last_lap_ms)),
            tables::lap_time((s.lap.best_lap_ms > 0).then_some(s.lap.best_lap_ms)),
            rate,
            s.client.dropped,
            s.client.malformed,
        ));
    }
    bar.finish_and_clear();
}
