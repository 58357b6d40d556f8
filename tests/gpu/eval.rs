//! Evaluation on the GPU (`GpuPredictor::evaluate`, gpu/infer.rs) of the losses besides softmax
//! cross-entropy: least squares, with classes (accuracy) and without (a regression's MSE, MAE
//! and R²), and sigmoid cross-entropy, against the CPU's `evaluate`; then `nabla eval --device
//! gpu` against `--device cpu` for a least-squares MNIST model and a regression table.
//!
//! Tolerances: the mean loss and the regression figures to 1e-4 of their value (the same
//! formulas in f32 on both devices; the outputs differ by the GEMMs' summation order, a few ulp);
//! the accuracy exactly (the predicted classes are the same argmax of the same outputs unless
//! two logits tie within a few ulp, which these random nets do not have).

use crate::common::{Scratch, last_json, mnist, nabla_ok};
use crate::harness::randn;
use nabla::data::Dataset;
use nabla::gpu::{Gpu, GpuPredictor};
use nabla::loss::Loss;
use nabla::nn::{Activation, Model, ModelSpec};
use nabla::rng::Rng;
use nabla::train::evaluate;

/// |got − want| ≤ 1e-4·|want|, or a panic naming `what`.
#[track_caller]
fn assert_near(got: f32, want: f32, what: &str) {
    assert!((got - want).abs() <= 1e-4 * want.abs().max(f32::MIN_POSITIVE), "{what}: GPU {got}, CPU {want}");
}

/// Over more than one device batch (the last one ragged): each loss's mean and accuracy, and
/// a regression's metrics, are the CPU's.
#[test]
fn least_squares_and_sigmoid_cross_entropy_evaluate_as_on_the_cpu() {
    let n = GpuPredictor::BATCH + 37;
    let x = randn(9, &[n, 19]);
    let labels: Vec<usize> = (0..n).map(|i| (i * 7) % 5).collect();
    let classes = Dataset::from_labels(x.clone(), labels, 5).unwrap();
    let values = Dataset { targets: randn(10, &[n, 5]), labels: None, ..classes.clone() };
    for (loss, data, what) in [
        (Loss::LeastSquares, &classes, "least squares on classes"),
        (Loss::LeastSquares, &values, "least squares on values"),
        (Loss::SigmoidCrossEntropy, &classes, "sigmoid cross-entropy"),
    ] {
        let spec = ModelSpec::mlp(19, &[13, 7], 5, Activation::Tanh, loss);
        let mut model = Model::new(spec, &mut Rng::seed(5)).unwrap();
        let cpu = evaluate(&mut model, data, 1000);
        let mut predictor = GpuPredictor::new(Gpu::new().unwrap(), &model).unwrap();
        let (gpu, predicted) = predictor.evaluate(data).unwrap();
        assert_near(gpu.loss, cpu.loss, what);
        assert_eq!(gpu.accuracy, cpu.accuracy, "{what}");
        assert_eq!(predicted.map(|p| p.len()), Some(n), "{what}");
        assert_eq!(gpu.regression.is_some(), cpu.regression.is_some(), "{what}");
        if let (Some(g), Some(c)) = (gpu.regression, cpu.regression) {
            for (g, c, name) in [(g.mse, c.mse, "mse"), (g.mae, c.mae, "mae"), (g.r2, c.r2, "r2")] {
                assert_near(g, c, &format!("{what}: {name}"));
            }
        }
    }
}

/// `eval --device gpu` gives the CPU's figures for a least-squares MNIST model (loss, accuracy)
/// and a sigmoid one, and for a regression table (loss, MSE, MAE, R²).
#[test]
fn eval_on_the_gpu_gives_the_cpu_figures_for_every_loss() {
    let s = Scratch::new("gpu-eval-losses");
    let data = mnist();
    let mut csv = String::from("a,b,c,y\n");
    let x = randn(3, &[300, 3]);
    for r in x.data().chunks(3) {
        csv += &format!("{},{},{},{}\n", r[0], r[1], r[2], 2.0 * r[0] - r[1] + 0.5 * r[2] * r[2]);
    }
    std::fs::write(s.0.join("t.csv"), csv).unwrap();
    let runs: [(&[&str], &[&str], &str); 3] = [
        (&["--data", &data, "--loss", "mse", "--limit-train", "500"], &["--data", &data], "mse.safetensors"),
        (&["--data", &data, "--loss", "sigmoid-ce", "--limit-train", "500"], &["--data", &data], "bce.safetensors"),
        (
            &["--data", "t.csv", "--target", "y", "--regression"],
            &["--data", "t.csv", "--target", "y"],
            "table.safetensors",
        ),
    ];
    for (train, eval, weights) in runs {
        let mut args = vec!["train", "--hidden", "16", "--epochs", "1", "--out", weights];
        args.extend_from_slice(train);
        nabla_ok(&args, &s.0);
        let run = |device: &str| {
            let mut args = vec!["eval", "--weights", weights, "--json", "--device", device];
            args.extend_from_slice(eval);
            last_json(&nabla_ok(&args, &s.0))
        };
        let (cpu, gpu) = (run("cpu"), run("gpu"));
        assert_eq!(cpu["test_accuracy"], gpu["test_accuracy"], "{weights}: CPU {cpu} vs GPU {gpu}");
        for key in ["test_loss", "test_mse", "test_mae", "test_r2"] {
            match (cpu[key].as_f64(), gpu[key].as_f64()) {
                (Some(c), Some(g)) => assert_near(g as f32, c as f32, &format!("{weights}: {key}")),
                (c, g) => assert_eq!(c.is_some(), g.is_some(), "{weights}: {key}: CPU {cpu} vs GPU {gpu}"),
            }
        }
        assert!(cpu["test_loss"].as_f64().is_some(), "{cpu}");
    }
}
