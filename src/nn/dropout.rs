//! Dropout (Srivastava et al. 2014): in training, each unit is dropped with probability p, so
//! every mini-batch trains a different thinned sub-network; at test time one network stands in
//! for the average of all 2^H of them.
//!
//! Two test-time rules:
//! - **inverted** (the default, as in PyTorch): scale the kept units by 1/q in training
//!   (q = 1 − p), so that nothing changes at test time;
//! - **weight scaling** (the lecture's): train unscaled and multiply the outgoing weights by q at
//!   test time. Scaling this layer's output by q is the same thing — the next layer computes
//!   (q·y)·W + b = y·(qW) + b — so that is how it is done here.
//!
//! For one hidden layer feeding a softmax, weight scaling gives exactly the normalised
//! geometric mean of the predictions of all 2^H sub-networks, weighted by each mask's
//! probability: the logits are linear in the mask, so the mean of the log-probabilities is the
//! log-softmax of the mean logits, and the mean logits are the weight-scaled net's (the test
//! below checks it, H = 10).
//!
//! # Shapes
//! Any input; the output has the same shape.

use super::Init;
use super::Module;
use super::kind::LayerKind;
use crate::autodiff::Var;
use crate::rng::Rng;
use crate::tensor::Tensor;
use serde::{Deserialize, Serialize};
use std::sync::Mutex;

/// How a dropout layer makes test-time outputs match the training-time average.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DropoutRule {
    /// Kept units are scaled by 1/q in training; test time is the identity.
    #[default]
    Inverted,
    /// Training is unscaled; test time multiplies by q (the outgoing weights' scaling).
    WeightScaling,
}

/// Drops each unit with probability `p` in training mode.
#[derive(Debug)]
pub struct Dropout {
    p: f32,
    rule: DropoutRule,
    training: bool,
    rng: Mutex<Rng>,
}

impl Dropout {
    /// A dropout layer with drop probability `p` ∈ [0, 1).
    pub fn new(p: f32, rule: DropoutRule) -> Dropout {
        assert!((0.0..1.0).contains(&p), "Dropout: p = {p} must be in [0, 1)");
        Dropout { p, rule, training: true, rng: Mutex::new(Rng::seed(0)) }
    }

    /// A fresh Bernoulli(q) mask of `shape`, holding 1/q (inverted) or 1 for kept units.
    fn mask(&self, shape: &[usize]) -> Tensor {
        let q = 1.0 - self.p;
        let keep = if self.rule == DropoutRule::Inverted { 1.0 / q } else { 1.0 };
        let mut rng = self.rng.lock().unwrap_or_else(|e| e.into_inner());
        let n = shape.iter().product();
        Tensor::from_vec((0..n).map(|_| if rng.uniform(0.0, 1.0) < q { keep } else { 0.0 }).collect(), shape)
    }
}

impl Module for Dropout {
    fn forward(&self, x: &Var) -> Var {
        match (self.training, self.rule) {
            (true, _) if self.p > 0.0 => x.mul(&Var::constant(self.mask(x.shape()))),
            (false, DropoutRule::WeightScaling) => x.scale(1.0 - self.p),
            _ => x.clone(),
        }
    }

    fn set_training(&mut self, training: bool) {
        self.training = training;
    }

    fn reseed(&mut self, rng: &mut Rng) {
        *self.rng.get_mut().unwrap_or_else(|e| e.into_inner()) = rng.fork();
    }
}

/// Dropout with drop probability `p` in training, in a spec (`type = "dropout"`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DropoutSpec {
    /// The probability of dropping a unit, in [0, 1).
    pub p: f32,
    /// `inverted` (default) or `weight-scaling`.
    #[serde(default)]
    pub rule: DropoutRule,
}

impl LayerKind for DropoutSpec {
    fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>, String> {
        if !(0.0..1.0).contains(&self.p) {
            return Err(format!("p = {} must be in [0, 1)", self.p));
        }
        Ok(input.to_vec())
    }

    fn build(&self, _input: &[usize], _default_init: Init, _rng: &mut Rng) -> Box<dyn Module> {
        Box::new(Dropout::new(self.p, self.rule))
    }

    fn counts(&self, _input: &[usize], _output: &[usize]) -> (usize, usize) {
        (0, 0)
    }

    fn set_init(&mut self, _init: Init) {}

    fn gpu(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::autodiff::GradCheck;
    use crate::ops::testing::randn;

    #[test]
    fn the_mask_drops_about_p_and_scales_by_one_over_q() {
        let mut d = Dropout::new(0.3, DropoutRule::Inverted);
        d.reseed(&mut Rng::seed(1));
        let y = d.forward(&Var::constant(Tensor::ones(&[100, 100])));
        let kept = y.value().data().iter().filter(|&&v| v != 0.0).count();
        assert!((kept as f32 / 1e4 - 0.7).abs() < 0.02, "kept {kept}");
        assert!(y.value().data().iter().all(|&v| v == 0.0 || (v - 1.0 / 0.7).abs() < 1e-6));
        // the mean is preserved in expectation
        assert!((y.value().mean() - 1.0).abs() < 0.03);
        d.set_training(false);
        assert_eq!(d.forward(&Var::constant(Tensor::ones(&[2, 2]))).value().data(), &[1.0; 4]);
        let mut w = Dropout::new(0.3, DropoutRule::WeightScaling);
        w.set_training(false);
        assert!((w.forward(&Var::constant(Tensor::ones(&[1]))).value().item() - 0.7).abs() < 1e-7);
    }

    #[test]
    fn dropout_passes_gradient_checks_in_training_mode() {
        let xs = randn(3, &[&[4, 6]]);
        for rule in [DropoutRule::Inverted, DropoutRule::WeightScaling] {
            // a layer reseeded the same way for every evaluation keeps one fixed mask
            let f = |v: &[Var]| {
                let mut d = Dropout::new(0.5, rule);
                d.reseed(&mut Rng::seed(9));
                d.forward(&v[0])
            };
            GradCheck::default().run(&xs, f).unwrap();
        }
    }

    /// The lecture's "(why?)": for one hidden layer of H = 10 units and a softmax output,
    /// weight scaling gives exactly the normalised geometric mean of all 2^H sub-networks'
    /// predictions, each weighted by its mask's probability.
    #[test]
    fn weight_scaling_is_the_geometric_mean_of_all_sub_networks() {
        const H: usize = 10;
        let mut rng = Rng::seed(4);
        let (x, w1, b1) =
            (rng.normal_tensor(&[1, 5], 1.0), rng.normal_tensor(&[5, H], 1.0), rng.normal_tensor(&[H], 1.0));
        let (w2, b2) = (rng.normal_tensor(&[H, 3], 1.0), rng.normal_tensor(&[3], 1.0));
        let hidden = x.matmul(&w1).add(&b1).map(|u| u.max(0.0));
        let h = hidden.data();
        for p in [0.5f64, 0.2] {
            let q = 1.0 - p;
            // weighted mean of log-softmax over every mask, in f64
            let mut mean_log = [0.0f64; 3];
            for mask in 0..1u32 << H {
                let kept = mask.count_ones() as i32;
                let prob = q.powi(kept) * p.powi(H as i32 - kept);
                let logits: Vec<f64> = (0..3)
                    .map(|k| {
                        let s: f64 = (0..H)
                            .filter(|j| mask >> j & 1 == 1)
                            .map(|j| h[j] as f64 * w2.data()[j * 3 + k] as f64)
                            .sum();
                        s + b2.data()[k] as f64
                    })
                    .collect();
                let lse = logits.iter().map(|l| l.exp()).sum::<f64>().ln();
                for k in 0..3 {
                    mean_log[k] += prob * (logits[k] - lse);
                }
            }
            let norm: f64 = mean_log.iter().map(|l| l.exp()).sum();
            let geometric: Vec<f64> = mean_log.iter().map(|l| l.exp() / norm).collect();
            // the weight-scaled network, through the layer in evaluation mode
            let mut drop = Dropout::new(p as f32, DropoutRule::WeightScaling);
            drop.set_training(false);
            let scaled = drop.forward(&Var::constant(hidden.clone()));
            let out = crate::ops::softmax_rows(&scaled.value().matmul(&w2).add(&b2));
            for k in 0..3 {
                assert!((out.data()[k] as f64 - geometric[k]).abs() < 1e-5, "p {p}: {out:?} vs {geometric:?}");
            }
        }
    }
}
