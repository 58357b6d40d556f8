//! A GEMM against a matrix that is packed once and then multiplied many times: the recurrent
//! weights U of an RNN meet a small block of states at every one of T steps (lstm-rows: 64 rows
//! per thread, k = 128, n = 512). [`gemm_into`](super::gemm_into) packs its B operand again on
//! every call, which at these sizes costs about as much as a quarter of the product; here B is
//! packed once per pass into panels of [`NR`] columns, k rows deep, and each step runs only the
//! micro-kernel over them.
//!
//! The micro-kernel keeps an [`MR`] × [`NR`] tile of C in registers (6 × 32 floats: twelve of the
//! 32 AVX-512 registers) and adds one rank-1 product per k. Each output
//! element is one fused multiply-add chain over k in order, whatever the tiling and the thread
//! that runs it, so results are deterministic.

use super::Transpose;

/// Columns of a panel of B, and of the micro-kernel's tile of C.
const NR: usize = 32;
/// Rows of a panel in use at a time (a 16 KB slice of it, half the L1 cache).
const KC: usize = 128;
/// Rows of the micro-kernel's tile of C.
const MR: usize = 6;

/// A k × n matrix B packed into panels of [`NR`] columns (the last one padded with zeros), each
/// panel k rows of NR values, for products A·B with many different A.
#[derive(Clone, Debug)]
pub(crate) struct PackedB {
    k: usize,
    n: usize,
    panels: Vec<f32>,
}

impl PackedB {
    /// Packs op(B), k × n: `b` holds B as stored (k × n, or n × k when `tb` transposes).
    #[track_caller]
    pub(crate) fn new(b: &[f32], k: usize, n: usize, tb: Transpose) -> PackedB {
        assert!(b.len() >= k * n, "PackedB: B holds {} values, needs {k}×{n}", b.len());
        let mut panels = vec![0.0; n.div_ceil(NR) * k * NR];
        for (p, panel) in panels.chunks_exact_mut(k * NR).enumerate() {
            for (row, out) in panel.chunks_exact_mut(NR).enumerate() {
                for (j, v) in out.iter_mut().enumerate().take(n - p * NR) {
                    let col = p * NR + j;
                    *v = match tb {
                        Transpose::No => b[row * n + col],
                        Transpose::Yes => b[col * k + row],
                    };
                }
            }
        }
        PackedB { k, n, panels }
    }

    /// C = A·B, or C += A·B when `accumulate`, with A m × k and C m × n, both row-major.
    #[track_caller]
    pub(crate) fn mul_into(&self, m: usize, a: &[f32], c: &mut [f32], accumulate: bool) {
        let (k, n) = (self.k, self.n);
        assert!(
            a.len() >= m * k && c.len() >= m * n,
            "PackedB::mul_into: A holds {} values and C {}, need {m}×{k} and {m}×{n}",
            a.len(),
            c.len()
        );
        mul_panels(k, n, &self.panels, m, a, c, accumulate);
    }
}

/// Every panel against every tile of [`MR`] rows of A, [`KC`] rows of the panels at a time, so
/// that the part of a panel in use stays in the L1 cache while the rows of A go by.
fn mul_panels(k: usize, n: usize, panels: &[f32], m: usize, a: &[f32], c: &mut [f32], accumulate: bool) {
    #[cfg(target_arch = "x86_64")]
    let avx512 = std::is_x86_feature_detected!("avx512f");
    for k0 in (0..k).step_by(KC) {
        let depth = KC.min(k - k0);
        // the first block of k writes C (or adds to it), the later ones add to it: each element
        // stays one multiply-add chain over k in order
        let accumulate = accumulate || k0 > 0;
        for (p, panel) in panels.chunks_exact(k * NR).enumerate() {
            let panel = &panel[k0 * NR..(k0 + depth) * NR];
            let col = p * NR;
            let width = NR.min(n - col);
            let mut row = 0;
            while row < m {
                let rows = MR.min(m - row);
                let (a, c) = (&a[row * k + k0..(row + rows - 1) * k + k0 + depth], &mut c[row * n + col..]);
                let tile = Tile { depth, panel, a, lda: k, ldc: n, width, accumulate };
                assert!(c.len() >= (rows - 1) * n + width, "PackedB: C too short");
                #[cfg(target_arch = "x86_64")]
                if avx512 && width == NR {
                    // SAFETY: the CPU has AVX-512F, and A, the panel and C hold the tile (checked above)
                    unsafe {
                        match rows {
                            6 => tile.avx512::<6>(c),
                            5 => tile.avx512::<5>(c),
                            4 => tile.avx512::<4>(c),
                            3 => tile.avx512::<3>(c),
                            2 => tile.avx512::<2>(c),
                            _ => tile.avx512::<1>(c),
                        }
                    }
                    row += rows;
                    continue;
                }
                match rows {
                    6 => tile.portable::<6>(c),
                    5 => tile.portable::<5>(c),
                    4 => tile.portable::<4>(c),
                    3 => tile.portable::<3>(c),
                    2 => tile.portable::<2>(c),
                    _ => tile.portable::<1>(c),
                }
                row += rows;
            }
        }
    }
}

/// One R × NR tile of C (row stride `ldc`, the first `width` columns real) = or += R rows of A
/// (row stride `lda`, `depth` columns from the start of `a`) times `depth` rows of one panel.
struct Tile<'a> {
    depth: usize,
    panel: &'a [f32],
    a: &'a [f32],
    lda: usize,
    ldc: usize,
    width: usize,
    accumulate: bool,
}

/// Half a panel's width: one AVX-512 register, and the columns that the portable kernel keeps
/// in registers at a time.
const HALF: usize = NR / 2;

impl Tile<'_> {
    /// The tile with explicit AVX-512 instructions: twelve accumulators, two loads of the
    /// panel and R broadcasts of A per k.
    ///
    /// # Safety
    /// The CPU must have AVX-512F; `c` must hold R rows of NR columns at stride `ldc`.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f")]
    unsafe fn avx512<const R: usize>(&self, c: &mut [f32]) {
        use std::arch::x86_64::{
            __m512, _mm512_fmadd_ps, _mm512_loadu_ps, _mm512_set1_ps, _mm512_setzero_ps, _mm512_storeu_ps,
        };
        let (ldc, lda) = (self.ldc, self.lda);
        let (a, b, c) = (self.a.as_ptr(), self.panel.as_ptr(), c.as_mut_ptr());
        let mut lo: [__m512; R] = [_mm512_setzero_ps(); R];
        let mut hi: [__m512; R] = [_mm512_setzero_ps(); R];
        // SAFETY: every offset stays inside the tile of A (R × depth at stride lda), the panel
        // (depth × NR) and the tile of C (R × NR at stride ldc)
        unsafe {
            if self.accumulate {
                for r in 0..R {
                    lo[r] = _mm512_loadu_ps(c.add(r * ldc));
                    hi[r] = _mm512_loadu_ps(c.add(r * ldc + HALF));
                }
            }
            for p in 0..self.depth {
                let (b_lo, b_hi) = (_mm512_loadu_ps(b.add(p * NR)), _mm512_loadu_ps(b.add(p * NR + HALF)));
                for r in 0..R {
                    let x = _mm512_set1_ps(*a.add(r * lda + p));
                    lo[r] = _mm512_fmadd_ps(x, b_lo, lo[r]);
                    hi[r] = _mm512_fmadd_ps(x, b_hi, hi[r]);
                }
            }
            for r in 0..R {
                _mm512_storeu_ps(c.add(r * ldc), lo[r]);
                _mm512_storeu_ps(c.add(r * ldc + HALF), hi[r]);
            }
        }
    }

    /// The tile in plain Rust, the same multiply-adds in the same order as [`Tile::avx512`]
    /// (so the same results), compiled for AVX2 + FMA where the CPU has them.
    fn portable<const R: usize>(&self, c: &mut [f32]) {
        #[cfg(target_arch = "x86_64")]
        if std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma") {
            // SAFETY: the CPU has the features that `portable_fma` is compiled for
            unsafe { self.portable_fma::<R>(c) };
            return;
        }
        self.portable_body::<R>(c);
    }

    /// [`Tile::portable_body`] compiled for AVX2 + FMA.
    ///
    /// # Safety
    /// The CPU must have AVX2 and FMA.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn portable_fma<const R: usize>(&self, c: &mut [f32]) {
        self.portable_body::<R>(c);
    }

    /// [`HALF`] columns at a time, since at a full panel's width the compiler stops vectorising.
    #[inline(always)]
    fn portable_body<const R: usize>(&self, c: &mut [f32]) {
        let (depth, ldc) = (self.depth, self.ldc);
        let rows: [&[f32]; R] = std::array::from_fn(|r| &self.a[r * self.lda..r * self.lda + depth]);
        for col in (0..self.width).step_by(HALF) {
            let width = HALF.min(self.width - col);
            let mut acc = [[0.0f32; HALF]; R];
            if self.accumulate {
                for (r, acc) in acc.iter_mut().enumerate() {
                    acc.iter_mut().zip(&c[r * ldc + col..r * ldc + col + width]).for_each(|(acc, c)| *acc = *c);
                }
            }
            for (p, b) in self.panel[..depth * NR].chunks_exact(NR).enumerate() {
                let b = &b[col..col + HALF];
                for (acc, row) in acc.iter_mut().zip(&rows) {
                    let x = row[p];
                    for (acc, b) in acc.iter_mut().zip(b) {
                        *acc = x.mul_add(*b, *acc);
                    }
                }
            }
            for (r, acc) in acc.iter().enumerate() {
                c[r * ldc + col..r * ldc + col + width].iter_mut().zip(acc).for_each(|(c, acc)| *c = *acc);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::Rng;

    #[test]
    fn packed_product_matches_naive_in_both_orientations_with_and_without_accumulation() {
        let mut rng = Rng::seed(5);
        // partial tiles in both directions (m % 6, n % 16), single rows and columns, lstm-rows' shapes
        for &(m, k, n) in &[(1, 1, 1), (7, 3, 17), (13, 9, 8), (6, 16, 32), (64, 128, 512), (64, 512, 128)] {
            let a = rng.normal_tensor(&[m, k], 1.0);
            let b = rng.normal_tensor(&[k, n], 1.0);
            let c0 = rng.normal_tensor(&[m, n], 1.0);
            let product = a.matmul_naive(&b);
            let mut bt = vec![0.0; k * n];
            for i in 0..k {
                for j in 0..n {
                    bt[j * k + i] = b.data()[i * n + j];
                }
            }
            for packed in [PackedB::new(b.data(), k, n, Transpose::No), PackedB::new(&bt, k, n, Transpose::Yes)] {
                for accumulate in [false, true] {
                    let mut c = c0.data().to_vec();
                    packed.mul_into(m, a.data(), &mut c, accumulate);
                    let want = if accumulate { product.add(&c0) } else { product.clone() };
                    for (g, w) in c.iter().zip(want.data()) {
                        assert!((g - w).abs() <= 1e-4 * (1.0 + w.abs()), "({m},{k},{n}) {accumulate}: {g} vs {w}");
                    }
                }
            }
        }
    }
}
