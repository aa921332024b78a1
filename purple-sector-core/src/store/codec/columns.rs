//! Some principal channels of a lap as columns, decoded alone ([`decode_columns`]).

use super::blob::Reader;
use super::channels::principal_words;
use super::{ChannelGroup, CodecError, PRINCIPAL_CHANNEL_NAMES, PRINCIPAL_CHANNELS};
use crate::telemetry::Frame;

/// One of the 16 principal channels, in storage order (named as
/// [`PRINCIPAL_CHANNEL_NAMES`] names them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[allow(missing_docs)] // each is the `Frame` field of the same name
pub enum Channel {
    TimeNs,
    LapTimeMs,
    PositionNormalized,
    SpeedKmh,
    Gas,
    Brake,
    Clutch,
    SteerDeg,
    Gear,
    EngineRpm,
    GVertical,
    GLateral,
    GLongitudinal,
    WorldX,
    WorldY,
    WorldZ,
}

impl Channel {
    /// Every principal channel, in storage order.
    pub const ALL: [Channel; PRINCIPAL_CHANNELS] = [
        Channel::TimeNs,
        Channel::LapTimeMs,
        Channel::PositionNormalized,
        Channel::SpeedKmh,
        Channel::Gas,
        Channel::Brake,
        Channel::Clutch,
        Channel::SteerDeg,
        Channel::Gear,
        Channel::EngineRpm,
        Channel::GVertical,
        Channel::GLateral,
        Channel::GLongitudinal,
        Channel::WorldX,
        Channel::WorldY,
        Channel::WorldZ,
    ];

    /// The channel's name (the [`Frame`] field's, `world_x` for `world_m[0]`).
    pub fn name(self) -> &'static str {
        PRINCIPAL_CHANNEL_NAMES[self as usize]
    }
}

/// Principal channels of a lap, one column per channel, each as long as the lap; a channel
/// that was not asked for is empty. What a chart, an export or the live delta reads: about
/// a fifth of [`Frame`]'s size per frame when every principal channel is asked for.
///
/// ```
/// use purple_sector_core::store::codec::{self, Channel, Columns};
/// use purple_sector_core::telemetry::Frame;
///
/// let frames: Vec<Frame> = (0..100)
///     .map(|k| Frame { time_ns: k * 3_000_000, speed_kmh: 100.0 + k as f32, ..Frame::default() })
///     .collect();
/// let blob = codec::encode_principal(&frames)?;
/// let columns = codec::decode_columns(&blob, &[Channel::SpeedKmh])?;
/// assert_eq!(columns.len(), 100);
/// assert_eq!(columns.speed_kmh[99], 199.0);
/// assert!(columns.time_ns.is_empty(), "not asked for");
/// assert_eq!(columns, Columns::from_frames(&frames, &[Channel::SpeedKmh]));
/// # Ok::<(), codec::CodecError>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
#[allow(missing_docs)] // each is the `Frame` field of the same name
pub struct Columns {
    /// Frames in the lap (also when no channel was asked for).
    frames: usize,
    pub time_ns: Vec<u64>,
    pub lap_time_ms: Vec<i32>,
    pub position_normalized: Vec<f32>,
    pub speed_kmh: Vec<f32>,
    pub gas: Vec<f32>,
    pub brake: Vec<f32>,
    pub clutch: Vec<f32>,
    pub steer_deg: Vec<f32>,
    pub gear: Vec<i32>,
    pub engine_rpm: Vec<f32>,
    pub g_vertical: Vec<f32>,
    pub g_lateral: Vec<f32>,
    pub g_longitudinal: Vec<f32>,
    /// `world_m[0]`.
    pub world_x_m: Vec<f32>,
    /// `world_m[1]`.
    pub world_y_m: Vec<f32>,
    /// `world_m[2]`.
    pub world_z_m: Vec<f32>,
}

impl Columns {
    /// Frames in the lap.
    pub fn len(&self) -> usize {
        self.frames
    }

    /// True for a lap without frames.
    pub fn is_empty(&self) -> bool {
        self.frames == 0
    }

    /// The channels asked for of `frames`, as [`decode_columns`] gives them from the
    /// frames' blob.
    pub fn from_frames(frames: &[Frame], channels: &[Channel]) -> Self {
        let mut out = Self {
            frames: frames.len(),
            ..Self::default()
        };
        for &channel in channels {
            if channel == Channel::TimeNs {
                out.time_ns = frames.iter().map(|f| f.time_ns).collect();
            } else {
                // The codec's own words of the frame: the time is not one of them.
                let word = channel as usize - 1;
                let words = frames.iter().map(|f| principal_words(f)[word]).collect();
                out.set_words(channel, words);
            }
        }
        out
    }

    /// Puts a 32-bit channel's words in its column, as the field's type.
    fn set_words(&mut self, channel: Channel, words: Vec<u32>) {
        // Same size and alignment: these collect in place, no copy.
        let float = |w: Vec<u32>| w.into_iter().map(f32::from_bits).collect::<Vec<f32>>();
        let int = |w: Vec<u32>| w.into_iter().map(|w| w as i32).collect::<Vec<i32>>();
        match channel {
            Channel::TimeNs => {}
            Channel::LapTimeMs => self.lap_time_ms = int(words),
            Channel::PositionNormalized => self.position_normalized = float(words),
            Channel::SpeedKmh => self.speed_kmh = float(words),
            Channel::Gas => self.gas = float(words),
            Channel::Brake => self.brake = float(words),
            Channel::Clutch => self.clutch = float(words),
            Channel::SteerDeg => self.steer_deg = float(words),
            Channel::Gear => self.gear = int(words),
            Channel::EngineRpm => self.engine_rpm = float(words),
            Channel::GVertical => self.g_vertical = float(words),
            Channel::GLateral => self.g_lateral = float(words),
            Channel::GLongitudinal => self.g_longitudinal = float(words),
            Channel::WorldX => self.world_x_m = float(words),
            Channel::WorldY => self.world_y_m = float(words),
            Channel::WorldZ => self.world_z_m = float(words),
        }
    }
}

/// Decodes the channels asked for from a principal blob, and no others. The blob's layout is
/// checked whole as [`super::decode_principal`] checks it (the same errors, the same
/// offsets); the channels not asked for are passed over, and since version 2 their planes
/// are not even decompressed (each principal channel has its own zstd frame). Bit-exact:
/// each column holds what [`super::decode_principal`] would put in that field of each frame.
pub fn decode_columns(principal: &[u8], channels: &[Channel]) -> Result<Columns, CodecError> {
    let mut reader = Reader::new(principal, ChannelGroup::Principal)?;
    let n = reader.count;
    let mut widths = [4; PRINCIPAL_CHANNELS];
    widths[0] = 8;
    reader.block(&widths)?;
    let mut out = Columns {
        frames: n,
        ..Columns::default()
    };
    let wanted = |c: Channel| channels.contains(&c);
    if wanted(Channel::TimeNs) {
        out.time_ns = reader.column_vec()?;
    } else {
        reader.skip_column();
    }
    for &channel in &Channel::ALL[1..] {
        if wanted(channel) {
            let words = reader.column_vec()?;
            out.set_words(channel, words);
        } else {
            reader.skip_column();
        }
    }
    reader.finish()?;
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
pub(super) mod tests {
    use super::super::channels::tests::frame_from_bits;
    use super::super::{decode_principal, encode_principal};
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Any choice of channels decodes to what the frames hold, bit for bit, and the
        /// channels not asked for stay empty; laps up to two of the reader's 1 024-frame
        /// chunks long.
        #[test]
        fn the_channels_asked_for_come_back_bit_exact(
            seed in any::<u64>(),
            n in 0usize..2_200,
            smooth in any::<bool>(),
            asked in proptest::collection::vec(0usize..PRINCIPAL_CHANNELS, 0..20),
        ) {
            let frames = lap(seed, n, smooth);
            let channels: Vec<Channel> = asked.iter().map(|&c| Channel::ALL[c]).collect();
            let blob = encode_principal(&frames).unwrap();
            let got = decode_columns(&blob, &channels).unwrap();
            let principal = decode_principal(&blob).unwrap();
            let expected = Columns::from_frames(&principal, &channels);
            prop_assert_eq!(got.len(), n);
            // Compared as bits: NaN payloads too.
            prop_assert_eq!(format!("{:?}", bits(&got)), format!("{:?}", bits(&expected)));
            for channel in Channel::ALL {
                let column_len = bits(&got)[channel as usize].len();
                prop_assert_eq!(column_len, if channels.contains(&channel) { n } else { 0 });
            }
        }
    }

    /// Random bits, or a smooth lap (constant, compressed and stored planes side by side).
    fn lap(seed: u64, n: usize, smooth: bool) -> Vec<Frame> {
        (0..n as u64)
            .map(|k| {
                if !smooth {
                    return frame_from_bits(seed, k);
                }
                let t = k as f32 * 0.01;
                Frame {
                    time_ns: 1_700_000_000_000_000_000 + k * 3_003_000 + (seed ^ k) % 20_000,
                    lap_time_ms: (k * 3) as i32,
                    position_normalized: k as f32 / n as f32,
                    speed_kmh: 150.0 + 50.0 * t.sin(),
                    gas: if k % 40 < 30 { 1.0 } else { 0.0 },
                    gear: 3 + (k / 100) as i32,
                    engine_rpm: 6_000.0 + (seed % 97) as f32 * t.cos(),
                    g_lateral: f32::from_bits((seed ^ k.wrapping_mul(31)) as u32),
                    world_m: [t.cos() * 500.0, 2.0, t.sin() * 500.0],
                    ..Frame::default()
                }
            })
            .collect()
    }

    /// Every column as 64-bit words, in channel order.
    pub(in crate::store::codec) fn bits(c: &Columns) -> Vec<Vec<u64>> {
        let f = |v: &[f32]| v.iter().map(|x| u64::from(x.to_bits())).collect();
        let i = |v: &[i32]| v.iter().map(|&x| u64::from(x as u32)).collect();
        vec![
            c.time_ns.clone(),
            i(&c.lap_time_ms),
            f(&c.position_normalized),
            f(&c.speed_kmh),
            f(&c.gas),
            f(&c.brake),
            f(&c.clutch),
            f(&c.steer_deg),
            i(&c.gear),
            f(&c.engine_rpm),
            f(&c.g_vertical),
            f(&c.g_lateral),
            f(&c.g_longitudinal),
            f(&c.world_x_m),
            f(&c.world_y_m),
            f(&c.world_z_m),
        ]
    }

    /// Planes are kept as they are (not compressed) only on laps of 4 096 frames or more:
    /// passing over them is tested here, on random bits, one channel in three asked for.
    #[test]
    fn stored_planes_are_passed_over() {
        let frames = lap(11, 5_000, false);
        let blob = encode_principal(&frames).unwrap();
        let channels: Vec<Channel> = Channel::ALL.iter().copied().step_by(3).collect();
        let got = decode_columns(&blob, &channels).unwrap();
        let expected = Columns::from_frames(&frames, &channels);
        assert_eq!(
            format!("{:?}", bits(&got)),
            format!("{:?}", bits(&expected))
        );
        // The blob is mostly stored planes: random bits don't compress.
        assert!(blob.len() > 5_000 * 60, "{} bytes", blob.len());
    }

    #[test]
    fn a_corrupt_blob_is_refused_as_by_the_frame_decoder() {
        let frames = lap(7, 50, true);
        let blob = encode_principal(&frames).unwrap();
        for cut in [0, 5, 11, blob.len() - 1] {
            let columns = decode_columns(&blob[..cut], &[Channel::SpeedKmh]).unwrap_err();
            let frames = decode_principal(&blob[..cut]).unwrap_err();
            assert_eq!(columns.to_string(), frames.to_string(), "cut at {cut}");
        }
        let mut trailing = blob.clone();
        trailing.push(0);
        assert!(matches!(
            decode_columns(&trailing, &[]),
            Err(CodecError::TrailingBytes { count: 1, .. })
        ));
    }
}
