//! Mini-batch training on the device: the data set is uploaded once, and each epoch uploads only
//! its shuffled order; every step gathers its batch, runs forward, the fused softmax
//! cross-entropy and backward, and updates weights and optimizer state, all on the device. A set
//! larger than the device binds at once (MNIST's 179 MB on lavapipe, which binds 128 MB) stays
//! on the host, and each step writes its batch instead. At the epoch's end the rows' losses come
//! back, and the weights and optimizer state are written into the CPU model and optimizer, which
//! evaluate and checkpoint as before.

use super::buffer::{download_f32, upload_words, zeroed};
use super::regularize::DeviceRegularization;
use super::{Gpu, GpuNet, kernels};
use crate::data::Dataset;
use crate::loss::Loss;
use crate::nn::{Model, Module};
use crate::optim::{Optimizer, RuleParams};
use crate::rng::Rng;
use crate::train::Regularization;
use crate::{Error, Result};
use std::ops::Range;

/// A training set seen by the device.
struct DeviceData {
    /// Inputs N × D and targets N × K, f32, on the device; `None` when the steps write their
    /// batches from the host (a set over the device's binding size, or [`GpuTraining::stream`]).
    buffers: Option<(wgpu::Buffer, wgpu::Buffer)>,
    /// Its rows, and the address of the CPU set it came from (a different set is uploaded anew).
    rows: usize,
    source: usize,
}

/// The GPU side of a [`crate::train::Trainer`]: the net, the optimizer's rule and state buffers,
/// and the training set, on the device.
pub struct GpuTraining {
    gpu: Gpu,
    net: GpuNet,
    rule: RuleParams,
    /// Each parameter's state buffers, in the net's order of parameters.
    state: Vec<Vec<wgpu::Buffer>>,
    data: Option<DeviceData>,
    loss: Loss,
    regularization: Option<DeviceRegularization>,
    /// The sum over the last epoch's rows of the penalty of their batch (0 without L1/L2).
    penalty_sum: f64,
    /// Whether every set stays on the host ([`GpuTraining::stream`]).
    stream: bool,
}

impl GpuTraining {
    /// Moves the training of `model` by `optimizer` (its state too, for a resumed run) to `gpu`,
    /// with batches of up to `batch` rows; an error names what the GPU cannot do yet.
    pub fn new(gpu: Gpu, model: &Model, optimizer: &Optimizer, batch: usize) -> Result<GpuTraining> {
        let Some(rule) = optimizer.rule_params() else {
            return Err(Error::config(format!(
                "--device gpu: the optimizer {} has no GPU kernel yet: use one of nabla's own optimizers",
                optimizer.name()
            )));
        };
        let net = GpuNet::new(&gpu, model, batch)?;
        let saved = optimizer.state_dict();
        let state = net
            .params()
            .iter()
            .map(|(name, w, _)| match saved.buffers.get(*name) {
                Some(buffers) => buffers.iter().map(|b| upload_words(&gpu, b)).collect(),
                None => (0..rule.state_buffers()).map(|_| zeroed(&gpu, w.numel())).collect(),
            })
            .collect();
        let loss = model.spec().loss;
        Ok(GpuTraining {
            gpu,
            net,
            rule,
            state,
            data: None,
            loss,
            regularization: None,
            penalty_sum: 0.0,
            stream: false,
        })
    }

    /// Regularizes the training steps from now on by `reg` (penalties, clipping, max-norm).
    pub fn regularize(&mut self, reg: Regularization) {
        self.regularization = Some(DeviceRegularization::new(&self.gpu, reg, &self.net));
    }

    /// The sum over the last epoch's rows of their batch's penalty (what the CPU's loop sums as
    /// each batch's penalty times its size; 0 without L1/L2 penalties).
    pub fn penalty_sum(&self) -> f64 {
        self.penalty_sum
    }

    /// The GPU in words.
    pub fn device_name(&self) -> String {
        self.gpu.name()
    }

    /// The steps of one epoch: `batches` ranges of `order` (rows of `data`), with the
    /// optimizer's learning rate; `optimizer` counts the steps. Batch b's dropout masks come from
    /// the stream `Rng::derive(seed, b)` (see [`GpuNet::forward_training`]). Returns the sum over the epoch's rows of their loss
    /// (what the CPU's loop sums as each batch's mean times its size); `batch_end` is called
    /// after each step is queued (its loss stays on the device). The weights and optimizer state
    /// are written into `model` and `optimizer` at the end.
    pub fn epoch(
        &mut self,
        data: &Dataset,
        order: &[usize],
        batches: &[Range<usize>],
        seed: u64,
        (model, optimizer): (&mut dyn Module, &mut Optimizer),
        batch_end: &mut dyn FnMut(usize),
    ) -> f64 {
        if let Err(e) = self.upload(data) {
            panic!("{e}");
        }
        let gpu = &self.gpu;
        let device_data = self.data.as_ref().expect("uploaded").buffers.as_ref();
        let order32: Vec<u32> = order.iter().map(|&i| i as u32).collect();
        let order_buffer = upload_words(gpu, &order32);
        let losses = zeroed(gpu, order.len());
        let (d, k) = (self.net.inputs(), self.net.target_width());
        let eta = optimizer.lr();
        let mut t = optimizer.steps();
        // one buffer for every batch's targets, not one per step
        let largest = batches.iter().map(Range::len).max().unwrap_or(0);
        let targets = zeroed(gpu, (largest * k).max(1));
        let penalties = zeroed(gpu, batches.len());
        let steps = self.net.output_steps();
        // each step's loss of a sequence model's batch, before its samples' sums
        let step_losses = zeroed(gpu, (largest * steps.unwrap_or(0)).max(1));
        for (b, range) in batches.iter().enumerate() {
            let rows = range.len();
            match device_data {
                Some((inputs, all_targets)) => {
                    kernels::gather_rows(gpu, (rows, d), &order_buffer, range.start, inputs, self.net.input());
                    kernels::gather_rows(gpu, (rows, k), &order_buffer, range.start, all_targets, &targets);
                }
                None => {
                    // after the step before has read the batch before (the queue's order)
                    let batch = &order[range.clone()];
                    self.net.load_input(gpu, &data.inputs.gather_rows(batch));
                    let t: Vec<u8> =
                        data.targets.gather_rows(batch).data().iter().flat_map(|v| v.to_le_bytes()).collect();
                    gpu.write(&targets, 0, &t);
                }
            }
            let u = self.net.forward_training(gpu, rows, Rng::derive(seed, b as u64).next_u64());
            let delta = self.net.output_delta();
            match steps {
                Some(steps) => {
                    // the steps the CPU loss counts: those whose target is not negative (padding)
                    let batch = &order[range.clone()];
                    let t = data.targets.data();
                    let counted = batch.iter().flat_map(|&r| &t[r * k..(r + 1) * k]).filter(|&&c| c >= 0.0).count();
                    let shape = (rows, steps, self.net.outputs() / steps);
                    let out = (&losses, range.start);
                    kernels::sequence_loss(gpu, shape, counted, u, &targets, delta, &step_losses, out);
                }
                None => kernels::loss(gpu, self.loss, (rows, k), u, &targets, delta, &losses, range.start),
            }
            self.net.side_losses(gpu, rows, &targets);
            self.net.backward(gpu, rows);
            if let Some(reg) = &self.regularization {
                reg.before_update(gpu, &self.net, &penalties, b);
            }
            t += 1;
            for ((_, w, g), state) in self.net.params().into_iter().zip(&self.state) {
                let state: Vec<&wgpu::Buffer> = state.iter().collect();
                kernels::update(gpu, self.rule, eta, t, w.numel(), g, w.buffer(), &state);
            }
            if let Some(reg) = &self.regularization {
                reg.after_update(gpu, &self.net);
            }
            // the step's kernels in one command buffer; then wgpu may free the finished steps'
            // temporaries, without waiting for the GPU
            gpu.submit();
            let _ = gpu.device.poll(wgpu::PollType::Poll);
            batch_end(rows);
        }
        let loss_sum = download_f32(gpu, &losses, order.len()).iter().map(|&l| f64::from(l)).sum();
        let batch_penalties = download_f32(gpu, &penalties, batches.len());
        self.penalty_sum = batch_penalties.iter().zip(batches).map(|(&p, r)| f64::from(p) * r.len() as f64).sum();
        self.write_back(model, optimizer, t);
        loss_sum
    }

    /// Uploads the training set unless it is already on the device, or, when it takes more than
    /// the device binds at once, leaves it on the host for the steps to write their batches from.
    pub fn upload(&mut self, data: &Dataset) -> Result<()> {
        let source = data as *const Dataset as usize;
        if self.data.as_ref().is_some_and(|d| d.source == source && d.rows == data.len()) {
            return Ok(());
        }
        self.net.check_input(&data.inputs, "--device gpu: the training set")?;
        self.net.check_targets(&data.targets, "--device gpu: the training set")?;
        let bytes = 4 * data.inputs.shape().iter().product::<usize>() as u64;
        let limit = self.gpu.limits.max_storage_buffer_binding_size.min(self.gpu.limits.max_buffer_size);
        let buffers = (!self.stream && bytes <= limit).then(|| {
            let all: Vec<usize> = (0..data.len()).collect();
            let inputs = data.inputs.gather_rows(&all);
            (upload_words(&self.gpu, inputs.data()), upload_words(&self.gpu, data.targets.data()))
        });
        self.data = Some(DeviceData { buffers, rows: data.len(), source });
        Ok(())
    }

    /// Makes the steps write each batch from the host even when the training set would fit on
    /// the device (what a set over the device's binding size gets; for tests of that path).
    pub fn stream(&mut self) {
        self.stream = true;
        self.data = None;
    }

    /// Writes the device's weights into `model`, and its optimizer state (at step `t`) into
    /// `optimizer`.
    fn write_back(&self, model: &mut dyn Module, optimizer: &mut Optimizer, t: u64) {
        self.net.write_back(&self.gpu, model);
        let mut state = optimizer.state_dict();
        state.t = t;
        for ((name, w, _), buffers) in self.net.params().into_iter().zip(&self.state) {
            if !buffers.is_empty() {
                let values = buffers.iter().map(|b| download_f32(&self.gpu, b, w.numel())).collect();
                state.buffers.insert(name.to_string(), values);
            }
        }
        optimizer.load_state_dict(state).expect("the state of the optimizer's own rule, for its own parameters");
    }
}
