//! A GEMM against a matrix that is packed once and then multiplied many times: the recurrent
//! weights U of an RNN meet a small block of states at every one of T steps (lstm-rows: 64 rows
//! per thread, k = 157 (x_t, 1 and h_{t−1}), n = 512). [`gemm_into`](super::gemm_into) packs its
//! B operand again on every call, which at these sizes costs about as much as a quarter of the
//! product; here B is packed once per pass into panels of [`NR`] columns, k rows deep, and each
//! step runs only the micro-kernel ([`Tile`]) over them.

use super::Transpose;
use super::tile::{NR, Tile, has_avx512};

/// The most rows of a panel in use at a time (a 24 KB slice of it, three quarters of the L1
/// cache); k is cut into equal blocks of at most this many, so that no block is a short rest
/// (k = 157 as one block, not 128 + 29, each of which loads and stores the tile of C).
const KC: usize = 192;

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
        self.mul_rows_into(m, (a, self.k), self.k, c, accumulate);
    }

    /// C = A·B[..depth], or C += it when `accumulate`: the first `depth` rows of B only, against
    /// A (m × depth) whose rows lie `lda` apart in `a` (A may be the left part of a wider matrix,
    /// as the LSTM's rows [x_t, 1, h_{t−1}]). C is m × n, row-major.
    #[track_caller]
    pub(crate) fn mul_rows_into(
        &self,
        m: usize,
        (a, lda): (&[f32], usize),
        depth: usize,
        c: &mut [f32],
        accumulate: bool,
    ) {
        let (k, n) = (self.k, self.n);
        assert!(
            depth <= k && depth <= lda && (m == 0 || a.len() >= (m - 1) * lda + depth) && c.len() >= m * n,
            "PackedB::mul_rows_into: A holds {} values (rows {lda} apart) and C {}, need {m}×{depth} of {k} and {m}×{n}",
            a.len(),
            c.len()
        );
        mul_panels(Shape { k, depth, n, lda }, &self.panels, m, a, c, accumulate);
    }
}

/// The extents of one product: B's panels are `k` rows deep, of which the first `depth` are used,
/// `n` columns wide; A's rows are `lda` apart.
struct Shape {
    k: usize,
    depth: usize,
    n: usize,
    lda: usize,
}

/// Every panel against every tile of [`MR`](super::tile::MR) rows of A, at most [`KC`] rows of the panels at a
/// time, so that the part of a panel in use stays in the L1 cache while the rows of A go by.
fn mul_panels(
    Shape { k, depth: used, n, lda }: Shape,
    panels: &[f32],
    m: usize,
    a: &[f32],
    c: &mut [f32],
    accumulate: bool,
) {
    let avx512 = has_avx512();
    if used == 0 && !accumulate {
        // an empty sum: C = 0
        c[..m * n].fill(0.0);
    }
    if m == 0 || used == 0 {
        return;
    }
    let kc = used.div_ceil(used.div_ceil(KC));
    for k0 in (0..used).step_by(kc) {
        let depth = kc.min(used - k0);
        // the first block of k writes C (or adds to it), the later ones add to it: each element
        // stays one multiply-add chain over k in order
        let accumulate = accumulate || k0 > 0;
        for (p, panel) in panels.chunks_exact(k * NR).enumerate() {
            let panel = &panel[k0 * NR..(k0 + depth) * NR];
            let col = p * NR;
            let width = NR.min(n - col);
            let tile = Tile { depth, b: panel, ldb: NR, a: &a[k0..], a_row: lda, a_col: 1, ldc: n, width, accumulate };
            tile.run(m, &mut c[col..], avx512);
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
