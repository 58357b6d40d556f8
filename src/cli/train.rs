//! `nabla train`: build a model, train it, and keep a run folder (config, metrics, loss plot,
//! checkpoints) that `--resume` continues from.
//!
//! Run folder (`runs/<name>/`): `config.json` (the arguments), `metrics.csv`, `loss.png`,
//! `model.safetensors` (the weights after the last epoch; the best epoch's after early stopping),
//! `optimizer.safetensors`, `trainer.json` (epoch, history, schedule), and with early stopping
//! `best.safetensors`.

use super::progress::Progress;
use super::source::{self, DataArgs, NORMALIZATION_KEY, Normalization, Source};
use clap::Args;
use nabla::io::{load_checkpoint, save_checkpoint};
use nabla::loss::Loss;
use nabla::nn::{DropoutRule, DropoutSpec, Init, InputMap, LayerSpec, Model, ModelSpec, Module};
use nabla::ops::Activation;
use nabla::optim::schedule::Warmup;
use nabla::optim::{self, load_optimizer, save_optimizer, schedule_by_name};
use nabla::report::{MetricsRow, RunRecord, unique_run_dir};
use nabla::rng::Rng;
use nabla::train::{
    AugmentConfig, Pretrain, PretrainedLayer, Regularization, Sets, TrainConfig, Trainer, TrainerState, pretrain_greedy,
};
use nabla::{Error, Result};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

const MODEL_FILE: &str = "model.safetensors";
const BEST_FILE: &str = "best.safetensors";
const OPTIMIZER_FILE: &str = "optimizer.safetensors";
const TRAINER_FILE: &str = "trainer.json";

#[derive(Args, Debug, Clone, Serialize, Deserialize)]
pub struct TrainArgs {
    #[command(flatten)]
    pub data: DataArgs,
    /// The model: a zoo name (lenet5-modern, lenet5, mlp, mlp-dropout, lstm-rows; see `nabla
    /// summary`) or a spec file (TOML, format in models/*.toml). Without --model and --hidden:
    /// lenet5-modern for MNIST, an MLP 512,512 for a CSV file. A spec's [train] table sets
    /// defaults that flags override.
    #[arg(long, conflicts_with = "hidden")]
    #[serde(default)]
    pub model: Option<String>,
    /// Hidden layer widths of an MLP, comma-separated (empty for none) [default for a CSV file:
    /// 512,512].
    #[arg(long)]
    pub hidden: Option<String>,
    /// Hidden activation: relu, tanh, sigmoid or identity.
    #[arg(long, default_value = "relu")]
    pub activation: String,
    /// Weight initialisation of every linear and conv layer: he, xavier, lecun or uniform
    /// (U(±1/√fan_in), PyTorch's default) [default: He before a ReLU, LeCun for the last layer,
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
    /// Passes over the training set [default: 5].
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Mini-batch size m (1: plain SGD; the training set size: full batch) [default: the model's,
    /// else 128].
    #[arg(long)]
    pub batch_size: Option<usize>,
    /// Optimizer: sgd, momentum (sgd with α = 0.9), adagrad, adadelta, adadelta-window, rmsprop,
    /// adam or adamw [default: the model's, else sgd].
    #[arg(long)]
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
    /// Learning-rate schedule: constant, plateau (the lecture's: divide η by --factor when the
    /// loss has flattened for --patience epochs), step, exp or cosine [default: the model's, else
    /// constant].
    #[arg(long)]
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
    /// Fraction of the training set held out for validation.
    #[arg(long, default_value_t = 0.0)]
    pub val_split: f32,
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
    pub augment: super::augment::AugmentArgs,
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
    /// Also save the final weights here (safetensors).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Train on the first N training samples only (quick runs).
    #[arg(long)]
    pub limit_train: Option<usize>,
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
}

impl TrainArgs {
    fn epochs(&self) -> usize {
        self.epochs.unwrap_or(5)
    }

    /// The batch size (settled by [`prepare`]).
    pub fn batch_size(&self) -> usize {
        self.batch_size.unwrap_or(128)
    }

    /// The L2 penalty λ₂ (settled by [`prepare`]).
    pub fn l2(&self) -> f32 {
        self.l2.unwrap_or(0.0)
    }

    /// Settles the model and the settings left to it: --model, or the default model (lenet5-modern
    /// for an MNIST folder, else an MLP, whose widths --hidden gives); then the batch size, epochs,
    /// optimizer, η, momentum, schedule and L2 penalty from the spec's [train] table where no flag gave them
    /// (η and momentum only if the optimizer is the spec's), else the defaults. The settled
    /// values are what config.json records, so that --resume rebuilds the same run.
    fn settle_model(&mut self) -> Result<Option<ModelSpec>> {
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
        self.batch_size = Some(self.batch_size.or(defaults.batch_size).unwrap_or(128));
        self.epochs = self.epochs.or(defaults.epochs);
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

/// A run ready to train: the trainer, its data and its folder.
pub struct Run {
    pub args: TrainArgs,
    pub trainer: Trainer,
    pub data: Source,
    pub val: Option<nabla::data::Dataset>,
    pub record: RunRecord,
    /// What greedy pre-training did, layer by layer (empty without --pretrain).
    pub pretrained: Vec<PretrainedLayer>,
}

fn default_pretrain_lr() -> f32 {
    0.001
}

fn inverted() -> String {
    "inverted".into()
}

/// An MLP spec with dropout p_in on its inputs and p on each hidden layer's output (after its
/// activation), where the lecture puts it.
fn with_dropout(mut spec: ModelSpec, p_in: f32, p: f32, rule: DropoutRule) -> ModelSpec {
    let mut layers = Vec::new();
    if p_in > 0.0 {
        layers.push(LayerSpec::Dropout(DropoutSpec { p: p_in, rule }).into());
    }
    let last = spec.layers.len() - 1;
    for (i, layer) in spec.layers.into_iter().enumerate() {
        let is_activation = !matches!(layer.spec, LayerSpec::Linear { .. });
        layers.push(layer);
        if p > 0.0 && is_activation && i < last {
            layers.push(LayerSpec::Dropout(DropoutSpec { p, rule }).into());
        }
    }
    spec.layers = layers;
    spec
}

/// The trainer's augmentation settings, when flags ask for any: images only.
fn augment_config(args: &TrainArgs, model: &Model, norm: &Normalization) -> Result<Option<AugmentConfig>> {
    let augmentation = args.augment.to_augmentation()?;
    if augmentation.is_off() {
        return Ok(None);
    }
    let input = &model.spec().input;
    let hw = match input[..] {
        [_, h, w] => (h, w),
        [784] => (28, 28),
        _ => return Err(Error::config(format!("augmentation needs images; the model's input is {input:?}"))),
    };
    // a blank pixel (0) after normalisation: what shifted-in borders are filled with
    let background = (0.0 - norm.mean[0]) / norm.std[0];
    Ok(Some(AugmentConfig { augmentation, hw, background }))
}

/// Loads the data and builds a fresh run (or, with `--resume`, the saved one).
pub fn prepare(args: TrainArgs) -> Result<Run> {
    let (args, resume_dir) = match &args.resume {
        Some(dir) => {
            let path = dir.join(nabla::report::CONFIG_FILE);
            let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
            let mut saved: TrainArgs =
                serde_json::from_str(&text).map_err(|e| Error::format(&path, "config", e.to_string()))?;
            saved.epochs = args.epochs.or(saved.epochs);
            saved.json = args.json;
            saved.out = args.out.clone().or(saved.out);
            (saved, Some(dir.clone()))
        }
        None => (args, None),
    };
    let mut args = args;
    let spec = args.settle_model()?;
    validate(&args)?;
    let input_map = match &args.input_map {
        Some(text) => Some(parse_input_map(text)?),
        None => spec.as_ref().and_then(|s| s.input_map),
    };
    let mut data = source::load(&args.data, args.seed, input_map.map(Normalization::from_input_map).as_ref())?;
    // pre-training reads images only, so --limit-train (which limits the labelled samples) does
    // not cut them
    let images = data.train.inputs.clone();
    if let Some(n) = args.limit_train {
        data.train = data.train.take(n.min(data.train.len()));
    }
    let val = if args.val_split > 0.0 {
        let (train, val) = data.train.split(args.val_split, args.seed);
        data.train = train;
        Some(val)
    } else {
        None
    };
    if data.train.is_empty() {
        return Err(Error::config("the training set is empty"));
    }
    let loss = match &args.loss {
        Some(name) => Loss::parse(name)?,
        None if data.train.labels.is_some() => Loss::SoftmaxCrossEntropy,
        None => Loss::LeastSquares,
    };
    let (inputs, outputs) = (data.train.inputs.shape()[1], data.train.targets.shape()[1]);
    let spec = match spec {
        Some(mut spec) => {
            if args.loss.is_some() {
                spec.loss = loss;
            }
            if spec.input_size() != inputs || spec.output_size()? != outputs {
                return Err(Error::config(format!(
                    "--model {}: the model takes {} inputs (shape {:?}) and gives {} outputs, but --data {} has {} \
                     inputs and {} targets",
                    args.model.as_deref().unwrap_or_default(),
                    spec.input_size(),
                    spec.input,
                    spec.output_size()?,
                    args.data.data,
                    inputs,
                    outputs
                )));
            }
            spec
        }
        None => {
            let hidden = parse_hidden(args.hidden.as_deref().unwrap_or_default())?;
            let activation = Activation::parse(&args.activation)?;
            let rule = match args.dropout_rule.as_str() {
                "inverted" => DropoutRule::Inverted,
                "weight-scaling" => DropoutRule::WeightScaling,
                other => {
                    return Err(Error::config(format!("--dropout-rule {other}: expected inverted or weight-scaling")));
                }
            };
            with_dropout(
                ModelSpec::mlp(inputs, &hidden, outputs, activation, loss),
                args.input_dropout,
                args.dropout,
                rule,
            )
        }
    };
    if (args.dropout > 0.0 || args.input_dropout > 0.0) && args.model.is_some() {
        return Err(Error::config(
            "--dropout and --input-dropout apply to MLPs (--hidden); put dropout layers in the spec file",
        ));
    }
    let mut spec = match &args.init {
        Some(name) => spec.with_init(Init::parse(name)?),
        None => spec,
    };
    spec.input_map = input_map;
    let mut model = Model::new(spec, &mut Rng::seed(args.seed))?;
    let pretrained =
        if args.pretrain > 0 && resume_dir.is_none() { pretrain(&args, &mut model, &images)? } else { Vec::new() };
    // "momentum" names the lecture's SGD with momentum, α = 0.9 unless --momentum says otherwise
    let (name, momentum) = match args.optimizer.as_deref().unwrap_or("sgd") {
        "momentum" => ("sgd", Some(args.momentum.unwrap_or(optim::DEFAULT_MOMENTUM))),
        other => (other, args.momentum),
    };
    let lr = match args.lr {
        Some(lr) => lr,
        None => optim::default_lr(name)?,
    };
    let optimizer = optim::by_name(name, lr, momentum, args.nesterov)?;
    let schedule_name = args.schedule.as_deref().unwrap_or("constant");
    let mut schedule = schedule_by_name(schedule_name, lr, args.epochs(), args.patience, args.factor)?;
    if args.warmup > 0 {
        schedule = Box::new(Warmup::new(schedule, args.warmup));
    }
    let config = TrainConfig {
        epochs: args.epochs(),
        batch_size: args.batch_size(),
        seed: args.seed,
        regularization: Regularization { l1: args.l1, l2: args.l2(), max_norm: args.max_norm, clip: args.clip },
        early_stop: args.early_stop,
        augment: augment_config(&args, &model, &data.normalization)?,
    };
    let mut trainer = Trainer::new(model, optimizer, schedule, config);
    let record = match resume_dir {
        Some(dir) => {
            restore(&mut trainer, &dir)?;
            RunRecord::resume(&dir)?
        }
        None => RunRecord::create(&unique_run_dir(&args.runs, &args.name), &args)?,
    };
    Ok(Run { args, trainer, data, val, record, pretrained })
}

/// Greedy layer-wise pre-training of `model` on the first --pretrain-samples `images`, with one
/// line per layer and epoch on stderr.
fn pretrain(args: &TrainArgs, model: &mut Model, images: &nabla::Tensor) -> Result<Vec<PretrainedLayer>> {
    let n = args.pretrain_samples.unwrap_or(images.shape()[0]).min(images.shape()[0]);
    let images = if n == images.shape()[0] { images.clone() } else { images.slice(0, 0..n) };
    let p = Pretrain {
        epochs: args.pretrain,
        batch_size: args.batch_size(),
        eta: args.pretrain_lr,
        noise: args.pretrain_noise,
        seed: args.seed,
    };
    let kind =
        if p.noise > 0.0 { format!("a denoising autoencoder (noise {})", p.noise) } else { "an autoencoder".into() };
    eprintln!("greedy layer-wise pre-training on {n} images, each hidden layer as {kind}, {} epochs each", p.epochs);
    pretrain_greedy(model, &images, &p, &mut |d| {
        let epoch = d.losses.len();
        let (n_in, units) = d.shape;
        let loss = d.losses[epoch - 1];
        eprintln!("  layer {} ({n_in} → {units})  epoch {epoch}/{}  reconstruction loss {loss:.4}", d.layer, p.epochs);
    })
}

fn validate(args: &TrainArgs) -> Result<()> {
    if args.batch_size() == 0 || args.epochs() == 0 {
        return Err(Error::config("--batch-size and --epochs must be positive"));
    }
    if !(0.0..1.0).contains(&args.val_split) {
        return Err(Error::config(format!("--val-split {} must be in [0, 1)", args.val_split)));
    }
    if args.early_stop.is_some() && args.val_split == 0.0 {
        return Err(Error::config("--early-stop needs a validation set: add --val-split (for example 0.1)"));
    }
    for (flag, v) in [("--l1", args.l1), ("--l2", args.l2())] {
        if !(v >= 0.0 && v.is_finite()) {
            return Err(Error::config(format!("{flag} {v} must be a non-negative number")));
        }
    }
    for (flag, v) in [("--max-norm", args.max_norm), ("--clip", args.clip)] {
        if v.is_some_and(|v| !(v > 0.0 && v.is_finite())) {
            return Err(Error::config(format!("{flag} must be a positive number")));
        }
    }
    Ok(())
}

/// Puts the trainer back where the run in `dir` stopped.
fn restore(trainer: &mut Trainer, dir: &Path) -> Result<()> {
    let state_path = dir.join(TRAINER_FILE);
    let text = std::fs::read_to_string(&state_path).map_err(|e| Error::io(&state_path, e))?;
    let state: TrainerState =
        serde_json::from_str(&text).map_err(|e| Error::format(&state_path, "trainer state", e.to_string()))?;
    let model_path = dir.join(MODEL_FILE);
    let (model, _) = load_checkpoint(&model_path)?;
    if model.spec() != trainer.model.spec() {
        return Err(Error::format(&model_path, "metadata 'nabla.spec'", "does not match the run's config.json"));
    }
    trainer.model = model;
    load_optimizer(&dir.join(OPTIMIZER_FILE), &mut trainer.optimizer, &trainer.model)?;
    let best = if trainer.config.early_stop.is_some() && state.best.is_some() {
        let (best, _) = load_checkpoint(&dir.join(BEST_FILE))?;
        Some(best.params().into_iter().map(|(_, p)| p.value().clone()).collect())
    } else {
        None
    };
    trainer.restore(state, best)
}

/// Saves everything `--resume` needs after an epoch, and the epoch's metrics and plot.
fn save_epoch(trainer: &Trainer, record: &mut RunRecord, meta: &HashMap<String, String>) -> Result<()> {
    let dir = record.dir().to_path_buf();
    save_checkpoint(&dir.join(MODEL_FILE), &trainer.model, meta)?;
    save_optimizer(&dir.join(OPTIMIZER_FILE), &trainer.optimizer)?;
    if let Some(weights) = trainer.best_weights() {
        let mut best = Model::new(trainer.model.spec().clone(), &mut Rng::seed(0))?;
        for ((_, p), w) in best.params_mut().into_iter().zip(weights) {
            *p.value_mut() = w.clone();
        }
        save_checkpoint(&dir.join(BEST_FILE), &best, meta)?;
    }
    let json = serde_json::to_vec_pretty(&trainer.state()).expect("the state serializes");
    nabla::io::atomic_write(&dir.join(TRAINER_FILE), &json)?;
    let r = trainer.history.last().expect("an epoch just ended");
    record.push(MetricsRow::from(r))
}

/// Trains a prepared run to its end; returns it with its history.
pub fn execute(mut run: Run, quiet: bool) -> Result<Run> {
    let meta = HashMap::from([(
        NORMALIZATION_KEY.to_string(),
        serde_json::to_string(&run.data.normalization).expect("numbers always serialize"),
    )]);
    let t = &run.trainer;
    eprintln!(
        "training {} ({} parameters) on {} samples{}, testing on {}: {}, {}, m = {}; run folder {}",
        describe(t.model.spec()),
        t.model.num_parameters(),
        run.data.train.len(),
        run.val.as_ref().map(|v| format!(", validating on {}", v.len())).unwrap_or_default(),
        run.data.test.len(),
        t.optimizer.name(),
        t.schedule.describe(),
        run.args.batch_size(),
        run.record.dir().display()
    );
    let sets = Sets { train: &run.data.train, val: run.val.as_ref(), test: Some(&run.data.test) };
    let mut progress = Progress::new(run.args.epochs(), quiet);
    let record = &mut run.record;
    run.trainer.run(sets, &mut progress, &mut |t| save_epoch(t, record, &meta))?;
    if let Some(best) = run.trainer.best_epoch().filter(|_| run.trainer.config.early_stop.is_some()) {
        let why = if run.trainer.stopped_early() { "stopped early" } else { "finished" };
        eprintln!("{why}; restored the weights of epoch {best}, the lowest validation loss");
        save_checkpoint(&run.record.dir().join(MODEL_FILE), &run.trainer.model, &meta)?;
    }
    if let Some(out) = &run.args.out {
        save_checkpoint(out, &run.trainer.model, &meta)?;
    }
    Ok(run)
}

pub fn run(args: TrainArgs) -> Result<()> {
    if let Some(k) = args.ensemble {
        if k < 2 {
            return Err(Error::config("--ensemble needs at least 2 members"));
        }
        return super::ensemble::run(args, k);
    }
    let json = args.json;
    let run = execute(prepare(args)?, false)?;
    let weights = run.args.out.clone().unwrap_or_else(|| run.record.dir().join(MODEL_FILE));
    eprintln!("saved weights to {}; metrics and loss plot in {}", weights.display(), run.record.dir().display());
    if json {
        println!("{}", summary(&run, &weights));
    }
    Ok(())
}

/// The JSON summary of a finished run.
pub fn summary(run: &Run, weights: &Path) -> serde_json::Value {
    let t = &run.trainer;
    let last = t.history.last().expect("at least one epoch");
    let seconds: Vec<f64> = t.history.iter().map(|r| r.seconds).collect();
    let total: f64 = seconds.iter().sum();
    // after early stopping the reported figures are the restored best epoch's
    let shown = t.best_epoch().filter(|_| t.config.early_stop.is_some()).map_or(last, |e| &t.history[e - 1]);
    serde_json::json!({
        "model": describe(t.model.spec()),
        "epochs": t.history.len(),
        "batch_size": run.args.batch_size(),
        "lr": json_f32(t.history[0].lr),
        "optimizer": t.optimizer.name(),
        "schedule": t.schedule.describe(),
        "seed": run.args.seed,
        "train_samples": run.data.train.len(),
        "train_loss": json_f32(shown.train_loss),
        "penalty": json_f32(shown.penalty),
        "val_loss": shown.val_loss.map(json_f32),
        "val_accuracy": shown.val_accuracy.map(json_f32),
        "test_loss": shown.test_loss.map(json_f32),
        "test_accuracy": shown.test_accuracy.map(json_f32),
        "best_epoch": t.best_epoch(),
        "seconds_per_epoch": seconds,
        "samples_per_second": (run.data.train.len() * t.history.len()) as f64 / total,
        "parameters": t.model.num_parameters(),
        "weight_norm": json_f32(weight_norm(&t.model)),
        "run_dir": run.record.dir(),
        "weights": weights,
        "pretrain": (!run.pretrained.is_empty()).then(|| run.pretrained.iter().map(|d| serde_json::json!({
            "layer": d.layer,
            "units": d.shape.1,
            "reconstruction_loss": d.losses.iter().copied().map(json_f32).collect::<Vec<_>>(),
        })).collect::<Vec<_>>()),
    })
}

/// √(Σ w²) over the weights (not the biases).
fn weight_norm(model: &Model) -> f32 {
    let sq: f64 = model
        .params()
        .iter()
        .filter(|(n, _)| n.ends_with("weight"))
        .map(|(_, p)| p.value().data().iter().map(|&w| (w * w) as f64).sum::<f64>())
        .sum();
    sq.sqrt() as f32
}

/// "mlp 784-512-512-10 relu" for an MLP; for other models the input shape, the layer types and
/// the outputs: "lenet5-modern 1×28×28 conv2d relu maxpool2d … linear → 10".
pub fn describe(spec: &ModelSpec) -> String {
    let mut widths = vec![spec.input_size().to_string()];
    let mut act = "";
    let mut kinds = Vec::new();
    let mut plain = spec.input.len() == 1;
    for layer in &spec.layers {
        kinds.push(layer.spec.kind());
        if let LayerSpec::Linear(linear) = &layer.spec {
            widths.push(linear.out.to_string());
        } else if layer.spec.as_activation().is_some() {
            act = layer.spec.kind();
        } else {
            plain = false;
        }
    }
    if plain {
        return format!("{} {} {}", spec.name, widths.join("-"), act).trim_end().to_string();
    }
    let input: Vec<String> = spec.input.iter().map(usize::to_string).collect();
    let outputs = spec.output_size().map_or_else(|_| "?".to_string(), |n| n.to_string());
    format!("{} {} {} → {outputs}", spec.name, input.join("×"), kinds.join(" "))
}

/// An f32 as the JSON number that prints like it (0.1, not 0.10000000149011612).
pub fn json_f32(x: f32) -> serde_json::Value {
    x.to_string().parse::<f64>().map_or(serde_json::Value::Null, serde_json::Value::from)
}
