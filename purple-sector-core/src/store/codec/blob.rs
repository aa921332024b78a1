//! The versioned blob layout: header, channel descriptors, stored planes and the zstd frames
//! of each block, written by [`Writer`] and read back, checked, by [`Reader`].

use std::io::Cursor;

use super::channels::{BLOCK, PRINCIPAL_WORDS};
use super::transform::{Transform, Undo, Word, choose_transform, looks_random};
use super::{
    ChannelGroup, CodecError, MAGIC, MAX_FRAMES, PRINCIPAL_CHANNELS, REST_CHANNELS, VERSION,
    ZSTD_LEVEL,
};

pub(super) const HEADER_LEN: usize = 10;

fn check_count(count: usize) -> Result<(), CodecError> {
    if count > MAX_FRAMES {
        return Err(CodecError::TooManyFrames {
            count,
            max: MAX_FRAMES,
        });
    }
    Ok(())
}

pub(super) struct Writer {
    pub(super) out: Vec<u8>,
    count: usize,
    compressor: zstd::bulk::Compressor<'static>,
    /// The current block's stored planes.
    stored: Vec<u8>,
    /// The current block's planes to compress, channel after channel.
    planes: Vec<u8>,
    /// Where each channel's planes to compress end in `planes` (channels with none have
    /// no entry), when each is compressed into a zstd frame of its own.
    channel_ends: Vec<usize>,
    /// One zstd frame a channel (the principal group), or one a block (the rest).
    frame_per_channel: bool,
}

impl Writer {
    pub(super) fn new(group: ChannelGroup, count: usize) -> Result<Self, CodecError> {
        Self::with_header(group, count, true)
    }

    /// A writer whose output starts with the blob header, or — for blocks encoded apart and
    /// appended to another writer's output — with nothing.
    pub(super) fn with_header(
        group: ChannelGroup,
        count: usize,
        header: bool,
    ) -> Result<Self, CodecError> {
        check_count(count)?;
        // Capacities for the worst case (every plane kept), so nothing is reallocated and
        // copied; pages never written are never touched.
        let (channels, raw_per_frame, block_per_frame) = match group {
            ChannelGroup::Principal => (
                PRINCIPAL_CHANNELS,
                8 + 4 * PRINCIPAL_WORDS,
                8 + 4 * PRINCIPAL_WORDS,
            ),
            ChannelGroup::Rest => (REST_CHANNELS, 4 * REST_CHANNELS, 4 * BLOCK),
        };
        let raw = count * raw_per_frame;
        let mut out =
            Vec::with_capacity(HEADER_LEN + channels * 27 + zstd::zstd_safe::compress_bound(raw));
        if header {
            out.extend_from_slice(&MAGIC);
            out.push(VERSION);
            out.push(group.byte());
            // `check_count` passed: the count fits a u32.
            out.extend_from_slice(&(count as u32).to_le_bytes());
        }
        let compressor =
            zstd::bulk::Compressor::new(ZSTD_LEVEL).map_err(|_| CodecError::Compress { len: 0 })?;
        Ok(Self {
            out,
            count,
            compressor,
            stored: Vec::with_capacity(count * block_per_frame),
            planes: Vec::with_capacity(count * block_per_frame),
            channel_ends: Vec::with_capacity(channels),
            frame_per_channel: frame_per_channel(group, VERSION),
        })
    }

    /// Transforms a column in place and writes its descriptor; keeps its planes for the
    /// end of the block.
    pub(super) fn column<W: Word>(&mut self, column: &mut [W]) {
        let transform = choose_transform(column);
        let seeds = transform.forward(column);
        let mut any = W::default();
        let mut all = W::ones();
        for &v in column.iter() {
            any = any.or(v);
            all = all.and(v);
        }
        let differs = any.xor(all);
        let mut constant = 0u8;
        let mut stored = 0u8;
        let mut constants = [0u8; 8];
        let mut constant_count = 0;
        for k in 0..W::BYTES {
            if differs.byte(k) == 0 {
                constant |= 1 << k;
                constants[constant_count] = all.byte(k);
                constant_count += 1;
                continue;
            }
            let start = self.planes.len();
            self.planes.extend(column.iter().map(|v| v.byte(k)));
            if looks_random(&self.planes[start..]) {
                stored |= 1 << k;
                self.stored.extend_from_slice(&self.planes[start..]);
                self.planes.truncate(start);
            }
        }
        if self.frame_per_channel
            && self.channel_ends.last().copied().unwrap_or(0) < self.planes.len()
        {
            self.channel_ends.push(self.planes.len());
        }
        self.out
            .extend_from_slice(&[transform as u8, constant, stored]);
        for seed in &seeds[..transform.seeds()] {
            seed.write_le(&mut self.out);
        }
        self.out.extend_from_slice(&constants[..constant_count]);
        debug_assert_eq!(column.len(), self.count);
    }

    /// Writes the block's stored planes, then its other planes compressed: a zstd frame a
    /// channel (so that a reader decompresses only the channels it builds), or one for the
    /// block.
    pub(super) fn end_block(&mut self) -> Result<(), CodecError> {
        self.out.extend_from_slice(&self.stored);
        self.stored.clear();
        if !self.frame_per_channel && !self.planes.is_empty() {
            self.channel_ends.push(self.planes.len());
        }
        let mut start = 0;
        for &end in &self.channel_ends {
            let planes = &self.planes[start..end];
            let at = self.out.len();
            self.out
                .reserve(zstd::zstd_safe::compress_bound(planes.len()));
            let mut cursor = Cursor::new(std::mem::take(&mut self.out));
            cursor.set_position(at as u64);
            let written = self.compressor.compress_to_buffer(planes, &mut cursor);
            self.out = cursor.into_inner();
            written.map_err(|_| CodecError::Compress { len: planes.len() })?;
            start = end;
        }
        self.planes.clear();
        self.channel_ends.clear();
        Ok(())
    }
}

/// Whether a group's blocks hold a zstd frame for each channel with compressed planes (the
/// principal group from version 2), or one for the block (version 1; the rest group, whose
/// per-wheel channels compress together: a frame each made the built-in game's laps 45 %
/// larger).
fn frame_per_channel(group: ChannelGroup, version: u8) -> bool {
    version >= 2 && group == ChannelGroup::Principal
}

/// Reads and checks the header: (version, group byte, frame count).
pub(super) fn header(blob: &[u8]) -> Result<(u8, u8, usize), CodecError> {
    let mut found = [0u8; 4];
    for (f, b) in found.iter_mut().zip(blob) {
        *f = *b;
    }
    if found != MAGIC {
        return Err(CodecError::BadMagic { found });
    }
    let Some(&version) = blob.get(4) else {
        return Err(truncated(blob, 4, 1));
    };
    if !(1..=VERSION).contains(&version) {
        return Err(CodecError::UnsupportedVersion {
            found: version,
            supported: VERSION,
        });
    }
    let Some(rest) = blob.get(5..HEADER_LEN) else {
        return Err(truncated(blob, 5, HEADER_LEN - 5));
    };
    let group = rest[0];
    let count = u32::read_le(&rest[1..5]) as usize;
    check_count(count)?;
    Ok((version, group, count))
}

fn truncated(blob: &[u8], offset: usize, needed: usize) -> CodecError {
    CodecError::Truncated {
        offset,
        needed,
        available: blob.len().saturating_sub(offset),
    }
}

/// A parsed channel descriptor.
#[derive(Debug, Clone, Copy)]
struct Descriptor {
    transform: Transform,
    /// Planes with one value (bit k = plane k).
    constant: u8,
    /// Planes stored uncompressed.
    stored: u8,
    seeds: [u64; 2],
    constants: [u8; 8],
}

/// Where a channel's compressed planes are.
#[derive(Debug, Clone, Copy)]
enum Compressed<'a> {
    /// It has none.
    None,
    /// From `start` in its block's one zstd frame, decompressed.
    InBlock { start: usize },
    /// In its own zstd frame, at `offset` in the blob.
    Frame { frame: &'a [u8], offset: usize },
}

/// One channel of a block, parsed and checked against the blob's bounds: what building its
/// column takes.
#[derive(Debug, Clone, Copy)]
struct ChannelPlanes<'a> {
    d: Descriptor,
    /// Its stored planes, lowest first.
    stored: &'a [u8],
    /// How many of its planes are compressed, and where they are.
    compressed_planes: usize,
    compressed: Compressed<'a>,
}

impl ChannelPlanes<'_> {
    /// Builds the column (`count` words), decompressing its planes with `scratch`;
    /// `block_planes` are the block's decompressed planes when it has one zstd frame.
    fn column_vec<W: Word>(
        &self,
        count: usize,
        block_planes: &[u8],
        scratch: &mut ChannelScratch,
    ) -> Result<Vec<W>, CodecError> {
        let mut column = Vec::with_capacity(count);
        self.build(count, block_planes, scratch, Column::Grown(&mut column))?;
        column.resize(count, W::default());
        Ok(column)
    }

    /// Builds the column chunk by chunk, straight into `out`: a chunk's planes merged into
    /// its place, then the transform undone there while the chunk is in L1 — one write of
    /// each word, no copy (a chunk built on the stack and copied over cost 7 % of the
    /// principal load).
    fn build<W: Word>(
        &self,
        n: usize,
        block_planes: &[u8],
        scratch: &mut ChannelScratch,
        mut out: Column<'_, W>,
    ) -> Result<(), CodecError> {
        const CHUNK: usize = 1024;
        let d = self.d;
        let expected = self.compressed_planes * n;
        let compressed: &[u8] = match self.compressed {
            Compressed::None => &[],
            // `Reader::block` sized the block's planes from the descriptors.
            Compressed::InBlock { start } => block_planes
                .get(start..start + expected)
                .unwrap_or_default(),
            Compressed::Frame { frame, offset } => {
                let ChannelScratch {
                    planes,
                    decompressor,
                } = scratch;
                decompress_into(decompressor, frame, offset, expected, planes)?;
                planes
            }
        };
        // A constant plane is read from a chunk of its one byte, so that every column
        // merges the same way.
        let mut constants = [[0u8; CHUNK]; 8];
        let mut whole: [&[u8]; 8] = [&[]; 8];
        let (mut stored_at, mut compressed_at) = (0, 0);
        for (k, plane) in whole.iter_mut().enumerate().take(W::BYTES) {
            let bit = 1u8 << k;
            // The planes are whole: `Reader::block` checked their lengths.
            if d.constant & bit != 0 {
                constants[k].fill(d.constants[k]);
            } else if d.stored & bit != 0 {
                *plane = self
                    .stored
                    .get(stored_at..stored_at + n)
                    .unwrap_or_default();
                stored_at += n;
            } else {
                *plane = compressed
                    .get(compressed_at..compressed_at + n)
                    .unwrap_or_default();
                compressed_at += n;
            }
        }
        let seeds = [
            W::read_le(&d.seeds[0].to_le_bytes()),
            W::read_le(&d.seeds[1].to_le_bytes()),
        ];
        let mut undo = Undo::new(d.transform, seeds);
        let mut start = 0;
        while start < n {
            let len = CHUNK.min(n - start);
            let mut planes: [&[u8]; 8] = [&[]; 8];
            for (k, plane) in planes.iter_mut().enumerate().take(W::BYTES) {
                *plane = if d.constant & 1 << k != 0 {
                    &constants[k][..len]
                } else {
                    whole[k].get(start..start + len).unwrap_or_default()
                };
            }
            let chunk = match &mut out {
                Column::Grown(column) => {
                    W::merge_append(&planes, len, column);
                    column.get_mut(start..).unwrap_or_default()
                }
                Column::Slice(column) => {
                    let Some(chunk) = column.get_mut(start..start + len) else {
                        break;
                    };
                    W::merge(&planes, chunk);
                    chunk
                }
            };
            undo.run(chunk);
            start += len;
        }
        Ok(())
    }
}

/// Where [`ChannelPlanes::build`] puts a column.
enum Column<'o, W> {
    /// Appended to this vector.
    Grown(&'o mut Vec<W>),
    /// Into this slice, as long as the column.
    Slice(&'o mut [W]),
}

pub(super) struct Reader<'a> {
    blob: &'a [u8],
    pos: usize,
    /// One zstd frame a channel, or one a block (see [`frame_per_channel`]).
    frame_per_channel: bool,
    pub(super) count: usize,
    /// Channels read so far (for error reports).
    channel: usize,
    /// The current block's channels, and the next one to build.
    channels: Vec<ChannelPlanes<'a>>,
    next: usize,
    scratch: Scratch,
}

/// What reading a blob allocates, handed on to the thread's next reader: the buffers of
/// decompressed planes (fresh pages for every lap cost more than their decompression's
/// last tenth) and the zstd context.
#[derive(Default)]
struct Scratch {
    /// A block's planes, when it has one zstd frame.
    block: Vec<u8>,
    /// What building one column takes.
    channel: ChannelScratch,
}

/// What building one column allocates: the decompressed planes of a channel with a zstd
/// frame of its own, and the zstd context.
#[derive(Default)]
struct ChannelScratch {
    planes: Vec<u8>,
    decompressor: Option<zstd::bulk::Decompressor<'static>>,
}

impl Scratch {
    /// The largest planes buffer kept for the next reader: two principal blobs of 2²⁰
    /// frames, far more than a lap.
    const KEPT_BYTES: usize = 64 << 20;

    thread_local! {
        static KEPT: std::cell::Cell<Option<Scratch>> = const { std::cell::Cell::new(None) };
    }

    /// The scratch this thread kept, or a new one.
    fn take() -> Self {
        Self::KEPT.with(|kept| kept.take()).unwrap_or_default()
    }

    /// Keeps the scratch for this thread's next reader (unless it grew too large).
    fn keep(mut self) {
        if self.block.capacity() + self.channel.planes.capacity() <= Self::KEPT_BYTES {
            self.block.clear();
            self.channel.planes.clear();
            Self::KEPT.with(|kept| kept.set(Some(self)));
        }
    }
}

/// Decompresses the zstd frame at `offset` in the blob into `out`, which must come to
/// exactly `expected` bytes.
fn decompress_into(
    decompressor: &mut Option<zstd::bulk::Decompressor<'static>>,
    frame: &[u8],
    offset: usize,
    expected: usize,
    out: &mut Vec<u8>,
) -> Result<(), CodecError> {
    let bad = |found: Option<u64>| CodecError::Decompress {
        offset,
        expected,
        found,
    };
    out.clear();
    out.reserve(expected);
    let decompressor = match decompressor {
        Some(d) => d,
        None => decompressor.insert(zstd::bulk::Decompressor::new().map_err(|_| bad(None))?),
    };
    let produced = decompressor
        .decompress_to_buffer(frame, out)
        .map_err(|_| bad(None))?;
    if produced != expected {
        return Err(bad(Some(produced as u64)));
    }
    Ok(())
}

impl Drop for Reader<'_> {
    fn drop(&mut self) {
        std::mem::take(&mut self.scratch).keep();
    }
}

impl<'a> Reader<'a> {
    pub(super) fn new(blob: &'a [u8], group: ChannelGroup) -> Result<Self, CodecError> {
        let (version, found, count) = header(blob)?;
        if found != group.byte() {
            return Err(CodecError::WrongGroup {
                found,
                expected: group.byte(),
            });
        }
        Ok(Self {
            blob,
            pos: HEADER_LEN,
            frame_per_channel: frame_per_channel(group, version),
            count,
            channel: 0,
            channels: Vec::with_capacity(BLOCK),
            next: 0,
            scratch: Scratch::take(),
        })
    }

    /// Reads the next block: descriptors for channels of these widths, stored planes, and
    /// the zstd frames (one for the block, decompressed here; or one for each channel with
    /// compressed planes, decompressed when the channel is built — their sizes are checked
    /// here).
    pub(super) fn block(&mut self, widths: &[usize]) -> Result<(), CodecError> {
        self.channels.clear();
        self.next = 0;
        let n = self.count;
        let mut stored_planes = 0usize;
        for &width in widths {
            let d = self.descriptor(width)?;
            stored_planes += d.stored.count_ones() as usize;
            self.channels.push(ChannelPlanes {
                d,
                stored: &[],
                compressed_planes: width - (d.constant | d.stored).count_ones() as usize,
                compressed: Compressed::None,
            });
        }
        let mut stored = self.take(stored_planes * n)?;
        for channel in &mut self.channels {
            let (own, rest) = stored.split_at(channel.d.stored.count_ones() as usize * n);
            channel.stored = own;
            stored = rest;
        }
        self.scratch.block.clear();
        if !self.frame_per_channel {
            let expected: usize = self.channels.iter().map(|c| c.compressed_planes * n).sum();
            if expected > 0 {
                let (frame, offset) = self.frame(expected)?;
                decompress_into(
                    &mut self.scratch.channel.decompressor,
                    frame,
                    offset,
                    expected,
                    &mut self.scratch.block,
                )?;
            }
            let mut start = 0;
            for channel in &mut self.channels {
                if channel.compressed_planes > 0 {
                    channel.compressed = Compressed::InBlock { start };
                    start += channel.compressed_planes * n;
                }
            }
        } else {
            for c in 0..self.channels.len() {
                let expected = self.channels[c].compressed_planes * n;
                if expected > 0 {
                    let (frame, offset) = self.frame(expected)?;
                    self.channels[c].compressed = Compressed::Frame { frame, offset };
                }
            }
        }
        Ok(())
    }

    /// The zstd frame at the reader's position, which must declare `expected` bytes of
    /// content; and its offset.
    fn frame(&mut self, expected: usize) -> Result<(&'a [u8], usize), CodecError> {
        let offset = self.pos;
        let bad = |found: Option<u64>| CodecError::Decompress {
            offset,
            expected,
            found,
        };
        let rest = self.blob.get(offset..).unwrap_or_default();
        let frame_len = zstd::zstd_safe::find_frame_compressed_size(rest).map_err(|_| bad(None))?;
        let frame = rest.get(..frame_len).ok_or_else(|| bad(None))?;
        match zstd::zstd_safe::get_frame_content_size(frame) {
            Ok(Some(size)) if size == expected as u64 => {}
            Ok(size) => return Err(bad(size)),
            Err(_) => return Err(bad(None)),
        }
        self.pos += frame_len;
        Ok((frame, offset))
    }

    fn take(&mut self, len: usize) -> Result<&'a [u8], CodecError> {
        let bytes = self
            .blob
            .get(self.pos..self.pos.saturating_add(len))
            .ok_or_else(|| truncated(self.blob, self.pos, len))?;
        self.pos += len;
        Ok(bytes)
    }

    fn descriptor(&mut self, width: usize) -> Result<Descriptor, CodecError> {
        let channel = self.channel;
        self.channel += 1;
        let offset = self.pos;
        let head = self.take(3)?;
        let (tag, constant, stored) = (head[0], head[1], head[2]);
        let transform = Transform::from_tag(tag).ok_or(CodecError::UnknownTransform {
            channel,
            found: tag,
            offset,
        })?;
        for (mask, at) in [(constant, 1), (stored, 2)] {
            if u32::from(mask) >> width != 0 || (at == 2 && constant & stored != 0) {
                return Err(CodecError::BadPlaneMask {
                    channel,
                    mask,
                    width,
                    offset: offset + at,
                });
            }
        }
        let mut seeds = [0u64; 2];
        for seed in seeds.iter_mut().take(transform.seeds()) {
            let bytes = self.take(width)?;
            *seed = if width == 8 {
                u64::read_le(bytes)
            } else {
                u64::from(u32::read_le(bytes))
            };
        }
        let mut constants = [0u8; 8];
        for (k, value) in constants.iter_mut().enumerate().take(width) {
            if constant & 1 << k != 0 {
                *value = self.take(1)?[0];
            }
        }
        Ok(Descriptor {
            transform,
            constant,
            stored,
            seeds,
            constants,
        })
    }

    /// Builds the block's next column (`count` words) into `column`.
    pub(super) fn column<W: Word>(&mut self, column: &mut [W]) -> Result<(), CodecError> {
        debug_assert_eq!(column.len(), self.count);
        let Some(&channel) = self.channels.get(self.next) else {
            return Ok(());
        };
        self.next += 1;
        let Scratch {
            block,
            channel: own,
        } = &mut self.scratch;
        channel.build(self.count, block, own, Column::Slice(column))
    }

    /// Builds the block's next column (`count` words), without zeroing it first.
    pub(super) fn column_vec<W: Word>(&mut self) -> Result<Vec<W>, CodecError> {
        let Some(&channel) = self.channels.get(self.next) else {
            return Ok(Vec::new());
        };
        self.next += 1;
        let Scratch {
            block,
            channel: own,
        } = &mut self.scratch;
        channel.column_vec(self.count, block, own)
    }

    /// Passes over the block's next column without building it (nothing is decompressed
    /// for a channel with a zstd frame of its own).
    pub(super) fn skip_column(&mut self) {
        self.next += 1;
    }

    /// Checks that nothing follows the last block.
    pub(super) fn finish(self) -> Result<(), CodecError> {
        if self.pos != self.blob.len() {
            return Err(CodecError::TrailingBytes {
                offset: self.pos,
                count: self.blob.len() - self.pos,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::super::channels::tests::frame_from_bits;
    use super::super::{decode, decode_principal, encode};
    use super::*;
    use crate::telemetry::Frame;
    use proptest::prelude::*;

    #[test]
    fn rejects_bad_headers() {
        let e = encode(&[Frame::default(); 3]).unwrap();
        assert_eq!(
            decode_principal(b"JSON"),
            Err(CodecError::BadMagic { found: *b"JSON" })
        );
        for version in [0, VERSION + 1] {
            let mut other = e.principal.clone();
            other[4] = version;
            assert_eq!(
                decode_principal(&other),
                Err(CodecError::UnsupportedVersion {
                    found: version,
                    supported: VERSION
                })
            );
        }
        assert_eq!(
            decode_principal(&e.rest),
            Err(CodecError::WrongGroup {
                found: 1,
                expected: 0
            })
        );
        assert!(matches!(
            decode_principal(&e.principal[..7]),
            Err(CodecError::Truncated {
                offset: 5,
                needed: 5,
                available: 2
            })
        ));
        let mut trailing = e.principal.clone();
        trailing.push(0);
        assert!(matches!(
            decode_principal(&trailing),
            Err(CodecError::TrailingBytes { count: 1, .. })
        ));
        let other = encode(&[Frame::default(); 2]).unwrap();
        assert_eq!(
            decode(&e.principal, &other.rest),
            Err(CodecError::FrameCountMismatch {
                principal: 3,
                rest: 2
            })
        );
    }

    proptest! {
        #[test]
        fn corrupt_blobs_never_panic(seed in any::<u64>(), n in 0usize..40, smooth in any::<bool>(), flips in proptest::collection::vec((any::<bool>(), any::<usize>(), 1u8..), 1..4), cut in any::<usize>()) {
            let frames: Vec<Frame> = (0..n as u64)
                .map(|k| if smooth { frame_from_bits(seed, k / 8) } else { frame_from_bits(seed, k) })
                .collect();
            let e = encode(&frames).unwrap();
            let (mut p, mut r) = (e.principal.clone(), e.rest.clone());
            for (in_rest, at, byte) in flips {
                let blob = if in_rest { &mut r } else { &mut p };
                let at = at % blob.len();
                // Not the frame count: a corrupt count over constant planes is a large
                // (bounded by MAX_FRAMES) but valid allocation, too slow for a property test.
                if !(6..10).contains(&at) {
                    blob[at] ^= byte;
                }
            }
            let _ = decode(&p, &r);
            let _ = decode_principal(&p);
            let _ = decode_principal(&e.principal[..cut % (e.principal.len() + 1)]);
            let _ = decode(&e.principal, &e.rest[..cut % (e.rest.len() + 1)]);
        }
    }
}
