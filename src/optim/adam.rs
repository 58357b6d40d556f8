//! Adam and AdamW: momentum and RMSProp-style scaling, with bias-corrected moment estimates.

use super::UpdateRule;

/// Adam (Kingma & Ba): with moment estimates m and v,
/// m ← β₁ m + (1 − β₁) g, v ← β₂ v + (1 − β₂) g²,
/// m̂ = m / (1 − β₁ᵗ), v̂ = v / (1 − β₂ᵗ) (bias correction for the zero start),
/// w ← w − η m̂ / (√v̂ + ε).
///
/// Two state buffers, m and v.
#[derive(Clone, Copy, Debug)]
pub struct Adam {
    /// The decay rate β₁ of the mean m.
    pub beta1: f32,
    /// The decay rate β₂ of the uncentred variance v.
    pub beta2: f32,
    /// ε, added to the root.
    pub eps: f32,
}

impl Default for Adam {
    /// β₁ = 0.9, β₂ = 0.999, ε = 1e-8.
    fn default() -> Adam {
        Adam { beta1: 0.9, beta2: 0.999, eps: 1e-8 }
    }
}

impl Adam {
    /// The Adam step on `w` (shared with [`AdamW`]).
    fn adam_step(&self, w: &mut [f32], g: &[f32], state: &mut [&mut [f32]], eta: f32, t: u64) {
        let [m, v] = state else { unreachable!("adam keeps two state buffers") };
        let (b1, b2) = (self.beta1, self.beta2);
        // 1 − βᵗ in f64, so that no power of β underflows or loses digits for large t
        let c1 = (1.0 - f64::from(b1).powf(t as f64)) as f32;
        let c2 = (1.0 - f64::from(b2).powf(t as f64)) as f32;
        for (((w, &g), m), v) in w.iter_mut().zip(g).zip(m.iter_mut()).zip(v.iter_mut()) {
            *m = b1 * *m + (1.0 - b1) * g;
            *v = b2 * *v + (1.0 - b2) * g * g;
            let (m_hat, v_hat) = (*m / c1, *v / c2);
            *w -= eta * m_hat / (v_hat.sqrt() + self.eps);
        }
    }
}

impl UpdateRule for Adam {
    fn name(&self) -> String {
        format!("adam(β₁ {}, β₂ {}, ε {:e})", self.beta1, self.beta2, self.eps)
    }

    fn state_buffers(&self) -> usize {
        2
    }

    fn params(&self) -> Option<super::RuleParams> {
        Some(super::RuleParams::Adam { beta1: self.beta1, beta2: self.beta2, eps: self.eps })
    }

    fn update(&self, w: &mut [f32], g: &[f32], state: &mut [&mut [f32]], eta: f32, t: u64) {
        self.adam_step(w, g, state, eta, t);
    }
}

/// AdamW (Loshchilov & Hutter): weight decay λ decoupled from the gradient, applied before the
/// [`Adam`] step as in PyTorch: w ← w − η λ w, then the Adam update of w with the same g.
///
/// Two state buffers, m and v.
#[derive(Clone, Copy, Debug)]
pub struct AdamW {
    /// The Adam part (β₁, β₂, ε).
    pub adam: Adam,
    /// The weight decay λ.
    pub weight_decay: f32,
}

impl Default for AdamW {
    /// Adam's defaults and λ = 0.01 (PyTorch's).
    fn default() -> AdamW {
        AdamW { adam: Adam::default(), weight_decay: 0.01 }
    }
}

impl UpdateRule for AdamW {
    fn name(&self) -> String {
        let a = &self.adam;
        format!("adamw(β₁ {}, β₂ {}, ε {:e}, λ {})", a.beta1, a.beta2, a.eps, self.weight_decay)
    }

    fn state_buffers(&self) -> usize {
        2
    }

    fn params(&self) -> Option<super::RuleParams> {
        let a = self.adam;
        Some(super::RuleParams::AdamW { beta1: a.beta1, beta2: a.beta2, eps: a.eps, weight_decay: self.weight_decay })
    }

    fn update(&self, w: &mut [f32], g: &[f32], state: &mut [&mut [f32]], eta: f32, t: u64) {
        // w ← w − η λ w
        let decay = 1.0 - eta * self.weight_decay;
        for w in w.iter_mut() {
            *w *= decay;
        }
        self.adam.adam_step(w, g, state, eta, t);
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{A, W0, assert_descends, assert_steps, three_steps};
    use super::super::{Optimizer, UpdateRule};
    use super::*;

    /// Adam by the paper's formula, with an optional decoupled weight decay λ, in f64.
    fn by_hand(eta: f64, lambda: f64) -> Vec<[f64; 2]> {
        let (b1, b2, eps) = (0.9f64, 0.999f64, 1e-8);
        let mut expected = Vec::new();
        let mut w = W0;
        let (mut m, mut v) = ([0.0; 2], [0.0; 2]);
        for t in 1..=3 {
            for i in 0..2 {
                let g = A[i] * w[i];
                w[i] -= eta * lambda * w[i];
                m[i] = b1 * m[i] + (1.0 - b1) * g;
                v[i] = b2 * v[i] + (1.0 - b2) * g * g;
                let m_hat = m[i] / (1.0 - b1.powi(t));
                let v_hat = v[i] / (1.0 - b2.powi(t));
                w[i] -= eta * m_hat / (v_hat.sqrt() + eps);
            }
            expected.push(w);
        }
        expected
    }

    #[test]
    fn first_three_adam_steps_match_the_formula() {
        let expected = by_hand(0.1, 0.0);
        // bias correction makes the first step η against the gradient's sign: m̂ = g, v̂ = g²
        assert!((expected[0][0] - (W0[0] - 0.1)).abs() < 1e-7 && (expected[0][1] - (W0[1] + 0.1)).abs() < 1e-7);
        assert_steps(&three_steps(&Adam::default(), 0.1), &expected);
    }

    #[test]
    fn first_three_adamw_steps_match_the_formula() {
        // a large λ so that the decay shows at 1e-6
        let rule = AdamW { adam: Adam::default(), weight_decay: 0.5 };
        assert_steps(&three_steps(&rule, 0.1), &by_hand(0.1, 0.5));
    }

    #[test]
    fn each_descends_an_ill_conditioned_quadratic() {
        assert_descends(Optimizer::new(Adam::default(), 0.05));
        assert_descends(Optimizer::new(AdamW::default(), 0.05));
    }

    #[test]
    fn names_tell_the_hyper_parameters() {
        assert_eq!(Adam::default().name(), "adam(β₁ 0.9, β₂ 0.999, ε 1e-8)");
        assert_eq!(AdamW::default().name(), "adamw(β₁ 0.9, β₂ 0.999, ε 1e-8, λ 0.01)");
    }
}
