//! Sources for imports, all turned into [`record::Input`](crate::record::Input)s for the
//! same pipeline a live recording uses: captures (pcap/pcapng), our own CSV, JSON and MoTeC
//! exports, MoTeC `.ld` logs of other tools, the third-party logger's TSV laps, and the
//! original app's demo JSON.
//!
//! [`open_file`] tells the format from the file's first bytes and gives the file's inputs
//! with what it says of its session ([`SessionMeta`]). Every frame is checked
//! ([`check_frame`]): impossible values (NaN, infinite, speeds over 1000 km/h, pedals outside
//! 0..1 by more than rounding) are an error naming the line, packet or sample, or — with
//! [`ImportOptions::lenient`] — are skipped and counted.

mod capture;
mod csv;
mod json;
mod ld;
mod logger;
mod original;

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

pub use self::capture::capture_inputs;
pub use self::logger::{logger_input, logger_meta};
pub use self::original::{OriginalFrame, STEER_LOCK_DEG};
use crate::capture::CaptureError;
use crate::lap::{Lap, LapKind, LapTime, MAX_START_CLOCK_MS, line_to_line_time_ms};
use crate::logger::LoggerError;
use crate::record::Input;
use crate::telemetry::Frame;

/// The formats [`detect`] recognises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ImportFormat {
    /// pcap or pcapng.
    Capture,
    /// Our CSV export (header `session_time_s,time_ns,…`).
    Csv,
    /// Our JSON export (`{"format":"purple-sector",…}`) or the original app's demo JSON
    /// (`{"track","car","laps":[{"lapNumber","frames":[…]}]}`).
    Json,
    /// A MoTeC i2 `.ld` log (ours or another tool's), with its `.ldx` when there is one.
    MotecLd,
    /// The third-party logger's tab-separated lap (`lapTime speed_Mph gas …`).
    LoggerTsv,
}

/// Every format `import` reads, for messages.
pub const SUPPORTED_FORMATS: &str = "a pcap/pcapng capture, our CSV or JSON export, a MoTeC .ld \
log, the raw-sim-telemetry logger's TSV lap, or the original app's demo JSON";

/// The JSON shapes `import` reads, for messages.
pub const JSON_SHAPES: &str = r#"our export {"format":"purple-sector","session":{…},"laps":[{"lap":{…},"frames":[…]}]} or the original app's demo file {"track","car","laps":[{"lapNumber","frames":[{"timestamp","throttle","brake","steering","speed","gear","rpm","lapNumber","lapTime"}]}]}"#;

/// Where in a file something is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Location {
    /// A line of a text file, from 1.
    Line(usize),
    /// A datagram to or from the game's port in a capture, from 1.
    Packet(u64),
    /// A frame of a lap of a JSON file, both from 1.
    Frame {
        /// The lap's place in the file.
        lap: usize,
        /// The frame's place in the lap.
        frame: usize,
    },
    /// A sample of a MoTeC log, from 0.
    Sample(usize),
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            Self::Line(n) => write!(f, "line {n}"),
            Self::Packet(n) => write!(f, "datagram {n}"),
            Self::Frame { lap, frame } => write!(f, "lap {lap}, frame {frame}"),
            Self::Sample(n) => write!(f, "sample {n}"),
        }
    }
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
    #[error("{}: not {SUPPORTED_FORMATS} (it starts with {head:02x?})", path.display())]
    UnknownFormat {
        /// The file.
        path: PathBuf,
        /// Its first bytes.
        head: Vec<u8>,
    },
    /// JSON, but of no shape we know.
    #[error("{}: line {line}, column {column}: JSON of no shape we read ({message}); import reads {SUPPORTED_FORMATS}; as JSON, {JSON_SHAPES}", path.display())]
    UnknownJson {
        /// The file.
        path: PathBuf,
        /// Line, from 1.
        line: usize,
        /// Column, from 1.
        column: usize,
        /// What the parser met.
        message: String,
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
    /// A JSON file that breaks off or has a wrong value.
    #[error("{}: line {line}, column {column}: {message}", path.display())]
    Json {
        /// The file.
        path: PathBuf,
        /// Line, from 1.
        line: usize,
        /// Column, from 1.
        column: usize,
        /// What is wrong.
        message: String,
    },
    /// A CSV file with a row that cannot be read.
    #[error("{}: {at}", path.display())]
    Csv {
        /// The file.
        path: PathBuf,
        /// Where.
        at: Location,
        /// The cause.
        #[source]
        source: ::csv::Error,
    },
    /// A CSV file without a column we need, or with a value that is not one.
    #[error("{}: {at}: column {column}: {problem}", path.display())]
    CsvValue {
        /// The file.
        path: PathBuf,
        /// Where.
        at: Location,
        /// The column.
        column: &'static str,
        /// What is wrong.
        problem: &'static str,
    },
    /// A broken MoTeC log.
    #[error("{}", path.display())]
    Ld {
        /// The file.
        path: PathBuf,
        /// The cause, with the offset.
        #[source]
        source: crate::motec::LdError,
    },
    /// A broken MoTeC `.ldx` sidecar.
    #[error("{}", path.display())]
    Ldx {
        /// The `.ldx` file.
        path: PathBuf,
        /// The cause, with the offset.
        #[source]
        source: crate::motec::LdxError,
    },
    /// A MoTeC log without the channels a lap needs.
    #[error("{}: no {channel} channel (looked for {names})", path.display())]
    LdChannelMissing {
        /// The file.
        path: PathBuf,
        /// What was missing.
        channel: &'static str,
        /// The names looked for.
        names: &'static str,
    },
    /// A frame with an impossible value (see [`check_frame`]).
    #[error("{}: {at}: {field} = {value} is impossible ({rule}); --lenient skips such frames", path.display())]
    BadValue {
        /// The file.
        path: PathBuf,
        /// Where.
        at: Location,
        /// The field.
        field: &'static str,
        /// Its value.
        value: f32,
        /// The rule it breaks.
        rule: &'static str,
    },
}

/// What a file says of its session; empty strings where it says nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct SessionMeta {
    /// A name for the session.
    pub name: String,
    /// Track.
    pub track: String,
    /// Track layout.
    pub track_config: String,
    /// Car model.
    pub car: String,
    /// Driver.
    pub driver: String,
}

impl SessionMeta {
    /// Fills what this one leaves empty from `other`.
    pub fn or(mut self, other: &SessionMeta) -> Self {
        let fill = |mine: &mut String, theirs: &String| {
            if mine.is_empty() {
                mine.clone_from(theirs);
            }
        };
        fill(&mut self.name, &other.name);
        fill(&mut self.track, &other.track);
        fill(&mut self.track_config, &other.track_config);
        fill(&mut self.car, &other.car);
        fill(&mut self.driver, &other.driver);
        self
    }
}

/// How files are read.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    /// The game's UDP port in captures.
    pub game_port: u16,
    /// Skip (and count) frames with impossible values instead of refusing the file.
    pub lenient: bool,
    /// The lap number a logger file gets when its name does not say (`lap_N`).
    pub default_lap_number: i32,
}

impl Default for ImportOptions {
    fn default() -> Self {
        Self {
            game_port: crate::protocol::GAME_PORT,
            lenient: false,
            default_lap_number: 1,
        }
    }
}

/// Frames skipped by a lenient import, and the first of them.
#[derive(Debug, Clone, Default)]
pub struct Skipped {
    count: Arc<AtomicU64>,
    first: Arc<std::sync::OnceLock<String>>,
}

impl Skipped {
    fn skip(&self, at: Location, field: &str, value: f32) {
        self.count.fetch_add(1, Ordering::Relaxed);
        let _ = self.first.set(format!("{at}: {field} = {value}"));
    }

    /// Frames skipped so far.
    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }

    /// The first one skipped ("line 12: speed_kmh = NaN").
    pub fn first(&self) -> Option<&str> {
        self.first.get().map(String::as_str)
    }
}

/// The inputs of a file, streamed.
pub type Inputs = Box<dyn Iterator<Item = Result<Input, ImportError>> + Send>;

/// A file opened for import.
pub struct FileImport {
    /// Its format.
    pub format: ImportFormat,
    /// What it says of its session.
    pub meta: SessionMeta,
    /// Its inputs, in order (read as they are taken, for the big formats).
    pub inputs: Inputs,
    /// Frames a lenient import skipped (counted as the inputs are taken).
    pub skipped: Skipped,
}

impl std::fmt::Debug for FileImport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileImport")
            .field("format", &self.format)
            .field("meta", &self.meta)
            .finish_non_exhaustive()
    }
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
    if head.starts_with(&crate::motec::LD_MARKER.to_le_bytes()) {
        return Some(ImportFormat::MotecLd);
    }
    if head.starts_with(b"lapTime\t") {
        return Some(ImportFormat::LoggerTsv);
    }
    let text = head.trim_ascii_start();
    if text.starts_with(b"session_time_s,") {
        return Some(ImportFormat::Csv);
    }
    if text.starts_with(b"{") {
        return Some(ImportFormat::Json);
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

/// Opens a file for import: its format, what it says of its session, and its inputs.
pub fn open_file(path: &Path, options: &ImportOptions) -> Result<FileImport, ImportError> {
    let format = detect_file(path)?;
    let skipped = Skipped::default();
    let (meta, inputs): (SessionMeta, Inputs) = match format {
        ImportFormat::Capture => (
            SessionMeta::default(),
            Box::new(capture_inputs(path, options, skipped.clone())?),
        ),
        ImportFormat::LoggerTsv => {
            let input = logger_input(path, options, &skipped)?;
            (logger_meta(path), Box::new(std::iter::once(Ok(input))))
        }
        ImportFormat::Csv => self::csv::inputs(path, options, &skipped)?,
        ImportFormat::Json => self::json::inputs(path, options, &skipped)?,
        ImportFormat::MotecLd => self::ld::inputs(path, options, &skipped)?,
    };
    Ok(FileImport {
        format,
        meta,
        inputs,
        skipped,
    })
}

/// Tolerance on pedals, for rounding: 0..1 ± this.
pub const PEDAL_TOLERANCE: f32 = 1e-3;
/// The fastest a car goes, km/h.
pub const MAX_SPEED_KMH: f32 = 1_000.0;

/// The first impossible value of a frame, if any: a NaN or infinite number in any field,
/// a speed over [`MAX_SPEED_KMH`] (either way), a pedal outside 0..1 by more than
/// [`PEDAL_TOLERANCE`]. Returns the field, its value and the rule.
pub fn check_frame(f: &Frame) -> Result<(), (&'static str, f32, &'static str)> {
    let w = &f.wheels;
    let [x, y, z] = f.world_m;
    // In the frame's order: the scalars before the world position, those after it, and the
    // arrays (the world position padded with a zero, so that every array is four wide).
    let before_world: [(&'static str, f32); 12] = [
        ("position", f.position_normalized),
        ("speed_kmh", f.speed_kmh),
        ("speed_mph", f.speed_mph),
        ("speed_ms", f.speed_ms),
        ("gas", f.gas),
        ("brake", f.brake),
        ("clutch", f.clutch),
        ("steer_deg", f.steer_deg),
        ("engine_rpm", f.engine_rpm),
        ("g_vertical", f.g_vertical),
        ("g_lateral", f.g_lateral),
        ("g_longitudinal", f.g_longitudinal),
    ];
    let after_world = [("cg_height_m", f.cg_height_m), ("car_slope", f.car_slope)];
    let arrays: [(&'static str, [f32; 4]); 15] = [
        ("world_m", [x, y, z, 0.0]),
        ("wheel_angular_speed", w.angular_speed_rad_s),
        ("slip_angle", w.slip_angle_deg),
        ("slip_angle_contact_patch", w.slip_angle_contact_patch),
        ("slip_ratio", w.slip_ratio),
        ("tyre_slip", w.tyre_slip),
        ("nd_slip", w.nd_slip),
        ("load", w.load_n),
        ("dy", w.dy),
        ("mz", w.mz_nm),
        ("tyre_dirty_level", w.tyre_dirty_level),
        ("camber_rad", w.camber_rad),
        ("tyre_loaded_radius_m", w.tyre_loaded_radius_m),
        ("tyre_radius_m", w.tyre_radius_m),
        ("suspension_height_m", w.suspension_height_m),
    ];
    // Every value finite, the common case, checked without early exits (straight-line
    // vector code); the first that is not is looked for only when one is not.
    let finite = |ok: bool, v: &f32| ok & v.is_finite();
    let all_finite = before_world.iter().map(|(_, v)| v).fold(true, finite)
        & after_world.iter().map(|(_, v)| v).fold(true, finite)
        & arrays.iter().flat_map(|(_, a)| a).fold(true, finite);
    if !all_finite {
        let array = |&(name, a): &(&'static str, [f32; 4])| a.map(|v| (name, v));
        let first = before_world
            .iter()
            .copied()
            .chain(arrays[..1].iter().flat_map(array))
            .chain(after_world.iter().copied())
            .chain(arrays[1..].iter().flat_map(array))
            .find(|(_, v)| !v.is_finite());
        if let Some((name, v)) = first {
            return Err((name, v, "not a finite number"));
        }
    }
    if f.speed_kmh.abs() > MAX_SPEED_KMH {
        return Err(("speed_kmh", f.speed_kmh, "over 1000 km/h"));
    }
    let pedal = |v: f32| (-PEDAL_TOLERANCE..=1.0 + PEDAL_TOLERANCE).contains(&v);
    for (name, v) in [("gas", f.gas), ("brake", f.brake), ("clutch", f.clutch)] {
        if !pedal(v) {
            return Err((name, v, "a pedal is 0..1"));
        }
    }
    Ok(())
}

/// Checks a frame read at `at`: `Ok(true)` to keep it, `Ok(false)` to skip it (lenient),
/// or the error.
pub(crate) fn keep_frame(
    frame: &Frame,
    path: &Path,
    at: Location,
    options: &ImportOptions,
    skipped: &Skipped,
) -> Result<bool, ImportError> {
    match check_frame(frame) {
        Ok(()) => Ok(true),
        Err((field, value, _)) if options.lenient => {
            skipped.skip(at, field, value);
            Ok(false)
        }
        Err((field, value, rule)) => Err(ImportError::BadValue {
            path: path.to_owned(),
            at,
            field,
            value,
            rule,
        }),
    }
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

/// serde_json's message without the position it appends (our errors give it).
fn json_message(error: &serde_json::Error) -> String {
    let text = error.to_string();
    let suffix = format!(" at line {} column {}", error.line(), error.column());
    text.strip_suffix(&suffix).unwrap_or(&text).to_owned()
}

fn io_error(path: &Path) -> impl Fn(std::io::Error) -> ImportError + '_ {
    move |source| ImportError::Io {
        path: path.to_owned(),
        source,
    }
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
        assert_eq!(detect(b"  \n{\"track\""), Some(ImportFormat::Json));
        assert_eq!(detect(b"session_time_s,time_ns"), Some(ImportFormat::Csv));
        assert_eq!(detect(&[0x40, 0, 0, 0, 0]), Some(ImportFormat::MotecLd));
        assert_eq!(detect(b"hello"), None);
    }

    #[test]
    fn impossible_values_are_named() {
        assert!(check_frame(&Frame::default()).is_ok());
        let nan = Frame {
            steer_deg: f32::NAN,
            ..Frame::default()
        };
        assert_eq!(check_frame(&nan).unwrap_err().0, "steer_deg");
        let fast = Frame {
            speed_kmh: 1_200.0,
            ..Frame::default()
        };
        assert_eq!(check_frame(&fast).unwrap_err().0, "speed_kmh");
        let pedal = Frame {
            brake: 1.2,
            ..Frame::default()
        };
        assert_eq!(check_frame(&pedal).unwrap_err().0, "brake");
        let rounding = Frame {
            gas: 1.000_5,
            ..Frame::default()
        };
        assert!(check_frame(&rounding).is_ok());
    }

    /// Every `f32` of a frame with its field's name, in the frame's order: what
    /// [`check_frame`] names the first non-finite value of.
    fn floats_mut(f: &mut Frame) -> Vec<(&'static str, &mut f32)> {
        let w = &mut f.wheels;
        let mut out: Vec<(&'static str, &mut f32)> = vec![
            ("position", &mut f.position_normalized),
            ("speed_kmh", &mut f.speed_kmh),
            ("speed_mph", &mut f.speed_mph),
            ("speed_ms", &mut f.speed_ms),
            ("gas", &mut f.gas),
            ("brake", &mut f.brake),
            ("clutch", &mut f.clutch),
            ("steer_deg", &mut f.steer_deg),
            ("engine_rpm", &mut f.engine_rpm),
            ("g_vertical", &mut f.g_vertical),
            ("g_lateral", &mut f.g_lateral),
            ("g_longitudinal", &mut f.g_longitudinal),
        ];
        out.extend(f.world_m.iter_mut().map(|v| ("world_m", v)));
        out.push(("cg_height_m", &mut f.cg_height_m));
        out.push(("car_slope", &mut f.car_slope));
        let arrays: [(&'static str, &mut [f32; 4]); 14] = [
            ("wheel_angular_speed", &mut w.angular_speed_rad_s),
            ("slip_angle", &mut w.slip_angle_deg),
            ("slip_angle_contact_patch", &mut w.slip_angle_contact_patch),
            ("slip_ratio", &mut w.slip_ratio),
            ("tyre_slip", &mut w.tyre_slip),
            ("nd_slip", &mut w.nd_slip),
            ("load", &mut w.load_n),
            ("dy", &mut w.dy),
            ("mz", &mut w.mz_nm),
            ("tyre_dirty_level", &mut w.tyre_dirty_level),
            ("camber_rad", &mut w.camber_rad),
            ("tyre_loaded_radius_m", &mut w.tyre_loaded_radius_m),
            ("tyre_radius_m", &mut w.tyre_radius_m),
            ("suspension_height_m", &mut w.suspension_height_m),
        ];
        for (name, array) in arrays {
            out.extend(array.iter_mut().map(|v| (name, v)));
        }
        out
    }

    proptest::proptest! {
        /// Non-finite values anywhere: the first in the frame's order is named, with its value.
        #[test]
        fn the_first_non_finite_value_is_named(
            at in proptest::collection::btree_set(0usize..73, 1..4),
            kind in 0usize..3,
        ) {
            let bad = [f32::NAN, f32::INFINITY, f32::NEG_INFINITY][kind];
            let mut frame = Frame::default();
            let mut floats = floats_mut(&mut frame);
            proptest::prop_assert_eq!(floats.len(), 73);
            let first = *at.iter().next().unwrap_or(&0);
            let name = floats[first].0;
            for &k in &at {
                *floats[k].1 = bad;
            }
            let (named, value, rule) = check_frame(&frame).unwrap_err();
            proptest::prop_assert_eq!(named, name);
            proptest::prop_assert_eq!(value.to_bits(), bad.to_bits());
            proptest::prop_assert_eq!(rule, "not a finite number");
        }
    }
}
