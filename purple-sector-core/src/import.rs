//! Sources for imports: captures, the third-party logger's TSV laps, and the original app's
//! demo JSON, all turned into [`record::Input`](crate::record::Input)s for the same pipeline a
//! live recording uses.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::capture::{CaptureError, CaptureReader, Direction};
use crate::lap::{Lap, LapKind, LapTime, MAX_START_CLOCK_MS, line_to_line_time_ms};
use crate::logger::{LoggerError, LoggerLap};
use crate::record::Input;
use crate::telemetry::Frame;

/// Formats [`detect`] recognises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ImportFormat {
    /// pcap or pcapng.
    Capture,
    /// The third-party logger's tab-separated lap (`lapTime speed_Mph gas …`).
    LoggerTsv,
    /// The original app's demo JSON (`{"track","car","laps":[{"lapNumber","frames":[…]}]}`).
    DemoJson,
}

/// Why a file cannot be imported. Every variant names the file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ImportError {
    /// The file cannot be read.
    #[error("{}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Not a format we know.
    #[error("{}: not a capture, logger TSV or demo JSON file (starts with {head:02x?})", path.display())]
    UnknownFormat {
        /// The file.
        path: PathBuf,
        /// Its first bytes.
        head: Vec<u8>,
    },
    /// A broken capture.
    #[error("{}", path.display())]
    Capture {
        /// The file.
        path: PathBuf,
        /// The cause (with the byte offset where it has one).
        #[source]
        source: CaptureError,
    },
    /// A broken logger file.
    #[error("{}", path.display())]
    Logger {
        /// The file.
        path: PathBuf,
        /// The cause, with line and column.
        #[source]
        source: LoggerError,
    },
    /// A broken demo JSON file.
    #[error("{}: line {line}, column {column}: {message}", path.display())]
    DemoJson {
        /// The file.
        path: PathBuf,
        /// Line, from 1.
        line: usize,
        /// Column, from 1.
        column: usize,
        /// What is wrong.
        message: String,
    },
}

/// Tells the format from the first bytes.
pub fn detect(head: &[u8]) -> Option<ImportFormat> {
    const PCAP_MAGICS: [[u8; 4]; 5] = [
        [0xd4, 0xc3, 0xb2, 0xa1],
        [0xa1, 0xb2, 0xc3, 0xd4],
        [0x4d, 0x3c, 0xb2, 0xa1],
        [0xa1, 0xb2, 0x3c, 0x4d],
        [0x0a, 0x0d, 0x0d, 0x0a],
    ];
    if head.len() >= 4 && PCAP_MAGICS.iter().any(|m| head.starts_with(m)) {
        return Some(ImportFormat::Capture);
    }
    if head.starts_with(b"lapTime\t") {
        return Some(ImportFormat::LoggerTsv);
    }
    let text = head.trim_ascii_start();
    if text.starts_with(b"{") {
        return Some(ImportFormat::DemoJson);
    }
    None
}

/// Reads a file's format from its first bytes.
pub fn detect_file(path: &Path) -> Result<ImportFormat, ImportError> {
    let io = |source| ImportError::Io {
        path: path.to_owned(),
        source,
    };
    let mut head = [0u8; 16];
    let mut file = File::open(path).map_err(io)?;
    let mut len = 0;
    while len < head.len() {
        let n = file.read(&mut head[len..]).map_err(io)?;
        if n == 0 {
            break;
        }
        len += n;
    }
    let head = &head[..len];
    detect(head).ok_or_else(|| ImportError::UnknownFormat {
        path: path.to_owned(),
        head: head.to_vec(),
    })
}

/// The inputs of a capture, streamed: every datagram the game sent (handshake replies, car
/// info with its capture time, lap events, malformed ones). Requests to the game are skipped.
pub fn capture_inputs(
    path: &Path,
    game_port: u16,
) -> Result<impl Iterator<Item = Result<Input, ImportError>>, ImportError> {
    let capture_error = |path: &Path, source| ImportError::Capture {
        path: path.to_owned(),
        source,
    };
    let mut reader = CaptureReader::open(path)
        .map_err(|e| capture_error(path, e))?
        .with_game_port(game_port);
    let path = path.to_owned();
    let mut done = false;
    Ok(std::iter::from_fn(move || {
        if done {
            return None;
        }
        loop {
            match reader.next_datagram() {
                Ok(Some(d)) if d.direction == Direction::FromGame => {
                    return Some(Ok(Input::Datagram {
                        time_ns: d.timestamp_ns,
                        bytes: Bytes::copy_from_slice(d.payload),
                    }));
                }
                Ok(Some(_)) => {}
                Ok(None) => {
                    done = true;
                    return None;
                }
                Err(e) => {
                    done = true;
                    return Some(Err(capture_error(&path, e)));
                }
            }
        }
    }))
}

/// A logged lap as one input: the logger writes one file per lap, from line to line, so it
/// is kept whole ([`whole_lap`]: `flying` with its lap clock's time when it runs line to line).
/// The logger does not record the game's time. Frame times
/// are the lap clock (the file has no wall-clock time); the lap number comes from a
/// `lap_N` file name (N + 1), else `default_number`.
pub fn logger_input(path: &Path, default_number: i32) -> Result<Input, ImportError> {
    let text = std::fs::read_to_string(path).map_err(|source| ImportError::Io {
        path: path.to_owned(),
        source,
    })?;
    let lap = LoggerLap::parse(&text).map_err(|source| ImportError::Logger {
        path: path.to_owned(),
        source,
    })?;
    let number = lap_number_from_name(path).unwrap_or(default_number);
    let frames: Vec<Frame> = lap
        .car_infos(number - 1)
        .map(|car| {
            let time_ns = u64::try_from(car.lap_time_ms).unwrap_or(0) * 1_000_000;
            Frame::from_owned_car_info(&car, time_ns)
        })
        .collect();
    Ok(Input::Lap(whole_lap(number, frames)))
}

/// A lap a file holds whole: `flying`, timed by its lap clock, when its frames run from the
/// line to the line ([`line_to_line_time_ms`]); `partial` when it begins at the line but does
/// not reach it; `out` when it begins elsewhere.
pub fn whole_lap(number: i32, frames: Vec<Frame>) -> Lap {
    let time = line_to_line_time_ms(&frames).map(LapTime::telemetry);
    let kind = match (time, frames.first()) {
        (Some(_), _) => LapKind::Flying,
        (None, Some(first)) if (0..=MAX_START_CLOCK_MS).contains(&first.lap_time_ms) => {
            LapKind::Partial
        }
        (None, _) => LapKind::Out,
    };
    Lap {
        stint: 0,
        number,
        kind,
        invalid_reason: None,
        time,
        frames,
    }
}

fn lap_number_from_name(path: &Path) -> Option<i32> {
    let stem = path.file_stem()?.to_str()?;
    let digits = stem.rsplit(['_', '-']).next()?;
    digits.parse::<i32>().ok().and_then(|n| n.checked_add(1))
}

/// The original app's demo file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DemoFile {
    #[serde(default)]
    track: String,
    #[serde(default)]
    car: String,
    laps: Vec<DemoLap>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct DemoLap {
    lap_number: i32,
    frames: Vec<OriginalFrame>,
}

/// One frame in the original app's `TelemetryFrame` shape, the one conversion both ways:
/// what the WebSocket streams, what `POST /api/laps` and the original's demo file carry.
///
/// The original's fields keep their meaning (`steering` −1..1 over a
/// [`STEER_LOCK_DEG`] lock, `timestamp` and `lapTime` in ms); ours ride along, optional on
/// input, so that a frame streamed and posted back is stored with the values it had
/// (`steerDeg` wins over `steering`, `receivedNs` over `timestamp`).
///
/// ```
/// use purple_sector_core::import::OriginalFrame;
/// use purple_sector_core::telemetry::Frame;
///
/// let frame = Frame { steer_deg: -123.4, speed_kmh: 201.5, time_ns: 1_700_000_000_123_456_789,
///                     ..Frame::default() };
/// let original = OriginalFrame::from_frame(&frame);
/// assert!((original.steering - -123.4 / 450.0).abs() < 1e-6);
/// let back = original.to_frame(0.0);
/// assert_eq!((back.steer_deg, back.speed_kmh, back.time_ns), (-123.4, 201.5, frame.time_ns));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OriginalFrame {
    /// Unix time, ms.
    pub timestamp: f64,
    /// Throttle, 0..1.
    pub throttle: f32,
    /// Brake, 0..1.
    pub brake: f32,
    /// Steering, −1..1: the wheel angle over [`STEER_LOCK_DEG`].
    pub steering: f32,
    /// Speed, km/h.
    pub speed: f32,
    /// Gear, signed (−1 reverse, 0 neutral, 1 first …).
    pub gear: i32,
    /// Engine speed, rpm.
    pub rpm: f32,
    /// Lap number, from 1.
    pub lap_number: i32,
    /// Time into the lap, ms.
    pub lap_time: f64,
    /// Position along the lap, 0..1, when known.
    #[serde(default)]
    pub normalized_position: Option<f32>,
    /// Receive time, ns since the Unix epoch (ours).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub received_ns: Option<u64>,
    /// Steering wheel angle, degrees (ours).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub steer_deg: Option<f32>,
    /// Lateral acceleration, g (ours).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub g_lateral: Option<f32>,
    /// Longitudinal acceleration, g (ours).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub g_longitudinal: Option<f32>,
    /// World x, m (ours).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub x: Option<f32>,
    /// World z, m (ours).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub z: Option<f32>,
    /// In the pit lane (ours).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_pit: Option<bool>,
}

/// The wheel lock the original's −1..1 steering is a fraction of, degrees: ±450°, a
/// 900° wheel, Assetto Corsa's default.
pub const STEER_LOCK_DEG: f32 = 450.0;

impl OriginalFrame {
    /// The original's frame for one of ours, with our extra fields.
    pub fn from_frame(frame: &Frame) -> Self {
        Self {
            timestamp: (frame.time_ns / 1_000_000) as f64,
            throttle: frame.gas,
            brake: frame.brake,
            steering: (frame.steer_deg / STEER_LOCK_DEG).clamp(-1.0, 1.0),
            speed: frame.speed_kmh,
            gear: frame.gear,
            rpm: frame.engine_rpm,
            lap_number: frame.lap_count.saturating_add(1),
            lap_time: f64::from(frame.lap_time_ms),
            normalized_position: Some(frame.position_normalized),
            received_ns: Some(frame.time_ns),
            steer_deg: Some(frame.steer_deg),
            g_lateral: Some(frame.g_lateral),
            g_longitudinal: Some(frame.g_longitudinal),
            x: Some(frame.world_m[0]),
            z: Some(frame.world_m[2]),
            in_pit: Some(frame.flags.in_pit),
        }
    }

    /// The frame, at `position_normalized` when the original did not say where it was.
    pub fn to_frame(&self, position_normalized: f32) -> Frame {
        let mut frame = Frame {
            time_ns: self
                .received_ns
                .unwrap_or((self.timestamp.max(0.0) * 1e6) as u64),
            lap_time_ms: self.lap_time.round() as i32,
            lap_count: self.lap_number.saturating_sub(1),
            position_normalized: self.normalized_position.unwrap_or(position_normalized),
            speed_kmh: self.speed,
            speed_mph: self.speed / 1.609_344,
            speed_ms: self.speed / 3.6,
            gas: self.throttle,
            brake: self.brake,
            clutch: 1.0,
            steer_deg: self.steer_deg.unwrap_or(self.steering * STEER_LOCK_DEG),
            gear: self.gear,
            engine_rpm: self.rpm,
            g_lateral: self.g_lateral.unwrap_or_default(),
            g_longitudinal: self.g_longitudinal.unwrap_or_default(),
            world_m: [self.x.unwrap_or_default(), 0.0, self.z.unwrap_or_default()],
            ..Frame::default()
        };
        frame.flags.in_pit = self.in_pit.unwrap_or_default();
        frame
    }
}

/// A demo file's car and track, and one input per lap. Each lap is kept whole (kind
/// `flying` when it starts at the line, else `out`; no official time, as the file has
/// none). Missing `normalizedPosition` is derived from distance (speed × time) along the
/// lap. `gear` is taken as signed (the original displayed it as such); `timestamp` is Unix
/// milliseconds.
pub fn demo_json_inputs(path: &Path) -> Result<(String, String, Vec<Input>), ImportError> {
    let text = std::fs::read_to_string(path).map_err(|source| ImportError::Io {
        path: path.to_owned(),
        source,
    })?;
    let file: DemoFile = serde_json::from_str(&text).map_err(|e| ImportError::DemoJson {
        path: path.to_owned(),
        line: e.line(),
        column: e.column(),
        message: e.to_string(),
    })?;
    let inputs = file
        .laps
        .iter()
        .map(|lap| Input::Lap(demo_lap(lap)))
        .collect();
    Ok((file.car, file.track, inputs))
}

fn demo_lap(lap: &DemoLap) -> Lap {
    // Distance by the trapezoid rule on speed (km/h) over lap time (ms).
    let mut distance = Vec::with_capacity(lap.frames.len());
    let mut total = 0.0f64;
    let mut previous: Option<&OriginalFrame> = None;
    for f in &lap.frames {
        if let Some(p) = previous {
            let dt_s = ((f.lap_time - p.lap_time) / 1000.0).max(0.0);
            total += (f64::from(f.speed) + f64::from(p.speed)) / 2.0 / 3.6 * dt_s;
        }
        distance.push(total);
        previous = Some(f);
    }
    let frames: Vec<Frame> = lap
        .frames
        .iter()
        .zip(&distance)
        .map(|(f, d)| f.to_frame(if total > 0.0 { (d / total) as f32 } else { 0.0 }))
        .collect();
    whole_lap(lap.lap_number, frames)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn formats_from_their_first_bytes() {
        assert_eq!(
            detect(&[0xd4, 0xc3, 0xb2, 0xa1, 2, 0]),
            Some(ImportFormat::Capture)
        );
        assert_eq!(
            detect(&[0x0a, 0x0d, 0x0d, 0x0a]),
            Some(ImportFormat::Capture)
        );
        assert_eq!(detect(b"lapTime\tspeed_Mph"), Some(ImportFormat::LoggerTsv));
        assert_eq!(detect(b"  \n{\"track\""), Some(ImportFormat::DemoJson));
        assert_eq!(detect(b"hello"), None);
    }

    #[test]
    fn lap_numbers_from_file_names() {
        assert_eq!(lap_number_from_name(Path::new("x/lap_0.tsv")), Some(1));
        assert_eq!(lap_number_from_name(Path::new("imola-c7r-lap2.tsv")), None);
        assert_eq!(lap_number_from_name(Path::new("lap-7.txt")), Some(8));
    }
}
