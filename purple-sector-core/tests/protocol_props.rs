//! Property tests: every encode/decode pair round-trips, every truncation and extension gives
//! its exact error, and no byte string makes the parser panic.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use proptest::prelude::*;
use purple_sector_core::protocol::{
    CAR_INFO_LEN, CarInfo, Datagram, DatagramKind, HANDSHAKE_RESPONSE_LEN, HandshakeResponse,
    LAP_COMPLETED_LEN, LapCompleted, NAME_UNITS, Name, Operation, OwnedCarInfo,
    OwnedHandshakeResponse, OwnedLapCompleted, ParseError, REQUEST_LEN, Request, parse_datagram,
};

/// Any 328 bytes that are a car-info datagram, bools as the game sends them (0 or 1).
fn car_info_bytes() -> impl Strategy<Value = Vec<u8>> {
    (
        proptest::collection::vec(any::<u8>(), CAR_INFO_LEN),
        any::<[bool; 6]>(),
    )
        .prop_map(|(mut b, flags)| {
            b[0] = b'a';
            b[4..8].copy_from_slice(&328i32.to_le_bytes());
            for (k, flag) in flags.into_iter().enumerate() {
                b[20 + k] = u8::from(flag);
            }
            b
        })
}

fn name() -> impl Strategy<Value = Name> {
    any::<[u16; NAME_UNITS]>().prop_map(Name::from_raw_units)
}

fn operation() -> impl Strategy<Value = Operation> {
    prop_oneof![
        Just(Operation::Handshake),
        Just(Operation::SubscribeUpdate),
        Just(Operation::SubscribeSpot),
        Just(Operation::Dismiss),
    ]
}

fn handshake_response() -> impl Strategy<Value = OwnedHandshakeResponse> {
    (name(), name(), any::<i32>(), any::<i32>(), name(), name()).prop_map(
        |(car_name, driver_name, identifier, version, track_name, track_config)| {
            OwnedHandshakeResponse {
                car_name,
                driver_name,
                identifier,
                version,
                track_name,
                track_config,
            }
        },
    )
}

fn lap_completed() -> impl Strategy<Value = OwnedLapCompleted> {
    (any::<i32>(), any::<i32>(), name(), name(), any::<i32>()).prop_map(
        |(car_identifier_number, lap, driver_name, car_name, time_ms)| OwnedLapCompleted {
            car_identifier_number,
            lap,
            driver_name,
            car_name,
            time_ms,
        },
    )
}

/// What `parse_datagram` must say of `bytes` that are not a whole datagram of a known length.
fn expected_error(bytes: &[u8]) -> ParseError {
    let car_like = bytes.len() >= 8
        && bytes[0] == b'a'
        && i32::from_le_bytes(bytes[4..8].try_into().unwrap()) == 328;
    if car_like {
        ParseError::Length {
            kind: DatagramKind::CarInfo,
            expected: CAR_INFO_LEN,
            actual: bytes.len(),
        }
    } else {
        ParseError::UnknownLength {
            actual: bytes.len(),
        }
    }
}

/// For every truncation and every extension (up to 64 extra bytes) of a valid datagram: the
/// view of its kind reports the exact length error, and `parse_datagram` either reports the
/// exact error or, at another kind's length, parses as that kind.
fn check_resizes(full: &[u8], kind: DatagramKind) {
    let view_error = |n: usize| ParseError::Length {
        kind,
        expected: kind.wire_len(),
        actual: n,
    };
    let view = |b: &[u8]| -> Result<(), ParseError> {
        match kind {
            DatagramKind::Request => Request::parse(b).map(drop),
            DatagramKind::HandshakeResponse => HandshakeResponse::new(b).map(drop),
            DatagramKind::CarInfo => CarInfo::new(b).map(drop),
            DatagramKind::LapCompleted => LapCompleted::new(b).map(drop),
        }
    };
    let mut extended = full.to_vec();
    extended.extend(std::iter::repeat_n(0xa5, 64));
    for n in (0..full.len()).chain(full.len() + 1..=extended.len()) {
        let bytes = &extended[..n];
        assert_eq!(view(bytes), Err(view_error(n)), "{kind} view at {n} bytes");
        match DatagramKind::from_len(n) {
            Some(other) => {
                assert_ne!(other, kind);
                if let Ok(d) = parse_datagram(bytes) {
                    assert_eq!(d.kind(), other);
                }
            }
            None => assert_eq!(parse_datagram(bytes), Err(expected_error(bytes)), "{n}"),
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn car_info_bytes_round_trip(bytes in car_info_bytes()) {
        let Ok(Datagram::CarInfo(car)) = parse_datagram(&bytes) else {
            panic!("not parsed as car info");
        };
        prop_assert_eq!(&car.to_owned().encode()[..], &bytes[..]);
    }

    #[test]
    fn car_info_owned_round_trip(bytes in car_info_bytes()) {
        // Owned → encode → parse → owned; compared as bytes so NaNs compare by their bits.
        let owned = CarInfo::new(&bytes).unwrap().to_owned();
        let encoded = owned.encode();
        let again = CarInfo::new(&encoded).unwrap().to_owned();
        prop_assert_eq!(again.encode(), encoded);
        if !bytes.chunks_exact(4).any(|c| f32::from_le_bytes(c.try_into().unwrap()).is_nan()) {
            prop_assert_eq!(again, owned);
        }
    }

    #[test]
    fn any_nonzero_byte_is_a_true_flag(byte in 1u8.., at in 20usize..26) {
        let mut bytes = OwnedCarInfo::default().encode();
        bytes[at] = byte;
        let car = CarInfo::new(&bytes).unwrap();
        let flags = [
            car.is_abs_enabled(), car.is_abs_in_action(), car.is_tc_in_action(),
            car.is_tc_enabled(), car.is_in_pit(), car.is_engine_limiter_on(),
        ];
        for (k, flag) in flags.into_iter().enumerate() {
            prop_assert_eq!(flag, k + 20 == at);
        }
    }

    #[test]
    fn request_round_trip(identifier in any::<i32>(), version in any::<i32>(), operation in operation()) {
        let request = Request { identifier, version, operation };
        let bytes = request.encode();
        prop_assert_eq!(parse_datagram(&bytes), Ok(Datagram::Request(request)));
    }

    #[test]
    fn request_with_unknown_operation(code in any::<i32>().prop_filter("not 0..=3", |c| !(0..=3).contains(c))) {
        let mut bytes = Request::new(Operation::Handshake).encode();
        bytes[8..12].copy_from_slice(&code.to_le_bytes());
        prop_assert_eq!(
            parse_datagram(&bytes),
            Err(ParseError::UnknownOperation { offset: 8, found: code })
        );
    }

    #[test]
    fn handshake_response_round_trip(reply in handshake_response()) {
        let bytes = reply.encode();
        let Ok(Datagram::HandshakeResponse(view)) = parse_datagram(&bytes) else {
            panic!("not a handshake response");
        };
        prop_assert_eq!(view.to_owned(), reply);
        prop_assert_eq!(view.car_name().to_string_lossy(), reply.car_name.to_string_lossy());
        prop_assert_eq!(view.identifier(), reply.identifier);
    }

    #[test]
    fn lap_completed_round_trip(event in lap_completed()) {
        let bytes = event.encode();
        let Ok(Datagram::LapCompleted(view)) = parse_datagram(&bytes) else {
            panic!("not a lap event");
        };
        prop_assert_eq!(view.to_owned(), event);
        prop_assert_eq!(view.time_ms(), event.time_ms);
        prop_assert_eq!(view.lap(), event.lap);
    }

    #[test]
    fn names_from_text_round_trip(text in "[^%\u{0}]{0,20}", junk in proptest::collection::vec(any::<u16>(), 0..20)) {
        let units = text.encode_utf16().count();
        match Name::with_junk(&text, &junk) {
            Ok(name) => {
                prop_assert_eq!(name.to_string_lossy(), text.clone());
                let bytes = OwnedLapCompleted { car_name: name, ..Default::default() }.encode();
                let view = LapCompleted::new(&bytes).unwrap();
                prop_assert_eq!(view.car_name().to_string_lossy(), text);
                let raw: Vec<u16> = view.car_name().raw_units().collect();
                prop_assert_eq!(&raw[units + 1..units + 1 + junk.len()], &junk[..]);
            }
            Err(_) => prop_assert!(units + 1 + junk.len() > NAME_UNITS),
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        match parse_datagram(&bytes) {
            Ok(d) => {
                prop_assert_eq!(d.kind().wire_len(), bytes.len());
                let owned = d.to_owned();
                let _ = format!("{d:?}");
                prop_assert_eq!(owned.kind(), d.kind());
            }
            Err(e) => {
                let _ = e.to_string();
            }
        }
    }

    #[test]
    fn car_info_with_a_bad_size_says_so(mut bytes in car_info_bytes(), size in any::<i32>().prop_filter("not 328", |s| *s != 328)) {
        bytes[4..8].copy_from_slice(&size.to_le_bytes());
        prop_assert_eq!(
            parse_datagram(&bytes),
            Err(ParseError::BadSize { offset: 4, expected: 328, found: size })
        );
    }
}

#[test]
fn every_truncation_and_extension_gives_the_exact_error() {
    let car = OwnedCarInfo {
        padding_after_identifier: [0, 0x33, 0],
        speed_kmh: 100.0,
        ..OwnedCarInfo::default()
    }
    .encode();
    check_resizes(&car, DatagramKind::CarInfo);
    let reply = OwnedHandshakeResponse {
        car_name: Name::new("ks_corvette_c7r").unwrap(),
        driver_name: Name::new("Scott").unwrap(),
        identifier: 4242,
        version: 1,
        track_name: Name::new("imola").unwrap(),
        track_config: Name::new("imola").unwrap(),
    }
    .encode();
    check_resizes(&reply, DatagramKind::HandshakeResponse);
    let lap = OwnedLapCompleted {
        lap: 3,
        time_ms: 108_600,
        ..Default::default()
    }
    .encode();
    check_resizes(&lap, DatagramKind::LapCompleted);
    check_resizes(
        &Request::new(Operation::SubscribeUpdate).encode(),
        DatagramKind::Request,
    );
    assert_eq!(
        (REQUEST_LEN, LAP_COMPLETED_LEN, HANDSHAKE_RESPONSE_LEN),
        (12, 212, 408)
    );
}
