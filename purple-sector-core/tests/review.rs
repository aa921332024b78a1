//! The review layer on a store: the track's map built once and reused whatever the
//! reference, `compare A B` against `compare B A`, lap kinds, consecutive laps, rebuilding a
//! map, and a session's habits.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use purple_sector_core::analysis::Cause;
use purple_sector_core::import::logger_input;
use purple_sector_core::lap::{Lap, LapKind, LapTime};
use purple_sector_core::record::Input;
use purple_sector_core::review::{
    Against, ReviewError, compare, rebuild_track_map, review_session, track_map,
};
use purple_sector_core::sim::{Mistake, MistakeKind, SimConfig, Simulator, Track};
use purple_sector_core::store::{LapId, MemoryStore, NewSession, SessionId, SessionSource, Store};
use purple_sector_core::telemetry::Frame;
use purple_sector_core::track::TrackMap;

fn imola_lap(file: &str, number: i32) -> Lap {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(file);
    match logger_input(&path, &Default::default(), &Default::default()).unwrap() {
        Input::Lap(mut lap) => {
            lap.number = number;
            lap
        }
        other => panic!("not a lap: {other:?}"),
    }
}

async fn session(store: &MemoryStore, track: &str) -> SessionId {
    let mut new = NewSession::new("Imola", SessionSource::Import);
    new.track = track.to_owned();
    new.car = "ks_corvette_c7r".to_owned();
    store.create_session(new).await.unwrap().id
}

/// A store with the two real Imola laps in one session of `track`: lap 0 as lap 1, lap 2 as
/// lap 3 (not consecutive).
async fn imola_store(track: &str) -> (MemoryStore, SessionId, LapId, LapId) {
    let store = MemoryStore::new();
    let s = session(&store, track).await;
    let l0 = store
        .save_lap(s, &imola_lap("imola-c7r-lap0.tsv", 1))
        .await
        .unwrap()
        .id;
    let l2 = store
        .save_lap(s, &imola_lap("imola-c7r-lap2.tsv", 3))
        .await
        .unwrap()
        .id;
    (store, s, l0, l2)
}

fn corner_names(map: &TrackMap) -> Vec<(String, String)> {
    map.corners
        .iter()
        .map(|c| (c.id.clone(), c.name.clone()))
        .collect()
}

#[tokio::test]
async fn the_map_is_built_once_kept_and_reused_whatever_the_reference() {
    let (store, s, l0, l2) = imola_store("imola").await;
    assert!(store.get_track_map("imola", "").await.unwrap().is_none());
    let forward = compare(&store, l0, Against::Lap(l2)).await.unwrap();
    let kept = store
        .get_track_map("imola", "")
        .await
        .unwrap()
        .expect("the map is kept");
    assert_eq!(kept, forward.map);
    assert_eq!(kept.built_from, vec![l0.0, l2.0]);
    assert!(!kept.centre_line_xz_m.is_empty());
    let names: Vec<String> = kept.corners.iter().map(|c| c.name.clone()).collect();
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

    // The other way round: the same map, the same corners, every segment's sign flipped.
    let backward = compare(&store, l2, Against::Lap(l0)).await.unwrap();
    assert_eq!(backward.map, kept);
    let (a, b) = (&forward.analysis, &backward.analysis);
    assert_eq!(a.segments.len(), b.segments.len());
    for (x, y) in a.segments.iter().zip(&b.segments) {
        assert_eq!((&x.name, x.start_m, x.end_m), (&y.name, y.start_m, y.end_m));
        assert!(
            (x.time_loss_s + y.time_loss_s).abs() <= 0.001,
            "{}: {} against {}",
            x.name,
            x.time_loss_s,
            y.time_loss_s
        );
    }
    for analysis in [a, b] {
        let sum: f64 = analysis.segments.iter().map(|s| s.time_loss_s).sum();
        assert!((sum - analysis.gap_s).abs() <= 0.005);
    }

    // A third lap (lap 2 again, in another session of the track): the map is not rebuilt,
    // and the corners keep their ids and names against it.
    let other = session(&store, "imola").await;
    let copy = store
        .save_lap(other, &imola_lap("imola-c7r-lap2.tsv", 1))
        .await
        .unwrap()
        .id;
    let third = compare(&store, l0, Against::Lap(copy)).await.unwrap();
    assert_eq!(third.map, kept);
    let ids = |c: &purple_sector_core::review::Comparison| -> Vec<(String, String)> {
        c.analysis
            .corners
            .iter()
            .map(|r| (r.corner.id.clone(), r.corner.name.clone()))
            .collect()
    };
    assert_eq!(ids(&third), corner_names(&kept));
    assert_eq!(ids(&forward), corner_names(&kept));
    assert_eq!(store.list_track_maps().await.unwrap().len(), 1);
    let _ = s;
}

#[tokio::test]
async fn a_map_of_another_version_is_rebuilt_and_rebuild_replaces_a_map() {
    let (store, s, l0, l2) = imola_store("imola").await;
    let built = track_map(&store, s).await.unwrap().unwrap();
    // A map from an older builder is not used: it is rebuilt.
    let mut old = built.clone();
    old.version = 0;
    old.corners.truncate(2);
    store.save_track_map(&old).await.unwrap();
    let again = compare(&store, l0, Against::Lap(l2)).await.unwrap();
    assert_eq!(again.map, built);
    // A current map is reused as it is, even one that is wrong …
    let mut wrong = built.clone();
    wrong.corners.truncate(3);
    store.save_track_map(&wrong).await.unwrap();
    let reused = compare(&store, l0, Against::Lap(l2)).await.unwrap();
    assert_eq!(reused.analysis.corners.len(), 3);
    // … until it is rebuilt from the track's laps.
    let rebuilt = rebuild_track_map(&store, "imola", "")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(rebuilt, built);
    assert_eq!(
        store.get_track_map("imola", "").await.unwrap(),
        Some(built.clone())
    );
    // A track with no laps has nothing to build from: its map, if any, stays.
    let mut monza = built.clone();
    monza.track = "monza".to_owned();
    store.save_track_map(&monza).await.unwrap();
    assert!(
        rebuild_track_map(&store, "monza", "")
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(store.get_track_map("monza", "").await.unwrap(), Some(monza));
}

#[tokio::test]
async fn out_laps_are_labelled_and_never_the_default_reference() {
    let store = MemoryStore::new();
    let s = session(&store, "imola").await;
    let mut out = imola_lap("imola-c7r-lap0.tsv", 1);
    out.kind = LapKind::Out;
    let out = store.save_lap(s, &out).await.unwrap().id;
    let flying = store
        .save_lap(s, &imola_lap("imola-c7r-lap2.tsv", 2))
        .await
        .unwrap()
        .id;
    // The flying lap has no other lap that ranks: no default reference.
    assert!(matches!(
        compare(&store, flying, Against::Best).await,
        Err(ReviewError::NoReference { .. })
    ));
    // The out lap against the flying lap says what it is, and that it follows nothing.
    let c = compare(&store, out, Against::Best).await.unwrap();
    assert_eq!(c.reference_id, Some(flying));
    assert_eq!(c.analysis.lap_kind, Some(LapKind::Out));
    assert_eq!(c.analysis.reference_kind, Some(LapKind::Flying));
    // The flying lap, against the out lap given by hand, follows it (lap 1 then lap 2).
    let c = compare(&store, flying, Against::Lap(out)).await.unwrap();
    assert_eq!(c.analysis.reference_kind, Some(LapKind::Out));
    assert!(c.analysis.follows_previous_lap);
    // The map was built from the one clean lap.
    assert_eq!(c.map.built_from, vec![flying.0]);
}

#[tokio::test]
async fn laps_not_driven_one_after_the_other_do_not_follow() {
    let (store, _, l0, l2) = imola_store("imola").await;
    let c = compare(&store, l2, Against::Lap(l0)).await.unwrap();
    assert!(!c.analysis.follows_previous_lap, "lap 3 after lap 1");
    let c = compare(&store, l0, Against::Lap(l2)).await.unwrap();
    assert!(!c.analysis.follows_previous_lap, "lap 1 is the first");
}

#[tokio::test]
async fn a_session_without_a_track_gets_a_map_of_its_own_laps_not_kept() {
    let (store, _, l0, l2) = imola_store("").await;
    let c = compare(&store, l0, Against::Lap(l2)).await.unwrap();
    assert!(c.map.track.is_empty());
    // Unnamed corners: their names are their ids.
    assert!(c.map.corners.iter().all(|k| k.name == k.id));
    assert!(store.list_track_maps().await.unwrap().is_empty());
}

/// A lap of the test track from the simulator, as the store keeps it.
fn sim_laps(mistakes: Vec<Mistake>, flying: u32) -> Vec<Lap> {
    let mut config = SimConfig::new(Track::test_circuit());
    config.laps = flying;
    config.seed = 5;
    config.mistakes = mistakes;
    let mut sim = Simulator::new(config);
    let mut frames: Vec<Vec<Frame>> = vec![Vec::new(); flying as usize + 2];
    while let Some(step) = sim.step() {
        let index = step.car_info.lap_count as usize;
        frames[index].push(Frame::from_owned_car_info(&step.car_info, step.sim_time_ns));
    }
    sim.lap_reports()
        .iter()
        .zip(frames)
        .map(|(report, frames)| Lap {
            stint: 0,
            number: report.lap as i32,
            kind: if report.out_lap {
                LapKind::Out
            } else {
                LapKind::Flying
            },
            invalid_reason: None,
            time: Some(LapTime::official(report.reported_ms)),
            frames,
        })
        .collect()
}

/// Four of the last six flying laps brake 25 m early into one corner: that is a habit, and
/// the session review says so with the corner's name and the average loss.
#[tokio::test]
async fn a_cause_repeated_in_most_recent_laps_is_a_habit() {
    let corner = "T3";
    let mistakes: Vec<Mistake> = [3, 4, 6, 7]
        .into_iter()
        .map(|lap| Mistake::new(lap, corner, MistakeKind::EarlyBraking, 25.0))
        .collect();
    let store = MemoryStore::new();
    let mut new = NewSession::new("test", SessionSource::Demo);
    new.track = "test".to_owned();
    let s = store.create_session(new).await.unwrap().id;
    for lap in sim_laps(mistakes, 6) {
        store.save_lap(s, &lap).await.unwrap();
    }
    let review = review_session(&store, s, Against::Best).await.unwrap();
    assert_eq!(review.laps.len(), 6, "the out lap is not reviewed");
    assert_eq!(review.habits.len(), 1, "{:?}", review.habits);
    let habit = &review.habits[0];
    assert_eq!(habit.cause, Cause::EarlyBraking);
    assert_eq!((habit.laps, habit.of_laps), (4, 6));
    let map = review.map.as_ref().unwrap();
    let named = map.corner(&habit.corner).unwrap();
    assert_eq!(named.id, corner);
    let lost: Vec<f64> = review
        .laps
        .iter()
        .flat_map(|l| &l.suggestions)
        .filter(|s| s.cause == Cause::EarlyBraking && s.corner.as_deref() == Some(&named.name))
        .map(|s| s.time_loss_s)
        .collect();
    assert_eq!(lost.len(), 4);
    let average = lost.iter().sum::<f64>() / 4.0;
    assert!((habit.average_loss_s - average).abs() < 1e-9);
    assert!(
        habit.message.starts_with(&format!(
            "In 4 of your last 6 laps you braked early into {}",
            named.name
        )),
        "{}",
        habit.message
    );
    // The ideal lap is no slower than the best lap.
    let ideal = review.ideal.as_ref().unwrap();
    let best = review
        .laps
        .iter()
        .filter_map(|l| l.lap.time_ms())
        .min()
        .unwrap();
    assert!(ideal.time_ms <= f64::from(best) + 1e-6);
    assert_eq!(review.ideal_laps.len(), ideal.segments.len());
}
