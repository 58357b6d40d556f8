//! Stochastic gradient descent, with the lecture's momentum or Nesterov's.

use super::UpdateRule;

/// Mini-batch SGD, w ← w − η ∂E/∂w.
///
/// With momentum α > 0, the lecture's form w⁽ᵗ⁺¹⁾ = w⁽ᵗ⁾ − η ∂E/∂w + α (w⁽ᵗ⁾ − w⁽ᵗ⁻¹⁾), kept as the
/// last step Δw: Δw ← α Δw − η ∂E/∂w, w ← w + Δw (one state buffer, Δw).
///
/// With `nesterov` as well, Sutskever's form of Nesterov momentum, which takes the gradient at the
/// look-ahead point: v ← α v − η ∇E(w + α v), w ← w + v. Storing the look-ahead point w̃ = w + α v
/// as the parameter instead of w turns it into an update that needs only the gradient g = ∇E(w̃)
/// at the parameter: v ← α v − η g, w̃ ← w̃ − η g + α v (with the new v; one state buffer, v). It
/// is the same update as PyTorch's `nesterov=True` for a constant η.
#[derive(Clone, Copy, Debug, Default)]
pub struct Sgd {
    /// The momentum α (0 for plain SGD).
    pub momentum: f32,
    /// Nesterov momentum instead of the lecture's (no effect when α = 0).
    pub nesterov: bool,
}

impl UpdateRule for Sgd {
    fn name(&self) -> String {
        match (self.momentum > 0.0, self.nesterov) {
            (false, _) => "sgd".into(),
            (true, false) => format!("sgd(momentum {})", self.momentum),
            (true, true) => format!("sgd(nesterov {})", self.momentum),
        }
    }

    fn state_buffers(&self) -> usize {
        usize::from(self.momentum > 0.0)
    }

    fn params(&self) -> Option<super::RuleParams> {
        Some(super::RuleParams::Sgd { momentum: self.momentum, nesterov: self.nesterov })
    }

    fn update(&self, w: &mut [f32], g: &[f32], state: &mut [&mut [f32]], eta: f32, _t: u64) {
        let alpha = self.momentum;
        match state {
            [v] if self.nesterov => {
                // v ← α v − η g; w̃ ← w̃ − η g + α v
                for ((w, &g), v) in w.iter_mut().zip(g).zip(v.iter_mut()) {
                    *v = alpha * *v - eta * g;
                    *w += alpha * *v - eta * g;
                }
            }
            [dw] => {
                // Δw ← α Δw − η g; w ← w + Δw
                for ((w, &g), dw) in w.iter_mut().zip(g).zip(dw.iter_mut()) {
                    *dw = alpha * *dw - eta * g;
                    *w += *dw;
                }
            }
            _ => {
                for (w, &g) in w.iter_mut().zip(g) {
                    *w -= eta * g;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{A, W0, assert_descends, assert_steps, three_steps};
    use super::super::{Optimizer, UpdateRule};
    use super::*;

    #[test]
    fn first_three_plain_steps_match_the_formula() {
        // w ← w − η a w = (1 − η a) w, so w⁽ᵗ⁾ = (1 − η a)ᵗ w⁽⁰⁾
        let eta = 0.1;
        let expected: Vec<[f64; 2]> = (1..=3).map(|t| [0, 1].map(|i| (1.0 - eta * A[i]).powi(t) * W0[i])).collect();
        assert_steps(&three_steps(&Sgd::default(), eta as f32), &expected);
    }

    #[test]
    fn first_three_momentum_steps_match_the_formula() {
        // the lecture: w⁽ᵗ⁺¹⁾ = w⁽ᵗ⁾ − η a w⁽ᵗ⁾ + α (w⁽ᵗ⁾ − w⁽ᵗ⁻¹⁾), with w⁽⁻¹⁾ = w⁽⁰⁾
        let (eta, alpha) = (0.1, 0.9);
        let mut expected = Vec::new();
        let (mut prev, mut now) = (W0, W0);
        for _ in 0..3 {
            let next = [0, 1].map(|i| now[i] - eta * A[i] * now[i] + alpha * (now[i] - prev[i]));
            (prev, now) = (now, next);
            expected.push(now);
        }
        let rule = Sgd { momentum: alpha as f32, nesterov: false };
        assert_steps(&three_steps(&rule, eta as f32), &expected);
    }

    #[test]
    fn first_three_nesterov_steps_match_sutskevers_form() {
        // Sutskever: v ← α v − η ∇E(w + α v), w ← w + v, with the gradient at the look-ahead point;
        // the rule's parameter is that look-ahead point w + α v
        let (eta, alpha) = (0.1, 0.9);
        let (mut w, mut v) = (W0, [0.0; 2]);
        let mut expected = Vec::new();
        for _ in 0..3 {
            for i in 0..2 {
                let grad_ahead = A[i] * (w[i] + alpha * v[i]);
                v[i] = alpha * v[i] - eta * grad_ahead;
                w[i] += v[i];
            }
            expected.push([0, 1].map(|i| w[i] + alpha * v[i]));
        }
        let rule = Sgd { momentum: alpha as f32, nesterov: true };
        assert_steps(&three_steps(&rule, eta as f32), &expected);
    }

    #[test]
    fn each_form_descends_an_ill_conditioned_quadratic() {
        // the largest curvature is 100, so plain SGD needs η < 2/100
        assert_descends(Optimizer::new(Sgd::default(), 0.015));
        assert_descends(Optimizer::new(Sgd { momentum: 0.9, nesterov: false }, 0.01));
        assert_descends(Optimizer::new(Sgd { momentum: 0.9, nesterov: true }, 0.01));
    }

    #[test]
    fn names_tell_the_momentum() {
        assert_eq!(Sgd::default().name(), "sgd");
        assert_eq!(Sgd { momentum: 0.0, nesterov: true }.state_buffers(), 0);
        assert_eq!(Sgd { momentum: 0.9, nesterov: true }.name(), "sgd(nesterov 0.9)");
    }
}
