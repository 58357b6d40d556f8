//! Layers and models. A [`Module`] maps a batch to a batch and lists its trainable parameters by
//! dotted name (`0.weight`, `0.bias`, …, as PyTorch names them), so that optimizers and
//! checkpoints address parameters by name. Models are built from a [`ModelSpec`], plain serde data
//! that is also stored in every checkpoint and that users write as TOML files (see [`spec`] for the
//! format and `models/` for the zoo).
//!
//! Layers, one file each, each with a "Shapes" section: [`Linear`], [`Conv2d`] (optionally with
//! a fixed connection table, as LeNet-5's C3), [`MaxPool2d`], [`AvgPool2d`], [`Subsample`]
//! (LeNet-5's trainable sub-sampling), [`Pad`], [`Flatten`], [`Rbf`] (LeNet-5's Euclidean RBF
//! output units), [`Scale`], [`ScaledTanh`], [`Dropout`], [`ActivationLayer`], the recurrent
//! [`Rnn`] and [`Lstm`], trained by backpropagation through time, and GoogLeNet's [`Inception`]
//! module, [`LocalResponseNorm`] and [`Auxiliary`] classifiers.

mod activation;
mod auxiliary;
mod conv2d;
mod dropout;
mod flatten;
mod inception;
mod init;
mod linear;
mod lrn;
mod lstm;
mod model;
mod pad;
mod pool;
mod rbf;
mod rnn;
mod scale;
mod scaled_tanh;
mod sequential;
pub mod spec;
mod summary;
mod zoo;

pub use activation::ActivationLayer;
pub use auxiliary::Auxiliary;
pub use conv2d::Conv2d;
pub use dropout::{Dropout, DropoutRule};
pub use flatten::Flatten;
pub use inception::{Inception, InceptionSizes};
pub use init::Init;
pub use linear::Linear;
pub use lrn::LocalResponseNorm;
pub use lstm::Lstm;
pub use model::Model;
pub use pad::{Pad, pad2d};
pub use pool::{AvgPool2d, MaxPool2d, Subsample};
pub use rbf::{DIGITS, Rbf, RbfInit, rbf};
pub use rnn::Rnn;
pub use scale::Scale;
pub use scaled_tanh::{SCALED_TANH_A, SCALED_TANH_S, ScaledTanh, scaled_tanh};
pub use sequential::Sequential;
pub use spec::{InputMap, Layer, LayerSpec, ModelSpec, Size2, TrainDefaults};
pub use summary::{LayerRow, Summary};
pub use zoo::ZOO;

use crate::autodiff::{Param, Var};

/// A layer or a network of layers.
pub trait Module: Send + Sync {
    /// Maps a batch (rows are samples) to the layer's output batch.
    fn forward(&self, x: &Var) -> Var;

    /// The trainable parameters, each with its name inside this module (none by default).
    fn params(&self) -> Vec<(String, &Param)> {
        Vec::new()
    }

    /// The trainable parameters for writing, in the same order as [`Module::params`].
    fn params_mut(&mut self) -> Vec<(String, &mut Param)> {
        Vec::new()
    }

    /// The forward pass of training, which also collects the side outputs of auxiliary
    /// classifiers (GoogLeNet's) as (loss weight, output) pairs in `side`. The same as
    /// [`Module::forward`] for every layer but containers and [`Auxiliary`].
    fn forward_train(&self, x: &Var, side: &mut Vec<(f32, Var)>) -> Var {
        let _ = side;
        self.forward(x)
    }

    /// Switches between training and evaluation behaviour (dropout, for example). Layers that
    /// behave the same in both ignore it.
    fn set_training(&mut self, _training: bool) {}

    /// Gives stochastic layers (dropout) a new random stream. The trainer calls it at the start
    /// of every epoch with a stream derived from (seed, epoch), so that a resumed run draws the
    /// same masks as one that never stopped. Deterministic layers ignore it.
    fn reseed(&mut self, _rng: &mut crate::rng::Rng) {}

    /// The number of trainable numbers (a layer whose weights are partly fixed at zero counts
    /// only the free ones).
    fn num_parameters(&self) -> usize {
        self.params().iter().map(|(_, p)| p.value().numel()).sum()
    }
}
