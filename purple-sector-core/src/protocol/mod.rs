//! The Assetto Corsa Remote Telemetry wire protocol: UDP datagrams on the game's port 9996.
//!
//! Three datagrams come from the game — [`HandshakeResponse`] (408 bytes), [`CarInfo`]
//! (328 bytes, one per physics step) and [`LapCompleted`] (212 bytes) — and one kind goes
//! to it, the 12-byte [`Request`]. Every type has two forms:
//!
//! - a borrowed view (`CarInfo<'a>` …) that checks the shape once and then reads each field in
//!   place, little-endian, at its fixed offset: no copy, no allocation;
//! - an owned value (`OwnedCarInfo` …) with `encode`, byte-exact, used by the simulator,
//!   replay and tests. `view.to_owned().encode()` gives back the bytes received.
//!
//! [`parse_datagram`] dispatches on the length, as the game's own clients must: there is no
//! type tag on the wire. It never panics and never allocates; errors carry numbers.
//!
//! This module does no I/O and needs no async runtime.
//!
//! ```
//! use purple_sector_core::protocol::{parse_datagram, Datagram, Operation, Request};
//!
//! let dismiss = Request::new(Operation::Dismiss).encode();
//! assert!(matches!(
//!     parse_datagram(&dismiss),
//!     Ok(Datagram::Request(Request { operation: Operation::Dismiss, .. }))
//! ));
//! assert!(parse_datagram(&[0u8; 7]).is_err());
//! ```

/// The UDP port Assetto Corsa's Remote Telemetry listens on.
pub const GAME_PORT: u16 = 9996;

mod car_info;
mod handshake_response;
mod lap_completed;
mod name;
mod request;
mod wire;

pub use car_info::{
    CAR_INFO_IDENTIFIER, CAR_INFO_LEN, CAR_INFO_SIZE_OFFSET, CarInfo, OwnedCarInfo,
};
pub use handshake_response::{HANDSHAKE_RESPONSE_LEN, HandshakeResponse, OwnedHandshakeResponse};
pub use lap_completed::{LAP_COMPLETED_LEN, LapCompleted, OwnedLapCompleted};
pub use name::{NAME_LEN, NAME_TERMINATOR, NAME_UNITS, Name, NameRef};
pub use request::{Operation, REQUEST_LEN, Request};

/// The four datagram types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DatagramKind {
    /// Client → game, 12 bytes.
    Request,
    /// Game → client, 408 bytes.
    HandshakeResponse,
    /// Game → client, 328 bytes.
    CarInfo,
    /// Game → client, 212 bytes.
    LapCompleted,
}

impl DatagramKind {
    /// All four, in the order a session meets them.
    pub const ALL: [Self; 4] = [
        Self::Request,
        Self::HandshakeResponse,
        Self::CarInfo,
        Self::LapCompleted,
    ];

    /// The exact length of a datagram of this kind.
    pub const fn wire_len(self) -> usize {
        match self {
            Self::Request => REQUEST_LEN,
            Self::HandshakeResponse => HANDSHAKE_RESPONSE_LEN,
            Self::CarInfo => CAR_INFO_LEN,
            Self::LapCompleted => LAP_COMPLETED_LEN,
        }
    }

    /// The kind of datagram this length is, if any.
    pub const fn from_len(len: usize) -> Option<Self> {
        match len {
            REQUEST_LEN => Some(Self::Request),
            HANDSHAKE_RESPONSE_LEN => Some(Self::HandshakeResponse),
            CAR_INFO_LEN => Some(Self::CarInfo),
            LAP_COMPLETED_LEN => Some(Self::LapCompleted),
            _ => None,
        }
    }

    /// The snake_case name used in JSON output (`car_info` …).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Request => "request",
            Self::HandshakeResponse => "handshake_response",
            Self::CarInfo => "car_info",
            Self::LapCompleted => "lap_completed",
        }
    }
}

impl std::fmt::Display for DatagramKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why bytes are not a valid datagram. Cheap to copy; every variant carries its numbers.
///
/// Serializes externally tagged: `{"length": {"kind": "car_info", "expected": 328, "actual": 327}}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error, serde::Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ParseError {
    /// No datagram has this length (12, 212, 328 and 408 are the only ones).
    #[error("no AC datagram is {actual} bytes long (expected 12, 212, 328 or 408)")]
    UnknownLength {
        /// The length received.
        actual: usize,
    },
    /// A datagram of a known kind with the wrong length.
    #[error("{kind} datagram must be {expected} bytes, got {actual}")]
    Length {
        /// The kind the bytes were read as.
        kind: DatagramKind,
        /// Its exact length.
        expected: usize,
        /// The length received.
        actual: usize,
    },
    /// The identifier byte is wrong (car info must start with `'a'`).
    #[error("byte {offset} must be {expected:#04x}, got {found:#04x}")]
    BadIdentifier {
        /// Where the byte is.
        offset: usize,
        /// What it must be.
        expected: u8,
        /// What it was.
        found: u8,
    },
    /// The car-info `size` field does not read 328.
    #[error("size field at offset {offset} must read {expected}, got {found}")]
    BadSize {
        /// Where the field is.
        offset: usize,
        /// What it must read.
        expected: i32,
        /// What it read.
        found: i32,
    },
    /// A request's operation is not 0..=3.
    #[error("operation at offset {offset} must be 0..=3, got {found}")]
    UnknownOperation {
        /// Where the field is.
        offset: usize,
        /// What it read.
        found: i32,
    },
}

/// Why a value cannot be encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// The name (with its terminator and junk) does not fit the field.
    #[error("name needs {units} UTF-16 units, the field holds {max}")]
    NameTooLong {
        /// Units needed.
        units: usize,
        /// Units available (50).
        max: usize,
    },
    /// The text holds a `'%'` or NUL, which would end the name early when read back.
    #[error("name unit {index} is {unit:#06x}, which ends a name on the wire")]
    NameContainsTerminator {
        /// Index of the unit in the UTF-16 text.
        index: usize,
        /// The unit.
        unit: u16,
    },
}

/// A datagram parsed in place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Datagram<'a> {
    /// A client's request (12 bytes).
    Request(Request),
    /// The game's answer to a handshake (408 bytes).
    HandshakeResponse(HandshakeResponse<'a>),
    /// One physics step of the player's car (328 bytes).
    CarInfo(CarInfo<'a>),
    /// A lap-completed event (212 bytes).
    LapCompleted(LapCompleted<'a>),
}

impl Datagram<'_> {
    /// Which of the four it is.
    pub fn kind(&self) -> DatagramKind {
        match self {
            Self::Request(_) => DatagramKind::Request,
            Self::HandshakeResponse(_) => DatagramKind::HandshakeResponse,
            Self::CarInfo(_) => DatagramKind::CarInfo,
            Self::LapCompleted(_) => DatagramKind::LapCompleted,
        }
    }

    /// An owned copy.
    pub fn to_owned(&self) -> OwnedDatagram {
        match self {
            Self::Request(r) => OwnedDatagram::Request(*r),
            Self::HandshakeResponse(h) => OwnedDatagram::HandshakeResponse(h.to_owned()),
            Self::CarInfo(c) => OwnedDatagram::CarInfo(c.to_owned()),
            Self::LapCompleted(l) => OwnedDatagram::LapCompleted(l.to_owned()),
        }
    }
}

/// An owned datagram of any kind.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum OwnedDatagram {
    /// A client's request.
    Request(Request),
    /// The game's answer to a handshake.
    HandshakeResponse(OwnedHandshakeResponse),
    /// One physics step of the player's car.
    CarInfo(OwnedCarInfo),
    /// A lap-completed event.
    LapCompleted(OwnedLapCompleted),
}

impl OwnedDatagram {
    /// Which of the four it is.
    pub fn kind(&self) -> DatagramKind {
        match self {
            Self::Request(_) => DatagramKind::Request,
            Self::HandshakeResponse(_) => DatagramKind::HandshakeResponse,
            Self::CarInfo(_) => DatagramKind::CarInfo,
            Self::LapCompleted(_) => DatagramKind::LapCompleted,
        }
    }

    /// Appends the wire bytes to `out`.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        match self {
            Self::Request(r) => out.extend_from_slice(&r.encode()),
            Self::HandshakeResponse(h) => out.extend_from_slice(&h.encode()),
            Self::CarInfo(c) => out.extend_from_slice(&c.encode()),
            Self::LapCompleted(l) => out.extend_from_slice(&l.encode()),
        }
    }

    /// The wire bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.kind().wire_len());
        self.encode_into(&mut out);
        out
    }
}

/// Parses one UDP payload, dispatching on its length.
///
/// A buffer of an unknown length that starts like a car-info datagram (`'a'`, then `size`
/// 328 at offset 4) reports [`ParseError::Length`] for car info, so a truncated or padded
/// packet is named as such; any other unknown length is [`ParseError::UnknownLength`].
#[inline]
pub fn parse_datagram(bytes: &[u8]) -> Result<Datagram<'_>, ParseError> {
    match bytes.len() {
        CAR_INFO_LEN => CarInfo::new(bytes).map(Datagram::CarInfo),
        REQUEST_LEN => Request::parse(bytes).map(Datagram::Request),
        HANDSHAKE_RESPONSE_LEN => HandshakeResponse::new(bytes).map(Datagram::HandshakeResponse),
        LAP_COMPLETED_LEN => LapCompleted::new(bytes).map(Datagram::LapCompleted),
        actual => {
            if looks_like_car_info(bytes) {
                Err(ParseError::Length {
                    kind: DatagramKind::CarInfo,
                    expected: CAR_INFO_LEN,
                    actual,
                })
            } else {
                Err(ParseError::UnknownLength { actual })
            }
        }
    }
}

/// `'a'` at byte 0 and 328 in the `size` field.
fn looks_like_car_info(bytes: &[u8]) -> bool {
    matches!(
        bytes,
        [CAR_INFO_IDENTIFIER, _, _, _, s0, s1, s2, s3, ..]
            if i32::from_le_bytes([*s0, *s1, *s2, *s3]) == CAR_INFO_LEN as i32
    )
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests;
