//! `purple-sector demo`: the built-in game recorded into the database, then a report.

use std::sync::Arc;

use clap::Args;
use purple_sector_core::live::Hub;
use purple_sector_core::record::{RecordOptions, Recorder, Source};
use purple_sector_core::store::{SessionSource, best_lap};

use crate::args::{HubArgs, SessionArgs, check_speed, sim_map};
use crate::hub::HubBridge;
use crate::output::Output;
use crate::{Global, Outcome, report, tables};

#[derive(Debug, Args)]
pub struct DemoArgs {
    #[command(flatten)]
    session: SessionArgs,
    /// Speed of time (the demo's default plays a 7-minute session in about 20 s).
    #[arg(long, default_value_t = 25.0)]
    speed: f64,
    #[command(flatten)]
    hub: HubArgs,
}

pub fn run(args: &DemoArgs, global: Global<'_>) -> anyhow::Result<Outcome> {
    check_speed(args.speed)?;
    let track = args.session.track()?;
    let store = crate::db::open(global.db)?;
    let runtime = crate::runtime()?;
    let map = runtime.block_on(sim_map(&*store, &track))?;
    let config = args.session.config(track, map.clone(), true)?;
    if !global.json {
        eprintln!(
            "purple-sector: demo — the built-in game drives {} flying laps of {} at {}×, recorded into {}",
            config.laps,
            config.track.name(),
            args.speed,
            crate::db::describe(global.db)
        );
    }
    let options = RecordOptions {
        session_name: Some(format!("Demo — {}", config.track.name())),
        source: SessionSource::Demo,
        ..RecordOptions::default()
    };
    let source = Source::Simulator {
        config,
        speed: args.speed,
    };
    let recording = runtime.block_on(async {
        let hub = Hub::default();
        let bridge = HubBridge::connect(&args.hub, &hub, global.json).await?;
        let options = RecordOptions {
            hub: bridge.is_some().then_some(hub),
            ..options
        };
        let recorder = Recorder::start(Arc::clone(&store), source, options).await?;
        let recording = recorder.run_until(crate::signals::stopped()).await;
        bridge.finish(global.json).await;
        anyhow::Ok(recording?)
    })?;
    let summary = &recording.summary;
    let outcome = report::recording(summary, global.json)?;
    let mut out = Output::stdout();
    if !global.json {
        if let Some(best) = best_lap(&summary.laps) {
            out.line(format_args!(
                "best lap: lap {} in {}",
                best.number,
                tables::lap_time(best.time_ms())
            ))?;
        }
        out.line(format_args!("what the simulator did:"))?;
    }
    report::sim_laps(&mut out, &recording.sim_laps, &map, global.json)?;
    runtime.block_on(report::demo_coaching(
        &store,
        &summary.laps,
        &mut out,
        global.json,
    ))?;
    out.flush()?;
    Ok(outcome)
}
