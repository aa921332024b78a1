//! A MoTeC log written the way other tools write them (MoTeC's own channel names and units,
//! channels at different rates, integer channels with scaling, a 1 Hz lap number, MoTeC's
//! "Lap Time" as the last lap's time, no `.ldx`) imports as laps with their times.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use purple_sector_core::import::{ImportFormat, ImportOptions, open_file};
use purple_sector_core::lap::{LapKind, LapTimeSource};
use purple_sector_core::motec::{LdChannel, LdData, LdDateTime, LdFile, LdHeader, LdScaling};
use purple_sector_core::record::Input;

#[test]
fn another_tools_log_imports_with_its_laps_and_times() {
    // Three laps of 40.0 s, 41.5 s and 40.3 s on a 1 km loop, then 10 s of a fourth.
    let lap_s = [40.0f64, 41.5, 40.3, 10.0];
    let total_s: f64 = lap_s.iter().sum();
    let lap_at = |t: f64| {
        let mut start = 0.0;
        for (k, len) in lap_s.iter().enumerate() {
            if t < start + len {
                return (k, t - start);
            }
            start += len;
        }
        (lap_s.len() - 1, t - start)
    };
    let samples = |hz: f64, f: &dyn Fn(f64) -> f64| -> Vec<f64> {
        (0..(total_s * hz) as usize)
            .map(|k| f(k as f64 / hz))
            .collect()
    };
    let speed = samples(50.0, &|t| {
        let (k, into) = lap_at(t);
        3.6 * 1000.0 / lap_s[k.min(2)] + (into * 0.3).sin()
    });
    // Throttle as MoTeC often stores it: i16 tenths of a percent.
    let throttle: Vec<i16> = samples(20.0, &|t| 500.0 + 400.0 * (t * 0.5).sin())
        .into_iter()
        .map(|v| v as i16)
        .collect();
    let lap_number = samples(1.0, &|t| lap_at(t).0 as f64);
    // The logger updates its last-lap time a moment after the line.
    let last_lap = samples(1.0, &|t| {
        let (k, into) = lap_at(t);
        if k == 0 || into < 1.0 {
            0.0
        } else {
            lap_s[k - 1]
        }
    });
    let f32s = |v: Vec<f64>| v.into_iter().map(|x| x as f32).collect::<Vec<f32>>();
    let file = LdFile {
        header: LdHeader {
            driver: "A. Driver".into(),
            vehicle: "GT3".into(),
            venue: "Testing Ground".into(),
            started: LdDateTime {
                year: 2024,
                month: 5,
                day: 6,
                hour: 10,
                minute: 0,
                second: 0,
            },
            ..LdHeader::default()
        },
        channels: vec![
            LdChannel::f32("Ground Speed", "km/h", 50, f32s(speed.clone())),
            LdChannel {
                data: LdData::I16(throttle),
                scaling: LdScaling {
                    dec_places: 1,
                    ..LdScaling::IDENTITY
                },
                ..LdChannel::f32("Throttle Pos", "%", 20, Vec::new())
            },
            LdChannel::f32("Lap Number", "", 1, f32s(lap_number)),
            LdChannel::f32("Lap Time", "s", 1, f32s(last_lap)),
        ],
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("other.ld");
    std::fs::write(&path, file.to_bytes().unwrap()).unwrap();

    let opened = open_file(&path, &ImportOptions::default()).unwrap();
    assert_eq!(opened.format, ImportFormat::MotecLd);
    assert_eq!(
        (
            opened.meta.track.as_str(),
            opened.meta.car.as_str(),
            opened.meta.driver.as_str()
        ),
        ("Testing Ground", "GT3", "A. Driver")
    );
    let laps: Vec<_> = opened
        .inputs
        .map(|i| match i.unwrap() {
            Input::Lap(lap) => lap,
            other => panic!("not a lap: {other:?}"),
        })
        .collect();
    let shape: Vec<_> = laps
        .iter()
        .map(|l| (l.number, l.kind, l.time.map(|t| (t.ms, t.source))))
        .collect();
    assert_eq!(
        shape,
        [
            (0, LapKind::Partial, None),
            (1, LapKind::Flying, Some((41_500, LapTimeSource::Official))),
            (2, LapKind::Flying, Some((40_300, LapTimeSource::Official))),
            (3, LapKind::Partial, None),
        ]
    );
    // Read at the fastest channel's rate, units ours: km/h as logged, throttle 0..1.
    let lap1 = &laps[1].frames;
    // Split where the 1 Hz lap number changes: to within a second of the line.
    assert!(lap1.len().abs_diff(41 * 50 + 25) <= 50, "{}", lap1.len());
    assert!(lap1.iter().all(|f| (0.0..=1.0).contains(&f.gas)));
    assert!(lap1.iter().any(|f| f.gas > 0.85));
    assert!((lap1[10].speed_kmh - 3.6 * 1000.0 / 41.5).abs() < 1.5);
}
