//! The launches of `shaders/subsample.wgsl`: LeNet-5's trainable sub-sampling, forward and
//! backward, the device twin of [`crate::nn::Subsample`] (sum pooling, then
//! [`crate::Var::channel_affine`]).

use super::word;
use crate::gpu::Gpu;
use crate::gpu::context::groups_for;

/// The sub-sampling kernels' pipelines.
pub(in crate::gpu) struct SubsamplePipelines {
    forward: wgpu::ComputePipeline,
    backward_input: wgpu::ComputePipeline,
    backward_params: wgpu::ComputePipeline,
}

impl SubsamplePipelines {
    /// The pipelines of `module` (subsample.wgsl), made by `pipeline`.
    pub(in crate::gpu) fn new(
        module: &wgpu::ShaderModule,
        pipeline: impl Fn(&wgpu::ShaderModule, &str) -> wgpu::ComputePipeline,
    ) -> SubsamplePipelines {
        SubsamplePipelines {
            forward: pipeline(module, "forward"),
            backward_input: pipeline(module, "backward_input"),
            backward_params: pipeline(module, "backward_params"),
        }
    }
}

/// The sizes of one sub-sampling: `n` samples of `channels` maps H×W, KH×KW windows moved by
/// (SH, SW), no padding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SubsampleShape {
    /// N.
    pub n: usize,
    /// C.
    pub channels: usize,
    /// H.
    pub h: usize,
    /// W.
    pub w: usize,
    /// (KH, KW).
    pub kernel: (usize, usize),
    /// (SH, SW).
    pub stride: (usize, usize),
}

impl SubsampleShape {
    /// (OH, OW) = ((H − KH)/SH + 1, likewise); panics naming the shape if the windows do not fit.
    #[track_caller]
    pub fn out(&self) -> (usize, usize) {
        let ((kh, kw), (sh, sw)) = (self.kernel, self.stride);
        assert!(
            kh > 0 && kw > 0 && sh > 0 && sw > 0 && kh <= self.h && kw <= self.w,
            "GPU sub-sampling: {self:?} does not fit"
        );
        ((self.h - kh) / sh + 1, (self.w - kw) / sw + 1)
    }

    /// Output values N·C·OH·OW (also the window sums kept for backward).
    pub fn outputs(&self) -> usize {
        let (oh, ow) = self.out();
        self.n * self.channels * oh * ow
    }

    fn params(&self) -> [u32; 10] {
        let (oh, ow) = self.out();
        let sizes = [
            self.n * self.channels,
            self.channels,
            self.h,
            self.w,
            self.kernel.0,
            self.kernel.1,
            self.stride.0,
            self.stride.1,
            oh,
            ow,
        ];
        sizes.map(|v| word(v, "a sub-sampling size"))
    }
}

/// y = w\[c\]·Σ(window of x) + b\[c\]; the window sums go to `sums` (N·C·OH·OW) for backward.
pub fn subsample_forward(
    gpu: &Gpu,
    shape: &SubsampleShape,
    x: &wgpu::Buffer,
    (weight, bias): (&wgpu::Buffer, &wgpu::Buffer),
    sums: &wgpu::Buffer,
    y: &wgpu::Buffer,
) {
    let pipe = &gpu.kernels.subsample.forward;
    gpu.launch(pipe, &shape.params(), &[x, y, weight, sums, bias], groups_for(shape.outputs()));
}

/// The gradients of [`subsample_forward`] from δy: ∂E/∂w and ∂E/∂b (C each) into `grads`, and
/// δx when `dx` is given.
pub fn subsample_backward(
    gpu: &Gpu,
    shape: &SubsampleShape,
    (weight, sums): (&wgpu::Buffer, &wgpu::Buffer),
    dy: &wgpu::Buffer,
    (grad_weight, grad_bias): (&wgpu::Buffer, &wgpu::Buffer),
    dx: Option<&wgpu::Buffer>,
) {
    let params = shape.params();
    let k = &gpu.kernels.subsample;
    gpu.launch(&k.backward_params, &params, &[dy, grad_weight, sums, grad_bias], groups_for(shape.channels));
    if let Some(dx) = dx {
        let inputs = shape.n * shape.channels * shape.h * shape.w;
        gpu.launch(&k.backward_input, &params, &[dy, dx, weight], groups_for(inputs));
    }
}
