//! Flatten: each sample's maps as one row, so that fully connected layers can follow
//! convolutional ones. No copy: the values keep their row-major order.
//!
//! # Shapes
//! - input x: N × d₁ × d₂ × …
//! - output y: N × (d₁·d₂·…)

use super::Init;
use super::Module;
use super::kind::{LayerKind, elements};
use crate::autodiff::Var;
use crate::rng::Rng;
use serde::{Deserialize, Serialize};

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

/// Each sample as one flat vector, in a spec (`type = "flatten"`, no fields).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FlattenSpec {}

impl LayerKind for FlattenSpec {
    fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>, String> {
        Ok(vec![elements(input)?])
    }

    fn build(&self, _input: &[usize], _default_init: Init, _rng: &mut Rng) -> Box<dyn Module> {
        Box::new(Flatten)
    }

    fn counts(&self, _input: &[usize], _output: &[usize]) -> (usize, usize) {
        (0, 0)
    }

    fn set_init(&mut self, _init: Init) {}

    fn gpu(&self) -> bool {
        true // on the device, rows are flat already
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
