//! Gated recurrent units (Cho et al. 2014), in PyTorch's form so that weights can be exchanged
//! with `nn.GRU`: a reset gate r and an update gate z decide how much of the previous state
//! feeds the candidate n and how much of it is kept.
//!
//! With x_t·W + b_x = [x_r, x_z, x_n] and h_{t−1}·U + b_h = [h_r, h_z, h_n]:
//!   r = σ(x_r + h_r), z = σ(x_z + h_z), n = tanh(x_n + r⊙h_n),
//!   h_t = (1 − z)⊙n + z⊙h_{t−1},   h_0 = 0.
//! The whole recurrence is one op, [`Var::gru`], whose backward is backpropagation through time
//! written out step by step.
//!
//! # Shapes
//! - input x: m × T × F
//! - W: F × 3H, U: H × 3H, b_x and b_h: 3H (blocks in the order r, z, n)
//! - output: h_T, m × H; or, with `sequence`, every h_t, m × T × H

use super::kind::{LayerKind, saturating_product};
use super::stacked::{CellBuilder, Stacking, is_one, is_zero, one};
use super::{Carry, Init, Module};
use crate::autodiff::{Param, Var};
use crate::rng::Rng;
use crate::tensor::Tensor;
use serde::{Deserialize, Serialize};

/// A GRU layer.
///
/// ```
/// use nabla::nn::{Gru, Module};
/// use nabla::{Tensor, Var, rng::Rng};
/// let gru = Gru::new(28, 64, false, &mut Rng::seed(0));
/// let h = gru.forward(&Var::constant(Tensor::zeros(&[8, 28, 28]))); // 8 digits, row by row
/// assert_eq!(h.shape(), &[8, 64]);
/// ```
#[derive(Clone, Debug)]
pub struct Gru {
    /// W, F × 3H: input to the three blocks r, z, n.
    pub weight_ih: Param,
    /// U, H × 3H: previous state to the three blocks.
    pub weight_hh: Param,
    /// b_x, 3H: the input part's bias.
    pub bias_ih: Param,
    /// b_h, 3H: the recurrent part's bias (its n block is scaled by r).
    pub bias_hh: Param,
    /// Return every step's h (m × T × H) rather than the last (m × H).
    pub sequence: bool,
    /// The state carried between forward passes (truncated BPTT), off unless switched on.
    pub carry: Carry,
}

impl Gru {
    /// A layer from `inputs` features to `hidden` units, Xavier-initialised per gate block, zero
    /// biases.
    pub fn new(inputs: usize, hidden: usize, sequence: bool, rng: &mut Rng) -> Gru {
        let h = hidden;
        Gru {
            weight_ih: Param::new(Init::Xavier.draw(rng, &[inputs, 3 * h], inputs, h)),
            weight_hh: Param::new(Init::Xavier.draw(rng, &[h, 3 * h], h, h)),
            bias_ih: Param::new(Tensor::zeros(&[3 * h])),
            bias_hh: Param::new(Tensor::zeros(&[3 * h])),
            sequence,
            carry: Carry::default(),
        }
    }
}

/// The parameters' names, PyTorch's without the layer suffix `_l0`.
const NAMES: [&str; 4] = ["weight_ih", "weight_hh", "bias_ih", "bias_hh"];

impl Gru {
    /// The forward pass over every step, or over each row's `lengths` (see
    /// [`Module::forward_masked`]).
    fn run(&self, x: &Var, lengths: Option<&[usize]>) -> Var {
        let [w, u, b_x, b_h] = [&self.weight_ih, &self.weight_hh, &self.bias_ih, &self.bias_hh].map(Param::var);
        if !self.carry.is_on() {
            return match lengths {
                None => x.gru(&w, &u, &b_x, &b_h, self.sequence),
                Some(lengths) => x.gru_masked(&w, &u, &b_x, &b_h, self.sequence, lengths),
            };
        }
        let m = x.shape()[0];
        let h0 = self.carry.start(m).map_or_else(|| Tensor::zeros(&[m, u.shape()[0]]), |mut s| s.remove(0));
        let (out, h) = x.gru_from([&w, &u, &b_x, &b_h], self.sequence, lengths, &Var::constant(h0));
        self.carry.keep(vec![h]);
        out
    }
}

impl Module for Gru {
    fn forward(&self, x: &Var) -> Var {
        self.run(x, None)
    }

    fn forward_masked(&self, x: &Var, lengths: &[usize]) -> Var {
        self.run(x, Some(lengths))
    }

    fn carry_state(&mut self, on: bool) {
        self.carry.set(on);
    }

    fn params(&self) -> Vec<(String, &Param)> {
        NAMES
            .map(String::from)
            .into_iter()
            .zip([&self.weight_ih, &self.weight_hh, &self.bias_ih, &self.bias_hh])
            .collect()
    }

    fn params_mut(&mut self) -> Vec<(String, &mut Param)> {
        let params = [&mut self.weight_ih, &mut self.weight_hh, &mut self.bias_ih, &mut self.bias_hh];
        NAMES.map(String::from).into_iter().zip(params).collect()
    }
}

/// A GRU layer of `hidden` units over an input T × F, in a spec (`type = "gru"`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GruSpec {
    /// H, the number of units.
    pub hidden: usize,
    /// Output every step's h (T × H) instead of the last (H).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub sequence: bool,
    /// Layers stacked (PyTorch's `num_layers`), each reading every state of the one below.
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub layers: usize,
    /// Dropout between stacked layers in training, in [0, 1).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub dropout: f32,
    /// Each layer also reads the sequence backwards; the two directions' states are concatenated.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub bidirectional: bool,
}

impl GruSpec {
    /// A single layer of `hidden` units: the last state, or with `sequence` every step's.
    pub fn new(hidden: usize, sequence: bool) -> GruSpec {
        GruSpec { hidden, sequence, layers: 1, dropout: 0.0, bidirectional: false }
    }

    fn stacking(&self) -> Stacking {
        Stacking { layers: self.layers, dropout: self.dropout, bidirectional: self.bidirectional }
    }
}

impl LayerKind for GruSpec {
    fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>, String> {
        self.stacking().output_shape(input, self.hidden, self.sequence)
    }

    fn build(&self, input: &[usize], _default_init: Init, rng: &mut Rng) -> Box<dyn Module> {
        let cell: CellBuilder = |f, h, sequence, rng| Box::new(Gru::new(f, h, sequence, rng));
        self.stacking().build(cell, input, self.hidden, self.sequence, rng)
    }

    /// Its gates, h_n and its states at every one of the T steps.
    fn values(&self, input: &[usize], output: &[usize]) -> usize {
        let per_cell = saturating_product(&[input[0], self.hidden, 3 + 2]);
        self.stacking().values(per_cell, input, self.hidden).saturating_add(saturating_product(output))
    }

    /// Three blocks as the RNN counts them, and a second bias.
    fn counts(&self, input: &[usize], _output: &[usize]) -> (usize, usize) {
        self.stacking().counts(3, 2, self.hidden, input)
    }

    /// The GRU draws Xavier weights per gate block, whatever `--init` says.
    fn set_init(&mut self, _init: Init) {}

    fn gpu(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_step_equals_pytorchs_equations() {
        let mut rng = Rng::seed(3);
        let mut gru = Gru::new(2, 3, false, &mut rng);
        // non-zero biases, so that the r⊙(h·U_n + b_hn) placement matters from the first step
        gru.bias_hh = Param::new(rng.normal_tensor(&[9], 1.0));
        gru.bias_ih = Param::new(rng.normal_tensor(&[9], 1.0));
        let x = rng.normal_tensor(&[1, 1, 2], 1.0);
        let h = gru.forward(&Var::constant(x.clone()));
        let a = x.reshape(&[1, 2]).matmul(gru.weight_ih.value());
        let (a, b_x, b_h) = (a.data(), gru.bias_ih.value().data(), gru.bias_hh.value().data());
        let sigma = |v: f32| 1.0 / (1.0 + (-v).exp());
        for j in 0..3 {
            let r = sigma(a[j] + b_x[j] + b_h[j]);
            let z = sigma(a[3 + j] + b_x[3 + j] + b_h[3 + j]);
            let n = (a[6 + j] + b_x[6 + j] + r * b_h[6 + j]).tanh();
            let want = (1.0 - z) * n; // h_0 = 0
            assert!((h.value().data()[j] - want).abs() < 1e-6, "unit {j}: {} vs {want}", h.value().data()[j]);
        }
    }

    #[test]
    fn counts_hold_both_biases() {
        let spec = GruSpec::new(4, false);
        let built = spec.build(&[5, 3], Init::Xavier, &mut Rng::seed(0));
        let stored: usize = built.params().iter().map(|(_, p)| p.value().numel()).sum();
        assert_eq!(spec.counts(&[5, 3], &[4]).0, stored);
    }
}
