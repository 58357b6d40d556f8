//! The launches of the WGSL kernels in `shaders/`, one function per kernel, each the device twin
//! of a CPU op (named in its doc comment; `tests/gpu/` holds each to it). Operands are buffers
//! of row-major f32 (see [`super::GpuTensor::buffer`]) with their sizes given, as
//! [`crate::tensor::gemm_into`] takes slices: the training loop reuses buffers sized for the
//! largest batch.

use super::Gpu;
use super::context::groups_for;
use crate::nn::Activation;
use crate::ops::{SCALED_TANH_A, SCALED_TANH_S};
use crate::optim::RuleParams;
use crate::tensor::Transpose;

mod classes;
mod conv;
mod dropout;
mod gelu;
mod loss;
mod lrn;
mod optim_more;
mod pool;
mod rbf;
mod recurrent;
mod regularize;
mod shape;
mod subsample;

pub use classes::{one_hot, sequence_loss};
pub use conv::{
    ConvKernel, ConvShape, DIRECT_UP_TO, conv2d_backward, conv2d_backward_with, conv2d_forward, conv2d_forward_with,
    mask_in_place, mask_mul,
};
pub use dropout::{dropout_backward, dropout_eval, dropout_forward};
pub use gelu::{gelu_backward, gelu_forward};
pub use loss::loss;
pub use lrn::{lrn_backward, lrn_forward};
pub use pool::{PoolShape, avg_pool_backward, avg_pool_forward, max_pool_backward, max_pool_forward};
pub use rbf::{rbf_backward, rbf_forward};
pub use recurrent::{
    Block, Step, copy_block, fill_zero, gru_backward, gru_forward, lstm_backward, lstm_forward, rnn_backward,
    rnn_forward, swap_axes,
};
pub use regularize::{SumOf, clip_scale, finish, max_norm, partial_slots, partial_sums, penalty_grad};
pub use shape::{accumulate, concat, copy, crop, pad, scale, split};
pub use subsample::{SubsampleShape, subsample_backward, subsample_forward};

/// Every compute pipeline, compiled once when the GPU is opened.
pub(super) struct Kernels {
    gemm: wgpu::ComputePipeline,
    gemm_blocked: wgpu::ComputePipeline,
    gemm_rows: wgpu::ComputePipeline,
    bias_add: wgpu::ComputePipeline,
    column_sum: wgpu::ComputePipeline,
    activation: wgpu::ComputePipeline,
    activation_backward: wgpu::ComputePipeline,
    softmax_ce: wgpu::ComputePipeline,
    gather: wgpu::ComputePipeline,
    sgd: wgpu::ComputePipeline,
    momentum: wgpu::ComputePipeline,
    adam: wgpu::ComputePipeline,
    argmax: wgpu::ComputePipeline,
    classes: classes::ClassPipelines,
    conv: conv::ConvPipelines,
    pool: pool::PoolPipelines,
    dropout: dropout::DropoutPipelines,
    shape: shape::ShapePipelines,
    subsample: subsample::SubsamplePipelines,
    rbf: rbf::RbfPipelines,
    lrn: lrn::LrnPipelines,
    gelu: gelu::GeluPipelines,
    loss: loss::LossPipelines,
    optim: optim_more::OptimPipelines,
    regularize: regularize::RegularizePipelines,
    recurrent: recurrent::RecurrentPipelines,
}

impl Kernels {
    /// Compiles the shaders (WGSL, checked by naga) into pipelines on `device`.
    pub(super) fn compile(device: &wgpu::Device) -> Kernels {
        let module = |name: &str, source: &str| {
            device.create_shader_module(wgpu::ShaderModuleDescriptor {
                label: Some(name),
                source: wgpu::ShaderSource::Wgsl(source.into()),
            })
        };
        let pipeline = |module: &wgpu::ShaderModule, entry: &str| {
            device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                label: Some(entry),
                layout: None, // derived from the entry point's bindings
                module,
                entry_point: Some(entry),
                compilation_options: Default::default(),
                cache: None,
            })
        };
        let gemm = module("gemm", include_str!("shaders/gemm.wgsl"));
        let unary = module("unary", include_str!("shaders/unary.wgsl"));
        let binary = module("binary", include_str!("shaders/binary.wgsl"));
        let softmax_ce = module("softmax_ce", include_str!("shaders/softmax_ce.wgsl"));
        let gather = module("gather", include_str!("shaders/gather.wgsl"));
        let optim = module("optim", include_str!("shaders/optim.wgsl"));
        let argmax = module("argmax", include_str!("shaders/argmax.wgsl"));
        Kernels {
            gemm: pipeline(&gemm, "gemm"),
            gemm_blocked: pipeline(&gemm, "gemm_blocked"),
            gemm_rows: pipeline(&gemm, "gemm_rows"),
            bias_add: pipeline(&unary, "bias_add"),
            column_sum: pipeline(&unary, "column_sum"),
            activation: pipeline(&unary, "forward"),
            activation_backward: pipeline(&binary, "backward"),
            softmax_ce: pipeline(&softmax_ce, "softmax_ce"),
            gather: pipeline(&gather, "gather"),
            sgd: pipeline(&optim, "sgd"),
            momentum: pipeline(&optim, "momentum"),
            adam: pipeline(&optim, "adam"),
            argmax: pipeline(&argmax, "argmax"),
            classes: classes::ClassPipelines::new(&module("classes", include_str!("shaders/classes.wgsl")), pipeline),
            conv: conv::ConvPipelines::new(&module("conv", include_str!("shaders/conv.wgsl")), pipeline),
            pool: pool::PoolPipelines::new(&module("pool", include_str!("shaders/pool.wgsl")), pipeline),
            dropout: dropout::DropoutPipelines::new(&module("dropout", include_str!("shaders/dropout.wgsl")), pipeline),
            shape: shape::ShapePipelines::new(&module("shape", include_str!("shaders/shape.wgsl")), pipeline),
            subsample: subsample::SubsamplePipelines::new(
                &module("subsample", include_str!("shaders/subsample.wgsl")),
                pipeline,
            ),
            rbf: rbf::RbfPipelines::new(&module("rbf", include_str!("shaders/rbf.wgsl")), pipeline),
            lrn: lrn::LrnPipelines::new(&module("lrn", include_str!("shaders/lrn.wgsl")), pipeline),
            gelu: gelu::GeluPipelines::new(&module("gelu", include_str!("shaders/gelu.wgsl")), pipeline),
            loss: loss::LossPipelines::new(&module("loss", include_str!("shaders/loss.wgsl")), pipeline),
            optim: optim_more::OptimPipelines::new(
                &module("optim_more", include_str!("shaders/optim_more.wgsl")),
                pipeline,
            ),
            regularize: regularize::RegularizePipelines::new(
                &module("regularize", include_str!("shaders/regularize.wgsl")),
                pipeline,
            ),
            recurrent: recurrent::RecurrentPipelines::new(module, pipeline),
        }
    }
}

/// The number of an activation in `unary.wgsl` and `binary.wgsl`, or `None` for GELU, whose
/// derivative is written through its input and which has kernels of its own ([`gelu_forward`]).
pub fn activation_code(a: Activation) -> Option<u32> {
    match a {
        Activation::Identity => Some(0),
        Activation::Sigmoid => Some(1),
        Activation::Tanh => Some(2),
        Activation::Relu => Some(3),
        Activation::ScaledTanh => Some(4),
        Activation::Gelu => None,
    }
}

/// A size as the shaders' u32, or a panic naming it: the device indexes with 32 bits.
#[track_caller]
fn word(n: usize, what: &str) -> u32 {
    u32::try_from(n).unwrap_or_else(|_| panic!("GPU kernel: {what} = {n} does not fit the device's 32-bit indices"))
}

/// The fewest 64×64 blocks of C for which [`gemm`] runs the register-blocked kernel: below it,
/// the one-output-a-thread kernel's 16 times more workgroups keep more of a GPU busy.
pub const BLOCKED_FROM: usize = 64;

/// The GEMM kernels of `shaders/gemm.wgsl`. All sum each output over k in the same order, one
/// fma a term, so the choice changes the speed, not the result.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GemmKernel {
    /// A thread per output, a 16×16 workgroup per 16×16 block of C.
    Simple,
    /// A 16×16 workgroup per 64×64 block of C, each thread a 4×4 block (register blocking).
    Blocked,
    /// No workgroup memory and no barriers: a 64-thread workgroup per 4×256 block of C, each
    /// thread a 4×4 block read straight from the operands; for software drivers, whose caches do
    /// what a GPU's workgroup memory does and whose barriers are costly.
    Rows,
}

/// The most row blocks of 4 that [`GemmKernel::Rows`] dispatches (WebGPU's limit on workgroups
/// in one dimension).
const ROWS_MAX_GROUPS: usize = 65_535;

impl GemmKernel {
    /// The kernel a GPU runs for an m×n product: the blocked one from [`BLOCKED_FROM`] blocks.
    pub fn for_size(m: usize, n: usize) -> GemmKernel {
        if m.div_ceil(64) * n.div_ceil(64) >= BLOCKED_FROM { GemmKernel::Blocked } else { GemmKernel::Simple }
    }

    /// The kernel [`gemm`] runs on `gpu` for an m×n product: [`GemmKernel::Rows`] on a software
    /// driver (up to 262,140 rows), else [`GemmKernel::for_size`]'s.
    pub fn pick(gpu: &Gpu, m: usize, n: usize) -> GemmKernel {
        if gpu.is_software() && m.div_ceil(4) <= ROWS_MAX_GROUPS {
            GemmKernel::Rows
        } else {
            GemmKernel::for_size(m, n)
        }
    }
}

/// `C = op(A)·op(B)`, or `C += op(A)·op(B)` when `accumulate`: C is m×n; the device twin of
/// [`crate::tensor::gemm_into`], with the same arguments, by the kernel
/// [`GemmKernel::pick`] picks.
#[allow(clippy::too_many_arguments)]
pub fn gemm(
    gpu: &Gpu,
    (m, n, k): (usize, usize, usize),
    a: &wgpu::Buffer,
    ta: Transpose,
    b: &wgpu::Buffer,
    tb: Transpose,
    c: &wgpu::Buffer,
    accumulate: bool,
) {
    gemm_with(gpu, GemmKernel::pick(gpu, m, n), (m, n, k), (a, ta), (b, tb), c, accumulate);
}

/// [`gemm`] by the given kernel (for tests and benchmarks of each).
pub fn gemm_with(
    gpu: &Gpu,
    kernel: GemmKernel,
    (m, n, k): (usize, usize, usize),
    (a, ta): (&wgpu::Buffer, Transpose),
    (b, tb): (&wgpu::Buffer, Transpose),
    c: &wgpu::Buffer,
    accumulate: bool,
) {
    let flags = u32::from(ta == Transpose::Yes) | u32::from(tb == Transpose::Yes) << 1 | u32::from(accumulate) << 2;
    let params = [word(m, "m"), word(n, "n"), word(k, "k"), flags];
    let (pipeline, rows, cols) = match kernel {
        GemmKernel::Simple => (&gpu.kernels.gemm, 16, 16),
        GemmKernel::Blocked => (&gpu.kernels.gemm_blocked, 64, 64),
        GemmKernel::Rows => (&gpu.kernels.gemm_rows, 4, 256),
    };
    let groups = [word(n.div_ceil(cols), "n"), word(m.div_ceil(rows), "m"), 1];
    gpu.launch(pipeline, &params, &[a, b, c], groups);
}

/// U ← U + 1·b for U of `rows` × `cols` and b of `cols`: the bias of [`crate::Var::affine`].
pub fn bias_add(gpu: &Gpu, rows: usize, cols: usize, b: &wgpu::Buffer, u: &wgpu::Buffer) {
    let params = [word(rows, "rows"), word(cols, "cols"), 0, 0, 0, 0];
    gpu.launch(&gpu.kernels.bias_add, &params, &[b, u], groups_for(rows * cols));
}

/// `out` ← 1ᵀ·δ, the column sums of δ (`rows` × `cols`): the bias gradient of
/// [`crate::Var::affine`].
pub fn column_sum(gpu: &Gpu, rows: usize, cols: usize, delta: &wgpu::Buffer, out: &wgpu::Buffer) {
    let params = [word(rows, "rows"), word(cols, "cols"), 0, 0, 0, 0];
    gpu.launch(&gpu.kernels.column_sum, &params, &[delta, out], groups_for(cols));
}

/// Y = f(U) over `n` values, f given by [`activation_code`]: [`Activation::apply`] on the device.
pub fn activation(gpu: &Gpu, code: u32, n: usize, u: &wgpu::Buffer, y: &wgpu::Buffer) {
    let params = [word(n, "n"), 1, code, 0, SCALED_TANH_A.to_bits(), SCALED_TANH_S.to_bits()];
    gpu.launch(&gpu.kernels.activation, &params, &[u, y], groups_for(n));
}

/// δ_U = δ_Y ⊙ f′ from the activation's output Y = f(U), over `n` values: the backward pass of
/// [`activation`].
pub fn activation_backward(
    gpu: &Gpu,
    code: u32,
    n: usize,
    y: &wgpu::Buffer,
    delta_y: &wgpu::Buffer,
    delta_u: &wgpu::Buffer,
) {
    let params = [word(n, "n"), code, SCALED_TANH_A.to_bits(), SCALED_TANH_S.to_bits()];
    gpu.launch(&gpu.kernels.activation_backward, &params, &[y, delta_y, delta_u], groups_for(n));
}

/// Softmax cross-entropy of logits U (`rows` × `cols`) against targets T, fused with its δ =
/// (softmax(U) − T)/rows: writes δ, and each row's loss −Σ t log softmax(u) to `losses` from
/// index `offset` on (their mean is [`crate::loss::softmax_cross_entropy`]).
#[allow(clippy::too_many_arguments)]
pub fn softmax_ce(
    gpu: &Gpu,
    rows: usize,
    cols: usize,
    u: &wgpu::Buffer,
    t: &wgpu::Buffer,
    delta: &wgpu::Buffer,
    losses: &wgpu::Buffer,
    offset: usize,
) {
    let params = [word(rows, "rows"), word(cols, "cols"), word(offset, "offset"), 0];
    gpu.launch(&gpu.kernels.softmax_ce, &params, &[u, t, delta, losses], groups_for(rows));
}

/// out = the rows `order[offset..offset + rows]` of `data` (`cols` values a row): a mini-batch
/// gathered on the device, as [`crate::Tensor::gather_rows`].
pub fn gather_rows(
    gpu: &Gpu,
    (rows, cols): (usize, usize),
    order: &wgpu::Buffer,
    offset: usize,
    data: &wgpu::Buffer,
    out: &wgpu::Buffer,
) {
    let params = [word(rows, "rows"), word(cols, "cols"), word(offset, "offset"), 0];
    gpu.launch(&gpu.kernels.gather, &params, &[order, data, out], groups_for(rows * cols));
}

/// One update of `n` weights `w` from their gradient `g` and the rule's `state` buffers (as many
/// as the rule keeps, zeros before the first step), with learning rate `eta` at step `t` (1 for
/// the first): [`crate::optim::UpdateRule::update`] on the device.
#[allow(clippy::too_many_arguments)]
pub fn update(
    gpu: &Gpu,
    rule: RuleParams,
    eta: f32,
    t: u64,
    n: usize,
    g: &wgpu::Buffer,
    w: &wgpu::Buffer,
    state: &[&wgpu::Buffer],
) {
    let n32 = word(n, "n");
    let groups = groups_for(n);
    match (rule, state) {
        (RuleParams::Sgd { .. }, []) => {
            let params = [n32, 0, eta.to_bits(), 0, 0, 0, 0, 0];
            gpu.launch(&gpu.kernels.sgd, &params, &[g, w], groups);
        }
        (RuleParams::Sgd { momentum, nesterov }, [v]) => {
            let params = [n32, u32::from(nesterov), eta.to_bits(), momentum.to_bits(), 0, 0, 0, 0];
            gpu.launch(&gpu.kernels.momentum, &params, &[g, w, v], groups);
        }
        (RuleParams::Adam { beta1, beta2, eps }, [m, v]) => {
            // 1 − βᵗ in f64 as on the CPU, so that both devices divide by the same number
            let c1 = (1.0 - f64::from(beta1).powf(t as f64)) as f32;
            let c2 = (1.0 - f64::from(beta2).powf(t as f64)) as f32;
            let params =
                [n32, 0, eta.to_bits(), beta1.to_bits(), beta2.to_bits(), eps.to_bits(), c1.to_bits(), c2.to_bits()];
            gpu.launch(&gpu.kernels.adam, &params, &[g, w, m, v], groups);
        }
        (
            RuleParams::AdaGrad { .. }
            | RuleParams::RmsProp { .. }
            | RuleParams::AdaDelta { .. }
            | RuleParams::AdaDeltaWindow { .. }
            | RuleParams::AdamW { .. },
            state,
        ) => optim_more::update(gpu, rule, eta, t, n, g, w, state),
        (rule, state) => panic!("GPU update: {rule:?} given {} state buffers", state.len()),
    }
}

/// `out[offset + r]` ← the predicted class of row r of U (`rows` × `cols`), as u32: the device
/// twin of [`crate::Tensor::argmax_rows`] (the first largest value on ties).
pub fn argmax_rows(gpu: &Gpu, rows: usize, cols: usize, u: &wgpu::Buffer, out: &wgpu::Buffer, offset: usize) {
    let params = [word(rows, "rows"), word(cols, "cols"), word(offset, "offset"), 0];
    gpu.launch(&gpu.kernels.argmax, &params, &[u, out], groups_for(rows));
}
