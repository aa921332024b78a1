//! `purple-sector inspect` end to end: the real binary on the bundled capture.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use purple_sector_core::logger::LoggerLap;
use serde_json::Value;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../purple-sector-core/tests/fixtures")
        .join(name)
}

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_purple-sector"))
        .args(args)
        .env_remove("PURPLE_SECTOR_DB")
        .output()
        .unwrap()
}

fn json_lines(output: &Output) -> Vec<Value> {
    String::from_utf8(output.stdout.clone())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

#[test]
fn json_lines_carry_every_field_of_the_real_lap() {
    let capture = fixture("imola-lap2.pcap");
    let out = run(&["inspect", capture.to_str().unwrap(), "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lines = json_lines(&out);

    let types: Vec<&str> = lines.iter().map(|l| l["type"].as_str().unwrap()).collect();
    assert_eq!(
        &types[..5],
        [
            "request",
            "request",
            "handshake_response",
            "request",
            "car_info"
        ]
    );
    assert_eq!(types.last(), Some(&"summary"));

    let reply = &lines[2]["data"];
    assert_eq!(reply["car_name"], "ks_corvette_c7r");
    assert_eq!(reply["track_config"], "imola");
    assert_eq!(reply["identifier"], 4242);
    assert_eq!(reply["direction"], "from_game");
    assert_eq!(lines[0]["data"]["operation"], "dismiss");
    assert_eq!(lines[0]["data"]["direction"], "to_game");

    // Every car-info field is there, by its snake_case AC name.
    let car = &lines[4]["data"];
    for key in [
        "timestamp_us",
        "direction",
        "speed_kmh",
        "speed_mph",
        "speed_ms",
        "is_abs_enabled",
        "is_abs_in_action",
        "is_tc_in_action",
        "is_tc_enabled",
        "is_in_pit",
        "is_engine_limiter_on",
        "acc_g_vertical",
        "acc_g_horizontal",
        "acc_g_frontal",
        "lap_time_ms",
        "last_lap_ms",
        "best_lap_ms",
        "lap_count",
        "gas",
        "brake",
        "clutch",
        "engine_rpm",
        "steer",
        "gear",
        "cg_height",
        "car_position_normalized",
        "car_slope",
    ] {
        assert!(car.get(key).is_some(), "missing {key}");
    }
    for key in [
        "wheel_angular_speed",
        "slip_angle",
        "slip_angle_contact_patch",
        "slip_ratio",
        "tyre_slip",
        "nd_slip",
        "load",
        "dy",
        "mz",
        "tyre_dirty_level",
        "camber_rad",
        "tyre_radius",
        "tyre_loaded_radius",
        "suspension_height",
    ] {
        assert_eq!(car[key].as_array().map(Vec::len), Some(4), "{key}");
    }
    assert_eq!(car["car_coordinates"].as_array().map(Vec::len), Some(3));

    // The printed floats parse back to the exact f32 of the real lap; gear is AC's raw value.
    let lap = LoggerLap::parse(include_str!(
        "../../purple-sector-core/tests/fixtures/imola-c7r-lap2.tsv"
    ))
    .unwrap();
    let cars: Vec<&Value> = lines
        .iter()
        .filter(|l| l["type"] == "car_info")
        .map(|l| &l["data"])
        .collect();
    assert_eq!(cars.len(), lap.rows.len());
    let f32_of = |v: &Value| v.as_f64().unwrap() as f32;
    for (car, row) in cars.iter().zip(&lap.rows) {
        assert_eq!(f32_of(&car["steer"]).to_bits(), row.steer_deg.to_bits());
        assert_eq!(f32_of(&car["speed_mph"]).to_bits(), row.speed_mph.to_bits());
        assert_eq!(f32_of(&car["gas"]).to_bits(), row.gas.to_bits());
        assert_eq!(car["gear"].as_i64(), Some(i64::from(row.gear_raw)));
        assert_eq!(
            car["lap_time_ms"].as_i64(),
            Some(i64::from(row.lap_time_ms))
        );
        let xyz = car["car_coordinates"].as_array().unwrap();
        assert_eq!(f32_of(&xyz[2]).to_bits(), row.coordinates_m[2].to_bits());
    }
    // Shortest round-trip form: no f64 noise digits in the text.
    let text = String::from_utf8(out.stdout.clone()).unwrap();
    assert!(
        text.contains("\"speed_mph\":146.17775,"),
        "f32 printed as f64?"
    );

    let summary = &lines.last().unwrap()["data"];
    assert_eq!(summary["car_info"], 4880);
    assert_eq!(summary["request"], 4);
    assert_eq!(summary["handshake_response"], 1);
    assert_eq!(summary["lap_completed"], 0);
    assert_eq!(summary["malformed"], 0);
}

#[test]
fn global_json_flag_works_before_the_subcommand() {
    let capture = fixture("imola-lap2.pcap");
    let before = run(&["--json", "inspect", capture.to_str().unwrap()]);
    let after = run(&["inspect", capture.to_str().unwrap(), "--json"]);
    assert!(before.status.success());
    assert_eq!(before.stdout, after.stdout);
    let with_db = run(&[
        "--db",
        "/nonexistent/x.db",
        "inspect",
        capture.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(with_db.stdout, after.stdout);
}

#[test]
fn table_is_readable() {
    let capture = fixture("imola-lap2.pcap");
    let out = run(&["inspect", capture.to_str().unwrap()]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    let mut lines = text.lines();
    assert!(lines.next().unwrap().contains("type"));
    assert!(text.contains("car ks_corvette_c7r driver Scott Deakin track imola (imola)"));
    assert_eq!(
        text.lines().filter(|l| l.contains("  car_info  ")).count(),
        4880
    );
    assert!(text.lines().last().unwrap().starts_with("4885 datagrams"));
}

#[test]
fn a_missing_file_is_one_line_on_stderr_and_exit_2() {
    let out = run(&["inspect", "/nonexistent/capture.pcap"]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with("purple-sector: cannot read /nonexistent/capture.pcap"),
        "{err}"
    );
    assert!(out.stdout.is_empty());
}

#[test]
fn a_file_that_is_not_a_capture_is_refused() {
    let path = std::env::temp_dir().join(format!("ps-not-a-capture-{}.txt", std::process::id()));
    std::fs::write(&path, "hello, this is text and not a pcap file at all").unwrap();
    let out = run(&["inspect", path.to_str().unwrap()]);
    std::fs::remove_file(&path).ok();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(err.lines().count(), 1, "{err}");
}
