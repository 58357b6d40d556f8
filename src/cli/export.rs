//! `nabla export`: saved weights in another framework's format. A thin dispatcher over the
//! formats; each format's work is in the library (`nabla::io::torch` for PyTorch).

use super::shared::limits::LimitArgs;
use super::shared::print::{errln, outln};
use super::shared::source::{NORMALIZATION_KEY, Normalization};
use clap::{Args, ValueEnum};
use nabla::io::torch::{InputNorm, save_torch};
use nabla::io::{check_writable, load_checkpoint_limited};
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
    /// The file to write (torch: the state dict as safetensors).
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
}

pub fn run(args: ExportArgs) -> Result<()> {
    match args.format {
        ExportFormat::Torch => torch(&args),
    }
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
