//! Matrix products: `matmul`, and `affine` — the lecture's U = Y·W + 1·b fused into one GEMM that
//! starts from the bias rows, so that the bias costs no extra pass over U.
//!
//! Backward (δ = ∂E/∂U, shapes: Y m×k, W k×n, δ m×n):
//!   ∂E/∂Y = δ·Wᵀ (m×n · n×k),  ∂E/∂W = Yᵀ·δ (k×m · m×n),  ∂E/∂b = 1ᵀ·δ (the column sums of δ).
//! Transposes are GEMM strides, never copies.

use crate::autodiff::Var;
use crate::tensor::{Tensor, Transpose, gemm_into};

impl Var {
    /// The matrix product of two 2-D values.
    #[track_caller]
    pub fn matmul(&self, rhs: &Var) -> Var {
        let value = self.value().matmul(rhs.value());
        Var::from_op(
            value,
            vec![self.clone(), rhs.clone()],
            Box::new(|g, p| {
                let (a, b) = (p[0].value(), p[1].value());
                vec![
                    p[0].requires_grad().then(|| g.matmul_t(Transpose::No, b, Transpose::Yes)),
                    p[1].requires_grad().then(|| a.matmul_t(Transpose::Yes, g, Transpose::No)),
                ]
            }),
        )
    }

    /// `self·w + 1·b`: an m×k input, a k×n weight and an n-vector bias (shape `[n]` or `[1, n]`).
    #[track_caller]
    pub fn affine(&self, w: &Var, b: &Var) -> Var {
        let (m, k) = self.value().dims2("affine");
        let (k2, n) = w.value().dims2("affine");
        assert!(
            k == k2 && b.value().numel() == n && b.value().ndim() <= 2,
            "affine: input {:?}, weight {:?} and bias {:?} do not fit (want m×k, k×n and n)",
            self.shape(),
            w.shape(),
            b.shape()
        );
        let mut out = Vec::with_capacity(m * n);
        for _ in 0..m {
            out.extend_from_slice(b.value().data());
        }
        gemm_into(m, n, k, self.value().data(), Transpose::No, w.value().data(), Transpose::No, &mut out, true);
        Var::from_op(
            Tensor::from_vec(out, &[m, n]),
            vec![self.clone(), w.clone(), b.clone()],
            Box::new(|delta, p| {
                let (y, w) = (p[0].value(), p[1].value());
                vec![
                    p[0].requires_grad().then(|| delta.matmul_t(Transpose::No, w, Transpose::Yes)),
                    p[1].requires_grad().then(|| y.matmul_t(Transpose::Yes, delta, Transpose::No)),
                    p[2].requires_grad().then(|| delta.sum_rows().reshape(p[2].shape())),
                ]
            }),
        )
    }
}

#[cfg(test)]
mod tests {
    use crate::ops::testing::{check, randn};

    #[test]
    fn matmul_passes_gradient_check() {
        for (m, k, n) in [(1, 1, 1), (3, 4, 5), (7, 2, 3)] {
            let xs = randn(4, &[&[m, k], &[k, n]]);
            check(&xs, |v| v[0].matmul(&v[1]));
        }
    }

    #[test]
    fn affine_passes_gradient_check_and_equals_matmul_plus_bias() {
        for bias_shape in [&[5][..], &[1, 5][..]] {
            let xs = randn(5, &[&[3, 4], &[4, 5], bias_shape]);
            check(&xs, |v| v[0].affine(&v[1], &v[2]));
            let v: Vec<_> = xs.iter().cloned().map(crate::Var::constant).collect();
            let fused = v[0].affine(&v[1], &v[2]);
            let plain = v[0].matmul(&v[1]).add(&v[2]);
            for (a, b) in fused.value().data().iter().zip(plain.value().data()) {
                assert!((a - b).abs() < 1e-5);
            }
        }
    }
}
