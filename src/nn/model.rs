//! A model: a spec and the network built from it. This is what training, evaluation, prediction
//! and checkpoints work with.

use super::{ModelSpec, Module, Sequential, SizeLimits};
use crate::Result;
use crate::autodiff::{Param, Var, no_grad};
use crate::rng::Rng;
use crate::tensor::Tensor;

/// A network together with the spec it was built from.
pub struct Model {
    spec: ModelSpec,
    net: Sequential,
}

impl Model {
    /// Builds the network of `spec` with weights drawn from `rng`.
    /// Refused if the model is larger than the default [`SizeLimits`].
    pub fn new(spec: ModelSpec, rng: &mut Rng) -> Result<Model> {
        Model::with_limits(spec, rng, &SizeLimits::default())
    }

    /// Builds the network of `spec` with weights drawn from `rng`, refused (before anything is
    /// allocated) if it is larger than `limits`.
    pub fn with_limits(spec: ModelSpec, rng: &mut Rng, limits: &SizeLimits) -> Result<Model> {
        let net = spec.build_limited(rng, limits)?;
        Ok(Model { spec, net })
    }

    /// The spec the model was built from.
    pub fn spec(&self) -> &ModelSpec {
        &self.spec
    }

    /// The network.
    pub fn net(&self) -> &Sequential {
        &self.net
    }

    /// The raw outputs (logits for the cross-entropy losses) for a batch of samples: N rows of
    /// flattened samples (N × 784) are first reshaped to N × the spec's input shape (N × 1 × 28 × 28).
    pub fn forward(&self, x: &Var) -> Var {
        self.net.forward(&self.shaped(x))
    }

    /// The forward pass of a training step: the outputs, and the (loss weight, output) pairs of
    /// the auxiliary classifiers (none unless the spec has `auxiliary` layers and the model is in
    /// training mode).
    pub fn forward_train(&self, x: &Var) -> (Var, Vec<(f32, Var)>) {
        let mut side = Vec::new();
        let u = self.net.forward_train(&self.shaped(x), &mut side);
        (u, side)
    }

    /// `x` reshaped from flat rows to N × the spec's input shape.
    fn shaped(&self, x: &Var) -> Var {
        let input = &self.spec.input;
        if x.shape().len() == 2 && input.len() > 1 {
            let mut shape = vec![x.shape()[0]];
            shape.extend_from_slice(input);
            x.reshape(&shape)
        } else {
            x.clone()
        }
    }

    /// The model's answer (probabilities for classification) for a batch, without a graph, in
    /// evaluation mode (dropout off; the model stays in evaluation mode).
    pub fn predict(&mut self, x: &Tensor) -> Tensor {
        self.set_training(false);
        let u = no_grad(|| self.forward(&Var::constant(x.clone())));
        self.spec.loss.predict(u.value())
    }
}

impl Module for Model {
    fn forward(&self, x: &Var) -> Var {
        Model::forward(self, x)
    }

    fn forward_train(&self, x: &Var, side: &mut Vec<(f32, Var)>) -> Var {
        self.net.forward_train(&self.shaped(x), side)
    }

    fn forward_masked(&self, x: &Var, lengths: &[usize]) -> Var {
        self.net.forward_masked(&self.shaped(x), lengths)
    }

    fn params(&self) -> Vec<(String, &Param)> {
        self.net.params()
    }

    fn params_mut(&mut self) -> Vec<(String, &mut Param)> {
        self.net.params_mut()
    }

    fn set_training(&mut self, training: bool) {
        self.net.set_training(training);
    }

    fn reseed(&mut self, rng: &mut Rng) {
        self.net.reseed(rng);
    }

    fn carry_state(&mut self, on: bool) {
        self.net.carry_state(on);
    }

    fn num_parameters(&self) -> usize {
        self.net.num_parameters()
    }
}
