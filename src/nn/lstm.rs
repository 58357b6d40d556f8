//! Long short-term memory (Hochreiter & Schmidhuber 1997, with the forget gate of Gers et al.
//! 2000): a cell state c that the gates write, keep and read, so that the gradient through time
//! flows through c_t = f⊙c_{t−1} + … without being squashed at every step.
//!
//! With a_t = x_t·W + h_{t−1}·U + b split into four blocks of H columns (i, f, g, o):
//!   i = σ(a_i), f = σ(a_f), g = tanh(a_g), o = σ(a_o)  (input, forget, candidate, output)
//!   c_t = f⊙c_{t−1} + i⊙g,   h_t = o⊙tanh(c_t),   h_0 = c_0 = 0.
//! The whole recurrence is one op, [`Var::lstm`], whose backward is backpropagation through time
//! written out step by step.
//!
//! # Shapes
//! - input x: m × T × F
//! - W: F × 4H, U: H × 4H, b: 4H (blocks in the order i, f, g, o)
//! - output: h_T, m × H; or, with `sequence`, every h_t, m × T × H

use super::kind::{LayerKind, saturating_product};
use super::rnn::named;
use super::stacked::{CellBuilder, Stacking, is_one, is_zero, one};
use super::{Carry, Init, Module};
use crate::autodiff::{Param, Var};
use crate::ops::{sigmoid, tanh_rational};
use crate::rng::Rng;
use crate::tensor::Tensor;
use serde::{Deserialize, Serialize};

/// An LSTM layer.
///
/// ```
/// use nabla::nn::{Lstm, Module};
/// use nabla::{Tensor, Var, rng::Rng};
/// let lstm = Lstm::new(28, 64, false, &mut Rng::seed(0));
/// let h = lstm.forward(&Var::constant(Tensor::zeros(&[8, 28, 28]))); // 8 digits, row by row
/// assert_eq!(h.shape(), &[8, 64]);
/// ```
#[derive(Clone, Debug)]
pub struct Lstm {
    /// W, F × 4H: input to the four gate blocks.
    pub weight_ih: Param,
    /// U, H × 4H: previous state to the four gate blocks.
    pub weight_hh: Param,
    /// b, 4H.
    pub bias: Param,
    /// Return every step's h (m × T × H) rather than the last (m × H).
    pub sequence: bool,
    /// The state carried between forward passes (truncated BPTT), off unless switched on.
    pub carry: Carry,
}

impl Lstm {
    /// A layer from `inputs` features to `hidden` cells, Xavier-initialised per gate block. The
    /// forget gate's bias starts at 1, so that the cell keeps its content until it learns
    /// otherwise (Gers et al. 2000; Jozefowicz et al. 2015); the other biases start at 0.
    pub fn new(inputs: usize, hidden: usize, sequence: bool, rng: &mut Rng) -> Lstm {
        let h = hidden;
        let mut bias = vec![0.0; 4 * h];
        bias[h..2 * h].fill(1.0);
        Lstm {
            weight_ih: Param::new(Init::Xavier.draw(rng, &[inputs, 4 * h], inputs, h)),
            weight_hh: Param::new(Init::Xavier.draw(rng, &[h, 4 * h], h, h)),
            bias: Param::new(Tensor::from_vec(bias, &[4 * h])),
            sequence,
            carry: Carry::default(),
        }
    }
}

impl Lstm {
    /// The forward pass over every step, or over each row's `lengths` (see
    /// [`Module::forward_masked`]).
    fn run(&self, x: &Var, lengths: Option<&[usize]>) -> Var {
        let weights = [&self.weight_ih.var(), &self.weight_hh.var(), &self.bias.var()];
        if !self.carry.is_on() {
            return match lengths {
                None => x.lstm(weights[0], weights[1], weights[2], self.sequence),
                Some(lengths) => x.lstm_masked(weights[0], weights[1], weights[2], self.sequence, lengths),
            };
        }
        let m = x.shape()[0];
        let [h0, c0] = match self.carry.start(m).as_deref() {
            Some([h, c]) => [h.clone(), c.clone()],
            _ => [self.zero_state(m).h, self.zero_state(m).c],
        };
        let (out, [h, c]) = x.lstm_from(weights, self.sequence, lengths, (&Var::constant(h0), &Var::constant(c0)));
        self.carry.keep(vec![h, c]);
        out
    }
}

impl Module for Lstm {
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

/// The state an LSTM carries from one step to the next: h_t and c_t, m × H each.
#[derive(Clone, Debug, PartialEq)]
pub struct LstmState {
    /// h_t, the output.
    pub h: Tensor,
    /// c_t, the cell.
    pub c: Tensor,
}

impl Lstm {
    /// h_0 = c_0 = 0 for `m` sequences.
    pub fn zero_state(&self, m: usize) -> LstmState {
        let h = self.weight_hh.value().shape()[0];
        LstmState { h: Tensor::zeros(&[m, h]), c: Tensor::zeros(&[m, h]) }
    }

    /// One step of the recurrence from `state` on inputs x_t (m × F), without a graph: what
    /// generating text needs, one character at a time with the state carried between calls (the
    /// op, [`Var::lstm`], always starts from zero and runs a whole sequence). The same equations
    /// and activation functions as the op; T steps from [`Lstm::zero_state`] give its states.
    #[track_caller]
    pub fn step(&self, x: &Tensor, state: &LstmState) -> LstmState {
        let (m, h) = state.h.dims2("lstm step");
        // a = x·W + h·U + b (m × 4H, blocks i, f, g, o)
        let mut a = x.matmul(self.weight_ih.value()).into_vec();
        let recurrent = state.h.matmul(self.weight_hh.value());
        let b = self.bias.value().data();
        for (row, r_row) in a.chunks_exact_mut(4 * h).zip(recurrent.data().chunks_exact(4 * h)) {
            for ((a, r), b) in row.iter_mut().zip(r_row).zip(b) {
                *a += r + b;
            }
        }
        let (mut h_next, mut c_next) = (vec![0.0; m * h], vec![0.0; m * h]);
        for (r, a) in a.chunks_exact(4 * h).enumerate() {
            for j in 0..h {
                let (i, f) = (sigmoid(a[j]), sigmoid(a[h + j]));
                let (g, o) = (tanh_rational(a[2 * h + j]), sigmoid(a[3 * h + j]));
                let c = f * state.c.data()[r * h + j] + i * g;
                c_next[r * h + j] = c;
                h_next[r * h + j] = o * tanh_rational(c);
            }
        }
        LstmState { h: Tensor::from_vec(h_next, &[m, h]), c: Tensor::from_vec(c_next, &[m, h]) }
    }
}

/// An LSTM layer of `hidden` cells over an input T × F, in a spec (`type = "lstm"`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LstmSpec {
    /// H, the number of cells.
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

impl LstmSpec {
    /// A single layer of `hidden` units: the last state, or with `sequence` every step's.
    pub fn new(hidden: usize, sequence: bool) -> LstmSpec {
        LstmSpec { hidden, sequence, layers: 1, dropout: 0.0, bidirectional: false }
    }

    fn stacking(&self) -> Stacking {
        Stacking { layers: self.layers, dropout: self.dropout, bidirectional: self.bidirectional }
    }
}

impl LayerKind for LstmSpec {
    fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>, String> {
        self.stacking().output_shape(input, self.hidden, self.sequence)
    }

    fn build(&self, input: &[usize], _default_init: Init, rng: &mut Rng) -> Box<dyn Module> {
        let cell: CellBuilder = |f, h, sequence, rng| Box::new(Lstm::new(f, h, sequence, rng));
        self.stacking().build(cell, input, self.hidden, self.sequence, rng)
    }

    /// Its gates' pre-activations and its states at every one of the T steps.
    fn values(&self, input: &[usize], output: &[usize]) -> usize {
        let per_cell = saturating_product(&[input[0], self.hidden, 4 + 2]);
        self.stacking().values(per_cell, input, self.hidden).saturating_add(saturating_product(output))
    }

    fn counts(&self, input: &[usize], _output: &[usize]) -> (usize, usize) {
        self.stacking().counts(4, 1, self.hidden, input)
    }

    /// The LSTM draws Xavier weights per gate block, whatever `--init` says.
    fn set_init(&mut self, _init: Init) {}

    fn gpu(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// T steps carrying the state from call to call give the op's every state.
    #[test]
    fn steps_carrying_the_state_equal_the_sequence_op() {
        let mut rng = Rng::seed(3);
        let mut lstm = Lstm::new(3, 4, true, &mut rng);
        *lstm.bias.value_mut() = rng.normal_tensor(&[16], 1.0);
        let x = rng.normal_tensor(&[2, 6, 3], 1.0);
        let all = lstm.forward(&Var::constant(x.clone()));
        let mut state = lstm.zero_state(2);
        for t in 0..6 {
            state = lstm.step(&x.slice(1, t..t + 1).reshape(&[2, 3]), &state);
            let want = all.value().slice(1, t..t + 1).reshape(&[2, 4]);
            for (a, b) in state.h.data().iter().zip(want.data()) {
                assert!((a - b).abs() < 1e-5, "step {t}: {a} vs {b}");
            }
        }
    }

    /// Carrying the state, two chunks through the layer give the whole sequence's states; switched
    /// off, the second chunk starts from zero again.
    #[test]
    fn carried_state_joins_chunks_into_one_sequence() {
        let mut rng = Rng::seed(4);
        let mut lstm = Lstm::new(3, 4, true, &mut rng);
        let x = rng.normal_tensor(&[2, 6, 3], 1.0);
        let whole = lstm.forward(&Var::constant(x.clone()));
        let chunk = |k: usize| Var::constant(x.slice(1, 3 * k..3 * k + 3));
        lstm.carry_state(true);
        let (first, second) = (lstm.forward(&chunk(0)), lstm.forward(&chunk(1)));
        let joined = Var::concat(&[first, second], 1);
        for (a, b) in joined.value().data().iter().zip(whole.value().data()) {
            assert!((a - b).abs() < 1e-6, "{a} vs {b}");
        }
        lstm.carry_state(false);
        let fresh = lstm.forward(&chunk(1));
        assert_eq!(fresh.value().data(), lstm.forward(&chunk(1)).value().data());
        assert_ne!(fresh.value().data(), joined.value().slice(1, 3..6).data(), "from zero, not the carried state");
    }

    #[test]
    fn first_step_equals_the_formulas_and_forget_bias_is_one() {
        let mut rng = Rng::seed(2);
        let lstm = Lstm::new(2, 3, false, &mut rng);
        assert_eq!(&lstm.bias.value().data()[3..6], &[1.0; 3]);
        let x = rng.normal_tensor(&[1, 1, 2], 1.0);
        let h = lstm.forward(&Var::constant(x.clone()));
        let a = x.reshape(&[1, 2]).matmul(lstm.weight_ih.value());
        let a: Vec<f32> = a.data().iter().zip(lstm.bias.value().data()).map(|(a, b)| a + b).collect();
        let sigma = |v: f32| 1.0 / (1.0 + (-v).exp());
        for j in 0..3 {
            let c = sigma(a[j]) * a[6 + j].tanh();
            let want = sigma(a[9 + j]) * c.tanh();
            assert!((h.value().data()[j] - want).abs() < 1e-6, "unit {j}");
        }
    }
}
