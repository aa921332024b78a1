//! MoTeC i2: a session's laps as one `.ld` log (the principal channels, resampled to one
//! rate — the recorded rate, rounded to whole hertz —, units set, venue, vehicle, driver and
//! date in the header) and its `.ldx` sidecar (a beacon at each lap's line crossing, so i2
//! splits the laps).
//!
//! Memory stays that of one lap: a first pass reads each lap's principal channels for its
//! times, so that every channel's region of the file is laid out before a sample is written;
//! the second pass writes lap after lap.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::{ExportError, ExportSummary, create, lap_distance_m};
use crate::lap::LapTimeSource;
use crate::motec::{
    DETAIL_FASTEST_LAP, DETAIL_FASTEST_TIME, DETAIL_TOTAL_LAPS, LdChannelSpec, LdDateTime,
    LdHeader, LdWriter, Ldx,
};
use crate::store::{LapRecord, Session, Store, best_lap};
use crate::telemetry::Frame;

/// How a channel is resampled between two frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Resample {
    /// Linearly.
    Interpolate,
    /// The earlier frame's value.
    Hold,
}

/// What a frame's value of a channel is, given its lap number and distance into the lap.
pub(crate) type Get = fn(&Frame, i32, f64) -> f32;

/// One channel of our `.ld` logs: MoTeC's conventional name, short name and unit, and how
/// the frame's value is read.
#[derive(Debug, Clone, Copy)]
pub(crate) struct LdChannelMap {
    pub name: &'static str,
    pub short: &'static str,
    pub unit: &'static str,
    pub resample: Resample,
    pub get: Get,
}

const fn channel(
    name: &'static str,
    short: &'static str,
    unit: &'static str,
    resample: Resample,
    get: Get,
) -> LdChannelMap {
    LdChannelMap {
        name,
        short,
        unit,
        resample,
        get,
    }
}

use Resample::{Hold, Interpolate};

/// The channels written, in order (and the names `import` looks for first).
pub(crate) const LD_CHANNELS: [LdChannelMap; 18] = [
    channel("Ground Speed", "Speed", "km/h", Interpolate, |f, _, _| {
        f.speed_kmh
    }),
    channel("Throttle Pos", "Thr", "%", Interpolate, |f, _, _| {
        f.gas * 100.0
    }),
    channel("Brake Pos", "Brk", "%", Interpolate, |f, _, _| {
        f.brake * 100.0
    }),
    channel("Clutch Pos", "Clu", "%", Interpolate, |f, _, _| {
        f.clutch * 100.0
    }),
    channel("Steering Angle", "Steer", "deg", Interpolate, |f, _, _| {
        f.steer_deg
    }),
    channel("Gear", "Gear", "", Hold, |f, _, _| f.gear as f32),
    channel("Engine RPM", "RPM", "rpm", Interpolate, |f, _, _| {
        f.engine_rpm
    }),
    channel("G Force Lat", "GLat", "G", Interpolate, |f, _, _| {
        f.g_lateral
    }),
    channel("G Force Long", "GLong", "G", Interpolate, |f, _, _| {
        f.g_longitudinal
    }),
    channel("G Force Vert", "GVert", "G", Interpolate, |f, _, _| {
        f.g_vertical
    }),
    channel("Lap Number", "Lap", "", Hold, |_, lap, _| lap as f32),
    channel("Running Lap Time", "LapTm", "s", Interpolate, |f, _, _| {
        f.lap_time_ms as f32 / 1000.0
    }),
    channel("Lap Distance", "LapDst", "m", Interpolate, |_, _, d| {
        d as f32
    }),
    channel("Car Pos Norm", "Pos", "", Interpolate, |f, _, _| {
        f.position_normalized
    }),
    channel("Pos X", "PosX", "m", Interpolate, |f, _, _| f.world_m[0]),
    channel("Pos Y", "PosY", "m", Interpolate, |f, _, _| f.world_m[1]),
    channel("Pos Z", "PosZ", "m", Interpolate, |f, _, _| f.world_m[2]),
    channel("In Pit", "Pit", "", Hold, |f, _, _| {
        f32::from(u8::from(f.flags.in_pit))
    }),
];

/// The `.ldx` detail listing where each timed lap's time came from (`official,telemetry,…`),
/// ours.
pub const DETAIL_TIME_SOURCES: &str = "Lap Time Sources";
/// The `.ldx` detail holding the track layout (the `.ld` venue is the track), ours.
pub const DETAIL_TRACK_CONFIG: &str = "Track Config";

/// The `.ldx` beside an `.ld`.
pub fn ldx_path(ld: &Path) -> PathBuf {
    ld.with_extension("ldx")
}

/// A lap's span on the log's clock, from the first pass. The log runs on the game's time
/// (each lap's clock from its line crossing, laps end to end), not on receive times, so a
/// sped-up simulation or a jittery feed logs at its real rate.
#[derive(Debug, Clone, Copy)]
struct Span {
    first_ns: u64,
    last_ns: u64,
    frames: usize,
    /// When its lap clock read 0 (the line), ns.
    line_ns: u64,
}

impl Span {
    /// A frame's time on the log's clock.
    fn time_ns(&self, frame: &Frame) -> u64 {
        let clock_ns = i64::from(frame.lap_time_ms).saturating_mul(1_000_000);
        self.line_ns.saturating_add_signed(clock_ns)
    }
}

/// Unix ms → UTC calendar date and time.
fn date_time(unix_ms: i64) -> LdDateTime {
    let secs = unix_ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let of_day = secs.rem_euclid(86_400);
    // Howard Hinnant's civil-from-days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    LdDateTime {
        year: u16::try_from(year.clamp(0, 9999)).unwrap_or(0),
        month: u8::try_from(month).unwrap_or(1),
        day: u8::try_from(day).unwrap_or(1),
        hour: u8::try_from(of_day / 3600).unwrap_or(0),
        minute: u8::try_from(of_day / 60 % 60).unwrap_or(0),
        second: u8::try_from(of_day % 60).unwrap_or(0),
    }
}

/// The channel values of `frames` at `count` sample times from `t0_ns + k / rate` for
/// `k` in `first_k..first_k + count`, one `Vec` per channel of [`LD_CHANNELS`].
fn resample(
    frames: &[Frame],
    lap_number: i32,
    t0_ns: u64,
    rate_hz: u16,
    first_k: u64,
    count: usize,
) -> Vec<Vec<f32>> {
    let distance = lap_distance_m(frames);
    let mut out: Vec<Vec<f32>> = LD_CHANNELS
        .iter()
        .map(|_| Vec::with_capacity(count))
        .collect();
    let mut i = 0usize;
    for k in first_k..first_k + count as u64 {
        let t_ns = t0_ns + k * 1_000_000_000 / u64::from(rate_hz.max(1));
        while i + 1 < frames.len() && frames[i + 1].time_ns <= t_ns {
            i += 1;
        }
        let (Some(a), da) = (frames.get(i), distance.get(i).copied().unwrap_or(0.0)) else {
            continue;
        };
        let next = frames
            .get(i + 1)
            .filter(|b| b.time_ns > a.time_ns && t_ns > a.time_ns);
        let db = distance.get(i + 1).copied().unwrap_or(da);
        for (channel, values) in LD_CHANNELS.iter().zip(&mut out) {
            let va = (channel.get)(a, lap_number, da);
            let v = match (channel.resample, next) {
                (Interpolate, Some(b)) => {
                    let w = (t_ns - a.time_ns) as f64 / (b.time_ns - a.time_ns) as f64;
                    let vb = (channel.get)(b, lap_number, db);
                    (f64::from(va) + (f64::from(vb) - f64::from(va)) * w) as f32
                }
                _ => va,
            };
            values.push(v);
        }
    }
    out
}

/// Writes `laps` of `session` as `path` (`.ld`) and its `.ldx`.
pub async fn export_ld(
    store: &dyn Store,
    session: &Session,
    laps: &[LapRecord],
    path: &Path,
    overwrite: bool,
) -> Result<ExportSummary, ExportError> {
    // Pass 1: each lap's span on the game's clock, and the recorded rate.
    let mut spans = Vec::with_capacity(laps.len());
    let mut origin_ns = None;
    let mut line_ms: i64 = 0;
    for lap in laps {
        let frames = store.lap_principal_frames(lap.id).await?;
        let (Some(first), Some(last)) = (frames.first(), frames.last()) else {
            spans.push(None);
            continue;
        };
        // The log starts at the first frame's receive time, its clock reading there.
        let origin = *origin_ns.get_or_insert_with(|| {
            first
                .time_ns
                .saturating_sub(u64::try_from(first.lap_time_ms.max(0)).unwrap_or(0) * 1_000_000)
        });
        let mut span = Span {
            first_ns: 0,
            last_ns: 0,
            frames: frames.len(),
            line_ns: origin.saturating_add_signed(line_ms.saturating_mul(1_000_000)),
        };
        span.first_ns = span.time_ns(first);
        span.last_ns = span.time_ns(last).max(span.first_ns);
        spans.push(Some(span));
        let step_ms =
            i64::from(last.lap_time_ms - first.lap_time_ms) / (frames.len() as i64).max(2);
        line_ms += lap
            .time_ms()
            .map_or(i64::from(last.lap_time_ms) + step_ms.max(1), i64::from);
    }
    let timed: Vec<Span> = spans.iter().flatten().copied().collect();
    let (Some(start), Some(end)) = (timed.first(), timed.last()) else {
        return Err(ExportError::Io(std::io::Error::other(
            "the laps have no frames to log",
        )));
    };
    let (t0_ns, end_ns) = (start.first_ns, end.last_ns.max(start.first_ns));
    let span_frames: usize = timed.iter().map(|s| s.frames.saturating_sub(1)).sum();
    let span_ns: u64 = timed
        .iter()
        .map(|s| s.last_ns.saturating_sub(s.first_ns))
        .sum();
    let rate_hz = if span_ns > 0 {
        (span_frames as f64 * 1e9 / span_ns as f64)
            .round()
            .clamp(1.0, 1000.0) as u16
    } else {
        1
    };
    let sample_at = |t_ns: u64| -> u64 {
        (u128::from(t_ns.saturating_sub(t0_ns)) * u128::from(rate_hz)).div_ceil(1_000_000_000)
            as u64
    };
    let total = sample_at(end_ns) + 1;
    let total_u32 = u32::try_from(total).map_err(|_| {
        ExportError::Io(std::io::Error::other(format!(
            "{total} samples at {rate_hz} Hz are more than an .ld channel holds"
        )))
    })?;

    let venue = session.track.clone();
    let header = LdHeader {
        driver: session.driver.clone(),
        vehicle: session.car.clone(),
        vehicle_type: "Car".to_owned(),
        vehicle_comment: String::new(),
        vehicle_weight_kg: 0,
        venue,
        event: session.name.clone(),
        session: session.source.as_str().to_owned(),
        short_comment: session.name.clone(),
        long_comment: format!("Exported by Purple Sector from session {}", session.id),
        started: date_time(i64::try_from(t0_ns / 1_000_000).unwrap_or(0)),
    };
    let specs: Vec<LdChannelSpec> = LD_CHANNELS
        .iter()
        .map(|c| LdChannelSpec {
            short_name: c.short.to_owned(),
            ..LdChannelSpec::f32(c.name, c.unit, rate_hz, total_u32)
        })
        .collect();
    let mut writer = LdWriter::new(create(path, overwrite)?, &header, &specs)?;

    // Pass 2: each lap's samples, up to the next lap's first frame.
    let mut summary = ExportSummary::default();
    let mut beacons_us = Vec::new();
    let mut written = 0u64;
    for (k, (lap, span)) in laps.iter().zip(&spans).enumerate() {
        let Some(span) = span else { continue };
        let mut frames = store.lap_frames(lap.id).await?;
        for f in &mut frames {
            f.time_ns = span.time_ns(f);
        }
        let next_first = spans[k + 1..].iter().flatten().next().map(|s| s.first_ns);
        let until = next_first.map_or(total, sample_at);
        let count = usize::try_from(until.saturating_sub(written)).unwrap_or(0);
        let values = resample(&frames, lap.number, t0_ns, rate_hz, written, count);
        for (channel, samples) in values.iter().enumerate() {
            writer.append(channel, samples)?;
        }
        written += count as u64;
        summary.laps += 1;
        summary.frames += frames.len() as u64;
        if let Some(time) = lap.time {
            let line_end_ns = span.line_ns + u64::try_from(time.ms.max(0)).unwrap_or(0) * 1_000_000;
            beacons_us.push(line_end_ns.saturating_sub(t0_ns) / 1000);
        }
    }
    writer.finish()?.flush()?;

    let best = best_lap(laps);
    let mut details = vec![(DETAIL_TOTAL_LAPS.to_owned(), laps.len().to_string())];
    if let Some(best) = best {
        if let Some(ms) = best.time_ms() {
            details.push((
                DETAIL_FASTEST_TIME.to_owned(),
                format!("{}:{:02}.{:03}", ms / 60_000, ms / 1000 % 60, ms % 1000),
            ));
            details.push((DETAIL_FASTEST_LAP.to_owned(), best.number.to_string()));
        }
    }
    let sources: Vec<&str> = laps
        .iter()
        .filter_map(|l| l.time.map(|t| t.source))
        .map(LapTimeSource::as_str)
        .collect();
    details.push((DETAIL_TIME_SOURCES.to_owned(), sources.join(",")));
    details.push((DETAIL_TRACK_CONFIG.to_owned(), session.track_config.clone()));
    let ldx = Ldx {
        beacons_us,
        details,
    };
    let ldx_path = ldx_path(path);
    let mut out = create(&ldx_path, overwrite)?;
    out.write_all(ldx.to_xml().as_bytes())?;
    out.flush()?;
    summary.files = vec![path.to_owned(), ldx_path];
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unix_time_to_calendar() {
        let d = date_time(1_605_217_806_000); // 2020-11-12T21:50:06Z
        assert_eq!(
            (d.year, d.month, d.day, d.hour, d.minute, d.second),
            (2020, 11, 12, 21, 50, 6)
        );
        let d = date_time(951_782_400_000); // 2000-02-29T00:00:00Z
        assert_eq!((d.year, d.month, d.day), (2000, 2, 29));
    }

    #[test]
    fn resampling_interpolates_and_holds() {
        let frames: Vec<Frame> = (0..3)
            .map(|k| Frame {
                time_ns: 1_000_000_000 + k * 100_000_000,
                speed_kmh: 100.0 + k as f32 * 10.0,
                gear: 3 + k as i32,
                ..Frame::default()
            })
            .collect();
        // 20 Hz from the first frame: 0, 50, 100, 150, 200 ms.
        let v = resample(&frames, 7, 1_000_000_000, 20, 0, 5);
        assert_eq!(v[0], [100.0, 105.0, 110.0, 115.0, 120.0]);
        assert_eq!(v[5], [3.0, 3.0, 4.0, 4.0, 5.0]);
        assert_eq!(v[10], [7.0; 5]);
    }
}
