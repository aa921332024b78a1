//! The game's 408-byte answer to a handshake.

use super::{
    DatagramKind, ParseError,
    name::{Name, NameRef, name_at, write_name_at},
    wire::Wire,
};

/// Length of a handshake response.
pub const HANDSHAKE_RESPONSE_LEN: usize = 408;

const CAR_NAME: usize = 0;
const DRIVER_NAME: usize = 100;
const IDENTIFIER: usize = 200;
const VERSION: usize = 204;
const TRACK_NAME: usize = 208;
const TRACK_CONFIG: usize = 308;

/// A borrowed handshake response: car, driver, track and layout names, read in place.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct HandshakeResponse<'a> {
    bytes: &'a [u8; HANDSHAKE_RESPONSE_LEN],
}

impl<'a> HandshakeResponse<'a> {
    /// Checks the length (408). Nothing else is checked: every byte pattern is a response.
    pub fn new(bytes: &'a [u8]) -> Result<Self, ParseError> {
        let bytes = bytes.try_into().map_err(|_| ParseError::Length {
            kind: DatagramKind::HandshakeResponse,
            expected: HANDSHAKE_RESPONSE_LEN,
            actual: bytes.len(),
        })?;
        Ok(Self { bytes })
    }

    /// The 408 bytes as received.
    pub fn as_bytes(&self) -> &'a [u8; HANDSHAKE_RESPONSE_LEN] {
        self.bytes
    }

    /// Car model, e.g. `ks_corvette_c7r`.
    pub fn car_name(&self) -> NameRef<'a> {
        name_at(self.bytes, CAR_NAME)
    }

    /// Driver name.
    pub fn driver_name(&self) -> NameRef<'a> {
        name_at(self.bytes, DRIVER_NAME)
    }

    /// Identifier; the real game sends 4242.
    pub fn identifier(&self) -> i32 {
        i32::read(self.bytes, IDENTIFIER)
    }

    /// Protocol version; the real game sends 1.
    pub fn version(&self) -> i32 {
        i32::read(self.bytes, VERSION)
    }

    /// Track, e.g. `imola`.
    pub fn track_name(&self) -> NameRef<'a> {
        name_at(self.bytes, TRACK_NAME)
    }

    /// Track layout; equals the track name when the track has no layouts.
    pub fn track_config(&self) -> NameRef<'a> {
        name_at(self.bytes, TRACK_CONFIG)
    }

    /// An owned copy that encodes back to the same 408 bytes.
    pub fn to_owned(&self) -> OwnedHandshakeResponse {
        OwnedHandshakeResponse {
            car_name: self.car_name().to_owned(),
            driver_name: self.driver_name().to_owned(),
            identifier: self.identifier(),
            version: self.version(),
            track_name: self.track_name().to_owned(),
            track_config: self.track_config().to_owned(),
        }
    }
}

impl std::fmt::Debug for HandshakeResponse<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(&self.to_owned(), f)
    }
}

/// An owned handshake response.
///
/// ```
/// use purple_sector_core::protocol::{HandshakeResponse, Name, OwnedHandshakeResponse};
///
/// let reply = OwnedHandshakeResponse {
///     car_name: Name::with_junk("ks_corvette_c7r", &[0xbdaf, 0x0230])?,
///     driver_name: Name::new("Scott")?,
///     identifier: 4242,
///     version: 1,
///     track_name: Name::new("imola")?,
///     track_config: Name::new("imola")?,
/// };
/// let bytes = reply.encode();
/// let view = HandshakeResponse::new(&bytes).expect("408 bytes");
/// assert_eq!(view.car_name().to_string_lossy(), "ks_corvette_c7r");
/// assert_eq!(view.to_owned(), reply);
/// # Ok::<(), purple_sector_core::protocol::EncodeError>(())
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct OwnedHandshakeResponse {
    /// Car model.
    pub car_name: Name,
    /// Driver name.
    pub driver_name: Name,
    /// Identifier (4242 from the real game).
    pub identifier: i32,
    /// Version (1 from the real game).
    pub version: i32,
    /// Track.
    pub track_name: Name,
    /// Track layout.
    pub track_config: Name,
}

impl OwnedHandshakeResponse {
    /// The 408-byte datagram.
    pub fn encode(&self) -> [u8; HANDSHAKE_RESPONSE_LEN] {
        let mut out = [0u8; HANDSHAKE_RESPONSE_LEN];
        write_name_at(&self.car_name, &mut out, CAR_NAME);
        write_name_at(&self.driver_name, &mut out, DRIVER_NAME);
        self.identifier.write(&mut out, IDENTIFIER);
        self.version.write(&mut out, VERSION);
        write_name_at(&self.track_name, &mut out, TRACK_NAME);
        write_name_at(&self.track_config, &mut out, TRACK_CONFIG);
        out
    }
}
