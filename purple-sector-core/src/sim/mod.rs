//! The built-in game: speaks Assetto Corsa's protocol over UDP, so the whole pipeline runs
//! without the game.
//!
//! [`GameServer`] is the game's side of the protocol: it answers handshakes, keeps the
//! subscribers, honours DISMISS and sends car-info and lap events to whoever subscribed.
//! What it sends comes from its driver: the simulator, a capture being replayed, or a test;
//! [`play`] paces timed datagrams on the game's clock, scaled.

mod play;
mod server;

pub use play::{Outgoing, PlayStats, Timed, capture_schedule, play};
pub use server::{GameServer, ServerCounters};
