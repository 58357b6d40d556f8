//! Layers and models. A [`Module`] maps a batch to a batch and lists its trainable parameters by
//! dotted name (`0.weight`, `0.bias`, …, as PyTorch names them), so that optimizers and
//! checkpoints address parameters by name. Models are built from a [`ModelSpec`], plain serde data
//! that is also stored in every checkpoint and that users write as TOML files (see [`spec`] for the
//! format and `models/` for the zoo).
//!
//! Layers, one file each, each with a "Shapes" section: [`Linear`], [`Conv2d`] (optionally with
//! a fixed connection table, as LeNet-5's C3), [`MaxPool2d`], [`AvgPool2d`], [`Subsample`]
//! (LeNet-5's trainable sub-sampling), [`Pad`], [`Flatten`], [`OneHot`] (symbol indices as
//! one-hot vectors), [`Rbf`] (LeNet-5's Euclidean RBF
//! output units), [`Scale`], [`Dropout`], the activations under PyTorch's names ([`ReLU`], [`GELU`],
//! [`Sigmoid`], [`Tanh`], [`ScaledTanh`] for LeNet-5, [`Identity`]) or by value as an
//! [`ActivationLayer`] of an [`Activation`], the recurrent [`Rnn`],
//! [`Lstm`] and [`Gru`], trained by backpropagation through time, and GoogLeNet's [`Inception`] module,
//! [`LocalResponseNorm`] and [`Auxiliary`] classifiers.
//!
//! # One place per layer kind
//! Each file also holds its layer's kind in specs: a spec struct (`LinearSpec`, `Conv2dSpec`, …)
//! with the fields and defaults of its TOML table, implementing [`LayerKind`] (shape rule, build,
//! parameter and connection counts, init override, the init it asks of the layer before it,
//! pre-training and GPU capabilities). [`spec`] lists the kinds once, in a registry that generates
//! [`LayerSpec`] and its exhaustive dispatch. Adding a kind is its file plus one registry row;
//! adding an activation is its op (forward and backward, in `ops/activation.rs`), a row of the
//! [`Activation`] table and one registry row.

mod activation;
mod auxiliary;
mod carry;
mod char_model;
mod conv2d;
mod dropout;
mod flatten;
mod gru;
mod inception;
mod init;
mod kind;
mod limits;
mod linear;
mod lrn;
mod lstm;
mod model;
mod one_hot;
mod pad;
mod pool;
mod rbf;
mod rnn;
mod scale;
mod sequential;
mod size;
pub mod spec;
mod stacked;
mod summary;
mod zoo;

pub use activation::{Activation, ActivationLayer, GELU, Identity, NoFields, ReLU, ScaledTanh, Sigmoid, Tanh};
pub use auxiliary::{Auxiliary, AuxiliarySpec};
pub use carry::Carry;
pub use char_model::{CharModel, char_layers, draw};
pub use conv2d::{Conv2d, Conv2dSpec};
pub use dropout::{Dropout, DropoutRule, DropoutSpec};
pub use flatten::{Flatten, FlattenSpec};
pub use gru::{Gru, GruSpec};
pub use inception::{Inception, InceptionSizes, InceptionSpec};
pub use init::Init;
pub use kind::LayerKind;
pub use limits::{ModelSize, SizeLimits};
pub use linear::{Linear, LinearSpec};
pub use lrn::{LocalResponseNorm, LrnSpec};
pub use lstm::{Lstm, LstmSpec, LstmState};
pub use model::Model;
pub use one_hot::{OneHot, OneHotSpec, one_hot};
pub use pad::{Pad, PadSpec, pad2d};
pub use pool::{AvgPool2d, AvgPool2dSpec, MaxPool2d, MaxPool2dSpec, Subsample, SubsampleSpec};
pub use rbf::{DIGITS, Rbf, RbfInit, RbfSpec, rbf};
pub use rnn::{Rnn, RnnSpec};
pub use scale::{Scale, ScaleSpec};
pub use sequential::Sequential;
pub use size::Size2;
pub use spec::{InputMap, Layer, LayerSpec, ModelSpec, TrainDefaults};
pub use stacked::{CellBuilder, Stacked, Stacking};
pub use summary::{LayerRow, Summary};
pub use zoo::ZOO;

use crate::autodiff::{Param, Var};

/// A layer or a network of layers.
pub trait Module: Send + Sync {
    /// Maps a batch (rows are samples) to the layer's output batch.
    fn forward(&self, x: &Var) -> Var;

    /// The forward pass of a batch of sequences of different lengths, padded to a common T:
    /// row r of `x` (m × T × F) has `lengths[r]` real steps, then padding. The recurrent layers
    /// ([`Rnn`], [`Lstm`], [`Gru`] and their stacks) stop each row at its last real step: its last
    /// state is the one after that step, a bidirectional layer's reverse cell starts there, and
    /// the padding gets no gradient. Layers that act on each step or row alone (a linear layer on
    /// every step, dropout, activations) ignore the lengths: the default is [`Module::forward`].
    ///
    /// ```
    /// use nabla::nn::{Lstm, Module};
    /// use nabla::{Var, rng::Rng};
    /// let lstm = Lstm::new(3, 8, false, &mut Rng::seed(0));
    /// // two sequences padded to 5 steps: the first has 5 real steps, the second 2
    /// let x = Var::constant(Rng::seed(1).normal_tensor(&[2, 5, 3], 1.0));
    /// let h = lstm.forward_masked(&x, &[5, 2]); // row 1: its state after step 2
    /// assert_eq!(h.shape(), &[2, 8]);
    /// ```
    fn forward_masked(&self, x: &Var, lengths: &[usize]) -> Var {
        let _ = lengths;
        self.forward(x)
    }

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

    /// Truncated BPTT: on, each recurrent layer starts every forward pass from the final state
    /// of the one before (detached, see [`Carry`]), from zero right after this call; off (the
    /// default), from zero every time. Layers without a state ignore it.
    fn carry_state(&mut self, _on: bool) {}

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
