//! `purple-sector export (LAP | --session ID) --format csv|json|pcap -o PATH`.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::{Args, ValueEnum};
use purple_sector_core::capture::SessionCapture;
use purple_sector_core::store::{LapId, LapRecord, Session, SessionId, Store};
use purple_sector_core::telemetry::Frame;

use crate::{Global, Outcome};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    /// One row per frame, snake_case headers with units.
    Csv,
    /// The laps with every field of every frame.
    Json,
    /// A capture of the game's datagrams (opens in Wireshark; `inspect` and `import` read it).
    Pcap,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The lap to export.
    #[arg(required_unless_present = "session", conflicts_with = "session")]
    lap: Option<LapId>,
    /// Export every lap of this session instead.
    #[arg(long)]
    session: Option<SessionId>,
    /// Output format.
    #[arg(long, value_enum)]
    format: Format,
    /// Output file.
    #[arg(short, long)]
    output: PathBuf,
}

pub fn run(args: &ExportArgs, global: Global<'_>) -> anyhow::Result<Outcome> {
    let store = crate::db::open(global.db)?;
    crate::runtime()?.block_on(export(args, &*store))
}

async fn export(args: &ExportArgs, store: &dyn Store) -> anyhow::Result<Outcome> {
    let (session, laps) = match (args.lap, args.session) {
        (Some(id), _) => {
            let lap = store.get_lap(id).await?;
            (store.get_session(lap.session).await?, vec![lap])
        }
        (None, Some(id)) => (
            store.get_session(id).await?,
            store.list_laps(Some(id)).await?,
        ),
        (None, None) => bail!("give a lap id or --session"),
    };
    let mut loaded = Vec::with_capacity(laps.len());
    for lap in laps {
        let frames = store.lap_frames(lap.id).await?;
        loaded.push((lap, frames));
    }
    let path = &args.output;
    let result = match args.format {
        Format::Csv => write_csv(path, &loaded),
        Format::Json => write_json(path, &session, &loaded),
        Format::Pcap => write_pcap(path, &session, &loaded),
    };
    result.with_context(|| format!("cannot write {}", path.display()))?;
    let frames: usize = loaded.iter().map(|(_, f)| f.len()).sum();
    eprintln!(
        "purple-sector: wrote {} laps, {frames} frames to {}",
        loaded.len(),
        path.display()
    );
    Ok(if frames == 0 {
        Outcome::Nothing
    } else {
        Outcome::Done
    })
}

/// Distance along the lap, m: the x/z path when the game sent coordinates, else speed × time.
fn lap_distance_m(frames: &[Frame]) -> Vec<f64> {
    let has_path = frames.iter().any(|f| f.world_m != [0.0; 3]);
    let mut out = Vec::with_capacity(frames.len());
    let mut total = 0.0f64;
    for (k, f) in frames.iter().enumerate() {
        if let Some(p) = k.checked_sub(1).and_then(|j| frames.get(j)) {
            total += if has_path {
                let dx = f64::from(f.world_m[0]) - f64::from(p.world_m[0]);
                let dz = f64::from(f.world_m[2]) - f64::from(p.world_m[2]);
                dx.hypot(dz)
            } else {
                let dt_s = f64::from(f.lap_time_ms.saturating_sub(p.lap_time_ms).max(0)) / 1000.0;
                (f64::from(f.speed_ms) + f64::from(p.speed_ms)) / 2.0 * dt_s
            };
        }
        out.push(total);
    }
    out
}

const CSV_HEADER: &str = "lap,time_ns,lap_time_ms,lap_distance_m,lap_pos,speed_kmh,gas,brake,clutch,steer_deg,gear,engine_rpm,g_lateral,g_longitudinal,g_vertical,x_m,y_m,z_m,in_pit,abs_in_action,tc_in_action";

fn write_csv(path: &Path, laps: &[(LapRecord, Vec<Frame>)]) -> anyhow::Result<()> {
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    writeln!(out, "{CSV_HEADER}")?;
    for (lap, frames) in laps {
        for (f, d) in frames.iter().zip(lap_distance_m(frames)) {
            writeln!(
                out,
                "{},{},{},{:.3},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}",
                lap.number,
                f.time_ns,
                f.lap_time_ms,
                d,
                f.position_normalized,
                f.speed_kmh,
                f.gas,
                f.brake,
                f.clutch,
                f.steer_deg,
                f.gear,
                f.engine_rpm,
                f.g_lateral,
                f.g_longitudinal,
                f.g_vertical,
                f.world_m[0],
                f.world_m[1],
                f.world_m[2],
                u8::from(f.flags.in_pit),
                u8::from(f.flags.abs_in_action),
                u8::from(f.flags.tc_in_action),
            )?;
        }
    }
    out.flush()?;
    Ok(())
}

fn write_json(
    path: &Path,
    session: &Session,
    laps: &[(LapRecord, Vec<Frame>)],
) -> anyhow::Result<()> {
    #[derive(serde::Serialize)]
    struct LapOut<'a> {
        #[serde(flatten)]
        lap: &'a LapRecord,
        frames: &'a [Frame],
    }
    let laps: Vec<LapOut<'_>> = laps
        .iter()
        .map(|(lap, frames)| LapOut { lap, frames })
        .collect();
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    serde_json::to_writer(
        &mut out,
        &serde_json::json!({ "session": session, "laps": laps }),
    )?;
    out.flush()?;
    Ok(())
}

fn write_pcap(
    path: &Path,
    session: &Session,
    laps: &[(LapRecord, Vec<Frame>)],
) -> anyhow::Result<()> {
    let file = std::io::BufWriter::new(std::fs::File::create(path)?);
    let mut capture = SessionCapture::new(file, session)?;
    for (_, frames) in laps {
        capture.write_lap(frames)?;
    }
    capture.finish()?.flush()?;
    Ok(())
}
