//! Softmax and log-softmax over the last axis (each row of an m×K matrix), computed after
//! subtracting the row maximum so that exp never overflows.
//!
//! Backward: softmax δ_in = y ⊙ (δ − Σ_k δ_k y_k); log-softmax δ_in = δ − softmax(u)·Σ_k δ_k.

use crate::autodiff::Var;
use crate::tensor::Tensor;

/// Row-wise softmax of an m×K tensor.
pub(crate) fn softmax_rows(u: &Tensor) -> Tensor {
    let k = *u.shape().last().expect("softmax of a scalar");
    let mut out = u.data().to_vec();
    for row in out.chunks_exact_mut(k) {
        let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let mut sum = 0.0;
        for x in row.iter_mut() {
            *x = (*x - max).exp();
            sum += *x;
        }
        let inv = 1.0 / sum;
        row.iter_mut().for_each(|x| *x *= inv);
    }
    Tensor::from_vec(out, u.shape())
}

/// Row-wise log-softmax of an m×K tensor: u − max − log Σ exp(u − max).
pub(crate) fn log_softmax_rows(u: &Tensor) -> Tensor {
    let k = *u.shape().last().expect("log_softmax of a scalar");
    let mut out = u.data().to_vec();
    for row in out.chunks_exact_mut(k) {
        let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let log_sum = row.iter().map(|&x| (x - max).exp()).sum::<f32>().ln();
        row.iter_mut().for_each(|x| *x -= max + log_sum);
    }
    Tensor::from_vec(out, u.shape())
}

impl Var {
    /// Softmax over the last axis: z_k = e^(u_k) / Σ_j e^(u_j).
    pub fn softmax(&self) -> Var {
        let y = softmax_rows(self.value());
        let saved = y.clone();
        Var::from_op(
            y,
            vec![self.clone()],
            Box::new(move |g, _| {
                let k = *g.shape().last().unwrap_or(&1);
                let mut out = Vec::with_capacity(g.numel());
                for (gr, yr) in g.data().chunks_exact(k).zip(saved.data().chunks_exact(k)) {
                    let dot: f32 = gr.iter().zip(yr).map(|(a, b)| a * b).sum();
                    out.extend(gr.iter().zip(yr).map(|(&d, &y)| y * (d - dot)));
                }
                vec![Some(Tensor::from_vec(out, g.shape()))]
            }),
        )
    }

    /// Log-softmax over the last axis: log z_k, computed stably.
    pub fn log_softmax(&self) -> Var {
        let y = log_softmax_rows(self.value());
        let saved = y.clone();
        Var::from_op(
            y,
            vec![self.clone()],
            Box::new(move |g, _| {
                let k = *g.shape().last().unwrap_or(&1);
                let mut out = Vec::with_capacity(g.numel());
                for (gr, yr) in g.data().chunks_exact(k).zip(saved.data().chunks_exact(k)) {
                    let total: f32 = gr.iter().sum();
                    out.extend(gr.iter().zip(yr).map(|(&d, &ly)| d - ly.exp() * total));
                }
                vec![Some(Tensor::from_vec(out, g.shape()))]
            }),
        )
    }
}

#[cfg(test)]
mod tests {
    use crate::ops::testing::{check, randn};

    #[test]
    fn softmax_and_log_softmax_pass_gradient_checks() {
        let xs = randn(10, &[&[3, 5]]);
        check(&xs, |v| v[0].softmax());
        check(&xs, |v| v[0].log_softmax());
        let big = vec![xs[0].scale(4.0)];
        check(&big, |v| v[0].log_softmax());
    }

    #[test]
    fn softmax_rows_sum_to_one_even_for_huge_inputs() {
        let u = crate::Tensor::from_vec(vec![1000.0, 1001.0, -1000.0, 0.0], &[2, 2]);
        let z = super::softmax_rows(&u);
        assert!((z.data()[0] + z.data()[1] - 1.0).abs() < 1e-6);
        assert!(z.data().iter().all(|x| x.is_finite()));
        let lz = super::log_softmax_rows(&u);
        assert!(lz.data().iter().all(|x| x.is_finite()));
    }
}
