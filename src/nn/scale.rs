//! A constant factor: y = a·x. With a = −1 it turns LeNet-5's RBF penalties into logits for the
//! softmax cross-entropy (the smallest penalty becomes the largest logit).
//!
//! # Shapes
//! - input x: any; output y: the same

use super::Init;
use super::Module;
use super::kind::LayerKind;
use crate::autodiff::Var;
use crate::rng::Rng;
use serde::{Deserialize, Serialize};

/// Multiplies by a fixed factor.
#[derive(Clone, Copy, Debug)]
pub struct Scale(pub f32);

impl Module for Scale {
    fn forward(&self, x: &Var) -> Var {
        x.scale(self.0)
    }
}

/// A constant factor y = factor·x in a spec (`type = "scale"`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScaleSpec {
    /// The factor.
    pub factor: f32,
}

impl LayerKind for ScaleSpec {
    fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>, String> {
        if !self.factor.is_finite() {
            return Err(format!("factor {} is not a finite number", self.factor));
        }
        Ok(input.to_vec())
    }

    fn build(&self, _input: &[usize], _default_init: Init, _rng: &mut Rng) -> Box<dyn Module> {
        Box::new(Scale(self.factor))
    }

    fn counts(&self, _input: &[usize], _output: &[usize]) -> (usize, usize) {
        (0, 0)
    }

    fn set_init(&mut self, _init: Init) {}

    fn gpu(&self) -> bool {
        true
    }
}
