//! The built-in game: speaks Assetto Corsa's protocol over UDP, so the whole pipeline runs
//! without the game.
//!
//! [`GameServer`] is the game's side of the protocol: it answers handshakes, keeps the
//! subscribers, honours DISMISS and sends car-info and lap events to whoever subscribed.
//! What it sends comes from its driver: the simulator, a capture being replayed, or a test.
//!
//! The simulator is the game's car and driver:
//!
//! - [`Track`]: a closed centre line with elevation, curvature, corners `T1`, `T2` … and a pit
//!   lane. Built in: `imola` (derived from a real logged lap, committed as
//!   `src/sim/data/imola.csv`, see [`Track::from_path`]) and `test` (a 1.3 km synthetic loop).
//! - [`Car`]: a GT3 car ([`Car::corvette_c7r`]) — power, drag, downforce, grip, gears, wheels.
//! - [`Driver`] and [`SpeedProfile`]: the quasi-steady-state speed profile the driver follows,
//!   with seeded lap-to-lap variation.
//! - [`Mistake`]: early braking, over-slowing, late throttle or coasting at a named corner of
//!   a lap; [`parse_mistakes`] reads the command line's `--mistakes` spec.
//! - [`Simulator`]: one [`SimStep`] per 3 ms physics step — the car-info datagram, and a lap
//!   event at each crossing — plus a [`LapReport`] per lap saying what each mistake cost.
//!
//! Everything is deterministic from [`SimConfig::seed`].

mod car;
mod driver;
mod map;
mod mistakes;
mod play;
mod rng;
mod server;
mod simulator;
mod track;

pub use car::Car;
pub use driver::{Driver, PROFILE_SPACING_M, SpeedProfile};
pub use map::{clean_lap_frames, track_map};
pub use mistakes::{
    Mistake, MistakeKind, MistakeSpecError, SpecPart, demo_mistakes, parse_mistakes,
};
pub use play::{
    Backpressure, Outgoing, PlayStats, Timed, capture_schedule, play, play_paced,
    simulator_schedule,
};
pub use server::{GameServer, ServerCounters};
pub use simulator::{
    HANDSHAKE_IDENTIFIER, HANDSHAKE_VERSION, LapReport, MistakeCost, PHYSICS_STEP_NS,
    PHYSICS_STEP_S, RUN_ON_S, SimConfig, SimStep, Simulator,
};
pub use track::{
    CORNER_CURVATURE_PER_M, Corner, DataProblem, PitLane, SAMPLE_SPACING_M, Track, TrackError,
    TrackSample, TurnDirection,
};
