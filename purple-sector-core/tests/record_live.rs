//! The recorder over loopback into a MemoryStore, watched through the live hub.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use purple_sector_core::live::{Hub, LiveEvent, SessionState};
use purple_sector_core::net::ClientConfig;
use purple_sector_core::protocol::{Name, OwnedCarInfo, OwnedHandshakeResponse};
use purple_sector_core::record::{RecordOptions, Recorder, Source};
use purple_sector_core::sim::GameServer;
use purple_sector_core::store::{MemoryStore, SessionSource, Store};

fn packet(lap: i32, t_ms: i32) -> [u8; 328] {
    OwnedCarInfo {
        lap_time_ms: t_ms,
        lap_count: lap,
        last_lap_ms: if lap > 0 { 1_000 + lap - 1 } else { 0 },
        car_position_normalized: t_ms as f32 / 1_000.0,
        speed_kmh: 150.0,
        ..OwnedCarInfo::default()
    }
    .encode()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frames_laps_and_session_reach_the_hub() {
    let hello = OwnedHandshakeResponse {
        car_name: Name::new("ks_corvette_c7r").unwrap(),
        track_name: Name::new("imola").unwrap(),
        track_config: Name::new("imola").unwrap(),
        identifier: 4242,
        version: 1,
        ..Default::default()
    };
    let server = GameServer::bind("127.0.0.1:0".parse().unwrap(), hello)
        .await
        .unwrap();
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let hub = Hub::new(8_192);
    let mut watcher = hub.subscribe();
    let options = RecordOptions {
        source: SessionSource::Demo,
        laps: Some(2),
        hub: Some(hub.clone()),
        ..RecordOptions::default()
    };
    let client = ClientConfig {
        handshake_interval: Duration::from_millis(100),
        ..ClientConfig::new(server.local_addr().unwrap())
    };
    let recorder = Recorder::start(Arc::clone(&store), Source::Game(client), options)
        .await
        .unwrap();
    tokio::time::timeout(Duration::from_secs(10), server.subscribed())
        .await
        .unwrap();
    let mut sent = 0;
    'laps: for lap in 0..3 {
        for t in (0..1_000 + lap).step_by(4) {
            server.send_car_info(&packet(lap, t)).await.unwrap();
            sent += 1;
            if lap == 2 {
                break 'laps;
            }
            if sent % 8 == 0 {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
    }
    let recording = tokio::time::timeout(
        Duration::from_secs(20),
        recorder.run_until(std::future::pending()),
    )
    .await
    .unwrap()
    .unwrap();
    let summary = recording.summary;
    assert_eq!(summary.laps.len(), 3); // two completed, then the one frame of lap 3
    let session = summary.session.unwrap().id;

    let (mut frames, mut laps, mut states) = (0, Vec::new(), Vec::new());
    let mut deltas: Vec<(i32, Option<f64>)> = Vec::new();
    while let Ok(Some(event)) =
        tokio::time::timeout(Duration::from_millis(200), watcher.recv()).await
    {
        match event {
            LiveEvent::Frame(live) => {
                frames += 1;
                assert_eq!(live.session, Some(session), "every frame names its session");
                deltas.push((live.frame.lap_count, live.delta_s));
            }
            LiveEvent::LapCompleted(lap) => laps.push(lap.time_ms()),
            LiveEvent::Session { state, .. } => states.push(state),
        }
    }
    assert_eq!(frames, sent);
    assert_eq!(laps, [Some(1_000), Some(1_001), None]);
    assert_eq!(states, [SessionState::Started, SessionState::Stopped]);
    assert_eq!(watcher.dropped(), 0);

    // The live delta: none before a lap is stored, then against lap 1 (1.000 s), computed
    // once by the recorder whether anyone watches or not.
    assert!(
        deltas
            .iter()
            .filter(|(lap, _)| *lap == 0)
            .all(|(_, d)| d.is_none())
    );
    let last_of_lap_2 = deltas.iter().rev().find(|(lap, _)| *lap == 1).unwrap();
    let delta = last_of_lap_2.1.expect("lap 2 is compared with lap 1");
    assert!((0.0..0.002).contains(&delta), "{delta}");
}

/// A capture recorded as if it were the game gives the laps its import gives: same kinds,
/// times and frames (but for the receive times, which are the recording's own).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_capture_recorded_live_gives_the_laps_its_import_gives() {
    use purple_sector_core::import::capture_inputs;
    use purple_sector_core::protocol::GAME_PORT;
    use purple_sector_core::record::import_inputs;
    use purple_sector_core::store::NewSession;

    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/imola-lap2.pcap");
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let imported = import_inputs(
        Arc::clone(&store),
        NewSession::new("imported", SessionSource::Import),
        capture_inputs(&path, &Default::default(), Default::default()).unwrap(),
    )
    .await
    .unwrap()
    .unwrap();
    let source = Source::Capture {
        path: path.clone(),
        game_port: GAME_PORT,
        speed: 100.0,
    };
    let recorder = Recorder::start(Arc::clone(&store), source, RecordOptions::default())
        .await
        .unwrap();
    let recorded = tokio::time::timeout(
        Duration::from_secs(60),
        recorder.run_until(std::future::pending()),
    )
    .await
    .unwrap()
    .unwrap()
    .summary;
    assert_eq!(recorded.client.dropped, 0);
    let session = recorded.session.as_ref().unwrap();
    assert_eq!(
        (session.track.as_str(), session.car.as_str()),
        ("imola", "ks_corvette_c7r")
    );
    let shape = |laps: &[purple_sector_core::store::LapRecord]| {
        laps.iter()
            .map(|l| (l.number, l.kind, l.time, l.frame_count))
            .collect::<Vec<_>>()
    };
    assert_eq!(shape(&recorded.laps), shape(&imported.laps));
    for (live, import) in recorded.laps.iter().zip(&imported.laps) {
        let without_time = |frames: Vec<purple_sector_core::telemetry::Frame>| {
            frames
                .into_iter()
                .map(|f| purple_sector_core::telemetry::Frame { time_ns: 0, ..f })
                .collect::<Vec<_>>()
        };
        assert_eq!(
            without_time(store.lap_frames(live.id).await.unwrap()),
            without_time(store.lap_frames(import.id).await.unwrap())
        );
    }
}

fn imola_hello() -> OwnedHandshakeResponse {
    OwnedHandshakeResponse {
        car_name: Name::new("ks_corvette_c7r").unwrap(),
        driver_name: Name::new("Lena").unwrap(),
        track_name: Name::new("imola").unwrap(),
        track_config: Name::new("imola").unwrap(),
        identifier: 4242,
        version: 1,
    }
}

fn game_client(server: &GameServer) -> Source {
    Source::Game(ClientConfig {
        handshake_interval: Duration::from_millis(100),
        ..ClientConfig::new(server.local_addr().unwrap())
    })
}

/// Two recorders on one game session (two `serve` instances pointed at the same game): the
/// second is refused with the first's name, and the first records on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_game_session_has_one_recorder() {
    use purple_sector_core::store::StoreError;
    let server = GameServer::bind("127.0.0.1:0".parse().unwrap(), imola_hello())
        .await
        .unwrap();
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let first = Recorder::start(
        Arc::clone(&store),
        game_client(&server),
        RecordOptions::default(),
    )
    .await
    .unwrap();
    tokio::time::timeout(Duration::from_secs(10), server.subscribed())
        .await
        .unwrap();
    // The first has its session (the claim is made before it).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while first.status().session.is_none() {
        assert!(tokio::time::Instant::now() < deadline, "no session");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let second = Recorder::start(
        Arc::clone(&store),
        game_client(&server),
        RecordOptions::default(),
    )
    .await
    .unwrap();
    let refused = tokio::time::timeout(
        Duration::from_secs(10),
        second.run_until(std::future::pending()),
    )
    .await
    .expect("the second recorder ends on its own")
    .unwrap_err();
    let message = refused.to_string();
    assert!(
        matches!(
            &refused,
            purple_sector_core::record::RecordError::Store(StoreError::LeaseHeld { holder, .. })
                if holder.starts_with("recorder ")
        ),
        "{message}"
    );
    assert!(message.contains("Lena/ks_corvette_c7r/imola"), "{message}");
    assert_eq!(
        store.list_sessions().await.unwrap().len(),
        1,
        "no second session"
    );
    assert!(!first.is_finished());

    // Once the first is done its claim is released: a new recorder may start at once.
    for t in (0..1_000).step_by(4) {
        server.send_car_info(&packet(0, t)).await.unwrap();
    }
    first.stop().await.unwrap();
    let third = Recorder::start(
        Arc::clone(&store),
        game_client(&server),
        RecordOptions::default(),
    )
    .await
    .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while third.status().session.is_none() {
        assert!(!third.is_finished(), "the third recorder was refused");
        assert!(tokio::time::Instant::now() < deadline, "no session");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let done = third.stop().await.unwrap();
    assert_eq!(store.list_sessions().await.unwrap().len(), 2);
    assert!(done.summary.session.is_some());
}

/// A recorder that died leaves a claim that lapses: the next recorder takes it over and
/// continues the dead one's session, whose lap left in progress is closed as partial.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lapsed_claim_is_taken_over_with_its_session() {
    use purple_sector_core::lap::LapKind;
    use purple_sector_core::store::{LeaseOutcome, NewSession, SessionStatus};
    let server = GameServer::bind("127.0.0.1:0".parse().unwrap(), imola_hello())
        .await
        .unwrap();
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    // What the dead recorder left: its session, a lap in progress, a claim lapsing at once.
    let dead = store
        .create_session(NewSession::new("imola", SessionSource::Live))
        .await
        .unwrap();
    let in_progress = purple_sector_core::lap::Lap {
        stint: 0,
        number: 1,
        kind: LapKind::Partial,
        invalid_reason: None,
        time: None,
        frames: Vec::new(),
    };
    store.checkpoint_lap(dead.id, &in_progress).await.unwrap();
    let key = format!(
        "game {} Lena/ks_corvette_c7r/imola/",
        server.local_addr().unwrap()
    );
    assert!(matches!(
        store.acquire_lease(&key, "dead recorder", 1).await.unwrap(),
        LeaseOutcome::Acquired { taken_over: None }
    ));
    assert!(
        store
            .renew_lease(&key, "dead recorder", 1, Some(dead.id))
            .await
            .unwrap()
    );
    tokio::time::sleep(Duration::from_millis(5)).await;

    let recorder = Recorder::start(
        Arc::clone(&store),
        game_client(&server),
        RecordOptions::default(),
    )
    .await
    .unwrap();
    tokio::time::timeout(Duration::from_secs(10), server.subscribed())
        .await
        .unwrap();
    let mut sent = 0;
    for lap in 0..2 {
        for t in (0..1_000 + lap).step_by(4) {
            server.send_car_info(&packet(lap, t)).await.unwrap();
            sent += 1;
            // Paced, so a busy machine's socket buffer loses nothing.
            if sent % 8 == 0 {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
    }
    // Let the lap that completed land before stopping.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let recording = recorder.stop().await.unwrap();
    let session = recording.summary.session.unwrap();
    assert_eq!(session.id, dead.id, "the dead recorder's session continues");
    assert_eq!(session.status, SessionStatus::Completed);
    assert_eq!(store.list_sessions().await.unwrap().len(), 1);
    let laps = store.list_laps(Some(dead.id)).await.unwrap();
    assert!(laps.iter().all(|l| !l.in_progress), "{laps:?}");
    // The dead recorder's laps, then the new one's in a stint of their own.
    assert_eq!(laps[0].stint, 0);
    assert!(laps[1..].iter().all(|l| l.stint == 1), "{laps:?}");
    assert!(laps.iter().any(|l| l.time_ms() == Some(1_000)), "{laps:?}");
    // And the claim is free again.
    assert!(matches!(
        store.acquire_lease(&key, "someone", 1_000).await.unwrap(),
        LeaseOutcome::Acquired { taken_over: None }
    ));
}

/// One lap (out lap 0, closed by lap 1's first frame) from a fresh game on loopback,
/// recorded with `options`.
async fn record_one_lap(
    store: &Arc<dyn Store>,
    options: RecordOptions,
) -> Result<purple_sector_core::record::Recording, purple_sector_core::record::RecordError> {
    let server = GameServer::bind("127.0.0.1:0".parse().unwrap(), imola_hello())
        .await
        .unwrap();
    let options = RecordOptions {
        laps: Some(1),
        ..options
    };
    let recorder = Recorder::start(Arc::clone(store), game_client(&server), options).await?;
    // A recorder refused at the handshake ends before it subscribes: hence the race.
    let feed = async {
        tokio::time::timeout(Duration::from_secs(10), server.subscribed())
            .await
            .expect("the recorder subscribes");
        for t in (0..1_000).step_by(4) {
            server.send_car_info(&packet(0, t)).await.unwrap();
            if t % 32 == 0 {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
        server.send_car_info(&packet(1, 0)).await.unwrap();
        std::future::pending::<()>().await;
    };
    tokio::time::timeout(Duration::from_secs(20), async {
        tokio::select! {
            () = feed => unreachable!(),
            done = recorder.run_until(std::future::pending()) => done,
        }
    })
    .await
    .expect("the recording ends after its lap")
}

/// A session made beforehand (the dashboard's form) is recorded into: the game fills its
/// car, driver and track and keeps its name; recorded into again, the laps continue in a
/// stint of their own; a game on another track, and a session that does not exist, are
/// refused with what differs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recording_goes_into_the_session_it_is_given() {
    use purple_sector_core::record::RecordError;
    use purple_sector_core::store::{NewSession, SessionId, SessionStatus, StoreError};
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let form = store
        .create_session(NewSession {
            tags: vec!["form".to_owned()],
            ..NewSession::new("Form session".to_owned(), SessionSource::Live)
        })
        .await
        .unwrap();
    let into_form = || RecordOptions {
        session: Some(form.id),
        session_name: Some("not this name".to_owned()),
        ..RecordOptions::default()
    };

    let first = record_one_lap(&store, into_form()).await.unwrap();
    assert_eq!(first.summary.session.as_ref().unwrap().id, form.id);
    let session = store.get_session(form.id).await.unwrap();
    assert_eq!(
        (
            session.name.as_str(),
            session.car.as_str(),
            session.driver.as_str(),
            session.track.as_str(),
            session.track_config.as_str(),
        ),
        ("Form session", "ks_corvette_c7r", "Lena", "imola", "")
    );
    assert_eq!(session.tags, ["form"]);
    assert_eq!(session.status, SessionStatus::Completed);
    assert_eq!(
        store.list_sessions().await.unwrap().len(),
        1,
        "a new session"
    );

    let second = record_one_lap(&store, into_form()).await.unwrap();
    assert_eq!(second.summary.session.as_ref().unwrap().id, form.id);
    let laps = store.list_laps(Some(form.id)).await.unwrap();
    let mut numbered: Vec<(u32, i32)> = laps.iter().map(|l| (l.stint, l.number)).collect();
    numbered.sort_unstable();
    // Each recording: its out lap (1) and the one frame of lap 2 closed as partial.
    assert_eq!(numbered, [(0, 1), (0, 2), (1, 1), (1, 2)], "{laps:#?}");
    assert_eq!(store.list_sessions().await.unwrap().len(), 1);

    let monza = store
        .create_session(NewSession {
            track: "monza".to_owned(),
            ..NewSession::new("Monza".to_owned(), SessionSource::Live)
        })
        .await
        .unwrap();
    let refused = record_one_lap(
        &store,
        RecordOptions {
            session: Some(monza.id),
            ..RecordOptions::default()
        },
    )
    .await
    .unwrap_err();
    assert!(
        matches!(
            &refused,
            RecordError::Store(StoreError::SessionMismatch { session, field: "track", stored, recorded })
                if *session == monza.id && stored == "monza" && recorded == "imola"
        ),
        "{refused:?}"
    );
    assert!(store.list_laps(Some(monza.id)).await.unwrap().is_empty());

    let missing = Recorder::start(
        Arc::clone(&store),
        Source::Game(ClientConfig::new("127.0.0.1:9".parse().unwrap())),
        RecordOptions {
            session: Some(SessionId(999)),
            ..RecordOptions::default()
        },
    )
    .await
    .unwrap_err();
    assert!(
        matches!(
            missing,
            RecordError::Store(StoreError::SessionNotFound { id }) if id == SessionId(999)
        ),
        "{missing:?}"
    );
}
