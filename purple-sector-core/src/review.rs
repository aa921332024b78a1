//! Reviewing stored laps: choose the reference, load the telemetry, run the analysis.
//!
//! The glue between [`store`](crate::store) and [`analysis`](crate::analysis) that the CLI's
//! `analyze`/`chat`/`plot` and the server's `/api/laps/{id}/analyze` share.

use crate::analysis::{
    Analysis, AnalysisError, LapTrace, analyze_against_ideal, analyze_traces, detect_corners,
};
use crate::store::{LapId, LapRecord, SessionId, Store, StoreError};

/// What a lap is compared with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Against {
    /// A given lap.
    Lap(LapId),
    /// The best valid lap of the session other than this one.
    Best,
    /// The best segments of the session's valid laps.
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
    /// The session has no other valid lap with an official time.
    #[error("session {session} has no other valid lap with a time to compare lap {lap} with")]
    NoReference {
        /// The session.
        session: SessionId,
        /// The lap to review.
        lap: LapId,
    },
    /// A lap's telemetry cannot be analysed.
    #[error("lap {lap} cannot be analysed: {source}")]
    Analysis {
        /// The lap.
        lap: LapId,
        /// Why.
        #[source]
        source: AnalysisError,
    },
}

/// A reviewed lap: its record, the reference, both traces and the analysis.
#[derive(Debug, Clone)]
pub struct Review {
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

async fn trace_of(
    store: &dyn Store,
    lap: &LapRecord,
    length_m: Option<f64>,
) -> Result<LapTrace, ReviewError> {
    let frames = store.lap_principal_frames(lap.id).await?;
    let trace = match length_m {
        Some(length) => LapTrace::with_length(&frames, lap.official_time_ms, length),
        None => LapTrace::new(&frames, lap.official_time_ms),
    };
    trace.map_err(|source| ReviewError::Analysis {
        lap: lap.id,
        source,
    })
}

/// The session's valid, finished laps with an official time, fastest first.
pub async fn valid_laps(
    store: &dyn Store,
    session: SessionId,
) -> Result<Vec<LapRecord>, StoreError> {
    let mut laps: Vec<LapRecord> = store
        .list_laps(Some(session))
        .await?
        .into_iter()
        .filter(|l| l.valid && !l.in_progress && l.official_time_ms.is_some())
        .collect();
    laps.sort_by_key(|l| l.official_time_ms);
    Ok(laps)
}

/// Reviews lap `id` against `against`.
pub async fn review(store: &dyn Store, id: LapId, against: Against) -> Result<Review, ReviewError> {
    let lap = store.get_lap(id).await?;
    let reference = match against {
        Against::Lap(r) => Some(store.get_lap(r).await?),
        Against::Best | Against::Ideal => valid_laps(store, lap.session)
            .await?
            .into_iter()
            .find(|l| l.id != lap.id),
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
        for l in valid_laps(store, lap.session).await? {
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
    Ok(Review {
        lap,
        reference_id,
        lap_trace,
        reference_trace,
        analysis,
    })
}
