//! `nabla predict`: classify one 28×28 grayscale PNG (white ink on black, as in MNIST), many
//! PNG/JPEG images (`--data`, [`images`]) into a CSV of predictions, or every row of a table
//! (`--data rows.csv`, `table.rs`).

mod table;

mod images;

use super::shared::device::{DeviceArgs, Runner};
use super::shared::images::{ImageArgs, classes_from_checkpoint, image_from_checkpoint};
use super::shared::json::json_f32;
use super::shared::limits::LimitArgs;
use super::shared::png::read_gray_png;
use super::shared::print::outln;
use super::shared::source::Normalization;
use clap::Args;
use images::{ImagePrediction, predict_images};
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
    #[arg(required_unless_present = "data", conflicts_with = "data")]
    pub image: Option<PathBuf>,
    /// PNG/JPEG files, folders of them, or image folders (a subfolder per class): one CSV row of
    /// predictions per image; or one CSV file of rows (for a model trained on a table; the
    /// target column may be present or not).
    #[arg(long, num_args = 1..)]
    pub data: Vec<PathBuf>,
    /// With --data: write the predictions CSV here (atomically) instead of to stdout.
    #[arg(long)]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub images: ImageArgs,
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
    #[command(flatten)]
    pub device: DeviceArgs,
}

pub fn run(args: PredictArgs) -> Result<()> {
    if args.mc_samples == Some(0) {
        return Err(Error::config("--mc-samples 0: expected at least 1 (stochastic passes)"));
    }
    // one .csv file: a table's rows
    if let [rows] = &args.data[..]
        && rows.extension().is_some_and(|e| e.eq_ignore_ascii_case("csv"))
    {
        return table::run(&args, rows);
    }
    let (mut model, meta) = load_checkpoint_limited(&args.weights, &args.limits.limits())?;
    let norm = Normalization::from_checkpoint(&args.weights, &meta, model.spec().input_size())?;
    let mut runner = Runner::open(&args.device, &model, args.mc_samples.map(|_| "MC dropout (--mc-samples)"))?;
    let Some(image) = &args.image else {
        if args.mc_samples.is_some() {
            return Err(Error::config("--mc-samples works on one image (predict IMAGE), not on --data"));
        }
        let job = ImagePrediction {
            paths: &args.data,
            out: args.out.as_deref(),
            images: &args.images,
            invert: args.invert,
            classes: classes_from_checkpoint(&args.weights, &meta)?,
            trained_image: image_from_checkpoint(&args.weights, &meta)?,
            normalization: norm,
            weights: &args.weights,
        };
        return predict_images(&mut model, &mut runner, job);
    };
    if norm.mean.len() > 1 {
        return Err(Error::config(format!(
            "{}: the model was trained on a table of {} columns (it normalises each column), not on images; \
             predict reads one image (give rows of a CSV file with --data)",
            args.weights.display(),
            norm.mean.len()
        )));
    }
    let (height, width) = image_size(&model.spec().input).map_err(|message| {
        Error::config(format!("{}: {message}; predict reads one grayscale image", args.weights.display()))
    })?;
    let (mut pixels, w, h) = read_gray_png(image)?;
    if (w, h) != (width, height) {
        return Err(Error::format(
            image,
            "PNG size",
            format!("{w}×{h} pixels, expected {width}×{height}, the size of the model's input images"),
        ));
    }
    if args.invert {
        pixels.iter_mut().for_each(|p| *p = 1.0 - *p);
    }
    let mut x = Tensor::from_vec(pixels, &[1, width * height]);
    norm.apply_inputs(&mut x).map_err(|outlier| {
        let (x, y) = (outlier.column % width, outlier.column / width);
        Error::format(
            &args.weights,
            "metadata 'nabla.normalization'",
            format!("pixel ({x}, {y}) of the image: {outlier}"),
        )
    })?;
    let (probs, spread) = match args.mc_samples {
        Some(k) => {
            let mc = mc_predict(&mut model, &x, k, args.seed);
            (mc.mean, Some((mc.std, mc.entropy[0])))
        }
        None => (runner.predict(&mut model, &x), None),
    };
    let class = probs.argmax_rows()[0];
    if args.json {
        let mut out = serde_json::json!({ "class": class, "probabilities": probs.data() });
        if let Some((std, entropy)) = &spread {
            out["std"] = std.data().into();
            out["entropy"] = json_f32(*entropy);
        }
        outln!("{out}");
    } else {
        outln!("class {class}");
        for (k, p) in probs.data().iter().enumerate() {
            match &spread {
                Some((std, _)) => outln!("  {k}: {p:.4} ± {:.4}", std.data()[k]),
                None => outln!("  {k}: {p:.4}"),
            }
        }
        if let Some((_, entropy)) = spread {
            outln!("predictive entropy {entropy:.4} nats (0: certain, ln 10 = 2.30: uniform)");
        }
    }
    Ok(())
}

/// The (height, width) of the images that a model with input shape `input` takes: [1, H, W] or
/// [H, W] (an LSTM over the rows), or [N] with N a square (an MLP on flattened N = K×K images,
/// 784 for MNIST's 28×28); an error for other shapes.
fn image_size(input: &[usize]) -> std::result::Result<(usize, usize), String> {
    match *input {
        [1, h, w] | [h, w] => Ok((h, w)),
        [c, _, _] => Err(format!("the model takes images of {c} channels ({input:?})")),
        [n] if n.isqrt() * n.isqrt() == n && n > 0 => Ok((n.isqrt(), n.isqrt())),
        _ => Err(format!("the model's input {input:?} is not a square image nor one channel of one")),
    }
}

#[cfg(test)]
mod tests {
    use super::image_size;

    #[test]
    fn image_size_follows_the_models_input_shape() {
        assert_eq!(image_size(&[784]), Ok((28, 28)));
        assert_eq!(image_size(&[1, 28, 28]), Ok((28, 28)));
        assert_eq!(image_size(&[28, 14]), Ok((28, 14)));
        assert!(image_size(&[3, 224, 224]).unwrap_err().contains("3 channels"));
        assert!(image_size(&[5]).unwrap_err().contains("[5]"));
        assert!(image_size(&[0]).is_err());
    }
}
