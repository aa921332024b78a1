//! The telemetry frame: one owned, unit-clean sample of the player's car.
//!
//! A [`Frame`] is made from a car-info datagram plus the time it was received. It keeps every
//! field the game sent, bit for bit (f32 in, the same f32 out), under names with units; the
//! gear is signed (reverse −1, neutral 0, first 1). [`Frame::to_car_info`] gives the datagram
//! back, so stored laps export to captures that decode to the same values.
//!
//! ```
//! use purple_sector_core::protocol::{CarInfo, OwnedCarInfo};
//! use purple_sector_core::telemetry::Frame;
//!
//! let bytes = OwnedCarInfo { speed_kmh: 187.5, gear_raw: 4, ..Default::default() }.encode();
//! let frame = Frame::from_car_info(&CarInfo::new(&bytes)?, 1_700_000_000_000_000_000);
//! assert_eq!((frame.speed_kmh, frame.gear), (187.5, 3));
//! assert_eq!(frame.to_car_info().encode(), bytes);
//! # Ok::<(), purple_sector_core::protocol::ParseError>(())
//! ```

use serde::{Deserialize, Serialize};

use crate::protocol::{CarInfo, OwnedCarInfo};

/// Standard gravity, m/s²: one g, the unit of a [`Frame`]'s accelerations (`g_vertical`,
/// `g_lateral`, `g_longitudinal`), to convert them to and from m/s².
pub const STANDARD_GRAVITY_MS2: f64 = 9.806_65;

/// The six on/off states of a car-info packet.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Flags {
    /// ABS switched on.
    pub abs_enabled: bool,
    /// ABS acting now.
    pub abs_in_action: bool,
    /// Traction control acting now.
    pub tc_in_action: bool,
    /// Traction control switched on.
    pub tc_enabled: bool,
    /// In the pit lane.
    pub in_pit: bool,
    /// Rev limiter cutting.
    pub engine_limiter_on: bool,
}

impl Flags {
    /// The flags as bits 0..6, in wire order (ABS enabled = bit 0 … limiter = bit 5).
    pub fn bits(self) -> u8 {
        u8::from(self.abs_enabled)
            | u8::from(self.abs_in_action) << 1
            | u8::from(self.tc_in_action) << 2
            | u8::from(self.tc_enabled) << 3
            | u8::from(self.in_pit) << 4
            | u8::from(self.engine_limiter_on) << 5
    }

    /// The flags from [`Flags::bits`]; bits 6 and 7 are ignored.
    pub fn from_bits(bits: u8) -> Self {
        Self {
            abs_enabled: bits & 1 != 0,
            abs_in_action: bits & 1 << 1 != 0,
            tc_in_action: bits & 1 << 2 != 0,
            tc_enabled: bits & 1 << 3 != 0,
            in_pit: bits & 1 << 4 != 0,
            engine_limiter_on: bits & 1 << 5 != 0,
        }
    }
}

/// Per-wheel channels, each `[front-left, front-right, rear-left, rear-right]`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Wheels {
    /// Angular speed, rad/s.
    pub angular_speed_rad_s: [f32; 4],
    /// Slip angle, degrees.
    pub slip_angle_deg: [f32; 4],
    /// Slip angle at the contact patch.
    pub slip_angle_contact_patch: [f32; 4],
    /// Slip ratio.
    pub slip_ratio: [f32; 4],
    /// Tyre slip.
    pub tyre_slip: [f32; 4],
    /// Normalised slip.
    pub nd_slip: [f32; 4],
    /// Load, N.
    pub load_n: [f32; 4],
    /// Lateral friction coefficient.
    pub dy: [f32; 4],
    /// Self-aligning torque, N·m.
    pub mz_nm: [f32; 4],
    /// Dirt on the tyre, 0..5.
    pub tyre_dirty_level: [f32; 4],
    /// Camber, rad.
    pub camber_rad: [f32; 4],
    /// Unloaded tyre radius, m.
    pub tyre_radius_m: [f32; 4],
    /// Loaded tyre radius, m.
    pub tyre_loaded_radius_m: [f32; 4],
    /// Suspension height, m.
    pub suspension_height_m: [f32; 4],
}

/// One sample of the player's car, as received.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Frame {
    /// When the datagram was received (or captured), ns since the Unix epoch.
    pub time_ns: u64,
    /// Time into the current lap, ms (the game's lap clock).
    pub lap_time_ms: i32,
    /// Time of the last completed lap, ms.
    pub last_lap_ms: i32,
    /// Best lap of the session, ms.
    pub best_lap_ms: i32,
    /// Laps completed in the session.
    pub lap_count: i32,
    /// Position along the track, 0..1, wrapping at the line.
    pub position_normalized: f32,
    /// Speed, km/h.
    pub speed_kmh: f32,
    /// Speed, mph (as the game sent it).
    pub speed_mph: f32,
    /// Speed, m/s (as the game sent it).
    pub speed_ms: f32,
    /// Throttle, 0..1.
    pub gas: f32,
    /// Brake, 0..1.
    pub brake: f32,
    /// Clutch, 0..1, 1 = engaged.
    pub clutch: f32,
    /// Steering-wheel angle, degrees.
    pub steer_deg: f32,
    /// Gear: reverse −1, neutral 0, first 1 …
    pub gear: i32,
    /// Engine speed, rpm.
    pub engine_rpm: f32,
    /// Vertical acceleration, g.
    pub g_vertical: f32,
    /// Lateral acceleration, g.
    pub g_lateral: f32,
    /// Longitudinal acceleration, g.
    pub g_longitudinal: f32,
    /// World position x, y, z, m; y is up.
    pub world_m: [f32; 3],
    /// ABS, TC, pit and limiter states.
    pub flags: Flags,
    /// Height of the centre of gravity, m.
    pub cg_height_m: f32,
    /// Car slope.
    pub car_slope: f32,
    /// The per-wheel channels.
    pub wheels: Wheels,
}

/// Reads a word of each of the frame's wheel arrays and returns their bits or-ed: called
/// on every frame of a pass that reads only some fields (the rest of its loop reads them),
/// it makes the pass read every cache line of each frame, in order. Read so, a run of frames
/// is one sequential stream that the processor fetches ahead; with lines skipped (a frame
/// is 328 bytes, the wheels 224 of them, in the middle), each frame waited on its own loads.
/// Keep the result from the optimiser ([`std::hint::black_box`] once, after the loop).
pub(crate) fn touch_every_line(frame: &Frame) -> u32 {
    let w = &frame.wheels;
    [
        w.angular_speed_rad_s[0],
        w.slip_angle_deg[0],
        w.slip_angle_contact_patch[0],
        w.slip_ratio[0],
        w.tyre_slip[0],
        w.nd_slip[0],
        w.load_n[0],
        w.dy[0],
        w.mz_nm[0],
        w.tyre_dirty_level[0],
        w.camber_rad[0],
        w.tyre_radius_m[0],
        w.tyre_loaded_radius_m[0],
        w.suspension_height_m[0],
    ]
    .iter()
    .fold(0, |bits, v| bits | v.to_bits())
}

impl Frame {
    /// A frame from a car-info view and its receive time.
    pub fn from_car_info(car: &CarInfo<'_>, time_ns: u64) -> Self {
        Self::from_owned_car_info(&car.to_owned(), time_ns)
    }

    /// A frame from an owned car-info packet and its receive time.
    pub fn from_owned_car_info(car: &OwnedCarInfo, time_ns: u64) -> Self {
        Self {
            time_ns,
            lap_time_ms: car.lap_time_ms,
            last_lap_ms: car.last_lap_ms,
            best_lap_ms: car.best_lap_ms,
            lap_count: car.lap_count,
            position_normalized: car.car_position_normalized,
            speed_kmh: car.speed_kmh,
            speed_mph: car.speed_mph,
            speed_ms: car.speed_ms,
            gas: car.gas,
            brake: car.brake,
            clutch: car.clutch,
            steer_deg: car.steer_deg,
            gear: car.gear(),
            engine_rpm: car.engine_rpm,
            g_vertical: car.acc_g_vertical,
            g_lateral: car.acc_g_horizontal,
            g_longitudinal: car.acc_g_frontal,
            world_m: car.car_coordinates_m,
            flags: Flags {
                abs_enabled: car.is_abs_enabled,
                abs_in_action: car.is_abs_in_action,
                tc_in_action: car.is_tc_in_action,
                tc_enabled: car.is_tc_enabled,
                in_pit: car.is_in_pit,
                engine_limiter_on: car.is_engine_limiter_on,
            },
            cg_height_m: car.cg_height_m,
            car_slope: car.car_slope,
            wheels: Wheels {
                angular_speed_rad_s: car.wheel_angular_speed_rad_s,
                slip_angle_deg: car.slip_angle_deg,
                slip_angle_contact_patch: car.slip_angle_contact_patch,
                slip_ratio: car.slip_ratio,
                tyre_slip: car.tyre_slip,
                nd_slip: car.nd_slip,
                load_n: car.load_n,
                dy: car.dy,
                mz_nm: car.mz_nm,
                tyre_dirty_level: car.tyre_dirty_level,
                camber_rad: car.camber_rad,
                tyre_radius_m: car.tyre_radius_m,
                tyre_loaded_radius_m: car.tyre_loaded_radius_m,
                suspension_height_m: car.suspension_height_m,
            },
        }
    }

    /// The car-info packet this frame came from (padding bytes zero).
    pub fn to_car_info(&self) -> OwnedCarInfo {
        let mut car = OwnedCarInfo {
            padding_after_identifier: [0; 3],
            padding_after_flags: [0; 2],
            speed_kmh: self.speed_kmh,
            speed_mph: self.speed_mph,
            speed_ms: self.speed_ms,
            is_abs_enabled: self.flags.abs_enabled,
            is_abs_in_action: self.flags.abs_in_action,
            is_tc_in_action: self.flags.tc_in_action,
            is_tc_enabled: self.flags.tc_enabled,
            is_in_pit: self.flags.in_pit,
            is_engine_limiter_on: self.flags.engine_limiter_on,
            acc_g_vertical: self.g_vertical,
            acc_g_horizontal: self.g_lateral,
            acc_g_frontal: self.g_longitudinal,
            lap_time_ms: self.lap_time_ms,
            last_lap_ms: self.last_lap_ms,
            best_lap_ms: self.best_lap_ms,
            lap_count: self.lap_count,
            gas: self.gas,
            brake: self.brake,
            clutch: self.clutch,
            engine_rpm: self.engine_rpm,
            steer_deg: self.steer_deg,
            gear_raw: 0,
            cg_height_m: self.cg_height_m,
            wheel_angular_speed_rad_s: self.wheels.angular_speed_rad_s,
            slip_angle_deg: self.wheels.slip_angle_deg,
            slip_angle_contact_patch: self.wheels.slip_angle_contact_patch,
            slip_ratio: self.wheels.slip_ratio,
            tyre_slip: self.wheels.tyre_slip,
            nd_slip: self.wheels.nd_slip,
            load_n: self.wheels.load_n,
            dy: self.wheels.dy,
            mz_nm: self.wheels.mz_nm,
            tyre_dirty_level: self.wheels.tyre_dirty_level,
            camber_rad: self.wheels.camber_rad,
            tyre_radius_m: self.wheels.tyre_radius_m,
            tyre_loaded_radius_m: self.wheels.tyre_loaded_radius_m,
            suspension_height_m: self.wheels.suspension_height_m,
            car_position_normalized: self.position_normalized,
            car_slope: self.car_slope,
            car_coordinates_m: self.world_m,
        };
        car.set_gear(self.gear);
        car
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn frame_keeps_every_bit(bytes in proptest::collection::vec(any::<u8>(), 328), flags in any::<[bool; 6]>(), time_ns in any::<u64>()) {
            let mut bytes = bytes;
            bytes[0] = b'a';
            bytes[1..4].fill(0);
            bytes[4..8].copy_from_slice(&328i32.to_le_bytes());
            for (k, f) in flags.into_iter().enumerate() {
                bytes[20 + k] = u8::from(f);
            }
            bytes[26..28].fill(0);
            let frame = Frame::from_car_info(&CarInfo::new(&bytes).unwrap(), time_ns);
            prop_assert_eq!(frame.time_ns, time_ns);
            prop_assert_eq!(&frame.to_car_info().encode()[..], &bytes[..]);
        }

        #[test]
        fn flag_bits_round_trip(bits in 0u8..64) {
            prop_assert_eq!(Flags::from_bits(bits).bits(), bits);
        }
    }
}
