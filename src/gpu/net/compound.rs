//! The stages that hold networks of their own: Inception's four branches (nn/inception.rs) and
//! an auxiliary classifier's head (nn/auxiliary.rs). Each branch or head is a [`GpuNet`] of the
//! layers the CPU module runs, with the module's weights, that also computes its input's δ.
//!
//! # Inception (input x, N × C·H·W rows)
//! - forward: each branch reads a copy of x; their outputs (N × Cᵦ·H·W) are written side by side
//!   into each row of y, which is the concatenation along the channels
//! - backward: each branch's δ is its columns of δy (the split); δx is the sum of the four
//!   branches' input δ, in branch order
//!
//! # Auxiliary head (input x)
//! - forward: y = x; in training, the head runs on a copy of x too
//! - loss: the model's loss of the head's output against the batch's targets, its δ times the
//!   head's weight (the CPU adds weight·E_head to what it minimises; the reported loss is the
//!   main output's alone)
//! - backward: δx = δy + the head's input δ

use super::{GpuNet, kernels};
use crate::Result;
use crate::autodiff::Param;
use crate::gpu::Gpu;
use crate::gpu::buffer::zeroed;
use crate::loss::Loss;
use crate::nn::{
    Activation, AuxiliarySpec, Conv2dSpec, InceptionSpec, Layer, LayerSpec, MaxPool2dSpec, Model, ModelSpec, Module,
    Size2,
};
use crate::rng::Rng;

/// A sub-network on the device with the given layers and the weights that `params` yields next
/// (the CPU module's, in its order), their names pushed to `names`.
fn sub_net<'a>(
    gpu: &Gpu,
    (name, input, loss): (String, &[usize], Loss),
    layers: Vec<Layer>,
    params: &mut dyn Iterator<Item = &'a (String, &'a Param)>,
    names: &mut Vec<String>,
    capacity: usize,
) -> Result<GpuNet> {
    let spec = ModelSpec { name, input: input.to_vec(), input_map: None, loss, train: None, layers };
    // the draw is overwritten by the module's weights below
    let mut model = Model::new(spec, &mut Rng::seed(0))?;
    let mut own = Vec::new();
    for (_, p) in model.params_mut() {
        let (outer, w) = params.next().expect("the module's parameters, one for each of its layers'");
        *p.value_mut() = w.value().clone();
        own.push(outer.clone());
    }
    let mut net = GpuNet::new(gpu, &model, capacity)?;
    names.extend(own.iter().cloned());
    net.names = own;
    net.input_delta = true;
    Ok(net)
}

/// A convolution with a kernel of `k` × `k` that keeps the size (padding k/2), then a ReLU: one
/// of Inception's.
fn conv_relu(out: usize, k: usize) -> [Layer; 2] {
    let conv = Conv2dSpec {
        out,
        kernel: Size2(k, k),
        stride: Size2(1, 1),
        padding: Size2(k / 2, k / 2),
        init: None,
        connections: None,
    };
    [LayerSpec::Conv2d(conv).into(), LayerSpec::activation(Activation::Relu).into()]
}

/// Inception's branches on the device.
pub(super) struct Branches {
    nets: Vec<GpuNet>,
    /// Each branch's output row Cᵦ·H·W.
    widths: Vec<usize>,
}

impl Branches {
    /// The branches of `spec` over one sample of `input` (C×H×W), with the module's weights.
    pub(super) fn new<'a>(
        gpu: &Gpu,
        (name, spec, input): (&str, &InceptionSpec, &[usize]),
        params: &mut dyn Iterator<Item = &'a (String, &'a Param)>,
        names: &mut Vec<String>,
        capacity: usize,
    ) -> Result<Branches> {
        let s = spec.sizes();
        let pool = MaxPool2dSpec { kernel: Size2(3, 3), stride: Some(Size2(1, 1)), padding: Size2(1, 1) };
        let branches: [Vec<Layer>; 4] = [
            conv_relu(s.c1x1, 1).into(),
            [conv_relu(s.c3x3_reduce, 1), conv_relu(s.c3x3, 3)].concat(),
            [conv_relu(s.c5x5_reduce, 1), conv_relu(s.c5x5, 5)].concat(),
            [vec![LayerSpec::MaxPool2d(pool).into()], conv_relu(s.pool_proj, 1).to_vec()].concat(),
        ];
        let area = input[1] * input[2];
        let widths = [s.c1x1, s.c3x3, s.c5x5, s.pool_proj].map(|c| c * area).to_vec();
        let mut nets = Vec::new();
        for (b, layers) in branches.into_iter().enumerate() {
            let id = (format!("{name} branch {b}"), input, Loss::SoftmaxCrossEntropy);
            nets.push(sub_net(gpu, id, layers, params, names, capacity)?);
        }
        Ok(Branches { nets, widths })
    }

    /// Makes the branches' buffers hold batches of `rows` rows.
    pub(super) fn reserve(&mut self, gpu: &Gpu, rows: usize) {
        self.nets.iter_mut().for_each(|net| net.reserve(gpu, rows));
    }

    /// The branches' weights and gradient buffers, in the module's order.
    pub(super) fn params(&self) -> Vec<(&crate::gpu::GpuTensor, &wgpu::Buffer)> {
        self.nets.iter().flat_map(|net| net.params().into_iter().map(|(_, w, g)| (w, g))).collect()
    }

    /// y (rows × ΣCᵦ·H·W) = the branches' outputs on x (rows × `width` values), side by side; in
    /// training mode with dropout's `seed` when one is given.
    pub(super) fn forward(
        &self,
        gpu: &Gpu,
        rows: usize,
        (width, x): (usize, &wgpu::Buffer),
        y: &wgpu::Buffer,
        seed: Option<u64>,
    ) {
        let total: usize = self.widths.iter().sum();
        let mut offset = 0;
        for (b, (net, &part)) in self.nets.iter().zip(&self.widths).enumerate() {
            kernels::copy(gpu, rows * width, x, net.input());
            let out = net.run_forward(gpu, rows, seed.map(|s| Rng::derive(s, b as u64).next_u64()));
            kernels::concat(gpu, rows, (part, offset, total), out, y);
            offset += part;
        }
    }

    /// Every branch's gradients from δy, and δx (rows × `width`) when `dx` is given.
    pub(super) fn backward(&self, gpu: &Gpu, rows: usize, width: usize, dy: &wgpu::Buffer, dx: Option<&wgpu::Buffer>) {
        let total: usize = self.widths.iter().sum();
        let mut offset = 0;
        for (net, &part) in self.nets.iter().zip(&self.widths) {
            kernels::split(gpu, rows, (part, offset, total), dy, net.output_delta());
            net.backward(gpu, rows);
            offset += part;
        }
        if let Some(dx) = dx {
            for (b, net) in self.nets.iter().enumerate() {
                let input_delta = &net.deltas[0];
                if b == 0 {
                    kernels::copy(gpu, rows * width, input_delta, dx);
                } else {
                    kernels::accumulate(gpu, rows * width, input_delta, dx);
                }
            }
        }
    }
}

/// An auxiliary classifier's head on the device.
pub(super) struct Head {
    net: GpuNet,
    weight: f32,
    loss: Loss,
    /// The head's rows' losses (not reported) and its loss's δ before the weight.
    losses: wgpu::Buffer,
    delta: wgpu::Buffer,
}

impl Head {
    /// The head of `spec` over one sample of `input`, trained with the model's `loss`.
    pub(super) fn new<'a>(
        gpu: &Gpu,
        (name, spec, input, loss): (&str, &AuxiliarySpec, &[usize], Loss),
        params: &mut dyn Iterator<Item = &'a (String, &'a Param)>,
        names: &mut Vec<String>,
        capacity: usize,
    ) -> Result<Head> {
        let id = (format!("{name} head"), input, loss);
        let net = sub_net(gpu, id, spec.layers.clone(), params, names, capacity)?;
        // the net's reserve sizes the buffers for its capacity
        Ok(Head { net, weight: spec.weight, loss, losses: zeroed(gpu, 1), delta: zeroed(gpu, 1) })
    }

    /// Makes the head's buffers hold batches of `rows` rows.
    pub(super) fn reserve(&mut self, gpu: &Gpu, rows: usize) {
        self.net.reserve(gpu, rows);
        self.losses = zeroed(gpu, rows);
        self.delta = zeroed(gpu, rows * self.net.outputs());
    }

    /// The head's weights and gradient buffers, in the module's order.
    pub(super) fn params(&self) -> Vec<(&crate::gpu::GpuTensor, &wgpu::Buffer)> {
        self.net.params().into_iter().map(|(_, w, g)| (w, g)).collect()
    }

    /// y = x (rows × `width`); in training mode (a `seed` for dropout given) the head runs on x.
    pub(super) fn forward(
        &self,
        gpu: &Gpu,
        rows: usize,
        (width, x): (usize, &wgpu::Buffer),
        y: &wgpu::Buffer,
        seed: Option<u64>,
    ) {
        kernels::copy(gpu, rows * width, x, y);
        if let Some(seed) = seed {
            kernels::copy(gpu, rows * width, x, self.net.input());
            self.net.run_forward(gpu, rows, Some(seed));
        }
    }

    /// The head's output δ: the weight times the δ of its loss against the targets T (rows × K).
    pub(super) fn loss(&self, gpu: &Gpu, rows: usize, targets: &wgpu::Buffer) {
        let k = self.net.outputs();
        let u = self.net.values.last().expect("the head's outputs");
        kernels::loss(gpu, self.loss, (rows, k), u, targets, &self.delta, &self.losses, 0);
        kernels::scale(gpu, rows * k, self.weight, &self.delta, self.net.output_delta());
    }

    /// The head's gradients, and δx = δy + the head's input δ (rows × `width`) when `dx` is given.
    pub(super) fn backward(&self, gpu: &Gpu, rows: usize, width: usize, dy: &wgpu::Buffer, dx: Option<&wgpu::Buffer>) {
        self.net.backward(gpu, rows);
        if let Some(dx) = dx {
            kernels::copy(gpu, rows * width, dy, dx);
            kernels::accumulate(gpu, rows * width, &self.net.deltas[0], dx);
        }
    }
}
