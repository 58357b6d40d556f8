//! End-to-end tests of the `nabla` command on small slices of the bundled MNIST.

use crate::common::*;
use std::path::Path;

#[test]
fn train_eval_predict_on_a_slice_of_mnist() {
    let s = Scratch::new("train");
    let data = mnist();
    let args = ["train", "--data", &data, "--limit-train", "3000", "--epochs", "3", "--hidden", "64"];
    let out = nabla(&[&args[..], &["--out", "m.safetensors", "--json"]].concat(), &s.0);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let j = last_json(&out);
    for key in [
        "model",
        "epochs",
        "batch_size",
        "lr",
        "seed",
        "train_loss",
        "test_loss",
        "test_accuracy",
        "seconds_per_epoch",
        "samples_per_second",
        "parameters",
    ] {
        assert!(j.get(key).is_some(), "missing key {key}: {j}");
    }
    assert_eq!(j["seconds_per_epoch"].as_array().unwrap().len(), 3);
    assert_eq!(j["parameters"], 784 * 64 + 64 + 64 * 10 + 10);
    let acc = j["test_accuracy"].as_f64().unwrap();
    assert!(acc > 0.85, "3,000 samples, 3 epochs should give > 85%, got {acc}");

    let out = nabla(&["eval", "--weights", "m.safetensors", "--data", &data, "--json"], &s.0);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let e = last_json(&out);
    assert!((e["test_accuracy"].as_f64().unwrap() - acc).abs() < 1e-6, "eval {e} vs train {j}");
    assert!((e["test_loss"].as_f64().unwrap() - j["test_loss"].as_f64().unwrap()).abs() < 1e-5);

    // the first test image, a 7, written as a PNG
    let (test, _) = first_test_image();
    let png_path = s.0.join("seven.png");
    write_gray_png(&png_path, &test, 28, 28);
    let out = nabla(&["predict", "--weights", "m.safetensors", "seven.png", "--json"], &s.0);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let p = last_json(&out);
    assert_eq!(p["class"], 7, "{p}");
    let total: f64 = p["probabilities"].as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).sum();
    assert!((total - 1.0).abs() < 1e-4);
}

#[test]
fn the_same_seed_gives_identical_weight_files() {
    let s = Scratch::new("seed");
    let data = mnist();
    let run = |out: &str, seed: &str| {
        let args = ["train", "--data", &data, "--limit-train", "1000", "--epochs", "2", "--hidden", "32,16"];
        let o = nabla(&[&args[..], &["--seed", seed, "--out", out]].concat(), &s.0);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        std::fs::read(s.0.join(out)).unwrap()
    };
    let a = run("a.safetensors", "5");
    let b = run("b.safetensors", "5");
    let c = run("c.safetensors", "6");
    assert!(a == b, "two runs with seed 5 differ");
    assert!(a != c, "seeds 5 and 6 gave the same weights");
}

#[test]
fn corrupt_or_truncated_idx_files_fail_cleanly() {
    let s = Scratch::new("corrupt");
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/mnist");
    for name in ["train-labels.idx1-ubyte.gz", "t10k-images.idx3-ubyte.gz", "t10k-labels.idx1-ubyte.gz"] {
        std::fs::copy(src.join(name), s.0.join(name)).unwrap();
    }
    // truncated: the first 100,000 bytes of the gzip stream
    let images = std::fs::read(src.join("train-images.idx3-ubyte.gz")).unwrap();
    std::fs::write(s.0.join("train-images.idx3-ubyte.gz"), &images[..100_000]).unwrap();
    let out = nabla(&["train", "--data", ".", "--epochs", "1"], &s.0);
    assert_clean_failure(&out, &["train-images.idx3-ubyte.gz"]);
    assert!(!s.0.join("model.safetensors").exists(), "a failed run left a weight file");

    // corrupt: a raw file with a wrong magic number
    std::fs::remove_file(s.0.join("train-images.idx3-ubyte.gz")).unwrap();
    std::fs::write(s.0.join("train-images-idx3-ubyte"), [0u8, 0, 8, 2, 0, 0, 0, 1, 0, 0, 0, 1, 7]).unwrap();
    let out = nabla(&["train", "--data", ".", "--epochs", "1"], &s.0);
    assert_clean_failure(&out, &["train-images-idx3-ubyte", "magic"]);
}

#[test]
fn csv_training_and_bad_csv() {
    let s = Scratch::new("csv");
    // two Gaussian blobs, class = which side of x + y = 0
    let mut text = String::from("x,y,label\n");
    let mut rng = nabla::rng::Rng::seed(3);
    for _ in 0..400 {
        let (x, y) = (rng.normal(1.0), rng.normal(1.0));
        text += &format!("{x},{y},{}\n", u8::from(x + y > 0.0));
    }
    std::fs::write(s.0.join("blobs.csv"), &text).unwrap();
    let args = ["train", "--data", "blobs.csv", "--target", "label", "--hidden", "8", "--epochs", "30"];
    let out = nabla(&[&args[..], &["--batch-size", "16", "--json"]].concat(), &s.0);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let acc = last_json(&out)["test_accuracy"].as_f64().unwrap();
    assert!(acc > 0.9, "a linearly separable table should be learnt, got {acc}");

    std::fs::write(s.0.join("ragged.csv"), "a,b,label\n1,2,0\n3,1\n").unwrap();
    let out = nabla(&["train", "--data", "ragged.csv", "--target", "label"], &s.0);
    assert_clean_failure(&out, &["ragged.csv", "line 3"]);
    std::fs::write(s.0.join("text.csv"), "a,b,label\n1,2,0\n3,x,1\n").unwrap();
    let out = nabla(&["train", "--data", "text.csv", "--target", "label"], &s.0);
    assert_clean_failure(&out, &["text.csv", "'b'", "x"]);
}

#[test]
fn explain_prints_the_worked_example() {
    let s = Scratch::new("explain");
    let out = nabla(&["explain"], &s.0);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for symbol in ["u_1 (hidden)", "δ_1 (output)", "∂E/∂w_11", "∂E/∂b_1", "agree"] {
        assert!(text.contains(symbol), "missing {symbol}: {text}");
    }
}

/// The benchmarks run and print the figures that scripts/vs-torch.sh reads (small sizes here:
/// speed is never asserted in a test).
#[test]
fn bench_prints_its_figures() {
    let s = Scratch::new("bench");
    // each size does 2 GFLOP per timing: a large size keeps the call count, and the test, small
    let m = last_json(&nabla_ok(&["bench", "matmul", "--sizes", "200,256"], &s.0));
    assert!(m["gflops"]["200"].as_f64().unwrap() > 0.0 && m["gflops"]["256"].as_f64().unwrap() > 0.0, "{m}");
    let st = last_json(&nabla_ok(&["bench", "steps", "--batch", "4", "--steps", "10"], &s.0));
    assert!(st["us_per_step"].as_f64().unwrap() > 0.0, "{st}");
    let bad = nabla(&["bench", "matmul", "--sizes", "256,x"], &s.0);
    assert_clean_failure(&bad, &["--sizes", "'x'"]);
}

fn first_test_image() -> (Vec<u8>, u8) {
    let images = nabla::data::read_idx(&Path::new(&mnist()).join("t10k-images.idx3-ubyte.gz")).unwrap();
    let labels = nabla::data::read_idx(&Path::new(&mnist()).join("t10k-labels.idx1-ubyte.gz")).unwrap();
    (images.data[..784].to_vec(), labels.data[0])
}
