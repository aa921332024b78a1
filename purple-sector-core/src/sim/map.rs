//! The simulator's track map: the [`TrackMap`] the coach would build from a clean lap of the
//! track, so that mistakes are named, and reported, at the corners the coach speaks of.

use super::car::Car;
use super::driver::Driver;
use super::simulator::{SimConfig, Simulator};
use super::track::Track;
use crate::analysis::{Corner, LapTrace};
use crate::telemetry::Frame;
use crate::track::{TrackMap, TrackMapError};

/// The frames of one clean flying lap of `track` in `car`: the driver's ideal lap (no
/// lap-to-lap variation), after an out lap, as the game sends it (one frame per 3 ms step),
/// and its time, ms.
pub fn clean_lap_frames(track: &Track, car: &Car) -> (Vec<Frame>, i32) {
    let mut config = SimConfig::new(track.clone());
    config.car = car.clone();
    config.laps = 1;
    let driver = Driver {
        grip_variation: 0.0,
        brake_point_variation_m: 0.0,
        ..Driver::default()
    };
    let mut sim = Simulator::with_driver(config, driver);
    let mut frames = Vec::new();
    while let Some(step) = sim.step() {
        // The flying lap: lap 2, while the game counts one lap done.
        if step.car_info.lap_count == 1 {
            frames.push(Frame::from_owned_car_info(&step.car_info, step.sim_time_ns));
        }
    }
    let time_ms = sim
        .lap_reports()
        .get(1)
        .map_or(0, |report| report.reported_ms);
    (frames, time_ms)
}

/// The map of `track` driven in `car` as the coach builds it ([`TrackMap::build`]), from one
/// clean lap ([`clean_lap_frames`]); named like the stored maps of the track (`imola` has
/// Imola's corner names), no layout, built from no stored lap.
///
/// ```
/// use purple_sector_core::sim::{Car, Track, track_map};
///
/// let map = track_map(&Track::test_circuit(), &Car::default())?;
/// assert_eq!(map.track, "test");
/// assert_eq!(map.corners[0].id, "T1");
/// assert!((map.length_m / Track::test_circuit().length_m() - 1.0).abs() < 0.01);
/// # Ok::<(), purple_sector_core::track::TrackMapError>(())
/// ```
pub fn track_map(track: &Track, car: &Car) -> Result<TrackMap, TrackMapError> {
    let (frames, time_ms) = clean_lap_frames(track, car);
    let trace = LapTrace::new(&frames, Some(time_ms)).map_err(|_| TrackMapError::NoLaps)?;
    TrackMap::build(track.name(), "", &[&trace])
}

/// A map corner's window on `track`: the map's distances scaled to the track's length (a
/// map built from other laps of the track need not measure it the same to the metre).
pub(crate) fn on_track(corner: &Corner, map: &TrackMap, track: &Track) -> Corner {
    let scale = if map.length_m > 0.0 {
        track.length_m() / map.length_m
    } else {
        1.0
    };
    Corner {
        start_m: corner.start_m * scale,
        apex_m: corner.apex_m * scale,
        end_m: corner.end_m * scale,
        ..corner.clone()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_clean_lap_is_one_flying_lap_at_the_ideal_time() {
        let track = Track::test_circuit();
        let (frames, ms) = clean_lap_frames(&track, &Car::default());
        assert!(frames.len() > 1000);
        let ideal = super::super::SpeedProfile::optimal(&track, &Car::default()).lap_time_s();
        assert!(
            (f64::from(ms) / 1000.0 - ideal).abs() < 0.01,
            "{ms} against {ideal}"
        );
        assert!(frames.iter().all(|f| f.lap_count == 1));
    }
}
