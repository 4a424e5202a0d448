//! A xorshift generator from a fixed seed, so that every run of a
//! benchmark does the same work; shared by benches/engine.rs,
//! benches/peers and benches/scan (each includes this file by path).

/// Xorshift64 from the seed it holds (not 0).
pub struct Rng(pub u64);

impl Rng {
    /// The next number.
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}
