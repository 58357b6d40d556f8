//! Model specs: a network described layer by layer as plain serde data, so that a model can be
//! written in a file, checked before it is built, and stored inside its checkpoint.
//!
//! In JSON (the same fields in TOML):
//! `{"name": "mlp", "input": [784], "loss": "softmax-cross-entropy",
//!   "layers": [{"type": "linear", "out": 512}, {"type": "relu"}, {"type": "linear", "out": 10}]}`

use super::{ActivationLayer, Init, Linear, Sequential};
use crate::loss::Loss;
use crate::ops::Activation;
use crate::rng::Rng;
use crate::{Error, Result};
use serde::{Deserialize, Serialize};

/// One layer of a spec.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase", deny_unknown_fields)]
pub enum LayerSpec {
    /// A fully connected layer with `out` units; its inputs are the previous layer's outputs.
    Linear {
        /// Number of output units n_l.
        out: usize,
        /// Weight initialisation; by default He before a ReLU and Xavier otherwise.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        init: Option<Init>,
    },
    /// max(0, u).
    Relu,
    /// The logistic sigmoid.
    Sigmoid,
    /// tanh.
    Tanh,
    /// f(u) = u.
    Identity,
}

impl LayerSpec {
    fn activation(&self) -> Option<Activation> {
        match self {
            LayerSpec::Relu => Some(Activation::Relu),
            LayerSpec::Sigmoid => Some(Activation::Sigmoid),
            LayerSpec::Tanh => Some(Activation::Tanh),
            LayerSpec::Identity => Some(Activation::Identity),
            LayerSpec::Linear { .. } => None,
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            LayerSpec::Linear { .. } => "linear",
            LayerSpec::Relu => "relu",
            LayerSpec::Sigmoid => "sigmoid",
            LayerSpec::Tanh => "tanh",
            LayerSpec::Identity => "identity",
        }
    }
}

/// A whole network: its input shape (one sample), its layers and the loss it is trained with.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelSpec {
    /// A short name (shown in logs and JSON output).
    pub name: String,
    /// The shape of one sample, e.g. `[784]`.
    pub input: Vec<usize>,
    /// The layers, first to last.
    pub layers: Vec<LayerSpec>,
    /// The loss, which also decides how outputs become predictions.
    pub loss: Loss,
}

impl ModelSpec {
    /// A multi-layer perceptron: `inputs` → hidden layers with `activation` → `outputs` (raw
    /// outputs; the loss applies softmax or sigmoid).
    pub fn mlp(inputs: usize, hidden: &[usize], outputs: usize, activation: Activation, loss: Loss) -> ModelSpec {
        let act = match activation {
            Activation::Relu => LayerSpec::Relu,
            Activation::Sigmoid => LayerSpec::Sigmoid,
            Activation::Tanh => LayerSpec::Tanh,
            Activation::Identity => LayerSpec::Identity,
        };
        let mut layers = Vec::new();
        for &h in hidden {
            layers.push(LayerSpec::Linear { out: h, init: None });
            layers.push(act.clone());
        }
        layers.push(LayerSpec::Linear { out: outputs, init: None });
        ModelSpec { name: "mlp".into(), input: vec![inputs], layers, loss }
    }

    /// The number of input values per sample.
    pub fn input_size(&self) -> usize {
        self.input.iter().product()
    }

    /// The output shape of every layer for one sample, checking that each layer fits the last.
    pub fn shapes(&self) -> Result<Vec<Vec<usize>>> {
        if self.input.is_empty() || self.input.contains(&0) {
            return Err(Error::config(format!("model '{}': input shape {:?} is empty", self.name, self.input)));
        }
        let mut shape = self.input.clone();
        let mut out = Vec::with_capacity(self.layers.len());
        for (i, layer) in self.layers.iter().enumerate() {
            if let LayerSpec::Linear { out: n, .. } = layer {
                if *n == 0 {
                    return Err(Error::config(format!("model '{}': layer {i} (linear) has out = 0", self.name)));
                }
                if shape.len() != 1 {
                    return Err(Error::config(format!(
                        "model '{}': layer {i} (linear) needs a flat input, got shape {shape:?}",
                        self.name
                    )));
                }
                shape = vec![*n];
            }
            out.push(shape.clone());
        }
        Ok(out)
    }

    /// The number of outputs per sample.
    pub fn output_size(&self) -> Result<usize> {
        Ok(self.shapes()?.last().map_or(self.input_size(), |s| s.iter().product()))
    }

    /// Builds the network with weights drawn from `rng`.
    pub fn build(&self, rng: &mut Rng) -> Result<Sequential> {
        let shapes = self.shapes()?;
        let mut net = Sequential::new();
        let mut inputs = self.input_size();
        for (i, layer) in self.layers.iter().enumerate() {
            match layer {
                LayerSpec::Linear { out, init } => {
                    let next = self.layers.get(i + 1);
                    let default = if next == Some(&LayerSpec::Relu) { Init::He } else { Init::Xavier };
                    net.push(Linear::new(inputs, *out, init.unwrap_or(default), rng));
                }
                other => {
                    let act = other.activation().ok_or_else(|| Error::config(format!("layer {i}: {}", other.kind())))?;
                    net.push(ActivationLayer(act));
                }
            }
            inputs = shapes[i].iter().product();
        }
        Ok(net)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mlp_spec_round_trips_through_json_and_builds() {
        let spec = ModelSpec::mlp(784, &[512, 512], 10, Activation::Relu, Loss::SoftmaxCrossEntropy);
        let json = serde_json::to_string(&spec).unwrap();
        assert!(json.contains(r#"{"type":"linear","out":512}"#), "{json}");
        let back: ModelSpec = serde_json::from_str(&json).unwrap();
        assert_eq!(back, spec);
        let net = spec.build(&mut Rng::seed(0)).unwrap();
        use crate::nn::Module;
        assert_eq!(net.num_parameters(), 784 * 512 + 512 + 512 * 512 + 512 + 512 * 10 + 10);
        let names: Vec<String> = net.params().into_iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["0.weight", "0.bias", "2.weight", "2.bias", "4.weight", "4.bias"]);
    }

    #[test]
    fn a_wrong_spec_is_an_error_naming_the_layer() {
        let bad = r#"{"name":"x","input":[4],"loss":"least-squares","layers":[{"type":"linear","out":0}]}"#;
        let spec: ModelSpec = serde_json::from_str(bad).unwrap();
        let err = spec.shapes().unwrap_err().to_string();
        assert!(err.contains("layer 0 (linear)"), "{err}");
        let unknown = r#"{"name":"x","input":[4],"loss":"least-squares","layers":[{"type":"conv9"}]}"#;
        assert!(serde_json::from_str::<ModelSpec>(unknown).is_err());
    }
}
