//! A lap's time and where it comes from: the game's, or the lap clock of a lap that runs
//! from the line to the line.

use serde::{Deserialize, Serialize};

use crate::telemetry::Frame;

/// Where a lap's time comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LapTimeSource {
    /// The game's: its `lastLap` when the lap completed, or its lap-completed event.
    Official,
    /// The lap clock of a lap whose frames run from the line to the line: the last frame's
    /// clock plus the time from there to the line at its speed ([`line_to_line_time_ms`]).
    Telemetry,
}

impl LapTimeSource {
    /// `official` or `telemetry`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Official => "official",
            Self::Telemetry => "telemetry",
        }
    }

    /// The source for its name.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "official" => Some(Self::Official),
            "telemetry" => Some(Self::Telemetry),
            _ => None,
        }
    }
}

impl std::fmt::Display for LapTimeSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A lap's time, ms, and its source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct LapTime {
    /// The time, ms.
    pub ms: i32,
    /// Where it comes from.
    pub source: LapTimeSource,
}

impl LapTime {
    /// The game's time.
    pub const fn official(ms: i32) -> Self {
        Self {
            ms,
            source: LapTimeSource::Official,
        }
    }

    /// A time from the lap clock.
    pub const fn telemetry(ms: i32) -> Self {
        Self {
            ms,
            source: LapTimeSource::Telemetry,
        }
    }
}

/// How far the line may be from a lap's last frame for the lap to count as run to the line,
/// s of travel: a few frames of any feed (the logger writes a row a metre, ~15 ms at speed).
pub const MAX_TIME_TO_LINE_S: f64 = 0.25;

/// How far into the lap its first frame may be for the lap to count as begun at the line,
/// ms (as the segmenter's `line_window_ms`).
pub const MAX_START_CLOCK_MS: i32 = 400;

/// The lap time from the lap clock of frames that run from the line to the line: the last
/// frame's clock plus the time from it to the line at its speed. `None` when the frames do
/// not begin at the line (first clock above [`MAX_START_CLOCK_MS`]) or do not reach it (the
/// line more than [`MAX_TIME_TO_LINE_S`] of travel beyond the last frame).
///
/// The line is where the lap clock was 0: the first frame's clock before the first frame.
/// With world coordinates, the distance from the last frame round to the first, less the
/// first frame's clock at speed, is the way to the line; without them, the rest of the lap
/// by track position, with the lap's length from its speed.
///
/// ```
/// use purple_sector_core::lap::line_to_line_time_ms;
/// use purple_sector_core::telemetry::Frame;
///
/// // A 1 km loop at 50 m/s; samples every 100 ms from 10 ms after the line to 20 ms before it.
/// let frames: Vec<Frame> = (0..200)
///     .map(|k| {
///         let t_ms = 10 + 100 * k;
///         let angle = f64::from(t_ms) / 20_000.0 * std::f64::consts::TAU;
///         let r_m = 1_000.0 / std::f64::consts::TAU;
///         Frame {
///             lap_time_ms: t_ms,
///             speed_ms: 50.0,
///             position_normalized: t_ms as f32 / 20_000.0,
///             world_m: [(r_m * angle.cos()) as f32, 0.0, (r_m * angle.sin()) as f32],
///             ..Frame::default()
///         }
///     })
///     .collect();
/// assert_eq!(frames.last().unwrap().lap_time_ms, 19_910);
/// let time = line_to_line_time_ms(&frames).unwrap();
/// assert!((time - 20_000).abs() <= 2, "{time}");
/// // Stopped half way round: no time.
/// assert_eq!(line_to_line_time_ms(&frames[..100]), None);
/// ```
pub fn line_to_line_time_ms(frames: &[Frame]) -> Option<i32> {
    let (first, last) = (frames.first()?, frames.last()?);
    if !(0..=MAX_START_CLOCK_MS).contains(&first.lap_time_ms) || last.lap_time_ms <= 0 {
        return None;
    }
    let first_clock_s = f64::from(first.lap_time_ms) / 1000.0;
    let has_path = frames.iter().any(|f| f.world_m != [0.0; 3]);
    let time_to_line_s = if has_path {
        let speed_ms = f64::from(first.speed_ms.max(0.0) + last.speed_ms.max(0.0)) / 2.0;
        if speed_ms < 1.0 {
            return None;
        }
        let path_m: f64 = frames.windows(2).map(|w| xz_distance_m(&w[0], &w[1])).sum();
        let round_m = xz_distance_m(last, first);
        // A lap, not a stretch of road: the way round to the first frame is a sliver of it.
        if path_m < 100.0 || round_m > path_m * 0.05 {
            return None;
        }
        round_m / speed_ms - first_clock_s
    } else {
        let (p_first, p_last) = (
            f64::from(first.position_normalized),
            f64::from(last.position_normalized),
        );
        let covered = p_last - p_first;
        let speed_ms = f64::from(last.speed_ms.max(0.0));
        if !(0.9..=1.0).contains(&covered) || !(0.0..=1.0).contains(&p_last) || speed_ms < 1.0 {
            return None;
        }
        let driven_m: f64 = frames
            .windows(2)
            .map(|w| {
                let dt_s = f64::from(w[1].lap_time_ms.saturating_sub(w[0].lap_time_ms).max(0));
                f64::from(w[0].speed_ms + w[1].speed_ms) / 2.0 * dt_s / 1000.0
            })
            .sum();
        let length_m = driven_m / covered;
        (1.0 - p_last) * length_m / speed_ms
    };
    if !time_to_line_s.is_finite() || time_to_line_s > MAX_TIME_TO_LINE_S {
        return None;
    }
    let time_ms = f64::from(last.lap_time_ms) + time_to_line_s.max(0.0) * 1000.0;
    // Never shorter than the last clock reading: the clock ran at least that long.
    Some((time_ms.round() as i32).max(last.lap_time_ms))
}

fn xz_distance_m(a: &Frame, b: &Frame) -> f64 {
    let dx = f64::from(a.world_m[0]) - f64::from(b.world_m[0]);
    let dz = f64::from(a.world_m[2]) - f64::from(b.world_m[2]);
    dx.hypot(dz)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::logger::LoggerLap;

    fn logged(tsv: &str) -> Vec<Frame> {
        LoggerLap::parse(tsv)
            .unwrap()
            .car_infos(0)
            .map(|car| Frame::from_owned_car_info(&car, 0))
            .collect()
    }

    /// The real Imola laps: clocks last read 109.524 s and 108.645 s, about 20 and 30 ms
    /// short of the line.
    #[test]
    fn the_real_laps_get_their_time_from_the_clock() {
        let lap0 = logged(include_str!("../../tests/fixtures/imola-c7r-lap0.tsv"));
        let lap2 = logged(include_str!("../../tests/fixtures/imola-c7r-lap2.tsv"));
        let t0 = line_to_line_time_ms(&lap0).unwrap();
        let t2 = line_to_line_time_ms(&lap2).unwrap();
        assert!((t0 - 109_540).abs() <= 15, "lap 0: {t0} ms");
        assert!((t2 - 108_670).abs() <= 15, "lap 2: {t2} ms");
        // Half a lap is no lap.
        assert_eq!(line_to_line_time_ms(&lap0[..lap0.len() / 2]), None);
        // Nor one that starts mid-lap.
        assert_eq!(line_to_line_time_ms(&lap0[100..]), None);
    }

    /// Without coordinates: by track position, the lap's length from its speed.
    #[test]
    fn without_coordinates_the_track_position_tells_the_way_to_the_line() {
        // 2 km at 40 m/s (50 s); a frame every 30 ms from 5 ms after the line.
        let frames: Vec<Frame> = (0..1_666)
            .map(|k| {
                let t_ms = 5 + 30 * k;
                Frame {
                    lap_time_ms: t_ms,
                    speed_ms: 40.0,
                    position_normalized: t_ms as f32 / 50_000.0,
                    ..Frame::default()
                }
            })
            .collect();
        assert_eq!(frames.last().unwrap().lap_time_ms, 49_955);
        let time = line_to_line_time_ms(&frames).unwrap();
        assert!((time - 50_000).abs() <= 3, "{time}");
        assert_eq!(line_to_line_time_ms(&frames[..1_500]), None);
    }

    #[test]
    fn names_round_trip() {
        for s in [LapTimeSource::Official, LapTimeSource::Telemetry] {
            assert_eq!(LapTimeSource::parse(s.as_str()), Some(s));
        }
        assert_eq!(
            serde_json::to_string(&LapTime::telemetry(108_670)).unwrap(),
            r#"{"ms":108670,"source":"telemetry"}"#
        );
    }
}
