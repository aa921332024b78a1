//! `purple-sector import FILE…`: captures, our CSV/JSON/MoTeC exports, other tools' MoTeC
//! logs, the logger's TSV laps and the original's demo JSON, into one new session.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use purple_sector_core::import::{FileImport, ImportOptions, SessionMeta, open_file};
use purple_sector_core::protocol::GAME_PORT;
use purple_sector_core::record::import_inputs;
use purple_sector_core::store::{NewSession, SessionSource};
use serde::Serialize;

use crate::output::Output;
use crate::{Global, Outcome, report};

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// Files to import into one new session: pcap/pcapng, our .csv/.json/.ld exports, MoTeC
    /// .ld logs, logger .tsv laps, the original app's demo .json.
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// Name of the session (default: what the first file says, else its name).
    #[arg(long)]
    session: Option<String>,
    /// The track (overrides what the files say).
    #[arg(long)]
    track: Option<String>,
    /// The track layout (overrides what the files say).
    #[arg(long)]
    track_config: Option<String>,
    /// The car (overrides what the files say).
    #[arg(long)]
    car: Option<String>,
    /// The driver (overrides what the files say).
    #[arg(long)]
    driver: Option<String>,
    /// Skip (and count) frames with impossible values instead of refusing the file.
    #[arg(long)]
    lenient: bool,
    /// The game's UDP port in captures.
    #[arg(long, default_value_t = GAME_PORT)]
    port: u16,
}

impl ImportArgs {
    /// The flags' metadata, empty where none is given.
    fn meta(&self) -> SessionMeta {
        SessionMeta {
            name: self.session.clone().unwrap_or_default(),
            track: self.track.clone().unwrap_or_default(),
            track_config: self.track_config.clone().unwrap_or_default(),
            car: self.car.clone().unwrap_or_default(),
            driver: self.driver.clone().unwrap_or_default(),
        }
    }
}

pub fn run(args: &ImportArgs, global: Global<'_>) -> anyhow::Result<Outcome> {
    let options = ImportOptions {
        game_port: args.port,
        lenient: args.lenient,
        ..ImportOptions::default()
    };
    import_files(&args.files, args.meta(), &options, global)
}

/// `{"type":"skipped","data":{…}}`: frames a lenient import left out.
#[derive(Serialize)]
struct SkippedLine<'a> {
    frames: u64,
    first: Option<&'a str>,
}

/// Imports `files` into one new session: everything or nothing. `given` overrides what the
/// files say of the session.
pub fn import_files(
    files: &[PathBuf],
    given: SessionMeta,
    options: &ImportOptions,
    global: Global<'_>,
) -> anyhow::Result<Outcome> {
    // Open (and so check the format of) every file before anything is written.
    let mut opened: Vec<FileImport> = Vec::with_capacity(files.len());
    for (k, file) in files.iter().enumerate() {
        let options = ImportOptions {
            default_lap_number: i32::try_from(k + 1).unwrap_or(i32::MAX),
            ..options.clone()
        };
        opened.push(open_file(file, &options)?);
    }
    let mut meta = given;
    for file in &opened {
        meta = meta.or(&file.meta);
    }
    if meta.name.is_empty() {
        meta.name = files
            .first()
            .and_then(|f| f.file_stem())
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
    }
    let session = NewSession {
        car: meta.car,
        driver: meta.driver,
        track: meta.track,
        track_config: meta.track_config,
        ..NewSession::new(meta.name, SessionSource::Import)
    };
    let skipped: Vec<_> = opened.iter().map(|f| f.skipped.clone()).collect();
    let inputs = opened.into_iter().flat_map(|f| f.inputs);

    let store = crate::db::open(global.db)?;
    let summary = crate::runtime()?
        .block_on(import_inputs(store, session, inputs))
        .context("import failed; nothing was kept")??;
    let frames: u64 = skipped.iter().map(|s| s.count()).sum();
    if frames > 0 {
        let first = skipped.iter().find_map(|s| s.first());
        if global.json {
            let mut out = Output::stdout();
            out.json("skipped", &SkippedLine { frames, first })?;
            out.flush()?;
        } else {
            eprintln!(
                "purple-sector: skipped {frames} frames with impossible values (first: {})",
                first.unwrap_or("?")
            );
        }
    }
    report::recording(&summary, global.json)
}
