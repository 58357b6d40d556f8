//! A whole LSTM layer over T time steps as one op, with backpropagation through time written out
//! in its backward, as cuDNN and PyTorch do. Pre-activations a_t = x_t·W + h_{t−1}·U + b (m × 4H,
//! blocks i, f, g, o):
//!   i = σ(a_i), f = σ(a_f), g = tanh(a_g), o = σ(a_o)
//!   c_t = f⊙c_{t−1} + i⊙g,   h_t = o⊙tanh(c_t),   h_0 = c_0 = 0 unless given
//! ([`Var::lstm_from`]: truncated BPTT starts each chunk from the last one's final state).
//! Backward, from t = T down to 1, with δh the gradient reaching h_t (from the output and from
//! step t+1 through U) and δc the one reaching c_t from step t+1:
//!   δc += δh⊙o⊙(1 − tanh²(c_t)),  ∂E/∂a_o = δh⊙tanh(c_t)⊙o(1−o),
//!   ∂E/∂a_i = δc⊙g⊙i(1−i),  ∂E/∂a_f = δc⊙c_{t−1}⊙f(1−f),  ∂E/∂a_g = δc⊙i⊙(1−g²),
//!   δc ← δc⊙f and δh ← ∂E/∂a_t·Uᵀ for step t−1.
//! Then the weight gradients are one product over all steps at once: with z_t = [x_t, 1, h_{t−1}]
//! (the rows that multiply [W; b; U] in a_t = z_t·[W; b; U]), [∂E/∂W; ∂E/∂b; ∂E/∂U] =
//! Σ_t z_tᵀ·∂E/∂a_t; and ∂E/∂x_t = ∂E/∂a_t·Wᵀ.
//!
//! Why one op: unrolled into the graph, each step was half a dozen nodes with their own buffers,
//! and the input products x_t·W were T small GEMMs. Here the buffers are laid out time-major
//! (T × m × ·), each thread of the team takes one block of the batch's rows through every step
//! (`recurrent.rs`), and a step is one product of its rows z_t against [W; b; U], packed once per
//! pass (`tensor/packed.rs`), followed by the cell; the forward writes h_t straight into z_{t+1},
//! so that the weight gradients are one product zᵀ·∂E/∂a (`tensor/gemm_tn.rs`) with nothing
//! gathered first. The large buffers are kept between batches (`tensor/spare.rs`).

use super::activation::{sigmoid, tanh_rational};
use super::recurrent::{Lengths, blocks, blocks_mut, copy_row, input_gradient, swap_leading_axes};
use crate::autodiff::Var;
use crate::tensor::gemm_tn::gemm_tn;
use crate::tensor::packed::PackedB;
use crate::tensor::simd::simd_kernel;
use crate::tensor::spare;
use crate::tensor::team;
use crate::tensor::{Tensor, Transpose};

/// Rows below which a block of the batch is not split further across threads.
const ROWS_PER_PART: usize = 32;

impl Var {
    /// The LSTM recurrence over an input `self` of shape m × T × F with W = `w` (F × 4H),
    /// U = `u` (H × 4H) and b = `b` (4H), gate blocks in the order i, f, g, o. Returns h_T (m × H),
    /// or with `sequence` every h_t (m × T × H).
    #[track_caller]
    pub fn lstm(&self, w: &Var, u: &Var, b: &Var, sequence: bool) -> Var {
        self.lstm_over(w, u, b, sequence, None, None).0
    }

    /// [`Var::lstm`] over rows of different lengths (`lengths[r]` ≤ T steps of row r; the rest is
    /// padding): past its end a row keeps h and c as they were, so h_T is its state after its last
    /// step (with `sequence`, the states past the end repeat it), and the padding steps send no
    /// gradient anywhere.
    #[track_caller]
    pub fn lstm_masked(&self, w: &Var, u: &Var, b: &Var, sequence: bool, lengths: &[usize]) -> Var {
        self.lstm_over(w, u, b, sequence, Some(lengths), None).0
    }

    /// [`Var::lstm`] (or [`Var::lstm_masked`] with `lengths`) from the initial state
    /// `(h_0, c_0)` (m × H each), which gets its gradient like any input. Also returns the final
    /// state (h, c) of each row (after its last step), detached: the next chunk of truncated BPTT
    /// starts from it, and no gradient flows back across chunks.
    #[track_caller]
    pub fn lstm_from(
        &self,
        [w, u, b]: [&Var; 3],
        sequence: bool,
        lengths: Option<&[usize]>,
        (h0, c0): (&Var, &Var),
    ) -> (Var, [Tensor; 2]) {
        self.lstm_over(w, u, b, sequence, lengths, Some((h0, c0)))
    }

    #[track_caller]
    fn lstm_over(
        &self,
        w: &Var,
        u: &Var,
        b: &Var,
        sequence: bool,
        lengths: Option<&[usize]>,
        init: Option<(&Var, &Var)>,
    ) -> (Var, [Tensor; 2]) {
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
        if let Some((h0, c0)) = init {
            assert!(
                h0.shape() == [m, h] && c0.shape() == [m, h],
                "lstm: initial state h_0 {:?} and c_0 {:?} for input {s:?} and H = {h} (want m × H each)",
                h0.shape(),
                c0.shape()
            );
        }
        let lengths = lengths.map_or_else(Lengths::full, |l| Lengths::of_rows("lstm", l, m, steps));
        let dims = Dims { m, steps, f, h, lengths };
        let weights = [w, u, b].map(|v| v.value().data());
        let state0 = init.map(|(h0, c0)| [h0.value().data(), c0.value().data()]);
        let run = forward(&dims, self.value().data(), weights, state0);
        let out = output(&dims, &run, sequence);
        let c_last = run.c[(steps - 1) * m * h..].to_vec();
        let state = [run.h_last.clone(), c_last].map(|v| Tensor::from_vec(v, &[m, h]));
        let mut parents = vec![self.clone(), w.clone(), u.clone(), b.clone()];
        parents.extend(init.into_iter().flat_map(|(h0, c0)| [h0.clone(), c0.clone()]));
        let out = Var::from_op(
            out,
            parents,
            Box::new(move |delta, p| {
                let c0 = p.get(5).map(|c0| c0.value().data());
                let (da, d_state0) = backward(&dims, &run, delta, sequence, p[2].value().data(), c0);
                let dx = p[0].requires_grad().then(|| input_gradient(&da, p[1].value().data(), m, steps, f));
                let [dw, du, db] = weight_gradients(&dims, &run.z, &da, [&p[1], &p[2], &p[3]]);
                spare::give(da);
                let mut grads = vec![dx, dw, du, db];
                if let Some([dh0, dc0]) = d_state0 {
                    grads.extend([dh0, dc0].map(|d| Some(Tensor::from_vec(d, &[m, h]))));
                }
                grads
            }),
        );
        (out, state)
    }
}

/// m (batch), T (steps), F (inputs), H (cells) and where each row's sequence ends.
struct Dims {
    m: usize,
    steps: usize,
    f: usize,
    h: usize,
    lengths: Lengths,
}

impl Dims {
    /// The width of a row [x_t, 1, h_{t−1}] of [`Run::z`].
    fn width(&self) -> usize {
        self.f + 1 + self.h
    }
}

/// ∂E/∂h_0 and ∂E/∂c_0 (m × H each), when the initial state was given.
type StateGradient = Option<[Vec<f32>; 2]>;

/// What the forward pass keeps for backward, every buffer but `h_last` time-major (T × m × ·).
/// The buffers are spare ones ([`spare`]), handed back when the op's graph is dropped.
struct Run {
    /// The gates i, f, g, o after their activations (T × m × 4H).
    gates: Vec<f32>,
    /// c_t (T × m × H).
    c: Vec<f32>,
    /// tanh(c_t) (T × m × H).
    tanh_c: Vec<f32>,
    /// The rows z_t = [x_t, 1, h_{t−1}] (T × m × (F + 1 + H)): a_t = z_t·[W; b; U] is one GEMM
    /// per step, and in backward [∂E/∂W; ∂E/∂b; ∂E/∂U] = Σ_t z_tᵀ·∂E/∂a_t is one GEMM in all.
    /// h_t (t < T) lives only here.
    z: Vec<f32>,
    /// h_T (m × H), the one state that no step reads.
    h_last: Vec<f32>,
}

impl Drop for Run {
    fn drop(&mut self) {
        for v in [&mut self.gates, &mut self.c, &mut self.tanh_c, &mut self.z, &mut self.h_last] {
            spare::give(std::mem::take(v));
        }
    }
}

/// The recurrence. `x` is the input batch-major (m × T × F); `state0` is (h_0, c_0) when not zero.
fn forward(d: &Dims, x: &[f32], [w, u, b]: [&[f32]; 3], state0: Option<[&[f32]; 2]>) -> Run {
    let (m, steps, f, h) = (d.m, d.steps, d.f, d.h);
    let (h4, width, tm) = (4 * h, d.width(), d.steps * d.m);
    // every buffer is written below before it is read: their stale values never count
    let mut run = Run {
        gates: spare::take(tm * h4),
        c: spare::take(tm * h),
        tanh_c: spare::take(tm * h),
        z: spare::take(tm * width),
        h_last: spare::take(m * h),
    };
    // [W; b; U] ((F + 1 + H) × 4H), packed once for every step of every block
    let wbu = PackedB::new(&[w, b, u].concat(), width, h4, Transpose::No);
    let block = team::block_len(m, ROWS_PER_PART);
    let [h0, c0] = state0.unwrap_or([&[], &[]]);
    let Run { gates, c, tanh_c, z, h_last } = &mut run;
    let parts: Vec<_> = blocks_mut(gates, m, h4, block)
        .into_iter()
        .zip(blocks_mut(c, m, h, block))
        .zip(blocks_mut(tanh_c, m, h, block).into_iter().zip(blocks_mut(z, m, width, block)))
        .zip(
            blocks_mut(h_last, m, h, block)
                .into_iter()
                .zip(blocks(h0, m, h, block).into_iter().zip(blocks(c0, m, h, block))),
        )
        .collect();
    team::for_each(
        parts.into_iter().enumerate().collect(),
        |(k, (((a, mut c), (mut tanh_c, mut z)), (mut h_last, (h0, c0))))| {
            // one block of rows through every step
            let (r0, rows) = (k * block, c[0].len() / h);
            fill_inputs(&mut z, &x[r0 * steps * f..(r0 + rows) * steps * f], (steps, f, width), h0.first().copied());
            // (c_0, tanh c_0) of these rows; without a given state, zero
            let start = match c0.first() {
                Some(c0) => (c0.to_vec(), c0.iter().map(|&v| tanh_rational(v)).collect()),
                None => (vec![0.0; rows * h], vec![0.0; rows * h]),
            };
            // without a given state h_0 = 0, and the first step's product stops before U's rows
            let first_depth = if h0.is_empty() { f + 1 } else { width };
            for (t, a_t) in a.into_iter().enumerate() {
                let (done_c, c_t) = c.split_at_mut(t);
                let (done_tc, tc_t) = tanh_c.split_at_mut(t);
                let (c_prev, tc_prev) = match t {
                    0 => (&start.0[..], &start.1[..]),
                    _ => (&*done_c[t - 1], &*done_tc[t - 1]),
                };
                let (now, next) = z.split_at_mut(t + 1);
                let z_t = &*now[t];
                // h_t goes into the next step's z (rows `width` apart), or into h_T
                let (h_t, ldh) = match next.first_mut() {
                    Some(z_next) => (&mut z_next[f + 1..], width),
                    None => (&mut h_last[0][..], h),
                };
                wbu.mul_rows_into(rows, (z_t, width), if t == 0 { first_depth } else { width }, a_t, false);
                cell_forward(a_t, c_t[0], tc_t[0], h_t, ldh, c_prev, h);
                for j in d.lengths.ended(r0, rows, t) {
                    copy_row(c_t[0], c_prev, j, h);
                    copy_row(tc_t[0], tc_prev, j, h);
                    h_t[j * ldh..j * ldh + h].copy_from_slice(&z_t[j * width + f + 1..(j + 1) * width]);
                }
            }
        },
    );
    run
}

/// Writes x_t and the constant 1 into every row of a block's z_t (`z[t]`, rows `width` = F + 1 + H
/// wide), and h_0 (`h0`, or zeros) into z_1's; `x` holds the block's rows batch-major
/// (rows × T × F).
fn fill_inputs(z: &mut [&mut [f32]], x: &[f32], (steps, f, width): (usize, usize, usize), h0: Option<&[f32]>) {
    for (t, z_t) in z.iter_mut().enumerate() {
        for (j, row) in z_t.chunks_exact_mut(width).enumerate() {
            row[..f].copy_from_slice(&x[(j * steps + t) * f..(j * steps + t + 1) * f]);
            row[f] = 1.0;
            if t == 0 {
                let h = width - f - 1;
                match h0 {
                    Some(h0) => row[f + 1..].copy_from_slice(&h0[j * h..(j + 1) * h]),
                    None => row[f + 1..].fill(0.0),
                }
            }
        }
    }
}

/// The op's output: h_T (m × H), or with `sequence` every h_t batch-major (m × T × H), from
/// z_2 .. z_T and h_T.
fn output(d: &Dims, run: &Run, sequence: bool) -> Tensor {
    let (m, steps, h, width) = (d.m, d.steps, d.h, d.width());
    if !sequence {
        return Tensor::from_vec(run.h_last.clone(), &[m, h]);
    }
    let mut out = Vec::with_capacity(m * steps * h);
    for r in 0..m {
        for t in 1..steps {
            let row = (t * m + r) * width + d.f + 1;
            out.extend_from_slice(&run.z[row..row + h]);
        }
        out.extend_from_slice(&run.h_last[r * h..(r + 1) * h]);
    }
    Tensor::from_vec(out, &[m, steps, h])
}

/// ∂E/∂W, ∂E/∂U and ∂E/∂b (each when its parameter asks for one) from one GEMM over every step:
/// [∂E/∂W; ∂E/∂b; ∂E/∂U] = Σ_t z_tᵀ·∂E/∂a_t, with z_t = [x_t, 1, h_{t−1}] and `da` every ∂E/∂a_t.
fn weight_gradients(d: &Dims, z: &[f32], da: &[f32], [w, u, b]: [&Var; 3]) -> [Option<Tensor>; 3] {
    let (f, h4, width) = (d.f, 4 * d.h, d.width());
    if ![w, u, b].iter().any(|v| v.requires_grad()) {
        return [None, None, None];
    }
    let dwbu = gemm_tn(d.steps * d.m, width, h4, z, da);
    let part = |v: &Var, rows: std::ops::Range<usize>| {
        v.requires_grad().then(|| Tensor::from_vec(dwbu[rows.start * h4..rows.end * h4].to_vec(), v.shape()))
    };
    [part(w, 0..f), part(u, f + 1..width), part(b, f..f + 1)]
}

simd_kernel! {
    /// Rows of one step: activates the gates in place (rows of 4H) and writes c_t, tanh(c_t)
    /// (rows of H) and h_t (rows of H, `ldh` apart), from c_{t−1}.
    fn cell_forward(a: &mut [f32], c: &mut [f32], tanh_c: &mut [f32], h_out: &mut [f32], ldh: usize, c_prev: &[f32], h: usize) {
        let rows = a.chunks_exact_mut(4 * h).zip(c.chunks_exact_mut(h)).zip(tanh_c.chunks_exact_mut(h));
        let h_rows = h_out.chunks_mut(ldh).map(|row| &mut row[..h]);
        for (((a, c), tanh_c), (h_out, c_prev)) in rows.zip(h_rows.zip(c_prev.chunks_exact(h))) {
            // one pass over the four gate blocks, cell by cell
            let (i_f, g_o) = a.split_at_mut(2 * h);
            let (i, f) = i_f.split_at_mut(h);
            let (g, o) = g_o.split_at_mut(h);
            let gates = i.iter_mut().zip(f.iter_mut()).zip(g.iter_mut().zip(o.iter_mut()));
            for ((((i, f), (g, o)), c_prev), ((c, tanh_c), h_out)) in
                gates.zip(c_prev).zip(c.iter_mut().zip(tanh_c.iter_mut()).zip(h_out.iter_mut()))
            {
                (*i, *f, *g, *o) = (sigmoid(*i), sigmoid(*f), tanh_rational(*g), sigmoid(*o));
                *c = *f * c_prev + *i * *g;
                *tanh_c = tanh_rational(*c);
                *h_out = *o * *tanh_c;
            }
        }
    }
}

/// Backpropagation through time: ∂E/∂a_t for every step (T × m × 4H, a spare buffer), from the
/// output's gradient `delta` (∂E/∂h_T, or with `sequence` every ∂E/∂h_t); with a given initial
/// state (`c0`, its c_0), also ∂E/∂h_0 and ∂E/∂c_0.
fn backward(
    d: &Dims,
    run: &Run,
    delta: &Tensor,
    sequence: bool,
    u: &[f32],
    c0: Option<&[f32]>,
) -> (Vec<f32>, StateGradient) {
    let (m, h, h4) = (d.m, d.h, 4 * d.h);
    let block = team::block_len(m, ROWS_PER_PART);
    // ∂E/∂h_t from the output, time-major, by blocks of rows; before step T, without
    // `sequence`, zero (one block's worth of zeros serves every such step)
    let (every_step, zeros) = if sequence {
        (swap_leading_axes(delta.data(), m, d.steps, h), Vec::new())
    } else {
        (Vec::new(), vec![0.0; block * h])
    };
    let dh_out: Vec<Vec<&[f32]>> = if sequence {
        blocks(&every_step, m, h, block)
    } else {
        let last = blocks(delta.data(), m, h, block).into_iter().map(|last| last[0]);
        last.map(|last| (1..d.steps).map(|_| &zeros[..last.len()]).chain([last]).collect()).collect()
    };
    // every value of ∂E/∂a_t is written below, so the spare buffer's stale values never count
    let mut da = spare::take(d.steps * m * h4);
    let given = c0.is_some();
    let (mut dh0, mut dc0) = if given { (vec![0.0; m * h], vec![0.0; m * h]) } else { (Vec::new(), Vec::new()) };
    // Uᵀ packed once for every step of every block
    let u_t = PackedB::new(u, h4, h, Transpose::Yes);
    let block = team::block_len(m, ROWS_PER_PART);
    let parts: Vec<_> = blocks_mut(&mut da, m, h4, block)
        .into_iter()
        .zip(blocks(&run.gates, m, h4, block))
        .zip(blocks(&run.c, m, h, block).into_iter().zip(blocks(&run.tanh_c, m, h, block)))
        .zip(dh_out)
        .zip(
            blocks(c0.unwrap_or(&[]), m, h, block)
                .into_iter()
                .zip(blocks_mut(&mut dh0, m, h, block).into_iter().zip(blocks_mut(&mut dc0, m, h, block))),
        )
        .collect();
    team::for_each(
        parts.into_iter().enumerate().collect(),
        |(k, ((((mut da, gates), (c, tanh_c)), dh_out), (c0, (mut dh0, mut dc0))))| {
            // one block of rows through every step, backwards
            let rows = c[0].len() / h;
            let mut dh_next = vec![0.0; rows * h]; // ∂E/∂h_t through step t+1
            let mut dc = vec![0.0; rows * h]; // ∂E/∂c_t through step t+1
            let c_0 = c0.first().map_or_else(|| vec![0.0; rows * h], |c0| c0.to_vec());
            for t in (0..d.steps).rev() {
                // a row whose sequence has ended is the identity here: its δh and δc reach step t−1 whole
                let ended = d.lengths.ended(k * block, rows, t);
                let through: Vec<(Vec<f32>, Vec<f32>)> = ended
                    .iter()
                    .map(|&j| {
                        let dh = (j * h..(j + 1) * h).map(|i| dh_out[t][i] + dh_next[i]).collect();
                        (dh, dc[j * h..(j + 1) * h].to_vec())
                    })
                    .collect();
                let c_prev = if t > 0 { c[t - 1] } else { &c_0 };
                cell_backward(da[t], &mut dc, gates[t], tanh_c[t], dh_out[t], &dh_next, c_prev, h);
                for (&j, (_, dc_j)) in ended.iter().zip(&through) {
                    da[t][j * h4..(j + 1) * h4].fill(0.0);
                    dc[j * h..(j + 1) * h].copy_from_slice(dc_j);
                }
                if t > 0 || given {
                    u_t.mul_into(rows, da[t], &mut dh_next, false);
                    for (&j, (dh_j, _)) in ended.iter().zip(&through) {
                        dh_next[j * h..(j + 1) * h].copy_from_slice(dh_j);
                    }
                }
            }
            // what reached h_0 and c_0 (no slots without a given state)
            if let (Some(dh0), Some(dc0)) = (dh0.first_mut(), dc0.first_mut()) {
                dh0.copy_from_slice(&dh_next);
                dc0.copy_from_slice(&dc);
            }
        },
    );
    (da, given.then_some([dh0, dc0]))
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

#[cfg(test)]
mod tests {
    use crate::Var;
    use crate::ops::recurrent::testing::assert_masked_equals_rows_alone;
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
        // 75 rows: two blocks of rows on two threads, the second one short
        let xs = randn(23, &[&[75, 4, 5], &[5, 12], &[3, 12], &[12]]);
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

    #[test]
    fn lstm_from_a_given_state_passes_gradient_check_for_the_state_too() {
        // x, W, U, b, h_0, c_0: every one gets its gradient checked
        let xs = randn(27, &[&[3, 3, 2], &[2, 8], &[2, 8], &[8], &[3, 2], &[3, 2]]);
        for (sequence, lengths) in [(false, None), (true, None), (true, Some(&[3, 1, 0][..]))] {
            check(&xs, |v| v[0].lstm_from([&v[1], &v[2], &v[3]], sequence, lengths, (&v[4], &v[5])).0);
        }
    }

    /// Two chunks, the second started from the first's final state, give the states of the whole
    /// sequence run at once (truncated BPTT's forward pass is the untruncated one).
    #[test]
    fn chunks_carrying_the_state_equal_the_whole_sequence() {
        let xs = randn(29, &[&[75, 6, 3], &[3, 12], &[3, 12], &[12]]);
        let v: Vec<Var> = xs.iter().map(|t| Var::constant(t.clone())).collect();
        let whole = v[0].lstm(&v[1], &v[2], &v[3], true);
        let zero = Var::constant(crate::Tensor::zeros(&[75, 3]));
        let weights = [&v[1], &v[2], &v[3]];
        let (first, [h, c]) = v[0].slice(1, 0..4).lstm_from(weights, true, None, (&zero, &zero));
        let (second, _) = v[0].slice(1, 4..6).lstm_from(weights, true, None, (&Var::constant(h), &Var::constant(c)));
        let chunked = Var::concat(&[first, second], 1);
        for (a, b) in chunked.value().data().iter().zip(whole.value().data()) {
            assert!((a - b).abs() < 1e-6, "{a} vs {b}");
        }
    }

    #[test]
    fn lstm_from_a_given_state_equals_its_definition() {
        let xs = randn(30, &[&[75, 4, 5], &[5, 12], &[3, 12], &[12], &[75, 3], &[75, 3]]);
        let fused = |v: &[Var]| v[0].lstm_from([&v[1], &v[2], &v[3]], true, None, (&v[4], &v[5])).0;
        let definition = |v: &[Var]| composed_from(&v[0], &v[1], &v[2], &v[3], (&v[4], &v[5]));
        assert_same_as_composed(&xs, &["x", "W", "U", "b", "h_0", "c_0"], fused, definition, "lstm from a state");
    }

    /// Every state of the recurrence from (h_0, c_0), by its definition.
    fn composed_from(x: &Var, w: &Var, u: &Var, b: &Var, (h0, c0): (&Var, &Var)) -> Var {
        let (m, steps, f) = (x.shape()[0], x.shape()[1], x.shape()[2]);
        let h = u.shape()[0];
        let (mut states, mut c) = (vec![h0.clone()], c0.clone());
        for t in 0..steps {
            let prev = states.last().expect("h_0 at least");
            let a = x.slice(1, t..t + 1).reshape(&[m, f]).matmul(w).add(b).add(&prev.matmul(u));
            let block = |k: usize| a.slice(1, k * h..(k + 1) * h);
            let (i, fg, g, o) = (block(0).sigmoid(), block(1).sigmoid(), block(2).tanh(), block(3).sigmoid());
            c = fg.mul(&c).add(&i.mul(&g));
            states.push(o.mul(&c.tanh()));
        }
        let stacked: Vec<Var> = states[1..].iter().map(|s| s.reshape(&[m, 1, h])).collect();
        Var::concat(&stacked, 1)
    }

    /// The op takes its buffers from the spare ones of earlier calls, stale values and all: after
    /// calls with other data and other sizes, a call gives the bits that it gives on a fresh
    /// thread, which has no spare buffers (output and every gradient; plain, from a state, masked).
    #[test]
    fn stale_spare_buffers_never_reach_a_result() {
        let shapes =
            |m: usize, steps: usize| [vec![m, steps, 5], vec![5, 12], vec![3, 12], vec![12], vec![m, 3], vec![m, 3]];
        let inputs = |seed: u64, m: usize, steps: usize| {
            let shapes = shapes(m, steps);
            randn(seed, &shapes.iter().map(|s| &s[..]).collect::<Vec<_>>())
        };
        let run = |xs: &[crate::Tensor]| -> Vec<Vec<f32>> {
            let v: Vec<Var> = xs.iter().map(|t| Var::leaf(t.clone())).collect();
            let m = xs[0].shape()[0];
            let steps = xs[0].shape()[1];
            let lengths: Vec<usize> = (0..m).map(|r| r % (steps + 1)).collect();
            let outs = [
                v[0].lstm(&v[1], &v[2], &v[3], false),
                v[0].lstm_from([&v[1], &v[2], &v[3]], true, None, (&v[4], &v[5])).0,
                v[0].lstm_masked(&v[1], &v[2], &v[3], true, &lengths),
            ];
            let mut bits = Vec::new();
            for out in outs {
                let grads = out.mul(&out).sum().backward();
                bits.push(out.value().data().to_vec());
                bits.extend(v.iter().filter_map(|v| grads.get(v)).map(|g| g.data().to_vec()));
            }
            bits
        };
        let xs = inputs(31, 75, 4);
        let fresh = {
            let xs = xs.clone();
            std::thread::spawn(move || run(&xs)).join().expect("a fresh thread's run")
        };
        for (seed, m, steps) in [(32, 75, 4), (33, 90, 7), (34, 20, 2)] {
            run(&inputs(seed, m, steps));
        }
        assert!(run(&xs) == fresh, "a call after others differs from one on a fresh thread");
    }

    #[test]
    fn lstm_masked_passes_gradient_check_through_time() {
        // rows of 3 steps, 1 step and none out of 4
        let xs = randn(25, &[&[3, 4, 2], &[2, 8], &[2, 8], &[8]]);
        for sequence in [false, true] {
            check(&xs, |v| v[0].lstm_masked(&v[1], &v[2], &v[3], sequence, &[3, 1, 0]));
        }
    }

    #[test]
    fn lstm_masked_gives_each_row_what_it_gets_alone_at_its_length() {
        let xs = randn(26, &[&[6, 5, 3], &[3, 12], &[3, 12], &[12]]);
        assert_masked_equals_rows_alone(
            &xs,
            &[5, 1, 3, 0, 5, 2],
            |v, lengths| v[0].lstm_masked(&v[1], &v[2], &v[3], false, lengths),
            |v| v[0].lstm(&v[1], &v[2], &v[3], false),
            "lstm",
        );
    }
}
