//! Activation functions as layers without parameters: Y = f(U), elementwise. The [`Activation`]
//! table below has one row per function: its name in spec files (`type = "relu"`, `"gelu"`, …,
//! without fields) and for `nabla train --activation`, its layer under PyTorch's name
//! ([`ReLU`], [`GELU`], [`Sigmoid`], [`Tanh`], [`Identity`], and LeNet-5's [`ScaledTanh`]), the
//! init it asks of the layer that feeds it, and its op (forward and backward in
//! `ops/activation.rs`). Every row is a layer kind of its own; this file holds what they share as
//! kinds: same shape out, no parameters.
//!
//! ```
//! use nabla::nn::{Activation, ActivationLayer, Module, ReLU};
//! use nabla::{Tensor, Var};
//! let u = Var::constant(Tensor::from_vec(vec![-1.0, 2.0], &[1, 2]));
//! assert_eq!(ReLU.forward(&u).value().data(), &[0.0, 2.0]);
//! // the same layer, chosen by value (from a flag or a spec)
//! assert_eq!(ActivationLayer(Activation::parse("relu").unwrap()).forward(&u).value().data(), &[0.0, 2.0]);
//! ```
//!
//! # Shapes
//! - input U: any; output Y: the same

use super::kind::LayerKind;
use super::{Init, Module};
use crate::autodiff::Var;
use crate::rng::Rng;
use serde::{Deserialize, Serialize};

/// Declares the activation table: each row is a variant, its name (in spec files and for
/// `--activation`), its layer's type (PyTorch's name), the init it asks of the layer that feeds it
/// and the op that applies it.
macro_rules! activations {
    ($($(#[$doc:meta])* $variant:ident = $name:literal, layer $layer:ident, init before: $init:ident, $apply:path;)*) => {
        /// The activation functions, by name (the table at the end of this file's macro call).
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum Activation {
            $($(#[$doc])* #[serde(rename = $name)] $variant,)*
        }

        impl Activation {
            /// Every activation, in the table's order.
            pub const ALL: &[Activation] = &[$(Activation::$variant),*];

            /// Its name in spec files (the layer's `type`) and for `--activation`.
            pub fn name(self) -> &'static str {
                match self {
                    $(Activation::$variant => $name,)*
                }
            }

            /// The init of the layer that feeds it, where that layer's spec gives none: He
            /// before ReLU-like functions (half their inputs are cut), LeCun before the identity
            /// (as for the last layer), Xavier before the sigmoid and tanh kinds.
            pub fn init_before(self) -> Init {
                match self {
                    $(Activation::$variant => Init::$init,)*
                }
            }

            /// Applies the activation to a value.
            pub fn apply(self, u: &Var) -> Var {
                match self {
                    $(Activation::$variant => $apply(u),)*
                }
            }
        }

        $(
            $(#[$doc])*
            ///
            /// The layer of one row of the [`Activation`] table, under PyTorch's name (as
            /// `torch.nn`'s): no parameters, output shape = input shape.
            #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
            // PyTorch's spelling (`nn.GELU`) is what its users look for
            #[allow(clippy::upper_case_acronyms)]
            pub struct $layer;

            impl Module for $layer {
                fn forward(&self, u: &Var) -> Var {
                    $apply(u)
                }
            }

            impl From<$layer> for Activation {
                fn from(_: $layer) -> Activation {
                    Activation::$variant
                }
            }
        )*
    };
}

activations! {
    /// f(u) = u.
    Identity = "identity", layer Identity, init before: LeCun, Var::identity;
    /// f(u) = 1 / (1 + e^(−u)).
    Sigmoid = "sigmoid", layer Sigmoid, init before: Xavier, Var::sigmoid;
    /// f(u) = tanh(u).
    Tanh = "tanh", layer Tanh, init before: Xavier, Var::tanh;
    /// f(u) = max(0, u).
    Relu = "relu", layer ReLU, init before: He, Var::relu;
    /// LeNet-5's f(u) = 1.7159·tanh(2u/3).
    ScaledTanh = "scaled-tanh", layer ScaledTanh, init before: Xavier, Var::scaled_tanh;
    /// f(u) = u·Φ(u), Φ the standard normal CDF (the exact form, PyTorch's default).
    Gelu = "gelu", layer GELU, init before: He, Var::gelu;
}

impl Activation {
    /// Parses a name from the table (`linear` is also the identity).
    pub fn parse(name: &str) -> crate::Result<Activation> {
        if name == "linear" {
            return Ok(Activation::Identity);
        }
        Activation::ALL.iter().copied().find(|a| a.name() == name).ok_or_else(|| {
            let names: Vec<&str> = Activation::ALL.iter().map(|a| a.name()).collect();
            let (last, rest) = names.split_last().expect("the table has rows");
            crate::Error::config(format!("unknown activation '{name}': expected {} or {last}", rest.join(", ")))
        })
    }
}

/// Applies an [`Activation`] chosen by value (from a flag or a spec) elementwise; the table's
/// layers by name ([`ReLU`], …) are the same functions as types.
#[derive(Clone, Copy, Debug)]
pub struct ActivationLayer(pub Activation);

impl Module for ActivationLayer {
    fn forward(&self, u: &Var) -> Var {
        self.0.apply(u)
    }
}

/// The (empty) fields of an activation layer in a spec: `{ type = "relu" }` and nothing else.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoFields {}

impl LayerKind for Activation {
    fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>, String> {
        Ok(input.to_vec())
    }

    fn build(&self, _input: &[usize], _default_init: Init, _rng: &mut Rng) -> Box<dyn Module> {
        Box::new(ActivationLayer(*self))
    }

    fn counts(&self, _input: &[usize], _output: &[usize]) -> (usize, usize) {
        (0, 0)
    }

    fn set_init(&mut self, _init: Init) {}

    /// Every activation (GELU's kernels carry nabla's rational erf, `gpu/shaders/gelu.wgsl`).
    fn gpu(&self) -> bool {
        true
    }

    fn init_before(&self) -> Option<Init> {
        Some(Activation::init_before(*self))
    }

    fn activation(&self) -> Option<Activation> {
        Some(*self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tensor::Tensor;

    #[test]
    fn every_activation_applies_its_op_and_parses_by_its_name() {
        let u = Var::constant(Tensor::from_vec(vec![-2.0, -0.5, 0.0, 0.7, 3.0], &[5]));
        for &a in Activation::ALL {
            assert_eq!(Activation::parse(a.name()).unwrap(), a);
            assert_eq!(serde_json::to_string(&a).unwrap(), format!("\"{}\"", a.name()));
            assert_eq!(a.apply(&u).shape(), u.shape());
        }
        assert_eq!(Activation::parse("linear").unwrap(), Activation::Identity);
        let err = Activation::parse("swish").unwrap_err().to_string();
        assert!(
            err.contains("unknown activation 'swish': expected identity, sigmoid, tanh, relu, scaled-tanh or gelu"),
            "{err}"
        );
        assert_eq!(Activation::Gelu.init_before(), Init::He);
        assert_eq!(Activation::Relu.init_before(), Init::He);
    }
}
