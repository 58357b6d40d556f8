//! The lecture's recurrent layer (Elman) over T time steps as one op, with backpropagation
//! through time written out in its backward, as for the LSTM (`lstm.rs`):
//!   a_t = x_t·W + h_{t−1}·U + b,   h_t = tanh(a_t),   h_0 = 0 unless given ([`Var::rnn_from`]).
//! Backward, from t = T down to 1, with δh the gradient reaching h_t from the output and from
//! step t+1:
//!   ∂E/∂a_t = δh⊙(1 − h_t²),   δh ← ∂E/∂a_t·Uᵀ for step t−1.
//! Every weight gradient is then one GEMM over all steps: ∂E/∂W = Σ_t x_tᵀ·∂E/∂a_t,
//! ∂E/∂U = Σ_t h_{t−1}ᵀ·∂E/∂a_t, ∂E/∂b the column sums, ∂E/∂x_t = ∂E/∂a_t·Wᵀ.

use super::activation::tanh_rational;
use super::recurrent::{
    Lengths, bias_gradient, blocks, blocks_mut, copy_row, input_gradient, output, output_gradient, swap_leading_axes,
    weight_gradient,
};
use crate::autodiff::Var;
use crate::tensor::packed::PackedB;
use crate::tensor::team;
use crate::tensor::{Tensor, Transpose, gemm_into};

/// Rows below which a block of the batch is not split further across threads.
const ROWS_PER_PART: usize = 32;

impl Var {
    /// The Elman recurrence over an input `self` of shape m × T × F with W = `w` (F × H),
    /// U = `u` (H × H) and b = `b` (H). Returns h_T (m × H), or with `sequence` every h_t
    /// (m × T × H).
    #[track_caller]
    pub fn rnn(&self, w: &Var, u: &Var, b: &Var, sequence: bool) -> Var {
        self.rnn_over([w, u, b], sequence, None, None).0
    }

    /// [`Var::rnn`] over rows of different lengths (`lengths[r]` ≤ T steps of row r; the rest is
    /// padding): past its end a row keeps h as it was, so h_T is its state after its last step
    /// (with `sequence`, the states past the end repeat it), and the padding steps send no
    /// gradient anywhere.
    #[track_caller]
    pub fn rnn_masked(&self, w: &Var, u: &Var, b: &Var, sequence: bool, lengths: &[usize]) -> Var {
        self.rnn_over([w, u, b], sequence, Some(lengths), None).0
    }

    /// [`Var::rnn`] (or [`Var::rnn_masked`] with `lengths`) from the initial state h_0 (m × H),
    /// which gets its gradient like any input. Also returns each row's final state (after its
    /// last step), detached, for the next chunk of truncated BPTT.
    #[track_caller]
    pub fn rnn_from(&self, weights: [&Var; 3], sequence: bool, lengths: Option<&[usize]>, h0: &Var) -> (Var, Tensor) {
        self.rnn_over(weights, sequence, lengths, Some(h0))
    }

    #[track_caller]
    fn rnn_over(
        &self,
        [w, u, b]: [&Var; 3],
        sequence: bool,
        lengths: Option<&[usize]>,
        h0: Option<&Var>,
    ) -> (Var, Tensor) {
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
        if let Some(h0) = h0 {
            assert!(
                h0.shape() == [m, h],
                "rnn: initial state h_0 {:?} for input {s:?} and H = {h} (want m × H)",
                h0.shape()
            );
        }
        let lengths = lengths.map_or_else(Lengths::full, |l| Lengths::of_rows("rnn", l, m, steps));
        let xt = swap_leading_axes(self.value().data(), m, steps, f);
        let h0_value = h0.map(|h0| h0.value().clone());
        let weights = [w, u, b].map(|v| v.value().data());
        let hs = forward(m, steps, h, &lengths, &xt, weights, h0_value.as_ref().map(Tensor::data));
        let out = output(&hs, m, steps, h, sequence);
        let state = Tensor::from_vec(hs[(steps - 1) * m * h..].to_vec(), &[m, h]);
        let mut parents = vec![self.clone(), w.clone(), u.clone(), b.clone()];
        parents.extend(h0.cloned());
        let out = Var::from_op(
            out,
            parents,
            Box::new(move |delta, p| {
                let tm = steps * m;
                let h0 = h0_value.as_ref().map(Tensor::data);
                // ∂E/∂h_t from the output, time-major; turned into ∂E/∂a_t in place
                let mut da = output_gradient(delta, m, steps, h, sequence);
                let dh0 = backward(m, h, &lengths, &hs, &mut da, p[2].value().data(), h0.is_some());
                let dx = p[0].requires_grad().then(|| input_gradient(&da, p[1].value().data(), m, steps, f));
                let dw = p[1].requires_grad().then(|| weight_gradient(&xt, &da, f, h));
                let du = p[2].requires_grad().then(|| match h0 {
                    Some(h0) => weight_gradient(&[h0, &hs[..(tm - m) * h]].concat(), &da, h, h),
                    // h_0 = 0: steps 2..T only, h_{t−1} against ∂E/∂a_t
                    None => weight_gradient(&hs[..(tm - m) * h], &da[m * h..], h, h),
                });
                let db = p[3].requires_grad().then(|| bias_gradient(da, h, p[3].shape()));
                let mut grads = vec![dx, dw, du, db];
                grads.extend(dh0.map(|d| Some(Tensor::from_vec(d, &[m, h]))));
                grads
            }),
        );
        (out, state)
    }
}

/// The recurrence: every h_t, time-major (T × m × H), from the input time-major (T × m × F) and
/// `h0` when it is not zero.
fn forward(
    m: usize,
    steps: usize,
    h: usize,
    lengths: &Lengths,
    xt: &[f32],
    [w, u, b]: [&[f32]; 3],
    h0: Option<&[f32]>,
) -> Vec<f32> {
    let tm = steps * m;
    // x_t·W + 1·b for every step in one GEMM, starting from the bias rows
    let mut hs = Vec::with_capacity(tm * h);
    for _ in 0..tm {
        hs.extend_from_slice(b);
    }
    gemm_into(tm, h, xt.len() / tm, xt, Transpose::No, w, Transpose::No, &mut hs, true);
    // U packed once for every step of every block
    let u = PackedB::new(u, h, h, Transpose::No);
    let block = team::block_len(m, ROWS_PER_PART);
    let parts = blocks_mut(&mut hs, m, h, block).into_iter().zip(blocks(h0.unwrap_or(&[]), m, h, block));
    team::for_each(parts.enumerate().collect(), |(k, (mut hs, h0))| {
        // one block of rows through every step
        let rows = hs[0].len() / h;
        let h_0 = h0.first().map_or_else(|| vec![0.0; rows * h], |h0| h0.to_vec());
        for t in 0..steps {
            let (done, now) = hs.split_at_mut(t);
            if t > 0 {
                u.mul_into(rows, done[t - 1], now[0], true);
            } else if !h0.is_empty() {
                u.mul_into(rows, &h_0, now[0], true);
            }
            now[0].iter_mut().for_each(|v| *v = tanh_rational(*v));
            for j in lengths.ended(k * block, rows, t) {
                copy_row(now[0], if t > 0 { &*done[t - 1] } else { &h_0 }, j, h);
            }
        }
    });
    hs
}

/// Backpropagation through time: turns ∂E/∂h_t of the output (`da`, T × m × H) into ∂E/∂a_t;
/// returns ∂E/∂h_0 when the initial state was `given`.
fn backward(
    m: usize,
    h: usize,
    lengths: &Lengths,
    hs: &[f32],
    da: &mut [f32],
    u: &[f32],
    given: bool,
) -> Option<Vec<f32>> {
    // Uᵀ packed once for every step of every block
    let u_t = PackedB::new(u, h, h, Transpose::Yes);
    let block = team::block_len(m, ROWS_PER_PART);
    let mut dh0 = if given { vec![0.0; m * h] } else { Vec::new() };
    let parts: Vec<_> = blocks_mut(da, m, h, block)
        .into_iter()
        .zip(blocks(hs, m, h, block).into_iter().zip(blocks_mut(&mut dh0, m, h, block)))
        .enumerate()
        .collect();
    team::for_each(parts, |(k, (mut da, (hs, mut dh0)))| {
        // one block of rows through every step, backwards
        let rows = hs[0].len() / h;
        for t in (0..hs.len()).rev() {
            let (earlier, now) = da.split_at_mut(t);
            // a row whose sequence has ended is the identity here: its δh reaches step t−1 whole
            let ended = lengths.ended(k * block, rows, t);
            let through: Vec<Vec<f32>> = ended.iter().map(|&j| now[0][j * h..(j + 1) * h].to_vec()).collect();
            now[0].iter_mut().zip(hs[t]).for_each(|(d, y)| *d *= 1.0 - y * y);
            ended.iter().for_each(|&j| now[0][j * h..(j + 1) * h].fill(0.0));
            if t > 0 {
                // δh_{t−1} += ∂E/∂a_t·Uᵀ, beside what the output sent to h_{t−1}
                u_t.mul_into(rows, now[0], earlier[t - 1], true);
                for (&j, dh_j) in ended.iter().zip(&through) {
                    earlier[t - 1][j * h..(j + 1) * h].iter_mut().zip(dh_j).for_each(|(d, g)| *d += g);
                }
            } else if let Some(dh0) = dh0.first_mut() {
                // ∂E/∂h_0 = ∂E/∂a_1·Uᵀ (a row with no steps passes its δh through whole)
                u_t.mul_into(rows, now[0], dh0, false);
                for (&j, dh_j) in ended.iter().zip(&through) {
                    dh0[j * h..(j + 1) * h].iter_mut().zip(dh_j).for_each(|(d, g)| *d += g);
                }
            }
        }
    });
    given.then_some(dh0)
}

#[cfg(test)]
mod tests {
    use crate::Var;
    use crate::ops::recurrent::testing::assert_masked_equals_rows_alone;
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
    fn rnn_from_a_given_state_passes_gradient_check_for_the_state_too() {
        let xs = randn(7, &[&[3, 3, 2], &[2, 4], &[4, 4], &[4], &[3, 4]]);
        for (sequence, lengths) in [(false, None), (true, None), (true, Some(&[3, 1, 0][..]))] {
            check(&xs, |v| v[0].rnn_from([&v[1], &v[2], &v[3]], sequence, lengths, &v[4]).0);
        }
    }

    /// Two chunks, the second started from the first's final state, give the whole sequence's.
    #[test]
    fn chunks_carrying_the_state_equal_the_whole_sequence() {
        let xs = randn(8, &[&[75, 6, 3], &[3, 5], &[5, 5], &[5]]);
        let v: Vec<Var> = xs.iter().map(|t| Var::constant(t.clone())).collect();
        let weights = [&v[1], &v[2], &v[3]];
        let whole = v[0].rnn(&v[1], &v[2], &v[3], true);
        let zero = Var::constant(crate::Tensor::zeros(&[75, 5]));
        let (first, h) = v[0].slice(1, 0..4).rnn_from(weights, true, None, &zero);
        let (second, _) = v[0].slice(1, 4..6).rnn_from(weights, true, None, &Var::constant(h));
        let chunked = Var::concat(&[first, second], 1);
        for (a, b) in chunked.value().data().iter().zip(whole.value().data()) {
            assert!((a - b).abs() < 1e-6, "{a} vs {b}");
        }
    }

    #[test]
    fn rnn_op_equals_the_unrolled_recurrence_in_values_and_gradients() {
        // 75 rows: two blocks of rows on two threads, the second one short
        let xs = randn(5, &[&[75, 4, 3], &[3, 6], &[6, 6], &[6]]);
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

    #[test]
    fn rnn_masked_passes_gradient_check_through_time() {
        // rows of 3 steps, 1 step and none out of 4
        let xs = randn(6, &[&[3, 4, 2], &[2, 5], &[5, 5], &[5]]);
        for sequence in [false, true] {
            check(&xs, |v| v[0].rnn_masked(&v[1], &v[2], &v[3], sequence, &[3, 1, 0]));
        }
    }

    #[test]
    fn rnn_masked_gives_each_row_what_it_gets_alone_at_its_length() {
        let xs = randn(7, &[&[6, 5, 3], &[3, 4], &[4, 4], &[4]]);
        assert_masked_equals_rows_alone(
            &xs,
            &[5, 1, 3, 0, 5, 2],
            |v, lengths| v[0].rnn_masked(&v[1], &v[2], &v[3], false, lengths),
            |v| v[0].rnn(&v[1], &v[2], &v[3], false),
            "rnn",
        );
    }
}
