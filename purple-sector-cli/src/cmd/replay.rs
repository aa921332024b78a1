//! `purple-sector replay CAPTURE`: serve a recorded capture to any AC client as the game.

use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::Args;
use purple_sector_core::capture::CaptureReader;
use purple_sector_core::protocol::GAME_PORT;
use purple_sector_core::sim::{GameServer, capture_schedule, play};

use crate::output::Output;
use crate::{Global, Outcome};

#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// The capture to serve (pcap or pcapng).
    capture: PathBuf,
    /// Address to serve on, as the game would.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:9996")]
    as_game: SocketAddr,
    /// Time scale: 2 plays twice as fast.
    #[arg(long, default_value_t = 1.0)]
    speed: f64,
    /// Start again at the end, until stopped.
    #[arg(long = "loop")]
    repeat: bool,
    /// Instead of serving it, import the capture into the database (same as `import`).
    #[arg(long)]
    import: bool,
    /// The game's UDP port in the capture.
    #[arg(long, default_value_t = GAME_PORT)]
    port: u16,
}

pub fn run(args: &ReplayArgs, global: Global<'_>) -> anyhow::Result<Outcome> {
    if args.import {
        let options = purple_sector_core::import::ImportOptions {
            game_port: args.port,
            ..Default::default()
        };
        return super::import::import_files(
            std::slice::from_ref(&args.capture),
            Default::default(),
            &options,
            global,
        );
    }
    if !(args.speed.is_finite() && args.speed > 0.0) {
        bail!("--speed must be a positive number, got {}", args.speed);
    }
    let file = std::fs::File::open(&args.capture)
        .with_context(|| format!("cannot read {}", args.capture.display()))?;
    let reader = CaptureReader::new(std::io::BufReader::new(file))
        .with_context(|| format!("cannot read {}", args.capture.display()))?
        .with_game_port(args.port);
    let datagrams = reader
        .into_owned_vec()
        .with_context(|| format!("cannot read {}", args.capture.display()))?;
    let (hello, schedule) = capture_schedule(&datagrams);
    let Some(hello) = hello else {
        bail!(
            "{}: no handshake response from the game in this capture (start the capture before the client connects)",
            args.capture.display()
        );
    };
    if schedule.is_empty() {
        bail!(
            "{}: the game sent nothing to replay",
            args.capture.display()
        );
    }

    let runtime = crate::runtime()?;
    runtime.block_on(async {
        let server = GameServer::bind(args.as_game, hello)
            .await
            .with_context(|| format!("cannot serve on {}", args.as_game))?;
        let mut shutdown = crate::signals::stop_flag();
        eprintln!(
            "purple-sector: serving {} datagrams of {} as the game on {}; waiting for a client",
            schedule.len(),
            args.capture.display(),
            server.local_addr()?
        );
        let mut out = Output::stdout();
        loop {
            // Like the game, stream only once someone subscribed.
            if !server.wait_for_subscriber(&mut shutdown).await {
                return Ok(Outcome::Done);
            }
            let stats = play(&server, schedule.iter().cloned(), args.speed, &mut shutdown).await?;
            if global.json {
                out.json("replay", &stats)?;
            } else {
                out.line(format_args!(
                    "played {} datagrams at {}×, latest {:.3} ms behind schedule",
                    stats.played,
                    args.speed,
                    stats.max_late_us as f64 / 1000.0
                ))?;
            }
            out.flush()?;
            if stats.stopped || !args.repeat {
                return Ok(Outcome::Done);
            }
        }
    })
}
