//! Matrix multiplication through the `gemm` crate (SIMD micro-kernels, AVX-512 where the CPU has
//! it, chosen at run time). Transposed operands cost nothing: they are passed as strides.
//! A naive triple loop stays beside it as the test oracle.

use super::Tensor;
use gemm::Parallelism;

/// Whether an operand of [`gemm_into`] is read as stored or transposed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transpose {
    /// Use the matrix as stored.
    No,
    /// Use its transpose.
    Yes,
}

/// Below this many multiply-adds a second thread costs more than it saves (measured on the
/// 2-core development machine; see ARCHITECTURE.md).
const PARALLEL_MIN_MACS: usize = 1 << 18;

/// `C = op(A)·op(B)`, or `C += op(A)·op(B)` when `accumulate`, with row-major buffers.
///
/// `op(A)` is m×k and `op(B)` is k×n; `a` holds A as stored (m×k, or k×m when transposed), `b`
/// likewise, and `c` is m×n. The result does not depend on the number of threads: threads split
/// the output, never the sum over k.
#[allow(clippy::too_many_arguments)]
pub fn gemm_into(
    m: usize,
    n: usize,
    k: usize,
    a: &[f32],
    ta: Transpose,
    b: &[f32],
    tb: Transpose,
    c: &mut [f32],
    accumulate: bool,
) {
    assert!(a.len() >= m * k && b.len() >= k * n && c.len() >= m * n, "gemm_into: buffers too small");
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            c[..m * n].fill(0.0);
        }
        return;
    }
    // (row stride, column stride) of op(A) and op(B).
    let (a_rs, a_cs) = match ta {
        Transpose::No => (k as isize, 1),
        Transpose::Yes => (1, m as isize),
    };
    let (b_rs, b_cs) = match tb {
        Transpose::No => (n as isize, 1),
        Transpose::Yes => (1, k as isize),
    };
    let parallelism = if m * n * k >= PARALLEL_MIN_MACS {
        Parallelism::Rayon(rayon::current_num_threads())
    } else {
        Parallelism::None
    };
    // SAFETY: the asserts above keep every index the strides reach inside the three buffers, and
    // `c` does not alias `a` or `b` (it is borrowed mutably).
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            c.as_mut_ptr(),
            1,
            n as isize,
            accumulate,
            a.as_ptr(),
            a_cs,
            a_rs,
            b.as_ptr(),
            b_cs,
            b_rs,
            1.0, // the gemm crate's alpha scales the old C
            1.0, // and its beta scales the product
            false,
            false,
            false,
            parallelism,
        );
    }
}

impl Tensor {
    /// The matrix product of two 2-D tensors: (m×k)·(k×n) → m×n.
    #[track_caller]
    pub fn matmul(&self, rhs: &Tensor) -> Tensor {
        self.matmul_t(Transpose::No, rhs, Transpose::No)
    }

    /// `op(self)·op(rhs)` where each `op` transposes or not; the transposes are never materialised.
    #[track_caller]
    pub fn matmul_t(&self, ta: Transpose, rhs: &Tensor, tb: Transpose) -> Tensor {
        let (m, k) = oriented(self, ta);
        let (k2, n) = oriented(rhs, tb);
        assert_eq!(
            k, k2,
            "matmul: inner dimensions differ: {:?}{} · {:?}{}",
            self.shape,
            if ta == Transpose::Yes { "ᵀ" } else { "" },
            rhs.shape,
            if tb == Transpose::Yes { "ᵀ" } else { "" },
        );
        let mut out = vec![0.0; m * n];
        gemm_into(m, n, k, self.data(), ta, rhs.data(), tb, &mut out, false);
        Tensor::from_vec(out, &[m, n])
    }

    /// The naive triple-loop product, in f64: the oracle that the fast kernel is tested against.
    pub fn matmul_naive(&self, rhs: &Tensor) -> Tensor {
        let (m, k) = self.dims2("matmul_naive");
        let (_, n) = rhs.dims2("matmul_naive");
        let (a, b) = (self.data(), rhs.data());
        let mut out = vec![0.0; m * n];
        for i in 0..m {
            for j in 0..n {
                out[i * n + j] = (0..k).map(|p| a[i * k + p] as f64 * b[p * n + j] as f64).sum::<f64>() as f32;
            }
        }
        Tensor::from_vec(out, &[m, n])
    }
}

#[track_caller]
fn oriented(t: &Tensor, tr: Transpose) -> (usize, usize) {
    let (r, c) = t.dims2("matmul");
    match tr {
        Transpose::No => (r, c),
        Transpose::Yes => (c, r),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tensor::Tensor;

    fn transposed(t: &Tensor) -> Tensor {
        let (r, c) = t.dims2("t");
        let mut out = vec![0.0; r * c];
        for i in 0..r {
            for j in 0..c {
                out[j * r + i] = t.data()[i * c + j];
            }
        }
        Tensor::from_vec(out, &[c, r])
    }

    #[test]
    fn gemm_matches_naive_in_all_orientations_and_sizes() {
        let mut rng = crate::rng::Rng::seed(3);
        for &(m, k, n) in &[(1, 1, 1), (3, 5, 7), (17, 33, 9), (128, 100, 70), (1, 784, 512), (70, 70, 70)] {
            let a = rng.normal_tensor(&[m, k], 1.0);
            let b = rng.normal_tensor(&[k, n], 1.0);
            let want = a.matmul_naive(&b);
            let at = transposed(&a);
            let bt = transposed(&b);
            for (x, ta, y, tb) in [
                (&a, Transpose::No, &b, Transpose::No),
                (&at, Transpose::Yes, &b, Transpose::No),
                (&a, Transpose::No, &bt, Transpose::Yes),
                (&at, Transpose::Yes, &bt, Transpose::Yes),
            ] {
                let got = x.matmul_t(ta, y, tb);
                assert_eq!(got.shape(), &[m, n]);
                for (g, w) in got.data().iter().zip(want.data()) {
                    assert!((g - w).abs() <= 1e-4 * (1.0 + w.abs()), "({m},{k},{n}) {ta:?} {tb:?}: {g} vs {w}");
                }
            }
        }
    }

    #[test]
    fn accumulate_adds_to_c() {
        let a = Tensor::from_vec(vec![1.0, 2.0], &[1, 2]);
        let b = Tensor::from_vec(vec![3.0, 4.0], &[2, 1]);
        let mut c = vec![10.0];
        gemm_into(1, 1, 2, a.data(), Transpose::No, b.data(), Transpose::No, &mut c, true);
        assert_eq!(c, vec![21.0]);
    }

    #[test]
    #[should_panic(expected = "matmul: inner dimensions differ: [2, 3] · [2, 3]")]
    fn shape_mismatch_names_both_shapes() {
        let a = Tensor::zeros(&[2, 3]);
        let _ = a.matmul(&a);
    }
}
