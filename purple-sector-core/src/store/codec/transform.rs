//! The per-channel transforms (raw, xor, delta, delta of delta) on 32- and 64-bit words, the
//! choice between them, and the test for byte planes not worth compressing.

pub(super) trait Word: Copy + Default + Eq + std::fmt::Debug {
    const BYTES: usize;
    fn wrapping_sub(self, other: Self) -> Self;
    fn wrapping_add(self, other: Self) -> Self;
    fn xor(self, other: Self) -> Self;
    fn or(self, other: Self) -> Self;
    fn and(self, other: Self) -> Self;
    fn ones() -> Self;
    /// Reads the word as two's complement and maps it to 0, -1 → 1, 1 → 2, …
    fn zigzag(self) -> Self;
    fn unzigzag(self) -> Self;
    /// Significant bits (0 for zero).
    fn significant_bits(self) -> u32;
    fn byte(self, k: usize) -> u8;
    /// Words from their byte planes (`planes[k]` = byte `k` of every word, lowest first,
    /// each as long as `out`), in one pass.
    fn merge(planes: &[&[u8]; 8], out: &mut [Self]);
    /// The same, `len` words appended to `out` (each plane at least `len` long).
    fn merge_append(planes: &[&[u8]; 8], len: usize, out: &mut Vec<Self>);
    fn write_le(self, out: &mut Vec<u8>);
    fn read_le(bytes: &[u8]) -> Self;
}

macro_rules! word {
    ($u:ty, $i:ty, $merge:ident, $append:ident) => {
        impl Word for $u {
            const BYTES: usize = std::mem::size_of::<$u>();
            #[inline]
            fn wrapping_sub(self, other: Self) -> Self {
                <$u>::wrapping_sub(self, other)
            }
            #[inline]
            fn wrapping_add(self, other: Self) -> Self {
                <$u>::wrapping_add(self, other)
            }
            #[inline]
            fn xor(self, other: Self) -> Self {
                self ^ other
            }
            #[inline]
            fn or(self, other: Self) -> Self {
                self | other
            }
            #[inline]
            fn and(self, other: Self) -> Self {
                self & other
            }
            #[inline]
            fn ones() -> Self {
                <$u>::MAX
            }
            #[inline]
            fn zigzag(self) -> Self {
                let s = self as $i;
                ((s << 1) ^ (s >> (<$u>::BITS - 1))) as $u
            }
            #[inline]
            fn unzigzag(self) -> Self {
                (self >> 1) ^ (self & 1).wrapping_neg()
            }
            #[inline]
            fn significant_bits(self) -> u32 {
                <$u>::BITS - self.leading_zeros()
            }
            #[inline]
            fn byte(self, k: usize) -> u8 {
                (self >> (8 * k)) as u8
            }
            #[inline]
            fn merge(planes: &[&[u8]; 8], out: &mut [Self]) {
                $merge(planes, out)
            }
            #[inline]
            fn merge_append(planes: &[&[u8]; 8], len: usize, out: &mut Vec<Self>) {
                $append(planes, len, out)
            }
            fn write_le(self, out: &mut Vec<u8>) {
                out.extend_from_slice(&self.to_le_bytes());
            }
            fn read_le(bytes: &[u8]) -> Self {
                let mut le = [0u8; std::mem::size_of::<$u>()];
                le.copy_from_slice(&bytes[..std::mem::size_of::<$u>()]);
                <$u>::from_le_bytes(le)
            }
        }
    };
}

/// Words merged at a time: the 16-bit halves of this many are kept on the stack.
const MERGE_PART: usize = 1024;

/// Pairs of byte planes as 16-bit words (`lo` the low byte), for `out.len()` words.
fn merge_pair(lo: &[u8], hi: &[u8], out: &mut [u16]) {
    for ((v, &lo), &hi) in out.iter_mut().zip(lo).zip(hi) {
        *v = u16::from_le_bytes([lo, hi]);
    }
}

/// The planes of up to [`MERGE_PART`] 32-bit words as their two 16-bit halves. Merged in two
/// steps, the loops vectorise into byte shuffles: 0.44 ns a word, against 0.75 for the four
/// planes zipped in one loop (1 024 words in L1, this machine's kind).
fn halves(p: &[&[u8]; 8], len: usize) -> ([u16; MERGE_PART], [u16; MERGE_PART]) {
    let (mut low, mut high) = ([0u16; MERGE_PART], [0u16; MERGE_PART]);
    let len = len.min(MERGE_PART);
    // A plane shorter than `len` (none is) would give zeros past its end, never a panic.
    let plane = |k: usize| p[k].get(..len).unwrap_or(p[k]);
    merge_pair(plane(0), plane(1), &mut low[..len]);
    merge_pair(plane(2), plane(3), &mut high[..len]);
    (low, high)
}

fn merge_u32(p: &[&[u8]; 8], out: &mut [u32]) {
    for (start, out) in (0..).step_by(MERGE_PART).zip(out.chunks_mut(MERGE_PART)) {
        let part: [&[u8]; 8] = std::array::from_fn(|k| p[k].get(start..).unwrap_or_default());
        let (low, high) = halves(&part, out.len());
        for ((v, &lo), &hi) in out.iter_mut().zip(&low).zip(&high) {
            *v = u32::from(lo) | u32::from(hi) << 16;
        }
    }
}

fn merge_u64(p: &[&[u8]; 8], out: &mut [u64]) {
    // Two 32-bit halves, then the words: eight zipped planes did not vectorise.
    let (mut low, mut high) = ([0u32; MERGE_PART], [0u32; MERGE_PART]);
    for (start, out) in (0..).step_by(MERGE_PART).zip(out.chunks_mut(MERGE_PART)) {
        let range = start..start + out.len();
        // Planes `k..k + 4` of this part of the column, as the low planes of a 32-bit merge.
        let part = |k: usize| -> [&[u8]; 8] {
            std::array::from_fn(|j| match j {
                0..4 => p[k + j].get(range.clone()).unwrap_or_default(),
                _ => &[],
            })
        };
        merge_u32(&part(0), &mut low[..out.len()]);
        merge_u32(&part(4), &mut high[..out.len()]);
        for ((v, &lo), &hi) in out.iter_mut().zip(&low).zip(&high) {
            *v = u64::from(lo) | u64::from(hi) << 32;
        }
    }
}

/// [`merge_u32`] appending: a zip of slices has a known length, so `extend` writes the
/// words in place.
fn append_u32(p: &[&[u8]; 8], len: usize, out: &mut Vec<u32>) {
    for start in (0..len).step_by(MERGE_PART) {
        let part_len = MERGE_PART.min(len - start);
        let part: [&[u8]; 8] = std::array::from_fn(|k| p[k].get(start..).unwrap_or_default());
        let (low, high) = halves(&part, part_len);
        let words = low[..part_len].iter().zip(&high[..part_len]);
        out.extend(words.map(|(&lo, &hi)| u32::from(lo) | u32::from(hi) << 16));
    }
}

/// [`merge_u64`] appending, for parts of up to 1 024 words.
fn append_u64(p: &[&[u8]; 8], len: usize, out: &mut Vec<u64>) {
    let (mut low, mut high) = ([0u32; MERGE_PART], [0u32; MERGE_PART]);
    for start in (0..len).step_by(MERGE_PART) {
        let part_len = MERGE_PART.min(len - start);
        let range = start..start + part_len;
        let part = |k: usize| -> [&[u8]; 8] {
            std::array::from_fn(|j| match j {
                0..4 => p[k + j].get(range.clone()).unwrap_or_default(),
                _ => &[],
            })
        };
        merge_u32(&part(0), &mut low[..part_len]);
        merge_u32(&part(4), &mut high[..part_len]);
        let halves = low[..part_len].iter().zip(&high[..part_len]);
        out.extend(halves.map(|(&lo, &hi)| u64::from(lo) | u64::from(hi) << 32));
    }
}

word!(u32, i32, merge_u32, append_u32);
word!(u64, i64, merge_u64, append_u64);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Transform {
    Raw = 0,
    Xor = 1,
    Delta = 2,
    DeltaOfDelta = 3,
}

impl Transform {
    const ALL: [Self; 4] = [Self::Raw, Self::Xor, Self::Delta, Self::DeltaOfDelta];

    pub(super) fn from_tag(tag: u8) -> Option<Self> {
        Self::ALL.into_iter().find(|t| *t as u8 == tag)
    }

    /// Seed words stored in the descriptor.
    pub(super) const fn seeds(self) -> usize {
        match self {
            Self::Raw => 0,
            Self::Xor | Self::Delta => 1,
            Self::DeltaOfDelta => 2,
        }
    }

    /// Significant bits of the outputs for `values` (a window of consecutive words).
    fn cost<W: Word>(self, values: &[W]) -> u64 {
        let mut bits = 0u64;
        let mut prev = W::default();
        let mut prev_delta = W::default();
        for (i, &v) in values.iter().enumerate() {
            let out = match self {
                Self::Raw => v,
                Self::Xor => v.xor(prev),
                Self::Delta => v.wrapping_sub(prev).zigzag(),
                Self::DeltaOfDelta => {
                    let d = v.wrapping_sub(prev);
                    let out = d.wrapping_sub(prev_delta).zigzag();
                    prev_delta = d;
                    out
                }
            };
            prev = v;
            // The first outputs of a window are seeds, not planes.
            if i >= self.seeds() {
                bits += u64::from(out.significant_bits());
            }
        }
        bits
    }

    /// Replaces `column` by the outputs; returns the seeds.
    pub(super) fn forward<W: Word>(self, column: &mut [W]) -> [W; 2] {
        let mut seeds = [W::default(); 2];
        let Some(&first) = column.first() else {
            return seeds;
        };
        match self {
            Self::Raw => {}
            Self::Xor => {
                seeds[0] = first;
                let mut prev = first;
                for v in column.iter_mut() {
                    let value = *v;
                    *v = value.xor(prev);
                    prev = value;
                }
            }
            Self::Delta => {
                seeds[0] = first;
                let mut prev = first;
                for v in column.iter_mut() {
                    let value = *v;
                    *v = value.wrapping_sub(prev).zigzag();
                    prev = value;
                }
            }
            Self::DeltaOfDelta => {
                seeds[0] = first;
                if let Some(&second) = column.get(1) {
                    seeds[1] = second.wrapping_sub(first);
                }
                let mut prev = first;
                let mut prev_delta = seeds[1];
                for v in column.iter_mut() {
                    let value = *v;
                    let d = value.wrapping_sub(prev);
                    *v = d.wrapping_sub(prev_delta).zigzag();
                    prev = value;
                    prev_delta = d;
                }
                if let Some(v) = column.get_mut(1) {
                    *v = W::default();
                }
                if let Some(v) = column.get_mut(0) {
                    *v = W::default();
                }
            }
        }
        seeds
    }
}

/// A transform being undone over a column taken in consecutive chunks: the state carried
/// from one chunk to the next. The first [`Transform::seeds`] outputs of a column are not
/// read (the seeds give those values), so every chunk is undone in one serial pass.
pub(super) struct Undo<W> {
    transform: Transform,
    /// Outputs of the column's start still to be passed over.
    skip: usize,
    prev: W,
    delta: W,
}

impl<W: Word> Undo<W> {
    pub(super) fn new(transform: Transform, seeds: [W; 2]) -> Self {
        // Set so that an output of zero gives the seeds' values: the first value is
        // `prev ^ 0`, `prev + 0`, or `prev + delta` with `prev = v[0] - d[1]`, `delta = d[1]`.
        let (prev, delta) = match transform {
            Transform::DeltaOfDelta => (seeds[0].wrapping_sub(seeds[1]), seeds[1]),
            _ => (seeds[0], W::default()),
        };
        Self {
            transform,
            skip: transform.seeds(),
            prev,
            delta,
        }
    }

    /// Undoes the column's next chunk, in place.
    pub(super) fn run(&mut self, chunk: &mut [W]) {
        let leading = self.skip.min(chunk.len());
        chunk[..leading].fill(W::default());
        self.skip -= leading;
        // The zigzag is undone in a pass of its own, which vectorises, then the sums in one
        // serial pass: 1.3-1.5 times faster than both in one loop (a 32-bit delta chunk in
        // L1); four quarters of the chunk summed side by side and joined after were slower
        // (1.6 ns a word against 0.9).
        if matches!(self.transform, Transform::Delta | Transform::DeltaOfDelta) {
            for v in chunk.iter_mut() {
                *v = v.unzigzag();
            }
        }
        let (mut prev, mut delta) = (self.prev, self.delta);
        match self.transform {
            Transform::Raw => {}
            Transform::Xor => {
                for v in chunk.iter_mut() {
                    prev = prev.xor(*v);
                    *v = prev;
                }
            }
            Transform::Delta => {
                for v in chunk.iter_mut() {
                    prev = prev.wrapping_add(*v);
                    *v = prev;
                }
            }
            Transform::DeltaOfDelta => {
                for v in chunk.iter_mut() {
                    delta = delta.wrapping_add(*v);
                    prev = prev.wrapping_add(delta);
                    *v = prev;
                }
            }
        }
        (self.prev, self.delta) = (prev, delta);
    }
}

/// The transform with the fewest significant output bits on a sample of the column: the
/// whole column when short, else 32 windows of 64 consecutive frames spread over it.
pub(super) fn choose_transform<W: Word>(column: &[W]) -> Transform {
    const WINDOWS: usize = 32;
    const WINDOW: usize = 64;
    let mut costs = [0u64; 4];
    let mut add = |window: &[W]| {
        for (cost, t) in costs.iter_mut().zip(Transform::ALL) {
            *cost += t.cost(window);
        }
    };
    if column.len() <= WINDOWS * WINDOW * 2 {
        add(column);
    } else {
        let stride = column.len() / WINDOWS;
        for w in 0..WINDOWS {
            let start = w * stride;
            add(&column[start..start + WINDOW]);
        }
    }
    let mut best = Transform::Raw;
    let mut best_cost = u64::MAX;
    for (cost, t) in costs.into_iter().zip(Transform::ALL) {
        // Ties go to the simpler transform (the earlier one).
        if cost < best_cost {
            best = t;
            best_cost = cost;
        }
    }
    best
}

/// True when a plane is too close to uniform noise for zstd to gain anything (more than 7.9
/// bits of entropy per byte, over at least 4 096 bytes): such planes are stored as they are.
pub(super) fn looks_random(plane: &[u8]) -> bool {
    if plane.len() < 4096 {
        return false;
    }
    let mut counts = [[0u32; 256]; 4];
    let mut chunks = plane.chunks_exact(4);
    for c in &mut chunks {
        counts[0][usize::from(c[0])] += 1;
        counts[1][usize::from(c[1])] += 1;
        counts[2][usize::from(c[2])] += 1;
        counts[3][usize::from(c[3])] += 1;
    }
    for &b in chunks.remainder() {
        counts[0][usize::from(b)] += 1;
    }
    let n = plane.len() as f64;
    let mut bits = 0.0;
    let [c0, c1, c2, c3] = &counts;
    for (((a, b), c), d) in c0.iter().zip(c1).zip(c2).zip(c3) {
        let c = a + b + c + d;
        if c > 0 {
            let p = f64::from(c) / n;
            bits -= p * p.log2();
        }
    }
    bits > 7.9
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// A column undone in chunks of any sizes (the reader's are 1 024 words; here from
        /// one word, so a chunk can end inside the seeds) is the column.
        #[test]
        fn undone_in_chunks_is_the_column(
            words in proptest::collection::vec(proptest::prelude::any::<u64>(), 0..2_500),
            smooth in proptest::prelude::any::<bool>(),
            sizes in proptest::collection::vec(1usize..1_500, 1..8),
        ) {
            let column: Vec<u64> = if smooth {
                // Slowly varying, as most channels are: each transform gets small outputs.
                words.iter().scan(0u64, |acc, w| {
                    *acc = acc.wrapping_add(w % 1_000);
                    Some(*acc)
                }).collect()
            } else {
                words
            };
            let narrow: Vec<u32> = column.iter().map(|&w| w as u32).collect();
            for t in Transform::ALL {
                let mut wide = column.clone();
                let mut undo = Undo::new(t, t.forward(&mut wide));
                let mut short = narrow.clone();
                let mut undo_short = Undo::new(t, t.forward(&mut short));
                let (mut at, mut size) = (0, sizes.iter().cycle());
                while at < column.len() {
                    let end = column.len().min(at + size.next().copied().unwrap_or(1));
                    undo.run(&mut wide[at..end]);
                    undo_short.run(&mut short[at..end]);
                    at = end;
                }
                proptest::prop_assert_eq!(&wide, &column, "{:?}", t);
                proptest::prop_assert_eq!(&short, &narrow, "{:?}", t);
            }
        }
    }

    proptest::proptest! {
        /// A window's cost for each transform is the significant bits of the outputs
        /// `forward` makes of it (whose seeds' places are zero), for any words, 32 or 64 bits.
        #[test]
        fn costs_are_the_bits_of_the_outputs(
            words in proptest::collection::vec(proptest::prelude::any::<u64>(), 0..200),
            small in proptest::prelude::any::<bool>(),
        ) {
            let wide: Vec<u64> = if small { words.iter().map(|w| w % 300).collect() } else { words };
            let narrow: Vec<u32> = wide.iter().map(|&w| w as u32).collect();
            for t in Transform::ALL {
                let mut out = wide.clone();
                t.forward(&mut out);
                let bits: u64 = out.iter().map(|w| u64::from(w.significant_bits())).sum();
                proptest::prop_assert_eq!(t.cost(&wide), bits, "{:?}", t);
                let mut out = narrow.clone();
                t.forward(&mut out);
                let bits: u64 = out.iter().map(|w| u64::from(w.significant_bits())).sum();
                proptest::prop_assert_eq!(t.cost(&narrow), bits, "{:?}", t);
            }
        }
    }

    #[test]
    fn transforms_invert_on_extremes() {
        let column: Vec<u32> = vec![0, u32::MAX, 1, 0x8000_0000, 0x7fff_ffff, 5, 5, 5, 0];
        for t in Transform::ALL {
            let mut c = column.clone();
            let seeds = t.forward(&mut c);
            Undo::new(t, seeds).run(&mut c);
            assert_eq!(c, column, "{t:?}");
        }
    }
}
