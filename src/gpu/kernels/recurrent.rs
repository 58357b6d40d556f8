//! The launches of the recurrent layers' kernels: one time step of the LSTM (`shaders/lstm.wgsl`),
//! GRU (`gru.wgsl`) and Elman (`rnn.wgsl`) recurrences, forward and backward, the device twins of
//! the per-step cell work in ops/lstm.rs, ops/gru.rs and ops/rnn.rs; and the moves of their
//! time-major buffers (`sequence.wgsl`). The GEMMs around each step are [`super::gemm`]'s;
//! `gpu/recurrent.rs` puts the two together into whole layers.

use super::word;
use crate::gpu::Gpu;
use crate::gpu::context::groups_for;

/// The recurrent kernels' pipelines.
pub(in crate::gpu) struct RecurrentPipelines {
    lstm_forward: wgpu::ComputePipeline,
    lstm_backward: wgpu::ComputePipeline,
    gru_forward: wgpu::ComputePipeline,
    gru_backward: wgpu::ComputePipeline,
    rnn_forward: wgpu::ComputePipeline,
    rnn_backward: wgpu::ComputePipeline,
    swap: wgpu::ComputePipeline,
    copy: wgpu::ComputePipeline,
    fill: wgpu::ComputePipeline,
}

impl RecurrentPipelines {
    /// The pipelines of the four shader modules, made by `pipeline` from `module(name, source)`.
    pub(in crate::gpu) fn new(
        module: impl Fn(&str, &str) -> wgpu::ShaderModule,
        pipeline: impl Fn(&wgpu::ShaderModule, &str) -> wgpu::ComputePipeline,
    ) -> RecurrentPipelines {
        let lstm = module("lstm", include_str!("../shaders/lstm.wgsl"));
        let gru = module("gru", include_str!("../shaders/gru.wgsl"));
        let rnn = module("rnn", include_str!("../shaders/rnn.wgsl"));
        let sequence = module("sequence", include_str!("../shaders/sequence.wgsl"));
        RecurrentPipelines {
            lstm_forward: pipeline(&lstm, "forward"),
            lstm_backward: pipeline(&lstm, "backward"),
            gru_forward: pipeline(&gru, "forward"),
            gru_backward: pipeline(&gru, "backward"),
            rnn_forward: pipeline(&rnn, "forward"),
            rnn_backward: pipeline(&rnn, "backward"),
            swap: pipeline(&sequence, "swap"),
            copy: pipeline(&sequence, "copy"),
            fill: pipeline(&sequence, "fill"),
        }
    }
}

/// One time step of a recurrence over a batch, in buffers that are time-major (T × m × ·):
/// step `t`'s rows are t·m .. (t+1)·m.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Step {
    /// m, the batch's rows.
    pub m: usize,
    /// H, the units.
    pub h: usize,
    /// The slot t of this step.
    pub t: usize,
    /// The slot of the step read before this one (t − 1, or t + 1 for a reverse cell), whose h
    /// and c this one starts from; `None` at the first (h_0 = c_0 = 0).
    pub prev: Option<usize>,
    /// Backward: whether this is the first step of BPTT (the last one read), where no gradient
    /// has come from later steps yet.
    pub first: bool,
}

impl Step {
    /// The shaders' `Params`.
    fn params(&self) -> [u32; 8] {
        let prev = self.prev.map_or(u32::MAX, |p| word(p, "step"));
        [word(self.m, "m"), word(self.h, "H"), word(self.t, "step"), prev, u32::from(self.first), 0, 0, 0]
    }

    fn groups(&self) -> [u32; 3] {
        groups_for(self.m * self.h)
    }
}

/// LSTM forward step: from the pre-activations x_t·W + b in `gates` (T·m × 4H, blocks i, f, g,
/// o; activated in place) and h_{t−1}·U in `rec` (m × 4H), writes c_t and h_t into `c` and `h`
/// (T·m × H), h_{t−1} into `h_prev` at slot t, and h_t into `state` (m × H) for the next step's
/// GEMM. Buffers: `[gates, rec, c, h, h_prev, state]`.
pub fn lstm_forward(gpu: &Gpu, step: Step, buffers: [&wgpu::Buffer; 6]) {
    gpu.launch(&gpu.kernels.recurrent.lstm_forward, &step.params(), &buffers, step.groups());
}

/// LSTM backward step (BPTT, from t = T down): from the activated `gates`, `c`, ∂E/∂h_t of the
/// output `dh_out` (T·m × H), and δh (`dh_next`) and δc (`dc`, m × H each) from step t+1, writes
/// ∂E/∂a_t into `da` (T·m × 4H) and `da_step` (m × 4H), and turns `dc` into δc of step t−1; the
/// caller's GEMM `da_step`·Uᵀ then gives δh of step t−1. Buffers: `[gates, c, dh_out, da,
/// da_step, dh_next, dc]`.
pub fn lstm_backward(gpu: &Gpu, step: Step, buffers: [&wgpu::Buffer; 7]) {
    gpu.launch(&gpu.kernels.recurrent.lstm_backward, &step.params(), &buffers, step.groups());
}

/// GRU forward step: from the input parts x_t·W + b_x in `gates` (T·m × 3H, blocks r, z, n;
/// turned into the gates in place), h_{t−1}·U in `rec` (m × 3H) and `b_h` (3H), writes h_n
/// and h_t (T·m × H), h_{t−1} into `h_prev` at slot t, and h_t into `state` (m × H). Buffers:
/// `[gates, rec, b_h, h_n, h, h_prev, state]`.
pub fn gru_forward(gpu: &Gpu, step: Step, buffers: [&wgpu::Buffer; 7]) {
    gpu.launch(&gpu.kernels.recurrent.gru_forward, &step.params(), &buffers, step.groups());
}

/// GRU backward step: from the `gates`, `h_n`, `h_prev`, ∂E/∂h_t of the output `dh_out` and δh
/// from step t+1 (`dh_next`, m × H), writes the gradients of the input parts `dx_parts` and of
/// the recurrent parts `dh_parts` (T·m × 3H each) and `dh_step` (the latter's step, m × 3H), and
/// turns `dh_next` into δh⊙z; the caller's GEMM adds `dh_step`·Uᵀ to make δh of step t−1.
/// Buffers: `[gates, h_n, h_prev, dh_out, dx_parts, dh_parts, dh_step, dh_next]`.
pub fn gru_backward(gpu: &Gpu, step: Step, buffers: [&wgpu::Buffer; 8]) {
    gpu.launch(&gpu.kernels.recurrent.gru_backward, &step.params(), &buffers, step.groups());
}

/// Elman forward step: h_t = tanh(`pre` + `rec`) from x_t·W + b (T·m × H) and h_{t−1}·U
/// (m × H), into `h`; h_{t−1} into `h_prev` at slot t; h_t into `state` (m × H). Buffers:
/// `[pre, rec, h, h_prev, state]`.
pub fn rnn_forward(gpu: &Gpu, step: Step, buffers: [&wgpu::Buffer; 5]) {
    gpu.launch(&gpu.kernels.recurrent.rnn_forward, &step.params(), &buffers, step.groups());
}

/// Elman backward step: ∂E/∂a_t = (δh_out + δh_next)⊙(1 − h_t²) into `da` (T·m × H) and
/// `da_step` (m × H); the caller's GEMM `da_step`·Uᵀ gives δh of step t−1. Buffers: `[h,
/// dh_out, da, da_step, dh_next]`.
pub fn rnn_backward(gpu: &Gpu, step: Step, buffers: [&wgpu::Buffer; 5]) {
    gpu.launch(&gpu.kernels.recurrent.rnn_backward, &step.params(), &buffers, step.groups());
}

/// `dst` (b × a × w) = `src` (a × b × w) with its two leading axes swapped: batch-major
/// (m × T × ·) to time-major (T × m × ·) and back, as ops/recurrent.rs's `swap_leading_axes`.
pub fn swap_axes(gpu: &Gpu, (a, b, w): (usize, usize, usize), src: &wgpu::Buffer, dst: &wgpu::Buffer) {
    let params = [word(a, "a"), word(b, "b"), word(w, "w"), 0, 0, 0, 0, 0];
    gpu.launch(&gpu.kernels.recurrent.swap, &params, &[src, dst], groups_for(a * b * w));
}

/// One side of a [`copy_block`]: a buffer of rows `width` wide, and the block's first row and
/// column in it.
#[derive(Clone, Copy)]
pub struct Block<'a> {
    /// The buffer.
    pub buffer: &'a wgpu::Buffer,
    /// Its rows' width.
    pub width: usize,
    /// The block's first row.
    pub row: usize,
    /// The block's first column.
    pub col: usize,
}

/// Copies a block of `rows` × `cols` values from `src` to `dst`: one direction's states into
/// its columns of a bidirectional layer's output, and back for their gradients; a step's slot
/// out of a time-major buffer.
pub fn copy_block(gpu: &Gpu, (rows, cols): (usize, usize), src: Block, dst: Block) {
    let params = [
        word(rows, "rows"),
        word(cols, "cols"),
        word(src.width, "width"),
        word(src.col, "column"),
        word(src.row, "row"),
        word(dst.width, "width"),
        word(dst.col, "column"),
        word(dst.row, "row"),
    ];
    gpu.launch(&gpu.kernels.recurrent.copy, &params, &[src.buffer, dst.buffer], groups_for(rows * cols));
}

/// The first `n` values of `out` ← 0.
pub fn fill_zero(gpu: &Gpu, n: usize, out: &wgpu::Buffer) {
    let params = [word(n, "n"), 0, 0, 0, 0, 0, 0, 0];
    gpu.launch(&gpu.kernels.recurrent.fill, &params, &[out], groups_for(n));
}
