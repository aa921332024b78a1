//! Writing results: JSON Lines with the `{"type", "data"}` envelope, or text lines.

use std::io::{self, BufWriter, StdoutLock, Write};

use serde::Serialize;

/// Buffered stdout for results.
pub struct Output {
    out: BufWriter<StdoutLock<'static>>,
}

#[derive(Serialize)]
struct Envelope<'a, T: Serialize> {
    #[serde(rename = "type")]
    kind: &'a str,
    data: &'a T,
}

impl Output {
    pub fn stdout() -> Self {
        Self {
            out: BufWriter::with_capacity(1 << 16, io::stdout().lock()),
        }
    }

    /// One JSON line: `{"type": kind, "data": data}`.
    pub fn json<T: Serialize>(&mut self, kind: &str, data: &T) -> io::Result<()> {
        serde_json::to_writer(&mut self.out, &Envelope { kind, data })?;
        self.out.write_all(b"\n")
    }

    /// One text line.
    pub fn line(&mut self, text: std::fmt::Arguments<'_>) -> io::Result<()> {
        self.out.write_fmt(text)?;
        self.out.write_all(b"\n")
    }

    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}
