//! What every end-to-end test file shares: running the `nabla` binary in a scratch folder and
//! reading its output.
#![allow(dead_code)] // each test binary uses its own part of these

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Runs `nabla args…` in `dir`.
pub fn nabla(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_nabla")).args(args).current_dir(dir).output().expect("the nabla binary runs")
}

/// Runs `nabla args…` in `dir` and asserts that it succeeded.
pub fn nabla_ok(args: &[&str], dir: &Path) -> Output {
    let out = nabla(args, dir);
    assert!(out.status.success(), "nabla {args:?} failed: {}", String::from_utf8_lossy(&out.stderr));
    out
}

/// A fresh folder for one test, removed when it ends.
pub struct Scratch(pub PathBuf);

impl Scratch {
    /// `nabla-test-<name>-<pid>` in the temp folder, empty.
    pub fn new(name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("nabla-test-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The bundled MNIST folder.
pub fn mnist() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("data/mnist").to_string_lossy().into_owned()
}

/// The last line of stdout, parsed as JSON.
pub fn last_json(out: &Output) -> serde_json::Value {
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout.lines().last().unwrap_or_default();
    serde_json::from_str(line).unwrap_or_else(|e| panic!("last line is not JSON ({e}): {stdout}"))
}

/// Asserts a failure with a message on stderr that mentions each of `must_mention`, and no panic.
pub fn assert_clean_failure(out: &Output, must_mention: &[&str]) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "expected failure, got success: {stderr}");
    assert!(!stderr.contains("panicked"), "it panicked: {stderr}");
    for word in must_mention {
        assert!(stderr.contains(word), "stderr does not mention {word:?}: {stderr}");
    }
}

/// Writes 8-bit grayscale pixels as a w×h PNG.
pub fn write_gray_png(path: &Path, pixels: &[u8], w: u32, h: u32) {
    let file = std::fs::File::create(path).unwrap();
    let mut enc = png::Encoder::new(std::io::BufWriter::new(file), w, h);
    enc.set_color(png::ColorType::Grayscale);
    enc.set_depth(png::BitDepth::Eight);
    enc.write_header().unwrap().write_image_data(pixels).unwrap();
}

/// `nabla train --model <model>` for one epoch on the first 2,000 training digits, seed 4, on
/// `device` (`--device`, and the run folder's name), in `dir`: its final JSON report. The GPU
/// tests train this way on both devices and compare.
pub fn train_2000_digits(model: &str, device: &str, dir: &Path) -> serde_json::Value {
    train_2000_digits_with(model, device, dir, &[])
}

/// [`train_2000_digits`] with `extra` arguments (`--lr 0.01`).
pub fn train_2000_digits_with(model: &str, device: &str, dir: &Path, extra: &[&str]) -> serde_json::Value {
    let data = mnist();
    let mut args = vec![
        "train",
        "--model",
        model,
        "--data",
        &data,
        "--limit-train",
        "2000",
        "--epochs",
        "1",
        "--seed",
        "4",
        "--json",
        "--device",
        device,
        "--name",
        device,
    ];
    args.extend_from_slice(extra);
    last_json(&nabla_ok(&args, dir))
}
