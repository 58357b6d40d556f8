//! The fully connected layer of the lecture: U = Y·W + 1·b.
//!
//! # Shapes
//! - input Y: m × n_{l−1} (one sample per row)
//! - weight W: n_{l−1} × n_l (w_ij connects unit i of layer l−1 to unit j of layer l)
//! - bias b: n_l
//! - output U: m × n_l

use super::{Init, Module};
use crate::autodiff::{Param, Var};
use crate::rng::Rng;
use crate::tensor::Tensor;

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
    fn forward(&self, y: &Var) -> Var {
        y.affine(&self.weight.var(), &self.bias.var())
    }

    fn params(&self) -> Vec<(String, &Param)> {
        vec![("weight".into(), &self.weight), ("bias".into(), &self.bias)]
    }

    fn params_mut(&mut self) -> Vec<(String, &mut Param)> {
        vec![("weight".into(), &mut self.weight), ("bias".into(), &mut self.bias)]
    }
}
