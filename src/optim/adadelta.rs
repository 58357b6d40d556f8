//! AdaDelta in two forms: the lecture's (AdaGrad over a sliding window of steps) and Zeiler's
//! (exponential averages, and a step size from past steps instead of a learning rate).

use super::UpdateRule;

/// The lecture's AdaDelta: AdaGrad whose sum of squared gradients covers only the last `window`
/// steps, so that the learning rate stops shrinking for good:
/// Sᵢ = Σ over the last `window` steps of (∂E/∂wᵢ)², wᵢ ← wᵢ − η/√(Sᵢ + ε) · ∂E/∂wᵢ
/// (fewer terms in the first `window − 1` steps; ε inside the root, as in [`super::AdaGrad`]).
///
/// The past squared gradients sit in a ring buffer of `window` slots (the slot of step t is
/// (t − 1) mod `window`) beside their running sum S. Each step adds the new g² and subtracts the
/// one it evicts; whenever the ring wraps to slot 0, S is recomputed from the slots, so rounding
/// errors never build up over more than `window` steps. State: `window` + 1 buffers (the slots,
/// then S), so memory grows with the window.
#[derive(Clone, Copy, Debug)]
pub struct AdaDeltaWindow {
    /// How many of the latest steps' squared gradients are summed (at least 1).
    pub window: usize,
    /// ε, added to the sum under the root.
    pub eps: f32,
}

impl Default for AdaDeltaWindow {
    /// A window of 10 steps, ε = 1e-8.
    fn default() -> AdaDeltaWindow {
        AdaDeltaWindow { window: 10, eps: 1e-8 }
    }
}

impl UpdateRule for AdaDeltaWindow {
    fn name(&self) -> String {
        format!("adadelta-window(window {}, ε {:e})", self.window, self.eps)
    }

    fn state_buffers(&self) -> usize {
        self.window + 1
    }

    fn params(&self) -> Option<super::RuleParams> {
        Some(super::RuleParams::AdaDeltaWindow { window: self.window, eps: self.eps })
    }

    fn update(&self, w: &mut [f32], g: &[f32], state: &mut [&mut [f32]], eta: f32, t: u64) {
        assert!(self.window > 0, "adadelta-window: the window must hold at least one step");
        let (ring, sum) = state.split_at_mut(self.window);
        let sum = &mut sum[0];
        let slot = ((t - 1) % self.window as u64) as usize;
        if slot == 0 {
            // the ring wraps: store g² and recompute S = Σ slots exactly
            for (old, &g) in ring[0].iter_mut().zip(g) {
                *old = g * g;
            }
            sum.fill(0.0);
            for squares in ring.iter() {
                for (s, &x) in sum.iter_mut().zip(squares.iter()) {
                    *s += x;
                }
            }
        } else {
            // S ← S − g²_evicted + g² (never below 0, which only rounding could reach)
            for ((s, old), &g) in sum.iter_mut().zip(ring[slot].iter_mut()).zip(g) {
                *s = (*s - *old + g * g).max(0.0);
                *old = g * g;
            }
        }
        // w ← w − η/√(S + ε) · g
        for ((w, &g), &s) in w.iter_mut().zip(g).zip(sum.iter()) {
            *w -= eta / (s + self.eps).sqrt() * g;
        }
    }
}

/// AdaDelta as Zeiler (2012) defines it, with decaying averages E\[·\] of rate ρ:
/// E\[g²\] ← ρ E\[g²\] + (1 − ρ) g²,
/// Δw = −√(E\[Δw²\] + ε) / √(E\[g²\] + ε) · g,
/// E\[Δw²\] ← ρ E\[Δw²\] + (1 − ρ) Δw²,
/// w ← w + η Δw.
///
/// The ratio of the two roots gives the step its units, so no learning rate is needed: η only
/// scales the step and is 1 by default, as in PyTorch (E\[Δw²\] accumulates Δw before η scales it,
/// as there). Two state buffers, E\[g²\] and E\[Δw²\].
#[derive(Clone, Copy, Debug)]
pub struct AdaDelta {
    /// The decay rate ρ of both averages.
    pub rho: f32,
    /// ε, inside both roots.
    pub eps: f32,
}

impl Default for AdaDelta {
    /// ρ = 0.95, ε = 1e-6 (Zeiler's values; PyTorch's ρ is 0.9).
    fn default() -> AdaDelta {
        AdaDelta { rho: 0.95, eps: 1e-6 }
    }
}

impl UpdateRule for AdaDelta {
    fn name(&self) -> String {
        format!("adadelta(ρ {}, ε {:e})", self.rho, self.eps)
    }

    fn state_buffers(&self) -> usize {
        2
    }

    fn params(&self) -> Option<super::RuleParams> {
        Some(super::RuleParams::AdaDelta { rho: self.rho, eps: self.eps })
    }

    fn update(&self, w: &mut [f32], g: &[f32], state: &mut [&mut [f32]], eta: f32, _t: u64) {
        let [mean_g2, mean_dw2] = state else { unreachable!("adadelta keeps two state buffers") };
        let rho = self.rho;
        for (((w, &g), eg2), edw2) in w.iter_mut().zip(g).zip(mean_g2.iter_mut()).zip(mean_dw2.iter_mut()) {
            *eg2 = rho * *eg2 + (1.0 - rho) * g * g;
            let dw = -(*edw2 + self.eps).sqrt() / (*eg2 + self.eps).sqrt() * g;
            *edw2 = rho * *edw2 + (1.0 - rho) * dw * dw;
            *w += eta * dw;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{A, W0, assert_descends, assert_steps, three_steps};
    use super::super::{Optimizer, UpdateRule};
    use super::*;

    #[test]
    fn first_three_window_steps_match_the_formula() {
        // with a window of 2 the third step forgets the first gradient:
        // S⁽¹⁾ = g⁽¹⁾², S⁽²⁾ = g⁽¹⁾² + g⁽²⁾², S⁽³⁾ = g⁽²⁾² + g⁽³⁾²
        let (eta, eps) = (0.1, 1e-8);
        let mut expected = Vec::new();
        let mut w = W0;
        let mut past: [Vec<f64>; 2] = [vec![], vec![]];
        for _ in 0..3 {
            for i in 0..2 {
                let g = A[i] * w[i];
                past[i].push(g * g);
                let s: f64 = past[i].iter().rev().take(2).sum();
                w[i] -= eta / (s + eps).sqrt() * g;
            }
            expected.push(w);
        }
        let rule = AdaDeltaWindow { window: 2, eps: eps as f32 };
        assert_steps(&three_steps(&rule, eta as f32), &expected);
    }

    #[test]
    fn a_window_of_one_is_normalized_gradient_descent() {
        // S = g², so every step is w ← w − η g/√(g² + ε) ≈ w − η sign(g)
        let rule = AdaDeltaWindow { window: 1, eps: 1e-8 };
        let expected: Vec<[f64; 2]> = (1..=3).map(|t| [W0[0] - 0.1 * t as f64, W0[1] + 0.1 * t as f64]).collect();
        assert_steps(&three_steps(&rule, 0.1), &expected);
    }

    #[test]
    fn the_window_sum_stays_exact_over_many_wraps() {
        // after many steps the running sum equals the sum of the slots, recomputed in f64
        let rule = AdaDeltaWindow { window: 3, eps: 1e-8 };
        let mut state = vec![vec![0.0; 1]; 4];
        let mut w = [0.0f32];
        for t in 1..=1000u64 {
            let g = [((t * 7919) % 1000) as f32 * 1e-3 * if t % 2 == 0 { 1e3 } else { 1e-3 }];
            rule.update(&mut w, &g, &mut crate::optim::testing::as_slices(&mut state), 0.0, t);
            let exact: f64 = state[..3].iter().map(|s| s[0] as f64).sum();
            assert!((state[3][0] as f64 - exact).abs() <= 1e-6 * exact.max(1e-30), "step {t}");
        }
    }

    #[test]
    fn first_three_zeiler_steps_match_the_formula() {
        // a large ε and a fast decay make the steps big enough to check to 1e-6
        let (eta, rho, eps) = (1.0f64, 0.9f64, 1e-2f64);
        let mut expected = Vec::new();
        let mut w = W0;
        let (mut eg2, mut edw2) = ([0.0; 2], [0.0; 2]);
        for _ in 0..3 {
            for i in 0..2 {
                let g = A[i] * w[i];
                eg2[i] = rho * eg2[i] + (1.0 - rho) * g * g;
                let dw = -(edw2[i] + eps).sqrt() / (eg2[i] + eps).sqrt() * g;
                edw2[i] = rho * edw2[i] + (1.0 - rho) * dw * dw;
                w[i] += eta * dw;
            }
            expected.push(w);
        }
        // the first step: Δw = −√ε/√((1 − ρ) g² + ε) · g
        let g0 = A[0] * W0[0];
        assert!((expected[0][0] - (W0[0] - eps.sqrt() / ((1.0 - rho) * g0 * g0 + eps).sqrt() * g0)).abs() < 1e-12);
        let rule = AdaDelta { rho: rho as f32, eps: eps as f32 };
        assert_steps(&three_steps(&rule, eta as f32), &expected);
    }

    #[test]
    fn each_form_descends_an_ill_conditioned_quadratic() {
        assert_descends(Optimizer::new(AdaDeltaWindow::default(), 0.1));
        assert_descends(Optimizer::new(AdaDeltaWindow { window: 1, eps: 1e-8 }, 0.01));
        // Zeiler's steps start near √ε/√(1 − ρ) ≈ 0.0045 and grow with E[Δw²]: with η = 1 the loss
        // falls only tenfold in 200 steps, with η = 5 more than a thousandfold
        assert_descends(Optimizer::new(AdaDelta::default(), 5.0));
    }

    #[test]
    fn names_tell_the_hyper_parameters() {
        assert_eq!(AdaDeltaWindow::default().name(), "adadelta-window(window 10, ε 1e-8)");
        assert_eq!(AdaDelta::default().name(), "adadelta(ρ 0.95, ε 1e-6)");
    }
}
