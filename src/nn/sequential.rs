//! A chain of modules, each fed the previous one's output. Parameters are named
//! `<index>.<name>` as in PyTorch's `nn.Sequential` (`0.weight`, `2.bias`).

use super::Module;
use crate::autodiff::{Param, Var};

/// Modules applied one after another.
#[derive(Default)]
pub struct Sequential {
    layers: Vec<Box<dyn Module>>,
}

impl Sequential {
    /// An empty chain.
    pub fn new() -> Sequential {
        Sequential::default()
    }

    /// Appends a module.
    pub fn push(&mut self, layer: impl Module + 'static) {
        self.layers.push(Box::new(layer));
    }

    /// Appends a boxed module.
    pub fn push_boxed(&mut self, layer: Box<dyn Module>) {
        self.layers.push(layer);
    }

    /// The modules in order.
    pub fn layers(&self) -> &[Box<dyn Module>] {
        &self.layers
    }

    /// How many modules the chain has.
    pub fn len(&self) -> usize {
        self.layers.len()
    }

    /// Whether the chain has no module.
    pub fn is_empty(&self) -> bool {
        self.layers.is_empty()
    }
}

impl Module for Sequential {
    fn forward(&self, x: &Var) -> Var {
        self.layers.iter().fold(x.clone(), |y, layer| layer.forward(&y))
    }

    fn forward_masked(&self, x: &Var, lengths: &[usize]) -> Var {
        self.layers.iter().fold(x.clone(), |y, layer| layer.forward_masked(&y, lengths))
    }

    fn forward_train(&self, x: &Var, side: &mut Vec<(f32, Var)>) -> Var {
        self.layers.iter().fold(x.clone(), |y, layer| layer.forward_train(&y, side))
    }

    fn params(&self) -> Vec<(String, &Param)> {
        let mut out = Vec::new();
        for (i, layer) in self.layers.iter().enumerate() {
            out.extend(layer.params().into_iter().map(|(name, p)| (format!("{i}.{name}"), p)));
        }
        out
    }

    fn params_mut(&mut self) -> Vec<(String, &mut Param)> {
        let mut out = Vec::new();
        for (i, layer) in self.layers.iter_mut().enumerate() {
            out.extend(layer.params_mut().into_iter().map(|(name, p)| (format!("{i}.{name}"), p)));
        }
        out
    }

    fn set_training(&mut self, training: bool) {
        self.layers.iter_mut().for_each(|l| l.set_training(training));
    }

    fn carry_state(&mut self, on: bool) {
        self.layers.iter_mut().for_each(|l| l.carry_state(on));
    }

    fn reseed(&mut self, rng: &mut crate::rng::Rng) {
        self.layers.iter_mut().for_each(|l| l.reseed(rng));
    }

    /// The layers' counts, so that a layer with fixed zero weights (a partial connection table)
    /// counts only its free ones.
    fn num_parameters(&self) -> usize {
        self.layers.iter().map(|l| l.num_parameters()).sum()
    }
}
