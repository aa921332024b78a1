//! Pins for the bugs public AC clients have shipped, one test each.

use super::*;

/// A car-info packet with distinct values everywhere, padding not zero (as in real packets).
fn sample() -> OwnedCarInfo {
    OwnedCarInfo {
        padding_after_identifier: [0x00, 0x33, 0x00],
        padding_after_flags: [0xde, 0xad],
        speed_kmh: 209.451_08,
        speed_mph: 130.146_88,
        speed_ms: 58.180_86,
        is_abs_enabled: true,
        is_tc_in_action: true,
        lap_time_ms: 12,
        last_lap_ms: 77_288,
        best_lap_ms: 77_288,
        lap_count: 1,
        gas: 1.0,
        engine_rpm: 6_832.691,
        steer_deg: -124.375,
        gear_raw: 6,
        wheel_angular_speed_rad_s: [176.024_2, 176.101_6, 178.879_29, 178.879_29],
        car_coordinates_m: [-176.475_36, -6.580_474_4, 102.818_59],
        ..OwnedCarInfo::default()
    }
}

#[test]
fn size_is_read_at_offset_4_not_1() {
    let bytes = sample().encode();
    // Real padding bytes after 'a' are 00 33 00: a reader at offset 1 sees garbage.
    assert_eq!(&bytes[1..4], &[0x00, 0x33, 0x00]);
    assert_eq!(&bytes[4..8], &328i32.to_le_bytes());
    let car = CarInfo::new(&bytes).unwrap();
    assert_eq!(car.speed_kmh(), 209.451_08);
    // A packet whose `size` sits at offset 1 instead is refused, with the offset named.
    let mut shifted = bytes;
    shifted[1..5].copy_from_slice(&328i32.to_le_bytes());
    shifted[5..8].fill(0);
    assert_eq!(
        CarInfo::new(&shifted),
        Err(ParseError::BadSize {
            offset: 4,
            expected: 328,
            found: i32::from_le_bytes([shifted[4], 0, 0, 0]),
        })
    );
}

#[test]
fn tc_in_action_comes_before_tc_enabled() {
    let mut bytes = [0u8; CAR_INFO_LEN];
    OwnedCarInfo::default().encode_into(&mut bytes);
    bytes[22] = 1; // isTcInAction
    bytes[23] = 0; // isTcEnabled
    let car = CarInfo::new(&bytes).unwrap();
    assert!(car.is_tc_in_action());
    assert!(!car.is_tc_enabled());
    bytes[22] = 0;
    bytes[23] = 1;
    let car = CarInfo::new(&bytes).unwrap();
    assert!(!car.is_tc_in_action());
    assert!(car.is_tc_enabled());
}

#[test]
fn fields_are_little_endian() {
    let bytes = sample().encode();
    // 209.45108 km/h as f32 is 0x4351737a: little-endian on the wire.
    assert_eq!(209.451_08f32.to_bits(), 0x4351_737a);
    assert_eq!(&bytes[8..12], &[0x7a, 0x73, 0x51, 0x43]);
    assert_eq!(&bytes[44..48], &77_288i32.to_le_bytes());
    assert_eq!(CarInfo::new(&bytes).unwrap().last_lap_ms(), 77_288);
}

#[test]
fn steer_is_degrees_not_clamped() {
    let bytes = sample().encode();
    let car = CarInfo::new(&bytes).unwrap();
    assert_eq!(car.steer_deg(), -124.375);
    let mut right = sample();
    right.steer_deg = 65.25;
    assert_eq!(CarInfo::new(&right.encode()).unwrap().steer_deg(), 65.25);
}

#[test]
fn rpm_is_a_float() {
    let bytes = sample().encode();
    let rpm = CarInfo::new(&bytes).unwrap().engine_rpm();
    assert_eq!(rpm, 6_832.691);
    assert_ne!(rpm.fract(), 0.0);
    // An integer read of the same four bytes would give nonsense.
    assert_ne!(i32::from_le_bytes(bytes[68..72].try_into().unwrap()), 6_832);
}

#[test]
fn wheel_speed_is_rad_per_second() {
    // Real packet: 58.18 m/s on tyres of 0.3164 m loaded radius. ω·r is the road speed when
    // ω is in rad/s; were it rpm, ω·r would be 9.5 times off.
    let car = sample();
    let bytes = car.encode();
    let view = CarInfo::new(&bytes).unwrap();
    let omega = view.wheel_angular_speed_rad_s()[0];
    let road_speed_ms = omega * 0.316_358_63;
    assert!(
        (road_speed_ms - view.speed_ms()).abs() / view.speed_ms() < 0.05,
        "{road_speed_ms} vs {}",
        view.speed_ms()
    );
}

#[test]
fn percent_is_not_kept_in_names() {
    let reply = OwnedHandshakeResponse {
        car_name: Name::with_junk("bmw_m3_e30_gra", &[0xbdaf, 0, 0x230]).unwrap(),
        driver_name: Name::new("pankoscielniak").unwrap(),
        identifier: 4242,
        version: 1,
        track_name: Name::with_junk("ks_monza66", &[0, 0x1c00, 0x3bfb]).unwrap(),
        track_config: Name::new("ks_monza66").unwrap(),
    };
    let bytes = reply.encode();
    let view = HandshakeResponse::new(&bytes).unwrap();
    assert_eq!(view.car_name().to_string_lossy(), "bmw_m3_e30_gra");
    assert_eq!(view.track_name().to_string_lossy(), "ks_monza66");
    assert!(!view.driver_name().to_string_lossy().contains('%'));
}

#[test]
fn gear_signed_and_raw() {
    for (raw, signed) in [(0, -1), (1, 0), (2, 1), (7, 6)] {
        let mut car = OwnedCarInfo {
            gear_raw: raw,
            ..OwnedCarInfo::default()
        };
        let bytes = car.encode();
        let view = CarInfo::new(&bytes).unwrap();
        assert_eq!(view.gear_raw(), raw);
        assert_eq!(view.gear(), signed);
        car.set_gear(signed);
        assert_eq!(car.gear_raw, raw);
    }
}

#[test]
fn every_field_at_its_documented_offset() {
    // Write a distinct marker at each offset of ac-protocol.md and read it through the view.
    let mut bytes = OwnedCarInfo::default().encode();
    let f = |bytes: &mut [u8; CAR_INFO_LEN], at: usize, v: f32| {
        bytes[at..at + 4].copy_from_slice(&v.to_le_bytes())
    };
    let i = |bytes: &mut [u8; CAR_INFO_LEN], at: usize, v: i32| {
        bytes[at..at + 4].copy_from_slice(&v.to_le_bytes())
    };
    f(&mut bytes, 12, 1.5);
    f(&mut bytes, 16, 2.5);
    f(&mut bytes, 28, 3.5);
    f(&mut bytes, 32, 4.5);
    f(&mut bytes, 36, 5.5);
    i(&mut bytes, 40, 40);
    i(&mut bytes, 48, 48);
    i(&mut bytes, 52, 52);
    f(&mut bytes, 56, 0.56);
    f(&mut bytes, 60, 0.60);
    f(&mut bytes, 64, 0.64);
    f(&mut bytes, 80, 0.80);
    for (k, at) in (100..308).step_by(4).enumerate() {
        f(&mut bytes, at, 1000.0 + k as f32);
    }
    f(&mut bytes, 308, 0.308);
    f(&mut bytes, 312, 0.312);
    f(&mut bytes, 324, 324.0);
    bytes[20] = 1;
    bytes[21] = 2;
    bytes[24] = 3;
    bytes[25] = 4;
    let c = CarInfo::new(&bytes).unwrap();
    assert_eq!(
        (c.speed_mph(), c.speed_ms(), c.acc_g_vertical()),
        (1.5, 2.5, 3.5)
    );
    assert_eq!((c.acc_g_horizontal(), c.acc_g_frontal()), (4.5, 5.5));
    assert_eq!(
        (c.lap_time_ms(), c.best_lap_ms(), c.lap_count()),
        (40, 48, 52)
    );
    assert_eq!((c.gas(), c.brake(), c.clutch()), (0.56, 0.60, 0.64));
    assert_eq!(c.cg_height_m(), 0.80);
    assert!(c.is_abs_enabled() && c.is_abs_in_action() && c.is_in_pit());
    assert!(c.is_engine_limiter_on());
    let arrays = [
        c.slip_angle_deg(),
        c.slip_angle_contact_patch(),
        c.slip_ratio(),
        c.tyre_slip(),
        c.nd_slip(),
        c.load_n(),
        c.dy(),
        c.mz_nm(),
        c.tyre_dirty_level(),
        c.camber_rad(),
        c.tyre_radius_m(),
        c.tyre_loaded_radius_m(),
        c.suspension_height_m(),
    ];
    for (n, array) in arrays.iter().enumerate() {
        for (w, v) in array.iter().enumerate() {
            assert_eq!(*v, 1000.0 + (n * 4 + w) as f32, "array {n} wheel {w}");
        }
    }
    assert_eq!((c.car_position_normalized(), c.car_slope()), (0.308, 0.312));
    assert_eq!(c.car_coordinates_m()[2], 324.0);
}

#[test]
fn view_to_owned_to_bytes_is_identity() {
    let bytes = sample().encode();
    let again = CarInfo::new(&bytes).unwrap().to_owned().encode();
    assert_eq!(bytes, again);
}

#[test]
fn truncated_car_info_is_named() {
    let bytes = sample().encode();
    assert_eq!(
        parse_datagram(&bytes[..327]),
        Err(ParseError::Length {
            kind: DatagramKind::CarInfo,
            expected: 328,
            actual: 327
        })
    );
    assert_eq!(
        parse_datagram(&bytes[..7]),
        Err(ParseError::UnknownLength { actual: 7 })
    );
}

#[test]
fn bad_identifier_and_operation() {
    let mut bytes = sample().encode();
    bytes[0] = b'b';
    assert_eq!(
        parse_datagram(&bytes),
        Err(ParseError::BadIdentifier {
            offset: 0,
            expected: b'a',
            found: b'b'
        })
    );
    let mut request = Request::new(Operation::Dismiss).encode();
    request[8] = 9;
    assert_eq!(
        parse_datagram(&request),
        Err(ParseError::UnknownOperation {
            offset: 8,
            found: 9
        })
    );
}
