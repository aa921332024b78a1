//! The simulator: tracks, car, driver, mistakes and the datagrams it produces.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};

use purple_sector_core::logger::LoggerLap;
use purple_sector_core::protocol::{CarInfo, NAME_TERMINATOR};
use purple_sector_core::sim::{
    Car, LapReport, Mistake, MistakeKind, MistakeSpecError, PHYSICS_STEP_NS, PHYSICS_STEP_S,
    SimConfig, SimStep, Simulator, SpeedProfile, Track, parse_mistakes, track_map,
};
use purple_sector_core::telemetry::STANDARD_GRAVITY_MS2;
use purple_sector_core::track::TrackMap;

const IMOLA_LAP2: &str = include_str!("fixtures/imola-c7r-lap2.tsv");
const IMOLA_CSV_PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/src/sim/data/imola.csv");

fn imola_points() -> Vec<[f64; 3]> {
    let lap = LoggerLap::parse(IMOLA_LAP2).unwrap();
    lap.rows
        .iter()
        .map(|r| r.coordinates_m.map(f64::from))
        .collect()
}

/// A whole session's output.
struct Run {
    steps: Vec<SimStep>,
    reports: Vec<LapReport>,
    optimal_ms: f64,
    track: Track,
    car: Car,
}

impl Run {
    /// The frames driven while `lap_count` was `lap - 1` (that is, lap `lap`).
    fn lap_frames(&self, lap: i32) -> impl Iterator<Item = &SimStep> {
        self.steps
            .iter()
            .filter(move |s| s.car_info.lap_count == lap - 1)
    }

    /// Distance from the line of a frame, m.
    fn distance(&self, step: &SimStep) -> f64 {
        f64::from(step.car_info.car_position_normalized) * self.track.length_m()
    }

    /// Time into lap `lap` (ms) at which the car first reaches `distance_m`, interpolated
    /// between frames.
    fn time_at(&self, lap: i32, distance_m: f64) -> f64 {
        let frames: Vec<&SimStep> = self.lap_frames(lap).collect();
        for w in frames.windows(2) {
            let (d0, d1) = (self.distance(w[0]), self.distance(w[1]));
            if d0 <= distance_m && distance_m < d1 {
                let (t0, t1) = (w[0].sim_time_ns as f64, w[1].sim_time_ns as f64);
                let start =
                    frames[0].sim_time_ns as f64 - f64::from(frames[0].car_info.lap_time_ms) * 1e6;
                let t = t0 + (t1 - t0) * (distance_m - d0) / (d1 - d0);
                return (t - start) * 1e-6;
            }
        }
        panic!("lap {lap} never reaches {distance_m} m");
    }
}

fn run(config: SimConfig) -> Run {
    let track = config.track.clone();
    let car = config.car.clone();
    let mut sim = Simulator::new(config);
    let optimal_ms = sim.optimal_lap_time_ms();
    let steps: Vec<SimStep> = sim.by_ref().collect();
    assert!(sim.is_finished());
    assert!(sim.step().is_none());
    Run {
        steps,
        reports: sim.lap_reports().to_vec(),
        optimal_ms,
        track,
        car,
    }
}

/// The test track's map, as the coach builds it from the simulator's clean lap (once).
fn test_map() -> &'static TrackMap {
    static MAP: std::sync::OnceLock<TrackMap> = std::sync::OnceLock::new();
    MAP.get_or_init(|| track_map(&Track::test_circuit(), &Car::corvette_c7r()).unwrap())
}

fn test_config(laps: u32, seed: u64, mistakes: &str) -> SimConfig {
    let track = Track::test_circuit();
    let mistakes = parse_mistakes(mistakes, test_map()).unwrap();
    SimConfig {
        track,
        car: Car::corvette_c7r(),
        laps,
        seed,
        mistakes,
        driver_name: "Tester".to_owned(),
        map: Some(test_map().clone()),
    }
}

/// The committed Imola geometry is what `Track::from_path` derives from the real lap.
/// `PURPLE_SECTOR_BLESS=1 cargo test -p purple-sector-core --test sim imola_geometry` rewrites
/// `src/sim/data/imola.csv` (then run the tests again: the file is compiled in).
#[test]
fn imola_geometry_rederives_from_the_fixture() {
    let derived = Track::from_path("imola", &imola_points()).unwrap();
    if std::env::var_os("PURPLE_SECTOR_BLESS").is_some() {
        std::fs::write(IMOLA_CSV_PATH, derived.to_csv()).unwrap();
    }
    let committed = Track::imola();
    assert_eq!(committed.samples().len(), derived.samples().len());
    assert!((committed.length_m() - derived.length_m()).abs() < 1e-3);
    for (c, d) in committed.samples().iter().zip(derived.samples()) {
        for axis in 0..3 {
            assert!(
                (c.position_m[axis] - d.position_m[axis]).abs() < 1e-3,
                "{c:?} vs {d:?}"
            );
        }
        assert!((c.curvature_per_m - d.curvature_per_m).abs() < 1e-8);
    }
    assert_eq!(committed.corners().len(), derived.corners().len());
    for (c, d) in committed.corners().iter().zip(derived.corners()) {
        assert_eq!((&c.name, c.direction), (&d.name, d.direction));
        for (a, b) in [
            (c.start_m, d.start_m),
            (c.apex_m, d.apex_m),
            (c.end_m, d.end_m),
        ] {
            assert!((a - b).abs() < 0.01, "{c:?} vs {d:?}");
        }
    }
}

#[test]
fn imola_matches_the_real_path() {
    let real = LoggerLap::parse(IMOLA_LAP2).unwrap();
    let imola = Track::by_name("imola").unwrap();
    assert_eq!(imola.name(), "imola");
    let ratio = imola.length_m() / real.length_m();
    assert!(
        (ratio - 1.0).abs() < 0.01,
        "{} vs {}",
        imola.length_m(),
        real.length_m()
    );
    // The centre line stays close to the logged points (closing the loop moves the last
    // ones by up to the 1.9 m the car's line differed by at the line).
    for p in imola_points().iter().step_by(25) {
        let nearest = imola
            .samples()
            .iter()
            .map(|s| (s.position_m[0] - p[0]).hypot(s.position_m[2] - p[2]))
            .fold(f64::INFINITY, f64::min);
        assert!(nearest < 2.5, "{p:?} is {nearest} m from the centre line");
    }
    // Imola runs anticlockwise: a net turn of one full circle to the left.
    let net_turn: f64 = imola
        .samples()
        .iter()
        .map(|s| s.curvature_per_m)
        .sum::<f64>()
        * imola.spacing_m();
    assert!(
        (net_turn.to_degrees() + 360.0).abs() < 2.0,
        "{}",
        net_turn.to_degrees()
    );
    // Elevation spans the real ~34 m.
    let ys = imola.samples().iter().map(|s| s.position_m[1]);
    let (lo, hi) = ys.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), y| {
        (lo.min(y), hi.max(y))
    });
    assert!((hi - lo - 34.4).abs() < 1.0, "{lo}..{hi}");
    // Tamburello, Villeneuve, Tosa, Piratella, Acque Minerali, Variante Alta, Rivazza.
    let corners = imola.corners();
    assert!((11..=15).contains(&corners.len()), "{corners:#?}");
    let tightest = corners
        .iter()
        .map(|c| c.min_radius_m)
        .fold(f64::INFINITY, f64::min);
    assert!((30.0..45.0).contains(&tightest), "{tightest}");
    assert_eq!(Track::names(), ["imola", "test"]);
}

#[test]
fn imola_lap_time_and_top_speed_match_the_real_lap() {
    let real = LoggerLap::parse(IMOLA_LAP2).unwrap();
    let real_ms = f64::from(real.rows.last().unwrap().lap_time_ms);
    let real_top_kmh = real
        .rows
        .iter()
        .map(|r| f64::from(r.speed_mph) * 1.609_344)
        .fold(0.0, f64::max);
    let mut config = SimConfig::new(Track::imola());
    config.laps = 1;
    config.seed = 3;
    let run = run(config);
    assert_eq!(run.reports.len(), 2);
    let flying = &run.reports[1];
    assert_eq!(flying.lap, 2);
    let lap_ms = f64::from(flying.reported_ms);
    assert!(
        (lap_ms / real_ms - 1.0).abs() < 0.10,
        "{lap_ms} vs {real_ms}"
    );
    assert!((lap_ms / run.optimal_ms - 1.0).abs() < 0.03);
    let top_kmh = run
        .lap_frames(2)
        .map(|s| f64::from(s.car_info.speed_kmh))
        .fold(0.0, f64::max);
    assert!(
        (top_kmh / real_top_kmh - 1.0).abs() < 0.10,
        "{top_kmh} vs {real_top_kmh}"
    );
    let steer = run.lap_frames(2).map(|s| f64::from(s.car_info.steer_deg));
    let (lo, hi) = steer.fold((0.0f64, 0.0f64), |(lo, hi), x| (lo.min(x), hi.max(x)));
    assert!(
        (-160.0..-80.0).contains(&lo) && (50.0..110.0).contains(&hi),
        "{lo}..{hi}"
    );
    eprintln!(
        "imola: lap {lap_ms} ms (real {real_ms}), optimum {:.0} ms, top {top_kmh:.1} km/h (real {real_top_kmh:.1})",
        run.optimal_ms
    );
}

#[test]
fn laps_follow_the_profile_and_count_like_the_game() {
    let run = run(test_config(3, 7, ""));
    let length = run.track.length_m();
    // Out lap + 3 flying laps.
    assert_eq!(run.reports.len(), 4);
    let events: Vec<_> = run
        .steps
        .iter()
        .filter_map(|s| s.lap_completed.map(|e| (e, s.car_info)))
        .collect();
    assert_eq!(events.len(), 4);
    let mut best = 0;
    for (n, (event, info)) in events.iter().enumerate() {
        let lap = n as i32 + 1;
        assert_eq!(event.lap, lap);
        assert_eq!(event.car_identifier_number, 0);
        assert_eq!(info.lap_count, lap);
        assert_eq!(info.last_lap_ms, event.time_ms);
        best = if best == 0 {
            event.time_ms
        } else {
            best.min(event.time_ms)
        };
        assert_eq!(info.best_lap_ms, best);
        assert!(info.lap_time_ms < 4, "{}", info.lap_time_ms);
        assert!(info.car_position_normalized < 0.01);
        let report = &run.reports[n];
        assert_eq!(report.lap, lap as u32);
        assert_eq!(report.reported_ms, event.time_ms);
        assert_eq!(report.out_lap, lap == 1);
    }
    // Before the first crossing: nothing completed.
    let first = &run.steps[0].car_info;
    assert_eq!(
        (first.lap_count, first.last_lap_ms, first.best_lap_ms),
        (0, 0, 0)
    );
    for report in &run.reports[1..] {
        // A clean flying lap is within 3 % of the profile's optimum.
        assert!(
            (report.time_ms / run.optimal_ms - 1.0).abs() < 0.03,
            "{report:?}"
        );
        assert!((report.time_ms - report.clean_time_ms).abs() < 1e-6);
        assert!((report.grip - 1.0).abs() <= 0.003);
    }
    // Laps differ a little (seeded variation), not a lot.
    let times: Vec<f64> = run.reports[1..].iter().map(|r| r.time_ms).collect();
    assert!(
        times
            .windows(2)
            .all(|w| w[0] != w[1] && (w[0] - w[1]).abs() < 300.0),
        "{times:?}"
    );
    // Distance is the integral of the speed sent: Σ v dt per lap within 0.5 % of the length.
    for lap in 1..=4 {
        let travelled: f64 = run
            .lap_frames(lap)
            .map(|s| f64::from(s.car_info.speed_ms) * PHYSICS_STEP_S)
            .sum();
        let expected = if lap == 1 {
            length - run.track.pit_lane().box_m
        } else {
            length
        };
        assert!(
            (travelled / expected - 1.0).abs() < 0.005,
            "lap {lap}: {travelled} vs {expected}"
        );
    }
    // Position advances by speed × dt between frames, wrapping only at the line.
    let mut wraps = 0;
    for w in run.steps.windows(2) {
        let (a, b) = (&w[0].car_info, &w[1].car_info);
        assert_eq!(w[1].sim_time_ns - w[0].sim_time_ns, PHYSICS_STEP_NS);
        let mut moved = f64::from(b.car_position_normalized - a.car_position_normalized) * length;
        if moved < -0.5 * length {
            moved += length;
            wraps += 1;
            assert_eq!(b.lap_count, a.lap_count + 1);
            assert!(w[1].lap_completed.is_some());
        } else {
            assert_eq!(b.lap_count, a.lap_count);
            assert!(b.lap_time_ms >= a.lap_time_ms);
        }
        let mean_speed = 0.5 * f64::from(a.speed_ms + b.speed_ms);
        assert!(
            (moved - mean_speed * PHYSICS_STEP_S).abs() < 0.01,
            "{moved} at {mean_speed}"
        );
    }
    assert_eq!(wraps, 4);
    // The run ends about a second after the last crossing.
    let last = &run.steps.last().unwrap().car_info;
    assert_eq!(last.lap_count, 4);
    assert!(
        (990..=1003).contains(&last.lap_time_ms),
        "{}",
        last.lap_time_ms
    );
}

#[test]
fn every_frame_is_self_consistent() {
    let run = run(test_config(
        2,
        21,
        "lap=2:corner=T1:coasting=40,lap=3:corner=T3:over_slowing=10",
    ));
    let car = &run.car;
    let track = &run.track;
    let limit_kmh = track.pit_lane().speed_limit_kmh;
    let mut launched = false;
    for (i, step) in run.steps.iter().enumerate() {
        let c = &step.car_info;
        let v = f64::from(c.speed_ms);
        let close = |a: f64, b: f64, tol: f64| (a - b).abs() <= tol;
        assert!(close(f64::from(c.speed_kmh), 3.6 * v, 1e-3 * (1.0 + v)));
        assert!(close(
            f64::from(c.speed_mph),
            3.6 * v / 1.609_344,
            1e-3 * (1.0 + v)
        ));
        // Wheels: the four average to speed / loaded radius.
        let mean_omega: f64 = c
            .wheel_angular_speed_rad_s
            .iter()
            .map(|&w| f64::from(w))
            .sum::<f64>()
            / 4.0;
        let radius = f64::from(c.tyre_loaded_radius_m[0]);
        assert!(
            close(mean_omega * radius, v, 1e-3 * (1.0 + v)),
            "{i}: {mean_omega} × {radius} vs {v}"
        );
        // Gear and rpm.
        let gear = c.gear();
        assert_eq!(c.gear_raw, gear + 1);
        assert!((1..=car.gear_ratios.len() as i32).contains(&gear));
        let rpm = f64::from(c.engine_rpm);
        assert!(rpm <= car.limiter_rpm + 1.0);
        if c.clutch == 1.0 {
            launched = true;
            let expected = (car.rpm(v, gear as usize)).max(car.idle_rpm);
            assert!(
                close(rpm, expected, 1.0 + 1e-4 * expected),
                "{i}: {rpm} vs {expected}"
            );
        } else {
            assert!(!launched, "{i}: clutch {} after the start", c.clutch);
            assert!((0.0..1.0).contains(&c.clutch));
            assert_eq!(c.lap_count, 0);
        }
        // Lateral g = v²κ/g, steering the same way.
        let kappa = track.curvature_at(run.distance(step));
        let lateral = v * v * kappa / STANDARD_GRAVITY_MS2;
        assert!(
            close(
                f64::from(c.acc_g_horizontal),
                lateral,
                0.01 + 0.01 * lateral.abs()
            ),
            "{i}"
        );
        if lateral.abs() > 0.1 {
            assert_eq!(c.steer_deg.signum(), c.acc_g_horizontal.signum());
        }
        assert!(f64::from(c.acc_g_vertical).abs() < 0.3);
        // Pedals.
        assert!((0.0..=1.0).contains(&c.gas) && (0.0..=1.0).contains(&c.brake));
        assert!(c.gas == 0.0 || c.brake == 0.0, "{i}: both pedals");
        if c.brake > 0.0 {
            assert!(c.acc_g_frontal < 0.0);
        }
        if c.gas > 0.5 {
            assert!(c.acc_g_frontal > -0.05);
        }
        // The pit lane: at the start only, at the limit.
        if c.is_in_pit {
            assert_eq!(c.lap_count, 0);
            assert!(f64::from(c.speed_kmh) <= limit_kmh + 0.5);
            let d = run.distance(step);
            assert!(track.pit_lane().contains(d), "{d}");
        }
        assert!((0.0..1.0).contains(&c.car_position_normalized));
        assert!(c.is_abs_enabled && c.is_tc_enabled);
    }
    assert!(launched);
    // Longitudinal g agrees with dv/dt between frames.
    for w in run.steps.windows(2) {
        let (a, b) = (&w[0].car_info, &w[1].car_info);
        if a.lap_count != b.lap_count && (a.speed_ms - b.speed_ms).abs() > 0.05 {
            continue;
        }
        let dvdt = f64::from(b.speed_ms - a.speed_ms) / PHYSICS_STEP_S / STANDARD_GRAVITY_MS2;
        let (lo, hi) = (
            f64::from(a.acc_g_frontal.min(b.acc_g_frontal)),
            f64::from(a.acc_g_frontal.max(b.acc_g_frontal)),
        );
        assert!(
            dvdt > lo - 0.02 && dvdt < hi + 0.02,
            "{dvdt} not in {lo}..{hi}"
        );
    }
    // At the start: at rest in the box, beside the centre line, clutch down.
    let start = &run.steps[0].car_info;
    assert!(start.is_in_pit && start.speed_ms == 0.0 && start.clutch == 0.0);
    let box_m = track.pit_lane().box_m;
    let centre = track.position_at(box_m);
    let [x, _, z] = start.car_coordinates_m.map(f64::from);
    let aside = (x - centre[0]).hypot(z - centre[2]);
    assert!(
        (aside - track.pit_lane().lateral_offset_m).abs() < 0.5,
        "{aside}"
    );
    // Away from the pit, on the centre line.
    for step in run.lap_frames(2).step_by(97) {
        let [x, y, z] = step.car_info.car_coordinates_m.map(f64::from);
        let p = track.position_at(run.distance(step));
        assert!((x - p[0]).abs() < 0.05 && (y - p[1]).abs() < 0.05 && (z - p[2]).abs() < 0.05);
    }
}

#[test]
fn a_mistake_costs_time_only_around_its_corner() {
    let clean = run(test_config(2, 11, ""));
    let spec = "lap=2:corner=T3:early_braking=30";
    let mistaken = run(test_config(2, 11, spec));
    let t2 = clean.track.corner("T2").unwrap().clone();
    let t3 = clean.track.corner("T3").unwrap().clone();
    // Byte-identical until the approach to T3 on lap 2 (T2 comes before it).
    let mut compared = 0;
    for (a, b) in clean.steps.iter().zip(&mistaken.steps) {
        if a.car_info.lap_count == 1 && clean.distance(a) >= t2.apex_m {
            break;
        }
        assert_eq!(a.car_info.encode(), b.car_info.encode());
        compared += 1;
    }
    assert!(compared > 10_000);
    // Distance-aligned time: equal before, later by the cost after.
    let report = &mistaken.reports[1];
    assert_eq!(report.mistakes.len(), 1);
    let cost = report.mistakes[0].cost_ms;
    assert!(report.mistakes[0].applied);
    assert_eq!(report.mistakes[0].mistake.to_string(), spec);
    assert!(cost > 20.0, "{cost}");
    for d in [50.0, 150.0, t2.apex_m] {
        let gap = mistaken.time_at(2, d) - clean.time_at(2, d);
        assert!(gap.abs() < 0.01, "{d} m: {gap} ms");
    }
    for d in [t3.end_m, 700.0, 1000.0, 1250.0] {
        let gap = mistaken.time_at(2, d) - clean.time_at(2, d);
        assert!((gap - cost).abs() < 1.0, "{d} m: {gap} ms vs {cost} ms");
    }
    // The reported cost is the lap-time difference.
    let lap_gap = f64::from(mistaken.reports[1].reported_ms - clean.reports[1].reported_ms);
    assert!((lap_gap - cost).abs() <= 1.0, "{lap_gap} vs {cost}");
    assert!((report.clean_time_ms - clean.reports[1].time_ms).abs() < 1e-6);
    assert!((report.cost_ms() - cost).abs() < 1e-9);
    // Other laps: the same.
    assert_eq!(mistaken.reports[0], clean.reports[0]);
    assert!((mistaken.reports[2].time_ms - clean.reports[2].time_ms).abs() < 1e-6);
}

#[test]
fn every_mistake_kind_costs_more_the_bigger_it_is() {
    // The 90° right, the hairpin and the long sweeper of the test track's map.
    let corners = ["T1", "T3", "T5"];
    let mut table = Vec::new();
    for kind in MistakeKind::ALL {
        let (small, large) = match kind {
            MistakeKind::OverSlowing | MistakeKind::SlowExit => (3.0, 8.0),
            MistakeKind::Coasting => (25.0, 60.0),
            MistakeKind::LateBraking => (4.0, 12.0),
            MistakeKind::WideLine => (1.0, 3.0),
            _ => (10.0, 40.0),
        };
        for corner in corners {
            let mut config = test_config(2, 5, "");
            config.mistakes = vec![
                Mistake::new(2, corner, kind, small),
                Mistake::new(3, corner, kind, large),
            ];
            let mut sim = Simulator::new(config);
            for _ in sim.by_ref() {}
            let reports = sim.lap_reports();
            let cost = |lap: usize| {
                let r = &reports[lap];
                assert_eq!(r.mistakes.len(), 1);
                assert!(r.mistakes[0].applied);
                assert!((r.mistakes[0].cost_ms - r.cost_ms()).abs() < 1e-9);
                r.mistakes[0].cost_ms
            };
            let (c_small, c_large) = (cost(1), cost(2));
            assert!(c_small > 2.0, "{kind} {corner} {small}: {c_small} ms");
            assert!(
                c_large > 1.5 * c_small,
                "{kind} {corner}: {c_small} then {c_large} ms"
            );
            table.push(format!(
                "{kind:>13} {corner}: {small:>4} → {c_small:6.0} ms, {large:>4} → {c_large:6.0} ms"
            ));
        }
    }
    eprintln!("{}", table.join("\n"));
}

#[test]
fn same_seed_same_bytes_other_seed_other_bytes() {
    let digest = |seed: u64| {
        let mut sim = Simulator::new(test_config(1, seed, "lap=2:corner=T5:late_throttle=25"));
        let mut hasher = DefaultHasher::new();
        sim.handshake_response().encode().hash(&mut hasher);
        let mut frames = 0;
        while let Some(step) = sim.step() {
            step.sim_time_ns.hash(&mut hasher);
            step.car_info.encode().hash(&mut hasher);
            if let Some(lap) = step.lap_completed {
                lap.encode().hash(&mut hasher);
            }
            frames += 1;
        }
        (hasher.finish(), frames)
    };
    let a = digest(42);
    assert_eq!(a, digest(42));
    assert_ne!(a.0, digest(43).0);
}

#[test]
fn handshake_and_lap_events_look_like_the_games() {
    let mut config = test_config(1, 9, "");
    config.driver_name = "Scott 100%".to_owned();
    let sim = Simulator::new(config);
    let reply = sim.handshake_response();
    assert_eq!(reply.identifier, 4242);
    assert_eq!(reply.version, 1);
    assert_eq!(reply.car_name.to_string_lossy(), "ks_corvette_c7r");
    assert_eq!(reply.driver_name.to_string_lossy(), "Scott 100");
    assert_eq!(reply.track_name.to_string_lossy(), "test");
    assert_eq!(reply.track_config, reply.track_name);
    // `%` ends each name and junk follows it, as in real packets.
    let units = reply.track_name.raw_units();
    assert_eq!(units[4], NAME_TERMINATOR);
    assert!(units[5..].iter().any(|&u| u != 0));
    // Car-info padding is not zero either (clients must not check it), and parses.
    let mut sim = sim;
    let first = sim.step().unwrap().car_info;
    assert_ne!(first.padding_after_identifier, [0; 3]);
    let bytes = first.encode();
    assert_eq!(CarInfo::new(&bytes).unwrap().to_owned(), first);
    let events: Vec<_> = sim.filter_map(|s| s.lap_completed).collect();
    assert_eq!(events.len(), 2);
    assert_eq!(events[1].driver_name, reply.driver_name);
    assert_eq!(events[1].car_name, reply.car_name);
}

#[test]
fn profile_limits_hold_on_the_real_track() {
    let track = Track::imola();
    let car = Car::corvette_c7r();
    let profile = SpeedProfile::optimal(&track, &car);
    for (i, &v) in profile.speeds_ms().iter().enumerate() {
        let s = i as f64 * profile.spacing_m();
        let kappa = track.curvature_at(s);
        assert!(v * v * kappa.abs() <= car.max_lateral_accel(v, 1.0) + 1e-6);
        assert!(v <= car.top_speed_ms() + 1e-9);
    }
    assert!((profile.end_m() - track.length_m()).abs() < 1e-6);
}

#[test]
fn mistakes_spec_parser() {
    let map = test_map();
    let good = parse_mistakes(
        "lap=3:corner=T4:early_braking=25,lap=5:corner=T2:late_throttle=40",
        map,
    )
    .unwrap();
    assert_eq!(
        good,
        vec![
            Mistake::new(3, "T4", MistakeKind::EarlyBraking, 25.0),
            Mistake::new(5, "T2", MistakeKind::LateThrottle, 40.0),
        ]
    );
    let relaxed = parse_mistakes(
        " over_slowing=7.5 : corner=t5 : lap=2 ,lap=2:coasting=12:corner=1",
        map,
    )
    .unwrap();
    assert_eq!(
        relaxed[0],
        Mistake::new(2, "T5", MistakeKind::OverSlowing, 7.5)
    );
    assert_eq!(
        relaxed[1],
        Mistake::new(2, "T1", MistakeKind::Coasting, 12.0)
    );
    assert!(parse_mistakes("", map).unwrap().is_empty());
    assert!(parse_mistakes("  ", map).unwrap().is_empty());
    for m in &good {
        assert_eq!(
            parse_mistakes(&m.to_string(), map).unwrap(),
            vec![m.clone()]
        );
    }

    let err = |spec: &str| parse_mistakes(spec, map).unwrap_err();
    let spec = "lap=3:corner=T4:early_braking=25,lap=5:corner=T2:brake_late=40";
    match err(spec) {
        MistakeSpecError::UnknownKind { part, kind } => {
            assert_eq!(kind, "brake_late");
            assert_eq!((part.index, part.offset), (2, 33));
            assert_eq!(&spec[part.offset..], part.text);
        }
        other => panic!("{other:?}"),
    }
    match err("lap=2:corner=T9:coasting=10") {
        MistakeSpecError::UnknownCorner {
            corner,
            track,
            known,
            part,
        } => {
            assert_eq!(
                (corner.as_str(), track.as_str(), known.as_str()),
                ("T9", "test", "T1 to T5")
            );
            assert_eq!(part.index, 1);
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        err("corner=T1:coasting=10"),
        MistakeSpecError::Missing { field: "lap", .. }
    ));
    assert!(matches!(
        err("lap=2:coasting=10"),
        MistakeSpecError::Missing {
            field: "corner",
            ..
        }
    ));
    assert!(matches!(
        err("lap=2:corner=T1"),
        MistakeSpecError::Missing { field: "kind", .. }
    ));
    for bad_lap in ["0", "-1", "x", "2.5", ""] {
        assert!(
            matches!(err(&format!("lap={bad_lap}:corner=T1:coasting=10")), MistakeSpecError::BadLap { ref value, .. } if value == bad_lap),
            "{bad_lap}"
        );
    }
    for bad_amount in ["0", "-5", "NaN", "inf", "600", "ten"] {
        assert!(
            matches!(
                err(&format!("lap=2:corner=T1:coasting={bad_amount}")),
                MistakeSpecError::BadAmount {
                    kind: MistakeKind::Coasting,
                    ..
                }
            ),
            "{bad_amount}"
        );
    }
    assert!(matches!(
        err("lap=2:corner=T1:over_slowing=60"),
        MistakeSpecError::BadAmount { unit: "%", .. }
    ));
    assert!(
        matches!(err("lap=2:lap=3:corner=T1:coasting=1"), MistakeSpecError::Duplicate { ref field, .. } if field == "lap")
    );
    assert!(
        matches!(err("lap=2:corner=T1:coasting=1:early_braking=3"), MistakeSpecError::Duplicate { ref field, .. } if field == "kind")
    );
    assert!(
        matches!(err("lap=2:corner:coasting=1"), MistakeSpecError::NotKeyValue { ref field, .. } if field == "corner")
    );
    match err("lap=2:corner=T1:coasting=1,") {
        MistakeSpecError::EmptyPart { part } => assert_eq!((part.index, part.offset), (2, 27)),
        other => panic!("{other:?}"),
    }
    let message = err("lap=2:corner=T1:coasting=1, lap=x:corner=T1:coasting=1").to_string();
    assert!(
        message.contains("mistake 2") && message.contains("lap=x:corner=T1:coasting=1"),
        "{message}"
    );
}

/// On Imola the spec names corners as the coach does: by name or by the map's number, and
/// a corner the map does not have is refused with what it has.
#[test]
fn imola_mistakes_are_named_by_the_maps_corners() {
    let map = track_map(&Track::imola(), &Car::corvette_c7r()).unwrap();
    let m = parse_mistakes(
        "lap=3:corner=tosa:early_braking=25,lap=4:corner=T6:late_braking=8",
        &map,
    )
    .unwrap();
    assert_eq!(m[0].corner, "Tosa");
    assert_eq!(m[1].corner, "Variante Alta");
    assert_eq!(
        m[1].to_string(),
        "lap=4:corner=Variante Alta:late_braking=8"
    );
    assert_eq!(parse_mistakes(&m[1].to_string(), &map).unwrap()[0], m[1]);
    let err = parse_mistakes("lap=3:corner=Monaco:coasting=10", &map)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("has no corner \"Monaco\" (it has Tamburello (T1) to Rivazza (T7))"),
        "{err}"
    );
}

/// Per grid metre of lap 2: speed (km/h), gas, brake and gear, by distance from the line.
fn lap_channels(run: &Run) -> Vec<(f64, f64, f64, f64, i32)> {
    run.lap_frames(2)
        .map(|s| {
            let c = &s.car_info;
            (
                run.distance(s),
                f64::from(c.speed_kmh),
                f64::from(c.gas),
                f64::from(c.brake),
                c.gear(),
            )
        })
        .collect()
}

/// The channels show each new kind of mistake the way a driver would make it.
#[test]
fn the_channels_show_each_mistake() {
    let t3 = test_map().corner("T3").unwrap().clone();
    let clean = run(test_config(1, 3, ""));
    let clean_ch = lap_channels(&clean);
    let at = |ch: &[(f64, f64, f64, f64, i32)], d: f64| {
        *ch.iter()
            .min_by(|a, b| (a.0 - d).abs().total_cmp(&(b.0 - d).abs()))
            .unwrap()
    };
    let in_t3 = |ch: &[(f64, f64, f64, f64, i32)]| -> Vec<(f64, f64, f64, f64, i32)> {
        ch.iter()
            .copied()
            .filter(|c| c.0 >= t3.start_m - 60.0 && c.0 <= t3.end_m)
            .collect()
    };
    let brake_point = |ch: &[(f64, f64, f64, f64, i32)]| {
        in_t3(ch).iter().find(|c| c.3 >= 0.1).map(|c| c.0).unwrap()
    };
    let min_speed =
        |ch: &[(f64, f64, f64, f64, i32)]| in_t3(ch).iter().map(|c| c.1).fold(f64::MAX, f64::min);
    let (clean_brake, clean_min) = (brake_point(&clean_ch), min_speed(&clean_ch));

    // Late braking: braked later, slower through the corner.
    let late = lap_channels(&run(test_config(1, 3, "lap=2:corner=T3:late_braking=10")));
    let shift = brake_point(&late) - clean_brake;
    assert!((7.0..=13.0).contains(&shift), "braked {shift} m later");
    assert!(
        min_speed(&late) < clean_min - 5.0,
        "{} against {clean_min}",
        min_speed(&late)
    );

    // A mid-corner lift: off the throttle for about the amount, after being on it.
    let lift = lap_channels(&run(test_config(
        1,
        3,
        "lap=2:corner=T3:mid_corner_lift=20",
    )));
    let apex = t3.apex_m;
    let off = |ch: &[(f64, f64, f64, f64, i32)]| -> Vec<f64> {
        ch.iter()
            .filter(|c| c.0 > apex && c.0 < t3.end_m + 40.0 && c.2 < 0.05 && c.3 < 0.05)
            .map(|c| c.0)
            .collect()
    };
    // Off the throttle past where the clean lap last was.
    let clean_last = off(&clean_ch).last().copied().unwrap_or(apex);
    let lifted: Vec<f64> = off(&lift)
        .into_iter()
        .filter(|&d| d > clean_last + 2.0)
        .collect();
    assert!(!lifted.is_empty(), "no lift");
    let span = lifted.last().unwrap() - lifted.first().unwrap();
    assert!((15.0..=25.0).contains(&span), "lifted over {span} m");
    // Back on the throttle before it: the lift comes after the pick-up.
    let on = lift
        .iter()
        .find(|c| c.0 > apex && c.2 >= 0.5)
        .map(|c| c.0)
        .unwrap();
    assert!(on < lifted[0], "on at {on} m, lifted at {} m", lifted[0]);

    // A gear too low (T1: the hairpin is taken in first): a gear lower at the apex, the
    // same pedals, slower out.
    let t1 = test_map().corner("T1").unwrap().clone();
    let low = lap_channels(&run(test_config(1, 3, "lap=2:corner=T1:lower_gear=40")));
    assert_eq!(at(&low, t1.apex_m).4, at(&clean_ch, t1.apex_m).4 - 1);
    assert!(at(&low, t1.end_m).1 < at(&clean_ch, t1.end_m).1 - 1.0);
    for d in [t1.apex_m + 15.0, t1.apex_m + 25.0] {
        assert!(
            (at(&low, d).2 - at(&clean_ch, d).2).abs() < 0.02,
            "gas at {d} m"
        );
    }
    let out = t3.end_m;

    // A slow exit: the same pedals, the same gear at the apex, slower out.
    let slow = lap_channels(&run(test_config(1, 3, "lap=2:corner=T3:slow_exit=20")));
    assert_eq!(at(&slow, apex).4, at(&clean_ch, apex).4);
    assert!(at(&slow, out).1 < at(&clean_ch, out).1 - 1.0);
    assert!((at(&slow, apex + 20.0).2 - at(&clean_ch, apex + 20.0).2).abs() < 0.02);

    // A wide line: the same speeds at the same place, and yet a slower lap.
    let wide_run = run(test_config(1, 3, "lap=2:corner=T3:wide_line=5"));
    let wide = lap_channels(&wide_run);
    for d in [t3.start_m + 20.0, apex, out - 5.0] {
        assert!(
            (at(&wide, d).1 - at(&clean_ch, d).1).abs() < 0.5,
            "speed at {d} m"
        );
    }
    let cost = wide_run.reports[1].mistakes[0].cost_ms;
    assert!(cost > 50.0, "{cost} ms");
    let lap_gap = f64::from(wide_run.reports[1].reported_ms - clean.reports[1].reported_ms);
    assert!((lap_gap - cost).abs() <= 1.0, "{lap_gap} against {cost}");
}
