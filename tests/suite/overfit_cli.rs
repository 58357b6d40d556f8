//! End-to-end tests of the features against overfitting: dropout with MC-dropout uncertainty,
//! ensembles with bagging, and augmentation during training, on small slices of MNIST.

use crate::common::*;
use std::path::Path;

#[test]
fn dropout_trains_and_mc_dropout_reports_uncertainty() {
    let s = Scratch::new("dropout");
    let data = mnist();
    let args = ["train", "--data", &data, "--limit-train", "3000", "--hidden", "128", "--epochs", "3"];
    let flags = ["--dropout", "0.5", "--input-dropout", "0.2", "--dropout-rule", "weight-scaling", "--json"];
    let out = last_json(&nabla_ok(&[&args[..], &flags[..]].concat(), &s.0));
    assert!(out["test_accuracy"].as_f64().unwrap() > 0.8, "{out}");
    let weights = out["weights"].as_str().unwrap().to_string();
    // deterministic evaluation: dropout is off, twice the same answer
    let e1 = last_json(&nabla_ok(&["eval", "--weights", &weights, "--data", &data, "--json"], &s.0));
    let e2 = last_json(&nabla_ok(&["eval", "--weights", &weights, "--data", &data, "--json"], &s.0));
    assert_eq!(e1["test_accuracy"], e2["test_accuracy"]);
    let mc =
        last_json(&nabla_ok(&["eval", "--weights", &weights, "--data", &data, "--mc-samples", "8", "--json"], &s.0));
    let (unsure, sure) = (mc["uncertain_half_error"].as_f64().unwrap(), mc["certain_half_error"].as_f64().unwrap());
    assert!(unsure > sure, "the uncertain half should err more: {unsure} vs {sure}");
    // predict with MC dropout on a training image written as a raw 28×28 PNG
    let images = nabla::data::read_idx(&Path::new(&data).join("t10k-images.idx3-ubyte.gz")).unwrap();
    write_gray_png(&s.0.join("x.png"), &images.data[..784], 28, 28);
    let p = last_json(&nabla_ok(&["predict", "--weights", &weights, "x.png", "--mc-samples", "10", "--json"], &s.0));
    assert_eq!(p["std"].as_array().unwrap().len(), 10);
    assert!(p["entropy"].as_f64().unwrap() >= 0.0);
}

#[test]
fn an_ensemble_reports_its_members_and_itself() {
    let s = Scratch::new("ensemble");
    let data = mnist();
    let args = ["train", "--data", &data, "--limit-train", "1000", "--hidden", "32", "--epochs", "2"];
    let out = last_json(&nabla_ok(&[&args[..], &["--ensemble", "3", "--bagging", "--json"]].concat(), &s.0));
    let members = out["members_test_accuracy"].as_array().unwrap();
    assert_eq!(members.len(), 3);
    assert!(out["test_accuracy"].as_f64().unwrap() > 0.5);
    // eval of the same members gives the same ensemble accuracy
    let paths: Vec<String> =
        out["members_weights"].as_array().unwrap().iter().map(|p| p.as_str().unwrap().to_string()).collect();
    let e = last_json(&nabla_ok(&["eval", "--weights", &paths.join(","), "--data", &data, "--json"], &s.0));
    assert_eq!(e["test_accuracy"], out["test_accuracy"]);
    assert_eq!(e["members_test_accuracy"].as_array().unwrap().len(), 3);
}

#[test]
fn augmentation_runs_inside_training_and_stays_deterministic() {
    let s = Scratch::new("augment");
    let data = mnist();
    let args = ["train", "--data", &data, "--limit-train", "1000", "--hidden", "32", "--epochs", "2", "--json"];
    let aug = ["--translate", "2", "--rotate", "10", "--elastic", "34,4"];
    let a = last_json(&nabla_ok(&[&args[..], &aug[..], &["--name", "a"]].concat(), &s.0));
    let b = last_json(&nabla_ok(&[&args[..], &aug[..], &["--name", "b"]].concat(), &s.0));
    let plain = last_json(&nabla_ok(&[&args[..], &["--name", "plain"]].concat(), &s.0));
    let bytes = |v: &serde_json::Value| std::fs::read(s.0.join(v["weights"].as_str().unwrap())).unwrap();
    assert!(bytes(&a) == bytes(&b), "augmented runs with one seed differ");
    assert!(bytes(&a) != bytes(&plain), "augmentation changed nothing");
}

/// The zoo's mlp-dropout is the flags' dropout MLP with its [train] defaults (max-norm included):
/// the two train to the same losses.
#[test]
fn the_mlp_dropout_model_equals_its_flags() {
    let s = Scratch::new("mlp-dropout");
    let data = mnist();
    let base = ["train", "--data", &data, "--limit-train", "500", "--epochs", "1", "--json"];
    let zoo = last_json(&nabla_ok(&[&base[..], &["--model", "mlp-dropout"]].concat(), &s.0));
    let flags = [
        "--hidden",
        "800,800",
        "--dropout",
        "0.5",
        "--input-dropout",
        "0.2",
        "--max-norm",
        "3.5",
        "--input-map",
        "0,1",
        "--optimizer",
        "sgd",
        "--momentum",
        "0.9",
        "--lr",
        "0.05",
        "--schedule",
        "cosine",
        "--batch-size",
        "100",
    ];
    let by_flags = last_json(&nabla_ok(&[&base[..], &flags[..]].concat(), &s.0));
    for key in ["train_loss", "test_loss", "weight_norm"] {
        assert_eq!(zoo[key], by_flags[key], "{key}");
    }
}
