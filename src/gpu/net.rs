//! A network of linear layers and activations on the device: its weights and gradients, the work
//! buffers of a batch, and the forward and backward passes, layer by layer as on the CPU
//! (nn/linear.rs, ops/matmul.rs, ops/activation.rs).
//!
//! # Shapes (m rows of a batch, at most the capacity the work buffers were made for)
//! - `values[0]`: X, m × n₀; `values[s + 1]`: the output of stage s, m × nₛ₊₁
//! - `deltas[s + 1]`: ∂E/∂(output of stage s), same shape as `values[s + 1]`
//! - a linear stage: W nᵢₙ × nₒᵤₜ, b nₒᵤₜ, and their gradients of the same shapes

use super::buffer::{download_f32, zeroed};
use super::kernels::{self, activation_code};
use super::{Gpu, GpuTensor};
use crate::nn::{LayerSpec, Model, ModelSpec, Module};
use crate::tensor::{Tensor, Transpose};
use crate::{Error, Result};

/// One step of the network on the device.
enum Stage {
    /// U = Y·W + 1·b.
    Linear { weight: GpuTensor, bias: GpuTensor, grad_weight: wgpu::Buffer, grad_bias: wgpu::Buffer },
    /// Y = f(U), f by its shader number ([`activation_code`]).
    Activation { code: u32 },
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

impl GpuNet {
    /// Whether every layer of `spec` has GPU kernels (see [`crate::nn::LayerKind::gpu`]); the
    /// error names the first that has none.
    pub fn check(spec: &ModelSpec) -> Result<()> {
        for (i, layer) in spec.layers.iter().enumerate() {
            if !layer.spec.as_kind().gpu() {
                return Err(Error::config(format!(
                    "--device gpu: model '{}': layer {i} ({}) has no GPU kernel yet; the GPU trains networks of \
                     linear layers, flatten and the activations identity, sigmoid, tanh, relu and scaled-tanh (train \
                     this one with --device cpu)",
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
        let params = model.params();
        let mut params = params.iter();
        let mut names = Vec::new();
        let mut stages = Vec::new();
        let mut widths = vec![model.spec().input_size()];
        for layer in &model.spec().layers {
            let code = match &layer.spec {
                LayerSpec::Linear(_) => None,
                LayerSpec::Flatten(_) => continue, // rows are already flat on the device
                other => match other.as_activation().and_then(activation_code) {
                    Some(0) => continue, // the identity
                    Some(code) => Some(code),
                    None => unreachable!("GpuNet::check passed layer {}", layer.describe()),
                },
            };
            if let Some(code) = code {
                widths.push(*widths.last().expect("the input's width"));
                stages.push(Stage::Activation { code });
                continue;
            }
            let (Some((wn, w)), Some((bn, b))) = (params.next(), params.next()) else {
                unreachable!("a linear layer has a weight and a bias")
            };
            let (w, b) = (w.value(), b.value());
            widths.push(w.shape()[1]);
            names.extend([wn.clone(), bn.clone()]);
            stages.push(Stage::Linear {
                weight: GpuTensor::upload(gpu, w),
                bias: GpuTensor::upload(gpu, b),
                grad_weight: zeroed(gpu, w.numel()),
                grad_bias: zeroed(gpu, b.numel()),
            });
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
        gpu.queue.write_buffer(&self.values[0], 0, &bytes);
    }

    /// The buffer that [`GpuNet::forward`] reads X from (m × [`GpuNet::inputs`]).
    pub fn input(&self) -> &wgpu::Buffer {
        &self.values[0]
    }

    /// The buffer that [`GpuNet::backward`] reads ∂E/∂U of the outputs from.
    pub fn output_delta(&self) -> &wgpu::Buffer {
        self.deltas.last().expect("the outputs' δ")
    }

    /// The forward pass of `rows` rows of X (in [`GpuNet::input`]); returns the buffer of the
    /// outputs U (rows × [`GpuNet::outputs`]).
    pub fn forward(&self, gpu: &Gpu, rows: usize) -> &wgpu::Buffer {
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
            }
        }
        self.values.last().expect("the outputs")
    }

    /// The backward pass after [`GpuNet::forward`] of the same `rows`, from ∂E/∂U in
    /// [`GpuNet::output_delta`]: every weight's and bias's gradient, in their buffers. The
    /// input's δ is not computed (nobody needs it).
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
            }
        }
    }

    /// The parameters in the model's order: (name, weight on the device, its gradient buffer).
    pub fn params(&self) -> Vec<(&str, &GpuTensor, &wgpu::Buffer)> {
        let mut names = self.names.iter();
        let mut out = Vec::new();
        for stage in &self.stages {
            if let Stage::Linear { weight, bias, grad_weight, grad_bias } = stage {
                out.push((names.next().expect("a name per weight").as_str(), weight, grad_weight));
                out.push((names.next().expect("a name per bias").as_str(), bias, grad_bias));
            }
        }
        out
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
