//! The 12-byte request a client sends to the game.

use nom::{Parser, number::complete::le_i32};

use super::{DatagramKind, ParseError};

/// Length of a request datagram.
pub const REQUEST_LEN: usize = 12;
/// Offset of the operation field.
const OPERATION_OFFSET: usize = 8;

/// What a request asks of the game.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Operation {
    /// 0: start a session; the game answers with a handshake response.
    Handshake,
    /// 1: stream car-info datagrams.
    SubscribeUpdate,
    /// 2: send lap-completed ("spot") events.
    SubscribeSpot,
    /// 3: stop streaming to this client.
    Dismiss,
}

impl Operation {
    /// The operation's code on the wire.
    pub const fn code(self) -> i32 {
        match self {
            Self::Handshake => 0,
            Self::SubscribeUpdate => 1,
            Self::SubscribeSpot => 2,
            Self::Dismiss => 3,
        }
    }

    /// The operation for a wire code, if it is one of the four.
    pub const fn from_code(code: i32) -> Option<Self> {
        match code {
            0 => Some(Self::Handshake),
            1 => Some(Self::SubscribeUpdate),
            2 => Some(Self::SubscribeSpot),
            3 => Some(Self::Dismiss),
            _ => None,
        }
    }
}

/// A client's request: `i32 identifier`, `i32 version`, `i32 operation`.
///
/// ```
/// use purple_sector_core::protocol::{Operation, Request};
///
/// let bytes = Request::new(Operation::SubscribeUpdate).encode();
/// assert_eq!(bytes, [1, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0]);
/// assert_eq!(Request::parse(&bytes)?.operation, Operation::SubscribeUpdate);
/// # Ok::<(), purple_sector_core::protocol::ParseError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub struct Request {
    /// Device kind; the game ignores it. Clients send 1.
    pub identifier: i32,
    /// Protocol version; clients send 1.
    pub version: i32,
    /// What is asked.
    pub operation: Operation,
}

impl Request {
    /// A request with identifier 1 and version 1, as every known client sends.
    pub const fn new(operation: Operation) -> Self {
        Self {
            identifier: 1,
            version: 1,
            operation,
        }
    }

    /// Parses exactly 12 bytes.
    pub fn parse(bytes: &[u8]) -> Result<Self, ParseError> {
        if bytes.len() != REQUEST_LEN {
            return Err(ParseError::Length {
                kind: DatagramKind::Request,
                expected: REQUEST_LEN,
                actual: bytes.len(),
            });
        }
        let parsed: nom::IResult<&[u8], (i32, i32, i32)> = (le_i32, le_i32, le_i32).parse(bytes);
        let Ok((_, (identifier, version, code))) = parsed else {
            // Unreachable after the length check; kept as an error rather than a panic.
            return Err(ParseError::Length {
                kind: DatagramKind::Request,
                expected: REQUEST_LEN,
                actual: bytes.len(),
            });
        };
        let operation = Operation::from_code(code).ok_or(ParseError::UnknownOperation {
            offset: OPERATION_OFFSET,
            found: code,
        })?;
        Ok(Self {
            identifier,
            version,
            operation,
        })
    }

    /// The 12-byte datagram.
    pub fn encode(&self) -> [u8; REQUEST_LEN] {
        let mut out = [0u8; REQUEST_LEN];
        out[0..4].copy_from_slice(&self.identifier.to_le_bytes());
        out[4..8].copy_from_slice(&self.version.to_le_bytes());
        out[8..12].copy_from_slice(&self.operation.code().to_le_bytes());
        out
    }
}
