//! The launches of `shaders/regularize.wgsl`: the L1/L2 penalties' gradients, max-norm, and the
//! deterministic sums behind gradient clipping's global norm and the penalty's value; the device
//! twins of [`crate::train::Regularization`]'s methods.

use super::word;
use crate::gpu::Gpu;
use crate::gpu::context::groups_for;

/// The regularization kernels' pipelines.
pub(in crate::gpu) struct RegularizePipelines {
    penalty_grad: wgpu::ComputePipeline,
    max_norm: wgpu::ComputePipeline,
    partial_sums: wgpu::ComputePipeline,
    finish: wgpu::ComputePipeline,
    clip_scale: wgpu::ComputePipeline,
}

impl RegularizePipelines {
    /// The pipelines of `module` (regularize.wgsl), made by `pipeline`.
    pub(in crate::gpu) fn new(
        module: &wgpu::ShaderModule,
        pipeline: impl Fn(&wgpu::ShaderModule, &str) -> wgpu::ComputePipeline,
    ) -> RegularizePipelines {
        RegularizePipelines {
            penalty_grad: pipeline(module, "penalty_grad"),
            max_norm: pipeline(module, "max_norm"),
            partial_sums: pipeline(module, "partial_sums"),
            finish: pipeline(module, "finish"),
            clip_scale: pipeline(module, "clip_scale"),
        }
    }
}

/// What [`partial_sums`] adds up.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum SumOf {
    /// x², for a global norm.
    Squares,
    /// λ₁|x| + ½λ₂x², the L1 and L2 penalties.
    Penalty {
        /// λ₁.
        l1: f32,
        /// λ₂.
        l2: f32,
    },
}

fn params(n: usize, k: usize, offset: usize, (l1, l2, c): (f32, f32, f32)) -> [u32; 8] {
    [word(n, "n"), word(k, "k"), word(offset, "offset"), 0, l1.to_bits(), l2.to_bits(), c.to_bits(), 0]
}

/// g ← g + λ₂w + λ₁·sign(w) over `n` values.
pub fn penalty_grad(gpu: &Gpu, n: usize, (l1, l2): (f32, f32), w: &wgpu::Buffer, g: &wgpu::Buffer) {
    gpu.launch(&gpu.kernels.regularize.penalty_grad, &params(n, 0, 0, (l1, l2, 0.0)), &[w, g], groups_for(n));
}

/// Scales each column of W (`rows` × `cols`) whose norm is over `c` back onto ‖w_j‖ = c.
pub fn max_norm(gpu: &Gpu, (rows, cols): (usize, usize), c: f32, w: &wgpu::Buffer) {
    gpu.launch(&gpu.kernels.regularize.max_norm, &params(cols, rows, 0, (0.0, 0.0, c)), &[w], groups_for(cols));
}

/// The number of partial sums [`partial_sums`] writes for `n` values (one per workgroup).
pub fn partial_slots(n: usize) -> usize {
    let [x, y, _] = groups_for(n);
    x as usize * y as usize
}

/// Writes the sums of `what` over each block of 256 of the `n` values of `x` to `sums` from
/// index `offset` on ([`partial_slots`] of them).
pub fn partial_sums(gpu: &Gpu, n: usize, what: SumOf, x: &wgpu::Buffer, sums: &wgpu::Buffer, offset: usize) {
    let (k, l1, l2) = match what {
        SumOf::Squares => (0, 0.0, 0.0),
        SumOf::Penalty { l1, l2 } => (1, l1, l2),
    };
    gpu.launch(&gpu.kernels.regularize.partial_sums, &params(n, k, offset, (l1, l2, 0.0)), &[x, sums], groups_for(n));
}

/// `total[slot]` = the sum of the first `count` values of `sums`, added in order.
pub fn finish(gpu: &Gpu, count: usize, sums: &wgpu::Buffer, total: &wgpu::Buffer, slot: usize) {
    gpu.launch(&gpu.kernels.regularize.finish, &params(count, slot, 0, (0.0, 0.0, 0.0)), &[sums, total], [1, 1, 1]);
}

/// g ← g·c/‖g‖ over `n` values when ‖g‖ = √`squares[0]` exceeds `c`.
pub fn clip_scale(gpu: &Gpu, n: usize, c: f32, g: &wgpu::Buffer, squares: &wgpu::Buffer) {
    gpu.launch(&gpu.kernels.regularize.clip_scale, &params(n, 0, 0, (0.0, 0.0, c)), &[g, squares], groups_for(n));
}
