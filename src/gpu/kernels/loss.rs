//! The launches of `shaders/loss.wgsl` (least squares and sigmoid cross-entropy, each fused with
//! its δ), and [`loss`], which runs any [`Loss`]'s kernel: the device twins of
//! [`crate::loss::least_squares`], [`crate::loss::sigmoid_cross_entropy`] and (through
//! [`super::softmax_ce`]) [`crate::loss::softmax_cross_entropy`].

use super::word;
use crate::gpu::Gpu;
use crate::gpu::context::groups_for;
use crate::loss::Loss;

/// The loss kernels' pipelines.
pub(in crate::gpu) struct LossPipelines {
    least_squares: wgpu::ComputePipeline,
    sigmoid_ce: wgpu::ComputePipeline,
}

impl LossPipelines {
    /// The pipelines of `module` (loss.wgsl), made by `pipeline`.
    pub(in crate::gpu) fn new(
        module: &wgpu::ShaderModule,
        pipeline: impl Fn(&wgpu::ShaderModule, &str) -> wgpu::ComputePipeline,
    ) -> LossPipelines {
        LossPipelines { least_squares: pipeline(module, "least_squares"), sigmoid_ce: pipeline(module, "sigmoid_ce") }
    }
}

/// `loss` of outputs U (`rows` × `cols`) against targets T, fused with its δ = ∂E/∂U of the
/// batch's mean loss: writes δ, and each row's loss to `losses` from index `offset` on (their
/// mean is [`Loss::apply`]).
#[allow(clippy::too_many_arguments)]
pub fn loss(
    gpu: &Gpu,
    loss: Loss,
    (rows, cols): (usize, usize),
    u: &wgpu::Buffer,
    t: &wgpu::Buffer,
    delta: &wgpu::Buffer,
    losses: &wgpu::Buffer,
    offset: usize,
) {
    let pipeline = match loss {
        Loss::SoftmaxCrossEntropy => return super::softmax_ce(gpu, rows, cols, u, t, delta, losses, offset),
        Loss::LeastSquares => &gpu.kernels.loss.least_squares,
        Loss::SigmoidCrossEntropy => &gpu.kernels.loss.sigmoid_ce,
    };
    let params = [word(rows, "rows"), word(cols, "cols"), word(offset, "offset"), 0];
    gpu.launch(pipeline, &params, &[u, t, delta, losses], groups_for(rows));
}
