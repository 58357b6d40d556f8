//! An activation function as a layer without parameters: Y = f(U), elementwise. Every row of the
//! [`Activation`] table (in `ops/activation.rs`, beside its forward and backward) is a layer kind
//! of its own in specs (`type = "relu"`, `"gelu"`, …, without fields); this file holds what they
//! share as layer kinds: same shape out, no parameters, and the init each asks of the layer that
//! feeds it.
//!
//! # Shapes
//! - input U: any; output Y: the same

use super::kind::LayerKind;
use super::{Init, Module};
use crate::autodiff::Var;
use crate::ops::Activation;
use crate::rng::Rng;
use serde::{Deserialize, Serialize};

/// Applies an [`Activation`] elementwise.
#[derive(Clone, Copy, Debug)]
pub struct ActivationLayer(pub Activation);

impl Module for ActivationLayer {
    fn forward(&self, u: &Var) -> Var {
        self.0.apply(u)
    }
}

/// The (empty) fields of an activation layer in a spec: `{ type = "relu" }` and nothing else.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoFields {}

impl LayerKind for Activation {
    fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>, String> {
        Ok(input.to_vec())
    }

    fn build(&self, _input: &[usize], _default_init: Init, _rng: &mut Rng) -> Box<dyn Module> {
        Box::new(ActivationLayer(*self))
    }

    fn counts(&self, _input: &[usize], _output: &[usize]) -> (usize, usize) {
        (0, 0)
    }

    fn set_init(&mut self, _init: Init) {}

    fn gpu(&self) -> bool {
        false
    }

    fn init_before(&self) -> Option<Init> {
        Some(Activation::init_before(*self))
    }

    fn activation(&self) -> Option<Activation> {
        Some(*self)
    }
}
