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
use super::kernels::{self, ConvKernel, ConvShape, PoolShape, activation_code};
use super::{Gpu, GpuTensor};
use crate::nn::{DropoutRule, LayerSpec, Model, ModelSpec, Module};
use crate::rng::Rng;
use crate::tensor::{Tensor, Transpose};
use crate::{Error, Result};

/// One step of the network on the device.
// a net has a handful of stages, built once and never moved in a loop: boxing the convolution's
// buffers would save nothing
#[allow(clippy::large_enum_variant)]
enum Stage {
    /// U = Y·W + 1·b.
    Linear { weight: GpuTensor, bias: GpuTensor, grad_weight: wgpu::Buffer, grad_bias: wgpu::Buffer },
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
            Stage::Linear { .. } | Stage::Activation { .. } | Stage::AvgPool { .. } => {}
        }
    }

    /// Its weight and bias with their gradient buffers, if it has any.
    fn params(&self) -> Option<[(&GpuTensor, &wgpu::Buffer); 2]> {
        match self {
            Stage::Linear { weight, bias, grad_weight, grad_bias }
            | Stage::Conv { weight, bias, grad_weight, grad_bias, .. } => {
                Some([(weight, grad_weight), (bias, grad_bias)])
            }
            _ => None,
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
                    "--device gpu: model '{}': layer {i} ({}) has no GPU kernel yet; the GPU trains networks of \
                     linear, conv2d, maxpool2d, avgpool2d, dropout and flatten layers and the activations identity, \
                     sigmoid, tanh, relu and scaled-tanh (train this one with --device cpu)",
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
                LayerSpec::Linear(_) | LayerSpec::Conv2d(_) => {
                    let (Some((wn, w)), Some((bn, b))) = (params.next(), params.next()) else {
                        unreachable!("a linear or convolutional layer has a weight and a bias")
                    };
                    let (w, b) = (w.value(), b.value());
                    names.extend([wn.clone(), bn.clone()]);
                    let (weight, bias) = (GpuTensor::upload(gpu, w), GpuTensor::upload(gpu, b));
                    let (grad_weight, grad_bias) = (zeroed(gpu, w.numel()), zeroed(gpu, b.numel()));
                    let LayerSpec::Conv2d(conv) = &layer.spec else {
                        stages.push(Stage::Linear { weight, bias, grad_weight, grad_bias });
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
                other => match other.as_activation().and_then(activation_code) {
                    Some(0) => continue, // the identity
                    Some(code) => Stage::Activation { code },
                    None => unreachable!("GpuNet::check passed layer {}", layer.describe()),
                },
            };
            stages.push(stage);
            widths.push(output.iter().product());
        }
        let mut net = GpuNet { stages, widths, names, capacity: 0, values: Vec::new(), deltas: Vec::new() };
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
                Stage::Linear { weight, bias, .. } => {
                    // U = X·W, then + 1·b (the CPU's GEMM starts from the bias rows instead)
                    let w = weight.buffer();
                    kernels::gemm(gpu, (rows, n_out, n_in), x, Transpose::No, w, Transpose::No, y, false);
                    kernels::bias_add(gpu, rows, n_out, bias.buffer(), y);
                }
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
            }
        }
        self.values.last().expect("the outputs")
    }

    /// The backward pass after [`GpuNet::forward_training`] (or [`GpuNet::forward`] for a net
    /// without dropout) of the same `rows`, from ∂E/∂U in [`GpuNet::output_delta`]: every
    /// weight's and bias's gradient, in their buffers. The input's δ is not computed (nobody
    /// needs it).
    pub fn backward(&self, gpu: &Gpu, rows: usize) {
        for (s, stage) in self.stages.iter().enumerate().rev() {
            let (x, y) = (&self.values[s], &self.values[s + 1]);
            let (delta_in, delta_out) = (&self.deltas[s], &self.deltas[s + 1]);
            let (n_in, n_out) = (self.widths[s], self.widths[s + 1]);
            match stage {
                Stage::Linear { weight, grad_weight, grad_bias, .. } => {
                    // ∂E/∂W = Xᵀ·δ, ∂E/∂b = 1ᵀ·δ, ∂E/∂X = δ·Wᵀ
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
                    if s > 0 {
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
                Stage::Activation { code } if s > 0 => {
                    kernels::activation_backward(gpu, *code, rows * n_out, y, delta_out, delta_in);
                }
                Stage::Activation { .. } => {}
                Stage::Conv { weight, grad_weight, grad_bias, shape, table, cols, prod, .. } => {
                    let shape = ConvShape { n: rows, ..*shape };
                    let dx = (s > 0).then_some(delta_in);
                    let w = table.as_ref().map_or(weight.buffer(), |(_, masked)| masked);
                    let grads = (grad_weight, grad_bias);
                    kernels::conv2d_backward(gpu, &shape, (x, w), delta_out, (cols, prod), grads, dx);
                    if let Some((mask, _)) = table {
                        // ∂E/∂W = M ⊙ ∂E/∂(W ⊙ M)
                        kernels::mask_in_place(gpu, weight.numel(), mask, grad_weight);
                    }
                }
                Stage::MaxPool { .. } | Stage::AvgPool { .. } | Stage::Dropout { .. } if s == 0 => {}
                Stage::MaxPool { shape, argmax } => {
                    let shape = PoolShape { planes: rows * shape.planes, ..*shape };
                    kernels::max_pool_backward(gpu, &shape, delta_out, argmax, delta_in);
                }
                Stage::AvgPool { shape } => {
                    let shape = PoolShape { planes: rows * shape.planes, ..*shape };
                    kernels::avg_pool_backward(gpu, &shape, delta_out, delta_in);
                }
                Stage::Dropout { mask, .. } => kernels::dropout_backward(gpu, rows * n_out, delta_out, mask, delta_in),
            }
        }
    }

    /// The parameters in the model's order: (name, weight on the device, its gradient buffer).
    pub fn params(&self) -> Vec<(&str, &GpuTensor, &wgpu::Buffer)> {
        let names = self.names.iter().map(String::as_str);
        let params = self.stages.iter().filter_map(Stage::params).flatten();
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
