//! End-to-end tests of image folders (`--data DIR`, one subfolder of PNG/JPEG images per class):
//! train, eval with its per-class report, predict into a CSV, and the errors of bad folders. The
//! folders are drawn by `common::draw_image_folder`: bars across, bars down and crosses.

use crate::common::*;
use std::path::Path;

#[test]
fn train_eval_and_predict_on_an_image_folder() {
    let s = Scratch::new("image-folder");
    let dir = s.0.join("bars");
    draw_image_folder(&dir, 40);
    let dir = dir.to_string_lossy().into_owned();
    // the zoo's MLP takes 784 inputs: the 20×20 pictures are resized to 28×28 gray
    let args = ["train", "--data", &dir, "--model", "mlp", "--epochs", "15", "--batch-size", "16"];
    let out = nabla_ok(&[&args[..], &["--lr", "0.05", "--out", "w.safetensors", "--json"]].concat(), &s.0);
    let j = last_json(&out);
    let acc = j["test_accuracy"].as_f64().unwrap();
    assert!(acc >= 0.9, "bars across, down and crosses should be told apart: {j}");

    let e = last_json(&nabla_ok(&["eval", "--weights", "w.safetensors", "--data", &dir, "--json"], &s.0));
    assert_eq!(e["test_samples"], 24, "a fifth of 120 images: {e}");
    assert!((e["test_accuracy"].as_f64().unwrap() - acc).abs() < 1e-6, "eval {e} vs train {j}");
    let per_class = e["per_class"].as_object().expect("a per-class report");
    assert_eq!(per_class.keys().collect::<Vec<_>>(), IMAGE_CLASSES.iter().collect::<Vec<_>>(), "{e}");
    let counted: u64 = per_class.values().map(|v| v["samples"].as_u64().unwrap()).sum();
    assert_eq!(counted, 24);

    // predict: one file and a whole class folder, into a CSV with the class names
    let down = format!("{dir}/down");
    let file = format!("{dir}/across/000.png");
    nabla_ok(&["predict", "--weights", "w.safetensors", "--data", &file, &down, "--out", "p.csv"], &s.0);
    let csv = std::fs::read_to_string(s.0.join("p.csv")).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "file,class,p_across,p_down,p_plus");
    assert_eq!(lines.len(), 1 + 1 + 40, "{csv}");
    let row: Vec<&str> = lines[1].split(',').collect();
    assert!(row[0].ends_with("across/000.png") && row[1] == "across", "{}", lines[1]);
    let total: f64 = row[2..].iter().map(|p| p.parse::<f64>().unwrap()).sum();
    assert!((total - 1.0).abs() < 1e-4, "{}", lines[1]);
    let right = lines[2..].iter().filter(|l| l.split(',').nth(1) == Some("down")).count();
    assert!(right >= 36, "{right} of 40 bars down predicted as down: {csv}");

    // a model trained on other classes is refused, naming both lists
    let other = s.0.join("other");
    draw_image_folder(&other, 4);
    std::fs::rename(other.join("plus"), other.join("star")).unwrap();
    let out = nabla(&["eval", "--weights", "w.safetensors", "--data", &other.to_string_lossy()], &s.0);
    assert_clean_failure(&out, &["[across, down, plus]", "[across, down, star]"]);
}

#[test]
fn a_small_cnn_trains_on_rgb_images_with_their_own_size() {
    let s = Scratch::new("image-folder-rgb");
    let dir = s.0.join("bars");
    draw_image_folder(&dir, 12);
    let dir = dir.to_string_lossy().into_owned();
    // an MLP built from the data (--hidden): RGB by default, at the size given
    let args = ["train", "--data", &dir, "--hidden", "16", "--image-size", "10x10", "--epochs", "2", "--json"];
    let j = last_json(&nabla_ok(&args, &s.0));
    assert_eq!(j["parameters"], 3 * 100 * 16 + 16 + 16 * 3 + 3, "{j}");
    let gray = [&args[..], &["--grayscale"]].concat();
    let j = last_json(&nabla_ok(&gray, &s.0));
    assert_eq!(j["parameters"], 100 * 16 + 16 + 16 * 3 + 3, "{j}");
    // the format is stored with the model: eval and predict read 6×12 RGB images without the
    // flags (an MLP's 216 inputs alone do not say 6×12×3), and refuse flags that differ
    let wide = ["train", "--data", &dir, "--hidden", "16", "--image-size", "6x12", "--epochs", "2", "--out", "wide"];
    nabla_ok(&wide, &s.0);
    let e = last_json(&nabla_ok(&["eval", "--weights", "wide", "--data", &dir, "--json"], &s.0));
    assert!(e["test_accuracy"].is_number(), "{e}");
    let file = format!("{dir}/plus/000.png");
    nabla_ok(&["predict", "--weights", "wide", "--data", &file], &s.0);
    let out = nabla(&["eval", "--weights", "wide", "--data", &dir, "--image-size", "12x6"], &s.0);
    assert_clean_failure(&out, &["trained on 6x12 images of 3 channel(s)", "--image-size"]);
    // RGB images are augmented too (an MLP on 3×10×10)
    let rgb_aug = [&args[..], &["--rotate", "10", "--translate", "1"]].concat();
    let j = last_json(&nabla_ok(&rgb_aug, &s.0));
    assert!(j["test_accuracy"].as_f64().is_some(), "{j}");
    // lenet5-modern (1×28×28) with augmentation, as on MNIST
    let aug = ["train", "--data", &dir, "--epochs", "1", "--rotate", "10", "--translate", "2", "--json"];
    let j = last_json(&nabla_ok(&aug, &s.0));
    assert!(j["test_accuracy"].as_f64().is_some(), "{j}");
}

#[test]
fn bad_image_folders_fail_naming_the_folder_or_file() {
    let s = Scratch::new("image-folder-bad");
    let dir = s.0.join("pets");
    std::fs::create_dir_all(dir.join("cat")).unwrap();
    image_folder_picture(0, 5, 0).save(dir.join("cat/a.png")).unwrap();
    let train = |dir: &Path| nabla(&["train", "--data", &dir.to_string_lossy(), "--epochs", "1"], &s.0);
    assert_clean_failure(&train(&dir), &["pets", "one class folder ('cat')"]);
    std::fs::create_dir_all(dir.join("dog")).unwrap();
    assert_clean_failure(&train(&dir), &["dog", "no .png, .jpg or .jpeg file"]);
    std::fs::write(dir.join("dog/b.jpg"), b"\xff\xd8\xff not really a JPEG").unwrap();
    assert_clean_failure(&train(&dir), &["dog/b.jpg", "expected a PNG or JPEG image"]);
    let bad_size = nabla(&["train", "--data", &dir.to_string_lossy(), "--image-size", "28"], &s.0);
    assert_clean_failure(&bad_size, &["--image-size 28", "HxW"]);
    // predict on a file that is not an image, and on a folder without images
    std::fs::write(s.0.join("notes.txt"), "x").unwrap();
    let w = s.0.join("w.safetensors");
    let pred = |what: &str| nabla(&["predict", "--weights", &w.to_string_lossy(), "--data", what], &s.0);
    std::fs::remove_file(dir.join("dog/b.jpg")).unwrap();
    image_folder_picture(1, 5, 0).save(dir.join("dog/b.png")).unwrap();
    nabla_ok(
        &[
            "train",
            "--data",
            &dir.to_string_lossy(),
            "--hidden",
            "4",
            "--epochs",
            "1",
            "--test-split",
            "0.5",
            "--out",
            "w.safetensors",
        ],
        &s.0,
    );
    assert_clean_failure(&pred("notes.txt"), &["notes.txt", "expected a .png, .jpg or .jpeg file"]);
    std::fs::create_dir_all(s.0.join("empty")).unwrap();
    assert_clean_failure(&pred("empty"), &["empty", "no .png, .jpg or .jpeg file"]);
}
