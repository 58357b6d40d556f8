//! `nabla predict`: classify one 28×28 grayscale PNG (white ink on black, as in MNIST).

use super::shared::json::json_f32;
use super::shared::limits::LimitArgs;
use super::shared::png::read_gray_png;
use super::shared::source::Normalization;
use clap::Args;
use nabla::io::load_checkpoint_limited;
use nabla::tensor::Tensor;
use nabla::train::mc_predict;
use nabla::{Error, Result};
use std::path::PathBuf;

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
    #[command(flatten)]
    pub limits: LimitArgs,
}

pub fn run(args: PredictArgs) -> Result<()> {
    let (mut model, meta) = load_checkpoint_limited(&args.weights, &args.limits.limits())?;
    let norm = Normalization::from_checkpoint(&args.weights, &meta)?;
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
    norm.apply_inputs(&mut x);
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
