//! `nabla bench`: the speed figures that are compared with PyTorch's reference script
//! (`../shared/peers/torch_ref.py`), measured the same way: GEMM GFLOP/s, one MLP training epoch
//! in samples/s, and per-step throughput at tiny batches where framework overhead dominates.
//! `--device gpu` times the GEMM kernel and the training epochs on the GPU instead.

use super::shared::device::DeviceArgs;
use super::shared::json::json_f32;
use super::shared::print::outln;
use super::shared::source::{self, DataArgs};
use super::training::place;
use clap::{Args, ValueEnum};
use nabla::gpu::Device;
use nabla::loss::Loss;
use nabla::nn::Activation;
use nabla::nn::{Model, ModelSpec};
use nabla::optim::schedule::Constant;
use nabla::optim::{self, Optimizer, Sgd};
use nabla::rng::Rng;
use nabla::train::{Quiet, Sets, TrainConfig, Trainer};
use nabla::{Error, Result, Tensor, Var};
use std::time::Instant;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum What {
    /// GEMM GFLOP/s at n = 64, 256, 1024 (with --device gpu: 1024, 4096), or --sizes.
    Matmul,
    /// One training epoch of an MLP 784-512-512-10 (ReLU, SGD η 0.1, batch 128) on MNIST.
    Mlp,
    /// Training steps per second at --batch (SGD η 0.05, momentum 0.9), as torch_ref.py steps.
    Steps,
    /// conv2d forward + backward GFLOP/s: LeNet's C1 and C3 at batch 64, and 64 → 64 channels,
    /// 3×3, 56×56 at batch 32 (with --device gpu: C1 and C3, ms by each GPU kernel).
    Conv,
    /// One training epoch of lenet5-modern (SGD η 0.05, momentum 0.9, batch 64, as torch_ref.py
    /// lenet) and of the faithful lenet5 (the same, η from its spec), in seconds and samples/s.
    Lenet,
    /// One training epoch of lstm-rows (an LSTM over the 28 rows of each digit; Adam η 0.001,
    /// batch 128, as scripts/torch_lstm.py), in seconds and samples/s.
    Lstm,
    /// The same for gru-rows (a GRU in the LSTM's place; scripts/torch_lstm.py --cell gru).
    Gru,
}

#[derive(Args, Debug)]
pub struct BenchArgs {
    /// What to measure.
    #[arg(value_enum)]
    pub what: What,
    /// Matrix sizes for `matmul` (default 64,256,1024; on the GPU 1024,4096).
    #[arg(long)]
    pub sizes: Option<String>,
    /// Batch size for `mlp`, `lstm` and `gru` (default 128), `steps` (default 1) and `lenet` (default 64).
    #[arg(long)]
    pub batch: Option<usize>,
    /// Epochs for `mlp`, `lenet`, `lstm` and `gru`.
    #[arg(long, default_value_t = 1)]
    pub epochs: usize,
    /// Steps for `steps`.
    #[arg(long, default_value_t = 2000)]
    pub steps: usize,
    // `matmul`, `conv`, `mlp`, `lenet`, `lstm` and `gru` run on the GPU too
    #[command(flatten)]
    pub device: DeviceArgs,
}

pub fn run(args: BenchArgs) -> Result<()> {
    let counts = [("--batch", args.batch.unwrap_or(1)), ("--epochs", args.epochs), ("--steps", args.steps)];
    if let Some((flag, _)) = counts.iter().find(|(_, n)| *n == 0) {
        return Err(Error::config(format!("{flag} 0: expected at least 1")));
    }
    let device = args.device.device.as_deref();
    let chosen = Device::from_flag_or_env(device)?;
    if chosen == Device::Gpu && args.what == What::Steps {
        return Err(Error::config(
            "--device gpu: `bench steps` runs on the CPU only so far (on the GPU: matmul, conv, mlp, lenet, lstm, gru)",
        ));
    }
    let on_cpu = chosen == Device::Cpu;
    let out = match args.what {
        What::Matmul if !on_cpu => gpu_matmul(args.sizes.as_deref().unwrap_or("1024,4096"), device)?,
        What::Matmul => matmul(args.sizes.as_deref().unwrap_or("64,256,1024"))?,
        What::Mlp => mlp(args.batch.unwrap_or(128), args.epochs, device)?,
        What::Steps => steps(args.batch.unwrap_or(1), args.steps)?,
        What::Conv if !on_cpu => gpu_conv(device)?,
        What::Conv => conv()?,
        What::Lenet => lenet(args.batch.unwrap_or(64), args.epochs, device)?,
        What::Lstm => {
            let batch = args.batch.unwrap_or(128);
            let adam = optim::by_name("adam", 0.001, None, false)?;
            let lstm = zoo_epochs("lstm-rows", adam, (0.001, batch, args.epochs), device)?;
            serde_json::json!({ "what": "lstm", "batch": batch, "models": { "lstm-rows": lstm } })
        }
        What::Gru => {
            let batch = args.batch.unwrap_or(128);
            let adam = optim::by_name("adam", 0.001, None, false)?;
            let gru = zoo_epochs("gru-rows", adam, (0.001, batch, args.epochs), device)?;
            serde_json::json!({ "what": "gru", "batch": batch, "models": { "gru-rows": gru } })
        }
    };
    outln!("{out}");
    Ok(())
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

/// The matrix sizes of `--sizes`.
fn parse_sizes(sizes: &str) -> Result<Vec<usize>> {
    sizes
        .split(',')
        .map(|s| match s.trim().parse() {
            Ok(n) if n > 0 => Ok(n),
            _ => Err(Error::config(format!("--sizes: '{s}' is not a positive matrix size"))),
        })
        .collect()
}

fn matmul(sizes: &str) -> Result<serde_json::Value> {
    let mut out = serde_json::Map::new();
    let mut rng = Rng::seed(0);
    for n in parse_sizes(sizes)? {
        let (a, b) = (rng.normal_tensor(&[n, n], 1.0), rng.normal_tensor(&[n, n], 1.0));
        let flops = 2.0 * (n as f64).powi(3);
        let reps = (2e9 / flops).max(1.0) as usize;
        // Warm up for a quarter of a second first: on this VM both cores run slow for the first
        // ~100 ms of work after idling (measured: 1024³ products at ~200 GFLOP/s, then ~320), so
        // that only the steady state is timed.
        let warm = Instant::now();
        while warm.elapsed().as_secs_f64() < 0.25 {
            std::hint::black_box(a.matmul(&b));
        }
        let times: Vec<f64> = (0..15)
            .map(|_| {
                let t0 = Instant::now();
                for _ in 0..reps {
                    std::hint::black_box(a.matmul(&b));
                }
                t0.elapsed().as_secs_f64() / reps as f64
            })
            .collect();
        out.insert(n.to_string(), serde_json::json!((flops / median(times) / 1e8).round() / 10.0));
    }
    Ok(serde_json::json!({ "what": "matmul", "gflops": out }))
}

/// GEMM GFLOP/s of the GPU's kernel ([`nabla::gpu::bench::gemm_seconds`]: the queue drained
/// around each timing, the pipeline compile and uploads outside it); `--device auto` without a
/// GPU measures the CPU's.
#[cfg(feature = "gpu")]
fn gpu_matmul(sizes: &str, device: Option<&str>) -> Result<serde_json::Value> {
    use nabla::gpu::kernels::GemmKernel;
    let sizes = parse_sizes(sizes)?;
    let gpu = match nabla::gpu::Gpu::new() {
        Ok(gpu) => gpu,
        Err(e) if Device::from_flag_or_env(device)? == Device::Auto => {
            super::shared::print::errln!("--device auto: measuring the CPU: {e}");
            let sizes: Vec<String> = sizes.iter().map(usize::to_string).collect();
            return matmul(&sizes.join(","));
        }
        Err(e) => return Err(e),
    };
    // the kernel `gemm` picks at each size, and a GPU's choice beside it (the same on a GPU; the
    // tiled kernel on a software driver, which picks the barrier-free one)
    let (mut picked, mut tiled) = (serde_json::Map::new(), serde_json::Map::new());
    for n in sizes {
        let flops = 2.0 * (n as f64).powi(3);
        let gflops = |kernel| {
            let seconds = nabla::gpu::bench::gemm_seconds(&gpu, kernel, n, 0);
            serde_json::json!((flops / seconds / 1e8).round() / 10.0)
        };
        let (kernel, gpu_kernel) = (GemmKernel::pick(&gpu, n, n), GemmKernel::for_size(n, n));
        picked.insert(n.to_string(), gflops(kernel));
        tiled.insert(
            n.to_string(),
            if kernel == gpu_kernel { picked[&n.to_string()].clone() } else { gflops(gpu_kernel) },
        );
    }
    Ok(serde_json::json!({ "what": "matmul", "device": gpu.name(), "gflops": picked, "gflops_tiled": tiled }))
}

/// LeNet's C1 and C3 (batch 64) forward and backward on the GPU by each convolution kernel, in
/// ms ([`nabla::gpu::bench::conv_seconds`]), and which one the training picks; `--device auto`
/// without a GPU measures the CPU's.
#[cfg(feature = "gpu")]
fn gpu_conv(device: Option<&str>) -> Result<serde_json::Value> {
    use nabla::gpu::kernels::{ConvKernel, ConvShape};
    let gpu = match nabla::gpu::Gpu::new() {
        Ok(gpu) => gpu,
        Err(e) if Device::from_flag_or_env(device)? == Device::Auto => {
            super::shared::print::errln!("--device auto: measuring the CPU: {e}");
            return conv();
        }
        Err(e) => return Err(e),
    };
    let lenet = |c, h, o, pad| ConvShape { n: 64, c, h, w: h, o, kernel: (5, 5), stride: (1, 1), padding: (pad, pad) };
    let mut out = Vec::new();
    for (name, shape) in [("lenet-c1", lenet(1, 28, 6, 2)), ("lenet-c3", lenet(6, 14, 16, 0))] {
        let ms = |kernel| {
            serde_json::json!((nabla::gpu::bench::conv_seconds(&gpu, kernel, &shape, 0) * 1e5).round() / 100.0)
        };
        out.push(serde_json::json!({
            "layer": name, "input": [shape.n, shape.c, shape.h, shape.w], "weight": [shape.o, shape.c, 5, 5],
            "padding": shape.padding.0, "picked": format!("{:?}", ConvKernel::for_shape(&shape)).to_lowercase(),
            "ms_forward_backward": { "direct": ms(ConvKernel::Direct), "im2col": ms(ConvKernel::Im2col) },
        }));
    }
    Ok(serde_json::json!({ "what": "conv", "device": gpu.name(), "layers": out }))
}

/// Without the feature: `--device gpu` says how to get it; `auto` measures the CPU.
#[cfg(not(feature = "gpu"))]
fn gpu_conv(device: Option<&str>) -> Result<serde_json::Value> {
    match Device::from_flag_or_env(device)? {
        Device::Gpu => Err(nabla::gpu::device::not_built()),
        _ => conv(),
    }
}

/// Without the feature: `--device gpu` says how to get it; `auto` measures the CPU.
#[cfg(not(feature = "gpu"))]
fn gpu_matmul(sizes: &str, device: Option<&str>) -> Result<serde_json::Value> {
    match Device::from_flag_or_env(device)? {
        Device::Gpu => Err(nabla::gpu::device::not_built()),
        _ => matmul(sizes),
    }
}

/// The benchmark MLP 784-512-512-10 (ReLU) on MNIST, with an SGD trainer at constant η.
fn mnist_mlp(batch: usize, epochs: usize, eta: f32, momentum: f32) -> Result<(Trainer, source::Source)> {
    let args = DataArgs::mnist("mnist");
    let data = source::load(&args, 0, None, None)?;
    let spec = ModelSpec::mlp(784, &[512, 512], 10, Activation::Relu, Loss::SoftmaxCrossEntropy);
    let model = Model::new(spec, &mut Rng::seed(0))?;
    let optimizer = Optimizer::new(Sgd { momentum, nesterov: false }, eta);
    let config = TrainConfig { epochs, batch_size: batch, seed: 0, ..Default::default() };
    Ok((Trainer::new(model, optimizer, Box::new(Constant::new()), config), data))
}

fn mlp(batch: usize, epochs: usize, device: Option<&str>) -> Result<serde_json::Value> {
    let (mut trainer, data) = mnist_mlp(batch, epochs, 0.1, 0.0)?;
    place(&mut trainer, device)?;
    let mut out = run_epochs(&mut trainer, &data)?;
    out.insert("what".into(), "mlp".into());
    out.insert("batch".into(), batch.into());
    Ok(out.into())
}

/// Runs the trainer's epochs on `data` and reports the figures that vs-torch.sh compares:
/// seconds per epoch (training only) and their median, samples/s, losses and test accuracies.
fn run_epochs(trainer: &mut Trainer, data: &source::Source) -> Result<serde_json::Map<String, serde_json::Value>> {
    let sets = Sets { train: &data.train, val: None, test: Some(&data.test) };
    trainer.run(sets, &mut Quiet, &mut |_| Ok(()))?;
    let reports = &trainer.history;
    let seconds: Vec<f64> = reports.iter().map(|r| (r.seconds * 1000.0).round() / 1000.0).collect();
    let med = median(seconds.clone());
    Ok(serde_json::Map::from_iter([
        ("device".to_string(), serde_json::json!(trainer.device_name().unwrap_or_else(|| "cpu".into()))),
        ("seconds_per_epoch".to_string(), serde_json::json!(seconds)),
        ("median_seconds_per_epoch".to_string(), serde_json::json!(med)),
        ("samples_per_second".to_string(), serde_json::json!((data.train.len() as f64 / med).round())),
        ("train_loss".to_string(), reports.iter().map(|r| json_f32(r.train_loss)).collect()),
        ("test_accuracy".to_string(), reports.iter().map(|r| r.test_accuracy.map(json_f32)).collect()),
    ]))
}

fn steps(batch: usize, steps: usize) -> Result<serde_json::Value> {
    // as torch_ref.py: SGD η 0.05 with momentum 0.9 on consecutive slices of the training set
    let (mut trainer, data) = mnist_mlp(batch, 1, 0.05, 0.9)?;
    if batch >= data.train.len() {
        return Err(Error::config(format!(
            "--batch {batch}: expected fewer than the {} training images",
            data.train.len()
        )));
    }
    let n = data.train.len() - batch;
    let mut step = |k: usize| {
        let start = (k * batch) % n;
        let rows: Vec<usize> = (start..start + batch).collect();
        trainer.step(&data.train, &rows, 0);
    };
    (0..50).for_each(&mut step);
    let t0 = Instant::now();
    (0..steps).for_each(&mut step);
    let dt = t0.elapsed().as_secs_f64();
    Ok(serde_json::json!({
        "what": "steps", "batch": batch,
        "steps_per_second": (steps as f64 / dt * 10.0).round() / 10.0,
        "us_per_step": (1e6 * dt / steps as f64 * 10.0).round() / 10.0,
    }))
}

/// conv2d forward + backward, GFLOP/s. Every operand is a leaf, so backward computes the input,
/// weight and bias gradients: 3 × 2·N·O·OH·OW·C·KH·KW floating-point operations in all (the
/// bias adds a negligible N·O·OH·OW).
fn conv() -> Result<serde_json::Value> {
    // (name, N, C, H, W, O, K, padding)
    let layers = [
        ("lenet-c1", 64, 1, 32, 32, 6, 5, 0),
        ("lenet-c3", 64, 6, 14, 14, 16, 5, 0),
        ("64x64-3x3-56x56", 32, 64, 56, 56, 64, 3, 1),
    ];
    let mut rng = Rng::seed(0);
    let mut out = Vec::new();
    for (name, n, c, h, w, o, k, pad) in layers {
        let x = Var::leaf(rng.normal_tensor(&[n, c, h, w], 1.0));
        let weight = Var::leaf(rng.normal_tensor(&[o, c, k, k], 0.1));
        let bias = Var::leaf(rng.normal_tensor(&[o], 0.1));
        let (oh, ow) = (h + 2 * pad - k + 1, w + 2 * pad - k + 1);
        let flops = 3.0 * 2.0 * (n * o * oh * ow * c * k * k) as f64;
        let reps = (2e9 / flops).clamp(1.0, 200.0) as usize;
        let pass = || {
            let y = x.conv2d(&weight, Some(&bias), (1, 1), (pad, pad));
            std::hint::black_box(y.backward_with(Tensor::ones(y.shape())));
        };
        pass();
        let times: Vec<f64> = (0..7)
            .map(|_| {
                let t0 = Instant::now();
                (0..reps).for_each(|_| pass());
                t0.elapsed().as_secs_f64() / reps as f64
            })
            .collect();
        let t = median(times);
        out.push(serde_json::json!({
            "layer": name, "input": [n, c, h, w], "weight": [o, c, k, k], "padding": pad,
            "ms_forward_backward": (t * 1e5).round() / 100.0, "gflops": (flops / t / 1e8).round() / 10.0,
        }));
    }
    Ok(serde_json::json!({ "what": "conv", "layers": out }))
}

/// One or more training epochs of the zoo's LeNets on MNIST (each with its own input mapping),
/// SGD with momentum 0.9 at constant η: 0.05 for lenet5-modern (as torch_ref.py lenet), the
/// spec's η for lenet5.
fn lenet(batch: usize, epochs: usize, device: Option<&str>) -> Result<serde_json::Value> {
    let mut out = serde_json::Map::new();
    for name in ["lenet5-modern", "lenet5"] {
        let spec = ModelSpec::zoo(name).expect("a zoo model");
        let eta = if name == "lenet5-modern" { 0.05 } else { spec.train.as_ref().and_then(|t| t.lr).unwrap_or(0.01) };
        let optimizer = Optimizer::new(Sgd { momentum: 0.9, nesterov: false }, eta);
        out.insert(name.into(), zoo_epochs(name, optimizer, (eta, batch, epochs), device)?);
    }
    Ok(serde_json::json!({ "what": "lenet", "batch": batch, "momentum": 0.9, "models": out }))
}

/// Training epochs of a zoo model on MNIST (with its own input mapping) at constant η: seconds
/// and samples/s per epoch, losses and test accuracies; on the device that `device` asks for.
fn zoo_epochs(
    name: &str,
    optimizer: Optimizer,
    (eta, batch, epochs): (f32, usize, usize),
    device: Option<&str>,
) -> Result<serde_json::Value> {
    let args = DataArgs::mnist("mnist");
    let spec = ModelSpec::zoo(name).expect("a zoo model");
    let norm = spec.input_map.map(source::Normalization::from_input_map);
    let data = source::load(&args, 0, None, norm.as_ref())?;
    let model = Model::new(spec, &mut Rng::seed(0))?;
    let config = TrainConfig { epochs, batch_size: batch, seed: 0, ..Default::default() };
    let mut trainer = Trainer::new(model, optimizer, Box::new(Constant::new()), config);
    place(&mut trainer, device)?;
    let mut out = run_epochs(&mut trainer, &data)?;
    out.insert("lr".into(), json_f32(eta));
    Ok(out.into())
}
