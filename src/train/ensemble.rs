//! Model averaging: K networks trained apart (other seeds, and with bagging other bootstrap
//! resamples of the training set) make errors that partly cancel, so the average of their
//! predicted probabilities is usually better than the average member.

use super::evaluate;
use crate::autodiff::{Var, no_grad};
use crate::data::Dataset;
use crate::nn::{Model, Module};
use crate::rng::Rng;

/// A bootstrap resample: n rows drawn with replacement from `n` (bagging, Breiman 1996).
pub fn bootstrap(n: usize, seed: u64) -> Vec<usize> {
    let mut rng = Rng::seed(seed);
    (0..n).map(|_| rng.below(n)).collect()
}

/// The accuracy of an ensemble and of each member.
#[derive(Clone, Debug)]
pub struct EnsembleEvaluation {
    /// Accuracy of the averaged probabilities.
    pub accuracy: f32,
    /// Each member's own accuracy.
    pub members: Vec<f32>,
    /// Mean loss of the averaged prediction (cross-entropy of p̄ for classification).
    pub loss: f32,
}

/// Evaluates members alone and the average of their predicted probabilities on `data`.
pub fn evaluate_ensemble(members: &mut [Model], data: &Dataset) -> Option<EnsembleEvaluation> {
    let labels = data.labels.as_ref()?;
    let member_acc: Vec<f32> = members.iter_mut().map(|m| evaluate(m, data, 1000).accuracy.unwrap_or(0.0)).collect();
    let (mut correct, mut loss) = (0usize, 0.0f64);
    for start in (0..data.len()).step_by(1000) {
        let rows: Vec<usize> = (start..(start + 1000).min(data.len())).collect();
        let x = Var::constant(data.inputs.gather_rows(&rows));
        let mut sum: Option<crate::Tensor> = None;
        for m in members.iter_mut() {
            m.set_training(false);
            let p = m.spec().loss.predict(no_grad(|| m.forward(&x)).value());
            match &mut sum {
                Some(s) => s.add_assign(&p),
                None => sum = Some(p),
            }
        }
        let mean = sum.expect("at least one member").scale(1.0 / members.len() as f32);
        let k = mean.shape()[1];
        for (i, (&r, class)) in rows.iter().zip(mean.argmax_rows()).enumerate() {
            correct += usize::from(class == labels[r]);
            loss -= (mean.data()[i * k + labels[r]].max(1e-12) as f64).ln();
        }
    }
    let n = data.len().max(1) as f32;
    Some(EnsembleEvaluation { accuracy: correct as f32 / n, members: member_acc, loss: (loss / n as f64) as f32 })
}
