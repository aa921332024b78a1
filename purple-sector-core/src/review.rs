//! Reviewing stored laps: choose the reference, load the telemetry, run the analysis, and —
//! with [`review`] — let an [`Analyzer`] advise and keep its suggestions on the lap.
//!
//! The one path from [`store`](crate::store) to [`analysis`](crate::analysis) that the CLI's
//! `analyze`, `compare`, `chat`, `plot` and `demo` and the server's
//! `/api/laps/{id}/analyze` and `/api/chat` share.

use crate::analysis::{
    Analysis, AnalysisError, Analyzer, AnalyzerError, LapTrace, Suggestion, analyze_against_ideal,
    analyze_traces, detect_corners,
};
use crate::store::{LapId, LapRecord, LapUpdate, SessionId, Store, StoreError, best_lap};

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
    /// Who wrote them: the engine's name (`heuristic`, `openai`), or `stored` when they are
    /// the lap's earlier ones ([`review_cached`]).
    pub engine: &'static str,
    /// What the engine wants the user to know (a fallback and why), if anything.
    pub note: Option<String>,
}

async fn trace_of(
    store: &dyn Store,
    lap: &LapRecord,
    length_m: Option<f64>,
) -> Result<LapTrace, ReviewError> {
    let frames = store.lap_principal_frames(lap.id).await?;
    let trace = match length_m {
        Some(length) => LapTrace::with_length(&frames, lap.time_ms(), length),
        None => LapTrace::new(&frames, lap.time_ms()),
    };
    trace.map_err(|source| ReviewError::Analysis {
        lap: lap.id,
        source,
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

/// Compares lap `id` with `against`: the fact table, no advice.
pub async fn compare(
    store: &dyn Store,
    id: LapId,
    against: Against,
) -> Result<Comparison, ReviewError> {
    let lap = store.get_lap(id).await?;
    let reference = match against {
        Against::Lap(r) => Some(store.get_lap(r).await?),
        Against::Best | Against::Ideal => {
            let laps = comparable_laps(store, lap.session).await?;
            best_lap(laps.iter().filter(|l| l.id != lap.id)).cloned()
        }
    };
    let Some(reference) = reference else {
        return Err(ReviewError::NoReference {
            session: lap.session,
            lap: id,
        });
    };
    let reference_trace = trace_of(store, &reference, None).await?;
    let length = Some(reference_trace.length_m());
    let lap_trace = trace_of(store, &lap, length).await?;
    let corners = detect_corners(&reference_trace);
    let (analysis, reference_id) = if against == Against::Ideal {
        let mut traces = Vec::new();
        for l in ranked_laps(store, lap.session).await? {
            traces.push(trace_of(store, &l, length).await?);
        }
        match analyze_against_ideal(&lap_trace, &traces, &corners) {
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
            analyze_traces(&lap_trace, &reference_trace, &corners),
            Some(reference.id),
        )
    };
    Ok(Comparison {
        lap,
        reference_id,
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
        comparison,
        suggestions: advice.suggestions,
        engine: advice.engine,
        note: advice.note,
    })
}
