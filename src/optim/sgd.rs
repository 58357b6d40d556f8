//! Stochastic gradient descent, with the lecture's momentum.

use super::UpdateRule;

/// Mini-batch SGD, w ← w − η ∂E/∂w; with momentum α > 0 the lecture's form
/// w⁽ᵗ⁺¹⁾ = w⁽ᵗ⁾ − η ∂E/∂w + α (w⁽ᵗ⁾ − w⁽ᵗ⁻¹⁾), kept as the last step Δw.
#[derive(Clone, Copy, Debug, Default)]
pub struct Sgd {
    /// The momentum α (0 for plain SGD).
    pub momentum: f32,
}

impl UpdateRule for Sgd {
    fn name(&self) -> String {
        if self.momentum > 0.0 { format!("sgd(momentum {})", self.momentum) } else { "sgd".into() }
    }

    fn state_buffers(&self) -> usize {
        usize::from(self.momentum > 0.0)
    }

    fn update(&self, w: &mut [f32], g: &[f32], state: &mut [Vec<f32>], eta: f32, _t: u64) {
        if let [dw] = state {
            // Δw ← α Δw − η g; w ← w + Δw
            let alpha = self.momentum;
            for ((w, &g), dw) in w.iter_mut().zip(g).zip(dw.iter_mut()) {
                *dw = alpha * *dw - eta * g;
                *w += *dw;
            }
        } else {
            for (w, &g) in w.iter_mut().zip(g) {
                *w -= eta * g;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_three_momentum_steps_match_the_formula() {
        // E = ½ w², ∂E/∂w = w; η = 0.1, α = 0.9, w₀ = 1
        let rule = Sgd { momentum: 0.9 };
        let mut w = vec![1.0f32];
        let mut state = vec![vec![0.0]];
        let mut prev = 1.0f32;
        let mut expect = 1.0f32;
        for t in 1..=3 {
            let g = w.clone();
            rule.update(&mut w, &g, &mut state, 0.1, t);
            let next = expect - 0.1 * expect + 0.9 * (expect - prev);
            prev = expect;
            expect = next;
            assert!((w[0] - expect).abs() < 1e-6, "step {t}: {} vs {expect}", w[0]);
        }
    }
}
