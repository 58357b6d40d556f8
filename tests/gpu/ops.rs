//! The GPU's kernels for the remaining non-recurrent op families (cargo feature `gpu`) against
//! the CPU ops they stand for, forward and backward, on odd and prime shapes whose value counts
//! are not multiples of the 256-thread workgroups: padding, scaling and Inception's
//! concatenation, LeNet-5's sub-sampling and RBF units, LRN, GELU, least squares and sigmoid
//! cross-entropy, every update rule, and regularization; then one training step of every
//! non-recurrent zoo model on both devices. CI runs these on Mesa's software Vulkan driver.
//!
//! Tolerances, and why:
//! - padding, cropping, scaling, concatenation and splitting: exact (the same single rounding,
//!   or none).
//! - sub-sampling, RBF units: each output and gradient is a sum whose terms the two devices add
//!   in the same order, but the GPU compiler may fuse a multiply and an add (one rounding instead
//!   of two) and the CPU sums the sub-sampling's parameter gradients in f64 across maps; so each
//!   value is held to 1e-4 · Σ|terms| (computed by the CPU op on |x|, |W| and |δ|), far above
//!   the ~k·2⁻²⁴ relative error of a sum of k ≤ 400 terms (2.4e-5 at worst, ~1e-6 typically).
//! - LRN, GELU, the losses: relative 1e-4 (|gpu − cpu| ≤ 1e-4 · max(|cpu|, floor)); LRN's
//!   D^(−β) is a `pow` on both devices, which differ by a few ulp, GELU's erf and exp are the
//!   CPU's polynomials, and a loss row sums at most 17 terms.
//! - update rules: relative 1e-4 over 5 steps; each rule is the CPU's equation term by term, so
//!   the two differ only by `sqrt` and division rounding and fused multiply-adds (a few ulp a
//!   step).
//! - training steps: the loss within 1e-4 of itself and the weights within 1e-4 of the largest
//!   weight (the steps compound the GEMMs' rounding, as in basics.rs).

use crate::harness::{abs, assert_same_weights, digits, gpu, randn, up, zoo};
use nabla::gpu::kernels::{self, SubsampleShape};
use nabla::gpu::{Gpu, GpuNet, GpuTensor};
use nabla::loss::{Loss, least_squares, sigmoid_cross_entropy};
use nabla::nn::{Layer, LayerSpec, Model, ModelSpec, Module, Subsample, pad2d, rbf};
use nabla::ops::Lrn;
use nabla::optim::schedule::Constant;
use nabla::optim::{AdaDelta, AdaDeltaWindow, AdaGrad, Adam, AdamW, RmsProp, Sgd, UpdateRule, by_name};
use nabla::rng::Rng;
use nabla::train::{Quiet, Regularization, Sets, TrainConfig, Trainer};
use nabla::{Tensor, Var, data::Dataset};
use std::time::Instant;

fn zeros(shape: &[usize]) -> GpuTensor {
    GpuTensor::zeros(gpu(), shape)
}

fn down(t: &GpuTensor) -> Tensor {
    t.download(gpu())
}

/// Asserts |got − want| ≤ 1e-4 · `bound` elementwise (`bound`: Σ|terms| of each value).
#[track_caller]
fn assert_within(got: &Tensor, want: &Tensor, bound: &Tensor, what: &str) {
    assert_eq!(got.numel(), want.numel(), "{what}: sizes");
    for (i, ((&g, &w), &b)) in got.data().iter().zip(want.data()).zip(bound.data()).enumerate() {
        assert!((g - w).abs() <= 1e-4 * b + 1e-30, "{what}: value {i}: GPU {g}, CPU {w}, Σ|terms| {b}");
    }
}

/// Asserts |got − want| ≤ 1e-4 · max(|want|, `floor`) everywhere.
#[track_caller]
fn assert_close(got: &Tensor, want: &Tensor, floor: f32, what: &str) {
    assert_eq!(got.numel(), want.numel(), "{what}: sizes");
    for (i, (&g, &w)) in got.data().iter().zip(want.data()).enumerate() {
        assert!((g - w).abs() <= 1e-4 * w.abs().max(floor), "{what}: value {i}: GPU {g}, CPU {w}");
    }
}

/// The gradients of Σ δ ⊙ f(inputs) on the CPU, and f's value.
fn cpu_grads(inputs: &[Tensor], delta: &Tensor, f: impl Fn(&[Var]) -> Var) -> (Tensor, Vec<Tensor>) {
    let vars: Vec<Var> = inputs.iter().map(|t| Var::leaf(t.clone())).collect();
    let y = f(&vars);
    let grads = y.mul(&Var::constant(delta.clone())).sum().backward();
    (y.value().clone(), vars.iter().map(|v| grads.get(v).unwrap().clone()).collect())
}

#[test]
fn padding_scaling_and_concatenation_equal_the_cpu_ops() {
    let gpu = gpu();
    // pad and its crop: odd maps, padding that differs by axis
    for (n, c, h, w, ph, pw) in [(1, 1, 1, 1, 1, 0), (3, 2, 7, 5, 2, 1), (2, 1, 28, 28, 2, 2)] {
        let x = randn(n as u64, &[n, c, h, w]);
        let delta = randn(10 + n as u64, &[n, c, h + 2 * ph, w + 2 * pw]);
        let (y, dx) = cpu_grads(std::slice::from_ref(&x), &delta, |v| pad2d(&v[0], (ph, pw), -0.1));
        let (gy, gdx) = (zeros(y.shape()), zeros(x.shape()));
        kernels::pad(gpu, n * c, (h, w), (ph, pw), -0.1, up(&x).buffer(), gy.buffer());
        kernels::crop(gpu, n * c, (h, w), (ph, pw), up(&delta).buffer(), gdx.buffer());
        assert_eq!(down(&gy).data(), y.data(), "pad {:?}", x.shape());
        assert_eq!(down(&gdx).data(), dx[0].data(), "crop {:?}", x.shape());
    }
    let x = randn(3, &[1031]);
    let gy = zeros(&[1031]);
    kernels::scale(gpu, 1031, -0.1, up(&x).buffer(), gy.buffer());
    assert_eq!(down(&gy).data(), Var::constant(x.clone()).scale(-0.1).value().data(), "scale");
    // concatenation along the channels of N×C×H×W, and its split
    let parts = [randn(4, &[3, 2, 5, 7]), randn(5, &[3, 1, 5, 7]), randn(6, &[3, 4, 5, 7])];
    let delta = randn(7, &[3, 7, 5, 7]);
    let (y, grads) = cpu_grads(&parts, &delta, |v| Var::concat(v, 1));
    let (gy, gdelta) = (zeros(y.shape()), up(&delta));
    let mut offset = 0;
    for (part, grad) in parts.iter().zip(&grads) {
        let width = part.numel() / 3;
        kernels::concat(gpu, 3, (width, offset, 7 * 35), up(part).buffer(), gy.buffer());
        let gd = zeros(part.shape());
        kernels::split(gpu, 3, (width, offset, 7 * 35), gdelta.buffer(), gd.buffer());
        assert_eq!(down(&gd).data(), grad.data(), "split at {offset}");
        offset += width;
    }
    assert_eq!(down(&gy).data(), y.data(), "concat");
    // copy and accumulate
    let (a, b) = (randn(8, &[300]), randn(9, &[300]));
    let out = zeros(&[300]);
    kernels::copy(gpu, 300, up(&a).buffer(), out.buffer());
    kernels::accumulate(gpu, 300, up(&b).buffer(), out.buffer());
    assert_eq!(down(&out).data(), a.add(&b).data(), "copy and accumulate");
}

/// Sub-samplings: non-overlapping 2×2 (LeNet's S2 at 4 samples), windows that differ by axis,
/// overlapping windows (stride 1), skipping windows (stride over the kernel).
const SUBSAMPLE_SHAPES: [SubsampleShape; 4] = [
    SubsampleShape { n: 4, channels: 6, h: 28, w: 28, kernel: (2, 2), stride: (2, 2) },
    SubsampleShape { n: 3, channels: 5, h: 7, w: 9, kernel: (2, 3), stride: (2, 2) },
    SubsampleShape { n: 2, channels: 3, h: 11, w: 13, kernel: (3, 3), stride: (1, 1) },
    SubsampleShape { n: 1, channels: 7, h: 10, w: 11, kernel: (2, 2), stride: (3, 4) },
];

/// (y, ∂x, ∂w, ∂b) of the CPU layer for upstream δ.
fn cpu_subsample(x: &Tensor, w: &Tensor, b: &Tensor, delta: &Tensor, s: &SubsampleShape) -> [Tensor; 4] {
    let mut layer = Subsample::new(s.channels, s.kernel, s.stride);
    *layer.weight.value_mut() = w.clone();
    *layer.bias.value_mut() = b.clone();
    let vx = Var::leaf(x.clone());
    let y = layer.forward(&vx);
    let grads = y.mul(&Var::constant(delta.clone())).sum().backward();
    let get = |p: &nabla::Param| grads.get_param(p).unwrap().clone();
    [y.value().clone(), grads.get(&vx).unwrap().clone(), get(&layer.weight), get(&layer.bias)]
}

#[test]
fn subsampling_forward_and_backward_match_the_cpu_layer() {
    let gpu = gpu();
    for (i, s) in SUBSAMPLE_SHAPES.iter().enumerate() {
        let seed = 10 * i as u64;
        let (oh, ow) = s.out();
        let x = randn(seed, &[s.n, s.channels, s.h, s.w]);
        let (w, b) = (randn(seed + 1, &[s.channels]), randn(seed + 2, &[s.channels]));
        let delta = randn(seed + 3, &[s.n, s.channels, oh, ow]);
        let want = cpu_subsample(&x, &w, &b, &delta, s);
        let bound = cpu_subsample(&abs(&x), &abs(&w), &abs(&b), &abs(&delta), s);
        let (gw, gb) = (up(&w), up(&b));
        let (y, sums) = (zeros(want[0].shape()), zeros(want[0].shape()));
        kernels::subsample_forward(gpu, s, up(&x).buffer(), (gw.buffer(), gb.buffer()), sums.buffer(), y.buffer());
        let (dx, dw, db) = (zeros(x.shape()), zeros(w.shape()), zeros(b.shape()));
        let grads = (dw.buffer(), db.buffer());
        kernels::subsample_backward(
            gpu,
            s,
            (gw.buffer(), sums.buffer()),
            up(&delta).buffer(),
            grads,
            Some(dx.buffer()),
        );
        for (part, got, k) in [("y", &y, 0), ("∂x", &dx, 1), ("∂w", &dw, 2), ("∂b", &db, 3)] {
            assert_within(&down(got), &want[k], &bound[k], &format!("subsample {s:?}: {part}"));
        }
    }
}

#[test]
fn rbf_units_forward_and_backward_match_the_cpu_op() {
    let gpu = gpu();
    for (i, (n, f, k)) in [(1, 1, 1), (5, 7, 3), (13, 84, 10), (300, 11, 2)].into_iter().enumerate() {
        let seed = 20 * i as u64;
        let (x, w) = (randn(seed, &[n, f]), randn(seed + 1, &[k, f]));
        let delta = randn(seed + 2, &[n, k]);
        let (y, grads) = cpu_grads(&[x.clone(), w.clone()], &delta, |v| rbf(&v[0], &v[1]));
        // Σ|terms|: (|x| + |w|)² for the outputs, 2|δ|(|x| + |w|) for the gradients
        let (ax, aw, ad) = (abs(&x), abs(&w), abs(&delta));
        let (bound_y, bound) = cpu_grads(&[ax, aw.scale(-1.0)], &ad, |v| rbf(&v[0], &v[1]));
        let (gx, gw) = (up(&x), up(&w));
        let (gy, dx, dw) = (zeros(&[n, k]), zeros(&[n, f]), zeros(&[k, f]));
        kernels::rbf_forward(gpu, (n, f, k), gx.buffer(), gw.buffer(), gy.buffer());
        kernels::rbf_backward(
            gpu,
            (n, f, k),
            (gx.buffer(), gw.buffer()),
            up(&delta).buffer(),
            dw.buffer(),
            Some(dx.buffer()),
        );
        let what = |part: &str| format!("rbf {n}×{f}, {k} units: {part}");
        assert_within(&down(&gy), &y, &bound_y, &what("y"));
        assert_within(&down(&dx), &grads[0], &abs(&bound[0]), &what("∂x"));
        assert_within(&down(&dw), &grads[1], &abs(&bound[1]), &what("∂W"));
    }
}

#[test]
fn lrn_forward_and_backward_match_the_cpu_op() {
    let gpu = gpu();
    let x = randn(30, &[3, 7, 5, 3]);
    let delta = randn(31, &[3, 7, 5, 3]);
    // large α so that the normalisation matters; even and odd windows, one wider than the channels
    for (size, alpha, beta, k) in
        [(5, 1e-4, 0.75, 1.0), (1, 2.0, 0.75, 1.0), (2, 2.0, 0.5, 2.0), (5, 2.0, 0.75, 1.0), (9, 1.5, 1.2, 1.0)]
    {
        let lrn = Lrn { size, alpha, beta, k };
        let (y, dx) = cpu_grads(std::slice::from_ref(&x), &delta, |v| v[0].local_response_norm(lrn));
        let (gx, gy, d, gdx) = (up(&x), zeros(x.shape()), zeros(x.shape()), zeros(x.shape()));
        kernels::lrn_forward(gpu, lrn, (3, 7, 15), gx.buffer(), gy.buffer(), d.buffer());
        kernels::lrn_backward(gpu, lrn, (3, 7, 15), gx.buffer(), d.buffer(), up(&delta).buffer(), gdx.buffer());
        assert_close(&down(&gy), &y, 1e-2, &format!("LRN {lrn:?}: y"));
        assert_close(&down(&gdx), &dx[0], 1e-2, &format!("LRN {lrn:?}: ∂x"));
    }
}

#[test]
fn gelu_forward_and_backward_match_the_cpu_op() {
    let gpu = gpu();
    // u over [−6, 6]: both tails (erf clamped at ±3.9·√2) and the middle
    let u = Tensor::from_vec((0..1031).map(|i| -6.0 + 12.0 * i as f32 / 1030.0).collect(), &[1031]);
    let delta = randn(40, &[1031]);
    let (y, du) = cpu_grads(std::slice::from_ref(&u), &delta, |v| v[0].gelu());
    let (gu, gy, gdu) = (up(&u), zeros(&[1031]), zeros(&[1031]));
    kernels::gelu_forward(gpu, 1031, gu.buffer(), gy.buffer());
    kernels::gelu_backward(gpu, 1031, gu.buffer(), up(&delta).buffer(), gdu.buffer());
    // y near 0 in the left tail: there the floor 1e-3 bounds the error by 1e-7
    assert_close(&down(&gy), &y, 1e-3, "GELU y");
    assert_close(&down(&gdu), &du[0], 1e-3, "GELU ∂u");
}

/// A CPU loss.
type LossFn = fn(&Var, &Tensor) -> Var;

#[test]
fn least_squares_and_sigmoid_cross_entropy_match_the_cpu_losses() {
    let gpu = gpu();
    for (rows, cols) in [(1, 1), (13, 7), (257, 17)] {
        let u = randn(rows as u64, &[rows, cols]).scale(4.0);
        let t = Rng::seed(50).uniform_tensor(&[rows, cols], 0.0, 1.0);
        let cpu: [(Loss, LossFn); 2] =
            [(Loss::LeastSquares, least_squares), (Loss::SigmoidCrossEntropy, sigmoid_cross_entropy)];
        for (loss, f) in cpu {
            let vu = Var::leaf(u.clone());
            let e = f(&vu, &t);
            let delta = e.backward().get(&vu).unwrap().clone();
            let (gd, losses) = (zeros(&[rows, cols]), zeros(&[rows + 2]));
            kernels::loss(gpu, loss, (rows, cols), up(&u).buffer(), up(&t).buffer(), gd.buffer(), losses.buffer(), 2);
            let losses = down(&losses);
            let mean = losses.data()[2..].iter().map(|&l| f64::from(l)).sum::<f64>() / rows as f64;
            let what = format!("{loss:?} {rows}×{cols}");
            let want = e.value().item();
            assert!((mean as f32 - want).abs() <= 1e-4 * want.abs().max(1.0), "{what}: {mean} vs {want}");
            assert_eq!(&losses.data()[..2], &[0.0; 2], "{what}: wrote before its offset");
            assert_close(&down(&gd), &delta, 1e-3 / rows as f32, &format!("{what} δ"));
        }
    }
}

#[test]
fn every_update_rule_matches_the_cpu_rule_over_five_steps() {
    let gpu = gpu();
    let n = 1031;
    let rules: Vec<(&str, Box<dyn UpdateRule>, f32)> = vec![
        ("adagrad", Box::new(AdaGrad::default()), 0.1),
        ("rmsprop", Box::new(RmsProp::default()), 0.01),
        ("adadelta", Box::new(AdaDelta::default()), 1.0),
        ("adadelta-window 2", Box::new(AdaDeltaWindow { window: 2, eps: 1e-8 }), 0.1),
        ("adadelta-window 3", Box::new(AdaDeltaWindow { window: 3, eps: 1e-8 }), 0.1),
        ("adadelta-window 1", Box::new(AdaDeltaWindow { window: 1, eps: 1e-8 }), 0.1),
        ("adamw", Box::new(AdamW { adam: Adam::default(), weight_decay: 0.1 }), 0.01),
        ("sgd", Box::new(Sgd::default()), 0.1),
    ];
    for (name, rule, eta) in rules {
        let params = rule.params().unwrap_or_else(|| panic!("{name} has no GPU form"));
        assert_eq!(params.state_buffers(), rule.state_buffers(), "{name}");
        let mut w = randn(1, &[n]).data().to_vec();
        let mut state = vec![vec![0.0f32; n]; rule.state_buffers()];
        let gw = up(&Tensor::from_vec(w.clone(), &[n]));
        let gs: Vec<GpuTensor> = state.iter().map(|_| zeros(&[n])).collect();
        for t in 1..=5 {
            // gradients of several scales, so that the windows' sums change a lot
            let g = randn(10 + t, &[n]).scale(if t % 2 == 0 { 10.0 } else { 0.1 });
            let mut slices: Vec<&mut [f32]> = state.iter_mut().map(Vec::as_mut_slice).collect();
            rule.update(&mut w, g.data(), &mut slices, eta, t);
            let buffers: Vec<_> = gs.iter().map(GpuTensor::buffer).collect();
            kernels::update(gpu, params, eta, t, n, up(&g).buffer(), gw.buffer(), &buffers);
        }
        assert_close(&down(&gw), &Tensor::from_vec(w, &[n]), 1.0, &format!("{name} weights"));
        for (s, (gpu_state, cpu_state)) in gs.iter().zip(state).enumerate() {
            assert_close(&down(gpu_state), &Tensor::from_vec(cpu_state, &[n]), 1e-3, &format!("{name} state {s}"));
        }
    }
}

/// The check above can fail: AdaGrad's state read as RMSProp's is caught.
#[test]
fn a_wrong_rule_is_caught() {
    let gpu = gpu();
    let n = 257;
    let mut w = randn(1, &[n]).data().to_vec();
    let mut sum = vec![0.0f32; n];
    let gw = up(&Tensor::from_vec(w.clone(), &[n]));
    let gs = zeros(&[n]);
    let g = randn(2, &[n]);
    AdaGrad::default().update(&mut w, g.data(), &mut [&mut sum[..]], 0.1, 1);
    let wrong = RmsProp::default().params().unwrap();
    kernels::update(gpu, wrong, 0.1, 1, n, up(&g).buffer(), gw.buffer(), &[gs.buffer()]);
    let got = down(&gw);
    let differ = got.data().iter().zip(&w).filter(|(a, b)| (*a - *b).abs() > 1e-4 * b.abs().max(1.0)).count();
    assert!(differ > n / 2, "only {differ} of {n} weights differ");
}

/// A trainer of `spec` with its [train] table's optimizer, η, momentum, L2 and max-norm (and
/// `reg`'s other settings), one epoch of batches of `batch` rows.
fn zoo_trainer(spec: &ModelSpec, batch: usize, reg: Regularization) -> Trainer {
    let model = Model::new(spec.clone(), &mut Rng::seed(5)).unwrap();
    let defaults = spec.train.clone().unwrap_or_default();
    let optimizer = defaults.optimizer.as_deref().unwrap_or("sgd");
    let optimizer = by_name(optimizer, defaults.lr.unwrap_or(0.05), defaults.momentum, false).unwrap();
    let regularization =
        Regularization { l2: defaults.l2.unwrap_or(reg.l2), max_norm: defaults.max_norm.or(reg.max_norm), ..reg };
    let config = TrainConfig { epochs: 1, batch_size: batch, seed: 3, regularization, ..Default::default() };
    Trainer::new(model, optimizer, Box::new(Constant::new()), config)
}

/// One step of `spec` on `rows` digits (one batch) on both devices: the same loss and penalty,
/// and the same weights within 1e-4 of the largest weight. Returns the GPU's time for the step.
fn one_step_on_both_devices(spec: &ModelSpec, rows: usize, reg: Regularization) -> f64 {
    let data = digits(rows);
    let sets = Sets { train: &data, val: None, test: None };
    let mut cpu = zoo_trainer(spec, rows, reg);
    let mut on_gpu = zoo_trainer(spec, rows, reg);
    on_gpu.to_gpu(Gpu::new().unwrap()).unwrap();
    cpu.run(sets, &mut Quiet, &mut |_| Ok(())).unwrap();
    let start = Instant::now();
    on_gpu.run(sets, &mut Quiet, &mut |_| Ok(())).unwrap();
    let seconds = start.elapsed().as_secs_f64();
    let name = &spec.name;
    let (c, g) = (&cpu.history[0], &on_gpu.history[0]);
    assert!(
        (c.train_loss - g.train_loss).abs() <= 1e-4 * c.train_loss,
        "{name}: loss CPU {}, GPU {}",
        c.train_loss,
        g.train_loss
    );
    assert!((c.penalty - g.penalty).abs() <= 1e-4 * c.penalty, "{name}: penalty CPU {}, GPU {}", c.penalty, g.penalty);
    assert_same_weights(name, &cpu, &on_gpu);
    seconds
}

/// Sets every dropout's p to 0 (so that both devices apply the same, empty, mask: the GPU's
/// masks are its own) and every linear layer's `out` of `from` to `to`, in auxiliary heads too.
fn adapt(layers: &mut [Layer], (from, to): (usize, usize)) {
    for layer in layers {
        match &mut layer.spec {
            LayerSpec::Dropout(d) => d.p = 0.0,
            LayerSpec::Linear(l) if l.out == from => l.out = to,
            LayerSpec::Auxiliary(a) => adapt(&mut a.layers, (from, to)),
            _ => {}
        }
    }
}

fn without_dropout(mut spec: ModelSpec) -> ModelSpec {
    adapt(&mut spec.layers, (0, 0));
    spec
}

#[test]
fn a_step_of_each_small_zoo_model_agrees_on_both_devices() {
    for name in ["mlp", "mlp-dropout", "lenet5", "lenet5-modern", "googlenet-mnist"] {
        let spec = without_dropout(zoo(name));
        one_step_on_both_devices(&spec, 13, Regularization::default());
    }
}

/// The penalties, clipping and max-norm on a net of every activation and both other losses.
#[test]
fn regularized_steps_agree_on_both_devices() {
    let mut spec: ModelSpec = toml::from_str(
        r#"name = "regularized"
input = [784]
loss = "least-squares"
layers = [
  { type = "linear", out = 13 }, { type = "gelu" }, { type = "linear", out = 11 }, { type = "sigmoid" },
  { type = "linear", out = 7 }, { type = "scaled-tanh" }, { type = "linear", out = 10 }, { type = "tanh" },
]"#,
    )
    .unwrap();
    let reg = Regularization { l1: 1e-3, l2: 1e-2, max_norm: Some(0.5), clip: Some(0.1) };
    one_step_on_both_devices(&spec, 17, reg);
    spec.loss = Loss::SigmoidCrossEntropy;
    one_step_on_both_devices(&spec, 17, reg);
}

/// googlenet at its 224×224 input, one step of 2 samples on both devices (LRN, the stride-2
/// stem, nine Inception modules and both auxiliary heads): 8 s on lavapipe with the software
/// driver's kernels (169 s with the tiled ones).
#[test]
fn a_googlenet_step_agrees_on_both_devices() {
    let mut spec = zoo("googlenet");
    // 10 classes instead of 1000 (the digits' targets), in the heads too
    adapt(&mut spec.layers, (1000, 10));
    let rows = 2;
    let inputs = Rng::seed(6).uniform_tensor(&[rows, 3 * 224 * 224], 0.0, 1.0);
    let data = Dataset { inputs: inputs.into(), ..digits(rows) };
    let sets = Sets { train: &data, val: None, test: None };
    let mut cpu = zoo_trainer(&spec, rows, Regularization::default());
    let mut on_gpu = zoo_trainer(&spec, rows, Regularization::default());
    on_gpu.to_gpu(Gpu::new().unwrap()).unwrap();
    cpu.run(sets, &mut Quiet, &mut |_| Ok(())).unwrap();
    let start = Instant::now();
    on_gpu.run(sets, &mut Quiet, &mut |_| Ok(())).unwrap();
    eprintln!("googlenet, one step of {rows} on the GPU: {:.1} s", start.elapsed().as_secs_f64());
    let (c, g) = (cpu.history[0].train_loss, on_gpu.history[0].train_loss);
    assert!((c - g).abs() <= 1e-4 * c, "loss CPU {c}, GPU {g}");
    assert_same_weights("googlenet", &cpu, &on_gpu);
}

/// googlenet-mnist's auxiliary head on the device: its loss's δ reaches the trunk's gradients
/// exactly as on the CPU, which adds 0.3 times the head's loss (the net's gradients with and
/// without the head's δ differ, and the CPU's equal the GPU's with it).
#[test]
fn the_auxiliary_head_adds_its_weighted_loss_to_the_gradients() {
    let gpu = gpu();
    let spec = without_dropout(zoo("googlenet-mnist"));
    let model = Model::new(spec, &mut Rng::seed(2)).unwrap();
    let data = digits(5);
    let x = data.inputs.gather_rows(&(0..5).collect::<Vec<_>>());
    let mut net = GpuNet::new(gpu, &model, 5).unwrap();
    net.load_input(gpu, &x);
    let (targets, losses) = (up(&data.targets), zeros(&[5]));
    let run = |with_head: bool| {
        let u = net.forward_training(gpu, 5, 1);
        kernels::softmax_ce(gpu, 5, 10, u, targets.buffer(), net.output_delta(), losses.buffer(), 0);
        if with_head {
            net.side_losses(gpu, 5, targets.buffer());
        }
        net.backward(gpu, 5);
        net.gradients(gpu)
    };
    // without first: the head's δ buffer is still zeros (it keeps the last δ written)
    let without = run(false);
    let with = run(true);
    let trunk = &with[0].1;
    // the CPU's graph: the main loss plus 0.3 times the head's
    let (u, side) = model.forward_train(&Var::constant(x.reshape(&[5, 1, 28, 28])));
    let mut e = Loss::SoftmaxCrossEntropy.apply(&u, &data.targets);
    for (weight, head) in side {
        e = e.add(&Loss::SoftmaxCrossEntropy.apply(&head, &data.targets).scale(weight));
    }
    let grads = e.backward();
    let params = model.params();
    let cpu_trunk = grads.get_param(params[0].1).unwrap();
    let scale = cpu_trunk.data().iter().fold(0.0f32, |m, g| m.max(g.abs()));
    for (a, b) in trunk.data().iter().zip(cpu_trunk.data()) {
        assert!((a - b).abs() <= 1e-4 * scale, "{}: GPU {a}, CPU {b}", params[0].0);
    }
    let differ = without[0].1.data().iter().zip(trunk.data()).filter(|(a, b)| (*a - *b).abs() > 1e-3 * scale).count();
    assert!(differ > 0, "the head's δ changed none of the trunk's gradients");
}
