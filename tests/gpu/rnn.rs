//! The GPU's recurrent layers (cargo feature `gpu`, gpu/recurrent.rs) against the CPU ops they
//! stand for (ops/rnn.rs, ops/lstm.rs, ops/gru.rs through nn/rnn.rs, nn/lstm.rs, nn/gru.rs and
//! nn/stacked.rs), forward and backward: outputs, the input's gradient and every weight's, on
//! odd and prime sizes (batch 3, H 5 and 7, T 4 to 7) whose value counts are not multiples of the
//! 256-thread workgroups; then one training step of lstm-rows, gru-rows and bilstm-rows on both
//! devices, and lstm-rows on 2,000 digits. CI runs these on Mesa's software Vulkan driver.
//!
//! Tolerance: each compared tensor is held to 1e-4 of its largest value on the CPU
//! (|gpu − cpu| ≤ 1e-4 · max|cpu|). Both devices compute the same formulas with the same
//! rational tanh (the shaders port `tanh_rational`), so they differ only in the order of the
//! sums inside the GEMMs (x·W over F ≤ 10 terms, h·U over H ≤ 7, the weight gradients over T·m ≤
//! 21 rows) and in FMA contraction, a few ulp (~1e-7 relative) per step; through T ≤ 7 steps of
//! contractive gates (σ′ ≤ ¼, tanh′ ≤ 1, f < 1) those errors add up rather than grow. The worst
//! error measured on lavapipe is 6.4e-7 of the largest value (the bidirectional stacked LSTM),
//! so 1e-4 leaves room for other drivers' rounding, and a test below shows that the check
//! catches a weight off by 1e-2.

use crate::common::{Scratch, train_2000_digits};
use crate::harness::{assert_same_weights, digits, gpu, randn, zoo};
use nabla::gpu::{Gpu, GpuRecurrent, GpuTensor};
use nabla::nn::{Model, ModelSpec, Module};
use nabla::optim::{Optimizer, Sgd, schedule::Constant};
use nabla::rng::Rng;
use nabla::train::{Quiet, Sets, TrainConfig, Trainer};
use nabla::{Tensor, Var};

/// A model of the one recurrent layer `layer` (TOML) over inputs T × F, its weights drawn
/// N(0, ½) (biases too, so that every bias is exercised).
fn one_layer(layer: &str, (steps, f): (usize, usize), seed: u64) -> Model {
    let spec =
        format!("name = \"one\"\ninput = [{steps}, {f}]\nloss = \"softmax-cross-entropy\"\nlayers = [ {{ {layer} }} ]");
    let spec: ModelSpec = toml::from_str(&spec).unwrap_or_else(|e| panic!("{layer}: {e}"));
    let mut model = Model::new(spec, &mut Rng::seed(seed)).unwrap();
    let mut rng = Rng::seed(seed + 1);
    for (_, p) in model.params_mut() {
        let shape = p.value().shape().to_vec();
        *p.value_mut() = rng.normal_tensor(&shape, 0.5);
    }
    model
}

/// What a layer gives for x and a δ on each device: the output, ∂x, and each weight's gradient.
struct Run {
    y: Tensor,
    dx: Tensor,
    grads: Vec<Tensor>,
}

/// The CPU's forward pass of `model` on x and the gradients of Σ δ ⊙ y.
fn on_cpu(model: &Model, x: &Tensor, delta: &Tensor) -> Run {
    let vx = Var::leaf(x.clone());
    let y = model.forward(&vx);
    let grads = y.mul(&Var::constant(delta.clone())).sum().backward();
    let weights = model.params().iter().map(|(_, p)| grads.get_param(p).unwrap().clone()).collect();
    Run { y: y.value().clone(), dx: grads.get(&vx).unwrap().clone(), grads: weights }
}

/// The same on the GPU, from `weights` (the model's, or others for the test of the check).
fn on_gpu(model: &Model, weights: &[Tensor], x: &Tensor, delta: &Tensor) -> Run {
    let gpu = gpu();
    let m = x.shape()[0];
    let layer = &model.spec().layers[0].spec;
    let weights: Vec<&Tensor> = weights.iter().collect();
    let net = GpuRecurrent::new(gpu, layer, &model.spec().input, &weights, m).unwrap();
    let (gx, gd) = (GpuTensor::upload(gpu, x), GpuTensor::upload(gpu, delta));
    let (y, dx) = (GpuTensor::zeros(gpu, delta.shape()), GpuTensor::zeros(gpu, x.shape()));
    net.forward(gpu, m, gx.buffer(), y.buffer(), None);
    net.backward(gpu, m, gd.buffer(), Some(dx.buffer()));
    Run { y: y.download(gpu), dx: dx.download(gpu), grads: net.gradients(gpu) }
}

/// The largest |gpu − cpu| relative to max|cpu| over one tensor, or what is out of 1e-4.
fn relative_error(got: &Tensor, want: &Tensor, what: &str) -> Result<f32, String> {
    if got.shape() != want.shape() {
        return Err(format!("{what}: shapes GPU {:?}, CPU {:?}", got.shape(), want.shape()));
    }
    let scale = want.data().iter().fold(0.0f32, |m, v| m.max(v.abs())).max(f32::MIN_POSITIVE);
    let mut worst = 0.0f32;
    for (i, (&g, &w)) in got.data().iter().zip(want.data()).enumerate() {
        let e = (g - w).abs() / scale;
        if e > 1e-4 || e.is_nan() {
            return Err(format!("{what}: value {i}: GPU {g}, CPU {w}, max|CPU| {scale}"));
        }
        worst = worst.max(e);
    }
    Ok(worst)
}

/// Compares the two devices' runs of `model`: its output, ∂x and every weight's gradient.
/// Returns the worst relative error.
fn compare(model: &Model, weights: &[Tensor], (m, seed): (usize, u64)) -> Result<f32, String> {
    let input = &model.spec().input;
    let x = randn(seed, &[m, input[0], input[1]]);
    let out: Vec<usize> = std::iter::once(m).chain(model.spec().shapes().unwrap().last().unwrap().clone()).collect();
    let delta = randn(seed + 1, &out);
    let (cpu, gpu) = (on_cpu(model, &x, &delta), on_gpu(model, weights, &x, &delta));
    let mut worst = relative_error(&gpu.y, &cpu.y, "output")?.max(relative_error(&gpu.dx, &cpu.dx, "∂x")?);
    for ((name, _), (g, c)) in model.params().iter().zip(gpu.grads.iter().zip(&cpu.grads)) {
        worst = worst.max(relative_error(g, c, name)?);
    }
    Ok(worst)
}

/// Each cell alone and stacked, one way and both ways, last state and every state.
const LAYERS: [(&str, (usize, usize)); 9] = [
    ("type = \"rnn\", hidden = 5", (4, 3)),
    ("type = \"rnn\", hidden = 7, sequence = true", (6, 2)),
    ("type = \"lstm\", hidden = 7", (5, 3)),
    ("type = \"lstm\", hidden = 5, sequence = true", (4, 10)),
    ("type = \"gru\", hidden = 5", (7, 3)),
    ("type = \"gru\", hidden = 7, sequence = true", (4, 2)),
    ("type = \"lstm\", hidden = 5, layers = 3", (4, 3)),
    ("type = \"lstm\", hidden = 7, layers = 2, bidirectional = true, sequence = true", (5, 3)),
    ("type = \"gru\", hidden = 5, layers = 2, bidirectional = true", (6, 3)),
];

#[test]
fn recurrent_layers_forward_and_backward_match_the_cpu_ops() {
    for (i, (layer, input)) in LAYERS.iter().enumerate() {
        let model = one_layer(layer, *input, 10 * i as u64);
        let weights: Vec<Tensor> = model.params().iter().map(|(_, p)| p.value().clone()).collect();
        let worst = compare(&model, &weights, (3, 7 + i as u64)).unwrap_or_else(|e| panic!("{layer}: {e}"));
        eprintln!("{layer}: worst relative error {worst:.1e}");
    }
}

/// The check above is not blind: one recurrent weight off by 1e-2 (a change of the outputs of
/// ~1e-3 of their size, ten times the tolerance) on the GPU is caught, in each cell.
#[test]
fn a_weight_off_by_a_hundredth_is_caught() {
    for (layer, input) in [LAYERS[0], LAYERS[2], LAYERS[4]] {
        let model = one_layer(layer, input, 1);
        let mut weights: Vec<Tensor> = model.params().iter().map(|(_, p)| p.value().clone()).collect();
        let mut u = weights[1].data().to_vec();
        u[3] += 1e-2;
        weights[1] = Tensor::from_vec(u, weights[1].shape());
        assert!(compare(&model, &weights, (3, 2)).is_err(), "{layer}: a wrong U passed");
    }
}

/// One step of `model` (the whole set of 16 as one batch, SGD with momentum) on both devices:
/// the same loss and weights, within 1e-4 of the loss and of the largest weight.
#[test]
fn a_step_of_lstm_gru_and_bilstm_rows_agrees_on_both_devices() {
    let data = digits(16);
    let sets = Sets { train: &data, val: None, test: None };
    let trainer = |name: &str| {
        let model = Model::new(zoo(name), &mut Rng::seed(5)).unwrap();
        let config = TrainConfig { epochs: 1, batch_size: 16, seed: 3, ..Default::default() };
        let optimizer = Optimizer::new(Sgd { momentum: 0.9, nesterov: false }, 0.05);
        Trainer::new(model, optimizer, Box::new(Constant::new()), config)
    };
    for name in ["lstm-rows", "gru-rows", "bilstm-rows"] {
        let mut cpu = trainer(name);
        let mut on_gpu = trainer(name);
        on_gpu.to_gpu(Gpu::new().unwrap()).unwrap();
        cpu.run(sets, &mut Quiet, &mut |_| Ok(())).unwrap();
        on_gpu.run(sets, &mut Quiet, &mut |_| Ok(())).unwrap();
        let (c, g) = (cpu.history[0].train_loss, on_gpu.history[0].train_loss);
        assert!((c - g).abs() <= 1e-4 * c, "{name}: loss CPU {c}, GPU {g}");
        assert_same_weights(name, &cpu, &on_gpu);
    }
}

/// lstm-rows on 2,000 digits for one epoch (its spec's Adam and cosine schedule, seed 4) ends
/// within 0.5% test accuracy on both devices (11 s on lavapipe with the software driver's GEMM).
#[test]
fn lstm_rows_on_2000_digits_trains_to_the_cpu_accuracy() {
    let s = Scratch::new("gpu-lstm-rows");
    let (cpu, gpu) = (train_2000_digits("lstm-rows", "cpu", &s.0), train_2000_digits("lstm-rows", "gpu", &s.0));
    let accuracy = |r: &serde_json::Value| r["test_accuracy"].as_f64().unwrap();
    assert!(accuracy(&cpu) > 0.5, "{cpu}");
    assert!((accuracy(&cpu) - accuracy(&gpu)).abs() <= 0.005, "CPU {} vs GPU {}", accuracy(&cpu), accuracy(&gpu));
}

/// Dropout between stacked layers draws its masks from the step's seed: the same seed gives the
/// same outputs and gradients bit for bit, another seed other outputs, and test mode (no seed)
/// other outputs again. (Its masks are the GPU's own, not the CPU's, so no CPU reference.)
#[test]
fn dropout_between_layers_is_fixed_by_the_seed() {
    let gpu = gpu();
    let model = one_layer("type = \"gru\", hidden = 5, layers = 2, dropout = 0.5", (4, 3), 3);
    let weights: Vec<Tensor> = model.params().iter().map(|(_, p)| p.value().clone()).collect();
    let weights: Vec<&Tensor> = weights.iter().collect();
    let net = GpuRecurrent::new(gpu, &model.spec().layers[0].spec, &model.spec().input, &weights, 3).unwrap();
    let (x, delta) = (GpuTensor::upload(gpu, &randn(1, &[3, 4, 3])), GpuTensor::upload(gpu, &randn(2, &[3, 5])));
    let run = |seed: Option<u64>| {
        let y = GpuTensor::zeros(gpu, &[3, 5]);
        net.forward(gpu, 3, x.buffer(), y.buffer(), seed);
        net.backward(gpu, 3, delta.buffer(), None);
        (
            y.download(gpu).data().to_vec(),
            net.gradients(gpu).iter().flat_map(|g| g.data().to_vec()).collect::<Vec<f32>>(),
        )
    };
    let (a, b, c, test) = (run(Some(7)), run(Some(7)), run(Some(8)), run(None));
    assert!(a == b, "one seed, two results");
    assert!(a.1.iter().all(|g| g.is_finite()));
    assert_ne!(a.0, c.0, "another seed, the same masks");
    assert_ne!(a.0, test.0, "training and test mode agree");
}
