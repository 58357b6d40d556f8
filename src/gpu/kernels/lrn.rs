//! The launches of `shaders/lrn.wgsl`: local response normalisation across channels, forward and
//! backward, the device twin of [`crate::Var::local_response_norm`].

use super::word;
use crate::gpu::Gpu;
use crate::gpu::context::groups_for;
use crate::ops::Lrn;

/// The LRN kernels' pipelines.
pub(in crate::gpu) struct LrnPipelines {
    forward: wgpu::ComputePipeline,
    backward: wgpu::ComputePipeline,
}

impl LrnPipelines {
    /// The pipelines of `module` (lrn.wgsl), made by `pipeline`.
    pub(in crate::gpu) fn new(
        module: &wgpu::ShaderModule,
        pipeline: impl Fn(&wgpu::ShaderModule, &str) -> wgpu::ComputePipeline,
    ) -> LrnPipelines {
        LrnPipelines { forward: pipeline(module, "forward"), backward: pipeline(module, "backward") }
    }
}

fn params(lrn: Lrn, rows: usize, channels: usize, inner: usize) -> [u32; 8] {
    let scale = lrn.alpha / lrn.size as f32;
    [
        word(rows * channels * inner, "values"),
        word(channels, "channels"),
        word(inner, "inner"),
        word(lrn.size, "size"),
        lrn.k.to_bits(),
        scale.to_bits(),
        lrn.beta.to_bits(),
        0,
    ]
}

/// y = LRN(x) over `rows` samples of `channels` × `inner` values; D (same size) is kept for
/// backward.
pub fn lrn_forward(
    gpu: &Gpu,
    lrn: Lrn,
    (rows, channels, inner): (usize, usize, usize),
    x: &wgpu::Buffer,
    y: &wgpu::Buffer,
    d: &wgpu::Buffer,
) {
    assert!(lrn.size > 0, "GPU LRN: size 0");
    let params = params(lrn, rows, channels, inner);
    gpu.launch(&gpu.kernels.lrn.forward, &params, &[x, y, d], groups_for(rows * channels * inner));
}

/// δx of [`lrn_forward`] from δy, its input x and its D.
#[allow(clippy::too_many_arguments)]
pub fn lrn_backward(
    gpu: &Gpu,
    lrn: Lrn,
    (rows, channels, inner): (usize, usize, usize),
    x: &wgpu::Buffer,
    d: &wgpu::Buffer,
    dy: &wgpu::Buffer,
    dx: &wgpu::Buffer,
) {
    let params = params(lrn, rows, channels, inner);
    gpu.launch(&gpu.kernels.lrn.backward, &params, &[dy, dx, d, x], groups_for(rows * channels * inner));
}
