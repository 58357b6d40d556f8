//! The flags of `nabla train` (also the configuration that `config.json` records and `--resume`
//! reads back), how missing ones are settled from the model's spec, and their checks.

use crate::cli::shared::augment_flags::AugmentArgs;
use crate::cli::shared::help;
use crate::cli::shared::limits::LimitArgs;
use crate::cli::shared::source::DataArgs;
use clap::Args;
use nabla::nn::{DropoutRule, InputMap, ModelSpec};
use nabla::{Error, Result};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The `--optimizer` value that names the lecture's SGD with momentum (α = 0.9 unless --momentum
/// says otherwise).
pub const MOMENTUM_ALIAS: &str = "momentum";

/// The steps per epoch that a table's batch size aims at (see [`TrainArgs::settle_for_table`]).
pub const TABLE_STEPS_PER_EPOCH: usize = 20;

/// The steps in all that a table's epochs aim at.
pub const TABLE_STEPS: usize = 3000;

/// Plain SGD's default η for a regression table (see [`TrainArgs::settle_for_regression`]).
pub const REGRESSION_SGD_LR: f32 = 0.01;

/// The share of a regression table's training rows held out for validation by default.
pub const REGRESSION_VAL_SPLIT: f32 = 0.2;

/// The epochs without a lower validation loss after which a regression table's training stops by
/// default.
pub const REGRESSION_EARLY_STOP: usize = 10;

#[derive(Args, Debug, Clone, Serialize, Deserialize)]
pub struct TrainArgs {
    #[command(flatten)]
    pub data: DataArgs,
    #[command(flatten)]
    #[serde(default)]
    pub limits: LimitArgs,
    // the help lists the zoo from `nabla::nn::ZOO`
    #[arg(long, conflicts_with = "hidden", help = help::train_model())]
    #[serde(default)]
    pub model: Option<String>,
    /// Hidden layer widths of an MLP, comma-separated (empty for none) [default for a CSV file:
    /// 512,512].
    #[arg(long)]
    pub hidden: Option<String>,
    // the help lists the activations from `nabla::nn::Activation::ALL`
    #[arg(long, default_value = "relu", help = help::activation())]
    pub activation: String,
    /// Weight initialisation of every linear and conv layer: he, xavier, lecun or uniform
    /// (U(±1/√fan_in), PyTorch's default) [default: He before ReLU or GELU, LeCun for the last layer,
    /// Xavier otherwise].
    #[arg(long)]
    #[serde(default)]
    pub init: Option<String>,
    /// Map image inputs x ∈ [0, 1] to ZERO + (ONE − ZERO)·x instead of standardising them (mean
    /// 0, std 1). `0,1` keeps the background at 0, so that input dropout drops a pixel to
    /// background rather than to the mean grey [default: the model's input_map, else standardise].
    #[arg(long, value_name = "ZERO,ONE")]
    #[serde(default)]
    pub input_map: Option<String>,
    /// Loss: softmax-ce, sigmoid-ce or mse (default: softmax-ce for classes, mse for regression).
    #[arg(long)]
    pub loss: Option<String>,
    /// Passes over the training set [default: 5; for a table, about 3000 steps' worth].
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Mini-batch size m (1: plain SGD; the training set size: full batch) [default: the model's,
    /// else 128; for a table, about 20 steps per epoch].
    #[arg(long)]
    pub batch_size: Option<usize>,
    // the help lists the optimizers from `nabla::optim::OPTIMIZERS`
    #[arg(long, help = help::train_optimizer(MOMENTUM_ALIAS))]
    pub optimizer: Option<String>,
    /// Learning rate η (default: 0.1 for sgd, the optimizer's usual value otherwise).
    #[arg(long)]
    pub lr: Option<f32>,
    /// Momentum α for sgd, in the lecture's form (0.9 if --nesterov is given alone).
    #[arg(long)]
    pub momentum: Option<f32>,
    /// Nesterov momentum (sgd).
    #[arg(long)]
    pub nesterov: bool,
    // the help lists the schedules from `nabla::optim::schedule::SCHEDULES`
    #[arg(long, help = help::train_schedule())]
    pub schedule: Option<String>,
    /// Epochs without improvement before plateau divides η (also step's interval).
    #[arg(long, default_value_t = 3)]
    pub patience: usize,
    /// What plateau (and step, exp) divide η by.
    #[arg(long, default_value_t = 5.0)]
    pub factor: f32,
    /// Epochs of linear learning-rate warm-up before the schedule.
    #[arg(long, default_value_t = 0)]
    pub warmup: usize,
    /// L1 penalty λ₁ on weights.
    #[arg(long, default_value_t = 0.0)]
    pub l1: f32,
    /// L2 penalty λ₂ on weights [default: the model's, else 0].
    #[arg(long)]
    pub l2: Option<f32>,
    /// Max-norm c on each unit's incoming weight vector [default: the model's, else none].
    #[arg(long)]
    pub max_norm: Option<f32>,
    /// Clip gradients to this global norm.
    #[arg(long)]
    pub clip: Option<f32>,
    /// Fraction of the training set held out for validation [default: 0, or 0.2 for a regression
    /// table given neither --val-data nor --early-stop; 0 turns that off].
    #[arg(long)]
    pub val_split: Option<f32>,
    /// A CSV file of validation rows (same columns as --data) instead of --val-split.
    #[arg(long)]
    #[serde(default)]
    pub val_data: Option<PathBuf>,
    /// A CSV file of test rows (same columns as --data): the training file is then not split.
    #[arg(long)]
    #[serde(default)]
    pub test_data: Option<PathBuf>,
    /// Stop after this many epochs without a lower validation loss and keep the best weights.
    #[arg(long)]
    pub early_stop: Option<usize>,
    /// Dropout probability p on every hidden layer of an MLP (the lecture's 0.5).
    #[arg(long, default_value_t = 0.0)]
    #[serde(default)]
    pub dropout: f32,
    /// Dropout probability on the inputs of an MLP (0.2 is usual).
    #[arg(long, default_value_t = 0.0)]
    #[serde(default)]
    pub input_dropout: f32,
    /// Dropout's test-time rule: inverted (scale by 1/q in training) or weight-scaling (the
    /// lecture's: multiply the outgoing weights by q at test time).
    #[arg(long, default_value = "inverted")]
    #[serde(default = "inverted")]
    pub dropout_rule: String,
    /// Distort training images on the fly (images only).
    #[command(flatten)]
    #[serde(default)]
    pub augment: AugmentArgs,
    /// Train K members on seeds seed, seed + 1, … and evaluate their averaged probabilities.
    #[arg(long)]
    #[serde(default)]
    pub ensemble: Option<usize>,
    /// With --ensemble: each member learns from its own bootstrap resample of the training set.
    #[arg(long, requires = "ensemble")]
    #[serde(default)]
    pub bagging: bool,
    /// Seed of initialisation and shuffling: the same seed gives the same weights, bit for bit.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Where the steps run: cpu, gpu, or auto (a GPU when one is found and has kernels for every
    /// layer); NABLA_DEVICE when absent, else cpu. The GPU needs a build with `--features gpu`.
    #[arg(long, value_name = "cpu|gpu|auto")]
    #[serde(default)]
    pub device: Option<String>,
    /// Also save the final weights here (safetensors).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Train on the first N training samples only (quick runs).
    #[arg(long)]
    pub limit_train: Option<usize>,
    /// For a character-level model (char-lstm) on a text file: characters per training sequence
    /// (default: the model's input length).
    #[arg(long, value_name = "N")]
    #[serde(default)]
    pub seq_len: Option<usize>,
    /// Truncated backpropagation through time for a character-level model: the text is read as
    /// --batch-size parallel streams in consecutive chunks of K characters (instead of
    /// --seq-len windows), each chunk starting from the state the last one ended in, with no
    /// gradient across chunks. The model's [train] table may set it (bptt = K).
    #[arg(long, value_name = "K")]
    #[serde(default)]
    pub bptt: Option<usize>,
    /// Greedy layer-wise pre-training first: each hidden layer, bottom up, is trained for this
    /// many epochs as the encoder of an autoencoder on the layer below's outputs (no labels).
    #[arg(long, default_value_t = 0)]
    #[serde(default)]
    pub pretrain: usize,
    /// Pre-train on the first N training images (default: all of them, even with --limit-train:
    /// pre-training uses no labels).
    #[arg(long)]
    #[serde(default)]
    pub pretrain_samples: Option<usize>,
    /// Pre-train denoising autoencoders: this fraction of each input is set to zero.
    #[arg(long, default_value_t = 0.0)]
    #[serde(default)]
    pub pretrain_noise: f32,
    /// Adam's learning rate for pre-training.
    #[arg(long, default_value_t = 0.001)]
    #[serde(default = "default_pretrain_lr")]
    pub pretrain_lr: f32,
    /// The run's name: its folder is runs/<name> (runs/<name>-2 … if taken).
    #[arg(long, default_value = "train")]
    pub name: String,
    /// Where run folders go.
    #[arg(long, default_value = "runs")]
    pub runs: PathBuf,
    /// Continue the run in this folder from its last completed epoch (to --epochs, if given).
    #[arg(long)]
    #[serde(skip)]
    pub resume: Option<PathBuf>,
    /// Print a JSON summary as the last line of stdout.
    #[arg(long)]
    #[serde(skip)]
    pub json: bool,
    /// Train as one rank of a data-parallel MPI job (implied when `mpirun -np K`, K > 1, or
    /// `srun` starts nabla; needs a build with `--features mpi`).
    #[arg(long)]
    #[serde(skip)]
    pub distributed: bool,
    /// Data-parallel runs: gradients are summed across ranks in buckets of this many numbers.
    #[arg(long, value_name = "NUMBERS", default_value_t = nabla::train::BUCKET_ELEMENTS)]
    #[serde(skip)]
    pub bucket: usize,
}

impl TrainArgs {
    /// The number of epochs (5 unless given).
    pub fn epochs(&self) -> usize {
        self.epochs.unwrap_or(5)
    }

    /// The batch size (settled by [`TrainArgs::settle_model`]).
    pub fn batch_size(&self) -> usize {
        self.batch_size.unwrap_or(128)
    }

    /// The L2 penalty λ₂ (settled by [`TrainArgs::settle_model`]).
    pub fn l2(&self) -> f32 {
        self.l2.unwrap_or(0.0)
    }

    /// Settles the model and the settings left to it: --model, or the default model (lenet5-modern
    /// for an MNIST folder, else an MLP, whose widths --hidden gives); then the batch size, epochs,
    /// optimizer, η, momentum, schedule and L2 penalty from the spec's [train] table where no flag gave them
    /// (η and momentum only if the optimizer is the spec's), else the defaults. The settled
    /// values are what config.json records, so that --resume rebuilds the same run.
    pub fn settle_model(&mut self) -> Result<Option<ModelSpec>> {
        let images = self.data.data == "mnist" || Path::new(&self.data.data).is_dir();
        if self.model.is_none() && self.hidden.is_none() {
            if images {
                self.model = Some("lenet5-modern".into());
            } else {
                self.hidden = Some("512,512".into());
            }
        }
        let spec = self.model.as_deref().map(ModelSpec::load).transpose()?;
        let defaults = spec.as_ref().and_then(|s| s.train.clone()).unwrap_or_default();
        // a table's batch size and epochs wait for its size (see `settle_for_table`)
        self.batch_size = self.batch_size.or(defaults.batch_size).or(images.then_some(128));
        self.epochs = self.epochs.or(defaults.epochs);
        self.bptt = self.bptt.or(defaults.bptt);
        self.l2 = Some(self.l2.or(defaults.l2).unwrap_or(0.0));
        self.max_norm = self.max_norm.or(defaults.max_norm);
        if self.optimizer.is_none() || self.optimizer == defaults.optimizer {
            self.lr = self.lr.or(defaults.lr);
            self.momentum = self.momentum.or(defaults.momentum);
        }
        self.optimizer = Some(self.optimizer.take().or(defaults.optimizer).unwrap_or_else(|| "sgd".into()));
        self.schedule = Some(self.schedule.take().or(defaults.schedule).unwrap_or_else(|| "constant".into()));
        Ok(spec)
    }

    /// For a table of `rows` training rows, the batch size and epochs that neither a flag nor the
    /// model's spec gave: about [`TABLE_STEPS_PER_EPOCH`] steps per epoch (m within 4–128) and about
    /// [`TABLE_STEPS`] steps in all (5–500 epochs), so that a 120-row table is not trained for 50
    /// steps by 50 epochs of one full batch. Returns a line that says what was chosen, if anything.
    pub fn settle_for_table(&mut self, rows: usize) -> Option<String> {
        if self.batch_size.is_some() && self.epochs.is_some() {
            return None;
        }
        let m = *self.batch_size.get_or_insert((rows / TABLE_STEPS_PER_EPOCH).clamp(4, 128));
        let steps = rows.div_ceil(m).max(1);
        let epochs = *self.epochs.get_or_insert(TABLE_STEPS.div_ceil(steps).clamp(5, 500));
        Some(format!(
            "a table of {rows} training rows: batch size {m} ({steps} steps per epoch), {epochs} epochs ({} steps); \
             --batch-size and --epochs override them",
            steps * epochs
        ))
    }

    /// For a regression table, what neither a flag nor the spec gave: plain SGD's η of 0.01 instead
    /// of 0.1 (the squared error's gradient grows with the error, where cross-entropy's is at most
    /// 1, so η = 0.1 diverges on small tables such as scikit-learn's diabetes), and 20% of the
    /// training rows held out for validation with early stopping after 10 epochs without
    /// improvement (a small table is fitted to noise long before 3000 steps end). Returns a line
    /// that says what was chosen, if anything.
    pub fn settle_for_regression(&mut self) -> Option<String> {
        let mut chosen = Vec::new();
        if self.lr.is_none() && self.optimizer.as_deref().is_none_or(|o| o == "sgd") {
            self.lr = Some(REGRESSION_SGD_LR);
            chosen.push(format!("η {REGRESSION_SGD_LR} (--lr)"));
        }
        if self.val_split.is_none() && self.val_data.is_none() && self.early_stop.is_none() {
            self.val_split = Some(REGRESSION_VAL_SPLIT);
            self.early_stop = Some(REGRESSION_EARLY_STOP);
            chosen.push(format!(
                "{:.0}% of the training rows for validation (--val-split; 0 turns it off), stopping after {} epochs \
                 without a lower validation loss (--early-stop)",
                REGRESSION_VAL_SPLIT * 100.0,
                REGRESSION_EARLY_STOP
            ));
        }
        (!chosen.is_empty()).then(|| format!("regression: {}", chosen.join("; ")))
    }

    /// The fraction of the training set held out for validation (0: none).
    pub fn val_split(&self) -> f32 {
        self.val_split.unwrap_or(0.0)
    }

    /// Checks the settled numbers, each error naming its flag and the range expected: counts of at
    /// least 1 where 0 means nothing (batch size, epochs, --early-stop, --limit-train,
    /// --pretrain-samples, --patience), fractions and probabilities in [0, 1) (--val-split,
    /// --test-split, --momentum, the dropouts, --pretrain-noise), positive rates (--lr,
    /// --pretrain-lr), a --factor above 1, non-negative penalties, positive max-norm and clip.
    /// Schedules, optimizers and augmentation check theirs again where they are built.
    pub fn validate(&self) -> Result<()> {
        if self.batch_size() == 0 || self.epochs() == 0 {
            return Err(Error::config("--batch-size and --epochs must be positive"));
        }
        let counts = [
            ("--early-stop", self.early_stop, "epochs without improvement"),
            ("--limit-train", self.limit_train, "training samples"),
            ("--seq-len", self.seq_len, "characters"),
            ("--bptt", self.bptt, "characters"),
            ("--pretrain-samples", self.pretrain_samples, "images"),
            ("--patience", Some(self.patience), "epochs"),
        ];
        for (flag, n, what) in counts {
            if n == Some(0) {
                return Err(Error::config(format!("{flag} 0: expected at least 1 ({what})")));
            }
        }
        let fractions = [
            ("--val-split", self.val_split()),
            ("--test-split", self.data.test_split.unwrap_or(0.0)),
            ("--momentum", self.momentum.unwrap_or(0.0)),
            ("--dropout", self.dropout),
            ("--input-dropout", self.input_dropout),
            ("--pretrain-noise", self.pretrain_noise),
        ];
        for (flag, v) in fractions {
            if !(0.0..1.0).contains(&v) {
                return Err(Error::config(format!("{flag} {v} must be in [0, 1)")));
            }
        }
        if self.early_stop.is_some() && self.val_split() == 0.0 && self.val_data.is_none() {
            return Err(Error::config(
                "--early-stop needs a validation set: add --val-split (for example 0.1) or --val-data FILE",
            ));
        }
        if self.val_data.is_some() && self.val_split() > 0.0 {
            return Err(Error::config(
                "give --val-data or --val-split, not both: the validation rows come from one place",
            ));
        }
        for (flag, v) in [("--lr", self.lr), ("--pretrain-lr", Some(self.pretrain_lr))] {
            if v.is_some_and(|v| !(v > 0.0 && v.is_finite())) {
                return Err(Error::config(format!("{flag} {} must be a positive number", v.unwrap_or_default())));
            }
        }
        if !(self.factor > 1.0 && self.factor.is_finite()) {
            return Err(Error::config(format!("--factor {}: η is divided by it, so it must be above 1", self.factor)));
        }
        for (flag, v) in [("--l1", self.l1), ("--l2", self.l2())] {
            if !(v >= 0.0 && v.is_finite()) {
                return Err(Error::config(format!("{flag} {v} must be a non-negative number")));
            }
        }
        for (flag, v) in [("--max-norm", self.max_norm), ("--clip", self.clip)] {
            if v.is_some_and(|v| !(v > 0.0 && v.is_finite())) {
                return Err(Error::config(format!("{flag} {} must be a positive number", v.unwrap_or_default())));
            }
        }
        Ok(())
    }

    /// The config this run continues: with `--resume DIR`, `DIR/config.json`'s, with --epochs,
    /// --json, --out, --distributed and --bucket from these flags; otherwise these flags. Also returns DIR.
    pub fn resumed(self) -> Result<(TrainArgs, Option<PathBuf>)> {
        let Some(dir) = self.resume.clone() else { return Ok((self, None)) };
        let path = dir.join(nabla::report::CONFIG_FILE);
        let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
        let mut saved: TrainArgs =
            serde_json::from_str(&text).map_err(|e| Error::format(&path, "config", e.to_string()))?;
        saved.epochs = self.epochs.or(saved.epochs);
        saved.json = self.json;
        (saved.distributed, saved.bucket) = (self.distributed, self.bucket);
        saved.out = self.out.clone().or(saved.out);
        Ok((saved, Some(dir)))
    }

    /// The ensemble's size K with `--ensemble K` (at least 2), else `None`.
    pub fn ensemble_members(&self) -> Result<Option<usize>> {
        match self.ensemble {
            Some(k) if k < 2 => Err(Error::config("--ensemble needs at least 2 members")),
            k => Ok(k),
        }
    }

    /// The input map of --input-map, else the spec's.
    pub fn input_map(&self, spec: Option<&ModelSpec>) -> Result<Option<InputMap>> {
        match &self.input_map {
            Some(text) => parse_input_map(text).map(Some),
            None => Ok(spec.and_then(|s| s.input_map)),
        }
    }

    /// The MLP's hidden widths from --hidden.
    pub fn hidden_widths(&self) -> Result<Vec<usize>> {
        parse_hidden(self.hidden.as_deref().unwrap_or_default())
    }

    /// Dropout's test-time rule from --dropout-rule.
    pub fn dropout_rule(&self) -> Result<DropoutRule> {
        match self.dropout_rule.as_str() {
            "inverted" => Ok(DropoutRule::Inverted),
            "weight-scaling" => Ok(DropoutRule::WeightScaling),
            other => Err(Error::config(format!("--dropout-rule {other}: expected inverted or weight-scaling"))),
        }
    }
}

fn default_pretrain_lr() -> f32 {
    0.001
}

fn inverted() -> String {
    "inverted".into()
}

fn parse_input_map(text: &str) -> Result<InputMap> {
    let values: Option<Vec<f32>> = text.split(',').map(|s| s.trim().parse().ok()).collect();
    match values.as_deref().unwrap_or_default() {
        &[zero, one] if zero.is_finite() && one.is_finite() && zero != one => Ok(InputMap { zero, one }),
        _ => Err(Error::config(format!(
            "--input-map {text}: expected two different finite numbers ZERO,ONE (example: 0,1)"
        ))),
    }
}

fn parse_hidden(text: &str) -> Result<Vec<usize>> {
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| match s.parse::<usize>() {
            Ok(n) if n > 0 => Ok(n),
            _ => Err(Error::config(format!("--hidden: '{s}' is not a positive layer width (example: 512,512)"))),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Flags {
        #[command(flatten)]
        train: TrainArgs,
    }

    fn args(flags: &[&str]) -> TrainArgs {
        Flags::parse_from([&["nabla"], flags].concat()).train
    }

    #[test]
    fn a_table_gets_about_20_steps_an_epoch_and_3000_in_all() {
        let mut a = args(&[]);
        let line = a.settle_for_table(120).unwrap();
        assert_eq!((a.batch_size, a.epochs), (Some(6), Some(150)));
        assert!(line.contains("batch size 6 (20 steps per epoch), 150 epochs (3000 steps)"), "{line}");
        // large tables: batches of 128 and at least 5 epochs; tiny ones: batches of 4, at most 500
        let mut a = args(&[]);
        a.settle_for_table(1_000_000);
        assert_eq!((a.batch_size, a.epochs), (Some(128), Some(5)));
        let mut a = args(&[]);
        a.settle_for_table(10);
        assert_eq!((a.batch_size, a.epochs), (Some(4), Some(500)));
        // flags win
        let mut a = args(&["--batch-size", "40"]);
        a.settle_for_table(80);
        assert_eq!((a.batch_size, a.epochs), (Some(40), Some(500)));
        let mut a = args(&["--batch-size", "40", "--epochs", "3"]);
        assert!(a.settle_for_table(80).is_none());
    }

    #[test]
    fn a_regression_table_gets_a_smaller_eta_and_early_stopping_unless_flags_say_otherwise() {
        let mut a = args(&[]);
        let line = a.settle_for_regression().unwrap();
        assert_eq!((a.lr, a.val_split, a.early_stop), (Some(0.01), Some(0.2), Some(10)), "{line}");
        a.validate().unwrap();
        // another optimizer keeps its own η; --val-split 0 turns validation off
        let mut a = args(&["--optimizer", "adam", "--val-split", "0"]);
        assert!(a.settle_for_regression().is_none());
        assert_eq!((a.lr, a.val_split(), a.early_stop), (None, 0.0, None));
        let mut a = args(&["--lr", "0.1", "--val-data", "v.csv"]);
        assert!(a.settle_for_regression().is_none());
        assert_eq!((a.lr, a.val_split, a.early_stop), (Some(0.1), None, None));
    }
}
