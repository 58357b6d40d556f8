//! A whole GRU layer (Cho et al. 2014, in PyTorch's form) over T time steps as one op, with
//! backpropagation through time written out in its backward, as for the LSTM (`lstm.rs`). With
//! the input part x_t·W + b_x = [x_r, x_z, x_n] and the recurrent part h_{t−1}·U + b_h =
//! [h_r, h_z, h_n] (m × 3H each, blocks r, z, n):
//!   r = σ(x_r + h_r), z = σ(x_z + h_z), n = tanh(x_n + r⊙h_n),
//!   h_t = (1 − z)⊙n + z⊙h_{t−1},   h_0 = 0 unless given ([`Var::gru_from`]).
//! The reset gate scales h_n, bias included; that is why there are two biases (b_h's n block
//! sits inside r⊙·), and it is PyTorch's `nn.GRU`, so weights can be exchanged with it.
//! Backward, from t = T down to 1, with δh the gradient reaching h_t (from the output and from
//! step t+1):
//!   δn := ∂E/∂x_n = δh⊙(1 − z)⊙(1 − n²),   ∂E/∂h_n = δn⊙r,
//!   ∂E/∂x_r = ∂E/∂h_r = δn⊙h_n⊙r(1 − r),   ∂E/∂x_z = ∂E/∂h_z = δh⊙(h_{t−1} − n)⊙z(1 − z),
//!   δh ← δh⊙z + ∂E/∂[h_r, h_z, h_n]·Uᵀ for step t−1.
//! Every weight gradient is then one GEMM over all steps: ∂E/∂W = Σ_t x_tᵀ·∂E/∂x_·,
//! ∂E/∂U = Σ_t h_{t−1}ᵀ·∂E/∂h_·, the biases' are column sums, ∂E/∂x_t = ∂E/∂x_·Wᵀ.

use super::activation::{sigmoid, tanh_rational};
use super::recurrent::{
    Lengths, bias_gradient, blocks, blocks_mut, copy_row, input_gradient, output, output_gradient, swap_leading_axes,
    weight_gradient,
};
use crate::autodiff::Var;
use crate::tensor::packed::PackedB;
use crate::tensor::simd::simd_kernel;
use crate::tensor::team;
use crate::tensor::{Tensor, Transpose, gemm_into};

/// Rows below which a block of the batch is not split further across threads.
const ROWS_PER_PART: usize = 32;

impl Var {
    /// The GRU recurrence over an input `self` of shape m × T × F with W = `w` (F × 3H),
    /// U = `u` (H × 3H) and the biases `b_x`, `b_h` (3H each), gate blocks in the order r, z, n.
    /// Returns h_T (m × H), or with `sequence` every h_t (m × T × H).
    #[track_caller]
    pub fn gru(&self, w: &Var, u: &Var, b_x: &Var, b_h: &Var, sequence: bool) -> Var {
        self.gru_over([w, u, b_x, b_h], sequence, None, None).0
    }

    /// [`Var::gru`] over rows of different lengths (`lengths[r]` ≤ T steps of row r; the rest is
    /// padding): past its end a row keeps h as it was, so h_T is its state after its last step
    /// (with `sequence`, the states past the end repeat it), and the padding steps send no
    /// gradient anywhere.
    #[track_caller]
    pub fn gru_masked(&self, w: &Var, u: &Var, b_x: &Var, b_h: &Var, sequence: bool, lengths: &[usize]) -> Var {
        self.gru_over([w, u, b_x, b_h], sequence, Some(lengths), None).0
    }

    /// [`Var::gru`] (or [`Var::gru_masked`] with `lengths`) from the initial state h_0 (m × H),
    /// which gets its gradient like any input. Also returns each row's final state (after its
    /// last step), detached, for the next chunk of truncated BPTT.
    #[track_caller]
    pub fn gru_from(&self, weights: [&Var; 4], sequence: bool, lengths: Option<&[usize]>, h0: &Var) -> (Var, Tensor) {
        self.gru_over(weights, sequence, lengths, Some(h0))
    }

    #[track_caller]
    fn gru_over(
        &self,
        [w, u, b_x, b_h]: [&Var; 4],
        sequence: bool,
        lengths: Option<&[usize]>,
        h0: Option<&Var>,
    ) -> (Var, Tensor) {
        let s = self.shape();
        assert!(s.len() == 3, "gru: input shape {s:?}, want m × T × F");
        let (m, steps, f) = (s[0], s[1], s[2]);
        let (f2, h3) = w.value().dims2("gru");
        let h = h3 / 3;
        assert!(
            f2 == f && h3 % 3 == 0 && u.shape() == [h, h3] && b_x.value().numel() == h3 && b_h.value().numel() == h3,
            "gru: input {s:?}, W {:?}, U {:?}, b_x {:?} and b_h {:?} do not fit (want m×T×F, F×3H, H×3H, 3H, 3H)",
            w.shape(),
            u.shape(),
            b_x.shape(),
            b_h.shape()
        );
        assert!(steps > 0, "gru: input {s:?} has no time steps");
        if let Some(h0) = h0 {
            assert!(
                h0.shape() == [m, h],
                "gru: initial state h_0 {:?} for input {s:?} and H = {h} (want m × H)",
                h0.shape()
            );
        }
        let lengths = lengths.map_or_else(Lengths::full, |l| Lengths::of_rows("gru", l, m, steps));
        let dims = Dims { m, steps, h, lengths };
        let xt = swap_leading_axes(self.value().data(), m, steps, f);
        let h0_value = h0.map(|h0| h0.value().clone());
        let run = forward(&dims, &xt, [w, u, b_x, b_h].map(|v| v.value().data()), h0_value.as_ref().map(Tensor::data));
        let out = output(&run.h, m, steps, h, sequence);
        let state = Tensor::from_vec(run.h[(steps - 1) * m * h..].to_vec(), &[m, h]);
        let mut parents = vec![self.clone(), w.clone(), u.clone(), b_x.clone(), b_h.clone()];
        parents.extend(h0.cloned());
        let out = Var::from_op(
            out,
            parents,
            Box::new(move |delta, p| {
                let dh_out = output_gradient(delta, m, steps, h, sequence);
                let h0 = h0_value.as_ref().map(Tensor::data);
                let (dx_parts, dh_parts, dh0) = backward(&dims, &run, &dh_out, p[2].value().data(), h0);
                let tm = steps * m;
                let dx = p[0].requires_grad().then(|| input_gradient(&dx_parts, p[1].value().data(), m, steps, f));
                let dw = p[1].requires_grad().then(|| weight_gradient(&xt, &dx_parts, f, h3));
                let du = p[2].requires_grad().then(|| match h0 {
                    Some(h0) => weight_gradient(&[h0, &run.h[..(tm - m) * h]].concat(), &dh_parts, h, h3),
                    // h_0 = 0: steps 2..T only, h_{t−1} against ∂E/∂h_· of step t
                    None => weight_gradient(&run.h[..(tm - m) * h], &dh_parts[m * h3..], h, h3),
                });
                let db_x = p[3].requires_grad().then(|| bias_gradient(dx_parts, h3, p[3].shape()));
                let db_h = p[4].requires_grad().then(|| bias_gradient(dh_parts, h3, p[4].shape()));
                let mut grads = vec![dx, dw, du, db_x, db_h];
                grads.extend(dh0.map(|d| Some(Tensor::from_vec(d, &[m, h]))));
                grads
            }),
        );
        (out, state)
    }
}

/// m (batch), T (steps), H (units) and where each row's sequence ends.
struct Dims {
    m: usize,
    steps: usize,
    h: usize,
    lengths: Lengths,
}

/// What the forward pass keeps for backward, every buffer time-major (T × m × ·).
struct Run {
    /// The gates r, z, n after their activations (T × m × 3H).
    gates: Vec<f32>,
    /// h_n = h_{t−1}·U_n + b_hn, which r scales (T × m × H).
    h_n: Vec<f32>,
    /// h_t (T × m × H).
    h: Vec<f32>,
}

/// The recurrence. `xt` is the input time-major (T × m × F); `[w, u, b_x, b_h]` the weights;
/// `h0` the initial state when not zero.
fn forward(d: &Dims, xt: &[f32], [w, u, b_x, b_h]: [&[f32]; 4], h0: Option<&[f32]>) -> Run {
    let (m, h, h3) = (d.m, d.h, 3 * d.h);
    let tm = d.steps * m;
    // x_t·W + 1·b_x for every step in one GEMM, starting from the bias rows
    let mut gates = Vec::with_capacity(tm * h3);
    for _ in 0..tm {
        gates.extend_from_slice(b_x);
    }
    gemm_into(tm, h3, xt.len() / tm, xt, Transpose::No, w, Transpose::No, &mut gates, true);
    let (mut h_n, mut hs) = (vec![0.0; tm * h], vec![0.0; tm * h]);
    // U packed once for every step of every block
    let u = PackedB::new(u, h, h3, Transpose::No);
    let block = team::block_len(m, ROWS_PER_PART);
    let parts: Vec<_> = blocks_mut(&mut gates, m, h3, block)
        .into_iter()
        .zip(blocks_mut(&mut h_n, m, h, block).into_iter().zip(blocks_mut(&mut hs, m, h, block)))
        .zip(blocks(h0.unwrap_or(&[]), m, h, block))
        .collect();
    let given = h0.is_some();
    team::for_each(parts.into_iter().enumerate().collect(), |(k, ((a, (mut h_n, mut hs)), h0))| {
        // one block of rows through every step
        let rows = hs[0].len() / h;
        let h_0 = h0.first().map_or_else(|| vec![0.0; rows * h], |h0| h0.to_vec());
        let mut recurrent = vec![0.0; rows * h3];
        for (t, a_t) in a.into_iter().enumerate() {
            let (done, h_t) = hs.split_at_mut(t);
            let h_prev = if t > 0 { &*done[t - 1] } else { &h_0 };
            for row in recurrent.chunks_exact_mut(h3) {
                row.copy_from_slice(b_h);
            }
            if t > 0 || given {
                u.mul_into(rows, h_prev, &mut recurrent, true);
            }
            cell_forward(a_t, &recurrent, h_n[t], h_t[0], h_prev, h);
            for j in d.lengths.ended(k * block, rows, t) {
                copy_row(h_t[0], h_prev, j, h);
            }
        }
    });
    Run { gates, h_n, h: hs }
}

simd_kernel! {
    /// Rows of one step: turns the input parts `a` (rows of 3H) into the gates r, z, n in place
    /// and writes h_n and h_t (rows of H), from the recurrent parts `rec` (rows of 3H) and h_{t−1}.
    fn cell_forward(a: &mut [f32], rec: &[f32], h_n: &mut [f32], h_out: &mut [f32], h_prev: &[f32], h: usize) {
        let rows = a.chunks_exact_mut(3 * h).zip(rec.chunks_exact(3 * h));
        let outs = h_n.chunks_exact_mut(h).zip(h_out.chunks_exact_mut(h)).zip(h_prev.chunks_exact(h));
        for ((a, rec), ((h_n, h_out), h_prev)) in rows.zip(outs) {
            let (rz, n) = a.split_at_mut(2 * h);
            let (rec_rz, rec_n) = rec.split_at(2 * h);
            rz.iter_mut().zip(rec_rz).for_each(|(x, r)| *x = sigmoid(*x + r));
            let (r, z) = rz.split_at(h);
            let gates = r.iter().zip(z).zip(n.iter_mut().zip(rec_n));
            for (((r, z), (n, rec_n)), ((h_n, h_out), h_prev)) in
                gates.zip(h_n.iter_mut().zip(h_out.iter_mut()).zip(h_prev))
            {
                *h_n = *rec_n;
                *n = tanh_rational(*n + r * rec_n);
                *h_out = (1.0 - z) * *n + z * h_prev;
            }
        }
    }
}

/// The gradients of the input parts, of the recurrent parts and, if given, of h_0.
type Backward = (Vec<f32>, Vec<f32>, Option<Vec<f32>>);

/// Backpropagation through time: the gradients of the input parts and of the recurrent parts
/// for every step (T × m × 3H each), from ∂E/∂h_t of the output (`dh_out`, T × m × H); with a
/// given initial state `h0`, also ∂E/∂h_0 (m × H).
fn backward(d: &Dims, run: &Run, dh_out: &[f32], u: &[f32], h0: Option<&[f32]>) -> Backward {
    let (m, h, h3) = (d.m, d.h, 3 * d.h);
    let mut dx_parts = vec![0.0; d.steps * m * h3];
    let mut dh_parts = vec![0.0; d.steps * m * h3];
    let given = h0.is_some();
    let mut dh0 = if given { vec![0.0; m * h] } else { Vec::new() };
    // Uᵀ packed once for every step of every block
    let u_t = PackedB::new(u, h3, h, Transpose::Yes);
    let block = team::block_len(m, ROWS_PER_PART);
    let parts: Vec<_> = blocks_mut(&mut dx_parts, m, h3, block)
        .into_iter()
        .zip(blocks_mut(&mut dh_parts, m, h3, block))
        .zip(blocks(&run.gates, m, h3, block).into_iter().zip(blocks(&run.h_n, m, h, block)))
        .zip(blocks(&run.h, m, h, block).into_iter().zip(blocks(dh_out, m, h, block)))
        .zip(blocks(h0.unwrap_or(&[]), m, h, block).into_iter().zip(blocks_mut(&mut dh0, m, h, block)))
        .collect();
    team::for_each(
        parts.into_iter().enumerate().collect(),
        |(k, ((((mut dx, mut dh), (gates, h_n)), (hs, dh_out)), (h0, mut dh0)))| {
            // one block of rows through every step, backwards
            let rows = hs[0].len() / h;
            let mut dh_next = vec![0.0; rows * h]; // ∂E/∂h_t through step t+1
            let h_0 = h0.first().map_or_else(|| vec![0.0; rows * h], |h0| h0.to_vec());
            for t in (0..d.steps).rev() {
                let h_prev = if t > 0 { hs[t - 1] } else { &h_0 };
                // a row whose sequence has ended is the identity here: its δh reaches step t−1 whole
                let ended = d.lengths.ended(k * block, rows, t);
                let through: Vec<Vec<f32>> =
                    ended.iter().map(|&j| (j * h..(j + 1) * h).map(|i| dh_out[t][i] + dh_next[i]).collect()).collect();
                cell_backward(dx[t], dh[t], &mut dh_next, gates[t], h_n[t], dh_out[t], h_prev, h);
                for (&j, dh_j) in ended.iter().zip(&through) {
                    dx[t][j * h3..(j + 1) * h3].fill(0.0);
                    dh[t][j * h3..(j + 1) * h3].fill(0.0);
                    dh_next[j * h..(j + 1) * h].copy_from_slice(dh_j);
                }
                if t > 0 || given {
                    // δh_{t−1} = δh⊙z (already in dh_next) + ∂E/∂h_·Uᵀ
                    u_t.mul_into(rows, dh[t], &mut dh_next, true);
                }
            }
            // what reached h_0 (no slot without a given state)
            if let Some(dh0) = dh0.first_mut() {
                dh0.copy_from_slice(&dh_next);
            }
        },
    );
    (dx_parts, dh_parts, given.then_some(dh0))
}

simd_kernel! {
    /// Rows of one step of BPTT: writes the gradients of the input parts (`dx`) and of the
    /// recurrent parts (`dh`, rows of 3H), and turns `dh_next`, the gradient that reached h_t
    /// from step t+1, into the part δh⊙z of the one that reaches h_{t−1}. δh is the sum of
    /// `dh_out` (from the output) and `dh_next`.
    #[allow(clippy::too_many_arguments)]
    fn cell_backward(
        dx: &mut [f32],
        dh: &mut [f32],
        dh_next: &mut [f32],
        gates: &[f32],
        h_n: &[f32],
        dh_out: &[f32],
        h_prev: &[f32],
        h: usize,
    ) {
        let rows = dx.chunks_exact_mut(3 * h).zip(dh.chunks_exact_mut(3 * h)).zip(gates.chunks_exact(3 * h));
        let by_row = dh_next.chunks_exact_mut(h).zip(h_n.chunks_exact(h)).zip(dh_out.chunks_exact(h).zip(h_prev.chunks_exact(h)));
        for (((dx, dh), gates), ((dh_next, h_n), (dh_out, h_prev))) in rows.zip(by_row) {
            let (dx_r, dx_zn) = dx.split_at_mut(h);
            let (dx_z, dx_n) = dx_zn.split_at_mut(h);
            let (dh_r, dh_zn) = dh.split_at_mut(h);
            let (dh_z, dh_n) = dh_zn.split_at_mut(h);
            let (r, z, n) = (&gates[..h], &gates[h..2 * h], &gates[2 * h..]);
            let outs = dx_r.iter_mut().zip(dx_z.iter_mut()).zip(dx_n.iter_mut()).zip(dh_r.iter_mut().zip(dh_z.iter_mut()).zip(dh_n.iter_mut()));
            let ins = r.iter().zip(z).zip(n).zip(h_n.iter().zip(dh_out).zip(h_prev));
            for (((((dx_r, dx_z), dx_n), ((dh_r, dh_z), dh_n)), (((r, z), n), ((h_n, dh_out), h_prev))), dh_next) in
                outs.zip(ins).zip(dh_next.iter_mut())
            {
                let delta = dh_out + *dh_next;
                let dn = delta * (1.0 - z) * (1.0 - n * n);
                let dr = dn * h_n * r * (1.0 - r);
                let dz = delta * (h_prev - n) * z * (1.0 - z);
                (*dx_r, *dx_z, *dx_n) = (dr, dz, dn);
                (*dh_r, *dh_z, *dh_n) = (dr, dz, dn * r);
                *dh_next = delta * z;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::Var;
    use crate::ops::recurrent::testing::assert_masked_equals_rows_alone;
    use crate::ops::testing::{assert_same_as_composed, check, randn};

    /// The recurrence by its definition, from matmul, slices and elementwise ops.
    fn composed(x: &Var, w: &Var, u: &Var, b_x: &Var, b_h: &Var, sequence: bool) -> Var {
        let (m, steps, f) = (x.shape()[0], x.shape()[1], x.shape()[2]);
        let h = u.shape()[0];
        let mut states: Vec<Var> = Vec::new();
        for t in 0..steps {
            let a = x.slice(1, t..t + 1).reshape(&[m, f]).matmul(w).add(b_x);
            let rec = match states.last() {
                Some(prev) => prev.matmul(u).add(b_h),
                None => Var::constant(crate::Tensor::zeros(&[m, 3 * h])).add(b_h),
            };
            let block = |v: &Var, k: usize| v.slice(1, k * h..(k + 1) * h);
            let r = block(&a, 0).add(&block(&rec, 0)).sigmoid();
            let z = block(&a, 1).add(&block(&rec, 1)).sigmoid();
            let n = block(&a, 2).add(&r.mul(&block(&rec, 2))).tanh();
            // h_t = n + z⊙(h_{t−1} − n)
            let h_t = match states.last() {
                Some(prev) => n.add(&z.mul(&prev.sub(&n))),
                None => n.sub(&z.mul(&n)),
            };
            states.push(h_t);
        }
        if !sequence {
            return states.pop().expect("a step");
        }
        let stacked: Vec<Var> = states.iter().map(|s| s.reshape(&[m, 1, h])).collect();
        Var::concat(&stacked, 1)
    }

    #[test]
    fn gru_passes_gradient_check_through_time() {
        // x needs a gradient too (a lower recurrent layer's states do)
        let xs = randn(31, &[&[2, 3, 3], &[3, 6], &[2, 6], &[6], &[6]]);
        for sequence in [false, true] {
            check(&xs, |v| v[0].gru(&v[1], &v[2], &v[3], &v[4], sequence));
        }
        // one step: U gets a zero gradient, as h_0 = 0, but b_h does not
        let one = randn(32, &[&[3, 1, 2], &[2, 3], &[1, 3], &[3], &[3]]);
        check(&one, |v| v[0].gru(&v[1], &v[2], &v[3], &v[4], false));
    }

    #[test]
    fn gru_equals_its_definition_in_values_and_gradients() {
        // 75 rows: two blocks of rows on two threads, the second one short
        let xs = randn(33, &[&[75, 4, 5], &[5, 9], &[3, 9], &[9], &[9]]);
        for sequence in [false, true] {
            let fused = |v: &[Var]| v[0].gru(&v[1], &v[2], &v[3], &v[4], sequence);
            let definition = |v: &[Var]| composed(&v[0], &v[1], &v[2], &v[3], &v[4], sequence);
            assert_same_as_composed(
                &xs,
                &["x", "W", "U", "b_x", "b_h"],
                fused,
                definition,
                &format!("gru (sequence {sequence})"),
            );
        }
    }

    #[test]
    fn gru_from_a_given_state_passes_gradient_check_for_the_state_too() {
        let xs = randn(36, &[&[3, 3, 2], &[2, 6], &[2, 6], &[6], &[6], &[3, 2]]);
        for (sequence, lengths) in [(false, None), (true, None), (true, Some(&[3, 1, 0][..]))] {
            check(&xs, |v| v[0].gru_from([&v[1], &v[2], &v[3], &v[4]], sequence, lengths, &v[5]).0);
        }
    }

    /// Two chunks, the second started from the first's final state, give the whole sequence's.
    #[test]
    fn chunks_carrying_the_state_equal_the_whole_sequence() {
        let xs = randn(37, &[&[75, 6, 3], &[3, 9], &[3, 9], &[9], &[9]]);
        let v: Vec<Var> = xs.iter().map(|t| Var::constant(t.clone())).collect();
        let weights = [&v[1], &v[2], &v[3], &v[4]];
        let whole = v[0].gru(&v[1], &v[2], &v[3], &v[4], true);
        let zero = Var::constant(crate::Tensor::zeros(&[75, 3]));
        let (first, h) = v[0].slice(1, 0..4).gru_from(weights, true, None, &zero);
        let (second, _) = v[0].slice(1, 4..6).gru_from(weights, true, None, &Var::constant(h));
        let chunked = Var::concat(&[first, second], 1);
        for (a, b) in chunked.value().data().iter().zip(whole.value().data()) {
            assert!((a - b).abs() < 1e-6, "{a} vs {b}");
        }
    }

    #[test]
    fn gru_masked_passes_gradient_check_through_time() {
        // rows of 3 steps, 1 step and none out of 4
        let xs = randn(34, &[&[3, 4, 2], &[2, 6], &[2, 6], &[6], &[6]]);
        for sequence in [false, true] {
            check(&xs, |v| v[0].gru_masked(&v[1], &v[2], &v[3], &v[4], sequence, &[3, 1, 0]));
        }
    }

    #[test]
    fn gru_masked_gives_each_row_what_it_gets_alone_at_its_length() {
        let xs = randn(35, &[&[6, 5, 3], &[3, 9], &[3, 9], &[9], &[9]]);
        assert_masked_equals_rows_alone(
            &xs,
            &[5, 1, 3, 0, 5, 2],
            |v, lengths| v[0].gru_masked(&v[1], &v[2], &v[3], &v[4], false, lengths),
            |v| v[0].gru(&v[1], &v[2], &v[3], &v[4], false),
            "gru",
        );
    }
}
