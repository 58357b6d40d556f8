//! Model specs: a network described layer by layer as plain serde data, so that a model can be
//! written in a file, checked before it is built, and stored inside its checkpoint (as JSON under
//! `nabla.spec`).
//!
//! # The format
//! Users write specs in TOML (the zoo's files in `models/` are examples). Top-level fields:
//!
//! | field       | meaning                                                                      |
//! |-------------|------------------------------------------------------------------------------|
//! | `name`      | a short name, shown in logs (required)                                       |
//! | `input`     | the shape of one sample: `[784]` for flat vectors, `[1, 28, 28]` for images  |
//! |             | (C × H × W); the flat rows of the data are reshaped to it (required)         |
//! | `loss`      | `softmax-cross-entropy`, `sigmoid-cross-entropy` or `least-squares` (required)|
//! | `input_map` | optional `{ zero = a, one = b }`: inputs x ∈ [0, 1] become a + (b − a)·x      |
//! |             | instead of the data's default normalisation (LeNet-5: a = −0.1, b = 1.175)   |
//! | `[train]`   | optional default hyper-parameters, used where the command line gives none:   |
//! |             | `batch_size`, `epochs`, `optimizer`, `lr`, `momentum`, `schedule`, `l2`,     |
//! |             | `max_norm`                                                                    |
//! | `[[layers]]`| the layers, first to last, each a table with a `type` and its fields         |
//!
//! Layer types and their fields (every layer may also have a `name`, shown by `nabla summary`;
//! sizes written `k` may also be `[rows, columns]`):
//!
//! | `type`        | fields                                                       | input → output          |
//! |---------------|--------------------------------------------------------------|-------------------------|
//! | `linear`      | `out`, `init` (`he`, `xavier`, `lecun`, `uniform`); on `[T,F]` it acts on each step | `[F]` → `[out]`, `[T,F]` → `[T,out]` |
//! | `conv2d`      | `out`, `kernel`, `stride` (1), `padding` (0), `init`,         | `[C,H,W]` → `[out,OH,OW]` |
//! |               | `connections` (for each output map, the input maps it reads) |                         |
//! | `maxpool2d`   | `kernel`, `stride` (= kernel), `padding` (0; −∞ border)        | `[C,H,W]` → `[C,OH,OW]`   |
//! | `avgpool2d`   | `kernel`, `stride` (= kernel), `padding` (0; zero border)      | `[C,H,W]` → `[C,OH,OW]`   |
//! | `subsample`   | `kernel`, `stride` (= kernel): LeNet's w₁·Σ(window) + w₂       | `[C,H,W]` → `[C,OH,OW]`   |
//! | `pad`         | `padding`, `value` (0)                                        | `[C,H,W]` → `[C,H+2p,W+2p]` |
//! | `flatten`     |                                                              | `[d₁,d₂,…]` → `[d₁·d₂·…]` |
//! | `one-hot`     | `classes`: each symbol index k as the unit vector e_k          | `[T]` → `[T,classes]`     |
//! | `rbf`         | `out`, `init` (`random` ±1, or `digits`: 7×12 digit bitmaps)  | `[F]` → `[out]`           |
//! | `rnn`         | `hidden`, `sequence` (false): h_t = tanh(x_t·W + h_{t−1}·U + b) | `[T,F]` → `[hidden]` or `[T,hidden]` |
//! | `lstm`        | `hidden`, `sequence` (false), `layers` (1), `dropout` (0, between layers), `bidirectional` (false): LSTM cells, forget bias 1 | `[T,F]` → `[hidden]` or `[T,hidden]` |
//! | `gru`         | the `lstm`'s fields: GRU units, PyTorch's equations          | `[T,F]` → `[hidden]` or `[T,hidden]` |
//! | `lrn`         | `size` (5), `alpha` (1e-4), `beta` (0.75), `k` (1): local response normalisation | same shape |
//! | `inception`   | `1x1`, `3x3_reduce`, `3x3`, `5x5_reduce`, `5x5`, `pool_proj`, `init` (GoogLeNet's module) | `[C,H,W]` → `[Σ,H,W]` |
//! | `auxiliary`   | `weight`, `layers` (a head whose loss counts `weight` times in training) | same shape |
//! | `dropout`     | `p`, `rule` (`inverted` or `weight-scaling`)                  | same shape              |
//! | `scale`       | `factor`                                                     | same shape              |
//! | `relu`, `gelu` (u·Φ(u)), `sigmoid`, `tanh`, `scaled-tanh` (1.7159·tanh(2a/3)), `identity` | | same shape |
//!
//! The default `init` is He before a `relu` or `gelu`, LeCun for the last layer (whose outputs are
//! used as they are) and before an `identity`, and Xavier otherwise. Example:
//!
//! ```toml
//! name = "tiny-cnn"
//! input = [1, 28, 28]
//! loss = "softmax-cross-entropy"
//!
//! [[layers]]
//! type = "conv2d"
//! out = 8
//! kernel = 3
//! padding = 1
//!
//! [[layers]]
//! type = "relu"
//!
//! [[layers]]
//! type = "maxpool2d"
//! kernel = 2
//!
//! [[layers]]
//! type = "flatten"
//!
//! [[layers]]
//! type = "linear"
//! out = 10
//! ```
//!
//! A wrong spec is an error naming the layer (index, type and name) and the shapes: an unknown
//! layer type or field and a missing field when the file is read, shapes that do not fit when
//! [`ModelSpec::shapes`] checks it (before every build).
//!
//! # Where each kind lives
//! Each layer kind is a spec struct beside its layer (`LinearSpec` in `linear.rs`, …) that
//! implements [`LayerKind`]: fields, shape rule, build, counts, init. The activations are the rows
//! of the [`Activation`] table. This file lists the kinds once, in the `layer_kinds!` registry
//! below, which generates [`LayerSpec`] and its exhaustive dispatch, and otherwise only parses and
//! checks whole models.

use super::Activation;
use super::activation::NoFields;
use super::kind::{LayerKind, elements};
use super::limits::{ModelSize, SizeLimits};
use super::{
    AuxiliarySpec, AvgPool2dSpec, Conv2dSpec, DropoutSpec, FlattenSpec, GruSpec, InceptionSpec, Init, LinearSpec,
    LrnSpec, LstmSpec, MaxPool2dSpec, OneHotSpec, PadSpec, RbfSpec, RnnSpec, ScaleSpec, Sequential, SubsampleSpec,
};
use crate::loss::Loss;
use crate::rng::Rng;
use crate::{Error, Result};
use serde::{Deserialize, Serialize};

/// Declares the layer kinds: one row per kind with its `LayerSpec` variant, its `type` in specs
/// and its spec struct; one row per activation with its variant (that of [`Activation`]) and
/// `type`. Generates [`LayerSpec`] and every match over it, so none has a `_` arm.
macro_rules! layer_kinds {
    (
        layers { $($(#[$doc:meta])* $variant:ident = $name:literal => $spec:ty,)* }
        activations { $($(#[$act_doc:meta])* $act:ident = $act_name:literal,)* }
    ) => {
        /// What one layer computes: the `type` of a spec's layer and its fields (see each spec
        /// struct for the fields).
        #[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
        #[serde(tag = "type")]
        pub enum LayerSpec {
            $($(#[$doc])* #[serde(rename = $name)] $variant($spec),)*
            $($(#[$act_doc])* #[serde(rename = $act_name)] $act(NoFields),)*
        }

        impl LayerSpec {
            /// The layer's `type` as written in a spec.
            pub fn kind(&self) -> &'static str {
                match self {
                    $(LayerSpec::$variant(_) => $name,)*
                    $(LayerSpec::$act(_) => $act_name,)*
                }
            }

            /// The layer's kind, which knows its shape rule, build, counts and capabilities.
            pub fn as_kind(&self) -> &dyn LayerKind {
                match self {
                    $(LayerSpec::$variant(spec) => spec,)*
                    $(LayerSpec::$act(_) => &Activation::$act,)*
                }
            }

            /// Overrides the init of a layer that draws weights (see [`LayerKind::set_init`]).
            pub fn set_init(&mut self, init: Init) {
                match self {
                    $(LayerSpec::$variant(spec) => spec.set_init(init),)*
                    $(LayerSpec::$act(_) => {})*
                }
            }

            /// The activation layer for an [`Activation`].
            pub fn activation(activation: Activation) -> LayerSpec {
                match activation {
                    $(Activation::$act => LayerSpec::$act(NoFields {}),)*
                }
            }
        }
    };
}

layer_kinds! {
    layers {
        /// A fully connected layer.
        Linear = "linear" => LinearSpec,
        /// A 2-D convolution.
        Conv2d = "conv2d" => Conv2dSpec,
        /// Max pooling.
        MaxPool2d = "maxpool2d" => MaxPool2dSpec,
        /// Average pooling.
        AvgPool2d = "avgpool2d" => AvgPool2dSpec,
        /// LeNet-5's trainable sub-sampling.
        Subsample = "subsample" => SubsampleSpec,
        /// A constant border around each map.
        Pad = "pad" => PadSpec,
        /// Each sample as one flat vector.
        Flatten = "flatten" => FlattenSpec,
        /// Symbol indices as one-hot vectors.
        OneHot = "one-hot" => OneHotSpec,
        /// Euclidean RBF units (LeNet-5's output layer).
        Rbf = "rbf" => RbfSpec,
        /// A simple recurrent layer.
        Rnn = "rnn" => RnnSpec,
        /// An LSTM layer.
        Lstm = "lstm" => LstmSpec,
        /// A GRU layer (PyTorch's equations).
        Gru = "gru" => GruSpec,
        /// Local response normalisation across channels.
        Lrn = "lrn" => LrnSpec,
        /// GoogLeNet's Inception module.
        Inception = "inception" => InceptionSpec,
        /// An auxiliary classifier head.
        Auxiliary = "auxiliary" => AuxiliarySpec,
        /// Dropout.
        Dropout = "dropout" => DropoutSpec,
        /// A constant factor.
        Scale = "scale" => ScaleSpec,
    }
    activations {
        /// max(0, u).
        Relu = "relu",
        /// u·Φ(u).
        Gelu = "gelu",
        /// The logistic sigmoid.
        Sigmoid = "sigmoid",
        /// tanh.
        Tanh = "tanh",
        /// LeNet-5's 1.7159·tanh(2u/3).
        ScaledTanh = "scaled-tanh",
        /// f(u) = u.
        Identity = "identity",
    }
}

impl LayerSpec {
    /// The output shape for one sample of `input`, or what does not fit (the caller adds the
    /// layer's index and type).
    pub fn output_shape(&self, input: &[usize]) -> std::result::Result<Vec<usize>, String> {
        self.as_kind().output_shape(input)
    }

    /// The activation this layer applies, if it is an activation layer.
    pub fn as_activation(&self) -> Option<Activation> {
        self.as_kind().activation()
    }

    /// The units of a layer that greedy pre-training trains (see [`LayerKind::pretrain_units`]).
    pub fn pretrain_units(&self) -> Option<usize> {
        self.as_kind().pretrain_units()
    }
}

/// The output shape of each of `layers` in turn from `input`, or the index of the first layer
/// that does not fit and why.
pub(super) fn shapes_through(
    layers: &[Layer],
    input: &[usize],
) -> std::result::Result<Vec<Vec<usize>>, (usize, String)> {
    let mut shape = input.to_vec();
    let mut out = Vec::with_capacity(layers.len());
    for (i, layer) in layers.iter().enumerate() {
        shape = layer.spec.output_shape(&shape).map_err(|msg| (i, msg))?;
        // every later count multiplies these sizes: one that overflows is refused here
        elements(&shape).map_err(|msg| (i, format!("output {msg}")))?;
        out.push(shape.clone());
    }
    Ok(out)
}

/// Builds `layers` (whose output shapes, from `input`, are `shapes`) into a chain. A layer whose
/// spec gives no init gets the one the next layer asks for ([`LayerKind::init_before`]), Xavier
/// if it asks for none, and LeCun if it is the last.
pub(super) fn build_layers(layers: &[Layer], input: &[usize], shapes: &[Vec<usize>], rng: &mut Rng) -> Sequential {
    let mut net = Sequential::new();
    let mut input = input;
    for (i, layer) in layers.iter().enumerate() {
        let default_init = match layers.get(i + 1) {
            None => Init::LeCun,
            Some(next) => next.spec.as_kind().init_before().unwrap_or(Init::Xavier),
        };
        net.push_boxed(layer.spec.as_kind().build(input, default_init, rng));
        input = &shapes[i];
    }
    net
}

/// One layer of a spec: what it computes, and an optional name (LeNet's `C1`, `S2`, …).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Layer {
    /// A name for summaries; by default the layer is called by its index and type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// What the layer computes.
    #[serde(flatten)]
    pub spec: LayerSpec,
}

impl From<LayerSpec> for Layer {
    fn from(spec: LayerSpec) -> Layer {
        Layer { name: None, spec }
    }
}

impl Layer {
    /// "conv2d 'C1'" or "relu": the type and the name, for messages.
    pub fn describe(&self) -> String {
        match &self.name {
            Some(name) => format!("{} '{name}'", self.spec.kind()),
            None => self.spec.kind().to_string(),
        }
    }
}

/// How raw inputs x ∈ [0, 1] are mapped before the network: x′ = zero + (one − zero)·x. LeNet-5
/// maps MNIST's background (0) to −0.1 and full ink (1) to 1.175, so that the inputs have mean
/// about 0 and variance about 1.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputMap {
    /// The value of an input of 0.
    pub zero: f32,
    /// The value of an input of 1.
    pub one: f32,
}

impl InputMap {
    /// The same map as a normalisation x′ = (x − mean)/std: (mean, std).
    pub fn mean_std(&self) -> (f32, f32) {
        let std = 1.0 / (self.one - self.zero);
        (-self.zero * std, std)
    }
}

/// Default training settings that a spec may carry; the command line's flags win.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TrainDefaults {
    /// Mini-batch size m.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch_size: Option<usize>,
    /// Passes over the training set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub epochs: Option<usize>,
    /// Optimizer name (as `--optimizer`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub optimizer: Option<String>,
    /// Learning rate η.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lr: Option<f32>,
    /// Momentum α (sgd).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub momentum: Option<f32>,
    /// Learning-rate schedule name (as `--schedule`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<String>,
    /// L2 penalty λ₂ on the weights (as `--l2`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub l2: Option<f32>,
    /// Max-norm c on each unit's incoming weights (as `--max-norm`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_norm: Option<f32>,
    /// Truncated BPTT in chunks of K steps with the state carried across (as `--bptt`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bptt: Option<usize>,
}

/// A whole network: its input shape (one sample), its layers and the loss it is trained with.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelSpec {
    /// A short name (shown in logs and JSON output).
    pub name: String,
    /// The shape of one sample, e.g. `[784]` or `[1, 28, 28]`.
    pub input: Vec<usize>,
    /// How inputs in [0, 1] are mapped; the data's default normalisation when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_map: Option<InputMap>,
    /// The loss, which also decides how outputs become predictions.
    pub loss: Loss,
    /// Default training settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub train: Option<TrainDefaults>,
    /// The layers, first to last.
    pub layers: Vec<Layer>,
}

impl ModelSpec {
    /// A multi-layer perceptron: `inputs` → hidden layers with `activation` → `outputs` (raw
    /// outputs; the loss applies softmax or sigmoid).
    pub fn mlp(inputs: usize, hidden: &[usize], outputs: usize, activation: Activation, loss: Loss) -> ModelSpec {
        let mut layers = Vec::new();
        for &h in hidden {
            layers.push(LayerSpec::Linear(LinearSpec { out: h, init: None }).into());
            layers.push(LayerSpec::activation(activation).into());
        }
        layers.push(LayerSpec::Linear(LinearSpec { out: outputs, init: None }).into());
        ModelSpec { name: "mlp".into(), input: vec![inputs], input_map: None, loss, train: None, layers }
    }

    /// The same model with every linear and convolutional layer initialised by `init`, in place
    /// of the per-layer choice (`nabla train --init`).
    pub fn with_init(mut self, init: Init) -> ModelSpec {
        for layer in &mut self.layers {
            layer.spec.set_init(init);
        }
        self
    }

    /// The number of input values per sample.
    pub fn input_size(&self) -> usize {
        self.input.iter().product()
    }

    /// The output shape of every layer for one sample, checking that each layer fits the last;
    /// an error names the layer's index, type and name, and the shapes.
    pub fn shapes(&self) -> Result<Vec<Vec<usize>>> {
        if self.input.is_empty() || self.input.contains(&0) {
            return Err(Error::config(format!("model '{}': input shape {:?} is empty", self.name, self.input)));
        }
        elements(&self.input).map_err(|msg| Error::config(format!("model '{}': input {msg}", self.name)))?;
        if let Some(map) = self.input_map
            && !(map.zero.is_finite() && map.one.is_finite() && map.zero != map.one)
        {
            return Err(Error::config(format!(
                "model '{}': input_map {{ zero = {}, one = {} }} must map 0 and 1 to two different finite numbers",
                self.name, map.zero, map.one
            )));
        }
        let shapes = shapes_through(&self.layers, &self.input).map_err(|(i, msg)| {
            Error::config(format!("model '{}': layer {i} ({}): {msg}", self.name, self.layers[i].describe()))
        })?;
        // an auxiliary head is trained against the same targets as the output
        let output = shapes.last().cloned().unwrap_or_else(|| self.input.clone());
        let mut input = &self.input;
        for (i, (layer, shape)) in self.layers.iter().zip(&shapes).enumerate() {
            if let LayerSpec::Auxiliary(aux) = &layer.spec {
                let head = shapes_through(&aux.layers, input).expect("checked above");
                if head.last() != Some(&output) {
                    return Err(Error::config(format!(
                        "model '{}': layer {i} ({}): the head ends in shape {:?} but the model's output is {output:?}",
                        self.name,
                        layer.describe(),
                        head.last().unwrap_or(input)
                    )));
                }
            }
            input = shape;
        }
        Ok(shapes)
    }

    /// The number of outputs per sample.
    pub fn output_size(&self) -> Result<usize> {
        Ok(self.shapes()?.last().map_or(self.input_size(), |s| s.iter().product()))
    }

    /// The numbers the model holds and computes per sample, after checking the shapes (see
    /// [`ModelSize`]). Nothing is allocated.
    pub fn size(&self) -> Result<ModelSize> {
        let shapes = self.shapes()?;
        let mut size = ModelSize { stored: 0, activations: elements(&self.input).expect("checked by shapes") };
        let mut input = &self.input;
        for (layer, output) in self.layers.iter().zip(&shapes) {
            size.stored = size.stored.saturating_add(layer.spec.as_kind().stored(input, output));
            size.activations = size.activations.saturating_add(layer.spec.as_kind().values(input, output));
            input = output;
        }
        Ok(size)
    }

    /// [`ModelSpec::size`], refused above `limits` with an error naming the model, the count and
    /// how to raise the limit.
    pub fn check_size(&self, limits: &SizeLimits) -> Result<ModelSize> {
        let size = self.size()?;
        limits.check(&self.name, &size)?;
        Ok(size)
    }

    /// Builds the network with weights drawn from `rng`, after checking the shapes and the size
    /// against the default [`SizeLimits`].
    pub fn build(&self, rng: &mut Rng) -> Result<Sequential> {
        self.build_limited(rng, &SizeLimits::default())
    }

    /// Builds the network with weights drawn from `rng`, after checking the shapes and the size
    /// against `limits`: nothing is allocated for a model above them.
    pub fn build_limited(&self, rng: &mut Rng, limits: &SizeLimits) -> Result<Sequential> {
        self.check_size(limits)?;
        let shapes = self.shapes()?;
        Ok(build_layers(&self.layers, &self.input, &shapes, rng))
    }
}

#[cfg(test)]
pub(crate) mod tests;
