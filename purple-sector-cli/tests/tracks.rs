//! Issue #11 end to end: the track map kept and shown (`tracks`), the simulator's mistakes
//! and report at the map's corners (`--mistakes corner=NAME|Tn`), causes, strengths and
//! lap kinds in `analyze`, habits and the ideal lap of a session, the coach's chat about a
//! corner by name or number.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use serde_json::Value;
use support::*;

fn lines(text: &str) -> Vec<Value> {
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn of_type<'a>(lines: &'a [Value], kind: &str) -> Vec<&'a Value> {
    lines
        .iter()
        .filter(|l| l["type"] == kind)
        .map(|l| &l["data"])
        .collect()
}

/// Imola: the demo's mistake named by the map's corner name and by its number; the
/// simulator's report and the coach speak of the same corner, and `tracks` shows the map.
#[test]
fn the_simulator_and_the_coach_speak_of_the_same_corners() {
    let db = temp_db("tracks-imola");
    let text = ok(run(
        &db,
        &[
            "demo",
            "--track",
            "imola",
            "--laps",
            "2",
            "--speed",
            "50",
            "--mistakes",
            "lap=3:corner=Variante Alta:late_braking=8",
            "--json",
        ],
    ));
    let all = lines(&text);
    let summary = of_type(&all, "summary")[0];
    assert_eq!(summary["client"]["dropped"], 0, "{summary}");
    let sim = of_type(&all, "sim_lap");
    let injected = &sim[2]["mistakes"][0];
    assert_eq!(injected["corner"], "Variante Alta");
    assert_eq!(injected["corner_id"], "T6");
    // The demo's own coaching: lap 3 against lap 2, the overshoot where it was made.
    let analysis = of_type(&all, "analysis")[0];
    let top = &analysis["suggestions"][0];
    assert_eq!(top["corner"], "Variante Alta", "{top}");
    assert_eq!(top["cause"], "late_braking_overslowed", "{top}");
    let alta = analysis["corners"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "Variante Alta")
        .unwrap();
    assert_eq!(alta["id"], "T6");

    // The map is kept: Imola's named corners.
    let shown = lines(&ok(run(&db, &["tracks", "show", "imola", "--json"])));
    let map = &shown[0]["data"];
    assert_eq!(shown[0]["type"], "track_map");
    let names: Vec<&str> = map["corners"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "Tamburello",
            "Villeneuve",
            "Tosa",
            "Piratella",
            "Acque Minerali",
            "Variante Alta",
            "Rivazza"
        ]
    );
    assert_eq!(map["built_from"], serde_json::json!([]));
    let listed = lines(&ok(run(&db, &["tracks", "list", "--json"])));
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["data"]["corner_count"], 7);
    let table = ok(run(&db, &["tracks", "show", "imola"]));
    assert!(table.contains("T3   Tosa"), "{table}");

    // The same corner by number, and a corner the map does not have.
    let out = run(
        &db,
        &[
            "demo",
            "--track",
            "imola",
            "--laps",
            "1",
            "--mistakes",
            "lap=2:corner=T99:coasting=10",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("has no corner \"T99\" (it has Tamburello (T1) to Rivazza (T7))"),
        "{err}"
    );

    // The chat answers about a corner by name and by number, about strengths and habits.
    let by_name = ok(run(
        &db,
        &[
            "chat",
            "3",
            "--message",
            "how do I brake into variante alta?",
        ],
    ));
    assert!(by_name.starts_with("Variante Alta (T6)"), "{by_name}");
    assert!(by_name.contains("late_braking_overslowed"), "{by_name}");
    let by_number = ok(run(&db, &["chat", "3", "--message", "what about T6?"]));
    assert!(by_number.starts_with("Variante Alta (T6)"), "{by_number}");
    let good = ok(run(
        &db,
        &[
            "chat",
            "2",
            "--against",
            "3",
            "--message",
            "where am I good?",
        ],
    ));
    assert!(
        good.contains("Variante Alta") && good.contains("keep that"),
        "{good}"
    );
    let habits = ok(run(
        &db,
        &["chat", "3", "--message", "what do I keep doing wrong?"],
    ));
    assert!(habits.starts_with("No habit"), "{habits}");

    // Rebuilt from the laps now in the database, the corners keep their names.
    let rebuilt = lines(&ok(run(&db, &["tracks", "rebuild", "imola", "--json"])));
    let map = &rebuilt[0]["data"];
    assert_eq!(map["corner_count"], 7);
    assert_eq!(map["built_from"].as_array().unwrap().len(), 2);
}

/// The test track: the same mistake at one corner in four of six laps is a habit; the out
/// lap is labelled; the ideal lap is no slower than the best.
#[test]
fn a_session_review_names_its_habits_and_labels_out_laps() {
    let db = temp_db("tracks-session");
    let mistakes = [3, 4, 6, 7]
        .map(|lap| format!("lap={lap}:corner=T3:early_braking=25"))
        .join(",");
    ok(run(
        &db,
        &[
            "demo",
            "--track",
            "test",
            "--laps",
            "6",
            "--speed",
            "50",
            "--mistakes",
            &mistakes,
            "--json",
        ],
    ));
    let text = ok(run(&db, &["analyze", "--session", "1", "--json"]));
    let all = lines(&text);
    let laps = of_type(&all, "session_lap");
    assert_eq!(laps.len(), 6, "the flying laps");
    let habits = of_type(&all, "habit");
    assert_eq!(habits.len(), 1, "{habits:?}");
    assert_eq!(habits[0]["corner"], "T3");
    assert_eq!(habits[0]["cause"], "early_braking");
    assert_eq!(
        (habits[0]["laps"].as_u64(), habits[0]["of_laps"].as_u64()),
        (Some(4), Some(6))
    );
    assert!(
        habits[0]["message"]
            .as_str()
            .unwrap()
            .starts_with("In 4 of your last 6 laps you braked early into T3")
    );
    let ideal = of_type(&all, "ideal_lap")[0];
    assert!(ideal["time_ms"].as_f64().unwrap() <= ideal["best_lap_ms"].as_f64().unwrap() + 1e-6);
    let table = ok(run(&db, &["analyze", "--session", "1"]));
    assert!(
        table.contains("habits:\n  In 4 of your last 6 laps"),
        "{table}"
    );
    assert!(table.contains("ideal lap: "), "{table}");

    // The out lap is analysed, and says what it is.
    let out_lap = ok(run(&db, &["analyze", "1"]));
    assert!(out_lap.starts_with("lap 1 (out lap)"), "{out_lap}");
    assert!(out_lap.contains("note: lap 1 is an out lap"), "{out_lap}");
    let json = lines(&ok(run(&db, &["analyze", "1", "--json"])));
    assert_eq!(json[0]["data"]["lap_kind"], "out");
    assert_eq!(json[0]["data"]["reference_lap_kind"], "flying");
    let compared = lines(&ok(run(&db, &["compare", "1", "2", "--json"])));
    assert_eq!(compared[0]["data"]["lap_kind"], "out");
    // Never the default reference: the best lap is a flying one.
    assert_ne!(json[0]["data"]["reference_lap_id"], 1);

    // compare A B is compare B A with the signs flipped.
    let ab = lines(&ok(run(&db, &["compare", "3", "5", "--json"])));
    let ba = lines(&ok(run(&db, &["compare", "5", "3", "--json"])));
    let (ab, ba) = (
        ab[0]["data"]["segments"].as_array().unwrap().clone(),
        ba[0]["data"]["segments"].as_array().unwrap().clone(),
    );
    assert_eq!(ab.len(), ba.len());
    for (x, y) in ab.iter().zip(&ba) {
        assert_eq!(x["name"], y["name"]);
        let (a, b) = (
            x["time_loss_s"].as_f64().unwrap(),
            y["time_loss_s"].as_f64().unwrap(),
        );
        assert!((a + b).abs() <= 0.001, "{x} {y}");
    }
}
