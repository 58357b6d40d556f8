//! The launches of `shaders/rbf.wgsl`: LeNet-5's Euclidean RBF units, forward and backward, the
//! device twin of [`crate::nn::rbf`].

use super::word;
use crate::gpu::Gpu;
use crate::gpu::context::groups_for;

/// The RBF kernels' pipelines.
pub(in crate::gpu) struct RbfPipelines {
    forward: wgpu::ComputePipeline,
    backward_input: wgpu::ComputePipeline,
    backward_weight: wgpu::ComputePipeline,
}

impl RbfPipelines {
    /// The pipelines of `module` (rbf.wgsl), made by `pipeline`.
    pub(in crate::gpu) fn new(
        module: &wgpu::ShaderModule,
        pipeline: impl Fn(&wgpu::ShaderModule, &str) -> wgpu::ComputePipeline,
    ) -> RbfPipelines {
        RbfPipelines {
            forward: pipeline(module, "forward"),
            backward_input: pipeline(module, "backward_input"),
            backward_weight: pipeline(module, "backward_weight"),
        }
    }
}

/// y (n × k) = Σ_j (x − w_i)² for x `n` × `f` and centres W `k` × `f`.
pub fn rbf_forward(gpu: &Gpu, (n, f, k): (usize, usize, usize), x: &wgpu::Buffer, w: &wgpu::Buffer, y: &wgpu::Buffer) {
    let params = [word(n, "n"), word(f, "f"), word(k, "k"), 0];
    gpu.launch(&gpu.kernels.rbf.forward, &params, &[x, y, w], groups_for(n * k));
}

/// ∂E/∂W (k × f) from δy (n × k) into `grad_weight`, and δx (n × f) when `dx` is given.
pub fn rbf_backward(
    gpu: &Gpu,
    (n, f, k): (usize, usize, usize),
    (x, w): (&wgpu::Buffer, &wgpu::Buffer),
    dy: &wgpu::Buffer,
    grad_weight: &wgpu::Buffer,
    dx: Option<&wgpu::Buffer>,
) {
    let params = [word(n, "n"), word(f, "f"), word(k, "k"), 0];
    let kernels = &gpu.kernels.rbf;
    gpu.launch(&kernels.backward_weight, &params, &[dy, grad_weight, x, w], groups_for(k * f));
    if let Some(dx) = dx {
        gpu.launch(&kernels.backward_input, &params, &[dy, dx, x, w], groups_for(n * f));
    }
}
