//! Where training and test data come from (`--data`), and the input normalisation that a
//! checkpoint carries so that eval and predict see inputs exactly as training did.

use nabla::data::{CsvOptions, Dataset, Task, load_csv, load_mnist, parse_target};
use nabla::{Error, Result, Tensor};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// MNIST's pixel mean and standard deviation (after scaling to [0, 1]), as PyTorch's examples use.
pub const MNIST_MEAN: f32 = 0.1307;
/// See [`MNIST_MEAN`].
pub const MNIST_STD: f32 = 0.3081;

/// The checkpoint metadata key of [`Normalization`].
const NORMALIZATION_KEY: &str = "nabla.normalization";

/// x ← (x − mean)/std, with one mean and std for all inputs or one per input column.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Normalization {
    pub mean: Vec<f32>,
    pub std: Vec<f32>,
}

impl Normalization {
    /// A model spec's input map x′ = zero + (one − zero)·x (LeNet-5: background −0.1, ink 1.175),
    /// written as the normalisation (x − mean)/std, so that checkpoints carry it as they carry
    /// the default one.
    pub fn from_input_map(map: nabla::nn::InputMap) -> Normalization {
        let (mean, std) = map.mean_std();
        Normalization { mean: vec![mean], std: vec![std] }
    }

    /// Normalises the inputs of `data`.
    pub fn apply(&self, data: &mut Dataset) {
        self.apply_inputs(&mut data.inputs);
    }

    /// Normalises input rows `x` (n, d): x ← (x − mean)/std, with the one mean and std, or with
    /// column j's. Panics if there are per-column statistics for other than d columns.
    pub fn apply_inputs(&self, x: &mut Tensor) {
        let (_, d) = x.dims2("normalization");
        let per_column = self.mean.len() != 1;
        assert!(
            !per_column || (self.mean.len() == d && self.std.len() == d),
            "normalization: {} means and {} stds for {d} columns",
            self.mean.len(),
            self.std.len()
        );
        for row in x.data_mut().chunks_exact_mut(d.max(1)) {
            for (j, v) in row.iter_mut().enumerate() {
                let c = if per_column { j } else { 0 };
                *v = (*v - self.mean[c]) / self.std[c];
            }
        }
    }

    /// The normalisation stored in a checkpoint's metadata `meta`; `path` names the checkpoint in
    /// errors.
    pub fn from_checkpoint(path: &Path, meta: &HashMap<String, String>) -> Result<Normalization> {
        let text = meta
            .get(NORMALIZATION_KEY)
            .ok_or_else(|| Error::format(path, "metadata", format!("no '{NORMALIZATION_KEY}' entry")))?;
        serde_json::from_str(text)
            .map_err(|e| Error::format(path, format!("metadata '{NORMALIZATION_KEY}'"), e.to_string()))
    }

    /// The checkpoint metadata that [`Normalization::from_checkpoint`] reads back.
    pub fn checkpoint_meta(&self) -> HashMap<String, String> {
        let json = serde_json::to_string(self).expect("numbers always serialize");
        HashMap::from([(NORMALIZATION_KEY.to_string(), json)])
    }
}

/// Training and test data, normalised, and how.
pub struct Source {
    pub train: Dataset,
    pub test: Dataset,
    pub normalization: Normalization,
}

/// Options of `--data` shared by train and eval.
#[derive(clap::Args, Debug, Clone, Serialize, Deserialize)]
pub struct DataArgs {
    /// `mnist` (the bundled copy), a folder of MNIST IDX files (raw or .gz), or a CSV file.
    #[arg(long, default_value = "mnist")]
    pub data: String,
    /// For a CSV file: the target column, by name or 0-based index.
    #[arg(long)]
    pub target: Option<String>,
    /// For a CSV file: predict a number (regression) instead of a class.
    #[arg(long)]
    pub regression: bool,
    /// For a CSV file: the fraction of rows held out as the test set (seeded by --seed).
    #[arg(long, default_value_t = 0.2)]
    pub test_split: f32,
}

/// The bundled MNIST folder: `data/mnist` under the current folder, else under the source tree.
pub(crate) fn bundled_mnist() -> PathBuf {
    let here = PathBuf::from("data/mnist");
    if here.is_dir() { here } else { Path::new(env!("CARGO_MANIFEST_DIR")).join("data/mnist") }
}

/// Loads `--data`, splits a CSV into train and test with `seed`, and normalises both with
/// statistics of the training part (MNIST: mean 0.1307, std 0.3081), or with `given`: a
/// checkpoint's when evaluating it, a model spec's input map when training.
pub fn load(args: &DataArgs, seed: u64, given: Option<&Normalization>) -> Result<Source> {
    let path = if args.data == "mnist" { bundled_mnist() } else { PathBuf::from(&args.data) };
    let (mut train, mut test, normalization) = if path.is_dir() {
        let (train, test) = load_mnist(&path)?;
        (train, test, Normalization { mean: vec![MNIST_MEAN], std: vec![MNIST_STD] })
    } else if path.is_file() {
        let target = args.target.as_deref().ok_or_else(|| {
            Error::config(format!("{}: a CSV file needs --target COLUMN (a name or a 0-based index)", path.display()))
        })?;
        let task = if args.regression { Task::Regression } else { Task::Classification };
        let table = load_csv(&path, &CsvOptions { target: parse_target(target), task, header: None })?;
        if !(0.0..1.0).contains(&args.test_split) {
            return Err(Error::config(format!("--test-split {} must be in [0, 1)", args.test_split)));
        }
        let (train, test) = table.split(args.test_split, seed);
        // statistics of the training part only: the test set must not leak into training
        let (mean, std) = train.clone().standardize_columns();
        (train, test, Normalization { mean, std })
    } else {
        return Err(Error::config(format!(
            "--data {}: no such file or folder (expected mnist, a folder of IDX files, or a CSV file)",
            args.data
        )));
    };
    let normalization = given.cloned().unwrap_or(normalization);
    normalization.apply(&mut train);
    normalization.apply(&mut test);
    Ok(Source { train, test, normalization })
}
