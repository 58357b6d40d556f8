//! nabla's one source of randomness: a seeded ChaCha8 stream. Every random choice (initial weights,
//! shuffling, dropout masks) draws from an [`Rng`] made from the user's seed, so that the same seed
//! gives the same weights, bit for bit, on one machine.

use crate::tensor::Tensor;
use rand::seq::SliceRandom;
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

/// A seeded random number generator.
#[derive(Clone, Debug)]
pub struct Rng(ChaCha8Rng);

impl Rng {
    /// The stream for `seed`.
    pub fn seed(seed: u64) -> Rng {
        Rng(ChaCha8Rng::seed_from_u64(seed))
    }

    /// The stream number `stream` of `seed` (for epoch k's shuffle, say): a function of both
    /// alone, so that a resumed run draws exactly what an uninterrupted one would.
    pub fn derive(seed: u64, stream: u64) -> Rng {
        // SplitMix64's finaliser spreads nearby (seed, stream) pairs over unrelated seeds
        let mut z = seed ^ stream.wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        Rng::seed(z ^ (z >> 31))
    }

    /// An independent stream derived from this one (for a layer, a worker, an ensemble member).
    pub fn fork(&mut self) -> Rng {
        Rng::seed(self.0.random())
    }

    /// 64 random bits (a seed for a sub-stream).
    pub fn next_u64(&mut self) -> u64 {
        self.0.random()
    }

    /// A number drawn uniformly from [lo, hi).
    pub fn uniform(&mut self, lo: f32, hi: f32) -> f32 {
        self.0.random_range(lo..hi)
    }

    /// A number drawn from N(0, std²).
    pub fn normal(&mut self, std: f32) -> f32 {
        let z: f32 = StandardNormal.sample(&mut self.0);
        z * std
    }

    /// An index drawn uniformly from 0..n.
    pub fn below(&mut self, n: usize) -> usize {
        self.0.random_range(0..n)
    }

    /// Shuffles `items` in place.
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        items.shuffle(&mut self.0);
    }

    /// A tensor of N(0, std²) draws.
    pub fn normal_tensor(&mut self, shape: &[usize], std: f32) -> Tensor {
        let n = shape.iter().product();
        Tensor::from_vec((0..n).map(|_| self.normal(std)).collect(), shape)
    }

    /// A tensor of U(lo, hi) draws.
    pub fn uniform_tensor(&mut self, shape: &[usize], lo: f32, hi: f32) -> Tensor {
        let n = shape.iter().product();
        Tensor::from_vec((0..n).map(|_| self.uniform(lo, hi)).collect(), shape)
    }
}
