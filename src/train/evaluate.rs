//! Evaluation: the mean loss and the accuracy of a model on a dataset, without a graph.

use crate::autodiff::{Var, no_grad};
use crate::data::Dataset;
use crate::loss::Loss;
use crate::nn::{Model, Module};
use serde::{Deserialize, Serialize};
use std::ops::Range;

/// The loss and accuracy of a model on a dataset.
#[derive(Clone, Copy, Debug)]
pub struct Evaluation {
    /// Mean loss per sample.
    pub loss: f32,
    /// Fraction correct (classification only; for a tagger, the fraction of real steps whose
    /// tag is right).
    pub accuracy: Option<f32>,
    /// Errors of the outputs as values (least squares on data without classes only).
    pub regression: Option<RegressionMetrics>,
}

/// How far a regression model's outputs u are from the targets t, over all n rows and k outputs:
/// MSE = Σ(u − t)²/(nk), MAE = Σ|u − t|/(nk), and R² = 1 − Σ(u − t)²/Σ(t − t̄)² (t̄ each output's
/// mean over the set: 1 is perfect, 0 no better than predicting the mean).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct RegressionMetrics {
    /// Mean squared error.
    pub mse: f32,
    /// Mean absolute error.
    pub mae: f32,
    /// Coefficient of determination.
    pub r2: f32,
}

impl RegressionMetrics {
    /// Root mean squared error.
    pub fn rmse(&self) -> f32 {
        self.mse.sqrt()
    }

    /// The metrics of outputs `u` against targets `t` (both n × k), summed in row order as
    /// [`evaluate`] sums its batches (a device that brings the outputs back gets the same
    /// figures).
    pub fn of(u: &crate::Tensor, t: &crate::Tensor) -> RegressionMetrics {
        let (n, k) = t.dims2("RegressionMetrics::of");
        let mut sums = RegressionSums::new(k);
        sums.add(u.data(), t.data());
        sums.finish(n)
    }

    /// The metrics of targets and outputs that were standardised, y = mean + std·z, in the units
    /// of y: MSE scales by std², MAE by std, R² not at all.
    pub fn in_units(&self, std: f32) -> RegressionMetrics {
        RegressionMetrics { mse: self.mse * std * std, mae: self.mae * std.abs(), r2: self.r2 }
    }
}

/// Running sums for [`RegressionMetrics`].
struct RegressionSums {
    squared: f64,
    absolute: f64,
    /// Per output: Σt and Σt².
    sum: Vec<f64>,
    sum_sq: Vec<f64>,
}

impl RegressionSums {
    fn new(k: usize) -> RegressionSums {
        RegressionSums { squared: 0.0, absolute: 0.0, sum: vec![0.0; k], sum_sq: vec![0.0; k] }
    }

    fn add(&mut self, u: &[f32], t: &[f32]) {
        let k = self.sum.len().max(1);
        for (i, (&u, &t)) in u.iter().zip(t).enumerate() {
            let e = (u - t) as f64;
            self.squared += e * e;
            self.absolute += e.abs();
            self.sum[i % k] += t as f64;
            self.sum_sq[i % k] += (t as f64) * (t as f64);
        }
    }

    fn finish(&self, n: usize) -> RegressionMetrics {
        let values = (n * self.sum.len()).max(1) as f64;
        let n = n.max(1) as f64;
        let total: f64 = self.sum.iter().zip(&self.sum_sq).map(|(s, q)| q - s * s / n).sum();
        let r2 = if total > 0.0 { 1.0 - self.squared / total } else { 0.0 };
        RegressionMetrics { mse: (self.squared / values) as f32, mae: (self.absolute / values) as f32, r2: r2 as f32 }
    }
}

/// The mean loss and the accuracy of `model` on `data`, in batches of `batch_size` rows, in
/// evaluation mode (the model is put back in training mode afterwards).
pub fn evaluate(model: &mut Model, data: &Dataset, batch_size: usize) -> Evaluation {
    evaluate_range(model, data, 0..data.len(), batch_size)
}

/// As [`evaluate`], over the rows `range` of `data` alone (a rank's shard, in data-parallel
/// training).
pub fn evaluate_range(model: &mut Model, data: &Dataset, range: Range<usize>, batch_size: usize) -> Evaluation {
    let loss = model.spec().loss;
    evaluate_module(model, loss, data, range, batch_size)
}

/// The mean `loss` and the accuracy of any [`Module`] on the rows `range` of `data`, in batches
/// of `batch_size` rows, in evaluation mode (put back in training mode afterwards). The module
/// gets the rows as they are stored (N × D); a hand-written one reshapes them itself. Padded
/// sequences (`data.lengths`) go through [`Module::forward_masked`]; a tagger's outputs (one class
/// per step, m × T × K) are scored per real step.
///
/// ```
/// use nabla::data::Dataset;
/// use nabla::loss::Loss;
/// use nabla::nn::{Init, Linear};
/// use nabla::{Tensor, rng::Rng, train::evaluate_module};
/// let data = Dataset::from_labels(Tensor::from_vec(vec![1.0, 0.0, 0.0, 1.0], &[2, 2]), vec![0, 1], 2).unwrap();
/// let mut layer = Linear::new(2, 2, Init::LeCun, &mut Rng::seed(0));
/// let e = evaluate_module(&mut layer, Loss::SoftmaxCrossEntropy, &data, 0..data.len(), 100);
/// assert!(e.loss > 0.0 && e.accuracy.is_some());
/// ```
pub fn evaluate_module(
    model: &mut dyn Module,
    loss_fn: Loss,
    data: &Dataset,
    range: Range<usize>,
    batch_size: usize,
) -> Evaluation {
    model.set_training(false);
    let mut loss = 0.0f64;
    let (mut correct, mut tagged) = (0usize, 0usize);
    let (n, end) = (range.len(), range.end);
    let regression = data.labels.is_none() && loss_fn == Loss::LeastSquares;
    let mut sums = RegressionSums::new(data.targets.shape()[1]);
    for start in range.step_by(batch_size.max(1)) {
        let rows: Vec<usize> = (start..(start + batch_size).min(end)).collect();
        let x = Var::constant(data.inputs.gather_rows(&rows));
        let t = data.targets.gather_rows(&rows);
        let u = no_grad(|| match &data.lengths {
            Some(lengths) => model.forward_masked(&x, &rows.iter().map(|&r| lengths[r]).collect::<Vec<_>>()),
            None => model.forward(&x),
        });
        loss += loss_fn.apply(&u, &t).value().item() as f64 * rows.len() as f64;
        if regression {
            sums.add(u.value().data(), t.data());
        }
        if let Some(labels) = &data.labels {
            let predicted = u.value().argmax_rows();
            correct += predicted.iter().zip(&rows).filter(|&(p, &r)| *p == labels[r]).count();
        }
        if let (Some(_), &[m, steps, k]) = (&data.lengths, u.shape()) {
            // one tag per step; padded steps (negative targets) are not scored
            let predicted = u.value().reshape(&[m * steps, k]).argmax_rows();
            let real = predicted.iter().zip(t.data()).filter(|&(_, &t)| t >= 0.0);
            let (right, all) =
                real.fold((0, 0), |(right, all), (&p, &t)| (right + usize::from(p == t as usize), all + 1));
            (correct, tagged) = (correct + right, tagged + all);
        }
    }
    model.set_training(true);
    let accuracy = match (&data.labels, tagged) {
        (Some(_), _) => Some(correct as f32 / n.max(1) as f32),
        (None, 0) => None,
        (None, steps) => Some(correct as f32 / steps as f32),
    };
    Evaluation { loss: (loss / n.max(1) as f64) as f32, accuracy, regression: regression.then(|| sums.finish(n)) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regression_sums_give_mse_mae_and_r2() {
        // targets 1, 2, 3 (mean 2, Σ(t − t̄)² = 2), outputs 1, 2, 5: errors 0, 0, 2
        let mut sums = RegressionSums::new(1);
        sums.add(&[1.0, 2.0], &[1.0, 2.0]);
        sums.add(&[5.0], &[3.0]);
        let m = sums.finish(3);
        assert_eq!((m.mse, m.mae), (4.0 / 3.0, 2.0 / 3.0));
        assert_eq!(m.r2, 1.0 - 4.0 / 2.0);
        assert_eq!(m.rmse(), (4.0f32 / 3.0).sqrt());
        // in units of y = mean + 10·z
        let u = m.in_units(10.0);
        assert_eq!((u.mse, u.mae, u.r2), (m.mse * 100.0, m.mae * 10.0, m.r2));
    }
}
