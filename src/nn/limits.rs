//! Size limits that a model is checked against before anything of it is allocated, so that a
//! spec or checkpoint with a huge layer (`out = 1e9`, `hidden = 1e8`) is an error naming the
//! model and the count instead of gigabytes of memory and an abort.
//!
//! The limits are counted per model and per sample, from the shapes alone
//! ([`super::ModelSpec::size`]): the numbers the layers hold (f32, 4 bytes each) and the values
//! one sample's forward pass produces (each layer's output and the intermediates it makes, as a
//! convolution's im2col columns; a batch of m samples needs m times
//! as many, and training keeps them all for backward). The defaults admit every zoo model with
//! a wide margin (GoogLeNet at 224×224: 13 million parameters with its auxiliary heads, 42 million
//! values per sample with its im2col columns).

use crate::{Error, Result};

/// What a model holds and computes, counted from its spec (saturating at `usize::MAX`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ModelSize {
    /// The numbers its layers hold: parameters, and masked weights (see
    /// [`super::LayerKind::stored`]).
    pub stored: usize,
    /// The values of one sample's input and of every layer's output and intermediates for it
    /// (see [`super::LayerKind::values`]).
    pub activations: usize,
}

/// The largest model nabla builds: above these a build is refused before anything is allocated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SizeLimits {
    /// Numbers held by the layers (`nabla … --max-params`); default 10⁹ (4 GB of f32).
    pub max_params: usize,
    /// Values per sample through the forward pass (`nabla … --max-activations`); default 2.5·10⁸
    /// (1 GB of f32 per sample).
    pub max_activations: usize,
}

impl SizeLimits {
    /// The default limit on parameters.
    pub const DEFAULT_MAX_PARAMS: usize = 1_000_000_000;
    /// The default limit on values per sample.
    pub const DEFAULT_MAX_ACTIVATIONS: usize = 250_000_000;

    /// No limit (for callers that have checked sizes their own way).
    pub fn unlimited() -> SizeLimits {
        SizeLimits { max_params: usize::MAX, max_activations: usize::MAX }
    }

    /// An error naming the model `name`, its count and how to raise the limit, if `size` is
    /// above a limit.
    pub fn check(&self, name: &str, size: &ModelSize) -> Result<()> {
        let count = |n: usize| if n == usize::MAX { "more than 2^64".to_string() } else { n.to_string() };
        if size.stored > self.max_params {
            return Err(Error::config(format!(
                "model '{name}': {} parameters, more than the limit of {} ({} bytes of f32); if the model is \
                 meant to be this large, raise the limit with --max-params (SizeLimits::max_params)",
                count(size.stored),
                self.max_params,
                count(size.stored.saturating_mul(4))
            )));
        }
        if size.activations > self.max_activations {
            return Err(Error::config(format!(
                "model '{name}': {} values per sample through its layers, more than the limit of {}; if the \
                 model is meant to be this large, raise the limit with --max-activations \
                 (SizeLimits::max_activations)",
                count(size.activations),
                self.max_activations
            )));
        }
        Ok(())
    }
}

impl Default for SizeLimits {
    fn default() -> SizeLimits {
        SizeLimits { max_params: Self::DEFAULT_MAX_PARAMS, max_activations: Self::DEFAULT_MAX_ACTIVATIONS }
    }
}
