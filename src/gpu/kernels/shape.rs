//! The launches of `shaders/shape.wgsl`: constant padding and its crop (the device twin of
//! [`crate::nn::pad2d`]), a constant factor ([`crate::Var::scale`]), concatenation along the
//! channels and its split ([`crate::Var::concat`] on axis 1 of N×C×H×W rows, Inception's output),
//! a copy and an accumulation (the δ of a value that several layers read).

use super::word;
use crate::gpu::Gpu;
use crate::gpu::context::groups_for;

/// The movement kernels' pipelines.
pub(in crate::gpu) struct ShapePipelines {
    pad: wgpu::ComputePipeline,
    crop: wgpu::ComputePipeline,
    scale: wgpu::ComputePipeline,
    copy: wgpu::ComputePipeline,
    accumulate: wgpu::ComputePipeline,
    concat: wgpu::ComputePipeline,
    split: wgpu::ComputePipeline,
}

impl ShapePipelines {
    /// The pipelines of `module` (shape.wgsl), made by `pipeline`.
    pub(in crate::gpu) fn new(
        module: &wgpu::ShaderModule,
        pipeline: impl Fn(&wgpu::ShaderModule, &str) -> wgpu::ComputePipeline,
    ) -> ShapePipelines {
        ShapePipelines {
            pad: pipeline(module, "pad"),
            crop: pipeline(module, "crop"),
            scale: pipeline(module, "scale"),
            copy: pipeline(module, "copy"),
            accumulate: pipeline(module, "accumulate"),
            concat: pipeline(module, "concat"),
            split: pipeline(module, "split"),
        }
    }
}

/// The shader's parameters: values written, (H, W, PH, PW), (part, offset, total), value.
fn params(n: usize, plane: [usize; 4], rows: [usize; 3], value: f32) -> [u32; 9] {
    let mut p = [0; 9];
    p[0] = word(n, "values");
    for (q, v) in p[1..8].iter_mut().zip(plane.into_iter().chain(rows)) {
        *q = word(v, "a size");
    }
    p[8] = value.to_bits();
    p
}

/// y (`planes` × (H + 2PH) × (W + 2PW)) = x (`planes` × H × W) inside a border of `value`.
pub fn pad(
    gpu: &Gpu,
    planes: usize,
    (h, w): (usize, usize),
    (ph, pw): (usize, usize),
    value: f32,
    x: &wgpu::Buffer,
    y: &wgpu::Buffer,
) {
    let n = planes * (h + 2 * ph) * (w + 2 * pw);
    gpu.launch(&gpu.kernels.shape.pad, &params(n, [h, w, ph, pw], [0; 3], value), &[x, y], groups_for(n));
}

/// δx (`planes` × H × W) = the inside of δy (`planes` × (H + 2PH) × (W + 2PW)): the backward
/// pass of [`pad`] (the border is a constant and gets no gradient).
pub fn crop(
    gpu: &Gpu,
    planes: usize,
    (h, w): (usize, usize),
    (ph, pw): (usize, usize),
    dy: &wgpu::Buffer,
    dx: &wgpu::Buffer,
) {
    let n = planes * h * w;
    gpu.launch(&gpu.kernels.shape.crop, &params(n, [h, w, ph, pw], [0; 3], 0.0), &[dy, dx], groups_for(n));
}

/// y = `factor`·x over `n` values (also the backward pass: δx = `factor`·δy).
pub fn scale(gpu: &Gpu, n: usize, factor: f32, x: &wgpu::Buffer, y: &wgpu::Buffer) {
    gpu.launch(&gpu.kernels.shape.scale, &params(n, [0; 4], [0; 3], factor), &[x, y], groups_for(n));
}

/// y = x over `n` values.
pub fn copy(gpu: &Gpu, n: usize, x: &wgpu::Buffer, y: &wgpu::Buffer) {
    gpu.launch(&gpu.kernels.shape.copy, &params(n, [0; 4], [0; 3], 0.0), &[x, y], groups_for(n));
}

/// y += x over `n` values.
pub fn accumulate(gpu: &Gpu, n: usize, x: &wgpu::Buffer, y: &wgpu::Buffer) {
    gpu.launch(&gpu.kernels.shape.accumulate, &params(n, [0; 4], [0; 3], 0.0), &[x, y], groups_for(n));
}

/// Writes the `rows` rows of `part` (rows × width) at column `offset` of the rows of `whole`
/// (rows × total): one input of a concatenation along the channels.
pub fn concat(
    gpu: &Gpu,
    rows: usize,
    (width, offset, total): (usize, usize, usize),
    part: &wgpu::Buffer,
    whole: &wgpu::Buffer,
) {
    let n = rows * width;
    gpu.launch(
        &gpu.kernels.shape.concat,
        &params(n, [0; 4], [width, offset, total], 0.0),
        &[part, whole],
        groups_for(n),
    );
}

/// The backward pass of [`concat()`]: `part` (rows × width) = columns `offset..offset + width` of
/// `whole` (rows × total).
pub fn split(
    gpu: &Gpu,
    rows: usize,
    (width, offset, total): (usize, usize, usize),
    whole: &wgpu::Buffer,
    part: &wgpu::Buffer,
) {
    let n = rows * width;
    gpu.launch(
        &gpu.kernels.shape.split,
        &params(n, [0; 4], [width, offset, total], 0.0),
        &[whole, part],
        groups_for(n),
    );
}
