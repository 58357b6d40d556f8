//! The lecture's recurrent layer (Elman): the hidden state carries the past into every step,
//! h_t = tanh(x_t·W + h_{t−1}·U + b) with h_0 = 0. The whole recurrence is one op, [`Var::rnn`],
//! whose backward is backpropagation through time written out step by step; the tests check it
//! against the recurrence unrolled into the graph.
//!
//! # Shapes
//! - input x: m × T × F (T time steps of F features per sample)
//! - W: F × H, U: H × H, b: H
//! - output: the last state h_T, m × H; or, with `sequence`, every state, m × T × H (to stack
//!   another recurrent layer on top)

use super::kind::{LayerKind, saturating_product};
use super::{Carry, Init, Module};
use crate::autodiff::{Param, Var};
use crate::rng::Rng;
use crate::tensor::Tensor;
use serde::{Deserialize, Serialize};

/// A simple recurrent layer with tanh units.
///
/// ```
/// use nabla::nn::{Module, Rnn};
/// use nabla::{Tensor, Var, rng::Rng};
/// let rnn = Rnn::new(3, 5, false, &mut Rng::seed(0));
/// let h = rnn.forward(&Var::constant(Tensor::ones(&[2, 7, 3]))); // 2 sequences of 7 steps
/// assert_eq!(h.shape(), &[2, 5]);
/// ```
#[derive(Clone, Debug)]
pub struct Rnn {
    /// W, F × H: input to hidden.
    pub weight_ih: Param,
    /// U, H × H: hidden to hidden, from one step to the next.
    pub weight_hh: Param,
    /// b, H.
    pub bias: Param,
    /// Return every step's state (m × T × H) rather than the last (m × H).
    pub sequence: bool,
    /// The state carried between forward passes (truncated BPTT), off unless switched on.
    pub carry: Carry,
}

impl Rnn {
    /// A layer from `inputs` features to `hidden` units, Xavier-initialised (tanh units), zero bias.
    pub fn new(inputs: usize, hidden: usize, sequence: bool, rng: &mut Rng) -> Rnn {
        Rnn {
            weight_ih: Param::new(Init::Xavier.draw(rng, &[inputs, hidden], inputs, hidden)),
            weight_hh: Param::new(Init::Xavier.draw(rng, &[hidden, hidden], hidden, hidden)),
            bias: Param::new(Tensor::zeros(&[hidden])),
            sequence,
            carry: Carry::default(),
        }
    }
}

impl Rnn {
    /// The forward pass over every step, or over each row's `lengths` (see
    /// [`Module::forward_masked`]).
    fn run(&self, x: &Var, lengths: Option<&[usize]>) -> Var {
        let weights = [&self.weight_ih.var(), &self.weight_hh.var(), &self.bias.var()];
        if !self.carry.is_on() {
            return match lengths {
                None => x.rnn(weights[0], weights[1], weights[2], self.sequence),
                Some(lengths) => x.rnn_masked(weights[0], weights[1], weights[2], self.sequence, lengths),
            };
        }
        let m = x.shape()[0];
        let h0 = self.carry.start(m).map_or_else(|| Tensor::zeros(&[m, weights[1].shape()[0]]), |mut s| s.remove(0));
        let (out, h) = x.rnn_from(weights, self.sequence, lengths, &Var::constant(h0));
        self.carry.keep(vec![h]);
        out
    }
}

impl Module for Rnn {
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
        named([&self.weight_ih, &self.weight_hh, &self.bias])
    }

    fn params_mut(&mut self) -> Vec<(String, &mut Param)> {
        named([&mut self.weight_ih, &mut self.weight_hh, &mut self.bias])
    }
}

/// A recurrent layer's parameters (W, U, b, shared or mutable) with their names.
pub(super) fn named<P>(params: [P; 3]) -> Vec<(String, P)> {
    ["weight_ih", "weight_hh", "bias"].into_iter().map(String::from).zip(params).collect()
}

/// A simple recurrent layer of `hidden` tanh units over an input T × F, in a spec (`type = "rnn"`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RnnSpec {
    /// H, the number of units.
    pub hidden: usize,
    /// Output every step's state (T × H) instead of the last (H).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub sequence: bool,
}

impl LayerKind for RnnSpec {
    fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>, String> {
        recurrent_shape(input, self.hidden, self.sequence)
    }

    fn build(&self, input: &[usize], _default_init: Init, rng: &mut Rng) -> Box<dyn Module> {
        Box::new(Rnn::new(input[1], self.hidden, self.sequence, rng))
    }

    /// Its gates' pre-activations and its states at every one of the T steps.
    fn values(&self, input: &[usize], output: &[usize]) -> usize {
        saturating_product(&[input[0], self.hidden, 1 + 2]).saturating_add(saturating_product(output))
    }

    fn counts(&self, input: &[usize], _output: &[usize]) -> (usize, usize) {
        recurrent_counts(1, self.hidden, input)
    }

    /// Recurrent layers draw Xavier weights (tanh units), whatever `--init` says.
    fn set_init(&mut self, _init: Init) {}

    fn gpu(&self) -> bool {
        true
    }
}

/// The output shape of a recurrent layer of `hidden` units over a T × F input: H, or T × H with
/// `sequence`.
pub(super) fn recurrent_shape(input: &[usize], hidden: usize, sequence: bool) -> Result<Vec<usize>, String> {
    let &[t, _] = input else {
        return Err(format!("needs a sequence input T×F, got shape {input:?}"));
    };
    if hidden == 0 {
        return Err(format!("hidden = 0 (input shape {input:?})"));
    }
    Ok(if sequence { vec![t, hidden] } else { vec![hidden] })
}

/// (parameters, connections) of a recurrent layer with `blocks` blocks of `hidden` units (4 for
/// the LSTM's gates): one weight per input and per recurrent link into each unit, and a bias,
/// used once per time step.
pub(super) fn recurrent_counts(blocks: usize, hidden: usize, input: &[usize]) -> (usize, usize) {
    let params = blocks.saturating_mul(hidden).saturating_mul(input[1].saturating_add(hidden).saturating_add(1));
    (params, params.saturating_mul(input[0]))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The layer's forward equals the recurrence written out by hand for two steps.
    #[test]
    fn two_steps_equal_the_formula() {
        let mut rng = Rng::seed(4);
        let rnn = Rnn::new(2, 3, true, &mut rng);
        let x = rng.normal_tensor(&[1, 2, 2], 1.0);
        let out = rnn.forward(&Var::constant(x.clone()));
        let (w, u) = (rnn.weight_ih.value(), rnn.weight_hh.value());
        let x0 = x.slice(1, 0..1).reshape(&[1, 2]);
        let x1 = x.slice(1, 1..2).reshape(&[1, 2]);
        let h0: Vec<f32> = x0.matmul(w).data().iter().map(|v| v.tanh()).collect();
        let h0 = Tensor::from_vec(h0, &[1, 3]);
        let pre1 = x1.matmul(w).data().iter().zip(h0.matmul(u).data()).map(|(a, b)| (a + b).tanh()).collect::<Vec<_>>();
        let want: Vec<f32> = h0.data().iter().chain(&pre1).copied().collect();
        for (a, b) in out.value().data().iter().zip(&want) {
            assert!((a - b).abs() < 1e-6, "{a} vs {b}");
        }
        assert_eq!(out.shape(), &[1, 2, 3]);
    }
}
