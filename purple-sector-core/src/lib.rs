//! # Purple Sector core
//!
//! Assetto Corsa's Remote Telemetry, from the wire to the coach.
//!
//! - [`protocol`]: zero-copy views over the game's UDP datagrams ([`protocol::CarInfo`],
//!   [`protocol::HandshakeResponse`], [`protocol::LapCompleted`]), owned values that encode
//!   byte-exact, and [`protocol::parse_datagram`], which never panics and never allocates.
//! - [`capture`]: reading pcap/pcapng recordings of AC traffic and writing classic pcap
//!   files that Wireshark opens.
//! - [`telemetry`]: [`telemetry::Frame`], one owned, unit-clean sample of the car.
//! - [`net`]: the AC client over UDP (tokio): handshake, subscribe, silence, dismiss.
//! - [`sim`]: the built-in game: [`sim::GameServer`] speaks AC's protocol to any client.
//! - [`record`]: the recording pipeline (live from a game, or imports) into the store.
//! - [`import`]: captures, logger TSV laps and the original app's demo JSON as inputs.
//! - [`analysis`]: laps on a distance grid, delta, corners, time loss per segment, and the
//!   [`analysis::Analyzer`]s that turn the facts into suggestions.
//! - [`live`]: the broadcast hub of frames and lap events for live displays.
//! - [`review`]: stored laps analysed against a chosen reference (a lap, the best, the ideal).
//! - [`logger`]: the tab-separated laps of a third-party AC logger, as car-info packets.
//! - [`store`]: the [`store::Store`] trait for sessions, laps (telemetry in a compact
//!   column encoding) and chat, with [`store::SqliteStore`] and [`store::MemoryStore`].
//!
//! ```
//! use purple_sector_core::protocol::{parse_datagram, Datagram, OwnedCarInfo};
//!
//! let mut packet = OwnedCarInfo::default();
//! packet.speed_kmh = 212.5;
//! packet.gear_raw = 5; // AC's raw gear: 0 = R, 1 = N, 2 = 1st … so 5 is 4th
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
//!
//! Reading a capture made with tshark or Wireshark:
//!
//! ```
//! use purple_sector_core::{capture::CaptureReader, protocol::{parse_datagram, Datagram}};
//!
//! let mut capture = CaptureReader::open("tests/fixtures/imola-lap2.pcap")?;
//! let mut top_speed_kmh = 0.0f32;
//! while let Some(datagram) = capture.next_datagram()? {
//!     if let Ok(Datagram::CarInfo(car)) = parse_datagram(datagram.payload) {
//!         top_speed_kmh = top_speed_kmh.max(car.speed_kmh());
//!     }
//! }
//! assert!(top_speed_kmh > 250.0); // the Corvette on Imola's main straight
//! # Ok::<(), purple_sector_core::capture::CaptureError>(())
//! ```

pub mod analysis;
pub mod capture;
pub mod import;
pub mod lap;
pub mod live;
pub mod logger;
pub mod net;
pub mod protocol;
pub mod record;
pub mod review;
pub mod sim;
pub mod store;
pub mod telemetry;
