//! End-to-end tests of the training features: resume, regularization, early stopping, schedules,
//! optimizers and compare, on small slices of the bundled MNIST.

use crate::common::*;
use std::path::Path;

/// A small, quick MLP run on `n` MNIST samples, with extra flags.
fn train(dir: &Path, n: &str, extra: &[&str]) -> serde_json::Value {
    let data = mnist();
    let base = ["train", "--data", &data, "--limit-train", n, "--hidden", "32", "--json"];
    last_json(&nabla_ok(&[&base[..], extra].concat(), dir))
}

#[test]
fn a_resumed_run_ends_with_the_same_weights_as_an_uninterrupted_one() {
    let s = Scratch::new("resume");
    let flags = ["--optimizer", "momentum", "--lr", "0.05", "--schedule", "step", "--patience", "1", "--seed", "9"];
    let full = train(&s.0, "1500", &[&flags[..], &["--epochs", "4", "--name", "full"]].concat());
    let part = train(&s.0, "1500", &[&flags[..], &["--epochs", "2", "--name", "part"]].concat());
    let dir = part["run_dir"].as_str().unwrap().to_string();
    let resumed = last_json(&nabla_ok(&["train", "--resume", &dir, "--epochs", "4", "--json"], &s.0));
    assert_eq!(resumed["epochs"], 4);
    let a = std::fs::read(s.0.join(full["weights"].as_str().unwrap())).unwrap();
    let b = std::fs::read(s.0.join(resumed["weights"].as_str().unwrap())).unwrap();
    assert!(a == b, "resumed weights differ from the uninterrupted run's");
    let metrics = std::fs::read_to_string(s.0.join(&dir).join("metrics.csv")).unwrap();
    assert_eq!(metrics.lines().count(), 5, "header and four epochs: {metrics}");
}

#[test]
fn l2_shrinks_the_weights_and_is_reported_apart_from_the_data_loss() {
    let s = Scratch::new("l2");
    let plain = train(&s.0, "2000", &["--epochs", "3", "--name", "plain"]);
    let l2 = train(&s.0, "2000", &["--epochs", "3", "--l2", "0.1", "--name", "l2"]);
    let (n0, n1) = (plain["weight_norm"].as_f64().unwrap(), l2["weight_norm"].as_f64().unwrap());
    assert!(n1 < 0.9 * n0, "L2 should shrink the weight norm: {n1} vs {n0}");
    assert_eq!(plain["penalty"], 0.0);
    assert!(l2["penalty"].as_f64().unwrap() > 0.0);
    let clipped = train(&s.0, "2000", &["--epochs", "3", "--clip", "0.5", "--max-norm", "1.0", "--l1", "1e-4"]);
    assert!(clipped["test_accuracy"].as_f64().unwrap() > 0.5);
}

#[test]
fn early_stopping_keeps_the_best_epoch() {
    let s = Scratch::new("early");
    // a large η on a tiny set overfits and oscillates: the validation loss rises after its best
    let out = train(&s.0, "600", &["--epochs", "12", "--lr", "0.3", "--val-split", "0.3", "--early-stop", "2"]);
    let best = out["best_epoch"].as_u64().unwrap() as usize;
    let dir = s.0.join(out["run_dir"].as_str().unwrap());
    let metrics = std::fs::read_to_string(dir.join("metrics.csv")).unwrap();
    let val: Vec<f64> = metrics.lines().skip(1).map(|l| l.split(',').nth(3).unwrap().parse().unwrap()).collect();
    let lowest = val.iter().cloned().fold(f64::INFINITY, f64::min);
    assert_eq!(val[best - 1], lowest, "best epoch {best} is not the lowest validation loss: {val:?}");
    assert!((out["val_loss"].as_f64().unwrap() - lowest).abs() < 1e-6, "the summary reports the best epoch");
    // the saved weights are the best epoch's: evaluating them gives its test loss
    let weights = out["weights"].as_str().unwrap();
    let eval = last_json(&nabla_ok(&["eval", "--weights", weights, "--data", &mnist(), "--json"], &s.0));
    let test: Vec<f64> = metrics.lines().skip(1).map(|l| l.split(',').nth(5).unwrap().parse().unwrap()).collect();
    assert!((eval["test_loss"].as_f64().unwrap() - test[best - 1]).abs() < 1e-5);
}

#[test]
fn the_plateau_schedule_divides_eta_and_logs_it() {
    let s = Scratch::new("plateau");
    let out = train(&s.0, "500", &["--epochs", "6", "--lr", "0.5", "--schedule", "plateau", "--patience", "1"]);
    let dir = s.0.join(out["run_dir"].as_str().unwrap());
    let metrics = std::fs::read_to_string(dir.join("metrics.csv")).unwrap();
    let lrs: Vec<f64> = metrics.lines().skip(1).map(|l| l.split(',').nth(1).unwrap().parse().unwrap()).collect();
    assert_eq!(lrs[0], 0.5);
    assert!(lrs.windows(2).all(|w| w[1] == w[0] || (w[1] - w[0] / 5.0).abs() < 1e-7), "{lrs:?}");
    assert!(dir.join("loss.png").exists());
}

#[test]
fn compare_draws_one_plot_for_several_learning_rates() {
    let s = Scratch::new("compare");
    let data = mnist();
    let out = nabla_ok(
        &["compare", "--lr", "0.1,0.02", "--epochs", "2", "--data", &data, "--limit-train", "500", "--hidden", "16"],
        &s.0,
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let plot = s.0.join(stdout.lines().last().unwrap());
    let bytes = std::fs::read(&plot).unwrap();
    assert_eq!(&bytes[1..4], b"PNG");
    assert!(plot.starts_with(s.0.join("runs")));
}

#[test]
fn input_map_and_init_reach_the_checkpoint_and_bad_values_are_clear_errors() {
    let s = Scratch::new("input-map");
    let out = train(&s.0, "1000", &["--epochs", "2", "--input-map", "0,1", "--init", "uniform"]);
    // eval reads the mapping from the checkpoint: it must see the same test set as training did
    let weights = out["weights"].as_str().unwrap();
    let eval = last_json(&nabla_ok(&["eval", "--weights", weights, "--data", &mnist(), "--json"], &s.0));
    assert!((eval["test_loss"].as_f64().unwrap() - out["test_loss"].as_f64().unwrap()).abs() < 1e-5);
    let standardised = train(&s.0, "1000", &["--epochs", "2", "--init", "uniform"]);
    assert_ne!(standardised["test_loss"], out["test_loss"], "--input-map changed nothing");
    let data = mnist();
    for (flag, value, mention) in [("--input-map", "1,1", "two different"), ("--init", "glorot", "uniform")] {
        let bad = nabla(&["train", "--data", &data, "--limit-train", "100", "--hidden", "8", flag, value], &s.0);
        assert_clean_failure(&bad, &[flag, mention]);
    }
}

/// Greedy layer-wise pre-training runs before the supervised epochs, reports each hidden layer's
/// reconstruction losses, changes the starting weights, repeats bit for bit, and is a clear error
/// for a model without hidden linear layers.
#[test]
fn greedy_pretraining_reports_each_layer_and_repeats_exactly() {
    let s = Scratch::new("pretrain");
    let data = mnist();
    let run = |name: &str, pretrain: &str| {
        let args = [
            "train",
            "--data",
            &data,
            "--limit-train",
            "300",
            "--hidden",
            "64,32",
            "--activation",
            "sigmoid",
            "--epochs",
            "1",
            "--pretrain",
            pretrain,
            "--pretrain-samples",
            "2000",
            "--pretrain-noise",
            "0.2",
            "--name",
            name,
            "--out",
            name,
            "--json",
        ];
        let out = nabla_ok(&args, &s.0);
        (last_json(&out), String::from_utf8_lossy(&out.stderr).into_owned(), std::fs::read(s.0.join(name)).unwrap())
    };
    let (j, log, weights) = run("a", "2");
    let layers = j["pretrain"].as_array().unwrap();
    assert_eq!(
        layers.iter().map(|l| (l["layer"].as_u64(), l["units"].as_u64())).collect::<Vec<_>>(),
        [(Some(0), Some(64)), (Some(2), Some(32))]
    );
    for l in layers {
        let losses: Vec<f64> =
            l["reconstruction_loss"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
        assert!(losses.len() == 2 && losses[1] < losses[0], "{l}");
    }
    assert!(log.contains("on 2000 images") && log.contains("layer 2 (64 → 32)  epoch 2/2"), "{log}");
    let (_, _, again) = run("b", "2");
    assert!(weights == again, "the same seed gave different pre-trained weights");
    let (plain, _, fresh) = run("c", "0");
    assert!(plain["pretrain"].is_null() && fresh != weights);
    let out =
        nabla(&["train", "--data", &data, "--model", "lstm-rows", "--limit-train", "100", "--pretrain", "1"], &s.0);
    assert_clean_failure(&out, &["pre-training", "lstm-rows", "no hidden linear layer"]);
    // compare draws both on one plot
    let args =
        ["compare", "--data", &data, "--pretrain", "0,1", "--hidden", "32", "--limit-train", "200", "--epochs", "1"];
    let j = last_json(&nabla_ok(&[&args[..], &["--json"]].concat(), &s.0));
    let labels: Vec<&str> = j["runs"].as_array().unwrap().iter().map(|r| r["label"].as_str().unwrap()).collect();
    assert_eq!(labels, ["no pre-training", "pre-trained 1 epoch"]);
    assert!(s.0.join(j["plot"].as_str().unwrap()).is_file(), "{j}");
}

#[test]
fn gelu_trains_from_the_activation_flag() {
    let s = Scratch::new("gelu");
    let out = train(&s.0, "2000", &["--activation", "gelu", "--epochs", "1"]);
    assert!(out["test_accuracy"].as_f64().unwrap() > 0.5, "{out}");
}
