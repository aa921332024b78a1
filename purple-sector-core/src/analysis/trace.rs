//! [`LapTrace`]: one lap on a distance grid.

use serde::{Deserialize, Serialize};

use super::error::{AnalysisError, LapRole};
use super::thresholds::Thresholds;
use crate::lap::Lap;
use crate::store::{Channel, Columns};
use crate::telemetry::{Flags, Frame};

/// Shortest plausible track, m.
const MIN_LENGTH_M: f64 = 50.0;

/// Slowest speed used to extrapolate time past the frames, m/s.
const MIN_EXTRAPOLATION_SPEED_MS: f64 = 0.5;

/// A lap on a ≈ 1 m distance grid: every channel a coach plots, and the time along the lap.
///
/// # How a lap is put on the grid
///
/// 1. **Position, unwrapped.** The game's normalized position wraps from 0.99… to 0 at the
///    line, and the lap clock does not reset on exactly the same packet: a lap's first frames
///    may still read 0.99x (just before the line) and its last ones 0.00x (just past it). The
///    positions are unwrapped into one increasing run (a drop of more than half a lap is a
///    wrap), then shifted by whole laps so that the frame in the middle of the lap lies in
///    0..1: early frames come out slightly negative, late ones slightly above 1.
/// 2. **Jitter and duplicates.** A frame is kept only when its position is beyond the last
///    kept one and its lap clock has not gone back: duplicated packets, a car at rest and
///    backward jitter are dropped.
/// 3. **Length.** The track length is the path length of the world coordinates (x, y, z) over
///    the frames, divided by the share of the lap they cover; without coordinates, the speed
///    integrated over the lap clock. Two laps are compared on the reference's length: the lap
///    is put on it by its normalized position ([`LapTrace::with_length`]).
/// 4. **Grid.** Points every `length / round(length)` m (≈ 1 m) from 0 to the length, both
///    included. Continuous channels (speed, pedals, steering, rpm, g, coordinates) are
///    interpolated linearly in distance between the two frames around a point; discrete
///    ones (gear, flags) are held from the frame at or before it. Before the first frame and
///    after the last one the nearest frame's values are held.
/// 5. **Time.** The lap clock counts whole milliseconds. Each frame's time is taken from its
///    receive time (`time_ns`) when those agree with the lap clock to the millisecond (then
///    the clock only fixes the offset, to within the intersection of all the frames'
///    one-millisecond windows: sub-millisecond), else from the lap clock itself (+0.5 ms, the
///    middle of its millisecond). Times are interpolated linearly in distance between
///    frames and extrapolated at the frames' speed before the first and after the last. The
///    result is measured from the grid's first point (time 0 at the line); then the
///    difference between that measured lap time and the lap's time — the official time when
///    known, the lap clock of the last frame otherwise — is spread linearly along the lap, so
///    that the time at the line is exactly the lap's time.
///
/// ```
/// use purple_sector_core::analysis::LapTrace;
/// use purple_sector_core::telemetry::Frame;
///
/// // A 1 km straight at 100 m/s, one frame every 10 ms.
/// let frames: Vec<Frame> = (0..=1000)
///     .map(|i| Frame {
///         lap_time_ms: i * 10,
///         position_normalized: i as f32 / 1000.0,
///         speed_kmh: 360.0,
///         speed_ms: 100.0,
///         world_m: [i as f32, 0.0, 0.0],
///         ..Frame::default()
///     })
///     .collect();
/// let trace = LapTrace::new(&frames, Some(10_000))?;
/// assert!((trace.length_m() - 1000.0).abs() < 1e-3);
/// assert_eq!(trace.len(), 1001);
/// assert!((trace.time_at(500.0) - 5.0).abs() < 1e-3);
/// assert_eq!(trace.lap_time_ms(), 10_000);
/// # Ok::<(), purple_sector_core::analysis::AnalysisError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LapTrace {
    length_m: f64,
    spacing_m: f64,
    measured_length_m: f64,
    lap_time_ms: i32,
    official: bool,
    measured_time_s: f64,
    /// Where the first and the last frame are, m from the line.
    frames_m: (f64, f64),
    time_s: Vec<f64>,
    speed_kmh: Vec<f32>,
    gas: Vec<f32>,
    brake: Vec<f32>,
    clutch: Vec<f32>,
    steer_deg: Vec<f32>,
    engine_rpm: Vec<f32>,
    g_lateral: Vec<f32>,
    g_longitudinal: Vec<f32>,
    world_m: Vec<[f32; 3]>,
    gear: Vec<i32>,
    flags: Vec<Flags>,
}

/// A lap's channels as a trace reads them: one slice a channel, all of the lap's length.
/// Frames are read into these once ([`FrameChannels`]); stored columns are borrowed as
/// they are.
struct Channels<'a> {
    time_ns: &'a [u64],
    lap_time_ms: &'a [i32],
    position_normalized: &'a [f32],
    /// The game's speed in m/s; `None` (the stored principal channels lack it) takes the
    /// km/h one, as a frame whose m/s speed is 0 does.
    speed_ms: Option<&'a [f32]>,
    speed_kmh: &'a [f32],
    gas: &'a [f32],
    brake: &'a [f32],
    clutch: &'a [f32],
    steer_deg: &'a [f32],
    engine_rpm: &'a [f32],
    g_lateral: &'a [f32],
    g_longitudinal: &'a [f32],
    world_m: [&'a [f32]; 3],
    gear: &'a [i32],
    /// `None` (not a principal channel): held as none set, as in a principal frame.
    flags: Option<&'a [Flags]>,
}

impl Channels<'_> {
    fn len(&self) -> usize {
        self.position_normalized.len()
    }

    /// Speed of frame `i`, m/s: the game's m/s speed when it is positive, else its km/h one.
    fn speed_ms(&self, i: usize) -> f64 {
        if let Some(v) = self.speed_ms.map(|s| s[i])
            && v.is_finite()
            && v > 0.0
        {
            return f64::from(v);
        }
        let kmh = self.speed_kmh[i];
        if kmh.is_finite() {
            f64::from(kmh).max(0.0) / 3.6
        } else {
            0.0
        }
    }

    fn world_m(&self, i: usize) -> [f32; 3] {
        [self.world_m[0][i], self.world_m[1][i], self.world_m[2][i]]
    }
}

/// The channels of frames, read out of them in one pass: a frame is 328 bytes, of which a
/// trace reads 76; they are read once, in a tight loop that touches every cache line of each
/// frame ([`crate::telemetry::touch_every_line`]: one lap on the grid 3.1 → 1.6–1.8 ms,
/// 35 614 frames, `--bench analysis`), and the trace's own loops read the columns.
struct FrameChannels {
    time_ns: Vec<u64>,
    lap_time_ms: Vec<i32>,
    position_normalized: Vec<f32>,
    speed_ms: Vec<f32>,
    speed_kmh: Vec<f32>,
    gas: Vec<f32>,
    brake: Vec<f32>,
    clutch: Vec<f32>,
    steer_deg: Vec<f32>,
    engine_rpm: Vec<f32>,
    g_lateral: Vec<f32>,
    g_longitudinal: Vec<f32>,
    world_m: [Vec<f32>; 3],
    gear: Vec<i32>,
    flags: Vec<Flags>,
}

impl FrameChannels {
    fn of(frames: &[Frame]) -> Self {
        let n = frames.len();
        let floats = || vec![0.0f32; n];
        let mut out = Self {
            time_ns: vec![0; n],
            lap_time_ms: vec![0; n],
            position_normalized: floats(),
            speed_ms: floats(),
            speed_kmh: floats(),
            gas: floats(),
            brake: floats(),
            clutch: floats(),
            steer_deg: floats(),
            engine_rpm: floats(),
            g_lateral: floats(),
            g_longitudinal: floats(),
            world_m: [floats(), floats(), floats()],
            gear: vec![0; n],
            flags: vec![Flags::default(); n],
        };
        let [x, y, z] = &mut out.world_m;
        // Every column is `n` long: the stores below need no bounds checks.
        let (x, y, z) = (&mut x[..n], &mut y[..n], &mut z[..n]);
        let time_ns = &mut out.time_ns[..n];
        let lap_time_ms = &mut out.lap_time_ms[..n];
        let position = &mut out.position_normalized[..n];
        let speed_ms = &mut out.speed_ms[..n];
        let speed_kmh = &mut out.speed_kmh[..n];
        let gas = &mut out.gas[..n];
        let brake = &mut out.brake[..n];
        let clutch = &mut out.clutch[..n];
        let steer_deg = &mut out.steer_deg[..n];
        let engine_rpm = &mut out.engine_rpm[..n];
        let g_lateral = &mut out.g_lateral[..n];
        let g_longitudinal = &mut out.g_longitudinal[..n];
        let gear = &mut out.gear[..n];
        let flags = &mut out.flags[..n];
        // The bits of a word of each wheel array, kept from the optimiser below.
        let mut touched = 0u32;
        for (i, f) in frames.iter().enumerate() {
            touched |= crate::telemetry::touch_every_line(f);
            time_ns[i] = f.time_ns;
            lap_time_ms[i] = f.lap_time_ms;
            position[i] = f.position_normalized;
            speed_ms[i] = f.speed_ms;
            speed_kmh[i] = f.speed_kmh;
            gas[i] = f.gas;
            brake[i] = f.brake;
            clutch[i] = f.clutch;
            steer_deg[i] = f.steer_deg;
            engine_rpm[i] = f.engine_rpm;
            g_lateral[i] = f.g_lateral;
            g_longitudinal[i] = f.g_longitudinal;
            x[i] = f.world_m[0];
            y[i] = f.world_m[1];
            z[i] = f.world_m[2];
            gear[i] = f.gear;
            flags[i] = f.flags;
        }
        std::hint::black_box(touched);
        out
    }

    fn view(&self) -> Channels<'_> {
        Channels {
            time_ns: &self.time_ns,
            lap_time_ms: &self.lap_time_ms,
            position_normalized: &self.position_normalized,
            speed_ms: Some(&self.speed_ms),
            speed_kmh: &self.speed_kmh,
            gas: &self.gas,
            brake: &self.brake,
            clutch: &self.clutch,
            steer_deg: &self.steer_deg,
            engine_rpm: &self.engine_rpm,
            g_lateral: &self.g_lateral,
            g_longitudinal: &self.g_longitudinal,
            world_m: [&self.world_m[0], &self.world_m[1], &self.world_m[2]],
            gear: &self.gear,
            flags: Some(&self.flags),
        }
    }
}

/// The stored columns' view, each channel a trace reads checked to be there.
fn column_view(columns: &Columns) -> Result<Channels<'_>, AnalysisError> {
    let frames = columns.len();
    for &channel in &LapTrace::CHANNELS {
        let found = match channel {
            Channel::TimeNs => columns.time_ns.len(),
            Channel::LapTimeMs => columns.lap_time_ms.len(),
            Channel::PositionNormalized => columns.position_normalized.len(),
            Channel::SpeedKmh => columns.speed_kmh.len(),
            Channel::Gas => columns.gas.len(),
            Channel::Brake => columns.brake.len(),
            Channel::Clutch => columns.clutch.len(),
            Channel::SteerDeg => columns.steer_deg.len(),
            Channel::Gear => columns.gear.len(),
            Channel::EngineRpm => columns.engine_rpm.len(),
            Channel::GVertical => columns.g_vertical.len(),
            Channel::GLateral => columns.g_lateral.len(),
            Channel::GLongitudinal => columns.g_longitudinal.len(),
            Channel::WorldX => columns.world_x_m.len(),
            Channel::WorldY => columns.world_y_m.len(),
            Channel::WorldZ => columns.world_z_m.len(),
        };
        if found != frames {
            return Err(AnalysisError::MissingChannel {
                role: LapRole::Lap,
                channel: channel.name(),
                found,
                frames,
            });
        }
    }
    Ok(Channels {
        time_ns: &columns.time_ns,
        lap_time_ms: &columns.lap_time_ms,
        position_normalized: &columns.position_normalized,
        speed_ms: None,
        speed_kmh: &columns.speed_kmh,
        gas: &columns.gas,
        brake: &columns.brake,
        clutch: &columns.clutch,
        steer_deg: &columns.steer_deg,
        engine_rpm: &columns.engine_rpm,
        g_lateral: &columns.g_lateral,
        g_longitudinal: &columns.g_longitudinal,
        world_m: [&columns.world_x_m, &columns.world_y_m, &columns.world_z_m],
        gear: &columns.gear,
        flags: None,
    })
}

/// The frames a trace is built from, cleaned: unwrapped positions, times in ms.
struct Cleaned {
    /// Index of each kept frame among the lap's.
    kept: Vec<usize>,
    /// Unwrapped normalized position of each kept frame.
    position: Vec<f64>,
    /// Time of each kept frame on the lap clock, ms (sub-ms where the receive times allow).
    time_ms: Vec<f64>,
    /// World position of each kept frame, m.
    world_m: Vec<[f32; 3]>,
    /// Speed of each kept frame, m/s.
    speed_ms: Vec<f64>,
}

impl LapTrace {
    /// The channels [`LapTrace::from_columns`] reads: every principal channel but the
    /// vertical g. Load these with [`crate::store::Store::lap_columns`].
    pub const CHANNELS: [Channel; 15] = [
        Channel::TimeNs,
        Channel::LapTimeMs,
        Channel::PositionNormalized,
        Channel::SpeedKmh,
        Channel::Gas,
        Channel::Brake,
        Channel::Clutch,
        Channel::SteerDeg,
        Channel::Gear,
        Channel::EngineRpm,
        Channel::GLateral,
        Channel::GLongitudinal,
        Channel::WorldX,
        Channel::WorldY,
        Channel::WorldZ,
    ];

    /// A lap on its own length (from its coordinates, or its speed). `lap_time_ms` is the
    /// official time when known; `None` takes the lap clock of the last frame. It needs at
    /// least [`Thresholds::min_frames`] frames covering [`Thresholds::min_coverage`] of the
    /// lap (the defaults).
    pub fn new(frames: &[Frame], lap_time_ms: Option<i32>) -> Result<Self, AnalysisError> {
        Self::build(frames, lap_time_ms, None, &Thresholds::default())
    }

    /// A lap on a given track length (the reference's), placed by normalized position.
    pub fn with_length(
        frames: &[Frame],
        lap_time_ms: Option<i32>,
        length_m: f64,
    ) -> Result<Self, AnalysisError> {
        Self::build(frames, lap_time_ms, Some(length_m), &Thresholds::default())
    }

    /// A stored lap on its own length, timed by its official time when it has one.
    pub fn from_lap(lap: &Lap) -> Result<Self, AnalysisError> {
        Self::new(&lap.frames, lap.time_ms())
    }

    /// A lap from its stored columns ([`crate::store::Store::lap_columns`] of
    /// [`LapTrace::CHANNELS`]): on its own length when `length_m` is `None`
    /// ([`LapTrace::new`]), else on that one ([`LapTrace::with_length`]). The fastest way
    /// from a store to a trace: no frames are made. The result equals the trace of the
    /// lap's principal frames ([`crate::store::Store::lap_principal_frames`]), which have
    /// neither the m/s speed (the km/h one is used) nor the [`Flags`] (held as none set).
    /// A channel of [`LapTrace::CHANNELS`] not loaded is
    /// [`AnalysisError::MissingChannel`].
    ///
    /// ```
    /// use purple_sector_core::analysis::LapTrace;
    /// use purple_sector_core::store::Columns;
    /// use purple_sector_core::telemetry::Frame;
    ///
    /// let frames: Vec<Frame> = (0..=1000)
    ///     .map(|i| Frame {
    ///         lap_time_ms: i * 10,
    ///         position_normalized: i as f32 / 1000.0,
    ///         speed_kmh: 360.0,
    ///         world_m: [i as f32, 0.0, 0.0],
    ///         ..Frame::default()
    ///     })
    ///     .collect();
    /// let columns = Columns::from_frames(&frames, &LapTrace::CHANNELS);
    /// let trace = LapTrace::from_columns(&columns, Some(10_000), None)?;
    /// assert_eq!(trace, LapTrace::new(&frames, Some(10_000))?);
    /// assert!((trace.time_at(500.0) - 5.0).abs() < 1e-3);
    /// # Ok::<(), purple_sector_core::analysis::AnalysisError>(())
    /// ```
    pub fn from_columns(
        columns: &Columns,
        lap_time_ms: Option<i32>,
        length_m: Option<f64>,
    ) -> Result<Self, AnalysisError> {
        Self::build_on(
            &column_view(columns)?,
            lap_time_ms,
            length_m,
            &Thresholds::default(),
        )
    }

    /// [`LapTrace::new`] (`length_m` `None`) or [`LapTrace::with_length`] with the given
    /// thresholds.
    pub(super) fn build(
        frames: &[Frame],
        lap_time_ms: Option<i32>,
        length_m: Option<f64>,
        thresholds: &Thresholds,
    ) -> Result<Self, AnalysisError> {
        if frames.len() < thresholds.min_frames {
            return Err(AnalysisError::TooFewFrames {
                role: LapRole::Lap,
                found: frames.len(),
                min: thresholds.min_frames,
            });
        }
        let channels = FrameChannels::of(frames);
        Self::build_on(&channels.view(), lap_time_ms, length_m, thresholds)
    }

    fn build_on(
        channels: &Channels<'_>,
        lap_time_ms: Option<i32>,
        length_m: Option<f64>,
        thresholds: &Thresholds,
    ) -> Result<Self, AnalysisError> {
        let role = LapRole::Lap;
        let cleaned = clean(channels, thresholds.min_frames)?;
        let n = cleaned.kept.len();
        let (first, last) = (cleaned.position[0], cleaned.position[n - 1]);
        let coverage = last - first;
        if coverage < thresholds.min_coverage {
            return Err(AnalysisError::IncompleteLap {
                role,
                covered_percent: coverage * 100.0,
                min_percent: thresholds.min_coverage * 100.0,
            });
        }
        let measured_length_m = measured_length(&cleaned, coverage)?;
        let length_m = match length_m {
            Some(l) if l.is_finite() && l >= MIN_LENGTH_M => l,
            _ => measured_length_m,
        };
        let end_ms = lap_time_ms.unwrap_or(channels.lap_time_ms[cleaned.kept[n - 1]]);
        if end_ms <= 0 {
            return Err(AnalysisError::BadLapTime {
                role,
                time_ms: end_ms,
            });
        }
        Ok(resample(
            channels,
            &cleaned,
            length_m,
            measured_length_m,
            end_ms,
            lap_time_ms.is_some(),
        ))
    }

    /// Track length the lap is on, m.
    pub fn length_m(&self) -> f64 {
        self.length_m
    }

    /// The lap's own length (from its coordinates or speed), m: equal to
    /// [`LapTrace::length_m`] unless put on another lap's length.
    pub fn measured_length_m(&self) -> f64 {
        self.measured_length_m
    }

    /// Distance between grid points, m (≈ 1).
    pub fn spacing_m(&self) -> f64 {
        self.spacing_m
    }

    /// Number of grid points (the line is both the first and the last).
    pub fn len(&self) -> usize {
        self.time_s.len()
    }

    /// Never true for a built trace (it has at least two points).
    pub fn is_empty(&self) -> bool {
        self.time_s.is_empty()
    }

    /// Distance of grid point `index` from the line, m.
    pub fn distance_m(&self, index: usize) -> f64 {
        index as f64 * self.spacing_m
    }

    /// The grid point nearest `distance_m` (clamped to the lap).
    pub fn index_at(&self, distance_m: f64) -> usize {
        let last = self.len().saturating_sub(1);
        let f = (distance_m / self.spacing_m).round();
        if f <= 0.0 { 0 } else { (f as usize).min(last) }
    }

    /// The lap's time, ms: official when it was given, else the last frame's lap clock. The
    /// trace's time at the line equals it.
    pub fn lap_time_ms(&self) -> i32 {
        self.lap_time_ms
    }

    /// True when [`LapTrace::lap_time_ms`] is the official time.
    pub fn has_official_time(&self) -> bool {
        self.official
    }

    /// The lap's time measured from the frames alone (before it was pinned to
    /// [`LapTrace::lap_time_ms`]), s.
    pub fn measured_time_s(&self) -> f64 {
        self.measured_time_s
    }

    /// Where on the grid the lap's first and last frames are, m from the line (the first
    /// may be a little before it, the last a little past the end). Outside, the channels
    /// are held from the nearest frame and the time is extrapolated: an out lap's frames
    /// start in the pit lane, tens of metres past the line, with the car at rest.
    pub fn frames_m(&self) -> (f64, f64) {
        self.frames_m
    }

    /// Time from the line to each grid point, s (0 at the first, the lap time at the last).
    pub fn time_s(&self) -> &[f64] {
        &self.time_s
    }

    /// Time from the line to `distance_m` (clamped to the lap), s: linear between grid points.
    pub fn time_at(&self, distance_m: f64) -> f64 {
        interpolate(&self.time_s, distance_m / self.spacing_m)
    }

    /// Speed at each grid point, km/h.
    pub fn speed_kmh(&self) -> &[f32] {
        &self.speed_kmh
    }

    /// Throttle, 0..1.
    pub fn gas(&self) -> &[f32] {
        &self.gas
    }

    /// Brake, 0..1.
    pub fn brake(&self) -> &[f32] {
        &self.brake
    }

    /// Clutch, 0..1 (1 = engaged).
    pub fn clutch(&self) -> &[f32] {
        &self.clutch
    }

    /// Steering-wheel angle, degrees.
    pub fn steer_deg(&self) -> &[f32] {
        &self.steer_deg
    }

    /// Engine speed, rpm.
    pub fn engine_rpm(&self) -> &[f32] {
        &self.engine_rpm
    }

    /// Lateral acceleration, g.
    pub fn g_lateral(&self) -> &[f32] {
        &self.g_lateral
    }

    /// Longitudinal acceleration, g.
    pub fn g_longitudinal(&self) -> &[f32] {
        &self.g_longitudinal
    }

    /// World position x, y (up), z, m.
    pub fn world_m(&self) -> &[[f32; 3]] {
        &self.world_m
    }

    /// Gear (reverse −1, neutral 0, first 1 …), held from the frame at or before each point.
    pub fn gear(&self) -> &[i32] {
        &self.gear
    }

    /// ABS, TC, pit and limiter states, held.
    pub fn flags(&self) -> &[Flags] {
        &self.flags
    }
}

/// Linear interpolation of `values` at fractional index `f` (clamped).
pub(crate) fn interpolate(values: &[f64], f: f64) -> f64 {
    let Some(&last_value) = values.last() else {
        return 0.0;
    };
    let last = values.len() - 1;
    if f.is_nan() || f <= 0.0 {
        return values[0];
    }
    if f >= last as f64 {
        return last_value;
    }
    let i = f.floor() as usize;
    let w = f - i as f64;
    values[i] + (values[i + 1] - values[i]) * w
}

/// Unwraps, drops duplicates and jitter, and times the frames; at least `min_frames` must
/// be left.
fn clean(channels: &Channels<'_>, min_frames: usize) -> Result<Cleaned, AnalysisError> {
    let role = LapRole::Lap;
    let count = channels.len();
    if count < min_frames {
        return Err(AnalysisError::TooFewFrames {
            role,
            found: count,
            min: min_frames,
        });
    }
    // One pass: unwrap the position into one run and keep the frames that move forward
    // without the clock going back (both shift-invariant), reading what the rest needs.
    let mut kept: Vec<usize> = Vec::with_capacity(count);
    let mut position = Vec::with_capacity(count);
    let mut clock_ms: Vec<i32> = Vec::with_capacity(count);
    let mut laps = 0.0f64;
    let mut previous: Option<f64> = None;
    let mut median_unwrapped = 0.0f64;
    let clocks = &channels.lap_time_ms[..count];
    for (index, (&p, &clock)) in channels.position_normalized.iter().zip(clocks).enumerate() {
        let p = f64::from(p);
        if !p.is_finite() {
            return Err(AnalysisError::NotFinite { role, index });
        }
        if let Some(q) = previous {
            if p - q < -0.5 {
                laps += 1.0;
            } else if p - q > 0.5 {
                laps -= 1.0;
            }
        }
        previous = Some(p);
        let u = p + laps;
        if index == count / 2 {
            median_unwrapped = u;
        }
        let forward = position.last().is_none_or(|&last: &f64| u > last);
        let clock_ok = clock_ms.last().is_none_or(|&last| clock >= last);
        if forward && clock_ok {
            kept.push(index);
            position.push(u);
            clock_ms.push(clock);
        }
    }
    let shift = median_unwrapped.floor();
    for u in &mut position {
        *u -= shift;
    }
    if kept.len() < min_frames {
        return Err(AnalysisError::TooFewFrames {
            role,
            found: kept.len(),
            min: min_frames,
        });
    }
    let (first_ms, last_ms) = (clock_ms[0], clock_ms[clock_ms.len() - 1]);
    if last_ms <= first_ms {
        return Err(AnalysisError::NoClock {
            role,
            first_ms,
            last_ms,
        });
    }
    let received_ns: Vec<u64> = kept.iter().map(|&i| channels.time_ns[i]).collect();
    let time_ms = frame_times_ms(&received_ns, &clock_ms);
    Ok(Cleaned {
        world_m: kept.iter().map(|&i| channels.world_m(i)).collect(),
        speed_ms: kept.iter().map(|&i| channels.speed_ms(i)).collect(),
        kept,
        position,
        time_ms,
    })
}

/// Each frame's time on the lap clock, ms: from the receive times when they agree with the
/// clock (sub-millisecond), else the clock's millisecond plus a half.
fn frame_times_ms(received_ns: &[u64], clock_ms: &[i32]) -> Vec<f64> {
    let t0 = received_ns[0];
    let mut lo = f64::NEG_INFINITY;
    let mut hi = f64::INFINITY;
    let mut monotonic = true;
    let mut previous = t0;
    for (&time_ns, &lap_time_ms) in received_ns.iter().zip(clock_ms) {
        if time_ns < previous {
            monotonic = false;
            break;
        }
        previous = time_ns;
        let rel = (time_ns - t0) as f64 * 1e-6;
        let clock = f64::from(lap_time_ms);
        lo = lo.max(clock - rel);
        hi = hi.min(clock + 1.0 - rel);
    }
    // Receive times that agree with the clock to within a quarter millisecond of its windows.
    if monotonic && lo <= hi + 0.25 {
        let offset = 0.5 * (lo + hi);
        received_ns
            .iter()
            .map(|&t| (t - t0) as f64 * 1e-6 + offset)
            .collect()
    } else {
        clock_ms.iter().map(|&c| f64::from(c) + 0.5).collect()
    }
}

/// The lap's own length: the coordinates' path, else the integrated speed, over the share of
/// the lap covered.
fn measured_length(cleaned: &Cleaned, coverage: f64) -> Result<f64, AnalysisError> {
    let mut path = 0.0f64;
    let mut driven = 0.0f64;
    for ((w, t), v) in cleaned
        .world_m
        .windows(2)
        .zip(cleaned.time_ms.windows(2))
        .zip(cleaned.speed_ms.windows(2))
    {
        let (a, b) = (w[0], w[1]);
        let d: f64 = (0..3)
            .map(|c| {
                let x = f64::from(b[c]) - f64::from(a[c]);
                x * x
            })
            .sum();
        if d.is_finite() {
            path += d.sqrt();
        }
        driven += 0.5 * (v[0] + v[1]) * (t[1] - t[0]) * 1e-3;
    }
    let (from_coordinates_m, from_speed_m) = (path / coverage, driven / coverage);
    if from_coordinates_m >= MIN_LENGTH_M && from_coordinates_m.is_finite() {
        Ok(from_coordinates_m)
    } else if from_speed_m >= MIN_LENGTH_M && from_speed_m.is_finite() {
        Ok(from_speed_m)
    } else {
        Err(AnalysisError::NoDistance {
            role: LapRole::Lap,
            from_coordinates_m,
            from_speed_m,
        })
    }
}

fn lerp(a: f32, b: f32, w: f64) -> f32 {
    (f64::from(a) + (f64::from(b) - f64::from(a)) * w) as f32
}

/// Puts the cleaned frames on the grid of `length_m`.
fn resample(
    channels: &Channels<'_>,
    cleaned: &Cleaned,
    length_m: f64,
    measured_length_m: f64,
    end_ms: i32,
    official: bool,
) -> LapTrace {
    let intervals = (length_m.round() as usize).max(1);
    let spacing_m = length_m / intervals as f64;
    let points = intervals + 1;
    let kept = &cleaned.kept;
    let n = kept.len();
    let distance: Vec<f64> = cleaned.position.iter().map(|p| p * length_m).collect();
    let times = &cleaned.time_ms;

    let mut raw_ms = Vec::with_capacity(points);
    let mut speed_kmh = Vec::with_capacity(points);
    let mut gas = Vec::with_capacity(points);
    let mut brake = Vec::with_capacity(points);
    let mut clutch = Vec::with_capacity(points);
    let mut steer_deg = Vec::with_capacity(points);
    let mut engine_rpm = Vec::with_capacity(points);
    let mut g_lateral = Vec::with_capacity(points);
    let mut g_longitudinal = Vec::with_capacity(points);
    let mut world_m = Vec::with_capacity(points);
    let mut gear = Vec::with_capacity(points);
    let mut flags = Vec::with_capacity(points);

    // Average speed over the frames, for extrapolating at a standstill.
    let average_ms = (distance[n - 1] - distance[0]) / ((times[n - 1] - times[0]) * 1e-3);
    let extrapolation_speed = |j: usize| {
        let v = cleaned.speed_ms[j];
        if v >= MIN_EXTRAPOLATION_SPEED_MS {
            v
        } else {
            average_ms.max(MIN_EXTRAPOLATION_SPEED_MS)
        }
    };

    let mut j = 0usize;
    for k in 0..points {
        let d = k as f64 * spacing_m;
        while j + 1 < n && distance[j + 1] <= d {
            j += 1;
        }
        let a = kept[j];
        // Before the first frame and after the last the nearest one is held.
        let (b, w) = if d < distance[0] {
            raw_ms.push(times[0] - (distance[0] - d) / extrapolation_speed(j) * 1e3);
            (a, 0.0)
        } else if j + 1 >= n {
            raw_ms.push(times[n - 1] + (d - distance[n - 1]) / extrapolation_speed(j) * 1e3);
            (a, 0.0)
        } else {
            let w = (d - distance[j]) / (distance[j + 1] - distance[j]);
            raw_ms.push(times[j] + (times[j + 1] - times[j]) * w);
            (kept[j + 1], w)
        };
        let at = |column: &[f32]| {
            if a == b {
                column[a]
            } else {
                lerp(column[a], column[b], w)
            }
        };
        speed_kmh.push(at(channels.speed_kmh));
        gas.push(at(channels.gas));
        brake.push(at(channels.brake));
        clutch.push(at(channels.clutch));
        steer_deg.push(at(channels.steer_deg));
        engine_rpm.push(at(channels.engine_rpm));
        g_lateral.push(at(channels.g_lateral));
        g_longitudinal.push(at(channels.g_longitudinal));
        world_m.push([
            at(channels.world_m[0]),
            at(channels.world_m[1]),
            at(channels.world_m[2]),
        ]);
        gear.push(channels.gear[a]);
        flags.push(channels.flags.map_or_else(Flags::default, |f| f[a]));
    }

    let start = raw_ms[0];
    let measured_ms = raw_ms[points - 1] - start;
    let correction_ms = f64::from(end_ms) - measured_ms;
    let time_s = raw_ms
        .iter()
        .enumerate()
        .map(|(k, t)| (t - start + correction_ms * k as f64 / intervals as f64) * 1e-3)
        .collect();

    LapTrace {
        length_m,
        spacing_m,
        measured_length_m,
        lap_time_ms: end_ms,
        official,
        measured_time_s: measured_ms * 1e-3,
        frames_m: (distance[0], distance[n - 1]),
        time_s,
        speed_kmh,
        gas,
        brake,
        clutch,
        steer_deg,
        engine_rpm,
        g_lateral,
        g_longitudinal,
        world_m,
        gear,
        flags,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// A 1 km lap at 50 m/s, a frame every 3 ms, optionally starting slightly before the line.
    fn straight_lap(before_line: usize, after_line: usize) -> Vec<Frame> {
        let step_ms = 3.0;
        let length = 1000.0;
        let v = 50.0;
        let total = (length / v * 1000.0 / step_ms) as usize;
        let mut frames = Vec::new();
        for i in 0..(before_line + total + after_line) {
            let t = (i as f64 - before_line as f64) * step_ms + 1.0; // ms since the line
            let s = t * 1e-3 * v;
            let p = (s / length).rem_euclid(1.0);
            let radius = length / std::f64::consts::TAU;
            let angle = s / radius;
            frames.push(Frame {
                time_ns: (i as u64) * 3_000_000,
                lap_time_ms: t.max(0.0).floor() as i32,
                position_normalized: p as f32,
                speed_kmh: (v * 3.6) as f32,
                speed_ms: v as f32,
                gas: 1.0,
                gear: 5,
                // A circle of the lap's length.
                world_m: [
                    (radius * angle.sin()) as f32,
                    0.0,
                    (radius * (1.0 - angle.cos())) as f32,
                ],
                ..Frame::default()
            });
        }
        frames
    }

    #[test]
    fn wraps_at_the_line_are_unwrapped() {
        let frames = straight_lap(3, 3);
        let trace = LapTrace::new(&frames, Some(20_000)).unwrap();
        assert!(
            (trace.length_m() - 1000.0).abs() < 0.1,
            "{}",
            trace.length_m()
        );
        assert!((trace.time_at(trace.length_m()) - 20.0).abs() < 1e-9);
        assert!((trace.time_at(500.0) - 10.0).abs() < 2e-3);
        assert!((trace.measured_time_s() - 20.0).abs() < 2e-3);
        assert!(trace.gear().iter().all(|&g| g == 5));
        // Three frames each side of the line, 0.15 m apart: the first 8 ms (0.4 m) before
        // it, the last 5 ms (0.25 m) past the end.
        let (first_m, last_m) = trace.frames_m();
        assert!((first_m + 0.4).abs() < 0.01, "{first_m}");
        assert!((last_m - trace.length_m() - 0.25).abs() < 0.01, "{last_m}");
        let late: Vec<Frame> = straight_lap(0, 0)
            .into_iter()
            .filter(|f| f.position_normalized >= 0.03)
            .collect();
        let (first_m, _) = LapTrace::with_length(&late, None, 1000.0)
            .unwrap()
            .frames_m();
        assert!((first_m - 30.0).abs() < 0.2, "{first_m}");
    }

    #[test]
    fn duplicates_and_jitter_are_dropped() {
        let mut frames = straight_lap(0, 0);
        let copy = frames[100];
        frames.insert(100, copy);
        frames[200].position_normalized -= 0.002;
        let trace = LapTrace::new(&frames, None).unwrap();
        let times = trace.time_s();
        assert!(times.windows(2).all(|w| w[1] > w[0]));
        assert_eq!(trace.lap_time_ms(), frames.last().unwrap().lap_time_ms);
        assert!(!trace.has_official_time());
    }

    #[test]
    fn errors_carry_numbers() {
        let frames = straight_lap(0, 0);
        assert!(matches!(
            LapTrace::new(&frames[..5], None),
            Err(AnalysisError::TooFewFrames {
                found: 5,
                min,
                ..
            }) if min == Thresholds::default().min_frames
        ));
        let half = &frames[..frames.len() / 2];
        assert!(matches!(
            LapTrace::new(half, None),
            Err(AnalysisError::IncompleteLap { covered_percent, .. }) if (covered_percent - 50.0).abs() < 1.0
        ));
        assert!(matches!(
            LapTrace::new(&frames, Some(0)),
            Err(AnalysisError::BadLapTime { time_ms: 0, .. })
        ));
        let mut still = frames.clone();
        for f in &mut still {
            f.world_m = [0.0; 3];
            f.speed_ms = 0.0;
            f.speed_kmh = 0.0;
        }
        assert!(matches!(
            LapTrace::new(&still, None),
            Err(AnalysisError::NoDistance { .. })
        ));
    }

    #[test]
    fn columns_give_the_trace_of_principal_frames() {
        let mut frames = straight_lap(3, 3);
        for (i, f) in frames.iter_mut().enumerate() {
            // What the principal channels lack: m/s speed, flags, wheels.
            f.speed_ms = 40.0 + (i % 7) as f32;
            f.flags.abs_in_action = i % 3 == 0;
            f.wheels.load_n = [3000.0; 4];
            f.steer_deg = (i as f32 * 0.01).sin() * 90.0;
            f.engine_rpm = 6000.0 + i as f32;
            f.gear = 3 + (i / 2000) as i32;
        }
        let principal: Vec<Frame> = frames
            .iter()
            .map(|f| Frame {
                speed_ms: 0.0,
                flags: Flags::default(),
                wheels: Default::default(),
                ..*f
            })
            .collect();
        let columns = Columns::from_frames(&frames, &LapTrace::CHANNELS);
        for length in [None, Some(1010.0)] {
            let from_columns = LapTrace::from_columns(&columns, Some(20_000), length).unwrap();
            let from_frames = match length {
                None => LapTrace::new(&principal, Some(20_000)),
                Some(l) => LapTrace::with_length(&principal, Some(20_000), l),
            }
            .unwrap();
            assert_eq!(from_columns, from_frames);
        }
        // The frames' own trace holds their flags, and their wheels change nothing.
        let own = LapTrace::new(&frames, Some(20_000)).unwrap();
        assert!(own.flags().iter().any(|f| f.abs_in_action));
        assert_eq!(
            own.speed_kmh(),
            LapTrace::new(&principal, Some(20_000)).unwrap().speed_kmh()
        );
    }

    #[test]
    fn a_channel_not_loaded_is_named() {
        let frames = straight_lap(0, 0);
        let columns = Columns::from_frames(&frames, &LapTrace::CHANNELS[..14]);
        assert_eq!(
            LapTrace::from_columns(&columns, None, None),
            Err(AnalysisError::MissingChannel {
                role: LapRole::Lap,
                channel: "world_z",
                found: 0,
                frames: frames.len(),
            })
        );
    }

    #[test]
    fn length_falls_back_to_speed() {
        let mut frames = straight_lap(0, 0);
        for f in &mut frames {
            f.world_m = [0.0; 3];
        }
        let trace = LapTrace::new(&frames, None).unwrap();
        assert!(
            (trace.length_m() - 1000.0).abs() < 2.0,
            "{}",
            trace.length_m()
        );
    }
}
