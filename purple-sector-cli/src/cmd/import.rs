//! `purple-sector import FILE…`: captures, logger TSV laps and the original's demo JSON.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use purple_sector_core::import::{
    ImportError, ImportFormat, capture_inputs, demo_json_inputs, detect_file, logger_input,
};
use purple_sector_core::protocol::GAME_PORT;
use purple_sector_core::record::{Input, import_inputs};
use purple_sector_core::store::{NewSession, SessionSource};

use crate::{Global, Outcome, report};

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// Files to import into one new session (pcap/pcapng, logger .tsv, demo .json).
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// Name of the session (default: the first file's name).
    #[arg(long)]
    session: Option<String>,
    /// The game's UDP port in captures.
    #[arg(long, default_value_t = GAME_PORT)]
    port: u16,
}

pub fn run(args: &ImportArgs, global: Global<'_>) -> anyhow::Result<Outcome> {
    import_files(&args.files, args.session.clone(), args.port, global)
}

/// Imports `files` into one new session: everything or nothing.
pub fn import_files(
    files: &[PathBuf],
    session_name: Option<String>,
    port: u16,
    global: Global<'_>,
) -> anyhow::Result<Outcome> {
    // Check every file's format before anything is written.
    let formats = files
        .iter()
        .map(|f| detect_file(f))
        .collect::<Result<Vec<_>, _>>()?;
    let name = session_name.unwrap_or_else(|| {
        files
            .first()
            .and_then(|f| f.file_stem())
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default()
    });
    let mut session = NewSession::new(name, SessionSource::Import);

    // Logger and demo files are read whole (and so checked) up front; captures stream.
    let mut inputs: Vec<Box<dyn Iterator<Item = Result<Input, ImportError>>>> = Vec::new();
    let mut next_number = 1;
    for (file, format) in files.iter().zip(formats) {
        match format {
            ImportFormat::Capture => inputs.push(Box::new(capture_inputs(file, port)?)),
            ImportFormat::LoggerTsv => {
                let input = logger_input(file, next_number)?;
                if let Input::Lap(lap) = &input {
                    next_number = lap.number + 1;
                }
                inputs.push(Box::new(std::iter::once(Ok(input))));
            }
            ImportFormat::DemoJson => {
                let (car, track, laps) = demo_json_inputs(file)?;
                if session.car.is_empty() {
                    session.car = car;
                }
                if session.track.is_empty() {
                    session.track = track;
                }
                inputs.push(Box::new(laps.into_iter().map(Ok)));
            }
        }
    }

    let store = crate::db::open(global.db)?;
    let summary = crate::runtime()?
        .block_on(import_inputs(store, session, inputs.into_iter().flatten()))
        .context("import failed; nothing was kept")??;
    report::recording(&summary, global.json)
}
