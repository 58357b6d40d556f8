//! `nabla predict`: classify one 28×28 grayscale PNG (white ink on black, as in MNIST).

use super::eval::normalization;
use super::train::json_f32;
use clap::Args;
use nabla::io::load_checkpoint;
use nabla::tensor::Tensor;
use nabla::train::mc_predict;
use nabla::{Error, Result};
use std::path::{Path, PathBuf};

#[derive(Args, Debug)]
pub struct PredictArgs {
    /// Weights saved by `nabla train`.
    #[arg(long)]
    pub weights: PathBuf,
    /// A 28×28 PNG (grayscale, or RGB/RGBA turned to gray).
    pub image: PathBuf,
    /// The image has dark ink on a light background: invert it to MNIST's white on black.
    #[arg(long)]
    pub invert: bool,
    /// Monte-Carlo dropout: K stochastic passes; reports mean probabilities, their spread and the
    /// predictive entropy.
    #[arg(long)]
    pub mc_samples: Option<usize>,
    /// Seed of the dropout masks for --mc-samples.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Print the answer as one JSON object.
    #[arg(long)]
    pub json: bool,
}

/// The pixels of a PNG as gray values in [0, 1], with its width and height.
pub fn read_gray_png(path: &Path) -> Result<(Vec<f32>, usize, usize)> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut decoder = png::Decoder::new(std::io::BufReader::new(file));
    // 16-bit samples become 8-bit and palettes become colours, so only four layouts remain below
    decoder.set_transformations(png::Transformations::EXPAND | png::Transformations::STRIP_16);
    let mut reader = decoder.read_info().map_err(|e| Error::format(path, "PNG header", e.to_string()))?;
    let size =
        reader.output_buffer_size().ok_or_else(|| Error::format(path, "PNG header", "image too large".to_string()))?;
    let mut buf = vec![0; size];
    let info = reader.next_frame(&mut buf).map_err(|e| Error::format(path, "PNG data", e.to_string()))?;
    let (w, h) = (info.width as usize, info.height as usize);
    let channels = match info.color_type {
        png::ColorType::Grayscale => 1,
        png::ColorType::GrayscaleAlpha => 2,
        png::ColorType::Rgb => 3,
        png::ColorType::Rgba => 4,
        png::ColorType::Indexed => {
            return Err(Error::format(path, "PNG color type", "an indexed image that could not be expanded"));
        }
    };
    let gray = buf[..info.buffer_size()]
        .chunks_exact(channels)
        .map(|px| {
            let v = if channels >= 3 { (px[0] as f32 + px[1] as f32 + px[2] as f32) / 3.0 } else { px[0] as f32 };
            v / 255.0
        })
        .collect();
    Ok((gray, w, h))
}

pub fn run(args: PredictArgs) -> Result<()> {
    let (mut model, meta) = load_checkpoint(&args.weights)?;
    let norm = normalization(&args.weights, &meta)?;
    let (mut pixels, w, h) = read_gray_png(&args.image)?;
    let want = model.spec().input_size();
    if w * h != want {
        return Err(Error::format(
            &args.image,
            "PNG size",
            format!("{w}×{h} pixels, but the model takes {want} inputs (28×28 for MNIST)"),
        ));
    }
    if args.invert {
        pixels.iter_mut().for_each(|p| *p = 1.0 - *p);
    }
    let mut x = Tensor::from_vec(pixels, &[1, want]);
    for (i, v) in x.data_mut().iter_mut().enumerate() {
        let (mean, std) = if norm.mean.len() == 1 { (norm.mean[0], norm.std[0]) } else { (norm.mean[i], norm.std[i]) };
        *v = (*v - mean) / std;
    }
    let (probs, spread) = match args.mc_samples {
        Some(0) => return Err(Error::config("--mc-samples must be at least 1")),
        Some(k) => {
            let mc = mc_predict(&mut model, &x, k, args.seed);
            (mc.mean, Some((mc.std, mc.entropy[0])))
        }
        None => (model.predict(&x), None),
    };
    let class = probs.argmax_rows()[0];
    if args.json {
        let mut out = serde_json::json!({ "class": class, "probabilities": probs.data() });
        if let Some((std, entropy)) = &spread {
            out["std"] = std.data().into();
            out["entropy"] = json_f32(*entropy);
        }
        println!("{out}");
    } else {
        println!("class {class}");
        for (k, p) in probs.data().iter().enumerate() {
            match &spread {
                Some((std, _)) => println!("  {k}: {p:.4} ± {:.4}", std.data()[k]),
                None => println!("  {k}: {p:.4}"),
            }
        }
        if let Some((_, entropy)) = spread {
            println!("predictive entropy {entropy:.4} nats (0: certain, ln 10 = 2.30: uniform)");
        }
    }
    Ok(())
}
