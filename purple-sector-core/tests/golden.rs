//! Golden data nobody here wrote: real packets from the game, and a real logged lap.
//! See `tests/fixtures/SOURCE.md`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use purple_sector_core::logger::LoggerLap;
use purple_sector_core::protocol::{
    CarInfo, Datagram, HANDSHAKE_RESPONSE_LEN, HandshakeResponse, NAME_LEN, Name, OwnedCarInfo,
    OwnedHandshakeResponse, parse_datagram,
};
use serde_json::Value;

const PACKETS: &str = include_str!("fixtures/ac-decoded-packets.json");
const LAP_2: &str = include_str!("fixtures/imola-c7r-lap2.tsv");

fn packets() -> Value {
    serde_json::from_str(PACKETS).unwrap()
}

fn f(v: &Value, key: &str) -> f32 {
    v[key].as_f64().unwrap_or_else(|| panic!("{key}")) as f32
}

fn i(v: &Value, key: &str) -> i32 {
    i32::try_from(v[key].as_i64().unwrap_or_else(|| panic!("{key}"))).unwrap()
}

fn b(v: &Value, key: &str) -> bool {
    i(v, key) != 0
}

fn arr<const N: usize>(v: &Value, key: &str) -> [f32; N] {
    let a = v[key].as_array().unwrap_or_else(|| panic!("{key}"));
    assert_eq!(a.len(), N, "{key}");
    std::array::from_fn(|k| a[k].as_f64().unwrap() as f32)
}

/// The real packet's values, as the printing client decoded them.
fn real_car_info(v: &Value) -> OwnedCarInfo {
    // "a3": byte 0 is 'a', bytes 1..3 read 00 33 00.
    assert_eq!(v["identifier"], "a3");
    assert_eq!(i(v, "size"), 328);
    OwnedCarInfo {
        padding_after_identifier: [0x00, 0x33, 0x00],
        padding_after_flags: [0, 0],
        speed_kmh: f(v, "speedKmh"),
        speed_mph: f(v, "speedMph"),
        speed_ms: f(v, "speedMs"),
        is_abs_enabled: b(v, "isAbsEnabled"),
        is_abs_in_action: b(v, "isAbsInAction"),
        is_tc_in_action: b(v, "isTcInAction"),
        is_tc_enabled: b(v, "isTcEnabled"),
        is_in_pit: b(v, "isInPit"),
        is_engine_limiter_on: b(v, "isEngineLimiterOn"),
        acc_g_vertical: f(v, "accGVertical"),
        acc_g_horizontal: f(v, "accGHorizontal"),
        acc_g_frontal: f(v, "accGFrontal"),
        lap_time_ms: i(v, "lapTime"),
        last_lap_ms: i(v, "lastLap"),
        best_lap_ms: i(v, "bestLap"),
        lap_count: i(v, "lapCount"),
        gas: f(v, "gas"),
        brake: f(v, "brake"),
        clutch: f(v, "clutch"),
        engine_rpm: f(v, "engineRPM"),
        steer_deg: f(v, "steer"),
        gear_raw: i(v, "gear"),
        cg_height_m: f(v, "cgHeight"),
        wheel_angular_speed_rad_s: arr(v, "wheelAngularSpeed"),
        slip_angle_deg: arr(v, "slipAngle"),
        slip_angle_contact_patch: arr(v, "slipAngleContactPatch"),
        slip_ratio: arr(v, "slipRatio"),
        tyre_slip: arr(v, "tyreSlip"),
        nd_slip: arr(v, "ndSlip"),
        load_n: arr(v, "load"),
        dy: arr(v, "Dy"),
        mz_nm: arr(v, "Mz"),
        tyre_dirty_level: arr(v, "tyreDirtyLevel"),
        camber_rad: arr(v, "camberRAD"),
        tyre_radius_m: arr(v, "tyreRadius"),
        tyre_loaded_radius_m: arr(v, "tyreLoadedRadius"),
        suspension_height_m: arr(v, "suspensionHeight"),
        car_position_normalized: f(v, "carPositionNormalized"),
        car_slope: f(v, "carSlope"),
        car_coordinates_m: arr(v, "carCoordinates"),
    }
}

fn bits<const N: usize>(a: [f32; N]) -> [u32; N] {
    a.map(f32::to_bits)
}

#[test]
fn real_car_info_packet_round_trips_bit_exact() {
    let json = packets();
    let v = &json["car_info"];
    let expected = real_car_info(v);
    let bytes = expected.encode();
    assert_eq!(bytes[0], b'a');
    assert_eq!(&bytes[1..4], &[0x00, 0x33, 0x00]);
    let Ok(Datagram::CarInfo(car)) = parse_datagram(&bytes) else {
        panic!("not car info");
    };
    // Every field read through the view, compared as bits against the JSON.
    assert_eq!(car.speed_kmh().to_bits(), f(v, "speedKmh").to_bits());
    assert_eq!(car.speed_mph().to_bits(), f(v, "speedMph").to_bits());
    assert_eq!(car.speed_ms().to_bits(), f(v, "speedMs").to_bits());
    assert!(car.is_abs_enabled() && car.is_tc_enabled());
    assert!(!car.is_abs_in_action() && !car.is_tc_in_action() && !car.is_in_pit());
    assert!(!car.is_engine_limiter_on());
    assert_eq!(
        car.acc_g_vertical().to_bits(),
        f(v, "accGVertical").to_bits()
    );
    assert_eq!(
        car.acc_g_horizontal().to_bits(),
        f(v, "accGHorizontal").to_bits()
    );
    assert_eq!(car.acc_g_frontal().to_bits(), f(v, "accGFrontal").to_bits());
    assert_eq!(
        (
            car.lap_time_ms(),
            car.last_lap_ms(),
            car.best_lap_ms(),
            car.lap_count()
        ),
        (12, 77_288, 77_288, 1)
    );
    assert_eq!(
        (car.gas(), car.brake(), car.clutch(), car.steer_deg()),
        (1.0, 0.0, 1.0, 0.0)
    );
    assert_eq!(car.engine_rpm().to_bits(), f(v, "engineRPM").to_bits());
    assert_eq!((car.gear_raw(), car.gear()), (6, 5));
    assert_eq!(car.cg_height_m().to_bits(), f(v, "cgHeight").to_bits());
    let arrays: [(&str, [f32; 4]); 14] = [
        ("wheelAngularSpeed", car.wheel_angular_speed_rad_s()),
        ("slipAngle", car.slip_angle_deg()),
        ("slipAngleContactPatch", car.slip_angle_contact_patch()),
        ("slipRatio", car.slip_ratio()),
        ("tyreSlip", car.tyre_slip()),
        ("ndSlip", car.nd_slip()),
        ("load", car.load_n()),
        ("Dy", car.dy()),
        ("Mz", car.mz_nm()),
        ("tyreDirtyLevel", car.tyre_dirty_level()),
        ("camberRAD", car.camber_rad()),
        ("tyreRadius", car.tyre_radius_m()),
        ("tyreLoadedRadius", car.tyre_loaded_radius_m()),
        ("suspensionHeight", car.suspension_height_m()),
    ];
    for (key, got) in arrays {
        assert_eq!(bits(got), bits(arr::<4>(v, key)), "{key}");
    }
    assert_eq!(
        car.car_position_normalized().to_bits(),
        f(v, "carPositionNormalized").to_bits()
    );
    assert_eq!(car.car_slope(), 0.0);
    assert_eq!(
        bits(car.car_coordinates_m()),
        bits(arr::<3>(v, "carCoordinates"))
    );
    // And the owned copy is the same value, encoding to the same bytes.
    assert_eq!(car.to_owned(), expected);
    assert_eq!(car.to_owned().encode(), bytes);
}

/// The 100 bytes of a name field as the game sent them: the printed code units, zero-padded.
fn raw_name_field(printed: &str) -> [u8; NAME_LEN] {
    let units: Vec<u16> = printed.encode_utf16().collect();
    assert!(units.len() <= 50);
    let mut out = [0u8; NAME_LEN];
    for (k, u) in units.iter().enumerate() {
        out[2 * k..2 * k + 2].copy_from_slice(&u.to_le_bytes());
    }
    out
}

#[test]
fn real_handshake_response_decodes_names_and_keeps_junk() {
    let json = packets();
    let v = &json["handshake_response"];
    let printed = |key: &str| v[key].as_str().unwrap().to_owned();
    // The 408 bytes as the game sent them.
    let mut bytes = [0u8; HANDSHAKE_RESPONSE_LEN];
    bytes[0..100].copy_from_slice(&raw_name_field(&printed("carName")));
    bytes[100..200].copy_from_slice(&raw_name_field(&printed("driverName")));
    bytes[200..204].copy_from_slice(&i(v, "identifier").to_le_bytes());
    bytes[204..208].copy_from_slice(&i(v, "version").to_le_bytes());
    bytes[208..308].copy_from_slice(&raw_name_field(&printed("trackName")));
    bytes[308..408].copy_from_slice(&raw_name_field(&printed("trackConfig")));

    let Ok(Datagram::HandshakeResponse(reply)) = parse_datagram(&bytes) else {
        panic!("not a handshake response");
    };
    assert_eq!(reply.car_name().to_string_lossy(), "bmw_m3_e30_gra");
    assert_eq!(reply.driver_name().to_string_lossy(), "pankoscielniak");
    assert_eq!(reply.track_name().to_string_lossy(), "ks_monza66");
    assert_eq!(reply.track_config().to_string_lossy(), "ks_monza66");
    assert_eq!((reply.identifier(), reply.version()), (4242, 1));
    // The junk after '%' is there, untouched, in the raw units.
    let raw: Vec<u16> = reply.track_config().raw_units().collect();
    assert_eq!(raw[10], 0x25);
    assert_eq!(raw[11], 0xbdaf);

    // Our encoder rebuilds the same bytes from text + junk.
    let with_junk = |key: &str| {
        let units: Vec<u16> = printed(key).encode_utf16().collect();
        let cut = units.iter().position(|&u| u == 0x25).unwrap();
        let text = String::from_utf16(&units[..cut]).unwrap();
        Name::with_junk(&text, &units[cut + 1..]).unwrap()
    };
    let owned = OwnedHandshakeResponse {
        car_name: with_junk("carName"),
        driver_name: with_junk("driverName"),
        identifier: 4242,
        version: 1,
        track_name: with_junk("trackName"),
        track_config: with_junk("trackConfig"),
    };
    assert_eq!(owned.encode(), bytes);
    assert_eq!(HandshakeResponse::new(&bytes).unwrap().to_owned(), owned);
}

#[test]
fn every_row_of_the_real_imola_lap_round_trips_bit_exact() {
    let lap = LoggerLap::parse(LAP_2).unwrap();
    assert_eq!(lap.rows.len(), 4880);
    // Imola is 4.9 km; the logged path should say so.
    assert!(
        (4_800.0..5_000.0).contains(&lap.length_m()),
        "{}",
        lap.length_m()
    );
    let mut steer_range = (f32::MAX, f32::MIN);
    for (row, packet) in lap.rows.iter().zip(lap.car_infos(2)) {
        let bytes = packet.encode();
        let car = CarInfo::new(&bytes).unwrap();
        assert_eq!(car.lap_time_ms(), row.lap_time_ms);
        assert_eq!(car.speed_mph().to_bits(), row.speed_mph.to_bits());
        assert_eq!(car.gas().to_bits(), row.gas.to_bits());
        assert_eq!(car.brake().to_bits(), row.brake.to_bits());
        assert_eq!(car.steer_deg().to_bits(), row.steer_deg.to_bits());
        assert_eq!(car.gear_raw(), row.gear_raw);
        assert_eq!(bits(car.car_coordinates_m()), bits(row.coordinates_m));
        assert_eq!(car.to_owned(), packet);
        steer_range = (
            steer_range.0.min(car.steer_deg()),
            steer_range.1.max(car.steer_deg()),
        );
    }
    // The real lap steers from about -124° to +65°: degrees, never clamped to ±1.
    assert!(
        steer_range.0 < -120.0 && steer_range.1 > 60.0,
        "{steer_range:?}"
    );
}

#[test]
fn logged_text_is_exactly_the_f32() {
    // The second row's speed, as text, parses to an f32 whose shortest form is that text.
    let lap = LoggerLap::parse(LAP_2).unwrap();
    let line2 = LAP_2.lines().nth(2).unwrap();
    let speed_text = line2.split('\t').nth(1).unwrap();
    assert_eq!(f64::from(lap.rows[1].speed_mph).to_string(), speed_text);
}
