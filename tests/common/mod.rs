//! What every end-to-end test file shares: running the `nabla` binary in a scratch folder and
//! reading its output.
#![allow(dead_code)] // each test binary uses its own part of these

use image::{GrayImage, Luma, Rgb, RgbImage};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

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
    /// `nabla-test-<name>-<pid>-<k>` in the temp folder, empty; k counts the folders of this
    /// process, since every test of the suite runs in one process and two may share a name.
    pub fn new(name: &str) -> Scratch {
        static MADE: AtomicUsize = AtomicUsize::new(0);
        let k = MADE.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("nabla-test-{name}-{}-{k}", std::process::id()));
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

/// The classes of [`draw_image_folder`] (bars across, bars down, crosses), sorted as nabla
/// sorts them.
pub const IMAGE_CLASSES: [&str; 3] = ["across", "down", "plus"];

/// A 20×20 picture of class `class`, its bar at `at` (2..18); a faint noise from `seed`.
pub fn image_folder_picture(class: usize, at: u32, seed: u32) -> GrayImage {
    GrayImage::from_fn(20, 20, |x, y| {
        let on = match class {
            0 => y.abs_diff(at) <= 1,
            1 => x.abs_diff(at) <= 1,
            _ => y.abs_diff(at) <= 1 || x.abs_diff(at) <= 1,
        };
        let noise = (x * 7 + y * 13 + seed * 31) % 40;
        Luma([if on { 215 + noise as u8 } else { noise as u8 }])
    })
}

/// Writes `per_class` pictures of each class under `dir`, every fourth as an RGB JPEG, plus a
/// text file that nabla must skip.
pub fn draw_image_folder(dir: &Path, per_class: u32) {
    for (c, name) in IMAGE_CLASSES.iter().enumerate() {
        let class_dir = dir.join(name);
        std::fs::create_dir_all(&class_dir).unwrap();
        for i in 0..per_class {
            let gray = image_folder_picture(c, 2 + (i * 5) % 16, i);
            if i % 4 == 3 {
                let rgb = RgbImage::from_fn(20, 20, |x, y| Rgb([gray.get_pixel(x, y)[0]; 3]));
                rgb.save(class_dir.join(format!("{i:03}.jpg"))).unwrap();
            } else {
                gray.save(class_dir.join(format!("{i:03}.png"))).unwrap();
            }
        }
    }
    std::fs::write(dir.join("down/README.txt"), "not an image").unwrap();
}
