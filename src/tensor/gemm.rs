//! Matrix multiplication through the `gemm-f32` crate (SIMD micro-kernels, AVX-512 where the CPU has
//! it, chosen at run time). Transposed operands cost nothing: they are passed as strides.
//! A naive triple loop stays beside it as the test oracle.

use super::Tensor;
use super::team;
use gemm_common::Parallelism;

/// Whether an operand of [`gemm_into`] is read as stored or transposed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transpose {
    /// Use the matrix as stored.
    No,
    /// Use its transpose.
    Yes,
}

/// Below this many multiply-adds a second thread costs more than it saves. The spinning team
/// (team.rs) hands a part over in about a microsecond, so two threads already win at 0.26M
/// multiply-adds (BENCHMARKS.md has the measurement).
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
    assert!(c.len() >= m * n, "gemm_into: C holds {} values, needs {m}×{n}", c.len());
    if k == 0 {
        if !accumulate {
            c[..m * n].fill(0.0);
        }
        return;
    }
    // SAFETY: `c` is valid for m·n writes (checked above) and, being borrowed mutably, aliases
    // neither input.
    unsafe { gemm_ptr(m, n, k, a, ta, b, tb, c.as_mut_ptr(), accumulate) }
}

/// [`gemm_into`] writing through a raw pointer, so that C may be uninitialised memory when
/// `accumulate` is false (C is then only written, never read).
///
/// # Safety
/// `c` must be valid for m·n writes (and reads when `accumulate`) and must not overlap `a` or `b`.
#[allow(clippy::too_many_arguments)]
unsafe fn gemm_ptr(
    m: usize,
    n: usize,
    k: usize,
    a: &[f32],
    ta: Transpose,
    b: &[f32],
    tb: Transpose,
    c: *mut f32,
    accumulate: bool,
) {
    assert!(a.len() >= m * k && b.len() >= k * n, "gemm_into: A or B holds too few values");
    if m == 0 || n == 0 || k == 0 {
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
    let threads = rayon::current_num_threads();
    // inside a part every thread is busy already: one call packs each operand once, where the
    // blocks below, run in turn, would pack B (say an LSTM's U, every step) once per block
    if threads < 2 || m * n * k < PARALLEL_MIN_MACS || team::in_part() {
        // SAFETY: the asserts above and the caller keep every index the strides reach inside the buffers
        unsafe { gemm_block(m, n, k, a.as_ptr(), (a_rs, a_cs), b.as_ptr(), (b_rs, b_cs), c, n, accumulate) };
        return;
    }
    // The gemm crate's own threading barely helps at deep-learning shapes (m = 128): split the
    // larger output dimension into one contiguous block per thread and run single-threaded GEMMs.
    // Each output element is still one uninterrupted sum over k, so results match one thread's.
    let split_rows = m >= n;
    let len = if split_rows { m } else { n };
    let align = if split_rows { 8 } else { 16 };
    let block = len.div_ceil(threads).next_multiple_of(align);
    let (a_ptr, b_ptr, c_ptr) = (Disjoint(a.as_ptr() as *mut f32), Disjoint(b.as_ptr() as *mut f32), Disjoint(c));
    let part = |i: usize| {
        let start = i * block;
        let size = block.min(len - start);
        // SAFETY: the blocks are disjoint parts of `c`, and every offset stays inside the
        // buffers checked above.
        unsafe {
            if split_rows {
                let a0 = a_ptr.offset(start as isize * a_rs);
                let c0 = c_ptr.offset((start * n) as isize);
                gemm_block(size, n, k, a0, (a_rs, a_cs), b_ptr.offset(0), (b_rs, b_cs), c0, n, accumulate);
            } else {
                let b0 = b_ptr.offset(start as isize * b_cs);
                let c0 = c_ptr.offset(start as isize);
                gemm_block(m, size, k, a_ptr.offset(0), (a_rs, a_cs), b0, (b_rs, b_cs), c0, n, accumulate);
            }
        }
    };
    team::run(len.div_ceil(block), &part);
}

/// A pointer into a buffer whose disjoint blocks are written by different threads of one
/// [`team::run`].
#[derive(Clone, Copy)]
struct Disjoint(*mut f32);
// SAFETY: shared only within one `run` (or rayon scope), whose parts touch disjoint elements.
unsafe impl Send for Disjoint {}
unsafe impl Sync for Disjoint {}

impl Disjoint {
    /// The pointer `count` elements further on (a method, so that closures capture the whole
    /// `Disjoint` and not its raw field).
    ///
    /// # Safety
    /// As for [`pointer::offset`]: the result must stay inside the buffer.
    unsafe fn offset(self, count: isize) -> *mut f32 {
        // SAFETY: the caller keeps the result inside the buffer
        unsafe { self.0.offset(count) }
    }
}

/// One single-threaded GEMM on raw parts: C (m×n, row stride `ldc`) = or += A·B, with A and B
/// given by (row stride, column stride).
///
/// The `gemm-f32` kernels prefer a column-major destination, so a row-major C is computed as
/// Cᵀ = Bᵀ·Aᵀ (the swap that the `gemm` umbrella crate makes before it dispatches on the type).
#[allow(clippy::too_many_arguments)]
unsafe fn gemm_block(
    m: usize,
    n: usize,
    k: usize,
    a: *const f32,
    (a_rs, a_cs): (isize, isize),
    b: *const f32,
    (b_rs, b_cs): (isize, isize),
    c: *mut f32,
    ldc: usize,
    accumulate: bool,
) {
    let kernel = gemm_f32::gemm::f32::get_gemm_fn();
    let (alpha, beta) = (1.0, 1.0); // alpha scales the old C, beta the product
    let (conj_dst, conj_lhs, conj_rhs) = (false, false, false);
    // SAFETY: the caller guarantees the extents.
    unsafe {
        if ldc > 1 {
            #[rustfmt::skip]
            kernel(n, m, k, c, ldc as isize, 1, accumulate, b, b_rs, b_cs, a, a_rs, a_cs,
                alpha, beta, conj_dst, conj_lhs, conj_rhs, Parallelism::None);
        } else {
            #[rustfmt::skip]
            kernel(m, n, k, c, 1, ldc as isize, accumulate, a, a_cs, a_rs, b, b_cs, b_rs,
                alpha, beta, conj_dst, conj_lhs, conj_rhs, Parallelism::None);
        }
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
            k,
            k2,
            "matmul: inner dimensions differ: {:?}{} · {:?}{}",
            self.shape,
            if ta == Transpose::Yes { "ᵀ" } else { "" },
            rhs.shape,
            if tb == Transpose::Yes { "ᵀ" } else { "" },
        );
        if k == 0 {
            return Tensor::zeros(&[m, n]);
        }
        // Without accumulation the GEMM writes every element of C and reads none, so C need not
        // be zeroed first (that memset was 2% of an MLP epoch).
        let mut out: Vec<f32> = Vec::with_capacity(m * n);
        // SAFETY: the capacity holds m·n values and the new vector aliases nothing.
        unsafe {
            gemm_ptr(m, n, k, self.data(), ta, rhs.data(), tb, out.as_mut_ptr(), false);
            // every one of the m·n elements was written by the GEMM above
            out.set_len(m * n);
        }
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
        // from (128, 100, 70) on above PARALLEL_MIN_MACS: split by rows, by columns, by rows with few columns
        for &(m, k, n) in &[
            (1, 1, 1),
            (3, 5, 7),
            (17, 33, 9),
            (128, 100, 70),
            (1, 784, 512),
            (70, 70, 70),
            (784, 16, 512),
            (16, 784, 512),
            (300, 200, 100),
        ] {
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
