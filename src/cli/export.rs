//! `nabla export`: saved weights in another framework's format. A thin dispatcher over the
//! formats; each format's work is in the library (`nabla::io::torch` for PyTorch,
//! `nabla::io::onnx` for ONNX, whose graph starts with the checkpoint's input scaling, so that it
//! takes raw pixels (0–255) or raw table columns).

use super::shared::limits::LimitArgs;
use super::shared::print::{errln, outln};
use super::shared::source::{NORMALIZATION_KEY, Normalization, PADDED_KEY};
use clap::{Args, ValueEnum};
use nabla::data::text::VOCABULARY_KEY;
use nabla::io::onnx::{InputScaling, RawInput, export_onnx};
use nabla::io::torch::{InputNorm, save_torch};
use nabla::io::{check_writable, load_checkpoint_limited};
use nabla::nn::LayerSpec;
use nabla::{Error, Result};
use std::path::{Path, PathBuf};

#[derive(Args, Debug)]
pub struct ExportArgs {
    /// Weights saved by `nabla train` (or `nabla import`).
    #[arg(long)]
    pub weights: PathBuf,
    /// The format to write.
    #[arg(long, value_enum)]
    pub format: ExportFormat,
    /// The file to write (torch: the state dict as safetensors; replaced atomically).
    #[arg(long)]
    pub out: PathBuf,
    /// torch: where to write the Python file defining the module (default: model.py beside --out).
    #[arg(long)]
    pub py: Option<PathBuf>,
    #[command(flatten)]
    pub limits: LimitArgs,
}

/// The formats `nabla export` writes.
#[derive(Clone, Copy, Debug, ValueEnum)]
pub enum ExportFormat {
    /// PyTorch: safetensors in torch.nn's names and layouts, and a Python file defining the module.
    Torch,
    /// An ONNX model (opset 20) for onnxruntime, tract, TensorRT, …
    Onnx,
}

pub fn run(args: ExportArgs) -> Result<()> {
    match args.format {
        ExportFormat::Torch => torch(&args),
        ExportFormat::Onnx => onnx(&args),
    }
}

/// `--format onnx`.
fn onnx(args: &ExportArgs) -> Result<()> {
    check_writable(&args.out)?;
    let (model, meta) = load_checkpoint_limited(&args.weights, &args.limits.limits())?;
    if meta.contains_key(PADDED_KEY) {
        refuse_masked(&args.weights, model.spec())?;
    }
    let inputs = model.spec().input_size();
    let (scaling, extra) = if matches!(model.spec().layers.first().map(|l| &l.spec), Some(LayerSpec::OneHot(_))) {
        // a character model reads symbol indices; its vocabulary says which symbol each is
        let vocabulary = meta.get(VOCABULARY_KEY).map(|v| (VOCABULARY_KEY.to_string(), v.clone()));
        (InputScaling::symbols(), vocabulary.into_iter().collect())
    } else {
        let norm = Normalization::from_checkpoint(&args.weights, &meta, inputs)?;
        // one mean and std per input value are a table's per-column statistics (as is the one
        // pair of a one-column table); one pair for many inputs is that of images, whose pixels
        // nabla's readers divide by 255 first
        let raw = if norm.mean.len() == inputs { RawInput::Columns } else { RawInput::Pixels };
        (InputScaling { raw, mean: norm.mean, std: norm.std }, Vec::new())
    };
    export_onnx(&model, &scaling, &extra, &args.out)?;
    let takes = match scaling.raw {
        RawInput::Pixels => "raw pixels 0-255",
        RawInput::Columns => "raw table columns",
        RawInput::Symbols => "symbol indices (the vocabulary is in the metadata)",
    };
    outln!("wrote {} (ONNX opset {}): input takes {takes}", args.out.display(), nabla::io::onnx::OPSET);
    Ok(())
}

/// A model trained on padded sequences: the exported graph runs every one of its T steps, as
/// nabla does at a forward layer's real steps; a layer that gives its last state or reads the
/// steps backwards would start or end in the padding, so the export is refused.
fn refuse_masked(path: &Path, spec: &nabla::nn::ModelSpec) -> Result<()> {
    for (k, layer) in spec.layers.iter().enumerate() {
        let (sequence, bidirectional) = match &layer.spec {
            LayerSpec::Lstm(l) => (l.sequence, l.bidirectional),
            LayerSpec::Gru(g) => (g.sequence, g.bidirectional),
            LayerSpec::Rnn(r) => (r.sequence, false),
            _ => continue,
        };
        if !sequence || bidirectional {
            let what = if bidirectional { "reads the steps backwards" } else { "gives its last state" };
            return Err(Error::config(format!(
                "{}: layer {k} ({}) {what}, which the model was trained to take at each sequence's last real \
                 step; an ONNX graph of fixed T steps cannot stop a padded row there (only forward layers with \
                 sequence = true, such as a tagger's, export)",
                path.display(),
                layer.spec.kind()
            )));
        }
    }
    Ok(())
}

/// `--format torch`.
fn torch(args: &ExportArgs) -> Result<()> {
    let py = args.py.clone().unwrap_or_else(|| args.out.with_file_name("model.py"));
    if py == args.out {
        return Err(Error::config(format!("--py {}: the same file as --out", py.display())));
    }
    check_writable(&args.out)?;
    check_writable(&py)?;
    let (model, meta) = load_checkpoint_limited(&args.weights, &args.limits.limits())?;
    let norm = input_norm(&args.weights, &meta, model.spec())?;
    save_torch(&args.out, &py, &model, &norm)?;
    outln!("wrote {} (state dict) and {} (the module: build())", args.out.display(), py.display());
    Ok(())
}

/// The checkpoint's input normalisation; for a file without one (saved by the library), the
/// spec's input map, or none.
fn input_norm(
    path: &Path,
    meta: &std::collections::HashMap<String, String>,
    spec: &nabla::nn::ModelSpec,
) -> Result<InputNorm> {
    let norm = if meta.contains_key(NORMALIZATION_KEY) {
        Normalization::from_checkpoint(path, meta, spec.input_size())?
    } else if let Some(map) = spec.input_map {
        Normalization::from_input_map(map)
    } else {
        errln!("{}: no '{NORMALIZATION_KEY}' entry: the module takes inputs as the network sees them", path.display());
        return Ok(InputNorm::identity());
    };
    Ok(InputNorm { mean: norm.mean, std: norm.std })
}
