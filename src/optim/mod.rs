//! Optimizers. The driver ([`Optimizer`]) is shared: it walks the model's named parameters, finds
//! each gradient, keeps each parameter's state buffers, and hands one flat `&mut [f32]` at a time
//! to an [`UpdateRule`], which is all that an optimizer has to write.

mod sgd;

pub use sgd::Sgd;

use crate::autodiff::Gradients;
use crate::nn::Module;
use std::collections::BTreeMap;

/// The per-parameter update of one optimizer: w ← rule(w, ∂E/∂w, state, η).
pub trait UpdateRule: Send {
    /// A short name for logs.
    fn name(&self) -> String;

    /// How many state buffers, each the size of the parameter, the rule keeps per parameter.
    fn state_buffers(&self) -> usize;

    /// Updates `w` in place from its gradient `g`, its `state` buffers, the learning rate `eta`
    /// and the step number `t` (1 for the first step).
    fn update(&self, w: &mut [f32], g: &[f32], state: &mut [Vec<f32>], eta: f32, t: u64);
}

/// Applies an [`UpdateRule`] to every parameter of a model.
pub struct Optimizer {
    rule: Box<dyn UpdateRule>,
    eta: f32,
    t: u64,
    state: BTreeMap<String, Vec<Vec<f32>>>,
}

impl Optimizer {
    /// An optimizer with learning rate `eta`.
    pub fn new(rule: impl UpdateRule + 'static, eta: f32) -> Optimizer {
        Optimizer { rule: Box::new(rule), eta, t: 0, state: BTreeMap::new() }
    }

    /// The learning rate η.
    pub fn lr(&self) -> f32 {
        self.eta
    }

    /// Sets the learning rate η (for schedules).
    pub fn set_lr(&mut self, eta: f32) {
        self.eta = eta;
    }

    /// The rule's name.
    pub fn name(&self) -> String {
        self.rule.name()
    }

    /// One update of every parameter of `model` from `grads`.
    ///
    /// Panics, naming the parameter, if one of them received no gradient: a parameter that the
    /// forward pass did not use is a bug to hear about, not to skip silently.
    pub fn step(&mut self, model: &mut dyn Module, grads: &Gradients) {
        self.t += 1;
        let buffers = self.rule.state_buffers();
        for (name, param) in model.params_mut() {
            let g = grads
                .get_param(param)
                .unwrap_or_else(|| panic!("optimizer step: parameter '{name}' received no gradient"));
            let n = g.numel();
            let state = self.state.entry(name).or_insert_with(|| vec![vec![0.0; n]; buffers]);
            self.rule.update(param.value_mut().data_mut(), g.data(), state, self.eta, self.t);
        }
    }
}
