//! Where training and test data come from (`--data`), and the input normalisation that a
//! checkpoint carries so that eval and predict see inputs exactly as training did.

use super::images::{ImageArgs, pixel_statistics};
use super::print::errln;
use super::row_cache;
use indicatif::{ProgressBar, ProgressStyle};
use nabla::data::table::{
    Impute, SCHEMA_KEY, Table, TableOptions, TableSchema, column_stats, read_table, read_with_schema,
};
use nabla::data::{
    CsvOptions, Dataset, Inputs, TargetColumn, Task, is_image_folder, load_image_folder, load_image_folder_on_disk,
    load_mnist, load_mnist_on_disk, parse_target,
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

/// The checkpoint metadata key that marks a model trained on padded sequences of different
/// lengths (`--data FILE.seq`), whose recurrent layers stopped each row at its last real step.
pub const PADDED_KEY: &str = "nabla.padded_sequences";

/// The checkpoint metadata key of [`Normalization`].
pub const NORMALIZATION_KEY: &str = "nabla.normalization";

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
        let first_bad = || {
            let (mut offset, mut found) = (0, None);
            // a row on disk that cannot be read is reported when a batch gathers it
            let _ = rows.scan(&mut |bytes| {
                if found.is_none() {
                    found = bytes.iter().position(|&b| bad(normalised[b as usize])).map(|i| (offset + i, bytes[i]));
                    offset += bytes.len();
                }
            });
            found
        };
        if let Some((i, b)) = normalised.iter().any(|&v| bad(v)).then(first_bad).flatten() {
            let b = b as usize;
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
    /// How a CSV file was read (None for MNIST): goes into the checkpoint.
    pub schema: Option<TableSchema>,
    /// The class names of an image folder (its subfolders), `None` for MNIST and tables.
    pub classes: Option<Vec<String>>,
}

/// Training and test data as read and split, before normalisation, with the statistics that
/// normalise them by default (MNIST's, or those of a CSV file's training part). Commands that
/// check the data against a model (eval) do so here, before [`RawSource::normalize`].
pub struct RawSource {
    pub train: Dataset,
    pub test: Dataset,
    /// The data's own normalisation (None where a checkpoint's is used instead).
    pub own: Option<Normalization>,
    /// How a CSV file was read (None for MNIST).
    pub schema: Option<TableSchema>,
    /// The files of the training and test rows, to name them in errors (None for MNIST).
    files: Option<(PathBuf, PathBuf)>,
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
    /// For a CSV file: the target column, by name or 0-based index (eval reads it from the model).
    #[arg(long)]
    pub target: Option<String>,
    /// For a CSV file: predict a number (regression) instead of a class.
    #[arg(long)]
    pub regression: bool,
    /// For a CSV file or an image folder: the fraction of rows held out as the test set (seeded
    /// by --seed) [train's
    /// default: 0.2, or 0 with --test-data; eval scores every row of the file unless it is given].
    #[arg(long)]
    pub test_split: Option<f32>,
    /// For a CSV file: input columns whose cells are names of categories, one-hot encoded with
    /// the vocabulary stored in the model (COL,COL,…).
    #[arg(long, value_delimiter = ',')]
    #[serde(default)]
    pub categorical: Vec<String>,
    /// For a CSV file: fill missing inputs (empty, NA, NaN, ?) with each column's mean or median
    /// over the training rows, stored in the model: mean or median.
    #[arg(long)]
    #[serde(default)]
    pub impute: Option<String>,
    #[command(flatten)]
    #[serde(default)]
    pub images: ImageArgs,
}

impl DataArgs {
    /// `--data mnist` or another file or folder, no CSV options.
    pub fn mnist(data: &str) -> DataArgs {
        DataArgs {
            data: data.into(),
            target: None,
            regression: false,
            test_split: None,
            categorical: Vec::new(),
            impute: None,
            images: ImageArgs::default(),
        }
    }
}

/// The bundled MNIST folder: `data/mnist` under the current folder, else under the source tree.
pub(crate) fn bundled_mnist() -> PathBuf {
    let here = PathBuf::from("data/mnist");
    if here.is_dir() { here } else { Path::new(env!("CARGO_MANIFEST_DIR")).join("data/mnist") }
}

/// Loads `--data` (and a CSV file's `test_data`), splits a CSV into train and test with `seed`,
/// and normalises both with statistics of the training part (MNIST: mean 0.1307, std 0.3081), or
/// with `given`: a model spec's input map.
pub fn load(args: &DataArgs, seed: u64, test_data: Option<&Path>, given: Option<&Normalization>) -> Result<Source> {
    read(args, seed, test_data)?.normalize(given)
}

/// The path of `--data`: a folder (MNIST's IDX files) or a file (CSV), or an error.
fn data_path(args: &DataArgs) -> Result<PathBuf> {
    let path = if args.data == "mnist" { bundled_mnist() } else { PathBuf::from(&args.data) };
    if path.is_dir() || path.is_file() {
        return Ok(path);
    }
    Err(Error::config(format!(
        "--data {}: no such file or folder (expected mnist, a folder of IDX files, a folder of class \
         subfolders of images, or a CSV file)",
        args.data
    )))
}

/// Loads `--data` for training and splits a CSV file into train and test with `seed` (or takes
/// its test rows from `test_data`), as [`load`] does, without normalising.
pub fn read(args: &DataArgs, seed: u64, test_data: Option<&Path>) -> Result<RawSource> {
    read_rows(args, seed, test_data, None)
}

/// As [`load`], with the images of MNIST and of image folders left on disk, read a batch at a
/// time (`nabla::data::load_mnist_on_disk`, `load_image_folder_on_disk`), through files in
/// `cache` (see [`super::row_cache`]): uncompressed copies of gzip files, an image folder decoded
/// into one file. Tables are loaded as [`load`] loads them.
pub fn load_on_disk(
    args: &DataArgs,
    seed: u64,
    test_data: Option<&Path>,
    given: Option<&Normalization>,
    on_disk: &RowsOnDisk,
) -> Result<Source> {
    read_rows(args, seed, test_data, Some(on_disk))?.normalize(given)
}

/// Where the ranks of a data-parallel run read their rows of images from: files in `cache`, which
/// the `leader` (rank 0) writes if they are not there yet before it calls `written`, the barrier
/// every rank calls before opening them (only for images: every rank reads a table whole).
pub struct RowsOnDisk<'a> {
    /// The folder of the files (see [`super::row_cache`]).
    pub cache: &'a Path,
    /// Whether this process writes the files.
    pub leader: bool,
    /// Waits until the leader has written them.
    pub written: &'a dyn Fn(),
}

/// [`read`], with images on disk when `on_disk` says where.
fn read_rows(args: &DataArgs, seed: u64, test_data: Option<&Path>, on_disk: Option<&RowsOnDisk>) -> Result<RawSource> {
    let split = args.test_split.unwrap_or(if test_data.is_some() { 0.0 } else { 0.2 });
    if !(0.0..1.0).contains(&split) {
        return Err(Error::config(format!("--test-split {split} must be in [0, 1)")));
    }
    let path = data_path(args)?;
    if path.is_dir() && test_data.is_some() {
        return Err(Error::config("--test-data is for CSV files; a folder has its own test set or split"));
    }
    if path.is_dir() && is_image_folder(&path) {
        let format = args.images.format()?;
        let folder = match on_disk {
            None => load_image_folder(&path, format)?,
            Some(&RowsOnDisk { cache, leader, written }) => {
                if leader {
                    row_cache::prepare_image_folder(&path, format, cache)?;
                }
                written();
                load_image_folder_on_disk(&path, format, &|files| {
                    row_cache::decoded_images(&path, files, format, cache)
                })?
            }
        };
        let (train, test) = folder.data.split(split, seed);
        let own = Some(pixel_statistics(&train)?);
        let classes = Some(folder.classes);
        return Ok(RawSource { train, test, own, schema: None, files: None, classes, data: args.data.clone() });
    }
    if path.is_dir() {
        let (train, test) = match on_disk {
            None => load_mnist(&path)?,
            Some(&RowsOnDisk { cache, leader, written }) => {
                if leader {
                    row_cache::prepare_mnist(&path, cache)?;
                }
                written();
                load_mnist_on_disk(&path, &|file| row_cache::uncompressed(file, cache))?
            }
        };
        let own = Normalization { mean: vec![MNIST_MEAN], std: vec![MNIST_STD] };
        let data = args.data.clone();
        return Ok(RawSource { train, test, own: Some(own), schema: None, files: None, classes: None, data });
    }
    if test_data.is_some() && split > 0.0 {
        return Err(Error::config("give --test-data or --test-split, not both: the test rows come from one place"));
    }
    let options = table_options(args, &path)?;
    let table = with_progress(&path, |p| read_table(&path, &options, p))?;
    let (mut train, test) = table.split(split, seed);
    // statistics of the training part only: the test set must not leak into training
    train.fit(&path)?;
    let schema = train.schema.clone();
    let (test, test_path) = match test_data {
        Some(file) => (read_for_model(file, &schema)?, file.to_path_buf()),
        None => {
            let mut test = test;
            test.apply(&schema);
            (test, path.clone())
        }
    };
    if test.targets.is_none() {
        return Err(Error::format(
            &test_path,
            "header",
            format!("no target column '{}'; a test file needs it", schema.target),
        ));
    }
    let (mean, std) = column_stats(&train.inputs, train.width());
    let own = Normalization { mean, std };
    let classes = (schema.task == Task::Classification).then(|| schema.classes.clone());
    Ok(RawSource {
        train: train.into_dataset(),
        test: test.into_dataset(),
        own: Some(own),
        schema: Some(schema),
        files: Some((path, test_path)),
        classes,
        data: args.data.clone(),
    })
}

/// Checks that --regression, --categorical and --impute, given to a command that reads a table
/// for a trained model, say what the model's schema says: the schema decides how the columns are
/// read, so a flag that differs would otherwise be silently ignored.
fn check_table_flags(args: &DataArgs, schema: &TableSchema) -> Result<()> {
    let differs = |given: String, trained: String| {
        let flag = given.split(' ').next().unwrap_or_default().to_string();
        Err(Error::config(format!(
            "{given}: the model was trained with {trained} (its schema decides how the columns are read; leave {flag} \
             out)"
        )))
    };
    if args.regression && schema.task != Task::Regression {
        return differs("--regression".into(), "a target of classes".into());
    }
    let trained: Vec<&str> = schema.categories.iter().map(|c| c.column.as_str()).collect();
    let (mut given, mut sorted): (Vec<&str>, _) =
        (args.categorical.iter().map(String::as_str).collect(), trained.clone());
    given.sort_unstable();
    sorted.sort_unstable();
    if !given.is_empty() && given != sorted {
        return differs(
            format!("--categorical {}", args.categorical.join(",")),
            format!("the categorical columns [{}]", trained.join(", ")),
        );
    }
    if let Some(text) = &args.impute
        && schema.impute.as_ref().map(|i| i.method) != Some(Impute::parse(text)?)
    {
        let trained = match &schema.impute {
            Some(i) => format!("--impute {:?}", i.method).to_lowercase(),
            None => "no --impute".into(),
        };
        return differs(format!("--impute {text}"), trained);
    }
    Ok(())
}

/// The table options of the CSV flags.
fn table_options(args: &DataArgs, path: &Path) -> Result<TableOptions> {
    if path.extension().is_some_and(|e| e == "seq") {
        return Err(Error::config(format!(
            "{}: a sequence file is read by `nabla train` only so far (its test lines are scored there); this \
             command reads MNIST, image folders and CSV files",
            path.display()
        )));
    }
    let target = args.target.as_deref().ok_or_else(|| {
        Error::config(format!("{}: a CSV file needs --target COLUMN (a name or a 0-based index)", path.display()))
    })?;
    let task = if args.regression { Task::Regression } else { Task::Classification };
    Ok(TableOptions {
        csv: CsvOptions { target: parse_target(target), task, header: None },
        categorical: args.categorical.clone(),
        impute: args.impute.as_deref().map(Impute::parse).transpose()?,
    })
}

/// Loads `--data` to evaluate a model: MNIST's test set, or every row of a CSV file (its held-out
/// part with an explicit --test-split), read as the model's `schema` says; models without one
/// (trained before schemas were stored) read the file by --target. Not normalised.
pub fn read_eval(args: &DataArgs, seed: u64, schema: Option<&TableSchema>) -> Result<RawSource> {
    let path = data_path(args)?;
    let Some(schema) = schema.filter(|_| path.is_file()) else {
        let mut raw = read(args, seed, None)?;
        if path.is_file() && args.test_split.is_none() {
            // every row: the whole file is the evaluation set
            let table = {
                let options = table_options(args, &path)?;
                with_progress(&path, |p| read_table(&path, &options, p))?
            };
            raw.test = table.into_dataset();
        }
        raw.own = None;
        return Ok(raw);
    };
    if let Some(target) = &args.target
        && parse_target(target) != TargetColumn::Name(schema.target.clone())
        && parse_target(target)
            != TargetColumn::Index(schema.columns.iter().position(|c| *c == schema.target).unwrap_or(usize::MAX))
    {
        return Err(Error::config(format!(
            "--target {target}: the model was trained to predict column '{}' (eval reads it from the model; leave \
             --target out)",
            schema.target
        )));
    }
    check_table_flags(args, schema)?;
    let table = read_for_model(&path, schema)?;
    if table.targets.is_none() {
        return Err(Error::format(
            &path,
            "header",
            format!(
                "no target column '{}': eval compares predictions with it (predict reads files without)",
                schema.target
            ),
        ));
    }
    let (train, test) = match args.test_split {
        Some(split) if !(0.0..1.0).contains(&split) => {
            return Err(Error::config(format!("--test-split {split} must be in [0, 1)")));
        }
        Some(split) => table.split(split, seed),
        None => table.split(1.0, seed),
    };
    // a 1.0 split keeps the file's rows but shuffles them; scored every one, their order is moot
    Ok(RawSource {
        train: train.into_dataset(),
        test: test.into_dataset(),
        own: None,
        schema: Some(schema.clone()),
        files: Some((path.clone(), path)),
        classes: None,
        data: args.data.clone(),
    })
}

/// A validation or test file for a model trained on a table of `schema`, read and normalised as
/// the training rows were.
pub fn load_extra(path: &Path, schema: &TableSchema, norm: &Normalization) -> Result<Dataset> {
    let table = read_for_model(path, schema)?;
    if table.targets.is_none() {
        return Err(Error::format(path, "header", format!("no target column '{}'", schema.target)));
    }
    let mut set = table.into_dataset();
    norm.check(set.inputs.shape()[1]).map_err(|message| {
        Error::config(format!("{}: the input normalisation does not fit: {message}", path.display()))
    })?;
    norm.apply_to(&mut set.inputs).map_err(|outlier| outlier_error(path, schema, outlier))?;
    Ok(set)
}

/// The error of an input that is out of range once normalised, naming its file and column.
pub fn outlier_error(path: &Path, schema: &TableSchema, outlier: Outlier) -> Error {
    let column = schema.input_names().get(outlier.column).cloned();
    Error::format(path, column.unwrap_or_else(|| format!("input {}", outlier.column)), outlier.to_string())
}

/// The table schema stored in a checkpoint, checked against its model's inputs and outputs.
pub fn checkpoint_schema(
    path: &Path,
    meta: &HashMap<String, String>,
    model: &nabla::nn::Model,
) -> Result<Option<TableSchema>> {
    let Some(schema) = TableSchema::from_checkpoint(path, meta)? else { return Ok(None) };
    let (inputs, outputs) = (model.spec().input_size(), model.spec().output_size()?);
    if schema.inputs() != inputs || schema.outputs() != outputs {
        return Err(Error::format(
            path,
            format!("metadata '{SCHEMA_KEY}'"),
            format!(
                "its table has {} inputs and {} outputs, but the model takes {inputs} and gives {outputs}",
                schema.inputs(),
                schema.outputs()
            ),
        ));
    }
    Ok(Some(schema))
}

/// Files at least this large are read with a progress bar (and their reading timed).
const LARGE_FILE: u64 = 64 << 20;

/// The progress of reading a CSV file: a bar of bytes on stderr for a large file (drawn only when
/// stderr is a terminal), and a line with the time it took.
pub struct ReadProgress {
    bar: Option<ProgressBar>,
    path: PathBuf,
    started: std::time::Instant,
}

impl ReadProgress {
    /// The progress of reading `path`: silent unless the file is large.
    pub fn new(path: &Path) -> ReadProgress {
        let len = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        let bar = (len >= LARGE_FILE).then(|| {
            let bar = ProgressBar::new(len);
            bar.set_style(
                ProgressStyle::with_template("reading {prefix} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} {eta}")
                    .expect("the template is valid")
                    .progress_chars("=> "),
            );
            bar.set_prefix(path.display().to_string());
            bar
        });
        ReadProgress { bar, path: path.to_path_buf(), started: std::time::Instant::now() }
    }
}

impl ReadProgress {
    /// `bytes` of the file's `len` are read.
    fn tick(&mut self, bytes: u64, len: u64) {
        if let Some(bar) = &self.bar {
            bar.set_length(len);
            bar.set_position(bytes);
        }
    }

    /// The reading ended with `table` (or failed): the bar goes, a large file's figures stay.
    fn finish(self, table: Option<&Table>) {
        let Some(bar) = self.bar else { return };
        bar.finish_and_clear();
        if let Some(t) = table {
            let seconds = self.started.elapsed().as_secs_f64();
            errln!("read {}: {} rows of {} inputs in {seconds:.1} s", self.path.display(), t.rows, t.width());
        }
    }
}

/// Runs `read` on `path` with a [`ReadProgress`].
fn with_progress(path: &Path, read: impl FnOnce(&mut dyn FnMut(u64, u64)) -> Result<Table>) -> Result<Table> {
    let mut progress = ReadProgress::new(path);
    let table = read(&mut |bytes, len| progress.tick(bytes, len));
    progress.finish(table.as_ref().ok());
    table
}

/// Reads a file for a model of `schema`, with a progress bar if it is large.
pub fn read_for_model(path: &Path, schema: &TableSchema) -> Result<Table> {
    with_progress(path, |progress| read_with_schema(path, schema, progress))
}

impl RawSource {
    /// The data normalised with `given` (else with its own statistics). An error names the data
    /// when `given` does not fit its columns, and the file, column and value when an input is not
    /// finite, or far out of range, once normalised.
    ///
    /// Panics if there is neither: only evaluation reads data without statistics of its own, and
    /// it passes the checkpoint's.
    pub fn normalize(self, given: Option<&Normalization>) -> Result<Source> {
        let RawSource { mut train, mut test, own, schema, files, classes, data } = self;
        let normalization = given.cloned().or(own).expect("data read for evaluation is normalised as its model says");
        let columns = train.inputs.shape()[1];
        normalization.check(columns).map_err(|message| {
            Error::config(format!("--data {data}: the input normalisation does not fit: {message}"))
        })?;
        for (set, which) in [(&mut train, 0), (&mut test, 1)] {
            if let Err(outlier) = normalization.apply_to(&mut set.inputs) {
                return Err(match (&files, &schema) {
                    (Some(files), Some(schema)) => {
                        outlier_error(if which == 0 { &files.0 } else { &files.1 }, schema, outlier)
                    }
                    _ => Error::config(format!("--data {data}: input {}: {outlier}", outlier.column)),
                });
            }
        }
        Ok(Source { train, test, normalization, schema, classes })
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
