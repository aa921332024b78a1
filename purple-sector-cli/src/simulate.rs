//! `purple-sector simulate` (the built-in game on a UDP port) and `purple-sector demo` (the
//! built-in game recorded into the database, then a report).

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Args;
use purple_sector_core::record::{RecordOptions, record_simulator};
use purple_sector_core::sim::{
    GameServer, LapReport, SimConfig, Simulator, Track, demo_mistakes, parse_mistakes, play,
    simulator_schedule,
};
use purple_sector_core::store::SessionSource;
use serde::Serialize;
use tokio::sync::watch;

use crate::Outcome;
use crate::output::Output;
use crate::tables;

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

/// What the simulated session is: where, how long, which mistakes.
#[derive(Debug, Clone, Args)]
pub struct SessionArgs {
    /// Track: imola, or test (a 1.3 km circuit for quick runs).
    #[arg(long, default_value = "imola")]
    track: String,
    /// Flying laps after the out lap.
    #[arg(long, default_value_t = 3)]
    laps: u32,
    /// Mistakes to make, e.g. `lap=3:corner=T4:early_braking=25,lap=4:corner=T2:late_throttle=40`
    /// (laps as the game counts them: 1 is the out lap). Kinds: early_braking (m),
    /// over_slowing (%), late_throttle (m), coasting (m).
    #[arg(long, value_name = "SPEC")]
    mistakes: Option<String>,
    /// Seed: the same seed gives the same session, byte for byte.
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

impl SessionArgs {
    fn config(&self, default_mistakes: bool) -> anyhow::Result<SimConfig> {
        let track = Track::by_name(&self.track).with_context(|| {
            format!(
                "unknown track {:?} (built in: {})",
                self.track,
                Track::names().join(", ")
            )
        })?;
        let mistakes = match &self.mistakes {
            Some(spec) => parse_mistakes(spec, &track).context("bad --mistakes")?,
            None if default_mistakes => demo_mistakes(&track, self.laps),
            None => Vec::new(),
        };
        Ok(SimConfig {
            laps: self.laps,
            seed: self.seed,
            mistakes,
            ..SimConfig::new(track)
        })
    }
}

fn check_speed(speed: f64) -> anyhow::Result<()> {
    if !(speed.is_finite() && speed > 0.0 && speed <= 1_000.0) {
        bail!("--speed must be in (0, 1000], got {speed}");
    }
    Ok(())
}

#[derive(Serialize)]
struct SimLapLine<'a> {
    lap: u32,
    out_lap: bool,
    time_ms: f64,
    reported_ms: i32,
    clean_time_ms: f64,
    mistakes: Vec<MistakeLine<'a>>,
}

#[derive(Serialize)]
struct MistakeLine<'a> {
    spec: String,
    corner: &'a str,
    kind: &'a str,
    amount: f64,
    applied: bool,
    cost_ms: f64,
}

fn lap_line(report: &LapReport) -> SimLapLine<'_> {
    SimLapLine {
        lap: report.lap,
        out_lap: report.out_lap,
        time_ms: report.time_ms,
        reported_ms: report.reported_ms,
        clean_time_ms: report.clean_time_ms,
        mistakes: report
            .mistakes
            .iter()
            .map(|m| MistakeLine {
                spec: m.mistake.to_string(),
                corner: &m.mistake.corner,
                kind: m.mistake.kind.as_str(),
                amount: m.mistake.amount,
                applied: m.applied,
                cost_ms: m.cost_ms,
            })
            .collect(),
    }
}

/// The simulator's own account of its laps: times, and what each mistake cost.
fn print_sim_laps(
    out: &mut Output,
    reports: &[LapReport],
    track: &Track,
    json: bool,
) -> std::io::Result<()> {
    for report in reports {
        if json {
            out.json("sim_lap", &lap_line(report))?;
            continue;
        }
        let kind = if report.out_lap { "out" } else { "flying" };
        out.line(format_args!(
            "  lap {:>2} {:<6} {:>10}",
            report.lap,
            kind,
            tables::lap_time(Some(report.reported_ms))
        ))?;
        for m in &report.mistakes {
            if m.applied {
                // The simulator names corners by curvature, the analysis by the speed trace:
                // the distance ties the two together.
                let at = track
                    .corner(&m.mistake.corner)
                    .map_or(String::new(), |c| format!(" (apex at {:.0} m)", c.apex_m));
                out.line(format_args!(
                    "         injected: {}{at} — cost {:.3} s",
                    m.mistake.describe(),
                    m.cost_ms / 1000.0
                ))?;
            }
        }
    }
    Ok(())
}

fn stop_on_signal() -> watch::Receiver<bool> {
    let (stop, shutdown) = watch::channel(false);
    tokio::spawn(async move {
        crate::signals::stopped().await;
        let _ = stop.send(true);
    });
    shutdown
}

async fn wait_for_subscriber(server: &GameServer, shutdown: &mut watch::Receiver<bool>) -> bool {
    while server.update_subscribers().is_empty() {
        tokio::select! {
            _ = shutdown.wait_for(|s| *s) => return false,
            _ = tokio::time::sleep(Duration::from_millis(10)) => {}
        }
    }
    true
}

pub fn simulate(args: &SimulateArgs, json: bool) -> anyhow::Result<Outcome> {
    check_speed(args.speed)?;
    let pause = Duration::try_from_secs_f64(args.pause).context("--pause must be ≥ 0")?;
    let first = args.session.config(false)?;
    crate::runtime()?.block_on(async {
        let mut shutdown = stop_on_signal();
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
                    _ = tokio::time::sleep(pause) => {}
                }
            }
            if !wait_for_subscriber(&server, &mut shutdown).await {
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
            print_sim_laps(&mut out, sim.lap_reports(), &first.track, json)?;
            out.flush()?;
            if stats.stopped {
                break;
            }
        }
        server.drop_subscribers();
        Ok(Outcome::Done)
    })
}

#[derive(Debug, Args)]
pub struct DemoArgs {
    #[command(flatten)]
    session: SessionArgs,
    /// Speed of time (the demo's default plays a 7-minute session in about 20 s).
    #[arg(long, default_value_t = 25.0)]
    speed: f64,
}

pub fn demo(args: &DemoArgs, db: Option<&Path>, json: bool) -> anyhow::Result<Outcome> {
    check_speed(args.speed)?;
    let config = args.session.config(true)?;
    let track = config.track.clone();
    let store = crate::db::open(db)?;
    if !json {
        eprintln!(
            "purple-sector: demo — the built-in game drives {} flying laps of {} at {}×, recorded into {}",
            config.laps,
            config.track.name(),
            args.speed,
            crate::db::path(db).display()
        );
    }
    let options = RecordOptions {
        session_name: Some(format!("Demo — {}", config.track.name())),
        source: SessionSource::Demo,
        ..RecordOptions::default()
    };
    let runtime = crate::runtime()?;
    let recording = runtime.block_on({
        let store = std::sync::Arc::clone(&store);
        async move {
            let shutdown = stop_on_signal();
            record_simulator(store, config, args.speed, options, shutdown).await
        }
    })?;
    let summary = &recording.summary;
    let outcome = crate::record::report(summary, json)?;
    let mut out = Output::stdout();
    if !json {
        if let Some(best) = summary
            .laps
            .iter()
            .filter(|l| l.valid && l.official_time_ms.is_some())
            .min_by_key(|l| l.official_time_ms)
        {
            out.line(format_args!(
                "best lap: lap {} in {}",
                best.number,
                tables::lap_time(best.official_time_ms)
            ))?;
        }
        out.line(format_args!("what the simulator did:"))?;
    }
    print_sim_laps(&mut out, &recording.sim_laps, &track, json)?;
    runtime.block_on(crate::coach::demo_report(
        &*store,
        &summary.laps,
        &mut out,
        json,
    ))?;
    out.flush()?;
    Ok(outcome)
}
