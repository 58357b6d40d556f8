//! An activation function as a layer without parameters: Y = f(U), elementwise.

use super::Module;
use crate::autodiff::{Param, Var};
use crate::ops::Activation;

/// Applies an [`Activation`] elementwise.
#[derive(Clone, Copy, Debug)]
pub struct ActivationLayer(pub Activation);

impl Module for ActivationLayer {
    fn forward(&self, u: &Var) -> Var {
        self.0.apply(u)
    }

    fn params(&self) -> Vec<(String, &Param)> {
        Vec::new()
    }

    fn params_mut(&mut self) -> Vec<(String, &mut Param)> {
        Vec::new()
    }
}
