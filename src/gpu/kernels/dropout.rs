//! The launches of `shaders/dropout.wgsl`: dropout with a counter-based random stream, forward
//! and backward, the device twin of [`crate::nn::Dropout`]. Its masks are its own (see the
//! shader): deterministic for a seed, but not the CPU layer's.

use super::word;
use crate::gpu::Gpu;
use crate::gpu::context::groups_for;
use crate::nn::DropoutRule;

/// The dropout kernels' pipelines.
pub(in crate::gpu) struct DropoutPipelines {
    forward: wgpu::ComputePipeline,
    backward: wgpu::ComputePipeline,
    scale: wgpu::ComputePipeline,
}

impl DropoutPipelines {
    /// The pipelines of `module` (dropout.wgsl), made by `pipeline`.
    pub(in crate::gpu) fn new(
        module: &wgpu::ShaderModule,
        pipeline: impl Fn(&wgpu::ShaderModule, &str) -> wgpu::ComputePipeline,
    ) -> DropoutPipelines {
        DropoutPipelines {
            forward: pipeline(module, "forward"),
            backward: pipeline(module, "backward"),
            scale: pipeline(module, "scale"),
        }
    }
}

/// The shader's parameters: n, q, the kept units' factor, the seed's two halves.
fn params(n: usize, p: f32, rule: DropoutRule, seed: u64) -> [u32; 8] {
    let q = 1.0 - p;
    let keep = if rule == DropoutRule::Inverted { 1.0 / q } else { 1.0 };
    [word(n, "n"), q.to_bits(), keep.to_bits(), seed as u32, (seed >> 32) as u32, 0, 0, 0]
}

/// Training-mode dropout of `n` values with drop probability `p` ∈ [0, 1): y = x ⊙ m, with m
/// (written to `mask`, for backward) 1/q or 1 (by `rule`) where a unit is kept, 0 where it is
/// dropped; the mask is a function of `seed` and the value's index alone.
#[allow(clippy::too_many_arguments)]
pub fn dropout_forward(
    gpu: &Gpu,
    n: usize,
    p: f32,
    rule: DropoutRule,
    seed: u64,
    x: &wgpu::Buffer,
    y: &wgpu::Buffer,
    mask: &wgpu::Buffer,
) {
    gpu.launch(&gpu.kernels.dropout.forward, &params(n, p, rule, seed), &[x, y, mask], groups_for(n));
}

/// δx = δy ⊙ m over `n` values, m the `mask` of [`dropout_forward`].
pub fn dropout_backward(gpu: &Gpu, n: usize, delta_y: &wgpu::Buffer, mask: &wgpu::Buffer, dx: &wgpu::Buffer) {
    let params = [word(n, "n"), 0, 0, 0, 0, 0, 0, 0];
    gpu.launch(&gpu.kernels.dropout.backward, &params, &[delta_y, dx, mask], groups_for(n));
}

/// Test-time dropout of `n` values: y = x for inverted dropout, q·x for weight scaling.
pub fn dropout_eval(gpu: &Gpu, n: usize, p: f32, rule: DropoutRule, x: &wgpu::Buffer, y: &wgpu::Buffer) {
    let factor = if rule == DropoutRule::WeightScaling { 1.0 - p } else { 1.0 };
    let params = [word(n, "n"), 0, factor.to_bits(), 0, 0, 0, 0, 0];
    gpu.launch(&gpu.kernels.dropout.scale, &params, &[x, y], groups_for(n));
}
