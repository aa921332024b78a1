//! The 212-byte lap-completed ("spot") event.

use super::{
    DatagramKind, ParseError,
    name::{Name, NameRef, name_at, write_name_at},
    wire::Wire,
};

/// Length of a lap-completed datagram.
pub const LAP_COMPLETED_LEN: usize = 212;

const CAR_IDENTIFIER_NUMBER: usize = 0;
const LAP: usize = 4;
const DRIVER_NAME: usize = 8;
const CAR_NAME: usize = 108;
const TIME: usize = 208;

/// A borrowed lap-completed event.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct LapCompleted<'a> {
    bytes: &'a [u8; LAP_COMPLETED_LEN],
}

impl<'a> LapCompleted<'a> {
    /// Checks the length (212).
    pub fn new(bytes: &'a [u8]) -> Result<Self, ParseError> {
        let bytes = bytes.try_into().map_err(|_| ParseError::Length {
            kind: DatagramKind::LapCompleted,
            expected: LAP_COMPLETED_LEN,
            actual: bytes.len(),
        })?;
        Ok(Self { bytes })
    }

    /// The 212 bytes as received.
    pub fn as_bytes(&self) -> &'a [u8; LAP_COMPLETED_LEN] {
        self.bytes
    }

    /// Which car of the session completed the lap.
    pub fn car_identifier_number(&self) -> i32 {
        i32::read(self.bytes, CAR_IDENTIFIER_NUMBER)
    }

    /// The lap number.
    pub fn lap(&self) -> i32 {
        i32::read(self.bytes, LAP)
    }

    /// Driver name.
    pub fn driver_name(&self) -> NameRef<'a> {
        name_at(self.bytes, DRIVER_NAME)
    }

    /// Car model.
    pub fn car_name(&self) -> NameRef<'a> {
        name_at(self.bytes, CAR_NAME)
    }

    /// Lap time, ms.
    pub fn time_ms(&self) -> i32 {
        i32::read(self.bytes, TIME)
    }

    /// An owned copy that encodes back to the same 212 bytes.
    pub fn to_owned(&self) -> OwnedLapCompleted {
        OwnedLapCompleted {
            car_identifier_number: self.car_identifier_number(),
            lap: self.lap(),
            driver_name: self.driver_name().to_owned(),
            car_name: self.car_name().to_owned(),
            time_ms: self.time_ms(),
        }
    }
}

impl std::fmt::Debug for LapCompleted<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(&self.to_owned(), f)
    }
}

/// An owned lap-completed event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct OwnedLapCompleted {
    /// Which car of the session completed the lap.
    pub car_identifier_number: i32,
    /// The lap number.
    pub lap: i32,
    /// Driver name.
    pub driver_name: Name,
    /// Car model.
    pub car_name: Name,
    /// Lap time, ms.
    #[serde(rename = "time_ms")]
    pub time_ms: i32,
}

impl OwnedLapCompleted {
    /// The 212-byte datagram.
    pub fn encode(&self) -> [u8; LAP_COMPLETED_LEN] {
        let mut out = [0u8; LAP_COMPLETED_LEN];
        self.car_identifier_number
            .write(&mut out, CAR_IDENTIFIER_NUMBER);
        self.lap.write(&mut out, LAP);
        write_name_at(&self.driver_name, &mut out, DRIVER_NAME);
        write_name_at(&self.car_name, &mut out, CAR_NAME);
        self.time_ms.write(&mut out, TIME);
        out
    }
}
