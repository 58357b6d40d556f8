//! What the recurrent ops (`rnn.rs`, `lstm.rs`, `gru.rs`) share: their time-major layout, the
//! split of a step's rows into the blocks that threads run through every step, and the gradients
//! that follow from the pre-activations' gradients once BPTT has produced them for every step.
//!
//! Rows of a batch never mix in a recurrence: h_t of row r depends only on x_{1..t} and h_{t−1} of
//! row r. So each thread takes one block of rows through all T steps (forward, then BPTT), in
//! one parallel section per pass instead of two per step, and its GEMMs of every step run on
//! one core over the same U, its rows' states staying in that core's cache. U (and Uᵀ for BPTT)
//! is packed once per pass for the micro-kernel (`tensor/packed.rs`), not once per step.

use crate::tensor::{Tensor, Transpose, gemm_into};

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

/// A time-major buffer (T × m × `width`) cut into blocks of `block` rows: `out[k][t]` holds rows
/// k·block.. of step t, so that block k goes to one thread for every step.
pub(super) fn blocks_mut(v: &mut [f32], m: usize, width: usize, block: usize) -> Vec<Vec<&mut [f32]>> {
    let mut out: Vec<Vec<&mut [f32]>> = (0..m.div_ceil(block)).map(|_| Vec::new()).collect();
    for step in v.chunks_mut(m * width) {
        for (k, part) in step.chunks_mut(block * width).enumerate() {
            out[k].push(part);
        }
    }
    out
}

/// [`blocks_mut`] for reading.
pub(super) fn blocks(v: &[f32], m: usize, width: usize, block: usize) -> Vec<Vec<&[f32]>> {
    let mut out: Vec<Vec<&[f32]>> = (0..m.div_ceil(block)).map(|_| Vec::new()).collect();
    for step in v.chunks(m * width) {
        for (k, part) in step.chunks(block * width).enumerate() {
            out[k].push(part);
        }
    }
    out
}

/// The op's output from every h_t (T × m × H, time-major): h_T (m × H), or with `sequence` every
/// h_t batch-major (m × T × H).
pub(super) fn output(hs: &[f32], m: usize, steps: usize, h: usize, sequence: bool) -> Tensor {
    if sequence {
        Tensor::from_vec(swap_leading_axes(hs, steps, m, h), &[m, steps, h])
    } else {
        Tensor::from_vec(hs[(steps - 1) * m * h..].to_vec(), &[m, h])
    }
}

/// ∂E/∂h_t from the output's gradient `delta`, time-major (T × m × H): zero before step T
/// unless the op returned every state.
pub(super) fn output_gradient(delta: &Tensor, m: usize, steps: usize, h: usize, sequence: bool) -> Vec<f32> {
    if sequence {
        swap_leading_axes(delta.data(), m, steps, h)
    } else {
        let mut last_only = vec![0.0; steps * m * h];
        last_only[(steps - 1) * m * h..].copy_from_slice(delta.data());
        last_only
    }
}

/// ∂E/∂x (m × T × F, batch-major) from the gradients of the input parts x_t·W of every step
/// (`da`, T·m × width, time-major) and W (F × width): da·Wᵀ.
pub(super) fn input_gradient(da: &[f32], w: &[f32], m: usize, steps: usize, f: usize) -> Tensor {
    let width = w.len() / f;
    let mut dxt = vec![0.0; steps * m * f];
    gemm_into(steps * m, f, width, da, Transpose::No, w, Transpose::Yes, &mut dxt, false);
    Tensor::from_vec(swap_leading_axes(&dxt, steps, m, f), &[m, steps, f])
}

/// A weight's gradient Σ_rows aᵀ·δ in one GEMM over every step: `a` holds what the weight
/// multiplied (x_t, or h_{t−1}; rows `k` wide), `da` the gradients of the products (rows `width`
/// wide), row for row. Shape k × width; zero when there are no rows (h_{t−1} of a single step).
pub(super) fn weight_gradient(a: &[f32], da: &[f32], k: usize, width: usize) -> Tensor {
    let n = da.len() / width;
    let mut dw = vec![0.0; k * width];
    gemm_into(k, width, n, a, Transpose::Yes, da, Transpose::No, &mut dw, false);
    Tensor::from_vec(dw, &[k, width])
}

/// A bias's gradient: the column sums of the gradients `da` (rows `width` wide), in `shape`.
pub(super) fn bias_gradient(da: Vec<f32>, width: usize, shape: &[usize]) -> Tensor {
    let n = da.len() / width;
    Tensor::from_vec(da, &[n, width]).sum_rows().reshape(shape)
}

/// Per-row sequence lengths of a batch (each at most T): a row whose sequence ended before step t
/// keeps its state through step t, and that step sends no gradient to its input nor to the weights.
#[derive(Clone, Debug)]
pub(super) struct Lengths(Option<Vec<usize>>);

impl Lengths {
    /// Every row runs for all T steps.
    pub(super) fn full() -> Self {
        Lengths(None)
    }

    /// The lengths of the m rows, checked against the op's input shape.
    #[track_caller]
    pub(super) fn of_rows(op: &str, lengths: &[usize], m: usize, steps: usize) -> Self {
        assert!(
            lengths.len() == m && lengths.iter().all(|&l| l <= steps),
            "{op}: {} lengths {lengths:?} for an input of {m} rows and {steps} steps (want one per row, each ≤ {steps})",
            lengths.len()
        );
        Lengths(Some(lengths.to_vec()))
    }

    /// Of the block of `rows` rows from row `r0`, those (block-local) whose sequence has ended
    /// before step `t`.
    pub(super) fn ended(&self, r0: usize, rows: usize, t: usize) -> Vec<usize> {
        match &self.0 {
            Some(lengths) => (0..rows).filter(|&j| lengths[r0 + j] <= t).collect(),
            None => Vec::new(),
        }
    }
}

/// Row `j` of `from` into `to`, both rows `width` wide.
pub(super) fn copy_row(to: &mut [f32], from: &[f32], j: usize, width: usize) {
    to[j * width..(j + 1) * width].copy_from_slice(&from[j * width..(j + 1) * width]);
}

#[cfg(test)]
pub(super) mod testing {
    //! The check shared by the recurrent ops' tests of [`Lengths`](super::Lengths).
    use crate::autodiff::Var;
    use crate::ops::testing::randn;
    use crate::tensor::Tensor;

    /// Asserts that an op over a padded batch with `lengths` (`masked`, returning h_T) gives each
    /// row the output and the gradients that running the row alone over its own steps (`plain`)
    /// gives: for the input (zero on the padding) and, summed over the rows, for every weight.
    /// `inputs[0]` is the batch (m × T × F), the rest are the weights.
    #[track_caller]
    pub fn assert_masked_equals_rows_alone(
        inputs: &[Tensor],
        lengths: &[usize],
        masked: impl Fn(&[Var], &[usize]) -> Var,
        plain: impl Fn(&[Var]) -> Var,
        what: &str,
    ) {
        let (m, steps, f) = (inputs[0].shape()[0], inputs[0].shape()[1], inputs[0].shape()[2]);
        let leaves: Vec<Var> = inputs.iter().map(|t| Var::leaf(t.clone())).collect();
        let out = masked(&leaves, lengths);
        let h = out.shape()[1];
        let weights = randn(28, &[&[m, h]]).remove(0);
        let grads = out.mul(&Var::constant(weights.clone())).sum().backward();
        let close = |p: f32, q: f32, part: &str| {
            assert!((p - q).abs() < 1e-5 * (1.0 + q.abs()), "{what}, {part}: {p} vs {q}");
        };
        let mut weight_sums: Vec<Vec<f32>> = inputs[1..].iter().map(|t| vec![0.0; t.numel()]).collect();
        let dx = grads.get(&leaves[0]).expect("input gradient");
        for (r, &len) in lengths.iter().enumerate() {
            let row = |t: &Tensor, width: usize| t.data()[r * width..(r + 1) * width].to_vec();
            let dx_r = row(dx, steps * f);
            if len == 0 {
                // h_T = h_0 = 0 and nothing reaches the input
                out.value().data()[r * h..(r + 1) * h].iter().for_each(|&v| close(v, 0.0, "output"));
                dx_r.iter().for_each(|&v| close(v, 0.0, "x"));
                continue;
            }
            let x_r = Tensor::from_vec(row(&inputs[0], steps * f)[..len * f].to_vec(), &[1, len, f]);
            let alone: Vec<Var> =
                std::iter::once(Var::leaf(x_r)).chain(inputs[1..].iter().map(|t| Var::leaf(t.clone()))).collect();
            let out_r = plain(&alone);
            let w_r = Tensor::from_vec(row(&weights, h), &[1, h]);
            let grads_r = out_r.mul(&Var::constant(w_r)).sum().backward();
            for (p, q) in row(out.value(), h).iter().zip(out_r.value().data()) {
                close(*p, *q, "output");
            }
            let dx_alone = grads_r.get(&alone[0]).expect("row's input gradient");
            for (t, (p, q)) in dx_r.iter().zip(dx_alone.data().iter().chain(std::iter::repeat(&0.0))).enumerate() {
                close(*p, *q, &format!("x of row {r}, step {}", t / f));
            }
            for (sum, leaf) in weight_sums.iter_mut().zip(&alone[1..]) {
                let g = grads_r.get(leaf).expect("row's weight gradient");
                sum.iter_mut().zip(g.data()).for_each(|(s, g)| *s += g);
            }
        }
        for (k, sum) in weight_sums.iter().enumerate() {
            let g = grads.get(&leaves[k + 1]).expect("weight gradient");
            for (p, q) in g.data().iter().zip(sum) {
                close(*p, *q, &format!("weight {k}"));
            }
        }
    }
}
