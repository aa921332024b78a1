//! The simulator: drives a [`Car`] round a [`Track`] and produces the game's datagrams, one
//! car-info packet per physics step.
//!
//! # Conventions (as the game behaves)
//!
//! - **Clock**: one step is exactly [`PHYSICS_STEP_NS`] = 3 ms (≈ 333 Hz, the game's physics
//!   rate; 3 ms keeps simulated time an exact integer of nanoseconds).
//! - **Session**: the car starts at rest in its pit box just past the start/finish line, clutch
//!   down, for [`Driver::pit_start_hold_s`]; then pulls away (clutch slipping until the engine
//!   reaches launch rpm), drives down the pit lane at the speed limit with `is_in_pit` set,
//!   joins the track at the pit exit and completes the out lap at the line. The game counts the
//!   out lap as lap 1: `lap_count` goes 0 → 1 at the first crossing, `last_lap_ms` is the out
//!   lap's time (from the session start) and — as in real packets, where `bestLap` equals
//!   `lastLap` right after the first crossing — it counts for `best_lap_ms` too, until a faster
//!   lap replaces it (`best_lap_ms` is 0 before the first crossing). Then
//!   [`SimConfig::laps`] flying laps (laps 2 ..= laps + 1), then one more second of driving
//!   past the line, after which [`Simulator::step`] returns `None`.
//! - **Position**: the car moves along the centre line at the profile's speed; between grid
//!   points the acceleration is constant, so distance is exactly the integral of speed.
//!   `car_position_normalized` = distance / length, wrapping to 0 at the line; `lap_time_ms`
//!   counts whole milliseconds since the lap began (the crossing instant, interpolated
//!   within the step).
//! - **Channels**: speed in km/h, mph and m/s from the same value; gear and rpm from the
//!   car's ratios (`rpm = ω_wheel × ratio × final × 60/2π`); wheel angular speed = speed /
//!   loaded radius (outer wheels faster in corners: the four average exactly to it);
//!   lateral g = v²κ/g (positive in right-hand corners, like the steering); longitudinal
//!   g = (dv/dt)/g (positive accelerating); vertical g = v²·(d²y/ds²)/g, about 0 — the game's
//!   vertical channel leaves gravity out (a real packet at 209 km/h reads 0.02); steering
//!   from curvature through the steering ratio. Pedals come from what the car does: throttle
//!   when it speeds up or holds speed against drag, brake when it slows faster than
//!   coasting, neither when coasting.

use super::car::Car;
use super::driver::{self, Driver, Dynamics, Effects, Grid, SpeedProfile};
use super::mistakes::Mistake;
use super::rng::SplitMix64;
use super::track::Track;
use crate::analysis::Corner;
use crate::protocol::{Name, OwnedCarInfo, OwnedHandshakeResponse, OwnedLapCompleted};
use crate::telemetry::STANDARD_GRAVITY_MS2;
use crate::track::TrackMap;

/// Length of one physics step, ns (3 ms).
pub const PHYSICS_STEP_NS: u64 = 3_000_000;
/// Length of one physics step, s.
pub const PHYSICS_STEP_S: f64 = PHYSICS_STEP_NS as f64 * 1e-9;
/// How long the car keeps driving after the last crossing, s.
pub const RUN_ON_S: f64 = 1.0;
/// The handshake's identifier, as the real game sends.
pub const HANDSHAKE_IDENTIFIER: i32 = 4242;
/// The handshake's version, as the real game sends.
pub const HANDSHAKE_VERSION: i32 = 1;

/// RNG stream for per-lap variation.
const STREAM_LAP: u64 = 1;
/// RNG stream for the junk the game leaves in names and padding.
const STREAM_JUNK: u64 = 2;
/// Junk units after the `%` of each name.
const NAME_JUNK_UNITS: usize = 8;
/// Longest driver name kept, UTF-16 units.
const DRIVER_NAME_MAX_UNITS: usize = 40;

/// What to simulate.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct SimConfig {
    /// The circuit.
    pub track: Track,
    /// The car.
    pub car: Car,
    /// Flying laps after the out lap: the session ends when `lap_count` reaches `laps + 1`.
    pub laps: u32,
    /// Seed of everything random (lap-to-lap variation, junk bytes).
    pub seed: u64,
    /// Mistakes to make (laps numbered as the game counts them: 1 = out lap), at corners
    /// of [`SimConfig::map`].
    pub mistakes: Vec<Mistake>,
    /// Driver name for the handshake and lap events (`%` and NUL removed, 40 units at most).
    pub driver_name: String,
    /// The track map whose corners the mistakes name (the store's map of the track, so
    /// that the simulator and the coach speak of the same corners); `None`: the track's
    /// own ([`super::track_map`]), made when the simulator starts, if there are mistakes.
    pub map: Option<TrackMap>,
}

impl SimConfig {
    /// `track` with the default car, 3 flying laps, seed 1, no mistakes, driver "Purple Sector".
    pub fn new(track: Track) -> Self {
        Self {
            track,
            car: Car::default(),
            laps: 3,
            seed: 1,
            mistakes: Vec::new(),
            driver_name: "Purple Sector".to_owned(),
            map: None,
        }
    }
}

/// One physics step's output.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SimStep {
    /// Simulated time since the session started, ns.
    pub sim_time_ns: u64,
    /// The car-info datagram of this step.
    pub car_info: OwnedCarInfo,
    /// The lap event, on the step where the car crossed the line.
    pub lap_completed: Option<OwnedLapCompleted>,
}

/// What a mistake cost on its lap.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct MistakeCost {
    /// The mistake.
    pub mistake: Mistake,
    /// False when its corner was not driven on that lap (before the pit exit), or is not on
    /// the map.
    pub applied: bool,
    /// Lap time with this mistake alone minus the clean lap time, ms.
    pub cost_ms: f64,
}

/// A completed lap, with what it would have been without its mistakes.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct LapReport {
    /// Lap number (1 = the out lap).
    pub lap: u32,
    /// True for the out lap.
    pub out_lap: bool,
    /// Exact lap time, ms.
    pub time_ms: f64,
    /// The lap time the game reported (`last_lap_ms`), ms.
    pub reported_ms: i32,
    /// The same lap (same variation, same start) without its mistakes, ms.
    pub clean_time_ms: f64,
    /// This lap's grip factor (1 = nominal).
    pub grip: f64,
    /// The lap's mistakes, each costed on its own.
    pub mistakes: Vec<MistakeCost>,
}

impl LapReport {
    /// Time lost to all the lap's mistakes together, ms.
    pub fn cost_ms(&self) -> f64 {
        self.time_ms - self.clean_time_ms
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LegKind {
    Out,
    Flying,
    RunOn,
}

/// One lap's plan: speeds on the grid with and without its mistakes.
#[derive(Debug, Clone)]
struct Leg {
    lap: u32,
    kind: LegKind,
    first: usize,
    grip: f64,
    hold_s: f64,
    /// What is driven (mistakes included).
    speeds: Vec<f64>,
    /// What the driven mistakes do besides the speeds.
    effects: Vec<Effects>,
    /// Without mistakes.
    clean: Vec<f64>,
    /// Clean plus one mistake each, and what it does besides the speeds.
    singles: Vec<(Mistake, bool, Vec<f64>, Effects)>,
    /// Speed along the centre line at each grid point (the driven speed over the path
    /// factor), filled in by `finalize`.
    progress: Vec<f64>,
    /// Times from `first` along `progress`, filled in by `finalize`.
    times: Vec<f64>,
    report: Option<LapReport>,
}

impl Leg {
    fn variants_mut(&mut self) -> impl Iterator<Item = &mut Vec<f64>> {
        std::iter::once(&mut self.speeds)
            .chain(std::iter::once(&mut self.clean))
            .chain(self.singles.iter_mut().map(|(_, _, v, _)| v))
    }

    fn duration_s(&self) -> f64 {
        self.hold_s + self.times.last().copied().unwrap_or(0.0)
    }
}

/// The built-in game's car: produces one [`SimStep`] per 3 ms physics step.
///
/// ```
/// use purple_sector_core::sim::{SimConfig, Simulator, Track};
///
/// let mut config = SimConfig::new(Track::test_circuit());
/// config.laps = 1;
/// let mut sim = Simulator::new(config);
/// let hello = sim.handshake_response();
/// assert_eq!(hello.track_name.to_string_lossy(), "test");
///
/// let mut laps = Vec::new();
/// while let Some(step) = sim.step() {
///     if let Some(lap) = step.lap_completed {
///         laps.push(lap.time_ms);
///     }
/// }
/// assert_eq!(laps.len(), 2); // the out lap, then one flying lap
/// let flying_ms = f64::from(laps[1]);
/// assert!((flying_ms / sim.optimal_lap_time_ms() - 1.0).abs() < 0.03);
/// assert_eq!(sim.lap_reports()[1].lap, 2);
/// ```
#[derive(Debug, Clone)]
pub struct Simulator {
    config: SimConfig,
    driver: Driver,
    grid: Grid,
    optimal: SpeedProfile,
    /// The map the mistakes were resolved on, and each mistake's corner on the track.
    map: Option<TrackMap>,
    sites: Vec<Option<Corner>>,
    current: Leg,
    next: Option<Leg>,
    current_index: u32,
    leg_start_s: f64,
    lap_start_s: f64,
    cursor: usize,
    step_index: u64,
    lap_count: i32,
    last_lap_ms: i32,
    best_lap_ms: i32,
    gear: usize,
    launched: bool,
    finished: bool,
    reports: Vec<LapReport>,
    car_name: Name,
    driver_name: Name,
    track_name: Name,
    padding: ([u8; 3], [u8; 2]),
}

impl Simulator {
    /// A simulator with the default [`Driver`].
    pub fn new(config: SimConfig) -> Self {
        Self::with_driver(config, Driver::default())
    }

    /// A simulator with a given driver's variability.
    pub fn with_driver(config: SimConfig, driver: Driver) -> Self {
        let grid = Grid::new(&config.track);
        let optimal = SpeedProfile::optimal(&config.track, &config.car);
        let mut junk = SplitMix64::for_stream(config.seed, STREAM_JUNK, 0);
        let mut name = |text: &str| {
            let units = text.encode_utf16().count();
            let count = NAME_JUNK_UNITS.min(49usize.saturating_sub(units));
            let junk_units: Vec<u16> = (0..count).map(|_| junk.next_u64() as u16).collect();
            Name::with_junk(text, &junk_units).unwrap_or_default()
        };
        let car_name = name(&config.car.model);
        let driver_name = name(&clean_driver_name(&config.driver_name));
        let track_name = name(config.track.name());
        let bytes = junk.next_u64().to_le_bytes();
        let padding = ([bytes[0], bytes[1], bytes[2]], [bytes[3], bytes[4]]);
        let map = match &config.map {
            Some(map) => Some(map.clone()),
            None if !config.mistakes.is_empty() => {
                super::track_map(&config.track, &config.car).ok()
            }
            None => None,
        };
        let sites: Vec<Option<Corner>> = config
            .mistakes
            .iter()
            .map(|m| {
                let map = map.as_ref()?;
                let corner = map.corner(&m.corner)?;
                Some(super::map::on_track(corner, map, &config.track))
            })
            .collect();
        let mut out = Self::plan(&config, &driver, &grid, &sites, 0);
        let mut next = Self::plan(&config, &driver, &grid, &sites, 1);
        join(&mut out, &mut next, &config, &grid);
        finalize(&mut out, grid.spacing_m);
        Self {
            config,
            driver,
            grid,
            optimal,
            map,
            sites,
            current: out,
            next: Some(next),
            current_index: 0,
            leg_start_s: 0.0,
            lap_start_s: 0.0,
            cursor: 0,
            step_index: 0,
            lap_count: 0,
            last_lap_ms: 0,
            best_lap_ms: 0,
            gear: 1,
            launched: false,
            finished: false,
            reports: Vec::new(),
            car_name,
            driver_name,
            track_name,
            padding,
        }
    }

    /// What the game answers to a handshake: car, driver, track and layout (the track's
    /// name: no layouts), identifier 4242, version 1; each name ends with `%` and leftover
    /// junk after it, as the real game's do (deterministic from the seed).
    pub fn handshake_response(&self) -> OwnedHandshakeResponse {
        OwnedHandshakeResponse {
            car_name: self.car_name,
            driver_name: self.driver_name,
            identifier: HANDSHAKE_IDENTIFIER,
            version: HANDSHAKE_VERSION,
            track_name: self.track_name,
            track_config: self.track_name,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &SimConfig {
        &self.config
    }

    /// The driver.
    pub fn driver(&self) -> &Driver {
        &self.driver
    }

    /// The map the mistakes' corners were found on ([`SimConfig::map`], or the track's own);
    /// `None` without mistakes and without a map given.
    pub fn map(&self) -> Option<&TrackMap> {
        self.map.as_ref()
    }

    /// The ideal lap (nominal grip, no variation, flying start and finish).
    pub fn optimal_profile(&self) -> &SpeedProfile {
        &self.optimal
    }

    /// The ideal lap's time, ms: what a clean flying lap should take, within the driver's
    /// variation.
    pub fn optimal_lap_time_ms(&self) -> f64 {
        self.optimal.lap_time_s() * 1000.0
    }

    /// Laps the session completes, the out lap included (`laps + 1`).
    pub fn total_laps(&self) -> u32 {
        self.config.laps.saturating_add(1)
    }

    /// Every lap completed so far, in order.
    pub fn lap_reports(&self) -> &[LapReport] {
        &self.reports
    }

    /// Simulated time of the next step, ns.
    pub fn sim_time_ns(&self) -> u64 {
        self.step_index * PHYSICS_STEP_NS
    }

    /// True once [`Simulator::step`] has returned `None`.
    pub fn is_finished(&self) -> bool {
        self.finished
    }

    /// Plans leg `index` before any joining: 0 = out lap, `laps + 1` = the run-on. `sites`
    /// holds each mistake's corner on the track (`None`: not on the map).
    fn plan(
        config: &SimConfig,
        driver: &Driver,
        grid: &Grid,
        sites: &[Option<Corner>],
        index: u32,
    ) -> Leg {
        let lap = index + 1;
        let kind = if index == 0 {
            LegKind::Out
        } else if index > config.laps {
            LegKind::RunOn
        } else {
            LegKind::Flying
        };
        let mut rng = SplitMix64::for_stream(config.seed, STREAM_LAP, u64::from(lap));
        let variation = 1.0 + driver.grip_variation * (2.0 * rng.next_f64() - 1.0);
        let grip = if kind == LegKind::Out {
            driver.out_lap_grip * variation
        } else {
            variation
        };
        let car = &config.car;
        let mut speeds = driver::closed_speeds(grid, car, grip);
        let mut first = 0;
        let mut hold_s = 0.0;
        if kind == LegKind::Out {
            let pit = config.track.pit_lane();
            first = ((pit.box_m / grid.spacing_m).round() as usize).min(grid.intervals() - 1);
            let exit =
                ((pit.exit_m / grid.spacing_m).ceil() as usize).clamp(first, grid.intervals());
            let limit = pit.speed_limit_kmh / 3.6;
            for v in &mut speeds[first..=exit] {
                *v = v.min(limit);
            }
            speeds[first] = 0.0;
            hold_s = driver.pit_start_hold_s.max(0.0);
        }
        let dynamics = Dynamics {
            grid,
            car,
            grip,
            first,
        };
        driver::forward_pass(&mut speeds, dynamics, first);
        for corner in config.track.corners() {
            let early = driver.brake_point_variation_m * rng.next_f64();
            driver::brake_early(&mut speeds, dynamics, grid.span(corner), early);
        }
        let clean = speeds.clone();
        let mut mine: Vec<(&Mistake, Option<&Corner>)> = if kind == LegKind::RunOn {
            Vec::new()
        } else {
            config
                .mistakes
                .iter()
                .zip(sites)
                .filter(|(m, _)| m.lap == lap)
                .map(|(m, site)| (m, site.as_ref()))
                .collect()
        };
        // In track order; late brakings last (an edit after one would undo its scrub).
        mine.sort_by(|a, b| {
            let at = |site: Option<&Corner>| site.map_or(0.0, |c| c.start_m);
            let late = |m: &Mistake| m.kind == super::MistakeKind::LateBraking;
            late(a.0).cmp(&late(b.0)).then(at(a.1).total_cmp(&at(b.1)))
        });
        let mut singles = Vec::with_capacity(mine.len());
        let mut effects = Vec::new();
        for (mistake, site) in mine {
            let Some(site) = site else {
                singles.push((mistake.clone(), false, clean.clone(), Effects::default()));
                continue;
            };
            effects.extend(mistake.apply(&mut speeds, dynamics, grid, site));
            let mut single = clean.clone();
            let applied = mistake.apply(&mut single, dynamics, grid, site);
            singles.push((
                mistake.clone(),
                applied.is_some(),
                single,
                applied.unwrap_or_default(),
            ));
        }
        Leg {
            lap,
            kind,
            first,
            grip,
            hold_s,
            speeds,
            effects,
            clean,
            singles,
            progress: Vec::new(),
            times: Vec::new(),
            report: None,
        }
    }

    /// Moves on to the next leg after the current one ended at `end_s`.
    fn advance(&mut self, end_s: f64) {
        let Some(mut current) = self.next.take() else {
            self.finished = true;
            return;
        };
        self.current_index += 1;
        if self.current_index <= self.config.laps {
            let mut next = Self::plan(
                &self.config,
                &self.driver,
                &self.grid,
                &self.sites,
                self.current_index + 1,
            );
            join(&mut current, &mut next, &self.config, &self.grid);
            self.next = Some(next);
        }
        finalize(&mut current, self.grid.spacing_m);
        self.current = current;
        self.leg_start_s = end_s;
        self.cursor = 0;
    }

    /// One physics step; `None` once the session is over.
    pub fn step(&mut self) -> Option<SimStep> {
        if self.finished {
            return None;
        }
        let t = self.step_index as f64 * PHYSICS_STEP_S;
        let mut lap_completed = None;
        loop {
            let end_s = self.leg_start_s + self.current.duration_s();
            if self.current.kind == LegKind::RunOn {
                if t > self.leg_start_s + RUN_ON_S {
                    self.finished = true;
                    return None;
                }
                break;
            }
            if t < end_s {
                break;
            }
            lap_completed = Some(self.complete_lap(end_s));
            self.advance(end_s);
            if self.finished {
                return None;
            }
        }
        let car_info = self.car_info(t);
        let step = SimStep {
            sim_time_ns: self.step_index * PHYSICS_STEP_NS,
            car_info,
            lap_completed,
        };
        self.step_index += 1;
        Some(step)
    }

    /// Counts the current leg's lap as completed at `end_s`.
    fn complete_lap(&mut self, end_s: f64) -> OwnedLapCompleted {
        let duration = end_s - self.lap_start_s;
        let ms = (duration * 1000.0).round() as i32;
        self.lap_count += 1;
        self.last_lap_ms = ms;
        if self.best_lap_ms == 0 || ms < self.best_lap_ms {
            self.best_lap_ms = ms;
        }
        self.lap_start_s = end_s;
        if let Some(mut report) = self.current.report.take() {
            report.time_ms = duration * 1000.0;
            report.reported_ms = ms;
            self.reports.push(report);
        }
        OwnedLapCompleted {
            car_identifier_number: 0,
            lap: self.lap_count,
            driver_name: self.driver_name,
            car_name: self.car_name,
            time_ms: ms,
        }
    }

    /// Distance from the line, speed and acceleration at leg time `tau` (after the hold).
    /// On a longer path ([`Effects::path`]) the car goes along the centre line slower than
    /// its speed by the path factor.
    fn kinematics(&mut self, tau: f64) -> (f64, f64, f64) {
        let leg = &self.current;
        let ds = self.grid.spacing_m;
        let base = leg.first as f64 * ds;
        if tau <= 0.0 {
            return (base, leg.speeds[leg.first], 0.0);
        }
        let last = leg.times.len() - 1;
        while self.cursor + 1 < last && leg.times[self.cursor + 1] <= tau {
            self.cursor += 1;
        }
        let i = self.cursor;
        let (t0, t1) = (leg.times[i], leg.times[i + 1]);
        let (q0, q1) = (leg.progress[leg.first + i], leg.progress[leg.first + i + 1]);
        let dt = (t1 - t0).max(1e-12);
        let a = (q1 - q0) / dt;
        let u = (tau - t0).clamp(0.0, dt);
        let q = q0 + a * u;
        let s = base + i as f64 * ds + q0 * u + 0.5 * a * u * u;
        if leg.effects.iter().all(|e| e.path.is_none()) {
            return (s, q, a);
        }
        let f = driver::path_factor(&leg.effects, leg.first + i, ds);
        (s, q * f, a * f)
    }

    /// The gear and pedals the mistakes being driven set at `s`, if any: a gear lower
    /// ([`Effects::gear_down`]) and the clean lap's pedals ([`Effects::clean_pedals`]).
    fn overrides(&self, s: f64, v: f64) -> (Option<usize>, Option<(f64, f64)>) {
        let leg = &self.current;
        if leg.effects.is_empty() {
            return (None, None);
        }
        let ds = self.grid.spacing_m;
        let i = self.grid.index_at(s);
        let within = |range: Option<(usize, usize)>| range.is_some_and(|(a, b)| a <= i && i <= b);
        let car = &self.config.car;
        let gear = leg
            .effects
            .iter()
            .any(|e| within(e.gear_down))
            .then(|| self.gear.saturating_sub(1).max(1))
            .filter(|&g| g < self.gear && car.rpm(v, g) < car.limiter_rpm);
        let pedals = leg.effects.iter().any(|e| within(e.clean_pedals)).then(|| {
            let j = (i + 1).min(leg.clean.len() - 1);
            let (c0, c1) = (leg.clean[i], leg.clean[j]);
            let t = ((s - i as f64 * ds) / ds).clamp(0.0, 1.0);
            let vc = c0 + (c1 - c0) * t;
            let accel = (c1 * c1 - c0 * c0) / (2.0 * ds);
            (car.throttle_for(vc, accel), car.brake_for(vc, accel))
        });
        (gear, pedals)
    }

    /// The car-info datagram at session time `t`.
    fn car_info(&mut self, t: f64) -> OwnedCarInfo {
        let tau = t - self.leg_start_s - self.current.hold_s;
        let holding = tau < 0.0;
        let (s, v, a) = self.kinematics(tau);
        let out_lap = self.current.kind == LegKind::Out;
        let grip = self.current.grip;
        let (track, car) = (&self.config.track, &self.config.car);
        let s = track.wrap(s);
        let kappa = track.curvature_at(s);
        let pit = track.pit_lane();
        let in_pit = out_lap && pit.contains(s);

        self.gear = if holding {
            1
        } else {
            car.next_gear(v, self.gear)
        };
        let (gear_override, pedal_override) = self.overrides(s, v);
        let gear = gear_override.unwrap_or(self.gear);
        let wheel_rpm = car.rpm(v, gear);
        let (rpm, clutch) = if holding {
            (car.idle_rpm, 0.0)
        } else if !self.launched && wheel_rpm < car.launch_rpm {
            (car.launch_rpm, wheel_rpm / car.launch_rpm)
        } else {
            self.launched = true;
            (wheel_rpm.max(car.idle_rpm), 1.0)
        };
        let (gas, brake) = if holding {
            (0.0, 0.0)
        } else {
            let (gas, brake) =
                pedal_override.unwrap_or_else(|| (car.throttle_for(v, a), car.brake_for(v, a)));
            (
                if gas < 0.005 { 0.0 } else { gas },
                if brake < 0.005 { 0.0 } else { brake },
            )
        };

        let lateral = v * v * kappa;
        let downforce = car.downforce_n(v);
        let weight = car.mass_kg * STANDARD_GRAVITY_MS2 + downforce;
        let front_share = 1.0 - car.driven_axle_share;
        let long_transfer = car.mass_kg * a * car.cg_height_m / car.wheelbase_m;
        let lat_transfer = car.mass_kg * lateral * car.cg_height_m / car.track_width_m;
        let front = weight * front_share - long_transfer;
        let rear = weight * car.driven_axle_share + long_transfer;
        // Right-hand corner (κ > 0): the left wheels are on the outside.
        let load = [
            0.5 * front + 0.5 * lat_transfer * front_share,
            0.5 * front - 0.5 * lat_transfer * front_share,
            0.5 * rear + 0.5 * lat_transfer * car.driven_axle_share,
            0.5 * rear - 0.5 * lat_transfer * car.driven_axle_share,
        ];
        let omega = car.wheel_angular_speed(v);
        let half_track = 0.5 * car.track_width_m * kappa;
        let wheel = [
            omega * (1.0 + half_track),
            omega * (1.0 - half_track),
            omega * (1.0 + half_track),
            omega * (1.0 - half_track),
        ];
        let usage = (lateral.abs() / car.max_lateral_accel(v, grip)).min(1.0);
        let slip_deg = 4.0 * usage * kappa.signum();
        let squat = 0.012 * downforce / (car.mass_kg * STANDARD_GRAVITY_MS2);

        let position = track.offset_position_at(s, if in_pit { pit.offset_at(s) } else { 0.0 });
        let mut normalized = (s / track.length_m()) as f32;
        if normalized >= 1.0 {
            normalized = 0.0;
        }
        let lap_time_ms = ((t - self.lap_start_s) * 1000.0).floor().max(0.0) as i32;
        let rpm_f32 = rpm as f32;

        let mut info = OwnedCarInfo {
            padding_after_identifier: self.padding.0,
            padding_after_flags: self.padding.1,
            speed_kmh: (v * 3.6) as f32,
            speed_mph: (v * 3.6 / 1.609_344) as f32,
            speed_ms: v as f32,
            is_abs_enabled: true,
            is_abs_in_action: brake >= 0.95,
            is_tc_in_action: false,
            is_tc_enabled: true,
            is_in_pit: in_pit,
            is_engine_limiter_on: rpm >= car.limiter_rpm - 10.0,
            acc_g_vertical: (v * v * track.vertical_curvature_at(s) / STANDARD_GRAVITY_MS2)
                .clamp(-0.5, 0.5) as f32,
            acc_g_horizontal: (lateral / STANDARD_GRAVITY_MS2) as f32,
            acc_g_frontal: (a / STANDARD_GRAVITY_MS2) as f32,
            lap_time_ms,
            last_lap_ms: self.last_lap_ms,
            best_lap_ms: self.best_lap_ms,
            lap_count: self.lap_count,
            gas: gas as f32,
            brake: brake as f32,
            clutch: clutch as f32,
            engine_rpm: rpm_f32,
            steer_deg: car.steer_deg(kappa) as f32,
            cg_height_m: car.cg_height_m as f32,
            wheel_angular_speed_rad_s: wheel.map(|w| w as f32),
            slip_angle_deg: [slip_deg, slip_deg, 0.8 * slip_deg, 0.8 * slip_deg].map(|x| x as f32),
            nd_slip: [usage; 4].map(|x| x as f32),
            load_n: load.map(|x| x.max(0.0) as f32),
            dy: [car.lateral_grip * grip; 4].map(|x| x as f32),
            camber_rad: [-0.065, -0.065, -0.045, -0.045],
            tyre_radius_m: [car.tyre_radius_m as f32; 4],
            tyre_loaded_radius_m: [car.loaded_radius_m as f32; 4],
            suspension_height_m: [0.035 - squat, 0.035 - squat, 0.05 - squat, 0.05 - squat]
                .map(|x| x as f32),
            car_position_normalized: normalized,
            car_coordinates_m: position.map(|x| x as f32),
            ..OwnedCarInfo::default()
        };
        info.set_gear(gear as i32);
        info
    }
}

impl Iterator for Simulator {
    type Item = SimStep;

    /// [`Simulator::step`].
    fn next(&mut self) -> Option<SimStep> {
        self.step()
    }
}

/// Joins two consecutive legs: `a` ends at the speed `b` can start with, `b` starts at the
/// speed `a` ends with (each variant of `a` towards `b`'s driven start).
fn join(a: &mut Leg, b: &mut Leg, config: &SimConfig, grid: &Grid) {
    let n = grid.intervals();
    let next_start = b.speeds[b.first];
    let dyn_a = Dynamics {
        grid,
        car: &config.car,
        grip: a.grip,
        first: a.first,
    };
    for v in a.variants_mut() {
        v[n] = v[n].min(next_start);
        driver::backward_pass_settling(v, dyn_a, n);
    }
    let end = a.speeds[n];
    let dyn_b = Dynamics {
        grid,
        car: &config.car,
        grip: b.grip,
        first: b.first,
    };
    let first = b.first;
    for v in b.variants_mut() {
        v[first] = v[first].min(end);
        driver::forward_pass_settling(v, dyn_b, first);
    }
}

/// Speed along the centre line: `speeds` over the path factor of `effects`.
fn progress(speeds: &[f64], effects: &[Effects], spacing_m: f64) -> Vec<f64> {
    if effects.iter().all(|e| e.path.is_none()) {
        return speeds.to_vec();
    }
    speeds
        .iter()
        .enumerate()
        .map(|(i, v)| v / driver::path_factor(effects, i, spacing_m))
        .collect()
}

/// Times of the driven variant and the lap report.
fn finalize(leg: &mut Leg, spacing_m: f64) {
    let time = |v: &[f64], effects: &[Effects]| {
        let q = progress(v, effects, spacing_m);
        leg.hold_s
            + driver::cumulative_times(&q[leg.first..], spacing_m)
                .last()
                .copied()
                .unwrap_or(0.0)
    };
    leg.progress = progress(&leg.speeds, &leg.effects, spacing_m);
    leg.times = driver::cumulative_times(&leg.progress[leg.first..], spacing_m);
    let clean_s = time(&leg.clean, &[]);
    let mistakes = leg
        .singles
        .iter()
        .map(|(mistake, applied, v, effects)| MistakeCost {
            mistake: mistake.clone(),
            applied: *applied,
            cost_ms: (time(v, std::slice::from_ref(effects)) - clean_s) * 1000.0,
        })
        .collect();
    let time_s = leg.duration_s();
    leg.report = (leg.kind != LegKind::RunOn).then(|| LapReport {
        lap: leg.lap,
        out_lap: leg.kind == LegKind::Out,
        time_ms: time_s * 1000.0,
        reported_ms: (time_s * 1000.0).round() as i32,
        clean_time_ms: clean_s * 1000.0,
        grip: leg.grip,
        mistakes,
    });
}

/// The driver name without `%` or NUL (they would end the name on the wire), at most 40
/// UTF-16 units.
fn clean_driver_name(name: &str) -> String {
    let mut out = String::new();
    let mut units = 0;
    for c in name.chars().filter(|&c| c != '%' && c != '\0') {
        units += c.len_utf16();
        if units > DRIVER_NAME_MAX_UNITS {
            break;
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn driver_names_are_made_safe() {
        assert_eq!(clean_driver_name("100% Scott\0"), "100 Scott");
        assert_eq!(clean_driver_name(&"x".repeat(60)).len(), 40);
    }
}
