//! The launches of `shaders/classes.wgsl`: symbol indices as one-hot rows (the device twin of
//! [`crate::nn::one_hot`]) and softmax cross-entropy against one class index per step of a
//! sequence, fused with its δ ([`sequence_loss`], the twin of [`crate::loss::Loss::apply`] on
//! m × T × K outputs, which runs [`crate::loss::softmax_cross_entropy_classes`]).

use super::word;
use crate::gpu::Gpu;
use crate::gpu::context::groups_for;

/// The symbol kernels' pipelines.
pub(in crate::gpu) struct ClassPipelines {
    one_hot: wgpu::ComputePipeline,
    softmax_ce_classes: wgpu::ComputePipeline,
    row_sums: wgpu::ComputePipeline,
}

impl ClassPipelines {
    /// The pipelines of `module` (classes.wgsl), made by `pipeline`.
    pub(in crate::gpu) fn new(
        module: &wgpu::ShaderModule,
        pipeline: impl Fn(&wgpu::ShaderModule, &str) -> wgpu::ComputePipeline,
    ) -> ClassPipelines {
        ClassPipelines {
            one_hot: pipeline(module, "one_hot"),
            softmax_ce_classes: pipeline(module, "softmax_ce_classes"),
            row_sums: pipeline(module, "row_sums"),
        }
    }
}

/// Y (`n` × `classes`) = the one-hot rows of the `n` indices x. An index that is not a whole
/// number below `classes` gives a row of zeros where the CPU op panics: callers check their
/// data first.
pub fn one_hot(gpu: &Gpu, n: usize, classes: usize, x: &wgpu::Buffer, y: &wgpu::Buffer) {
    let params = [word(n, "indices"), word(classes, "classes"), 0, 0];
    gpu.launch(&gpu.kernels.classes.one_hot, &params, &[x, y], groups_for(n * classes));
}

/// The loss of sequence outputs U (m × T × K, as `rows` = m·T rows of K) against one class
/// index per step (m × T; negative: a padded step, not counted), fused with its δ, as the CPU
/// loss of the batch: E = −(1/n) Σ log softmax(u_r)_{c_r} over the n = `counted` steps whose
/// class is not negative, δ = (softmax(u) − e_c)/n. Writes δ, each step's loss to `step_losses`
/// (m·T values), and to `losses` from index `offset` on each sample's share of what the CPU
/// trainer sums for the batch (E times m): m/n times the sum of its steps' losses.
#[allow(clippy::too_many_arguments)]
pub fn sequence_loss(
    gpu: &Gpu,
    (m, steps, k): (usize, usize, usize),
    counted: usize,
    u: &wgpu::Buffer,
    classes: &wgpu::Buffer,
    delta: &wgpu::Buffer,
    step_losses: &wgpu::Buffer,
    (losses, offset): (&wgpu::Buffer, usize),
) {
    // a batch of padding alone has no loss (0, not 0/0), as on the CPU
    let scale = 1.0 / counted.max(1) as f32;
    let rows = m * steps;
    let params = [word(rows, "rows"), word(k, "classes"), 0, scale.to_bits()];
    gpu.launch(&gpu.kernels.classes.softmax_ce_classes, &params, &[u, delta, classes, step_losses], groups_for(rows));
    let share = m as f32 / counted.max(1) as f32;
    let params = [word(m, "rows"), word(steps, "steps"), word(offset, "offset"), share.to_bits()];
    gpu.launch(&gpu.kernels.classes.row_sums, &params, &[step_losses, losses], groups_for(m));
}
