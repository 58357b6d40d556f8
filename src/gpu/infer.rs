//! Evaluation and prediction on the device: a [`GpuNet`]'s forward pass over the rows in
//! batches, with only what the caller asked for coming back — the outputs (prediction), or each
//! row's loss and predicted class (evaluation; the logits stay on the device).

use super::buffer::{download_f32, zeroed};
use super::{Gpu, GpuNet, kernels};
use crate::data::Dataset;
use crate::loss::Loss;
use crate::nn::Model;
use crate::tensor::Tensor;
use crate::train::{Evaluation, RegressionMetrics};
use crate::{Error, Result};

/// A saved model's network on the GPU, for evaluation and prediction (no gradients, no
/// optimizer state).
pub struct GpuPredictor {
    gpu: Gpu,
    net: GpuNet,
    loss: Loss,
    name: String,
    /// Rows of a forward pass: [`GpuPredictor::BATCH`], or fewer where a layer's buffers for
    /// that many would be over what the device binds at once.
    batch: usize,
}

impl GpuPredictor {
    /// The most rows of a forward pass on the device: large batches keep the GPU busy, and the
    /// work buffers of an MLP 784-512-512-10 at this size take 20 MB. A model whose layers hold
    /// more a row (char-lstm's LSTM keeps its gates at every step: 2048 rows of 50 steps of
    /// 4·256 would be 419 MB in one buffer) runs fewer, so that each layer's values fit the
    /// device's binding size.
    pub const BATCH: usize = 2048;

    /// A copy of `model`'s network and weights on `gpu`; an error names a layer without a GPU
    /// kernel (see [`GpuNet::check`]).
    pub fn new(gpu: Gpu, model: &Model) -> Result<GpuPredictor> {
        let batch = Self::batch_for(&gpu, model)?;
        let net = GpuNet::new(&gpu, model, batch)?;
        Ok(GpuPredictor { gpu, net, loss: model.spec().loss, name: model.spec().name.clone(), batch })
    }

    /// [`GpuPredictor::BATCH`] rows, or as many as keep the most values one sample's pass
    /// through a layer computes ([`crate::nn::LayerKind::values`], an upper bound of any one
    /// of its buffers) within the device's binding size.
    fn batch_for(gpu: &Gpu, model: &Model) -> Result<usize> {
        let spec = model.spec();
        let mut input = spec.input.clone();
        let mut per_row = spec.input_size();
        for (layer, output) in spec.layers.iter().zip(spec.shapes()?) {
            per_row = per_row.max(layer.spec.as_kind().values(&input, &output));
            input = output;
        }
        let limit = gpu.limits.max_storage_buffer_binding_size.min(gpu.limits.max_buffer_size);
        let fit = usize::try_from(limit / 4).unwrap_or(usize::MAX) / per_row.max(1);
        Ok(fit.clamp(1, Self::BATCH))
    }

    /// The GPU in words.
    pub fn device_name(&self) -> String {
        self.gpu.name()
    }

    /// The model's answer for the rows of `x` (N × inputs), as [`Model::predict`]: the forward
    /// passes run on the device, the outputs come back once, and the loss's output function
    /// (softmax, sigmoid or none) is applied on the CPU.
    pub fn predict(&mut self, x: &Tensor) -> Tensor {
        let (n, d, k) = (x.shape()[0], self.net.inputs(), self.net.outputs());
        let outputs = zeroed(&self.gpu, n * k);
        for start in (0..n).step_by(self.batch) {
            let rows = self.batch.min(n - start);
            let batch = Tensor::from_vec(x.data()[start * d..(start + rows) * d].to_vec(), &[rows, d]);
            self.net.load_input(&self.gpu, &batch);
            let u = self.net.forward(&self.gpu, rows);
            // each batch's outputs to their place in one buffer (after its forward pass): one
            // download at the end
            self.gpu.submit();
            let mut encoder = self.gpu.device.create_command_encoder(&wgpu::CommandEncoderDescriptor::default());
            encoder.copy_buffer_to_buffer(u, 0, &outputs, 4 * (start * k) as u64, 4 * (rows * k) as u64);
            self.gpu.queue.submit([encoder.finish()]);
        }
        // a sequence's outputs as N × T × K, so that softmax runs over each step's K as on the CPU
        let shape = match self.net.output_steps() {
            Some(steps) => vec![n, steps, k / steps],
            None => vec![n, k],
        };
        let u = Tensor::from_vec(download_f32(&self.gpu, &outputs, n * k), &shape);
        self.loss.predict(&u)
    }

    /// The mean loss and accuracy on `data`, as [`crate::train::evaluate`], and each row's
    /// predicted class (`None` for sequence outputs, whose steps each have one): only the rows'
    /// losses and classes come back from the device, and for a regression (least squares on
    /// data without classes) the outputs, from which the CPU's MSE, MAE and R² are computed as
    /// [`crate::train::evaluate`] computes them. An error names what does not fit the model.
    pub fn evaluate(&mut self, data: &Dataset) -> Result<(Evaluation, Option<Vec<usize>>)> {
        let what = format!("--device gpu: model '{}': the data", self.name);
        if data.lengths.is_some() {
            return Err(Error::config(format!(
                "{what}: the GPU layers do not take sequences of different lengths yet (evaluate with --device cpu)"
            )));
        }
        self.net.check_input(&data.inputs, &what)?;
        self.net.check_targets(&data.targets, &what)?;
        let (n, k, width) = (data.len(), self.net.outputs(), self.net.target_width());
        let steps = self.net.output_steps();
        let regression = data.labels.is_none() && self.loss == Loss::LeastSquares;
        let gpu = &self.gpu;
        let losses = zeroed(gpu, n);
        let classes = zeroed(gpu, n);
        let targets = zeroed(gpu, self.batch.min(n) * width);
        let step_losses = zeroed(gpu, (self.batch.min(n) * steps.unwrap_or(0)).max(1));
        let outputs = regression.then(|| zeroed(gpu, n * k));
        for start in (0..n).step_by(self.batch) {
            let rows: Vec<usize> = (start..(start + self.batch).min(n)).collect();
            self.net.load_input(gpu, &data.inputs.gather_rows(&rows));
            let t = data.targets.gather_rows(&rows);
            gpu.write(&targets, 0, &t.data().iter().flat_map(|v| v.to_le_bytes()).collect::<Vec<u8>>());
            let u = self.net.forward(gpu, rows.len());
            // δ is not needed: the net's output δ buffer takes it
            let delta = self.net.output_delta();
            match steps {
                Some(steps) => {
                    let counted = t.data().iter().filter(|&&c| c >= 0.0).count();
                    let shape = (rows.len(), steps, k / steps);
                    kernels::sequence_loss(gpu, shape, counted, u, &targets, delta, &step_losses, (&losses, start));
                }
                None => {
                    kernels::loss(gpu, self.loss, (rows.len(), k), u, &targets, delta, &losses, start);
                    kernels::argmax_rows(gpu, rows.len(), k, u, &classes, start);
                }
            }
            if let Some(outputs) = &outputs {
                // after the batch's forward pass, before the next one overwrites u
                gpu.submit();
                let mut encoder = gpu.device.create_command_encoder(&wgpu::CommandEncoderDescriptor::default());
                encoder.copy_buffer_to_buffer(u, 0, outputs, 4 * (start * k) as u64, 4 * (rows.len() * k) as u64);
                gpu.queue.submit([encoder.finish()]);
            }
        }
        let loss_sum: f64 = download_f32(gpu, &losses, n).iter().map(|&l| f64::from(l)).sum();
        // the classes are u32: their bits travel as f32's
        let predicted: Option<Vec<usize>> =
            steps.is_none().then(|| download_f32(gpu, &classes, n).iter().map(|c| c.to_bits() as usize).collect());
        let accuracy = data.labels.as_ref().zip(predicted.as_ref()).map(|(labels, predicted)| {
            let correct = predicted.iter().zip(labels).filter(|(p, l)| p == l).count();
            correct as f32 / n.max(1) as f32
        });
        let regression = outputs.map(|outputs| {
            let u = Tensor::from_vec(download_f32(gpu, &outputs, n * k), &[n, k]);
            RegressionMetrics::of(&u, &data.targets)
        });
        Ok((Evaluation { loss: (loss_sum / n.max(1) as f64) as f32, accuracy, regression }, predicted))
    }
}
