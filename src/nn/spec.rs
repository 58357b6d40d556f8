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
//! | `linear`      | `out`, `init` (`he`, `xavier`, `lecun`, `uniform`)           | `[F]` → `[out]`           |
//! | `conv2d`      | `out`, `kernel`, `stride` (1), `padding` (0), `init`,         | `[C,H,W]` → `[out,OH,OW]` |
//! |               | `connections` (for each output map, the input maps it reads) |                         |
//! | `maxpool2d`   | `kernel`, `stride` (= kernel), `padding` (0; −∞ border)        | `[C,H,W]` → `[C,OH,OW]`   |
//! | `avgpool2d`   | `kernel`, `stride` (= kernel), `padding` (0; zero border)      | `[C,H,W]` → `[C,OH,OW]`   |
//! | `subsample`   | `kernel`, `stride` (= kernel): LeNet's w₁·Σ(window) + w₂       | `[C,H,W]` → `[C,OH,OW]`   |
//! | `pad`         | `padding`, `value` (0)                                        | `[C,H,W]` → `[C,H+2p,W+2p]` |
//! | `flatten`     |                                                              | `[d₁,d₂,…]` → `[d₁·d₂·…]` |
//! | `rbf`         | `out`, `init` (`random` ±1, or `digits`: 7×12 digit bitmaps)  | `[F]` → `[out]`           |
//! | `rnn`         | `hidden`, `sequence` (false): h_t = tanh(x_t·W + h_{t−1}·U + b) | `[T,F]` → `[hidden]` or `[T,hidden]` |
//! | `lstm`        | `hidden`, `sequence` (false): LSTM cells, forget bias 1       | `[T,F]` → `[hidden]` or `[T,hidden]` |
//! | `lrn`         | `size` (5), `alpha` (1e-4), `beta` (0.75), `k` (1): local response normalisation | same shape |
//! | `inception`   | `1x1`, `3x3_reduce`, `3x3`, `5x5_reduce`, `5x5`, `pool_proj`, `init` (GoogLeNet's module) | `[C,H,W]` → `[Σ,H,W]` |
//! | `auxiliary`   | `weight`, `layers` (a head whose loss counts `weight` times in training) | same shape |
//! | `dropout`     | `p`, `rule` (`inverted` or `weight-scaling`)                  | same shape              |
//! | `scale`       | `factor`                                                     | same shape              |
//! | `relu`, `sigmoid`, `tanh`, `scaled-tanh` (1.7159·tanh(2a/3)), `identity` |        | same shape              |
//!
//! The default `init` is He before a `relu`, LeCun for the last layer (whose outputs are used as
//! they are) and before an `identity`, and Xavier otherwise. Example:
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

use super::{
    ActivationLayer, Auxiliary, AvgPool2d, Conv2d, Dropout, DropoutRule, Flatten, Inception, InceptionSizes, Init,
    Linear, LocalResponseNorm, Lstm, MaxPool2d, Pad, Rbf, RbfInit, Rnn, Scale, ScaledTanh, Sequential, Subsample,
};
use crate::loss::Loss;
use crate::ops::{Activation, Lrn};
use crate::rng::Rng;
use crate::{Error, Result};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// A size in two dimensions (rows, columns), written `5` for 5×5 or `[5, 3]` in a spec.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Size2(pub usize, pub usize);

impl Size2 {
    fn one() -> Size2 {
        Size2(1, 1)
    }

    fn is_one(&self) -> bool {
        *self == Size2(1, 1)
    }

    fn is_zero(&self) -> bool {
        *self == Size2(0, 0)
    }

    /// As a (rows, columns) pair.
    pub fn pair(self) -> (usize, usize) {
        (self.0, self.1)
    }
}

impl fmt::Display for Size2 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}×{}", self.0, self.1)
    }
}

impl Serialize for Size2 {
    fn serialize<S: Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        if self.0 == self.1 { s.serialize_u64(self.0 as u64) } else { [self.0, self.1].serialize(s) }
    }
}

impl<'de> Deserialize<'de> for Size2 {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Size2, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged, expecting = "a size: a number, or [rows, columns]")]
        enum Form {
            Square(usize),
            Pair([usize; 2]),
        }
        Ok(match Form::deserialize(d)? {
            Form::Square(k) => Size2(k, k),
            Form::Pair([h, w]) => Size2(h, w),
        })
    }
}

/// What one layer computes (the `type` of a spec's layer and its fields).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum LayerSpec {
    /// A fully connected layer with `out` units; its inputs are the previous layer's outputs.
    Linear {
        /// Number of output units n_l.
        out: usize,
        /// Weight initialisation; by default He before a ReLU, LeCun last, Xavier otherwise.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        init: Option<Init>,
    },
    /// A 2-D convolution with `out` maps of `kernel`-sized kernels.
    Conv2d {
        /// Number of output maps O.
        out: usize,
        /// (KH, KW).
        kernel: Size2,
        /// (SH, SW), 1 by default.
        #[serde(default = "Size2::one", skip_serializing_if = "Size2::is_one")]
        stride: Size2,
        /// Zero padding on each side, 0 by default.
        #[serde(default, skip_serializing_if = "Size2::is_zero")]
        padding: Size2,
        /// Weight initialisation; by default He before a ReLU, LeCun last, Xavier otherwise.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        init: Option<Init>,
        /// For each output map, the input maps it reads (all of them when absent).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        connections: Option<Vec<Vec<usize>>>,
    },
    /// Max pooling, over a border of −∞ when padded.
    MaxPool2d {
        /// (KH, KW).
        kernel: Size2,
        /// (SH, SW); the kernel size by default.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        stride: Option<Size2>,
        /// (PH, PW) on each side, 0 by default; at most half the kernel.
        #[serde(default, skip_serializing_if = "Size2::is_zero")]
        padding: Size2,
    },
    /// Average pooling, over a border of zeros (counted in the average) when padded.
    AvgPool2d {
        /// (KH, KW).
        kernel: Size2,
        /// (SH, SW); the kernel size by default.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        stride: Option<Size2>,
        /// (PH, PW) on each side, 0 by default; at most half the kernel.
        #[serde(default, skip_serializing_if = "Size2::is_zero")]
        padding: Size2,
    },
    /// LeNet-5's trainable sub-sampling: w₁·Σ(window) + w₂ per map.
    Subsample {
        /// (KH, KW).
        kernel: Size2,
        /// (SH, SW); the kernel size by default.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        stride: Option<Size2>,
    },
    /// A border of a constant value around each map.
    Pad {
        /// (PH, PW) on each side.
        padding: Size2,
        /// The border's value (0 by default).
        #[serde(default)]
        value: f32,
    },
    /// Each sample as one flat vector.
    Flatten {},
    /// Euclidean RBF units y_i = Σ_j (x_j − w_ij)² (LeNet-5's output layer).
    Rbf {
        /// Number of units K.
        out: usize,
        /// The centres: random ±1 (default) or the digit bitmaps.
        #[serde(default)]
        init: RbfInit,
    },
    /// A simple recurrent layer of `hidden` tanh units over an input T × F (see [`super::Rnn`]).
    Rnn {
        /// H, the number of units.
        hidden: usize,
        /// Output every step's state (T × H) instead of the last (H).
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        sequence: bool,
    },
    /// An LSTM layer of `hidden` cells over an input T × F (see [`super::Lstm`]).
    Lstm {
        /// H, the number of cells.
        hidden: usize,
        /// Output every step's h (T × H) instead of the last (H).
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        sequence: bool,
    },
    /// Local response normalisation across channels (see [`crate::ops::Lrn`]); the defaults are
    /// GoogLeNet's.
    Lrn {
        /// n, the channels in each window (5).
        #[serde(default = "lrn_default::size")]
        size: usize,
        /// α (10⁻⁴).
        #[serde(default = "lrn_default::alpha")]
        alpha: f32,
        /// β (0.75).
        #[serde(default = "lrn_default::beta")]
        beta: f32,
        /// k (1).
        #[serde(default = "lrn_default::k")]
        k: f32,
    },
    /// GoogLeNet's Inception module (see [`super::Inception`]), with the channel counts of the
    /// paper's Table 1.
    Inception {
        /// #1×1.
        #[serde(rename = "1x1")]
        c1x1: usize,
        /// #3×3 reduce.
        #[serde(rename = "3x3_reduce")]
        c3x3_reduce: usize,
        /// #3×3.
        #[serde(rename = "3x3")]
        c3x3: usize,
        /// #5×5 reduce.
        #[serde(rename = "5x5_reduce")]
        c5x5_reduce: usize,
        /// #5×5.
        #[serde(rename = "5x5")]
        c5x5: usize,
        /// pool proj.
        pool_proj: usize,
        /// Weight initialisation of its convolutions (He by default: each feeds a ReLU).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        init: Option<Init>,
    },
    /// An auxiliary classifier (see [`super::Auxiliary`]): `layers` form a head on this point of
    /// the network whose loss, times `weight`, is added in training; the main path goes on
    /// unchanged. The head must end in the model's output shape.
    Auxiliary {
        /// The factor of the head's loss (GoogLeNet: 0.3).
        weight: f32,
        /// The head, first layer to last.
        layers: Vec<Layer>,
    },
    /// Dropout with drop probability `p` in training (see [`super::Dropout`]).
    Dropout {
        /// The probability of dropping a unit, in [0, 1).
        p: f32,
        /// `inverted` (default) or `weight-scaling`.
        #[serde(default)]
        rule: DropoutRule,
    },
    /// y = factor·x.
    Scale {
        /// The factor.
        factor: f32,
    },
    /// max(0, u).
    Relu {},
    /// The logistic sigmoid.
    Sigmoid {},
    /// tanh.
    Tanh {},
    /// LeNet-5's 1.7159·tanh(2u/3).
    #[serde(rename = "scaled-tanh")]
    ScaledTanh {},
    /// f(u) = u.
    Identity {},
}

impl LayerSpec {
    /// The activation layer for an [`Activation`].
    pub fn activation(activation: Activation) -> LayerSpec {
        match activation {
            Activation::Relu => LayerSpec::Relu {},
            Activation::Sigmoid => LayerSpec::Sigmoid {},
            Activation::Tanh => LayerSpec::Tanh {},
            Activation::Identity => LayerSpec::Identity {},
        }
    }

    /// The layer's `type` as written in a spec.
    pub fn kind(&self) -> &'static str {
        match self {
            LayerSpec::Linear { .. } => "linear",
            LayerSpec::Conv2d { .. } => "conv2d",
            LayerSpec::MaxPool2d { .. } => "maxpool2d",
            LayerSpec::AvgPool2d { .. } => "avgpool2d",
            LayerSpec::Subsample { .. } => "subsample",
            LayerSpec::Pad { .. } => "pad",
            LayerSpec::Flatten {} => "flatten",
            LayerSpec::Rbf { .. } => "rbf",
            LayerSpec::Rnn { .. } => "rnn",
            LayerSpec::Lstm { .. } => "lstm",
            LayerSpec::Lrn { .. } => "lrn",
            LayerSpec::Inception { .. } => "inception",
            LayerSpec::Auxiliary { .. } => "auxiliary",
            LayerSpec::Dropout { .. } => "dropout",
            LayerSpec::Scale { .. } => "scale",
            LayerSpec::Relu {} => "relu",
            LayerSpec::Sigmoid {} => "sigmoid",
            LayerSpec::Tanh {} => "tanh",
            LayerSpec::ScaledTanh {} => "scaled-tanh",
            LayerSpec::Identity {} => "identity",
        }
    }

    /// The channel counts of an `inception` layer, `None` for other layers.
    pub fn inception_sizes(&self) -> Option<InceptionSizes> {
        match *self {
            LayerSpec::Inception { c1x1, c3x3_reduce, c3x3, c5x5_reduce, c5x5, pool_proj, .. } => {
                Some(InceptionSizes { c1x1, c3x3_reduce, c3x3, c5x5_reduce, c5x5, pool_proj })
            }
            _ => None,
        }
    }

    /// The output shape for one sample of `input`, or what does not fit (the caller adds the
    /// layer's index and type).
    pub fn output_shape(&self, input: &[usize]) -> std::result::Result<Vec<usize>, String> {
        let image = || match input {
            &[c, h, w] => Ok((c, h, w)),
            _ => Err(format!("needs an image input C×H×W, got shape {input:?}")),
        };
        let positive = |what: &str, s: Size2| {
            if s.0 == 0 || s.1 == 0 {
                Err(format!("{what} {s} must be positive (input shape {input:?})"))
            } else {
                Ok(())
            }
        };
        let windows = |kernel: Size2, stride: Size2, padding: Size2| {
            let (c, h, w) = image()?;
            positive("kernel", kernel)?;
            positive("stride", stride)?;
            let (ph, pw) = (h + 2 * padding.0, w + 2 * padding.1);
            if kernel.0 > ph || kernel.1 > pw {
                let padded = if padding.is_zero() { String::new() } else { format!(" padded by {padding}") };
                return Err(format!("kernel {kernel} does not fit input shape {input:?}{padded}"));
            }
            Ok((c, (ph - kernel.0) / stride.0 + 1, (pw - kernel.1) / stride.1 + 1))
        };
        let units = |out: usize| if out == 0 { Err(format!("out = 0 (input shape {input:?})")) } else { Ok(()) };
        let flat = || match input {
            &[f] => Ok(f),
            _ => Err(format!("needs a flat input (add a flatten layer before it), got shape {input:?}")),
        };
        match self {
            LayerSpec::Linear { out, .. } => {
                units(*out)?;
                flat()?;
                Ok(vec![*out])
            }
            LayerSpec::Conv2d { out, kernel, stride, padding, connections, .. } => {
                units(*out)?;
                let (c, oh, ow) = windows(*kernel, *stride, *padding)?;
                if let Some(table) = connections {
                    check_table(table, *out, c).map_err(|e| format!("{e} (input shape {input:?})"))?;
                }
                Ok(vec![*out, oh, ow])
            }
            LayerSpec::MaxPool2d { kernel, stride, padding } | LayerSpec::AvgPool2d { kernel, stride, padding } => {
                if 2 * padding.0 > kernel.0 || 2 * padding.1 > kernel.1 {
                    return Err(format!(
                        "padding {padding} is more than half the kernel {kernel} (input shape {input:?})"
                    ));
                }
                let (c, oh, ow) = windows(*kernel, stride.unwrap_or(*kernel), *padding)?;
                Ok(vec![c, oh, ow])
            }
            LayerSpec::Subsample { kernel, stride } => {
                let (c, oh, ow) = windows(*kernel, stride.unwrap_or(*kernel), Size2(0, 0))?;
                Ok(vec![c, oh, ow])
            }
            LayerSpec::Pad { padding, value } => {
                let (c, h, w) = image()?;
                if !value.is_finite() {
                    return Err(format!("value {value} is not a finite number"));
                }
                Ok(vec![c, h + 2 * padding.0, w + 2 * padding.1])
            }
            LayerSpec::Flatten {} => Ok(vec![input.iter().product()]),
            LayerSpec::Rbf { out, init } => {
                units(*out)?;
                let f = flat()?;
                if *init == RbfInit::Digits && (f != 84 || *out != 10) {
                    return Err(format!(
                        "init = \"digits\" needs 84 inputs (7×12 bitmaps) and out = 10, got input shape {input:?} \
                         and out = {out}; use init = \"random\""
                    ));
                }
                Ok(vec![*out])
            }
            LayerSpec::Rnn { hidden, sequence } | LayerSpec::Lstm { hidden, sequence } => {
                let &[t, _] = input else {
                    return Err(format!("needs a sequence input T×F, got shape {input:?}"));
                };
                if *hidden == 0 {
                    return Err(format!("hidden = 0 (input shape {input:?})"));
                }
                Ok(if *sequence { vec![t, *hidden] } else { vec![*hidden] })
            }
            LayerSpec::Lrn { size, alpha, beta, k } => {
                if input.len() < 2 {
                    return Err(format!("needs channels (N×C×…), got shape {input:?}"));
                }
                if *size == 0 || !(alpha.is_finite() && beta.is_finite() && k.is_finite() && *k > 0.0 && *alpha >= 0.0)
                {
                    return Err(format!(
                        "size {size}, alpha {alpha}, beta {beta}, k {k}: want size ≥ 1, alpha ≥ 0, k > 0"
                    ));
                }
                Ok(input.to_vec())
            }
            LayerSpec::Inception { .. } => {
                let (_, h, w) = image()?;
                let sizes = self.inception_sizes().expect("an inception layer");
                if let Some((name, ..)) = sizes.convolutions(0).iter().find(|(_, _, out, _)| *out == 0) {
                    return Err(format!("{name} = 0 (input shape {input:?})"));
                }
                Ok(vec![sizes.outputs(), h, w])
            }
            LayerSpec::Auxiliary { weight, layers } => {
                if !weight.is_finite() || *weight < 0.0 {
                    return Err(format!("weight {weight} must be a finite number ≥ 0"));
                }
                if layers.is_empty() {
                    return Err("the head has no layers".into());
                }
                shapes_through(layers, input)
                    .map_err(|(j, msg)| format!("head layer {j} ({}): {msg}", layers[j].describe()))?;
                Ok(input.to_vec())
            }
            LayerSpec::Dropout { p, .. } => {
                if !(0.0..1.0).contains(p) {
                    return Err(format!("p = {p} must be in [0, 1)"));
                }
                Ok(input.to_vec())
            }
            LayerSpec::Scale { factor } => {
                if !factor.is_finite() {
                    return Err(format!("factor {factor} is not a finite number"));
                }
                Ok(input.to_vec())
            }
            LayerSpec::Relu {}
            | LayerSpec::Sigmoid {}
            | LayerSpec::Tanh {}
            | LayerSpec::ScaledTanh {}
            | LayerSpec::Identity {} => Ok(input.to_vec()),
        }
    }
}

/// Sets the `init` of every layer that draws weights, auxiliary heads included.
fn set_init(layers: &mut [Layer], init: Init) {
    for layer in layers {
        match &mut layer.spec {
            LayerSpec::Linear { init: i, .. }
            | LayerSpec::Conv2d { init: i, .. }
            | LayerSpec::Inception { init: i, .. } => *i = Some(init),
            LayerSpec::Auxiliary { layers, .. } => set_init(layers, init),
            _ => {}
        }
    }
}

/// The defaults of `lrn` layers: GoogLeNet's (and Caffe's) values.
mod lrn_default {
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
        out.push(shape.clone());
    }
    Ok(out)
}

/// Builds `layers` (whose output shapes, from `input`, are `shapes`) into a chain.
fn build_layers(layers: &[Layer], input: &[usize], shapes: &[Vec<usize>], rng: &mut Rng) -> Sequential {
    let mut net = Sequential::new();
    let mut input = input.to_vec();
    for (i, layer) in layers.iter().enumerate() {
        let default_init = match layers.get(i + 1).map(|l| &l.spec) {
            Some(LayerSpec::Relu {}) => Init::He,
            None | Some(LayerSpec::Identity {}) => Init::LeCun,
            _ => Init::Xavier,
        };
        match &layer.spec {
            LayerSpec::Linear { out, init } => {
                net.push(Linear::new(input[0], *out, init.unwrap_or(default_init), rng));
            }
            LayerSpec::Conv2d { out, kernel, stride, padding, init, connections } => {
                let init = init.unwrap_or(default_init);
                let (k, s, p) = (kernel.pair(), stride.pair(), padding.pair());
                net.push(match connections {
                    Some(table) => Conv2d::with_table(input[0], table, k, s, p, init, rng),
                    None => Conv2d::new(input[0], *out, k, s, p, init, rng),
                });
            }
            LayerSpec::MaxPool2d { kernel, stride, padding } => net.push(MaxPool2d {
                kernel: kernel.pair(),
                stride: stride.unwrap_or(*kernel).pair(),
                padding: padding.pair(),
            }),
            LayerSpec::AvgPool2d { kernel, stride, padding } => net.push(AvgPool2d {
                kernel: kernel.pair(),
                stride: stride.unwrap_or(*kernel).pair(),
                padding: padding.pair(),
            }),
            LayerSpec::Subsample { kernel, stride } => {
                net.push(Subsample::new(input[0], kernel.pair(), stride.unwrap_or(*kernel).pair()));
            }
            LayerSpec::Pad { padding, value } => net.push(Pad { padding: padding.pair(), value: *value }),
            LayerSpec::Flatten {} => net.push(Flatten),
            LayerSpec::Rbf { out, init } => net.push(Rbf::new(input[0], *out, *init, rng)),
            LayerSpec::Rnn { hidden, sequence } => net.push(Rnn::new(input[1], *hidden, *sequence, rng)),
            LayerSpec::Lstm { hidden, sequence } => net.push(Lstm::new(input[1], *hidden, *sequence, rng)),
            LayerSpec::Lrn { size, alpha, beta, k } => {
                net.push(LocalResponseNorm(Lrn { size: *size, alpha: *alpha, beta: *beta, k: *k }));
            }
            LayerSpec::Inception { init, .. } => {
                let sizes = layer.spec.inception_sizes().expect("an inception layer");
                net.push(Inception::new(input[0], sizes, init.unwrap_or(Init::He), rng));
            }
            LayerSpec::Auxiliary { weight, layers } => {
                let head_shapes = shapes_through(layers, &input).expect("checked by ModelSpec::shapes");
                net.push(Auxiliary::new(*weight, build_layers(layers, &input, &head_shapes, rng)));
            }
            LayerSpec::Dropout { p, rule } => net.push(Dropout::new(*p, *rule)),
            LayerSpec::Scale { factor } => net.push(Scale(*factor)),
            LayerSpec::Relu {} => net.push(ActivationLayer(Activation::Relu)),
            LayerSpec::Sigmoid {} => net.push(ActivationLayer(Activation::Sigmoid)),
            LayerSpec::Tanh {} => net.push(ActivationLayer(Activation::Tanh)),
            LayerSpec::Identity {} => net.push(ActivationLayer(Activation::Identity)),
            LayerSpec::ScaledTanh {} => net.push(ScaledTanh),
        }
        input = shapes[i].clone();
    }
    net
}

/// Checks a connection table: one non-empty list per output map, each naming distinct input maps
/// below `inputs`.
fn check_table(table: &[Vec<usize>], outputs: usize, inputs: usize) -> std::result::Result<(), String> {
    if table.len() != outputs {
        return Err(format!("connections has {} entries but out = {outputs} (one list per output map)", table.len()));
    }
    for (o, sources) in table.iter().enumerate() {
        if sources.is_empty() {
            return Err(format!("connections[{o}] is empty: output map {o} would read no input map"));
        }
        if let Some(&c) = sources.iter().find(|&&c| c >= inputs) {
            return Err(format!("connections[{o}] names input map {c}, but there are {inputs} (0 to {})", inputs - 1));
        }
        let mut sorted = sources.clone();
        sorted.sort_unstable();
        if sorted.windows(2).any(|w| w[0] == w[1]) {
            return Err(format!("connections[{o}] names an input map twice: {sources:?}"));
        }
    }
    Ok(())
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
            layers.push(LayerSpec::Linear { out: h, init: None }.into());
            layers.push(LayerSpec::activation(activation).into());
        }
        layers.push(LayerSpec::Linear { out: outputs, init: None }.into());
        ModelSpec { name: "mlp".into(), input: vec![inputs], input_map: None, loss, train: None, layers }
    }

    /// The same model with every linear and convolutional layer initialised by `init`, in place
    /// of the per-layer choice (`nabla train --init`).
    pub fn with_init(mut self, init: Init) -> ModelSpec {
        set_init(&mut self.layers, init);
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
            if let LayerSpec::Auxiliary { layers, .. } = &layer.spec {
                let head = shapes_through(layers, input).expect("checked above");
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

    /// Builds the network with weights drawn from `rng`, after checking the shapes.
    pub fn build(&self, rng: &mut Rng) -> Result<Sequential> {
        let shapes = self.shapes()?;
        Ok(build_layers(&self.layers, &self.input, &shapes, rng))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::Module;

    fn spec_of(input: &[usize], layers: Vec<LayerSpec>) -> ModelSpec {
        ModelSpec {
            name: "t".into(),
            input: input.to_vec(),
            input_map: None,
            loss: Loss::SoftmaxCrossEntropy,
            train: None,
            layers: layers.into_iter().map(Layer::from).collect(),
        }
    }

    #[test]
    fn mlp_spec_round_trips_through_json_and_builds() {
        let spec = ModelSpec::mlp(784, &[512, 512], 10, Activation::Relu, Loss::SoftmaxCrossEntropy);
        let json = serde_json::to_string(&spec).unwrap();
        assert!(json.contains(r#"{"type":"linear","out":512},{"type":"relu"}"#), "{json}");
        let back: ModelSpec = serde_json::from_str(&json).unwrap();
        assert_eq!(back, spec);
        let net = spec.build(&mut Rng::seed(0)).unwrap();
        assert_eq!(net.num_parameters(), 784 * 512 + 512 + 512 * 512 + 512 + 512 * 10 + 10);
        let names: Vec<String> = net.params().into_iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["0.weight", "0.bias", "2.weight", "2.bias", "4.weight", "4.bias"]);
    }

    #[test]
    fn with_init_sets_every_linear_layer_and_draws_smaller_weights() {
        let spec = ModelSpec::mlp(400, &[300], 10, Activation::Relu, Loss::SoftmaxCrossEntropy);
        let uniform = spec.clone().with_init(Init::Uniform);
        let inits: Vec<_> = uniform
            .layers
            .iter()
            .filter_map(|l| if let LayerSpec::Linear { init, .. } = l.spec { Some(init) } else { None })
            .collect();
        assert_eq!(inits, [Some(Init::Uniform), Some(Init::Uniform)]);
        let first_weight = |s: &ModelSpec| s.build(&mut Rng::seed(0)).unwrap().params()[0].1.value().clone();
        let var = |t: &crate::Tensor| t.data().iter().map(|x| x * x).sum::<f32>() / t.numel() as f32;
        // He draws 2/400, uniform 1/(3·400): six times smaller
        let ratio = var(&first_weight(&spec)) / var(&first_weight(&uniform));
        assert!((ratio - 6.0).abs() < 0.3, "He / uniform variance ratio {ratio}");
    }

    /// The JSON of a checkpoint written before convolutions existed still loads.
    #[test]
    fn an_mlp_spec_of_the_first_format_still_parses() {
        let old = r#"{"name":"mlp","input":[784],"layers":[{"type":"linear","out":64},{"type":"relu"},
            {"type":"linear","out":10}],"loss":"softmax-cross-entropy"}"#;
        let spec: ModelSpec = serde_json::from_str(old).unwrap();
        assert_eq!(spec, ModelSpec::mlp(784, &[64], 10, Activation::Relu, Loss::SoftmaxCrossEntropy));
    }

    #[test]
    fn shapes_are_inferred_through_convolutions_and_pooling() {
        let spec = spec_of(
            &[1, 28, 28],
            vec![
                LayerSpec::Pad { padding: Size2(2, 2), value: -0.1 },
                LayerSpec::Conv2d {
                    out: 6,
                    kernel: Size2(5, 5),
                    stride: Size2(1, 1),
                    padding: Size2(0, 0),
                    init: None,
                    connections: None,
                },
                LayerSpec::MaxPool2d { kernel: Size2(2, 2), stride: None, padding: Size2(0, 0) },
                LayerSpec::Conv2d {
                    out: 4,
                    kernel: Size2(3, 2),
                    stride: Size2(2, 1),
                    padding: Size2(1, 0),
                    init: None,
                    connections: None,
                },
                LayerSpec::Subsample { kernel: Size2(2, 2), stride: Some(Size2(1, 1)) },
                LayerSpec::Flatten {},
                LayerSpec::Linear { out: 7, init: None },
            ],
        );
        let shapes = spec.shapes().unwrap();
        // 14×14 → conv 3×2, stride (2, 1), padding (1, 0): (14 + 2 − 3)/2 + 1 = 7, (14 − 2)/1 + 1 = 13
        let want: Vec<Vec<usize>> =
            vec![vec![1, 32, 32], vec![6, 28, 28], vec![6, 14, 14], vec![4, 7, 13], vec![4, 6, 12], vec![288], vec![7]];
        assert_eq!(shapes, want);
        let net = spec.build(&mut Rng::seed(1)).unwrap();
        let x = crate::Var::constant(crate::Tensor::zeros(&[2, 1, 28, 28]));
        assert_eq!(net.forward(&x).shape(), &[2, 7]);
    }

    fn inception(c1x1: usize) -> LayerSpec {
        LayerSpec::Inception { c1x1, c3x3_reduce: 2, c3x3: 3, c5x5_reduce: 1, c5x5: 2, pool_proj: 2, init: None }
    }

    #[test]
    fn googlenet_layers_infer_their_shapes_and_build() {
        let spec = spec_of(
            &[3, 9, 9],
            vec![
                LayerSpec::MaxPool2d { kernel: Size2(3, 3), stride: Some(Size2(2, 2)), padding: Size2(1, 1) },
                LayerSpec::Lrn { size: 5, alpha: 1e-4, beta: 0.75, k: 1.0 },
                inception(4),
                LayerSpec::Auxiliary {
                    weight: 0.3,
                    layers: vec![LayerSpec::Flatten {}.into(), LayerSpec::Linear { out: 5, init: None }.into()],
                },
                LayerSpec::AvgPool2d { kernel: Size2(5, 5), stride: None, padding: Size2(0, 0) },
                LayerSpec::Flatten {},
                LayerSpec::Linear { out: 5, init: None },
            ],
        );
        let shapes = spec.shapes().unwrap();
        assert_eq!(shapes[..4], [vec![3, 5, 5], vec![3, 5, 5], vec![11, 5, 5], vec![11, 5, 5]]);
        let net = spec.build(&mut Rng::seed(0)).unwrap();
        let names: Vec<String> = net.params().into_iter().map(|(n, _)| n).collect();
        assert_eq!(names[0], "2.1x1.weight");
        assert_eq!(names[12..], ["3.1.weight", "3.1.bias", "6.weight", "6.bias"]);
        // lrn's defaults are GoogLeNet's
        let lrn: Layer = toml::from_str("type = \"lrn\"").unwrap();
        assert_eq!(lrn.spec, LayerSpec::Lrn { size: 5, alpha: 1e-4, beta: 0.75, k: 1.0 });
    }

    #[test]
    fn shape_errors_name_the_layer_its_type_and_the_shapes() {
        let conv = |out, k| LayerSpec::Conv2d {
            out,
            kernel: Size2(k, k),
            stride: Size2(1, 1),
            padding: Size2(0, 0),
            init: None,
            connections: None,
        };
        let cases: Vec<(Vec<usize>, Vec<LayerSpec>, &str)> = vec![
            (vec![4], vec![LayerSpec::Linear { out: 0, init: None }], "layer 0 (linear): out = 0 (input shape [4])"),
            (
                vec![1, 8, 8],
                vec![
                    conv(2, 5),
                    LayerSpec::MaxPool2d { kernel: Size2(2, 2), stride: None, padding: Size2(0, 0) },
                    conv(3, 5),
                ],
                "layer 2 (conv2d): kernel 5×5 does not fit input shape [2, 2, 2]",
            ),
            (
                vec![1, 8, 8],
                vec![conv(2, 3), LayerSpec::Linear { out: 3, init: None }],
                "layer 1 (linear): needs a flat input (add a flatten layer before it), got shape [2, 6, 6]",
            ),
            (vec![784], vec![conv(2, 3)], "layer 0 (conv2d): needs an image input C×H×W, got shape [784]"),
            (
                vec![2, 8, 8],
                vec![LayerSpec::Conv2d {
                    out: 2,
                    kernel: Size2(3, 3),
                    stride: Size2(1, 1),
                    padding: Size2(0, 0),
                    init: None,
                    connections: Some(vec![vec![0], vec![1, 2]]),
                }],
                "layer 0 (conv2d): connections[1] names input map 2, but there are 2 (0 to 1) (input shape [2, 8, 8])",
            ),
            (
                vec![1, 6, 6],
                vec![LayerSpec::Flatten {}, LayerSpec::Rbf { out: 10, init: RbfInit::Digits }],
                "layer 1 (rbf): init = \"digits\" needs 84 inputs",
            ),
            (
                vec![1, 6, 6],
                vec![LayerSpec::MaxPool2d { kernel: Size2(3, 3), stride: None, padding: Size2(2, 1) }],
                "layer 0 (maxpool2d): padding 2×1 is more than half the kernel 3×3",
            ),
            (vec![1, 6, 6], vec![inception(0)], "layer 0 (inception): 1x1 = 0 (input shape [1, 6, 6])"),
            (
                vec![1, 6, 6],
                vec![LayerSpec::Auxiliary {
                    weight: 0.3,
                    layers: vec![LayerSpec::Linear { out: 10, init: None }.into()],
                }],
                "layer 0 (auxiliary): head layer 0 (linear): needs a flat input",
            ),
            (
                vec![1, 6, 6],
                vec![
                    LayerSpec::Auxiliary {
                        weight: 0.3,
                        layers: vec![LayerSpec::Flatten {}.into(), LayerSpec::Linear { out: 9, init: None }.into()],
                    },
                    LayerSpec::Flatten {},
                    LayerSpec::Linear { out: 10, init: None },
                ],
                "layer 0 (auxiliary): the head ends in shape [9] but the model's output is [10]",
            ),
        ];
        for (input, layers, want) in cases {
            let err = spec_of(&input, layers).shapes().unwrap_err().to_string();
            assert!(err.contains(want), "{err}\n  does not contain\n{want}");
        }
        let mut named = spec_of(&[3], vec![LayerSpec::Linear { out: 0, init: None }]);
        named.layers[0].name = Some("F6".into());
        let err = named.shapes().unwrap_err().to_string();
        assert!(err.contains("layer 0 (linear 'F6')"), "{err}");
    }

    #[test]
    fn unknown_layers_and_fields_are_rejected() {
        let parse = |layer: &str| {
            serde_json::from_str::<ModelSpec>(&format!(
                r#"{{"name":"x","input":[4],"loss":"least-squares","layers":[{layer}]}}"#
            ))
        };
        assert!(parse(r#"{"type":"conv9"}"#).is_err());
        assert!(parse(r#"{"type":"relu","out":3}"#).is_err(), "a field on a layer without fields");
        assert!(parse(r#"{"type":"linear"}"#).is_err(), "a missing field");
        assert!(parse(r#"{"type":"linear","out":3,"bias":false}"#).is_err(), "an unknown field");
        assert!(parse(r#"{"type":"conv2d","out":3,"kernel":[3,2,1]}"#).is_err(), "a size of three numbers");
        let ok = parse(r#"{"type":"conv2d","out":3,"kernel":[3,2],"name":"C1"}"#).unwrap();
        assert_eq!(ok.layers[0].name.as_deref(), Some("C1"));
        assert!(matches!(ok.layers[0].spec, LayerSpec::Conv2d { kernel: Size2(3, 2), stride: Size2(1, 1), .. }));
    }

    #[test]
    fn dropout_layers_parse_check_and_build() {
        let spec: ModelSpec = serde_json::from_str(
            r#"{"name":"d","input":[4],"loss":"softmax-cross-entropy","layers":[{"type":"linear","out":3},
            {"type":"dropout","p":0.5,"rule":"weight-scaling"},{"type":"linear","out":2}]}"#,
        )
        .unwrap();
        assert_eq!(spec.layers[1].spec, LayerSpec::Dropout { p: 0.5, rule: DropoutRule::WeightScaling });
        assert_eq!(spec.build(&mut Rng::seed(0)).unwrap().len(), 3);
        let bad = spec_of(&[4], vec![LayerSpec::Dropout { p: 1.0, rule: DropoutRule::Inverted }]);
        assert!(bad.shapes().unwrap_err().to_string().contains("layer 0 (dropout): p = 1 must be in [0, 1)"));
    }

    #[test]
    fn input_map_is_a_normalisation() {
        let (mean, std) = InputMap { zero: -0.1, one: 1.175 }.mean_std();
        for (x, want) in [(0.0f32, -0.1f32), (1.0, 1.175), (0.5, 0.5375)] {
            assert!(((x - mean) / std - want).abs() < 1e-6);
        }
    }
}
