//! Local response normalisation as a layer (GoogLeNet's stem; see [`Var::local_response_norm`]).
//!
//! # Shapes
//! - input x: N × C × H × W; output y: the same

use super::kind::LayerKind;
use super::{Init, Module};
use crate::autodiff::Var;
use crate::ops::Lrn;
use crate::rng::Rng;
use serde::{Deserialize, Serialize};

/// Normalises each activation by the activity of its neighbouring channels.
#[derive(Clone, Copy, Debug)]
pub struct LocalResponseNorm(pub Lrn);

impl Module for LocalResponseNorm {
    fn forward(&self, x: &Var) -> Var {
        x.local_response_norm(self.0)
    }
}

/// Local response normalisation across channels in a spec (`type = "lrn"`, see
/// [`crate::ops::Lrn`]); the defaults are GoogLeNet's (and Caffe's).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LrnSpec {
    /// n, the channels in each window (5).
    #[serde(default = "default::size")]
    pub size: usize,
    /// α (10⁻⁴).
    #[serde(default = "default::alpha")]
    pub alpha: f32,
    /// β (0.75).
    #[serde(default = "default::beta")]
    pub beta: f32,
    /// k (1).
    #[serde(default = "default::k")]
    pub k: f32,
}

/// The defaults of `lrn` layers: GoogLeNet's.
mod default {
    use crate::ops::Lrn;
    pub fn size() -> usize {
        Lrn::GOOGLENET.size
    }
    pub fn alpha() -> f32 {
        Lrn::GOOGLENET.alpha
    }
    pub fn beta() -> f32 {
        Lrn::GOOGLENET.beta
    }
    pub fn k() -> f32 {
        Lrn::GOOGLENET.k
    }
}

impl LayerKind for LrnSpec {
    fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>, String> {
        let LrnSpec { size, alpha, beta, k } = *self;
        if input.len() < 2 {
            return Err(format!("needs channels (N×C×…), got shape {input:?}"));
        }
        if size == 0 || !(alpha.is_finite() && beta.is_finite() && k.is_finite() && k > 0.0 && alpha >= 0.0) {
            return Err(format!("size {size}, alpha {alpha}, beta {beta}, k {k}: want size ≥ 1, alpha ≥ 0, k > 0"));
        }
        Ok(input.to_vec())
    }

    fn build(&self, _input: &[usize], _default_init: Init, _rng: &mut Rng) -> Box<dyn Module> {
        let LrnSpec { size, alpha, beta, k } = *self;
        Box::new(LocalResponseNorm(Lrn { size, alpha, beta, k }))
    }

    fn counts(&self, _input: &[usize], _output: &[usize]) -> (usize, usize) {
        (0, 0)
    }

    fn set_init(&mut self, _init: Init) {}

    fn gpu(&self) -> bool {
        true
    }
}
