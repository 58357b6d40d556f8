//! Regularization of a run on the device, in the CPU trainer's order (train/mod.rs `step`): the
//! L1/L2 penalties' gradients and the batch's penalty from the weights before the update, then
//! clipping of the global gradient norm, the update, and max-norm on the updated weights. Which
//! parameters each applies to is the CPU's rule: penalties and max-norm to weights only
//! (parameters named `*weight`), max-norm to 2-D ones (a unit's incoming weights are a column).

use super::buffer::zeroed;
use super::{Gpu, GpuNet, kernels};
use crate::train::Regularization;

/// The regularization of a run and the buffers its sums need.
pub(super) struct DeviceRegularization {
    reg: Regularization,
    /// The workgroups' partial sums of every parameter, side by side.
    sums: wgpu::Buffer,
    /// The global squared gradient norm.
    norm: wgpu::Buffer,
}

fn is_penalized(name: &str) -> bool {
    name.ends_with("weight")
}

impl DeviceRegularization {
    /// `reg` for the parameters of `net`.
    pub(super) fn new(gpu: &Gpu, reg: Regularization, net: &GpuNet) -> DeviceRegularization {
        let slots = net.params().iter().map(|(_, w, _)| kernels::partial_slots(w.numel())).sum();
        DeviceRegularization { reg, sums: zeroed(gpu, slots), norm: zeroed(gpu, 1) }
    }

    /// Adds the penalties' gradients to the gradients of `net`'s weights and writes the penalty
    /// λ₁Σ|w| + ½λ₂Σw² to `penalties[slot]`, then clips the global gradient norm: what comes
    /// between backward and the update.
    pub(super) fn before_update(&self, gpu: &Gpu, net: &GpuNet, penalties: &wgpu::Buffer, slot: usize) {
        let Regularization { l1, l2, clip, .. } = self.reg;
        let params = net.params();
        if l1 != 0.0 || l2 != 0.0 {
            let mut offset = 0;
            for (_, w, g) in params.iter().filter(|(name, ..)| is_penalized(name)) {
                kernels::partial_sums(
                    gpu,
                    w.numel(),
                    kernels::SumOf::Penalty { l1, l2 },
                    w.buffer(),
                    &self.sums,
                    offset,
                );
                offset += kernels::partial_slots(w.numel());
                kernels::penalty_grad(gpu, w.numel(), (l1, l2), w.buffer(), g);
            }
            kernels::finish(gpu, offset, &self.sums, penalties, slot);
        }
        if let Some(c) = clip {
            let mut offset = 0;
            for (_, w, g) in &params {
                kernels::partial_sums(gpu, w.numel(), kernels::SumOf::Squares, g, &self.sums, offset);
                offset += kernels::partial_slots(w.numel());
            }
            kernels::finish(gpu, offset, &self.sums, &self.norm, 0);
            for (_, w, g) in &params {
                kernels::clip_scale(gpu, w.numel(), c, g, &self.norm);
            }
        }
    }

    /// Max-norm on the updated 2-D weights of `net`.
    pub(super) fn after_update(&self, gpu: &Gpu, net: &GpuNet) {
        let Some(c) = self.reg.max_norm else { return };
        for (name, w, _) in net.params() {
            if let (true, &[rows, cols]) = (is_penalized(name), w.shape()) {
                kernels::max_norm(gpu, (rows, cols), c, w.buffer());
            }
        }
    }
}
