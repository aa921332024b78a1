//! The store conformance suite: every check runs on [`MemoryStore`], on [`SqliteStore`] (a
//! real file in a temporary directory) and on `PostgresStore` (a fresh schema of the database
//! `PURPLE_SECTOR_TEST_POSTGRES_URL` names), through `Arc<dyn Store>`. Then SQLite-only
//! checks: schema versions, a simulated crash, corrupt telemetry, durability pragmas.
//!
//! Without `PURPLE_SECTOR_TEST_POSTGRES_URL` the PostgreSQL checks say so and pass, except
//! under `CI`, where they fail (CI starts PostgreSQL).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::sync::Arc;

use proptest::prelude::*;
use purple_sector_core::analysis::{Cause, Corner, Severity, Suggestion, SuggestionType};
use purple_sector_core::lap::{InvalidReason, Lap, LapKind, LapTime, LapTimeSource};
use purple_sector_core::logger::LoggerLap;
use purple_sector_core::protocol::CAR_INFO_LEN;
use purple_sector_core::store::codec::{self, CodecError};
use purple_sector_core::store::{
    Channel, ChatRole, Columns, LapId, LapOrigin, LapUpdate, LeaseOutcome, MemoryStore, NewSession,
    NewUser, Put, Role, SessionId, SessionSource, SessionStatus, SessionUpdate, SqliteStore, Store,
    StoreError, TokenHash, copy_store, recover_interrupted,
};
use purple_sector_core::telemetry::{Flags, Frame};
use purple_sector_core::track::{MAP_VERSION, TrackMap};
use tempfile::TempDir;

/// The laps the store benchmark uses, made from the real logged lap: the same inputs here.
#[path = "../../benches/store_data.rs"]
#[allow(dead_code)]
mod testing;

const IMOLA_TSV: &str = include_str!("fixtures/imola-c7r-lap2.tsv");

// ---------------------------------------------------------------------------------------------
// Backends
// ---------------------------------------------------------------------------------------------

/// A store and whatever must outlive it (the temporary directory, the PostgreSQL schema).
struct Backend {
    store: Arc<dyn Store>,
    _dir: Option<TempDir>,
    #[cfg(feature = "postgres")]
    _schema: Option<pg::Schema>,
}

fn memory() -> Backend {
    Backend {
        store: Arc::new(MemoryStore::new()),
        _dir: None,
        #[cfg(feature = "postgres")]
        _schema: None,
    }
}

fn sqlite() -> Backend {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("nested/dir/store.db")).unwrap();
    Backend {
        store: Arc::new(store),
        _dir: Some(dir),
        #[cfg(feature = "postgres")]
        _schema: None,
    }
}

/// A PostgreSQL store in a schema of its own, or `None` (said) without a database.
#[cfg(feature = "postgres")]
async fn postgres() -> Option<Backend> {
    let schema = pg::Schema::create().await?;
    let store = purple_sector_core::store::PostgresStore::connect(&schema.url)
        .await
        .unwrap();
    Some(Backend {
        store: Arc::new(store),
        _dir: None,
        _schema: Some(schema),
    })
}

#[cfg(feature = "postgres")]
#[path = "support/pg.rs"]
mod pg;

/// Runs each named `async fn(Arc<dyn Store>)` on both backends.
macro_rules! conformance {
    ($($check:ident),* $(,)?) => {
        mod memory {
            $(
                #[tokio::test]
                async fn $check() {
                    let backend = super::memory();
                    super::$check(backend.store.clone()).await;
                }
            )*
        }
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $check() {
                    let backend = super::sqlite();
                    super::$check(backend.store.clone()).await;
                }
            )*
        }
        #[cfg(feature = "postgres")]
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $check() {
                    let Some(backend) = super::postgres().await else { return };
                    super::$check(backend.store.clone()).await;
                }
            )*
        }
    };
}

conformance!(
    sessions_crud,
    sessions_list_oldest_first,
    session_update_leaves_other_fields,
    laps_crud,
    lap_update_and_suggestions,
    invalid_reasons_round_trip,
    laps_list_order,
    chat_per_lap,
    delete_session_cascades,
    not_found_errors_carry_ids,
    checkpoint_replace_semantics,
    checkpoints_are_per_session,
    malformed_datagrams,
    realistic_laps_round_trip_bit_exact,
    columns_are_the_channels_asked_for,
    unsynced_laps_are_laps_like_any_other,
    laps_saved_with_their_encoding_are_laps_like_any_other,
    random_bits_long_lap_round_trip,
    empty_lap,
    principal_frames_keep_only_principal_channels,
    track_maps_round_trip,
    track_maps_are_keyed_by_track_and_layout,
    track_maps_outlive_sessions,
    copies_carry_track_maps,
    added_laps_never_touch_the_lap_in_progress,
    sessions_complete,
    owners_are_kept,
    users_add_list_revoke,
    leases_exclude_and_lapse,
    leases_one_of_many_at_once,
    put_copies_rows_exactly_and_idempotently,
);

/// Sessions name their owner; recorded laps take the session's, posted laps the poster's.
async fn owners_are_kept(store: Arc<dyn Store>) {
    let new = NewSession {
        owner: Some("lena".into()),
        ..NewSession::new("owned", SessionSource::Live)
    };
    let s = store.create_session(new).await.unwrap();
    assert_eq!(s.owner.as_deref(), Some("lena"));
    assert_eq!(
        store.get_session(s.id).await.unwrap().owner.as_deref(),
        Some("lena")
    );
    let checkpoint = store
        .checkpoint_lap(s.id, &lap(0, 1, LapKind::Partial, 3))
        .await
        .unwrap();
    assert_eq!(checkpoint.owner.as_deref(), Some("lena"));
    let saved = store
        .save_lap(s.id, &lap(0, 1, LapKind::Out, 3))
        .await
        .unwrap();
    assert_eq!(saved.owner.as_deref(), Some("lena"));
    let posted = store
        .add_lap(
            s.id,
            &lap(0, 9, LapKind::Flying, 3),
            LapOrigin::Posted,
            Some("coach"),
        )
        .await
        .unwrap();
    assert_eq!(posted.owner.as_deref(), Some("coach"));
    let laps = store.list_laps(Some(s.id)).await.unwrap();
    let owners: Vec<_> = laps.iter().map(|l| l.owner.as_deref()).collect();
    assert_eq!(owners, [Some("lena"), Some("coach")]);
    // Without accounts, nobody.
    let anon = session(&store, "anonymous").await;
    assert_eq!(store.get_session(anon).await.unwrap().owner, None);
}

/// Users: unique names, tokens found by hash only while not revoked.
async fn users_add_list_revoke(store: Arc<dyn Store>) {
    let before = now_ms();
    let lena = store
        .add_user(NewUser::new("lena", Role::Driver, "ps_token_lena"))
        .await
        .unwrap();
    let kai = store
        .add_user(NewUser::new("kai", Role::Engineer, "ps_token_kai"))
        .await
        .unwrap();
    assert!(lena.id < kai.id && lena.created_ms >= before && lena.is_active());
    match store
        .add_user(NewUser::new("lena", Role::Admin, "ps_other"))
        .await
    {
        Err(StoreError::UserExists { name }) => assert_eq!(name, "lena"),
        other => panic!("expected UserExists, got {other:?}"),
    }
    let found = store
        .user_by_token(&TokenHash::of("ps_token_kai"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((found.name.as_str(), found.role), ("kai", Role::Engineer));
    assert_eq!(found.token_hash, TokenHash::of("ps_token_kai"));
    assert!(
        store
            .user_by_token(&TokenHash::of("ps_token"))
            .await
            .unwrap()
            .is_none()
    );
    let revoked = store.revoke_user("lena").await.unwrap();
    let at = revoked.revoked_ms.unwrap();
    assert!(at >= lena.created_ms);
    assert!(
        store
            .user_by_token(&TokenHash::of("ps_token_lena"))
            .await
            .unwrap()
            .is_none()
    );
    // Revoking again keeps the first time.
    tokio::time::sleep(std::time::Duration::from_millis(3)).await;
    assert_eq!(
        store.revoke_user("lena").await.unwrap().revoked_ms,
        Some(at)
    );
    match store.revoke_user("nobody").await {
        Err(StoreError::UserNotFound { name }) => assert_eq!(name, "nobody"),
        other => panic!("expected UserNotFound, got {other:?}"),
    }
    let users = store.list_users().await.unwrap();
    let names: Vec<_> = users
        .iter()
        .map(|u| (u.name.as_str(), u.is_active()))
        .collect();
    assert_eq!(names, [("lena", false), ("kai", true)]);
}

/// Leases: one holder at a time; the holder renews; a lapsed lease is taken over, with the
/// session its holder recorded.
async fn leases_exclude_and_lapse(store: Arc<dyn Store>) {
    let key = "game:lena/ks_corvette_c7r/imola";
    assert_eq!(
        store.acquire_lease(key, "a", 60_000).await.unwrap(),
        LeaseOutcome::Acquired { taken_over: None }
    );
    assert!(
        store
            .renew_lease(key, "a", 60_000, Some(SessionId(7)))
            .await
            .unwrap()
    );
    match store.acquire_lease(key, "b", 60_000).await.unwrap() {
        LeaseOutcome::Held(lease) => {
            assert_eq!(
                (lease.holder.as_str(), lease.session),
                ("a", Some(SessionId(7)))
            );
            assert!(lease.expires_ms > now_ms());
        }
        other => panic!("expected Held, got {other:?}"),
    }
    assert!(!store.renew_lease(key, "b", 60_000, None).await.unwrap());
    // Its holder asking again keeps it (and its session).
    assert_eq!(
        store.acquire_lease(key, "a", 60_000).await.unwrap(),
        LeaseOutcome::Acquired { taken_over: None }
    );
    // Another key is free.
    assert!(matches!(
        store
            .acquire_lease("game:other", "b", 60_000)
            .await
            .unwrap(),
        LeaseOutcome::Acquired { .. }
    ));
    // A lease left to lapse (its holder died) goes to the next one asking.
    assert!(
        store
            .renew_lease(key, "a", 1, Some(SessionId(7)))
            .await
            .unwrap()
    );
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    match store.acquire_lease(key, "b", 60_000).await.unwrap() {
        LeaseOutcome::Acquired {
            taken_over: Some(old),
        } => {
            assert_eq!(
                (old.holder.as_str(), old.session),
                ("a", Some(SessionId(7)))
            );
        }
        other => panic!("expected a take-over, got {other:?}"),
    }
    assert!(
        !store.renew_lease(key, "a", 60_000, None).await.unwrap(),
        "a lost it"
    );
    // Releasing someone else's lease does nothing; releasing one's own frees it.
    store.release_lease(key, "a").await.unwrap();
    assert!(matches!(
        store.acquire_lease(key, "c", 60_000).await.unwrap(),
        LeaseOutcome::Held(_)
    ));
    store.release_lease(key, "b").await.unwrap();
    assert_eq!(
        store.acquire_lease(key, "c", 60_000).await.unwrap(),
        LeaseOutcome::Acquired { taken_over: None }
    );
}

/// Of many processes claiming a free lease at the same moment, exactly one gets it.
async fn leases_one_of_many_at_once(store: Arc<dyn Store>) {
    let claims = (0..8).map(|i| {
        let store = Arc::clone(&store);
        tokio::spawn(async move {
            store
                .acquire_lease("race", &format!("holder-{i}"), 60_000)
                .await
        })
    });
    let mut granted = 0;
    for claim in claims {
        if matches!(claim.await.unwrap().unwrap(), LeaseOutcome::Acquired { .. }) {
            granted += 1;
        }
    }
    assert_eq!(granted, 1);
}

/// Copying rows (migrate): ids, timestamps and states as they are, telemetry bit-exact, a
/// second copy changes nothing, another row under the same id is a conflict, and new rows
/// never take a copied id.
async fn put_copies_rows_exactly_and_idempotently(store: Arc<dyn Store>) {
    let source = MemoryStore::new();
    let s = source
        .create_session(NewSession {
            owner: Some("lena".into()),
            tags: vec!["league".into()],
            ..NewSession::new("copied", SessionSource::Live)
        })
        .await
        .unwrap();
    let l = imola_lap();
    let done = source.save_lap(s.id, &l).await.unwrap();
    let analysed = source
        .update_lap(
            done.id,
            LapUpdate {
                comments: Some("late on the brakes".into()),
                analyzed: Some(true),
                ..LapUpdate::default()
            },
        )
        .await
        .unwrap();
    let in_progress = source
        .checkpoint_lap(s.id, &lap(0, 4, LapKind::Partial, 7))
        .await
        .unwrap();
    let chat = source
        .add_chat_message(done.id, ChatRole::User, "why?".into())
        .await
        .unwrap();
    let user = source
        .add_user(NewUser::new("lena", Role::Driver, "ps_lena"))
        .await
        .unwrap();
    // Ids far from 1, as in a store with a history.
    let mut session = source.get_session(s.id).await.unwrap();
    session.id = SessionId(41);
    let mut laps = [analysed.clone(), in_progress.clone()];
    for (i, lap) in laps.iter_mut().enumerate() {
        lap.id = LapId(100 + i as i64);
        lap.session = session.id;
    }
    let mut message = chat.clone();
    message.lap = laps[0].id;
    message.id = purple_sector_core::store::ChatMessageId(500);
    let frames = [
        source.lap_frames(analysed.id).await.unwrap(),
        source.lap_frames(in_progress.id).await.unwrap(),
    ];
    for round in 0..2 {
        let expect = if round == 0 {
            Put::Inserted
        } else {
            Put::AlreadyThere
        };
        assert_eq!(store.put_session(&session).await.unwrap(), expect);
        for (lap, frames) in laps.iter().zip(&frames) {
            assert_eq!(store.put_lap(lap, frames).await.unwrap(), expect);
        }
        assert_eq!(store.put_chat_message(&message).await.unwrap(), expect);
        assert_eq!(store.put_user(&user).await.unwrap(), expect);
    }
    assert_eq!(store.get_session(session.id).await.unwrap(), session);
    for (lap, frames) in laps.iter().zip(&frames) {
        assert_eq!(&store.get_lap(lap.id).await.unwrap(), lap);
        assert_bit_exact(&store.lap_frames(lap.id).await.unwrap(), frames);
    }
    assert_eq!(
        store.list_chat_messages(laps[0].id).await.unwrap(),
        [message.clone()]
    );
    assert_eq!(
        store.list_users().await.unwrap(),
        std::slice::from_ref(&user)
    );
    assert!(
        store
            .user_by_token(&TokenHash::of("ps_lena"))
            .await
            .unwrap()
            .is_some()
    );
    // A different row under a copied id.
    let mut other = session.clone();
    other.name = "another".into();
    match store.put_session(&other).await {
        Err(StoreError::Conflict {
            table: "sessions",
            id: 41,
        }) => {}
        r => panic!("expected a conflict, got {r:?}"),
    }
    let mut other = laps[0].clone();
    other.comments = "edited".into();
    assert!(matches!(
        store.put_lap(&other, &frames[0]).await,
        Err(StoreError::Conflict {
            table: "laps",
            id: 100
        })
    ));
    // A lap of a session that is not there.
    let mut orphan = laps[0].clone();
    orphan.id = LapId(300);
    orphan.session = SessionId(999);
    assert!(matches!(
        store.put_lap(&orphan, &[]).await,
        Err(StoreError::SessionNotFound { .. })
    ));
    // New rows come after the copied ids.
    let fresh = session_id_after(&store).await;
    assert!(fresh.0 > 41, "{fresh}");
    let lap = store
        .save_lap(fresh, &lap(0, 1, LapKind::Out, 2))
        .await
        .unwrap();
    assert!(lap.id.0 > 101, "{}", lap.id);
    let said = store
        .add_chat_message(lap.id, ChatRole::Assistant, "ok".into())
        .await
        .unwrap();
    assert!(said.id.0 > 500, "{}", said.id);
    let next = store
        .add_user(NewUser::new("kai", Role::Engineer, "ps_kai"))
        .await
        .unwrap();
    assert!(next.id > user.id);
}

async fn session_id_after(store: &Arc<dyn Store>) -> SessionId {
    session(store, "after the copy").await
}

/// The real lap, as the store benchmark makes it.
fn imola_lap() -> Lap {
    Lap {
        stint: 0,
        number: 2,
        kind: LapKind::Flying,
        invalid_reason: None,
        time: Some(LapTime::official(108_633)),
        frames: testing::logged_frames(&imola()),
    }
}

/// `add_lap` (posted laps): a new row beside the lap in progress, its origin kept, its
/// number unique in the session, and never anyone's best.
async fn added_laps_never_touch_the_lap_in_progress(store: Arc<dyn Store>) {
    let s = session(&store, "posted").await;
    let checkpoint = store
        .checkpoint_lap(s, &lap(0, 3, LapKind::Partial, 40))
        .await
        .unwrap();
    let posted = store
        .add_lap(s, &lap(0, 1, LapKind::Flying, 20), LapOrigin::Posted, None)
        .await
        .unwrap();
    assert_ne!(posted.id, checkpoint.id);
    assert_eq!(posted.origin, LapOrigin::Posted);
    assert!(!posted.in_progress);
    assert_eq!(posted.ranking_time_ms(), None, "posted laps never rank");
    let still = store.get_lap(checkpoint.id).await.unwrap();
    assert!(still.in_progress && still.frame_count == 40);
    assert_eq!(store.lap_frames(checkpoint.id).await.unwrap().len(), 40);
    // The same number again is refused, with the numbers.
    match store
        .add_lap(s, &lap(0, 1, LapKind::Flying, 5), LapOrigin::Posted, None)
        .await
    {
        Err(StoreError::LapNumberTaken {
            session,
            stint: 0,
            number: 1,
        }) => assert_eq!(session, s),
        other => panic!("expected LapNumberTaken, got {other:?}"),
    }
    // A recorded lap keeps its origin.
    let saved = store
        .save_lap(s, &lap(0, 3, LapKind::Flying, 40))
        .await
        .unwrap();
    assert_eq!(
        (saved.id, saved.origin),
        (checkpoint.id, LapOrigin::Recorded)
    );
}

/// Sessions can be completed, and a checkpoint keeps its session fresh.
async fn sessions_complete(store: Arc<dyn Store>) {
    let s = session(&store, "done").await;
    let before = store.get_session(s).await.unwrap().updated_ms;
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    store
        .checkpoint_lap(s, &lap(0, 1, LapKind::Partial, 3))
        .await
        .unwrap();
    let touched = store.get_session(s).await.unwrap().updated_ms;
    assert!(touched > before, "{touched} after {before}");
    let update = SessionUpdate {
        status: Some(SessionStatus::Completed),
        ..SessionUpdate::default()
    };
    let done = store.update_session(s, update).await.unwrap();
    assert_eq!(done.status, SessionStatus::Completed);
    assert_eq!(
        store.get_session(s).await.unwrap().status,
        SessionStatus::Completed
    );
}

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/// A map with every field set (a centre line, named and numbered corners, the laps it came
/// from).
fn track_map(track: &str, config: &str, corners: usize) -> TrackMap {
    TrackMap {
        track: track.into(),
        config: config.into(),
        length_m: 4_909.25,
        centre_line_xz_m: (0..200)
            .map(|i| [i as f32 * 1.5, -(i as f32) * 0.25 + 0.125])
            .collect(),
        corners: (0..corners)
            .map(|i| {
                let at = 400.0 + 600.0 * i as f64;
                Corner {
                    id: format!("T{}", i + 1),
                    name: if i == 0 {
                        "Tamburello".into()
                    } else {
                        format!("T{}", i + 1)
                    },
                    start_m: at,
                    apex_m: at + 120.5,
                    end_m: at + 260.75,
                }
            })
            .collect(),
        built_from: vec![3, 4, 9],
        version: MAP_VERSION,
    }
}

async fn track_maps_round_trip(store: Arc<dyn Store>) {
    assert_eq!(store.get_track_map("imola", "").await.unwrap(), None);
    assert!(store.list_track_maps().await.unwrap().is_empty());
    let map = track_map("imola", "", 7);
    store.save_track_map(&map).await.unwrap();
    assert_eq!(
        store.get_track_map("imola", "").await.unwrap(),
        Some(map.clone())
    );
    // Saving again replaces it.
    let rebuilt = track_map("imola", "", 8);
    store.save_track_map(&rebuilt).await.unwrap();
    assert_eq!(
        store.get_track_map("imola", "").await.unwrap(),
        Some(rebuilt.clone())
    );
    assert_eq!(store.list_track_maps().await.unwrap(), vec![rebuilt]);
    assert!(store.delete_track_map("imola", "").await.unwrap());
    assert!(!store.delete_track_map("imola", "").await.unwrap());
    assert_eq!(store.get_track_map("imola", "").await.unwrap(), None);
}

async fn track_maps_are_keyed_by_track_and_layout(store: Arc<dyn Store>) {
    let maps = [
        track_map("monza", "", 3),
        track_map("imola", "", 7),
        track_map("monza", "junior", 2),
        track_map("", "", 1),
    ];
    for map in &maps {
        store.save_track_map(map).await.unwrap();
    }
    let listed = store.list_track_maps().await.unwrap();
    let keys: Vec<(&str, &str)> = listed
        .iter()
        .map(|m| (m.track.as_str(), m.config.as_str()))
        .collect();
    assert_eq!(
        keys,
        [("", ""), ("imola", ""), ("monza", ""), ("monza", "junior")]
    );
    assert_eq!(
        store.get_track_map("monza", "junior").await.unwrap(),
        Some(maps[2].clone())
    );
    assert_eq!(store.get_track_map("Monza", "").await.unwrap(), None);
    assert!(store.delete_track_map("monza", "").await.unwrap());
    assert_eq!(
        store.get_track_map("monza", "junior").await.unwrap(),
        Some(maps[2].clone())
    );
}

/// `migrate` copies track maps: one missing is put, one there and equal counted, one there
/// with other corners refused.
async fn copies_carry_track_maps(store: Arc<dyn Store>) {
    let source = MemoryStore::new();
    let map = track_map("imola", "", 7);
    source.save_track_map(&map).await.unwrap();
    let first = copy_store(&source, &*store, |_| {}).await.unwrap();
    assert_eq!(
        (first.track_maps.inserted, first.track_maps.already_there),
        (1, 0)
    );
    assert_eq!(
        store.get_track_map("imola", "").await.unwrap(),
        Some(map.clone())
    );
    let again = copy_store(&source, &*store, |_| {}).await.unwrap();
    assert_eq!(
        (again.track_maps.inserted, again.track_maps.already_there),
        (0, 1)
    );
    let other = track_map("imola", "", 6);
    source.save_track_map(&other).await.unwrap();
    assert!(matches!(
        copy_store(&source, &*store, |_| {}).await,
        Err(StoreError::TrackMapConflict { ref track, .. }) if track == "imola"
    ));
    assert_eq!(store.get_track_map("imola", "").await.unwrap(), Some(map));
}

async fn track_maps_outlive_sessions(store: Arc<dyn Store>) {
    let s = session(&store, "practice").await;
    store
        .save_track_map(&track_map("imola", "", 7))
        .await
        .unwrap();
    store.delete_session(s).await.unwrap();
    assert!(store.get_track_map("imola", "").await.unwrap().is_some());
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// Every bit of a frame: its receive time and the car-info packet it encodes to (every field
/// of the packet, f32 bits included, NaN payloads too).
fn frame_bits(f: &Frame) -> (u64, [u8; CAR_INFO_LEN]) {
    let packet = f.to_car_info().encode();
    let mut bytes = [0u8; CAR_INFO_LEN];
    bytes.copy_from_slice(&packet[..CAR_INFO_LEN]);
    (f.time_ns, bytes)
}

fn assert_bit_exact(got: &[Frame], want: &[Frame]) {
    assert_eq!(got.len(), want.len(), "frame count");
    for (i, (g, w)) in got.iter().zip(want).enumerate() {
        assert_eq!(frame_bits(g), frame_bits(w), "frame {i} differs");
    }
}

fn frames(n: usize, seed: f32) -> Vec<Frame> {
    (0..n)
        .map(|i| Frame {
            time_ns: 1_700_000_000_000_000_000 + i as u64 * 3_003_003,
            lap_time_ms: i as i32 * 3,
            speed_kmh: seed + i as f32 * 0.25,
            gas: 1.0,
            gear: 4,
            position_normalized: i as f32 / n as f32,
            ..Frame::default()
        })
        .collect()
}

fn lap(stint: u32, number: i32, kind: LapKind, n: usize) -> Lap {
    Lap {
        stint,
        number,
        kind,
        invalid_reason: None,
        time: (kind != LapKind::Partial).then_some(LapTime::official(90_000 + number)),
        frames: frames(n, number as f32),
    }
}

async fn session(store: &Arc<dyn Store>, name: &str) -> SessionId {
    store
        .create_session(NewSession::new(name, SessionSource::Live))
        .await
        .unwrap()
        .id
}

fn imola() -> LoggerLap {
    LoggerLap::parse(IMOLA_TSV).unwrap()
}

// ---------------------------------------------------------------------------------------------
// The suite
// ---------------------------------------------------------------------------------------------

async fn sessions_crud(store: Arc<dyn Store>) {
    let before = now_ms();
    let new = NewSession {
        car: "ks_corvette_c7r".into(),
        driver: "Scott".into(),
        track: "imola".into(),
        track_config: String::new(),
        tags: vec![" night ".into(), "".into(), "night".into(), "gt3".into()],
        ..NewSession::new("Practice", SessionSource::Import)
    };
    let created = store.create_session(new).await.unwrap();
    assert!(created.id.0 > 0);
    assert_eq!(created.name, "Practice");
    assert_eq!(created.source, SessionSource::Import);
    assert_eq!(created.status, SessionStatus::Active);
    assert_eq!(created.car, "ks_corvette_c7r");
    assert_eq!(created.driver, "Scott");
    assert_eq!(created.track, "imola");
    assert_eq!(created.tags, ["night", "gt3"]);
    assert!(created.created_ms >= before && created.created_ms <= now_ms());
    assert_eq!(created.created_ms, created.updated_ms);
    assert_eq!(store.get_session(created.id).await.unwrap(), created);

    let updated = store
        .update_session(
            created.id,
            SessionUpdate {
                name: Some("Qualifying".into()),
                status: Some(SessionStatus::Archived),
                track_config: Some("gp".into()),
                tags: Some(vec!["pb".into(), "pb".into()]),
                ..SessionUpdate::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(updated.name, "Qualifying");
    assert_eq!(updated.status, SessionStatus::Archived);
    assert_eq!(updated.track_config, "gp");
    assert_eq!(updated.tags, ["pb"]);
    assert!(updated.updated_ms >= created.updated_ms);
    assert_eq!(updated.created_ms, created.created_ms);
    assert_eq!(store.get_session(created.id).await.unwrap(), updated);

    store.delete_session(created.id).await.unwrap();
    assert!(matches!(
        store.get_session(created.id).await,
        Err(StoreError::SessionNotFound { id }) if id == created.id
    ));
    assert!(store.list_sessions().await.unwrap().is_empty());
}

async fn sessions_list_oldest_first(store: Arc<dyn Store>) {
    let a = session(&store, "a").await;
    let b = session(&store, "b").await;
    let c = session(&store, "c").await;
    assert!(a < b && b < c, "ids increase");
    store.delete_session(b).await.unwrap();
    let d = session(&store, "d").await;
    assert!(d > c, "ids are never reused");
    let names: Vec<String> = store
        .list_sessions()
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.name)
        .collect();
    assert_eq!(names, ["a", "c", "d"]);
}

async fn session_update_leaves_other_fields(store: Arc<dyn Store>) {
    let new = NewSession {
        car: "car".into(),
        driver: "me".into(),
        track: "monza".into(),
        track_config: "junior".into(),
        tags: vec!["x".into()],
        ..NewSession::new("s", SessionSource::Demo)
    };
    let s = store.create_session(new).await.unwrap();
    let u = store
        .update_session(
            s.id,
            SessionUpdate {
                status: Some(SessionStatus::Paused),
                ..SessionUpdate::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(u.status, SessionStatus::Paused);
    assert_eq!(
        (
            &u.name,
            u.source,
            &u.car,
            &u.driver,
            &u.track,
            &u.track_config,
            &u.tags
        ),
        (
            &s.name,
            s.source,
            &s.car,
            &s.driver,
            &s.track,
            &s.track_config,
            &s.tags
        )
    );
    // An empty update changes nothing but may touch `updated_ms`.
    let same = store
        .update_session(s.id, SessionUpdate::default())
        .await
        .unwrap();
    assert_eq!(same.status, SessionStatus::Paused);
    assert_eq!(store.get_session(s.id).await.unwrap(), same);
}

async fn laps_crud(store: Arc<dyn Store>) {
    let s = session(&store, "laps").await;
    let before = now_ms();
    let flying = lap(0, 2, LapKind::Flying, 50);
    let record = store.save_lap(s, &flying).await.unwrap();
    assert_eq!(record.session, s);
    assert_eq!((record.stint, record.number), (0, 2));
    assert_eq!(record.kind, LapKind::Flying);
    assert!(record.valid);
    assert_eq!(record.invalid_reason, None);
    assert_eq!(record.time, Some(LapTime::official(90_002)));
    assert_eq!(record.frame_count, 50);
    assert!(!record.in_progress);
    assert!(record.tags.is_empty());
    assert_eq!(record.comments, "");
    assert!(!record.analyzed);
    assert_eq!(record.suggestions, None);
    assert!(record.created_ms >= before && record.created_ms <= now_ms());

    assert_eq!(store.get_lap(record.id).await.unwrap(), record);
    assert_eq!(
        store.list_laps(Some(s)).await.unwrap(),
        std::slice::from_ref(&record)
    );
    assert_eq!(
        store.list_laps(None).await.unwrap(),
        std::slice::from_ref(&record)
    );
    assert_bit_exact(&store.lap_frames(record.id).await.unwrap(), &flying.frames);

    let partial = Lap {
        time: None,
        ..lap(0, 3, LapKind::Partial, 7)
    };
    let second = store.save_lap(s, &partial).await.unwrap();
    assert_ne!(second.id, record.id);
    assert_eq!(second.kind, LapKind::Partial);
    assert!(!second.in_progress, "a saved partial lap is finished");
    assert_eq!(store.list_laps(Some(s)).await.unwrap().len(), 2);

    store.delete_lap(record.id).await.unwrap();
    assert!(matches!(
        store.get_lap(record.id).await,
        Err(StoreError::LapNotFound { id }) if id == record.id
    ));
    assert!(matches!(
        store.lap_frames(record.id).await,
        Err(StoreError::LapNotFound { id }) if id == record.id
    ));
    assert_eq!(store.list_laps(Some(s)).await.unwrap(), [second]);
}

async fn lap_update_and_suggestions(store: Arc<dyn Store>) {
    let s = session(&store, "upd").await;
    let record = store
        .save_lap(s, &lap(0, 1, LapKind::Out, 3))
        .await
        .unwrap();
    let suggestions = vec![Suggestion {
        id: "T3-braking".into(),
        kind: SuggestionType::Braking,
        cause: Cause::EarlyBraking,
        corner: Some("T3".into()),
        message: "You braked 32 m earlier than your best into T3 and lost 0.41 s — é 🏁".into(),
        severity: Severity::Critical,
        position: 0.123_456_789,
        distance_m: 601.2,
        time_loss_s: 0.41,
        evidence: [
            ("brake_point_m".to_owned(), 412.0),
            ("reference_brake_point_m".to_owned(), 444.1),
        ]
        .into(),
    }];
    let updated = store
        .update_lap(
            record.id,
            LapUpdate {
                tags: Some(vec!["reference".into(), " reference ".into(), "dry".into()]),
                comments: Some("Lost the rear at Rivazza — é ü 🏁".into()),
                analyzed: Some(true),
                suggestions: Some(Some(suggestions.clone())),
            },
        )
        .await
        .unwrap();
    assert_eq!(updated.tags, ["reference", "dry"]);
    assert_eq!(updated.comments, "Lost the rear at Rivazza — é ü 🏁");
    assert!(updated.analyzed);
    assert_eq!(updated.suggestions, Some(suggestions.clone()));
    assert_eq!(store.get_lap(record.id).await.unwrap(), updated);
    // Metadata untouched.
    assert_eq!(
        (
            updated.number,
            updated.kind,
            updated.frame_count,
            updated.created_ms
        ),
        (
            record.number,
            record.kind,
            record.frame_count,
            record.created_ms
        )
    );

    // Partial update, then clearing the suggestions.
    let again = store
        .update_lap(
            record.id,
            LapUpdate {
                analyzed: Some(false),
                ..LapUpdate::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(again.tags, ["reference", "dry"]);
    assert_eq!(again.suggestions, Some(suggestions));
    let cleared = store
        .update_lap(
            record.id,
            LapUpdate {
                suggestions: Some(None),
                ..LapUpdate::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(cleared.suggestions, None);
    assert!(!cleared.analyzed);
    assert_eq!(store.get_lap(record.id).await.unwrap(), cleared);
}

async fn invalid_reasons_round_trip(store: Arc<dyn Store>) {
    let s = session(&store, "invalid").await;
    let reasons = [
        InvalidReason::ClockGap {
            from_ms: 1_000,
            to_ms: 1_500,
        },
        InvalidReason::ClockJumpedBack {
            from_ms: 50_000,
            to_ms: 3,
        },
        InvalidReason::LapCountDecreased { from: 4, to: 0 },
        InvalidReason::Teleport {
            from_position: 0.25,
            to_position: 0.75,
            within_ms: 21,
        },
        InvalidReason::PitLane { at_ms: 88_000 },
    ];
    for (k, reason) in reasons.into_iter().enumerate() {
        let l = Lap {
            invalid_reason: Some(reason),
            ..lap(0, k as i32, LapKind::Flying, 4)
        };
        let record = store.save_lap(s, &l).await.unwrap();
        assert!(!record.valid);
        assert_eq!(record.invalid_reason, Some(reason));
        let read = store.get_lap(record.id).await.unwrap();
        assert_eq!(read.invalid_reason, Some(reason));
        assert!(!read.valid);
    }
}

/// Laps list by session id, then stint, number and id.
async fn laps_list_order(store: Arc<dyn Store>) {
    let a = session(&store, "a").await;
    let b = session(&store, "b").await;
    let order = [
        (b, 0, 1),
        (a, 1, 1),
        (a, 0, 5),
        (a, 0, 2),
        (a, 0, 2),
        (b, 0, 0),
    ];
    let mut ids = Vec::new();
    for (s, stint, number) in order {
        ids.push(
            store
                .save_lap(s, &lap(stint, number, LapKind::Flying, 2))
                .await
                .unwrap()
                .id,
        );
    }
    let key =
        |laps: Vec<purple_sector_core::store::LapRecord>| -> Vec<(SessionId, u32, i32, LapId)> {
            laps.into_iter()
                .map(|l| (l.session, l.stint, l.number, l.id))
                .collect()
        };
    assert_eq!(
        key(store.list_laps(Some(a)).await.unwrap()),
        [
            (a, 0, 2, ids[3]),
            (a, 0, 2, ids[4]),
            (a, 0, 5, ids[2]),
            (a, 1, 1, ids[1]),
        ]
    );
    let all = key(store.list_laps(None).await.unwrap());
    assert_eq!(all.len(), 6);
    assert_eq!(&all[4..], [(b, 0, 0, ids[5]), (b, 0, 1, ids[0])]);
}

async fn chat_per_lap(store: Arc<dyn Store>) {
    let s = session(&store, "chat").await;
    let one = store
        .save_lap(s, &lap(0, 1, LapKind::Flying, 2))
        .await
        .unwrap()
        .id;
    let two = store
        .save_lap(s, &lap(0, 2, LapKind::Flying, 2))
        .await
        .unwrap()
        .id;
    let before = now_ms();
    let q = store
        .add_chat_message(one, ChatRole::User, "Where do I lose time?".into())
        .await
        .unwrap();
    let other = store
        .add_chat_message(two, ChatRole::User, "And here?".into())
        .await
        .unwrap();
    let a = store
        .add_chat_message(one, ChatRole::Assistant, "T3: braking 32 m early.".into())
        .await
        .unwrap();
    assert_eq!(q.lap, one);
    assert_eq!(q.role, ChatRole::User);
    assert!(q.created_ms >= before && q.created_ms <= now_ms());
    assert!(q.id < other.id && other.id < a.id);
    assert_eq!(store.list_chat_messages(one).await.unwrap(), [q, a]);
    assert_eq!(store.list_chat_messages(two).await.unwrap(), [other]);

    store.delete_lap(one).await.unwrap();
    assert!(matches!(
        store.list_chat_messages(one).await,
        Err(StoreError::LapNotFound { id }) if id == one
    ));
    assert_eq!(store.list_chat_messages(two).await.unwrap().len(), 1);
}

async fn delete_session_cascades(store: Arc<dyn Store>) {
    let doomed = session(&store, "doomed").await;
    let kept = session(&store, "kept").await;
    let l1 = store
        .save_lap(doomed, &lap(0, 1, LapKind::Flying, 5))
        .await
        .unwrap()
        .id;
    let l2 = store
        .checkpoint_lap(doomed, &lap(0, 2, LapKind::Flying, 5))
        .await
        .unwrap()
        .id;
    store
        .add_chat_message(l1, ChatRole::User, "hi".into())
        .await
        .unwrap();
    store.save_malformed(doomed, 1, b"junk").await.unwrap();
    let k1 = store
        .save_lap(kept, &lap(0, 1, LapKind::Flying, 5))
        .await
        .unwrap()
        .id;
    store
        .add_chat_message(k1, ChatRole::User, "kept".into())
        .await
        .unwrap();
    store.save_malformed(kept, 2, b"kept").await.unwrap();

    store.delete_session(doomed).await.unwrap();
    for id in [l1, l2] {
        assert!(matches!(
            store.get_lap(id).await,
            Err(StoreError::LapNotFound { .. })
        ));
        assert!(matches!(
            store.lap_frames(id).await,
            Err(StoreError::LapNotFound { .. })
        ));
        assert!(matches!(
            store.list_chat_messages(id).await,
            Err(StoreError::LapNotFound { .. })
        ));
    }
    assert!(matches!(
        store.count_malformed(doomed).await,
        Err(StoreError::SessionNotFound { id }) if id == doomed
    ));
    let laps = store.list_laps(None).await.unwrap();
    assert_eq!(laps.len(), 1);
    assert_eq!(laps[0].id, k1);
    assert_eq!(store.list_chat_messages(k1).await.unwrap().len(), 1);
    assert_eq!(store.count_malformed(kept).await.unwrap(), 1);
    assert_eq!(store.lap_frames(k1).await.unwrap().len(), 5);
}

async fn not_found_errors_carry_ids(store: Arc<dyn Store>) {
    let s = SessionId(4_242);
    let l = LapId(7_777);
    let some_lap = lap(0, 1, LapKind::Flying, 1);
    let session_missing = |r: Result<(), StoreError>| match r {
        Err(StoreError::SessionNotFound { id }) => assert_eq!(id, s),
        other => panic!("expected SessionNotFound {{ id: {s} }}, got {other:?}"),
    };
    session_missing(store.get_session(s).await.map(drop));
    session_missing(
        store
            .update_session(s, SessionUpdate::default())
            .await
            .map(drop),
    );
    session_missing(store.delete_session(s).await);
    session_missing(store.save_lap(s, &some_lap).await.map(drop));
    session_missing(store.checkpoint_lap(s, &some_lap).await.map(drop));
    session_missing(store.close_checkpoint(s).await.map(drop));
    session_missing(store.list_laps(Some(s)).await.map(drop));
    session_missing(store.save_malformed(s, 0, b"x").await);
    session_missing(store.count_malformed(s).await.map(drop));
    session_missing(store.list_malformed(s).await.map(drop));

    let lap_missing = |r: Result<(), StoreError>| match r {
        Err(StoreError::LapNotFound { id }) => assert_eq!(id, l),
        other => panic!("expected LapNotFound {{ id: {l} }}, got {other:?}"),
    };
    lap_missing(store.get_lap(l).await.map(drop));
    lap_missing(store.lap_frames(l).await.map(drop));
    lap_missing(store.lap_principal_frames(l).await.map(drop));
    lap_missing(store.lap_columns(l, &Channel::ALL).await.map(drop));
    lap_missing(store.update_lap(l, LapUpdate::default()).await.map(drop));
    lap_missing(store.delete_lap(l).await);
    lap_missing(
        store
            .add_chat_message(l, ChatRole::User, "?".into())
            .await
            .map(drop),
    );
    lap_missing(store.list_chat_messages(l).await.map(drop));

    let message = StoreError::SessionNotFound { id: s }.to_string();
    assert!(message.contains("4242"), "{message}");
    assert!(
        StoreError::LapNotFound { id: l }
            .to_string()
            .contains("7777")
    );
    // Nothing was created by the failed calls.
    assert!(store.list_sessions().await.unwrap().is_empty());
    assert!(store.list_laps(None).await.unwrap().is_empty());
}

async fn checkpoint_replace_semantics(store: Arc<dyn Store>) {
    let s = session(&store, "live").await;
    let done = store
        .save_lap(s, &lap(0, 1, LapKind::Out, 4))
        .await
        .unwrap();

    // The lap being driven, checkpointed twice: one row, same id, latest frames.
    let so_far = lap(0, 2, LapKind::Flying, 10);
    let first = store.checkpoint_lap(s, &so_far).await.unwrap();
    assert!(first.in_progress);
    assert_eq!(
        first.kind,
        LapKind::Partial,
        "a checkpoint is kept as partial"
    );
    assert_eq!(first.time, None);
    assert_eq!(first.frame_count, 10);
    let more = lap(0, 2, LapKind::Flying, 20);
    let second = store.checkpoint_lap(s, &more).await.unwrap();
    assert_eq!(second.id, first.id);
    assert_eq!(second.frame_count, 20);
    assert_eq!(second.created_ms, first.created_ms);
    assert_bit_exact(&store.lap_frames(first.id).await.unwrap(), &more.frames);
    let listed = store.list_laps(Some(s)).await.unwrap();
    assert_eq!(listed.len(), 2);
    assert_eq!(listed.iter().filter(|l| l.in_progress).count(), 1);

    // Tags and chat on the lap in progress are kept when it is saved.
    store
        .update_lap(
            first.id,
            LapUpdate {
                tags: Some(vec!["watch".into()]),
                ..LapUpdate::default()
            },
        )
        .await
        .unwrap();
    store
        .add_chat_message(first.id, ChatRole::User, "live question".into())
        .await
        .unwrap();

    // The finished lap replaces the checkpoint in the same transaction: same id.
    let finished = lap(0, 2, LapKind::Flying, 30);
    let saved = store.save_lap(s, &finished).await.unwrap();
    assert_eq!(saved.id, first.id);
    assert!(!saved.in_progress);
    assert_eq!(saved.kind, LapKind::Flying);
    assert_eq!(saved.time, Some(LapTime::official(90_002)));
    assert_eq!(saved.frame_count, 30);
    assert_eq!(saved.tags, ["watch"]);
    assert_eq!(store.list_chat_messages(saved.id).await.unwrap().len(), 1);
    assert_bit_exact(&store.lap_frames(saved.id).await.unwrap(), &finished.frames);
    let listed = store.list_laps(Some(s)).await.unwrap();
    assert_eq!(listed.len(), 2);
    assert!(listed.iter().all(|l| !l.in_progress));
    assert_eq!(listed[0].id, done.id);

    // The next lap's checkpoint is a new row; closing it makes a finished partial lap.
    let next = store
        .checkpoint_lap(s, &lap(0, 3, LapKind::Flying, 5))
        .await
        .unwrap();
    assert_ne!(next.id, saved.id);
    assert!(next.in_progress);
    let closed = store.close_checkpoint(s).await.unwrap().unwrap();
    assert_eq!(closed.id, next.id);
    assert!(!closed.in_progress);
    assert_eq!(closed.kind, LapKind::Partial);
    assert_eq!(store.close_checkpoint(s).await.unwrap(), None);
    // After closing, a checkpoint starts a new row again.
    let after = store
        .checkpoint_lap(s, &lap(0, 4, LapKind::Flying, 5))
        .await
        .unwrap();
    assert_ne!(after.id, next.id);
    assert_eq!(store.list_laps(Some(s)).await.unwrap().len(), 4);
    // Deleting the checkpoint leaves nothing in progress.
    store.delete_lap(after.id).await.unwrap();
    assert_eq!(store.close_checkpoint(s).await.unwrap(), None);
}

async fn checkpoints_are_per_session(store: Arc<dyn Store>) {
    let a = session(&store, "a").await;
    let b = session(&store, "b").await;
    let ca = store
        .checkpoint_lap(a, &lap(0, 1, LapKind::Flying, 3))
        .await
        .unwrap();
    let cb = store
        .checkpoint_lap(b, &lap(0, 1, LapKind::Flying, 4))
        .await
        .unwrap();
    assert_ne!(ca.id, cb.id);
    let saved = store
        .save_lap(a, &lap(0, 1, LapKind::Flying, 6))
        .await
        .unwrap();
    assert_eq!(saved.id, ca.id);
    let b_laps = store.list_laps(Some(b)).await.unwrap();
    assert_eq!(b_laps.len(), 1);
    assert!(b_laps[0].in_progress);
    assert_eq!(b_laps[0].frame_count, 4);
}

async fn malformed_datagrams(store: Arc<dyn Store>) {
    let s = session(&store, "junk").await;
    let other = session(&store, "clean").await;
    assert_eq!(store.count_malformed(s).await.unwrap(), 0);
    assert!(store.list_malformed(s).await.unwrap().is_empty());
    let big: Vec<u8> = (0..=255u8).cycle().take(2_000).collect();
    let datagrams: [(u64, &[u8]); 4] = [
        (1_700_000_000_000_000_000, b"a\x00\x00"),
        (0, b""),
        (u64::MAX, &big),
        (5, &[0xff; 327]),
    ];
    for (t, bytes) in datagrams {
        store.save_malformed(s, t, bytes).await.unwrap();
    }
    assert_eq!(store.count_malformed(s).await.unwrap(), 4);
    assert_eq!(store.count_malformed(other).await.unwrap(), 0);
    let listed = store.list_malformed(s).await.unwrap();
    assert_eq!(listed.len(), 4);
    for (m, (t, bytes)) in listed.iter().zip(datagrams) {
        assert_eq!(m.session, s);
        assert_eq!(m.time_ns, t);
        assert_eq!(m.bytes, bytes);
    }
}

async fn realistic_laps_round_trip_bit_exact(store: Arc<dyn Store>) {
    let s = session(&store, "imola").await;
    let lap_data = imola();
    for frames in [
        testing::logged_frames(&lap_data),
        testing::resampled_333hz(&lap_data),
    ] {
        let l = Lap {
            stint: 0,
            number: 3,
            kind: LapKind::Flying,
            invalid_reason: None,
            time: Some(LapTime::official(108_633)),
            frames,
        };
        let record = store.save_lap(s, &l).await.unwrap();
        assert_eq!(record.frame_count as usize, l.frames.len());
        assert_bit_exact(&store.lap_frames(record.id).await.unwrap(), &l.frames);
        let principal = store.lap_principal_frames(record.id).await.unwrap();
        let want: Vec<Frame> = l.frames.iter().map(codec::principal_only).collect();
        assert_bit_exact(&principal, &want);
    }
}

/// `lap_columns` gives the channels asked for (every one, some, none) as the frames hold
/// them, on a real 333 Hz lap long enough for every kind of plane, and on an empty lap.
async fn columns_are_the_channels_asked_for(store: Arc<dyn Store>) {
    let s = session(&store, "columns").await;
    let frames = testing::resampled_333hz(&imola());
    let l = Lap {
        frames,
        ..lap(0, 1, LapKind::Flying, 0)
    };
    let id = store.save_lap(s, &l).await.unwrap().id;
    let some = [
        Channel::WorldZ,
        Channel::TimeNs,
        Channel::Gear,
        Channel::SpeedKmh,
    ];
    for channels in [&Channel::ALL[..], &some[..], &[]] {
        let columns = store.lap_columns(id, channels).await.unwrap();
        assert_eq!(columns.len(), l.frames.len());
        assert!(
            columns == Columns::from_frames(&l.frames, channels),
            "{channels:?}"
        );
    }
    let some = store.lap_columns(id, &some).await.unwrap();
    assert_eq!(some.speed_kmh.len(), l.frames.len());
    assert!(some.gas.is_empty() && some.world_x_m.is_empty());
    let empty = store
        .save_lap(s, &lap(0, 2, LapKind::Partial, 0))
        .await
        .unwrap();
    let columns = store.lap_columns(empty.id, &Channel::ALL).await.unwrap();
    assert!(columns.is_empty() && columns.speed_kmh.is_empty());
}

/// A lap saved unsynced (an import's) is a lap like any other, before and after `sync`.
async fn unsynced_laps_are_laps_like_any_other(store: Arc<dyn Store>) {
    let s = session(&store, "bulk").await;
    let frames = testing::logged_frames(&imola());
    let mut ids = Vec::new();
    for number in 1..=3 {
        let l = Lap {
            frames: frames.clone(),
            ..lap(0, number, LapKind::Flying, 0)
        };
        let record = store.save_lap_unsynced(s, &l).await.unwrap();
        assert_eq!(record.number, number);
        assert!(!record.in_progress);
        ids.push(record.id);
    }
    store.sync().await.unwrap();
    let listed: Vec<LapId> = store
        .list_laps(Some(s))
        .await
        .unwrap()
        .iter()
        .map(|l| l.id)
        .collect();
    assert_eq!(listed, ids);
    assert_bit_exact(&store.lap_frames(ids[2]).await.unwrap(), &frames);
    session_missing_on_unsynced(&store).await;
}

/// A lap saved with its telemetry encoded already (an import's) is the lap saved alone; an
/// encoding of another number of frames is not used.
async fn laps_saved_with_their_encoding_are_laps_like_any_other(store: Arc<dyn Store>) {
    let s = session(&store, "bulk, encoded on the way").await;
    let frames = testing::logged_frames(&imola());
    let l = Lap {
        frames: frames.clone(),
        ..lap(0, 1, LapKind::Flying, 0)
    };
    let encoded = codec::encode(&frames).unwrap();
    let record = store
        .save_encoded_lap_unsynced(s, &l, encoded)
        .await
        .unwrap();
    let other = Lap {
        frames: frames[..100].to_vec(),
        ..lap(0, 2, LapKind::Flying, 0)
    };
    let wrong = codec::encode(&frames).unwrap();
    let shorter = store
        .save_encoded_lap_unsynced(s, &other, wrong)
        .await
        .unwrap();
    store.sync().await.unwrap();
    assert_eq!((record.number, shorter.number), (1, 2));
    assert_eq!(record.frame_count as usize, frames.len());
    assert_bit_exact(&store.lap_frames(record.id).await.unwrap(), &frames);
    assert_bit_exact(&store.lap_frames(shorter.id).await.unwrap(), &frames[..100]);
    let missing = SessionId(9_999_999);
    let encoded = codec::encode(&frames).unwrap();
    match store.save_encoded_lap_unsynced(missing, &l, encoded).await {
        Err(StoreError::SessionNotFound { id }) => assert_eq!(id, missing),
        other => panic!("expected SessionNotFound, got {other:?}"),
    }
}

async fn session_missing_on_unsynced(store: &Arc<dyn Store>) {
    let missing = SessionId(9_999_999);
    match store
        .save_lap_unsynced(missing, &lap(0, 1, LapKind::Flying, 10))
        .await
    {
        Err(StoreError::SessionNotFound { id }) => assert_eq!(id, missing),
        other => panic!("expected SessionNotFound, got {other:?}"),
    }
}

/// Enough frames of random bits that the codec stores noisy planes raw.
async fn random_bits_long_lap_round_trip(store: Arc<dyn Store>) {
    let s = session(&store, "noise").await;
    let mut x = 0x1234_5678_9abc_def1u64;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let frames: Vec<Frame> = (0..6_000)
        .map(|_| {
            let words: Vec<u32> = (0..WORDS).map(|_| next() as u32).collect();
            frame_from_words(next(), &words, next() as u8)
        })
        .collect();
    let l = Lap {
        frames,
        ..lap(0, 1, LapKind::Flying, 0)
    };
    let record = store.save_lap(s, &l).await.unwrap();
    assert_bit_exact(&store.lap_frames(record.id).await.unwrap(), &l.frames);
}

async fn empty_lap(store: Arc<dyn Store>) {
    let s = session(&store, "empty").await;
    let record = store
        .save_lap(s, &lap(0, 1, LapKind::Partial, 0))
        .await
        .unwrap();
    assert_eq!(record.frame_count, 0);
    assert!(store.lap_frames(record.id).await.unwrap().is_empty());
    assert!(
        store
            .lap_principal_frames(record.id)
            .await
            .unwrap()
            .is_empty()
    );
}

async fn principal_frames_keep_only_principal_channels(store: Arc<dyn Store>) {
    let s = session(&store, "principal").await;
    let frames = testing::resampled_333hz(&imola());
    let l = Lap {
        frames: frames[..500].to_vec(),
        ..lap(0, 1, LapKind::Flying, 0)
    };
    let id = store.save_lap(s, &l).await.unwrap().id;
    let principal = store.lap_principal_frames(id).await.unwrap();
    assert_eq!(principal.len(), 500);
    for (p, f) in principal.iter().zip(&l.frames) {
        assert_eq!(p.time_ns, f.time_ns);
        assert_eq!(p.speed_kmh.to_bits(), f.speed_kmh.to_bits());
        assert_eq!(p.g_lateral.to_bits(), f.g_lateral.to_bits());
        assert_eq!(p.world_m.map(f32::to_bits), f.world_m.map(f32::to_bits));
        assert_eq!(p.gear, f.gear);
        // Outside the principal group: zero.
        assert_eq!(p.speed_mph, 0.0);
        assert_eq!(p.lap_count, 0);
        assert_eq!(p.flags, Flags::default());
        assert_eq!(p.wheels.load_n, [0.0; 4]);
    }
}

// ---------------------------------------------------------------------------------------------
// Property: any bits, any times, both backends
// ---------------------------------------------------------------------------------------------

/// 32-bit fields of a frame other than flags: 15 principal + 7 scalars + 56 wheel channels.
const WORDS: usize = 78;

/// A frame whose every 32-bit field takes the next word (f32 fields by their bits).
fn frame_from_words(time_ns: u64, w: &[u32], flags: u8) -> Frame {
    let f = |k: usize| f32::from_bits(w[k]);
    let arr = |k: usize| [f(k), f(k + 1), f(k + 2), f(k + 3)];
    let mut frame = Frame {
        time_ns,
        lap_time_ms: w[0] as i32,
        last_lap_ms: w[1] as i32,
        best_lap_ms: w[2] as i32,
        lap_count: w[3] as i32,
        position_normalized: f(4),
        speed_kmh: f(5),
        speed_mph: f(6),
        speed_ms: f(7),
        gas: f(8),
        brake: f(9),
        clutch: f(10),
        steer_deg: f(11),
        gear: w[12] as i32,
        engine_rpm: f(13),
        g_vertical: f(14),
        g_lateral: f(15),
        g_longitudinal: f(16),
        world_m: [f(17), f(18), f(19)],
        flags: Flags::from_bits(flags),
        cg_height_m: f(20),
        car_slope: f(21),
        ..Frame::default()
    };
    let wh = &mut frame.wheels;
    wh.angular_speed_rad_s = arr(22);
    wh.slip_angle_deg = arr(26);
    wh.slip_angle_contact_patch = arr(30);
    wh.slip_ratio = arr(34);
    wh.tyre_slip = arr(38);
    wh.nd_slip = arr(42);
    wh.load_n = arr(46);
    wh.dy = arr(50);
    wh.mz_nm = arr(54);
    wh.tyre_dirty_level = arr(58);
    wh.camber_rad = arr(62);
    wh.tyre_radius_m = arr(66);
    wh.tyre_loaded_radius_m = arr(70);
    wh.suspension_height_m = arr(74);
    frame
}

fn word() -> impl Strategy<Value = u32> {
    prop_oneof![
        4 => any::<u32>(),
        // NaNs with payloads (quiet and signalling, both signs), infinities, zeros,
        // subnormals, and repeats so planes become constant.
        1 => prop::sample::select(vec![
            0x7fc0_0000, 0x7fc0_0001, 0xffc1_2345, 0x7f80_0001, 0xff80_0002,
            0x7f80_0000, 0xff80_0000, 0x0000_0000, 0x8000_0000, 0x0000_0001,
            0x807f_ffff, 0x3f80_0000,
        ]),
    ]
}

prop_compose! {
    fn any_frame()(
        time_ns in any::<u64>(),
        words in prop::collection::vec(word(), WORDS),
        flags in 0u8..64,
    ) -> Frame {
        frame_from_words(time_ns, &words, flags)
    }
}

fn any_lap() -> impl Strategy<Value = Lap> {
    (
        any::<u32>(),
        any::<i32>(),
        prop::sample::select(vec![
            LapKind::Out,
            LapKind::Flying,
            LapKind::In,
            LapKind::Partial,
        ]),
        proptest::option::of((
            any::<i32>(),
            prop::sample::select(vec![LapTimeSource::Official, LapTimeSource::Telemetry]),
        )),
        prop::collection::vec(any_frame(), 0..120),
    )
        .prop_map(|(stint, number, kind, time, frames)| Lap {
            stint,
            number,
            kind,
            invalid_reason: None,
            time: time.map(|(ms, source)| LapTime { ms, source }),
            frames,
        })
}

/// Saves, reloads (all channels and principal only), checkpoints: every bit comes back.
async fn check_round_trip(store: Arc<dyn Store>, l: Lap) -> Result<(), TestCaseError> {
    let s = session(&store, "prop").await;
    let record = store.save_lap(s, &l).await.unwrap();
    prop_assert_eq!(record.stint, l.stint);
    prop_assert_eq!(record.number, l.number);
    prop_assert_eq!(record.kind, l.kind);
    prop_assert_eq!(record.time, l.time);
    prop_assert_eq!(record.frame_count as usize, l.frames.len());
    let got = store.lap_frames(record.id).await.unwrap();
    prop_assert_eq!(
        got.iter().map(frame_bits).collect::<Vec<_>>(),
        l.frames.iter().map(frame_bits).collect::<Vec<_>>()
    );
    let principal = store.lap_principal_frames(record.id).await.unwrap();
    prop_assert_eq!(
        principal.iter().map(frame_bits).collect::<Vec<_>>(),
        l.frames
            .iter()
            .map(|f| frame_bits(&codec::principal_only(f)))
            .collect::<Vec<_>>()
    );
    let checkpoint = store.checkpoint_lap(s, &l).await.unwrap();
    let got = store.lap_frames(checkpoint.id).await.unwrap();
    prop_assert_eq!(
        got.iter().map(frame_bits).collect::<Vec<_>>(),
        l.frames.iter().map(frame_bits).collect::<Vec<_>>()
    );
    Ok(())
}

fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(future)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn memory_frames_round_trip_bit_exact(l in any_lap()) {
        let backend = memory();
        block_on(check_round_trip(backend.store.clone(), l))?;
    }

    #[test]
    fn sqlite_frames_round_trip_bit_exact(l in any_lap()) {
        let backend = sqlite();
        block_on(check_round_trip(backend.store.clone(), l))?;
    }
}

// ---------------------------------------------------------------------------------------------
// SQLite only
// ---------------------------------------------------------------------------------------------

fn user_version(path: &Path) -> i64 {
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_opens_an_empty_file_and_reopens_a_current_one() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("empty.db");
    std::fs::File::create(&path).unwrap(); // a zero-byte file: schema version 0
    assert_eq!(user_version(&path), 0);
    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(store.path(), Some(path.as_path()));
    let s = store
        .create_session(NewSession::new("v1", SessionSource::Live))
        .await
        .unwrap();
    store
        .save_lap(s.id, &lap(0, 1, LapKind::Flying, 10))
        .await
        .unwrap();
    drop(store);
    assert_eq!(user_version(&path), SqliteStore::SCHEMA_VERSION);

    let conn = rusqlite::Connection::open(&path).unwrap();
    let mode: String = conn
        .pragma_query_value(None, "journal_mode", |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    drop(conn);

    let reopened = SqliteStore::open(&path).unwrap();
    assert_eq!(reopened.list_sessions().await.unwrap(), [s]);
    assert_eq!(reopened.list_laps(None).await.unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_refuses_a_newer_schema() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("future.db");
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch("CREATE TABLE sessions (id INTEGER PRIMARY KEY); PRAGMA user_version = 99;")
        .unwrap();
    drop(conn);
    match SqliteStore::open(&path) {
        Err(StoreError::SchemaTooNew { found, supported }) => {
            assert_eq!((found, supported), (99, SqliteStore::SCHEMA_VERSION));
        }
        other => panic!("expected SchemaTooNew, got {other:?}"),
    }
    // Untouched.
    assert_eq!(user_version(&path), 99);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_survives_a_crash_with_laps_and_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("crash.db");
    let store = SqliteStore::open(&path).unwrap();
    let s = store
        .create_session(NewSession::new("crash", SessionSource::Live))
        .await
        .unwrap();
    let imola = testing::resampled_333hz(&imola());
    let mut saved = Vec::new();
    for number in 1..=3 {
        let l = Lap {
            frames: imola[..4_000 * number as usize].to_vec(),
            ..lap(0, number, LapKind::Flying, 0)
        };
        saved.push((store.save_lap(s.id, &l).await.unwrap(), l));
    }
    let driving = Lap {
        frames: imola[..1_500].to_vec(),
        ..lap(0, 4, LapKind::Flying, 0)
    };
    store.checkpoint_lap(s.id, &driving).await.unwrap();
    let driving = Lap {
        frames: imola[..3_000].to_vec(),
        ..driving
    };
    let checkpoint = store.checkpoint_lap(s.id, &driving).await.unwrap();
    // The crash: the connection is never closed (no WAL checkpoint, no cleanup).
    std::mem::forget(store);
    let wal = dir.path().join("crash.db-wal");
    assert!(
        std::fs::metadata(&wal)
            .map(|m| m.len() > 0)
            .unwrap_or(false),
        "the commits are in the WAL"
    );

    let reopened = SqliteStore::open(&path).unwrap();
    let conn = rusqlite::Connection::open(&path).unwrap();
    let integrity: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(integrity, "ok");
    let laps = reopened.list_laps(Some(s.id)).await.unwrap();
    assert_eq!(laps.len(), 4);
    for (record, l) in &saved {
        assert_eq!(&reopened.get_lap(record.id).await.unwrap(), record);
        assert_bit_exact(&reopened.lap_frames(record.id).await.unwrap(), &l.frames);
    }
    let left = reopened.get_lap(checkpoint.id).await.unwrap();
    assert!(
        left.in_progress,
        "the checkpoint survives, still marked in progress"
    );
    assert_eq!(left.kind, LapKind::Partial);
    assert_eq!(left.frame_count, 3_000);
    assert_bit_exact(
        &reopened.lap_frames(left.id).await.unwrap(),
        &driving.frames,
    );
    // A recorder resuming the session closes it into a finished partial lap.
    let closed = reopened.close_checkpoint(s.id).await.unwrap().unwrap();
    assert_eq!(closed.id, checkpoint.id);
    assert!(!closed.in_progress);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_reports_corrupt_telemetry_with_the_lap_id() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("corrupt.db");
    let store = SqliteStore::open(&path).unwrap();
    let s = store
        .create_session(NewSession::new("c", SessionSource::Live))
        .await
        .unwrap();
    let a = store
        .save_lap(s.id, &lap(0, 1, LapKind::Flying, 50))
        .await
        .unwrap();
    let b = store
        .save_lap(s.id, &lap(0, 2, LapKind::Flying, 50))
        .await
        .unwrap();
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute(
        "UPDATE lap_telemetry SET principal = X'4A534F4E' WHERE lap_id = ?1",
        [a.id.0],
    )
    .unwrap();
    let mut rest: Vec<u8> = conn
        .query_row(
            "SELECT rest FROM lap_telemetry WHERE lap_id = ?1",
            [b.id.0],
            |r| r.get(0),
        )
        .unwrap();
    rest[4] = 7; // the version byte
    conn.execute(
        "UPDATE lap_telemetry SET rest = ?2 WHERE lap_id = ?1",
        rusqlite::params![b.id.0, rest],
    )
    .unwrap();
    let c = store
        .save_lap(s.id, &lap(0, 3, LapKind::Flying, 5))
        .await
        .unwrap();
    conn.execute(
        "UPDATE lap_telemetry SET principal = 'text' WHERE lap_id = ?1",
        [c.id.0],
    )
    .unwrap();
    drop(conn);
    // Lists never touch telemetry.
    assert_eq!(store.list_laps(Some(s.id)).await.unwrap().len(), 3);
    match store.lap_frames(a.id).await {
        Err(StoreError::CorruptTelemetry { lap, source }) => {
            assert_eq!(lap, a.id);
            assert_eq!(source, CodecError::BadMagic { found: *b"JSON" });
        }
        other => panic!("expected CorruptTelemetry, got {other:?}"),
    }
    match store.lap_frames(b.id).await {
        Err(StoreError::CorruptTelemetry { lap, source }) => {
            assert_eq!(lap, b.id);
            assert_eq!(
                source,
                CodecError::UnsupportedVersion {
                    found: 7,
                    supported: codec::VERSION
                }
            );
        }
        other => panic!("expected CorruptTelemetry, got {other:?}"),
    }
    // The principal blob of b is fine.
    assert_eq!(store.lap_principal_frames(b.id).await.unwrap().len(), 50);
    assert!(matches!(
        store.lap_principal_frames(c.id).await,
        Err(StoreError::CorruptRow { table: "lap_telemetry", id, column: "principal" }) if id == c.id.0
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_reports_suggestions_it_cannot_read_instead_of_dropping_them() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("suggestions.db");
    let store = SqliteStore::open(&path).unwrap();
    let s = store
        .create_session(NewSession::new("c", SessionSource::Live))
        .await
        .unwrap();
    let a = store
        .save_lap(s.id, &lap(0, 1, LapKind::Flying, 5))
        .await
        .unwrap();
    let conn = rusqlite::Connection::open(&path).unwrap();
    // The original app's free-form shape, not ours.
    conn.execute(
        r#"UPDATE laps SET analyzed = 1, suggestions = '[{"text": "brake later"}]' WHERE id = ?1"#,
        [a.id.0],
    )
    .unwrap();
    drop(conn);
    assert!(matches!(
        store.get_lap(a.id).await,
        Err(StoreError::CorruptRow { table: "laps", id, column: "suggestions" }) if id == a.id.0
    ));
}

/// After a crash mid-lap (the last checkpoint over 30 s old): the lap in progress becomes a
/// partial lap with its frames, its session `paused`; a session still being checkpointed is
/// left alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_recovers_laps_left_in_progress_by_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("crashed.db");
    let store = SqliteStore::open(&path).unwrap();
    let crashed = session(&(Arc::new(store.clone()) as Arc<dyn Store>), "crashed").await;
    let live = session(&(Arc::new(store.clone()) as Arc<dyn Store>), "live").await;
    for s in [crashed, live] {
        store
            .checkpoint_lap(s, &lap(0, 2, LapKind::Partial, 30))
            .await
            .unwrap();
    }
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute(
        "UPDATE sessions SET updated_ms = updated_ms - 60000 WHERE id = ?1",
        [crashed.0],
    )
    .unwrap();
    drop(conn);
    let reopened = SqliteStore::open(&path).unwrap();
    assert_eq!(recover_interrupted(&reopened).await.unwrap(), [crashed]);
    let laps = reopened.list_laps(Some(crashed)).await.unwrap();
    assert_eq!(laps.len(), 1);
    assert!(!laps[0].in_progress && laps[0].kind == LapKind::Partial);
    assert_eq!(reopened.lap_frames(laps[0].id).await.unwrap().len(), 30);
    assert_eq!(
        reopened.get_session(crashed).await.unwrap().status,
        SessionStatus::Paused
    );
    let live_laps = reopened.list_laps(Some(live)).await.unwrap();
    assert!(live_laps[0].in_progress, "a live recording is left alone");
    assert_eq!(recover_interrupted(&reopened).await.unwrap(), []);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_migrates_a_version_4_file_to_track_maps() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v4.db");
    let store = SqliteStore::open(&path).unwrap();
    let s = store
        .create_session(NewSession::new("old", SessionSource::Live))
        .await
        .unwrap();
    let a = store
        .save_lap(s.id, &lap(0, 1, LapKind::Flying, 5))
        .await
        .unwrap();
    drop(store);
    // What version 4 (accounts) had: no track maps.
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute_batch("DROP TABLE track_maps; PRAGMA user_version = 4;")
        .unwrap();
    drop(conn);
    assert_eq!(user_version(&path), 4);
    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(user_version(&path), SqliteStore::SCHEMA_VERSION);
    assert_eq!(SqliteStore::SCHEMA_VERSION, 5);
    assert_eq!(store.get_lap(a.id).await.unwrap(), a);
    let map = track_map("imola", "", 7);
    store.save_track_map(&map).await.unwrap();
    assert_eq!(store.get_track_map("imola", "").await.unwrap(), Some(map));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_reports_a_track_map_it_cannot_read() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("maps.db");
    let store = SqliteStore::open(&path).unwrap();
    store
        .save_track_map(&track_map("imola", "", 7))
        .await
        .unwrap();
    store
        .save_track_map(&track_map("monza", "", 3))
        .await
        .unwrap();
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute(
        "UPDATE track_maps SET map = '{\"corners\": 3}' WHERE track = 'imola'",
        [],
    )
    .unwrap();
    // A map whose key columns disagree with its JSON is corrupt too.
    conn.execute(
        "UPDATE track_maps SET track = 'Monza' WHERE track = 'monza'",
        [],
    )
    .unwrap();
    drop(conn);
    for (track, result) in [
        ("imola", store.get_track_map("imola", "").await),
        ("Monza", store.get_track_map("Monza", "").await),
    ] {
        assert!(
            matches!(&result, Err(StoreError::CorruptTrackMap { track: t, config }) if t == track && config.is_empty()),
            "{result:?}"
        );
    }
    assert!(matches!(
        store.list_track_maps().await,
        Err(StoreError::CorruptTrackMap { .. })
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_keeps_foreign_keys_and_wal() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pragmas.db");
    let store = SqliteStore::open(&path).unwrap();
    let s = store
        .create_session(NewSession::new("p", SessionSource::Live))
        .await
        .unwrap();
    store
        .save_lap(s.id, &lap(0, 1, LapKind::Flying, 3))
        .await
        .unwrap();
    let conn = rusqlite::Connection::open(&path).unwrap();
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(
        tables,
        [
            "chat_messages",
            "lap_telemetry",
            "laps",
            "leases",
            "malformed_datagrams",
            "sessions",
            "track_maps",
            "users"
        ]
    );
    // The schema refuses a second lap in progress for one session.
    conn.pragma_update(None, "foreign_keys", true).unwrap();
    let insert = "INSERT INTO laps (session_id, stint, number, kind, valid, frame_count, in_progress, created_ms)
                  VALUES (?1, 0, 9, 'partial', 1, 0, 1, 0)";
    conn.execute(insert, [s.id.0]).unwrap();
    assert!(conn.execute(insert, [s.id.0]).is_err());
    // And a lap for a session that does not exist.
    assert!(conn.execute(insert, [9_999]).is_err());
}

#[test]
fn default_db_path_is_a_db_file() {
    if std::env::var_os("PURPLE_SECTOR_DB").is_some() {
        return;
    }
    let path = purple_sector_core::store::default_db_path();
    assert!(
        path.extension().is_some_and(|e| e == "db"),
        "{}",
        path.display()
    );
}
