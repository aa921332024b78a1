//! The car-info datagram (SUBSCRIBE_UPDATE): 328 bytes, one per physics step.

use super::{DatagramKind, ParseError, wire::Wire};

/// Length of a car-info datagram.
pub const CAR_INFO_LEN: usize = 328;
/// Byte 0 of every car-info datagram: ASCII `'a'`.
pub const CAR_INFO_IDENTIFIER: u8 = b'a';
/// Offset of the `size` field (not 1: bytes 1..4 are padding, and not zero in real packets).
pub const CAR_INFO_SIZE_OFFSET: usize = 4;

/// Declares every field of the car-info layout once, and from that list generates the view's
/// accessors, the owned struct, the view-to-owned copy and the encoder.
macro_rules! car_info_layout {
    ($(
        $(#[doc = $doc:literal])*
        $field:ident : $ty:ty = $offset:literal, $serde:meta;
    )*) => {
        impl<'a> CarInfo<'a> {
            $(
                $(#[doc = $doc])*
                #[doc = concat!("\n\nOffset ", stringify!($offset), ".")]
                #[inline]
                pub fn $field(&self) -> $ty {
                    <$ty as Wire>::read(self.bytes, $offset)
                }
            )*

            /// Copies every field into an [`OwnedCarInfo`] (padding included).
            #[inline]
            pub fn to_owned(&self) -> OwnedCarInfo {
                OwnedCarInfo {
                    $($field: self.$field(),)*
                }
            }
        }

        /// Every field of a car-info datagram, owned; [`OwnedCarInfo::encode`] writes the
        /// 328 bytes.
        ///
        /// Serializes with the snake_case AC names (`steer`, `engine_rpm`, `gear` raw,
        /// `wheel_angular_speed` …); the Rust names carry units.
        ///
        /// The fields are laid out in the datagram's order (`repr(C)`): from `speed_kmh` on,
        /// each sits 4 bytes before its wire offset, so the decode is a sequential copy the
        /// compiler vectorises rather than a scatter into a reordered struct.
        #[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
        #[repr(C)]
        pub struct OwnedCarInfo {
            $(
                $(#[doc = $doc])*
                #[$serde]
                pub $field: $ty,
            )*
        }

        impl OwnedCarInfo {
            /// Every byte of the datagram zero but the identifier and size.
            fn zeroed() -> Self {
                Self {
                    $($field: Default::default(),)*
                }
            }

            /// Writes the datagram into `out`.
            pub fn encode_into(&self, out: &mut [u8; CAR_INFO_LEN]) {
                out[0] = CAR_INFO_IDENTIFIER;
                (CAR_INFO_LEN as i32).write(out, CAR_INFO_SIZE_OFFSET);
                $(self.$field.write(out, $offset);)*
            }
        }
    };
}

car_info_layout! {
    /// Bytes 1..4, padding. The real game leaves non-zero bytes here.
    padding_after_identifier: [u8; 3] = 1, serde(skip);
    /// Speed, km/h.
    speed_kmh: f32 = 8, serde(rename = "speed_kmh");
    /// Speed, mph.
    speed_mph: f32 = 12, serde(rename = "speed_mph");
    /// Speed, m/s.
    speed_ms: f32 = 16, serde(rename = "speed_ms");
    /// ABS is switched on.
    is_abs_enabled: bool = 20, serde(rename = "is_abs_enabled");
    /// ABS is acting now.
    is_abs_in_action: bool = 21, serde(rename = "is_abs_in_action");
    /// Traction control is acting now (on the wire *before* the enabled flag).
    is_tc_in_action: bool = 22, serde(rename = "is_tc_in_action");
    /// Traction control is switched on.
    is_tc_enabled: bool = 23, serde(rename = "is_tc_enabled");
    /// The car is in the pit lane.
    is_in_pit: bool = 24, serde(rename = "is_in_pit");
    /// The rev limiter is cutting.
    is_engine_limiter_on: bool = 25, serde(rename = "is_engine_limiter_on");
    /// Bytes 26..28, padding.
    padding_after_flags: [u8; 2] = 26, serde(skip);
    /// Vertical acceleration, g.
    acc_g_vertical: f32 = 28, serde(rename = "acc_g_vertical");
    /// Lateral acceleration, g.
    acc_g_horizontal: f32 = 32, serde(rename = "acc_g_horizontal");
    /// Longitudinal acceleration, g.
    acc_g_frontal: f32 = 36, serde(rename = "acc_g_frontal");
    /// Time into the current lap, ms.
    lap_time_ms: i32 = 40, serde(rename = "lap_time_ms");
    /// Time of the lap just completed, ms.
    last_lap_ms: i32 = 44, serde(rename = "last_lap_ms");
    /// Best lap of the session, ms.
    best_lap_ms: i32 = 48, serde(rename = "best_lap_ms");
    /// Laps completed in the session.
    lap_count: i32 = 52, serde(rename = "lap_count");
    /// Throttle pedal, 0..1.
    gas: f32 = 56, serde(rename = "gas");
    /// Brake pedal, 0..1.
    brake: f32 = 60, serde(rename = "brake");
    /// Clutch, 0..1, where 1 is engaged (pedal up).
    clutch: f32 = 64, serde(rename = "clutch");
    /// Engine speed, rpm (a float on the wire, not an integer).
    engine_rpm: f32 = 68, serde(rename = "engine_rpm");
    /// Steering-wheel angle in degrees, signed; not clamped to ±1.
    steer_deg: f32 = 72, serde(rename = "steer");
    /// Gear as AC sends it: 0 = reverse, 1 = neutral, 2 = first … See [`CarInfo::gear`].
    gear_raw: i32 = 76, serde(rename = "gear");
    /// Height of the centre of gravity, m.
    cg_height_m: f32 = 80, serde(rename = "cg_height");
    /// Wheel angular speed, rad/s (not rpm), FL FR RL RR.
    wheel_angular_speed_rad_s: [f32; 4] = 84, serde(rename = "wheel_angular_speed");
    /// Slip angle, degrees, FL FR RL RR.
    slip_angle_deg: [f32; 4] = 100, serde(rename = "slip_angle");
    /// Slip angle at the contact patch (always 0 in real data), FL FR RL RR.
    slip_angle_contact_patch: [f32; 4] = 116, serde(rename = "slip_angle_contact_patch");
    /// Slip ratio, FL FR RL RR.
    slip_ratio: [f32; 4] = 132, serde(rename = "slip_ratio");
    /// Tyre slip (always 0 in real data), FL FR RL RR.
    tyre_slip: [f32; 4] = 148, serde(rename = "tyre_slip");
    /// Normalised slip, FL FR RL RR.
    nd_slip: [f32; 4] = 164, serde(rename = "nd_slip");
    /// Wheel load, N, FL FR RL RR.
    load_n: [f32; 4] = 180, serde(rename = "load");
    /// Lateral friction coefficient, FL FR RL RR.
    dy: [f32; 4] = 196, serde(rename = "dy");
    /// Self-aligning torque, N·m, FL FR RL RR.
    mz_nm: [f32; 4] = 212, serde(rename = "mz");
    /// Tyre dirt, 0 (clean) to 5, FL FR RL RR.
    tyre_dirty_level: [f32; 4] = 228, serde(rename = "tyre_dirty_level");
    /// Camber, rad, FL FR RL RR.
    camber_rad: [f32; 4] = 244, serde(rename = "camber_rad");
    /// Unloaded tyre radius, m, FL FR RL RR.
    tyre_radius_m: [f32; 4] = 260, serde(rename = "tyre_radius");
    /// Loaded tyre radius, m, FL FR RL RR.
    tyre_loaded_radius_m: [f32; 4] = 276, serde(rename = "tyre_loaded_radius");
    /// Suspension height, m, FL FR RL RR.
    suspension_height_m: [f32; 4] = 292, serde(rename = "suspension_height");
    /// Position along the track spline, 0..1, wrapping at the line.
    car_position_normalized: f32 = 308, serde(rename = "car_position_normalized");
    /// Car slope (always 0 in real data).
    car_slope: f32 = 312, serde(rename = "car_slope");
    /// World coordinates x, y, z in metres; y is up.
    car_coordinates_m: [f32; 3] = 316, serde(rename = "car_coordinates");
}

/// A borrowed car-info datagram: the shape is checked once in [`CarInfo::new`], then every
/// accessor reads its field in place.
///
/// ```
/// use purple_sector_core::protocol::{CarInfo, OwnedCarInfo};
///
/// let bytes = OwnedCarInfo { steer_deg: -124.5, gear_raw: 0, ..Default::default() }.encode();
/// let car = CarInfo::new(&bytes)?;
/// assert_eq!(car.steer_deg(), -124.5);
/// assert_eq!(car.gear(), -1); // reverse
/// # Ok::<(), purple_sector_core::protocol::ParseError>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct CarInfo<'a> {
    bytes: &'a [u8; CAR_INFO_LEN],
}

impl<'a> CarInfo<'a> {
    /// Checks the shape: exactly 328 bytes, byte 0 `'a'`, `size` (offset 4) 328.
    /// The padding is never checked: the real game leaves junk there.
    #[inline]
    pub fn new(bytes: &'a [u8]) -> Result<Self, ParseError> {
        let bytes: &[u8; CAR_INFO_LEN] = bytes.try_into().map_err(|_| ParseError::Length {
            kind: DatagramKind::CarInfo,
            expected: CAR_INFO_LEN,
            actual: bytes.len(),
        })?;
        Self::from_array(bytes)
    }

    /// As [`CarInfo::new`], for a buffer already known to be 328 bytes long.
    #[inline]
    pub fn from_array(bytes: &'a [u8; CAR_INFO_LEN]) -> Result<Self, ParseError> {
        if bytes[0] != CAR_INFO_IDENTIFIER {
            return Err(ParseError::BadIdentifier {
                offset: 0,
                expected: CAR_INFO_IDENTIFIER,
                found: bytes[0],
            });
        }
        let size = i32::read(bytes, CAR_INFO_SIZE_OFFSET);
        if size != CAR_INFO_LEN as i32 {
            return Err(ParseError::BadSize {
                offset: CAR_INFO_SIZE_OFFSET,
                expected: CAR_INFO_LEN as i32,
                found: size,
            });
        }
        Ok(Self { bytes })
    }

    /// The 328 bytes as received.
    pub fn as_bytes(&self) -> &'a [u8; CAR_INFO_LEN] {
        self.bytes
    }

    /// Gear with reverse = -1, neutral = 0, first = 1 (AC's raw value minus one).
    #[inline]
    pub fn gear(&self) -> i32 {
        self.gear_raw().wrapping_sub(1)
    }
}

impl std::fmt::Debug for CarInfo<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(&self.to_owned(), f)
    }
}

impl OwnedCarInfo {
    /// The 328-byte datagram.
    pub fn encode(&self) -> [u8; CAR_INFO_LEN] {
        let mut out = [0u8; CAR_INFO_LEN];
        self.encode_into(&mut out);
        out
    }

    /// Gear with reverse = -1, neutral = 0, first = 1.
    pub fn gear(&self) -> i32 {
        self.gear_raw.wrapping_sub(1)
    }

    /// Sets the gear from its signed form (reverse = -1, neutral = 0, first = 1).
    pub fn set_gear(&mut self, gear: i32) {
        self.gear_raw = gear.wrapping_add(1);
    }
}

impl Default for OwnedCarInfo {
    /// A car at rest in neutral, clutch engaged; every other field zero.
    fn default() -> Self {
        Self {
            clutch: 1.0,
            gear_raw: 1,
            ..Self::zeroed()
        }
    }
}
