//! `purple-sector export (LAP | --session ID) --format csv|json|pcap|ld -o PATH [--force]`.

use std::path::PathBuf;

use anyhow::bail;
use clap::{Args, ValueEnum};
use purple_sector_core::export::{ExportFormat, export};
use purple_sector_core::store::{LapId, SessionId, Store};

use crate::output::Output;
use crate::{Global, Outcome};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Format {
    /// One row per frame, snake_case headers with units (`import` reads it back).
    Csv,
    /// The laps with every field of every frame (`import` reads it back).
    Json,
    /// A capture of the game's datagrams, lap events included (opens in Wireshark;
    /// `inspect` and `import` read it).
    Pcap,
    /// A MoTeC i2 log (`.ld`) with its `.ldx` lap beacons (`import` reads it back).
    Ld,
}

impl From<Format> for ExportFormat {
    fn from(format: Format) -> Self {
        match format {
            Format::Csv => Self::Csv,
            Format::Json => Self::Json,
            Format::Pcap => Self::Pcap,
            Format::Ld => Self::Ld,
        }
    }
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
    /// Overwrite the output file if it exists.
    #[arg(long)]
    force: bool,
}

pub fn run(args: &ExportArgs, global: Global<'_>) -> anyhow::Result<Outcome> {
    let store = crate::db::open(global.db)?;
    crate::runtime()?.block_on(run_async(args, &*store, global.json))
}

async fn run_async(args: &ExportArgs, store: &dyn Store, json: bool) -> anyhow::Result<Outcome> {
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
    let summary = export(
        store,
        &session,
        &laps,
        args.format.into(),
        &args.output,
        args.force,
    )
    .await?;
    if json {
        let mut out = Output::stdout();
        out.json("export", &summary)?;
        out.flush()?;
    } else {
        let files: Vec<String> = summary
            .files
            .iter()
            .map(|f| f.display().to_string())
            .collect();
        eprintln!(
            "purple-sector: wrote {} laps, {} frames to {}",
            summary.laps,
            summary.frames,
            files.join(" and ")
        );
    }
    Ok(if summary.frames == 0 {
        Outcome::Nothing
    } else {
        Outcome::Done
    })
}
