//! The training loop: mini-batch SGD over a shuffled dataset, with a learning-rate schedule,
//! regularization, validation, early stopping and evaluation after each epoch.
//!
//! One step: gather m shuffled rows → forward U = net(X) → E = loss(U, T) averaged over the m
//! rows → backward gives ∂E/∂w → penalties add their gradients, clipping bounds their norm → the
//! optimizer updates w in place → max-norm projects the weights. m = 1 is plain SGD, m = N
//! full-batch gradient descent.
//!
//! The learning rate has one source, the optimizer's: [`Trainer::new`] starts the schedule with
//! it, and the schedule sets the optimizer's η before each epoch.
//!
//! One epoch, in this order: η ← schedule; shuffle with the stream (seed, epoch); the steps;
//! evaluate the validation and test sets; the schedule sees the validation loss (or the training
//! loss without a validation set); early stopping sees the validation loss. Because the shuffle
//! of epoch k depends only on (seed, k), a run resumed from a [`TrainerState`] after epoch k ends
//! with the same weights, bit for bit, as one that never stopped.
//!
//! Divergence: an epoch whose training loss is not finite, or exceeds [`DIVERGENCE_FACTOR`] (10³)
//! times the untrained model's loss on the first training samples, ends the run with an error
//! before that epoch reaches `after_epoch`, so that the last checkpoint saved holds the last good
//! weights. A loss 1000 times its start is far outside the noise of mini-batch training (a
//! classifier starts near ln C and a healthy run only falls from there): LeNet at η = 1000 reaches
//! 10³⁰ and stays at chance, which no loss-is-NaN check would see.

mod checkpoint;
mod ensemble;
mod evaluate;
mod parallel;
mod pretrain;
mod regularize;
mod uncertainty;

pub use checkpoint::{load_training_checkpoint, save_training_checkpoint};
pub use ensemble::{EnsembleEvaluation, bootstrap, evaluate_ensemble};
pub use evaluate::{Evaluation, RegressionMetrics, evaluate, evaluate_module, evaluate_range};
pub use parallel::{BUCKET_ELEMENTS, DataParallel, SumTiming, shard};
pub use pretrain::{Pretrain, PretrainedLayer, pretrain_greedy, pretrainable_layers};
pub use regularize::Regularization;
pub use uncertainty::{McEvaluation, McPrediction, mc_evaluate, mc_predict};

use crate::autodiff::Var;
use crate::data::{Augmentation, Dataset, augment_part};
use crate::loss::Loss;
use crate::nn::{Model, Module};
use crate::optim::{Optimizer, Schedule, ScheduleState};
use crate::rng::Rng;
use crate::tensor::Tensor;
use crate::{Error, Result};
use serde::{Deserialize, Serialize};
use std::time::Instant;

/// How long and in what batches to train, and with which regularization.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct TrainConfig {
    /// Passes over the training set.
    pub epochs: usize,
    /// Mini-batch size m.
    pub batch_size: usize,
    /// Seed of the shuffling streams.
    pub seed: u64,
    /// Penalties and constraints.
    pub regularization: Regularization,
    /// Stop after this many epochs without a lower validation loss, and keep the best weights.
    pub early_stop: Option<usize>,
    /// Distort training images on the fly.
    pub augment: Option<AugmentConfig>,
    /// Truncated BPTT: the rows are m parallel streams, laid out so that batch k + 1 continues
    /// batch k row for row (`data::text::streams`); the batches run in order, unshuffled, and the
    /// recurrent layers carry their state from one to the next ([`Module::carry_state`]), in
    /// training and in evaluation alike.
    #[serde(default)]
    pub carry_state: bool,
}

/// On-the-fly augmentation of image rows: the transforms, the image size, and the value of a
/// blank pixel after normalisation (what the image is padded with).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AugmentConfig {
    /// Which transforms, how strong.
    pub augmentation: Augmentation,
    /// Image height and width.
    pub hw: (usize, usize),
    /// The normalised value of a blank pixel.
    pub background: f32,
}

/// The figures of one epoch; also one line of a run's `metrics.csv` (see `crate::report`), which
/// keeps all but the penalty.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EpochReport {
    /// 1 for the first epoch.
    pub epoch: usize,
    /// The learning rate η used in this epoch.
    pub lr: f32,
    /// The mean data loss over the epoch's mini-batches (as the weights moved), penalty excluded.
    pub train_loss: f32,
    /// The mean regularization penalty over the epoch's mini-batches (0 without L1/L2).
    pub penalty: f32,
    /// The loss on the validation set after the epoch.
    pub val_loss: Option<f32>,
    /// The validation accuracy after the epoch.
    pub val_accuracy: Option<f32>,
    /// The loss on the test set after the epoch.
    pub test_loss: Option<f32>,
    /// The fraction of the test set classified correctly after the epoch.
    pub test_accuracy: Option<f32>,
    /// The validation set's regression errors (least squares without classes), in the units of
    /// the targets as trained on.
    #[serde(default)]
    pub val_regression: Option<RegressionMetrics>,
    /// The test set's, likewise.
    #[serde(default)]
    pub test_regression: Option<RegressionMetrics>,
    /// Seconds of training in the epoch, evaluation excluded.
    pub seconds: f64,
}

/// Receives progress as training runs (the CLI draws a progress bar from it).
pub trait Observer {
    /// An epoch of `batches` mini-batches begins with learning rate `lr`.
    fn epoch_start(&mut self, _epoch: usize, _batches: usize, _lr: f32) {}
    /// A mini-batch of `samples` rows ended with data loss `loss` (NaN when the loss stays on the
    /// GPU until the epoch ends).
    fn batch_end(&mut self, _loss: f32, _samples: usize) {}
    /// An epoch ended (training and evaluation).
    fn epoch_end(&mut self, _report: &EpochReport) {}
}

/// An observer that ignores everything.
pub struct Quiet;

impl Observer for Quiet {}

/// The datasets of a run: the one to learn from, and the ones to watch.
#[derive(Clone, Copy)]
pub struct Sets<'a> {
    /// The training set.
    pub train: &'a Dataset,
    /// The validation set (for early stopping and the plateau schedule), if any; an empty one
    /// counts as none.
    pub val: Option<&'a Dataset>,
    /// The test set, reported each epoch, never used for a decision; an empty one counts as none
    /// (the reports' test figures are then `None`).
    pub test: Option<&'a Dataset>,
}

/// The mini-batches of an epoch over `n` samples: ⌈n/m⌉ consecutive ranges whose sizes differ by
/// at most one. Plain chunks of m would leave a last batch of n mod m samples — with n = 9,990 and
/// m = 128, a batch of 6 whose noisy step, at the η that suits 128, knocked test accuracy from 92%
/// to 61% at the end of an epoch.
pub fn balanced_batches(n: usize, m: usize) -> Vec<std::ops::Range<usize>> {
    let count = n.div_ceil(m.max(1));
    let (base, extra) = n.checked_div(count).map_or((0, 0), |base| (base, n % count));
    let mut start = 0;
    (0..count)
        .map(|i| {
            let len = base + usize::from(i < extra);
            start += len;
            start - len..start
        })
        .collect()
}

/// Everything besides weights and optimizer buffers that a run carries from epoch to epoch.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TrainerState {
    /// Epochs completed.
    pub epoch: usize,
    /// Their reports.
    pub history: Vec<EpochReport>,
    /// The schedule's state.
    pub schedule: ScheduleState,
    /// The epoch with the lowest validation loss so far, and that loss.
    pub best: Option<(usize, f32)>,
    /// Whether early stopping has ended the run.
    pub stopped: bool,
    /// The untrained model's loss, the yardstick of divergence (see [`Trainer::divergence`]).
    #[serde(default)]
    pub initial_loss: Option<f32>,
}

/// How many times its initial loss an epoch's training loss may reach before the run is said to
/// diverge (see the module's documentation).
pub const DIVERGENCE_FACTOR: f32 = 1e3;

/// How many training samples measure the untrained model's loss.
const INITIAL_LOSS_SAMPLES: usize = 256;

/// The epoch in which a run diverged, and why.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Divergence {
    /// The first epoch whose training loss broke the rule.
    pub epoch: usize,
    /// That training loss.
    pub loss: f32,
    /// The untrained model's loss, when known.
    pub initial_loss: Option<f32>,
}

impl std::fmt::Display for Divergence {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        write!(f, "training diverged in epoch {}: ", self.epoch)?;
        match self.initial_loss {
            Some(start) if self.loss.is_finite() => write!(
                f,
                "the training loss {:.3e} is over {DIVERGENCE_FACTOR} times the untrained model's {start:.4}",
                self.loss
            ),
            _ => write!(f, "the training loss is {}, not a finite number", self.loss),
        }
    }
}

/// A model, its loss, optimizer and schedule, and the run's progress.
///
/// `M` is any [`Module`]: a spec-built [`Model`] (the default, what the CLI trains; its loss is
/// the spec's, see [`Trainer::new`]) or a network written by hand, trained with a loss given to
/// [`Trainer::with_loss`]. Everything but the training checkpoint works for both: a checkpoint
/// that rebuilds its model needs the spec that only a [`Model`] has (see
/// [`save_training_checkpoint`]); a hand-written module keeps its weights by name with
/// [`crate::io::save_weights`] and rebuilds itself in code.
///
/// ```
/// use nabla::data::Dataset;
/// use nabla::loss::Loss;
/// use nabla::nn::{Init, Linear, ReLU, Sequential};
/// use nabla::optim::{Adam, Optimizer, schedule::Constant};
/// use nabla::rng::Rng;
/// use nabla::train::{Quiet, Sets, TrainConfig, Trainer};
/// use nabla::Tensor;
///
/// // y = 2x on a few points, by a 1-8-1 network
/// let xs: Vec<f32> = (0..32).map(|i| i as f32 / 32.0).collect();
/// let ys: Vec<f32> = xs.iter().map(|x| 2.0 * x).collect();
/// let data = Dataset::from_target_slices(&xs, 1, &ys, 1).unwrap();
/// let mut rng = Rng::seed(0);
/// let mut net = Sequential::new();
/// net.push(Linear::new(1, 8, Init::He, &mut rng));
/// net.push(ReLU);
/// net.push(Linear::new(8, 1, Init::LeCun, &mut rng));
/// let config = TrainConfig { epochs: 200, batch_size: 8, ..Default::default() };
/// let optimizer = Optimizer::new(Adam::default(), 0.01);
/// let mut trainer = Trainer::with_loss(net, Loss::LeastSquares, optimizer, Box::new(Constant::new()), config);
/// trainer.fit(Sets { train: &data, val: None, test: Some(&data) }).unwrap();
/// let report = trainer.history.last().unwrap();
/// assert!(report.test_loss.unwrap() < 0.01, "{report:?}");
/// ```
pub struct Trainer<M: Module = Model> {
    /// The model being trained.
    pub model: M,
    /// The loss it is trained and evaluated with.
    pub loss: Loss,
    /// Its optimizer.
    pub optimizer: Optimizer,
    /// The learning-rate schedule.
    pub schedule: Box<dyn Schedule>,
    /// The run's settings.
    pub config: TrainConfig,
    /// The reports of the epochs completed.
    pub history: Vec<EpochReport>,
    best: Option<(usize, f32)>,
    /// The weights of the best epoch, kept for early stopping.
    best_weights: Option<Vec<Tensor>>,
    stopped: bool,
    initial_loss: Option<f32>,
    /// The other ranks of a data-parallel run, if any.
    parallel: Option<DataParallel>,
    /// The GPU that runs the steps, if the run moved there ([`Trainer::to_gpu`]).
    #[cfg(feature = "gpu")]
    gpu: Option<crate::gpu::GpuTraining>,
}

impl Trainer {
    /// A trainer at epoch 0 of a spec-built model, with the spec's loss.
    pub fn new(model: Model, optimizer: Optimizer, schedule: Box<dyn Schedule>, config: TrainConfig) -> Trainer {
        let loss = model.spec().loss;
        Trainer::with_loss(model, loss, optimizer, schedule, config)
    }

    /// Moves the training steps to `gpu`: from the next epoch on, weights, optimizer state and
    /// batches live on the device, and each epoch ends by writing the weights and optimizer
    /// state back into [`Trainer::model`] and [`Trainer::optimizer`] (evaluation and checkpoints
    /// read them there). An error names what the GPU cannot do yet: a layer without a kernel
    /// (see [`crate::nn::LayerKind::gpu`]), augmentation, data parallelism, a carried state.
    #[cfg(feature = "gpu")]
    pub fn to_gpu(&mut self, gpu: crate::gpu::Gpu) -> Result<()> {
        let refused = [
            (self.config.augment.is_some(), "augmentation"),
            (self.parallel.is_some(), "data-parallel training"),
            (self.config.carry_state, "truncated BPTT (a state carried from batch to batch, --bptt)"),
        ];
        if let Some((_, what)) = refused.iter().find(|(on, _)| *on) {
            return Err(Error::config(format!("--device gpu: {what} has no GPU kernel yet: train with --device cpu")));
        }
        let batch = self.config.batch_size.max(1);
        let mut training = crate::gpu::GpuTraining::new(gpu, &self.model, &self.optimizer, batch)?;
        training.regularize(self.config.regularization);
        self.gpu = Some(training);
        Ok(())
    }
}

impl<M: Module> Trainer<M> {
    /// A trainer at epoch 0 of any module, trained with `loss`. The module gets each mini-batch
    /// as the dataset stores it, N × D rows: one whose layers want images reshapes them itself.
    ///
    /// The optimizer's learning rate is the run's η0: the schedule is started with it (see
    /// [`Schedule::start`]) and sets the optimizer's η before every epoch.
    pub fn with_loss(
        model: M,
        loss: Loss,
        optimizer: Optimizer,
        mut schedule: Box<dyn Schedule>,
        config: TrainConfig,
    ) -> Trainer<M> {
        schedule.start(optimizer.lr());
        Trainer {
            model,
            loss,
            optimizer,
            schedule,
            config,
            history: Vec::new(),
            best: None,
            best_weights: None,
            stopped: false,
            initial_loss: None,
            parallel: None,
            #[cfg(feature = "gpu")]
            gpu: None,
        }
    }

    /// The GPU that runs the steps, in words, if the run moved to one.
    pub fn device_name(&self) -> Option<String> {
        #[cfg(feature = "gpu")]
        if let Some(gpu) = &self.gpu {
            return Some(gpu.device_name());
        }
        None
    }

    /// Makes this trainer one rank of a data-parallel run: rank 0's weights are broadcast to
    /// every rank now, and from here on each step computes this rank's part of every batch (see
    /// [`DataParallel`]). Every rank must make the same calls with the same settings and data.
    pub fn distribute(&mut self, parallel: DataParallel) {
        parallel.broadcast_weights(&mut self.model);
        self.parallel = Some(parallel);
    }

    /// The data-parallel run this trainer is a rank of, if any.
    pub fn parallel(&self) -> Option<&DataParallel> {
        self.parallel.as_ref()
    }

    /// Epochs completed.
    pub fn epoch(&self) -> usize {
        self.history.len()
    }

    /// Whether early stopping ended the run.
    pub fn stopped_early(&self) -> bool {
        self.stopped
    }

    /// The first epoch whose training loss was not finite or above [`DIVERGENCE_FACTOR`] times
    /// the untrained model's loss, if any: the weights after it are not worth keeping.
    pub fn divergence(&self) -> Option<Divergence> {
        let start = self.initial_loss.filter(|l| l.is_finite() && *l > 0.0);
        let diverged = |loss: f32| !loss.is_finite() || start.is_some_and(|s| loss > DIVERGENCE_FACTOR * s);
        let r = self.history.iter().find(|r| diverged(r.train_loss))?;
        Some(Divergence { epoch: r.epoch, loss: r.train_loss, initial_loss: start })
    }

    /// The untrained model's loss (measured by [`Trainer::run`] before the first epoch).
    pub fn initial_loss(&self) -> Option<f32> {
        self.initial_loss
    }

    /// The epoch with the lowest validation loss, if there is a validation set.
    pub fn best_epoch(&self) -> Option<usize> {
        self.best.map(|(e, _)| e)
    }

    /// Trains until `config.epochs` epochs are done or early stopping ends the run, calling
    /// `after_epoch` after each (to save a checkpoint, say). With early stopping the best
    /// epoch's weights are restored at the end. An epoch that diverges (see
    /// [`Trainer::divergence`]) ends the run with an error and is not passed to `after_epoch`.
    pub fn run(
        &mut self,
        sets: Sets,
        observer: &mut dyn Observer,
        after_epoch: &mut dyn FnMut(&Trainer<M>) -> Result<()>,
    ) -> Result<()> {
        if self.config.batch_size == 0 {
            return Err(Error::config("the batch size must be positive"));
        }
        if self.config.early_stop.is_some() && sets.val.is_none_or(|d| d.is_empty()) {
            return Err(Error::config("early stopping needs a validation set (--val-split)"));
        }
        if self.config.carry_state && self.parallel.is_some() {
            return Err(Error::config(
                "truncated BPTT (carried state) is not split over the ranks of a data-parallel run",
            ));
        }
        if let Some(p) = &self.parallel {
            let smallest = balanced_batches(sets.train.len(), self.config.batch_size).iter().map(|b| b.len()).min();
            if smallest.is_some_and(|n| n < p.size()) {
                return Err(Error::config(format!(
                    "a mini-batch of {} rows cannot be split over {} ranks: give a --batch-size (and training set) \
                     of at least {} rows",
                    smallest.unwrap_or(0),
                    p.size(),
                    p.size()
                )));
            }
        }
        #[cfg(feature = "gpu")]
        if let Some(gpu) = &mut self.gpu {
            gpu.upload(sets.train)?;
        }
        if self.epoch() == 0 && self.initial_loss.is_none() && !sets.train.is_empty() {
            let first = sets.train.take(INITIAL_LOSS_SAMPLES.min(sets.train.len()));
            let e = evaluate_module(&mut self.model, self.loss, &first, 0..first.len(), INITIAL_LOSS_SAMPLES);
            self.initial_loss = Some(e.loss);
        }
        while self.epoch() < self.config.epochs && !self.stopped {
            self.run_epoch(sets, observer);
            if let Some(p) = &self.parallel {
                p.check_same_weights(&self.model, self.epoch())?;
            }
            if let Some(d) = self.divergence() {
                return Err(Error::config(format!("{d}: try a smaller --lr")));
            }
            after_epoch(self)?;
        }
        self.restore_best();
        Ok(())
    }

    /// [`Trainer::run`] without an observer or anything to do after each epoch: trains until
    /// `config.epochs` epochs are done or early stopping ends the run (as PyTorch Lightning's
    /// `fit`). The reports are in [`Trainer::history`].
    pub fn fit(&mut self, sets: Sets) -> Result<()> {
        self.run(sets, &mut Quiet, &mut |_| Ok(()))
    }

    /// One epoch: the steps, then evaluation, schedule and early stopping. On a GPU, panics if the
    /// training set does not fit the device ([`Trainer::run`] checks that first, with an error).
    pub fn run_epoch(&mut self, sets: Sets, observer: &mut dyn Observer) -> &EpochReport {
        let epoch = self.epoch() + 1;
        let lr = self.schedule.lr();
        self.optimizer.set_lr(lr);
        let start = Instant::now();
        let mut order: Vec<usize> = (0..sets.train.len()).collect();
        let mut rng = Rng::derive(self.config.seed, epoch as u64);
        if !self.config.carry_state {
            rng.shuffle(&mut order);
        }
        self.model.reseed(&mut rng);
        if let Some(p) = &self.parallel {
            // each rank's part of a batch gets its own dropout masks
            self.model
                .reseed(&mut Rng::derive(Rng::derive(self.config.seed, epoch as u64).next_u64(), p.rank() as u64));
        }
        let batches = balanced_batches(order.len(), self.config.batch_size);
        observer.epoch_start(epoch, batches.len(), lr);
        self.model.set_training(true);
        let augment_seed = rng.next_u64();
        self.model.carry_state(self.config.carry_state);
        let (loss_sum, penalty_sum) = self.steps(sets.train, &order, &batches, augment_seed, observer);
        self.model.carry_state(false);
        let seconds = start.elapsed().as_secs_f64();
        let n = sets.train.len().max(1) as f64;
        // an empty set has no figures (None), not a loss and accuracy of 0
        let val = sets.val.filter(|d| !d.is_empty()).map(|d| self.evaluate(d));
        let test = sets.test.filter(|d| !d.is_empty()).map(|d| self.evaluate(d));
        let report = EpochReport {
            epoch,
            lr,
            train_loss: (loss_sum / n) as f32,
            penalty: (penalty_sum / n) as f32,
            val_loss: val.map(|e| e.loss),
            val_accuracy: val.and_then(|e| e.accuracy),
            test_loss: test.map(|e| e.loss),
            test_accuracy: test.and_then(|e| e.accuracy),
            val_regression: val.and_then(|e| e.regression),
            test_regression: test.and_then(|e| e.regression),
            seconds,
        };
        self.schedule.end_epoch(epoch, report.val_loss.unwrap_or(report.train_loss));
        if let Some(v) = report.val_loss {
            self.watch_validation(epoch, v);
        }
        observer.epoch_end(&report);
        self.history.push(report);
        self.history.last().expect("just pushed")
    }

    /// The steps of an epoch over `batches` of `order`; returns the sums over its rows of the data
    /// loss and of the penalty.
    fn steps(
        &mut self,
        data: &Dataset,
        order: &[usize],
        batches: &[std::ops::Range<usize>],
        augment_seed: u64,
        observer: &mut dyn Observer,
    ) -> (f64, f64) {
        #[cfg(feature = "gpu")]
        if let Some(gpu) = &mut self.gpu {
            // the batches' losses stay on the device until the epoch ends
            let parts = (&mut self.model as &mut dyn Module, &mut self.optimizer);
            // the GPU refuses augmentation, so its seed is free for the dropout masks
            let end = &mut |rows| observer.batch_end(f32::NAN, rows);
            let loss_sum = gpu.epoch(data, order, batches, augment_seed, parts, end);
            return (loss_sum, gpu.penalty_sum());
        }
        let (mut loss_sum, mut penalty_sum) = (0.0f64, 0.0f64);
        for (b, range) in batches.iter().enumerate() {
            let rows = &order[range.clone()];
            let seed = Rng::derive(augment_seed, b as u64).next_u64();
            let (loss, penalty) = self.step(data, rows, seed);
            loss_sum += loss as f64 * rows.len() as f64;
            penalty_sum += penalty as f64 * rows.len() as f64;
            observer.batch_end(loss, rows.len());
        }
        (loss_sum, penalty_sum)
    }

    /// The loss and accuracy on `data` (split across the ranks of a data-parallel run).
    fn evaluate(&mut self, data: &Dataset) -> Evaluation {
        if self.config.carry_state {
            // the streams read in order, each batch of m rows continuing the one before
            self.model.carry_state(true);
            let e = evaluate_module(&mut self.model, self.loss, data, 0..data.len(), self.config.batch_size);
            self.model.carry_state(false);
            return e;
        }
        match &self.parallel {
            Some(p) => p.evaluate(&mut self.model, self.loss, data, 1000),
            None => evaluate_module(&mut self.model, self.loss, data, 0..data.len(), 1000),
        }
    }

    /// One mini-batch step on `rows` of `data`, with `seed` for this step's augmentation;
    /// returns the batch's data loss and penalty, both before the update. A rank of a
    /// data-parallel run computes the gradient of its part of `rows` and sums it with the others'.
    pub fn step(&mut self, data: &Dataset, rows: &[usize], seed: u64) -> (f32, f32) {
        let part = self.parallel.as_ref().map_or(0..rows.len(), |p| p.part(rows.len()));
        let first = part.start;
        let mine = &rows[part];
        let mut x = data.inputs.gather_rows(mine);
        if let Some(a) = &self.config.augment {
            x = augment_part(&x, a.hw, &a.augmentation, a.background, seed, first);
        }
        let x = Var::constant(x);
        let t = data.targets.gather_rows(mine);
        let (loss, mut grads) = {
            let loss_fn = self.loss;
            let mut side = Vec::new();
            let u = match &data.lengths {
                // padded sequences: each row stops at its last real step (no auxiliary outputs)
                Some(lengths) => self.model.forward_masked(&x, &mine.iter().map(|&r| lengths[r]).collect::<Vec<_>>()),
                None => Module::forward_train(&self.model, &x, &mut side),
            };
            let mut e = loss_fn.apply(&u, &t);
            // the reported loss is the main output's; auxiliary classifiers add theirs, weighted,
            // to what is minimised
            let loss = e.value().item();
            for (weight, side_u) in side {
                e = e.add(&loss_fn.apply(&side_u, &t).scale(weight));
            }
            match &self.parallel {
                Some(p) => p.backward_and_sum(&e, &self.model, loss, mine.len(), rows.len()),
                None => (loss, e.backward()),
            }
        };
        // the graph (u, e and the side outputs, gone with the block above) holds the weights'
        // buffers: had it lived on, the optimizer would have copied every weight before writing it
        let reg = self.config.regularization;
        let penalty = reg.add_penalty(&self.model, &mut grads);
        reg.clip_gradients(&self.model, &mut grads);
        self.optimizer.step(&mut self.model, &grads);
        reg.apply_max_norm(&mut self.model);
        (loss, penalty)
    }

    fn watch_validation(&mut self, epoch: usize, loss: f32) {
        let improved = self.best.is_none_or(|(_, best)| loss < best);
        if improved {
            self.best = Some((epoch, loss));
            if self.config.early_stop.is_some() {
                // clones share buffers: the next step copies each weight once, not now
                self.best_weights = Some(self.model.params().iter().map(|(_, p)| p.value().clone()).collect());
            }
        } else if let (Some(patience), Some((best_epoch, _))) = (self.config.early_stop, self.best) {
            self.stopped = epoch - best_epoch >= patience;
        }
    }

    /// Puts the best epoch's weights back (early stopping only).
    fn restore_best(&mut self) {
        if let Some(weights) = self.best_weights.take() {
            for ((_, p), w) in self.model.params_mut().into_iter().zip(weights) {
                *p.value_mut() = w;
            }
        }
    }

    /// The weights of the best epoch so far, if early stopping keeps them.
    pub fn best_weights(&self) -> Option<&[Tensor]> {
        self.best_weights.as_deref()
    }

    /// What the run carries besides weights and optimizer buffers.
    pub fn state(&self) -> TrainerState {
        TrainerState {
            epoch: self.epoch(),
            history: self.history.clone(),
            schedule: self.schedule.state(),
            best: self.best,
            stopped: self.stopped,
            initial_loss: self.initial_loss,
        }
    }

    /// Continues from `state` (the model and optimizer must already hold that epoch's weights
    /// and buffers; `best_weights` those of the best epoch, when early stopping).
    pub fn restore(&mut self, state: TrainerState, best_weights: Option<Vec<Tensor>>) -> Result<()> {
        self.schedule.restore(&state.schedule)?;
        self.history = state.history;
        self.best = state.best;
        self.stopped = state.stopped;
        self.initial_loss = state.initial_loss;
        self.best_weights = best_weights;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::loss::Loss;
    use crate::nn::Activation;
    use crate::nn::ModelSpec;
    use crate::optim::{Sgd, schedule::Constant};

    /// A step updates every weight in its own buffer: no part of the step's graph may outlive
    /// it, or the optimizer's write would first copy the weight (as the main output's graph did
    /// for a while, which cost a quarter of an MLP step).
    #[test]
    fn a_step_writes_the_weights_in_place() {
        let spec = ModelSpec::mlp(6, &[5], 3, Activation::Relu, Loss::SoftmaxCrossEntropy);
        let model = Model::new(spec, &mut Rng::seed(0)).unwrap();
        let config = TrainConfig { epochs: 1, batch_size: 4, ..Default::default() };
        let mut trainer = Trainer::new(model, Optimizer::new(Sgd::default(), 0.1), Box::new(Constant::new()), config);
        let targets = Tensor::from_vec(
            (0..8).flat_map(|i| [0.0, 1.0, 2.0].map(|c| f32::from(c == (i % 3) as f32))).collect(),
            &[8, 3],
        );
        let data = Dataset {
            inputs: Rng::seed(1).normal_tensor(&[8, 6], 1.0).into(),
            targets,
            labels: None,
            image_shape: None,
            lengths: None,
        };
        let buffers = |t: &Trainer| t.model.params().iter().map(|(_, p)| p.value().data().as_ptr()).collect::<Vec<_>>();
        let (before, values) = (buffers(&trainer), trainer.model.params()[0].1.value().data().to_vec());
        trainer.step(&data, &[0, 1, 2, 3], 0);
        assert_eq!(buffers(&trainer), before);
        assert_ne!(trainer.model.params()[0].1.value().data(), &values[..], "the step changed nothing");
    }

    /// A loss that explodes (finite or not) ends the run with an error naming the epoch, and that
    /// epoch never reaches `after_epoch`: what was saved last is the last good epoch.
    #[test]
    fn a_diverging_epoch_is_an_error_and_is_never_saved() {
        let spec = ModelSpec::mlp(6, &[5], 3, Activation::Relu, Loss::SoftmaxCrossEntropy);
        let targets = Tensor::from_vec(
            (0..16).flat_map(|i| [0.0, 1.0, 2.0].map(|c| f32::from(c == (i % 3) as f32))).collect(),
            &[16, 3],
        );
        let labels = Some((0..16).map(|i| i % 3).collect());
        let data = Dataset {
            inputs: Rng::seed(1).normal_tensor(&[16, 6], 1.0).into(),
            targets,
            labels,
            image_shape: None,
            lengths: None,
        };
        let sets = Sets { train: &data, val: None, test: None };
        for huge in [1e6, 1e30] {
            let model = Model::new(spec.clone(), &mut Rng::seed(0)).unwrap();
            let config = TrainConfig { epochs: 2, batch_size: 4, ..Default::default() };
            let mut trainer =
                Trainer::new(model, Optimizer::new(Sgd::default(), 0.1), Box::new(Constant::new()), config);
            let mut saved = Vec::new();
            trainer
                .run(sets, &mut Quiet, &mut |t| {
                    saved.push(t.epoch());
                    Ok(())
                })
                .unwrap();
            let start = trainer.initial_loss().unwrap();
            assert!(start > 0.5 && start < 5.0, "{start}");
            // η = 10⁶ (a finite explosion) or 10³⁰ (NaN) from epoch 3 on
            let mut schedule = Constant::new();
            schedule.start(huge);
            schedule.restore(&ScheduleState { schedule: schedule.describe(), ..trainer.schedule.state() }).unwrap();
            trainer.schedule = Box::new(schedule);
            trainer.config.epochs = 5;
            let err = trainer
                .run(sets, &mut Quiet, &mut |t| {
                    saved.push(t.epoch());
                    Ok(())
                })
                .unwrap_err()
                .to_string();
            assert_eq!(saved, [1, 2], "{err}");
            assert!(
                err.starts_with("training diverged in epoch 3: the training loss") && err.contains("--lr"),
                "{err}"
            );
            let d = trainer.divergence().unwrap();
            assert!(!d.loss.is_finite() || d.loss > DIVERGENCE_FACTOR * start, "{d:?}");
        }
    }

    /// A hand-written network with the layers and weights of a spec-built MLP, trained by
    /// `Trainer::with_loss` with the spec's loss, ends with the same weights, bit for bit, and the
    /// same reports as the `Model` that the CLI trains (validation and early stopping included).
    #[test]
    fn a_hand_written_module_trains_as_the_spec_built_model() {
        use crate::nn::{Init, Linear, ReLU, Sequential};
        let spec = ModelSpec::mlp(6, &[5], 3, Activation::Relu, Loss::SoftmaxCrossEntropy);
        let mut rng = Rng::seed(1);
        let x = rng.normal_tensor(&[40, 6], 1.0);
        let data = Dataset::from_labels(x, (0..40).map(|i| i % 3).collect(), 3).unwrap();
        let (train, val) = data.split(0.25, 2);
        let sets = Sets { train: &train, val: Some(&val), test: Some(&val) };
        let config = TrainConfig { epochs: 6, batch_size: 8, seed: 3, early_stop: Some(2), ..Default::default() };
        let optimizer = || Optimizer::new(Sgd { momentum: 0.9, nesterov: false }, 0.2);

        let model = Model::new(spec, &mut Rng::seed(0)).unwrap();
        let mut net = Sequential::new();
        net.push(Linear::new(6, 5, Init::He, &mut rng));
        net.push(ReLU);
        net.push(Linear::new(5, 3, Init::LeCun, &mut rng));
        for ((a, p), (b, q)) in net.params_mut().into_iter().zip(model.params()) {
            assert_eq!(a, b);
            *p.value_mut() = q.value().clone();
        }
        let schedule = || Box::new(crate::optim::schedule::Plateau::new(1, 2.0));
        let mut by_spec = Trainer::new(model, optimizer(), schedule(), config.clone());
        let mut by_hand = Trainer::with_loss(net, Loss::SoftmaxCrossEntropy, optimizer(), schedule(), config);
        by_spec.fit(sets).unwrap();
        by_hand.fit(sets).unwrap();
        let bits = |m: &dyn Module| -> Vec<u32> {
            m.params()
                .iter()
                .flat_map(|(_, p)| p.value().data().iter().map(|v| v.to_bits()).collect::<Vec<_>>())
                .collect()
        };
        assert_eq!(bits(&by_hand.model), bits(&by_spec.model));
        let reports = |t: &[EpochReport]| t.iter().map(|r| (r.lr, r.train_loss, r.val_loss)).collect::<Vec<_>>();
        assert_eq!(reports(&by_hand.history), reports(&by_spec.history));
        assert_eq!(by_hand.best_epoch(), by_spec.best_epoch());
    }

    #[test]
    fn batches_cover_every_sample_once_and_differ_by_at_most_one() {
        for (n, m) in [(10_000, 128), (60_000, 128), (5, 1), (5, 5), (5, 10), (0, 4), (129, 128)] {
            let b = balanced_batches(n, m);
            assert_eq!(b.len(), n.div_ceil(m));
            assert_eq!(b.iter().map(|r| r.len()).sum::<usize>(), n);
            assert!(b.windows(2).all(|w| w[0].end == w[1].start));
            let (lo, hi) = (b.iter().map(|r| r.len()).min(), b.iter().map(|r| r.len()).max());
            assert!(hi.unwrap_or(0) <= m && hi.unwrap_or(0) - lo.unwrap_or(0) <= 1, "{n}, {m}: {b:?}");
        }
    }
}
