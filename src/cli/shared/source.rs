//! Where training and test data come from (`--data`), and the input normalisation that a
//! checkpoint carries so that eval and predict see inputs exactly as training did.

use super::images::{ImageArgs, pixel_statistics};
use nabla::data::{
    CsvOptions, Dataset, Inputs, Task, input_column_names, is_image_folder, load_csv, load_image_folder, load_mnist,
    parse_target,
};
use nabla::{Error, Result, Tensor};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// MNIST's pixel mean and standard deviation (after scaling to [0, 1]), as PyTorch's examples use.
pub const MNIST_MEAN: f32 = 0.1307;
/// See [`MNIST_MEAN`].
pub const MNIST_STD: f32 = 0.3081;

/// The largest magnitude of a normalised input. Standardised training data stays within ±√N; a
/// value a million standard deviations from the training mean (a stray 3e38 in a CSV, a std of
/// 1e-40 in a checkpoint) is a typo or a missing-value marker, and once it reaches the network
/// its activations and loss overflow (a test loss of 3·10³⁶, or NaN) instead of saying why.
pub const MAX_STANDARDISED: f32 = 1e6;

/// An input that [`Normalization::apply_inputs`] refused: where it is and what it became.
#[derive(Clone, Copy, Debug)]
pub struct Outlier {
    /// Its column (the index into a row).
    pub column: usize,
    pub value: f32,
    pub mean: f32,
    pub std: f32,
    pub normalised: f32,
}

impl std::fmt::Display for Outlier {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        write!(
            f,
            "the value {:e} becomes {:e} once normalised with mean {} and std {}; expected values within \
             ±{MAX_STANDARDISED:e} standard deviations of the training data's mean (is it a typo or a \
             missing-value marker?)",
            self.value, self.normalised, self.mean, self.std
        )
    }
}

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

    /// Checks the statistics against a model or data with `inputs` input columns: one mean and one
    /// std, or one of each per column; finite means; finite stds other than 0. A std is negative
    /// only as the single std of an --input-map whose ONE is below its ZERO (it inverts the
    /// images); per-column stds, computed from data, are positive.
    pub fn check(&self, inputs: usize) -> std::result::Result<(), String> {
        let (means, stds) = (self.mean.len(), self.std.len());
        if means != stds || !(means == 1 || means == inputs) {
            return Err(format!(
                "{means} means and {stds} stds for {inputs} inputs; expected one of each, or one of each per input"
            ));
        }
        if let Some((j, m)) = self.mean.iter().enumerate().find(|(_, m)| !m.is_finite()) {
            return Err(format!("mean {j} is {m}; expected a finite number"));
        }
        let valid = |s: f32| s.is_finite() && (s > 0.0 || (s < 0.0 && stds == 1));
        if let Some((j, s)) = self.std.iter().enumerate().find(|(_, s)| !valid(**s)) {
            return Err(format!(
                "std {j} is {s}; expected a positive finite number (inputs are divided by it: 0 makes them infinite)"
            ));
        }
        Ok(())
    }

    /// Normalises input rows `x` (n, d): x ← (x − mean)/std, with the one mean and std, or with
    /// column j's; stops at the first value that is not finite once normalised, or beyond
    /// ±[`MAX_STANDARDISED`], and returns it. Panics unless [`Normalization::check`] accepts d.
    pub fn apply_inputs(&self, x: &mut Tensor) -> std::result::Result<(), Outlier> {
        let (_, d) = x.dims2("normalization");
        let per_column = self.mean.len() != 1;
        assert!(
            !per_column || (self.mean.len() == d && self.std.len() == d),
            "normalization: {} means and {} stds for {d} columns",
            self.mean.len(),
            self.std.len()
        );
        for values in x.data_mut().chunks_exact_mut(d.max(1)) {
            for (column, v) in values.iter_mut().enumerate() {
                let c = if per_column { column } else { 0 };
                let (value, mean, std) = (*v, self.mean[c], self.std[c]);
                *v = (value - mean) / std;
                if !v.is_finite() || v.abs() > MAX_STANDARDISED {
                    return Err(Outlier { column, value, mean, std, normalised: *v });
                }
            }
        }
        Ok(())
    }

    /// Normalises a dataset's inputs as [`Normalization::apply_inputs`] does. Bytes (images) with
    /// one mean and std stay bytes: the 256 values they stand for are normalised, each with the
    /// same f32 operations as a pixel would be, and an outlier is the first pixel whose value is
    /// one.
    pub fn apply_to(&self, inputs: &mut Inputs) -> std::result::Result<(), Outlier> {
        let Inputs::Bytes(rows) = inputs else { return self.apply_inputs(inputs.tensor_mut()) };
        let ([mean], [std]) = (&self.mean[..], &self.std[..]) else { return self.apply_inputs(inputs.tensor_mut()) };
        let normalised = rows.values().map(|v| (v - mean) / std);
        let bad = |v: f32| !v.is_finite() || v.abs() > MAX_STANDARDISED;
        let d = rows.shape()[1];
        // the pixels are searched only when some byte value would be out of range
        let first_bad = || rows.bytes().iter().position(|&b| bad(normalised[b as usize]));
        if let Some(i) = normalised.iter().any(|&v| bad(v)).then(first_bad).flatten() {
            let b = rows.bytes()[i] as usize;
            let value = rows.values()[b];
            return Err(Outlier { column: i % d, value, mean: *mean, std: *std, normalised: normalised[b] });
        }
        rows.map_values(|v| (v - mean) / std);
        Ok(())
    }

    /// The normalisation stored in a checkpoint's metadata `meta`, checked against the model's
    /// `inputs`; `path` names the checkpoint in errors.
    pub fn from_checkpoint(path: &Path, meta: &HashMap<String, String>, inputs: usize) -> Result<Normalization> {
        let place = format!("metadata '{NORMALIZATION_KEY}'");
        let text = meta
            .get(NORMALIZATION_KEY)
            .ok_or_else(|| Error::format(path, "metadata", format!("no '{NORMALIZATION_KEY}' entry")))?;
        let norm: Normalization =
            serde_json::from_str(text).map_err(|e| Error::format(path, place.clone(), e.to_string()))?;
        norm.check(inputs).map_err(|message| Error::format(path, place, message))?;
        Ok(norm)
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
    /// The class names of an image folder (its subfolders), `None` for MNIST and tables.
    pub classes: Option<Vec<String>>,
}

/// Training and test data as read and split, before normalisation, with the statistics that
/// normalise them by default (MNIST's, or those of a CSV file's training part). Commands that
/// check the data against a model (eval) do so here, before [`RawSource::normalize`].
pub struct RawSource {
    pub train: Dataset,
    pub test: Dataset,
    pub own: Normalization,
    /// The CSV file and how it was read, to name columns in errors (None for MNIST).
    csv: Option<(PathBuf, CsvOptions)>,
    /// The class names of an image folder, `None` for MNIST and tables.
    pub classes: Option<Vec<String>>,
    /// `--data` as given.
    data: String,
}
/// Options of `--data` shared by train and eval.
#[derive(clap::Args, Debug, Clone, Serialize, Deserialize)]
pub struct DataArgs {
    /// `mnist` (the bundled copy), a folder of MNIST IDX files (raw or .gz), a folder of class
    /// subfolders of PNG/JPEG images, or a CSV file.
    #[arg(long, default_value = "mnist")]
    pub data: String,
    /// For a CSV file: the target column, by name or 0-based index.
    #[arg(long)]
    pub target: Option<String>,
    /// For a CSV file: predict a number (regression) instead of a class.
    #[arg(long)]
    pub regression: bool,
    /// For a CSV file or an image folder: the fraction of rows held out as the test set (seeded
    /// by --seed).
    #[arg(long, default_value_t = 0.2)]
    pub test_split: f32,
    #[command(flatten)]
    pub images: ImageArgs,
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
    read(args, seed)?.normalize(given)
}

/// Loads `--data` and splits a CSV into train and test with `seed`, as [`load`] does, without
/// normalising.
pub fn read(args: &DataArgs, seed: u64) -> Result<RawSource> {
    if !(0.0..1.0).contains(&args.test_split) {
        return Err(Error::config(format!("--test-split {} must be in [0, 1)", args.test_split)));
    }
    let path = if args.data == "mnist" { bundled_mnist() } else { PathBuf::from(&args.data) };
    if path.is_dir() && is_image_folder(&path) {
        let format = args.images.format()?;
        let folder = load_image_folder(&path, format)?;
        let (train, test) = folder.data.split(args.test_split, seed);
        let own = pixel_statistics(&train);
        let classes = Some(folder.classes);
        Ok(RawSource { train, test, own, csv: None, classes, data: args.data.clone() })
    } else if path.is_dir() {
        let (train, test) = load_mnist(&path)?;
        let own = Normalization { mean: vec![MNIST_MEAN], std: vec![MNIST_STD] };
        Ok(RawSource { train, test, own, csv: None, classes: None, data: args.data.clone() })
    } else if path.is_file() {
        let target = args.target.as_deref().ok_or_else(|| {
            Error::config(format!("{}: a CSV file needs --target COLUMN (a name or a 0-based index)", path.display()))
        })?;
        let task = if args.regression { Task::Regression } else { Task::Classification };
        let options = CsvOptions { target: parse_target(target), task, header: None };
        let table = load_csv(&path, &options)?;
        let (train, test) = table.split(args.test_split, seed);
        // statistics of the training part only: the test set must not leak into training
        let (mean, std) = train.clone().standardize_columns();
        let own = Normalization { mean, std };
        Ok(RawSource { train, test, own, csv: Some((path, options)), classes: None, data: args.data.clone() })
    } else {
        Err(Error::config(format!(
            "--data {}: no such file or folder (expected mnist, a folder of IDX files, a folder of class \
             subfolders of images, or a CSV file)",
            args.data
        )))
    }
}

impl RawSource {
    /// The data normalised with `given` (else with its own statistics). An error names the data
    /// when `given` does not fit its columns, and the file, column and value when an input is not
    /// finite, or far out of range, once normalised.
    pub fn normalize(self, given: Option<&Normalization>) -> Result<Source> {
        let RawSource { mut train, mut test, own, csv, classes, data } = self;
        let normalization = given.cloned().unwrap_or(own);
        let columns = train.inputs.shape()[1];
        normalization.check(columns).map_err(|message| {
            Error::config(format!("--data {data}: the input normalisation does not fit: {message}"))
        })?;
        for set in [&mut train, &mut test] {
            if let Err(outlier) = normalization.apply_to(&mut set.inputs) {
                return Err(match &csv {
                    Some((path, options)) => {
                        let names = input_column_names(path, options)?;
                        let column = names.get(outlier.column).cloned();
                        Error::format(
                            path,
                            column.unwrap_or_else(|| format!("input {}", outlier.column)),
                            outlier.to_string(),
                        )
                    }
                    None => Error::config(format!("--data {data}: input {}: {outlier}", outlier.column)),
                });
            }
        }
        Ok(Source { train, test, normalization, classes })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(mean: &[f32], std: &[f32]) -> Normalization {
        Normalization { mean: mean.to_vec(), std: std.to_vec() }
    }

    #[test]
    fn check_accepts_one_or_per_column_statistics_and_refuses_the_rest() {
        assert!(norm(&[0.1], &[0.3]).check(784).is_ok());
        assert!(norm(&[0.0, 1.0], &[1.0, 2.0]).check(2).is_ok());
        // an --input-map 1,0 inverts the images: its one std is negative
        assert!(norm(&[1.0], &[-1.0]).check(784).is_ok());
        assert!(norm(&[0.0, 1.0], &[1.0, -2.0]).check(2).unwrap_err().contains("std 1 is -2"));
        assert!(norm(&[0.0, 1.0], &[1.0, 2.0]).check(3).unwrap_err().contains("2 means and 2 stds for 3 inputs"));
        assert!(norm(&[0.0], &[]).check(1).is_err());
        assert!(norm(&[f32::NAN], &[1.0]).check(1).unwrap_err().contains("mean 0 is NaN"));
        assert!(norm(&[0.0], &[0.0]).check(1).unwrap_err().contains("std 0 is 0"));
        assert!(norm(&[0.0], &[f32::INFINITY]).check(1).is_err());
    }

    #[test]
    fn apply_inputs_stops_at_a_value_out_of_range() {
        let mut x = Tensor::from_vec(vec![1.0, 2.0, 3.0, 3e38], &[2, 2]);
        let outlier = norm(&[1.0, 0.0], &[2.0, 1.0]).apply_inputs(&mut x).unwrap_err();
        assert_eq!((outlier.column, outlier.value), (1, 3e38));
        assert!(outlier.to_string().contains("3e38 becomes 3e38"), "{outlier}");
        let mut x = Tensor::from_vec(vec![1.0, 2.0], &[1, 2]);
        norm(&[1.0], &[2.0]).apply_inputs(&mut x).unwrap();
        assert_eq!(x.data(), &[0.0, 0.5]);
    }
}
