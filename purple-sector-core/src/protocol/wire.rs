//! Fixed-offset little-endian loads and stores.
//!
//! The views hold `&[u8; N]`, so every offset below is checked against the array length at
//! compile time once inlined: the reads compile to single unaligned loads with no bounds check.
//!
//! Why direct loads and not nom here: `cargo bench -p purple-sector-benches --bench protocol`
//! reads eight common fields of every packet of a 34 160-packet lap. On the 2-core dev machine
//! (2026-11-25) direct loads took 2.5 ns per packet streaming and 1.2 ns on a packet in cache;
//! the same eight fields parsed with nom's `le_f32`/`le_i32`/`take` took 25 ns and 24 ns, ten
//! times more, because nom threads the remaining input and a `Result` through every step and
//! the compiler cannot fold those into fixed-offset loads. nom stays where it reads naturally:
//! the request, the names and the capture formats.

/// A value with a fixed little-endian wire form.
pub(crate) trait Wire: Sized + Copy {
    /// Reads the value at `at`. Callers pass constant offsets into fixed-size arrays.
    fn read(bytes: &[u8], at: usize) -> Self;
    /// Writes the value at `at`.
    fn write(self, bytes: &mut [u8], at: usize);
}

#[inline(always)]
fn four(bytes: &[u8], at: usize) -> [u8; 4] {
    [bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]
}

impl Wire for f32 {
    #[inline(always)]
    fn read(bytes: &[u8], at: usize) -> Self {
        f32::from_le_bytes(four(bytes, at))
    }
    #[inline(always)]
    fn write(self, bytes: &mut [u8], at: usize) {
        bytes[at..at + 4].copy_from_slice(&self.to_le_bytes());
    }
}

impl Wire for i32 {
    #[inline(always)]
    fn read(bytes: &[u8], at: usize) -> Self {
        i32::from_le_bytes(four(bytes, at))
    }
    #[inline(always)]
    fn write(self, bytes: &mut [u8], at: usize) {
        bytes[at..at + 4].copy_from_slice(&self.to_le_bytes());
    }
}

/// AC's `bool` is one byte, true when non-zero.
impl Wire for bool {
    #[inline(always)]
    fn read(bytes: &[u8], at: usize) -> Self {
        bytes[at] != 0
    }
    #[inline(always)]
    fn write(self, bytes: &mut [u8], at: usize) {
        bytes[at] = u8::from(self);
    }
}

/// Arrays are read as one block: LLVM turns the chunk loop into vector loads and stores
/// (element-by-element reads kept one scalar store per float and cost twice as much).
impl<const N: usize> Wire for [f32; N] {
    #[inline(always)]
    fn read(bytes: &[u8], at: usize) -> Self {
        let mut out = [0f32; N];
        for (v, chunk) in out.iter_mut().zip(bytes[at..at + 4 * N].chunks_exact(4)) {
            *v = f32::from_le_bytes([chunk[0], chunk[1], chunk[2], chunk[3]]);
        }
        out
    }
    #[inline(always)]
    fn write(self, bytes: &mut [u8], at: usize) {
        for (v, chunk) in self.iter().zip(bytes[at..at + 4 * N].chunks_exact_mut(4)) {
            chunk.copy_from_slice(&v.to_le_bytes());
        }
    }
}

/// Padding, kept as it came.
impl<const N: usize> Wire for [u8; N] {
    #[inline(always)]
    fn read(bytes: &[u8], at: usize) -> Self {
        let mut out = [0u8; N];
        out.copy_from_slice(&bytes[at..at + N]);
        out
    }
    #[inline(always)]
    fn write(self, bytes: &mut [u8], at: usize) {
        bytes[at..at + N].copy_from_slice(&self);
    }
}
