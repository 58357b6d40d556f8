//! `nabla eval`: the test loss and accuracy of saved weights.

use super::train::json_f32;
use super::source::{self, DataArgs, NORMALIZATION_KEY, Normalization};
use clap::Args;
use nabla::io::load_checkpoint;
use nabla::train::evaluate;
use nabla::{Error, Result};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

#[derive(Args, Debug)]
pub struct EvalArgs {
    /// Weights saved by `nabla train`.
    #[arg(long)]
    pub weights: PathBuf,
    #[command(flatten)]
    pub data: DataArgs,
    /// The seed that split a CSV file when the model was trained.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Print the figures as one JSON object on the last line of stdout.
    #[arg(long)]
    pub json: bool,
}

/// The input normalisation stored in a checkpoint's metadata.
pub fn normalization(path: &Path, meta: &HashMap<String, String>) -> Result<Normalization> {
    let text = meta
        .get(NORMALIZATION_KEY)
        .ok_or_else(|| Error::format(path, "metadata", format!("no '{NORMALIZATION_KEY}' entry")))?;
    serde_json::from_str(text).map_err(|e| Error::format(path, format!("metadata '{NORMALIZATION_KEY}'"), e.to_string()))
}

pub fn run(args: EvalArgs) -> Result<()> {
    let (mut model, meta) = load_checkpoint(&args.weights)?;
    let norm = normalization(&args.weights, &meta)?;
    let data = source::load(&args.data, args.seed, Some(&norm))?;
    let want = model.spec().input_size();
    if data.test.inputs.shape()[1] != want || data.test.targets.shape()[1] != model.spec().output_size()? {
        return Err(Error::config(format!(
            "{}: the model takes {} inputs and gives {} outputs, but --data {} has {} inputs and {} targets",
            args.weights.display(),
            want,
            model.spec().output_size()?,
            args.data.data,
            data.test.inputs.shape()[1],
            data.test.targets.shape()[1]
        )));
    }
    let e = evaluate(&mut model, &data.test, 1000);
    match e.accuracy {
        Some(a) => println!("test loss {:.4}  test acc {:.2}%  ({} samples)", e.loss, 100.0 * a, data.test.len()),
        None => println!("test loss {:.4}  ({} samples)", e.loss, data.test.len()),
    }
    if args.json {
        println!(
            "{}",
            serde_json::json!({
                "model": model.spec().name,
                "weights": args.weights,
                "test_loss": json_f32(e.loss),
                "test_accuracy": e.accuracy.map(json_f32),
                "test_samples": data.test.len(),
            })
        );
    }
    Ok(())
}
