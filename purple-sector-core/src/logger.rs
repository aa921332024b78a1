//! The tab-separated format of a third-party AC logger (GeekyDeaks' `raw-sim-telemetry`).
//!
//! One header row — `lapTime speed_Mph gas brake steer gear x y z` — then one row per metre
//! travelled. Each float is the text form of the packet's f32, so the values come back
//! bit-exact. The logger did not keep the normalized track position: [`LoggerLap`] derives it
//! from the distance travelled along x/z.

use crate::protocol::OwnedCarInfo;

/// The columns, in order.
pub const LOGGER_COLUMNS: [&str; 9] = [
    "lapTime",
    "speed_Mph",
    "gas",
    "brake",
    "steer",
    "gear",
    "x",
    "y",
    "z",
];

/// Why a logger file cannot be read. Lines and columns count from 1.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LoggerError {
    /// The first line is not the expected header.
    #[error("line 1: header is not the logger's (expected {expected:?})")]
    BadHeader {
        /// The header expected.
        expected: &'static str,
    },
    /// A row has the wrong number of fields.
    #[error("line {line}: {found} fields, expected 9")]
    FieldCount {
        /// Line number.
        line: usize,
        /// Fields found.
        found: usize,
    },
    /// A field is not a number.
    #[error("line {line}, column {column}: not a number")]
    BadNumber {
        /// Line number.
        line: usize,
        /// Column number.
        column: usize,
    },
}

/// One logged sample.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LoggerRow {
    /// Time into the lap, ms (the file holds seconds with millisecond precision).
    pub lap_time_ms: i32,
    /// Speed, mph.
    pub speed_mph: f32,
    /// Throttle, 0..1.
    pub gas: f32,
    /// Brake, 0..1.
    pub brake: f32,
    /// Steering-wheel angle, degrees.
    pub steer_deg: f32,
    /// Raw AC gear (0 = R, 1 = N, 2 = 1st).
    pub gear_raw: i32,
    /// World coordinates x, y, z, m.
    pub coordinates_m: [f32; 3],
}

/// A logged lap: rows plus the track position derived from distance.
#[derive(Debug, Clone, PartialEq)]
pub struct LoggerLap {
    /// The rows in file order.
    pub rows: Vec<LoggerRow>,
    /// Distance travelled in the x/z plane at each row, m (0 at the first row).
    pub distance_m: Vec<f64>,
}

impl LoggerLap {
    /// Parses a whole file.
    pub fn parse(text: &str) -> Result<Self, LoggerError> {
        let mut lines = text.lines();
        let header = LOGGER_COLUMNS.join("\t");
        if lines.next().map(str::trim_end) != Some(header.as_str()) {
            return Err(LoggerError::BadHeader {
                expected: "lapTime\tspeed_Mph\tgas\tbrake\tsteer\tgear\tx\ty\tz",
            });
        }
        let mut rows = Vec::new();
        for (index, line) in lines.enumerate() {
            let line_no = index + 2;
            if line.trim().is_empty() {
                continue;
            }
            rows.push(parse_row(line.trim_end(), line_no)?);
        }
        let mut distance_m = Vec::with_capacity(rows.len());
        let mut total = 0.0f64;
        let mut previous: Option<[f32; 3]> = None;
        for row in &rows {
            if let Some(p) = previous {
                let dx = f64::from(row.coordinates_m[0]) - f64::from(p[0]);
                let dz = f64::from(row.coordinates_m[2]) - f64::from(p[2]);
                total += dx.hypot(dz);
            }
            previous = Some(row.coordinates_m);
            distance_m.push(total);
        }
        Ok(Self { rows, distance_m })
    }

    /// Distance from the first row to the last, m.
    pub fn length_m(&self) -> f64 {
        self.distance_m.last().copied().unwrap_or(0.0)
    }

    /// Car-info packets for the rows: the logged fields exactly, speeds in km/h and m/s
    /// derived from mph, the track position from distance, the lap count given.
    pub fn car_infos(&self, lap_count: i32) -> impl Iterator<Item = OwnedCarInfo> + '_ {
        let length = self.length_m();
        self.rows
            .iter()
            .zip(&self.distance_m)
            .map(move |(row, distance)| {
                let position = if length > 0.0 {
                    (distance / length) as f32
                } else {
                    0.0
                };
                row.to_car_info(position, lap_count)
            })
    }
}

impl LoggerRow {
    /// A car-info packet carrying this row's values.
    pub fn to_car_info(&self, car_position_normalized: f32, lap_count: i32) -> OwnedCarInfo {
        const KMH_PER_MPH: f32 = 1.609_344;
        OwnedCarInfo {
            speed_kmh: self.speed_mph * KMH_PER_MPH,
            speed_mph: self.speed_mph,
            speed_ms: self.speed_mph * KMH_PER_MPH / 3.6,
            lap_time_ms: self.lap_time_ms,
            lap_count,
            gas: self.gas,
            brake: self.brake,
            steer_deg: self.steer_deg,
            gear_raw: self.gear_raw,
            car_position_normalized,
            car_coordinates_m: self.coordinates_m,
            ..OwnedCarInfo::default()
        }
    }
}

fn parse_row(line: &str, line_no: usize) -> Result<LoggerRow, LoggerError> {
    let fields: Vec<&str> = line.split('\t').collect();
    let [lap_time, speed, gas, brake, steer, gear, x, y, z] = fields[..] else {
        return Err(LoggerError::FieldCount {
            line: line_no,
            found: fields.len(),
        });
    };
    let float = |text: &str, column: usize| {
        text.trim()
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite())
            .ok_or(LoggerError::BadNumber {
                line: line_no,
                column,
            })
    };
    // Text of an f32, read as f64 and cast back: the exact bits.
    let f32_at = |text: &str, column: usize| float(text, column).map(|v| v as f32);
    let lap_time_s = float(lap_time, 1)?;
    let gear = float(gear, 6)?;
    Ok(LoggerRow {
        lap_time_ms: (lap_time_s * 1000.0).round() as i32,
        speed_mph: f32_at(speed, 2)?,
        gas: f32_at(gas, 3)?,
        brake: f32_at(brake, 4)?,
        steer_deg: f32_at(steer, 5)?,
        gear_raw: gear as i32,
        coordinates_m: [f32_at(x, 7)?, f32_at(y, 8)?, f32_at(z, 9)?],
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const HEADER: &str = "lapTime\tspeed_Mph\tgas\tbrake\tsteer\tgear\tx\ty\tz\n";

    #[test]
    fn parses_rows_and_derives_distance() {
        let text = format!(
            "{HEADER}0.009\t146.5\t1.0\t0.0\t-5.25\t6\t0\t1\t0\n0.033\t146\t1\t0\t0\t6\t3\t1\t4\n"
        );
        let lap = LoggerLap::parse(&text).unwrap();
        assert_eq!(lap.rows.len(), 2);
        assert_eq!(lap.rows[0].lap_time_ms, 9);
        assert_eq!(lap.rows[0].steer_deg, -5.25);
        assert_eq!(lap.distance_m, vec![0.0, 5.0]);
        let cars: Vec<_> = lap.car_infos(2).collect();
        assert_eq!(cars[1].car_position_normalized, 1.0);
        assert_eq!(cars[1].lap_count, 2);
    }

    #[test]
    fn errors_name_line_and_column() {
        assert!(matches!(
            LoggerLap::parse("a\tb\n"),
            Err(LoggerError::BadHeader { .. })
        ));
        let text = format!("{HEADER}0.009\t146.5\t1.0\t0.0\t-5.25\t6\t0\t1\n");
        assert_eq!(
            LoggerLap::parse(&text),
            Err(LoggerError::FieldCount { line: 2, found: 8 })
        );
        let text = format!("{HEADER}0.009\t146.5\t1.0\tx\t-5.25\t6\t0\t1\t0\n");
        assert_eq!(
            LoggerLap::parse(&text),
            Err(LoggerError::BadNumber { line: 2, column: 4 })
        );
    }
}
