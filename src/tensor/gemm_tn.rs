//! C = Aᵀ·B where A (k × m) and B (k × n) are tall and C is small: the weight gradients of the
//! recurrent ops, Σ_t z_tᵀ·∂E/∂a_t over every step and row of a batch in one product (lstm-rows:
//! k = 28 · 128 = 3584, m = 157, n = 512). gemm-f32 packs both operands first, which at this shape
//! is mostly copying the 7 MB of ∂E/∂a (a third of the product's time); here the micro-kernel
//! ([`Tile`]) reads them where they are: its R broadcasts of Aᵀ per k are R neighbouring values
//! of one row of A, its two loads of B a row of B.
//!
//! Blocking: [`KC`] rows of A and B at a time, so that the slice of B's panel in use (KC × 32)
//! stays in the L1 cache while the tiles of Aᵀ go by, and the slice of A (KC × m) in L2 while the
//! panels go by. Threads take blocks of C's columns; every element of C is one fused multiply-add
//! chain over k in order, so the result does not depend on the threads.

use super::team;
use super::tile::{NR, Tile, has_avx512};

/// Rows of A and B in use at a time.
const KC: usize = 128;

/// C = Aᵀ·B (m × n, row-major), with A k × m and B k × n, both row-major.
#[track_caller]
pub(crate) fn gemm_tn(k: usize, m: usize, n: usize, a: &[f32], b: &[f32]) -> Vec<f32> {
    assert!(
        a.len() >= k * m && b.len() >= k * n,
        "gemm_tn: A holds {} values and B {}, need {k}×{m} and {k}×{n}",
        a.len(),
        b.len()
    );
    let mut c = vec![0.0; m * n];
    if m == 0 || n == 0 || k == 0 {
        return c;
    }
    // whole panels of NR columns per thread
    let cols = team::block_len(n.div_ceil(NR), 1) * NR;
    let mut parts: Vec<Vec<f32>> = (0..n).step_by(cols).map(|c0| vec![0.0; m * cols.min(n - c0)]).collect();
    let avx512 = has_avx512();
    team::for_each(parts.iter_mut().enumerate().collect(), |(i, part)| {
        let c0 = i * cols;
        let width = cols.min(n - c0);
        for k0 in (0..k).step_by(KC) {
            let depth = KC.min(k - k0);
            for col in (0..width).step_by(NR) {
                let b = &b[k0 * n + c0 + col..];
                // Aᵀ[r][p] = A[p][r]: a tile's rows are neighbours in A's rows
                let (a, ldc, width) = (&a[k0 * m..], width, NR.min(width - col));
                let tile = Tile { depth, b, ldb: n, a, a_row: 1, a_col: m, ldc, width, accumulate: k0 > 0 };
                tile.run(m, &mut part[col..], avx512);
            }
        }
    });
    for (i, part) in parts.iter().enumerate() {
        let c0 = i * cols;
        let width = cols.min(n - c0);
        for (row, out) in part.chunks_exact(width).zip(c.chunks_exact_mut(n)) {
            out[c0..c0 + width].copy_from_slice(row);
        }
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;

    #[test]
    fn transposed_product_matches_naive_on_partial_tiles_and_lstm_rows_shape() {
        let mut rng = Rng::seed(6);
        // partial tiles (m % 6, n % 32, k % 128), one of everything, lstm-rows' shape
        for &(k, m, n) in &[(1, 1, 1), (3, 7, 17), (130, 13, 40), (300, 6, 96), (3584, 157, 512)] {
            let a = rng.normal_tensor(&[k, m], 1.0);
            let b = rng.normal_tensor(&[k, n], 1.0);
            // the naive sum in f64 as the oracle, and the size of f32 rounding over k terms:
            // a few ulps of the sum of their magnitudes (a lost or doubled term is far above it)
            let (a, b) = (a.data(), b.data());
            let terms = |e: usize| (0..k).map(move |p| a[p * m + e / n] as f64 * b[p * n + e % n] as f64);
            let got = gemm_tn(k, m, n, a, b);
            for (e, g) in got.iter().enumerate() {
                let (want, size) = (terms(e).sum::<f64>(), terms(e).map(f64::abs).sum::<f64>());
                let g = *g as f64;
                assert!((g - want).abs() <= 1e-6 * size + 1e-7, "({k},{m},{n}) [{e}]: {g} vs {want}");
            }
        }
    }
}
