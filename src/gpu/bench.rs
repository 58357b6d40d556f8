//! Timing device kernels for `nabla bench --device gpu` (GEMM, convolution): each measurement starts with the queue
//! drained and ends when the device has finished (submit, wait); compiling the pipeline (when
//! the GPU is opened) and uploading the operands happen before it.

use super::kernels::{self, ConvKernel, ConvShape, GemmKernel};
use super::{Gpu, GpuTensor};
use crate::rng::Rng;
use crate::tensor::Transpose;
use std::time::Instant;

/// Seconds of one n×n by n×n product C = A·B (f32, by `kernel`: [`kernels::gemm_with`]) on `gpu`: the median of
/// 5 rounds, each a run of launches timed from the first submit to the end of the last launch
/// and divided by their number (enough launches for about 0.2 s a round; one round alone when a
/// launch takes over a second, as n = 4096 on a software driver). A and B are N(0, 1) from
/// `seed`.
pub fn gemm_seconds(gpu: &Gpu, kernel: GemmKernel, n: usize, seed: u64) -> f64 {
    let mut rng = Rng::seed(seed);
    let a = GpuTensor::upload(gpu, &rng.normal_tensor(&[n, n], 1.0));
    let b = GpuTensor::upload(gpu, &rng.normal_tensor(&[n, n], 1.0));
    let c = GpuTensor::zeros(gpu, &[n, n]);
    let launches = |count: usize| {
        gpu.wait();
        let t0 = Instant::now();
        for _ in 0..count {
            let (a, b) = ((a.buffer(), Transpose::No), (b.buffer(), Transpose::No));
            kernels::gemm_with(gpu, kernel, (n, n, n), a, b, c.buffer(), false);
        }
        gpu.wait();
        t0.elapsed().as_secs_f64() / count as f64
    };
    // the first launch also pays for the driver's first use of the buffers and pipeline
    launches(1);
    let once = launches(1);
    if once > 1.0 {
        return once;
    }
    let count = (0.2 / once).clamp(1.0, 1000.0) as usize;
    let mut times: Vec<f64> = (0..5).map(|_| launches(count)).collect();
    times.sort_by(f64::total_cmp);
    times[2]
}

/// Seconds of one convolution's forward and backward pass (∂E/∂x too) on `gpu` by `kernel`
/// ([`kernels::conv2d_forward_with`], [`kernels::conv2d_backward_with`]): the median of 5
/// rounds of launches timed as [`gemm_seconds`] times its products. x, W, b and δ are N(0, 1)
/// from `seed`.
pub fn conv_seconds(gpu: &Gpu, kernel: ConvKernel, shape: &ConvShape, seed: u64) -> f64 {
    let mut rng = Rng::seed(seed);
    let (oh, ow) = shape.out();
    let mut upload = |dims: &[usize]| GpuTensor::upload(gpu, &rng.normal_tensor(dims, 1.0));
    let x = upload(&[shape.n, shape.c, shape.h, shape.w]);
    let w = upload(&[shape.o, shape.c, shape.kernel.0, shape.kernel.1]);
    let b = upload(&[shape.o]);
    let delta = upload(&[shape.n, shape.o, oh, ow]);
    let zeros = |n: usize| GpuTensor::zeros(gpu, &[n]);
    let (y, dx) = (zeros(shape.n * shape.o * oh * ow), zeros(x.numel()));
    let (cols, prod) = (zeros(shape.cols_len_for(kernel)), zeros(shape.o * shape.n * shape.p()));
    let (dw, db) = (zeros(w.numel()), zeros(shape.o));
    let launches = |count: usize| {
        gpu.wait();
        let t0 = Instant::now();
        for _ in 0..count {
            let scratch = (cols.buffer(), prod.buffer());
            kernels::conv2d_forward_with(gpu, kernel, shape, (x.buffer(), w.buffer(), b.buffer()), scratch, y.buffer());
            let grads = (dw.buffer(), db.buffer());
            let operands = (x.buffer(), w.buffer());
            kernels::conv2d_backward_with(
                gpu,
                kernel,
                shape,
                operands,
                delta.buffer(),
                scratch,
                grads,
                Some(dx.buffer()),
            );
        }
        gpu.wait();
        t0.elapsed().as_secs_f64() / count as f64
    };
    launches(1);
    let once = launches(1);
    if once > 1.0 {
        return once;
    }
    let count = (0.2 / once).clamp(1.0, 1000.0) as usize;
    let mut times: Vec<f64> = (0..5).map(|_| launches(count)).collect();
    times.sort_by(f64::total_cmp);
    times[2]
}
