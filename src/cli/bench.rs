//! `nabla bench`: the speed figures that are compared with PyTorch's reference script
//! (`../shared/peers/torch_ref.py`), measured the same way: GEMM GFLOP/s, one MLP training epoch
//! in samples/s, and per-step throughput at tiny batches where framework overhead dominates.

use super::source::{self, DataArgs};
use super::train::json_f32;
use clap::{Args, ValueEnum};
use nabla::loss::Loss;
use nabla::nn::{Model, ModelSpec};
use nabla::ops::Activation;
use nabla::optim::schedule::Constant;
use nabla::optim::{Optimizer, Sgd};
use nabla::rng::Rng;
use nabla::train::{Quiet, Sets, TrainConfig, Trainer};
use nabla::{Error, Result};
use std::time::Instant;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum What {
    /// GEMM GFLOP/s at n = 64, 256, 1024 (or --sizes).
    Matmul,
    /// One training epoch of an MLP 784-512-512-10 (ReLU, SGD η 0.1, batch 128) on MNIST.
    Mlp,
    /// Training steps per second at --batch (SGD η 0.05, momentum 0.9), as torch_ref.py steps.
    Steps,
}

#[derive(Args, Debug)]
pub struct BenchArgs {
    /// What to measure.
    #[arg(value_enum)]
    pub what: What,
    /// Matrix sizes for `matmul`.
    #[arg(long, default_value = "64,256,1024")]
    pub sizes: String,
    /// Batch size for `mlp` (default 128) and `steps` (default 1).
    #[arg(long)]
    pub batch: Option<usize>,
    /// Epochs for `mlp`.
    #[arg(long, default_value_t = 1)]
    pub epochs: usize,
    /// Steps for `steps`.
    #[arg(long, default_value_t = 2000)]
    pub steps: usize,
}

pub fn run(args: BenchArgs) -> Result<()> {
    let out = match args.what {
        What::Matmul => matmul(&args.sizes)?,
        What::Mlp => mlp(args.batch.unwrap_or(128), args.epochs)?,
        What::Steps => steps(args.batch.unwrap_or(1), args.steps)?,
    };
    println!("{out}");
    Ok(())
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

fn matmul(sizes: &str) -> Result<serde_json::Value> {
    let mut out = serde_json::Map::new();
    let mut rng = Rng::seed(0);
    for s in sizes.split(',') {
        let n: usize = s.trim().parse().map_err(|_| Error::config(format!("--sizes: '{s}' is not a number")))?;
        let (a, b) = (rng.normal_tensor(&[n, n], 1.0), rng.normal_tensor(&[n, n], 1.0));
        let flops = 2.0 * (n as f64).powi(3);
        let reps = (2e9 / flops).max(1.0) as usize;
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

/// The benchmark MLP 784-512-512-10 (ReLU) on MNIST, with an SGD trainer at constant η.
fn mnist_mlp(batch: usize, epochs: usize, eta: f32, momentum: f32) -> Result<(Trainer, source::Source)> {
    let args = DataArgs { data: "mnist".into(), target: None, regression: false, test_split: 0.2 };
    let data = source::load(&args, 0, None)?;
    let spec = ModelSpec::mlp(784, &[512, 512], 10, Activation::Relu, Loss::SoftmaxCrossEntropy);
    let model = Model::new(spec, &mut Rng::seed(0))?;
    let optimizer = Optimizer::new(Sgd { momentum, nesterov: false }, eta);
    let config = TrainConfig { epochs, batch_size: batch, seed: 0, ..Default::default() };
    Ok((Trainer::new(model, optimizer, Box::new(Constant::new(eta)), config), data))
}

fn mlp(batch: usize, epochs: usize) -> Result<serde_json::Value> {
    let (mut trainer, data) = mnist_mlp(batch, epochs.max(1), 0.1, 0.0)?;
    let sets = Sets { train: &data.train, val: None, test: Some(&data.test) };
    trainer.run(sets, &mut Quiet, &mut |_| Ok(()))?;
    let reports = &trainer.history;
    let seconds: Vec<f64> = reports.iter().map(|r| (r.seconds * 1000.0).round() / 1000.0).collect();
    let med = median(seconds.clone());
    Ok(serde_json::json!({
        "what": "mlp", "batch": batch, "seconds_per_epoch": seconds, "median_seconds_per_epoch": med,
        "samples_per_second": (data.train.len() as f64 / med).round(),
        "train_loss": reports.iter().map(|r| json_f32(r.train_loss)).collect::<Vec<_>>(),
        "test_accuracy": reports.iter().map(|r| r.test_accuracy.map(json_f32)).collect::<Vec<_>>(),
    }))
}

fn steps(batch: usize, steps: usize) -> Result<serde_json::Value> {
    // as torch_ref.py: SGD η 0.05 with momentum 0.9 on consecutive slices of the training set
    let (mut trainer, data) = mnist_mlp(batch, 1, 0.05, 0.9)?;
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
