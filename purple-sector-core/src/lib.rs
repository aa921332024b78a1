//! # Purple Sector core
//!
//! Assetto Corsa's Remote Telemetry, from the wire to the coach.
//!
//! - [`protocol`]: zero-copy views over the game's UDP datagrams ([`protocol::CarInfo`],
//!   [`protocol::HandshakeResponse`], [`protocol::LapCompleted`]), owned values that encode
//!   byte-exact, and [`protocol::parse_datagram`], which never panics and never allocates.
//! - [`capture`]: reading pcap/pcapng recordings of AC traffic and writing classic pcap
//!   files that Wireshark opens.
//! - [`logger`]: the tab-separated laps of a third-party AC logger, as car-info packets.
//!
//! ```
//! use purple_sector_core::protocol::{parse_datagram, Datagram, OwnedCarInfo};
//!
//! let mut packet = OwnedCarInfo::default();
//! packet.speed_kmh = 212.5;
//! packet.gear = 5; // AC's raw gear: 0 = R, 1 = N, 2 = 1st … so 5 is 4th
//! let bytes = packet.encode();
//!
//! match parse_datagram(&bytes)? {
//!     Datagram::CarInfo(car) => {
//!         assert_eq!(car.speed_kmh(), 212.5);
//!         assert_eq!(car.gear(), 4);
//!     }
//!     other => panic!("unexpected {other:?}"),
//! }
//! # Ok::<(), purple_sector_core::protocol::ParseError>(())
//! ```

pub mod capture;
pub mod logger;
pub mod protocol;
