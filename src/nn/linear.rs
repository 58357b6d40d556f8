//! The fully connected layer of the lecture: U = Y·W + 1·b.
//!
//! # Shapes
//! - input Y: m × n_{l−1} (one sample per row)
//! - weight W: n_{l−1} × n_l (w_ij connects unit i of layer l−1 to unit j of layer l)
//! - bias b: n_l
//! - output U: m × n_l
//! - on a sequence (after a recurrent layer with `sequence`): Y m × T × n_{l−1} → U m × T × n_l,
//!   the same W and b at every step (PyTorch's `nn.Linear` on the last axis)
//!
//! In a spec: `type = "linear"`, `out`, `init`; it is the layer that greedy pre-training trains.

use super::kind::{LayerKind, flat, units};
use super::{Init, Module};
use crate::autodiff::{Param, Var};
use crate::rng::Rng;
use crate::tensor::Tensor;
use serde::{Deserialize, Serialize};

/// A fully connected layer with `out` units in a spec; its inputs are the previous layer's outputs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinearSpec {
    /// Number of output units n_l.
    pub out: usize,
    /// Weight initialisation; by default He before a ReLU, LeCun last, Xavier otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub init: Option<Init>,
}

impl LayerKind for LinearSpec {
    /// `[F]` → `[out]`; a sequence `[T, F]` (a recurrent layer's every state) → `[T, out]`.
    fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>, String> {
        units("out", self.out, input)?;
        match *input {
            [t, _] => Ok(vec![t, self.out]),
            _ => flat(input).map(|_| vec![self.out]),
        }
    }

    fn build(&self, input: &[usize], default_init: Init, rng: &mut Rng) -> Box<dyn Module> {
        let features = *input.last().expect("a checked shape");
        Box::new(Linear::new(features, self.out, self.init.unwrap_or(default_init), rng))
    }

    /// out·(in + 1) parameters; on a sequence each weight is a connection at each of the T steps.
    fn counts(&self, input: &[usize], _output: &[usize]) -> (usize, usize) {
        let features = *input.last().expect("a checked shape");
        let n = self.out.saturating_mul(features.saturating_add(1));
        let steps = if input.len() == 2 { input[0] } else { 1 };
        (n, n.saturating_mul(steps))
    }

    fn set_init(&mut self, init: Init) {
        self.init = Some(init);
    }

    fn gpu(&self) -> bool {
        true
    }

    fn pretrain_units(&self) -> Option<usize> {
        Some(self.out)
    }
}

/// A fully connected layer.
///
/// ```
/// use nabla::nn::{Init, Linear, Module};
/// use nabla::{Tensor, Var, rng::Rng};
/// let layer = Linear::new(3, 2, Init::He, &mut Rng::seed(0));
/// let y = layer.forward(&Var::constant(Tensor::ones(&[4, 3])));
/// assert_eq!(y.shape(), &[4, 2]);
/// ```
#[derive(Clone, Debug)]
pub struct Linear {
    /// W, n_in × n_out.
    pub weight: Param,
    /// b, n_out.
    pub bias: Param,
}

impl Linear {
    /// A layer from `inputs` to `outputs` units with weights drawn by `init` and zero biases.
    pub fn new(inputs: usize, outputs: usize, init: Init, rng: &mut Rng) -> Linear {
        Linear {
            weight: Param::new(init.draw(rng, &[inputs, outputs], inputs, outputs)),
            bias: Param::new(Tensor::zeros(&[outputs])),
        }
    }
}

impl Module for Linear {
    /// m × n_in → m × n_out; m × T × n_in → m × T × n_out, as one affine map of the m·T rows.
    fn forward(&self, y: &Var) -> Var {
        match *y.shape() {
            [m, t, f] => {
                let u = y.reshape(&[m * t, f]).affine(&self.weight.var(), &self.bias.var());
                u.reshape(&[m, t, self.weight.value().shape()[1]])
            }
            _ => y.affine(&self.weight.var(), &self.bias.var()),
        }
    }

    fn params(&self) -> Vec<(String, &Param)> {
        vec![("weight".into(), &self.weight), ("bias".into(), &self.bias)]
    }

    fn params_mut(&mut self) -> Vec<(String, &mut Param)> {
        vec![("weight".into(), &mut self.weight), ("bias".into(), &mut self.bias)]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::loss::Loss;
    use crate::nn::Activation;
    use crate::nn::{LayerSpec, ModelSpec};

    /// On a sequence every step goes through the same W and b (reshape and affine, both
    /// gradient-checked in ops/, carry the gradients).
    #[test]
    fn on_a_sequence_each_step_is_the_flat_layer() {
        let layer = Linear::new(3, 2, Init::He, &mut Rng::seed(4));
        let x = Rng::seed(5).normal_tensor(&[2, 4, 3], 1.0);
        let u = layer.forward(&Var::constant(x.clone()));
        assert_eq!(u.shape(), &[2, 4, 2]);
        let flat = layer.forward(&Var::constant(x.reshape(&[8, 3])));
        assert_eq!(u.value().data(), flat.value().data());
        let spec = LinearSpec { out: 2, init: None };
        assert_eq!(spec.output_shape(&[4, 3]).unwrap(), vec![4, 2]);
        assert_eq!(spec.counts(&[4, 3], &[4, 2]), (8, 32));
        assert!(spec.output_shape(&[1, 4, 3]).unwrap_err().contains("flat input"));
    }

    #[test]
    fn with_init_sets_every_linear_layer_and_draws_smaller_weights() {
        let spec = ModelSpec::mlp(400, &[300], 10, Activation::Relu, Loss::SoftmaxCrossEntropy);
        let uniform = spec.clone().with_init(Init::Uniform);
        let inits: Vec<_> = uniform
            .layers
            .iter()
            .filter_map(|l| if let LayerSpec::Linear(linear) = &l.spec { Some(linear.init) } else { None })
            .collect();
        assert_eq!(inits, [Some(Init::Uniform), Some(Init::Uniform)]);
        let first_weight = |s: &ModelSpec| s.build(&mut Rng::seed(0)).unwrap().params()[0].1.value().clone();
        let var = |t: &Tensor| t.data().iter().map(|x| x * x).sum::<f32>() / t.numel() as f32;
        // He draws 2/400, uniform 1/(3·400): six times smaller
        let ratio = var(&first_weight(&spec)) / var(&first_weight(&uniform));
        assert!((ratio - 6.0).abs() < 0.3, "He / uniform variance ratio {ratio}");
    }
}
