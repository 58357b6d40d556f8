//! Recurrent layers on the device: the Elman RNN, the LSTM and the GRU, stacked and
//! bidirectional as on the CPU (nn/rnn.rs, nn/lstm.rs, nn/gru.rs, nn/stacked.rs), with the
//! equations, gate order and BPTT of ops/rnn.rs, ops/lstm.rs and ops/gru.rs.
//!
//! Each direction of each layer runs as the CPU op does: x·W + b for every step in one GEMM;
//! then, step by step, h_{t−1}·U by the GEMM kernel and a fused kernel for the gates and the
//! state (`kernels/recurrent.rs`); backward, step by step in reverse, a fused kernel for the
//! cell's gradients and a GEMM for δh_{t−1}; then each weight gradient in one GEMM over every
//! step. A reverse direction reads the steps from T down to 1 and stores its states at their
//! own step, so that the two directions' states sit side by side in time order with no
//! reversal of the data (the CPU reverses the sequence, runs the cell, and reverses back).
//!
//! # Shapes (m rows of a batch, at most the capacity)
//! - input x: m × T × F, batch-major as on the CPU; made time-major (T × m × F) first
//! - each layer's output: T × m × D·H, time-major (D = 2 when bidirectional), forward direction
//!   in columns 0..H; layer k + 1 reads it (through dropout in training)
//! - output: the last layer's every state m × T × D·H (`sequence`), or m × D·H: the forward
//!   direction's h_T beside the reverse direction's state after reading back to step 1
//! - a direction's weights: W F_k × G·H, U H × G·H, b G·H (and the GRU's b_h G·H), G = 1, 4, 3
//!   for the Elman cell, the LSTM and the GRU

use super::buffer::{download_f32, zeroed};
use super::kernels::{self, Block, Step};
use super::{Gpu, GpuTensor};
use crate::nn::{DropoutRule, LayerSpec};
use crate::rng::Rng;
use crate::tensor::{Tensor, Transpose};
use crate::{Error, Result};

/// The cell of a recurrent layer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum CellKind {
    Rnn,
    Lstm,
    Gru,
}

impl CellKind {
    /// G, the blocks of its pre-activations (a GEMM's width is G·H).
    fn blocks(self) -> usize {
        match self {
            CellKind::Rnn => 1,
            CellKind::Lstm => 4,
            CellKind::Gru => 3,
        }
    }

    /// Its parameters: W, U, b (and the GRU's b_h).
    fn params(self) -> usize {
        if self == CellKind::Gru { 4 } else { 3 }
    }
}

/// One direction of one layer: its weights and their gradients, and the work buffers of a
/// batch (sized for `capacity` rows; see [`GpuRecurrent`]).
struct Direction {
    /// Reads the steps from T down to 1.
    reverse: bool,
    /// W, U, b (and b_h).
    weights: Vec<GpuTensor>,
    grads: Vec<wgpu::Buffer>,
    /// The pre-activations, then the gates (T·m × G·H).
    gates: wgpu::Buffer,
    /// Forward: h_{t−1}·U of one step (m × G·H); backward: the gradient of one step's product
    /// with U.
    rec: wgpu::Buffer,
    /// The LSTM's c_t, the GRU's h_n (T·m × H); unused by the Elman cell.
    cell: wgpu::Buffer,
    /// h_t (T·m × H).
    h: wgpu::Buffer,
    /// h_{t−1} at slot t (T·m × H).
    h_prev: wgpu::Buffer,
    /// Forward: h_t of the last step (m × H); backward: δh that reached it from step t+1.
    state: wgpu::Buffer,
    /// ∂E/∂h_t from the layer's output (T·m × H).
    dh_out: wgpu::Buffer,
    /// ∂E/∂ of x_t·W + b of every step (T·m × G·H).
    da: wgpu::Buffer,
    /// The GRU's ∂E/∂ of h_{t−1}·U + b_h (T·m × G·H); unused by the other cells.
    dh_parts: wgpu::Buffer,
    /// The LSTM's δc (m × H); unused by the other cells.
    dc: wgpu::Buffer,
}

impl Direction {
    fn new(gpu: &Gpu, reverse: bool, weights: &[&Tensor]) -> Direction {
        let one = || zeroed(gpu, 1);
        Direction {
            reverse,
            weights: weights.iter().map(|w| GpuTensor::upload(gpu, w)).collect(),
            grads: weights.iter().map(|w| zeroed(gpu, w.numel())).collect(),
            gates: one(),
            rec: one(),
            cell: one(),
            h: one(),
            h_prev: one(),
            state: one(),
            dh_out: one(),
            da: one(),
            dh_parts: one(),
            dc: one(),
        }
    }

    fn reserve(&mut self, gpu: &Gpu, kind: CellKind, (rows, steps, h): (usize, usize, usize)) {
        let (all, gh) = (rows * steps, kind.blocks() * h);
        let sized = |used: bool, n: usize| zeroed(gpu, if used { n } else { 1 });
        self.gates = zeroed(gpu, all * gh);
        self.rec = zeroed(gpu, rows * gh);
        self.cell = sized(kind != CellKind::Rnn, all * h);
        self.h = zeroed(gpu, all * h);
        self.h_prev = zeroed(gpu, all * h);
        self.state = zeroed(gpu, rows * h);
        self.dh_out = zeroed(gpu, all * h);
        self.da = zeroed(gpu, all * gh);
        self.dh_parts = sized(kind == CellKind::Gru, all * gh);
        self.dc = sized(kind == CellKind::Lstm, rows * h);
    }

    /// The slot of the `s`-th step read, and of the one read before it.
    fn slot(&self, s: usize, steps: usize) -> (usize, Option<usize>) {
        if self.reverse { (steps - 1 - s, (s > 0).then(|| steps - s)) } else { (s, s.checked_sub(1)) }
    }

    /// Every step forward, from the layer's time-major input `x` (T·m × F).
    fn forward(&self, gpu: &Gpu, kind: CellKind, (m, steps, h): (usize, usize, usize), x: &wgpu::Buffer, f: usize) {
        let (all, gh) = (m * steps, kind.blocks() * h);
        let [w, u, b] = [0, 1, 2].map(|i| self.weights[i].buffer());
        // x_t·W + 1·b for every step at once
        kernels::gemm(gpu, (all, gh, f), x, Transpose::No, w, Transpose::No, &self.gates, false);
        kernels::bias_add(gpu, all, gh, b, &self.gates);
        for s in 0..steps {
            let (t, prev) = self.slot(s, steps);
            if prev.is_some() {
                kernels::gemm(gpu, (m, gh, h), &self.state, Transpose::No, u, Transpose::No, &self.rec, false);
            }
            let step = Step { m, h, t, prev, first: false };
            match kind {
                CellKind::Lstm => kernels::lstm_forward(
                    gpu,
                    step,
                    [&self.gates, &self.rec, &self.cell, &self.h, &self.h_prev, &self.state],
                ),
                CellKind::Gru => kernels::gru_forward(
                    gpu,
                    step,
                    [&self.gates, &self.rec, self.weights[3].buffer(), &self.cell, &self.h, &self.h_prev, &self.state],
                ),
                CellKind::Rnn => {
                    kernels::rnn_forward(gpu, step, [&self.gates, &self.rec, &self.h, &self.h_prev, &self.state])
                }
            }
        }
    }

    /// BPTT from ∂E/∂h_t in `dh_out`, then the weights' gradients from the layer's input `x`
    /// (T·m × F); with `dx`, also ∂E/∂x (T·m × F) into its buffer, added to what is there when
    /// its flag says so (the second direction of a layer).
    fn backward(
        &self,
        gpu: &Gpu,
        kind: CellKind,
        (m, steps, h): (usize, usize, usize),
        (x, f): (&wgpu::Buffer, usize),
        dx: Option<(&wgpu::Buffer, bool)>,
    ) {
        let (all, gh) = (m * steps, kind.blocks() * h);
        let [w, u] = [0, 1].map(|i| self.weights[i].buffer());
        for s in (0..steps).rev() {
            let (t, prev) = self.slot(s, steps);
            let step = Step { m, h, t, prev, first: s + 1 == steps };
            match kind {
                CellKind::Lstm => kernels::lstm_backward(
                    gpu,
                    step,
                    [&self.gates, &self.cell, &self.dh_out, &self.da, &self.rec, &self.state, &self.dc],
                ),
                CellKind::Gru => kernels::gru_backward(
                    gpu,
                    step,
                    [
                        &self.gates,
                        &self.cell,
                        &self.h_prev,
                        &self.dh_out,
                        &self.da,
                        &self.dh_parts,
                        &self.rec,
                        &self.state,
                    ],
                ),
                CellKind::Rnn => {
                    kernels::rnn_backward(gpu, step, [&self.h, &self.dh_out, &self.da, &self.rec, &self.state])
                }
            }
            if prev.is_some() {
                // δh_{t−1} = ∂E/∂(h_{t−1}·U)·Uᵀ (the GRU's kernel left δh⊙z there to add to)
                let add = kind == CellKind::Gru;
                kernels::gemm(gpu, (m, h, gh), &self.rec, Transpose::No, u, Transpose::Yes, &self.state, add);
            }
        }
        // what U multiplied against its products' gradients, over every step in one GEMM each
        let d_rec = if kind == CellKind::Gru { &self.dh_parts } else { &self.da };
        let g = &self.grads;
        kernels::gemm(gpu, (f, gh, all), x, Transpose::Yes, &self.da, Transpose::No, &g[0], false);
        kernels::gemm(gpu, (h, gh, all), &self.h_prev, Transpose::Yes, d_rec, Transpose::No, &g[1], false);
        kernels::column_sum(gpu, all, gh, &self.da, &g[2]);
        if kind == CellKind::Gru {
            kernels::column_sum(gpu, all, gh, &self.dh_parts, &g[3]);
        }
        if let Some((dx, add)) = dx {
            kernels::gemm(gpu, (all, f, gh), &self.da, Transpose::No, w, Transpose::Yes, dx, add);
        }
    }
}

/// One layer of a recurrent net's spec (`rnn`, `lstm` or `gru`, stacked and bidirectional) on the
/// device (see the module's documentation).
pub struct GpuRecurrent {
    kind: CellKind,
    /// T, F (of the input), H.
    steps: usize,
    features: usize,
    hidden: usize,
    sequence: bool,
    /// Dropout between layers in training (0: none).
    dropout: f32,
    /// Each layer's directions (one, or forward and reverse).
    layers: Vec<Vec<Direction>>,
    capacity: usize,
    /// The input, time-major (T·m × F), and its gradient.
    xt: wgpu::Buffer,
    dxt: wgpu::Buffer,
    /// Each layer's output (T·m × D·H) and its gradient.
    outs: Vec<wgpu::Buffer>,
    d_outs: Vec<wgpu::Buffer>,
    /// Each layer's output after dropout and its mask, but the last's (with dropout only), and
    /// the gradient reaching the dropped values.
    dropped: Vec<(wgpu::Buffer, wgpu::Buffer)>,
    d_dropped: wgpu::Buffer,
}

impl GpuRecurrent {
    /// The number of parameters (weights and biases) the layer `spec` holds, if it is a
    /// recurrent one.
    pub(super) fn param_count(spec: &LayerSpec) -> Option<usize> {
        let (kind, cells) = match spec {
            LayerSpec::Rnn(_) => (CellKind::Rnn, 1),
            LayerSpec::Lstm(s) => (CellKind::Lstm, s.layers * (1 + usize::from(s.bidirectional))),
            LayerSpec::Gru(s) => (CellKind::Gru, s.layers * (1 + usize::from(s.bidirectional))),
            _ => return None,
        };
        Some(cells * kind.params())
    }

    /// The layer `spec` (an `rnn`, `lstm` or `gru`) over inputs of one sample's shape `input`
    /// (T × F), with its parameters `weights` in the model's order (each direction's W, U, b, and
    /// the GRU's b_h; layer by layer, forward direction first), and work buffers for batches of up
    /// to `capacity` rows. An error if `spec` is no recurrent layer or the weights do not fit.
    pub fn new(gpu: &Gpu, spec: &LayerSpec, input: &[usize], weights: &[&Tensor], capacity: usize) -> Result<Self> {
        let (kind, hidden, sequence, (layers, dropout, bidirectional)) = match spec {
            LayerSpec::Rnn(s) => (CellKind::Rnn, s.hidden, s.sequence, (1, 0.0, false)),
            LayerSpec::Lstm(s) => (CellKind::Lstm, s.hidden, s.sequence, (s.layers, s.dropout, s.bidirectional)),
            LayerSpec::Gru(s) => (CellKind::Gru, s.hidden, s.sequence, (s.layers, s.dropout, s.bidirectional)),
            _ => return Err(Error::config("GpuRecurrent: the layer is no rnn, lstm or gru")),
        };
        let [steps, features] = *input else {
            return Err(Error::config(format!("GpuRecurrent: input shape {input:?}, want T × F")));
        };
        let directions = 1 + usize::from(bidirectional);
        let (per_cell, gh) = (kind.params(), kind.blocks() * hidden);
        if weights.len() != layers * directions * per_cell {
            return Err(Error::config(format!(
                "GpuRecurrent: {} weights for {layers} layers of {directions} directions of {kind:?} cells",
                weights.len()
            )));
        }
        let mut cells = weights.chunks(per_cell);
        let mut built = Vec::new();
        for k in 0..layers {
            let f = if k == 0 { features } else { directions * hidden };
            let mut layer = Vec::new();
            for reverse in [false, true].into_iter().take(directions) {
                let w = cells.next().expect("counted above");
                let want = [[f, gh], [hidden, gh], [gh, 1], [gh, 1]];
                let fits = w.iter().zip(want).all(|(w, [a, b])| w.numel() == a * b && w.shape()[0] == a);
                if !fits {
                    let shapes: Vec<&[usize]> = w.iter().map(|w| w.shape()).collect();
                    return Err(Error::config(format!(
                        "GpuRecurrent: layer {k}'s weights {shapes:?} do not fit F = {f}, H = {hidden} ({kind:?})"
                    )));
                }
                layer.push(Direction::new(gpu, reverse, w));
            }
            built.push(layer);
        }
        let mut net = GpuRecurrent {
            kind,
            steps,
            features,
            hidden,
            sequence,
            dropout,
            layers: built,
            capacity: 0,
            xt: zeroed(gpu, 1),
            dxt: zeroed(gpu, 1),
            outs: Vec::new(),
            d_outs: Vec::new(),
            dropped: Vec::new(),
            d_dropped: zeroed(gpu, 1),
        };
        net.reserve(gpu, capacity);
        Ok(net)
    }

    /// Makes the work buffers hold batches of `rows` rows.
    pub fn reserve(&mut self, gpu: &Gpu, rows: usize) {
        if rows <= self.capacity {
            return;
        }
        let dims = (rows, self.steps, self.hidden);
        let all = rows * self.steps;
        let width = self.width();
        for direction in self.layers.iter_mut().flatten() {
            direction.reserve(gpu, self.kind, dims);
        }
        self.xt = zeroed(gpu, all * self.features);
        self.dxt = zeroed(gpu, all * self.features);
        self.outs = self.layers.iter().map(|_| zeroed(gpu, all * width)).collect();
        self.d_outs = self.layers.iter().map(|_| zeroed(gpu, all * width)).collect();
        if self.dropout > 0.0 {
            let between = self.layers.len() - 1;
            self.dropped = (0..between).map(|_| (zeroed(gpu, all * width), zeroed(gpu, all * width))).collect();
            self.d_dropped = zeroed(gpu, all * width);
        }
        self.capacity = rows;
    }

    /// D·H, the width of a layer's states.
    fn width(&self) -> usize {
        self.layers[0].len() * self.hidden
    }

    /// The forward pass of `rows` rows of `x` (m × T × F) into `y` (m × T × D·H with
    /// `sequence`, else m × D·H). In training (`seed` given) dropout between layer k and k + 1
    /// draws its mask from the stream `Rng::derive(seed, k)`; in test mode it passes its input.
    pub fn forward(&self, gpu: &Gpu, rows: usize, x: &wgpu::Buffer, y: &wgpu::Buffer, seed: Option<u64>) {
        assert!(rows <= self.capacity, "GpuRecurrent::forward: {rows} rows, the buffers hold {}", self.capacity);
        let (steps, h, width) = (self.steps, self.hidden, self.width());
        let (dims, all, last) = ((rows, steps, h), rows * steps, self.layers.len() - 1);
        kernels::swap_axes(gpu, (rows, steps, self.features), x, &self.xt);
        let mut input = &self.xt;
        for (k, layer) in self.layers.iter().enumerate() {
            let f = if k == 0 { self.features } else { width };
            for (d, direction) in layer.iter().enumerate() {
                direction.forward(gpu, self.kind, dims, input, f);
                if k < last || self.sequence {
                    let src = Block { buffer: &direction.h, width: h, row: 0, col: 0 };
                    let dst = Block { buffer: &self.outs[k], width, row: 0, col: d * h };
                    kernels::copy_block(gpu, (all, h), src, dst);
                }
            }
            input = match (seed, self.dropped.get(k)) {
                (Some(seed), Some((values, mask))) => {
                    let stream = Rng::derive(seed, k as u64).next_u64();
                    let n = all * width;
                    kernels::dropout_forward(
                        gpu,
                        n,
                        self.dropout,
                        DropoutRule::Inverted,
                        stream,
                        &self.outs[k],
                        values,
                        mask,
                    );
                    values
                }
                _ => &self.outs[k],
            };
        }
        if self.sequence {
            kernels::swap_axes(gpu, (steps, rows, width), &self.outs[last], y);
        } else {
            for (d, direction) in self.layers[last].iter().enumerate() {
                let slot = if direction.reverse { 0 } else { steps - 1 };
                let src = Block { buffer: &direction.h, width: h, row: slot * rows, col: 0 };
                kernels::copy_block(gpu, (rows, h), src, Block { buffer: y, width, row: 0, col: d * h });
            }
        }
    }

    /// The backward pass after [`GpuRecurrent::forward`] of the same `rows` (in training, when
    /// there is dropout between layers), from ∂E/∂y in `dy`: every weight's gradient in its
    /// buffer, and with `dx`, ∂E/∂x (m × T × F) into it.
    pub fn backward(&self, gpu: &Gpu, rows: usize, dy: &wgpu::Buffer, dx: Option<&wgpu::Buffer>) {
        let (steps, h, width) = (self.steps, self.hidden, self.width());
        let (dims, all, last) = ((rows, steps, h), rows * steps, self.layers.len() - 1);
        if self.sequence {
            kernels::swap_axes(gpu, (rows, steps, width), dy, &self.d_outs[last]);
            self.split(gpu, last, all);
        } else {
            for (d, direction) in self.layers[last].iter().enumerate() {
                let slot = if direction.reverse { 0 } else { steps - 1 };
                kernels::fill_zero(gpu, all * h, &direction.dh_out);
                let src = Block { buffer: dy, width, row: 0, col: d * h };
                kernels::copy_block(
                    gpu,
                    (rows, h),
                    src,
                    Block { buffer: &direction.dh_out, width: h, row: slot * rows, col: 0 },
                );
            }
        }
        for (k, layer) in self.layers.iter().enumerate().rev() {
            let (input, f) = match k {
                0 => (&self.xt, self.features),
                _ => (self.dropped.get(k - 1).map_or(&self.outs[k - 1], |(values, _)| values), width),
            };
            let target = match k {
                0 => dx.is_some().then_some(&self.dxt),
                _ if self.dropped.is_empty() => Some(&self.d_outs[k - 1]),
                _ => Some(&self.d_dropped),
            };
            for (d, direction) in layer.iter().enumerate() {
                direction.backward(gpu, self.kind, dims, (input, f), target.map(|t| (t, d > 0)));
            }
            if k > 0 {
                if let Some((_, mask)) = self.dropped.get(k - 1) {
                    kernels::dropout_backward(gpu, all * width, &self.d_dropped, mask, &self.d_outs[k - 1]);
                }
                self.split(gpu, k - 1, all);
            }
        }
        if let Some(dx) = dx {
            kernels::swap_axes(gpu, (steps, rows, self.features), &self.dxt, dx);
        }
    }

    /// Layer k's output gradient (T·m × D·H) into each direction's ∂E/∂h_t.
    fn split(&self, gpu: &Gpu, k: usize, all: usize) {
        let (h, width) = (self.hidden, self.width());
        for (d, direction) in self.layers[k].iter().enumerate() {
            let src = Block { buffer: &self.d_outs[k], width, row: 0, col: d * h };
            kernels::copy_block(gpu, (all, h), src, Block { buffer: &direction.dh_out, width: h, row: 0, col: 0 });
        }
    }

    /// Every weight with its gradient buffer, in the model's order.
    pub fn params(&self) -> Vec<(&GpuTensor, &wgpu::Buffer)> {
        self.layers.iter().flatten().flat_map(|d| d.weights.iter().zip(&d.grads)).collect()
    }

    /// The gradients of the last backward pass, in the model's order, on the CPU (for tests).
    pub fn gradients(&self, gpu: &Gpu) -> Vec<Tensor> {
        let download =
            |(w, g): (&GpuTensor, &wgpu::Buffer)| Tensor::from_vec(download_f32(gpu, g, w.numel()), w.shape());
        self.params().into_iter().map(download).collect()
    }
}
