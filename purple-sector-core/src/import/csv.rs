//! Our CSV export read back: rows grouped into laps by stint, lap number and kind.

use std::collections::HashMap;
use std::path::Path;

use super::{ImportError, ImportOptions, Inputs, Location, SessionMeta, Skipped, keep_frame};
use crate::export::CSV_COLUMNS;
use crate::lap::{InvalidReason, Lap, LapKind, LapTime, LapTimeSource};
use crate::record::Input;
use crate::telemetry::{Flags, Frame};

/// A row's place among the columns, by name.
struct Columns {
    index: HashMap<&'static str, usize>,
}

impl Columns {
    fn get<'r>(
        &self,
        row: &'r csv::StringRecord,
        column: &'static str,
        at: Location,
        path: &Path,
    ) -> Result<&'r str, ImportError> {
        self.index
            .get(column)
            .and_then(|&i| row.get(i))
            .ok_or_else(|| ImportError::CsvValue {
                path: path.to_owned(),
                at,
                column,
                problem: "missing",
            })
    }
}

fn bad(path: &Path, at: Location, column: &'static str, problem: &'static str) -> ImportError {
    ImportError::CsvValue {
        path: path.to_owned(),
        at,
        column,
        problem,
    }
}

/// `12.345` (or `-0.005`) seconds as milliseconds, exactly.
fn seconds_as_ms(text: &str) -> Option<i32> {
    let (negative, digits) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, ""));
    if fraction.len() > 3 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut ms: i64 = whole.parse::<i64>().ok()?.checked_mul(1000)?;
    let padded = format!("{fraction:0<3}");
    ms += padded.parse::<i64>().ok()?;
    i32::try_from(if negative { -ms } else { ms }).ok()
}

/// The laps of one of our CSV exports (read whole: a CSV is a spreadsheet's size).
pub(super) fn inputs(
    path: &Path,
    options: &ImportOptions,
    skipped: &Skipped,
) -> Result<(SessionMeta, Inputs), ImportError> {
    let mut reader = csv::Reader::from_path(path).map_err(|source| ImportError::Csv {
        path: path.to_owned(),
        at: Location::Line(1),
        source,
    })?;
    let header = reader
        .headers()
        .map_err(|source| ImportError::Csv {
            path: path.to_owned(),
            at: Location::Line(1),
            source,
        })?
        .clone();
    let columns = Columns {
        index: CSV_COLUMNS
            .iter()
            .filter_map(|&name| header.iter().position(|h| h == name).map(|i| (name, i)))
            .collect(),
    };
    let mut meta = SessionMeta::default();
    let mut laps: Vec<Lap> = Vec::new();
    let mut record = csv::StringRecord::new();
    let mut line = 1usize;
    loop {
        match reader.read_record(&mut record) {
            Ok(true) => {}
            Ok(false) => break,
            Err(source) => {
                return Err(ImportError::Csv {
                    path: path.to_owned(),
                    at: Location::Line(line + 1),
                    source,
                });
            }
        }
        line += 1;
        let at = Location::Line(line);
        let text = |column| columns.get(&record, column, at, path);
        let number = |column: &'static str| -> Result<f32, ImportError> {
            text(column)?
                .parse::<f32>()
                .map_err(|_| bad(path, at, column, "not a number"))
        };
        let integer = |column: &'static str| -> Result<i64, ImportError> {
            text(column)?
                .parse::<i64>()
                .map_err(|_| bad(path, at, column, "not a whole number"))
        };
        let ms = |column: &'static str| -> Result<i32, ImportError> {
            seconds_as_ms(text(column)?).ok_or_else(|| bad(path, at, column, "not seconds"))
        };
        let flag = |column: &'static str| -> Result<bool, ImportError> {
            match text(column)? {
                "1" => Ok(true),
                "0" => Ok(false),
                _ => Err(bad(path, at, column, "not 0 or 1")),
            }
        };
        if line == 2 {
            meta = SessionMeta {
                name: String::new(),
                track: text("track")?.to_owned(),
                track_config: text("track_config")?.to_owned(),
                car: text("car")?.to_owned(),
                driver: text("driver")?.to_owned(),
            };
        }
        let stint =
            u32::try_from(integer("stint")?).map_err(|_| bad(path, at, "stint", "out of range"))?;
        let lap_number =
            i32::try_from(integer("lap")?).map_err(|_| bad(path, at, "lap", "out of range"))?;
        let kind = LapKind::parse(text("lap_kind")?)
            .ok_or_else(|| bad(path, at, "lap_kind", "unknown"))?;
        let time = match (
            text("completed_lap_time_s")?,
            text("completed_lap_time_source")?,
        ) {
            ("", "") => None,
            (_, source) => Some(LapTime {
                ms: ms("completed_lap_time_s")?,
                source: LapTimeSource::parse(source)
                    .ok_or_else(|| bad(path, at, "completed_lap_time_source", "unknown"))?,
            }),
        };
        let valid = flag("valid")?;
        let frame = Frame {
            time_ns: u64::try_from(integer("time_ns")?)
                .map_err(|_| bad(path, at, "time_ns", "out of range"))?,
            lap_time_ms: ms("lap_time_s")?,
            last_lap_ms: ms("last_lap_time_s")?,
            best_lap_ms: ms("best_lap_time_s")?,
            lap_count: lap_number.saturating_sub(1),
            position_normalized: number("position")?,
            speed_kmh: number("speed_kmh")?,
            speed_mph: number("speed_mph")?,
            speed_ms: number("speed_ms")?,
            gas: number("gas")?,
            brake: number("brake")?,
            clutch: number("clutch")?,
            steer_deg: number("steer_deg")?,
            gear: i32::try_from(integer("gear")?)
                .map_err(|_| bad(path, at, "gear", "out of range"))?,
            engine_rpm: number("engine_rpm")?,
            g_vertical: number("g_vertical")?,
            g_lateral: number("g_lateral")?,
            g_longitudinal: number("g_longitudinal")?,
            world_m: [number("x_m")?, number("y_m")?, number("z_m")?],
            flags: Flags {
                abs_enabled: flag("abs_enabled")?,
                abs_in_action: flag("abs_in_action")?,
                tc_in_action: flag("tc_in_action")?,
                tc_enabled: flag("tc_enabled")?,
                in_pit: flag("in_pit")?,
                engine_limiter_on: flag("engine_limiter_on")?,
            },
            ..Frame::default()
        };
        if !keep_frame(&frame, path, at, options, skipped)? {
            continue;
        }
        let same_lap = laps
            .last()
            .is_some_and(|l| l.stint == stint && l.number == lap_number && l.kind == kind);
        if !same_lap {
            laps.push(Lap {
                stint,
                number: lap_number,
                kind,
                invalid_reason: (!valid).then_some(InvalidReason::Imported),
                time,
                frames: Vec::new(),
            });
        }
        if let Some(lap) = laps.last_mut() {
            lap.frames.push(frame);
        }
    }
    Ok((meta, Box::new(laps.into_iter().map(|l| Ok(Input::Lap(l))))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_parse_back_to_their_milliseconds() {
        for ms in [0, 5, -5, 108_633, -2_147_483_648, 2_147_483_647] {
            assert_eq!(seconds_as_ms(&crate::export::ms_as_s(ms)), Some(ms));
        }
        assert_eq!(seconds_as_ms("1.5"), Some(1_500));
        assert_eq!(seconds_as_ms("1.2345"), None);
        assert_eq!(seconds_as_ms("x"), None);
    }
}
