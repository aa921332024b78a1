//! What the dashboard's charts draw, compact: a lap on its distance grid as columns, only the
//! channels drawn, at the resolution asked for, values rounded to what a chart can show.
//!
//! `GET /api/laps/{id}/chart?points=N` (the lap), `GET /api/laps/{id}/ideal/chart?points=N`
//! (the ideal lap of the laps it is compared with, put together segment by segment as the
//! analysis does) and `GET /api/laps/{id}/comparable` (the laps it may be overlaid with).

use axum::Json;
use axum::extract::rejection::{PathRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use purple_sector_core::analysis::{LapTrace, detect_corners, ideal_lap};
use purple_sector_core::review::{
    ReviewError, comparable_laps, ranked_laps, stored_trace, track_map,
};
use purple_sector_core::store::{LapId, LapRecord, best_lap};
use serde::{Deserialize, Serialize};

use crate::AppState;
use crate::api::{LapDto, strict_id};
use crate::error::ApiError;

/// Samples a chart gets unless it asks: about the pixels of a wide screen at dpr 2.
pub const DEFAULT_CHART_POINTS: usize = 2_000;
/// The most samples a chart may ask for (a 1 m grid of a 20 km track).
pub const MAX_CHART_POINTS: usize = 20_000;

/// `?points=N`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChartQuery {
    #[serde(default)]
    points: Option<usize>,
}

impl ChartQuery {
    fn points(&self) -> Result<usize, ApiError> {
        let points = self.points.unwrap_or(DEFAULT_CHART_POINTS);
        if !(2..=MAX_CHART_POINTS).contains(&points) {
            return Err(ApiError::bad_request(format!(
                "points must be in 2..={MAX_CHART_POINTS}, got {points}"
            )));
        }
        Ok(points)
    }
}

/// A lap for the charts: one column per channel, all of one length, on the lap's distance.
#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ChartData {
    /// The lap (`null` for the ideal lap).
    lap_id: Option<i64>,
    /// True for the ideal lap.
    ideal: bool,
    /// The track length the lap is on, m.
    length_m: f64,
    /// Its time, ms.
    lap_time_ms: i32,
    /// Samples per column.
    count: usize,
    /// Distance from the line, m (0.1 m).
    distance_m: Vec<f64>,
    /// Lap clock, s (ms).
    time_s: Vec<f64>,
    /// km/h (0.1).
    speed_kmh: Vec<f64>,
    /// Throttle 0..1 (0.001).
    gas: Vec<f64>,
    /// Brake 0..1 (0.001).
    brake: Vec<f64>,
    /// Steering wheel angle, degrees, positive to the right (0.1).
    steer_deg: Vec<f64>,
    /// Gear: −1 reverse, 0 neutral, 1 …
    gear: Vec<i32>,
    /// Engine speed, rpm (1).
    rpm: Vec<f64>,
    /// World x, m (0.1).
    x: Vec<f64>,
    /// World z, m (0.1).
    z: Vec<f64>,
}

/// `value` to `per_unit`ths (10: one decimal), shortest in JSON.
fn round(value: f64, per_unit: f64) -> f64 {
    if value.is_finite() {
        (value * per_unit).round() / per_unit
    } else {
        0.0
    }
}

/// Every `stride`th index of `0..len`, and the last one (the line) always.
fn picked(len: usize, points: usize) -> Vec<usize> {
    if len == 0 {
        return Vec::new();
    }
    let stride = len.div_ceil(points.max(2) - 1).max(1);
    let mut out: Vec<usize> = (0..len).step_by(stride).collect();
    if out.last() != Some(&(len - 1)) {
        out.push(len - 1);
    }
    out
}

/// One sample of a chart: the channels drawn, at a distance.
struct Sample {
    distance_m: f64,
    time_s: f64,
    speed_kmh: f32,
    gas: f32,
    brake: f32,
    steer_deg: f32,
    gear: i32,
    rpm: f32,
    world_m: [f32; 3],
}

impl ChartData {
    fn push(&mut self, s: &Sample) {
        self.distance_m.push(round(s.distance_m, 10.0));
        self.time_s.push(round(s.time_s, 1000.0));
        self.speed_kmh.push(round(f64::from(s.speed_kmh), 10.0));
        self.gas.push(round(f64::from(s.gas), 1000.0));
        self.brake.push(round(f64::from(s.brake), 1000.0));
        self.steer_deg.push(round(f64::from(s.steer_deg), 10.0));
        self.gear.push(s.gear);
        self.rpm.push(round(f64::from(s.rpm), 1.0));
        self.x.push(round(f64::from(s.world_m[0]), 10.0));
        self.z.push(round(f64::from(s.world_m[2]), 10.0));
        self.count += 1;
    }
}

/// The sample of `trace` at grid index `i`, its time given.
fn sample(trace: &LapTrace, i: usize, time_s: f64) -> Option<Sample> {
    Some(Sample {
        distance_m: trace.distance_m(i),
        time_s,
        speed_kmh: *trace.speed_kmh().get(i)?,
        gas: *trace.gas().get(i)?,
        brake: *trace.brake().get(i)?,
        steer_deg: *trace.steer_deg().get(i)?,
        gear: *trace.gear().get(i)?,
        rpm: *trace.engine_rpm().get(i)?,
        world_m: *trace.world_m().get(i)?,
    })
}

async fn trace_of(
    state: &AppState,
    lap: &LapRecord,
    length_m: Option<f64>,
) -> Result<LapTrace, ApiError> {
    Ok(stored_trace(&*state.store, lap, length_m).await?)
}

fn lap_id(id: Result<Path<String>, PathRejection>) -> Result<LapId, ApiError> {
    let Path(id) = id?;
    Ok(LapId(strict_id(&id, "lap")?))
}

/// `GET /api/laps/{id}/chart?points=N`: the lap on its own length.
pub async fn lap_chart(
    State(state): State<AppState>,
    id: Result<Path<String>, PathRejection>,
    query: Result<Query<ChartQuery>, QueryRejection>,
) -> Result<Json<ChartData>, ApiError> {
    let id = lap_id(id)?;
    let Query(query) = query?;
    let points = query.points()?;
    let lap = state.store.get_lap(id).await?;
    let trace = trace_of(&state, &lap, None).await?;
    let mut out = ChartData {
        lap_id: Some(id.0),
        length_m: round(trace.length_m(), 10.0),
        lap_time_ms: trace.lap_time_ms(),
        ..ChartData::default()
    };
    for i in picked(trace.len(), points) {
        let time_s = trace.time_s().get(i).copied().unwrap_or_default();
        if let Some(s) = sample(&trace, i, time_s) {
            out.push(&s);
        }
    }
    Ok(Json(out))
}

/// `GET /api/laps/{id}/ideal/chart?points=N`: the ideal lap lap `id` is analysed against
/// (`against: "ideal"`) — the best segments of the laps that rank among those it is compared
/// with, on the track map's length and corners (the best other lap's without a map) — each
/// segment drawn from the lap that drove it fastest, its clock running on from the segments
/// before.
pub async fn ideal_chart(
    State(state): State<AppState>,
    id: Result<Path<String>, PathRejection>,
    query: Result<Query<ChartQuery>, QueryRejection>,
) -> Result<Json<ChartData>, ApiError> {
    let id = lap_id(id)?;
    let Query(query) = query?;
    let points = query.points()?;
    let lap = state.store.get_lap(id).await?;
    let no_reference = || -> ApiError {
        ReviewError::NoReference {
            session: lap.session,
            lap: id,
        }
        .into()
    };
    let pool = comparable_laps(&*state.store, lap.session).await?;
    let best = best_lap(pool.iter().filter(|l| l.id != lap.id)).ok_or_else(no_reference)?;
    // The track's map, as the analysis uses it; the best lap's own corners without one.
    let (length, corners) = match track_map(&*state.store, lap.session).await? {
        Some(map) => (map.length_m, map.corners),
        None => {
            let reference = trace_of(&state, best, None).await?;
            (reference.length_m(), detect_corners(&reference))
        }
    };
    let mut traces = Vec::new();
    for l in ranked_laps(&*state.store, lap.session).await? {
        traces.push(trace_of(&state, &l, Some(length)).await?);
    }
    let ideal = ideal_lap(&traces, &corners).ok_or_else(no_reference)?;
    let grid = traces.first().ok_or_else(no_reference)?;
    let mut out = ChartData {
        lap_id: None,
        ideal: true,
        length_m: round(length, 10.0),
        lap_time_ms: ideal.time_ms.round() as i32,
        ..ChartData::default()
    };
    for i in picked(grid.len(), points) {
        let d = grid.distance_m(i);
        let mut before_s = 0.0;
        let mut found = None;
        for (k, segment) in ideal.segments.iter().enumerate() {
            let last = k + 1 == ideal.segments.len();
            if d < segment.end_m || last {
                found = Some(segment);
                break;
            }
            before_s += segment.time_s;
        }
        let Some(segment) = found else { continue };
        let Some(source) = traces.get(segment.lap) else {
            continue;
        };
        let time_s = before_s + source.time_at(d) - source.time_at(segment.start_m);
        if let Some(s) = sample(source, i, time_s) {
            out.push(&s);
        }
    }
    Ok(Json(out))
}

/// `GET /api/laps/{id}/comparable`: the laps of the same track, layout and car in any
/// session (its own session's when it knows neither), the lap itself included.
pub async fn comparable(
    State(state): State<AppState>,
    id: Result<Path<String>, PathRejection>,
) -> Result<Json<Vec<LapDto>>, ApiError> {
    let id = lap_id(id)?;
    let lap = state.store.get_lap(id).await?;
    let laps = comparable_laps(&*state.store, lap.session).await?;
    Ok(Json(laps.into_iter().map(LapDto::from).collect()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn picked_keeps_the_line() {
        assert_eq!(picked(0, 10), Vec::<usize>::new());
        assert_eq!(picked(5, 10), vec![0, 1, 2, 3, 4]);
        let p = picked(4_910, 2_000);
        assert_eq!(p.first(), Some(&0));
        assert_eq!(p.last(), Some(&4_909));
        assert!(p.len() <= 2_001, "{}", p.len());
    }

    #[test]
    fn round_keeps_what_a_chart_shows() {
        assert_eq!(round(123.456, 10.0).to_string(), "123.5");
        assert_eq!(round(f64::NAN, 10.0), 0.0);
    }
}
