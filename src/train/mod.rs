//! The training loop: mini-batch SGD over a shuffled dataset, with evaluation after each epoch.
//!
//! One step: gather m shuffled rows → forward U = net(X) → E = loss(U, T) averaged over the m
//! rows → backward gives ∂E/∂w for every parameter → the optimizer updates w in place.
//! m = 1 is plain SGD, m = N full-batch gradient descent.

use crate::autodiff::{Var, no_grad};
use crate::data::Dataset;
use crate::nn::{Model, Module};
use crate::optim::Optimizer;
use crate::rng::Rng;
use std::time::Instant;

/// How long and in what batches to train.
#[derive(Clone, Debug)]
pub struct TrainConfig {
    /// Passes over the training set.
    pub epochs: usize,
    /// Mini-batch size m.
    pub batch_size: usize,
    /// Seed of the shuffling stream.
    pub seed: u64,
}

/// The figures of one epoch.
#[derive(Clone, Debug, serde::Serialize)]
pub struct EpochReport {
    /// 1 for the first epoch.
    pub epoch: usize,
    /// The learning rate η used in this epoch.
    pub lr: f32,
    /// The mean loss over the epoch's mini-batches (as the weights moved).
    pub train_loss: f32,
    /// The loss on the evaluation set after the epoch.
    pub test_loss: Option<f32>,
    /// The fraction of the evaluation set classified correctly after the epoch.
    pub test_accuracy: Option<f32>,
    /// Seconds of training in the epoch, evaluation excluded.
    pub seconds: f64,
}

/// Receives progress as training runs (the CLI draws a progress bar from it).
pub trait Observer {
    /// An epoch of `batches` mini-batches begins.
    fn epoch_start(&mut self, _epoch: usize, _batches: usize) {}
    /// A mini-batch of `samples` rows ended with loss `loss`.
    fn batch_end(&mut self, _loss: f32, _samples: usize) {}
    /// An epoch ended (training and evaluation).
    fn epoch_end(&mut self, _report: &EpochReport) {}
}

/// An observer that ignores everything.
pub struct Quiet;

impl Observer for Quiet {}

/// The loss and accuracy of a model on a dataset.
#[derive(Clone, Copy, Debug)]
pub struct Evaluation {
    /// Mean loss per sample.
    pub loss: f32,
    /// Fraction correct (classification only).
    pub accuracy: Option<f32>,
}

/// Trains `model` with `optimizer` for `config.epochs` epochs and evaluates on `eval` after each.
pub fn fit(
    model: &mut Model,
    optimizer: &mut Optimizer,
    train: &Dataset,
    eval: Option<&Dataset>,
    config: &TrainConfig,
    observer: &mut dyn Observer,
) -> Vec<EpochReport> {
    assert!(config.batch_size > 0, "fit: batch size must be positive");
    let mut rng = Rng::seed(config.seed);
    let mut order: Vec<usize> = (0..train.len()).collect();
    let mut reports = Vec::with_capacity(config.epochs);
    for epoch in 1..=config.epochs {
        let start = Instant::now();
        rng.shuffle(&mut order);
        observer.epoch_start(epoch, order.len().div_ceil(config.batch_size));
        model.set_training(true);
        let mut total = 0.0f64;
        for rows in order.chunks(config.batch_size) {
            let loss = train_step(model, optimizer, train, rows);
            total += loss as f64 * rows.len() as f64;
            observer.batch_end(loss, rows.len());
        }
        let seconds = start.elapsed().as_secs_f64();
        let evaluation = eval.map(|data| evaluate(model, data, 1000));
        let report = EpochReport {
            epoch,
            lr: optimizer.lr(),
            train_loss: (total / train.len().max(1) as f64) as f32,
            test_loss: evaluation.map(|e| e.loss),
            test_accuracy: evaluation.and_then(|e| e.accuracy),
            seconds,
        };
        observer.epoch_end(&report);
        reports.push(report);
    }
    reports
}

/// One mini-batch step on `rows` of `data`; returns the batch loss before the update.
pub fn train_step(model: &mut Model, optimizer: &mut Optimizer, data: &Dataset, rows: &[usize]) -> f32 {
    let x = Var::constant(data.inputs.gather_rows(rows));
    let t = data.targets.gather_rows(rows);
    let e = model.spec().loss.apply(&model.forward(&x), &t);
    let loss = e.value().item();
    let grads = e.backward();
    // the graph holds the weights' buffers; dropping it lets the optimizer write them in place
    drop(e);
    optimizer.step(model, &grads);
    loss
}

/// The mean loss and the accuracy of `model` on `data`, in batches of `batch_size` rows.
pub fn evaluate(model: &mut Model, data: &Dataset, batch_size: usize) -> Evaluation {
    model.set_training(false);
    let mut loss = 0.0f64;
    let mut correct = 0usize;
    let n = data.len();
    for start in (0..n).step_by(batch_size.max(1)) {
        let rows: Vec<usize> = (start..(start + batch_size).min(n)).collect();
        let x = Var::constant(data.inputs.gather_rows(&rows));
        let t = data.targets.gather_rows(&rows);
        let u = no_grad(|| model.forward(&x));
        loss += model.spec().loss.apply(&u, &t).value().item() as f64 * rows.len() as f64;
        if let Some(labels) = &data.labels {
            let predicted = u.value().argmax_rows();
            correct += predicted.iter().zip(&rows).filter(|&(p, &r)| *p == labels[r]).count();
        }
    }
    model.set_training(true);
    Evaluation {
        loss: (loss / n.max(1) as f64) as f32,
        accuracy: data.labels.as_ref().map(|_| correct as f32 / n.max(1) as f32),
    }
}
