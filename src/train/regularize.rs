//! Regularization inside backprop: penalties that join the objective and its gradient, and
//! constraints applied around the optimizer step.
//!
//! - L2: E + (λ₂/2)·Σw², gradient + λ₂·w (weight decay).
//! - L1: E + λ₁·Σ|w|, gradient + λ₁·sign(w) (drives weights to exactly zero).
//! - Max-norm: after each step, every unit's incoming weight vector (a column of W, n_in × n_out)
//!   is scaled back onto the ball ‖w_j‖₂ ≤ c.
//! - Gradient clipping: before each step, if the global norm √(Σ g²) over all parameters exceeds
//!   c, every gradient is scaled by c / norm.
//!
//! Penalties apply to weights only (parameters named `*.weight`), not to biases: a bias does not
//! multiply an input, so shrinking it does not limit the capacity that regularization targets.

use crate::autodiff::{Gradients, Param};
use crate::nn::Module;

/// The regularization settings of a run; all off by default.
#[derive(Clone, Copy, Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct Regularization {
    /// λ₁ of the L1 penalty.
    pub l1: f32,
    /// λ₂ of the L2 penalty.
    pub l2: f32,
    /// The largest norm c of a unit's incoming weight vector.
    pub max_norm: Option<f32>,
    /// The largest global gradient norm.
    pub clip: Option<f32>,
}

fn is_penalized(name: &str) -> bool {
    name.ends_with("weight")
}

impl Regularization {
    /// Adds the penalties' gradients to `grads` and returns the penalty (λ₁Σ|w| + λ₂/2·Σw²).
    pub fn add_penalty(&self, model: &dyn Module, grads: &mut Gradients) -> f32 {
        if self.l1 == 0.0 && self.l2 == 0.0 {
            return 0.0;
        }
        let (l1, l2) = (self.l1, self.l2);
        let mut penalty = 0.0f64;
        for (name, param) in model.params() {
            if !is_penalized(&name) {
                continue;
            }
            let Some(g) = grads.get_param_mut(param) else { continue };
            let (mut abs, mut sq) = (0.0f64, 0.0f64);
            for (g, &w) in g.data_mut().iter_mut().zip(param.value().data()) {
                *g += l2 * w + l1 * sign(w);
                abs += w.abs() as f64;
                sq += (w * w) as f64;
            }
            penalty += l1 as f64 * abs + 0.5 * l2 as f64 * sq;
        }
        penalty as f32
    }

    /// Scales all gradients down so that their global norm is at most `clip`; returns the norm
    /// before clipping.
    pub fn clip_gradients(&self, model: &dyn Module, grads: &mut Gradients) -> Option<f32> {
        let c = self.clip?;
        let params: Vec<&Param> = model.params().into_iter().map(|(_, p)| p).collect();
        let sq: f64 = params
            .iter()
            .filter_map(|p| grads.get_param(p))
            .map(|g| g.data().iter().map(|&x| (x * x) as f64).sum::<f64>())
            .sum();
        let norm = sq.sqrt() as f32;
        if norm > c {
            let scale = c / norm;
            for p in params {
                if let Some(g) = grads.get_param_mut(p) {
                    g.data_mut().iter_mut().for_each(|x| *x *= scale);
                }
            }
        }
        Some(norm)
    }

    /// Projects each unit's incoming weight vector (a column of a 2-D weight) onto ‖w‖₂ ≤ c.
    pub fn apply_max_norm(&self, model: &mut dyn Module) {
        let Some(c) = self.max_norm else { return };
        for (name, param) in model.params_mut() {
            if !is_penalized(&name) || param.value().ndim() != 2 {
                continue;
            }
            let (_, n_out) = param.value().dims2("max_norm");
            let w = param.value_mut().data_mut();
            let mut norms = vec![0.0f32; n_out];
            for row in w.chunks_exact(n_out) {
                for (s, &x) in norms.iter_mut().zip(row) {
                    *s += x * x;
                }
            }
            let scales: Vec<f32> = norms.iter().map(|&s| if s.sqrt() > c { c / s.sqrt() } else { 1.0 }).collect();
            if scales.iter().all(|&s| s == 1.0) {
                continue;
            }
            for row in w.chunks_exact_mut(n_out) {
                for (x, &s) in row.iter_mut().zip(&scales) {
                    *x *= s;
                }
            }
        }
    }
}

fn sign(w: f32) -> f32 {
    if w > 0.0 {
        1.0
    } else if w < 0.0 {
        -1.0
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::autodiff::Var;
    use crate::nn::{Init, Linear};
    use crate::rng::Rng;
    use crate::tensor::Tensor;

    fn layer_and_grads() -> (Linear, Gradients) {
        let layer = Linear::new(3, 2, Init::Xavier, &mut Rng::seed(1));
        let x = Var::constant(Tensor::ones(&[1, 3]));
        let grads = layer.forward(&x).sum().backward();
        (layer, grads)
    }

    #[test]
    fn penalties_add_their_gradients_to_weights_only() {
        let (layer, mut grads) = layer_and_grads();
        let plain_w = grads.get_param(&layer.weight).unwrap().clone();
        let plain_b = grads.get_param(&layer.bias).unwrap().clone();
        let reg = Regularization { l1: 0.1, l2: 0.5, ..Default::default() };
        let penalty = reg.add_penalty(&layer, &mut grads);
        let w = layer.weight.value().data();
        let want: f32 = w.iter().map(|x| 0.1 * x.abs() + 0.25 * x * x).sum();
        assert!((penalty - want).abs() < 1e-6);
        for ((g, g0), &w) in grads.get_param(&layer.weight).unwrap().data().iter().zip(plain_w.data()).zip(w) {
            assert!((g - (g0 + 0.5 * w + 0.1 * w.signum())).abs() < 1e-6);
        }
        assert_eq!(grads.get_param(&layer.bias).unwrap(), &plain_b);
    }

    #[test]
    fn clipping_bounds_the_global_norm() {
        let (layer, mut grads) = layer_and_grads();
        let reg = Regularization { clip: Some(0.5), ..Default::default() };
        let before = reg.clip_gradients(&layer, &mut grads).unwrap();
        assert!(before > 0.5);
        let after: f32 = [&layer.weight, &layer.bias]
            .iter()
            .map(|p| grads.get_param(p).unwrap().data().iter().map(|x| x * x).sum::<f32>())
            .sum::<f32>()
            .sqrt();
        assert!((after - 0.5).abs() < 1e-5);
    }

    #[test]
    fn max_norm_projects_incoming_weight_vectors() {
        let mut layer = Linear::new(4, 3, Init::Xavier, &mut Rng::seed(2));
        *layer.weight.value_mut() = Tensor::from_vec((0..12).map(|x| x as f32).collect(), &[4, 3]);
        Regularization { max_norm: Some(5.0), ..Default::default() }.apply_max_norm(&mut layer);
        let w = layer.weight.value().data();
        for j in 0..3 {
            let norm = (0..4).map(|i| w[i * 3 + j].powi(2)).sum::<f32>().sqrt();
            assert!(norm <= 5.0 + 1e-5, "column {j}: {norm}");
        }
    }
}
