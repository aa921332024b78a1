//! The car: a point mass with power, drag, downforce, tyre grip, a gearbox and wheels.
//!
//! Quasi-steady-state: at each point the car may use its tyres for cornering and for
//! accelerating or braking, within a friction ellipse whose size grows with downforce. The
//! same numbers give every channel the game sends, so they agree with each other: wheel
//! angular speed = speed / loaded radius, rpm = wheel speed × gear ratio × final drive,
//! lateral g = v²κ / g, longitudinal g = dv/dt / g.

use crate::telemetry::STANDARD_GRAVITY_MS2;

/// The car's parameters. [`Car::corvette_c7r`] is a GT3-class car like the one in the real
/// Imola laps; every field can be changed.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Car {
    /// The game's model id, sent in the handshake and lap events (`ks_corvette_c7r`).
    pub model: String,
    /// Mass with driver and fuel, kg.
    pub mass_kg: f64,
    /// Peak engine power, W (treated as available at any speed: an ideal gearbox).
    pub engine_power_w: f64,
    /// Share of the engine power reaching the driven wheels (driveline losses, restrictor).
    pub drivetrain_efficiency: f64,
    /// Drag coefficient × frontal area (CdA), m².
    pub drag_area_m2: f64,
    /// Lift coefficient × area (ClA), m²: downforce = ½ ρ ClA v².
    pub downforce_area_m2: f64,
    /// Air density, kg/m³.
    pub air_density_kg_m3: f64,
    /// Rolling-resistance coefficient.
    pub rolling_resistance: f64,
    /// Engine braking when off the throttle, N at the wheels.
    pub engine_braking_n: f64,
    /// Lateral tyre friction coefficient (grip in g without downforce).
    pub lateral_grip: f64,
    /// Braking friction coefficient, all four wheels.
    pub braking_grip: f64,
    /// Friction coefficient of the driven tyres under power.
    pub traction_grip: f64,
    /// Share of the weight (and downforce) on the driven (rear) axle.
    pub driven_axle_share: f64,
    /// Gear ratios, first gear first.
    pub gear_ratios: Vec<f64>,
    /// Final-drive ratio.
    pub final_drive: f64,
    /// Unloaded tyre radius, m.
    pub tyre_radius_m: f64,
    /// Loaded (rolling) tyre radius, m: wheel angular speed = speed / this.
    pub loaded_radius_m: f64,
    /// Idle speed, rpm.
    pub idle_rpm: f64,
    /// Engine speed at which the driver lets the clutch in from rest, rpm.
    pub launch_rpm: f64,
    /// Shift up at this engine speed, rpm.
    pub upshift_rpm: f64,
    /// Shift down when the engine falls below this, rpm (if the lower gear stays below
    /// [`Car::upshift_rpm`]).
    pub downshift_rpm: f64,
    /// Rev limiter, rpm: the car's top speed is this in top gear.
    pub limiter_rpm: f64,
    /// Wheelbase, m.
    pub wheelbase_m: f64,
    /// Track width (between left and right wheels), m.
    pub track_width_m: f64,
    /// Steering-wheel degrees per degree of road-wheel angle (effective, understeer included).
    pub steering_ratio: f64,
    /// Height of the centre of gravity, m.
    pub cg_height_m: f64,
}

impl Default for Car {
    /// [`Car::corvette_c7r`].
    fn default() -> Self {
        Self::corvette_c7r()
    }
}

impl Car {
    /// A Corvette C7.R-like GT3 car: 1300 kg with driver and fuel, 500 hp of which 82 %
    /// reaches the road (driveline, restrictor), CdA 1.05 m², ClA 2.0 m², lateral grip 1.35
    /// (1.45 g at 100 km/h, 1.75 g at 200 km/h), braking 1.15 (1.65 g at 200 km/h, 2 g at
    /// 260 km/h, drag included), six gears, 7500 rpm. Tuned against the real Imola lap: the
    /// driver's ideal lap is about 107 s (real: 108.6 s) with a top speed of about 261 km/h
    /// (real: 261 km/h).
    pub fn corvette_c7r() -> Self {
        Self {
            model: "ks_corvette_c7r".to_owned(),
            mass_kg: 1300.0,
            engine_power_w: 373_000.0,
            drivetrain_efficiency: 0.82,
            drag_area_m2: 1.05,
            downforce_area_m2: 2.0,
            air_density_kg_m3: 1.2,
            rolling_resistance: 0.015,
            engine_braking_n: 1200.0,
            lateral_grip: 1.35,
            braking_grip: 1.15,
            traction_grip: 1.5,
            driven_axle_share: 0.55,
            gear_ratios: vec![2.85, 2.05, 1.6, 1.3, 1.12, 0.98],
            final_drive: 3.3,
            tyre_radius_m: 0.34,
            loaded_radius_m: 0.33,
            idle_rpm: 1200.0,
            launch_rpm: 2500.0,
            upshift_rpm: 7200.0,
            downshift_rpm: 4300.0,
            limiter_rpm: 7500.0,
            wheelbase_m: 2.71,
            track_width_m: 1.65,
            steering_ratio: 25.0,
            cg_height_m: 0.45,
        }
    }

    /// ½ ρ ClA / m: downforce per unit mass per (m/s)².
    fn downforce_per_v2(&self) -> f64 {
        0.5 * self.air_density_kg_m3 * self.downforce_area_m2 / self.mass_kg
    }

    /// Downforce at `speed_ms`, N.
    pub fn downforce_n(&self, speed_ms: f64) -> f64 {
        0.5 * self.air_density_kg_m3 * self.downforce_area_m2 * speed_ms * speed_ms
    }

    /// Greatest lateral acceleration at `speed_ms`, m/s², with the tyres' grip scaled by `grip`
    /// (1 = nominal).
    pub fn max_lateral_accel(&self, speed_ms: f64, grip: f64) -> f64 {
        grip * self.lateral_grip
            * (STANDARD_GRAVITY_MS2 + self.downforce_per_v2() * speed_ms * speed_ms)
    }

    /// Highest speed through a curvature of `curvature_per_m` (either sign), m/s; infinite when
    /// downforce grows faster than the need for it.
    pub fn corner_speed(&self, curvature_per_m: f64, grip: f64) -> f64 {
        let mu = grip * self.lateral_grip;
        let denominator = curvature_per_m.abs() - mu * self.downforce_per_v2();
        if denominator <= 0.0 {
            f64::INFINITY
        } else {
            (mu * STANDARD_GRAVITY_MS2 / denominator).sqrt()
        }
    }

    /// Deceleration by drag and rolling resistance alone, m/s² (positive).
    pub fn resistance_decel(&self, speed_ms: f64) -> f64 {
        let drag = 0.5 * self.air_density_kg_m3 * self.drag_area_m2 * speed_ms * speed_ms;
        (drag + self.rolling_resistance * self.mass_kg * STANDARD_GRAVITY_MS2) / self.mass_kg
    }

    /// Deceleration when coasting (off both pedals, in gear): resistance plus engine braking,
    /// m/s² (positive).
    pub fn coast_decel(&self, speed_ms: f64) -> f64 {
        self.resistance_decel(speed_ms) + self.engine_braking_n / self.mass_kg
    }

    /// Share of the friction ellipse left for accelerating or braking while cornering at
    /// `speed_ms` on `curvature_per_m`: √(1 − (a_lat / a_lat,max)²).
    fn ellipse_share(&self, speed_ms: f64, curvature_per_m: f64, grip: f64) -> f64 {
        let used = speed_ms * speed_ms * curvature_per_m.abs();
        let ratio = used / self.max_lateral_accel(speed_ms, grip);
        (1.0 - ratio * ratio).max(0.0).sqrt()
    }

    /// Highest forward acceleration, m/s²: the lesser of power and traction (what the
    /// ellipse leaves of it), minus resistance; never negative (at the grip limit the car can
    /// at least hold its speed).
    pub fn drive_accel(&self, speed_ms: f64, curvature_per_m: f64, grip: f64) -> f64 {
        let power =
            self.engine_power_w * self.drivetrain_efficiency / (self.mass_kg * speed_ms.max(1.0));
        let traction = grip
            * self.traction_grip
            * self.driven_axle_share
            * (STANDARD_GRAVITY_MS2 + self.downforce_per_v2() * speed_ms * speed_ms)
            * self.ellipse_share(speed_ms, curvature_per_m, grip);
        (power.min(traction) - self.resistance_decel(speed_ms)).max(0.0)
    }

    /// Highest braking deceleration (positive), m/s²: what the ellipse leaves of the tyres'
    /// braking grip, plus resistance.
    pub fn brake_decel(&self, speed_ms: f64, curvature_per_m: f64, grip: f64) -> f64 {
        grip * self.braking_grip
            * (STANDARD_GRAVITY_MS2 + self.downforce_per_v2() * speed_ms * speed_ms)
            * self.ellipse_share(speed_ms, curvature_per_m, grip)
            + self.resistance_decel(speed_ms)
    }

    /// Braking deceleration from the tyres alone at full pedal, straight ahead, m/s².
    pub fn full_brake_decel(&self, speed_ms: f64) -> f64 {
        self.braking_grip * (STANDARD_GRAVITY_MS2 + self.downforce_per_v2() * speed_ms * speed_ms)
    }

    /// Top speed, m/s: the rev limiter in top gear.
    pub fn top_speed_ms(&self) -> f64 {
        let top = self.gear_ratios.last().copied().unwrap_or(1.0);
        self.limiter_rpm * std::f64::consts::PI / 30.0 * self.loaded_radius_m
            / (top * self.final_drive)
    }

    /// Wheel angular speed at `speed_ms` (no slip), rad/s.
    pub fn wheel_angular_speed(&self, speed_ms: f64) -> f64 {
        speed_ms / self.loaded_radius_m
    }

    /// Engine speed at `speed_ms` in `gear` (1 = first) with the clutch in, rpm.
    pub fn rpm(&self, speed_ms: f64, gear: usize) -> f64 {
        let ratio = gear
            .checked_sub(1)
            .and_then(|i| self.gear_ratios.get(i))
            .copied()
            .unwrap_or(0.0);
        self.wheel_angular_speed(speed_ms) * ratio * self.final_drive * 30.0 / std::f64::consts::PI
    }

    /// The gear to use at `speed_ms` coming from `current` (1 = first): up when the engine
    /// reaches [`Car::upshift_rpm`], down when it falls below [`Car::downshift_rpm`] and the
    /// lower gear has room. Shifts one gear per call.
    pub fn next_gear(&self, speed_ms: f64, current: usize) -> usize {
        let top = self.gear_ratios.len().max(1);
        let current = current.clamp(1, top);
        if current < top && self.rpm(speed_ms, current) >= self.upshift_rpm {
            current + 1
        } else if current > 1
            && self.rpm(speed_ms, current) < self.downshift_rpm
            && self.rpm(speed_ms, current - 1) < self.upshift_rpm - 300.0
        {
            current - 1
        } else {
            current
        }
    }

    /// Steering-wheel angle for `curvature_per_m`, degrees; same sign as the curvature
    /// (positive right).
    pub fn steer_deg(&self, curvature_per_m: f64) -> f64 {
        self.steering_ratio * (self.wheelbase_m * curvature_per_m).atan().to_degrees()
    }

    /// Throttle (0..1) that gives acceleration `accel_ms2` at `speed_ms`: the larger of the
    /// share of full power and the share of the driven tyres' traction the needed force takes
    /// (at low speed the tyres, not the engine, limit a full-throttle start); 0 when the car
    /// slows at least as fast as resistance alone would.
    pub fn throttle_for(&self, speed_ms: f64, accel_ms2: f64) -> f64 {
        let force = self.mass_kg * (accel_ms2 + self.resistance_decel(speed_ms));
        if force <= 0.0 {
            return 0.0;
        }
        let power = force * speed_ms / (self.engine_power_w * self.drivetrain_efficiency);
        let traction = self.traction_grip
            * self.driven_axle_share
            * (self.mass_kg * STANDARD_GRAVITY_MS2 + self.downforce_n(speed_ms));
        power.max(force / traction).clamp(0.0, 1.0)
    }

    /// Brake pedal (0..1) that gives acceleration `accel_ms2` (negative when slowing) at
    /// `speed_ms`: the deceleration beyond coasting, as a share of full braking; 0 when the
    /// car slows no faster than it would coasting.
    pub fn brake_for(&self, speed_ms: f64, accel_ms2: f64) -> f64 {
        let extra = -accel_ms2 - self.coast_decel(speed_ms);
        if extra <= 0.0 {
            return 0.0;
        }
        (extra / self.full_brake_decel(speed_ms)).clamp(0.0, 1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grip_and_corner_speed_agree() {
        let car = Car::corvette_c7r();
        for radius in [15.0, 40.0, 100.0, 300.0] {
            let v = car.corner_speed(1.0 / radius, 1.0);
            let lateral = v * v / radius;
            assert!((lateral - car.max_lateral_accel(v, 1.0)).abs() < 1e-9);
        }
        let g_100 = car.max_lateral_accel(100.0 / 3.6, 1.0) / STANDARD_GRAVITY_MS2;
        let g_200 = car.max_lateral_accel(200.0 / 3.6, 1.0) / STANDARD_GRAVITY_MS2;
        assert!((1.4..1.55).contains(&g_100), "{g_100}");
        assert!((1.65..1.85).contains(&g_200), "{g_200}");
        assert!(car.corner_speed(1e-6, 1.0).is_infinite());
        assert!(car.corner_speed(0.01, 1.003) > car.corner_speed(0.01, 1.0));
    }

    #[test]
    fn acceleration_is_limited_by_traction_then_power() {
        let car = Car::corvette_c7r();
        let low = car.drive_accel(5.0, 0.0, 1.0);
        let high = car.drive_accel(60.0, 0.0, 1.0);
        assert!(low > 7.0 && low < 9.0, "{low}");
        assert!(high < 3.0 && high > 0.5, "{high}");
        // At the grip limit in a corner: nothing left, but never negative.
        let v = car.corner_speed(0.02, 1.0);
        assert_eq!(car.drive_accel(v, 0.02, 1.0), 0.0);
        assert!(car.brake_decel(v, 0.02, 1.0) < car.brake_decel(v, 0.0, 1.0));
        let braking_g = car.brake_decel(200.0 / 3.6, 0.0, 1.0) / STANDARD_GRAVITY_MS2;
        assert!((1.55..1.75).contains(&braking_g), "{braking_g}");
    }

    #[test]
    fn gears_rpm_and_top_speed() {
        let car = Car::corvette_c7r();
        let top_kmh = car.top_speed_ms() * 3.6;
        assert!((270.0..300.0).contains(&top_kmh), "{top_kmh}");
        assert!((car.rpm(car.top_speed_ms(), 6) - car.limiter_rpm).abs() < 1e-6);
        // rpm = wheel speed × ratios, in rpm.
        let v = 30.0;
        let expected = v / 0.33 * 2.05 * 3.3 * 60.0 / (2.0 * std::f64::consts::PI);
        assert!((car.rpm(v, 2) - expected).abs() < 1e-9);
        assert_eq!(car.rpm(v, 0), 0.0);
        assert_eq!(car.rpm(v, 9), 0.0);
        // Up at the shift point, down when slow, otherwise stay.
        let mut gear = 1;
        let mut speed = 1.0;
        while speed < car.top_speed_ms() {
            gear = car.next_gear(speed, gear);
            assert!(car.rpm(speed, gear) <= car.limiter_rpm + 1e-9);
            speed += 0.1;
        }
        assert_eq!(gear, 6);
        assert_eq!(car.next_gear(24.0, 3), 2);
        assert_eq!(car.next_gear(24.0, 2), 2);
    }

    #[test]
    fn pedals_follow_the_acceleration() {
        let car = Car::corvette_c7r();
        let v = 50.0;
        assert_eq!(car.throttle_for(v, -car.coast_decel(v)), 0.0);
        assert_eq!(car.brake_for(v, -car.coast_decel(v)), 0.0);
        assert!(car.throttle_for(v, 0.0) > 0.0 && car.throttle_for(v, 0.0) < 0.5);
        assert_eq!(car.throttle_for(v, 50.0), 1.0);
        assert!(car.brake_for(v, -15.0) > 0.5);
        assert_eq!(car.brake_for(v, -100.0), 1.0);
        let s = car.steer_deg(-1.0 / 40.0);
        assert!(s < -50.0 && s > -120.0, "{s}");
    }
}
