//! MoTeC i2 `.ld` logs (ours, and other tools'), with the `.ldx` beside them when there is
//! one: channels found by name (ours first, then the names other exporters use), every
//! channel read at the fastest channel's rate, laps split by the lap-number channel, else by
//! the `.ldx` beacons, else the whole log as one lap.

use std::path::Path;

use super::{
    ImportError, ImportOptions, Inputs, Location, SessionMeta, Skipped, keep_frame, whole_lap,
};
use crate::export::ld::{DETAIL_TIME_SOURCES, DETAIL_TRACK_CONFIG, ldx_path};
use crate::lap::{Lap, LapTime, LapTimeSource};
use crate::motec::{LdChannel, LdDateTime, LdFile, Ldx};
use crate::record::Input;
use crate::telemetry::Frame;

/// A quantity and the channel names it goes by (compared without case).
struct Wanted {
    what: &'static str,
    names: &'static [&'static str],
}

const SPEED: Wanted = Wanted {
    what: "speed",
    names: &[
        "Ground Speed",
        "Speed",
        "Vehicle Speed",
        "Corr Speed",
        "SPEED",
    ],
};
const THROTTLE: Wanted = Wanted {
    what: "throttle",
    names: &["Throttle Pos", "Throttle", "THROTTLE", "TPS"],
};
const BRAKE: Wanted = Wanted {
    what: "brake",
    names: &["Brake Pos", "Brake", "BRAKE"],
};
const CLUTCH: Wanted = Wanted {
    what: "clutch",
    names: &["Clutch Pos", "Clutch", "CLUTCH"],
};
const STEER: Wanted = Wanted {
    what: "steering",
    names: &[
        "Steering Angle",
        "Steered Angle",
        "Steering",
        "STEERANGLE",
        "Steer Angle",
    ],
};
const GEAR: Wanted = Wanted {
    what: "gear",
    names: &["Gear", "GEAR"],
};
const RPM: Wanted = Wanted {
    what: "engine speed",
    names: &["Engine RPM", "RPM", "RPMS", "Engine Speed"],
};
const G_LAT: Wanted = Wanted {
    what: "lateral g",
    names: &["G Force Lat", "G_LAT", "Lateral G", "G Lat"],
};
const G_LONG: Wanted = Wanted {
    what: "longitudinal g",
    names: &["G Force Long", "G_LON", "Longitudinal G", "G Long"],
};
const G_VERT: Wanted = Wanted {
    what: "vertical g",
    names: &["G Force Vert", "G_VERT", "Vertical G"],
};
const LAP_NUMBER: Wanted = Wanted {
    what: "lap number",
    names: &["Lap Number", "LAP_NUMBER", "Lap"],
};
/// The running lap clock (MoTeC's "Lap Time" is the last lap's time, not the clock).
const LAP_TIME: Wanted = Wanted {
    what: "lap clock",
    names: &["Running Lap Time", "Lap Time Running", "LAP_TIME_RUNNING"],
};
/// MoTeC's "Lap Time": the time of the lap last completed, as the logger timed it.
const LAST_LAP: Wanted = Wanted {
    what: "last lap time",
    names: &["Lap Time", "Last Lap Time", "LAP_TIME"],
};
const POSITION: Wanted = Wanted {
    what: "track position",
    names: &["Car Pos Norm", "NORM_POS", "Lap Pos"],
};
const POS_X: Wanted = Wanted {
    what: "x",
    names: &["Pos X", "CAR_POS_X", "World Position X"],
};
const POS_Y: Wanted = Wanted {
    what: "y",
    names: &["Pos Y", "CAR_POS_Y", "World Position Y"],
};
const POS_Z: Wanted = Wanted {
    what: "z",
    names: &["Pos Z", "CAR_POS_Z", "World Position Z"],
};
const IN_PIT: Wanted = Wanted {
    what: "pit lane",
    names: &["In Pit", "PIT_LIMITER", "In Pits"],
};

/// A channel read at the log's rate: its value at sample `k` of the fastest channel.
struct Series {
    values: Vec<f64>,
    /// The channel's samples per log sample.
    step: f64,
    /// Scale to our unit.
    scale: f64,
}

impl Series {
    fn at(&self, k: usize) -> Option<f64> {
        let i = (k as f64 * self.step) as usize;
        self.values
            .get(i.min(self.values.len().saturating_sub(1)))
            .copied()
    }
}

fn find<'a>(file: &'a LdFile, wanted: &Wanted) -> Option<&'a LdChannel> {
    wanted.names.iter().find_map(|name| {
        file.channels
            .iter()
            .find(|c| c.name.trim().eq_ignore_ascii_case(name) && !c.data.is_empty())
    })
}

/// Unix seconds of a calendar date and time (taken as UTC).
fn unix_seconds(t: &LdDateTime) -> i64 {
    let (y, m, d) = (i64::from(t.year), i64::from(t.month), i64::from(t.day));
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    days * 86_400 + i64::from(t.hour) * 3_600 + i64::from(t.minute) * 60 + i64::from(t.second)
}

/// The laps of a MoTeC log.
pub(super) fn inputs(
    path: &Path,
    options: &ImportOptions,
    skipped: &Skipped,
) -> Result<(SessionMeta, Inputs), ImportError> {
    let bytes = std::fs::read(path).map_err(super::io_error(path))?;
    let file = LdFile::parse(&bytes).map_err(|source| ImportError::Ld {
        path: path.to_owned(),
        source,
    })?;
    drop(bytes);
    let sidecar = ldx_path(path);
    let ldx = match std::fs::read_to_string(&sidecar) {
        Ok(text) => Some(Ldx::parse(&text).map_err(|source| ImportError::Ldx {
            path: sidecar.clone(),
            source,
        })?),
        Err(_) => None,
    };
    let speed = find(&file, &SPEED).ok_or(ImportError::LdChannelMissing {
        path: path.to_owned(),
        channel: SPEED.what,
        names: "Ground Speed, Speed, Vehicle Speed, Corr Speed, SPEED",
    })?;
    let rate_hz = file
        .channels
        .iter()
        .filter(|c| !c.data.is_empty())
        .map(|c| c.frequency_hz.max(1))
        .max()
        .unwrap_or(1);
    let series = |wanted: &Wanted, scale: f64| -> Option<Series> {
        let channel = find(&file, wanted)?;
        Some(Series {
            values: channel.values(),
            step: f64::from(channel.frequency_hz.max(1)) / f64::from(rate_hz),
            scale,
        })
    };
    // Units: pedals in % (ours, most exporters) or 0..1; speed in km/h, m/s or mph.
    let percent = |wanted: &Wanted| -> Option<Series> {
        let channel = find(&file, wanted)?;
        let to_unit =
            if channel.unit.contains('%') || channel.values().iter().any(|v| v.abs() > 1.5) {
                0.01
            } else {
                1.0
            };
        series(wanted, to_unit)
    };
    let speed_scale = match speed.unit.trim().to_ascii_lowercase().as_str() {
        "m/s" => 3.6,
        "mph" => 1.609_344,
        _ => 1.0,
    };
    let speed = series(&SPEED, speed_scale);
    let (gas, brake, clutch) = (percent(&THROTTLE), percent(&BRAKE), percent(&CLUTCH));
    let steer = series(&STEER, 1.0);
    let gear = series(&GEAR, 1.0);
    let rpm = series(&RPM, 1.0);
    let (g_lat, g_long, g_vert) = (
        series(&G_LAT, 1.0),
        series(&G_LONG, 1.0),
        series(&G_VERT, 1.0),
    );
    let lap_number = series(&LAP_NUMBER, 1.0);
    let lap_time = series(&LAP_TIME, 1.0);
    let last_lap = series(&LAST_LAP, 1.0);
    let position = series(&POSITION, 1.0);
    let (x, y, z) = (
        series(&POS_X, 1.0),
        series(&POS_Y, 1.0),
        series(&POS_Z, 1.0),
    );
    let in_pit = series(&IN_PIT, 1.0);
    let count = speed
        .as_ref()
        .map_or(0, |s| (s.values.len() as f64 / s.step).round() as usize);

    let start_ns = u64::try_from(unix_seconds(&file.header.started)).unwrap_or(0) * 1_000_000_000;
    let sample_ns = 1_000_000_000 / u64::from(rate_hz);
    let value = |s: &Option<Series>, k: usize| -> f32 {
        s.as_ref()
            .and_then(|s| s.at(k).map(|v| (v * s.scale) as f32))
            .unwrap_or(0.0)
    };
    let beacons: Vec<u64> = ldx
        .as_ref()
        .map(|l| l.beacons_us.clone())
        .unwrap_or_default();
    // Laps: by the lap-number channel, else between beacons.
    let lap_of = |k: usize| -> i32 {
        match &lap_number {
            Some(_) => value(&lap_number, k).round() as i32,
            None => {
                let t_us = k as u64 * sample_ns / 1000;
                1 + beacons.iter().filter(|&&b| b <= t_us).count() as i32
            }
        }
    };
    let mut laps: Vec<(i32, Vec<Frame>)> = Vec::new();
    let mut lap_start_k = 0usize;
    for k in 0..count {
        let number = lap_of(k);
        if laps.last().is_none_or(|(n, _)| *n != number) {
            laps.push((number, Vec::new()));
            lap_start_k = k;
        }
        let kmh = value(&speed, k);
        let clock_ms = match &lap_time {
            Some(_) => (f64::from(value(&lap_time, k)) * 1000.0).round() as i32,
            None => i32::try_from((k - lap_start_k) as u64 * sample_ns / 1_000_000).unwrap_or(0),
        };
        let mut frame = Frame {
            time_ns: start_ns + k as u64 * sample_ns,
            lap_time_ms: clock_ms,
            lap_count: number.saturating_sub(1),
            position_normalized: value(&position, k),
            speed_kmh: kmh,
            speed_mph: kmh / 1.609_344,
            speed_ms: kmh / 3.6,
            gas: value(&gas, k),
            brake: value(&brake, k),
            clutch: clutch.as_ref().map_or(1.0, |_| value(&clutch, k)),
            steer_deg: value(&steer, k),
            gear: value(&gear, k).round() as i32,
            engine_rpm: value(&rpm, k),
            g_lateral: value(&g_lat, k),
            g_longitudinal: value(&g_long, k),
            g_vertical: value(&g_vert, k),
            world_m: [value(&x, k), value(&y, k), value(&z, k)],
            ..Frame::default()
        };
        frame.flags.in_pit = value(&in_pit, k) > 0.5;
        if keep_frame(&frame, path, Location::Sample(k), options, skipped)? {
            if let Some((_, frames)) = laps.last_mut() {
                frames.push(frame);
            }
        }
    }

    // Lap times: a lap that ends at a beacon ran to the line: its time is the beacon less
    // its own line crossing (the log's time of its lap clock's 0). Ours say whose time it
    // was; other tools' beacons are the logger's line.
    let sources: Vec<LapTimeSource> = ldx
        .as_ref()
        .and_then(|l| l.detail(DETAIL_TIME_SOURCES))
        .map(|s| s.split(',').filter_map(LapTimeSource::parse).collect())
        .unwrap_or_default();
    let mut timed_laps = 0usize;
    let mut laps: Vec<(i32, Vec<Frame>)> =
        laps.into_iter().filter(|(_, f)| !f.is_empty()).collect();
    if position.is_none() {
        for (_, frames) in &mut laps {
            position_from_speed(frames);
        }
    }
    let split_by_channel = lap_number.is_some();
    let line_known = position.is_some() || x.is_some();
    let segments = laps.len();
    // The logger's own time of each lap: its last-lap channel in the middle of the next lap.
    let logged_ms: Vec<Option<i32>> = (0..segments)
        .map(|index| {
            let next = laps.get(index + 1)?;
            let middle = next.1.get(next.1.len() / 2)?;
            let k = usize::try_from((middle.time_ns - start_ns) / sample_ns).ok()?;
            let s = last_lap.as_ref()?;
            let ms = (s.at(k)? * 1000.0).round();
            (ms > 0.0 && ms < 3_600_000.0).then_some(ms as i32)
        })
        .collect();
    let laps: Vec<Lap> = laps
        .into_iter()
        .enumerate()
        .map(|(index, (number, frames))| {
            let line_ns = frames.first().map_or(0, |f| {
                f.time_ns
                    .saturating_sub(u64::try_from(f.lap_time_ms.max(0)).unwrap_or(0) * 1_000_000)
            });
            let last_ns = frames.last().map_or(0, |f| f.time_ns);
            let first_ns = frames.first().map_or(0, |f| f.time_ns);
            let beacon_ns = beacons
                .iter()
                .map(|b| start_ns + b * 1000)
                .find(|&b| b > line_ns && b + sample_ns * 2 >= last_ns);
            let mut lap = whole_lap(number, frames);
            if !line_known {
                // Positions made up from the speed run 0 to 1 whatever the lap did: they
                // cannot tell whether it reached the line.
                lap.time = None;
                if lap.kind == crate::lap::LapKind::Flying {
                    lap.kind = crate::lap::LapKind::Partial;
                }
            }
            if let Some(end_ns) = beacon_ns {
                let ms = i32::try_from((end_ns - line_ns + 500_000) / 1_000_000).unwrap_or(0);
                let source = sources
                    .get(timed_laps)
                    .copied()
                    .unwrap_or(LapTimeSource::Official);
                timed_laps += 1;
                lap.time = Some(LapTime { ms, source });
                if lap.kind == crate::lap::LapKind::Partial {
                    lap.kind = crate::lap::LapKind::Flying;
                }
            } else if split_by_channel && lap.time.is_none() && index > 0 && index + 1 < segments {
                // Between two changes of the lap number: the logger saw both line crossings.
                let span_ns = last_ns.saturating_sub(first_ns) + sample_ns;
                let span_ms = i32::try_from((span_ns + 500_000) / 1_000_000).unwrap_or(0);
                // The logger's time when it agrees with the span (to its channel's rate).
                lap.time = Some(match logged_ms.get(index).copied().flatten() {
                    Some(ms) if (ms - span_ms).abs() <= 2_000 => LapTime::official(ms),
                    _ => LapTime::telemetry(span_ms),
                });
                lap.kind = crate::lap::LapKind::Flying;
            }
            lap
        })
        .collect();
    let h = &file.header;
    let meta = SessionMeta {
        name: if h.short_comment.is_empty() {
            h.event.clone()
        } else {
            h.short_comment.clone()
        },
        track: h.venue.clone(),
        track_config: ldx
            .as_ref()
            .and_then(|l| l.detail(DETAIL_TRACK_CONFIG))
            .unwrap_or_default()
            .to_owned(),
        car: h.vehicle.clone(),
        driver: h.driver.clone(),
    };
    Ok((meta, Box::new(laps.into_iter().map(|l| Ok(Input::Lap(l))))))
}

/// Track positions for a log without them: distance along the lap by its speed, as a share
/// of the lap's.
fn position_from_speed(frames: &mut [Frame]) {
    let mut distance = Vec::with_capacity(frames.len());
    let mut total = 0.0f64;
    for (k, f) in frames.iter().enumerate() {
        if let Some(p) = k.checked_sub(1).and_then(|j| frames.get(j)) {
            let dt_s = f.time_ns.saturating_sub(p.time_ns) as f64 / 1e9;
            total += f64::from(f.speed_ms + p.speed_ms) / 2.0 * dt_s;
        }
        distance.push(total);
    }
    for (f, d) in frames.iter_mut().zip(distance) {
        f.position_normalized = if total > 0.0 { (d / total) as f32 } else { 0.0 };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calendar_to_unix_time() {
        let t = LdDateTime {
            year: 2020,
            month: 11,
            day: 12,
            hour: 21,
            minute: 50,
            second: 6,
        };
        assert_eq!(unix_seconds(&t), 1_605_217_806);
        let leap = LdDateTime {
            year: 2000,
            month: 2,
            day: 29,
            hour: 0,
            minute: 0,
            second: 0,
        };
        assert_eq!(unix_seconds(&leap), 951_782_400);
    }
}
