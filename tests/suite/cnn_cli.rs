//! End-to-end tests of the convolutional side of `nabla`: the model zoo, spec files, `summary` and
//! `conv`, on small slices of the bundled MNIST.

use crate::common::*;
use std::path::Path;
use std::process::Output;

fn stdout(out: &Output) -> String {
    assert!(out.status.success(), "failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn summary_of_lenet5_gives_the_lectures_counts() {
    let s = Scratch::new("summary");
    let text = stdout(&nabla(&["summary", "--model", "lenet5"], &s.0));
    let row = |name: &str| {
        let line = text.lines().find(|l| l.split_whitespace().nth(1) == Some(name));
        line.unwrap_or_else(|| panic!("no row {name}: {text}")).split_whitespace().collect::<Vec<_>>()
    };
    // columns: index, name, type, output, parameters, connections
    assert_eq!(row("C1")[3..], ["6×28×28", "156", "122,304"]);
    assert_eq!(row("S2")[3..], ["6×14×14", "12", "5,880"]);
    assert_eq!(row("C3")[3..], ["16×10×10", "1,516", "151,600"]);
    assert_eq!(row("C5")[3..], ["120×1×1", "48,120", "48,120"]);
    assert_eq!(row("F6")[3..], ["84", "10,164", "10,164"]);
    let total = text.lines().find(|l| l.trim_start().starts_with("total")).expect("a total row");
    assert_eq!(total.split_whitespace().collect::<Vec<_>>(), ["total", "60,840", "340,908"]);

    let j = last_json(&nabla(&["summary", "--model", "lenet5-modern", "--json"], &s.0));
    assert_eq!(j["parameters"], 61_706, "{j}");
    let c1 = &j["layers"][0];
    assert_eq!((c1["name"].as_str(), c1["parameters"].as_u64()), (Some("C1"), Some(156)));
}

#[test]
fn conv_multiplies_the_lectures_polynomials_and_filters_an_image() {
    let s = Scratch::new("conv");
    let text = stdout(&nabla(&["conv"], &s.0));
    assert!(text.contains("(1 + 2t) · (3 + 2t + 5t²) = 3 + 8t + 9t² + 10t³"), "{text}");
    let j = last_json(&nabla(&["conv", "--json"], &s.0));
    assert_eq!(j["product"], serde_json::json!([3.0, 8.0, 9.0, 10.0]));

    // a white square on black: the Laplacian answers on its edges only, the blur smooths it
    let (w, h) = (20usize, 16usize);
    let pixels: Vec<u8> =
        (0..w * h).map(|i| if (5..15).contains(&(i % w)) && (4..12).contains(&(i / w)) { 255 } else { 0 }).collect();
    write_gray_png(&s.0.join("square.png"), &pixels, w as u32, h as u32);
    let j = last_json(&nabla(&["conv", "--image", "square.png", "--out", "filtered", "--json"], &s.0));
    assert_eq!(j["images"].as_array().unwrap().len(), 2, "{j}");
    let lap = read_gray_png(&s.0.join("filtered/laplacian.png"));
    let blur = read_gray_png(&s.0.join("filtered/blur.png"));
    assert_eq!((lap.len(), blur.len()), (w * h, w * h));
    assert_eq!(lap[8 * w + 10], 0, "inside the square the Laplacian is 0");
    assert_eq!(lap[4 * w + 10], 255, "on its edge it is large");
    assert_eq!(blur[8 * w + 10], 255, "the blur keeps the square's inside");
    assert!(blur[4 * w + 10] > 0 && blur[4 * w + 10] < 255, "and softens its edge");
}

/// A zoo model learns from 1,000 digits in three epochs (chance is 10%), and its checkpoint, whose
/// spec is stored as JSON, evaluates to the same accuracy.
fn learns_from_a_thousand_digits(model: &str) -> serde_json::Value {
    let s = Scratch::new(model);
    let data = mnist();
    let args = ["train", "--data", &data, "--model", model, "--limit-train", "1000", "--epochs", "3"];
    let j = last_json(&nabla(&[&args[..], &["--out", "m.safetensors", "--json"]].concat(), &s.0));
    assert!(j["model"].as_str().unwrap().starts_with(model), "{j}");
    let acc = j["test_accuracy"].as_f64().unwrap();
    assert!(acc > 0.7, "{model}: {acc} after 3 epochs of 1,000 digits");
    let e = last_json(&nabla(&["eval", "--weights", "m.safetensors", "--data", &data, "--json"], &s.0));
    assert!((e["test_accuracy"].as_f64().unwrap() - acc).abs() < 1e-6, "{model}: eval {e} vs train {j}");
    j
}

#[test]
fn lenet5_modern_learns() {
    let j = learns_from_a_thousand_digits("lenet5-modern");
    assert_eq!(j["penalty"], 0.0);
}

#[test]
fn lenet5_learns() {
    // lenet5's [train] table sets an L2 penalty
    let j = learns_from_a_thousand_digits("lenet5");
    assert!(j["penalty"].as_f64().unwrap() > 0.0, "{j}");
    assert_eq!((j["batch_size"].as_u64(), j["lr"].as_f64()), (Some(32), Some(0.05)), "{j}");
}

#[test]
fn zoo_mlp_learns() {
    let _ = learns_from_a_thousand_digits("mlp");
}

#[test]
fn the_default_model_and_the_specs_training_defaults() {
    let s = Scratch::new("defaults");
    let data = mnist();
    let train = |extra: &[&str]| {
        let args = ["train", "--data", &data, "--limit-train", "300", "--epochs", "1", "--json"];
        last_json(&nabla(&[&args[..], extra].concat(), &s.0))
    };
    // no --model and no --hidden: lenet5-modern with its [train] table (batch 64, η 0.05, cosine)
    let j = train(&[]);
    assert!(j["model"].as_str().unwrap().starts_with("lenet5-modern 1×28×28 conv2d"), "{j}");
    assert_eq!((j["batch_size"].as_u64(), j["lr"].as_f64()), (Some(64), Some(0.05)), "{j}");
    assert!(j["schedule"].as_str().unwrap().starts_with("cosine"), "{j}");
    // flags win over the spec
    let j = train(&["--batch-size", "16", "--lr", "0.02", "--schedule", "constant"]);
    assert_eq!((j["batch_size"].as_u64(), j["lr"].as_f64()), (Some(16), Some(0.02)), "{j}");
    // --hidden builds the lecture's MLP as before
    let j = train(&["--hidden", "32"]);
    assert_eq!(j["model"], "mlp 784-32-10 relu");
    assert_eq!((j["batch_size"].as_u64(), j["lr"].as_f64()), (Some(128), Some(0.1)), "{j}");
}

#[test]
fn wrong_spec_files_are_errors_naming_the_layer_and_the_shapes() {
    let s = Scratch::new("badspec");
    let data = mnist();
    let head = "name = \"bad\"\ninput = [1, 28, 28]\nloss = \"softmax-cross-entropy\"\n";
    let conv = |k: usize| format!("[[layers]]\ntype = \"conv2d\"\nout = 4\nkernel = {k}\n");
    let cases: [(&str, String, &[&str]); 4] = [
        (
            "too-big.toml",
            format!("{head}{}[[layers]]\ntype = \"maxpool2d\"\nkernel = 4\n{}", conv(5), conv(7)),
            &["layer 2 (conv2d)", "kernel 7×7", "[4, 6, 6]"],
        ),
        ("unknown.toml", format!("{head}{}[[layers]]\ntype = \"conv3d\"\n", conv(3)), &["layer 1 (conv3d)", "unknown"]),
        ("missing.toml", format!("{head}[[layers]]\ntype = \"conv2d\"\nout = 4\n"), &["layer 0 (conv2d)", "kernel"]),
        (
            "flat.toml",
            format!("{head}{}[[layers]]\ntype = \"linear\"\nout = 10\n", conv(3)),
            &["layer 1 (linear)", "flatten", "[4, 26, 26]"],
        ),
    ];
    for (file, text, words) in cases {
        std::fs::write(s.0.join(file), text).unwrap();
        assert_clean_failure(&nabla(&["summary", "--model", file], &s.0), words);
        let out = nabla(&["train", "--data", &data, "--model", file, "--limit-train", "100", "--epochs", "1"], &s.0);
        assert_clean_failure(&out, words);
    }
    // a spec whose output does not fit the data
    std::fs::write(s.0.join("seven.toml"), format!("{head}{}[[layers]]\ntype = \"flatten\"\n", conv(28))).unwrap();
    let out = nabla(&["train", "--data", &data, "--model", "seven.toml", "--limit-train", "100"], &s.0);
    assert_clean_failure(&out, &["seven.toml", "4 outputs", "10 targets"]);
}

fn read_gray_png(path: &Path) -> Vec<u8> {
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(path).unwrap()));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!(info.color_type, png::ColorType::Grayscale);
    buf.truncate(info.buffer_size());
    buf
}

/// The LSTM and the GRU read digits row by row and learn them through 28 steps of
/// backpropagation through time; a stacked rnn → two bidirectional gru layers → lstm spec builds
/// and trains; a recurrent layer on a flat input is a clear error.
#[test]
fn recurrent_nets_learn_digits_row_by_row() {
    let s = Scratch::new("recurrent");
    let data = mnist();
    let base = ["train", "--data", &data, "--limit-train", "2000", "--json"];
    let flags =
        ["--model", "lstm-rows", "--epochs", "3", "--batch-size", "32", "--lr", "0.01", "--out", "m.safetensors"];
    let j = last_json(&nabla_ok(&[&base[..], &flags[..]].concat(), &s.0));
    let acc = j["test_accuracy"].as_f64().unwrap();
    assert!(acc > 0.8, "lstm-rows: {acc} after 3 epochs of 2,000 digits");
    let e = last_json(&nabla_ok(&["eval", "--weights", "m.safetensors", "--data", &data, "--json"], &s.0));
    assert!((e["test_accuracy"].as_f64().unwrap() - acc).abs() < 1e-6, "eval {e} vs train {j}");
    let gru = ["--model", "gru-rows", "--epochs", "3", "--batch-size", "32", "--lr", "0.01"];
    let j = last_json(&nabla_ok(&[&base[..], &gru[..]].concat(), &s.0));
    let acc = j["test_accuracy"].as_f64().unwrap();
    assert!(acc > 0.8, "gru-rows: {acc} after 3 epochs of 2,000 digits");

    let stacked = "name = \"stacked\"\ninput = [28, 28]\nloss = \"softmax-cross-entropy\"\n\
        [[layers]]\ntype = \"rnn\"\nhidden = 16\nsequence = true\n\
        [[layers]]\ntype = \"gru\"\nhidden = 16\nsequence = true\nlayers = 2\nbidirectional = true\ndropout = 0.1\n\
        [[layers]]\ntype = \"lstm\"\nhidden = 16\n\
        [[layers]]\ntype = \"linear\"\nout = 10\n";
    std::fs::write(s.0.join("stacked.toml"), stacked).unwrap();
    let summary = nabla_ok(&["summary", "--model", "stacked.toml"], &s.0);
    let text = String::from_utf8_lossy(&summary.stdout);
    // rnn: 16·(28 + 16 + 1) = 720; two bidirectional gru layers: 2·3·16·(16 + 16 + 2) +
    // 2·3·16·(32 + 16 + 2) = 8,064, out 28×32; lstm: 4·16·(32 + 16 + 1) = 3,136
    let counts = ["720", "8,064", "3,136", "28×32"];
    assert!(counts.iter().all(|c| text.contains(c)), "{text}");
    let j = last_json(&nabla_ok(&[&base[..], &["--model", "stacked.toml", "--epochs", "1"]].concat(), &s.0));
    assert!(j["train_loss"].as_f64().unwrap().is_finite(), "{j}");

    let flat = "name = \"flat\"\ninput = [784]\nloss = \"softmax-cross-entropy\"\n\
        [[layers]]\ntype = \"lstm\"\nhidden = 8\n";
    std::fs::write(s.0.join("flat.toml"), flat).unwrap();
    let bad = nabla(&[&base[..], &["--model", "flat.toml"]].concat(), &s.0);
    assert_clean_failure(&bad, &["layer 0 (lstm)", "needs a sequence input T×F", "[784]"]);
}

/// GoogLeNet's design at MNIST's scale learns through its Inception modules and its auxiliary
/// classifier, whose head is dropped from evaluation; `summary` lists the paper's GoogLeNet.
#[test]
fn googlenet_mnist_learns_and_googlenet_is_summarised() {
    let s = Scratch::new("googlenet");
    let data = mnist();
    let args = ["train", "--data", &data, "--model", "googlenet-mnist", "--limit-train", "1000", "--epochs", "2"];
    let j = last_json(&nabla_ok(&[&args[..], &["--out", "m.safetensors", "--json"]].concat(), &s.0));
    let acc = j["test_accuracy"].as_f64().unwrap();
    assert!(acc > 0.25, "googlenet-mnist: {acc} after 2 epochs of 1,000 digits (chance is 0.1)");
    let e = last_json(&nabla_ok(&["eval", "--weights", "m.safetensors", "--data", &data, "--json"], &s.0));
    assert!((e["test_accuracy"].as_f64().unwrap() - acc).abs() < 1e-6, "eval {e} vs train {j}");
    let text = stdout(&nabla(&["summary", "--model", "googlenet"], &s.0));
    for row in ["inception_3a", "256×28×28", "inception_5b", "1024×7×7", "loss2", "conv2/3x3_reduce"] {
        assert!(text.contains(row), "no {row} in\n{text}");
    }
}
