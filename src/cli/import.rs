//! `nabla import`: weights from another framework as a nabla model file, for `eval`, `predict`,
//! `export` or fine-tuning through the library. The work is in the library (`nabla::io::torch`
//! for PyTorch).

use super::shared::limits::LimitArgs;
use super::shared::print::{errln, outln};
use super::shared::source::Normalization;
use clap::{Args, ValueEnum};
use nabla::io::torch::{import_torch, torch_export_spec};
use nabla::io::{check_writable, save_checkpoint};
use nabla::nn::{ModelSpec, Module};
use nabla::{Error, Result};
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct ImportArgs {
    /// The format of --weights.
    #[arg(long, value_enum)]
    pub from: ImportFormat,
    /// torch: a state dict saved as safetensors (`safetensors.torch.save_file(net.state_dict(), …)`).
    #[arg(long)]
    pub weights: PathBuf,
    /// The network as a spec file (the layers in the state dict's order).
    #[arg(long, conflicts_with = "model")]
    pub spec: Option<PathBuf>,
    /// The network as a zoo model. Without --spec or --model, the spec stored by `nabla export`.
    #[arg(long)]
    pub model: Option<String>,
    /// The nabla model file to write.
    #[arg(long)]
    pub out: PathBuf,
    #[command(flatten)]
    pub limits: LimitArgs,
}

/// The formats `nabla import` reads.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum ImportFormat {
    /// A PyTorch state dict in torch.nn's names and layouts (what `nabla export --format torch` writes).
    Torch,
}

pub fn run(args: ImportArgs) -> Result<()> {
    check_writable(&args.out)?;
    let spec = match (&args.spec, &args.model) {
        (Some(path), _) => ModelSpec::load(&path.to_string_lossy())?,
        (None, Some(name)) => ModelSpec::load(name)?,
        (None, None) => torch_export_spec(&args.weights)?.ok_or_else(|| {
            Error::config(format!(
                "{}: no spec stored in the file (not written by `nabla export`): give the network with --spec \
                 FILE or --model NAME",
                args.weights.display()
            ))
        })?,
    };
    let (model, norm) = match args.from {
        ImportFormat::Torch => import_torch(&args.weights, spec, &args.limits.limits())?,
    };
    let norm = match (norm, model.spec().input_map) {
        (Some(norm), _) => Normalization { mean: norm.mean, std: norm.std },
        (None, Some(map)) => Normalization::from_input_map(map),
        (None, None) => {
            errln!("no input_mean/input_std in {}: inputs will be used as they are", args.weights.display());
            Normalization { mean: vec![0.0], std: vec![1.0] }
        }
    };
    norm.check(model.spec().input_size())
        .map_err(|message| Error::format(&args.weights, "tensors 'input_mean', 'input_std'", message))?;
    save_checkpoint(&args.out, &model, &norm.checkpoint_meta())?;
    outln!("wrote {} (model '{}', {} parameters)", args.out.display(), model.spec().name, model.num_parameters());
    Ok(())
}
