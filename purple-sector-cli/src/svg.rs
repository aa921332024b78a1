//! `plot`: one SVG of a lap against its reference — speed, pedals, steering, gear and the
//! delta against distance with the corners marked, and a track map coloured by where time
//! went.
//!
//! Written as plain SVG: a handful of polylines and labels. (A plotting crate would need a
//! system font to lay its text out; SVG text needs none.)

use std::fmt::Write;

use purple_sector_core::analysis::{Analysis, Delta, LapTrace};

const WIDTH: f64 = 1200.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 20.0;
const PANEL: f64 = 130.0;
const GAP: f64 = 18.0;
const MAP: f64 = 420.0;

struct Panel {
    top: f64,
    min: f64,
    max: f64,
}

impl Panel {
    fn y(&self, v: f64) -> f64 {
        let t = if self.max > self.min {
            (v - self.min) / (self.max - self.min)
        } else {
            0.5
        };
        self.top + PANEL - t.clamp(0.0, 1.0) * PANEL
    }
}

fn x_of(distance_m: f64, length_m: f64) -> f64 {
    LEFT + distance_m / length_m.max(1.0) * (WIDTH - LEFT - RIGHT)
}

fn polyline(svg: &mut String, points: impl Iterator<Item = (f64, f64)>, style: &str) {
    let mut d = String::new();
    for (x, y) in points {
        let _ = write!(d, "{x:.1},{y:.1} ");
    }
    let _ = writeln!(svg, r#"<polyline fill="none" {style} points="{d}"/>"#);
}

/// Every `step`-th grid point, to keep files small.
fn thin(len: usize) -> impl Iterator<Item = usize> {
    let step = (len / 2_000).max(1);
    (0..len).step_by(step)
}

fn series(trace: &LapTrace, values: &[f32], panel: &Panel, length_m: f64) -> Vec<(f64, f64)> {
    thin(values.len())
        .map(|i| {
            (
                x_of(trace.distance_m(i), length_m),
                panel.y(f64::from(values[i])),
            )
        })
        .collect()
}

/// The SVG document.
pub fn lap_svg(lap: &LapTrace, reference: &LapTrace, analysis: &Analysis) -> String {
    let length = reference.length_m();
    let delta = Delta::new(lap, reference);
    let panels = 5.0;
    let height = 40.0 + panels * (PANEL + GAP) + MAP + 60.0;
    let mut svg = String::new();
    let _ = writeln!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(
        svg,
        r##"<rect width="100%" height="100%" fill="#ffffff"/>"##
    );
    let _ = writeln!(
        svg,
        r#"<text x="{LEFT}" y="22" font-size="16">Lap {} against {}: {:+.3} s (purple: this lap, grey: reference)</text>"#,
        crate::tables::lap_time(Some(analysis.lap_time_ms)),
        crate::tables::lap_time(Some(analysis.reference_lap_time_ms)),
        analysis.gap_s
    );
    let top_of = |k: f64| 40.0 + k * (PANEL + GAP);

    // Corner bands across every panel.
    let bottom = top_of(panels) - GAP;
    for c in &analysis.corners {
        let (x0, x1) = (x_of(c.corner.start_m, length), x_of(c.corner.end_m, length));
        let _ = writeln!(
            svg,
            r##"<rect x="{x0:.1}" y="40" width="{:.1}" height="{:.1}" fill="#7b3fe4" fill-opacity="0.06"/>"##,
            x1 - x0,
            bottom - 40.0
        );
        let _ = writeln!(
            svg,
            r##"<text x="{:.1}" y="{:.1}" text-anchor="middle" fill="#7b3fe4">{}</text>"##,
            x_of(c.corner.apex_m, length),
            bottom + 14.0,
            c.corner.name
        );
    }

    let max_speed = lap
        .speed_kmh()
        .iter()
        .chain(reference.speed_kmh())
        .fold(0.0f32, |m, &v| m.max(v));
    let max_steer = lap
        .steer_deg()
        .iter()
        .chain(reference.steer_deg())
        .fold(1.0f32, |m, &v| m.max(v.abs()));
    let max_gear = lap
        .gear()
        .iter()
        .chain(reference.gear())
        .copied()
        .max()
        .unwrap_or(1)
        .max(1);
    let max_delta = delta
        .values_s()
        .iter()
        .fold(0.05f64, |m, &v| m.max(v.abs()));
    let specs = [
        ("speed km/h", 0.0, f64::from(max_speed) * 1.05),
        ("gas / brake", 0.0, 1.0),
        ("steer °", -f64::from(max_steer), f64::from(max_steer)),
        ("gear", 0.0, f64::from(max_gear) + 0.5),
        ("delta s", -max_delta, max_delta),
    ];
    for (k, (label, min, max)) in specs.iter().enumerate() {
        let panel = Panel {
            top: top_of(k as f64),
            min: *min,
            max: *max,
        };
        let _ = writeln!(
            svg,
            r##"<rect x="{LEFT}" y="{:.1}" width="{:.1}" height="{PANEL}" fill="none" stroke="#ccc"/>"##,
            panel.top,
            WIDTH - LEFT - RIGHT
        );
        let _ = writeln!(
            svg,
            r##"<text x="6" y="{:.1}" fill="#333">{label}</text>"##,
            panel.top + 14.0
        );
        let ref_style = r##"stroke="#999" stroke-width="1""##;
        let lap_style = |c: &str| format!(r#"stroke="{c}" stroke-width="1.3""#);
        match k {
            0 => {
                polyline(
                    &mut svg,
                    series(reference, reference.speed_kmh(), &panel, length).into_iter(),
                    ref_style,
                );
                polyline(
                    &mut svg,
                    series(lap, lap.speed_kmh(), &panel, length).into_iter(),
                    &lap_style("#7b3fe4"),
                );
            }
            1 => {
                polyline(
                    &mut svg,
                    series(reference, reference.gas(), &panel, length).into_iter(),
                    ref_style,
                );
                polyline(
                    &mut svg,
                    series(reference, reference.brake(), &panel, length).into_iter(),
                    ref_style,
                );
                polyline(
                    &mut svg,
                    series(lap, lap.gas(), &panel, length).into_iter(),
                    &lap_style("#1a9e50"),
                );
                polyline(
                    &mut svg,
                    series(lap, lap.brake(), &panel, length).into_iter(),
                    &lap_style("#d62f4b"),
                );
            }
            2 => {
                polyline(
                    &mut svg,
                    series(reference, reference.steer_deg(), &panel, length).into_iter(),
                    ref_style,
                );
                polyline(
                    &mut svg,
                    series(lap, lap.steer_deg(), &panel, length).into_iter(),
                    &lap_style("#7b3fe4"),
                );
            }
            3 => {
                let gears = |t: &LapTrace| t.gear().iter().map(|&g| g as f32).collect::<Vec<_>>();
                polyline(
                    &mut svg,
                    series(reference, &gears(reference), &panel, length).into_iter(),
                    ref_style,
                );
                polyline(
                    &mut svg,
                    series(lap, &gears(lap), &panel, length).into_iter(),
                    &lap_style("#7b3fe4"),
                );
            }
            _ => {
                let zero = panel.y(0.0);
                let _ = writeln!(
                    svg,
                    r##"<line x1="{LEFT}" x2="{:.1}" y1="{zero:.1}" y2="{zero:.1}" stroke="#ccc"/>"##,
                    WIDTH - RIGHT
                );
                let values = delta.values_s();
                let points = thin(values.len()).map(|i| {
                    (
                        x_of(i as f64 * delta.spacing_m(), length),
                        panel.y(values[i]),
                    )
                });
                polyline(&mut svg, points, &lap_style("#7b3fe4"));
                let _ = writeln!(
                    svg,
                    r##"<text x="{:.1}" y="{:.1}" text-anchor="end" fill="#333">{:+.3} s at the line</text>"##,
                    WIDTH - RIGHT - 4.0,
                    panel.top + 14.0,
                    delta.at_line()
                );
            }
        }
    }

    // Track map: each stretch coloured by whether time was lost (red) or gained (green).
    let map_top = top_of(panels) + 30.0;
    let points: Vec<[f32; 3]> = reference.world_m().to_vec();
    let (mut min_x, mut max_x, mut min_z, mut max_z) = (f32::MAX, f32::MIN, f32::MAX, f32::MIN);
    for p in &points {
        min_x = min_x.min(p[0]);
        max_x = max_x.max(p[0]);
        min_z = min_z.min(p[2]);
        max_z = max_z.max(p[2]);
    }
    let span = f64::from((max_x - min_x).max(max_z - min_z)).max(1.0);
    let map_left = (WIDTH - MAP) / 2.0;
    let to_map = |p: &[f32; 3]| {
        (
            map_left + f64::from(p[0] - min_x) / span * MAP,
            map_top + f64::from(p[2] - min_z) / span * MAP,
        )
    };
    let _ = writeln!(
        svg,
        r##"<text x="{map_left:.1}" y="{:.1}" fill="#333">track map: red where time was lost, green where gained</text>"##,
        map_top - 8.0
    );
    let values = delta.values_s();
    let window = 20usize;
    let mut i = 0;
    while i + window < points.len().min(values.len()) {
        let slope = values[i + window] - values[i];
        let strength = (slope / 0.02).clamp(-1.0, 1.0);
        let color = if strength >= 0.0 {
            format!(
                "rgb({},{},{})",
                200,
                (200.0 * (1.0 - strength)) as u8,
                (200.0 * (1.0 - strength)) as u8
            )
        } else {
            format!(
                "rgb({},{},{})",
                (200.0 * (1.0 + strength)) as u8,
                170,
                (200.0 * (1.0 + strength)) as u8
            )
        };
        let stretch = (i..=i + window).map(|j| to_map(&points[j]));
        polyline(
            &mut svg,
            stretch,
            &format!(r#"stroke="{color}" stroke-width="4""#),
        );
        i += window;
    }
    for c in &analysis.corners {
        if let Some(p) = points.get(reference.index_at(c.corner.apex_m)) {
            let (x, y) = to_map(p);
            let _ = writeln!(
                svg,
                r##"<text x="{:.1}" y="{:.1}" fill="#7b3fe4">{}</text>"##,
                x + 6.0,
                y - 6.0,
                c.corner.name
            );
        }
    }
    svg.push_str("</svg>\n");
    svg
}
