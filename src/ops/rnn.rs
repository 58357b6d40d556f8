//! The lecture's recurrent layer (Elman) over T time steps as one op, with backpropagation
//! through time written out in its backward, as for the LSTM (`lstm.rs`):
//!   a_t = x_t·W + h_{t−1}·U + b,   h_t = tanh(a_t),   h_0 = 0.
//! Backward, from t = T down to 1, with δh the gradient reaching h_t from the output and from
//! step t+1:
//!   ∂E/∂a_t = δh⊙(1 − h_t²),   δh ← ∂E/∂a_t·Uᵀ for step t−1.
//! Every weight gradient is then one GEMM over all steps: ∂E/∂W = Σ_t x_tᵀ·∂E/∂a_t,
//! ∂E/∂U = Σ_t h_{t−1}ᵀ·∂E/∂a_t, ∂E/∂b the column sums, ∂E/∂x_t = ∂E/∂a_t·Wᵀ.

use super::activation::tanh_rational;
use super::lstm::{rows, swap_leading_axes};
use crate::autodiff::Var;
use crate::tensor::team;
use crate::tensor::{Tensor, Transpose, gemm_into};

/// Rows of a step below which its elementwise work stays on one thread.
const ROWS_PER_PART: usize = 64;

impl Var {
    /// The Elman recurrence over an input `self` of shape m × T × F with W = `w` (F × H),
    /// U = `u` (H × H) and b = `b` (H). Returns h_T (m × H), or with `sequence` every h_t
    /// (m × T × H).
    #[track_caller]
    pub fn rnn(&self, w: &Var, u: &Var, b: &Var, sequence: bool) -> Var {
        let s = self.shape();
        assert!(s.len() == 3, "rnn: input shape {s:?}, want m × T × F");
        let (m, steps, f) = (s[0], s[1], s[2]);
        let (f2, h) = w.value().dims2("rnn");
        assert!(
            f2 == f && u.shape() == [h, h] && b.value().numel() == h,
            "rnn: input {s:?}, W {:?}, U {:?} and b {:?} do not fit (want m×T×F, F×H, H×H, H)",
            w.shape(),
            u.shape(),
            b.shape()
        );
        assert!(steps > 0, "rnn: input {s:?} has no time steps");
        let xt = swap_leading_axes(self.value().data(), m, steps, f);
        let hs = forward(m, steps, f, h, &xt, [w, u, b].map(|v| v.value().data()));
        let out = if sequence {
            Tensor::from_vec(swap_leading_axes(&hs, steps, m, h), &[m, steps, h])
        } else {
            Tensor::from_vec(hs[(steps - 1) * m * h..].to_vec(), &[m, h])
        };
        Var::from_op(
            out,
            vec![self.clone(), w.clone(), u.clone(), b.clone()],
            Box::new(move |delta, p| {
                let tm = steps * m;
                // ∂E/∂h_t from the output, time-major; turned into ∂E/∂a_t in place
                let mut da = if sequence {
                    swap_leading_axes(delta.data(), m, steps, h)
                } else {
                    let mut last_only = vec![0.0; tm * h];
                    last_only[(steps - 1) * m * h..].copy_from_slice(delta.data());
                    last_only
                };
                backward(m, steps, h, &hs, &mut da, p[2].value().data());
                let w = p[1].value().data();
                let dx = p[0].requires_grad().then(|| {
                    let mut dxt = vec![0.0; tm * f];
                    gemm_into(tm, f, h, &da, Transpose::No, w, Transpose::Yes, &mut dxt, false);
                    Tensor::from_vec(swap_leading_axes(&dxt, steps, m, f), &[m, steps, f])
                });
                let dw = p[1].requires_grad().then(|| {
                    let mut dw = vec![0.0; f * h];
                    gemm_into(f, h, tm, &xt, Transpose::Yes, &da, Transpose::No, &mut dw, false);
                    Tensor::from_vec(dw, &[f, h])
                });
                let du = p[2].requires_grad().then(|| {
                    // h_0 = 0: steps 2..T only, h_{t−1} against ∂E/∂a_t
                    let mut du = vec![0.0; h * h];
                    let (prev, later) = (&hs[..(steps - 1) * m * h], &da[m * h..]);
                    gemm_into(h, h, (steps - 1) * m, prev, Transpose::Yes, later, Transpose::No, &mut du, false);
                    Tensor::from_vec(du, &[h, h])
                });
                let db = p[3].requires_grad().then(|| Tensor::from_vec(da, &[tm, h]).sum_rows().reshape(p[3].shape()));
                vec![dx, dw, du, db]
            }),
        )
    }
}

/// The recurrence: every h_t, time-major (T × m × H), from the input time-major (T × m × F).
fn forward(m: usize, steps: usize, f: usize, h: usize, xt: &[f32], [w, u, b]: [&[f32]; 3]) -> Vec<f32> {
    let tm = steps * m;
    // x_t·W + 1·b for every step in one GEMM, starting from the bias rows
    let mut hs = Vec::with_capacity(tm * h);
    for _ in 0..tm {
        hs.extend_from_slice(b);
    }
    gemm_into(tm, h, f, xt, Transpose::No, w, Transpose::No, &mut hs, true);
    let block = team::block_len(m, ROWS_PER_PART);
    for t in 0..steps {
        let (done, now) = hs.split_at_mut(t * m * h);
        let a_t = &mut now[..m * h];
        if t > 0 {
            gemm_into(m, h, h, &done[(t - 1) * m * h..], Transpose::No, u, Transpose::No, a_t, true);
        }
        team::for_each(a_t.chunks_mut(block * h).collect(), |a| a.iter_mut().for_each(|v| *v = tanh_rational(*v)));
    }
    hs
}

/// Backpropagation through time: turns ∂E/∂h_t of the output (`da`, T × m × H) into ∂E/∂a_t.
fn backward(m: usize, steps: usize, h: usize, hs: &[f32], da: &mut [f32], u: &[f32]) {
    let block = team::block_len(m, ROWS_PER_PART);
    for t in (0..steps).rev() {
        let (earlier, now) = da.split_at_mut(t * m * h);
        let da_t = &mut now[..m * h];
        let h_t = rows(hs, t * m, (t + 1) * m, h);
        let parts: Vec<_> = da_t.chunks_mut(block * h).zip(h_t.chunks(block * h)).collect();
        team::for_each(parts, |(d, h_t)| d.iter_mut().zip(h_t).for_each(|(d, y)| *d *= 1.0 - y * y));
        if t > 0 {
            // δh_{t−1} += ∂E/∂a_t·Uᵀ, beside what the output sent to h_{t−1}
            let before = &mut earlier[(t - 1) * m * h..];
            gemm_into(m, h, h, da_t, Transpose::No, u, Transpose::Yes, before, true);
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::Var;
    use crate::ops::testing::{assert_same_as_composed, check, randn};

    /// The recurrence by its definition, unrolled into the graph step by step.
    fn unroll(x: &Var, w: &Var, u: &Var, b: &Var, sequence: bool) -> Var {
        let (m, steps, f) = (x.shape()[0], x.shape()[1], x.shape()[2]);
        let mut states: Vec<Var> = Vec::new();
        for t in 0..steps {
            let mut pre = x.slice(1, t..t + 1).reshape(&[m, f]).affine(w, b);
            if let Some(h) = states.last() {
                pre = pre.add(&h.matmul(u));
            }
            states.push(pre.tanh());
        }
        if !sequence {
            return states.pop().expect("a step");
        }
        let stacked: Vec<Var> = states.iter().map(|h| h.reshape(&[m, 1, h.shape()[1]])).collect();
        Var::concat(&stacked, 1)
    }

    /// Gradient check through time: input, W, U and b, every step's state.
    #[test]
    fn rnn_passes_gradient_check_through_time() {
        let xs = randn(3, &[&[2, 4, 3], &[3, 5], &[5, 5], &[5]]);
        for sequence in [false, true] {
            check(&xs, |v| v[0].rnn(&v[1], &v[2], &v[3], sequence));
        }
    }

    #[test]
    fn rnn_op_equals_the_unrolled_recurrence_in_values_and_gradients() {
        // 150 rows: three parts of a step on two threads, the last one short
        let xs = randn(5, &[&[150, 4, 3], &[3, 6], &[6, 6], &[6]]);
        for sequence in [false, true] {
            let fused = |v: &[Var]| v[0].rnn(&v[1], &v[2], &v[3], sequence);
            let definition = |v: &[Var]| unroll(&v[0], &v[1], &v[2], &v[3], sequence);
            assert_same_as_composed(
                &xs,
                &["x", "W", "U", "b"],
                fused,
                definition,
                &format!("rnn (sequence {sequence})"),
            );
        }
    }
}
