//! The original app's frame (its `TelemetryFrame`: the WebSocket stream, `POST /api/laps`,
//! its demo JSON file) and its demo file.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{ImportError, ImportOptions, Location, SessionMeta, Skipped, keep_frame, whole_lap};
use crate::lap::Lap;
use crate::record::Input;
use crate::telemetry::Frame;

/// One frame in the original app's `TelemetryFrame` shape, the one conversion both ways:
/// what the WebSocket streams, what `POST /api/laps` and the original's demo file carry.
///
/// The original's fields keep their meaning (`steering` −1..1 over a
/// [`STEER_LOCK_DEG`] lock, `timestamp` and `lapTime` in ms); ours ride along, optional on
/// input, so that a frame streamed and posted back is stored with the values it had
/// (`steerDeg` wins over `steering`, `receivedNs` over `timestamp`).
///
/// ```
/// use purple_sector_core::import::OriginalFrame;
/// use purple_sector_core::telemetry::Frame;
///
/// let frame = Frame { steer_deg: -123.4, speed_kmh: 201.5, time_ns: 1_700_000_000_123_456_789,
///                     ..Frame::default() };
/// let original = OriginalFrame::from_frame(&frame);
/// assert!((original.steering - -123.4 / 450.0).abs() < 1e-6);
/// let back = original.to_frame(0.0);
/// assert_eq!((back.steer_deg, back.speed_kmh, back.time_ns), (-123.4, 201.5, frame.time_ns));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OriginalFrame {
    /// Unix time, ms.
    pub timestamp: f64,
    /// Throttle, 0..1.
    pub throttle: f32,
    /// Brake, 0..1.
    pub brake: f32,
    /// Steering, −1..1: the wheel angle over [`STEER_LOCK_DEG`].
    pub steering: f32,
    /// Speed, km/h.
    pub speed: f32,
    /// Gear, signed (−1 reverse, 0 neutral, 1 first …).
    pub gear: i32,
    /// Engine speed, rpm.
    pub rpm: f32,
    /// Lap number, from 1.
    pub lap_number: i32,
    /// Time into the lap, ms.
    pub lap_time: f64,
    /// Position along the lap, 0..1, when known.
    #[serde(default)]
    pub normalized_position: Option<f32>,
    /// Receive time, ns since the Unix epoch (ours).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub received_ns: Option<u64>,
    /// Steering wheel angle, degrees (ours).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub steer_deg: Option<f32>,
    /// Lateral acceleration, g (ours).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub g_lateral: Option<f32>,
    /// Longitudinal acceleration, g (ours).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub g_longitudinal: Option<f32>,
    /// World x, m (ours).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub x: Option<f32>,
    /// World z, m (ours).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub z: Option<f32>,
    /// In the pit lane (ours).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_pit: Option<bool>,
}

/// The wheel lock the original's −1..1 steering is a fraction of, degrees: ±450°, a
/// 900° wheel, Assetto Corsa's default.
pub const STEER_LOCK_DEG: f32 = 450.0;

impl OriginalFrame {
    /// The original's frame for one of ours, with our extra fields.
    pub fn from_frame(frame: &Frame) -> Self {
        Self {
            timestamp: (frame.time_ns / 1_000_000) as f64,
            throttle: frame.gas,
            brake: frame.brake,
            steering: (frame.steer_deg / STEER_LOCK_DEG).clamp(-1.0, 1.0),
            speed: frame.speed_kmh,
            gear: frame.gear,
            rpm: frame.engine_rpm,
            lap_number: frame.lap_count.saturating_add(1),
            lap_time: f64::from(frame.lap_time_ms),
            normalized_position: Some(frame.position_normalized),
            received_ns: Some(frame.time_ns),
            steer_deg: Some(frame.steer_deg),
            g_lateral: Some(frame.g_lateral),
            g_longitudinal: Some(frame.g_longitudinal),
            x: Some(frame.world_m[0]),
            z: Some(frame.world_m[2]),
            in_pit: Some(frame.flags.in_pit),
        }
    }

    /// The frame, at `position_normalized` when the original did not say where it was.
    pub fn to_frame(&self, position_normalized: f32) -> Frame {
        let mut frame = Frame {
            time_ns: self
                .received_ns
                .unwrap_or((self.timestamp.max(0.0) * 1e6) as u64),
            lap_time_ms: self.lap_time.round() as i32,
            lap_count: self.lap_number.saturating_sub(1),
            position_normalized: self.normalized_position.unwrap_or(position_normalized),
            speed_kmh: self.speed,
            speed_mph: self.speed / 1.609_344,
            speed_ms: self.speed / 3.6,
            gas: self.throttle,
            brake: self.brake,
            clutch: 1.0,
            steer_deg: self.steer_deg.unwrap_or(self.steering * STEER_LOCK_DEG),
            gear: self.gear,
            engine_rpm: self.rpm,
            g_lateral: self.g_lateral.unwrap_or_default(),
            g_longitudinal: self.g_longitudinal.unwrap_or_default(),
            world_m: [self.x.unwrap_or_default(), 0.0, self.z.unwrap_or_default()],
            ..Frame::default()
        };
        frame.flags.in_pit = self.in_pit.unwrap_or_default();
        frame
    }
}

/// The original app's demo file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DemoFile {
    #[serde(default)]
    track: String,
    #[serde(default)]
    car: String,
    laps: Vec<DemoLap>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct DemoLap {
    lap_number: i32,
    frames: Vec<OriginalFrame>,
}

/// A demo file's car and track, and one input per lap. Each lap is kept whole
/// ([`whole_lap`]: timed by its lap clock when it runs line to line; the file has no game
/// time). Missing `normalizedPosition` is derived from distance (speed × time) along the
/// lap. `gear` is taken as signed (the original displayed it as such); `timestamp` is Unix
/// milliseconds. Frames are checked ([`super::check_frame`]).
pub(super) fn demo_inputs(
    path: &Path,
    text: &str,
    options: &ImportOptions,
    skipped: &Skipped,
) -> Result<(SessionMeta, Vec<Input>), ImportError> {
    let file: DemoFile = serde_json::from_str(text).map_err(|e| {
        if e.is_data() {
            ImportError::UnknownJson {
                path: path.to_owned(),
                line: e.line(),
                column: e.column(),
                message: super::json_message(&e),
            }
        } else {
            ImportError::Json {
                path: path.to_owned(),
                line: e.line(),
                column: e.column(),
                message: super::json_message(&e),
            }
        }
    })?;
    let mut inputs = Vec::with_capacity(file.laps.len());
    for (k, lap) in file.laps.iter().enumerate() {
        let mut lap = demo_lap(lap);
        let mut kept = Vec::with_capacity(lap.frames.len());
        for (i, frame) in lap.frames.iter().enumerate() {
            let at = Location::Frame {
                lap: k + 1,
                frame: i + 1,
            };
            if keep_frame(frame, path, at, options, skipped)? {
                kept.push(*frame);
            }
        }
        if kept.len() != lap.frames.len() {
            lap = whole_lap(lap.number, kept);
        }
        inputs.push(Input::Lap(lap));
    }
    let meta = SessionMeta {
        track: file.track,
        car: file.car,
        ..SessionMeta::default()
    };
    Ok((meta, inputs))
}

fn demo_lap(lap: &DemoLap) -> Lap {
    // Distance by the trapezoid rule on speed (km/h) over lap time (ms).
    let mut distance = Vec::with_capacity(lap.frames.len());
    let mut total = 0.0f64;
    let mut previous: Option<&OriginalFrame> = None;
    for f in &lap.frames {
        if let Some(p) = previous {
            let dt_s = ((f.lap_time - p.lap_time) / 1000.0).max(0.0);
            total += (f64::from(f.speed) + f64::from(p.speed)) / 2.0 / 3.6 * dt_s;
        }
        distance.push(total);
        previous = Some(f);
    }
    let frames: Vec<Frame> = lap
        .frames
        .iter()
        .zip(&distance)
        .map(|(f, d)| f.to_frame(if total > 0.0 { (d / total) as f32 } else { 0.0 }))
        .collect();
    whole_lap(lap.lap_number, frames)
}
