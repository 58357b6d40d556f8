//! The GPU's convolutional kernels (cargo feature `gpu`) against the CPU ops they stand for,
//! forward and backward: conv2d (ops/conv.rs), max and average pooling (ops/pool.rs,
//! nn/pool.rs) and dropout (nn/dropout.rs), on shapes with odd and prime sizes whose value
//! counts are not multiples of the 256-thread workgroups; then lenet5-modern on both devices.
//! CI runs these on Mesa's software Vulkan driver (lavapipe).
//!
//! Tolerances:
//! - convolution: each output, and each gradient, is a sum of products taken in different orders
//!   on the two devices (the CPU's chunked GEMM, the GPU's 16-wide tiles), so each is held to
//!   1e-4 · Σ|a||b|, the sum of the magnitudes of its terms (computed by the CPU op on |x|, |W|,
//!   |b| and |δ|). The rounding error of a sum of k products is at most about k·2⁻²⁴ times that
//!   sum, and grows like √k·2⁻²⁴ in practice: ~3e-6 for the longest sums here (k = 3,136, the
//!   weight gradient of LeNet's C1 at 4 samples), far under 1e-4.
//! - max pooling: exact. Both devices pick the same element (the first maximum in row-major
//!   order) and add a pixel's δs in the same order.
//! - average pooling: relative 1e-4 (|gpu − cpu| ≤ 1e-4 · max(1, |cpu|)); the sums of at most
//!   KH·KW = 9 terms run in the same order on both devices, and differ at most by FMA contraction.
//! - dropout: its masks are its own (a counter-based hash, not the CPU's ChaCha8 stream), so the
//!   test checks what a mask must be: only 0 or 1/q (or 1), kept with frequency q, the same for a
//!   seed, different for another, and backward using the forward pass's mask exactly.

use crate::common::{Scratch, train_2000_digits_with};
use crate::harness::{abs, assert_same_weights, digits, gpu, randn, up, zoo};
use nabla::gpu::kernels::{self, ConvKernel, ConvShape, DIRECT_UP_TO, PoolShape};
use nabla::gpu::{Gpu, GpuNet, GpuTensor};
use nabla::loss::softmax_cross_entropy;
use nabla::nn::{AvgPool2d, Dropout, DropoutRule, Model, Module};
use nabla::optim::{Optimizer, Sgd, schedule::Constant};
use nabla::rng::Rng;
use nabla::train::{Quiet, Sets, TrainConfig, Trainer};
use nabla::{Tensor, Var};

/// Asserts |got − want| ≤ 1e-4 · `bound` elementwise (`bound`: Σ|a||b| of each sum).
#[track_caller]
fn assert_within(got: &Tensor, want: &Tensor, bound: &Tensor, what: &str) {
    assert_eq!(got.shape(), want.shape(), "{what}: shapes");
    for (i, ((&g, &w), &b)) in got.data().iter().zip(want.data()).zip(bound.data()).enumerate() {
        assert!((g - w).abs() <= 1e-4 * b + 1e-30, "{what}: value {i}: GPU {g}, CPU {w}, Σ|a||b| {b}");
    }
}

/// Asserts |got − want| ≤ 1e-4 · max(1, |want|) everywhere.
#[track_caller]
fn assert_close(got: &Tensor, want: &Tensor, what: &str) {
    assert_eq!(got.shape(), want.shape(), "{what}: shapes");
    for (i, (&g, &w)) in got.data().iter().zip(want.data()).enumerate() {
        assert!((g - w).abs() <= 1e-4 * w.abs().max(1.0), "{what}: value {i}: GPU {g}, CPU {w}");
    }
}

/// y = conv(x, W) + b and the gradients of Σ δ ⊙ y on the CPU: (y, ∂x, ∂W, ∂b).
fn cpu_conv(x: &Tensor, w: &Tensor, b: &Tensor, delta: &Tensor, s: &ConvShape) -> [Tensor; 4] {
    let (vx, vw, vb) = (Var::leaf(x.clone()), Var::leaf(w.clone()), Var::leaf(b.clone()));
    let y = vx.conv2d(&vw, Some(&vb), s.stride, s.padding);
    let grads = y.mul(&Var::constant(delta.clone())).sum().backward();
    let grad = |v: &Var| grads.get(v).unwrap().clone();
    [y.value().clone(), grad(&vx), grad(&vw), grad(&vb)]
}

/// Convolutions: 1×1, odd and prime sizes, strides and paddings that differ by axis, LeNet's C1
/// (padded) and C3.
const CONV_SHAPES: [ConvShape; 6] = [
    ConvShape { n: 1, c: 1, h: 1, w: 1, o: 1, kernel: (1, 1), stride: (1, 1), padding: (0, 0) },
    ConvShape { n: 3, c: 2, h: 7, w: 11, o: 5, kernel: (3, 3), stride: (1, 1), padding: (1, 1) },
    ConvShape { n: 2, c: 3, h: 13, w: 17, o: 7, kernel: (5, 3), stride: (2, 3), padding: (2, 1) },
    ConvShape { n: 2, c: 4, h: 9, w: 8, o: 3, kernel: (2, 4), stride: (3, 1), padding: (1, 2) },
    ConvShape { n: 4, c: 1, h: 28, w: 28, o: 6, kernel: (5, 5), stride: (1, 1), padding: (2, 2) },
    ConvShape { n: 5, c: 6, h: 14, w: 14, o: 16, kernel: (5, 5), stride: (1, 1), padding: (0, 0) },
];

/// Both kernels (direct, im2col + GEMM) at every shape, forward and backward.
#[test]
fn conv2d_forward_and_backward_match_the_cpu_op() {
    let gpu = gpu();
    for (i, s) in CONV_SHAPES.iter().enumerate() {
        let seed = 10 * i as u64;
        let (oh, ow) = s.out();
        let x = randn(seed, &[s.n, s.c, s.h, s.w]);
        let w = randn(seed + 1, &[s.o, s.c, s.kernel.0, s.kernel.1]);
        let b = randn(seed + 2, &[s.o]);
        let delta = randn(seed + 3, &[s.n, s.o, oh, ow]);
        let want = cpu_conv(&x, &w, &b, &delta, s);
        let bound = cpu_conv(&abs(&x), &abs(&w), &abs(&b), &abs(&delta), s);
        let (gx, gw, gb, gd) = (up(&x), up(&w), up(&b), up(&delta));
        for kernel in [ConvKernel::Direct, ConvKernel::Im2col] {
            let y = GpuTensor::zeros(gpu, want[0].shape());
            let cols = GpuTensor::zeros(gpu, &[s.cols_len_for(kernel)]);
            let prod = GpuTensor::zeros(gpu, &[s.o * s.n * s.p()]);
            let scratch = (cols.buffer(), prod.buffer());
            let operands = (gx.buffer(), gw.buffer(), gb.buffer());
            kernels::conv2d_forward_with(gpu, kernel, s, operands, scratch, y.buffer());
            let (dx, dw, db) =
                (GpuTensor::zeros(gpu, x.shape()), GpuTensor::zeros(gpu, w.shape()), GpuTensor::zeros(gpu, b.shape()));
            let grads = (dw.buffer(), db.buffer());
            let (xw, dx_buffer) = ((gx.buffer(), gw.buffer()), Some(dx.buffer()));
            kernels::conv2d_backward_with(gpu, kernel, s, xw, gd.buffer(), scratch, grads, dx_buffer);
            let what = |part: &str| format!("conv2d {kernel:?} {s:?}: {part}");
            for (part, got, k) in [("y", &y, 0), ("∂x", &dx, 1), ("∂W", &dw, 2), ("∂b", &db, 3)] {
                assert_within(&got.download(gpu), &want[k], &bound[k], &what(part));
            }
        }
    }
}

/// The direct kernels up to [`DIRECT_UP_TO`] terms an output (LeNet's C1 and C3), im2col above.
#[test]
fn the_direct_kernels_take_few_input_maps() {
    let picked = |c| ConvKernel::for_shape(&ConvShape { c, ..CONV_SHAPES[4] });
    assert_eq!(picked(1), ConvKernel::Direct);
    assert_eq!(picked(DIRECT_UP_TO / 25), ConvKernel::Direct);
    assert_eq!(picked(DIRECT_UP_TO / 25 + 1), ConvKernel::Im2col);
}

/// The check above can fail: a kernel that drops the padding's offset is caught.
#[test]
fn a_wrong_convolution_is_caught_by_the_bound() {
    let gpu = gpu();
    let s = CONV_SHAPES[1];
    let shifted = ConvShape { padding: (0, 0), h: s.h + 2, w: s.w + 2, ..s };
    let x = randn(7, &[s.n, s.c, s.h, s.w]);
    let w = randn(8, &[s.o, s.c, 3, 3]);
    let b = randn(9, &[s.o]);
    let want = cpu_conv(&x, &w, &b, &randn(1, &[s.n, s.o, s.h, s.w]), &s);
    // the same numbers read as an unpadded input two pixels wider and taller: another convolution
    let y = GpuTensor::zeros(gpu, &[s.n * s.o * shifted.p()]);
    let cols = GpuTensor::zeros(gpu, &[shifted.cols_len()]);
    let prod = GpuTensor::zeros(gpu, &[s.o * s.n * shifted.p()]);
    let gx = up(&Tensor::from_vec(
        x.data().iter().copied().chain(std::iter::repeat(0.0)).take(s.n * s.c * shifted.h * shifted.w).collect(),
        &[s.n * s.c * shifted.h * shifted.w],
    ));
    kernels::conv2d_forward(
        gpu,
        &shifted,
        gx.buffer(),
        up(&w).buffer(),
        up(&b).buffer(),
        cols.buffer(),
        prod.buffer(),
        y.buffer(),
    );
    let got = y.download(gpu);
    let mismatches = got.data().iter().zip(want[0].data()).filter(|(g, w)| (*g - *w).abs() > 1e-3).count();
    assert!(mismatches > got.numel() / 2, "only {mismatches} of {} outputs differ", got.numel());
}

/// Poolings: 1×1, odd and prime sizes, overlapping and skipping windows, padding, LeNet's S2.
const POOL_SHAPES: [PoolShape; 6] = [
    PoolShape { planes: 1, h: 1, w: 1, kernel: (1, 1), stride: (1, 1), padding: (0, 0) },
    PoolShape { planes: 6, h: 7, w: 9, kernel: (2, 2), stride: (2, 2), padding: (0, 0) },
    PoolShape { planes: 2, h: 13, w: 11, kernel: (3, 3), stride: (2, 2), padding: (1, 1) },
    PoolShape { planes: 2, h: 10, w: 17, kernel: (3, 2), stride: (1, 3), padding: (1, 1) },
    PoolShape { planes: 3, h: 5, w: 7, kernel: (2, 3), stride: (3, 2), padding: (0, 1) },
    PoolShape { planes: 3 * 6, h: 28, w: 28, kernel: (2, 2), stride: (2, 2), padding: (0, 0) },
];

#[test]
fn max_pooling_forward_and_backward_equal_the_cpu_op() {
    let gpu = gpu();
    for (i, s) in POOL_SHAPES.iter().enumerate() {
        let (oh, ow) = s.out();
        let mut x = randn(i as u64, &[s.planes, 1, s.h, s.w]);
        if i % 2 == 1 {
            // values on a coarse grid, so that windows have ties (the first maximum wins)
            x = Tensor::from_vec(x.data().iter().map(|v| (v * 2.0).round()).collect(), x.shape());
        }
        let delta = randn(100 + i as u64, &[s.planes, 1, oh, ow]);
        let vx = Var::leaf(x.clone());
        let y = vx.max_pool2d_padded(s.kernel, s.stride, s.padding);
        let grads = y.mul(&Var::constant(delta.clone())).sum().backward();
        let (gy, argmax, gdx) =
            (GpuTensor::zeros(gpu, y.shape()), GpuTensor::zeros(gpu, y.shape()), GpuTensor::zeros(gpu, x.shape()));
        kernels::max_pool_forward(gpu, s, up(&x).buffer(), gy.buffer(), argmax.buffer());
        kernels::max_pool_backward(gpu, s, up(&delta).buffer(), argmax.buffer(), gdx.buffer());
        assert_eq!(gy.download(gpu).data(), y.value().data(), "max pool {s:?}: y");
        assert_eq!(gdx.download(gpu).data(), grads.get(&vx).unwrap().data(), "max pool {s:?}: ∂x");
    }
}

#[test]
fn average_pooling_forward_and_backward_match_the_cpu_layer() {
    let gpu = gpu();
    for (i, s) in POOL_SHAPES.iter().enumerate() {
        let (oh, ow) = s.out();
        let x = randn(i as u64, &[s.planes, 1, s.h, s.w]);
        let delta = randn(100 + i as u64, &[s.planes, 1, oh, ow]);
        let vx = Var::leaf(x.clone());
        let y = AvgPool2d { kernel: s.kernel, stride: s.stride, padding: s.padding }.forward(&vx);
        let grads = y.mul(&Var::constant(delta.clone())).sum().backward();
        let (gy, gdx) = (GpuTensor::zeros(gpu, y.shape()), GpuTensor::zeros(gpu, x.shape()));
        kernels::avg_pool_forward(gpu, s, up(&x).buffer(), gy.buffer());
        kernels::avg_pool_backward(gpu, s, up(&delta).buffer(), gdx.buffer());
        assert_close(&gy.download(gpu), y.value(), &format!("avg pool {s:?}: y"));
        assert_close(&gdx.download(gpu), grads.get(&vx).unwrap(), &format!("avg pool {s:?}: ∂x"));
    }
}

/// The mask of a training-mode dropout of `x` (its values all non-zero) with `seed`, and ∂x
/// for upstream δ.
fn gpu_dropout(x: &Tensor, delta: &Tensor, p: f32, rule: DropoutRule, seed: u64) -> (Vec<f32>, Tensor) {
    let gpu = gpu();
    let n = x.numel();
    let (y, mask, dx) = (GpuTensor::zeros(gpu, &[n]), GpuTensor::zeros(gpu, &[n]), GpuTensor::zeros(gpu, &[n]));
    kernels::dropout_forward(gpu, n, p, rule, seed, up(x).buffer(), y.buffer(), mask.buffer());
    kernels::dropout_backward(gpu, n, up(delta).buffer(), mask.buffer(), dx.buffer());
    let y = y.download(gpu);
    // the factor each value was multiplied by, read off y = x·m
    let m = y.data().iter().zip(x.data()).map(|(y, x)| y / x).collect();
    (m, dx.download(gpu))
}

#[test]
fn dropout_keeps_q_of_the_units_with_a_seeded_mask_and_backward_uses_it() {
    for (n, p, rule) in [
        (1usize, 0.5f32, DropoutRule::Inverted),
        (257, 0.2, DropoutRule::WeightScaling),
        (40_009, 0.3, DropoutRule::Inverted),
    ] {
        let q = 1.0 - p;
        let keep = if rule == DropoutRule::Inverted { 1.0 / q } else { 1.0 };
        let x = Tensor::from_vec(randn(n as u64, &[n]).data().iter().map(|v| v.abs() + 0.5).collect(), &[n]);
        let delta = randn(1 + n as u64, &[n]);
        let (mask, dx) = gpu_dropout(&x, &delta, p, rule, 42);
        for (i, &m) in mask.iter().enumerate() {
            assert!(m == 0.0 || (m - keep).abs() <= 1e-6 * keep, "n {n}: value {i} scaled by {m}, not 0 or {keep}");
            let want = if m == 0.0 { 0.0 } else { delta.data()[i] * keep };
            assert_eq!(dx.data()[i], want, "n {n}: ∂x {i}");
        }
        let kept = mask.iter().filter(|&&m| m != 0.0).count() as f64;
        // within 4 standard deviations of the binomial's mean
        let sd = (n as f64 * f64::from(p * q)).sqrt();
        assert!((kept - n as f64 * f64::from(q)).abs() <= 4.0 * sd + 1.0, "n {n}: kept {kept}, q {q}");
        assert_eq!(gpu_dropout(&x, &delta, p, rule, 42).0, mask, "n {n}: one seed, two masks");
        if n > 1000 {
            let other = gpu_dropout(&x, &delta, p, rule, 43).0;
            let differ = other.iter().zip(&mask).filter(|(a, b)| a != b).count() as f64;
            // two independent masks differ in a fraction 2pq of the units
            let expected = n as f64 * 2.0 * f64::from(p * q);
            assert!((differ - expected).abs() <= 0.05 * expected, "seeds 42 and 43: {differ} of {n} differ");
        }
    }
}

#[test]
fn test_time_dropout_is_the_cpu_layers() {
    let gpu = gpu();
    let x = randn(3, &[5, 131]);
    for rule in [DropoutRule::Inverted, DropoutRule::WeightScaling] {
        let mut layer = Dropout::new(0.3, rule);
        layer.set_training(false);
        let want = layer.forward(&Var::constant(x.clone()));
        let y = GpuTensor::zeros(gpu, x.shape());
        kernels::dropout_eval(gpu, x.numel(), 0.3, rule, up(&x).buffer(), y.buffer());
        assert_eq!(y.download(gpu).data(), want.value().data(), "{rule:?}");
    }
}

/// A small net of every kind the GPU now runs: conv with a connection table and stride, avg and
/// max pooling with padding, dropout (p = 0, so that both devices apply the same mask), linear.
const MIXED: &str = r#"name = "mixed"
input = [1, 28, 28]
loss = "softmax-cross-entropy"
layers = [
  { type = "conv2d", out = 4, kernel = 5, padding = 2 },
  { type = "tanh" },
  { type = "avgpool2d", kernel = 3, stride = 2, padding = 1 },
  { type = "conv2d", out = 5, kernel = 3, stride = 2, connections = [[0, 1], [1, 2], [2, 3], [3, 0], [0, 1, 2, 3]] },
  { type = "relu" },
  { type = "maxpool2d", kernel = 3, stride = 2, padding = 1 },
  { type = "dropout", p = 0.0 },
  { type = "flatten" },
  { type = "linear", out = 10 },
]"#;

/// After one forward and backward pass of a batch, the net's gradients equal the CPU graph's,
/// within 1e-4 of the largest gradient.
#[test]
fn conv_net_gradients_match_the_cpu_backward() {
    let gpu = gpu();
    let data = digits(37);
    for spec in [zoo("lenet5-modern"), toml::from_str(MIXED).unwrap()] {
        let model = Model::new(spec, &mut Rng::seed(2)).unwrap();
        let mut net = GpuNet::new(gpu, &model, 37).unwrap();
        let x = data.inputs.gather_rows(&(0..37).collect::<Vec<_>>());
        net.load_input(gpu, &x);
        let u = net.forward_training(gpu, 37, 1);
        let losses = GpuTensor::zeros(gpu, &[37]);
        kernels::softmax_ce(gpu, 37, 10, u, up(&data.targets).buffer(), net.output_delta(), losses.buffer(), 0);
        net.backward(gpu, 37);
        let e = softmax_cross_entropy(&model.forward(&Var::constant(x.reshape(&[37, 1, 28, 28]))), &data.targets);
        let gpu_loss: f32 = losses.download(gpu).data().iter().sum::<f32>() / 37.0;
        assert!(
            (gpu_loss - e.value().item()).abs() <= 1e-4 * e.value().item(),
            "loss GPU {gpu_loss}, CPU {}",
            e.value().item()
        );
        let grads = e.backward();
        let scale = model
            .params()
            .iter()
            .map(|(_, p)| grads.get_param(p).unwrap().data().iter().fold(0.0f32, |m, g| m.max(g.abs())))
            .fold(0.0, f32::max);
        for ((name, g), (cpu_name, p)) in net.gradients(gpu).iter().zip(model.params()) {
            assert_eq!(name, &cpu_name);
            for (a, b) in g.data().iter().zip(grads.get_param(p).unwrap().data()) {
                assert!((a - b).abs() <= 1e-4 * scale, "{}: {name}: GPU {a}, CPU {b}", model.spec().name);
            }
        }
    }
}

fn lenet_trainer(epochs: usize) -> Trainer {
    let model = Model::new(zoo("lenet5-modern"), &mut Rng::seed(5)).unwrap();
    let config = TrainConfig { epochs, batch_size: 16, seed: 3, ..Default::default() };
    let optimizer = Optimizer::new(Sgd { momentum: 0.9, nesterov: false }, 0.05);
    Trainer::new(model, optimizer, Box::new(Constant::new()), config)
}

/// One step of lenet5-modern (the whole set of 16 as one batch) on both devices: the same loss
/// and weights, within 1e-4 of the loss and of the largest weight.
#[test]
fn a_lenet5_modern_step_agrees_on_both_devices() {
    let data = digits(16);
    let sets = Sets { train: &data, val: None, test: None };
    let mut cpu = lenet_trainer(1);
    let mut on_gpu = lenet_trainer(1);
    on_gpu.to_gpu(Gpu::new().unwrap()).unwrap();
    cpu.run(sets, &mut Quiet, &mut |_| Ok(())).unwrap();
    on_gpu.run(sets, &mut Quiet, &mut |_| Ok(())).unwrap();
    let (c, g) = (cpu.history[0].train_loss, on_gpu.history[0].train_loss);
    assert!((c - g).abs() <= 1e-4 * c, "loss CPU {c}, GPU {g}");
    assert_same_weights("lenet5-modern", &cpu, &on_gpu);
}

/// Dropout's masks on the device are fixed by the seed: two runs give the same weights bit for
/// bit.
#[test]
fn a_conv_net_with_dropout_trains_the_same_twice_on_the_gpu() {
    let data = digits(24);
    let sets = Sets { train: &data, val: None, test: None };
    let spec = MIXED.replace("p = 0.0", "p = 0.5");
    let run = || {
        let model = Model::new(toml::from_str(&spec).unwrap(), &mut Rng::seed(1)).unwrap();
        let config = TrainConfig { epochs: 2, batch_size: 8, seed: 3, ..Default::default() };
        let mut t = Trainer::new(model, Optimizer::new(Sgd::default(), 0.1), Box::new(Constant::new()), config);
        t.to_gpu(Gpu::new().unwrap()).unwrap();
        t.run(sets, &mut Quiet, &mut |_| Ok(())).unwrap();
        t.model.params().iter().flat_map(|(_, p)| p.value().data().to_vec()).collect::<Vec<f32>>()
    };
    assert!(run() == run(), "two GPU runs with one seed ended with different weights");
}

/// lenet5-modern on 2,000 digits for one epoch (its spec's SGD with momentum and cosine
/// schedule, at η = 0.01) ends within 0.5% test accuracy on both devices with the same seed.
///
/// Why η = 0.01 and not the spec's 0.05: at 0.05 the 32 steps end mid-descent in an unstable
/// stretch (test loss 0.86 after 20 steps, 1.27 after 31), where the two devices' rounding,
/// once it moves an input across a kink (a ReLU at 0, another maximum in a pooling window),
/// gives gradients that differ by their own size and the runs part; which kernels land nearer
/// the CPU is then chance. Measured on lavapipe (`train --limit-train 64·s --seed 4`): after
/// s = 1, 2, 5, 10, 20 steps both devices' losses agree to 6–7 digits and their weights within
/// 4e-7 to 1.5e-6 of the largest (no bug: this net has no dropout, so both see the same batches);
/// after 31 the weights were 7e-4 apart with the im2col + tiled-GEMM kernels and 2e-2 with the
/// direct ones, and after the whole epoch the first ended at 76.17% against the CPU's 76.97%,
/// the second at 76.97%. At η = 0.01 the descent is steady and both land on the CPU's 75.70%
/// (the GPU epoch took 102 s on lavapipe at load ~16, a few seconds on a quiet machine's share).
#[test]
fn lenet5_modern_on_2000_digits_trains_to_the_cpu_accuracy() {
    let s = Scratch::new("gpu-lenet");
    let train = |device| train_2000_digits_with("lenet5-modern", device, &s.0, &["--lr", "0.01"]);
    let (cpu, gpu) = (train("cpu"), train("gpu"));
    let accuracy = |r: &serde_json::Value| r["test_accuracy"].as_f64().unwrap();
    assert!(accuracy(&cpu) > 0.7, "{cpu}");
    assert!((accuracy(&cpu) - accuracy(&gpu)).abs() <= 0.005, "CPU {} vs GPU {}", accuracy(&cpu), accuracy(&gpu));
}
