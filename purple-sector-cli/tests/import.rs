//! `import`, `sessions`, `laps` and `export` end to end on a real SQLite file.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::process::Output;

use serde_json::Value;
use support::*;

fn text(out: Output) -> String {
    String::from_utf8(ok(out).stdout).unwrap()
}

fn ok(out: Output) -> Output {
    assert!(
        out.status.success(),
        "exit {:?}: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

#[test]
fn imola_logger_laps_import_whole_and_bit_exact() {
    let db = temp_db("import-imola");
    let lap0 = fixture("imola-c7r-lap0.tsv");
    let lap2 = fixture("imola-c7r-lap2.tsv");
    ok(run(
        &db,
        &[
            "import",
            lap0.to_str().unwrap(),
            lap2.to_str().unwrap(),
            "--session",
            "Imola",
        ],
    ));

    let laps = json_lines(&ok(run(&db, &["laps", "list", "--json"])).stdout);
    assert_eq!(laps.len(), 2);
    // The contract: exactly these fields.
    let keys: Vec<&str> = laps[0]["data"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let mut expected = vec![
        "id",
        "session_id",
        "number",
        "kind",
        "valid",
        "invalid_reason",
        "lap_time_ms",
        "lap_time_source",
        "frames",
        "car",
        "track",
    ];
    expected.sort_unstable();
    let mut keys_sorted = keys.clone();
    keys_sorted.sort_unstable();
    assert_eq!(keys_sorted, expected);
    assert_eq!(laps[0]["type"], "lap");
    assert_eq!(laps[0]["data"]["frames"], 4869);
    assert_eq!(laps[1]["data"]["frames"], 4880);
    assert_eq!(laps[0]["data"]["kind"], "flying");
    // Timed by their lap clocks, run to the line: about 1:49.54 and 1:48.67.
    let time = |k: usize| laps[k]["data"]["lap_time_ms"].as_i64().unwrap();
    assert!((time(0) - 109_540).abs() <= 15, "{}", time(0));
    assert!((time(1) - 108_670).abs() <= 15, "{}", time(1));
    assert_eq!(laps[0]["data"]["lap_time_source"], "telemetry");

    // Export as CSV: a row per frame, headers with units, the logged values.
    let csv = db.with_extension("csv");
    ok(run(
        &db,
        &[
            "export",
            "--session",
            "1",
            "--format",
            "csv",
            "-o",
            csv.to_str().unwrap(),
        ],
    ));
    let text = std::fs::read_to_string(&csv).unwrap();
    let mut rows = text.lines();
    let header = rows.next().unwrap();
    for column in [
        "session_time_s",
        "lap",
        "lap_time_s",
        "lap_distance_m",
        "position",
        "valid",
        "speed_kmh",
        "steer_deg",
        "engine_rpm",
    ] {
        assert!(
            header.split(',').any(|h| h == column),
            "{column} missing in {header}"
        );
    }
    assert_eq!(rows.count(), 4869 + 4880);
    let last_lap0 = text.lines().nth(4869).unwrap();
    let at = header
        .split(',')
        .position(|h| h == "lap_distance_m")
        .unwrap();
    let distance: f64 = last_lap0.split(',').nth(at).unwrap().parse().unwrap();
    assert!((4_800.0..5_000.0).contains(&distance), "{distance}");
}

#[test]
fn original_demo_json_imports() {
    let db = temp_db("import-demo");
    let path = db.with_extension("json");
    // The original app's demo format, 60 Hz.
    let frames = |lap: i32| -> Vec<Value> {
        (0..600)
            .map(|k| {
                serde_json::json!({
                    "timestamp": 1_700_000_000_000i64 + i64::from(lap) * 10_000 + k * 16,
                    "throttle": 0.8, "brake": 0.0, "steering": -0.25, "speed": 150.0 + k as f64 * 0.1,
                    "gear": 4, "rpm": 6500.0, "lapNumber": lap, "lapTime": k as f64 * 16.67,
                })
            })
            .collect()
    };
    let demo = serde_json::json!({
        "track": "monza", "car": "ferrari_458",
        "laps": [{"lapNumber": 1, "frames": frames(1)}, {"lapNumber": 2, "frames": frames(2)}],
    });
    std::fs::write(&path, demo.to_string()).unwrap();
    ok(run(&db, &["import", path.to_str().unwrap()]));
    let sessions = json_lines(&ok(run(&db, &["sessions", "list", "--json"])).stdout);
    assert_eq!(sessions.len(), 1);
    assert_eq!(sessions[0]["type"], "session");
    assert_eq!(sessions[0]["data"]["track"], "monza");
    assert_eq!(sessions[0]["data"]["source"], "import");
    assert_eq!(sessions[0]["data"]["laps"], 2);
    let laps = json_lines(&ok(run(&db, &["laps", "list", "--session", "1", "--json"])).stdout);
    assert_eq!(laps[1]["data"]["number"], 2);
    assert_eq!(laps[1]["data"]["frames"], 600);
}

#[test]
fn bad_files_name_file_and_line_and_import_nothing() {
    let db = temp_db("import-bad");
    let tsv = db.with_extension("tsv");
    let good = std::fs::read_to_string(fixture("imola-c7r-lap2.tsv")).unwrap();
    let mut lines: Vec<&str> = good.lines().collect();
    lines[1234] = "0.5\t146.1\t1.0\tbroken\t0\t6\t1\t2\t3";
    std::fs::write(&tsv, lines.join("\n")).unwrap();
    // A good capture first, then the bad file: nothing at all may be kept.
    let capture = fixture("imola-lap2.pcap");
    let out = run(
        &db,
        &["import", capture.to_str().unwrap(), tsv.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.contains(tsv.to_str().unwrap()), "{err}");
    assert!(err.contains("line 1235, column 4"), "{err}");
    let out = run(&db, &["sessions", "list", "--json"]);
    assert_eq!(out.status.code(), Some(1), "nothing to report");
    assert!(out.stdout.is_empty());

    let json = db.with_extension("json");
    std::fs::write(
        &json,
        "{\"track\": \"x\",\n \"laps\": [ {\"lapNumber\": 1, \"frames\": [ }",
    )
    .unwrap();
    let out = run(&db, &["import", json.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("line 2"), "{err}");

    let text = db.with_extension("txt");
    std::fs::write(&text, "hello").unwrap();
    let out = run(&db, &["import", text.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8(out.stderr)
            .unwrap()
            .contains("not a pcap/pcapng capture, our CSV or JSON export, a MoTeC .ld log")
    );
}

#[test]
fn a_session_exports_to_a_capture_that_imports_to_the_same_frames() {
    let db = temp_db("export-pcap");
    let capture = fixture("imola-lap2.pcap");
    ok(run(&db, &["import", capture.to_str().unwrap()]));
    let exported = db.with_extension("pcap");
    ok(run(
        &db,
        &[
            "export",
            "--session",
            "1",
            "--format",
            "pcap",
            "-o",
            exported.to_str().unwrap(),
        ],
    ));
    ok(run(&db, &["import", exported.to_str().unwrap()]));
    let first = db.with_extension("a.json");
    let second = db.with_extension("b.json");
    ok(run(
        &db,
        &[
            "export",
            "1",
            "--format",
            "json",
            "-o",
            first.to_str().unwrap(),
        ],
    ));
    ok(run(
        &db,
        &[
            "export",
            "2",
            "--format",
            "json",
            "-o",
            second.to_str().unwrap(),
        ],
    ));
    let a: Value = serde_json::from_str(&std::fs::read_to_string(first).unwrap()).unwrap();
    let b: Value = serde_json::from_str(&std::fs::read_to_string(second).unwrap()).unwrap();
    assert_eq!(a["laps"][0]["frames"], b["laps"][0]["frames"]);
    assert_eq!(a["laps"][0]["frames"].as_array().unwrap().len(), 4880);
    assert_eq!(b["session"]["car"], "ks_corvette_c7r");
}

#[test]
fn sessions_and_laps_can_be_tidied() {
    let db = temp_db("tidy");
    let capture = fixture("imola-lap2.pcap");
    ok(run(&db, &["import", capture.to_str().unwrap()]));
    ok(run(&db, &["sessions", "rename", "1", "Friday practice"]));
    ok(run(&db, &["sessions", "tag", "1", "league", "wet"]));
    ok(run(&db, &["sessions", "archive", "1"]));
    let s = json_lines(&ok(run(&db, &["sessions", "show", "1", "--json"])).stdout);
    assert_eq!(s[0]["data"]["name"], "Friday practice");
    assert_eq!(s[0]["data"]["status"], "archived");
    assert_eq!(s[0]["data"]["tags"], serde_json::json!(["league", "wet"]));
    ok(run(&db, &["laps", "comment", "1", "locked up into Tosa"]));
    let out = ok(run(&db, &["laps", "show", "1"]));
    assert!(
        String::from_utf8(out.stdout)
            .unwrap()
            .contains("locked up into Tosa")
    );
    ok(run(&db, &["laps", "delete", "1"]));
    assert_eq!(run(&db, &["laps", "list"]).status.code(), Some(1));
    let missing = run(&db, &["laps", "show", "99"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(
        String::from_utf8(missing.stderr)
            .unwrap()
            .contains("lap 99 not found")
    );
    ok(run(&db, &["sessions", "delete", "1"]));
    assert_eq!(run(&db, &["sessions", "list"]).status.code(), Some(1));
}

/// The real Imola laps, each in its own session as the logger lays them out: their times
/// from their lap clocks, the track, car and driver from the folders, and every coach
/// command works on them with no flags (the default reference: the best other lap of the
/// same track and car, any session).
#[test]
fn the_real_laps_in_the_loggers_folders_are_coached_without_flags() {
    let db = temp_db("import-real-folders");
    let run_dir = db
        .parent()
        .unwrap()
        .join("log/imola/ks_corvette_c7r/20201112T215006_Scott_Deakin");
    std::fs::create_dir_all(&run_dir).unwrap();
    for (fixture_name, file) in [
        ("imola-c7r-lap0.tsv", "lap_0.txt"),
        ("imola-c7r-lap2.tsv", "lap_2.txt"),
    ] {
        std::fs::copy(fixture(fixture_name), run_dir.join(file)).unwrap();
        let out = text(run(&db, &["import", run_dir.join(file).to_str().unwrap()]));
        assert!(
            out.contains("Scott Deakin at imola — ks_corvette_c7r"),
            "{out}"
        );
        assert!(!out.contains('?'), "{out}");
    }
    let analysis = text(run(&db, &["analyze", "1"]));
    assert!(
        analysis.starts_with("lap 1 1:49.5") && analysis.contains("against lap 2 1:48.6"),
        "{analysis}"
    );
    let table = text(run(&db, &["compare", "1"]));
    assert!(table.contains("total"), "{table}");
    let svg = db.with_extension("svg");
    text(run(&db, &["plot", "1", "-o", svg.to_str().unwrap()]));
    let answer = text(run(
        &db,
        &["chat", "1", "--message", "where do I lose time?"],
    ));
    assert!(answer.contains("slower than the reference"), "{answer}");
    let ideal = text(run(&db, &["analyze", "2", "--against", "ideal"]));
    assert!(ideal.contains("the ideal lap"), "{ideal}");
}
