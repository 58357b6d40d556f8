//! Optimizers. The driver ([`Optimizer`]) is shared: it walks the model's named parameters, finds
//! each gradient, keeps each parameter's state buffers, and hands one flat `&mut [f32]` at a time
//! to an [`UpdateRule`], which is all that an optimizer has to write.
//!
//! With g = ∂E/∂w for one parameter, η the learning rate and t the step number (1 for the first):
//!
//! | [`by_name`]       | rule               | update                                                         | default η |
//! |-------------------|--------------------|----------------------------------------------------------------|-----------|
//! | `sgd`             | [`Sgd`]            | w ← w − ηg, or with momentum Δw ← αΔw − ηg, w ← w + Δw         | 0.1       |
//! |                   | (`nesterov`)       | v ← αv − ηg, w ← w − ηg + αv (look-ahead form)                 |           |
//! | `adagrad`         | [`AdaGrad`]        | G ← G + g², w ← w − η/√(G + ε)·g                               | 0.01      |
//! | `adadelta-window` | [`AdaDeltaWindow`] | S = Σ of g² over the last `window` steps, w ← w − η/√(S + ε)·g | 0.01      |
//! | `adadelta`        | [`AdaDelta`]       | Zeiler: Δw = −√(E\[Δw²\] + ε)/√(E\[g²\] + ε)·g, w ← w + ηΔw    | 1.0       |
//! | `rmsprop`         | [`RmsProp`]        | v ← αv + (1 − α)g², w ← w − ηg/(√v + ε)                        | 0.001     |
//! | `adam`            | [`Adam`]           | bias-corrected moments m̂, v̂: w ← w − ηm̂/(√v̂ + ε)           | 0.001     |
//! | `adamw`           | [`AdamW`]          | w ← w − ηλw, then the Adam step                                | 0.001     |
//!
//! The names, updates and default η come from one table, [`OPTIMIZER_KINDS`], which a test holds
//! this one to.
//!
//! [`Optimizer::state_dict`] and [`Optimizer::load_state_dict`] capture and restore η, t and every
//! state buffer, and [`save_optimizer`] / [`load_optimizer`] keep them in a safetensors file, so a
//! resumed run continues bit for bit.

mod adadelta;
mod adagrad;
mod adam;
mod registry;
mod rmsprop;
pub mod schedule;
mod sgd;
mod state;

pub use adadelta::{AdaDelta, AdaDeltaWindow};
pub use adagrad::AdaGrad;
pub use adam::{Adam, AdamW};
pub use registry::{DEFAULT_MOMENTUM, OPTIMIZER_KINDS, OPTIMIZERS, OptimizerKind, by_name, default_lr};
pub use rmsprop::RmsProp;
pub use schedule::{Schedule, ScheduleState, schedule_by_name};
pub use sgd::Sgd;
pub use state::{OptimizerState, load_optimizer, save_optimizer};
pub(crate) use state::{restore_entries, state_entries};

use crate::autodiff::Gradients;
use crate::nn::Module;
use crate::tensor::team;
use std::collections::BTreeMap;

/// The per-parameter update of one optimizer: w ← rule(w, ∂E/∂w, state, η, t).
pub trait UpdateRule: Send + Sync {
    /// A short name for logs, with the hyper-parameters that differ between runs of the rule. It
    /// also identifies the rule in a saved [`OptimizerState`]: a state loads only into an optimizer
    /// whose rule has the same name.
    fn name(&self) -> String;

    /// How many state buffers, each the size of the parameter, the rule keeps per parameter.
    fn state_buffers(&self) -> usize;

    /// Updates `w` in place from its gradient `g`, its `state` buffers (zeros before the first
    /// step), the learning rate `eta` and the step number `t` (1 for the first step).
    fn update(&self, w: &mut [f32], g: &[f32], state: &mut [&mut [f32]], eta: f32, t: u64);

    /// The rule as plain data, for an engine that applies it elsewhere (the GPU's kernels, see
    /// `crate::gpu`); `None` for a rule that has no such form yet.
    fn params(&self) -> Option<RuleParams> {
        None
    }
}

/// An update rule's kind and hyper-parameters, for the GPU's update kernels.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum RuleParams {
    /// [`Sgd`]: momentum α (0: none), Nesterov's form or the lecture's.
    Sgd {
        /// α.
        momentum: f32,
        /// Nesterov momentum.
        nesterov: bool,
    },
    /// [`Adam`].
    Adam {
        /// β₁.
        beta1: f32,
        /// β₂.
        beta2: f32,
        /// ε.
        eps: f32,
    },
    /// [`AdaGrad`].
    AdaGrad {
        /// ε.
        eps: f32,
    },
    /// [`RmsProp`].
    RmsProp {
        /// α.
        alpha: f32,
        /// ε.
        eps: f32,
    },
    /// [`AdaDelta`] (Zeiler's).
    AdaDelta {
        /// ρ.
        rho: f32,
        /// ε.
        eps: f32,
    },
    /// [`AdaDeltaWindow`].
    AdaDeltaWindow {
        /// The steps summed.
        window: usize,
        /// ε.
        eps: f32,
    },
    /// [`AdamW`].
    AdamW {
        /// β₁.
        beta1: f32,
        /// β₂.
        beta2: f32,
        /// ε.
        eps: f32,
        /// λ.
        weight_decay: f32,
    },
}

impl RuleParams {
    /// How many state buffers the rule keeps per weight, as its [`UpdateRule::state_buffers`].
    pub fn state_buffers(self) -> usize {
        match self {
            RuleParams::Sgd { momentum, .. } => usize::from(momentum > 0.0),
            RuleParams::Adam { .. } | RuleParams::AdaDelta { .. } | RuleParams::AdamW { .. } => 2,
            RuleParams::AdaGrad { .. } | RuleParams::RmsProp { .. } => 1,
            RuleParams::AdaDeltaWindow { window, .. } => window + 1,
        }
    }
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

    /// The rule as plain data (see [`UpdateRule::params`]).
    pub fn rule_params(&self) -> Option<RuleParams> {
        self.rule.params()
    }

    /// How many steps have been taken: t of the last step, 0 before the first.
    pub fn steps(&self) -> u64 {
        self.t
    }

    /// One update of every parameter of `model` from `grads`: t ← t + 1, then for each parameter
    /// w ← rule(w, ∂E/∂w, state, η, t).
    ///
    /// Panics, naming the parameter, if one of them received no gradient: a parameter that the
    /// forward pass did not use is a bug to hear about, not to skip silently. Panics too if a
    /// loaded state does not fit the parameter's size.
    pub fn step(&mut self, model: &mut dyn Module, grads: &Gradients) {
        self.t += 1;
        let buffers = self.rule.state_buffers();
        for (name, param) in model.params_mut() {
            let g = grads
                .get_param(param)
                .unwrap_or_else(|| panic!("optimizer step: parameter '{name}' received no gradient"));
            let n = g.numel();
            let state: &mut [Vec<f32>] = if buffers == 0 {
                &mut [] // a stateless rule (plain SGD) keeps no entries
            } else {
                self.state.entry(name.clone()).or_insert_with(|| vec![vec![0.0; n]; buffers])
            };
            if let Some(b) = state.iter().find(|b| b.len() != n) {
                panic!("optimizer step: parameter '{name}' has {n} numbers but its optimizer state holds {}", b.len());
            }
            let mut buffers: Vec<&mut [f32]> = state.iter_mut().map(Vec::as_mut_slice).collect();
            update_in_chunks(&*self.rule, param.value_mut().data_mut(), g.data(), &mut buffers, self.eta, self.t);
        }
    }
}

/// Elements per parallel task of an update: large enough that a task costs more than its
/// scheduling, small enough that a 512×512 weight splits over the cores.
const UPDATE_CHUNK: usize = 1 << 15;

/// Applies `rule` to `w` in chunks on the thread team. Every rule is elementwise, so each chunk
/// of w, g and of every state buffer is updated on its own and the result does not depend on
/// the split; an update reads and writes several buffers per weight and is bound by memory
/// bandwidth, which two cores double.
fn update_in_chunks(rule: &dyn UpdateRule, w: &mut [f32], g: &[f32], state: &mut [&mut [f32]], eta: f32, t: u64) {
    if w.len() < 2 * UPDATE_CHUNK {
        rule.update(w, g, state, eta, t);
        return;
    }
    let mut chunks: Vec<Vec<&mut [f32]>> = (0..w.len().div_ceil(UPDATE_CHUNK)).map(|_| Vec::new()).collect();
    for buffer in state.iter_mut() {
        for (c, part) in chunks.iter_mut().zip(buffer.chunks_mut(UPDATE_CHUNK)) {
            c.push(part);
        }
    }
    let items = w.chunks_mut(UPDATE_CHUNK).zip(g.chunks(UPDATE_CHUNK)).zip(chunks).collect();
    team::for_each(items, |((w, g), mut s)| rule.update(w, g, &mut s, eta, t));
}

/// Small problems that the optimizers' tests share.
#[cfg(test)]
pub(crate) mod testing {
    use super::{Optimizer, UpdateRule};
    use crate::autodiff::{Param, Var};
    use crate::nn::Module;
    use crate::tensor::Tensor;

    /// The curvatures a of the two-parameter problem E = ½ Σ aᵢ wᵢ², so that ∂E/∂wᵢ = aᵢ wᵢ.
    pub const A: [f64; 2] = [1.0, 4.0];
    /// Its starting point.
    pub const W0: [f64; 2] = [1.0, -0.5];

    /// Runs `rule` with learning rate `eta` for three steps on E = ½ Σ aᵢ wᵢ² from [`W0`] and
    /// returns w after each step.
    pub fn three_steps(rule: &dyn UpdateRule, eta: f32) -> Vec<[f32; 2]> {
        let mut w = W0.map(|x| x as f32);
        let mut state = vec![vec![0.0; 2]; rule.state_buffers()];
        (1..=3)
            .map(|t| {
                let g = [A[0] as f32 * w[0], A[1] as f32 * w[1]];
                rule.update(&mut w, &g, &mut as_slices(&mut state), eta, t);
                w
            })
            .collect()
    }

    /// The state buffers as the slices that [`UpdateRule::update`] takes.
    pub fn as_slices(state: &mut [Vec<f32>]) -> Vec<&mut [f32]> {
        state.iter_mut().map(Vec::as_mut_slice).collect()
    }

    /// Asserts that each step's w is within 1e-6 of the hand-computed value.
    #[track_caller]
    pub fn assert_steps(got: &[[f32; 2]], expected: &[[f64; 2]]) {
        assert_eq!(got.len(), expected.len());
        for (t, (g, e)) in got.iter().zip(expected).enumerate() {
            for i in 0..2 {
                assert!((g[i] as f64 - e[i]).abs() < 1e-6, "step {}, w{i}: {} vs hand-computed {}", t + 1, g[i], e[i]);
            }
        }
    }

    /// E(w) = ½ Σ aᵢ wᵢ² over one parameter `w`; the forward pass ignores its input and returns E.
    #[derive(Clone, Debug)]
    pub struct Quadratic {
        pub w: Param,
        a: Tensor,
    }

    impl Quadratic {
        /// The 10-dimensional ill-conditioned bowl: aᵢ = 100^(i/9), so the condition number is
        /// 100, from w = (1, −1, 1, …).
        pub fn ill_conditioned() -> Quadratic {
            let a = (0..10).map(|i| 100f32.powf(i as f32 / 9.0)).collect();
            let w = (0..10).map(|i| if i % 2 == 0 { 1.0 } else { -1.0 }).collect();
            Quadratic { w: Param::new(Tensor::from_vec(w, &[10])), a: Tensor::from_vec(a, &[10]) }
        }

        /// E at the current w.
        pub fn loss(&self) -> f32 {
            self.forward(&Var::constant(Tensor::zeros(&[1]))).value().item()
        }

        /// One optimizer step from the gradient at the current w.
        pub fn step(&mut self, optimizer: &mut Optimizer) {
            let grads = self.forward(&Var::constant(Tensor::zeros(&[1]))).backward();
            optimizer.step(self, &grads);
        }
    }

    impl Module for Quadratic {
        fn forward(&self, _x: &Var) -> Var {
            self.w.var().square().mul(&Var::constant(self.a.clone())).sum().scale(0.5)
        }

        fn params(&self) -> Vec<(String, &Param)> {
            vec![("w".into(), &self.w)]
        }

        fn params_mut(&mut self) -> Vec<(String, &mut Param)> {
            vec![("w".into(), &mut self.w)]
        }
    }

    /// The data rows of the first markdown table in the `//!` docs of a module's `source`, each as
    /// its trimmed cells (for tests that hold a doc table to the code's).
    pub fn doc_table_rows(source: &str) -> Vec<Vec<String>> {
        let lines = source.lines().map_while(|l| l.strip_prefix("//!")).map(str::trim);
        let table = lines.skip_while(|l| !l.starts_with('|')).take_while(|l| l.starts_with('|'));
        let cells = |l: &str| l.trim_matches('|').split('|').map(|c| c.trim().to_string()).collect::<Vec<_>>();
        table.skip(2).map(cells).collect()
    }

    /// Runs `optimizer` for 200 steps on [`Quadratic::ill_conditioned`] and asserts that the loss
    /// fell at least a thousandfold.
    #[track_caller]
    pub fn assert_descends(mut optimizer: Optimizer) {
        let mut model = Quadratic::ill_conditioned();
        let start = model.loss();
        for _ in 0..200 {
            model.step(&mut optimizer);
        }
        let end = model.loss();
        assert!(end < start * 1e-3, "{}: loss {start} → {end} in 200 steps", optimizer.name());
    }
}

#[cfg(test)]
mod tests {
    use super::testing::Quadratic;
    use super::*;

    #[test]
    fn a_chunked_update_equals_one_over_the_whole_parameter() {
        let n = 5 * UPDATE_CHUNK + 123;
        let mut rng = crate::rng::Rng::seed(5);
        let w0 = rng.normal_tensor(&[n], 1.0).into_vec();
        let g = rng.normal_tensor(&[n], 1.0).into_vec();
        let rule = Adam::default();
        let (mut a, mut b) = (w0.clone(), w0);
        let (mut sa, mut sb) = (vec![vec![0.0; n]; 2], vec![vec![0.0; n]; 2]);
        for t in 1..=3 {
            rule.update(&mut a, &g, &mut testing::as_slices(&mut sa), 0.01, t);
            update_in_chunks(&rule, &mut b, &g, &mut testing::as_slices(&mut sb), 0.01, t);
        }
        assert!(a == b && sa == sb);
    }

    #[test]
    #[should_panic(expected = "parameter 'w' received no gradient")]
    fn a_missing_gradient_panics_naming_the_parameter() {
        let mut model = Quadratic::ill_conditioned();
        let mut optimizer = Optimizer::new(Sgd::default(), 0.1);
        optimizer.step(&mut model, &Gradients::default());
    }

    #[test]
    #[should_panic(expected = "parameter 'w' has 10 numbers but its optimizer state holds 3")]
    fn a_state_of_the_wrong_size_panics_in_step() {
        let mut optimizer = by_name("adam", 0.1, None, false).unwrap();
        let mut state = optimizer.state_dict();
        state.buffers.insert("w".into(), vec![vec![0.0; 3]; 2]);
        optimizer.load_state_dict(state).unwrap();
        Quadratic::ill_conditioned().step(&mut optimizer);
    }
}
