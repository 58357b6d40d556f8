//! `nabla import`: weights from another framework as a nabla model file, for `eval`, `predict`,
//! `export` or fine-tuning through the library. The work is in the library (`nabla::io::torch`
//! for PyTorch, `nabla::io::onnx` for ONNX).

use super::shared::limits::LimitArgs;
use super::shared::print::{errln, outln};
use super::shared::source::Normalization;
use clap::{Args, ValueEnum};
use nabla::data::text::VOCABULARY_KEY;
use nabla::io::onnx::{RawInput, import_onnx};
use nabla::io::torch::{import_torch, torch_export_spec};
use nabla::io::{check_writable, save_checkpoint};
use nabla::nn::{Model, ModelSpec, Module};
use nabla::{Error, Result};
use std::collections::HashMap;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct ImportArgs {
    /// The format of --weights.
    #[arg(long, value_enum)]
    pub from: ImportFormat,
    /// torch: a state dict saved as safetensors (`safetensors.torch.save_file(net.state_dict(), …)`);
    /// onnx: an ONNX model whose initialisers have the names and layouts `nabla export` gives them.
    #[arg(long)]
    pub weights: PathBuf,
    /// The network as a spec file (the layers in the state dict's, or the ONNX graph's, order).
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
    /// An ONNX model (what `nabla export --format onnx` writes).
    Onnx,
}

pub fn run(args: ImportArgs) -> Result<()> {
    check_writable(&args.out)?;
    let given = match (&args.spec, &args.model) {
        (Some(path), _) => Some(ModelSpec::load(&path.to_string_lossy())?),
        (None, Some(name)) => Some(ModelSpec::load(name)?),
        (None, None) => None,
    };
    let no_spec = || {
        Error::config(format!(
            "{}: no spec stored in the file (not written by `nabla export`): give the network with --spec FILE or \
             --model NAME",
            args.weights.display()
        ))
    };
    let limits = args.limits.limits();
    let (model, norm, mut meta) = match args.from {
        ImportFormat::Torch => {
            let spec = match given {
                Some(spec) => spec,
                None => torch_export_spec(&args.weights)?.ok_or_else(no_spec)?,
            };
            let (model, norm) = import_torch(&args.weights, spec, &limits)?;
            (model, norm.map(|n| Normalization { mean: n.mean, std: n.std }), HashMap::new())
        }
        ImportFormat::Onnx => {
            let imported = import_onnx(&args.weights, given, &limits)?;
            if !imported.not_in_file.is_empty() {
                errln!(
                    "{} holds no {} (auxiliary heads are dropped at export): they keep fresh weights",
                    args.weights.display(),
                    imported.not_in_file.join(", ")
                );
            }
            // a character model's vocabulary goes with it, for `nabla sample`
            let meta: HashMap<String, String> =
                imported.metadata.into_iter().filter(|(key, _)| key == VOCABULARY_KEY).collect();
            match imported.scaling {
                Some(s) if s.raw == RawInput::Symbols => {
                    save_checkpoint(&args.out, &imported.model, &meta)?;
                    return wrote(&args, &imported.model);
                }
                scaling => (imported.model, scaling.map(|s| Normalization { mean: s.mean, std: s.std }), meta),
            }
        }
    };
    let norm = match (norm, model.spec().input_map) {
        (Some(norm), _) => norm,
        (None, Some(map)) => Normalization::from_input_map(map),
        (None, None) => {
            errln!("no input normalisation in {}: inputs will be used as they are", args.weights.display());
            Normalization { mean: vec![0.0], std: vec![1.0] }
        }
    };
    let place = match args.from {
        ImportFormat::Torch => "tensors 'input_mean', 'input_std'",
        ImportFormat::Onnx => "initializers 'input.mean', 'input.std'",
    };
    norm.check(model.spec().input_size()).map_err(|message| Error::format(&args.weights, place, message))?;
    meta.extend(norm.checkpoint_meta());
    save_checkpoint(&args.out, &model, &meta)?;
    wrote(&args, &model)
}

/// Says what was written.
fn wrote(args: &ImportArgs, model: &Model) -> Result<()> {
    outln!("wrote {} (model '{}', {} parameters)", args.out.display(), model.spec().name, model.num_parameters());
    Ok(())
}
