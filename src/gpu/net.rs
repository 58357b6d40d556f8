//! A network on the device: its weights and gradients, the work buffers of a batch, and the
//! forward and backward passes, layer by layer as on the CPU (nn/linear.rs, ops/matmul.rs,
//! ops/activation.rs, ops/conv.rs, ops/pool.rs, nn/dropout.rs).
//!
//! # Shapes (m rows of a batch, at most the capacity the work buffers were made for)
//! - `values[0]`: X, m × n₀; `values[s + 1]`: the output of stage s, m × nₛ₊₁ (a sample's maps
//!   C×H×W are one row of C·H·W values, as on the CPU)
//! - `deltas[s + 1]`: ∂E/∂(output of stage s), same shape as `values[s + 1]`
//! - a linear stage: W nᵢₙ × nₒᵤₜ, b nₒᵤₜ, and their gradients of the same shapes
//! - a convolution: W O×C×KH×KW, b O, their gradients, and scratch `cols` and `prod` kept from
//!   forward to backward (see [`kernels::conv2d_forward`]; `prod` only for im2col)

use super::buffer::{download_f32, upload_words, zeroed};
use super::kernels::{self, ConvKernel, ConvShape, PoolShape, SubsampleShape, activation_code};
use super::recurrent::GpuRecurrent;
use super::{Gpu, GpuTensor};
use crate::data::Inputs;
use crate::loss::Loss;
use crate::nn::{DropoutRule, LayerSpec, Model, ModelSpec, Module};
use crate::ops::Lrn;
use crate::rng::Rng;
use crate::tensor::{Tensor, Transpose};
use crate::{Error, Result};

mod compound;

/// One step of the network on the device.
// a net has a handful of stages, built once and never moved in a loop: boxing the convolution's
// buffers would save nothing
#[allow(clippy::large_enum_variant)]
enum Stage {
    /// U = Y·W + 1·b; on a sequence (`steps` > 1), at each step: a sample's row of T·F values is
    /// T rows of F, so the batch is m·T rows (nn/linear.rs reshapes the same way).
    Linear { weight: GpuTensor, bias: GpuTensor, grad_weight: wgpu::Buffer, grad_bias: wgpu::Buffer, steps: usize },
    /// Symbol indices as one-hot rows of `classes` values (nn/one_hot.rs). The indices have no
    /// gradient, so backward does nothing. Expanded, not folded into the next layer as a row
    /// gather of its weights (x_t·W with a one-hot x_t is row k of W): the expansion keeps the
    /// layer boundary as on the CPU, so the recurrent and linear stages after it take inputs of
    /// any kind unchanged, and its GEMM over V ≈ 100 symbols costs little beside the recurrence.
    OneHot { classes: usize },
    /// Y = f(U), f by its shader number ([`activation_code`]).
    Activation { code: u32 },
    /// y = conv(x, W ⊙ M) + b; `shape.n` is 1 here and the batch's rows at each launch.
    Conv {
        weight: GpuTensor,
        bias: GpuTensor,
        grad_weight: wgpu::Buffer,
        grad_bias: wgpu::Buffer,
        shape: ConvShape,
        /// A connection table's 0/1 mask M and W ⊙ M (nn/conv2d.rs).
        table: Option<(wgpu::Buffer, wgpu::Buffer)>,
        cols: wgpu::Buffer,
        prod: wgpu::Buffer,
    },
    /// Max pooling over a border of −∞; `shape.planes` is C (one sample's), `argmax` one index per
    /// output of a full batch.
    MaxPool { shape: PoolShape, argmax: wgpu::Buffer },
    /// Average pooling over a border of zeros counted in the mean; `shape.planes` is C.
    AvgPool { shape: PoolShape },
    /// Dropout (training mode in [`GpuNet::forward_training`], test mode in [`GpuNet::forward`]),
    /// with its mask of the last training pass.
    Dropout { p: f32, rule: DropoutRule, mask: wgpu::Buffer },
    /// A border of `value` around each of `planes` maps H×W (one sample's), `padding` (PH, PW) wide.
    Pad { planes: usize, hw: (usize, usize), padding: (usize, usize), value: f32 },
    /// y = factor·x.
    Scale { factor: f32 },
    /// GELU, whose derivative reads the stage's input.
    Gelu,
    /// LeNet-5's sub-sampling, w[c]·Σ(window) + b[c]; `shape.n` is 1 here and the batch's rows at
    /// each launch, `sums` the window sums of the last forward pass.
    Subsample {
        weight: GpuTensor,
        bias: GpuTensor,
        grad_weight: wgpu::Buffer,
        grad_bias: wgpu::Buffer,
        shape: SubsampleShape,
        sums: wgpu::Buffer,
    },
    /// Euclidean RBF units: centres W k × f.
    Rbf { weight: GpuTensor, grad_weight: wgpu::Buffer, f: usize, k: usize },
    /// Local response normalisation over `channels` of `inner` values, with its D kept from
    /// forward to backward.
    Lrn { lrn: Lrn, channels: usize, inner: usize, d: wgpu::Buffer },
    /// Inception's four branches, concatenated along the channels.
    Inception(compound::Branches),
    /// An auxiliary classifier head beside the main path.
    Auxiliary(compound::Head),
    /// An `rnn`, `lstm` or `gru` layer, stacked and bidirectional (gpu/recurrent.rs).
    Recurrent(GpuRecurrent),
}

impl Stage {
    /// Makes the stage's own work buffers hold batches of `rows` rows of `width` inputs each.
    fn reserve(&mut self, gpu: &Gpu, rows: usize, width: usize) {
        match self {
            Stage::Conv { shape, cols, prod, .. } => {
                let batch = ConvShape { n: rows, ..*shape };
                *cols = zeroed(gpu, batch.cols_len());
                // the direct kernels need no product
                let product = ConvKernel::for_shape(&batch) == ConvKernel::Im2col;
                *prod = zeroed(gpu, if product { batch.o * rows * batch.p() } else { 1 });
            }
            Stage::MaxPool { shape, argmax } => *argmax = zeroed(gpu, rows * shape.outputs()),
            Stage::Dropout { mask, .. } => *mask = zeroed(gpu, rows * width),
            Stage::Recurrent(r) => r.reserve(gpu, rows),
            Stage::Subsample { shape, sums, .. } => *sums = zeroed(gpu, SubsampleShape { n: rows, ..*shape }.outputs()),
            Stage::Lrn { d, .. } => *d = zeroed(gpu, rows * width),
            Stage::Inception(branches) => branches.reserve(gpu, rows),
            Stage::Auxiliary(head) => head.reserve(gpu, rows),
            Stage::Linear { .. }
            | Stage::OneHot { .. }
            | Stage::Activation { .. }
            | Stage::AvgPool { .. }
            | Stage::Pad { .. }
            | Stage::Scale { .. }
            | Stage::Gelu
            | Stage::Rbf { .. } => {}
        }
    }

    /// Its parameters with their gradient buffers, in the model's order (none for most stages).
    fn params(&self) -> Vec<(&GpuTensor, &wgpu::Buffer)> {
        match self {
            Stage::Linear { weight, bias, grad_weight, grad_bias, .. }
            | Stage::Conv { weight, bias, grad_weight, grad_bias, .. }
            | Stage::Subsample { weight, bias, grad_weight, grad_bias, .. } => {
                vec![(weight, grad_weight), (bias, grad_bias)]
            }
            Stage::Rbf { weight, grad_weight, .. } => vec![(weight, grad_weight)],
            Stage::Inception(branches) => branches.params(),
            Stage::Auxiliary(head) => head.params(),
            Stage::Recurrent(r) => r.params(),
            _ => Vec::new(),
        }
    }
}

/// A model's network on the GPU (see the module's documentation).
pub struct GpuNet {
    stages: Vec<Stage>,
    /// The width of each value: the input's, then each stage's output's.
    widths: Vec<usize>,
    /// The model's parameter names, in the order of the stages' weights and biases.
    names: Vec<String>,
    capacity: usize,
    values: Vec<wgpu::Buffer>,
    deltas: Vec<wgpu::Buffer>,
    /// Whether [`GpuNet::backward`] computes the input's δ too (an Inception branch's or an
    /// auxiliary head's, which its module passes on).
    input_delta: bool,
    /// T when the outputs are a sequence, T × K a sample (a language model's logits at every
    /// step), whose targets are one class index per step.
    steps: Option<usize>,
}

/// The 0/1 mask O×C×KH×KW of a connection table: output map o reads input maps `table[o]`.
fn table_mask(table: &[Vec<usize>], c: usize, area: usize) -> Vec<f32> {
    let mut mask = vec![0.0; table.len() * c * area];
    for (o, sources) in table.iter().enumerate() {
        for &ci in sources {
            mask[(o * c + ci) * area..][..area].fill(1.0);
        }
    }
    mask
}

/// A pooling of one sample's maps `input` (C×H×W).
fn pool_shape(input: &[usize], kernel: (usize, usize), stride: (usize, usize), padding: (usize, usize)) -> PoolShape {
    PoolShape { planes: input[0], h: input[1], w: input[2], kernel, stride, padding }
}

impl GpuNet {
    /// Whether every layer of `spec` has GPU kernels (see [`crate::nn::LayerKind::gpu`]); the
    /// error names the first that has none.
    pub fn check(spec: &ModelSpec) -> Result<()> {
        for (i, layer) in spec.layers.iter().enumerate() {
            if !layer.spec.as_kind().gpu() {
                return Err(Error::config(format!(
                    "--device gpu: model '{}': layer {i} ({}) has no GPU kernel yet (train this one with --device \
                     cpu)",
                    spec.name,
                    layer.describe()
                )));
            }
        }
        Ok(())
    }

    /// A copy of `model`'s network and weights on the device, with work buffers for batches of
    /// up to `capacity` rows.
    pub fn new(gpu: &Gpu, model: &Model, capacity: usize) -> Result<GpuNet> {
        GpuNet::check(model.spec())?;
        let shapes = model.spec().shapes()?;
        let params = model.params();
        let mut params = params.iter();
        let mut names = Vec::new();
        let mut stages = Vec::new();
        let mut widths = vec![model.spec().input_size()];
        let mut input = model.spec().input.clone();
        for (layer, output) in model.spec().layers.iter().zip(&shapes) {
            let input_shape = std::mem::replace(&mut input, output.clone());
            let stage = match &layer.spec {
                LayerSpec::Flatten(_) => continue, // rows are already flat on the device
                LayerSpec::OneHot(one_hot) => Stage::OneHot { classes: one_hot.classes },
                spec @ (LayerSpec::Rnn(_) | LayerSpec::Lstm(_) | LayerSpec::Gru(_)) => {
                    let count = GpuRecurrent::param_count(spec).expect("a recurrent layer");
                    let taken: Vec<_> = params.by_ref().take(count).collect();
                    names.extend(taken.iter().map(|(n, _)| n.clone()));
                    let weights: Vec<&Tensor> = taken.iter().map(|(_, p)| p.value()).collect();
                    Stage::Recurrent(GpuRecurrent::new(gpu, spec, &input_shape, &weights, 1)?)
                }
                LayerSpec::Linear(_) | LayerSpec::Conv2d(_) => {
                    let (Some((wn, w)), Some((bn, b))) = (params.next(), params.next()) else {
                        unreachable!("a linear or convolutional layer has a weight and a bias")
                    };
                    let (w, b) = (w.value(), b.value());
                    names.extend([wn.clone(), bn.clone()]);
                    let (weight, bias) = (GpuTensor::upload(gpu, w), GpuTensor::upload(gpu, b));
                    let (grad_weight, grad_bias) = (zeroed(gpu, w.numel()), zeroed(gpu, b.numel()));
                    let LayerSpec::Conv2d(conv) = &layer.spec else {
                        // [T, F]: a sequence, the same map at each step
                        let steps = if input_shape.len() == 2 { input_shape[0] } else { 1 };
                        stages.push(Stage::Linear { weight, bias, grad_weight, grad_bias, steps });
                        widths.push(output.iter().product());
                        continue;
                    };
                    let shape = ConvShape {
                        n: 1,
                        c: input_shape[0],
                        h: input_shape[1],
                        w: input_shape[2],
                        o: conv.out,
                        kernel: conv.kernel.pair(),
                        stride: conv.stride.pair(),
                        padding: conv.padding.pair(),
                    };
                    let table = conv.connections.as_ref().map(|table| {
                        let area = shape.kernel.0 * shape.kernel.1;
                        (upload_words(gpu, &table_mask(table, shape.c, area)), zeroed(gpu, w.numel()))
                    });
                    let (cols, prod) = (zeroed(gpu, 1), zeroed(gpu, 1));
                    Stage::Conv { weight, bias, grad_weight, grad_bias, shape, table, cols, prod }
                }
                LayerSpec::MaxPool2d(pool) => {
                    let stride = pool.stride.unwrap_or(pool.kernel).pair();
                    let shape = pool_shape(&input_shape, pool.kernel.pair(), stride, pool.padding.pair());
                    Stage::MaxPool { shape, argmax: zeroed(gpu, 1) }
                }
                LayerSpec::AvgPool2d(pool) => {
                    let stride = pool.stride.unwrap_or(pool.kernel).pair();
                    Stage::AvgPool { shape: pool_shape(&input_shape, pool.kernel.pair(), stride, pool.padding.pair()) }
                }
                LayerSpec::Dropout(d) => Stage::Dropout { p: d.p, rule: d.rule, mask: zeroed(gpu, 1) },
                LayerSpec::Pad(pad) => Stage::Pad {
                    planes: input_shape[0],
                    hw: (input_shape[1], input_shape[2]),
                    padding: pad.padding.pair(),
                    value: pad.value,
                },
                LayerSpec::Scale(scale) => Stage::Scale { factor: scale.factor },
                LayerSpec::Gelu(_) => Stage::Gelu,
                LayerSpec::Subsample(sub) => {
                    let (Some((wn, w)), Some((bn, b))) = (params.next(), params.next()) else {
                        unreachable!("a sub-sampling layer has a weight and a bias")
                    };
                    names.extend([wn.clone(), bn.clone()]);
                    let shape = SubsampleShape {
                        n: 1,
                        channels: input_shape[0],
                        h: input_shape[1],
                        w: input_shape[2],
                        kernel: sub.kernel.pair(),
                        stride: sub.stride.unwrap_or(sub.kernel).pair(),
                    };
                    let (w, b) = (w.value(), b.value());
                    Stage::Subsample {
                        weight: GpuTensor::upload(gpu, w),
                        bias: GpuTensor::upload(gpu, b),
                        grad_weight: zeroed(gpu, w.numel()),
                        grad_bias: zeroed(gpu, b.numel()),
                        shape,
                        sums: zeroed(gpu, 1),
                    }
                }
                LayerSpec::Rbf(rbf) => {
                    let Some((wn, w)) = params.next() else { unreachable!("an RBF layer has centres") };
                    names.push(wn.clone());
                    let w = w.value();
                    let (weight, grad_weight) = (GpuTensor::upload(gpu, w), zeroed(gpu, w.numel()));
                    Stage::Rbf { weight, grad_weight, f: input_shape[0], k: rbf.out }
                }
                LayerSpec::Lrn(l) => Stage::Lrn {
                    lrn: Lrn { size: l.size, alpha: l.alpha, beta: l.beta, k: l.k },
                    channels: input_shape[0],
                    inner: input_shape[1..].iter().product(),
                    d: zeroed(gpu, 1),
                },
                LayerSpec::Inception(inception) => {
                    let id = (&layer.describe()[..], inception, &input_shape[..]);
                    Stage::Inception(compound::Branches::new(gpu, id, &mut params, &mut names, capacity)?)
                }
                LayerSpec::Auxiliary(aux) => {
                    let id = (&layer.describe()[..], aux, &input_shape[..], model.spec().loss);
                    Stage::Auxiliary(compound::Head::new(gpu, id, &mut params, &mut names, capacity)?)
                }
                other => match other.as_activation().and_then(activation_code) {
                    Some(0) => continue, // the identity
                    Some(code) => Stage::Activation { code },
                    None => unreachable!("GpuNet::check passed layer {}", layer.describe()),
                },
            };
            stages.push(stage);
            widths.push(output.iter().product());
        }
        let steps = match shapes.last().map(Vec::as_slice) {
            Some(&[t, _]) => Some(t),
            _ => None,
        };
        if steps.is_some() && model.spec().loss != Loss::SoftmaxCrossEntropy {
            return Err(Error::config(format!(
                "model '{}': sequence outputs {:?} (one class a step) need softmax-cross-entropy, not {:?}",
                model.spec().name,
                shapes.last(),
                model.spec().loss
            )));
        }
        let (values, deltas) = (Vec::new(), Vec::new());
        let mut net = GpuNet { stages, widths, names, capacity: 0, values, deltas, input_delta: false, steps };
        net.reserve(gpu, capacity);
        Ok(net)
    }

    /// Makes the work buffers hold batches of `rows` rows.
    fn reserve(&mut self, gpu: &Gpu, rows: usize) {
        if rows > self.capacity {
            self.values = self.widths.iter().map(|w| zeroed(gpu, rows * w)).collect();
            self.deltas = self.widths.iter().map(|w| zeroed(gpu, rows * w)).collect();
            for (stage, &width) in self.stages.iter_mut().zip(&self.widths) {
                stage.reserve(gpu, rows, width);
            }
            self.capacity = rows;
        }
    }

    /// The values of an input row.
    pub fn inputs(&self) -> usize {
        self.widths[0]
    }

    /// The values of an output row.
    pub fn outputs(&self) -> usize {
        *self.widths.last().expect("the input's width")
    }

    /// T when a sample's outputs are a sequence of T rows of K (see [`kernels::sequence_loss`]).
    pub fn output_steps(&self) -> Option<usize> {
        self.steps
    }

    /// The width of a target row: one class index per step for sequence outputs, else one
    /// target per output.
    pub fn target_width(&self) -> usize {
        self.steps.unwrap_or_else(|| self.outputs())
    }

    /// Whether the rows `x` (N × [`GpuNet::inputs`]) hold what the first layer reads: for
    /// one-hot inputs, symbol indices, whole numbers below its classes (the kernel would give a
    /// row of zeros for another value, where the CPU op panics); `what` names the data in the
    /// error. Reads nothing for other nets.
    pub fn check_input(&self, x: &Inputs, what: &str) -> Result<()> {
        let Some(&Stage::OneHot { classes }) = self.stages.first() else { return Ok(()) };
        let (n, width) = (x.shape()[0], self.inputs().max(1));
        // a few thousand rows at a time: a text's windows as f32 once, not the whole set
        for start in (0..n).step_by(4096) {
            let rows: Vec<usize> = (start..(start + 4096).min(n)).collect();
            let block = x.gather_rows(&rows);
            let bad = block.data().iter().position(|&k| !(k >= 0.0 && k.fract() == 0.0 && (k as usize) < classes));
            if let Some(i) = bad {
                return Err(Error::config(format!(
                    "{what}: row {}, step {}: {} is not a symbol index of the model's one-hot layer (0..{classes})",
                    start + i / width,
                    i % width,
                    block.data()[i]
                )));
            }
        }
        Ok(())
    }

    /// Whether targets `t` fit the outputs: [`GpuNet::target_width`] of them a row and, for
    /// sequence outputs, class indices below K (or negative: a padded step, not counted); `what`
    /// names the data in the error (the CPU loss panics on such targets).
    pub fn check_targets(&self, t: &Tensor, what: &str) -> Result<()> {
        let width = self.target_width();
        if t.shape().len() != 2 || t.shape()[1] != width {
            return Err(Error::config(format!(
                "{what}: targets of shape {:?} for a model with {} outputs a sample: expected {width} targets a row{}",
                t.shape(),
                self.outputs(),
                if self.steps.is_some() { " (one class index per step)" } else { "" }
            )));
        }
        let Some(steps) = self.steps else { return Ok(()) };
        let k = self.outputs() / steps.max(1);
        match t.data().iter().position(|&c| c >= 0.0 && !(c.fract() == 0.0 && (c as usize) < k)) {
            None => Ok(()),
            Some(i) => Err(Error::config(format!(
                "{what}: row {}, step {}: target {} is not a class index of the model's {k} outputs a step",
                i / width.max(1),
                i % width.max(1),
                t.data()[i]
            ))),
        }
    }

    /// Writes the rows of `x` (m × [`GpuNet::inputs`]) where [`GpuNet::forward`] reads them.
    pub fn load_input(&mut self, gpu: &Gpu, x: &Tensor) {
        assert_eq!(x.shape().get(1), Some(&self.inputs()), "GpuNet::load_input: X is {:?}", x.shape());
        self.reserve(gpu, x.shape()[0]);
        let bytes: Vec<u8> = x.data().iter().flat_map(|v| v.to_le_bytes()).collect();
        gpu.write(&self.values[0], 0, &bytes);
    }

    /// The buffer that [`GpuNet::forward`] reads X from (m × [`GpuNet::inputs`]).
    pub fn input(&self) -> &wgpu::Buffer {
        &self.values[0]
    }

    /// The buffer that [`GpuNet::backward`] reads ∂E/∂U of the outputs from.
    pub fn output_delta(&self) -> &wgpu::Buffer {
        self.deltas.last().expect("the outputs' δ")
    }

    /// The forward pass of `rows` rows of X (in [`GpuNet::input`]) in test mode (dropout scales
    /// or passes its input through); returns the buffer of the outputs U (rows ×
    /// [`GpuNet::outputs`]).
    pub fn forward(&self, gpu: &Gpu, rows: usize) -> &wgpu::Buffer {
        self.run_forward(gpu, rows, None)
    }

    /// The forward pass of `rows` rows in training mode: dropout stage s draws its mask from
    /// the stream `Rng::derive(seed, s)`, so that a step's seed fixes every mask. Returns the
    /// outputs as [`GpuNet::forward`] does; [`GpuNet::backward`] may follow.
    pub fn forward_training(&self, gpu: &Gpu, rows: usize, seed: u64) -> &wgpu::Buffer {
        self.run_forward(gpu, rows, Some(seed))
    }

    /// The forward pass, in training mode with dropout's `seed` when one is given.
    fn run_forward(&self, gpu: &Gpu, rows: usize, seed: Option<u64>) -> &wgpu::Buffer {
        assert!(rows <= self.capacity, "GpuNet::forward: {rows} rows, the buffers hold {}", self.capacity);
        for (s, stage) in self.stages.iter().enumerate() {
            let (x, y) = (&self.values[s], &self.values[s + 1]);
            let (n_in, n_out) = (self.widths[s], self.widths[s + 1]);
            match stage {
                Stage::Linear { weight, bias, steps, .. } => {
                    // U = X·W, then + 1·b (the CPU's GEMM starts from the bias rows instead)
                    let (rows, n_in, n_out) = (rows * steps, n_in / steps, n_out / steps);
                    let w = weight.buffer();
                    kernels::gemm(gpu, (rows, n_out, n_in), x, Transpose::No, w, Transpose::No, y, false);
                    kernels::bias_add(gpu, rows, n_out, bias.buffer(), y);
                }
                Stage::OneHot { classes } => kernels::one_hot(gpu, rows * n_in, *classes, x, y),
                Stage::Activation { code } => kernels::activation(gpu, *code, rows * n_out, x, y),
                Stage::Conv { weight, bias, shape, table, cols, prod, .. } => {
                    let w = match table {
                        Some((mask, masked)) => {
                            kernels::mask_mul(gpu, weight.numel(), weight.buffer(), mask, masked);
                            masked
                        }
                        None => weight.buffer(),
                    };
                    let shape = ConvShape { n: rows, ..*shape };
                    kernels::conv2d_forward(gpu, &shape, x, w, bias.buffer(), cols, prod, y);
                }
                Stage::MaxPool { shape, argmax } => {
                    let shape = PoolShape { planes: rows * shape.planes, ..*shape };
                    kernels::max_pool_forward(gpu, &shape, x, y, argmax);
                }
                Stage::AvgPool { shape } => {
                    kernels::avg_pool_forward(gpu, &PoolShape { planes: rows * shape.planes, ..*shape }, x, y);
                }
                Stage::Dropout { p, rule, mask } => match seed {
                    Some(seed) => {
                        let stream = Rng::derive(seed, s as u64).next_u64();
                        kernels::dropout_forward(gpu, rows * n_out, *p, *rule, stream, x, y, mask);
                    }
                    None => kernels::dropout_eval(gpu, rows * n_out, *p, *rule, x, y),
                },
                Stage::Recurrent(r) => {
                    r.forward(gpu, rows, x, y, seed.map(|seed| Rng::derive(seed, s as u64).next_u64()))
                }
                Stage::Pad { planes, hw, padding, value } => {
                    kernels::pad(gpu, rows * planes, *hw, *padding, *value, x, y);
                }
                Stage::Scale { factor } => kernels::scale(gpu, rows * n_out, *factor, x, y),
                Stage::Gelu => kernels::gelu_forward(gpu, rows * n_out, x, y),
                Stage::Subsample { weight, bias, shape, sums, .. } => {
                    let shape = SubsampleShape { n: rows, ..*shape };
                    kernels::subsample_forward(gpu, &shape, x, (weight.buffer(), bias.buffer()), sums, y);
                }
                Stage::Rbf { weight, f, k, .. } => kernels::rbf_forward(gpu, (rows, *f, *k), x, weight.buffer(), y),
                Stage::Lrn { lrn, channels, inner, d } => {
                    kernels::lrn_forward(gpu, *lrn, (rows, *channels, *inner), x, y, d);
                }
                Stage::Inception(branches) => {
                    let seed = seed.map(|seed| Rng::derive(seed, s as u64).next_u64());
                    branches.forward(gpu, rows, (n_in, x), y, seed);
                }
                Stage::Auxiliary(head) => {
                    let seed = seed.map(|seed| Rng::derive(seed, s as u64).next_u64());
                    head.forward(gpu, rows, (n_in, x), y, seed);
                }
            }
        }
        self.values.last().expect("the outputs")
    }

    /// The backward pass after [`GpuNet::forward_training`] (or [`GpuNet::forward`] for a net
    /// without dropout) of the same `rows`, from ∂E/∂U in [`GpuNet::output_delta`]: every
    /// weight's and bias's gradient, in their buffers. The input's δ is not computed (nobody
    /// needs it) but in a net inside a module (an Inception branch, an auxiliary head). A net
    /// with auxiliary heads needs their δ first ([`GpuNet::side_losses`]).
    pub fn backward(&self, gpu: &Gpu, rows: usize) {
        for (s, stage) in self.stages.iter().enumerate().rev() {
            let (x, y) = (&self.values[s], &self.values[s + 1]);
            let (delta_in, delta_out) = (&self.deltas[s], &self.deltas[s + 1]);
            let (n_in, n_out) = (self.widths[s], self.widths[s + 1]);
            let needs_dx = s > 0 || self.input_delta;
            match stage {
                Stage::Linear { weight, grad_weight, grad_bias, steps, .. } => {
                    // ∂E/∂W = Xᵀ·δ, ∂E/∂b = 1ᵀ·δ, ∂E/∂X = δ·Wᵀ, over every step's row
                    let (rows, n_in, n_out) = (rows * steps, n_in / steps, n_out / steps);
                    kernels::gemm(
                        gpu,
                        (n_in, n_out, rows),
                        x,
                        Transpose::Yes,
                        delta_out,
                        Transpose::No,
                        grad_weight,
                        false,
                    );
                    kernels::column_sum(gpu, rows, n_out, delta_out, grad_bias);
                    if needs_dx {
                        let w = weight.buffer();
                        kernels::gemm(
                            gpu,
                            (rows, n_in, n_out),
                            delta_out,
                            Transpose::No,
                            w,
                            Transpose::Yes,
                            delta_in,
                            false,
                        );
                    }
                }
                Stage::Activation { code } if needs_dx => {
                    kernels::activation_backward(gpu, *code, rows * n_out, y, delta_out, delta_in);
                }
                Stage::Activation { .. } | Stage::OneHot { .. } => {}
                Stage::Conv { weight, grad_weight, grad_bias, shape, table, cols, prod, .. } => {
                    let shape = ConvShape { n: rows, ..*shape };
                    let dx = needs_dx.then_some(delta_in);
                    let w = table.as_ref().map_or(weight.buffer(), |(_, masked)| masked);
                    let grads = (grad_weight, grad_bias);
                    kernels::conv2d_backward(gpu, &shape, (x, w), delta_out, (cols, prod), grads, dx);
                    if let Some((mask, _)) = table {
                        // ∂E/∂W = M ⊙ ∂E/∂(W ⊙ M)
                        kernels::mask_in_place(gpu, weight.numel(), mask, grad_weight);
                    }
                }
                Stage::MaxPool { .. }
                | Stage::AvgPool { .. }
                | Stage::Dropout { .. }
                | Stage::Pad { .. }
                | Stage::Scale { .. }
                | Stage::Gelu
                | Stage::Lrn { .. }
                    if !needs_dx => {}
                Stage::MaxPool { shape, argmax } => {
                    let shape = PoolShape { planes: rows * shape.planes, ..*shape };
                    kernels::max_pool_backward(gpu, &shape, delta_out, argmax, delta_in);
                }
                Stage::AvgPool { shape } => {
                    let shape = PoolShape { planes: rows * shape.planes, ..*shape };
                    kernels::avg_pool_backward(gpu, &shape, delta_out, delta_in);
                }
                Stage::Dropout { mask, .. } => kernels::dropout_backward(gpu, rows * n_out, delta_out, mask, delta_in),
                Stage::Recurrent(r) => r.backward(gpu, rows, delta_out, needs_dx.then_some(delta_in)),
                Stage::Pad { planes, hw, padding, .. } => {
                    kernels::crop(gpu, rows * planes, *hw, *padding, delta_out, delta_in);
                }
                Stage::Scale { factor } => kernels::scale(gpu, rows * n_out, *factor, delta_out, delta_in),
                Stage::Gelu => kernels::gelu_backward(gpu, rows * n_out, x, delta_out, delta_in),
                Stage::Lrn { lrn, channels, inner, d } => {
                    kernels::lrn_backward(gpu, *lrn, (rows, *channels, *inner), x, d, delta_out, delta_in);
                }
                Stage::Subsample { weight, grad_weight, grad_bias, shape, sums, .. } => {
                    let shape = SubsampleShape { n: rows, ..*shape };
                    let grads = (grad_weight, grad_bias);
                    let dx = needs_dx.then_some(delta_in);
                    kernels::subsample_backward(gpu, &shape, (weight.buffer(), sums), delta_out, grads, dx);
                }
                Stage::Rbf { weight, grad_weight, f, k } => {
                    let dx = needs_dx.then_some(delta_in);
                    kernels::rbf_backward(gpu, (rows, *f, *k), (x, weight.buffer()), delta_out, grad_weight, dx);
                }
                Stage::Inception(branches) => {
                    branches.backward(gpu, rows, n_in, delta_out, needs_dx.then_some(delta_in))
                }
                Stage::Auxiliary(head) => head.backward(gpu, rows, n_in, delta_out, needs_dx.then_some(delta_in)),
            }
        }
    }

    /// Each auxiliary head's output δ after [`GpuNet::forward_training`] of `rows` rows: its
    /// loss against the targets T (rows × outputs), times its weight. A no-op for a net without
    /// heads.
    pub fn side_losses(&self, gpu: &Gpu, rows: usize, targets: &wgpu::Buffer) {
        for stage in &self.stages {
            if let Stage::Auxiliary(head) = stage {
                head.loss(gpu, rows, targets);
            }
        }
    }

    /// The parameters in the model's order: (name, weight on the device, its gradient buffer).
    pub fn params(&self) -> Vec<(&str, &GpuTensor, &wgpu::Buffer)> {
        let names = self.names.iter().map(String::as_str);
        let params = self.stages.iter().flat_map(Stage::params);
        names.zip(params).map(|(name, (w, g))| (name, w, g)).collect()
    }

    /// The gradients of the last backward pass, by parameter name, on the CPU (for tests).
    pub fn gradients(&self, gpu: &Gpu) -> Vec<(String, Tensor)> {
        self.params()
            .into_iter()
            .map(|(name, w, g)| (name.to_string(), Tensor::from_vec(download_f32(gpu, g, w.numel()), w.shape())))
            .collect()
    }

    /// Writes the device's weights into `model` (the one this net was made from).
    pub fn write_back(&self, gpu: &Gpu, model: &mut dyn Module) {
        let weights: Vec<(&str, Tensor)> = self.params().into_iter().map(|(n, w, _)| (n, w.download(gpu))).collect();
        let mut weights = weights.into_iter();
        for (name, param) in model.params_mut() {
            if let Some((gpu_name, w)) = weights.next() {
                assert_eq!(name, gpu_name, "GpuNet::write_back: the model's parameters differ from the net's");
                *param.value_mut() = w;
            }
        }
    }
}
