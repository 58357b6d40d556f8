//! A whole LSTM layer over T time steps as one op, with backpropagation through time written out
//! in its backward, as cuDNN and PyTorch do. Pre-activations a_t = x_t·W + h_{t−1}·U + b (m × 4H,
//! blocks i, f, g, o):
//!   i = σ(a_i), f = σ(a_f), g = tanh(a_g), o = σ(a_o)
//!   c_t = f⊙c_{t−1} + i⊙g,   h_t = o⊙tanh(c_t),   h_0 = c_0 = 0.
//! Backward, from t = T down to 1, with δh the gradient reaching h_t (from the output and from
//! step t+1 through U) and δc the one reaching c_t from step t+1:
//!   δc += δh⊙o⊙(1 − tanh²(c_t)),  ∂E/∂a_o = δh⊙tanh(c_t)⊙o(1−o),
//!   ∂E/∂a_i = δc⊙g⊙i(1−i),  ∂E/∂a_f = δc⊙c_{t−1}⊙f(1−f),  ∂E/∂a_g = δc⊙i⊙(1−g²),
//!   δc ← δc⊙f and δh ← ∂E/∂a_t·Uᵀ for step t−1.
//! Then every weight gradient is one GEMM over all steps at once: ∂E/∂W = Σ_t x_tᵀ·∂E/∂a_t,
//! ∂E/∂U = Σ_t h_{t−1}ᵀ·∂E/∂a_t, ∂E/∂b = the column sums of every ∂E/∂a_t, ∂E/∂x_t = ∂E/∂a_t·Wᵀ.
//!
//! Why one op: unrolled into the graph, each step was half a dozen nodes with their own buffers,
//! and the input products x_t·W were T small GEMMs. Here the buffers are laid out time-major
//! (T × m × ·), so x·W for every step is one GEMM, and so are the weight gradients; the per-step
//! elementwise work runs in row blocks on the thread team.

use super::activation::{sigmoid, tanh_rational};
use crate::autodiff::Var;
use crate::tensor::simd::simd_kernel;
use crate::tensor::team;
use crate::tensor::{Tensor, Transpose, gemm_into};

/// Rows of a step below which its elementwise work stays on one thread.
const ROWS_PER_PART: usize = 32;

impl Var {
    /// The LSTM recurrence over an input `self` of shape m × T × F with W = `w` (F × 4H),
    /// U = `u` (H × 4H) and b = `b` (4H), gate blocks in the order i, f, g, o. Returns h_T (m × H),
    /// or with `sequence` every h_t (m × T × H).
    #[track_caller]
    pub fn lstm(&self, w: &Var, u: &Var, b: &Var, sequence: bool) -> Var {
        let s = self.shape();
        assert!(s.len() == 3, "lstm: input shape {s:?}, want m × T × F");
        let (m, steps, f) = (s[0], s[1], s[2]);
        let (f2, h4) = w.value().dims2("lstm");
        let h = h4 / 4;
        assert!(
            f2 == f && h4 % 4 == 0 && u.shape() == [h, h4] && b.value().numel() == h4,
            "lstm: input {s:?}, W {:?}, U {:?} and b {:?} do not fit (want m×T×F, F×4H, H×4H, 4H)",
            w.shape(),
            u.shape(),
            b.shape()
        );
        assert!(steps > 0, "lstm: input {s:?} has no time steps");
        let dims = Dims { m, steps, f, h };
        let xt = swap_leading_axes(self.value().data(), m, steps, f);
        let run = forward(&dims, &xt, w.value().data(), u.value().data(), b.value().data());
        let out = if sequence {
            Tensor::from_vec(swap_leading_axes(&run.h, steps, m, h), &[m, steps, h])
        } else {
            Tensor::from_vec(run.h[(steps - 1) * m * h..].to_vec(), &[m, h])
        };
        Var::from_op(
            out,
            vec![self.clone(), w.clone(), u.clone(), b.clone()],
            Box::new(move |delta, p| {
                let d = &dims;
                // ∂E/∂h_t from the output, time-major
                let dh_out = if sequence {
                    swap_leading_axes(delta.data(), m, steps, h)
                } else {
                    let mut last_only = vec![0.0; steps * m * h];
                    last_only[(steps - 1) * m * h..].copy_from_slice(delta.data());
                    last_only
                };
                let da = backward(d, &run, &dh_out, p[2].value().data());
                let (w, tm) = (p[1].value().data(), steps * m);
                let dx = p[0].requires_grad().then(|| {
                    let mut dxt = vec![0.0; tm * f];
                    gemm_into(tm, f, h4, &da, Transpose::No, w, Transpose::Yes, &mut dxt, false);
                    Tensor::from_vec(swap_leading_axes(&dxt, steps, m, f), &[m, steps, f])
                });
                let dw = p[1].requires_grad().then(|| {
                    let mut dw = vec![0.0; f * h4];
                    gemm_into(f, h4, tm, &xt, Transpose::Yes, &da, Transpose::No, &mut dw, false);
                    Tensor::from_vec(dw, &[f, h4])
                });
                let du = p[2].requires_grad().then(|| {
                    // h_0 = 0: steps 2..T only, h_{t−1} against ∂E/∂a_t
                    let (hs, das) = (&run.h[..(steps - 1) * m * h], &da[m * h4..]);
                    let mut du = vec![0.0; h * h4];
                    gemm_into(h, h4, (steps - 1) * m, hs, Transpose::Yes, das, Transpose::No, &mut du, false);
                    Tensor::from_vec(du, &[h, h4])
                });
                let db = p[3].requires_grad().then(|| Tensor::from_vec(da, &[tm, h4]).sum_rows().reshape(p[3].shape()));
                vec![dx, dw, du, db]
            }),
        )
    }
}

/// m (batch), T (steps), F (inputs) and H (cells).
struct Dims {
    m: usize,
    steps: usize,
    f: usize,
    h: usize,
}

/// What the forward pass keeps for backward, every buffer time-major (T × m × ·).
struct Run {
    /// The gates i, f, g, o after their activations (T × m × 4H).
    gates: Vec<f32>,
    /// c_t (T × m × H).
    c: Vec<f32>,
    /// tanh(c_t) (T × m × H).
    tanh_c: Vec<f32>,
    /// h_t (T × m × H).
    h: Vec<f32>,
}

/// The recurrence. `xt` is the input time-major (T × m × F).
fn forward(d: &Dims, xt: &[f32], w: &[f32], u: &[f32], b: &[f32]) -> Run {
    let (m, h, h4) = (d.m, d.h, 4 * d.h);
    let tm = d.steps * m;
    // a_t = x_t·W + 1·b for every step in one GEMM, starting from the bias rows
    let mut gates = Vec::with_capacity(tm * h4);
    for _ in 0..tm {
        gates.extend_from_slice(b);
    }
    gemm_into(tm, h4, d.f, xt, Transpose::No, w, Transpose::No, &mut gates, true);
    let (mut c, mut tanh_c, mut hs) = (vec![0.0; tm * h], vec![0.0; tm * h], vec![0.0; tm * h]);
    let c_0 = vec![0.0; m * h];
    for t in 0..d.steps {
        let (done_c, c_t) = c.split_at_mut(t * m * h);
        let (done_h, h_t) = hs.split_at_mut(t * m * h);
        let a_t = &mut gates[t * m * h4..(t + 1) * m * h4];
        let c_prev = if t > 0 { &done_c[(t - 1) * m * h..] } else { &c_0 };
        if t > 0 {
            gemm_into(m, h4, h, &done_h[(t - 1) * m * h..], Transpose::No, u, Transpose::No, a_t, true);
        }
        let block = team::block_len(m, ROWS_PER_PART);
        let tc_t = &mut tanh_c[t * m * h..(t + 1) * m * h];
        let parts: Vec<_> = a_t
            .chunks_mut(block * h4)
            .zip(c_t[..m * h].chunks_mut(block * h))
            .zip(tc_t.chunks_mut(block * h))
            .zip(h_t[..m * h].chunks_mut(block * h))
            .enumerate()
            .map(|(k, (((a, c), tc), hh))| (a, c, tc, hh, &c_prev[k * block * h..]))
            .collect();
        team::for_each(parts, |(a, c, tc, hh, c_prev)| cell_forward(a, c, tc, hh, c_prev, h));
    }
    Run { gates, c, tanh_c, h: hs }
}

simd_kernel! {
    /// Rows of one step: activates the gates in place (rows of 4H) and writes c_t, tanh(c_t) and
    /// h_t (rows of H), from c_{t−1}.
    fn cell_forward(a: &mut [f32], c: &mut [f32], tanh_c: &mut [f32], h_out: &mut [f32], c_prev: &[f32], h: usize) {
        let rows = a.chunks_exact_mut(4 * h).zip(c.chunks_exact_mut(h)).zip(tanh_c.chunks_exact_mut(h));
        for (((a, c), tanh_c), (h_out, c_prev)) in rows.zip(h_out.chunks_exact_mut(h).zip(c_prev.chunks_exact(h))) {
            let (ifg, o) = a.split_at_mut(3 * h);
            let (i_f, g) = ifg.split_at_mut(2 * h);
            i_f.iter_mut().chain(o.iter_mut()).for_each(|x| *x = sigmoid(*x));
            g.iter_mut().for_each(|x| *x = tanh_rational(*x));
            let (i, f) = i_f.split_at(h);
            let gates = i.iter().zip(f).zip(g.iter().zip(o.iter()));
            for ((((i, f), (g, o)), c_prev), ((c, tanh_c), h_out)) in
                gates.zip(c_prev).zip(c.iter_mut().zip(tanh_c.iter_mut()).zip(h_out.iter_mut()))
            {
                *c = f * c_prev + i * g;
                *tanh_c = tanh_rational(*c);
                *h_out = o * *tanh_c;
            }
        }
    }
}

/// Backpropagation through time: ∂E/∂a_t for every step (T × m × 4H), from ∂E/∂h_t of the
/// output (`dh_out`, T × m × H).
fn backward(d: &Dims, run: &Run, dh_out: &[f32], u: &[f32]) -> Vec<f32> {
    let (m, h, h4) = (d.m, d.h, 4 * d.h);
    let mut da = vec![0.0; d.steps * m * h4];
    let mut dh_next = vec![0.0; m * h]; // ∂E/∂h_t through step t+1
    let mut dc = vec![0.0; m * h]; // ∂E/∂c_t through step t+1
    let block = team::block_len(m, ROWS_PER_PART);
    let c_0 = vec![0.0; m * h];
    for t in (0..d.steps).rev() {
        let step = |v, width| rows(v, t * m, (t + 1) * m, width);
        let (gates, tanh_c, dh_o) = (step(&run.gates, h4), step(&run.tanh_c, h), step(dh_out, h));
        let c_prev = if t > 0 { rows(&run.c, (t - 1) * m, t * m, h) } else { &c_0 };
        let da_t = &mut da[t * m * h4..(t + 1) * m * h4];
        let parts: Vec<_> = da_t
            .chunks_mut(block * h4)
            .zip(dc.chunks_mut(block * h))
            .enumerate()
            .map(|(k, (da, dc))| {
                let (r0, r1) = (k * block, k * block + da.len() / h4);
                let part = |v, width| rows(v, r0, r1, width);
                (da, dc, [part(gates, h4), part(tanh_c, h), part(dh_o, h), part(&dh_next, h), part(c_prev, h)])
            })
            .collect();
        team::for_each(parts, |(da, dc, [gates, tanh_c, dh_o, dh_next, c_prev])| {
            cell_backward(da, dc, gates, tanh_c, dh_o, dh_next, c_prev, h)
        });
        if t > 0 {
            gemm_into(m, h, h4, da_t, Transpose::No, u, Transpose::Yes, &mut dh_next, false);
        }
    }
    da
}

simd_kernel! {
    /// Rows of one step of BPTT: writes ∂E/∂a_t (rows of 4H) and turns δc, the gradient that
    /// reached c_t from step t+1, into the one that reaches c_{t−1}. δh is the sum of `dh_out`
    /// (from the output) and `dh_next` (from step t+1).
    #[allow(clippy::too_many_arguments)]
    fn cell_backward(
        da: &mut [f32],
        dc: &mut [f32],
        gates: &[f32],
        tanh_c: &[f32],
        dh_out: &[f32],
        dh_next: &[f32],
        c_prev: &[f32],
        h: usize,
    ) {
        let rows = da.chunks_exact_mut(4 * h).zip(dc.chunks_exact_mut(h)).zip(gates.chunks_exact(4 * h));
        let by_row = tanh_c.chunks_exact(h).zip(dh_out.chunks_exact(h)).zip(dh_next.chunks_exact(h).zip(c_prev.chunks_exact(h)));
        for (((da, dc), gates), ((tanh_c, dh_out), (dh_next, c_prev))) in rows.zip(by_row) {
            let (da_if, da_go) = da.split_at_mut(2 * h);
            let (da_i, da_f) = da_if.split_at_mut(h);
            let (da_g, da_o) = da_go.split_at_mut(h);
            let (gi, gf, gg, go) = (&gates[..h], &gates[h..2 * h], &gates[2 * h..3 * h], &gates[3 * h..]);
            let outs = da_i.iter_mut().zip(da_f.iter_mut()).zip(da_g.iter_mut().zip(da_o.iter_mut())).zip(dc.iter_mut());
            let ins = gi.iter().zip(gf).zip(gg.iter().zip(go)).zip(tanh_c.iter().zip(dh_out).zip(dh_next.iter().zip(c_prev)));
            for ((((da_i, da_f), (da_g, da_o)), dc), (((i, f), (g, o)), ((tc, dh_out), (dh_next, c_prev)))) in outs.zip(ins) {
                let dh = dh_out + dh_next;
                let dcj = *dc + dh * o * (1.0 - tc * tc);
                *da_i = dcj * g * i * (1.0 - i);
                *da_f = dcj * c_prev * f * (1.0 - f);
                *da_g = dcj * i * (1.0 - g * g);
                *da_o = dh * tc * o * (1.0 - o);
                *dc = dcj * f;
            }
        }
    }
}

/// Rows r0..r1 of a row-major buffer `width` wide.
pub(super) fn rows(v: &[f32], r0: usize, r1: usize, width: usize) -> &[f32] {
    &v[r0 * width..r1 * width]
}

/// A × B × w → B × A × w: batch-major (m × T × ·) to time-major (T × m × ·) and back.
pub(super) fn swap_leading_axes(x: &[f32], a: usize, b: usize, w: usize) -> Vec<f32> {
    let mut out = Vec::with_capacity(x.len());
    for j in 0..b {
        for i in 0..a {
            out.extend_from_slice(&x[(i * b + j) * w..(i * b + j + 1) * w]);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use crate::Var;
    use crate::ops::testing::{assert_same_as_composed, check, randn};

    /// The recurrence by its definition, from matmul, slices and elementwise ops.
    fn composed(x: &Var, w: &Var, u: &Var, b: &Var, sequence: bool) -> Var {
        let (m, steps, f) = (x.shape()[0], x.shape()[1], x.shape()[2]);
        let h = u.shape()[0];
        let (mut states, mut c): (Vec<Var>, Option<Var>) = (Vec::new(), None);
        for t in 0..steps {
            let mut a = x.slice(1, t..t + 1).reshape(&[m, f]).matmul(w).add(b);
            if let Some(prev) = states.last() {
                a = a.add(&prev.matmul(u));
            }
            let block = |k: usize| a.slice(1, k * h..(k + 1) * h);
            let (i, fg, g, o) = (block(0).sigmoid(), block(1).sigmoid(), block(2).tanh(), block(3).sigmoid());
            let c_t = match &c {
                Some(c) => fg.mul(c).add(&i.mul(&g)),
                None => i.mul(&g),
            };
            states.push(o.mul(&c_t.tanh()));
            c = Some(c_t);
        }
        if !sequence {
            return states.pop().expect("a step");
        }
        let stacked: Vec<Var> = states.iter().map(|s| s.reshape(&[m, 1, h])).collect();
        Var::concat(&stacked, 1)
    }

    #[test]
    fn lstm_passes_gradient_check_through_time() {
        // x needs a gradient too (a lower recurrent layer's states do)
        let xs = randn(21, &[&[2, 3, 3], &[3, 8], &[2, 8], &[8]]);
        for sequence in [false, true] {
            check(&xs, |v| v[0].lstm(&v[1], &v[2], &v[3], sequence));
        }
        // one step: U gets a zero gradient, as h_0 = 0
        let one = randn(22, &[&[3, 1, 2], &[2, 4], &[1, 4], &[4]]);
        check(&one, |v| v[0].lstm(&v[1], &v[2], &v[3], false));
    }

    #[test]
    fn lstm_equals_its_definition_in_values_and_gradients() {
        // 70 rows: three parts of a step on two threads, the last one short
        let xs = randn(23, &[&[70, 4, 5], &[5, 12], &[3, 12], &[12]]);
        for sequence in [false, true] {
            let fused = |v: &[Var]| v[0].lstm(&v[1], &v[2], &v[3], sequence);
            let definition = |v: &[Var]| composed(&v[0], &v[1], &v[2], &v[3], sequence);
            assert_same_as_composed(
                &xs,
                &["x", "W", "U", "b"],
                fused,
                definition,
                &format!("lstm (sequence {sequence})"),
            );
        }
    }
}
