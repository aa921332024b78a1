//! Exports: stored laps out as CSV, JSON, a pcap capture or a MoTeC i2 log, streamed one lap
//! at a time (memory stays that of one lap, whatever the session's size), each a format
//! `import` reads back.
//!
//! - [`CsvWriter`]: a row per frame, units in the headers ([`CSV_COLUMNS`]).
//! - [`JsonWriter`]: every field of every frame.
//! - [`crate::capture::SessionCapture`]: the game's traffic, lap events included.
//! - [`ld::export_ld`]: a MoTeC `.ld` with its `.ldx` lap beacons.
//!
//! [`export`] runs any of them over a store.

mod csv;
mod json;
pub mod ld;

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

#[cfg(test)]
pub(crate) use self::csv::ms_as_s;
pub use self::csv::{CSV_COLUMNS, CsvWriter, lap_distance_m};
pub use self::json::{JSON_FORMAT, JSON_VERSION, JsonWriter};
use crate::capture::{CaptureError, SessionCapture};
use crate::store::{LapRecord, Session, Store, StoreError};
use crate::telemetry::Frame;

/// The formats [`export`] writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ExportFormat {
    /// CSV, a row per frame.
    Csv,
    /// JSON, every field.
    Json,
    /// A pcap capture of the game's datagrams.
    Pcap,
    /// A MoTeC i2 `.ld` log and its `.ldx` sidecar.
    Ld,
}

/// Why an export failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExportError {
    /// The output exists and overwriting was not asked for.
    #[error("{} exists (give --force to overwrite it)", path.display())]
    Exists {
        /// The file.
        path: PathBuf,
    },
    /// The output cannot be created.
    #[error("cannot create {}", path.display())]
    Create {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// Writing failed.
    #[error("write failed")]
    Io(#[from] io::Error),
    /// A CSV record could not be written.
    #[error("CSV write failed")]
    Csv(#[source] ::csv::Error),
    /// A JSON value could not be written.
    #[error("JSON write failed")]
    Json(#[source] serde_json::Error),
    /// The capture could not be written.
    #[error("capture write failed")]
    Capture(#[from] CaptureError),
    /// The MoTeC log could not be written.
    #[error("MoTeC log write failed")]
    Ld(#[from] crate::motec::LdWriteError),
    /// The store failed.
    #[error("cannot read the laps")]
    Store(#[from] StoreError),
}

impl ExportError {
    pub(crate) fn csv(source: ::csv::Error) -> Self {
        Self::Csv(source)
    }

    pub(crate) fn json(source: serde_json::Error) -> Self {
        Self::Json(source)
    }
}

/// A writer of laps, one after the other.
pub trait LapWriter {
    /// Appends one lap with its frames.
    fn write_lap(&mut self, lap: &LapRecord, frames: &[Frame]) -> Result<(), ExportError>;
    /// Ends the output and flushes it.
    fn finish(&mut self) -> Result<(), ExportError>;
}

impl<W: Write> LapWriter for SessionCapture<W> {
    fn write_lap(&mut self, lap: &LapRecord, frames: &[Frame]) -> Result<(), ExportError> {
        Ok(SessionCapture::write_lap(self, lap, frames)?)
    }

    fn finish(&mut self) -> Result<(), ExportError> {
        Ok(self.flush()?)
    }
}

/// What an export wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ExportSummary {
    /// Laps written.
    pub laps: usize,
    /// Frames written.
    pub frames: u64,
    /// The files written (the `.ld` and its `.ldx` for MoTeC).
    pub files: Vec<PathBuf>,
}

/// Creates `path` for writing; refuses an existing file unless `overwrite`.
pub fn create(path: &Path, overwrite: bool) -> Result<BufWriter<File>, ExportError> {
    let file = if overwrite {
        File::create(path)
    } else {
        File::options().write(true).create_new(true).open(path)
    };
    let file = file.map_err(|source| match source.kind() {
        io::ErrorKind::AlreadyExists => ExportError::Exists {
            path: path.to_owned(),
        },
        _ => ExportError::Create {
            path: path.to_owned(),
            source,
        },
    })?;
    Ok(BufWriter::with_capacity(1 << 20, file))
}

/// Writes `laps` of `session` (in the order given) to `path` as `format`, loading one lap's
/// frames at a time.
pub async fn export(
    store: &dyn Store,
    session: &Session,
    laps: &[LapRecord],
    format: ExportFormat,
    path: &Path,
    overwrite: bool,
) -> Result<ExportSummary, ExportError> {
    let mut writer: Box<dyn LapWriter + Send> = match format {
        ExportFormat::Csv => Box::new(CsvWriter::new(create(path, overwrite)?, session)?),
        ExportFormat::Json => Box::new(JsonWriter::new(create(path, overwrite)?, session)?),
        ExportFormat::Pcap => Box::new(SessionCapture::new(create(path, overwrite)?, session)?),
        ExportFormat::Ld => return ld::export_ld(store, session, laps, path, overwrite).await,
    };
    let mut summary = ExportSummary {
        files: vec![path.to_owned()],
        ..ExportSummary::default()
    };
    for lap in laps {
        let frames = store.lap_frames(lap.id).await?;
        writer.write_lap(lap, &frames)?;
        summary.laps += 1;
        summary.frames += frames.len() as u64;
    }
    writer.finish()?;
    Ok(summary)
}
