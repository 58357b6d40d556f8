//! AdaGrad: a learning rate per weight that shrinks with the gradients seen so far.

use super::UpdateRule;

/// AdaGrad as the lecture writes it: with Gᵢ the running sum of the squared gradients of weight i,
/// Gᵢ ← Gᵢ + (∂E/∂wᵢ)², wᵢ ← wᵢ − η/√(Gᵢ + ε) · ∂E/∂wᵢ.
///
/// ε sits inside the square root (PyTorch adds it outside, η/(√Gᵢ + ε)); it only keeps the
/// division defined while Gᵢ = 0. One state buffer, G.
#[derive(Clone, Copy, Debug)]
pub struct AdaGrad {
    /// ε, added to G under the root.
    pub eps: f32,
}

impl Default for AdaGrad {
    /// ε = 1e-8.
    fn default() -> AdaGrad {
        AdaGrad { eps: 1e-8 }
    }
}

impl UpdateRule for AdaGrad {
    fn name(&self) -> String {
        format!("adagrad(ε {:e})", self.eps)
    }

    fn state_buffers(&self) -> usize {
        1
    }

    fn params(&self) -> Option<super::RuleParams> {
        Some(super::RuleParams::AdaGrad { eps: self.eps })
    }

    fn update(&self, w: &mut [f32], g: &[f32], state: &mut [&mut [f32]], eta: f32, _t: u64) {
        let [sum] = state else { unreachable!("adagrad keeps one state buffer") };
        // G ← G + g²; w ← w − η/√(G + ε) · g
        for ((w, &g), sum) in w.iter_mut().zip(g).zip(sum.iter_mut()) {
            *sum += g * g;
            *w -= eta / (*sum + self.eps).sqrt() * g;
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
        let (eta, eps) = (0.1, 1e-8);
        let g = |w: f64, a: f64| a * w;
        let mut expected = Vec::new();
        let mut w = W0;
        let mut sum = [0.0; 2];
        for _ in 0..3 {
            for i in 0..2 {
                let gi = g(w[i], A[i]);
                sum[i] += gi * gi;
                w[i] -= eta / (sum[i] + eps).sqrt() * gi;
            }
            expected.push(w);
        }
        // the first step moves every weight by η against its gradient's sign: w − η·g/|g|
        assert!((expected[0][0] - (W0[0] - eta)).abs() < 1e-7 && (expected[0][1] - (W0[1] + eta)).abs() < 1e-7);
        assert_steps(&three_steps(&AdaGrad::default(), eta as f32), &expected);
    }

    #[test]
    fn descends_an_ill_conditioned_quadratic() {
        assert_descends(Optimizer::new(AdaGrad::default(), 0.5));
    }

    #[test]
    fn its_name_tells_epsilon() {
        assert_eq!(AdaGrad::default().name(), "adagrad(ε 1e-8)");
    }
}
