//! `purple-sector record --ac HOST[:PORT]`: laps from a running game into the database.

use std::io::IsTerminal;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use purple_sector_core::net::{ClientConfig, GAME_PORT};
use purple_sector_core::record::{LiveStatus, RecordOptions, RecordSummary, record_live};
use purple_sector_core::store::SessionSource;
use tokio::sync::watch;

use crate::Outcome;
use crate::output::Output;
use crate::tables;

#[derive(Debug, Args)]
pub struct RecordArgs {
    /// The game: HOST or HOST:PORT (port 9996 when omitted).
    #[arg(long, value_name = "HOST[:PORT]")]
    ac: String,
    /// Name of the session (default: the track's name).
    #[arg(long)]
    session: Option<String>,
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
}

/// `HOST`, `HOST:PORT`, `[v6]:PORT` → the game's address.
pub fn game_address(text: &str) -> anyhow::Result<SocketAddr> {
    let with_port = if text.parse::<std::net::IpAddr>().is_ok() || !text.contains(':') {
        if text.contains(':') {
            format!("[{text}]:{GAME_PORT}")
        } else {
            format!("{text}:{GAME_PORT}")
        }
    } else {
        text.to_owned()
    };
    with_port
        .to_socket_addrs()
        .with_context(|| format!("cannot resolve the game address {text:?}"))?
        .next()
        .with_context(|| format!("no address for {text:?}"))
}

fn seconds(value: f64, what: &str) -> anyhow::Result<Duration> {
    Duration::try_from_secs_f64(value).with_context(|| format!("{what} must be ≥ 0 seconds"))
}

pub fn run(args: &RecordArgs, db: Option<&Path>, json: bool) -> anyhow::Result<Outcome> {
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
        ..RecordOptions::default()
    };
    let store = crate::db::open(db)?;
    let runtime = crate::runtime()?;
    let summary = runtime.block_on(async move {
        let (stop, shutdown) = watch::channel(false);
        tokio::spawn(async move {
            crate::signals::stopped().await;
            let _ = stop.send(true);
        });
        let (status_tx, status_rx) = watch::channel(LiveStatus::default());
        let progress = (!json && std::io::stderr().is_terminal())
            .then(|| tokio::spawn(show_progress(status_rx)));
        eprintln!("purple-sector: recording from {game} (Ctrl-C to stop)");
        let summary = record_live(store, client, options, shutdown, Some(status_tx)).await;
        if let Some(progress) = progress {
            progress.abort();
        }
        summary
    })?;
    report(&summary, json)
}

/// The live status line on stderr (a terminal only).
async fn show_progress(mut status: watch::Receiver<LiveStatus>) {
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
            s.lap,
            tables::lap_time(Some(s.lap_time_ms)),
            tables::lap_time((s.last_lap_ms > 0).then_some(s.last_lap_ms)),
            tables::lap_time((s.best_lap_ms > 0).then_some(s.best_lap_ms)),
            rate,
            s.client.dropped,
            s.client.malformed,
        ));
    }
    bar.finish_and_clear();
}

/// The session and its laps, as a table or JSON Lines.
pub fn report(summary: &RecordSummary, json: bool) -> anyhow::Result<Outcome> {
    let mut out = Output::stdout();
    let Some(session) = &summary.session else {
        if json {
            out.json("summary", summary)?;
        } else {
            out.line(format_args!("nothing recorded: the game never answered"))?;
        }
        out.flush()?;
        return Ok(Outcome::Nothing);
    };
    if json {
        out.json(
            "session",
            &tables::SessionLine::new(session, summary.laps.len()),
        )?;
        for lap in &summary.laps {
            out.json("lap", &tables::LapLine::new(lap, Some(session)))?;
        }
        out.json("summary", summary)?;
    } else {
        tables::session_header(&mut out, session)?;
        tables::lap_table(&mut out, &summary.laps)?;
        out.line(format_args!(
            "{} frames, {} laps, {} malformed, {} dropped",
            summary.pipeline.frames,
            summary.laps.len(),
            summary.pipeline.malformed,
            summary.client.dropped
        ))?;
    }
    out.flush()?;
    Ok(Outcome::Done)
}
