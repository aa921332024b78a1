//! SplitMix64: the simulator's only source of randomness, seeded, ten lines, no crate.

/// Sebastiano Vigna's SplitMix64 generator. Deterministic, fast, good enough for lap-to-lap
/// variation and junk bytes (not for cryptography).
#[derive(Debug, Clone)]
pub(crate) struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    /// A generator from a seed.
    pub(crate) fn new(seed: u64) -> Self {
        Self { state: seed }
    }

    /// A generator for one purpose (`stream`) and one lap of a session: independent of the
    /// draws made for any other lap, so a mistake on lap 5 never changes lap 6's variation.
    pub(crate) fn for_stream(seed: u64, stream: u64, index: u64) -> Self {
        let mut mix = Self::new(seed ^ stream.wrapping_mul(0xD6E8_FEB8_6659_FD93));
        let base = mix.next_u64();
        Self::new(base ^ index.wrapping_mul(0x9E37_79B9_7F4A_7C15))
    }

    /// The next 64 random bits.
    pub(crate) fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A uniform float in `[0, 1)` (53 random bits).
    pub(crate) fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_sequence_and_range() {
        // Reference values of SplitMix64 seeded with 0.
        let mut rng = SplitMix64::new(0);
        assert_eq!(rng.next_u64(), 0xE220_A839_7B1D_CDAF);
        assert_eq!(rng.next_u64(), 0x6E78_9E6A_A1B9_65F4);
        for _ in 0..1000 {
            let x = rng.next_f64();
            assert!((0.0..1.0).contains(&x));
        }
    }

    #[test]
    fn streams_are_independent_and_deterministic() {
        let a = SplitMix64::for_stream(7, 1, 3).next_u64();
        assert_eq!(a, SplitMix64::for_stream(7, 1, 3).next_u64());
        assert_ne!(a, SplitMix64::for_stream(7, 1, 4).next_u64());
        assert_ne!(a, SplitMix64::for_stream(7, 2, 3).next_u64());
        assert_ne!(a, SplitMix64::for_stream(8, 1, 3).next_u64());
    }
}
