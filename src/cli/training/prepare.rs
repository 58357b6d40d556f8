//! A training run made ready from the flags: data loaded and split, model built (and pre-trained),
//! optimizer, schedule and trainer set up, the run folder created or, with `--resume`, read back.

use super::flags::{MOMENTUM_ALIAS, TrainArgs};
use super::model::model_spec;
use super::run_folder;
use super::sequences;
use super::text::{self, TextFacts};
use crate::cli::shared::print::errln;
use crate::cli::shared::source::{self, Normalization, RowsOnDisk, Source};
use nabla::data::Task;
use nabla::loss::Loss;
use nabla::nn::{LayerSpec, Model, ModelSpec};
use nabla::optim::schedule::{Schedule, Warmup};
use nabla::optim::{self, Optimizer, schedule_by_name};
use nabla::report::{RunRecord, claim_run_dir};
use nabla::rng::Rng;
use nabla::train::{AugmentConfig, Pretrain, PretrainedLayer, Regularization, TrainConfig, Trainer, pretrain_greedy};
use nabla::{Error, Result};
use std::path::Path;

/// A run ready to train: the trainer, its data and its folder.
pub struct Run {
    pub args: TrainArgs,
    pub trainer: Trainer,
    pub data: Source,
    pub val: Option<nabla::data::Dataset>,
    pub record: RunRecord,
    /// What greedy pre-training did, layer by layer (empty without --pretrain).
    pub pretrained: Vec<PretrainedLayer>,
    /// Whether this process prints and writes the run's files: always, except on the ranks other
    /// than 0 of a data-parallel run.
    pub leader: bool,
    /// A character-level model's text (its vocabulary goes into the checkpoint).
    pub text: Option<TextFacts>,
}

/// Loads the data and builds a fresh run (or, with `--resume`, the saved one). The output paths
/// (the run folder, claimed here, and --out) are checked before anything is trained.
pub fn prepare(args: TrainArgs) -> Result<Run> {
    prepare_rank(args, true, None)
}

/// As [`prepare`]; a process that is not the `leader` (a rank other than 0 of a data-parallel
/// run, whose weights rank 0 broadcasts) claims no run folder, checks no output path and skips
/// pre-training: its `record` names the folder and is never written. With `on_disk`, the images
/// of MNIST and of image folders stay on disk and each batch reads its rows (`source::load_on_disk`,
/// through uncompressed copies of gzip files and decoded image folders).
pub fn prepare_rank(args: TrainArgs, leader: bool, on_disk: Option<&RowsOnDisk>) -> Result<Run> {
    if let Some(dir) = args.resume.as_ref().filter(|_| leader) {
        run_folder::check_resumable(dir)?;
    }
    let (mut args, resume_dir) = args.resumed()?;
    if let Some(out) = args.out.as_ref().filter(|_| leader) {
        nabla::io::check_writable(out).map_err(|e| Error::config(format!("--out: {e}")))?;
    }
    let spec = args.settle_model()?;
    args.data.images.model_input = spec.as_ref().map(|s| s.input.clone());
    args.validate()?;
    let input_map = args.input_map(spec.as_ref())?;
    let given = input_map.map(Normalization::from_input_map);
    let text_steps =
        spec.as_ref().filter(|s| text::is_text_model(s)).map(|s| text::seq_len(s, args.bptt.or(args.seq_len)));
    if (args.seq_len.is_some() || args.bptt.is_some()) && text_steps.is_none() {
        return Err(Error::config(
            "--seq-len and --bptt are for character-level models (--model char-lstm) on a text file",
        ));
    }
    if args.seq_len.is_some() && args.bptt.is_some() {
        return Err(Error::config(
            "--bptt K reads chunks of K characters in place of --seq-len windows: give one of them",
        ));
    }
    if args.bptt.is_some() && (args.val_split() > 0.0 || args.val_data.is_some()) {
        return Err(Error::config(
            "--bptt reads the text in order: a validation set (--val-split, --val-data) is not drawn from it yet",
        ));
    }
    // truncated BPTT reads the text as one stream per row of a batch
    let streams = args.bptt.map(|_| args.batch_size());
    let mut sequences = None;
    let (mut data, text) = match text_steps {
        Some(steps) => {
            let (data, facts) = text::load(Path::new(&args.data.data), steps, streams)?;
            (data, Some(facts))
        }
        None if sequences::is_sequence_file(&args.data.data) => {
            if args.test_data.is_some() {
                return Err(Error::config("--test-data: a sequence file's test lines are split off it (--test-split)"));
            }
            let path = Path::new(&args.data.data);
            let (data, facts, line) = sequences::load(path, args.data.test_split, args.seed)?;
            if leader {
                errln!("{line}");
            }
            sequences = Some(facts);
            (data, None)
        }
        None => {
            let (data, test_data, given) = (&args.data, args.test_data.as_deref(), given.as_ref());
            let source = match on_disk {
                Some(on_disk) => source::load_on_disk(data, args.seed, test_data, given, on_disk)?,
                None => source::load(data, args.seed, test_data, given)?,
            };
            (source, None)
        }
    };
    // pre-training reads images only, so --limit-train (which limits the labelled samples) does
    // not cut them
    let images = (args.pretrain > 0 && resume_dir.is_none() && leader).then(|| data.train.inputs.to_tensor());
    if let Some(n) = args.limit_train {
        data.train = data.train.take(n.min(data.train.len()));
    }
    if data.schema.as_ref().is_some_and(|s| s.task == Task::Regression)
        && let Some(line) = args.settle_for_regression()
    {
        errln!("{line}");
    }
    let val = if let Some(file) = &args.val_data {
        let schema =
            data.schema.as_ref().ok_or_else(|| Error::config("--val-data is for CSV files (--data FILE.csv)"))?;
        Some(source::load_extra(file, schema, &data.normalization)?)
    } else if args.val_split() > 0.0 {
        let val = data.train.split_off(args.val_split(), args.seed);
        if val.is_empty() {
            return Err(Error::config(format!(
                "--val-split {} of {} training samples holds out none; give a larger fraction",
                args.val_split(),
                data.train.len()
            )));
        }
        Some(val)
    } else {
        None
    };
    if data.train.is_empty() {
        return Err(Error::config("the training set is empty"));
    }
    if data.schema.is_some()
        && let Some(line) = args.settle_for_table(data.train.len())
    {
        errln!("{line}");
    }
    let loss = match &args.loss {
        Some(name) => Loss::parse(name)?,
        None if data.train.labels.is_some() => Loss::SoftmaxCrossEntropy,
        None => Loss::LeastSquares,
    };
    let (inputs, outputs) = (data.train.inputs.shape()[1], data.train.targets.shape()[1]);
    let spec = match (spec, &data.classes) {
        (Some(spec), Some(classes)) => Some(fit_classes(spec, classes.len())?),
        (spec, _) => spec,
    };
    let spec = match (&text, &sequences, spec) {
        (Some(t), _, Some(spec)) => text::fit(spec, text_steps.expect("a text model"), t.data.vocabulary.len())?,
        (_, Some(s), Some(spec)) => sequences::fit(spec, s)?,
        (_, Some(_), None) => {
            return Err(Error::config(format!(
                "--data {}: sequences need a model that reads them, --model NAME|SPEC.toml with a recurrent layer \
                 (an lstm, gru or rnn), not an MLP of --hidden",
                args.data.data
            )));
        }
        (_, _, spec) => model_spec(&args, spec, loss, (inputs, outputs), input_map)?,
    };
    let mut model = Model::with_limits(spec, &mut Rng::seed(args.seed), &args.limits.limits())?;
    let (optimizer, schedule) = optimizer_and_schedule(&args)?;
    let augment = augment_config(&args, &model, &data.normalization, data.train.image_shape)?;
    // a new run's folder, claimed once every setting has been checked and before any training
    let new_record = match resume_dir {
        Some(_) => None,
        None if !leader => Some(RunRecord::resume(&args.runs.join(&args.name), Vec::new())),
        None => Some(RunRecord::create(&claim_run_dir(&args.runs, &args.name)?, &args)?),
    };
    let pretrained = match &images {
        Some(images) => pretrain(&args, &mut model, images)?,
        None => Vec::new(),
    };
    let config = TrainConfig {
        epochs: args.epochs(),
        batch_size: args.batch_size(),
        seed: args.seed,
        regularization: Regularization { l1: args.l1, l2: args.l2(), max_norm: args.max_norm, clip: args.clip },
        early_stop: args.early_stop,
        augment,
        carry_state: args.bptt.is_some(),
    };
    let mut trainer = Trainer::new(model, optimizer, schedule, config);
    let record = match resume_dir {
        None => new_record.expect("a new run's folder is claimed above"),
        Some(dir) => {
            run_folder::restore(&mut trainer, &dir)?;
            RunRecord::resume(&dir, trainer.history.clone())
        }
    };
    // after a resume's restore: the device takes the restored weights and optimizer state
    let device = match &sequences {
        Some(_) => sequences::cpu_only(args.device.as_deref())?,
        None => args.device.as_deref(),
    };
    super::device::place(&mut trainer, device)?;
    Ok(Run { args, trainer, data, val, record, pretrained, leader, text })
}

/// The optimizer and the learning-rate schedule (with its warm-up) that the settled flags ask for.
fn optimizer_and_schedule(args: &TrainArgs) -> Result<(Optimizer, Box<dyn Schedule>)> {
    let (name, momentum) = match args.optimizer.as_deref().unwrap_or("sgd") {
        MOMENTUM_ALIAS => ("sgd", Some(args.momentum.unwrap_or(optim::DEFAULT_MOMENTUM))),
        other => (other, args.momentum),
    };
    let lr = match args.lr {
        Some(lr) => lr,
        None => optim::default_lr(name)?,
    };
    let optimizer = optim::by_name(name, lr, momentum, args.nesterov)?;
    let schedule_name = args.schedule.as_deref().unwrap_or("constant");
    let mut schedule = schedule_by_name(schedule_name, args.epochs(), args.patience, args.factor)?;
    if args.warmup > 0 {
        schedule = Box::new(Warmup::new(schedule, args.warmup));
    }
    Ok((optimizer, schedule))
}

/// The trainer's augmentation settings, when flags ask for any: images only, gray or RGB (each
/// row's planes move alike). The image size is the data's (MNIST, an image folder), else what the
/// model's input says.
fn augment_config(
    args: &TrainArgs,
    model: &Model,
    norm: &Normalization,
    image: Option<[usize; 3]>,
) -> Result<Option<AugmentConfig>> {
    let augmentation = args.augment.to_augmentation()?;
    if augmentation.is_off() {
        return Ok(None);
    }
    let input = &model.spec().input;
    let hw = match (image, input.as_slice()) {
        (Some([_, h, w]), _) | (None, &[1 | 3, h, w]) => (h, w),
        (None, &[784]) => (28, 28),
        _ => return Err(Error::config(format!("augmentation needs images; the model's input is {input:?}"))),
    };
    // a blank pixel (0) after normalisation: what shifted-in borders are filled with
    let background = (0.0 - norm.mean[0]) / norm.std[0];
    Ok(Some(AugmentConfig { augmentation, hw, background }))
}

/// A zoo model (10 digits) for an image folder of K classes: its last linear layer gets K outputs,
/// as torchvision's fine-tuning recipes replace the classifier head.
fn fit_classes(mut spec: ModelSpec, classes: usize) -> Result<ModelSpec> {
    if spec.output_size()? == classes {
        return Ok(spec);
    }
    match spec.layers.last_mut().map(|l| &mut l.spec) {
        Some(LayerSpec::Linear(last)) => {
            errln!("{}: its last linear layer gets {classes} outputs, one per class", spec.name);
            last.out = classes;
            Ok(spec)
        }
        _ => Ok(spec),
    }
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
    errln!("greedy layer-wise pre-training on {n} images, each hidden layer as {kind}, {} epochs each", p.epochs);
    pretrain_greedy(model, &images, &p, &mut |d| {
        let epoch = d.losses.len();
        let (n_in, units) = d.shape;
        let loss = d.losses[epoch - 1];
        errln!("  layer {} ({n_in} → {units})  epoch {epoch}/{}  reconstruction loss {loss:.4}", d.layer, p.epochs);
    })
}
