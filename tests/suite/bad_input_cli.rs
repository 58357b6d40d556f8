//! Bad input answered by a clear error (exit 1, no panic) or, where there is nothing to report,
//! by no figures rather than zeros (issue 11): data of the wrong width for a checkpoint, a
//! checkpoint's broken normalisation, no test set, values that overflow once standardised, flags
//! out of range, images of the wrong size, and a closed stdout.

use crate::common::*;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

/// A CSV table of `rows` rows: `width` inputs x1… from a seeded normal, and y = whether their sum
/// is positive; `cell(row, column)` may replace a cell's text.
fn table(rows: usize, width: usize, cell: impl Fn(usize, usize) -> Option<String>) -> String {
    let mut rng = nabla::rng::Rng::seed(5);
    let names: Vec<String> = (1..=width).map(|j| format!("x{j}")).collect();
    let mut text = format!("{},y\n", names.join(","));
    for r in 0..rows {
        let xs: Vec<f32> = (0..width).map(|_| rng.normal(1.0)).collect();
        let cells: Vec<String> =
            xs.iter().enumerate().map(|(j, x)| cell(r, j).unwrap_or_else(|| x.to_string())).collect();
        text += &format!("{},{}\n", cells.join(","), u8::from(xs.iter().sum::<f32>() > 0.0));
    }
    text
}

/// Trains a small MLP on `csv` (target y) and returns the weight file's name.
fn train_csv(dir: &Path, csv: &str, out: &str) -> String {
    nabla_ok(&["train", "--data", csv, "--target", "y", "--hidden", "8", "--epochs", "2", "--out", out], dir);
    out.to_string()
}

/// Rewrites the metadata entry `key` of a safetensors file's header to `value`.
fn set_metadata(path: &Path, key: &str, value: &str) {
    let file = std::fs::read(path).unwrap();
    let n = u64::from_le_bytes(file[..8].try_into().unwrap()) as usize;
    let mut header: serde_json::Value = serde_json::from_slice(&file[8..8 + n]).unwrap();
    header["__metadata__"][key] = value.into();
    let mut text = serde_json::to_vec(&header).unwrap();
    text.resize(text.len().next_multiple_of(8), b' ');
    let mut out = (text.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(&text);
    out.extend_from_slice(&file[8 + n..]);
    std::fs::write(path, out).unwrap();
}

#[test]
fn eval_and_predict_check_the_data_against_the_checkpoint_first() {
    let s = Scratch::new("bad-width");
    std::fs::write(s.0.join("four.csv"), table(200, 4, |_, _| None)).unwrap();
    std::fs::write(s.0.join("five.csv"), table(50, 5, |_, _| None)).unwrap();
    let weights = train_csv(&s.0, "four.csv", "four.safetensors");
    // another column count, and no --data (MNIST), used to panic in the normalisation; the
    // checkpoint's column names tell which column is new
    let out = nabla(&["eval", "--weights", &weights, "--data", "five.csv", "--target", "y"], &s.0);
    assert_clean_failure(&out, &["five.csv", "columns differ from the model's", "does not know 'x5'"]);
    let out = nabla(&["eval", "--weights", &weights], &s.0);
    assert_clean_failure(&out, &["takes 4 inputs", "--data mnist has 784 inputs"]);
    // a table model is not an image model
    write_gray_png(&s.0.join("tiny.png"), &[0, 255, 0, 255], 2, 2);
    let out = nabla(&["predict", "--weights", &weights, "tiny.png"], &s.0);
    assert_clean_failure(&out, &["four.safetensors", "table of 4 columns"]);
}

#[test]
fn a_checkpoints_stored_normalisation_is_checked_when_read() {
    let s = Scratch::new("bad-norm");
    std::fs::write(s.0.join("four.csv"), table(200, 4, |_, _| None)).unwrap();
    let weights = train_csv(&s.0, "four.csv", "four.safetensors");
    let eval = ["eval", "--weights", "bad.safetensors", "--data", "four.csv", "--target", "y"];
    let cases = [
        (r#"{"mean":[0,0,0],"std":[1,1,1]}"#, "3 means and 3 stds for 4 inputs"),
        (r#"{"mean":[0,0,0,0],"std":[1,1,1]}"#, "4 means and 3 stds"),
        (r#"{"mean":[0,0,0,0],"std":[1,0,1,1]}"#, "std 1 is 0"),
        (r#"{"mean":[0,0,0,0],"std":[1,1,-2,1]}"#, "std 2 is -2"),
        (r#"{"mean":[0],"std":[0]}"#, "std 0 is 0"),
        (r#"{"mean":[1e39],"std":[1]}"#, "mean 0 is inf"),
    ];
    for (norm, mention) in cases {
        std::fs::copy(s.0.join(&weights), s.0.join("bad.safetensors")).unwrap();
        set_metadata(&s.0.join("bad.safetensors"), "nabla.normalization", norm);
        assert_clean_failure(&nabla(&eval, &s.0), &["bad.safetensors", "nabla.normalization", mention]);
    }
    // a std that is valid but tiny sends the inputs out of range: refused, not evaluated
    std::fs::copy(s.0.join(&weights), s.0.join("bad.safetensors")).unwrap();
    set_metadata(&s.0.join("bad.safetensors"), "nabla.normalization", r#"{"mean":[0],"std":[1e-30]}"#);
    assert_clean_failure(&nabla(&eval, &s.0), &["four.csv", "once normalised"]);

    // predict of an MNIST model whose stored normalisation has 3 columns
    let data = mnist();
    nabla_ok(&["train", "--data", &data, "--hidden", "8", "--epochs", "1", "--limit-train", "200", "--out", "m"], &s.0);
    set_metadata(&s.0.join("m"), "nabla.normalization", r#"{"mean":[0,0,0],"std":[1,1,1]}"#);
    write_gray_png(&s.0.join("digit.png"), &[0; 784], 28, 28);
    let out = nabla(&["predict", "--weights", "m", "digit.png"], &s.0);
    assert_clean_failure(&out, &["m: metadata 'nabla.normalization'", "for 784 inputs"]);
}

#[test]
fn no_test_set_means_no_test_figures() {
    let s = Scratch::new("no-test");
    std::fs::write(s.0.join("t.csv"), table(100, 3, |_, _| None)).unwrap();
    let args = ["train", "--data", "t.csv", "--target", "y", "--hidden", "4", "--epochs", "2", "--test-split", "0"];
    let out = nabla_ok(&[&args[..], &["--name", "r", "--json"]].concat(), &s.0);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let epochs: Vec<&str> = stdout.lines().filter(|l| l.starts_with("epoch")).collect();
    assert!(
        epochs.len() == 2 && epochs.iter().all(|l| !l.contains("test")),
        "test figures without a test set: {stdout}"
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("no test set"));
    let j = last_json(&out);
    assert!(j["test_loss"].is_null() && j["test_accuracy"].is_null(), "{j}");
    let metrics = std::fs::read_to_string(s.0.join("runs/r/metrics.csv")).unwrap();
    for line in metrics.lines().skip(1) {
        let cells: Vec<&str> = line.split(',').collect();
        assert_eq!((cells[5], cells[6]), ("", ""), "{metrics}");
    }
    // the empty cells read back: --resume continues the run
    let resumed = last_json(&nabla_ok(&["train", "--resume", "runs/r", "--epochs", "3", "--json"], &s.0));
    assert_eq!(resumed["epochs"], 3);
    assert!(resumed["test_loss"].is_null(), "{resumed}");
    // nothing to evaluate is an error, not a loss of 0
    let out = nabla(
        &["eval", "--weights", "runs/r/model.safetensors", "--data", "t.csv", "--target", "y", "--test-split", "0"],
        &s.0,
    );
    assert_clean_failure(&out, &["t.csv", "test set is empty"]);

    // a one-row CSV file has no test part either
    std::fs::write(s.0.join("one.csv"), "a,b,y\n1,2,1\n").unwrap();
    let j = last_json(&nabla_ok(&["train", "--data", "one.csv", "--target", "y", "--hidden", "4", "--json"], &s.0));
    assert!(j["test_accuracy"].is_null(), "{j}");
    // a validation split that holds out nothing is refused rather than reported as 0
    let out = nabla(&["train", "--data", "t.csv", "--target", "y", "--hidden", "4", "--val-split", "0.001"], &s.0);
    assert_clean_failure(&out, &["--val-split 0.001", "holds out none"]);
}

#[test]
fn values_that_overflow_once_standardised_name_file_column_and_value() {
    let s = Scratch::new("overflow");
    std::fs::write(s.0.join("clean.csv"), table(100, 3, |_, _| None)).unwrap();
    let weights = train_csv(&s.0, "clean.csv", "w.safetensors");
    // every row's x2 is 3e38: whatever the split, the test part has one, 10³⁸ stds from the mean
    std::fs::write(s.0.join("huge.csv"), table(100, 3, |_, j| (j == 1).then(|| "3e38".into()))).unwrap();
    let out = nabla(&["eval", "--weights", &weights, "--data", "huge.csv", "--target", "y"], &s.0);
    assert_clean_failure(&out, &["huge.csv", "column 'x2'", "3e38", "once normalised"]);
    // in training, a stray 3e38 that the split puts in the test part (row 3, with --seed 1)
    std::fs::write(s.0.join("stray.csv"), table(100, 3, |r, j| (r == 3 && j == 2).then(|| "3e38".into()))).unwrap();
    let out = nabla(&["train", "--data", "stray.csv", "--target", "y", "--hidden", "4", "--test-split", "0.5"], &s.0);
    assert_clean_failure(&out, &["stray.csv", "column 'x3'", "3e38"]);
    // a regression target whose square overflows
    std::fs::write(s.0.join("target.csv"), "x,y\n1,2\n2,3e38\n3,4\n").unwrap();
    let out = nabla(&["train", "--data", "target.csv", "--target", "y", "--regression", "--hidden", "4"], &s.0);
    assert_clean_failure(&out, &["target.csv", "line 3, column 'y'", "least-squares"]);
}

#[test]
fn numeric_flags_out_of_range_are_refused_by_name() {
    let s = Scratch::new("flags");
    let data = mnist();
    let train = ["train", "--data", &data, "--hidden", "8", "--epochs", "1", "--limit-train", "100"];
    let bad = [
        ("--dropout=-0.5", "--dropout"),
        ("--dropout=1", "--dropout"),
        ("--input-dropout=2", "--input-dropout"),
        ("--pretrain-lr=-1", "--pretrain-lr"),
        ("--pretrain-noise=1", "--pretrain-noise"),
        ("--pretrain-samples=0", "--pretrain-samples"),
        ("--early-stop=0", "--early-stop"),
        ("--lr=0", "--lr"),
        ("--lr=NaN", "--lr"),
        ("--momentum=1.5", "--momentum"),
        ("--factor=0.5", "--factor"),
        ("--patience=0", "--patience"),
        ("--test-split=1", "--test-split"),
        ("--val-split=-0.1", "--val-split"),
        ("--clip=0", "--clip"),
    ];
    for (flag, name) in bad {
        assert_clean_failure(&nabla(&[&train[..], &[flag]].concat(), &s.0), &[name]);
    }
    assert_clean_failure(&nabla(&["train", "--data", &data, "--limit-train", "0"], &s.0), &["--limit-train"]);
    let compare = ["compare", "--data", &data, "--hidden", "4", "--limit-train", "100", "--epochs", "1"];
    assert_clean_failure(&nabla(&[&compare[..], &["--lr=-1,0.1"]].concat(), &s.0), &["--lr -1"]);
    assert_clean_failure(&nabla(&[&compare[..], &["--lr", "0.1,0.2", "--factor", "0"]].concat(), &s.0), &["--factor"]);
    let eval = nabla(&["eval", "--weights", "none.safetensors", "--mc-samples", "0"], &s.0);
    assert_clean_failure(&eval, &["--mc-samples 0"]);
    let predict = nabla(&["predict", "--weights", "none.safetensors", "x.png", "--mc-samples", "0"], &s.0);
    assert_clean_failure(&predict, &["--mc-samples 0"]);
    assert_clean_failure(&nabla(&["augment", "--show", "2", "--rotate=-5"], &s.0), &["rotate -5"]);
    for (args, name) in [
        (&["bench", "steps", "--batch", "0"][..], "--batch 0"),
        (&["bench", "steps", "--batch", "60000"][..], "--batch 60000"),
        (&["bench", "mlp", "--epochs", "0"][..], "--epochs 0"),
        (&["bench", "steps", "--steps", "0"][..], "--steps 0"),
        (&["bench", "matmul", "--sizes", "0"][..], "--sizes"),
    ] {
        assert_clean_failure(&nabla(args, &s.0), &[name]);
    }
}

#[test]
fn predict_needs_an_image_of_the_models_size() {
    let s = Scratch::new("png-size");
    let data = mnist();
    let args = ["train", "--data", &data, "--hidden", "8", "--epochs", "1", "--limit-train", "200", "--out", "m"];
    nabla_ok(&args, &s.0);
    for (w, h) in [(784, 1), (1, 784), (14, 56)] {
        write_gray_png(&s.0.join("x.png"), &vec![0; 784], w, h);
        let out = nabla(&["predict", "--weights", "m", "x.png"], &s.0);
        assert_clean_failure(&out, &["x.png", &format!("{w}×{h} pixels, expected 28×28")]);
    }
    write_gray_png(&s.0.join("x.png"), &[0; 784], 28, 28);
    nabla_ok(&["predict", "--weights", "m", "x.png"], &s.0);
}

/// `nabla train | head -1`: the reader leaves after the first epoch's line; the next line ends
/// the process quietly with 141 (128 + SIGPIPE), as the shell reports for `cat big | head`.
#[test]
fn a_closed_stdout_ends_the_run_quietly() {
    let s = Scratch::new("pipe");
    let data = mnist();
    let mut child = Command::new(env!("CARGO_BIN_EXE_nabla"))
        .args(["train", "--data", &data, "--hidden", "8", "--limit-train", "300", "--epochs", "100"])
        .current_dir(&s.0)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut first).unwrap();
    assert!(first.starts_with("epoch   1/100"), "{first}");
    // the reader is dropped here: stdout is a closed pipe
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked") && !stderr.contains("error"), "{stderr}");
    assert_eq!(out.status.code(), Some(141), "{stderr}");
}
