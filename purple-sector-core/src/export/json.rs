//! JSON: the session and its laps with every field of every frame, written as it is read
//! from the store (one lap in memory at a time); what `import` reads back.
//!
//! `{"format": "purple-sector", "version": 1, "session": {…}, "laps": [{"lap": {…},
//! "frames": [{…}, …]}, …]}` — `session` is a [`Session`], `lap` a [`LapRecord`], each frame
//! a [`Frame`] with its fields under their Rust names.

use std::io::Write;

use super::{ExportError, LapWriter};
use crate::store::{LapRecord, Session};
use crate::telemetry::Frame;

/// The `format` field of our JSON exports.
pub const JSON_FORMAT: &str = "purple-sector";
/// The `version` field of our JSON exports.
pub const JSON_VERSION: u32 = 1;

/// Writes laps as one JSON document, streamed.
#[derive(Debug)]
pub struct JsonWriter<W: Write> {
    out: W,
    laps: usize,
}

impl<W: Write> JsonWriter<W> {
    /// A JSON export of `session` on `out`; writes the opening and the session.
    pub fn new(mut out: W, session: &Session) -> Result<Self, ExportError> {
        write!(
            out,
            r#"{{"format":"{JSON_FORMAT}","version":{JSON_VERSION},"session":"#
        )?;
        serde_json::to_writer(&mut out, session).map_err(ExportError::json)?;
        out.write_all(br#","laps":["#)?;
        Ok(Self { out, laps: 0 })
    }
}

impl<W: Write> LapWriter for JsonWriter<W> {
    fn write_lap(&mut self, lap: &LapRecord, frames: &[Frame]) -> Result<(), ExportError> {
        if self.laps > 0 {
            self.out.write_all(b",")?;
        }
        self.laps += 1;
        self.out.write_all(br#"{"lap":"#)?;
        serde_json::to_writer(&mut self.out, lap).map_err(ExportError::json)?;
        self.out.write_all(br#","frames":["#)?;
        for (k, frame) in frames.iter().enumerate() {
            if k > 0 {
                self.out.write_all(b",")?;
            }
            serde_json::to_writer(&mut self.out, frame).map_err(ExportError::json)?;
        }
        self.out.write_all(b"]}")?;
        Ok(())
    }

    fn finish(&mut self) -> Result<(), ExportError> {
        self.out.write_all(b"]}\n")?;
        self.out.flush()?;
        Ok(())
    }
}
