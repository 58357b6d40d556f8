//! Evaluation: the mean loss and the accuracy of a model on a dataset, without a graph.

use crate::autodiff::{Var, no_grad};
use crate::data::Dataset;
use crate::nn::{Model, Module};
use std::ops::Range;

/// The loss and accuracy of a model on a dataset.
#[derive(Clone, Copy, Debug)]
pub struct Evaluation {
    /// Mean loss per sample.
    pub loss: f32,
    /// Fraction correct (classification only).
    pub accuracy: Option<f32>,
}

/// The mean loss and the accuracy of `model` on `data`, in batches of `batch_size` rows, in
/// evaluation mode (the model is put back in training mode afterwards).
pub fn evaluate(model: &mut Model, data: &Dataset, batch_size: usize) -> Evaluation {
    evaluate_range(model, data, 0..data.len(), batch_size)
}

/// As [`evaluate`], over the rows `range` of `data` alone (a rank's shard, in data-parallel
/// training).
pub fn evaluate_range(model: &mut Model, data: &Dataset, range: Range<usize>, batch_size: usize) -> Evaluation {
    model.set_training(false);
    let mut loss = 0.0f64;
    let mut correct = 0usize;
    let (n, end) = (range.len(), range.end);
    for start in range.step_by(batch_size.max(1)) {
        let rows: Vec<usize> = (start..(start + batch_size).min(end)).collect();
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
