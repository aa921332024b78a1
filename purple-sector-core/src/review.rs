//! Reviewing stored laps: choose the reference, get the track's map, load the telemetry, run
//! the analysis, and — with [`review`] — let an [`Analyzer`] advise and keep its suggestions
//! on the lap; with [`review_session`], a session's habits and ideal lap.
//!
//! The one path from [`store`](crate::store) to [`analysis`](crate::analysis) that the CLI's
//! `analyze`, `compare`, `chat`, `plot`, `tracks` and `demo` and the server's
//! `/api/laps/{id}/analyze` and `/api/chat` share.
//!
//! # The track map
//!
//! Every lap of a track and layout is analysed on its [`TrackMap`] ([`track_map`]): the one
//! kept in the store, built the first time from the first [`MAP_LAPS`] clean laps driven
//! there (valid flying laps with a time, oldest first, any car and session) and kept. Both
//! laps of a comparison are put on the map's length, so the same corner has the same id and
//! name whatever the reference, and `compare A B` is `compare B A` with the signs flipped.
//! A lap whose session knows no track gets a map of its session's first clean laps (not
//! kept); with no clean lap at all, one of the two laps compared.

use crate::analysis::{
    Analysis, AnalysisError, Analyzer, AnalyzerError, Habit, IdealLap, LapTrace, Strength,
    Suggestion, Thresholds, analyze_against_ideal, analyze_traces, habits_with,
    heuristic_strengths, heuristic_suggestions, ideal_lap,
};
use crate::lap::LapKind;
use crate::store::{LapId, LapRecord, LapUpdate, Session, SessionId, Store, StoreError, best_lap};
use crate::track::{MAP_LAPS, TrackMap, TrackMapError};

/// What a lap is compared with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Against {
    /// A given lap.
    Lap(LapId),
    /// The best lap ([`best_lap`]) other than this one of the same track, layout and car,
    /// in any session (of the lap's own session when it does not know its track and car).
    Best,
    /// The best segments of those laps (this one included) that rank.
    Ideal,
}

impl std::str::FromStr for Against {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "best" => Ok(Self::Best),
            "ideal" => Ok(Self::Ideal),
            id => id
                .parse()
                .map(Self::Lap)
                .map_err(|_| format!("expected a lap id, best or ideal, got {id:?}")),
        }
    }
}

/// Why a lap cannot be reviewed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReviewError {
    /// The store failed, or a lap does not exist.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// No other lap that ranks (valid, flying, timed) of the same track and car.
    #[error(
        "no other valid flying lap with a time of the same track and car (session {session}) to compare lap {lap} with"
    )]
    NoReference {
        /// The session.
        session: SessionId,
        /// The lap to review.
        lap: LapId,
    },
    /// A lap's telemetry cannot be analysed.
    #[error("lap {lap} cannot be analysed")]
    Analysis {
        /// The lap.
        lap: LapId,
        /// Why.
        #[source]
        source: AnalysisError,
    },
    /// A lap is not on its track's map: another track, or another layout.
    #[error(
        "lap {lap} is {lap_m:.0} m long, the map of track {track:?} {map_m:.0} m: not the same track or layout"
    )]
    NotOnMap {
        /// The lap.
        lap: LapId,
        /// Its length, m.
        lap_m: f64,
        /// The track.
        track: String,
        /// The map's length, m.
        map_m: f64,
    },
    /// A track map could not be built.
    #[error("cannot build the map of track {track:?}")]
    Map {
        /// The track.
        track: String,
        /// Why.
        #[source]
        source: TrackMapError,
    },
    /// The analyzer (and its fallback) could not make suggestions.
    #[error("no suggestions for lap {lap}")]
    Advice {
        /// The lap.
        lap: LapId,
        /// Why.
        #[source]
        source: AnalyzerError,
    },
}

/// A lap next to its reference: both records' traces and the fact table.
#[derive(Debug, Clone)]
pub struct Comparison {
    /// The lap.
    pub lap: LapRecord,
    /// The reference lap (`None` against the ideal lap).
    pub reference_id: Option<LapId>,
    /// The reference's record (for the ideal lap: the best lap's).
    pub reference: LapRecord,
    /// The track's map both laps were analysed on.
    pub map: TrackMap,
    /// The lap on the distance grid.
    pub lap_trace: LapTrace,
    /// The reference (for the ideal lap: the session's best lap) on the grid.
    pub reference_trace: LapTrace,
    /// The fact table.
    pub analysis: Analysis,
}

/// A reviewed lap: the comparison and the advice, as kept on the lap.
#[derive(Debug, Clone)]
pub struct Review {
    /// The lap against its reference.
    pub comparison: Comparison,
    /// The suggestions, ranked.
    pub suggestions: Vec<Suggestion>,
    /// Where the lap gained ([`heuristic_strengths`]), largest first.
    pub strengths: Vec<Strength>,
    /// Who wrote them: the engine's name (`heuristic`, `openai`), or `stored` when they are
    /// the lap's earlier ones ([`review_cached`]).
    pub engine: &'static str,
    /// What the engine wants the user to know (a fallback and why), if anything.
    pub note: Option<String>,
}

/// A stored lap on the distance grid, from its columns ([`LapTrace::from_columns`]: no
/// frames are made): on its own length when `length_m` is `None`, else on that one; timed by
/// its official time when it has one.
pub async fn stored_trace(
    store: &dyn Store,
    lap: &LapRecord,
    length_m: Option<f64>,
) -> Result<LapTrace, ReviewError> {
    let columns = store.lap_columns(lap.id, &LapTrace::CHANNELS).await?;
    LapTrace::from_columns(&columns, lap.time_ms(), length_m).map_err(|source| {
        ReviewError::Analysis {
            lap: lap.id,
            source,
        }
    })
}

/// The laps a lap is compared with by default: every lap of the same track, layout and car,
/// in any session; only its own session's when its session knows neither track nor car.
pub async fn comparable_laps(
    store: &dyn Store,
    session: SessionId,
) -> Result<Vec<LapRecord>, StoreError> {
    let own = store.get_session(session).await?;
    if own.track.is_empty() && own.car.is_empty() {
        return store.list_laps(Some(session)).await;
    }
    let mut laps = Vec::new();
    for s in store.list_sessions().await? {
        if s.track == own.track && s.track_config == own.track_config && s.car == own.car {
            laps.extend(store.list_laps(Some(s.id)).await?);
        }
    }
    Ok(laps)
}

/// The laps that rank ([`LapRecord::ranking_time_ms`]) among those a lap of `session` is
/// compared with ([`comparable_laps`]), fastest first.
pub async fn ranked_laps(
    store: &dyn Store,
    session: SessionId,
) -> Result<Vec<LapRecord>, StoreError> {
    let mut laps: Vec<LapRecord> = comparable_laps(store, session)
        .await?
        .into_iter()
        .filter(|l| l.ranking_time_ms().is_some())
        .collect();
    laps.sort_by_key(|l| (l.ranking_time_ms(), l.id));
    Ok(laps)
}

/// The laps a track map is built from: the first [`MAP_LAPS`] that rank (valid, flying,
/// timed), oldest first, of every session of `session`'s track and layout (any car); of
/// `session` alone when it knows no track.
async fn map_laps(store: &dyn Store, session: &Session) -> Result<Vec<LapRecord>, StoreError> {
    let mut laps = Vec::new();
    if session.track.is_empty() {
        laps = store.list_laps(Some(session.id)).await?;
    } else {
        for s in store.list_sessions().await? {
            if s.track == session.track && s.track_config == session.track_config {
                laps.extend(store.list_laps(Some(s.id)).await?);
            }
        }
    }
    laps.retain(|l| l.ranking_time_ms().is_some());
    laps.sort_by_key(|l| l.id);
    Ok(laps)
}

/// A map built from `laps` (the first that can be put on one grid, up to [`MAP_LAPS`]);
/// `None` when none can.
async fn build_map(
    store: &dyn Store,
    track: &str,
    config: &str,
    laps: &[LapRecord],
) -> Result<Option<TrackMap>, ReviewError> {
    let mut traces: Vec<LapTrace> = Vec::new();
    let mut ids = Vec::new();
    for lap in laps {
        if traces.len() >= MAP_LAPS {
            break;
        }
        let length = traces.first().map(LapTrace::length_m);
        let Ok(trace) = stored_trace(store, lap, length).await else {
            continue;
        };
        let fits = length.is_none_or(|l| {
            (trace.measured_length_m() / l - 1.0).abs() <= crate::track::MAX_LENGTH_MISMATCH
        });
        if fits {
            traces.push(trace);
            ids.push(lap.id.0);
        }
    }
    if traces.is_empty() {
        return Ok(None);
    }
    let refs: Vec<&LapTrace> = traces.iter().collect();
    let mut map = TrackMap::build(track, config, &refs).map_err(|source| ReviewError::Map {
        track: track.to_owned(),
        source,
    })?;
    map.built_from = ids;
    Ok(Some(map))
}

/// The map of `session`'s track and layout: the one kept in the store (when it was built by
/// this build's rules); else one built from the first clean laps of the track
/// ([`MAP_LAPS`], any car), kept for every later lap. For a session without a track, a map
/// of its own first clean laps, not kept. `None` when there is no clean lap to build from.
pub async fn track_map(
    store: &dyn Store,
    session: SessionId,
) -> Result<Option<TrackMap>, ReviewError> {
    let session = store.get_session(session).await?;
    if !session.track.is_empty() {
        if let Some(map) = store
            .get_track_map(&session.track, &session.track_config)
            .await?
            .filter(TrackMap::is_current)
        {
            return Ok(Some(map));
        }
    }
    let laps = map_laps(store, &session).await?;
    let map = build_map(store, &session.track, &session.track_config, &laps).await?;
    if let Some(map) = &map {
        if !session.track.is_empty() {
            store.save_track_map(map).await?;
        }
    }
    Ok(map)
}

/// Rebuilds the map of a track and layout from its first clean laps now in the store, and
/// keeps it (replacing the old one). `None`, and the old map (if any) kept, when the track
/// has no clean lap.
pub async fn rebuild_track_map(
    store: &dyn Store,
    track: &str,
    config: &str,
) -> Result<Option<TrackMap>, ReviewError> {
    let session = store
        .list_sessions()
        .await?
        .into_iter()
        .find(|s| s.track == track && s.track_config == config);
    let laps = match &session {
        Some(s) => map_laps(store, s).await?,
        None => Vec::new(),
    };
    let map = build_map(store, track, config, &laps).await?;
    if let Some(map) = &map {
        store.save_track_map(map).await?;
    }
    Ok(map)
}

/// The map the built-in game should name its corners by on `track` (its mistakes, its
/// report), so that it speaks of the corners the coach will: the store's map of the track
/// (no layout) when it was built by this build's rules and fits the track's length; else one
/// built from the track's clean laps in the store; else the simulator's own
/// ([`crate::sim::track_map`]: its ideal lap in `car`), kept in the store for the laps it
/// is about to drive. A stored map that does not fit the simulator's track (another layout
/// under the same name) is left as it is, and the simulator's own used.
#[cfg(feature = "sim")]
pub async fn simulator_map(
    store: &dyn Store,
    track: &crate::sim::Track,
    car: &crate::sim::Car,
) -> Result<TrackMap, ReviewError> {
    let name = track.name();
    let stored = store
        .get_track_map(name, "")
        .await?
        .filter(TrackMap::is_current);
    let own = || {
        crate::sim::track_map(track, car).map_err(|source| ReviewError::Map {
            track: name.to_owned(),
            source,
        })
    };
    match stored {
        Some(map) if map.fits(track.length_m()) => return Ok(map),
        Some(_) => return own(),
        None => {}
    }
    if let Some(map) = rebuild_track_map(store, name, "").await? {
        if map.fits(track.length_m()) {
            return Ok(map);
        }
        return own();
    }
    let map = own()?;
    store.save_track_map(&map).await?;
    Ok(map)
}

/// True when `lap` follows the previous lap of its stint without a break: that lap is in the
/// store, finished, with the number before.
async fn follows_previous_lap(store: &dyn Store, lap: &LapRecord) -> Result<bool, StoreError> {
    Ok(store.list_laps(Some(lap.session)).await?.iter().any(|l| {
        l.stint == lap.stint && l.number.checked_add(1) == Some(lap.number) && !l.in_progress
    }))
}

/// The reference `against` means for `lap`.
async fn reference_for(
    store: &dyn Store,
    lap: &LapRecord,
    against: Against,
) -> Result<LapRecord, ReviewError> {
    let reference = match against {
        Against::Lap(r) => Some(store.get_lap(r).await?),
        Against::Best | Against::Ideal => {
            let laps = comparable_laps(store, lap.session).await?;
            best_lap(laps.iter().filter(|l| l.id != lap.id)).cloned()
        }
    };
    reference.ok_or(ReviewError::NoReference {
        session: lap.session,
        lap: lap.id,
    })
}

/// Compares lap `id` with `against` on its track's map ([`track_map`]): the fact table, no
/// advice. Out, in and partial laps are compared too, and say so ([`Analysis::lap_kind`]);
/// they are never the default reference ([`best_lap`]).
pub async fn compare(
    store: &dyn Store,
    id: LapId,
    against: Against,
) -> Result<Comparison, ReviewError> {
    let lap = store.get_lap(id).await?;
    let reference = reference_for(store, &lap, against).await?;
    let (map, reference_trace, lap_trace) = match track_map(store, lap.session).await? {
        Some(map) => {
            let length = Some(map.length_m);
            let reference_trace = stored_trace(store, &reference, length).await?;
            let lap_trace = stored_trace(store, &lap, length).await?;
            (map, reference_trace, lap_trace)
        }
        None => {
            // No clean lap to build a map from: the reference is the map.
            let reference_trace = stored_trace(store, &reference, None).await?;
            let lap_trace = stored_trace(store, &lap, Some(reference_trace.length_m())).await?;
            let session = store.get_session(lap.session).await?;
            let map = TrackMap::build(&session.track, &session.track_config, &[&reference_trace])
                .map_err(|source| ReviewError::Map {
                track: session.track.clone(),
                source,
            })?;
            (map, reference_trace, lap_trace)
        }
    };
    for (record, trace) in [(&lap, &lap_trace), (&reference, &reference_trace)] {
        if !map.fits(trace.measured_length_m()) {
            return Err(ReviewError::NotOnMap {
                lap: record.id,
                lap_m: trace.measured_length_m(),
                track: map.track.clone(),
                map_m: map.length_m,
            });
        }
    }
    let length = Some(map.length_m);
    let (mut analysis, reference_id) = if against == Against::Ideal {
        let mut traces = Vec::new();
        for l in ranked_laps(store, lap.session).await? {
            traces.push(stored_trace(store, &l, length).await?);
        }
        match analyze_against_ideal(&lap_trace, &traces, &map.corners) {
            Some((analysis, _)) => (analysis, None),
            None => {
                return Err(ReviewError::NoReference {
                    session: lap.session,
                    lap: id,
                });
            }
        }
    } else {
        (
            analyze_traces(&lap_trace, &reference_trace, &map.corners),
            Some(reference.id),
        )
    };
    analysis.lap_kind = Some(lap.kind);
    analysis.reference_kind = reference_id.map(|_| reference.kind);
    analysis.follows_previous_lap = follows_previous_lap(store, &lap).await?;
    Ok(Comparison {
        lap,
        reference_id,
        reference,
        map,
        lap_trace,
        reference_trace,
        analysis,
    })
}

/// Reviews lap `id` against `against`: compares, lets `analyzer` advise, and keeps the
/// suggestions on the lap (`analyzed` set).
///
/// ```
/// use std::sync::Arc;
/// use purple_sector_core::analysis::HeuristicAnalyzer;
/// use purple_sector_core::lap::{Lap, LapKind, LapTime};
/// use purple_sector_core::review::{Against, review};
/// use purple_sector_core::store::{MemoryStore, NewSession, SessionSource, Store};
/// use purple_sector_core::telemetry::Frame;
///
/// /// A 1 km lap at a steady speed: `lap_ms` to go round.
/// fn lap(number: i32, lap_ms: i32) -> Lap {
///     let frames = (0..=1_000)
///         .map(|k| Frame {
///             position_normalized: k as f32 / 1_000.0,
///             lap_time_ms: lap_ms * k / 1_000,
///             speed_kmh: 3_600.0 / lap_ms as f32 * 1_000.0,
///             speed_ms: 1_000_000.0 / lap_ms as f32,
///             gas: 1.0,
///             world_m: [k as f32, 0.0, 0.0],
///             ..Frame::default()
///         })
///         .collect();
///     Lap { stint: 0, number, kind: LapKind::Flying, invalid_reason: None,
///           time: Some(LapTime::official(lap_ms)), frames }
/// }
///
/// # tokio::runtime::Builder::new_current_thread().build()?.block_on(async {
/// let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
/// let session = store.create_session(NewSession::new("practice", SessionSource::Live)).await?;
/// let best = store.save_lap(session.id, &lap(2, 30_000)).await?;
/// let slower = store.save_lap(session.id, &lap(3, 30_500)).await?;
///
/// let reviewed = review(&*store, slower.id, Against::Best, &HeuristicAnalyzer).await?;
/// assert_eq!(reviewed.comparison.reference_id, Some(best.id));
/// assert!((reviewed.comparison.analysis.gap_s - 0.5).abs() < 0.01);
/// assert_eq!(reviewed.engine, "heuristic");
/// // The suggestions are kept on the lap.
/// let stored = store.get_lap(slower.id).await?;
/// assert!(stored.analyzed);
/// assert_eq!(stored.suggestions, Some(reviewed.suggestions));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub async fn review(
    store: &dyn Store,
    id: LapId,
    against: Against,
    analyzer: &dyn Analyzer,
) -> Result<Review, ReviewError> {
    let comparison = compare(store, id, against).await?;
    advise(store, comparison, analyzer).await
}

/// [`review`], but a lap already analysed keeps its stored suggestions (engine `stored`):
/// the analyzer runs only for a lap that has none.
pub async fn review_cached(
    store: &dyn Store,
    id: LapId,
    against: Against,
    analyzer: &dyn Analyzer,
) -> Result<Review, ReviewError> {
    let comparison = compare(store, id, against).await?;
    match comparison.lap.suggestions.clone() {
        Some(suggestions) if comparison.lap.analyzed => Ok(Review {
            strengths: heuristic_strengths(&comparison.analysis),
            comparison,
            suggestions,
            engine: "stored",
            note: None,
        }),
        _ => advise(store, comparison, analyzer).await,
    }
}

async fn advise(
    store: &dyn Store,
    mut comparison: Comparison,
    analyzer: &dyn Analyzer,
) -> Result<Review, ReviewError> {
    let id = comparison.lap.id;
    let advice = analyzer
        .advise(&comparison.analysis)
        .await
        .map_err(|source| ReviewError::Advice { lap: id, source })?;
    let update = LapUpdate {
        analyzed: Some(true),
        suggestions: Some(Some(advice.suggestions.clone())),
        ..LapUpdate::default()
    };
    comparison.lap = store.update_lap(id, update).await?;
    Ok(Review {
        strengths: heuristic_strengths(&comparison.analysis),
        comparison,
        suggestions: advice.suggestions,
        engine: advice.engine,
        note: advice.note,
    })
}

/// One lap of a session review.
#[derive(Debug, Clone)]
pub struct SessionLap {
    /// The lap.
    pub lap: LapRecord,
    /// Its reference.
    pub reference_id: Option<LapId>,
    /// Lap minus reference, s.
    pub gap_s: f64,
    /// The offline coach's suggestions ([`heuristic_suggestions`]; not kept on the lap).
    pub suggestions: Vec<Suggestion>,
    /// Where it gained.
    pub strengths: Vec<Strength>,
}

/// A session's flying laps, each against its reference, the causes they repeat, and the
/// session's ideal lap.
#[derive(Debug, Clone)]
pub struct SessionReview {
    /// The session.
    pub session: Session,
    /// Its flying laps, in the order driven, each against its reference.
    pub laps: Vec<SessionLap>,
    /// The causes repeated at a corner over the most recent laps ([`habits_with`]).
    pub habits: Vec<Habit>,
    /// The best segments of the session's laps that rank, put together; `None` without any.
    pub ideal: Option<IdealLap>,
    /// The lap each ideal segment came from, by its index in [`IdealLap::segments`].
    pub ideal_laps: Vec<LapId>,
    /// The track's map.
    pub map: Option<TrackMap>,
}

/// Reviews every flying lap of `session` against `against` (each the same way as
/// [`compare`], advised by the offline coach, nothing kept), finds its habits and puts
/// together its ideal lap. Laps that have no reference or cannot be analysed are left out.
pub async fn review_session(
    store: &dyn Store,
    session: SessionId,
    against: Against,
) -> Result<SessionReview, ReviewError> {
    let record = store.get_session(session).await?;
    let mut laps = Vec::new();
    for lap in store.list_laps(Some(session)).await? {
        if lap.kind != LapKind::Flying || lap.in_progress {
            continue;
        }
        let comparison = match compare(store, lap.id, against).await {
            Ok(c) => c,
            Err(ReviewError::NoReference { .. } | ReviewError::Analysis { .. }) => continue,
            Err(ReviewError::NotOnMap { .. }) => continue,
            Err(e) => return Err(e),
        };
        laps.push(SessionLap {
            suggestions: heuristic_suggestions(&comparison.analysis),
            strengths: heuristic_strengths(&comparison.analysis),
            gap_s: comparison.analysis.gap_s,
            reference_id: comparison.reference_id,
            lap: comparison.lap,
        });
    }
    let found = habits_with(
        &laps
            .iter()
            .map(|l| l.suggestions.clone())
            .collect::<Vec<_>>(),
        &Thresholds::default(),
    );
    let map = track_map(store, session).await?;
    let mut ideal = None;
    let mut ideal_laps = Vec::new();
    if let Some(map) = &map {
        let ranked: Vec<LapRecord> = store
            .list_laps(Some(session))
            .await?
            .into_iter()
            .filter(|l| l.ranking_time_ms().is_some())
            .collect();
        let mut traces = Vec::new();
        let mut ids = Vec::new();
        for l in &ranked {
            if let Ok(t) = stored_trace(store, l, Some(map.length_m)).await {
                traces.push(t);
                ids.push(l.id);
            }
        }
        ideal = ideal_lap(&traces, &map.corners);
        if let Some(ideal) = &ideal {
            ideal_laps = ideal
                .segments
                .iter()
                .filter_map(|s| ids.get(s.lap).copied())
                .collect();
        }
    }
    Ok(SessionReview {
        session: record,
        laps,
        habits: found,
        ideal,
        ideal_laps,
        map,
    })
}
