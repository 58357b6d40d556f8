//! Pooling: max, average and sum over KH×KW windows moved by a stride, and LeNet-5's trainable
//! sub-sampling built from the sum and a per-channel affine map.
//!
//! Shapes: input x N×C×H×W, output N×C×OH×OW with OH = (H − KH)/SH + 1 and OW likewise (no
//! padding; windows may overlap when the stride is smaller than the kernel, or skip pixels when it
//! is larger).
//!
//! Backward (δ = ∂E/∂y):
//!   max:  δx[a] += δ[i] where a = argmax of window i, saved by the forward pass (ties go to the
//!         first position in row-major order); a pixel in several windows collects from each.
//!   sum:  δx[p] += δ[i] for every pixel p of window i;  avg: the same times 1/(KH·KW).
//!   channel_affine, y = x·s[c] + b[c]:  δx = δ·s[c],  ∂E/∂s[c] = Σ δ·x,  ∂E/∂b[c] = Σ δ
//!         (sums over the samples and positions of channel c: in f32 within each sample's map,
//!         in f64 across maps).
//!
//! LeNet-5's sub-sampling layer S2, S2ᵏ = tanh(w₁ᵏ·Σ(2×2 block of C1ᵏ) + w₂ᵏ), is
//! `c1.sum_pool2d((2, 2), (2, 2)).channel_affine(&w1, &w2).tanh()`.
//!
//! Each thread owns whole N·C planes, so the results do not depend on the number of threads.

use crate::autodiff::Var;
use crate::tensor::Tensor;
use crate::tensor::team;

/// The sizes of one pooling: planes N·C, each H×W, windows KH×KW moved by (SH, SW), OH×OW of them.
#[derive(Clone, Copy, Debug)]
struct Windows {
    planes: usize,
    h: usize,
    w: usize,
    kh: usize,
    kw: usize,
    sh: usize,
    sw: usize,
    oh: usize,
    ow: usize,
    /// Padding (rows, columns) on each side: max pooling's border of −∞, never read.
    ph: usize,
    pw: usize,
}

impl Windows {
    /// Checks that `shape` is N×C×H×W and holds at least one window; panics naming `op`, the input
    /// shape, the kernel and the stride otherwise.
    #[track_caller]
    fn new(op: &str, shape: &[usize], kernel: (usize, usize), stride: (usize, usize)) -> Windows {
        let &[n, c, h, w] = shape else {
            panic!("{op}: input {shape:?} is not N×C×H×W (kernel {kernel:?}, stride {stride:?})");
        };
        assert!(
            kernel.0 > 0 && kernel.1 > 0 && stride.0 > 0 && stride.1 > 0 && kernel.0 <= h && kernel.1 <= w,
            "{op}: kernel {kernel:?} with stride {stride:?} does not fit input {shape:?}"
        );
        let (oh, ow) = ((h - kernel.0) / stride.0 + 1, (w - kernel.1) / stride.1 + 1);
        Windows { planes: n * c, h, w, kh: kernel.0, kw: kernel.1, sh: stride.0, sw: stride.1, oh, ow, ph: 0, pw: 0 }
    }

    /// [`Windows::new`] over the input padded by `padding` on each side, at most half the kernel
    /// so that every window holds an input pixel.
    #[track_caller]
    fn padded(
        op: &str,
        shape: &[usize],
        kernel: (usize, usize),
        stride: (usize, usize),
        padding: (usize, usize),
    ) -> Windows {
        let &[n, c, h, w] = shape else {
            panic!("{op}: input {shape:?} is not N×C×H×W (kernel {kernel:?}, stride {stride:?})");
        };
        let (ph, pw) = padding;
        assert!(
            2 * ph <= kernel.0 && 2 * pw <= kernel.1,
            "{op}: padding {padding:?} is more than half the kernel {kernel:?} (input {shape:?})"
        );
        let mut win = Windows::new(op, &[n, c, h + 2 * ph, w + 2 * pw], kernel, stride);
        (win.h, win.w, win.ph, win.pw) = (h, w, ph, pw);
        win
    }

    /// The output shape N×C×OH×OW.
    fn out_shape(&self, input: &[usize]) -> [usize; 4] {
        [input[0], input[1], self.oh, self.ow]
    }
}

/// Planes per parallel task: a LeNet plane is a few hundred pixels, too little work to hand to
/// another thread one at a time.
const PLANES_PER_TASK: usize = 16;

/// Window sums times `scale`: the forward pass of sum and average pooling. Each window row is
/// added into the output row in order (row 0's columns, then row 1's, …), so the sum of a
/// window runs in row-major order.
fn block_sums(x: &[f32], win: &Windows, scale: f32) -> Vec<f32> {
    let (hw, ohw) = (win.h * win.w, win.oh * win.ow);
    let mut out = vec![0.0; win.planes * ohw];
    let block = team::block_len(win.planes, PLANES_PER_TASK);
    let blocks = out.chunks_mut(block * ohw).zip(x.chunks(block * hw)).collect();
    team::for_each(blocks, |(out, x)| {
        for (out, plane) in out.chunks_exact_mut(ohw).zip(x.chunks_exact(hw)) {
            for (oy, out_row) in out.chunks_exact_mut(win.ow).enumerate() {
                for row in plane[oy * win.sh * win.w..].chunks(win.w).take(win.kh) {
                    for (ox, o) in out_row.iter_mut().enumerate() {
                        *o += row[ox * win.sw..][..win.kw].iter().sum::<f32>();
                    }
                }
                if scale != 1.0 {
                    out_row.iter_mut().for_each(|o| *o *= scale);
                }
            }
        }
    });
    out
}

/// The backward pass of [`block_sums`]: each window's δ times `scale` is added to all its pixels.
fn spread_blocks(delta: &[f32], win: &Windows, scale: f32) -> Vec<f32> {
    let (hw, ohw) = (win.h * win.w, win.oh * win.ow);
    let mut dx = vec![0.0; win.planes * hw];
    let block = team::block_len(win.planes, PLANES_PER_TASK);
    let blocks = dx.chunks_mut(block * hw).zip(delta.chunks(block * ohw)).collect();
    team::for_each(blocks, |(dx, delta)| {
        for (plane, delta) in dx.chunks_exact_mut(hw).zip(delta.chunks_exact(ohw)) {
            for (oy, delta_row) in delta.chunks_exact(win.ow).enumerate() {
                for row in plane[oy * win.sh * win.w..].chunks_mut(win.w).take(win.kh) {
                    for (ox, &d) in delta_row.iter().enumerate() {
                        for p in &mut row[ox * win.sw..][..win.kw] {
                            *p += scale * d;
                        }
                    }
                }
            }
        }
    });
    dx
}

/// The maxima of the windows of one plane and where they are (index in the plane); a later value
/// replaces the best only if it is larger, so ties go to the first position in row-major order.
/// Written as selects rather than branches: on random activations a branch on `v > best`
/// mispredicts about once per window element. Measured on LeNet's C1 outputs (6 maps of 28×28,
/// 2×2 windows, stride 2): an iterator-heavy loop took 22 ns per output, this loop 6, and the
/// special case for 2×2 windows at stride 2, the usual pooling, 2.
fn plane_maxima(plane: &[f32], win: &Windows, out: &mut [f32], argmax: &mut [u32]) {
    let w = win.w;
    let rows = out.chunks_exact_mut(win.ow).zip(argmax.chunks_exact_mut(win.ow)).enumerate();
    if (win.kh, win.kw, win.sh, win.sw, win.ph, win.pw) == (2, 2, 2, 2, 0, 0) {
        for (oy, (out_row, arg_row)) in rows {
            let top = 2 * oy * w;
            let (r0, r1) = (&plane[top..top + w], &plane[top + w..top + 2 * w]);
            for (ox, (o, a)) in out_row.iter_mut().zip(arg_row.iter_mut()).enumerate() {
                let j = 2 * ox;
                let (upper, i_upper) = if r0[j + 1] > r0[j] { (r0[j + 1], 1) } else { (r0[j], 0) };
                let (lower, i_lower) = if r1[j + 1] > r1[j] { (r1[j + 1], w + 1) } else { (r1[j], w) };
                let (best, i) = if lower > upper { (lower, i_lower) } else { (upper, i_upper) };
                (*o, *a) = (best, (top + j + i) as u32);
            }
        }
        return;
    }
    // A padded window reads only its rows and columns inside the plane: the −∞ border is never a
    // maximum, and every window holds a pixel (padding ≤ kernel/2).
    let clip = |o: usize, s: usize, p: usize, k: usize, len: usize| {
        let first = (o * s).saturating_sub(p);
        (first, (o * s + k).saturating_sub(p).min(len))
    };
    for (oy, (out_row, arg_row)) in rows {
        let (y0, y1) = clip(oy, win.sh, win.ph, win.kh, win.h);
        for (ox, (o, a)) in out_row.iter_mut().zip(arg_row.iter_mut()).enumerate() {
            let (x0, x1) = clip(ox, win.sw, win.pw, win.kw, w);
            let corner = y0 * w + x0;
            let (mut best, mut at) = (plane[corner], corner);
            for y in y0..y1 {
                let start = y * w + x0;
                for (kj, &v) in plane[start..start + (x1 - x0)].iter().enumerate() {
                    let better = v > best;
                    best = if better { v } else { best };
                    at = if better { start + kj } else { at };
                }
            }
            (*o, *a) = (best, at as u32);
        }
    }
}

/// (Σ d·x, Σ d) over two slices of the same length, in 8 interleaved f32 sums added at the end:
/// independent lanes that the compiler turns into vector adds, in a fixed order.
fn dot_and_sum(d: &[f32], x: &[f32]) -> (f32, f32) {
    const LANES: usize = 8;
    let (mut dot, mut sum) = ([0.0f32; LANES], [0.0f32; LANES]);
    let (d8, x8) = (d.chunks_exact(LANES), x.chunks_exact(LANES));
    let (d_rest, x_rest) = (d8.remainder(), x8.remainder());
    for (dc, xc) in d8.zip(x8) {
        for l in 0..LANES {
            dot[l] += dc[l] * xc[l];
            sum[l] += dc[l];
        }
    }
    for (l, (&dv, &xv)) in d_rest.iter().zip(x_rest).enumerate() {
        dot[l] += dv * xv;
        sum[l] += dv;
    }
    (dot.iter().sum(), sum.iter().sum())
}

/// Sum (scale 1) or average (scale 1/(KH·KW)) pooling as a graph op.
#[track_caller]
fn scaled_sum_pool(x: &Var, op: &str, kernel: (usize, usize), stride: (usize, usize), average: bool) -> Var {
    let win = Windows::new(op, x.shape(), kernel, stride);
    let scale = if average { 1.0 / (win.kh * win.kw) as f32 } else { 1.0 };
    let value = Tensor::from_vec(block_sums(x.value().data(), &win, scale), &win.out_shape(x.shape()));
    Var::from_op(
        value,
        vec![x.clone()],
        Box::new(move |delta, p| vec![Some(Tensor::from_vec(spread_blocks(delta.data(), &win, scale), p[0].shape()))]),
    )
}

impl Var {
    /// Max pooling of an N×C×H×W value over KH×KW windows (`kernel`) moved by `stride`, as
    /// (rows, columns); gives N×C×OH×OW with OH = (H − KH)/SH + 1. Backward sends each δ to the
    /// window's maximum, saved in the forward pass; ties go to the first in row-major order.
    #[track_caller]
    pub fn max_pool2d(&self, kernel: (usize, usize), stride: (usize, usize)) -> Var {
        self.max_pool2d_padded(kernel, stride, (0, 0))
    }

    /// [`Var::max_pool2d`] over the input with a border of `padding` = (PH, PW) of −∞ on each
    /// side (at most half the kernel), as PyTorch pads max pooling: OH = (H + 2·PH − KH)/SH + 1.
    /// The border is never built; windows are clipped to the input.
    #[track_caller]
    pub fn max_pool2d_padded(&self, kernel: (usize, usize), stride: (usize, usize), padding: (usize, usize)) -> Var {
        let win = Windows::padded("max_pool2d", self.shape(), kernel, stride, padding);
        let (hw, ohw) = (win.h * win.w, win.oh * win.ow);
        assert!(hw <= u32::MAX as usize, "max_pool2d: planes of {hw} pixels are too large");
        let mut out = vec![0.0; win.planes * ohw];
        let mut argmax = vec![0u32; win.planes * ohw];
        let block = team::block_len(win.planes, PLANES_PER_TASK);
        let blocks =
            out.chunks_mut(block * ohw).zip(argmax.chunks_mut(block * ohw)).zip(self.value().data().chunks(block * hw));
        team::for_each(blocks.collect(), |((out, argmax), x)| {
            let planes = out.chunks_exact_mut(ohw).zip(argmax.chunks_exact_mut(ohw)).zip(x.chunks_exact(hw));
            planes.for_each(|((out, argmax), plane)| plane_maxima(plane, &win, out, argmax));
        });
        Var::from_op(
            Tensor::from_vec(out, &win.out_shape(self.shape())),
            vec![self.clone()],
            Box::new(move |delta, p| {
                let mut dx = vec![0.0; win.planes * hw];
                let block = team::block_len(win.planes, PLANES_PER_TASK);
                let blocks =
                    dx.chunks_mut(block * hw).zip(delta.data().chunks(block * ohw)).zip(argmax.chunks(block * ohw));
                team::for_each(blocks.collect(), |((dx, delta), argmax)| {
                    let planes = dx.chunks_exact_mut(hw).zip(delta.chunks_exact(ohw)).zip(argmax.chunks_exact(ohw));
                    for ((plane, delta), argmax) in planes {
                        for (&d, &a) in delta.iter().zip(argmax) {
                            plane[a as usize] += d;
                        }
                    }
                });
                vec![Some(Tensor::from_vec(dx, p[0].shape()))]
            }),
        )
    }

    /// Average pooling of an N×C×H×W value over KH×KW windows moved by `stride`; gives N×C×OH×OW.
    /// Backward spreads δ/(KH·KW) over each window.
    #[track_caller]
    pub fn avg_pool2d(&self, kernel: (usize, usize), stride: (usize, usize)) -> Var {
        scaled_sum_pool(self, "avg_pool2d", kernel, stride, true)
    }

    /// Sum pooling, the plain sum over each KH×KW window moved by `stride` (LeNet-5's
    /// sub-sampling before its per-channel weight); gives N×C×OH×OW. Backward copies δ to every
    /// pixel of its window.
    #[track_caller]
    pub fn sum_pool2d(&self, kernel: (usize, usize), stride: (usize, usize)) -> Var {
        scaled_sum_pool(self, "sum_pool2d", kernel, stride, false)
    }

    /// `x·scale[c] + bias[c]` for an N×C×… value (N×C×H×W, N×C×L or N×C) and `scale`, `bias` of C
    /// values each: one trainable weight and bias per channel, as in LeNet-5's sub-sampling layers.
    #[track_caller]
    pub fn channel_affine(&self, scale: &Var, bias: &Var) -> Var {
        let shape = self.shape();
        assert!(
            shape.len() >= 2 && scale.shape() == [shape[1]] && bias.shape() == [shape[1]],
            "channel_affine: input {shape:?}, scale {:?} and bias {:?} do not fit (want N×C×…, C and C)",
            scale.shape(),
            bias.shape()
        );
        let c = shape[1];
        let inner: usize = shape[2..].iter().product();
        let (s, b) = (scale.value().data(), bias.value().data());
        let mut out = self.value().data().to_vec();
        if inner > 0 {
            for (i, block) in out.chunks_exact_mut(inner).enumerate() {
                let (s, b) = (s[i % c], b[i % c]);
                for v in block {
                    *v = *v * s + b;
                }
            }
        }
        Var::from_op(
            Tensor::from_vec(out, shape),
            vec![self.clone(), scale.clone(), bias.clone()],
            Box::new(move |delta, p| {
                let (x, s) = (p[0].value().data(), p[1].value().data());
                let (mut dx, mut ds, mut db) = (delta.data().to_vec(), vec![0.0f64; c], vec![0.0f64; c]);
                if inner > 0 {
                    for (i, (d, x)) in dx.chunks_exact_mut(inner).zip(x.chunks_exact(inner)).enumerate() {
                        let ch = i % c;
                        // each block's sums in f32 lanes (they vectorize), the blocks' sums in f64
                        let (dot, sum) = dot_and_sum(d, x);
                        ds[ch] += dot as f64;
                        db[ch] += sum as f64;
                        d.iter_mut().for_each(|d| *d *= s[ch]);
                    }
                }
                let narrow = |v: Vec<f64>| Tensor::from_vec(v.into_iter().map(|g| g as f32).collect(), &[c]);
                vec![
                    p[0].requires_grad().then(|| Tensor::from_vec(dx, p[0].shape())),
                    p[1].requires_grad().then(|| narrow(ds)),
                    p[2].requires_grad().then(|| narrow(db)),
                ]
            }),
        )
    }
}

#[cfg(test)]
mod tests {
    use crate::autodiff::Var;
    use crate::ops::testing::{check, randn};
    use crate::rng::Rng;
    use crate::tensor::Tensor;

    /// Inputs whose values all differ by at least 0.1, ten times the checker's ε, so that no nudge
    /// changes which element of a window is the largest.
    fn distinct(seed: u64, shape: &[usize]) -> Tensor {
        let n: usize = shape.iter().product();
        let mut order: Vec<usize> = (0..n).collect();
        Rng::seed(seed).shuffle(&mut order);
        Tensor::from_vec(order.into_iter().map(|i| 0.1 * i as f32 - 0.05 * n as f32).collect(), shape)
    }

    /// (input shape, kernel, stride)
    type Config = (&'static [usize], (usize, usize), (usize, usize));

    /// Non-overlapping, overlapping, gapped, odd and rectangular windows.
    const CONFIGS: [Config; 5] = [
        (&[2, 3, 4, 4], (2, 2), (2, 2)),
        (&[1, 2, 7, 5], (3, 3), (2, 2)),
        (&[2, 1, 5, 6], (2, 3), (1, 2)),
        (&[1, 2, 7, 7], (2, 2), (3, 3)),
        (&[3, 2, 5, 3], (5, 1), (1, 1)),
    ];

    fn constant(values: &[f32], shape: &[usize]) -> Var {
        Var::constant(Tensor::from_vec(values.to_vec(), shape))
    }

    #[test]
    fn max_pool2d_passes_gradient_check() {
        for (seed, (shape, kernel, stride)) in CONFIGS.into_iter().enumerate() {
            check(&[distinct(seed as u64, shape)], |v| v[0].max_pool2d(kernel, stride));
        }
    }

    /// Padded max pooling equals max pooling over an input padded with −∞, value and gradient,
    /// and passes its own gradient check.
    #[test]
    fn padded_max_pool2d_equals_pooling_a_minus_infinity_border() {
        let cases =
            [((3, 3), (1, 1), (1, 1)), ((3, 3), (2, 2), (1, 1)), ((5, 4), (2, 3), (2, 1)), ((2, 2), (2, 2), (1, 0))];
        for (seed, (kernel, stride, padding)) in cases.into_iter().enumerate() {
            let x = distinct(40 + seed as u64, &[2, 3, 7, 6]);
            check(std::slice::from_ref(&x), |v| v[0].max_pool2d_padded(kernel, stride, padding));
            let (a, b) = (Var::leaf(x.clone()), Var::leaf(x));
            let fast = a.max_pool2d_padded(kernel, stride, padding);
            let slow = crate::nn::pad2d(&b, padding, f32::NEG_INFINITY).max_pool2d(kernel, stride);
            assert_eq!(fast.shape(), slow.shape());
            assert_eq!(fast.value().data(), slow.value().data());
            let weights = Tensor::from_vec((0..fast.value().numel()).map(|i| i as f32).collect(), fast.shape());
            let (ga, gb) = (
                fast.mul(&Var::constant(weights.clone())).sum().backward(),
                slow.mul(&Var::constant(weights)).sum().backward(),
            );
            assert_eq!(ga.get(&a).unwrap().data(), gb.get(&b).unwrap().data(), "{kernel:?} {stride:?} {padding:?}");
        }
    }

    #[test]
    fn max_pool2d_sends_each_gradient_to_its_windows_maximum() {
        // windows of 2×2, stride 1: maxima 5, 9, 8, 9; the 9 lies in two windows
        let x = Var::leaf(Tensor::from_vec(vec![1.0, 5.0, 2.0, 3.0, 4.0, 9.0, 0.0, 8.0, 6.0], &[1, 1, 3, 3]));
        let y = x.max_pool2d((2, 2), (1, 1));
        assert_eq!(y.value().data(), &[5.0, 9.0, 8.0, 9.0]);
        let grads = y.sum().backward();
        assert_eq!(grads.get(&x).unwrap().data(), &[0.0, 1.0, 0.0, 0.0, 0.0, 2.0, 0.0, 1.0, 0.0]);
        // a tie goes to the first position of the window
        let flat = Var::leaf(Tensor::ones(&[1, 1, 2, 4]));
        let grads = flat.max_pool2d((2, 2), (2, 2)).sum().backward();
        assert_eq!(grads.get(&flat).unwrap().data(), &[1.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0]);
    }

    #[test]
    fn avg_and_sum_pool2d_pass_gradient_checks() {
        for (seed, (shape, kernel, stride)) in CONFIGS.into_iter().enumerate() {
            let x = randn(30 + seed as u64, &[shape]);
            check(&x, |v| v[0].avg_pool2d(kernel, stride));
            check(&x, |v| v[0].sum_pool2d(kernel, stride));
        }
    }

    #[test]
    fn pools_compute_block_maxima_means_and_sums() {
        let x = constant(&(0..16).map(|i| i as f32).collect::<Vec<_>>(), &[1, 1, 4, 4]);
        assert_eq!(x.max_pool2d((2, 2), (2, 2)).value().data(), &[5.0, 7.0, 13.0, 15.0]);
        assert_eq!(x.sum_pool2d((2, 2), (2, 2)).value().data(), &[10.0, 18.0, 42.0, 50.0]);
        assert_eq!(x.avg_pool2d((2, 2), (2, 2)).value().data(), &[2.5, 4.5, 10.5, 12.5]);
        // a 3×3 window moved by 1 over the 4×4 grid
        assert_eq!(x.sum_pool2d((3, 3), (1, 1)).value().data(), &[45.0, 54.0, 81.0, 90.0]);
        assert_eq!(x.sum_pool2d((3, 3), (1, 1)).shape(), &[1, 1, 2, 2]);
    }

    #[test]
    fn channel_affine_passes_gradient_check() {
        for shape in [&[2, 3, 4, 5][..], &[3, 2, 7], &[4, 3]] {
            let c = shape[1];
            let t = randn(40, &[shape, &[c], &[c]]);
            check(&t, |v| v[0].channel_affine(&v[1], &v[2]));
        }
        let x = constant(&[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0], &[2, 2, 2]);
        let y = x.channel_affine(&constant(&[10.0, -1.0], &[2]), &constant(&[0.5, 1.0], &[2]));
        assert_eq!(y.value().data(), &[10.5, 20.5, -2.0, -3.0, 50.5, 60.5, -6.0, -7.0]);
    }

    /// LeNet-5's S2: tanh(w₁ᵏ·Σ(2×2 block of C1ᵏ) + w₂ᵏ), one (w₁, w₂) per channel.
    #[test]
    fn lenet_subsampling_passes_gradient_check() {
        let t = randn(41, &[&[2, 3, 6, 6], &[3], &[3]]);
        let s2 = |v: &[Var]| v[0].sum_pool2d((2, 2), (2, 2)).channel_affine(&v[1], &v[2]).tanh();
        check(&[t[0].scale(0.3), t[1].scale(0.5), t[2].clone()], s2);
        let x = constant(&[1.0, 2.0, 3.0, 4.0], &[1, 1, 2, 2]);
        let y = s2(&[x, constant(&[0.1], &[1]), constant(&[-0.5], &[1])]);
        assert!((y.value().item() - 0.5f32.tanh()).abs() < 1e-6);
    }

    #[test]
    #[should_panic(expected = "max_pool2d: kernel (3, 3) with stride (1, 1) does not fit input [1, 1, 2, 5]")]
    fn max_pool2d_kernel_larger_than_input_panics() {
        let _ = Var::constant(Tensor::zeros(&[1, 1, 2, 5])).max_pool2d((3, 3), (1, 1));
    }

    #[test]
    #[should_panic(expected = "avg_pool2d: input [4, 4] is not N×C×H×W (kernel (2, 2), stride (2, 2))")]
    fn avg_pool2d_wrong_rank_panics() {
        let _ = Var::constant(Tensor::zeros(&[4, 4])).avg_pool2d((2, 2), (2, 2));
    }

    #[test]
    #[should_panic(expected = "channel_affine: input [2, 3, 4, 4], scale [4] and bias [3] do not fit")]
    fn channel_affine_shape_mismatch_names_all_shapes() {
        let x = Var::constant(Tensor::zeros(&[2, 3, 4, 4]));
        let _ = x.channel_affine(&Var::constant(Tensor::zeros(&[4])), &Var::constant(Tensor::zeros(&[3])));
    }
}
