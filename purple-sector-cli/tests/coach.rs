//! `analyze`, `compare`, `chat` and `plot` end to end on laps the built-in game drove, with
//! known mistakes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use purple_sector_core::store::{LapId, SqliteStore, Store};
use serde_json::Value;
use support::*;

/// The default demo on the test track: lap 2 clean, lap 3 brakes early at the slowest
/// corner, lap 4 picks up the throttle late at the second slowest.
fn session(name: &str) -> std::path::PathBuf {
    let db = temp_db(name);
    ok(run(
        &db,
        &[
            "demo", "--track", "test", "--laps", "3", "--speed", "50", "--json",
        ],
    ));
    db
}

#[test]
fn analyze_json_keeps_the_contract_and_finds_the_mistake() {
    let db = session("coach-analyze");
    let text = ok(run(&db, &["analyze", "4", "--json"]));
    let line: Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    assert_eq!(line["type"], "analysis");
    let data = &line["data"];
    let mut keys: Vec<&str> = data
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "corners",
            "gap_s",
            "lap_id",
            "lap_kind",
            "lap_time_ms",
            "reference_lap_id",
            "reference_lap_kind",
            "reference_lap_time_ms",
            "segments",
            "strengths",
            "suggestions",
            "track_length_m",
        ]
    );
    let corner_keys: Vec<&str> = data["corners"][0]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    for key in [
        "name",
        "start_pos",
        "apex_pos",
        "end_pos",
        "time_loss_s",
        "min_speed_kmh",
        "reference_min_speed_kmh",
        "brake_point_m",
        "reference_brake_point_m",
        "throttle_pickup_m",
        "reference_throttle_pickup_m",
        "coasting_m",
        "id",
        "gear_at_apex",
        "reference_gear_at_apex",
        "exit_speed_kmh",
        "reference_exit_speed_kmh",
    ] {
        assert!(corner_keys.contains(&key), "{key}");
    }
    assert_eq!(data["lap_kind"], "flying");
    assert_eq!(data["reference_lap_kind"], "flying");
    for s in data["suggestions"].as_array().unwrap() {
        assert!(s["cause"].is_string(), "{s}");
    }
    assert!(data["strengths"].is_array());
    // The reference is the session's best valid lap: lap 2, the clean one.
    assert_eq!(data["reference_lap_id"], 2);
    let gap = data["gap_s"].as_f64().unwrap();
    let expected = (data["lap_time_ms"].as_f64().unwrap()
        - data["reference_lap_time_ms"].as_f64().unwrap())
        / 1000.0;
    assert!((gap - expected).abs() < 0.002, "{gap} vs {expected}");
    let sum: f64 = data["segments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["time_loss_s"].as_f64().unwrap())
        .sum();
    assert!((sum - gap).abs() < 0.005);
    // Lap 4's mistake was a late throttle: the top suggestion says so.
    let top = &data["suggestions"][0];
    assert_eq!(top["type"], "throttle", "{top}");
    assert_eq!(top["cause"], "late_throttle", "{top}");
    assert!(
        top["message"]
            .as_str()
            .unwrap()
            .contains(top["corner"].as_str().unwrap())
    );
    let position = top["position"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&position));

    // The result is kept on the lap.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let lap = rt.block_on(async {
        SqliteStore::open(&db)
            .unwrap()
            .get_lap(LapId(4))
            .await
            .unwrap()
    });
    assert!(lap.analyzed);
    assert_eq!(lap.suggestions.unwrap()[0].kind.as_str(), "throttle");

    // Against the ideal lap, nothing is gained anywhere.
    let text = ok(run(&db, &["analyze", "4", "--against", "ideal", "--json"]));
    let ideal: Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    for s in ideal["data"]["segments"].as_array().unwrap() {
        assert!(s["time_loss_s"].as_f64().unwrap() > -0.001, "{s}");
    }
}

#[test]
fn compare_chat_and_plot() {
    let db = session("coach-compare");
    let text = ok(run(&db, &["compare", "3", "2", "--json"]));
    let line: Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    assert_eq!(line["type"], "comparison");
    let segments = line["data"]["segments"].as_array().unwrap();
    assert!(
        segments
            .iter()
            .any(|s| s["name"].as_str().unwrap().contains('–')),
        "straights listed"
    );
    let table = ok(run(&db, &["compare", "3", "2"]));
    assert!(table.contains("total"));

    // The offline coach answers from the facts, and the conversation is kept. Asked about a
    // valid lap that is not the best (the best is the reference).
    let laps: Vec<Value> = ok(run(&db, &["laps", "list", "--json"]))
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap()["data"].clone())
        .filter(|l| l["kind"] == "flying" && l["valid"] == true)
        .collect();
    let slowest = laps
        .iter()
        .max_by_key(|l| l["lap_time_ms"].as_i64())
        .unwrap();
    let slowest_id = slowest["id"].as_i64().unwrap();
    let slowest = slowest_id.to_string();
    let answer = ok(run(
        &db,
        &["chat", &slowest, "--message", "where am I losing time?"],
    ));
    assert!(answer.contains("slower than the reference"), "{answer}");
    let answer = ok(run(
        &db,
        &["chat", &slowest, "--message", "what is the weather like?"],
    ));
    assert!(
        answer.to_lowercase().contains("i can only answer"),
        "{answer}"
    );
    let rt = tokio::runtime::Runtime::new().unwrap();
    let history = rt.block_on(async {
        SqliteStore::open(&db)
            .unwrap()
            .list_chat_messages(LapId(slowest_id))
            .await
            .unwrap()
    });
    assert_eq!(history.len(), 4);
    assert_eq!(history[0].content, "where am I losing time?");

    let svg = db.with_extension("svg");
    ok(run(&db, &["plot", "4", "-o", svg.to_str().unwrap()]));
    let text = std::fs::read_to_string(&svg).unwrap();
    assert!(text.starts_with("<svg"));
    assert!(text.contains(">T1<") && text.contains("at the line"));
    assert!(text.matches("<polyline").count() > 10);

    // Without another valid lap there is nothing to compare with: a clear error.
    let out = run(&db, &["analyze", "1", "--against", "99"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("lap 99 not found"));
}

/// One best-lap rule: `laps list` marks one lap of the session `(best)`, and `laps show`
/// marks a lap only when it is that one.
#[test]
fn only_the_best_lap_is_marked_best() {
    let db = session("coach-best");
    let laps: Vec<Value> = ok(run(&db, &["laps", "list", "--json"]))
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap()["data"].clone())
        .collect();
    let best = laps
        .iter()
        .filter(|l| l["kind"] == "flying" && l["valid"] == true && l["lap_time_ms"].is_i64())
        .min_by_key(|l| l["lap_time_ms"].as_i64())
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    let table = ok(run(&db, &["laps", "list"]));
    assert_eq!(table.matches("(best)").count(), 1, "{table}");
    for lap in &laps {
        let id = lap["id"].as_i64().unwrap();
        let shown = ok(run(&db, &["laps", "show", &id.to_string()]));
        assert_eq!(shown.contains("(best)"), id == best, "lap {id}: {shown}");
    }
}
