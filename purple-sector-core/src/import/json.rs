//! JSON: our export (read as a stream, one lap in memory at a time), or the original app's
//! demo file.

use std::fmt;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::{ImportError, ImportOptions, Inputs, Location, SessionMeta, Skipped, keep_frame};
use crate::export::{JSON_FORMAT, JSON_VERSION};
use crate::lap::Lap;
use crate::record::Input;
use crate::store::{LapRecord, Session};
use crate::telemetry::Frame;

/// How much of the file is looked at to tell our export from the original's file.
const PEEK_BYTES: usize = 4_096;

/// The inputs of a JSON file: ours streamed, the original's read whole.
pub(super) fn inputs(
    path: &Path,
    options: &ImportOptions,
    skipped: &Skipped,
) -> Result<(SessionMeta, Inputs), ImportError> {
    let io = super::io_error(path);
    let mut head = Vec::with_capacity(PEEK_BYTES);
    File::open(path)
        .map_err(&io)?
        .take(PEEK_BYTES as u64)
        .read_to_end(&mut head)
        .map_err(&io)?;
    let compact: Vec<u8> = head
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    let marker = format!(r#""format":"{JSON_FORMAT}""#);
    if !compact
        .windows(marker.len())
        .any(|w| w == marker.as_bytes())
    {
        let text = std::fs::read_to_string(path).map_err(&io)?;
        let (meta, inputs) = super::original::demo_inputs(path, &text, options, skipped)?;
        return Ok((meta, Box::new(inputs.into_iter().map(Ok))));
    }
    let reader = BufReader::with_capacity(1 << 20, File::open(path).map_err(&io)?);
    let (tx, rx) = sync_channel::<Item>(2);
    let (path_owned, options, skipped) = (path.to_owned(), options.clone(), skipped.clone());
    std::thread::spawn(move || parse(reader, &path_owned, &options, &skipped, &tx));
    let mut stream = Stream { rx, pending: None };
    // Our writer puts the session first; a file that does not says nothing of it.
    let meta = match stream.rx.recv() {
        Ok(Item::Session(session)) => SessionMeta {
            name: session.name,
            track: session.track,
            track_config: session.track_config,
            car: session.car,
            driver: session.driver,
        },
        Ok(Item::Error(e)) => return Err(e),
        Ok(item) => {
            stream.pending = Some(item);
            SessionMeta::default()
        }
        Err(_) => SessionMeta::default(),
    };
    Ok((meta, Box::new(stream)))
}

/// What the parsing thread hands over.
enum Item {
    Session(Session),
    Lap(Lap),
    Error(ImportError),
}

/// The laps as the parsing thread reads them.
struct Stream {
    rx: Receiver<Item>,
    pending: Option<Item>,
}

impl Iterator for Stream {
    type Item = Result<Input, ImportError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let item = match self.pending.take() {
                Some(item) => item,
                None => self.rx.recv().ok()?,
            };
            match item {
                Item::Lap(lap) => return Some(Ok(Input::Lap(lap))),
                Item::Error(e) => return Some(Err(e)),
                Item::Session(_) => {}
            }
        }
    }
}

/// One lap of our export.
#[derive(Deserialize)]
struct ExportLap {
    lap: LapRecord,
    frames: Vec<Frame>,
}

/// Reads the document, sending the session and each lap as they come.
fn parse(
    reader: impl Read,
    path: &Path,
    options: &ImportOptions,
    skipped: &Skipped,
    tx: &SyncSender<Item>,
) {
    let mut failure = None;
    let doc = Doc {
        tx,
        path,
        options,
        skipped,
        failure: &mut failure,
    };
    let mut de = serde_json::Deserializer::from_reader(reader);
    let result = doc.deserialize(&mut de).and_then(|()| de.end());
    let error = match (failure, result) {
        (Some(e), _) => Some(e),
        (None, Err(e)) => Some(ImportError::Json {
            path: path.to_owned(),
            line: e.line(),
            column: e.column(),
            message: super::json_message(&e),
        }),
        (None, Ok(())) => None,
    };
    if let Some(e) = error {
        let _ = tx.send(Item::Error(e));
    }
}

struct Doc<'a> {
    tx: &'a SyncSender<Item>,
    path: &'a Path,
    options: &'a ImportOptions,
    skipped: &'a Skipped,
    failure: &'a mut Option<ImportError>,
}

impl<'de> DeserializeSeed<'de> for Doc<'_> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Doc<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "our JSON export")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "format" => {
                    let format: String = map.next_value()?;
                    if format != JSON_FORMAT {
                        return Err(de::Error::custom(format!(
                            "format {format:?} is not {JSON_FORMAT:?}"
                        )));
                    }
                }
                "version" => {
                    let version: u32 = map.next_value()?;
                    if version > JSON_VERSION {
                        return Err(de::Error::custom(format!(
                            "version {version} is newer than this build reads ({JSON_VERSION})"
                        )));
                    }
                }
                "session" => {
                    let session: Session = map.next_value()?;
                    let _ = self.tx.send(Item::Session(session));
                }
                "laps" => map.next_value_seed(Laps {
                    tx: self.tx,
                    path: self.path,
                    options: self.options,
                    skipped: self.skipped,
                    failure: &mut *self.failure,
                })?,
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

struct Laps<'a> {
    tx: &'a SyncSender<Item>,
    path: &'a Path,
    options: &'a ImportOptions,
    skipped: &'a Skipped,
    failure: &'a mut Option<ImportError>,
}

impl<'de> DeserializeSeed<'de> for Laps<'_> {
    type Value = ();

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Laps<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a list of laps, each {{\"lap\": …, \"frames\": […]}}")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut index = 0;
        while let Some(ExportLap { lap, frames }) = seq.next_element::<ExportLap>()? {
            index += 1;
            let mut kept = Vec::with_capacity(frames.len());
            for (k, frame) in frames.into_iter().enumerate() {
                let at = Location::Frame {
                    lap: index,
                    frame: k + 1,
                };
                match keep_frame(&frame, self.path, at, self.options, self.skipped) {
                    Ok(true) => kept.push(frame),
                    Ok(false) => {}
                    Err(e) => {
                        *self.failure = Some(e);
                        return Err(de::Error::custom("impossible value"));
                    }
                }
            }
            let lap = Lap {
                stint: lap.stint,
                number: lap.number,
                kind: lap.kind,
                invalid_reason: lap.invalid_reason,
                time: lap.time,
                frames: kept,
            };
            if self.tx.send(Item::Lap(lap)).is_err() {
                // The importer stopped listening (it failed): stop reading.
                return Err(de::Error::custom("import stopped"));
            }
        }
        Ok(())
    }
}
