//! A constant factor: y = a·x. With a = −1 it turns LeNet-5's RBF penalties into logits for the
//! softmax cross-entropy (the smallest penalty becomes the largest logit).
//!
//! # Shapes
//! - input x: any; output y: the same

use super::Module;
use crate::autodiff::Var;

/// Multiplies by a fixed factor.
#[derive(Clone, Copy, Debug)]
pub struct Scale(pub f32);

impl Module for Scale {
    fn forward(&self, x: &Var) -> Var {
        x.scale(self.0)
    }
}
