//! An auxiliary classifier (GoogLeNet's side heads, Szegedy et al. 2015, section 5): a small
//! classifier on an intermediate layer whose loss, times a weight (0.3 in the paper), is added to
//! the main loss during training, so that the lower layers get a strong gradient directly. At
//! inference the heads are dropped: the layer passes its input on unchanged and its head is not
//! even evaluated.
//!
//! # Shapes
//! - input x: any; output: x itself
//! - side output (training only): the head's output, shaped like the model's output

use super::{Module, Sequential};
use crate::autodiff::{Param, Var};

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
