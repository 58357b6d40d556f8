//! The launches of `shaders/pool.wgsl`: max pooling (with its argmax) and average pooling,
//! forward and backward, the device twins of [`crate::Var::max_pool2d_padded`] and of
//! [`crate::nn::AvgPool2d`] (ops/pool.rs, nn/pool.rs).

use super::word;
use crate::gpu::Gpu;
use crate::gpu::context::groups_for;

/// The pooling kernels' pipelines.
pub(in crate::gpu) struct PoolPipelines {
    max_forward: wgpu::ComputePipeline,
    max_backward: wgpu::ComputePipeline,
    avg_forward: wgpu::ComputePipeline,
    avg_backward: wgpu::ComputePipeline,
}

impl PoolPipelines {
    /// The pipelines of `module` (pool.wgsl), made by `pipeline`.
    pub(in crate::gpu) fn new(
        module: &wgpu::ShaderModule,
        pipeline: impl Fn(&wgpu::ShaderModule, &str) -> wgpu::ComputePipeline,
    ) -> PoolPipelines {
        PoolPipelines {
            max_forward: pipeline(module, "max_forward"),
            max_backward: pipeline(module, "max_backward"),
            avg_forward: pipeline(module, "avg_forward"),
            avg_backward: pipeline(module, "avg_backward"),
        }
    }
}

/// The sizes of one pooling: `planes` = N·C planes of H×W, KH×KW windows moved by (SH, SW) over
/// the input with (PH, PW) of border on each side (at most half the kernel).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoolShape {
    /// N·C.
    pub planes: usize,
    /// Rows H.
    pub h: usize,
    /// Columns W.
    pub w: usize,
    /// (KH, KW).
    pub kernel: (usize, usize),
    /// (SH, SW).
    pub stride: (usize, usize),
    /// (PH, PW).
    pub padding: (usize, usize),
}

impl PoolShape {
    /// (OH, OW) = ((H + 2·PH − KH)/SH + 1, likewise); panics naming the shape if the windows do
    /// not fit or the padding is over half the kernel (specs check this first).
    #[track_caller]
    pub fn out(&self) -> (usize, usize) {
        let ((kh, kw), (sh, sw), (ph, pw)) = (self.kernel, self.stride, self.padding);
        let (hp, wp) = (self.h + 2 * ph, self.w + 2 * pw);
        assert!(
            sh > 0 && sw > 0 && kh > 0 && kw > 0 && kh <= hp && kw <= wp && 2 * ph <= kh && 2 * pw <= kw,
            "GPU pooling: {self:?} does not fit"
        );
        ((hp - kh) / sh + 1, (wp - kw) / sw + 1)
    }

    /// Output values: planes·OH·OW.
    pub fn outputs(&self) -> usize {
        let (oh, ow) = self.out();
        self.planes * oh * ow
    }

    /// Input values: planes·H·W.
    pub fn inputs(&self) -> usize {
        self.planes * self.h * self.w
    }

    fn params(&self) -> [u32; 12] {
        let (oh, ow) = self.out();
        let scale = 1.0 / (self.kernel.0 * self.kernel.1) as f32;
        let sizes = [
            self.planes,
            self.h,
            self.w,
            self.kernel.0,
            self.kernel.1,
            self.stride.0,
            self.stride.1,
            self.padding.0,
            self.padding.1,
            oh,
            ow,
        ];
        let mut params = [0; 12];
        for (p, v) in params.iter_mut().zip(sizes) {
            *p = word(v, "a pooling size");
        }
        params[11] = scale.to_bits();
        params
    }
}

/// y = the window maxima of x, clipped to the input (a border of −∞), and `argmax` (u32, one per
/// output) their indices in the plane, first in row-major order on ties.
pub fn max_pool_forward(gpu: &Gpu, shape: &PoolShape, x: &wgpu::Buffer, y: &wgpu::Buffer, argmax: &wgpu::Buffer) {
    let pipe = &gpu.kernels.pool.max_forward;
    gpu.launch(pipe, &shape.params(), &[x, y, argmax], groups_for(shape.outputs()));
}

/// δx = each window's δ sent to its maximum (`argmax` of [`max_pool_forward`]), a pixel summing
/// the windows it wins in their order.
pub fn max_pool_backward(
    gpu: &Gpu,
    shape: &PoolShape,
    delta_y: &wgpu::Buffer,
    argmax: &wgpu::Buffer,
    dx: &wgpu::Buffer,
) {
    let pipe = &gpu.kernels.pool.max_backward;
    gpu.launch(pipe, &shape.params(), &[delta_y, dx, argmax], groups_for(shape.inputs()));
}

/// y = the window means of x over a border of zeros that count in the mean.
pub fn avg_pool_forward(gpu: &Gpu, shape: &PoolShape, x: &wgpu::Buffer, y: &wgpu::Buffer) {
    gpu.launch(&gpu.kernels.pool.avg_forward, &shape.params(), &[x, y], groups_for(shape.outputs()));
}

/// δx = the sum of δ/(KH·KW) over the windows that hold each pixel.
pub fn avg_pool_backward(gpu: &Gpu, shape: &PoolShape, delta_y: &wgpu::Buffer, dx: &wgpu::Buffer) {
    gpu.launch(&gpu.kernels.pool.avg_backward, &shape.params(), &[delta_y, dx], groups_for(shape.inputs()));
}
