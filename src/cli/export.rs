//! `nabla export`: saved weights in a format other tools run. `--format onnx` writes an ONNX
//! model whose graph starts with the checkpoint's input scaling, so that it takes raw pixels
//! (0–255) or raw table columns (see `nabla::io::onnx`).

use super::shared::limits::LimitArgs;
use super::shared::print::outln;
use super::shared::source::Normalization;
use clap::{Args, ValueEnum};
use nabla::Result;
use nabla::io::onnx::{InputScaling, RawInput, export_onnx};
use nabla::io::{check_writable, load_checkpoint_limited};
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct ExportArgs {
    /// Weights saved by `nabla train`.
    #[arg(long)]
    pub weights: PathBuf,
    /// The format to write.
    #[arg(long, value_enum)]
    pub format: Format,
    /// The file to write (replaced atomically).
    #[arg(long)]
    pub out: PathBuf,
    #[command(flatten)]
    pub limits: LimitArgs,
}

/// The formats `nabla export` writes.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum Format {
    /// An ONNX model (opset 20) for onnxruntime, tract, TensorRT, …
    Onnx,
}

pub fn run(args: ExportArgs) -> Result<()> {
    check_writable(&args.out)?;
    let (model, meta) = load_checkpoint_limited(&args.weights, &args.limits.limits())?;
    match args.format {
        Format::Onnx => {
            let inputs = model.spec().input_size();
            let norm = Normalization::from_checkpoint(&args.weights, &meta, inputs)?;
            let scaling = onnx_scaling(norm, inputs);
            export_onnx(&model, &scaling, &args.out)?;
            let raw = match scaling.raw {
                RawInput::Pixels => "raw pixels 0-255",
                RawInput::Columns => "raw table columns",
            };
            outln!("wrote {} (ONNX opset {}): input takes {raw}", args.out.display(), nabla::io::onnx::OPSET);
        }
    }
    Ok(())
}

/// What the checkpoint's normalisation was applied to: one mean and std per input value are a
/// table's per-column statistics (as is the one pair of a one-column table); one pair for many
/// inputs is that of images, whose pixels nabla's readers divide by 255 first.
fn onnx_scaling(norm: Normalization, inputs: usize) -> InputScaling {
    let raw = if norm.mean.len() == inputs { RawInput::Columns } else { RawInput::Pixels };
    InputScaling { raw, mean: norm.mean, std: norm.std }
}
