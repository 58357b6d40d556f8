//! An auxiliary classifier (GoogLeNet's side heads, Szegedy et al. 2015, section 5): a small
//! classifier on an intermediate layer whose loss, times a weight (0.3 in the paper), is added to
//! the main loss during training, so that the lower layers get a strong gradient directly. At
//! inference the heads are dropped: the layer passes its input on unchanged and its head is not
//! even evaluated.
//!
//! # Shapes
//! - input x: any; output: x itself
//! - side output (training only): the head's output, shaped like the model's output

use super::kind::LayerKind;
use super::spec::{build_layers, shapes_through};
use super::{Init, Layer};
use super::{Module, Sequential};
use crate::autodiff::{Param, Var};
use crate::rng::Rng;
use serde::{Deserialize, Serialize};

/// A classifier head beside the main path; see the module docs.
pub struct Auxiliary {
    /// The factor of the head's loss in the training loss.
    pub weight: f32,
    /// The head's layers.
    pub head: Sequential,
    training: bool,
}

impl Auxiliary {
    /// A head whose loss counts `weight` times; the layer starts in training mode.
    pub fn new(weight: f32, head: Sequential) -> Auxiliary {
        Auxiliary { weight, head, training: true }
    }
}

impl Module for Auxiliary {
    fn forward(&self, x: &Var) -> Var {
        x.clone()
    }

    fn forward_train(&self, x: &Var, side: &mut Vec<(f32, Var)>) -> Var {
        if self.training {
            side.push((self.weight, self.head.forward(x)));
        }
        x.clone()
    }

    fn params(&self) -> Vec<(String, &Param)> {
        self.head.params()
    }

    fn params_mut(&mut self) -> Vec<(String, &mut Param)> {
        self.head.params_mut()
    }

    fn set_training(&mut self, training: bool) {
        self.training = training;
        self.head.set_training(training);
    }

    fn reseed(&mut self, rng: &mut crate::rng::Rng) {
        self.head.reseed(rng);
    }

    fn num_parameters(&self) -> usize {
        self.head.num_parameters()
    }
}

/// An auxiliary classifier in a spec (`type = "auxiliary"`): `layers` form a head on this point of
/// the network whose loss, times `weight`, is added in training; the main path goes on
/// unchanged. The head must end in the model's output shape ([`super::ModelSpec::shapes`] checks
/// it, as only the whole model knows that shape).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuxiliarySpec {
    /// The factor of the head's loss (GoogLeNet: 0.3).
    pub weight: f32,
    /// The head, first layer to last.
    pub layers: Vec<Layer>,
}

impl LayerKind for AuxiliarySpec {
    fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>, String> {
        let (weight, layers) = (self.weight, &self.layers);
        if !weight.is_finite() || weight < 0.0 {
            return Err(format!("weight {weight} must be a finite number ≥ 0"));
        }
        if layers.is_empty() {
            return Err("the head has no layers".into());
        }
        shapes_through(layers, input)
            .map_err(|(j, msg)| format!("head layer {j} ({}): {msg}", layers[j].describe()))?;
        Ok(input.to_vec())
    }

    fn build(&self, input: &[usize], _default_init: Init, rng: &mut Rng) -> Box<dyn Module> {
        let shapes = shapes_through(&self.layers, input).expect("checked by ModelSpec::shapes");
        Box::new(Auxiliary::new(self.weight, build_layers(&self.layers, input, &shapes, rng)))
    }

    /// The sums over its head's layers (used in training only).
    fn counts(&self, input: &[usize], _output: &[usize]) -> (usize, usize) {
        let shapes = shapes_through(&self.layers, input).expect("checked by ModelSpec::shapes");
        let mut totals = (0usize, 0usize);
        let mut at = input;
        for (layer, shape) in self.layers.iter().zip(&shapes) {
            let (p, c) = layer.spec.as_kind().counts(at, shape);
            totals = (totals.0.saturating_add(p), totals.1.saturating_add(c));
            at = shape;
        }
        totals
    }

    /// The sum over its head's layers.
    fn stored(&self, input: &[usize], _output: &[usize]) -> usize {
        let shapes = shapes_through(&self.layers, input).expect("checked by ModelSpec::shapes");
        let mut at = input;
        let mut total = 0usize;
        for (layer, shape) in self.layers.iter().zip(&shapes) {
            total = total.saturating_add(layer.spec.as_kind().stored(at, shape));
            at = shape;
        }
        total
    }

    /// The sum over its head's layers (computed in training only).
    fn values(&self, input: &[usize], _output: &[usize]) -> usize {
        let shapes = shapes_through(&self.layers, input).expect("checked by ModelSpec::shapes");
        let mut at = input;
        let mut total = 0usize;
        for (layer, shape) in self.layers.iter().zip(&shapes) {
            total = total.saturating_add(layer.spec.as_kind().values(at, shape));
            at = shape;
        }
        total
    }

    /// Sets the init of the head's layers.
    fn set_init(&mut self, init: Init) {
        for layer in &mut self.layers {
            layer.spec.set_init(init);
        }
    }

    fn gpu(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::{Flatten, Init, Linear};
    use crate::rng::Rng;
    use crate::tensor::Tensor;

    #[test]
    fn the_head_runs_only_in_training_and_the_input_passes_unchanged() {
        let mut head = Sequential::new();
        head.push(Flatten);
        head.push(Linear::new(6, 4, Init::Xavier, &mut Rng::seed(0)));
        let mut aux = Auxiliary::new(0.3, head);
        let x = Var::constant(Tensor::ones(&[2, 1, 2, 3]));
        let mut side = Vec::new();
        let y = aux.forward_train(&x, &mut side);
        assert_eq!(y.value().data(), x.value().data());
        assert_eq!(side.len(), 1);
        assert_eq!((side[0].0, side[0].1.shape()), (0.3, &[2, 4][..]));
        // the head's loss reaches its weights
        let grads = side[0].1.square().sum().backward();
        assert!(aux.params().iter().all(|(_, p)| grads.get_param(p).is_some()));
        aux.set_training(false);
        side.clear();
        aux.forward_train(&x, &mut side);
        assert!(side.is_empty());
        assert_eq!(aux.num_parameters(), 6 * 4 + 4);
    }
}
