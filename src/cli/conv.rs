//! `nabla conv`: the lecture's convolution examples, computed by the library's convolution ops.
//!
//! 1. Polynomial product. Multiplying polynomials convolves their coefficient lists:
//!    (1 + 2t)·(3 + 2t + 5t²) = 3 + 8t + 9t² + 10t³, i.e. [1, 2] ∗ [3, 2, 5] = [3, 8, 9, 10].
//!    `conv1d` computes a cross-correlation, so the kernel [1, 2] is flipped to [2, 1] and the
//!    input padded by K − 1 = 1 zero on each side, so that every partial overlap counts.
//! 2. Image filters (`--image IN.png --out DIR`): the lecture's two 5×5 filters applied to a
//!    grayscale image with `conv2d` (zero padding 2, so the output keeps the image's size):
//!    - `laplacian.png`: zero except the central 3×3, which is −1 around an 8: it answers 0 on
//!      flat regions and strongly on edges and fine detail; the PNG shows |response|, clipped to
//!      [0, 1];
//!    - `blur.png`: every weight 0.04 = 1/25, the mean of the 5×5 neighbourhood.
//!
//!    Both are written atomically (a crash never leaves half a PNG).

use super::shared::png::read_gray_png;
use super::shared::print::outln;
use clap::Args;
use nabla::{Error, Result, Tensor, Var};
use std::path::{Path, PathBuf};

#[derive(Args, Debug)]
pub struct ConvArgs {
    /// The first polynomial's coefficients, constant term first.
    #[arg(long, default_value = "1,2")]
    pub a: String,
    /// The second polynomial's coefficients, constant term first.
    #[arg(long, default_value = "3,2,5")]
    pub b: String,
    /// A PNG image to filter (grayscale; colour is averaged to gray).
    #[arg(long, requires = "out")]
    pub image: Option<PathBuf>,
    /// Where to write laplacian.png and blur.png.
    #[arg(long, requires = "image")]
    pub out: Option<PathBuf>,
    /// Print the results as one JSON object.
    #[arg(long)]
    pub json: bool,
}

fn coefficients(flag: &str, text: &str) -> Result<Vec<f32>> {
    let values: Vec<f32> = text
        .split(',')
        .map(|s| s.trim().parse::<f32>().map_err(|_| Error::config(format!("{flag}: '{s}' is not a number"))))
        .collect::<Result<_>>()?;
    if values.is_empty() {
        return Err(Error::config(format!("{flag}: give at least one coefficient")));
    }
    Ok(values)
}

/// The coefficients of a·b (constant term first), by `conv1d` with the flipped `a` as kernel.
pub fn polynomial_product(a: &[f32], b: &[f32]) -> Vec<f32> {
    let flipped: Vec<f32> = a.iter().rev().copied().collect();
    let kernel = Var::constant(Tensor::from_vec(flipped, &[1, 1, a.len()]));
    let input = Var::constant(Tensor::from_vec(b.to_vec(), &[1, 1, b.len()]));
    input.conv1d(&kernel, None, 1, a.len() - 1).value().data().to_vec()
}

/// "3 + 8t + 9t² + 10t³".
fn polynomial(c: &[f32]) -> String {
    const SUPERSCRIPTS: [char; 10] = ['⁰', '¹', '²', '³', '⁴', '⁵', '⁶', '⁷', '⁸', '⁹'];
    let power = |k: usize| -> String {
        match k {
            0 => String::new(),
            1 => "t".into(),
            _ => format!(
                "t{}",
                k.to_string().chars().map(|d| SUPERSCRIPTS[d as usize - '0' as usize]).collect::<String>()
            ),
        }
    };
    c.iter().enumerate().map(|(k, v)| format!("{v}{}", power(k))).collect::<Vec<_>>().join(" + ")
}

/// The lecture's Laplacian-like filter: 8 in the centre, −1 around it, zero outside the 3×3.
pub fn laplacian_5x5() -> Tensor {
    let mut k = vec![0.0; 25];
    for i in 1..4 {
        for j in 1..4 {
            k[i * 5 + j] = -1.0;
        }
    }
    k[12] = 8.0;
    Tensor::from_vec(k, &[1, 1, 5, 5])
}

/// The lecture's box blur: 0.04 everywhere.
pub fn blur_5x5() -> Tensor {
    Tensor::full(&[1, 1, 5, 5], 0.04)
}

/// Writes gray values in [0, 1] (clipped) as an 8-bit grayscale PNG, atomically.
fn write_gray_png(path: &Path, values: &[f32], w: usize, h: usize) -> Result<()> {
    let pixels: Vec<u8> = values.iter().map(|v| (v.clamp(0.0, 1.0) * 255.0).round() as u8).collect();
    let mut bytes = Vec::new();
    let mut encoder = png::Encoder::new(&mut bytes, w as u32, h as u32);
    encoder.set_color(png::ColorType::Grayscale);
    encoder.set_depth(png::BitDepth::Eight);
    let fail = |e: png::EncodingError| Error::format(path, "PNG encoding", e.to_string());
    let mut writer = encoder.write_header().map_err(fail)?;
    writer.write_image_data(&pixels).map_err(fail)?;
    writer.finish().map_err(fail)?;
    nabla::io::atomic_write(path, &bytes)
}

/// Filters `image` with both 5×5 filters and writes `out/laplacian.png` and `out/blur.png`.
fn filter_image(image: &Path, out: &Path) -> Result<Vec<PathBuf>> {
    let (pixels, w, h) = read_gray_png(image)?;
    let x = Var::constant(Tensor::from_vec(pixels, &[1, 1, h, w]));
    let mut written = Vec::new();
    for (name, kernel, absolute) in [("laplacian.png", laplacian_5x5(), true), ("blur.png", blur_5x5(), false)] {
        let y = x.conv2d(&Var::constant(kernel), None, (1, 1), (2, 2));
        let values: Vec<f32> = y.value().data().iter().map(|&v| if absolute { v.abs() } else { v }).collect();
        let path = out.join(name);
        write_gray_png(&path, &values, w, h)?;
        written.push(path);
    }
    Ok(written)
}

pub fn run(args: ConvArgs) -> Result<()> {
    let (a, b) = (coefficients("--a", &args.a)?, coefficients("--b", &args.b)?);
    let product = polynomial_product(&a, &b);
    let flipped: Vec<f32> = a.iter().rev().copied().collect();
    let written = match (&args.image, &args.out) {
        (Some(image), Some(out)) => filter_image(image, out)?,
        _ => Vec::new(),
    };
    if args.json {
        outln!("{}", serde_json::json!({ "a": a, "b": b, "product": product, "images": written }));
        return Ok(());
    }
    outln!("({}) · ({}) = {}", polynomial(&a), polynomial(&b), polynomial(&product));
    outln!(
        "{a:?} * {b:?} = {product:?}  (conv1d of {b:?} with the flipped kernel {flipped:?}, padding {})",
        a.len() - 1
    );
    for path in written {
        outln!("wrote {}", path.display());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_lectures_polynomial_product() {
        assert_eq!(polynomial_product(&[1.0, 2.0], &[3.0, 2.0, 5.0]), [3.0, 8.0, 9.0, 10.0]);
        assert_eq!(polynomial(&[3.0, 8.0, 9.0, 10.0]), "3 + 8t + 9t² + 10t³");
        // (1 − t)(1 + t) = 1 − t²
        assert_eq!(polynomial_product(&[1.0, -1.0], &[1.0, 1.0]), [1.0, 0.0, -1.0]);
    }

    #[test]
    fn the_filters_answer_zero_and_the_mean_on_flat_regions() {
        let flat = Var::constant(Tensor::full(&[1, 1, 7, 7], 0.5));
        let lap = flat.conv2d(&Var::constant(laplacian_5x5()), None, (1, 1), (0, 0));
        assert!(lap.value().data().iter().all(|&v| v.abs() < 1e-6));
        let blur = flat.conv2d(&Var::constant(blur_5x5()), None, (1, 1), (0, 0));
        assert!(blur.value().data().iter().all(|&v| (v - 0.5).abs() < 1e-6));
        assert_eq!(laplacian_5x5().data().iter().sum::<f32>(), 0.0);
    }
}
