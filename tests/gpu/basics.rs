//! The GPU backend (cargo feature `gpu`) against the CPU: each kernel against the CPU op it
//! stands for, forward and backward, on shapes that are odd, prime and not multiples of a
//! workgroup; a training step of an MLP on both devices; a short MNIST training; the errors of a
//! GPU that cannot be had. CI runs these on Mesa's software Vulkan driver (lavapipe).
//!
//! Tolerances: elementwise kernels and the loss agree to a relative 1e-4 (|gpu − cpu| ≤ 1e-4 ·
//! max(1, |cpu|)): both devices compute the same formulas in f32 (tanh by the same rational
//! function), and differ only by contraction into FMAs and the last bits of exp and log. A GEMM's
//! outputs are sums of k products taken in different orders and blockings on the two devices,
//! so each output is held to 1e-4 · Σₖ |aᵢₖ||bₖⱼ|: the rounding error bound of a sum of k
//! products is k·2⁻²⁴ times that sum, under 1e-4 times it for k < 1600 (and far under it in
//! practice); a relative bound on the output itself would fail wherever the sum cancels.

use crate::common::{
    Scratch, assert_clean_failure, last_json, mnist, nabla, nabla_ok, train_2000_digits, write_gray_png,
};
use crate::harness::{abs, assert_same_weights, gpu, randn};
use nabla::gpu::kernels::{self, GemmKernel, activation_code};
use nabla::gpu::{Gpu, GpuNet, GpuPredictor, GpuTensor, GpuTraining};
use nabla::loss::{Loss, softmax_cross_entropy};
use nabla::nn::{Activation, Model, ModelSpec, Module};
use nabla::optim::{Adam, Optimizer, Sgd, UpdateRule, schedule::Constant};
use nabla::rng::Rng;
use nabla::tensor::{Transpose, gemm_into};
use nabla::train::{Quiet, Sets, TrainConfig, Trainer, evaluate};
use nabla::{Tensor, Var, data::Dataset};

/// Asserts |got − want| ≤ 1e-4 · max(1, |want|) everywhere.
#[track_caller]
fn assert_close(got: &Tensor, want: &Tensor, what: &str) {
    assert_eq!(got.shape(), want.shape(), "{what}: shapes");
    for (i, (&g, &w)) in got.data().iter().zip(want.data()).enumerate() {
        assert!((g - w).abs() <= 1e-4 * w.abs().max(1.0), "{what}: value {i}: GPU {g}, CPU {w}");
    }
}

/// Asserts |got − want| ≤ 1e-4 · `bound` elementwise (`bound`: Σₖ |a||b| of each GEMM output).
#[track_caller]
fn assert_within(got: &[f32], want: &[f32], bound: &[f32], what: &str) {
    for (i, ((&g, &w), &b)) in got.iter().zip(want).zip(bound).enumerate() {
        assert!((g - w).abs() <= 1e-4 * b + 1e-30, "{what}: value {i}: GPU {g}, CPU {w}, Σ|a||b| {b}");
    }
}

/// Shapes (m, n, k) with sizes 1, primes and odd sizes around the 16-wide tiles.
const GEMM_SHAPES: [(usize, usize, usize); 6] =
    [(1, 1, 1), (7, 13, 5), (17, 31, 29), (33, 1, 47), (2, 97, 16), (61, 37, 101)];

#[test]
fn gemm_matches_gemm_into_for_every_transpose_and_accumulation() {
    check_gemm(&GEMM_SHAPES, None);
}

/// Every kernel (the software drivers' one too) at the small shapes and at shapes of at least [`kernels::BLOCKED_FROM`] 64×64
/// blocks (where `gemm` picks the register-blocked one): primes, a single row and nearly a
/// single column, the ragged edges of the 64×64 blocks and of k's 16-wide tiles.
#[test]
fn every_gemm_kernel_matches_gemm_into_at_odd_sizes() {
    let large = [(521, 509, 67), (1, 4099, 17), (4097, 3, 1)];
    for (m, n, _) in large {
        assert_eq!(GemmKernel::for_size(m, n), GemmKernel::Blocked, "{m}×{n}");
        // a software driver runs the barrier-free kernel at every size
        let picked = if gpu().is_software() { GemmKernel::Rows } else { GemmKernel::Blocked };
        assert_eq!(GemmKernel::pick(gpu(), m, n), picked, "{m}×{n} on {}", gpu().name());
    }
    for kernel in [GemmKernel::Simple, GemmKernel::Blocked, GemmKernel::Rows] {
        check_gemm(&GEMM_SHAPES, Some(kernel));
        check_gemm(&large, Some(kernel));
    }
}

/// Every transpose and accumulation of [`kernels::gemm`] (or of `kernel`) against
/// [`gemm_into`] at `shapes`.
fn check_gemm(shapes: &[(usize, usize, usize)], kernel: Option<GemmKernel>) {
    let gpu = gpu();
    for (s, &(m, n, k)) in shapes.iter().enumerate() {
        for (ta, tb) in [
            (Transpose::No, Transpose::No),
            (Transpose::Yes, Transpose::No),
            (Transpose::No, Transpose::Yes),
            (Transpose::Yes, Transpose::Yes),
        ] {
            let a_shape = if ta == Transpose::Yes { [k, m] } else { [m, k] };
            let b_shape = if tb == Transpose::Yes { [n, k] } else { [k, n] };
            let (a, b, c0) = (randn(s as u64, &a_shape), randn(100 + s as u64, &b_shape), randn(200, &[m, n]));
            for accumulate in [false, true] {
                let mut want = c0.data().to_vec();
                gemm_into(m, n, k, a.data(), ta, b.data(), tb, &mut want, accumulate);
                let mut bound = vec![0.0; m * n];
                gemm_into(m, n, k, abs(&a).data(), ta, abs(&b).data(), tb, &mut bound, false);
                let bound: Vec<f32> = bound.iter().zip(c0.data()).map(|(b, c)| b + c.abs()).collect();
                let (ga, gb, gc) =
                    (GpuTensor::upload(gpu, &a), GpuTensor::upload(gpu, &b), GpuTensor::upload(gpu, &c0));
                match kernel {
                    Some(kernel) => {
                        let (ops_a, ops_b) = ((ga.buffer(), ta), (gb.buffer(), tb));
                        kernels::gemm_with(gpu, kernel, (m, n, k), ops_a, ops_b, gc.buffer(), accumulate);
                    }
                    None => kernels::gemm(gpu, (m, n, k), ga.buffer(), ta, gb.buffer(), tb, gc.buffer(), accumulate),
                }
                let what = format!("gemm {kernel:?} {m}×{n}×{k} {ta:?} {tb:?} accumulate {accumulate}");
                assert_within(gc.download(gpu).data(), &want, &bound, &what);
            }
        }
    }
}

/// The affine layer U = X·W + 1·b forward, and its backward from an upstream gradient G:
/// ∂/∂X = G·Wᵀ, ∂/∂W = Xᵀ·G, ∂/∂b = 1ᵀ·G, against `Var::affine` and its backward.
#[test]
fn affine_forward_and_backward_match_the_cpu_op() {
    let gpu = gpu();
    for (s, &(m, n_out, n_in)) in GEMM_SHAPES.iter().enumerate() {
        let (x, w, b, g) = (
            randn(s as u64, &[m, n_in]),
            randn(10 + s as u64, &[n_in, n_out]),
            randn(20, &[n_out]),
            randn(30, &[m, n_out]),
        );
        let (vx, vw, vb) = (Var::leaf(x.clone()), Var::leaf(w.clone()), Var::leaf(b.clone()));
        let u = vx.affine(&vw, &vb);
        let grads = u.mul(&Var::constant(g.clone())).sum().backward();
        let up = |t: &Tensor| GpuTensor::upload(gpu, t);
        let (gx, gw, gb, gg) = (up(&x), up(&w), up(&b), up(&g));
        let gu = GpuTensor::zeros(gpu, &[m, n_out]);
        kernels::gemm(
            gpu,
            (m, n_out, n_in),
            gx.buffer(),
            Transpose::No,
            gw.buffer(),
            Transpose::No,
            gu.buffer(),
            false,
        );
        kernels::bias_add(gpu, m, n_out, gb.buffer(), gu.buffer());
        let (dx, dw, db) =
            (GpuTensor::zeros(gpu, &[m, n_in]), GpuTensor::zeros(gpu, &[n_in, n_out]), GpuTensor::zeros(gpu, &[n_out]));
        kernels::gemm(
            gpu,
            (m, n_in, n_out),
            gg.buffer(),
            Transpose::No,
            gw.buffer(),
            Transpose::Yes,
            dx.buffer(),
            false,
        );
        kernels::gemm(
            gpu,
            (n_in, n_out, m),
            gx.buffer(),
            Transpose::Yes,
            gg.buffer(),
            Transpose::No,
            dw.buffer(),
            false,
        );
        kernels::column_sum(gpu, m, n_out, gg.buffer(), db.buffer());
        let bound = |a: &Tensor, ta, b: &Tensor, tb, (rows, cols, k)| {
            let mut out = vec![0.0; rows * cols];
            gemm_into(rows, cols, k, abs(a).data(), ta, abs(b).data(), tb, &mut out, false);
            out
        };
        let shape = format!("{m}×{n_in} → {n_out}");
        let mut u_bound = bound(&x, Transpose::No, &w, Transpose::No, (m, n_out, n_in));
        u_bound.iter_mut().enumerate().for_each(|(i, v)| *v += b.data()[i % n_out].abs());
        assert_within(gu.download(gpu).data(), u.value().data(), &u_bound, &format!("affine {shape}"));
        let dx_bound = bound(&g, Transpose::No, &w, Transpose::Yes, (m, n_in, n_out));
        assert_within(dx.download(gpu).data(), grads.get(&vx).unwrap().data(), &dx_bound, &format!("∂X {shape}"));
        let dw_bound = bound(&x, Transpose::Yes, &g, Transpose::No, (n_in, n_out, m));
        assert_within(dw.download(gpu).data(), grads.get(&vw).unwrap().data(), &dw_bound, &format!("∂W {shape}"));
        let db_bound: Vec<f32> = (0..n_out).map(|j| (0..m).map(|i| g.data()[i * n_out + j].abs()).sum()).collect();
        assert_within(db.download(gpu).data(), grads.get(&vb).unwrap().data(), &db_bound, &format!("∂b {shape}"));
    }
}

#[test]
fn activations_and_their_derivatives_match_the_cpu_ops() {
    let gpu = gpu();
    for &a in Activation::ALL {
        let Some(code) = activation_code(a) else {
            assert_eq!(a, Activation::Gelu, "only GELU lacks a kernel");
            continue;
        };
        for n in [1, 255, 257, 1031] {
            // spread over ±8 so that tanh's clamp and relu's kink are crossed
            let u = randn(n as u64, &[n]).map(|x| 4.0 * x);
            let g = randn(7, &[n]);
            let vu = Var::leaf(u.clone());
            let y = a.apply(&vu);
            let du = y.mul(&Var::constant(g.clone())).sum().backward().get(&vu).unwrap().clone();
            let (gu, gy, gg, gdu) = (
                GpuTensor::upload(gpu, &u),
                GpuTensor::zeros(gpu, &[n]),
                GpuTensor::upload(gpu, &g),
                GpuTensor::zeros(gpu, &[n]),
            );
            kernels::activation(gpu, code, n, gu.buffer(), gy.buffer());
            // the backward reads the CPU's y, so that a forward error cannot hide in it
            let cy = GpuTensor::upload(gpu, y.value());
            kernels::activation_backward(gpu, code, n, cy.buffer(), gg.buffer(), gdu.buffer());
            assert_close(&gy.download(gpu), y.value(), &format!("{} forward, n = {n}", a.name()));
            assert_close(&gdu.download(gpu), &du, &format!("{} backward, n = {n}", a.name()));
        }
    }
}

/// Past 65,535 workgroups of 256 a kernel's threads spread over a second dimension: one value
/// more than that many still gets its thread.
#[test]
fn a_kernel_over_more_than_65535_workgroups_reaches_every_value() {
    let gpu = gpu();
    let n = 65_535 * 256 + 7;
    let u = Tensor::from_vec((0..n).map(|i| if i % 3 == 0 { -1.0 } else { (i % 1000) as f32 }).collect(), &[n]);
    let (gu, gy) = (GpuTensor::upload(gpu, &u), GpuTensor::zeros(gpu, &[n]));
    kernels::activation(gpu, activation_code(Activation::Relu).unwrap(), n, gu.buffer(), gy.buffer());
    let y = gy.download(gpu);
    let want = u.map(|x| x.max(0.0));
    assert!(y.data() == want.data(), "relu over {n} values differs from the CPU's");
}

#[test]
fn softmax_cross_entropy_and_its_delta_match_the_cpu_loss() {
    let gpu = gpu();
    for (rows, cols) in [(1, 1), (1, 10), (7, 10), (13, 3), (257, 17)] {
        let u = randn(rows as u64, &[rows, cols]).map(|x| 5.0 * x);
        let one_hot = Tensor::from_vec(
            (0..rows * cols).map(|i| f32::from(i % cols == (i / cols * 7) % cols)).collect(),
            &[rows, cols],
        );
        let soft = Tensor::full(&[rows, cols], 1.0 / cols as f32);
        for (kind, t) in [("one-hot", one_hot), ("soft", soft)] {
            let vu = Var::leaf(u.clone());
            let e = softmax_cross_entropy(&vu, &t);
            let delta = e.backward().get(&vu).unwrap().clone();
            let (gu, gt) = (GpuTensor::upload(gpu, &u), GpuTensor::upload(gpu, &t));
            let (gd, losses) = (GpuTensor::zeros(gpu, &[rows, cols]), GpuTensor::zeros(gpu, &[rows + 3]));
            kernels::softmax_ce(gpu, rows, cols, gu.buffer(), gt.buffer(), gd.buffer(), losses.buffer(), 3);
            let losses = losses.download(gpu);
            let mean = losses.data()[3..].iter().sum::<f32>() / rows as f32;
            let what = format!("softmax CE {rows}×{cols} {kind}");
            assert!(
                (mean - e.value().item()).abs() <= 1e-4 * e.value().item().abs().max(1.0),
                "{what}: {mean} vs {}",
                e.value().item()
            );
            assert_eq!(&losses.data()[..3], &[0.0; 3], "{what}: wrote before its offset");
            assert_close(&gd.download(gpu), &delta, &format!("{what} δ"));
        }
    }
}

#[test]
fn gathered_rows_are_the_cpu_gather() {
    let gpu = gpu();
    let data = randn(3, &[41, 13]);
    let order: Vec<usize> = (0..41).map(|i| (i * 17) % 41).collect();
    let order32: Vec<f32> = order.iter().map(|&i| f32::from_bits(i as u32)).collect();
    // indices go up as u32: their bits, carried by an f32 buffer
    let (gd, go) = (GpuTensor::upload(gpu, &data), GpuTensor::upload(gpu, &Tensor::from_vec(order32, &[41])));
    let out = GpuTensor::zeros(gpu, &[11, 13]);
    kernels::gather_rows(gpu, (11, 13), go.buffer(), 5, gd.buffer(), out.buffer());
    assert_eq!(out.download(gpu).data(), data.gather_rows(&order[5..16]).data());
}

#[test]
fn updates_match_the_cpu_rules_over_three_steps() {
    let gpu = gpu();
    let n = 10_007;
    let rules: Vec<(&str, Box<dyn UpdateRule>)> = vec![
        ("sgd", Box::new(Sgd::default())),
        ("momentum", Box::new(Sgd { momentum: 0.9, nesterov: false })),
        ("nesterov", Box::new(Sgd { momentum: 0.8, nesterov: true })),
        ("adam", Box::new(Adam::default())),
    ];
    for (name, rule) in rules {
        let params = rule.params().unwrap();
        let mut w = randn(1, &[n]).data().to_vec();
        let mut state = vec![vec![0.0f32; n]; rule.state_buffers()];
        let gw = GpuTensor::upload(gpu, &Tensor::from_vec(w.clone(), &[n]));
        let gs: Vec<GpuTensor> = state.iter().map(|_| GpuTensor::zeros(gpu, &[n])).collect();
        for t in 1..=3 {
            let g = randn(10 + t, &[n]);
            let mut slices: Vec<&mut [f32]> = state.iter_mut().map(Vec::as_mut_slice).collect();
            rule.update(&mut w, g.data(), &mut slices, 0.01, t);
            let gg = GpuTensor::upload(gpu, &g);
            let buffers: Vec<_> = gs.iter().map(GpuTensor::buffer).collect();
            kernels::update(gpu, params, 0.01, t, n, gg.buffer(), gw.buffer(), &buffers);
        }
        assert_close(&gw.download(gpu), &Tensor::from_vec(w, &[n]), &format!("{name} weights"));
        for (s, (gpu_state, cpu_state)) in gs.iter().zip(state).enumerate() {
            assert_close(&gpu_state.download(gpu), &Tensor::from_vec(cpu_state, &[n]), &format!("{name} state {s}"));
        }
    }
}

/// 23 rows of 19 inputs and 5 one-hot classes.
fn small_data() -> Dataset {
    let targets = Tensor::from_vec((0..23 * 5).map(|i| f32::from(i % 5 == (i / 5) % 5)).collect(), &[23, 5]);
    Dataset {
        inputs: randn(4, &[23, 19]).into(),
        targets,
        labels: Some((0..23).map(|i| i % 5).collect()),
        image_shape: None,
        lengths: None,
    }
}

fn trainer(optimizer: Optimizer, batch: usize, epochs: usize) -> Trainer {
    let spec = ModelSpec::mlp(19, &[13, 7], 5, Activation::Tanh, Loss::SoftmaxCrossEntropy);
    let mut spec = spec;
    spec.layers.insert(3, nabla::nn::LayerSpec::activation(Activation::Relu).into());
    let model = Model::new(spec, &mut Rng::seed(5)).unwrap();
    let config = TrainConfig { epochs, batch_size: batch, seed: 3, ..Default::default() };
    Trainer::new(model, optimizer, Box::new(Constant::new()), config)
}

fn optimizer_lr() -> f32 {
    0.05
}

/// One step (the whole set as one batch) and then a few epochs of 4 batches, on both devices:
/// the same losses, weights and optimizer state, within the bounds above (the steps compound
/// the GEMMs' rounding, so the weights are held to 1e-4 of the largest weight).
#[test]
fn training_steps_agree_on_both_devices() {
    let data = small_data();
    let sets = Sets { train: &data, val: None, test: None };
    let optimizers = || -> Vec<Optimizer> {
        vec![
            Optimizer::new(Sgd { momentum: 0.9, nesterov: false }, optimizer_lr()),
            Optimizer::new(Adam::default(), optimizer_lr()),
        ]
    };
    for (batch, epochs) in [(23, 1), (6, 3)] {
        for (cpu_opt, gpu_opt) in optimizers().into_iter().zip(optimizers()) {
            let name = cpu_opt.name();
            let mut cpu = trainer(cpu_opt, batch, epochs);
            let mut on_gpu = trainer(gpu_opt, batch, epochs);
            on_gpu.to_gpu(Gpu::new().unwrap()).unwrap();
            cpu.run(sets, &mut Quiet, &mut |_| Ok(())).unwrap();
            on_gpu.run(sets, &mut Quiet, &mut |_| Ok(())).unwrap();
            for (c, g) in cpu.history.iter().zip(&on_gpu.history) {
                assert!(
                    (c.train_loss - g.train_loss).abs() < 1e-4 * c.train_loss,
                    "{name}: loss {} vs {}",
                    c.train_loss,
                    g.train_loss
                );
            }
            assert_same_weights(&name, &cpu, &on_gpu);
            let (cs, gs) = (cpu.optimizer.state_dict(), on_gpu.optimizer.state_dict());
            assert_eq!((cs.t, cs.buffers.keys().collect::<Vec<_>>()), (gs.t, gs.buffers.keys().collect::<Vec<_>>()));
        }
    }
}

#[test]
fn the_same_seed_gives_the_same_weights_on_the_gpu() {
    let data = small_data();
    let sets = Sets { train: &data, val: None, test: None };
    let run = || {
        let mut t = trainer(Optimizer::new(Adam::default(), optimizer_lr()), 6, 2);
        t.to_gpu(Gpu::new().unwrap()).unwrap();
        t.run(sets, &mut Quiet, &mut |_| Ok(())).unwrap();
        t.model.params().iter().flat_map(|(_, p)| p.value().data().to_vec()).collect::<Vec<f32>>()
    };
    assert!(run() == run(), "two GPU runs with one seed ended with different weights");
}

/// A training set left on the host (what one over the device's binding size gets: MNIST's 179 MB
/// on lavapipe, which binds 128 MB), each step writing its batch, trains to the same loss and
/// weights, bit for bit, as the set uploaded once and gathered on the device.
#[test]
fn a_set_streamed_from_the_host_trains_as_one_on_the_device() {
    let data = small_data();
    let run = |stream: bool| {
        let t = trainer(Optimizer::new(Sgd { momentum: 0.9, nesterov: false }, optimizer_lr()), 6, 1);
        let (mut model, mut optimizer) = (t.model, t.optimizer);
        let mut training = GpuTraining::new(Gpu::new().unwrap(), &model, &optimizer, 6).unwrap();
        if stream {
            training.stream();
        }
        let order: Vec<usize> = (0..23).rev().collect();
        let batches: Vec<_> = (0..23).step_by(6).map(|s| s..(s + 6).min(23)).collect();
        let parts = (&mut model as &mut dyn Module, &mut optimizer);
        let loss = training.epoch(&data, &order, &batches, 1, parts, &mut |_| {});
        (loss, model.params().iter().flat_map(|(_, p)| p.value().data().to_vec()).collect::<Vec<f32>>())
    };
    let (resident, streamed) = (run(false), run(true));
    assert!(resident.0 > 0.0, "loss {}", resident.0);
    assert!(resident == streamed, "loss {} uploaded, {} streamed; or the weights differ", resident.0, streamed.0);
}

/// The net's gradients after one backward pass equal the CPU graph's.
#[test]
fn net_gradients_match_the_cpu_backward() {
    let gpu = gpu();
    let data = small_data();
    let t = trainer(Optimizer::new(Sgd::default(), 0.1), 23, 1);
    let mut net = GpuNet::new(gpu, &t.model, 1).unwrap();
    let x = data.inputs.gather_rows(&(0..23).collect::<Vec<_>>());
    net.load_input(gpu, &x);
    let u = net.forward(gpu, 23);
    let losses = GpuTensor::zeros(gpu, &[23]);
    kernels::softmax_ce(
        gpu,
        23,
        5,
        u,
        GpuTensor::upload(gpu, &data.targets).buffer(),
        net.output_delta(),
        losses.buffer(),
        0,
    );
    net.backward(gpu, 23);
    let e = softmax_cross_entropy(&t.model.forward(&Var::constant(x)), &data.targets);
    let grads = e.backward();
    let scale = t
        .model
        .params()
        .iter()
        .map(|(_, p)| grads.get_param(p).unwrap().data().iter().fold(0.0f32, |m, g| m.max(g.abs())))
        .fold(0.0, f32::max);
    for ((name, g), (cpu_name, p)) in net.gradients(gpu).iter().zip(t.model.params()) {
        assert_eq!(name, &cpu_name);
        for (a, b) in g.data().iter().zip(grads.get_param(p).unwrap().data()) {
            assert!((a - b).abs() <= 1e-4 * scale, "{name}: GPU {a}, CPU {b}");
        }
    }
}

/// With no Vulkan driver to find (the loader pointed at none), `--device gpu` fails cleanly
/// and says how to install one; `--device auto` trains on the CPU.
#[test]
fn no_adapter_is_a_clean_error_with_the_install_hint() {
    let s = Scratch::new("gpu-none");
    let run = |device: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_nabla"))
            .args([
                "train",
                "--data",
                &mnist(),
                "--limit-train",
                "50",
                "--hidden",
                "8",
                "--epochs",
                "1",
                "--device",
                device,
            ])
            .env("VK_ICD_FILENAMES", "/nonexistent.json")
            .env("VK_DRIVER_FILES", "/nonexistent.json")
            .current_dir(&s.0)
            .output()
            .unwrap()
    };
    let out = run("gpu");
    assert_clean_failure(
        &out,
        &["--device gpu", "no GPU adapter", "apt-get install mesa-vulkan-drivers", "--device cpu"],
    );
    assert_eq!(out.status.code(), Some(1));
    let auto = run("auto");
    assert!(auto.status.success(), "{}", String::from_utf8_lossy(&auto.stderr));
    assert!(String::from_utf8_lossy(&auto.stderr).contains("--device auto: training on the CPU"));
}

/// The zoo's mlp on 2,000 digits for one epoch ends within 0.5% test accuracy on both devices
/// with the same seed.
#[test]
fn mlp_on_2000_digits_trains_to_the_cpu_accuracy() {
    let s = Scratch::new("gpu-mlp");
    let (cpu, gpu) = (train_2000_digits("mlp", "cpu", &s.0), train_2000_digits("mlp", "gpu", &s.0));
    let accuracy = |r: &serde_json::Value| r["test_accuracy"].as_f64().unwrap();
    assert!(accuracy(&cpu) > 0.8, "{cpu}");
    assert!((accuracy(&cpu) - accuracy(&gpu)).abs() <= 0.005, "CPU {} vs GPU {}", accuracy(&cpu), accuracy(&gpu));
    let loss = |r: &serde_json::Value| r["train_loss"].as_f64().unwrap();
    assert!(
        (loss(&cpu) - loss(&gpu)).abs() <= 1e-3 * loss(&cpu),
        "train loss CPU {} vs GPU {}",
        loss(&cpu),
        loss(&gpu)
    );
}

/// Prediction on the device over more than one of its batches (the last one ragged) gives
/// `Model::predict`'s probabilities within 1e-4, and evaluation the CPU's accuracy, predicted
/// classes and mean loss (within 1e-4 of it).
#[test]
fn prediction_and_evaluation_on_the_gpu_match_the_cpu() {
    let n = GpuPredictor::BATCH + 37;
    let mut spec = ModelSpec::mlp(19, &[13, 7], 5, Activation::Tanh, Loss::SoftmaxCrossEntropy);
    spec.layers.insert(3, nabla::nn::LayerSpec::activation(Activation::Relu).into());
    let mut model = Model::new(spec, &mut Rng::seed(5)).unwrap();
    let x = randn(9, &[n, 19]);
    let mut predictor = GpuPredictor::new(Gpu::new().unwrap(), &model).unwrap();
    let want = model.predict(&x);
    assert_close(&predictor.predict(&x), &want, "predict");
    let labels: Vec<usize> =
        want.argmax_rows().iter().enumerate().map(|(i, &c)| if i % 3 == 0 { (c + 1) % 5 } else { c }).collect();
    let data = Dataset::from_labels(x, labels, 5).unwrap();
    let cpu = evaluate(&mut model, &data, 1000);
    let (gpu, predicted) = predictor.evaluate(&data).unwrap();
    assert_eq!(predicted, Some(want.argmax_rows()));
    assert_eq!(gpu.accuracy, cpu.accuracy);
    assert!((gpu.loss - cpu.loss).abs() <= 1e-4 * cpu.loss, "loss GPU {} vs CPU {}", gpu.loss, cpu.loss);
}

/// `eval` and `predict` with `--device gpu` give the CPU's figures for a trained MLP (eval: the
/// same accuracy, loss within 1e-4; predict: probabilities within 1e-4); what the GPU cannot do
/// yet (an ensemble, MC dropout) is refused by name, and `--device auto` does it on the CPU.
#[test]
fn eval_and_predict_on_the_gpu_give_the_cpu_figures() {
    let s = Scratch::new("gpu-eval");
    let data = mnist();
    let args = ["train", "--data", &data, "--hidden", "32", "--epochs", "1", "--limit-train", "500", "--out", "m"];
    nabla_ok(&args, &s.0);
    let eval = |device: &str| {
        last_json(&nabla_ok(&["eval", "--weights", "m", "--data", &data, "--json", "--device", device], &s.0))
    };
    let (cpu, gpu) = (eval("cpu"), eval("gpu"));
    assert!(cpu["test_accuracy"].as_f64().unwrap() > 0.3, "{cpu}");
    assert_eq!(cpu["test_accuracy"], gpu["test_accuracy"]);
    let loss = |r: &serde_json::Value| r["test_loss"].as_f64().unwrap();
    assert!((loss(&cpu) - loss(&gpu)).abs() <= 1e-4 * loss(&cpu), "CPU {cpu} vs GPU {gpu}");
    let pixels: Vec<u8> = (0..784u32).map(|i| ((i * 37) % 256) as u8).collect();
    write_gray_png(&s.0.join("x.png"), &pixels, 28, 28);
    let predict = |device: &str| {
        last_json(&nabla_ok(&["predict", "--weights", "m", "x.png", "--json", "--device", device], &s.0))
    };
    let (cpu, gpu) = (predict("cpu"), predict("gpu"));
    assert_eq!(cpu["class"], gpu["class"]);
    let probabilities = |r: &serde_json::Value| -> Vec<f64> {
        r["probabilities"].as_array().unwrap().iter().map(|p| p.as_f64().unwrap()).collect()
    };
    for (c, g) in probabilities(&cpu).iter().zip(probabilities(&gpu)) {
        assert!((c - g).abs() <= 1e-4, "CPU {cpu} vs GPU {gpu}");
    }
    let ensemble = ["eval", "--weights", "m,m", "--data", &data, "--device", "gpu"];
    assert_clean_failure(&nabla(&ensemble, &s.0), &["--device gpu: an ensemble (several --weights)", "--device cpu"]);
    let mc = ["predict", "--weights", "m", "x.png", "--mc-samples", "2", "--device", "gpu"];
    assert_clean_failure(&nabla(&mc, &s.0), &["MC dropout (--mc-samples)"]);
    let auto = nabla_ok(&["eval", "--weights", "m,m", "--data", &data, "--device", "auto"], &s.0);
    assert!(String::from_utf8_lossy(&auto.stderr).contains("--device auto: running on the CPU"));
}
