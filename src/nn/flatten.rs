//! Flatten: each sample's maps as one row, so that fully connected layers can follow
//! convolutional ones. No copy: the values keep their row-major order.
//!
//! # Shapes
//! - input x: N × d₁ × d₂ × …
//! - output y: N × (d₁·d₂·…)

use super::Module;
use crate::autodiff::Var;

/// Reshapes N×… to N×(everything else).
#[derive(Clone, Copy, Debug, Default)]
pub struct Flatten;

impl Module for Flatten {
    fn forward(&self, x: &Var) -> Var {
        let n = x.shape().first().copied().unwrap_or(1);
        let rest: usize = x.shape().iter().skip(1).product();
        x.reshape(&[n, rest])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::testing::{check, randn};

    #[test]
    fn flatten_keeps_the_order_and_passes_gradient_check() {
        let x = randn(61, &[&[2, 3, 2, 2]]);
        let y = Flatten.forward(&Var::constant(x[0].clone()));
        assert_eq!(y.shape(), &[2, 12]);
        assert_eq!(y.value().data(), x[0].data());
        check(&x, |v| Flatten.forward(&v[0]));
    }
}
