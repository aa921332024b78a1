//! CSV: one row per frame, snake_case headers with the unit in the name; what `import`
//! reads back (every column bit-exact: floats print in their shortest form that parses back
//! to the same `f32`).

use std::io::Write;

use super::{ExportError, LapWriter};
use crate::store::{LapRecord, Session};
use crate::telemetry::Frame;

/// The columns, in order. Lap-level columns (`stint`, `lap`, `lap_kind`, `valid`,
/// `completed_lap_time_s`, `completed_lap_time_source`) and session-level ones (`track`,
/// `car`, `track_config`, `driver`) repeat on every row so that each row stands alone.
/// `lap_time_s` is the lap clock (time into the lap); `completed_lap_time_s` the lap's time
/// (empty for a partial lap) and `completed_lap_time_source` where it comes from
/// (`official`, `telemetry`).
pub const CSV_COLUMNS: [&str; 38] = [
    "session_time_s",
    "time_ns",
    "stint",
    "lap",
    "lap_kind",
    "valid",
    "completed_lap_time_s",
    "completed_lap_time_source",
    "lap_time_s",
    "lap_distance_m",
    "position",
    "speed_kmh",
    "speed_mph",
    "speed_ms",
    "gas",
    "brake",
    "clutch",
    "steer_deg",
    "gear",
    "engine_rpm",
    "g_lateral",
    "g_longitudinal",
    "g_vertical",
    "x_m",
    "y_m",
    "z_m",
    "last_lap_time_s",
    "best_lap_time_s",
    "in_pit",
    "abs_in_action",
    "tc_in_action",
    "abs_enabled",
    "tc_enabled",
    "engine_limiter_on",
    "track",
    "car",
    "track_config",
    "driver",
];

/// Milliseconds as seconds with three decimals, exactly (`-0.005`, `108.633`).
pub(crate) fn ms_as_s(ms: i32) -> String {
    let sign = if ms < 0 { "-" } else { "" };
    let abs = ms.unsigned_abs();
    format!("{sign}{}.{:03}", abs / 1000, abs % 1000)
}

/// Distance along the lap, m: the x/z path when the game sent coordinates, else speed ×
/// time.
pub fn lap_distance_m(frames: &[Frame]) -> Vec<f64> {
    let has_path = frames.iter().any(|f| f.world_m != [0.0; 3]);
    let mut out = Vec::with_capacity(frames.len());
    let mut total = 0.0f64;
    let mut previous: Option<&Frame> = None;
    for f in frames {
        if let Some(p) = previous {
            total += if has_path {
                let dx = f64::from(f.world_m[0]) - f64::from(p.world_m[0]);
                let dz = f64::from(f.world_m[2]) - f64::from(p.world_m[2]);
                dx.hypot(dz)
            } else {
                let dt_s = f64::from(f.lap_time_ms.saturating_sub(p.lap_time_ms).max(0)) / 1000.0;
                (f64::from(f.speed_ms) + f64::from(p.speed_ms)) / 2.0 * dt_s
            };
        }
        out.push(total);
        previous = Some(f);
    }
    out
}

/// Writes laps as CSV rows.
#[derive(Debug)]
pub struct CsvWriter<W: Write> {
    out: csv::Writer<W>,
    session: Session,
    first_ns: Option<u64>,
}

impl<W: Write> CsvWriter<W> {
    /// A CSV of `session`'s laps on `out`; writes the header.
    pub fn new(out: W, session: &Session) -> Result<Self, ExportError> {
        let mut out = csv::Writer::from_writer(out);
        out.write_record(CSV_COLUMNS).map_err(ExportError::csv)?;
        Ok(Self {
            out,
            session: session.clone(),
            first_ns: None,
        })
    }
}

fn bit(b: bool) -> &'static str {
    if b { "1" } else { "0" }
}

impl<W: Write> LapWriter for CsvWriter<W> {
    fn write_lap(&mut self, lap: &LapRecord, frames: &[Frame]) -> Result<(), ExportError> {
        let first_ns = *self
            .first_ns
            .get_or_insert_with(|| frames.first().map_or(0, |f| f.time_ns));
        let kind = lap.kind.as_str();
        let completed_s = lap.time.map(|t| ms_as_s(t.ms)).unwrap_or_default();
        let source = lap.time.map_or("", |t| t.source.as_str());
        let (stint, number) = (lap.stint.to_string(), lap.number.to_string());
        let s = &self.session;
        for (f, distance_m) in frames.iter().zip(lap_distance_m(frames)) {
            let since_ns = f.time_ns.saturating_sub(first_ns);
            let session_time_s = format!(
                "{}.{:09}",
                since_ns / 1_000_000_000,
                since_ns % 1_000_000_000
            );
            let fl = &f.flags;
            let row: [String; 38] = [
                session_time_s,
                f.time_ns.to_string(),
                stint.clone(),
                number.clone(),
                kind.to_owned(),
                bit(lap.valid).to_owned(),
                completed_s.clone(),
                source.to_owned(),
                ms_as_s(f.lap_time_ms),
                format!("{distance_m:.3}"),
                f.position_normalized.to_string(),
                f.speed_kmh.to_string(),
                f.speed_mph.to_string(),
                f.speed_ms.to_string(),
                f.gas.to_string(),
                f.brake.to_string(),
                f.clutch.to_string(),
                f.steer_deg.to_string(),
                f.gear.to_string(),
                f.engine_rpm.to_string(),
                f.g_lateral.to_string(),
                f.g_longitudinal.to_string(),
                f.g_vertical.to_string(),
                f.world_m[0].to_string(),
                f.world_m[1].to_string(),
                f.world_m[2].to_string(),
                ms_as_s(f.last_lap_ms),
                ms_as_s(f.best_lap_ms),
                bit(fl.in_pit).to_owned(),
                bit(fl.abs_in_action).to_owned(),
                bit(fl.tc_in_action).to_owned(),
                bit(fl.abs_enabled).to_owned(),
                bit(fl.tc_enabled).to_owned(),
                bit(fl.engine_limiter_on).to_owned(),
                s.track.clone(),
                s.car.clone(),
                s.track_config.clone(),
                s.driver.clone(),
            ];
            self.out.write_record(&row).map_err(ExportError::csv)?;
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<(), ExportError> {
        self.out.flush().map_err(ExportError::Io)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn milliseconds_print_as_exact_seconds() {
        assert_eq!(ms_as_s(108_633), "108.633");
        assert_eq!(ms_as_s(5), "0.005");
        assert_eq!(ms_as_s(-5), "-0.005");
        assert_eq!(ms_as_s(i32::MIN), "-2147483.648");
    }
}
