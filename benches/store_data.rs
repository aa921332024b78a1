//! The store benchmark's inputs: laps made from the real logged one, and the original app's
//! layout to compare with.
//!
//! - [`logged_frames`]: the real logged lap as frames, as they are (~45 Hz rows).
//! - [`resampled_333hz`]: a realistic 333 Hz lap made from the logged one (see its docs for
//!   exactly how, and what is modelled rather than measured).
//! - [`JsonTextBaseline`]: the original app's layout (a lap's frames as one JSON text in
//!   SQLite), for the benchmarks to compare against.
//! - [`runtime`]: a Tokio runtime for callers that do not depend on Tokio themselves.

use std::path::Path;

use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};

use purple_sector_core::import::OriginalFrame;
use purple_sector_core::logger::LoggerLap;
use purple_sector_core::telemetry::{Flags, Frame, STANDARD_GRAVITY_MS2, Wheels};

/// Receive time of the first frame of the generated laps, ns since the Unix epoch
/// (2023-11-14 22:13:20 UTC).
pub const T0_NS: u64 = 1_700_000_000_000_000_000;

/// The game's lap count while the logged lap was driven.
const LAP_COUNT: i32 = 2;

/// The logged lap's rows as frames, nothing added: every field the logger did not record is
/// zero, and the receive time is [`T0_NS`] plus the row's lap clock (the logger kept no
/// receive time).
pub fn logged_frames(lap: &LoggerLap) -> Vec<Frame> {
    let first_ms = lap.rows.first().map_or(0, |r| r.lap_time_ms);
    lap.car_infos(LAP_COUNT)
        .map(|car| {
            let ms = u64::try_from(car.lap_time_ms.saturating_sub(first_ms)).unwrap_or(0);
            Frame::from_owned_car_info(&car, T0_NS + ms * 1_000_000)
        })
        .collect()
}

/// A deterministic pseudo-random source (xorshift64*), so generated laps are reproducible.
#[derive(Debug, Clone)]
pub struct Noise(u64);

impl Noise {
    /// A source from a seed (any value; 0 is replaced).
    pub fn new(seed: u64) -> Self {
        Self(seed.max(1))
    }

    /// Uniform in [0, 1).
    pub fn uniform(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let x = self.0.wrapping_mul(0x2545_f491_4f6c_dd1d);
        (x >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Roughly normal with standard deviation `sigma` (sum of four uniforms, bounded at
    /// ±3.5 σ).
    pub fn normal(&mut self, sigma: f64) -> f64 {
        let s: f64 = (0..4).map(|_| self.uniform()).sum::<f64>() - 2.0;
        s * sigma * 3f64.sqrt()
    }
}

/// Per-row quantities derived from the logged trajectory, before resampling.
#[derive(Debug, Clone, Copy, Default)]
struct Derived {
    long_g: f64,
    lat_g: f64,
    vert_g: f64,
    grade: f64,
}

fn derive(lap: &LoggerLap) -> Vec<Derived> {
    let rows = &lap.rows;
    let n = rows.len();
    let t = |i: usize| f64::from(rows[i].lap_time_ms) / 1000.0;
    let v = |i: usize| f64::from(rows[i].speed_mph) * 0.447_04;
    let xz = |i: usize| {
        (
            f64::from(rows[i].coordinates_m[0]),
            f64::from(rows[i].coordinates_m[2]),
        )
    };
    let y = |i: usize| f64::from(rows[i].coordinates_m[1]);
    const H: usize = 4; // rows either side (~0.1 s) for the differences
    let mut raw = vec![Derived::default(); n];
    for (i, d) in raw.iter_mut().enumerate() {
        let a = i.saturating_sub(H);
        let b = (i + H).min(n.saturating_sub(1));
        let dt = t(b) - t(a);
        if b <= a || dt <= 0.0 {
            continue;
        }
        d.long_g = (v(b) - v(a)) / dt / STANDARD_GRAVITY_MS2;
        let ds = lap.distance_m[b] - lap.distance_m[a];
        if ds > 0.5 {
            d.grade = (y(b) - y(a)) / ds;
        }
        if i == a || i == b {
            continue;
        }
        // Heading change over the window: yaw rate × speed = lateral acceleration.
        let (x0, z0) = xz(a);
        let (x1, z1) = xz(i);
        let (x2, z2) = xz(b);
        let h1 = (z1 - z0).atan2(x1 - x0);
        let h2 = (z2 - z1).atan2(x2 - x1);
        let mut dh = h2 - h1;
        while dh > std::f64::consts::PI {
            dh -= std::f64::consts::TAU;
        }
        while dh < -std::f64::consts::PI {
            dh += std::f64::consts::TAU;
        }
        d.lat_g = (dh / (dt / 2.0)) * v(i) / STANDARD_GRAVITY_MS2;
    }
    // Vertical g from the change of grade (crests and compressions), and a light smoothing
    // of everything: the logged positions are 1 m apart, their differences are rough.
    for i in 0..n {
        let a = i.saturating_sub(H);
        let b = (i + H).min(n.saturating_sub(1));
        let dt = t(b) - t(a);
        if b > a && dt > 0.0 {
            raw[i].vert_g =
                ((raw[b].grade - raw[a].grade) * v(i) / dt / STANDARD_GRAVITY_MS2).clamp(-1.5, 1.5);
        }
    }
    (0..n)
        .map(|i| {
            let a = i.saturating_sub(3);
            let b = (i + 3).min(n.saturating_sub(1));
            let k = (b - a + 1) as f64;
            let mut s = Derived::default();
            for d in &raw[a..=b] {
                s.long_g += d.long_g / k;
                s.lat_g += d.lat_g / k;
                s.vert_g += d.vert_g / k;
                s.grade += d.grade / k;
            }
            s.long_g = s.long_g.clamp(-3.0, 2.0);
            s.lat_g = s.lat_g.clamp(-3.0, 3.0);
            s
        })
        .collect()
}

/// A realistic 333 Hz lap made from a logged ~45 Hz lap (in the tests and benches: the real
/// Imola lap, Corvette C7.R, 4 880 rows over 108.6 s → 36 213 frames).
///
/// How it is made, honestly:
///
/// - **Time base.** One frame every 3 ms of lap clock (AC's physics tick; the logged rows
///   are whole multiples of 3 ms apart), from the first row's clock to the last. The lap
///   clock (`lap_time_ms`) is exact; the receive time `time_ns` is [`T0_NS`] plus 3 ms per
///   frame plus a receive jitter uniform in ±20 µs (ns resolution), as a socket would see it.
/// - **Recorded channels** (speed, gas, brake, steer, x, y, z, track position): linear
///   interpolation between the two surrounding rows, computed in f64 and rounded to f32;
///   speed in km/h and m/s derived from mph in f32 as the logger import does. The gear is
///   held from the previous row. No noise: AC sends these filtered, and the logged values
///   show it. Linear interpolation makes these channels *smoother* than real 333 Hz data
///   (their second difference is zero between rows), so the figures for them are a little
///   optimistic.
/// - **Modelled channels** (not in the log): longitudinal, lateral and vertical g from the
///   trajectory's speed, heading and grade changes over ±4 rows, smoothed over ±3 rows,
///   interpolated, plus sensor noise σ = 0.02 g (0.03 g vertical); rpm from speed and a
///   C7.R-like gear ratio (held through neutral), plus σ = 4 rpm; wheel loads from static
///   loads, aero (∝ v²) and longitudinal and lateral load transfer of the noisy g-forces;
///   slip ratios from the pedals plus σ = 0.002; wheel angular speeds from speed, loaded
///   radius and slip ratio plus σ = 0.05 rad/s; slip angles from lateral g plus σ = 0.05°;
///   tyre slip, normalised slip, friction, aligning torque, camber, loaded radius,
///   suspension height, cg height and slope computed from those (suspension with σ = 0.1 mm
///   of road noise); flags from the pedals (ABS and TC on, ABS acting under heavy braking,
///   TC acting on hard throttle in low gears, limiter near the redline); constant clutch
///   (1), tyre radii, dirt (0), last and best lap and lap count. The noise is what makes
///   these channels expensive to store: the figures for the rest group are indicative.
///
/// All noise comes from [`Noise`] with a fixed seed: the same input gives the same frames.
pub fn resampled_333hz(lap: &LoggerLap) -> Vec<Frame> {
    const STEP_MS: i32 = 3;
    const RATIOS: [f64; 6] = [8.0, 6.1, 4.9, 4.1, 3.55, 3.15];
    const STATIC_N: [f64; 4] = [2_350.0, 2_350.0, 2_750.0, 2_750.0];
    const RADIUS_M: [f32; 4] = [0.3302, 0.3302, 0.3454, 0.3454];
    const CAMBER_RAD: [f64; 4] = [-0.061, -0.061, -0.035, -0.035];
    const RIDE_M: [f64; 4] = [0.055, 0.055, 0.066, 0.066];
    const KMH_PER_MPH: f32 = 1.609_344;

    let rows = &lap.rows;
    let (Some(first), Some(last)) = (rows.first(), rows.last()) else {
        return Vec::new();
    };
    let derived = derive(lap);
    let length = lap.length_m();
    let mut noise = Noise::new(0x5eed_c7e7_1a2b_3c4d);
    let mut frames = Vec::new();
    let mut j = 0usize;
    let mut last_gear = 1i32;
    let mut clock = first.lap_time_ms;
    let mut k = 0u64;
    while clock <= last.lap_time_ms {
        while j + 2 < rows.len() && rows[j + 1].lap_time_ms <= clock {
            j += 1;
        }
        let (r0, r1) = (&rows[j], &rows[(j + 1).min(rows.len() - 1)]);
        let span = f64::from(r1.lap_time_ms - r0.lap_time_ms);
        let alpha = if span > 0.0 {
            (f64::from(clock - r0.lap_time_ms) / span).clamp(0.0, 1.0)
        } else {
            0.0
        };
        let lerp = |a: f32, b: f32| f64::from(a) + (f64::from(b) - f64::from(a)) * alpha;
        let lerp64 = |a: f64, b: f64| a + (b - a) * alpha;
        let (d0, d1) = (derived[j], derived[(j + 1).min(rows.len() - 1)]);

        let speed_mph = lerp(r0.speed_mph, r1.speed_mph) as f32;
        let speed_kmh = speed_mph * KMH_PER_MPH;
        let speed_ms = speed_kmh / 3.6;
        let v = f64::from(speed_ms);
        let gas = lerp(r0.gas, r1.gas);
        let brake = lerp(r0.brake, r1.brake);
        let gear = r0.gear_raw - 1;
        if gear >= 1 {
            last_gear = gear;
        }
        let long_g = lerp64(d0.long_g, d1.long_g) + noise.normal(0.02);
        let lat_g = lerp64(d0.lat_g, d1.lat_g) + noise.normal(0.02);
        let vert_g = lerp64(d0.vert_g, d1.vert_g) + noise.normal(0.03);
        let grade = lerp64(d0.grade, d1.grade);
        let ratio = RATIOS[(last_gear.clamp(1, 6) - 1) as usize];
        let rpm =
            (v / 0.3164 * ratio * 60.0 / std::f64::consts::TAU).max(1_400.0) + noise.normal(4.0);

        let aero = 0.42 * v * v;
        let mut wheels = Wheels::default();
        for w in 0..4 {
            let front = w < 2;
            let left = w % 2 == 0;
            let load = STATIC_N[w]
                + aero * if front { 0.46 } else { 0.54 }
                + long_g * 420.0 * if front { -1.0 } else { 1.0 }
                + lat_g * 560.0 * if left { 1.0 } else { -1.0 };
            let load = load.max(50.0);
            let slip_ratio =
                if front { 0.0 } else { 0.025 * gas } - 0.035 * brake + noise.normal(0.002);
            let slip_angle = lat_g * if front { 2.1 } else { 1.7 } + noise.normal(0.05);
            let loaded_radius = f64::from(RADIUS_M[w]) - load / 280_000.0;
            let tyre_slip = (slip_angle / 7.0).hypot(slip_ratio / 0.1);
            wheels.angular_speed_rad_s[w] =
                (v / loaded_radius * (1.0 + slip_ratio) + noise.normal(0.05)) as f32;
            wheels.slip_angle_deg[w] = slip_angle as f32;
            wheels.slip_angle_contact_patch[w] = (slip_angle * 0.92) as f32;
            wheels.slip_ratio[w] = slip_ratio as f32;
            wheels.tyre_slip[w] = tyre_slip as f32;
            wheels.nd_slip[w] = (tyre_slip / 1.15) as f32;
            wheels.load_n[w] = load as f32;
            wheels.dy[w] = (1.46 - 0.07 * tyre_slip.min(2.0)) as f32;
            wheels.mz_nm[w] = (slip_angle * load / 95.0) as f32;
            wheels.tyre_dirty_level[w] = 0.0;
            wheels.camber_rad[w] =
                (CAMBER_RAD[w] + lat_g * 0.004 * if left { 1.0 } else { -1.0 }) as f32;
            wheels.tyre_radius_m[w] = RADIUS_M[w];
            wheels.tyre_loaded_radius_m[w] = loaded_radius as f32;
            wheels.suspension_height_m[w] =
                (RIDE_M[w] - load / 150_000.0 + noise.normal(0.000_1)) as f32;
        }

        let distance = lerp64(
            lap.distance_m[j],
            lap.distance_m[(j + 1).min(rows.len() - 1)],
        );
        let jitter = (noise.uniform() * 40_000.0) as i64 - 20_000;
        frames.push(Frame {
            time_ns: (T0_NS + k * 3_000_000).saturating_add_signed(jitter),
            lap_time_ms: clock,
            last_lap_ms: 109_105,
            best_lap_ms: 108_987,
            lap_count: LAP_COUNT,
            position_normalized: if length > 0.0 {
                (distance / length) as f32
            } else {
                0.0
            },
            speed_kmh,
            speed_mph,
            speed_ms,
            gas: gas as f32,
            brake: brake as f32,
            clutch: 1.0,
            steer_deg: lerp(r0.steer_deg, r1.steer_deg) as f32,
            gear,
            engine_rpm: rpm as f32,
            g_vertical: vert_g as f32,
            g_lateral: lat_g as f32,
            g_longitudinal: long_g as f32,
            world_m: [
                lerp(r0.coordinates_m[0], r1.coordinates_m[0]) as f32,
                lerp(r0.coordinates_m[1], r1.coordinates_m[1]) as f32,
                lerp(r0.coordinates_m[2], r1.coordinates_m[2]) as f32,
            ],
            flags: Flags {
                abs_enabled: true,
                abs_in_action: brake > 0.85,
                tc_in_action: gas > 0.9 && long_g > 0.25 && gear <= 3,
                tc_enabled: true,
                in_pit: false,
                engine_limiter_on: rpm > 7_450.0,
            },
            cg_height_m: (0.4638 - 0.004 * vert_g) as f32,
            car_slope: (grade + 0.004 * long_g) as f32,
            wheels,
        });
        clock += STEP_MS;
        k += 1;
    }
    frames
}

/// One frame in the original app's layout: its `TelemetryFrame` fields (camelCase, time in
/// ms, steering −1..1, the one conversion of [`OriginalFrame`]), plus every field of ours
/// under `frame`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct JsonFrame {
    /// The original's fields.
    #[serde(flatten)]
    pub original: OriginalFrame,
    /// Every field of the frame.
    pub frame: Frame,
}

impl From<&Frame> for JsonFrame {
    fn from(f: &Frame) -> Self {
        Self {
            original: OriginalFrame::from_frame(f),
            frame: *f,
        }
    }
}

/// The original layout, for comparison: a lap row whose telemetry is one JSON text (an array
/// of [`JsonFrame`]), in SQLite with the same pragmas as the store (16 KiB pages, WAL, the
/// lap commit synced).
#[derive(Debug)]
pub struct JsonTextBaseline {
    conn: Connection,
}

impl JsonTextBaseline {
    /// Opens (or creates) the baseline database.
    pub fn open(path: &Path) -> rusqlite::Result<Self> {
        let conn = Connection::open(path)?;
        conn.pragma_update(None, "page_size", 16_384)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS laps (
                 id INTEGER PRIMARY KEY AUTOINCREMENT,
                 lap_number INTEGER NOT NULL,
                 telemetry_data TEXT NOT NULL
             )",
        )?;
        Ok(Self { conn })
    }

    /// Saves a lap (serialize + insert in one transaction); returns its id.
    pub fn save(&mut self, number: i32, frames: &[Frame]) -> rusqlite::Result<i64> {
        let rows: Vec<JsonFrame> = frames.iter().map(JsonFrame::from).collect();
        let text = serde_json::to_string(&rows)
            .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
        // Synced like the store's lap commit.
        self.conn.pragma_update(None, "synchronous", "FULL")?;
        let tx = self.conn.transaction()?;
        tx.execute(
            "INSERT INTO laps (lap_number, telemetry_data) VALUES (?1, ?2)",
            params![number, text],
        )?;
        let id = tx.last_insert_rowid();
        tx.commit()?;
        self.conn.pragma_update(None, "synchronous", "NORMAL")?;
        Ok(id)
    }

    /// Loads a lap's frames (select + parse); `None` when there is no such lap.
    pub fn load(&self, id: i64) -> rusqlite::Result<Option<Vec<Frame>>> {
        let text: Option<String> = self
            .conn
            .query_row(
                "SELECT telemetry_data FROM laps WHERE id = ?1",
                [id],
                |row| row.get(0),
            )
            .optional()?;
        let Some(text) = text else {
            return Ok(None);
        };
        let rows: Vec<JsonFrame> = serde_json::from_str(&text).map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e))
        })?;
        Ok(Some(rows.into_iter().map(|r| r.frame).collect()))
    }

    /// Deletes a lap.
    pub fn delete(&self, id: i64) -> rusqlite::Result<()> {
        self.conn.execute("DELETE FROM laps WHERE id = ?1", [id])?;
        Ok(())
    }

    /// Bytes of the lap's JSON text.
    pub fn stored_len(&self, id: i64) -> rusqlite::Result<usize> {
        self.conn.query_row(
            "SELECT length(CAST(telemetry_data AS BLOB)) FROM laps WHERE id = ?1",
            [id],
            |row| row.get(0),
        )
    }
}

/// A multi-thread Tokio runtime (2 workers), for benchmarks that drive the async store
/// without depending on Tokio.
pub fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
}
