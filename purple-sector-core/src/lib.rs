//! # Purple Sector core
//!
//! Assetto Corsa's Remote Telemetry, from the wire to the coach. The modules follow the data:
//!
//! ```text
//! datagram ──► protocol ──► telemetry ──► lap ──► store ──► analysis ──► review
//!  (UDP, a     parse_datagram  Frame       LapSegmenter  Store       Analysis,   an Analyzer's
//!   capture)   CarInfo<'a>                               SqliteStore Analyzer    suggestions
//!                                                                                kept on the lap
//! record: source → pipeline → store writer, and the live Hub beside it
//! ```
//!
//! - [`protocol`]: zero-copy views over the game's datagrams ([`CarInfo`] and friends), owned
//!   values that encode byte-exact, and [`parse_datagram`], which never panics or allocates.
//! - [`capture`]: pcap/pcapng recordings of the traffic, read and written; [`export`]: laps
//!   out as CSV, JSON, pcap or a MoTeC i2 log, streamed; [`motec`]: the `.ld`/`.ldx` format.
//! - [`telemetry`]: [`Frame`], one owned, unit-clean sample of the car.
//! - [`lap`]: [`LapSegmenter`], the pure state machine that cuts frames into laps the way the
//!   game keeps score.
//! - [`store`]: the [`Store`] trait for sessions, laps (telemetry column by column, lossless)
//!   and chat; [`SqliteStore`] (feature `sqlite`) and [`store::MemoryStore`]; the one
//!   best-lap rule, [`store::best_lap`].
//! - [`analysis`]: laps on a distance grid, the delta, corners, time lost per segment — the
//!   [`Analysis`] — and the [`Analyzer`]s that advise from it: [`HeuristicAnalyzer`] (offline)
//!   or an OpenAI-compatible server (feature `openai`); the coaching chat.
//! - [`track`]: a [`track::TrackMap`] per track and layout — length, centre line, corners with
//!   stable ids and names — built once from the first clean laps and kept in the store.
//! - [`review`]: a stored lap against a reference on its track's map, advised by an
//!   analyzer, the advice kept; a session's habits and ideal lap.
//! - [`record`]: the [`Recorder`] (a game, the built-in game or a capture into the store, with
//!   the live delta), imports through the same pipeline; [`import`]: the files it reads.
//! - [`motec`]: MoTeC i2 log files, `.ld` and its `.ldx` beacon sidecar, read and written.
//! - [`live`]: the broadcast [`Hub`] of frames and lap events; [`net`]: the UDP client.
//! - [`sim`]: the built-in game, [`Simulator`], which speaks the real protocol.
//!
//! Features: `sqlite`, `net` (tokio), `openai` (async-openai) and `sim`, all on by default.
//! Without them the protocol, telemetry, lap, capture, store (trait, memory store, codec),
//! analysis and review modules build with no async runtime and no I/O of their own.
//!
//! Frames in, laps out, kept, and compared, end to end:
//!
//! ```
//! use std::sync::Arc;
//! use purple_sector_core::{Analyzer, Frame, HeuristicAnalyzer, LapSegmenter, Store};
//! use purple_sector_core::lap::{LapEvent, SegmenterConfig};
//! use purple_sector_core::review::{Against, review};
//! use purple_sector_core::store::{MemoryStore, NewSession, SessionSource};
//!
//! // Three laps of a 1 km loop at 333 Hz: 30.0 s, then 30.5 s, then the start of a fourth.
//! let lap_ms = [30_000, 30_500, 30_000];
//! let mut frames = Vec::new();
//! for (lap, &ms) in lap_ms.iter().enumerate() {
//!     let last = if lap == 2 { 300 } else { ms };
//!     for t in (0..last).step_by(3) {
//!         let p = t as f32 / ms as f32;
//!         frames.push(Frame {
//!             time_ns: 1_700_000_000_000_000_000 + frames.len() as u64 * 3_000_000,
//!             lap_count: lap as i32,
//!             lap_time_ms: t,
//!             last_lap_ms: if lap > 0 { lap_ms[lap - 1] } else { 0 },
//!             position_normalized: p,
//!             speed_kmh: 120.0,
//!             speed_ms: 120.0 / 3.6,
//!             gas: 1.0,
//!             world_m: [(p * 1_000.0 / std::f32::consts::TAU).cos() * 159.0, 0.0,
//!                       (p * 1_000.0 / std::f32::consts::TAU).sin() * 159.0],
//!             ..Frame::default()
//!         });
//!     }
//! }
//!
//! // Frames → laps.
//! let mut segmenter = LapSegmenter::new(SegmenterConfig::default());
//! let mut events = Vec::new();
//! for frame in frames {
//!     segmenter.push_frame(frame, &mut events);
//! }
//! let laps: Vec<_> = events
//!     .into_iter()
//!     .filter_map(|e| match e { LapEvent::Lap(lap) => Some(lap), _ => None })
//!     .collect();
//! assert_eq!(laps.iter().map(|l| l.time_ms()).collect::<Vec<_>>(),
//!            [Some(30_000), Some(30_500)]);
//!
//! # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
//! // Laps → store.
//! let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
//! let session = store.create_session(NewSession::new("practice", SessionSource::Live)).await?;
//! let mut ids = Vec::new();
//! for lap in &laps {
//!     ids.push(store.save_lap(session.id, lap).await?.id);
//! }
//!
//! // Store → analysis: the second lap against the best, advised offline.
//! let reviewed = review(&*store, ids[1], Against::Best, &HeuristicAnalyzer).await?;
//! assert_eq!(reviewed.comparison.reference_id, Some(ids[0]));
//! assert!((reviewed.comparison.analysis.gap_s - 0.5).abs() < 0.01);
//! assert_eq!(reviewed.engine, HeuristicAnalyzer.name());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # })?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Reading a capture made with tshark or Wireshark:
//!
//! ```
//! use purple_sector_core::{CarInfo, capture::CaptureReader, parse_datagram, protocol::Datagram};
//!
//! let mut capture = CaptureReader::open("tests/fixtures/imola-lap2.pcap")?;
//! let mut top_speed_kmh = 0.0f32;
//! while let Some(datagram) = capture.next_datagram()? {
//!     if let Ok(Datagram::CarInfo(car)) = parse_datagram(datagram.payload) {
//!         let car: CarInfo<'_> = car;
//!         top_speed_kmh = top_speed_kmh.max(car.speed_kmh());
//!     }
//! }
//! assert!(top_speed_kmh > 250.0); // the Corvette on Imola's main straight
//! # Ok::<(), purple_sector_core::capture::CaptureError>(())
//! ```

pub mod analysis;
pub mod capture;
pub mod export;
pub mod import;
pub mod lap;
#[cfg(feature = "net")]
pub mod live;
pub mod logger;
pub mod motec;
#[cfg(feature = "net")]
pub mod net;
pub mod protocol;
pub mod record;
pub mod review;
#[cfg(feature = "sim")]
pub mod sim;
pub mod store;
pub mod telemetry;
pub mod track;

pub use analysis::{Analysis, Analyzer, HeuristicAnalyzer};
pub use lap::LapSegmenter;
#[cfg(feature = "net")]
pub use live::Hub;
pub use protocol::{CarInfo, parse_datagram};
#[cfg(feature = "net")]
pub use record::Recorder;
#[cfg(feature = "sim")]
pub use sim::Simulator;
#[cfg(feature = "sqlite")]
pub use store::SqliteStore;
pub use store::Store;
pub use telemetry::Frame;
