//! Shared inputs for the benchmarks: a realistic lap of car-info packets, and the store's
//! laps ([`store_data`]).

pub mod store_data;

use purple_sector_core::logger::LoggerLap;
use purple_sector_core::protocol::{CAR_INFO_LEN, OwnedCarInfo};

/// The real Imola lap (see `purple-sector-core/tests/fixtures/SOURCE.md`).
pub const IMOLA_LAP_TSV: &str =
    include_str!("../purple-sector-core/tests/fixtures/imola-c7r-lap2.tsv");

/// At least `min_packets` realistic car-info packets, back to back (328 bytes each): the real
/// Imola lap's rows, repeated, with every other field filled as the game would fill it.
pub fn lap_packets(min_packets: usize) -> Vec<u8> {
    let lap = match LoggerLap::parse(IMOLA_LAP_TSV) {
        Ok(lap) => lap,
        Err(e) => panic!("bundled lap does not parse: {e}"),
    };
    let base: Vec<OwnedCarInfo> = lap.car_infos(1).collect();
    let mut out = Vec::with_capacity(min_packets.max(base.len()) * CAR_INFO_LEN + CAR_INFO_LEN);
    let mut n = 0usize;
    while n < min_packets.max(1) {
        for (k, packet) in base.iter().enumerate() {
            let mut p = *packet;
            let t = (n + k) as f32;
            p.padding_after_identifier = [0, 0x33, 0];
            p.engine_rpm = 4_000.0 + p.speed_kmh * 20.0 + (t * 0.37).sin() * 50.0;
            p.clutch = 1.0;
            p.acc_g_horizontal = (t * 0.013).sin() * 2.1;
            p.acc_g_frontal = (t * 0.007).cos() * 1.3;
            p.acc_g_vertical = (t * 0.11).sin() * 0.05;
            p.wheel_angular_speed_rad_s = [p.speed_ms / 0.3164; 4];
            p.load_n = [2_300.0, 2_000.0, 3_200.0, 2_900.0];
            p.tyre_radius_m = [0.3225; 4];
            p.tyre_loaded_radius_m = [0.3164; 4];
            p.cg_height_m = 0.4638;
            p.lap_count = 1 + (n / base.len()) as i32;
            p.last_lap_ms = 108_600;
            p.best_lap_ms = 108_600;
            out.extend_from_slice(&p.encode());
        }
        n += base.len();
    }
    out
}

/// The real Imola lap, parsed (4 880 rows at ~45 Hz, 108.6 s).
pub fn imola_lap() -> purple_sector_core::logger::LoggerLap {
    match purple_sector_core::logger::LoggerLap::parse(IMOLA_LAP_TSV) {
        Ok(lap) => lap,
        Err(e) => panic!("bundled lap does not parse: {e}"),
    }
}

/// The median of `runs` timings of `f`, in seconds: what the benches' printed ratios compare
/// (criterion's own figures stay the reference for each bench alone).
pub fn median_s(runs: usize, mut f: impl FnMut()) -> f64 {
    median(
        (0..runs.max(1))
            .map(|_| {
                let started = std::time::Instant::now();
                f();
                started.elapsed().as_secs_f64()
            })
            .collect(),
    )
}

/// The median of some values (the upper one of an even count); panics on none.
pub fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}
