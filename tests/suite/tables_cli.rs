//! Tables of one's own, end to end: a train file and a test file, class names, categories and
//! missing values, standardised regression with its errors in the target's units, predictions
//! written as CSV, and batch size and epochs chosen for a small table.

use crate::common::{Scratch, assert_clean_failure, last_json, nabla, nabla_ok};
use std::path::Path;

/// `rows` rows of three blobs named setosa, versicolor and virginica (columns a, b, c, d, then
/// species), drawn with `seed`.
fn flowers(rows: usize, seed: u64) -> String {
    let mut rng = nabla::rng::Rng::seed(seed);
    let names = ["setosa", "versicolor", "virginica"];
    let mut text = "a,b,c,d,species\n".to_string();
    for r in 0..rows {
        let k = r % 3;
        let xs: Vec<String> = (0..4).map(|_| format!("{:.3}", 2.0 * k as f32 + rng.normal(0.5))).collect();
        text += &format!("{},{}\n", xs.join(","), names[k]);
    }
    text
}

/// `rows` rows of a price near 10⁵ that depends linearly on x1, x2 (plus noise).
fn prices(rows: usize, seed: u64) -> String {
    let mut rng = nabla::rng::Rng::seed(seed);
    let mut text = "x1,x2,price\n".to_string();
    for _ in 0..rows {
        let (x1, x2) = (rng.normal(1.0), rng.normal(1.0));
        text += &format!("{x1},{x2},{}\n", 100_000.0 + 20_000.0 * x1 - 10_000.0 * x2 + 500.0 * rng.normal(1.0));
    }
    text
}

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).unwrap();
}

const SMALL: &[&str] = &["--hidden", "16", "--epochs", "40", "--batch-size", "8"];

#[test]
fn a_test_file_is_scored_whole_and_names_come_back_out() {
    let s = Scratch::new("tables-test-file");
    write(&s.0, "train.csv", &flowers(90, 1));
    write(&s.0, "val.csv", &flowers(24, 2));
    write(&s.0, "test.csv", &flowers(30, 3));
    let train = ["train", "--data", "train.csv", "--target", "species", "--test-data", "test.csv"];
    let out = nabla_ok(&[&train[..], SMALL, &["--val-data", "val.csv", "--out", "m", "--json"]].concat(), &s.0);
    let j = last_json(&out);
    // no row of the training file is held out: all 90 train, the test file's 30 test
    assert_eq!(j["train_samples"], 90, "{j}");
    assert!(j["test_accuracy"].as_f64().unwrap() > 0.9 && j["val_accuracy"].as_f64().unwrap() > 0.9, "{j}");
    // eval needs no --target: the model knows its columns; it scores every row
    let e = last_json(&nabla_ok(&["eval", "--weights", "m", "--data", "test.csv", "--json"], &s.0));
    assert_eq!(e["samples"], 30, "{e}");
    assert_eq!(e["test_accuracy"], j["test_accuracy"], "{e}");
    // each class by name, as for image folders
    let per_class = e["per_class"].as_object().expect("a per-class report");
    assert_eq!(per_class.keys().collect::<Vec<_>>(), ["setosa", "versicolor", "virginica"], "{e}");
    // the table flags that the model's schema decides are refused when they say otherwise
    let out = nabla(&["eval", "--weights", "m", "--data", "test.csv", "--impute", "mean"], &s.0);
    assert_clean_failure(&out, &["--impute mean", "no --impute", "leave --impute out"]);
    let out = nabla(&["eval", "--weights", "m", "--data", "test.csv", "--regression"], &s.0);
    assert_clean_failure(&out, &["--regression", "a target of classes"]);
    let e =
        last_json(&nabla_ok(&["eval", "--weights", "m", "--data", "test.csv", "--test-split", "0.5", "--json"], &s.0));
    assert_eq!(e["samples"], 15, "{e}");
    let wrong = nabla(&["eval", "--weights", "m", "--data", "test.csv", "--target", "a"], &s.0);
    assert_clean_failure(&wrong, &["--target a", "'species'"]);
    // predictions: one row per input row, the class's name and each class's probability
    let rows: String = flowers(30, 3).lines().map(|l| l.rsplit_once(',').unwrap().0.to_string() + "\n").collect();
    write(&s.0, "rows.csv", &rows);
    nabla_ok(&["predict", "--weights", "m", "--data", "rows.csv", "--out", "p.csv"], &s.0);
    let p = std::fs::read_to_string(s.0.join("p.csv")).unwrap();
    let lines: Vec<&str> = p.lines().collect();
    assert_eq!(lines[0], "predicted_species,prob_setosa,prob_versicolor,prob_virginica");
    assert_eq!(lines.len(), 31);
    let test = flowers(30, 3);
    let truth: Vec<&str> = test.lines().skip(1).map(|l| l.rsplit_once(',').unwrap().1).collect();
    let right = lines[1..].iter().zip(&truth).filter(|(l, t)| l.starts_with(*t)).count();
    assert!(right >= 27, "{right} of 30 right: {p}");
    let probs: f32 = lines[1].split(',').skip(1).map(|p| p.parse::<f32>().unwrap()).sum();
    assert!((probs - 1.0).abs() < 1e-3, "{p}");
    // the target column may be there too; other columns are an error that lists the difference
    nabla_ok(&["predict", "--weights", "m", "--data", "test.csv"], &s.0);
    write(&s.0, "other.csv", "a,b,e,species\n1,2,3,setosa\n");
    let out = nabla(&["predict", "--weights", "m", "--data", "other.csv"], &s.0);
    assert_clean_failure(&out, &["other.csv", "lacks 'c', 'd'", "does not know 'e'"]);
    write(&s.0, "cow.csv", "a,b,c,d,species\n1,2,3,4,cow\n");
    let out = nabla(&["eval", "--weights", "m", "--data", "cow.csv"], &s.0);
    assert_clean_failure(&out, &["cow.csv", "line 2", "class 'cow' was not in the training data"]);
    // --test-split 0: no test set at all
    let j = last_json(&nabla_ok(
        &[
            "train",
            "--data",
            "train.csv",
            "--target",
            "species",
            "--test-split",
            "0",
            "--hidden",
            "4",
            "--epochs",
            "1",
            "--json",
        ],
        &s.0,
    ));
    assert!(j["test_loss"].is_null(), "{j}");
}

#[test]
fn categories_and_missing_values() {
    let s = Scratch::new("tables-missing");
    let mut rng = nabla::rng::Rng::seed(4);
    let mut text = "x,colour,y\n".to_string();
    for r in 0..60 {
        let colour = ["red", "green", "blue"][r % 3];
        let x = if r == 7 { "NA".to_string() } else { rng.normal(1.0).to_string() };
        text += &format!("{x},{colour},{}\n", u8::from(colour == "red"));
    }
    write(&s.0, "t.csv", &text);
    let base = ["train", "--data", "t.csv", "--target", "y", "--hidden", "8", "--epochs", "30", "--batch-size", "8"];
    assert_clean_failure(&nabla(&base, &s.0), &["t.csv", "column 'colour'", "found 'red', expected a number"]);
    let out = nabla(&[&base[..], &["--categorical", "colour"]].concat(), &s.0);
    assert_clean_failure(&out, &["t.csv", "line 9, column 'x'", "missing value ('NA')", "--impute"]);
    let args = [&base[..], &["--impute", "median", "--categorical", "colour", "--out", "m", "--json"]].concat();
    let j = last_json(&nabla_ok(&args, &s.0));
    assert_eq!(j["model"], "mlp 4-8-2 relu", "{j}");
    assert_eq!(j["test_accuracy"], 1.0, "{j}");
    // at prediction: a gap is filled with the stored median, an unknown category is an error
    write(&s.0, "rows.csv", "colour,x\nred,\nblue,0.5\n");
    let out = nabla_ok(&["predict", "--weights", "m", "--data", "rows.csv"], &s.0);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let predicted: Vec<&str> = stdout.lines().skip(1).map(|l| l.split(',').next().unwrap()).collect();
    assert_eq!(predicted, ["1", "0"], "{stdout}");
    write(&s.0, "pink.csv", "colour,x\npink,1\n");
    let out = nabla(&["predict", "--weights", "m", "--data", "pink.csv"], &s.0);
    assert_clean_failure(&out, &["pink.csv", "line 2, column 'colour'", "category 'pink'", "'blue', 'green', 'red'"]);
    write(&s.0, "e.csv", "x,colour,y\n0.5,red,1\n");
    nabla_ok(&["eval", "--weights", "m", "--data", "e.csv", "--categorical", "colour", "--impute", "median"], &s.0);
    let out = nabla(&["eval", "--weights", "m", "--data", "e.csv", "--categorical", "x"], &s.0);
    assert_clean_failure(&out, &["--categorical x", "the categorical columns [colour]"]);
}

#[test]
fn regression_is_standardised_and_reported_in_the_targets_units() {
    let s = Scratch::new("tables-regression");
    write(&s.0, "train.csv", &prices(200, 5));
    write(&s.0, "test.csv", &prices(50, 6));
    // forgetting --regression: the error says so instead of building a many-class classifier
    let out = nabla(&["train", "--data", "train.csv", "--target", "price"], &s.0);
    assert_clean_failure(&out, &["train.csv", "'price'", "--regression"]);
    let args = ["train", "--data", "train.csv", "--target", "price", "--regression", "--test-data", "test.csv"];
    let out = nabla_ok(&[&args[..], SMALL, &["--val-split", "0.2", "--out", "m", "--json"]].concat(), &s.0);
    let j = last_json(&out);
    for key in ["test_mse", "test_rmse", "test_mae", "test_r2", "val_mse", "val_rmse", "val_mae", "val_r2"] {
        assert!(j[key].is_number(), "{key}: {j}");
    }
    // the noise is 500 and the spread of prices ~22,000: a good fit, measured in dollars
    assert!(j["test_r2"].as_f64().unwrap() > 0.95, "{j}");
    let rmse = j["test_rmse"].as_f64().unwrap();
    assert!(rmse > 100.0 && rmse < 5000.0, "{j}");
    assert!((j["test_mse"].as_f64().unwrap().sqrt() - rmse).abs() < 1e-3 * rmse, "{j}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("test rmse") && stdout.contains("val r2"), "{stdout}");
    let e = last_json(&nabla_ok(&["eval", "--weights", "m", "--data", "test.csv", "--json"], &s.0));
    assert_eq!((e["samples"].clone(), e["test_rmse"].clone()), (50.into(), j["test_rmse"].clone()), "{e}");
    let out = nabla_ok(&["predict", "--weights", "m", "--data", "test.csv"], &s.0);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let truth: Vec<f64> =
        prices(50, 6).lines().skip(1).map(|l| l.rsplit_once(',').unwrap().1.parse().unwrap()).collect();
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines[0], "predicted_price");
    let err: f64 =
        lines[1..].iter().zip(&truth).map(|(p, t)| (p.parse::<f64>().unwrap() - t).abs()).sum::<f64>() / 50.0;
    assert!((err - e["test_mae"].as_f64().unwrap()).abs() < 0.01 * err, "predicted MAE {err}: {e}");
}

#[test]
fn a_small_table_gets_a_batch_size_for_its_size() {
    let s = Scratch::new("tables-small");
    write(&s.0, "t.csv", &flowers(100, 7));
    // 80 training rows: batches of 4 make 20 steps an epoch (the epochs' rule is unit-tested in
    // cli/training/flags.rs: 150 of them here would take a minute of checkpoints and plots)
    let given = ["train", "--data", "t.csv", "--target", "species", "--hidden", "4", "--epochs", "2", "--json"];
    let out = nabla_ok(&given, &s.0);
    let j = last_json(&out);
    assert_eq!((j["batch_size"].clone(), j["epochs"].clone()), (4.into(), 2.into()), "{j}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("batch size 4 (20 steps per epoch), 2 epochs (40 steps)"), "{stderr}");
}
