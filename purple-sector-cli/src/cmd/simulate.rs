//! `purple-sector simulate`: the built-in game on a UDP port, for any AC client.

use std::net::SocketAddr;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use purple_sector_core::sim::{
    Car, GameServer, SimConfig, Simulator, play, simulator_schedule, track_map,
};

use crate::args::{SessionArgs, check_speed, sim_map};
use crate::output::Output;
use crate::{Global, Outcome, report};

#[derive(Debug, Args)]
pub struct SimulateArgs {
    /// Address to serve on, as the game does.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:9996")]
    bind: SocketAddr,
    #[command(flatten)]
    session: SessionArgs,
    /// Speed of time: 2 runs the session twice as fast (333 Hz × speed packets per second).
    #[arg(long, default_value_t = 1.0)]
    speed: f64,
    /// Sessions to run, silent in between (as the game is in its menus).
    #[arg(long, default_value_t = 1)]
    runs: u32,
    /// Seconds of silence between runs (longer than a client's silence timeout).
    #[arg(long, value_name = "SECS", default_value_t = 6.0)]
    pause: f64,
}

pub fn run(args: &SimulateArgs, global: Global<'_>) -> anyhow::Result<Outcome> {
    check_speed(args.speed)?;
    let pause = Duration::try_from_secs_f64(args.pause).context("--pause must be ≥ 0")?;
    let track = args.session.track()?;
    // The coach's map of the track when there is a database (its recorder will use it);
    // else the simulator's own, nothing created.
    let store = crate::db::open_existing(global.db)?;
    crate::runtime()?.block_on(async {
        let map = match &store {
            Some(store) => sim_map(&**store, &track).await?,
            None => track_map(&track, &Car::default())
                .with_context(|| format!("cannot map track {}", track.name()))?,
        };
        let first = args.session.config(track, map.clone(), false)?;
        let mut shutdown = crate::signals::stop_flag();
        let server = GameServer::bind(
            args.bind,
            Simulator::new(first.clone()).handshake_response(),
        )
        .await
        .with_context(|| format!("cannot serve on {}", args.bind))?;
        let mut out = Output::stdout();
        eprintln!(
            "purple-sector: simulating {} on {} at {}×; waiting for a client",
            first.track.name(),
            server.local_addr()?,
            args.speed
        );
        for run in 0..args.runs {
            if run > 0 {
                // The game in its menus: no subscribers, no data.
                server.drop_subscribers();
                tokio::select! {
                    _ = shutdown.wait_for(|s| *s) => break,
                    () = tokio::time::sleep(pause) => {}
                }
            }
            if !server.wait_for_subscriber(&mut shutdown).await {
                break;
            }
            let mut sim = Simulator::new(SimConfig {
                seed: first.seed.wrapping_add(u64::from(run)),
                ..first.clone()
            });
            let stats = play(
                &server,
                simulator_schedule(&mut sim),
                args.speed,
                &mut shutdown,
            )
            .await?;
            report::sim_laps(&mut out, sim.lap_reports(), &map, global.json)?;
            out.flush()?;
            if stats.stopped {
                break;
            }
        }
        server.drop_subscribers();
        Ok(Outcome::Done)
    })
}
