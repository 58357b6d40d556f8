//! The gradient checker: compares backward against central differences.
//!
//! For an op `f` with output `y`, it draws a fixed random tensor `r` shaped like `y` and checks the
//! gradient of the scalar `L = Σ y ⊙ r` — a random projection, so that every output element counts
//! and errors cannot cancel. Each input element `x` is nudged by ±ε and
//! `(L(x+ε) − L(x−ε)) / 2ε` (summed in f64) must agree with backward to within
//! `atol + rtol·max(|analytic|, |numeric|)`. Kernels are f32, so ε is 1e-2 by default: smaller ε
//! drowns the difference in f32 rounding, larger ε in curvature. Inputs must keep a distance of
//! more than ε from kinks (ReLU at 0, ties in a max).

use super::Var;
use crate::rng::Rng;
use crate::tensor::Tensor;
use std::fmt;

/// Settings of a gradient check.
#[derive(Clone, Copy, Debug)]
pub struct GradCheck {
    /// The step of the central difference.
    pub eps: f32,
    /// Relative tolerance.
    pub rtol: f32,
    /// Absolute tolerance.
    pub atol: f32,
    /// Seed of the random projection.
    pub seed: u64,
}

impl Default for GradCheck {
    fn default() -> Self {
        GradCheck { eps: 1e-2, rtol: 1e-2, atol: 1e-3, seed: 7 }
    }
}

/// Where backward and the central difference disagree.
#[derive(Debug, Clone, PartialEq)]
pub struct GradCheckError {
    /// Which input (position in the list given to [`GradCheck::run`]).
    pub input: usize,
    /// Which element of it (row-major index).
    pub index: usize,
    /// What backward computed.
    pub analytic: f32,
    /// What the central difference measured.
    pub numeric: f32,
}

impl fmt::Display for GradCheckError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "gradient check failed at input {} element {}: backward gives {}, central difference {}",
            self.input, self.index, self.analytic, self.numeric
        )
    }
}

impl std::error::Error for GradCheckError {}

impl GradCheck {
    /// Checks the gradients of `f` with respect to every tensor in `inputs`. Returns the largest
    /// error relative to the tolerance (below 1 passes) or the first element that fails.
    pub fn run(&self, inputs: &[Tensor], f: impl Fn(&[Var]) -> Var) -> Result<f32, GradCheckError> {
        let leaves: Vec<Var> = inputs.iter().cloned().map(Var::leaf).collect();
        let y = f(&leaves);
        let r = Rng::seed(self.seed).normal_tensor(y.shape(), 1.0);
        let grads = y.backward_with(r.clone());
        let projected = |xs: &[Tensor]| -> f64 {
            let vars: Vec<Var> = xs.iter().cloned().map(Var::constant).collect();
            let out = f(&vars);
            out.value().data().iter().zip(r.data()).map(|(&a, &b)| a as f64 * b as f64).sum()
        };
        let mut worst = 0.0f32;
        let mut xs: Vec<Tensor> = inputs.to_vec();
        for (i, leaf) in leaves.iter().enumerate() {
            let analytic = grads.get(leaf).cloned().unwrap_or_else(|| Tensor::zeros(leaf.shape()));
            for j in 0..inputs[i].numel() {
                let x0 = inputs[i].data()[j];
                xs[i].data_mut()[j] = x0 + self.eps;
                let plus = projected(&xs);
                xs[i].data_mut()[j] = x0 - self.eps;
                let minus = projected(&xs);
                xs[i].data_mut()[j] = x0;
                let numeric = ((plus - minus) / (2.0 * self.eps as f64)) as f32;
                let a = analytic.data()[j];
                let tolerance = self.atol + self.rtol * a.abs().max(numeric.abs());
                let ratio = (a - numeric).abs() / tolerance;
                if ratio.is_nan() || ratio > 1.0 {
                    return Err(GradCheckError { input: i, index: j, analytic: a, numeric });
                }
                worst = worst.max(ratio);
            }
        }
        Ok(worst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// y = x², with a backward rule that is deliberately wrong by `factor`.
    fn square_with_rule(x: &Var, factor: f32) -> Var {
        let value = x.value().map(|v| v * v);
        Var::from_op(value, vec![x.clone()], Box::new(move |g, p| vec![Some(g.mul(&p[0].value().scale(2.0 * factor)))]))
    }

    #[test]
    fn checker_accepts_a_correct_gradient() {
        let x = Rng::seed(1).normal_tensor(&[3, 4], 1.0);
        assert!(GradCheck::default().run(&[x], |v| square_with_rule(&v[0], 1.0)).is_ok());
    }

    #[test]
    fn checker_catches_a_wrong_gradient() {
        let x = Rng::seed(1).normal_tensor(&[3, 4], 1.0);
        // 5% off is enough to be caught
        let err = GradCheck::default().run(std::slice::from_ref(&x), |v| square_with_rule(&v[0], 1.05)).unwrap_err();
        assert_eq!(err.input, 0);
        // and so is a gradient that ignores the input entirely
        let zero_rule = |v: &[Var]| {
            Var::from_op(v[0].value().map(|a| a * a), vec![v[0].clone()], Box::new(|g, _| vec![Some(g.scale(0.0))]))
        };
        assert!(GradCheck::default().run(&[x], zero_rule).is_err());
    }
}
