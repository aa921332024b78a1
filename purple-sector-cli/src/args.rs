//! Flags shared by several commands, and their checks.

use std::net::{SocketAddr, ToSocketAddrs};
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Args;
use purple_sector_core::protocol::GAME_PORT;
use purple_sector_core::review::{Against, simulator_map};
use purple_sector_core::sim::{Car, SimConfig, Track, demo_mistakes, parse_mistakes};
use purple_sector_core::store::Store;
use purple_sector_core::track::TrackMap;

/// What a simulated session is: where, how long, which mistakes (`demo` and `simulate`).
#[derive(Debug, Clone, Args)]
pub struct SessionArgs {
    /// Track: imola, or test (a 1.3 km circuit for quick runs).
    #[arg(long, default_value = "imola")]
    pub track: String,
    /// Flying laps after the out lap.
    #[arg(long, default_value_t = 3)]
    pub laps: u32,
    /// Mistakes to make, e.g. `lap=3:corner=Tosa:early_braking=25,lap=4:corner=T2:late_throttle=40`
    /// (laps as the game counts them: 1 is the out lap; corners as the track's map names
    /// them, by name or number: `purple-sector tracks show imola`). Kinds: early_braking (m),
    /// late_braking (m), over_slowing (%), late_throttle (m), coasting (m), mid_corner_lift
    /// (m), lower_gear (%), slow_exit (%), wide_line (%).
    #[arg(long, value_name = "SPEC")]
    pub mistakes: Option<String>,
    /// Seed: the same seed gives the same session, byte for byte.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

impl SessionArgs {
    /// The built-in track asked for.
    pub fn track(&self) -> anyhow::Result<Track> {
        Track::by_name(&self.track).with_context(|| {
            format!(
                "unknown track {:?} (built in: {})",
                self.track,
                Track::names().join(", ")
            )
        })
    }

    /// The simulator's configuration on `track`, its mistakes at the corners of `map` (the
    /// coach's map of the track, [`simulator_map`]); without `--mistakes`, the demo's
    /// mistakes when `default_mistakes`, else none.
    pub fn config(
        &self,
        track: Track,
        map: TrackMap,
        default_mistakes: bool,
    ) -> anyhow::Result<SimConfig> {
        let mistakes = match &self.mistakes {
            Some(spec) => parse_mistakes(spec, &map).context("bad --mistakes")?,
            None if default_mistakes => demo_mistakes(&track, &map, self.laps),
            None => Vec::new(),
        };
        Ok(SimConfig {
            laps: self.laps,
            seed: self.seed,
            mistakes,
            map: Some(map),
            ..SimConfig::new(track)
        })
    }
}

/// The map the built-in game names its corners by on `track`: the one the coach of `store`
/// uses ([`simulator_map`]).
pub async fn sim_map(store: &dyn Store, track: &Track) -> anyhow::Result<TrackMap> {
    simulator_map(store, track, &Car::default())
        .await
        .with_context(|| format!("cannot get the map of track {}", track.name()))
}

/// `--speed`: a time scale in (0, 1000].
pub fn check_speed(speed: f64) -> anyhow::Result<()> {
    if !(speed.is_finite() && speed > 0.0 && speed <= 1_000.0) {
        bail!("--speed must be in (0, 1000], got {speed}");
    }
    Ok(())
}

/// `HOST`, `HOST:PORT`, `[v6]:PORT` → the game's address.
pub fn game_address(text: &str) -> anyhow::Result<SocketAddr> {
    let with_port = if text.parse::<std::net::IpAddr>().is_ok() || !text.contains(':') {
        if text.contains(':') {
            format!("[{text}]:{GAME_PORT}")
        } else {
            format!("{text}:{GAME_PORT}")
        }
    } else {
        text.to_owned()
    };
    with_port
        .to_socket_addrs()
        .with_context(|| format!("cannot resolve the game address {text:?}"))?
        .next()
        .with_context(|| format!("no address for {text:?}"))
}

/// A number of seconds given for `flag`.
pub fn seconds(value: f64, flag: &str) -> anyhow::Result<Duration> {
    Duration::try_from_secs_f64(value).with_context(|| format!("{flag} must be ≥ 0 seconds"))
}

/// A review error, with what to do about a missing reference.
pub fn review_error(error: purple_sector_core::review::ReviewError) -> anyhow::Error {
    match error {
        purple_sector_core::review::ReviewError::NoReference { .. } => {
            anyhow::anyhow!("{error}; give --against LAP")
        }
        other => other.into(),
    }
}

/// `--hub redis://HOST[:PORT]`: the live stream shared with other processes through Redis
/// (`record`, `demo`, `serve`).
#[derive(Debug, Clone, Args)]
pub struct HubArgs {
    /// Share the live stream through this Redis: publish this recording's frames and laps,
    /// and (serve) show every recording published there. `redis://[user:password@]HOST[:PORT][/DB]`.
    #[arg(
        long,
        env = "PURPLE_SECTOR_HUB",
        hide_env_values = true,
        value_name = "redis://HOST[:PORT]"
    )]
    pub hub: Option<String>,
    /// Prefix of the hub's keys in Redis: the processes that share one see each other's
    /// recordings.
    #[arg(long, default_value = "purple-sector", value_name = "PREFIX")]
    pub hub_prefix: String,
}

/// `--against LAP|best|ideal`: what a lap is compared with (`analyze`, `compare`, `plot`,
/// `chat`).
#[derive(Debug, Clone, Args)]
pub struct AgainstArgs {
    /// Reference: a lap id, `best` (the best other valid flying lap of the same track and
    /// car, any session) or `ideal` (the best segments of those laps).
    #[arg(long, default_value = "best", value_name = "LAP|best|ideal")]
    pub against: Against,
}
