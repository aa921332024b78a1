//! The channel list: which [`Frame`] field is stored in which channel of which group and
//! block, and the row ⇄ column transposition.

use crate::telemetry::{Flags, Frame, Wheels};

use super::{PRINCIPAL_CHANNELS, REST_CHANNELS};

/// 32-bit channels of the principal group (all but `time_ns`).
pub(super) const PRINCIPAL_WORDS: usize = PRINCIPAL_CHANNELS - 1;
/// Channels per block of the rest group.
pub(super) const BLOCK: usize = 16;
/// Blocks of the rest group.
pub(super) const REST_BLOCKS: usize = REST_CHANNELS / BLOCK;
/// Frames transposed at a time (rows ⇄ columns).
const TILE: usize = 64;

/// The principal channels' names, in storage order.
pub const PRINCIPAL_CHANNEL_NAMES: [&str; PRINCIPAL_CHANNELS] = [
    "time_ns",
    "lap_time_ms",
    "position_normalized",
    "speed_kmh",
    "gas",
    "brake",
    "clutch",
    "steer_deg",
    "gear",
    "engine_rpm",
    "g_vertical",
    "g_lateral",
    "g_longitudinal",
    "world_x",
    "world_y",
    "world_z",
];

/// The frame with only its principal channels kept, every other field zero.
pub fn principal_only(frame: &Frame) -> Frame {
    let mut out = Frame {
        time_ns: frame.time_ns,
        ..Frame::default()
    };
    set_principal_words(&mut out, &principal_words(frame));
    out
}

/// Rows to columns: `words[c * n + i] = row(frames[i])[c]`, a tile of frames at a time.
pub(super) fn gather<const C: usize>(
    frames: &[Frame],
    words: &mut [u32],
    row: impl Fn(&Frame) -> [u32; C],
) {
    let n = frames.len();
    let mut rows = [[0u32; C]; TILE];
    for (t, tile) in frames.chunks(TILE).enumerate() {
        for (r, frame) in rows.iter_mut().zip(tile) {
            *r = row(frame);
        }
        let start = t * TILE;
        for c in 0..C {
            let column = &mut words[c * n + start..c * n + start + tile.len()];
            for (w, r) in column.iter_mut().zip(&rows) {
                *w = r[c];
            }
        }
    }
}

/// Columns to rows: `set(frames[i], [words[c * n + i] for c])`, a tile of frames at a time.
pub(super) fn scatter<const C: usize>(
    frames: &mut [Frame],
    words: &[u32],
    set: impl Fn(&mut Frame, &[u32; C]),
) {
    let n = frames.len();
    let mut rows = [[0u32; C]; TILE];
    for (t, tile) in frames.chunks_mut(TILE).enumerate() {
        transpose(words, n, t * TILE, &mut rows[..tile.len()]);
        for (frame, r) in tile.iter_mut().zip(&rows) {
            set(frame, r);
        }
    }
}

/// Rows `start..start + rows.len()` of the `C` columns of `n` words in `words`.
fn transpose<const C: usize>(words: &[u32], n: usize, start: usize, rows: &mut [[u32; C]]) {
    for c in 0..C {
        let column = &words[c * n + start..c * n + start + rows.len()];
        for (r, &w) in rows.iter_mut().zip(column) {
            r[c] = w;
        }
    }
}

/// Columns to new rows: `frames` gets one frame per `time_ns`, built whole from its time,
/// `[words[c * n + i] for c]` and zeros elsewhere (each frame written once), a tile at a time.
pub(super) fn build<const C: usize>(
    frames: &mut Vec<Frame>,
    time_ns: &[u64],
    words: &[u32],
    set: impl Fn(&mut Frame, &[u32; C]),
) {
    let n = time_ns.len();
    frames.reserve(n);
    let mut rows = [[0u32; C]; TILE];
    for (t, times) in time_ns.chunks(TILE).enumerate() {
        transpose(words, n, t * TILE, &mut rows[..times.len()]);
        for (&time_ns, r) in times.iter().zip(&rows) {
            let mut frame = Frame {
                time_ns,
                ..Frame::default()
            };
            set(&mut frame, r);
            frames.push(frame);
        }
    }
}

// Channel order. Each pair of functions must list the same fields in the same order.

pub(super) fn principal_words(f: &Frame) -> [u32; PRINCIPAL_WORDS] {
    [
        f.lap_time_ms as u32,
        f.position_normalized.to_bits(),
        f.speed_kmh.to_bits(),
        f.gas.to_bits(),
        f.brake.to_bits(),
        f.clutch.to_bits(),
        f.steer_deg.to_bits(),
        f.gear as u32,
        f.engine_rpm.to_bits(),
        f.g_vertical.to_bits(),
        f.g_lateral.to_bits(),
        f.g_longitudinal.to_bits(),
        f.world_m[0].to_bits(),
        f.world_m[1].to_bits(),
        f.world_m[2].to_bits(),
    ]
}

pub(super) fn set_principal_words(f: &mut Frame, w: &[u32; PRINCIPAL_WORDS]) {
    f.lap_time_ms = w[0] as i32;
    f.position_normalized = f32::from_bits(w[1]);
    f.speed_kmh = f32::from_bits(w[2]);
    f.gas = f32::from_bits(w[3]);
    f.brake = f32::from_bits(w[4]);
    f.clutch = f32::from_bits(w[5]);
    f.steer_deg = f32::from_bits(w[6]);
    f.gear = w[7] as i32;
    f.engine_rpm = f32::from_bits(w[8]);
    f.g_vertical = f32::from_bits(w[9]);
    f.g_lateral = f32::from_bits(w[10]);
    f.g_longitudinal = f32::from_bits(w[11]);
    f.world_m = [
        f32::from_bits(w[12]),
        f32::from_bits(w[13]),
        f32::from_bits(w[14]),
    ];
}

/// The 14 per-wheel arrays, in storage order.
#[inline(always)]
fn wheel_arrays(w: &Wheels) -> [&[f32; 4]; 14] {
    [
        &w.angular_speed_rad_s,
        &w.slip_angle_deg,
        &w.slip_angle_contact_patch,
        &w.slip_ratio,
        &w.tyre_slip,
        &w.nd_slip,
        &w.load_n,
        &w.dy,
        &w.mz_nm,
        &w.tyre_dirty_level,
        &w.camber_rad,
        &w.tyre_radius_m,
        &w.tyre_loaded_radius_m,
        &w.suspension_height_m,
    ]
}

#[inline(always)]
fn wheel_arrays_mut(w: &mut Wheels) -> [&mut [f32; 4]; 14] {
    [
        &mut w.angular_speed_rad_s,
        &mut w.slip_angle_deg,
        &mut w.slip_angle_contact_patch,
        &mut w.slip_ratio,
        &mut w.tyre_slip,
        &mut w.nd_slip,
        &mut w.load_n,
        &mut w.dy,
        &mut w.mz_nm,
        &mut w.tyre_dirty_level,
        &mut w.camber_rad,
        &mut w.tyre_radius_m,
        &mut w.tyre_loaded_radius_m,
        &mut w.suspension_height_m,
    ]
}

/// Block `B` of the rest group: block 0 is the 8 scalars and wheel arrays 0–1, block `b > 0`
/// wheel arrays `4b − 2 .. 4b + 2`.
#[inline(always)]
pub(super) fn rest_block<const B: usize>(f: &Frame) -> [u32; BLOCK] {
    let mut w = [0u32; BLOCK];
    let arrays = wheel_arrays(&f.wheels);
    let (start, first) = if B == 0 {
        w[0] = f.last_lap_ms as u32;
        w[1] = f.best_lap_ms as u32;
        w[2] = f.lap_count as u32;
        w[3] = f.speed_mph.to_bits();
        w[4] = f.speed_ms.to_bits();
        w[5] = u32::from(f.flags.bits());
        w[6] = f.cg_height_m.to_bits();
        w[7] = f.car_slope.to_bits();
        (8, 0)
    } else {
        (0, 4 * B - 2)
    };
    for (j, array) in arrays[first..first + (BLOCK - start) / 4]
        .iter()
        .enumerate()
    {
        for (k, value) in array.iter().enumerate() {
            w[start + 4 * j + k] = value.to_bits();
        }
    }
    w
}

#[inline(always)]
pub(super) fn set_rest_block<const B: usize>(f: &mut Frame, w: &[u32; BLOCK]) {
    let start = if B == 0 {
        f.last_lap_ms = w[0] as i32;
        f.best_lap_ms = w[1] as i32;
        f.lap_count = w[2] as i32;
        f.speed_mph = f32::from_bits(w[3]);
        f.speed_ms = f32::from_bits(w[4]);
        f.flags = Flags::from_bits(w[5] as u8);
        f.cg_height_m = f32::from_bits(w[6]);
        f.car_slope = f32::from_bits(w[7]);
        8
    } else {
        0
    };
    let first = if B == 0 { 0 } else { 4 * B - 2 };
    let arrays = wheel_arrays_mut(&mut f.wheels);
    for (j, array) in arrays
        .into_iter()
        .skip(first)
        .take((BLOCK - start) / 4)
        .enumerate()
    {
        for (k, value) in array.iter_mut().enumerate() {
            *value = f32::from_bits(w[start + 4 * j + k]);
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
pub(super) mod tests {
    use super::*;

    pub(in crate::store::codec) fn frame_from_bits(seed: u64, k: u64) -> Frame {
        let mut x = (seed ^ k.wrapping_mul(0x9e37_79b9_7f4a_7c15)) | 1;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u32
        };
        let mut f = Frame {
            time_ns: u64::from(next()) << 32 | u64::from(next()),
            ..Frame::default()
        };
        set_principal_words(&mut f, &std::array::from_fn(|_| next()));
        let mut block: [u32; BLOCK] = std::array::from_fn(|_| next());
        block[5] &= 0x3f; // the six flag bits
        set_rest_block::<0>(&mut f, &block);
        set_rest_block::<1>(&mut f, &std::array::from_fn(|_| next()));
        set_rest_block::<2>(&mut f, &std::array::from_fn(|_| next()));
        set_rest_block::<3>(&mut f, &std::array::from_fn(|_| next()));
        f
    }

    fn bits(f: &Frame) -> (u64, [u32; PRINCIPAL_WORDS], [[u32; BLOCK]; REST_BLOCKS]) {
        (
            f.time_ns,
            principal_words(f),
            [
                rest_block::<0>(f),
                rest_block::<1>(f),
                rest_block::<2>(f),
                rest_block::<3>(f),
            ],
        )
    }

    pub(in crate::store::codec) fn same_bits(a: &[Frame], b: &[Frame]) -> bool {
        a.len() == b.len() && a.iter().zip(b).all(|(x, y)| bits(x) == bits(y))
    }

    #[test]
    fn blocks_cover_every_field_once() {
        // A frame whose every 32-bit field holds a distinct value: all 79 words distinct.
        let f = frame_from_bits(1, 2);
        let (_, p, r) = bits(&f);
        let mut all: Vec<u32> = p.iter().chain(r.iter().flatten()).copied().collect();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), PRINCIPAL_WORDS + REST_CHANNELS);
        let mut g = Frame {
            time_ns: f.time_ns,
            ..Frame::default()
        };
        set_principal_words(&mut g, &p);
        set_rest_block::<0>(&mut g, &r[0]);
        set_rest_block::<1>(&mut g, &r[1]);
        set_rest_block::<2>(&mut g, &r[2]);
        set_rest_block::<3>(&mut g, &r[3]);
        assert_eq!(bits(&g), bits(&f));
        assert_eq!(format!("{g:?}"), format!("{f:?}"));
    }
}
