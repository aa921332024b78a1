//! `.ld`: MoTeC i2 logged data — the header, the event/venue/vehicle blocks, the channel list
//! and the samples. The layout is described in the [module docs](super).

use std::collections::HashSet;
use std::fmt;
use std::io::{self, Seek, SeekFrom, Write};

// ---------------------------------------------------------------------------------------------
// Layout. Offsets are from the start of the file (header) or of the block.

/// The first word of every `.ld` file.
pub const LD_MARKER: u32 = 0x40;
/// The device serial number written into our files (the one public writers use).
pub const DEVICE_SERIAL: u32 = 0x1F44;
/// The device type written into our files: a MoTeC ADL dash logger.
pub const DEVICE_TYPE: &str = "ADL";
/// The device (firmware) version written into our files.
pub const DEVICE_VERSION: u16 = 420;
/// The word at header offset 0x5DE that real files carry and i2 reads as "pro logging".
pub const PRO_LOGGING_MAGIC: u32 = 0x000C_81A4;

const H_MARKER: usize = 0x000;
const H_META_PTR: usize = 0x008;
const H_DATA_PTR: usize = 0x00C;
const H_EVENT_PTR: usize = 0x024;
const H_STATIC_1: usize = 0x040;
const H_STATIC_2: usize = 0x042;
const H_STATIC_3: usize = 0x044;
const H_DEVICE_SERIAL: usize = 0x046;
const H_DEVICE_TYPE: usize = 0x04A;
const H_DEVICE_VERSION: usize = 0x052;
const H_STATIC_4: usize = 0x054;
const H_CHANNEL_COUNT: usize = 0x056;
const H_DATE: usize = 0x05E;
const H_TIME: usize = 0x07E;
const H_DRIVER: usize = 0x09E;
const H_VEHICLE: usize = 0x0DE;
const H_VENUE: usize = 0x15E;
const H_PRO_LOGGING: usize = 0x5DE;
const H_SESSION: usize = 0x5E4;
const H_SHORT_COMMENT: usize = 0x624;
const HEADER_LEN: usize = 0x6E2;

/// The static words at 0x40, 0x42, 0x44 and 0x54, as the public writers set them.
const STATIC_1: u16 = 0x0001;
const STATIC_2: u16 = 0x4240;
const STATIC_3: u16 = 0x000F;
const STATIC_4: u16 = 0xADB0;

const DATE_LEN: usize = 16;
const TIME_LEN: usize = 16;
const DEVICE_TYPE_LEN: usize = 8;
const TEXT_64: usize = 64;

const E_NAME: usize = 0x000;
const E_SESSION: usize = 0x040;
const E_COMMENT: usize = 0x080;
const E_COMMENT_LEN: usize = 1024;
const E_VENUE_PTR: usize = 0x480;
const EVENT_LEN: usize = 0x482;

const V_NAME: usize = 0x000;
const V_VEHICLE_PTR: usize = 0x44A;
const VENUE_LEN: usize = 0x44C;

const C_ID: usize = 0x000;
const C_WEIGHT: usize = 0x0C0;
const C_TYPE: usize = 0x0C4;
const C_COMMENT: usize = 0x0E4;
const C_TEXT_LEN: usize = 32;
const VEHICLE_LEN: usize = 0x104;

const M_PREV: usize = 0x00;
const M_NEXT: usize = 0x04;
const M_DATA_PTR: usize = 0x08;
const M_COUNT: usize = 0x0C;
const M_COUNTER: usize = 0x10;
const M_KIND: usize = 0x12;
const M_SIZE: usize = 0x14;
const M_FREQ: usize = 0x16;
const M_SHIFT: usize = 0x18;
const M_MUL: usize = 0x1A;
const M_SCALE: usize = 0x1C;
const M_DEC: usize = 0x1E;
const M_NAME: usize = 0x20;
const M_NAME_LEN: usize = 32;
const M_SHORT: usize = 0x40;
const M_SHORT_LEN: usize = 8;
const M_UNIT: usize = 0x48;
const M_UNIT_LEN: usize = 12;
/// The bytes of a channel record the reader needs (real files differ in what follows).
const META_KNOWN_LEN: usize = 0x54;
/// The bytes of a channel record as we write it (the known part and 40 zero bytes).
const META_LEN: usize = 0x7C;
/// The first value of the per-channel word at 0x10; channel `n` gets `COUNTER_BASE + n`.
const COUNTER_BASE: u16 = 0x2EE1;

/// Where we put the blocks: the places a MoTeC-written file has them.
const EVENT_AT: usize = 0x06E2;
const VENUE_AT: usize = 0x1336;
const VEHICLE_AT: usize = 0x1F54;
const META_AT: usize = 0x3448;

// Each block fits its slot, and the blocks the 16-bit pointers name lie below 64 KiB.
const _: () = assert!(HEADER_LEN <= EVENT_AT);
const _: () = assert!(EVENT_AT + EVENT_LEN <= VENUE_AT);
const _: () = assert!(VENUE_AT + VENUE_LEN <= VEHICLE_AT);
const _: () = assert!(VEHICLE_AT + VEHICLE_LEN <= META_AT);
const _: () = assert!(VEHICLE_AT <= u16::MAX as usize);

// ---------------------------------------------------------------------------------------------
// Types.

/// A whole `.ld` file: the session's header and its channels.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LdFile {
    /// Who, what, where and when.
    pub header: LdHeader,
    /// The channels, in the order of the file's channel list.
    pub channels: Vec<LdChannel>,
}

/// The session a file describes: the header and the event, venue and vehicle blocks.
///
/// Text is stored in Windows-1252, NUL-terminated: each field keeps at most its length less one
/// byte (63 characters for the 64-byte fields); longer text is cut and characters
/// Windows-1252 lacks are written as `?`.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct LdHeader {
    /// The driver (header, 64 bytes).
    pub driver: String,
    /// The vehicle id (header, 64 bytes; also the vehicle block's id).
    pub vehicle: String,
    /// The vehicle type (vehicle block, 32 bytes).
    pub vehicle_type: String,
    /// The vehicle comment (vehicle block, 32 bytes).
    pub vehicle_comment: String,
    /// The vehicle weight (vehicle block).
    pub vehicle_weight_kg: u32,
    /// The venue (header, 64 bytes; also the venue block's name).
    pub venue: String,
    /// The event name (event block, 64 bytes).
    pub event: String,
    /// The session (event block, 64 bytes; also in the header).
    pub session: String,
    /// The short comment (header, 64 bytes).
    pub short_comment: String,
    /// The long comment (event block, 1024 bytes).
    pub long_comment: String,
    /// When the log starts, local time as the logger had it.
    pub started: LdDateTime,
}

/// A calendar date and a time of day, stored as `"DD/MM/YYYY"` and `"HH:MM:SS"`.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub struct LdDateTime {
    /// 0–9999.
    pub year: u16,
    /// 1–12.
    pub month: u8,
    /// 1–31.
    pub day: u8,
    /// 0–23.
    pub hour: u8,
    /// 0–59.
    pub minute: u8,
    /// 0–59.
    pub second: u8,
}

impl Default for LdDateTime {
    /// 01/01/2000 00:00:00.
    fn default() -> Self {
        Self {
            year: 2000,
            month: 1,
            day: 1,
            hour: 0,
            minute: 0,
            second: 0,
        }
    }
}

impl LdDateTime {
    /// Whether every field is in its range (the day is checked against 31, not the month).
    pub fn is_valid(&self) -> bool {
        self.year <= 9999
            && (1..=12).contains(&self.month)
            && (1..=31).contains(&self.day)
            && self.hour <= 23
            && self.minute <= 59
            && self.second <= 59
    }
}

impl fmt::Display for LdDateTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:02}/{:02}/{:04} {:02}:{:02}:{:02}",
            self.day, self.month, self.year, self.hour, self.minute, self.second
        )
    }
}

/// One channel: its names, rate, samples and the scaling that turns samples into values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LdChannel {
    /// The name i2 shows (32 bytes: at most 31 characters are stored).
    pub name: String,
    /// The short name (8 bytes: at most 7 characters).
    pub short_name: String,
    /// The unit (12 bytes: at most 11 characters).
    pub unit: String,
    /// Samples per second.
    pub frequency_hz: u16,
    /// The samples as stored.
    pub data: LdData,
    /// Raw sample → physical value.
    pub scaling: LdScaling,
}

impl LdChannel {
    /// A channel of `f32` samples with no scaling and no short name.
    pub fn f32(
        name: impl Into<String>,
        unit: impl Into<String>,
        frequency_hz: u16,
        samples: Vec<f32>,
    ) -> Self {
        Self {
            name: name.into(),
            short_name: String::new(),
            unit: unit.into(),
            frequency_hz,
            data: LdData::F32(samples),
            scaling: LdScaling::IDENTITY,
        }
    }

    /// The physical values: each sample through [`LdScaling::apply`].
    pub fn values(&self) -> Vec<f64> {
        self.data
            .raw_values()
            .into_iter()
            .map(|raw| self.scaling.apply(raw))
            .collect()
    }

    /// What [`LdWriter`] needs to know of this channel up front.
    ///
    /// `None` when it holds more samples than a file can declare (`u32::MAX`).
    pub fn spec(&self) -> Option<LdChannelSpec> {
        Some(LdChannelSpec {
            name: self.name.clone(),
            short_name: self.short_name.clone(),
            unit: self.unit.clone(),
            frequency_hz: self.frequency_hz,
            data_type: self.data.data_type(),
            scaling: self.scaling,
            sample_count: u32::try_from(self.data.len()).ok()?,
        })
    }
}

/// The samples of a channel, in the type the file stores them.
///
/// Equality compares the stored bits: two `F32` blocks with the same NaN payloads are equal.
#[derive(Debug, Clone)]
pub enum LdData {
    /// IEEE 754 single precision.
    F32(Vec<f32>),
    /// IEEE 754 half precision, kept as its raw bits (see [`f16_to_f32`]).
    F16(Vec<u16>),
    /// Signed 16-bit integers.
    I16(Vec<i16>),
    /// Signed 32-bit integers.
    I32(Vec<i32>),
}

impl PartialEq for LdData {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Self::F32(a), Self::F32(b)) => {
                a.len() == b.len() && a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits())
            }
            (Self::F16(a), Self::F16(b)) => a == b,
            (Self::I16(a), Self::I16(b)) => a == b,
            (Self::I32(a), Self::I32(b)) => a == b,
            _ => false,
        }
    }
}

impl Eq for LdData {}

impl Default for LdData {
    fn default() -> Self {
        Self::F32(Vec::new())
    }
}

impl LdData {
    /// The number of samples.
    pub fn len(&self) -> usize {
        match self {
            Self::F32(v) => v.len(),
            Self::F16(v) => v.len(),
            Self::I16(v) => v.len(),
            Self::I32(v) => v.len(),
        }
    }

    /// Whether there are no samples.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The stored type.
    pub fn data_type(&self) -> LdDataType {
        match self {
            Self::F32(_) => LdDataType::F32,
            Self::F16(_) => LdDataType::F16,
            Self::I16(_) => LdDataType::I16,
            Self::I32(_) => LdDataType::I32,
        }
    }

    /// The samples as numbers, before scaling (half floats widened).
    pub fn raw_values(&self) -> Vec<f64> {
        match self {
            Self::F32(v) => v.iter().map(|&x| f64::from(x)).collect(),
            Self::F16(v) => v.iter().map(|&x| f64::from(f16_to_f32(x))).collect(),
            Self::I16(v) => v.iter().map(|&x| f64::from(x)).collect(),
            Self::I32(v) => v.iter().map(|&x| f64::from(x)).collect(),
        }
    }

    /// Appends the little-endian bytes of samples `from..to` to `out`.
    fn encode_range(&self, from: usize, to: usize, out: &mut Vec<u8>) {
        match self {
            Self::F32(v) => encode_f32(&v[from..to], out),
            Self::F16(v) => v[from..to]
                .iter()
                .for_each(|x| out.extend_from_slice(&x.to_le_bytes())),
            Self::I16(v) => v[from..to]
                .iter()
                .for_each(|x| out.extend_from_slice(&x.to_le_bytes())),
            Self::I32(v) => v[from..to]
                .iter()
                .for_each(|x| out.extend_from_slice(&x.to_le_bytes())),
        }
    }
}

fn encode_f32(samples: &[f32], out: &mut Vec<u8>) {
    samples
        .iter()
        .for_each(|x| out.extend_from_slice(&x.to_le_bytes()));
}

/// The four sample types, as the channel record's type pair names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum LdDataType {
    /// Type 7, 4 bytes.
    F32,
    /// Type 7, 2 bytes.
    F16,
    /// Type 3 (0 and 5 are read too), 2 bytes.
    I16,
    /// Type 5 (0 and 3 are read too), 4 bytes.
    I32,
}

impl LdDataType {
    /// Bytes per sample.
    pub const fn size_bytes(self) -> usize {
        match self {
            Self::F32 | Self::I32 => 4,
            Self::F16 | Self::I16 => 2,
        }
    }

    /// The (type, size) pair written at 0x12 and 0x14 of the channel record.
    const fn codes(self) -> (u16, u16) {
        match self {
            Self::F32 => (7, 4),
            Self::F16 => (7, 2),
            Self::I16 => (3, 2),
            Self::I32 => (5, 4),
        }
    }

    /// The type a (type, size) pair names: 7 is a float, 0, 3 and 5 are integers.
    const fn from_codes(kind: u16, size: u16) -> Option<Self> {
        match (kind, size) {
            (7, 4) => Some(Self::F32),
            (7, 2) => Some(Self::F16),
            (0 | 3 | 5, 2) => Some(Self::I16),
            (0 | 3 | 5, 4) => Some(Self::I32),
            _ => None,
        }
    }
}

/// How a raw sample becomes a physical value:
/// `value = (raw / scale × 10^−dec_places + shift) × mul`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub struct LdScaling {
    /// Added after the division (channel record 0x18).
    pub shift: i16,
    /// The final factor (0x1A).
    pub mul: i16,
    /// The divisor (0x1C); a zero is taken as 1.
    pub scale: i16,
    /// Decimal places: the raw value is divided by 10^dec_places (0x1E).
    pub dec_places: i16,
}

impl LdScaling {
    /// Values are the raw samples: shift 0, mul 1, scale 1, no decimal places.
    pub const IDENTITY: Self = Self {
        shift: 0,
        mul: 1,
        scale: 1,
        dec_places: 0,
    };

    /// The physical value of one raw sample.
    pub fn apply(&self, raw: f64) -> f64 {
        let scale = if self.scale == 0 { 1 } else { self.scale };
        (raw / f64::from(scale) * 10f64.powi(-i32::from(self.dec_places)) + f64::from(self.shift))
            * f64::from(self.mul)
    }
}

impl Default for LdScaling {
    fn default() -> Self {
        Self::IDENTITY
    }
}

/// IEEE 754 half precision bits → `f32`, exactly (subnormals, infinities and NaN payloads kept).
pub fn f16_to_f32(bits: u16) -> f32 {
    let sign = u32::from(bits >> 15) << 31;
    let exponent = u32::from((bits >> 10) & 0x1F);
    let mantissa = u32::from(bits & 0x3FF);
    match exponent {
        0 if mantissa == 0 => f32::from_bits(sign),
        0 => {
            // Subnormal: mantissa × 2^−24, exact in f32.
            let magnitude = mantissa as f32 * f32::from_bits(0x3380_0000); // 2^-24
            if sign == 0 { magnitude } else { -magnitude }
        }
        0x1F => f32::from_bits(sign | 0x7F80_0000 | (mantissa << 13)),
        _ => f32::from_bits(sign | ((exponent + 127 - 15) << 23) | (mantissa << 13)),
    }
}

// ---------------------------------------------------------------------------------------------
// Errors.

/// The parts of a file, as errors name them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LdBlock {
    /// The file header at offset 0.
    Header,
    /// The event block (the header's pointer at 0x24).
    Event,
    /// The venue block (the event's pointer).
    Venue,
    /// The vehicle block (the venue's pointer).
    Vehicle,
    /// The record of the channel at this position in the list.
    ChannelMeta(usize),
    /// The samples of the channel at this position in the list.
    ChannelData(usize),
}

impl fmt::Display for LdBlock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Header => f.write_str("header"),
            Self::Event => f.write_str("event block"),
            Self::Venue => f.write_str("venue block"),
            Self::Vehicle => f.write_str("vehicle block"),
            Self::ChannelMeta(i) => write!(f, "channel {i}'s record"),
            Self::ChannelData(i) => write!(f, "channel {i}'s samples"),
        }
    }
}

/// Why bytes are not a readable `.ld` file. Cheap to copy; every variant carries its numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum LdError {
    /// A block reaches past the end of the file.
    #[error("{block} at offset {offset} needs {needed} bytes, the file has {file_len}")]
    OutOfBounds {
        /// Which block.
        block: LdBlock,
        /// Where it starts.
        offset: u64,
        /// How many bytes it takes.
        needed: u64,
        /// The file's length.
        file_len: usize,
    },
    /// The first word is not 0x40.
    #[error("not a MoTeC .ld file: the first word is {found:#x}, expected 0x40")]
    BadMarker {
        /// The word found.
        found: u32,
    },
    /// The date at 0x5E is not `DD/MM/YYYY`.
    #[error("the date at offset {offset} is not DD/MM/YYYY")]
    BadDate {
        /// The field's offset.
        offset: usize,
    },
    /// The time at 0x7E is not `HH:MM:SS` (or `HH:MM`).
    #[error("the time at offset {offset} is not HH:MM:SS")]
    BadTime {
        /// The field's offset.
        offset: usize,
    },
    /// The channel list comes back to a record it has visited.
    #[error("the channel list loops back to the record at offset {offset}")]
    ChannelLoop {
        /// The record met twice.
        offset: u32,
    },
    /// The header's channel count is not the length of the channel list.
    #[error("the header declares {declared} channels, the channel list links {linked}")]
    ChannelCount {
        /// The count at 0x56.
        declared: u32,
        /// The records the list links.
        linked: usize,
    },
    /// A channel record names a sample type this reader does not know.
    #[error("channel {channel} (record at {offset}): unknown sample type {kind} of {size} bytes")]
    UnknownDataType {
        /// The channel's position in the list.
        channel: usize,
        /// Its record's offset.
        offset: u32,
        /// The type word at 0x12.
        kind: u16,
        /// The size word at 0x14.
        size: u16,
    },
    /// The channels' samples add up to more bytes than the file has, so regions overlap.
    #[error("the channels' samples take {total} bytes, more than the file's {file_len}")]
    OverlappingData {
        /// The sum of the channels' data sizes.
        total: u64,
        /// The file's length.
        file_len: usize,
    },
}

/// Why an `.ld` file could not be written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LdWriteError {
    /// The sink failed.
    #[error("writing the .ld file failed")]
    Io(#[from] io::Error),
    /// There is no channel with this index.
    #[error("channel {channel} does not exist: the file has {channels}")]
    NoSuchChannel {
        /// The index given.
        channel: usize,
        /// The number of channels.
        channels: usize,
    },
    /// More samples than the channel declared.
    #[error(
        "channel {channel} declared {declared} samples and has {written}: {attempted} more do not fit"
    )]
    TooManySamples {
        /// The channel.
        channel: usize,
        /// Its declared count.
        declared: u32,
        /// The samples written so far.
        written: u32,
        /// The samples in the refused call.
        attempted: usize,
    },
    /// A channel got fewer samples than it declared.
    #[error("channel {channel} declared {declared} samples and got {written}")]
    MissingSamples {
        /// The first such channel.
        channel: usize,
        /// Its declared count.
        declared: u32,
        /// The samples it got.
        written: u32,
    },
    /// Samples of another type than the channel declared.
    #[error("channel {channel} stores {declared:?} samples, not {given:?}")]
    WrongDataType {
        /// The channel.
        channel: usize,
        /// Its declared type.
        declared: LdDataType,
        /// The type given.
        given: LdDataType,
    },
    /// A channel holds more samples than a file can declare.
    #[error("channel {channel} holds {samples} samples, at most 4294967295 fit a channel")]
    ChannelTooLong {
        /// The channel.
        channel: usize,
        /// Its samples.
        samples: usize,
    },
    /// The file would pass 4 GiB, beyond its 32-bit pointers.
    #[error("the file would take {bytes} bytes, at most 4294967295 are addressable")]
    FileTooLarge {
        /// The size it would have.
        bytes: u64,
    },
    /// The start date or time is out of range.
    #[error("{0} is not a valid date and time")]
    InvalidDateTime(LdDateTime),
}

// ---------------------------------------------------------------------------------------------
// Reading.

fn u16_at(block: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([block[at], block[at + 1]])
}

fn i16_at(block: &[u8], at: usize) -> i16 {
    i16::from_le_bytes([block[at], block[at + 1]])
}

fn u32_at(block: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([block[at], block[at + 1], block[at + 2], block[at + 3]])
}

/// The `len` bytes of `block` at `offset`, or the error naming them.
fn block_at(bytes: &[u8], block: LdBlock, offset: u64, len: u64) -> Result<&[u8], LdError> {
    let out_of_bounds = LdError::OutOfBounds {
        block,
        offset,
        needed: len,
        file_len: bytes.len(),
    };
    let end = offset.checked_add(len).ok_or(out_of_bounds)?;
    let (Ok(start), Ok(end)) = (usize::try_from(offset), usize::try_from(end)) else {
        return Err(out_of_bounds);
    };
    bytes.get(start..end).ok_or(out_of_bounds)
}

/// Windows-1252 bytes 0x80–0x9F; the five it leaves undefined map to the C1 controls, as
/// Windows does, so every byte but NUL decodes to a distinct character.
const CP1252_HIGH: [char; 32] = [
    '\u{20AC}', '\u{81}', '\u{201A}', '\u{192}', '\u{201E}', '\u{2026}', '\u{2020}', '\u{2021}',
    '\u{2C6}', '\u{2030}', '\u{160}', '\u{2039}', '\u{152}', '\u{8D}', '\u{17D}', '\u{8F}',
    '\u{90}', '\u{2018}', '\u{2019}', '\u{201C}', '\u{201D}', '\u{2022}', '\u{2013}', '\u{2014}',
    '\u{2DC}', '\u{2122}', '\u{161}', '\u{203A}', '\u{153}', '\u{9D}', '\u{17E}', '\u{178}',
];

fn byte_to_char(b: u8) -> char {
    match b {
        0x80..=0x9F => CP1252_HIGH[usize::from(b - 0x80)],
        _ => char::from(b),
    }
}

fn char_to_byte(c: char) -> Option<u8> {
    match u32::from(c) {
        0 => None,
        u @ (1..=0x7F | 0xA0..=0xFF) => u8::try_from(u).ok(),
        _ => CP1252_HIGH
            .iter()
            .position(|&h| h == c)
            .and_then(|i| u8::try_from(0x80 + i).ok()),
    }
}

/// A fixed-size text field: the bytes up to the first NUL, as Windows-1252.
fn text_at(block: &[u8], at: usize, len: usize) -> String {
    block[at..at + len]
        .iter()
        .take_while(|&&b| b != 0)
        .map(|&b| byte_to_char(b))
        .collect()
}

/// Writes `text` into a zeroed field of `len` bytes: at most `len − 1` characters, so a NUL
/// always ends it; characters Windows-1252 lacks (and NUL) become `?`.
fn put_text(block: &mut [u8], at: usize, len: usize, text: &str) {
    for (slot, c) in block[at..at + len - 1].iter_mut().zip(text.chars()) {
        *slot = char_to_byte(c).unwrap_or(b'?');
    }
}

fn parse_date(field: &str) -> Option<(u16, u8, u8)> {
    let mut parts = field.split('/');
    let day = small_number(parts.next()?, 2)?;
    let month = small_number(parts.next()?, 2)?;
    let year = small_number(parts.next()?, 4)?;
    if parts.next().is_some() {
        return None;
    }
    Some((
        u16::try_from(year).ok()?,
        u8::try_from(month).ok()?,
        u8::try_from(day).ok()?,
    ))
}

fn parse_time(field: &str) -> Option<(u8, u8, u8)> {
    let mut parts = field.split(':');
    let hour = small_number(parts.next()?, 2)?;
    let minute = small_number(parts.next()?, 2)?;
    let second = match parts.next() {
        Some(s) => small_number(s, 2)?,
        None => 0,
    };
    if parts.next().is_some() {
        return None;
    }
    Some((
        u8::try_from(hour).ok()?,
        u8::try_from(minute).ok()?,
        u8::try_from(second).ok()?,
    ))
}

/// One to `max_digits` ASCII digits.
fn small_number(s: &str, max_digits: usize) -> Option<u32> {
    let s = s.trim();
    if s.is_empty() || s.len() > max_digits || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

impl LdFile {
    /// Reads a whole `.ld` file from its bytes.
    ///
    /// Follows the pointers wherever they lead — blocks in any order, any padding between
    /// them, channel records and sample regions anywhere — and checks each against the file's
    /// length before reading it. Never panics, and allocates no more than the file's size
    /// warrants. The event, venue and vehicle blocks are optional (a zero pointer); the
    /// header's vehicle, venue and session fall back to theirs when empty.
    ///
    /// ```
    /// use purple_sector_core::motec::{LdChannel, LdError, LdFile, LdHeader};
    ///
    /// let file = LdFile {
    ///     header: LdHeader { driver: "A. Driver".into(), venue: "Imola".into(), ..LdHeader::default() },
    ///     channels: vec![LdChannel::f32("Ground Speed", "km/h", 100, vec![0.0, 12.5, 25.0])],
    /// };
    /// let bytes = file.to_bytes()?;
    /// let back = LdFile::parse(&bytes)?;
    /// assert_eq!(back, file);
    /// assert_eq!(back.channels[0].values(), [0.0, 12.5, 25.0]);
    ///
    /// // Errors say what was wrong, and where.
    /// assert!(matches!(LdFile::parse(&bytes[..100]), Err(LdError::OutOfBounds { needed: 1762, .. })));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn parse(bytes: &[u8]) -> Result<LdFile, LdError> {
        let h = block_at(bytes, LdBlock::Header, 0, HEADER_LEN as u64)?;
        let marker = u32_at(h, H_MARKER);
        if marker != LD_MARKER {
            return Err(LdError::BadMarker { found: marker });
        }
        let (year, month, day) =
            parse_date(&text_at(h, H_DATE, DATE_LEN)).ok_or(LdError::BadDate { offset: H_DATE })?;
        let (hour, minute, second) =
            parse_time(&text_at(h, H_TIME, TIME_LEN)).ok_or(LdError::BadTime { offset: H_TIME })?;
        if !(1..=12).contains(&month) || !(1..=31).contains(&day) {
            return Err(LdError::BadDate { offset: H_DATE });
        }
        if hour > 23 || minute > 59 || second > 59 {
            return Err(LdError::BadTime { offset: H_TIME });
        }
        let started = LdDateTime {
            year,
            month,
            day,
            hour,
            minute,
            second,
        };

        let mut header = LdHeader {
            driver: text_at(h, H_DRIVER, TEXT_64),
            vehicle: text_at(h, H_VEHICLE, TEXT_64),
            venue: text_at(h, H_VENUE, TEXT_64),
            session: text_at(h, H_SESSION, TEXT_64),
            short_comment: text_at(h, H_SHORT_COMMENT, TEXT_64),
            started,
            ..LdHeader::default()
        };
        read_event_chain(bytes, u64::from(u32_at(h, H_EVENT_PTR)), &mut header)?;

        let declared = u32_at(h, H_CHANNEL_COUNT);
        let records = channel_records(bytes, u32_at(h, H_META_PTR), declared)?;
        let metas = records
            .iter()
            .enumerate()
            .map(|(i, &offset)| ChannelRecord::read(bytes, i, offset))
            .collect::<Result<Vec<_>, _>>()?;
        let total: u64 = metas.iter().map(|m| m.data_len).sum();
        if total > bytes.len() as u64 {
            return Err(LdError::OverlappingData {
                total,
                file_len: bytes.len(),
            });
        }
        let channels = metas
            .into_iter()
            .enumerate()
            .map(|(i, m)| m.into_channel(bytes, i))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(LdFile { header, channels })
    }
}

/// The event block, then the venue and vehicle blocks it leads to, into `header`.
fn read_event_chain(bytes: &[u8], event_ptr: u64, header: &mut LdHeader) -> Result<(), LdError> {
    if event_ptr == 0 {
        return Ok(());
    }
    let e = block_at(bytes, LdBlock::Event, event_ptr, EVENT_LEN as u64)?;
    header.event = text_at(e, E_NAME, TEXT_64);
    let session = text_at(e, E_SESSION, TEXT_64);
    if !session.is_empty() {
        header.session = session;
    }
    header.long_comment = text_at(e, E_COMMENT, E_COMMENT_LEN);

    let venue_ptr = u64::from(u16_at(e, E_VENUE_PTR));
    if venue_ptr == 0 {
        return Ok(());
    }
    let v = block_at(bytes, LdBlock::Venue, venue_ptr, VENUE_LEN as u64)?;
    if header.venue.is_empty() {
        header.venue = text_at(v, V_NAME, TEXT_64);
    }

    let vehicle_ptr = u64::from(u16_at(v, V_VEHICLE_PTR));
    if vehicle_ptr == 0 {
        return Ok(());
    }
    let c = block_at(bytes, LdBlock::Vehicle, vehicle_ptr, VEHICLE_LEN as u64)?;
    if header.vehicle.is_empty() {
        header.vehicle = text_at(c, C_ID, TEXT_64);
    }
    header.vehicle_weight_kg = u32_at(c, C_WEIGHT);
    header.vehicle_type = text_at(c, C_TYPE, C_TEXT_LEN);
    header.vehicle_comment = text_at(c, C_COMMENT, C_TEXT_LEN);
    Ok(())
}

/// The offsets of the channel records, in list order: each one in bounds, none twice, as many
/// as the header declares.
fn channel_records(bytes: &[u8], first: u32, declared: u32) -> Result<Vec<u32>, LdError> {
    let mut records = Vec::new();
    let mut seen = HashSet::new();
    let mut next = first;
    while next != 0 {
        if !seen.insert(next) {
            return Err(LdError::ChannelLoop { offset: next });
        }
        let meta = block_at(
            bytes,
            LdBlock::ChannelMeta(records.len()),
            u64::from(next),
            META_KNOWN_LEN as u64,
        )?;
        records.push(next);
        next = u32_at(meta, M_NEXT);
    }
    if records.len() as u64 != u64::from(declared) {
        return Err(LdError::ChannelCount {
            declared,
            linked: records.len(),
        });
    }
    Ok(records)
}

/// A channel record, read and checked, before its samples.
struct ChannelRecord {
    data_ptr: u32,
    count: u32,
    data_type: LdDataType,
    data_len: u64,
    frequency_hz: u16,
    scaling: LdScaling,
    name: String,
    short_name: String,
    unit: String,
}

impl ChannelRecord {
    fn read(bytes: &[u8], index: usize, offset: u32) -> Result<Self, LdError> {
        let m = block_at(
            bytes,
            LdBlock::ChannelMeta(index),
            u64::from(offset),
            META_KNOWN_LEN as u64,
        )?;
        let count = u32_at(m, M_COUNT);
        let (kind, size) = (u16_at(m, M_KIND), u16_at(m, M_SIZE));
        let data_type = match LdDataType::from_codes(kind, size) {
            Some(t) => t,
            // Some exporters write junk types on channels they left empty.
            None if count == 0 => LdDataType::I16,
            None => {
                return Err(LdError::UnknownDataType {
                    channel: index,
                    offset,
                    kind,
                    size,
                });
            }
        };
        Ok(Self {
            data_ptr: u32_at(m, M_DATA_PTR),
            count,
            data_type,
            data_len: u64::from(count) * data_type.size_bytes() as u64,
            frequency_hz: u16_at(m, M_FREQ),
            scaling: LdScaling {
                shift: i16_at(m, M_SHIFT),
                mul: i16_at(m, M_MUL),
                scale: i16_at(m, M_SCALE),
                dec_places: i16_at(m, M_DEC),
            },
            name: text_at(m, M_NAME, M_NAME_LEN),
            short_name: text_at(m, M_SHORT, M_SHORT_LEN),
            unit: text_at(m, M_UNIT, M_UNIT_LEN),
        })
    }

    fn into_channel(self, bytes: &[u8], index: usize) -> Result<LdChannel, LdError> {
        let raw = if self.count == 0 {
            &[][..]
        } else {
            block_at(
                bytes,
                LdBlock::ChannelData(index),
                u64::from(self.data_ptr),
                self.data_len,
            )?
        };
        let data = match self.data_type {
            LdDataType::F32 => LdData::F32(
                raw.chunks_exact(4)
                    .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                    .collect(),
            ),
            LdDataType::F16 => LdData::F16(
                raw.chunks_exact(2)
                    .map(|c| u16::from_le_bytes([c[0], c[1]]))
                    .collect(),
            ),
            LdDataType::I16 => LdData::I16(
                raw.chunks_exact(2)
                    .map(|c| i16::from_le_bytes([c[0], c[1]]))
                    .collect(),
            ),
            LdDataType::I32 => LdData::I32(
                raw.chunks_exact(4)
                    .map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                    .collect(),
            ),
        };
        Ok(LdChannel {
            name: self.name,
            short_name: self.short_name,
            unit: self.unit,
            frequency_hz: self.frequency_hz,
            data,
            scaling: self.scaling,
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Writing.

/// A channel as [`LdWriter`] lays it out: everything but the samples, and how many there will be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LdChannelSpec {
    /// The name i2 shows (at most 31 characters are stored).
    pub name: String,
    /// The short name (at most 7 characters).
    pub short_name: String,
    /// The unit (at most 11 characters).
    pub unit: String,
    /// Samples per second.
    pub frequency_hz: u16,
    /// The stored type; [`LdWriter::append`] takes `f32` channels.
    pub data_type: LdDataType,
    /// Raw sample → physical value.
    pub scaling: LdScaling,
    /// Exactly how many samples the channel will get.
    pub sample_count: u32,
}

impl LdChannelSpec {
    /// An `f32` channel with no scaling and no short name.
    pub fn f32(
        name: impl Into<String>,
        unit: impl Into<String>,
        frequency_hz: u16,
        sample_count: u32,
    ) -> Self {
        Self {
            name: name.into(),
            short_name: String::new(),
            unit: unit.into(),
            frequency_hz,
            data_type: LdDataType::F32,
            scaling: LdScaling::IDENTITY,
            sample_count,
        }
    }
}

/// Where one channel's samples go.
#[derive(Debug, Clone, Copy)]
struct Region {
    start: u64,
    data_type: LdDataType,
    declared: u32,
    written: u32,
}

/// Samples encoded per write, so memory stays bounded whatever the caller passes.
const CHUNK_SAMPLES: usize = 16 * 1024;

/// Writes an `.ld` file with bounded memory: the layout is fixed up front from each channel's
/// sample count, then samples are appended to any channel, in chunks, in any interleaving.
///
/// [`new`](Self::new) writes the header, the event, venue and vehicle blocks and every channel
/// record at once; each channel's samples then have a region of their own, and
/// [`append`](Self::append) seeks to the channel's next free offset. Memory holds the layout
/// and one chunk, never the samples. [`finish`](Self::finish) checks that every channel got
/// exactly its count. The file occupies the sink from offset 0; a sink that held longer
/// content must be truncated by the caller ([`std::fs::File::create`] does).
///
/// ```
/// use std::io::Cursor;
/// use purple_sector_core::motec::{LdChannelSpec, LdFile, LdHeader, LdWriteError, LdWriter};
///
/// let specs = [
///     LdChannelSpec::f32("Ground Speed", "km/h", 100, 4),
///     LdChannelSpec::f32("Throttle Pos", "%", 50, 2),
/// ];
/// let mut writer = LdWriter::new(Cursor::new(Vec::new()), &LdHeader::default(), &specs)?;
/// writer.append(0, &[10.0, 11.0])?;
/// writer.append(1, &[100.0])?;
/// writer.append(0, &[12.0, 13.0])?;
/// writer.append(1, &[98.5])?;
/// assert!(matches!(
///     writer.append(1, &[97.0]),
///     Err(LdWriteError::TooManySamples { channel: 1, declared: 2, written: 2, attempted: 1 })
/// ));
/// let bytes = writer.finish()?.into_inner();
///
/// let file = LdFile::parse(&bytes)?;
/// assert_eq!(file.channels[0].values(), [10.0, 11.0, 12.0, 13.0]);
/// assert_eq!(file.channels[1].values(), [100.0, 98.5]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct LdWriter<W: Write + Seek> {
    out: W,
    regions: Vec<Region>,
    /// The sink's position, when known.
    position: Option<u64>,
    buffer: Vec<u8>,
}

impl<W: Write + Seek> LdWriter<W> {
    /// Lays the file out and writes everything but the samples.
    pub fn new(
        mut out: W,
        header: &LdHeader,
        channels: &[LdChannelSpec],
    ) -> Result<Self, LdWriteError> {
        if !header.started.is_valid() {
            return Err(LdWriteError::InvalidDateTime(header.started));
        }
        let data_at = META_AT as u64 + META_LEN as u64 * channels.len() as u64;
        let mut regions = Vec::with_capacity(channels.len());
        let mut end = data_at;
        for spec in channels {
            regions.push(Region {
                start: end,
                data_type: spec.data_type,
                declared: spec.sample_count,
                written: 0,
            });
            end += u64::from(spec.sample_count) * spec.data_type.size_bytes() as u64;
        }
        if end > u64::from(u32::MAX) {
            return Err(LdWriteError::FileTooLarge { bytes: end });
        }

        let prefix = layout(header, channels, &regions, data_at);
        out.seek(SeekFrom::Start(0))?;
        out.write_all(&prefix)?;
        Ok(Self {
            out,
            regions,
            position: Some(prefix.len() as u64),
            buffer: Vec::new(),
        })
    }

    /// Appends `f32` samples to channel `channel` (an index into the specs).
    ///
    /// Refuses, writing nothing, a channel that does not exist, one that is not `f32`, and
    /// more samples than the channel has left of its declared count.
    pub fn append(&mut self, channel: usize, samples: &[f32]) -> Result<(), LdWriteError> {
        self.check(channel, LdDataType::F32, samples.len())?;
        for chunk in samples.chunks(CHUNK_SAMPLES) {
            let mut buffer = std::mem::take(&mut self.buffer);
            buffer.clear();
            encode_f32(chunk, &mut buffer);
            let result = self.write_samples(channel, chunk.len(), &buffer);
            self.buffer = buffer;
            result?;
        }
        Ok(())
    }

    /// Appends samples of any type to channel `channel`; the type must be the channel's.
    pub fn append_data(&mut self, channel: usize, samples: &LdData) -> Result<(), LdWriteError> {
        self.check(channel, samples.data_type(), samples.len())?;
        let mut from = 0;
        while from < samples.len() {
            let to = samples.len().min(from + CHUNK_SAMPLES);
            let mut buffer = std::mem::take(&mut self.buffer);
            buffer.clear();
            samples.encode_range(from, to, &mut buffer);
            let result = self.write_samples(channel, to - from, &buffer);
            self.buffer = buffer;
            result?;
            from = to;
        }
        Ok(())
    }

    /// Checks that every channel got exactly its declared samples, flushes, and gives the sink
    /// back.
    pub fn finish(mut self) -> Result<W, LdWriteError> {
        if let Some((channel, r)) = self
            .regions
            .iter()
            .enumerate()
            .find(|(_, r)| r.written != r.declared)
        {
            return Err(LdWriteError::MissingSamples {
                channel,
                declared: r.declared,
                written: r.written,
            });
        }
        self.out.flush()?;
        Ok(self.out)
    }

    fn check(&self, channel: usize, given: LdDataType, n: usize) -> Result<(), LdWriteError> {
        let region = self
            .regions
            .get(channel)
            .ok_or(LdWriteError::NoSuchChannel {
                channel,
                channels: self.regions.len(),
            })?;
        if region.data_type != given {
            return Err(LdWriteError::WrongDataType {
                channel,
                declared: region.data_type,
                given,
            });
        }
        if n as u64 > u64::from(region.declared - region.written) {
            return Err(LdWriteError::TooManySamples {
                channel,
                declared: region.declared,
                written: region.written,
                attempted: n,
            });
        }
        Ok(())
    }

    /// Writes `n` checked samples, encoded in `bytes`, at the channel's next offset.
    fn write_samples(
        &mut self,
        channel: usize,
        n: usize,
        bytes: &[u8],
    ) -> Result<(), LdWriteError> {
        let Some(region) = self.regions.get_mut(channel) else {
            return Err(LdWriteError::NoSuchChannel {
                channel,
                channels: self.regions.len(),
            });
        };
        let at = region.start + u64::from(region.written) * region.data_type.size_bytes() as u64;
        if self.position != Some(at) {
            self.position = None;
            self.out.seek(SeekFrom::Start(at))?;
        }
        self.position = None;
        self.out.write_all(bytes)?;
        self.position = Some(at + bytes.len() as u64);
        // `check` bounded n by the declared count, a u32.
        region.written += u32::try_from(n).unwrap_or(u32::MAX);
        Ok(())
    }
}

/// Everything before the samples: header, event, venue and vehicle blocks (with the padding
/// real files have between them) and the channel records.
fn layout(header: &LdHeader, specs: &[LdChannelSpec], regions: &[Region], data_at: u64) -> Vec<u8> {
    let mut b = vec![0u8; META_AT + META_LEN * specs.len()];
    let put_u16 = |b: &mut [u8], at: usize, v: u16| b[at..at + 2].copy_from_slice(&v.to_le_bytes());
    let put_u32 = |b: &mut [u8], at: usize, v: u32| b[at..at + 4].copy_from_slice(&v.to_le_bytes());
    // The caller checked that the file fits 32-bit offsets.
    let offset = |v: u64| u32::try_from(v).unwrap_or(u32::MAX);

    // Header.
    let meta_at = if specs.is_empty() { 0 } else { META_AT as u32 };
    let s = header.started;
    put_u32(&mut b, H_MARKER, LD_MARKER);
    put_u32(&mut b, H_META_PTR, meta_at);
    put_u32(&mut b, H_DATA_PTR, offset(data_at));
    put_u32(&mut b, H_EVENT_PTR, EVENT_AT as u32);
    put_u16(&mut b, H_STATIC_1, STATIC_1);
    put_u16(&mut b, H_STATIC_2, STATIC_2);
    put_u16(&mut b, H_STATIC_3, STATIC_3);
    put_u32(&mut b, H_DEVICE_SERIAL, DEVICE_SERIAL);
    put_text(&mut b, H_DEVICE_TYPE, DEVICE_TYPE_LEN, DEVICE_TYPE);
    put_u16(&mut b, H_DEVICE_VERSION, DEVICE_VERSION);
    put_u16(&mut b, H_STATIC_4, STATIC_4);
    put_u32(&mut b, H_CHANNEL_COUNT, offset(specs.len() as u64));
    let date = format!("{:02}/{:02}/{:04}", s.day, s.month, s.year);
    let time = format!("{:02}:{:02}:{:02}", s.hour, s.minute, s.second);
    put_text(&mut b, H_DATE, DATE_LEN, &date);
    put_text(&mut b, H_TIME, TIME_LEN, &time);
    put_text(&mut b, H_DRIVER, TEXT_64, &header.driver);
    put_text(&mut b, H_VEHICLE, TEXT_64, &header.vehicle);
    put_text(&mut b, H_VENUE, TEXT_64, &header.venue);
    put_u32(&mut b, H_PRO_LOGGING, PRO_LOGGING_MAGIC);
    put_text(&mut b, H_SESSION, TEXT_64, &header.session);
    put_text(&mut b, H_SHORT_COMMENT, TEXT_64, &header.short_comment);

    // Event → venue → vehicle.
    let e = &mut b[EVENT_AT..EVENT_AT + EVENT_LEN];
    put_text(e, E_NAME, TEXT_64, &header.event);
    put_text(e, E_SESSION, TEXT_64, &header.session);
    put_text(e, E_COMMENT, E_COMMENT_LEN, &header.long_comment);
    put_u16(e, E_VENUE_PTR, VENUE_AT as u16);
    let v = &mut b[VENUE_AT..VENUE_AT + VENUE_LEN];
    put_text(v, V_NAME, TEXT_64, &header.venue);
    put_u16(v, V_VEHICLE_PTR, VEHICLE_AT as u16);
    let c = &mut b[VEHICLE_AT..VEHICLE_AT + VEHICLE_LEN];
    put_text(c, C_ID, TEXT_64, &header.vehicle);
    put_u32(c, C_WEIGHT, header.vehicle_weight_kg);
    put_text(c, C_TYPE, C_TEXT_LEN, &header.vehicle_type);
    put_text(c, C_COMMENT, C_TEXT_LEN, &header.vehicle_comment);

    // The channel list, in spec order.
    for (i, (spec, region)) in specs.iter().zip(regions).enumerate() {
        let at = META_AT + META_LEN * i;
        let prev = if i == 0 {
            0
        } else {
            offset((at - META_LEN) as u64)
        };
        let next = if i + 1 == specs.len() {
            0
        } else {
            offset((at + META_LEN) as u64)
        };
        let (kind, size) = spec.data_type.codes();
        let m = &mut b[at..at + META_LEN];
        put_u32(m, M_PREV, prev);
        put_u32(m, M_NEXT, next);
        put_u32(m, M_DATA_PTR, offset(region.start));
        put_u32(m, M_COUNT, spec.sample_count);
        put_u16(m, M_COUNTER, COUNTER_BASE.wrapping_add(i as u16));
        put_u16(m, M_KIND, kind);
        put_u16(m, M_SIZE, size);
        put_u16(m, M_FREQ, spec.frequency_hz);
        put_u16(m, M_SHIFT, spec.scaling.shift as u16);
        put_u16(m, M_MUL, spec.scaling.mul as u16);
        put_u16(m, M_SCALE, spec.scaling.scale as u16);
        put_u16(m, M_DEC, spec.scaling.dec_places as u16);
        put_text(m, M_NAME, M_NAME_LEN, &spec.name);
        put_text(m, M_SHORT, M_SHORT_LEN, &spec.short_name);
        put_text(m, M_UNIT, M_UNIT_LEN, &spec.unit);
    }
    b
}

impl LdFile {
    /// Writes the whole file to `out` (from its offset 0) through [`LdWriter`].
    pub fn write<W: Write + Seek>(&self, out: W) -> Result<(), LdWriteError> {
        let specs = self
            .channels
            .iter()
            .enumerate()
            .map(|(channel, c)| {
                c.spec().ok_or(LdWriteError::ChannelTooLong {
                    channel,
                    samples: c.data.len(),
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let mut writer = LdWriter::new(out, &self.header, &specs)?;
        for (i, channel) in self.channels.iter().enumerate() {
            writer.append_data(i, &channel.data)?;
        }
        writer.finish()?;
        Ok(())
    }

    /// The file's bytes.
    pub fn to_bytes(&self) -> Result<Vec<u8>, LdWriteError> {
        let mut out = io::Cursor::new(Vec::new());
        self.write(&mut out)?;
        Ok(out.into_inner())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::io::Cursor;

    fn le16(b: &[u8], at: usize) -> u16 {
        u16::from_le_bytes([b[at], b[at + 1]])
    }

    fn le32(b: &[u8], at: usize) -> u32 {
        u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
    }

    /// The text of a field, up to its first NUL, as ASCII.
    fn ascii(b: &[u8], at: usize, len: usize) -> &str {
        let field = &b[at..at + len];
        let end = field.iter().position(|&c| c == 0).unwrap_or(len);
        std::str::from_utf8(&field[..end]).unwrap()
    }

    fn header() -> LdHeader {
        LdHeader {
            driver: "A. Driver".into(),
            vehicle: "ks_mazda_mx5_cup".into(),
            vehicle_type: "Car".into(),
            vehicle_comment: "cup spec".into(),
            vehicle_weight_kg: 1065,
            venue: "imola".into(),
            event: "Purple Sector".into(),
            session: "Practice".into(),
            short_comment: "stint 1".into(),
            long_comment: "dry, 24 °C".into(),
            started: LdDateTime {
                year: 2026,
                month: 11,
                day: 25,
                hour: 9,
                minute: 53,
                second: 7,
            },
        }
    }

    fn two_channels() -> LdFile {
        LdFile {
            header: header(),
            channels: vec![
                LdChannel {
                    short_name: "Speed".into(),
                    ..LdChannel::f32("Ground Speed", "km/h", 333, vec![1.5, -2.25, 300.0])
                },
                LdChannel {
                    name: "Oil Temp".into(),
                    short_name: "Oil T".into(),
                    unit: "C".into(),
                    frequency_hz: 10,
                    data: LdData::I16(vec![199, -5]),
                    scaling: LdScaling {
                        shift: 3,
                        mul: 2,
                        scale: 4,
                        dec_places: 1,
                    },
                },
            ],
        }
    }

    #[test]
    fn blocks_have_the_public_sizes_and_places() {
        assert_eq!(HEADER_LEN, 1762);
        assert_eq!(EVENT_LEN, 64 + 64 + 1024 + 2);
        assert_eq!(VENUE_LEN, 64 + 1034 + 2);
        assert_eq!(VEHICLE_LEN, 64 + 128 + 4 + 32 + 32);
        assert_eq!(META_KNOWN_LEN, 4 * 4 + 2 * 8 + 32 + 8 + 12);
        assert_eq!(META_LEN, META_KNOWN_LEN + 40);
        // Header fields, each after the one before it.
        let header = [
            (H_MARKER, 0x000, 4),
            (H_META_PTR, 0x008, 4),
            (H_DATA_PTR, 0x00C, 4),
            (H_EVENT_PTR, 0x024, 4),
            (H_STATIC_1, 0x040, 2),
            (H_STATIC_2, 0x042, 2),
            (H_STATIC_3, 0x044, 2),
            (H_DEVICE_SERIAL, 0x046, 4),
            (H_DEVICE_TYPE, 0x04A, 8),
            (H_DEVICE_VERSION, 0x052, 2),
            (H_STATIC_4, 0x054, 2),
            (H_CHANNEL_COUNT, 0x056, 4),
            (H_DATE, 0x05E, 16),
            (H_TIME, 0x07E, 16),
            (H_DRIVER, 0x09E, 64),
            (H_VEHICLE, 0x0DE, 64),
            (H_VENUE, 0x15E, 64),
            (H_PRO_LOGGING, 0x5DE, 4),
            (H_SESSION, 0x5E4, 64),
            (H_SHORT_COMMENT, 0x624, 64),
        ];
        let mut end = 0;
        for (constant, literal, size) in header {
            assert_eq!(constant, literal);
            assert!(literal >= end, "{literal:#x} overlaps the field before");
            end = literal + size;
        }
        assert_eq!(end + 126, HEADER_LEN);
        assert_eq!(
            (E_NAME, E_SESSION, E_COMMENT, E_VENUE_PTR),
            (0, 0x40, 0x80, 0x480)
        );
        assert_eq!((V_NAME, V_VEHICLE_PTR), (0, 0x44A));
        assert_eq!((C_ID, C_WEIGHT, C_TYPE, C_COMMENT), (0, 0xC0, 0xC4, 0xE4));
        assert_eq!(C_COMMENT + C_TEXT_LEN, VEHICLE_LEN);
        let meta = [
            (M_PREV, 0x00),
            (M_NEXT, 0x04),
            (M_DATA_PTR, 0x08),
            (M_COUNT, 0x0C),
            (M_COUNTER, 0x10),
            (M_KIND, 0x12),
            (M_SIZE, 0x14),
            (M_FREQ, 0x16),
            (M_SHIFT, 0x18),
            (M_MUL, 0x1A),
            (M_SCALE, 0x1C),
            (M_DEC, 0x1E),
            (M_NAME, 0x20),
            (M_SHORT, 0x40),
            (M_UNIT, 0x48),
        ];
        for (constant, literal) in meta {
            assert_eq!(constant, literal);
        }
        assert_eq!(M_UNIT + M_UNIT_LEN, META_KNOWN_LEN);
        // Our placement: a MoTeC file's, each block inside its slot, 16-bit pointers fitting.
        assert_eq!(
            (EVENT_AT, VENUE_AT, VEHICLE_AT, META_AT),
            (1762, 4918, 8020, 13384)
        );
        // Each block inside its slot, the 16-bit pointers fitting: checked at compile time
        // next to the constants.
    }

    #[test]
    fn written_bytes_sit_at_the_documented_offsets() {
        let b = two_channels().to_bytes().unwrap();
        // Header.
        assert_eq!(le32(&b, 0x000), 0x40);
        assert_eq!(le32(&b, 0x004), 0);
        assert_eq!(le32(&b, 0x008), 0x3448);
        assert_eq!(le32(&b, 0x00C), 0x3448 + 2 * 124);
        assert_eq!(le32(&b, 0x024), 0x6E2);
        assert_eq!(
            (le16(&b, 0x40), le16(&b, 0x42), le16(&b, 0x44)),
            (1, 0x4240, 0xF)
        );
        assert_eq!(le32(&b, 0x046), 0x1F44);
        assert_eq!(ascii(&b, 0x04A, 8), "ADL");
        assert_eq!(le16(&b, 0x052), 420);
        assert_eq!(le16(&b, 0x054), 0xADB0);
        assert_eq!(le32(&b, 0x056), 2);
        assert_eq!(ascii(&b, 0x05E, 16), "25/11/2026");
        assert_eq!(ascii(&b, 0x07E, 16), "09:53:07");
        assert_eq!(ascii(&b, 0x09E, 64), "A. Driver");
        assert_eq!(ascii(&b, 0x0DE, 64), "ks_mazda_mx5_cup");
        assert_eq!(ascii(&b, 0x15E, 64), "imola");
        assert_eq!(le32(&b, 0x5DE), 0xC81A4);
        assert_eq!(ascii(&b, 0x5E4, 64), "Practice");
        assert_eq!(ascii(&b, 0x624, 64), "stint 1");
        // Event → venue → vehicle.
        assert_eq!(ascii(&b, 0x6E2, 64), "Purple Sector");
        assert_eq!(ascii(&b, 0x6E2 + 0x40, 64), "Practice");
        assert_eq!(&b[0x6E2 + 0x80..0x6E2 + 0x80 + 11], b"dry, 24 \xB0C\0");
        assert_eq!(le16(&b, 0x6E2 + 0x480), 0x1336);
        assert_eq!(ascii(&b, 0x1336, 64), "imola");
        assert_eq!(le16(&b, 0x1336 + 0x44A), 0x1F54);
        assert_eq!(ascii(&b, 0x1F54, 64), "ks_mazda_mx5_cup");
        assert_eq!(le32(&b, 0x1F54 + 0xC0), 1065);
        assert_eq!(ascii(&b, 0x1F54 + 0xC4, 32), "Car");
        assert_eq!(ascii(&b, 0x1F54 + 0xE4, 32), "cup spec");
        // Channel records.
        let (m0, m1) = (0x3448, 0x3448 + 124);
        let (d0, d1) = (0x3448 + 248, 0x3448 + 248 + 12);
        assert_eq!(
            (
                le32(&b, m0),
                le32(&b, m0 + 4),
                le32(&b, m0 + 8),
                le32(&b, m0 + 12)
            ),
            (0, m1 as u32, d0 as u32, 3)
        );
        assert_eq!(
            (
                le32(&b, m1),
                le32(&b, m1 + 4),
                le32(&b, m1 + 8),
                le32(&b, m1 + 12)
            ),
            (m0 as u32, 0, d1 as u32, 2)
        );
        assert_eq!(
            [0x10, 0x12, 0x14, 0x16, 0x18, 0x1A, 0x1C, 0x1E].map(|o| le16(&b, m0 + o)),
            [0x2EE1, 7, 4, 333, 0, 1, 1, 0]
        );
        assert_eq!(
            [0x10, 0x12, 0x14, 0x16, 0x18, 0x1A, 0x1C, 0x1E].map(|o| le16(&b, m1 + o)),
            [0x2EE2, 3, 2, 10, 3, 2, 4, 1]
        );
        assert_eq!(ascii(&b, m0 + 0x20, 32), "Ground Speed");
        assert_eq!(ascii(&b, m0 + 0x40, 8), "Speed");
        assert_eq!(ascii(&b, m0 + 0x48, 12), "km/h");
        assert_eq!(ascii(&b, m1 + 0x20, 32), "Oil Temp");
        assert!(b[m0 + 0x54..m0 + 124].iter().all(|&x| x == 0));
        // Samples, then nothing.
        assert_eq!(&b[d0..d0 + 4], &1.5f32.to_le_bytes());
        assert_eq!(&b[d0 + 8..d0 + 12], &300.0f32.to_le_bytes());
        assert_eq!(&b[d1..d1 + 4], &[199, 0, 0xFB, 0xFF]);
        assert_eq!(b.len(), d1 + 4);
    }

    #[test]
    fn header_fields_round_trip() {
        let file = two_channels();
        let back = LdFile::parse(&file.to_bytes().unwrap()).unwrap();
        assert_eq!(back.header, file.header);
        assert_eq!(back, file);
    }

    #[test]
    fn long_text_is_cut_to_its_field_and_foreign_characters_become_question_marks() {
        let mut file = two_channels();
        file.header.driver = "x".repeat(100);
        file.channels[0].name = "n".repeat(40);
        file.channels[0].short_name = "Ground Speed".into();
        file.channels[0].unit = "°C € ✓".into();
        let back = LdFile::parse(&file.to_bytes().unwrap()).unwrap();
        assert_eq!(back.header.driver, "x".repeat(63));
        assert_eq!(back.channels[0].name, "n".repeat(31));
        assert_eq!(back.channels[0].short_name, "Ground ");
        assert_eq!(back.channels[0].unit, "°C € ?");
    }

    #[test]
    fn windows_1252_maps_every_byte_but_nul_to_its_own_character() {
        let mut seen = HashSet::new();
        for b in 1..=255u8 {
            let c = byte_to_char(b);
            assert!(seen.insert(c), "{b:#x}");
            assert_eq!(char_to_byte(c), Some(b), "{b:#x}");
        }
        assert_eq!(char_to_byte('°'), Some(0xB0));
        assert_eq!(char_to_byte('€'), Some(0x80));
        assert_eq!(char_to_byte('\u{80}'), None);
        assert_eq!(char_to_byte('\0'), None);
    }

    #[test]
    fn half_floats_decode_exactly() {
        let cases: [(u16, f32); 9] = [
            (0x0000, 0.0),
            (0x3C00, 1.0),
            (0xC000, -2.0),
            (0x3555, 0.333_251_95),
            (0x7BFF, 65_504.0),
            (0x0400, 6.103_515_6e-5),
            (0x0001, 5.960_464_5e-8),
            (0x7C00, f32::INFINITY),
            (0xFC00, f32::NEG_INFINITY),
        ];
        for (bits, value) in cases {
            assert_eq!(f16_to_f32(bits).to_bits(), value.to_bits(), "{bits:#06x}");
        }
        assert_eq!(f16_to_f32(0x8000).to_bits(), (-0.0f32).to_bits());
        assert_eq!(f16_to_f32(0x83FF), -(1023.0 * 2f32.powi(-24)));
        assert!(f16_to_f32(0x7E00).is_nan());
        // Every finite half agrees with the value its fields describe.
        for bits in 0..=u16::MAX {
            let (e, m) = (i32::from((bits >> 10) & 0x1F), f64::from(bits & 0x3FF));
            if e == 0x1F {
                continue;
            }
            let magnitude = if e == 0 {
                m * 2f64.powi(-24)
            } else {
                (1.0 + m / 1024.0) * 2f64.powi(e - 15)
            };
            let value = if bits & 0x8000 != 0 {
                -magnitude
            } else {
                magnitude
            };
            assert_eq!(f64::from(f16_to_f32(bits)), value, "{bits:#06x}");
        }
    }

    #[test]
    fn every_data_type_decodes_with_scaling() {
        let scaled = |shift, mul, scale, dec_places| LdScaling {
            shift,
            mul,
            scale,
            dec_places,
        };
        let channel = |data, scaling| LdChannel {
            name: "c".into(),
            short_name: String::new(),
            unit: String::new(),
            frequency_hz: 1,
            data,
            scaling,
        };
        let file = LdFile {
            header: LdHeader::default(),
            channels: vec![
                channel(LdData::F32(vec![1.5, -2.0]), scaled(10, 2, 1, 0)),
                channel(LdData::F16(vec![0x3C00, 0xC000]), scaled(0, 1, 2, 1)),
                channel(LdData::I16(vec![199, -5]), scaled(0, 1, 1, 1)),
                channel(LdData::I32(vec![100_000, -3]), scaled(-1, 3, 4, 0)),
                channel(LdData::I16(vec![7]), scaled(0, 1, 0, -2)),
            ],
        };
        let back = LdFile::parse(&file.to_bytes().unwrap()).unwrap();
        assert_eq!(back, file);
        let expected: [&[f64]; 5] = [
            &[23.0, 16.0],
            &[0.05, -0.1],
            &[19.9, -0.5],
            &[74_997.0, -5.25],
            &[700.0], // a zero scale is taken as 1
        ];
        for (c, want) in back.channels.iter().zip(expected) {
            let got = c.values();
            assert_eq!(got.len(), want.len());
            for (g, w) in got.iter().zip(want) {
                assert!((g - w).abs() < 1e-9, "{:?}: {g} vs {w}", c.data);
            }
        }
    }

    /// A file as another writer might lay it out: blocks packed with no padding (the 16-bit
    /// venue pointer right before the venue's name), short 116-byte channel records listed in
    /// the opposite order of their places, samples with gaps between them, a date and time
    /// without leading zeros or seconds, integer type code 0, and junk after a field's NUL.
    fn foreign_file() -> Vec<u8> {
        let (event, venue, vehicle) = (0x6E2, 0x6E2 + 0x482, 0x6E2 + 0x482 + 0x44C);
        let (first_record, second_record) = (0x1100 + 116, 0x1100);
        let (first_data, second_data) = (0x1300, 0x1200);
        let mut b = vec![0u8; 0x1310];
        let put = |b: &mut Vec<u8>, at: usize, bytes: &[u8]| {
            b[at..at + bytes.len()].copy_from_slice(bytes);
        };
        put(&mut b, 0, &0x40u32.to_le_bytes());
        put(&mut b, 0x08, &(first_record as u32).to_le_bytes());
        put(&mut b, 0x0C, &(second_record as u32).to_le_bytes());
        put(&mut b, 0x24, &(event as u32).to_le_bytes());
        put(&mut b, 0x56, &2u32.to_le_bytes());
        put(&mut b, 0x5E, b"3/7/2021");
        put(&mut b, 0x7E, b"14:05");
        put(&mut b, 0xDD, b" "); // after the driver's NUL, as a MoTeC sample file has
        put(&mut b, 0x15E, b"Spa");
        put(&mut b, event, b"GT Open");
        put(&mut b, event + 0x40, b"Q1");
        put(&mut b, event + 0x480, &(venue as u16).to_le_bytes());
        put(&mut b, venue, b"Spa-Francorchamps");
        put(&mut b, venue + 0x44A, &(vehicle as u16).to_le_bytes());
        put(&mut b, vehicle, b"911 GT3 R");
        put(&mut b, vehicle + 0xC0, &1250u32.to_le_bytes());
        put(&mut b, vehicle + 0xC4, b"GT3");
        let record = |b: &mut Vec<u8>, at: usize, next: usize, data: usize, fields: [u16; 8]| {
            put(b, at + 4, &(next as u32).to_le_bytes());
            put(b, at + 8, &(data as u32).to_le_bytes());
            put(b, at + 12, &2u32.to_le_bytes());
            for (i, f) in fields.iter().enumerate() {
                put(b, at + 0x10 + 2 * i, &f.to_le_bytes());
            }
        };
        // counter, type, size, Hz, shift, mul, scale, dec
        record(
            &mut b,
            first_record,
            second_record,
            first_data,
            [9, 0, 4, 20, 0, 1, 1, 2],
        );
        put(&mut b, first_record + 0x20, b"Brake Temp FL");
        put(&mut b, first_record + 0x40, b"BrkTFL");
        put(&mut b, first_record + 0x48, b"C");
        record(
            &mut b,
            second_record,
            0,
            second_data,
            [4, 7, 2, 50, 0, 1, 1, 0],
        );
        put(&mut b, second_record + 0x20, b"Steered Angle");
        put(&mut b, second_record + 0x48, b"deg");
        put(
            &mut b,
            first_data,
            &[0x10, 0x27, 0, 0, 0xF6, 0xFF, 0xFF, 0xFF],
        ); // 10000, -10
        put(&mut b, second_data, &[0x00, 0x3C, 0x00, 0xC0]); // 1.0, -2.0
        b
    }

    #[test]
    fn reads_a_file_laid_out_by_another_tool() {
        let file = LdFile::parse(&foreign_file()).unwrap();
        let h = &file.header;
        assert_eq!(h.driver, "");
        assert_eq!(h.vehicle, "911 GT3 R"); // the header's is empty: the vehicle block's
        assert_eq!(h.venue, "Spa"); // the header's wins
        assert_eq!((h.event.as_str(), h.session.as_str()), ("GT Open", "Q1"));
        assert_eq!(
            (h.vehicle_type.as_str(), h.vehicle_weight_kg),
            ("GT3", 1250)
        );
        assert_eq!(
            h.started,
            LdDateTime {
                year: 2021,
                month: 7,
                day: 3,
                hour: 14,
                minute: 5,
                second: 0
            }
        );
        let names: Vec<_> = file.channels.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["Brake Temp FL", "Steered Angle"]);
        let brake = &file.channels[0];
        assert_eq!(
            (
                brake.short_name.as_str(),
                brake.unit.as_str(),
                brake.frequency_hz
            ),
            ("BrkTFL", "C", 20)
        );
        assert_eq!(brake.data, LdData::I32(vec![10_000, -10]));
        assert_eq!(brake.values(), [100.0, -0.1]);
        assert_eq!(file.channels[1].data, LdData::F16(vec![0x3C00, 0xC000]));
        assert_eq!(file.channels[1].values(), [1.0, -2.0]);
    }

    #[test]
    fn a_file_without_channels_or_blocks_reads() {
        let file = LdFile {
            header: header(),
            channels: vec![],
        };
        let b = file.to_bytes().unwrap();
        assert_eq!(le32(&b, 0x08), 0);
        assert_eq!(b.len(), 0x3448);
        assert_eq!(LdFile::parse(&b).unwrap(), file);
        // No event block: the header alone.
        let mut b = b[..HEADER_LEN].to_vec();
        b[0x24..0x28].fill(0);
        let back = LdFile::parse(&b).unwrap();
        assert_eq!(back.header.venue, "imola");
        assert_eq!(back.header.session, "Practice"); // from the header's own field
        assert_eq!(back.header.event, "");
    }

    #[test]
    fn corrupt_files_give_typed_errors() {
        let good = two_channels().to_bytes().unwrap();
        let len = good.len();
        let patched = |at: usize, bytes: &[u8]| {
            let mut b = good.clone();
            b[at..at + bytes.len()].copy_from_slice(bytes);
            LdFile::parse(&b)
        };
        assert_eq!(
            LdFile::parse(&good[..1000]),
            Err(LdError::OutOfBounds {
                block: LdBlock::Header,
                offset: 0,
                needed: 1762,
                file_len: 1000
            })
        );
        assert_eq!(patched(0, &[0x41]), Err(LdError::BadMarker { found: 0x41 }));
        assert_eq!(
            patched(0x24, &0xFFFF_FFF0u32.to_le_bytes()),
            Err(LdError::OutOfBounds {
                block: LdBlock::Event,
                offset: 0xFFFF_FFF0,
                needed: 0x482,
                file_len: len
            })
        );
        assert_eq!(
            patched(0x6E2 + 0x480, &0xFF00u16.to_le_bytes()),
            Err(LdError::OutOfBounds {
                block: LdBlock::Venue,
                offset: 0xFF00,
                needed: 0x44C,
                file_len: len
            })
        );
        assert_eq!(
            patched(0x5E, b"31/13/2020"),
            Err(LdError::BadDate { offset: 0x5E })
        );
        assert_eq!(
            patched(0x5E, b"25-11-2026"),
            Err(LdError::BadDate { offset: 0x5E })
        );
        assert_eq!(
            patched(0x7E, b"24:00:00"),
            Err(LdError::BadTime { offset: 0x7E })
        );
        assert_eq!(patched(0x7E, b"\0"), Err(LdError::BadTime { offset: 0x7E }));
        assert_eq!(
            patched(0x56, &3u32.to_le_bytes()),
            Err(LdError::ChannelCount {
                declared: 3,
                linked: 2
            })
        );
        // The second record links back to the first.
        assert_eq!(
            patched(0x3448 + 124 + 4, &0x3448u32.to_le_bytes()),
            Err(LdError::ChannelLoop { offset: 0x3448 })
        );
        assert_eq!(
            patched(0x3448 + 4, &(len as u32 - 10).to_le_bytes()),
            Err(LdError::OutOfBounds {
                block: LdBlock::ChannelMeta(1),
                offset: len as u64 - 10,
                needed: 84,
                file_len: len
            })
        );
        assert_eq!(
            patched(0x3448 + 0x12, &[9, 0]),
            Err(LdError::UnknownDataType {
                channel: 0,
                offset: 0x3448,
                kind: 9,
                size: 4
            })
        );
        assert_eq!(
            patched(0x3448 + 124 + 12, &3u32.to_le_bytes()),
            Err(LdError::OutOfBounds {
                block: LdBlock::ChannelData(1),
                offset: 0x3448 + 248 + 12,
                needed: 6,
                file_len: len
            })
        );
    }

    #[test]
    fn an_empty_channel_with_a_junk_type_reads_as_empty() {
        let mut b = two_channels().to_bytes().unwrap();
        b[0x3448 + 12..0x3448 + 16].fill(0);
        b[0x3448 + 0x12..0x3448 + 0x16].copy_from_slice(&[0x80, 0x44, 5, 0]);
        let file = LdFile::parse(&b).unwrap();
        assert_eq!(file.channels[0].data, LdData::I16(vec![]));
        assert_eq!(file.channels[1].data, LdData::I16(vec![199, -5]));
    }

    #[test]
    fn overlapping_sample_regions_are_refused_before_allocating() {
        let file = LdFile {
            header: LdHeader::default(),
            channels: vec![
                LdChannel::f32("a", "", 1, vec![0.0; 8000]),
                LdChannel::f32("b", "", 1, vec![]),
            ],
        };
        let mut b = file.to_bytes().unwrap();
        let len = b.len();
        let count = ((len - 0x3448) / 4) as u32;
        for record in [0x3448, 0x3448 + 124] {
            b[record + 8..record + 12].copy_from_slice(&0x3448u32.to_le_bytes());
            b[record + 12..record + 16].copy_from_slice(&count.to_le_bytes());
        }
        assert_eq!(
            LdFile::parse(&b),
            Err(LdError::OverlappingData {
                total: 2 * 4 * u64::from(count),
                file_len: len
            })
        );
    }

    #[test]
    fn interleaved_appends_give_the_bytes_of_a_whole_file_write() {
        let mut file = two_channels();
        file.channels[1] =
            LdChannel::f32("Throttle Pos", "%", 50, (0..7).map(|i| i as f32).collect());
        file.channels
            .push(LdChannel::f32("Brake Pos", "%", 50, vec![]));
        let specs: Vec<_> = file.channels.iter().map(|c| c.spec().unwrap()).collect();
        let mut w = LdWriter::new(Cursor::new(Vec::new()), &file.header, &specs).unwrap();
        let (LdData::F32(a), LdData::F32(b)) = (&file.channels[0].data, &file.channels[1].data)
        else {
            unreachable!()
        };
        w.append(1, &b[..3]).unwrap();
        w.append(0, &a[..1]).unwrap();
        w.append(2, &[]).unwrap();
        w.append(1, &b[3..4]).unwrap();
        w.append(0, &a[1..]).unwrap();
        w.append(1, &b[4..]).unwrap();
        let bytes = w.finish().unwrap().into_inner();
        assert_eq!(bytes, file.to_bytes().unwrap());
    }

    #[test]
    fn the_writer_refuses_what_does_not_fit_and_writes_nothing() {
        let specs = [
            LdChannelSpec::f32("a", "", 1, 2),
            LdChannelSpec {
                data_type: LdDataType::I16,
                ..LdChannelSpec::f32("b", "", 1, 1)
            },
        ];
        let mut w = LdWriter::new(Cursor::new(Vec::new()), &LdHeader::default(), &specs).unwrap();
        w.append(0, &[1.0]).unwrap();
        let before = w.out.get_ref().clone();
        assert!(matches!(
            w.append(0, &[2.0, 3.0]),
            Err(LdWriteError::TooManySamples {
                channel: 0,
                declared: 2,
                written: 1,
                attempted: 2
            })
        ));
        assert!(matches!(
            w.append(2, &[2.0]),
            Err(LdWriteError::NoSuchChannel {
                channel: 2,
                channels: 2
            })
        ));
        assert!(matches!(
            w.append(1, &[2.0]),
            Err(LdWriteError::WrongDataType {
                channel: 1,
                declared: LdDataType::I16,
                given: LdDataType::F32
            })
        ));
        assert_eq!(w.out.get_ref(), &before);
        w.append_data(1, &LdData::I16(vec![4])).unwrap();
        assert!(matches!(
            w.finish(),
            Err(LdWriteError::MissingSamples {
                channel: 0,
                declared: 2,
                written: 1
            })
        ));

        let bad = LdHeader {
            started: LdDateTime {
                month: 13,
                ..LdDateTime::default()
            },
            ..LdHeader::default()
        };
        assert!(matches!(
            LdWriter::new(Cursor::new(Vec::new()), &bad, &specs),
            Err(LdWriteError::InvalidDateTime(d)) if d.month == 13
        ));
        let huge = [LdChannelSpec::f32("a", "", 1, u32::MAX)];
        assert!(matches!(
            LdWriter::new(Cursor::new(Vec::new()), &LdHeader::default(), &huge),
            Err(LdWriteError::FileTooLarge { bytes }) if bytes == 0x3448 + 124 + 4 * u64::from(u32::MAX)
        ));
    }

    #[test]
    fn long_channels_are_written_in_chunks() {
        let n = 2 * CHUNK_SAMPLES + 17;
        let file = LdFile {
            header: LdHeader::default(),
            channels: vec![
                LdChannel::f32("a", "", 1, (0..n).map(|i| i as f32).collect()),
                LdChannel {
                    data: LdData::I32((0..n as i32).collect()),
                    ..LdChannel::f32("b", "", 1, vec![])
                },
            ],
        };
        assert_eq!(LdFile::parse(&file.to_bytes().unwrap()).unwrap(), file);
    }

    /// Reads a MoTeC-written file when `MOTEC_SAMPLE_LD` names one: `samples/Sample1.ld` of
    /// afonso360/motec-i2, whose values its own tests list. Not shipped here (not ours to ship).
    /// Runs when `MOTEC_SAMPLE_LD` names the file; says so and passes otherwise.
    #[test]
    fn reads_a_motec_sample_file() {
        let Ok(path) = std::env::var("MOTEC_SAMPLE_LD") else {
            eprintln!("MOTEC_SAMPLE_LD is not set: MoTeC's Sample1.ld not read");
            return;
        };
        let file = LdFile::parse(&std::fs::read(path).unwrap()).unwrap();
        let h = &file.header;
        assert_eq!(h.started.to_string(), "23/11/2005 09:53:00");
        assert_eq!((h.vehicle.as_str(), h.venue.as_str()), ("11A", "Calder"));
        assert_eq!((h.event.as_str(), h.session.as_str()), ("i2 data day", "2"));
        assert_eq!(h.short_comment, "second warmup");
        assert_eq!(h.long_comment, "Calder Park, 23/11/05, fine sunny day");
        assert_eq!(h.vehicle_type, "Car");
        assert_eq!(file.channels.len(), 78);
        let air = &file.channels[0];
        assert_eq!(
            (
                air.name.as_str(),
                air.short_name.as_str(),
                air.unit.as_str()
            ),
            ("Air Temp Inlet", "Air Tem", "C")
        );
        assert_eq!((air.frequency_hz, air.data.len()), (2, 908));
        let first: Vec<f64> = air.values().into_iter().take(3).collect();
        assert!((first[0] - 19.9).abs() < 1e-9 && (first[2] - 20.1).abs() < 1e-9);
        let last = &file.channels[77];
        assert_eq!(
            (last.name.as_str(), last.data.len()),
            ("Steered Angle", 9080)
        );
    }

    // Strategies.

    /// Text that survives a field of `max` characters: Windows-1252 characters but NUL.
    fn text(max: usize) -> impl Strategy<Value = String> {
        proptest::collection::vec(1u8..=255, 0..=max)
            .prop_map(|bytes| bytes.into_iter().map(byte_to_char).collect())
    }

    fn date_time() -> impl Strategy<Value = LdDateTime> {
        (
            0u16..=9999,
            1u8..=12,
            1u8..=31,
            0u8..=23,
            0u8..=59,
            0u8..=59,
        )
            .prop_map(|(year, month, day, hour, minute, second)| LdDateTime {
                year,
                month,
                day,
                hour,
                minute,
                second,
            })
    }

    fn ld_header() -> impl Strategy<Value = LdHeader> {
        (
            (text(63), text(63), text(31), text(31), any::<u32>()),
            (text(63), text(63), text(63), text(63), text(300)),
            date_time(),
        )
            .prop_map(
                |(
                    (driver, vehicle, vehicle_type, vehicle_comment, vehicle_weight_kg),
                    (venue, event, session, short_comment, long_comment),
                    started,
                )| LdHeader {
                    driver,
                    vehicle,
                    vehicle_type,
                    vehicle_comment,
                    vehicle_weight_kg,
                    venue,
                    event,
                    session,
                    short_comment,
                    long_comment,
                    started,
                },
            )
    }

    fn ld_data() -> impl Strategy<Value = LdData> {
        use proptest::collection::vec;
        prop_oneof![
            vec(any::<u32>().prop_map(f32::from_bits), 0..40).prop_map(LdData::F32),
            vec(any::<u16>(), 0..40).prop_map(LdData::F16),
            vec(any::<i16>(), 0..40).prop_map(LdData::I16),
            vec(any::<i32>(), 0..40).prop_map(LdData::I32),
        ]
    }

    fn ld_channel() -> impl Strategy<Value = LdChannel> {
        (
            (text(31), text(7), text(11), any::<u16>()),
            ld_data(),
            any::<[i16; 4]>(),
        )
            .prop_map(
                |((name, short_name, unit, frequency_hz), data, [shift, mul, scale, dec])| {
                    LdChannel {
                        name,
                        short_name,
                        unit,
                        frequency_hz,
                        data,
                        scaling: LdScaling {
                            shift,
                            mul,
                            scale,
                            dec_places: dec,
                        },
                    }
                },
            )
    }

    fn ld_file() -> impl Strategy<Value = LdFile> {
        (ld_header(), proptest::collection::vec(ld_channel(), 0..6))
            .prop_map(|(header, channels)| LdFile { header, channels })
    }

    proptest! {
        #[test]
        fn files_round_trip_bit_exact(file in ld_file()) {
            let bytes = file.to_bytes().unwrap();
            prop_assert_eq!(LdFile::parse(&bytes).unwrap(), file);
        }

        #[test]
        fn any_interleaving_of_appends_gives_the_same_bytes(
            counts in proptest::collection::vec(0u32..30, 1..5),
            schedule in proptest::collection::vec((any::<prop::sample::Index>(), 1usize..8), 0..60),
            seed in any::<u32>(),
        ) {
            let channels: Vec<LdChannel> = counts
                .iter()
                .enumerate()
                .map(|(c, &n)| {
                    let samples = (0..n).map(|k| f32::from_bits(seed ^ (c as u32) << 24 ^ k)).collect();
                    LdChannel::f32(format!("ch{c}"), "u", 10 * c as u16, samples)
                })
                .collect();
            let file = LdFile { header: LdHeader::default(), channels };
            let specs: Vec<_> = file.channels.iter().map(|c| c.spec().unwrap()).collect();
            let mut w = LdWriter::new(Cursor::new(Vec::new()), &file.header, &specs).unwrap();
            let mut written = vec![0usize; counts.len()];
            let samples = |c: usize| match &file.channels[c].data {
                LdData::F32(v) => v.clone(),
                _ => unreachable!(),
            };
            // The schedule's chunks, then whatever is left, channel by channel from the last.
            for (index, len) in schedule {
                let c = index.index(counts.len());
                let all = samples(c);
                let end = all.len().min(written[c] + len);
                w.append(c, &all[written[c]..end]).unwrap();
                written[c] = end;
            }
            for c in (0..counts.len()).rev() {
                w.append(c, &samples(c)[written[c]..]).unwrap();
            }
            let bytes = w.finish().unwrap().into_inner();
            prop_assert_eq!(&bytes, &file.to_bytes().unwrap());
        }

        #[test]
        fn mutated_or_truncated_files_never_panic(
            mutations in proptest::collection::vec(
                (prop_oneof![0usize..0x60, 0x5Eusize..0x8E, 0x6E2usize + 0x47E..0x6E2 + 0x484,
                             0x3448usize..0x3448 + 3 * 124, 0usize..0x4000], any::<u8>()),
                0..8),
            cut in any::<prop::sample::Index>(),
        ) {
            let mut file = two_channels();
            file.channels.push(LdChannel {
                data: LdData::F16(vec![0x3C00; 5]),
                ..LdChannel::f32("Half", "", 5, vec![])
            });
            let good = file.to_bytes().unwrap();
            let mut bytes = good.clone();
            for (at, value) in mutations {
                if let Some(b) = bytes.get_mut(at) {
                    *b = value;
                }
            }
            let _ = LdFile::parse(&bytes);
            let cut = cut.index(bytes.len());
            let _ = LdFile::parse(&bytes[..cut]);
            // Any truncation of the unmutated file fails, naming a block out of bounds.
            prop_assert!(
                matches!(LdFile::parse(&good[..cut]), Err(LdError::OutOfBounds { .. })),
                "cut at {}", cut
            );
        }
    }
}
