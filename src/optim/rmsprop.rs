//! RMSProp: gradients divided by a decaying root-mean-square of their recent values.

use super::UpdateRule;

/// RMSProp as PyTorch implements it: with a decaying average v of the squared gradients,
/// v ← α v + (1 − α) g², w ← w − η g / (√v + ε).
///
/// ε sits outside the root, as in PyTorch. One state buffer, v.
#[derive(Clone, Copy, Debug)]
pub struct RmsProp {
    /// The decay rate α (ρ in some texts) of the average.
    pub alpha: f32,
    /// ε, added to the root.
    pub eps: f32,
}

impl Default for RmsProp {
    /// α = 0.99, ε = 1e-8 (PyTorch's defaults).
    fn default() -> RmsProp {
        RmsProp { alpha: 0.99, eps: 1e-8 }
    }
}

impl UpdateRule for RmsProp {
    fn name(&self) -> String {
        format!("rmsprop(α {}, ε {:e})", self.alpha, self.eps)
    }

    fn state_buffers(&self) -> usize {
        1
    }

    fn params(&self) -> Option<super::RuleParams> {
        Some(super::RuleParams::RmsProp { alpha: self.alpha, eps: self.eps })
    }

    fn update(&self, w: &mut [f32], g: &[f32], state: &mut [&mut [f32]], eta: f32, _t: u64) {
        let [mean_g2] = state else { unreachable!("rmsprop keeps one state buffer") };
        let alpha = self.alpha;
        // v ← α v + (1 − α) g²; w ← w − η g/(√v + ε)
        for ((w, &g), v) in w.iter_mut().zip(g).zip(mean_g2.iter_mut()) {
            *v = alpha * *v + (1.0 - alpha) * g * g;
            *w -= eta * g / (v.sqrt() + self.eps);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{A, W0, assert_descends, assert_steps, three_steps};
    use super::super::{Optimizer, UpdateRule};
    use super::*;

    #[test]
    fn first_three_steps_match_the_formula() {
        let (eta, alpha, eps) = (0.01, 0.99, 1e-8);
        let mut expected = Vec::new();
        let mut w = W0;
        let mut v = [0.0; 2];
        for _ in 0..3 {
            for i in 0..2 {
                let g = A[i] * w[i];
                v[i] = alpha * v[i] + (1.0 - alpha) * g * g;
                w[i] -= eta * g / (v[i].sqrt() + eps);
            }
            expected.push(w);
        }
        // the first step is η g/(√(1 − α)·|g|) = 10η against the gradient's sign
        assert!((expected[0][0] - (W0[0] - 10.0 * eta)).abs() < 1e-7);
        assert_steps(&three_steps(&RmsProp::default(), eta as f32), &expected);
    }

    #[test]
    fn descends_an_ill_conditioned_quadratic() {
        assert_descends(Optimizer::new(RmsProp::default(), 0.01));
    }

    #[test]
    fn its_name_tells_the_hyper_parameters() {
        assert_eq!(RmsProp::default().name(), "rmsprop(α 0.99, ε 1e-8)");
    }
}
