//! Monte-Carlo dropout (Gal & Ghahramani 2016): keep dropout switched on at test time, run the
//! stochastic network K times on the same input, and read the spread of its answers as the
//! model's uncertainty. The mean of the K probability vectors is the prediction; the predictive
//! entropy H[p̄] = −Σ_k p̄_k log p̄_k is high where the sub-networks disagree or are unsure.

use crate::autodiff::{Var, no_grad};
use crate::data::Dataset;
use crate::nn::{Model, Module};
use crate::rng::Rng;
use crate::tensor::Tensor;

/// K stochastic predictions of a batch, summarised per sample.
#[derive(Clone, Debug)]
pub struct McPrediction {
    /// The mean probabilities, m×K.
    pub mean: Tensor,
    /// Their standard deviation over the samples, m×K.
    pub std: Tensor,
    /// The predictive entropy of each row of `mean` (nats).
    pub entropy: Vec<f32>,
}

/// Runs `model` `samples` times on `x` with dropout active (the model's other layers behave as in
/// evaluation) and summarises the predictions; the masks come from `seed`.
pub fn mc_predict(model: &mut Model, x: &Tensor, samples: usize, seed: u64) -> McPrediction {
    assert!(samples > 0, "mc_predict: at least one sample");
    model.set_training(true);
    model.reseed(&mut Rng::seed(seed));
    let runs: Vec<Tensor> = (0..samples)
        .map(|_| {
            let u = no_grad(|| model.forward(&Var::constant(x.clone())));
            model.spec().loss.predict(u.value())
        })
        .collect();
    model.set_training(false);
    let n = runs[0].numel() as f64;
    let k = samples as f64;
    let mut mean = vec![0.0f64; n as usize];
    let mut sq = vec![0.0f64; n as usize];
    for r in &runs {
        for ((m, s), &v) in mean.iter_mut().zip(sq.iter_mut()).zip(r.data()) {
            *m += v as f64 / k;
            *s += (v as f64) * (v as f64) / k;
        }
    }
    let std: Vec<f32> = mean.iter().zip(&sq).map(|(m, s)| (s - m * m).max(0.0).sqrt() as f32).collect();
    let mean: Vec<f32> = mean.iter().map(|&m| m as f32).collect();
    let shape = runs[0].shape().to_vec();
    let classes = *shape.last().unwrap_or(&1);
    let entropy =
        mean.chunks_exact(classes).map(|p| -p.iter().filter(|&&v| v > 0.0).map(|&v| v * v.ln()).sum::<f32>()).collect();
    McPrediction { mean: Tensor::from_vec(mean, &shape), std: Tensor::from_vec(std, &shape), entropy }
}

/// How MC-dropout uncertainty relates to error on a labelled dataset.
#[derive(Clone, Copy, Debug)]
pub struct McEvaluation {
    /// Accuracy of the mean prediction.
    pub accuracy: f32,
    /// Error rate on the half of the samples with the highest predictive entropy.
    pub uncertain_half_error: f32,
    /// Error rate on the half with the lowest predictive entropy.
    pub certain_half_error: f32,
    /// Mean predictive entropy (nats).
    pub mean_entropy: f32,
}

/// MC-dropout evaluation of `model` on `data` (classification), `samples` passes per batch.
pub fn mc_evaluate(model: &mut Model, data: &Dataset, samples: usize, seed: u64) -> Option<McEvaluation> {
    let labels = data.labels.as_ref()?;
    let mut scored: Vec<(f32, bool)> = Vec::with_capacity(data.len());
    for (b, start) in (0..data.len()).step_by(1000).enumerate() {
        let rows: Vec<usize> = (start..(start + 1000).min(data.len())).collect();
        let p = mc_predict(model, &data.inputs.gather_rows(&rows), samples, seed.wrapping_add(b as u64));
        for ((&r, &h), class) in rows.iter().zip(&p.entropy).zip(p.mean.argmax_rows()) {
            scored.push((h, class == labels[r]));
        }
    }
    let n = scored.len().max(1);
    let accuracy = scored.iter().filter(|s| s.1).count() as f32 / n as f32;
    let mean_entropy = scored.iter().map(|s| s.0).sum::<f32>() / n as f32;
    // sort by entropy, ties by position (a stable sort keeps the split deterministic)
    scored.sort_by(|a, b| a.0.total_cmp(&b.0));
    let half = scored.len() / 2;
    let error = |part: &[(f32, bool)]| part.iter().filter(|s| !s.1).count() as f32 / part.len().max(1) as f32;
    Some(McEvaluation {
        accuracy,
        certain_half_error: error(&scored[..half]),
        uncertain_half_error: error(&scored[half..]),
        mean_entropy,
    })
}
