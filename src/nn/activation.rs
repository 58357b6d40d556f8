//! An activation function as a layer without parameters: Y = f(U), elementwise.

use super::Module;
use crate::autodiff::Var;
use crate::ops::Activation;

/// Applies an [`Activation`] elementwise.
#[derive(Clone, Copy, Debug)]
pub struct ActivationLayer(pub Activation);

impl Module for ActivationLayer {
    fn forward(&self, u: &Var) -> Var {
        self.0.apply(u)
    }
}
