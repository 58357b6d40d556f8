//! The launches of `shaders/conv.wgsl`: 2-D convolution forward and backward, directly for few
//! input maps and through im2col and the GEMM for many ([`ConvKernel`]), the device twin of
//! [`crate::Var::conv2d`] (ops/conv.rs).

use super::{gemm, word};
use crate::gpu::Gpu;
use crate::gpu::context::groups_for;
use crate::tensor::Transpose;

/// The convolution kernels' pipelines.
pub(in crate::gpu) struct ConvPipelines {
    im2col: wgpu::ComputePipeline,
    col2im: wgpu::ComputePipeline,
    to_maps: wgpu::ComputePipeline,
    from_maps: wgpu::ComputePipeline,
    bias_grad: wgpu::ComputePipeline,
    mask_mul: wgpu::ComputePipeline,
    mask_in_place: wgpu::ComputePipeline,
    direct_forward: wgpu::ComputePipeline,
    direct_input_grad: wgpu::ComputePipeline,
    direct_grad_partial: wgpu::ComputePipeline,
    sum_samples: wgpu::ComputePipeline,
}

impl ConvPipelines {
    /// The pipelines of `module` (conv.wgsl), made by `pipeline`.
    pub(in crate::gpu) fn new(
        module: &wgpu::ShaderModule,
        pipeline: impl Fn(&wgpu::ShaderModule, &str) -> wgpu::ComputePipeline,
    ) -> ConvPipelines {
        ConvPipelines {
            im2col: pipeline(module, "im2col"),
            col2im: pipeline(module, "col2im"),
            to_maps: pipeline(module, "to_maps"),
            from_maps: pipeline(module, "from_maps"),
            bias_grad: pipeline(module, "bias_grad"),
            mask_mul: pipeline(module, "mask_mul"),
            mask_in_place: pipeline(module, "mask_in_place"),
            direct_forward: pipeline(module, "direct_forward"),
            direct_input_grad: pipeline(module, "direct_input_grad"),
            direct_grad_partial: pipeline(module, "direct_grad_partial"),
            sum_samples: pipeline(module, "sum_samples"),
        }
    }
}

/// The sizes of one convolution: input N×C×H×W, weight O×C×KH×KW, stride (SH, SW), zero padding
/// (PH, PW) on each side.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConvShape {
    /// Samples N.
    pub n: usize,
    /// Input maps C.
    pub c: usize,
    /// Input rows H.
    pub h: usize,
    /// Input columns W.
    pub w: usize,
    /// Output maps O.
    pub o: usize,
    /// (KH, KW).
    pub kernel: (usize, usize),
    /// (SH, SW).
    pub stride: (usize, usize),
    /// (PH, PW).
    pub padding: (usize, usize),
}

impl ConvShape {
    /// (OH, OW) = ((H + 2·PH − KH)/SH + 1, likewise); panics naming the shape if the kernel
    /// does not fit the padded input or a stride is 0 (specs check this first).
    #[track_caller]
    pub fn out(&self) -> (usize, usize) {
        let (kh, kw) = self.kernel;
        let (sh, sw) = self.stride;
        let (hp, wp) = (self.h + 2 * self.padding.0, self.w + 2 * self.padding.1);
        assert!(sh > 0 && sw > 0 && kh > 0 && kw > 0 && kh <= hp && kw <= wp, "GPU conv2d: {self:?} does not fit");
        ((hp - kh) / sh + 1, (wp - kw) / sw + 1)
    }

    /// Rows of `cols`: K = C·KH·KW.
    pub fn k(&self) -> usize {
        self.c * self.kernel.0 * self.kernel.1
    }

    /// Output positions per sample: P = OH·OW.
    pub fn p(&self) -> usize {
        let (oh, ow) = self.out();
        oh * ow
    }

    /// Values of `cols`, the scratch that [`conv2d_forward`] and [`conv2d_backward`] need by
    /// the kernel [`ConvKernel::for_shape`] picks (see [`ConvShape::cols_len_for`]).
    pub fn cols_len(&self) -> usize {
        self.cols_len_for(ConvKernel::for_shape(self))
    }

    /// Values of `cols` that `kernel` needs: K·N·P for im2col, N·(O·K + O) for the direct
    /// kernels' per-sample gradients; `prod` holds O·N·P for either.
    pub fn cols_len_for(&self, kernel: ConvKernel) -> usize {
        match kernel {
            ConvKernel::Im2col => self.k() * self.n * self.p(),
            ConvKernel::Direct => self.n * (self.o * self.k() + self.o),
        }
    }

    /// The shader's parameters, with `len` and `first` for `mask_mul` and `sum_samples`.
    fn params(&self, len: usize, first: usize) -> [u32; 16] {
        let (oh, ow) = self.out();
        let words = [
            self.n,
            self.c,
            self.h,
            self.w,
            self.o,
            self.kernel.0,
            self.kernel.1,
            self.stride.0,
            self.stride.1,
            self.padding.0,
            self.padding.1,
            oh,
            ow,
            len,
            first,
            0,
        ];
        words.map(|v| word(v, "a convolution size"))
    }
}

/// The largest K = C·KH·KW for which [`ConvKernel::for_shape`] picks the direct kernels. They
/// read two values per multiply-add where the GEMM's 4×4 blocks read one per two, but save
/// im2col's K copies of the input: on lavapipe at batch 64 LeNet's C1 (K = 25) took 324 ms
/// forward and backward directly against 552 ms through im2col, C3 (K = 150) 880 ms against 287.
pub const DIRECT_UP_TO: usize = 64;

/// How the convolution kernels compute. Both sum each value over its terms in a fixed order, so
/// repeated runs agree bit for bit; the two differ in that order, within rounding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConvKernel {
    /// A thread per output value reading x and W in place; the weight gradient summed per sample
    /// (a thread per sample and weight), then over the samples in order.
    Direct,
    /// im2col of the batch into `cols` (K × N·P) and the GEMM; col2im for ∂E/∂x.
    Im2col,
}

impl ConvKernel {
    /// The direct kernels up to [`DIRECT_UP_TO`] terms an output, im2col and the GEMM above.
    pub fn for_shape(shape: &ConvShape) -> ConvKernel {
        if shape.k() <= DIRECT_UP_TO { ConvKernel::Direct } else { ConvKernel::Im2col }
    }
}

/// y (N×O×OH×OW) = conv(x, W) + b, as [`crate::Var::conv2d`], by [`ConvKernel::for_shape`]'s
/// kernel: `cols` ([`ConvShape::cols_len`] values) and `prod` (O·N·P) are scratch, kept for
/// [`conv2d_backward`].
#[allow(clippy::too_many_arguments)]
pub fn conv2d_forward(
    gpu: &Gpu,
    shape: &ConvShape,
    x: &wgpu::Buffer,
    w: &wgpu::Buffer,
    b: &wgpu::Buffer,
    cols: &wgpu::Buffer,
    prod: &wgpu::Buffer,
    y: &wgpu::Buffer,
) {
    conv2d_forward_with(gpu, ConvKernel::for_shape(shape), shape, (x, w, b), (cols, prod), y);
}

/// [`conv2d_forward`] by the given kernel (for tests and benchmarks of each): im2col(x) into
/// `cols` (K·N·P values) and W·cols into `prod` (O·N·P); the direct kernel uses neither.
pub fn conv2d_forward_with(
    gpu: &Gpu,
    kernel: ConvKernel,
    shape: &ConvShape,
    (x, w, b): (&wgpu::Buffer, &wgpu::Buffer, &wgpu::Buffer),
    (cols, prod): (&wgpu::Buffer, &wgpu::Buffer),
    y: &wgpu::Buffer,
) {
    let (k, np, o) = (shape.k(), shape.n * shape.p(), shape.o);
    let params = shape.params(0, 0);
    let pipes = &gpu.kernels.conv;
    match kernel {
        ConvKernel::Direct => gpu.launch(&pipes.direct_forward, &params, &[x, y, w, b], groups_for(o * np)),
        ConvKernel::Im2col => {
            gpu.launch(&pipes.im2col, &params, &[x, cols], groups_for(k * np));
            gemm(gpu, (o, np, k), w, Transpose::No, cols, Transpose::No, prod, false);
            gpu.launch(&pipes.to_maps, &params, &[prod, y, b], groups_for(o * np));
        }
    }
}

/// The backward pass of [`conv2d_forward`] from δ = ∂E/∂y (N×O×OH×OW), by the same kernel:
/// ∂E/∂W into `grad_w` (O×C×KH×KW), ∂E/∂b = Σ δ into `grad_b` (O), and, when `dx` is given,
/// ∂E/∂x into it (N×C×H×W). `x` is the forward pass's input; `cols` and `prod` are the forward
/// pass's scratch (im2col(x) in `cols`, which is overwritten).
#[allow(clippy::too_many_arguments)]
pub fn conv2d_backward(
    gpu: &Gpu,
    shape: &ConvShape,
    (x, w): (&wgpu::Buffer, &wgpu::Buffer),
    delta: &wgpu::Buffer,
    (cols, prod): (&wgpu::Buffer, &wgpu::Buffer),
    (grad_w, grad_b): (&wgpu::Buffer, &wgpu::Buffer),
    dx: Option<&wgpu::Buffer>,
) {
    let kernel = ConvKernel::for_shape(shape);
    conv2d_backward_with(gpu, kernel, shape, (x, w), delta, (cols, prod), (grad_w, grad_b), dx);
}

/// [`conv2d_backward`] by the given kernel, the one [`conv2d_forward_with`] ran.
#[allow(clippy::too_many_arguments)]
pub fn conv2d_backward_with(
    gpu: &Gpu,
    kernel: ConvKernel,
    shape: &ConvShape,
    (x, w): (&wgpu::Buffer, &wgpu::Buffer),
    delta: &wgpu::Buffer,
    (cols, prod): (&wgpu::Buffer, &wgpu::Buffer),
    (grad_w, grad_b): (&wgpu::Buffer, &wgpu::Buffer),
    dx: Option<&wgpu::Buffer>,
) {
    let (k, np, o) = (shape.k(), shape.n * shape.p(), shape.o);
    let params = shape.params(0, 0);
    let pipes = &gpu.kernels.conv;
    match kernel {
        ConvKernel::Direct => {
            // each sample's share of ∂E/∂W and ∂E/∂b into cols, then their sums over the samples
            gpu.launch(&pipes.direct_grad_partial, &params, &[delta, cols, x], groups_for(shape.n * (o * k + o)));
            let (weights, biases) = (shape.params(o * k, 0), shape.params(o, o * k));
            gpu.launch(&pipes.sum_samples, &weights, &[cols, grad_w], groups_for(o * k));
            gpu.launch(&pipes.sum_samples, &biases, &[cols, grad_b], groups_for(o));
            if let Some(dx) = dx {
                let pixels = shape.n * shape.c * shape.h * shape.w;
                gpu.launch(&pipes.direct_input_grad, &params, &[delta, dx, w], groups_for(pixels));
            }
        }
        ConvKernel::Im2col => {
            // δ in the GEMMs' layout, O × N·P
            gpu.launch(&pipes.from_maps, &params, &[delta, prod], groups_for(o * np));
            gemm(gpu, (o, k, np), prod, Transpose::No, cols, Transpose::Yes, grad_w, false);
            gpu.launch(&pipes.bias_grad, &params, &[delta, grad_b], groups_for(o));
            if let Some(dx) = dx {
                // cols is no longer needed: it takes Wᵀ·δ
                gemm(gpu, (k, np, o), w, Transpose::Yes, prod, Transpose::No, cols, false);
                let pixels = shape.n * shape.c * shape.h * shape.w;
                gpu.launch(&pipes.col2im, &params, &[cols, dx], groups_for(pixels));
            }
        }
    }
}

/// out = a ⊙ mask over `n` values: a connection table's mask on the weights, W ⊙ M
/// (nn/conv2d.rs).
pub fn mask_mul(gpu: &Gpu, n: usize, a: &wgpu::Buffer, mask: &wgpu::Buffer, out: &wgpu::Buffer) {
    gpu.launch(&gpu.kernels.conv.mask_mul, &mask_params(n), &[a, out, mask], groups_for(n));
}

/// g ← g ⊙ mask over `n` values: the gradient of a masked weight, ∂E/∂W = M ⊙ ∂E/∂(W ⊙ M).
pub fn mask_in_place(gpu: &Gpu, n: usize, mask: &wgpu::Buffer, g: &wgpu::Buffer) {
    gpu.launch(&gpu.kernels.conv.mask_in_place, &mask_params(n), &[mask, g], groups_for(n));
}

/// The parameters of the masking kernels: only `len`.
fn mask_params(n: usize) -> [u32; 16] {
    let mut params = [0u32; 16];
    params[13] = word(n, "n");
    params
}
