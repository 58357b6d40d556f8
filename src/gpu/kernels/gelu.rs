//! The launches of `shaders/gelu.wgsl`: GELU forward and backward, the device twin of
//! [`crate::Var::gelu`]. Unlike the other activations (`unary.wgsl`), its derivative is written
//! through the input u, not the output.

use super::word;
use crate::gpu::Gpu;
use crate::gpu::context::groups_for;

/// The GELU kernels' pipelines.
pub(in crate::gpu) struct GeluPipelines {
    forward: wgpu::ComputePipeline,
    backward: wgpu::ComputePipeline,
}

impl GeluPipelines {
    /// The pipelines of `module` (gelu.wgsl), made by `pipeline`.
    pub(in crate::gpu) fn new(
        module: &wgpu::ShaderModule,
        pipeline: impl Fn(&wgpu::ShaderModule, &str) -> wgpu::ComputePipeline,
    ) -> GeluPipelines {
        GeluPipelines { forward: pipeline(module, "forward"), backward: pipeline(module, "backward") }
    }
}

/// Y = GELU(U) over `n` values.
pub fn gelu_forward(gpu: &Gpu, n: usize, u: &wgpu::Buffer, y: &wgpu::Buffer) {
    gpu.launch(&gpu.kernels.gelu.forward, &[word(n, "n"), 0, 0, 0], &[u, y], groups_for(n));
}

/// δU = δY ⊙ GELU′(U) over `n` values.
pub fn gelu_backward(gpu: &Gpu, n: usize, u: &wgpu::Buffer, delta_y: &wgpu::Buffer, delta_u: &wgpu::Buffer) {
    gpu.launch(&gpu.kernels.gelu.backward, &[word(n, "n"), 0, 0, 0], &[u, delta_u, delta_y], groups_for(n));
}
