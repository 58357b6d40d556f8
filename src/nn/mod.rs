//! Layers and models. A [`Module`] maps a batch to a batch and lists its trainable parameters by
//! dotted name (`0.weight`, `0.bias`, …, as PyTorch names them), so that optimizers and
//! checkpoints address parameters by name. Models are built from a [`ModelSpec`], plain serde data
//! that is also stored in every checkpoint.

mod activation;
mod init;
mod linear;
mod model;
mod sequential;
mod spec;

pub use activation::ActivationLayer;
pub use init::Init;
pub use linear::Linear;
pub use model::Model;
pub use sequential::Sequential;
pub use spec::{LayerSpec, ModelSpec};

use crate::autodiff::{Param, Var};

/// A layer or a network of layers.
pub trait Module: Send + Sync {
    /// Maps a batch (rows are samples) to the layer's output batch.
    fn forward(&self, x: &Var) -> Var;

    /// The trainable parameters, each with its name inside this module.
    fn params(&self) -> Vec<(String, &Param)>;

    /// The trainable parameters for writing, in the same order as [`Module::params`].
    fn params_mut(&mut self) -> Vec<(String, &mut Param)>;

    /// Switches between training and evaluation behaviour (dropout, for example). Layers that
    /// behave the same in both ignore it.
    fn set_training(&mut self, _training: bool) {}

    /// Gives stochastic layers (dropout) a new random stream. The trainer calls it at the start
    /// of every epoch with a stream derived from (seed, epoch), so that a resumed run draws the
    /// same masks as one that never stopped. Deterministic layers ignore it.
    fn reseed(&mut self, _rng: &mut crate::rng::Rng) {}

    /// The number of trainable numbers.
    fn num_parameters(&self) -> usize {
        self.params().iter().map(|(_, p)| p.value().numel()).sum()
    }
}
