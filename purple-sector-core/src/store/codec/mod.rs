//! The telemetry column encoding: a lap's frames as two compact, lossless, versioned blobs.
//!
//! Every field of every [`Frame`] comes back bit for bit (f32 bits, NaN payloads included),
//! split in two channel groups stored apart, so the principal channels load alone:
//!
//! - **principal** (16 channels, [`PRINCIPAL_CHANNELS`]): `time_ns`, lap clock, track
//!   position, speed km/h, gas, brake, clutch, steer, gear, rpm, the three g-forces (vertical,
//!   lateral, longitudinal), world x, y, z;
//! - **rest** (64 channels, [`REST_CHANNELS`]): last and best lap, lap count, speed mph and
//!   m/s, flags, cg height, slope, then the 14 per-wheel arrays of
//!   [`Wheels`](crate::telemetry::Wheels) in declaration order, 4 channels each (FL, FR, RL, RR).
//!
//! # Format, version 2
//!
//! All integers little-endian. A blob is a 10-byte header, then blocks of channels:
//!
//! | offset | size | content |
//! |---|---|---|
//! | 0 | 4 | magic `PSTC` ([`MAGIC`]) |
//! | 4 | 1 | version, `2` ([`VERSION`]; `1` is read too) |
//! | 5 | 1 | group: `0` principal, `1` rest |
//! | 6 | 4 | frame count `n` (u32, at most [`MAX_FRAMES`]) |
//! | 10 | … | the group's blocks: principal one block of 16 channels, rest four blocks of 16 channels, in the channel order above |
//!
//! A channel is a column of `n` words: `time_ns` is a 64-bit word, every other channel a
//! 32-bit word (the f32 bits, the i32 bits, or [`crate::telemetry::Flags::bits`]). The
//! encoder turns each column into small numbers with one of four transforms, chosen per
//! channel on a sample of the lap (the one with the fewest significant bits):
//!
//! | tag | transform | seeds | output `o[i]` |
//! |---|---|---|---|
//! | 0 | raw | none | `v[i]` |
//! | 1 | xor | `v[0]` | `o[0] = 0`, then `v[i] ^ v[i-1]` |
//! | 2 | delta | `v[0]` | `o[0] = 0`, then `zigzag(v[i] - v[i-1])` |
//! | 3 | delta of delta | `v[0]`, `d[1] = v[1] - v[0]` | `o[0] = o[1] = 0`, then `zigzag(d[i] - d[i-1])` with `d[i] = v[i] - v[i-1]` |
//!
//! Arithmetic wraps at the word width, so any bit pattern survives. The outputs are cut into
//! byte planes (plane `k` = byte `k` of every output, `n` bytes). A plane is either
//! *constant* (one value for the whole lap: kept as one byte), *stored* (as good as random,
//! more than 7.9 bits of entropy per byte over at least 4 096 frames: kept as it is, zstd
//! would only spend time on it) or *compressed*.
//!
//! A block is: one descriptor per channel; the block's stored planes; then its compressed
//! planes in zstd frames (each with its content size): in the principal group one frame for
//! each channel that has compressed planes, so that a reader decompresses only the channels
//! it is asked for; in the rest group one frame for the block, when it has compressed planes
//! (its per-wheel channels compress together: a frame each made the built-in game's laps
//! 45 % larger). Planes are in channel order, lowest plane first. A descriptor is: transform tag (1 byte), constant-plane
//! mask (1 byte, bit `k` = plane `k`), stored-plane mask (1 byte), the transform's seeds
//! (one word each, zero when the lap is too short), and the value of each constant plane,
//! lowest first.
//!
//! Version 1 differs in one thing: the principal block's compressed planes are one zstd frame
//! too. Its blobs decode as they did (`testdata/v1-*.bin` are two, kept for the test).
//!
//! The decoder refuses any other magic, version or group, unknown transform tags, masks with
//! bits past the word width or overlapping, a frame count above [`MAX_FRAMES`], a truncated
//! blob, a zstd frame whose content is not exactly the size the descriptors imply, and
//! trailing bytes, each with a [`CodecError`] that says where.
//!
//! # Measured
//!
//! `benches/store.rs`, 30 000 frames, zstd level 1 ([`ZSTD_LEVEL`]; negative levels lost 6–10 %
//! of size for little speed, level 3 gained < 1 % for 30 % more time):
//!
//! | lap | principal | full frame |
//! |---|---|---|
//! | synthetic 333 Hz Imola lap (see `benches/store_data.rs`) | 16.2 B/frame | 142.5 B/frame |
//! | real Imola lap, ~45 Hz rows as logged | 13.6 B/frame | 17.6 B/frame |
//!
//! The smooth channels cost little (11 of the 16 principal channels: 3 B/frame together on the
//! 333 Hz lap); the bytes go to sensor noise, which no lossless coding removes: the three
//! g-forces (σ 0.02–0.03 g: 9 B/frame), rpm (σ 4 rpm: 2 B) and the receive-time jitter
//! (±20 µs: 2.2 B). Encoding takes about 2 ms (principal) and 9 ms (full) for 30 000 frames,
//! decoding 1.1 ms and 4.3 ms; two principal channels alone ([`decode_columns`]) about a
//! fifth of all sixteen. The original layout (JSON text) takes 1 610 B/frame.

mod blob;
mod channels;
mod columns;
mod transform;

pub use channels::{PRINCIPAL_CHANNEL_NAMES, principal_only};
pub use columns::{Channel, Columns, decode_columns};

use crate::telemetry::Frame;
use blob::{HEADER_LEN, Reader, Writer, header};
use channels::{
    BLOCK, PRINCIPAL_WORDS, REST_BLOCKS, build, gather, principal_words, rest_block, scatter,
    set_principal_words, set_rest_block,
};

/// The first four bytes of every blob.
pub const MAGIC: [u8; 4] = *b"PSTC";
/// The format version this module writes; it reads this one and every earlier one.
pub const VERSION: u8 = 2;
/// The most frames one blob holds: 2²² (3.5 hours at 333 Hz).
pub const MAX_FRAMES: usize = 1 << 22;
/// Channels in the principal group.
pub const PRINCIPAL_CHANNELS: usize = 16;
/// Channels in the rest group.
pub const REST_CHANNELS: usize = 64;
/// The zstd level the encoder uses.
pub const ZSTD_LEVEL: i32 = 1;

/// Which of the two blobs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ChannelGroup {
    /// The 16 principal channels.
    Principal,
    /// Everything else.
    Rest,
}

impl ChannelGroup {
    /// The group's byte in the header.
    pub const fn byte(self) -> u8 {
        match self {
            Self::Principal => 0,
            Self::Rest => 1,
        }
    }
}

/// Why telemetry cannot be encoded or decoded. Offsets count bytes from the blob's start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CodecError {
    /// The blob does not start with [`MAGIC`].
    #[error("not a telemetry blob: magic {found:02x?}, expected \"PSTC\"")]
    BadMagic {
        /// The first four bytes (zero-padded when shorter).
        found: [u8; 4],
    },
    /// The blob's version is not one this build reads.
    #[error(
        "telemetry format version {found} is not supported (this build reads versions 1 to {supported})"
    )]
    UnsupportedVersion {
        /// Version byte in the blob.
        found: u8,
        /// The newest version this build reads (it reads every one from 1).
        supported: u8,
    },
    /// The blob holds another channel group than the one asked for.
    #[error("telemetry blob holds channel group {found}, expected {expected}")]
    WrongGroup {
        /// Group byte in the blob.
        found: u8,
        /// Group byte expected.
        expected: u8,
    },
    /// The blob ends early.
    #[error("telemetry blob truncated at offset {offset}: {needed} bytes needed, {available} left")]
    Truncated {
        /// Where the missing bytes should start.
        offset: usize,
        /// Bytes needed there.
        needed: usize,
        /// Bytes left.
        available: usize,
    },
    /// More frames than [`MAX_FRAMES`].
    #[error("{count} frames, at most {max} fit one telemetry blob")]
    TooManyFrames {
        /// Frames given or declared.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// A channel descriptor names a transform this version does not know.
    #[error("channel {channel}: unknown transform {found} at offset {offset}")]
    UnknownTransform {
        /// Channel index within its group.
        channel: usize,
        /// The tag found.
        found: u8,
        /// Offset of the tag.
        offset: usize,
    },
    /// A channel's plane mask has bits past its word width, or marks a plane both constant
    /// and stored.
    #[error(
        "channel {channel}: plane mask {mask:#04x} at offset {offset} is invalid for {width} planes"
    )]
    BadPlaneMask {
        /// Channel index within its group.
        channel: usize,
        /// The mask found.
        mask: u8,
        /// Planes in the channel's word.
        width: usize,
        /// Offset of the mask.
        offset: usize,
    },
    /// A block's zstd frame does not hold exactly the planes its descriptors announce.
    #[error("compressed planes at offset {offset}: expected {expected} bytes, found {found:?}")]
    Decompress {
        /// Offset of the zstd frame.
        offset: usize,
        /// Bytes the descriptors announce.
        expected: usize,
        /// Bytes the frame declares or produced; `None` when it is not a valid zstd frame.
        found: Option<u64>,
    },
    /// Bytes after the end of the blob's content.
    #[error("{count} trailing bytes at offset {offset}")]
    TrailingBytes {
        /// Where they start.
        offset: usize,
        /// How many.
        count: usize,
    },
    /// The two groups of one lap disagree on the number of frames.
    #[error("principal blob holds {principal} frames, rest blob {rest}")]
    FrameCountMismatch {
        /// Frames in the principal blob.
        principal: usize,
        /// Frames in the rest blob.
        rest: usize,
    },
    /// zstd failed to compress (out of memory).
    #[error("zstd could not compress {len} bytes")]
    Compress {
        /// Bytes given to zstd.
        len: usize,
    },
}

/// A lap's frames, encoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedFrames {
    /// The principal group's blob.
    pub principal: Vec<u8>,
    /// The rest group's blob.
    pub rest: Vec<u8>,
}

impl EncodedFrames {
    /// Both blobs' sizes together, bytes.
    pub fn len(&self) -> usize {
        self.principal.len() + self.rest.len()
    }

    /// True when both blobs are empty (never, for blobs made by [`encode`]).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Encodes frames into the two blobs.
pub fn encode(frames: &[Frame]) -> Result<EncodedFrames, CodecError> {
    // The principal group and the rest group's four blocks are independent: on a long lap,
    // encode them on two cores, the second taking rest blocks 2 and 3 (together about as
    // much work as the principal group and rest blocks 0 and 1). Short laps are not worth a
    // thread. The bytes are the same either way.
    if frames.len() < 2_048 {
        return Ok(EncodedFrames {
            principal: encode_principal(frames)?,
            rest: encode_rest(frames)?,
        });
    }
    std::thread::scope(|scope| {
        let tail = scope.spawn(|| encode_rest_blocks(frames, 2..REST_BLOCKS, false));
        let principal = encode_principal(frames)?;
        let mut rest = encode_rest_blocks(frames, 0..2, true)?;
        let tail = tail
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))?;
        rest.extend_from_slice(&tail);
        Ok(EncodedFrames { principal, rest })
    })
}

/// Encodes the principal channels only.
pub fn encode_principal(frames: &[Frame]) -> Result<Vec<u8>, CodecError> {
    let mut writer = Writer::new(ChannelGroup::Principal, frames.len())?;
    let n = frames.len();
    let mut time: Vec<u64> = frames.iter().map(|f| f.time_ns).collect();
    let mut words = vec![0u32; n * PRINCIPAL_WORDS];
    gather(frames, &mut words, principal_words);
    writer.column(&mut time);
    for c in 0..PRINCIPAL_WORDS {
        writer.column(&mut words[c * n..(c + 1) * n]);
    }
    writer.end_block()?;
    Ok(writer.out)
}

/// Encodes the rest channels only.
pub fn encode_rest(frames: &[Frame]) -> Result<Vec<u8>, CodecError> {
    encode_rest_blocks(frames, 0..REST_BLOCKS, true)
}

/// Encodes some of the rest group's blocks, with the blob header or without it (to be
/// appended to the output of the blocks before them).
fn encode_rest_blocks(
    frames: &[Frame],
    blocks: std::ops::Range<usize>,
    header: bool,
) -> Result<Vec<u8>, CodecError> {
    let mut writer = Writer::with_header(ChannelGroup::Rest, frames.len(), header)?;
    let n = frames.len();
    let mut words = vec![0u32; n * BLOCK];
    for block in blocks {
        match block {
            0 => gather(frames, &mut words, rest_block::<0>),
            1 => gather(frames, &mut words, rest_block::<1>),
            2 => gather(frames, &mut words, rest_block::<2>),
            _ => gather(frames, &mut words, rest_block::<3>),
        }
        for c in 0..BLOCK {
            writer.column(&mut words[c * n..(c + 1) * n]);
        }
        writer.end_block()?;
    }
    Ok(writer.out)
}

/// Decodes a lap from its two blobs.
pub fn decode(principal: &[u8], rest: &[u8]) -> Result<Vec<Frame>, CodecError> {
    let mut frames = decode_principal(principal)?;
    let mut reader = Reader::new(rest, ChannelGroup::Rest)?;
    if reader.count != frames.len() {
        return Err(CodecError::FrameCountMismatch {
            principal: frames.len(),
            rest: reader.count,
        });
    }
    let n = reader.count;
    let mut words = vec![0u32; n * BLOCK];
    for block in 0..REST_BLOCKS {
        reader.block(&[4; BLOCK])?;
        for c in 0..BLOCK {
            reader.column(&mut words[c * n..(c + 1) * n])?;
        }
        match block {
            0 => scatter(&mut frames, &words, set_rest_block::<0>),
            1 => scatter(&mut frames, &words, set_rest_block::<1>),
            2 => scatter(&mut frames, &words, set_rest_block::<2>),
            _ => scatter(&mut frames, &words, set_rest_block::<3>),
        }
    }
    reader.finish()?;
    Ok(frames)
}

/// Decodes the principal blob alone: frames whose other fields are zero (as
/// [`principal_only`] leaves them).
pub fn decode_principal(principal: &[u8]) -> Result<Vec<Frame>, CodecError> {
    let mut reader = Reader::new(principal, ChannelGroup::Principal)?;
    let n = reader.count;
    let mut widths = [4; PRINCIPAL_CHANNELS];
    widths[0] = 8;
    reader.block(&widths)?;
    let mut time = vec![0u64; n];
    reader.column(&mut time)?;
    let mut words = vec![0u32; n * PRINCIPAL_WORDS];
    for c in 0..PRINCIPAL_WORDS {
        reader.column(&mut words[c * n..(c + 1) * n])?;
    }
    reader.finish()?;
    let mut frames = Vec::new();
    build(&mut frames, &time, &words, set_principal_words);
    Ok(frames)
}

/// Bytes each principal channel takes when encoded alone (descriptor, stored and compressed
/// planes; no header), in [`PRINCIPAL_CHANNEL_NAMES`] order: where the bytes go. For reports
/// and tuning; the sum is close to, not equal to, the principal blob's size.
#[doc(hidden)]
pub fn principal_channel_bytes(
    frames: &[Frame],
) -> Result<[usize; PRINCIPAL_CHANNELS], CodecError> {
    let n = frames.len();
    let mut words = vec![0u32; n * PRINCIPAL_WORDS];
    gather(frames, &mut words, principal_words);
    let mut sizes = [0usize; PRINCIPAL_CHANNELS];
    for (c, size) in sizes.iter_mut().enumerate() {
        let mut writer = Writer::new(ChannelGroup::Principal, n)?;
        if c == 0 {
            writer.column(&mut frames.iter().map(|f| f.time_ns).collect::<Vec<_>>());
        } else {
            writer.column(&mut words[(c - 1) * n..c * n]);
        }
        writer.end_block()?;
        *size = writer.out.len() - HEADER_LEN;
    }
    Ok(sizes)
}

/// Frames in a blob, read from its header (after checking magic and version).
pub fn frame_count(blob: &[u8]) -> Result<usize, CodecError> {
    let (_, _, count) = header(blob)?;
    Ok(count)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::channels::tests::{frame_from_bits, same_bits};
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn empty_and_tiny_laps_round_trip() {
        for n in 0..5 {
            let frames: Vec<Frame> = (0..n).map(|k| frame_from_bits(7, k)).collect();
            let e = encode(&frames).unwrap();
            assert!(
                same_bits(&decode(&e.principal, &e.rest).unwrap(), &frames),
                "{n}"
            );
        }
    }

    #[test]
    fn two_core_encoding_gives_the_single_core_bytes() {
        // Long enough for `encode` to split the work across threads.
        let frames: Vec<Frame> = (0..5_000u64).map(|k| frame_from_bits(7, k)).collect();
        let e = encode(&frames).unwrap();
        assert_eq!(e.principal, encode_principal(&frames).unwrap());
        assert_eq!(e.rest, encode_rest(&frames).unwrap());
        let back = decode(&e.principal, &e.rest).unwrap();
        assert_eq!(back.len(), frames.len());
        for (a, b) in back.iter().zip(&frames) {
            assert_eq!(a.to_car_info().encode(), b.to_car_info().encode());
            assert_eq!(a.time_ns, b.time_ns);
        }
    }

    #[test]
    fn long_smooth_laps_round_trip_across_the_readers_chunks() {
        // Frames that change every 8th, over more than two of the reader's 1 024-word
        // chunks: the transforms chosen are the differencing ones, whose state crosses
        // chunks; and the lengths around a chunk's end. (`decode_columns`: its tests.)
        for n in [1_023u64, 1_024, 1_025, 2_049, 2_500] {
            let frames: Vec<Frame> = (0..n).map(|k| frame_from_bits(3, k / 8)).collect();
            let e = encode(&frames).unwrap();
            assert!(
                same_bits(&decode(&e.principal, &e.rest).unwrap(), &frames),
                "{n}"
            );
            let principal: Vec<Frame> = frames.iter().map(principal_only).collect();
            assert!(
                same_bits(&decode_principal(&e.principal).unwrap(), &principal),
                "{n}"
            );
        }
    }

    /// The lap of the version-1 fixtures (`testdata/v1-*.bin`, written by this module before
    /// version 2): 4 200 frames (past the 4 096 a stored plane needs) of smooth, stepped,
    /// alternating, constant and random channels, so that its blobs hold all four transforms
    /// and constant, stored and compressed planes.
    fn v1_fixture_lap() -> Vec<Frame> {
        (0..4_200u64)
            .map(|k| {
                let mut f = frame_from_bits(11, k / 64);
                let noise = frame_from_bits(5, k);
                f.time_ns = 1_700_000_000_000_000_000 + k * 3_003_000 + noise.time_ns % 20_000;
                f.lap_time_ms = (k * 3) as i32;
                f.position_normalized = k as f32 / 4_200.0;
                f.speed_kmh = 150.0 + (k as f32 * 0.01).sin() * 50.0;
                f.clutch = 1.0;
                f.gear = 3;
                f.brake = f32::from_bits((k % 2) as u32 * 0xff);
                f.g_lateral = noise.g_lateral;
                f.g_vertical = noise.g_vertical;
                f
            })
            .collect()
    }

    #[test]
    fn version_1_blobs_still_decode() {
        let principal = include_bytes!("testdata/v1-principal.bin");
        let rest = include_bytes!("testdata/v1-rest.bin");
        assert_eq!((principal[4], rest[4]), (1, 1));
        let frames = v1_fixture_lap();
        assert!(same_bits(&decode(principal, rest).unwrap(), &frames));
        let only: Vec<Frame> = frames.iter().map(principal_only).collect();
        assert!(same_bits(&decode_principal(principal).unwrap(), &only));
        for asked in [&Channel::ALL[..], &[Channel::SpeedKmh, Channel::GLateral]] {
            let got = decode_columns(principal, asked).unwrap();
            let expected = Columns::from_frames(&only, asked);
            assert_eq!(columns::tests::bits(&got), columns::tests::bits(&expected));
        }
        // Encoded again, the lap is version 2, and the same frames.
        let e = encode(&frames).unwrap();
        assert_eq!((e.principal[4], e.rest[4]), (VERSION, VERSION));
        assert!(same_bits(&decode(&e.principal, &e.rest).unwrap(), &frames));
    }

    proptest! {
        #[test]
        fn any_bits_round_trip(seed in any::<u64>(), n in 0usize..300) {
            let frames: Vec<Frame> = (0..n as u64).map(|k| frame_from_bits(seed, k)).collect();
            let e = encode(&frames).unwrap();
            prop_assert!(same_bits(&decode(&e.principal, &e.rest).unwrap(), &frames));
            let principal: Vec<Frame> = frames.iter().map(principal_only).collect();
            prop_assert!(same_bits(&decode_principal(&e.principal).unwrap(), &principal));
        }
    }
}
