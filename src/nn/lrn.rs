//! Local response normalisation as a layer (GoogLeNet's stem; see [`Var::local_response_norm`]).
//!
//! # Shapes
//! - input x: N × C × H × W; output y: the same

use super::Module;
use crate::autodiff::Var;
use crate::ops::Lrn;

/// Normalises each activation by the activity of its neighbouring channels.
#[derive(Clone, Copy, Debug)]
pub struct LocalResponseNorm(pub Lrn);

impl Module for LocalResponseNorm {
    fn forward(&self, x: &Var) -> Var {
        x.local_response_norm(self.0)
    }
}
