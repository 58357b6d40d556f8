//! `--max-params` and `--max-activations`: the size limits a model is checked against before it
//! is built or loaded (see `nabla::nn::SizeLimits`), for the commands that build models.

use clap::Args;
use nabla::nn::SizeLimits;
use serde::{Deserialize, Serialize};

#[derive(Args, Debug, Clone, Serialize, Deserialize)]
pub struct LimitArgs {
    /// Refuse a model (a spec, --hidden, a checkpoint) holding more parameters than this (4 bytes
    /// each), before anything is allocated.
    #[arg(long, default_value_t = SizeLimits::DEFAULT_MAX_PARAMS)]
    pub max_params: usize,
    /// Refuse a model whose layers compute more values than this for one sample.
    #[arg(long, default_value_t = SizeLimits::DEFAULT_MAX_ACTIVATIONS)]
    pub max_activations: usize,
}

impl LimitArgs {
    /// The limits these flags set.
    pub fn limits(&self) -> SizeLimits {
        SizeLimits { max_params: self.max_params, max_activations: self.max_activations }
    }
}

impl Default for LimitArgs {
    fn default() -> LimitArgs {
        let SizeLimits { max_params, max_activations } = SizeLimits::default();
        LimitArgs { max_params, max_activations }
    }
}
