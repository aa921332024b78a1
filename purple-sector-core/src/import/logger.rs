//! The third-party logger's TSV laps (GeekyDeaks' raw-sim-telemetry), one file per lap, and
//! what its folders say: `log/<track>/<car>/<date>T<time>_<driver>/lap_N.txt`.

use std::path::Path;

use super::{ImportError, ImportOptions, Location, SessionMeta, Skipped, keep_frame, whole_lap};
use crate::logger::LoggerLap;
use crate::record::Input;
use crate::telemetry::Frame;

/// A logged lap as one input: the logger writes one file per lap, from line to line, so it
/// is kept whole ([`whole_lap`]: `flying` with its lap clock's time when it runs line to
/// line; the logger does not record the game's time). Frame times are the lap clock (the
/// file has no wall-clock time); the lap number comes from a `lap_N` file name (N + 1), else
/// [`ImportOptions::default_lap_number`]. Rows are checked ([`super::check_frame`]).
pub fn logger_input(
    path: &Path,
    options: &ImportOptions,
    skipped: &Skipped,
) -> Result<Input, ImportError> {
    let text = std::fs::read_to_string(path).map_err(super::io_error(path))?;
    let lap = LoggerLap::parse(&text).map_err(|source| ImportError::Logger {
        path: path.to_owned(),
        source,
    })?;
    let number = lap_number_from_name(path).unwrap_or(options.default_lap_number);
    let mut frames: Vec<Frame> = Vec::with_capacity(lap.rows.len());
    for (k, car) in lap.car_infos(number - 1).enumerate() {
        let time_ns = u64::try_from(car.lap_time_ms).unwrap_or(0) * 1_000_000;
        let frame = Frame::from_owned_car_info(&car, time_ns);
        // Line 1 is the header.
        if keep_frame(&frame, path, Location::Line(k + 2), options, skipped)? {
            frames.push(frame);
        }
    }
    Ok(Input::Lap(whole_lap(number, frames)))
}

/// The lap number of a `lap_N` file (N + 1: the logger counts from 0).
pub(crate) fn lap_number_from_name(path: &Path) -> Option<i32> {
    let stem = path.file_stem()?.to_str()?;
    let digits = stem.rsplit(['_', '-']).next()?;
    digits.parse::<i32>().ok().and_then(|n| n.checked_add(1))
}

/// What the logger's folders say: `<track>/<car>/<date>T<time>_<driver>/lap_N.txt` gives the
/// track, the car and the driver (underscores as spaces); anything else says nothing.
pub fn logger_meta(path: &Path) -> SessionMeta {
    let names: Vec<&str> = path
        .ancestors()
        .skip(1)
        .take(3)
        .filter_map(|p| p.file_name()?.to_str())
        .collect();
    let [run, car, track] = names[..] else {
        return SessionMeta::default();
    };
    let Some((stamp, driver)) = run.split_once('_') else {
        return SessionMeta::default();
    };
    let is_stamp = stamp.len() == 15
        && stamp.as_bytes().get(8) == Some(&b'T')
        && stamp
            .bytes()
            .enumerate()
            .all(|(k, b)| k == 8 || b.is_ascii_digit());
    if !is_stamp {
        return SessionMeta::default();
    }
    SessionMeta {
        name: format!("{track} {stamp}"),
        track: track.to_owned(),
        track_config: String::new(),
        car: car.to_owned(),
        driver: driver.replace('_', " "),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lap_numbers_from_file_names() {
        assert_eq!(lap_number_from_name(Path::new("x/lap_0.tsv")), Some(1));
        assert_eq!(lap_number_from_name(Path::new("imola-c7r-lap2.tsv")), None);
        assert_eq!(lap_number_from_name(Path::new("lap-7.txt")), Some(8));
    }

    #[test]
    fn the_loggers_folders_name_track_car_and_driver() {
        let meta = logger_meta(Path::new(
            "log/imola/ks_corvette_c7r/20201112T215006_Scott_Deakin/lap_0.txt",
        ));
        assert_eq!(
            (meta.track.as_str(), meta.car.as_str(), meta.driver.as_str()),
            ("imola", "ks_corvette_c7r", "Scott Deakin")
        );
        assert_eq!(
            logger_meta(Path::new("data/lap_0.tsv")),
            SessionMeta::default()
        );
        assert_eq!(
            logger_meta(Path::new("a/b/not-a-run/lap_0.tsv")),
            SessionMeta::default()
        );
    }
}
