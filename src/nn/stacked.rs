//! Stacked and bidirectional recurrent layers: `layers = N`, `dropout = p` and
//! `bidirectional = true` on an `lstm` or `gru` in a spec, as PyTorch's `num_layers`, `dropout`
//! and `bidirectional`. Layer k + 1 reads every state of layer k; dropout is applied between
//! layers in training, not after the last. A bidirectional layer also runs a second cell over the
//! steps in reverse order and concatenates the two cells' states (forward first), so that the
//! state at step t has seen the whole sequence.
//!
//! # Shapes
//! - input x: m × T × F
//! - output: m × D·H (the forward cell's h_T and, bidirectional, the reverse cell's state after
//!   reading the whole sequence backwards), or with `sequence` every step's, m × T × D·H
//!   (D = 2 when bidirectional, 1 otherwise)

use super::kind::saturating_product;
use super::rnn::{recurrent_counts, recurrent_shape};
use super::{Dropout, DropoutRule, Module};
use crate::autodiff::{Param, Var};
use crate::rng::Rng;

/// The default of `layers`.
pub(super) fn one() -> usize {
    1
}

/// Whether `layers` is its default (left out of a written spec, so older specs stay the same).
pub(super) fn is_one(n: &usize) -> bool {
    *n == 1
}

/// Whether `dropout` is its default.
pub(super) fn is_zero(p: &f32) -> bool {
    *p == 0.0
}

/// Builds one cell: (inputs F, hidden H, every step's state, rng) → the layer.
pub type CellBuilder = fn(usize, usize, bool, &mut Rng) -> Box<dyn Module>;

/// How many layers, how much dropout between them and whether each reads both ways: the fields
/// that the `lstm` and `gru` kinds share.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Stacking {
    /// The number of layers N (1: a single layer).
    pub layers: usize,
    /// Dropout between layers, in [0, 1).
    pub dropout: f32,
    /// Whether each layer also reads the sequence backwards.
    pub bidirectional: bool,
}

impl Stacking {
    /// The number of directions D.
    pub fn directions(&self) -> usize {
        1 + usize::from(self.bidirectional)
    }

    /// Whether this is one plain layer (built as the cell itself, with its own parameter names).
    pub fn is_single(&self) -> bool {
        self.layers == 1 && !self.bidirectional
    }

    /// The output shape of a stack of `hidden`-unit cells over `input` (T × F).
    pub fn output_shape(&self, input: &[usize], hidden: usize, sequence: bool) -> Result<Vec<usize>, String> {
        if self.layers == 0 {
            return Err(format!("layers = 0 (input shape {input:?})"));
        }
        if !(0.0..1.0).contains(&self.dropout) {
            return Err(format!("dropout = {} must be in [0, 1)", self.dropout));
        }
        if self.dropout > 0.0 && self.layers == 1 {
            return Err("dropout acts between layers: it needs layers ≥ 2".into());
        }
        let width = hidden.checked_mul(self.directions()).ok_or_else(|| format!("hidden = {hidden} is too large"))?;
        recurrent_shape(input, width, sequence)
    }

    /// (parameters, connections) of the stack, each cell of `blocks` blocks and `biases` biases.
    pub fn counts(&self, blocks: usize, biases: usize, hidden: usize, input: &[usize]) -> (usize, usize) {
        let mut total = (0usize, 0usize);
        for k in 0..self.layers {
            let features = if k == 0 { input[1] } else { hidden.saturating_mul(self.directions()) };
            let (p, c) = recurrent_counts(blocks, hidden, &[input[0], features]);
            let extra = saturating_product(&[biases - 1, blocks, hidden]);
            let (p, c) = (p.saturating_add(extra), c.saturating_add(extra.saturating_mul(input[0])));
            total = (
                total.0.saturating_add(p.saturating_mul(self.directions())),
                total.1.saturating_add(c.saturating_mul(self.directions())),
            );
        }
        total
    }

    /// The values of one sample's forward pass: `per_cell` values for each cell and each layer's
    /// concatenated states.
    pub fn values(&self, per_cell: usize, input: &[usize], hidden: usize) -> usize {
        let cells = self.layers.saturating_mul(self.directions());
        let states = saturating_product(&[self.layers, input[0], hidden, self.directions()]);
        per_cell.saturating_mul(cells).saturating_add(states)
    }

    /// Builds the stack: the cell itself when it is a single plain layer, else a [`Stacked`].
    pub fn build(
        &self,
        cell: CellBuilder,
        input: &[usize],
        hidden: usize,
        sequence: bool,
        rng: &mut Rng,
    ) -> Box<dyn Module> {
        if self.is_single() {
            return cell(input[1], hidden, sequence, rng);
        }
        let layers = (0..self.layers)
            .map(|k| {
                let features = if k == 0 { input[1] } else { hidden * self.directions() };
                let every_step = sequence || k + 1 < self.layers;
                let forward = cell(features, hidden, every_step, rng);
                let reverse = self.bidirectional.then(|| cell(features, hidden, every_step, rng));
                (forward, reverse)
            })
            .collect();
        let dropout = (self.dropout > 0.0).then(|| Dropout::new(self.dropout, DropoutRule::Inverted));
        Box::new(Stacked { layers, dropout, sequence })
    }
}

/// One layer of a stack: its forward cell and, bidirectional, its reverse cell.
type Layer = (Box<dyn Module>, Option<Box<dyn Module>>);

/// N recurrent layers, each one cell or two (forward and reverse), with dropout between them.
pub struct Stacked {
    layers: Vec<Layer>,
    dropout: Option<Dropout>,
    sequence: bool,
}

impl Stacked {
    /// Each cell with the suffix of its parameters' names: `_l0`, `_l0_reverse`, … (PyTorch's).
    fn cells(&self) -> impl Iterator<Item = (String, &dyn Module)> {
        self.layers.iter().enumerate().flat_map(|(k, (f, r))| {
            let reverse = r.as_deref().map(|r| (format!("_l{k}_reverse"), r));
            std::iter::once((format!("_l{k}"), f.as_ref())).chain(reverse)
        })
    }
}

impl Stacked {
    /// The forward pass over every step, or over each row's `lengths` (see
    /// [`Module::forward_masked`]): then the reverse cells read each row from its last real step.
    fn run(&self, x: &Var, lengths: Option<&[usize]>) -> Var {
        let cell = |cell: &dyn Module, x: &Var| match lengths {
            None => cell.forward(x),
            Some(lengths) => cell.forward_masked(x, lengths),
        };
        let reversed = |x: &Var| match lengths {
            None => x.reverse_steps(),
            Some(lengths) => x.reverse_steps_within(lengths),
        };
        let mut x = x.clone();
        for (k, (forward, reverse)) in self.layers.iter().enumerate() {
            let last = k + 1 == self.layers.len();
            let out = match reverse {
                None => cell(forward.as_ref(), &x),
                Some(reverse) => {
                    let backwards = cell(reverse.as_ref(), &reversed(&x));
                    // every step's states back in time order; a last state needs no reordering
                    let backwards = if last && !self.sequence { backwards } else { reversed(&backwards) };
                    let f = cell(forward.as_ref(), &x);
                    let axis = f.shape().len() - 1;
                    Var::concat(&[f, backwards], axis)
                }
            };
            x = match &self.dropout {
                Some(dropout) if !last => dropout.forward(&out),
                _ => out,
            };
        }
        x
    }
}

impl Module for Stacked {
    fn forward(&self, x: &Var) -> Var {
        self.run(x, None)
    }

    fn forward_masked(&self, x: &Var, lengths: &[usize]) -> Var {
        self.run(x, Some(lengths))
    }

    fn params(&self) -> Vec<(String, &Param)> {
        self.cells().flat_map(|(suffix, cell)| cell.params().into_iter().map(move |(n, p)| (n + &suffix, p))).collect()
    }

    fn params_mut(&mut self) -> Vec<(String, &mut Param)> {
        let mut out = Vec::new();
        for (k, (forward, reverse)) in self.layers.iter_mut().enumerate() {
            out.extend(forward.params_mut().into_iter().map(|(n, p)| (format!("{n}_l{k}"), p)));
            if let Some(reverse) = reverse {
                out.extend(reverse.params_mut().into_iter().map(|(n, p)| (format!("{n}_l{k}_reverse"), p)));
            }
        }
        out
    }

    fn set_training(&mut self, training: bool) {
        if let Some(d) = &mut self.dropout {
            d.set_training(training);
        }
    }

    /// The forward cells carry their state; the reverse ones, which read each chunk from its end,
    /// start from zero.
    fn carry_state(&mut self, on: bool) {
        self.layers.iter_mut().for_each(|(forward, _)| forward.carry_state(on));
    }

    fn reseed(&mut self, rng: &mut Rng) {
        if let Some(d) = &mut self.dropout {
            d.reseed(rng);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::{Gru, Lstm};
    use crate::tensor::Tensor;

    fn lstm(f: usize, h: usize, sequence: bool, rng: &mut Rng) -> Box<dyn Module> {
        Box::new(Lstm::new(f, h, sequence, rng))
    }

    fn gru(f: usize, h: usize, sequence: bool, rng: &mut Rng) -> Box<dyn Module> {
        Box::new(Gru::new(f, h, sequence, rng))
    }

    /// A bidirectional layer's reverse half is its reverse cell run on the reversed sequence, and
    /// its forward half the forward cell alone; stacking feeds every state of layer 0 to layer 1.
    #[test]
    fn bidirectional_halves_and_stacking_equal_their_cells_run_alone() {
        let stacking = Stacking { layers: 2, dropout: 0.0, bidirectional: true };
        let x = Var::constant(Rng::seed(5).normal_tensor(&[3, 4, 2], 1.0));
        for (cell, sequence) in [(lstm as CellBuilder, true), (gru as CellBuilder, false)] {
            let built = stacking.build(cell, &[4, 2], 5, sequence, &mut Rng::seed(6));
            let out = built.forward(&x);
            // the same cells, drawn in the same order
            let mut rng = Rng::seed(6);
            let (f0, r0) = (cell(2, 5, true, &mut rng), cell(2, 5, true, &mut rng));
            let (f1, r1) = (cell(10, 5, sequence, &mut rng), cell(10, 5, sequence, &mut rng));
            let layer0 = Var::concat(&[f0.forward(&x), r0.forward(&x.reverse_steps()).reverse_steps()], 2);
            let back = r1.forward(&layer0.reverse_steps());
            let back = if sequence { back.reverse_steps() } else { back };
            let want = Var::concat(&[f1.forward(&layer0), back], if sequence { 2 } else { 1 });
            assert_eq!(out.shape(), want.shape());
            assert_eq!(out.value().data(), want.value().data());
        }
    }

    fn rnn(f: usize, h: usize, sequence: bool, rng: &mut Rng) -> Box<dyn Module> {
        Box::new(crate::nn::Rnn::new(f, h, sequence, rng))
    }

    /// The stackings a masked batch is checked through: one cell, two layers, one bidirectional
    /// layer, two bidirectional layers.
    const STACKINGS: [(usize, bool); 4] = [(1, false), (2, false), (1, true), (2, true)];

    /// A padded batch through each kind, stacked and bidirectional, with every step's states or
    /// the last: each row's outputs at its real steps equal the row run alone, unpadded (the last
    /// state being the one after its last real step, the reverse cells starting there).
    #[test]
    fn a_padded_row_gives_what_the_row_alone_gives() {
        let (lengths, steps, f) = ([5, 2, 3, 1], 5, 2);
        let x = Rng::seed(7).normal_tensor(&[4, steps, f], 1.0);
        let cells = [("rnn", rnn as CellBuilder), ("lstm", lstm as CellBuilder), ("gru", gru as CellBuilder)];
        for (name, cell) in cells {
            for (layers, bidirectional) in STACKINGS {
                for sequence in [false, true] {
                    let stacking = Stacking { layers, dropout: 0.0, bidirectional };
                    let built = stacking.build(cell, &[steps, f], 3, sequence, &mut Rng::seed(8));
                    let out = built.forward_masked(&Var::constant(x.clone()), &lengths);
                    let width = out.shape()[out.shape().len() - 1];
                    for (r, &len) in lengths.iter().enumerate() {
                        let row = x.slice(0, r..r + 1).slice(1, 0..len);
                        let alone = built.forward(&Var::constant(row));
                        let padded = out.value().slice(0, r..r + 1);
                        let padded = if sequence { padded.slice(1, 0..len) } else { padded };
                        assert_eq!(padded.numel(), alone.value().numel());
                        for (k, (a, b)) in padded.data().iter().zip(alone.value().data()).enumerate() {
                            assert!(
                                (a - b).abs() < 1e-6,
                                "{name}, {layers} layers, bidirectional {bidirectional}, sequence {sequence}: row {r} \
                                 (length {len}), step {}, unit {}: {a} padded vs {b} alone",
                                k / width,
                                k % width
                            );
                        }
                    }
                }
            }
        }
    }

    /// Central differences through a masked two-layer bidirectional stack of each kind, for the
    /// input and for every parameter: the padding and the per-row reversal send each gradient to
    /// its step (the checker's tolerances, [`GradCheck::default`]).
    #[test]
    fn masked_stacks_pass_gradient_checks() {
        use crate::autodiff::GradCheck;
        let (lengths, steps, f) = ([3, 1, 2], 3, 2);
        let x = Rng::seed(9).normal_tensor(&[3, steps, f], 1.0);
        let stacking = Stacking { layers: 2, dropout: 0.0, bidirectional: true };
        let check = GradCheck::default();
        for (name, cell) in [("rnn", rnn as CellBuilder), ("lstm", lstm as CellBuilder), ("gru", gru as CellBuilder)] {
            for sequence in [false, true] {
                let mut built = stacking.build(cell, &[steps, f], 2, sequence, &mut Rng::seed(10));
                let input = check.run(std::slice::from_ref(&x), |v| built.forward_masked(&v[0], &lengths));
                input.unwrap_or_else(|e| panic!("{name}, sequence {sequence}, input: {e}"));
                // the parameters: E = Σ r⊙out for a random r, against central differences of E
                let out = built.forward_masked(&Var::constant(x.clone()), &lengths);
                let r = Rng::seed(11).normal_tensor(out.shape(), 1.0);
                let grads = out.backward_with(r.clone());
                let analytic: Vec<Tensor> = built
                    .params()
                    .iter()
                    .map(|(_, p)| grads.get_param(p).cloned().unwrap_or_else(|| Tensor::zeros(p.value().shape())))
                    .collect();
                let projected = |layer: &dyn Module| -> f64 {
                    let out = layer.forward_masked(&Var::constant(x.clone()), &lengths);
                    out.value().data().iter().zip(r.data()).map(|(&a, &b)| a as f64 * b as f64).sum()
                };
                for (i, want) in analytic.iter().enumerate() {
                    for j in 0..want.numel() {
                        let nudge = |built: &mut Box<dyn Module>, by: f32| {
                            built.params_mut()[i].1.value_mut().data_mut()[j] += by;
                        };
                        nudge(&mut built, check.eps);
                        let plus = projected(built.as_ref());
                        nudge(&mut built, -2.0 * check.eps);
                        let minus = projected(built.as_ref());
                        nudge(&mut built, check.eps);
                        let numeric = ((plus - minus) / (2.0 * check.eps as f64)) as f32;
                        let a = want.data()[j];
                        let tolerance = check.atol + check.rtol * a.abs().max(numeric.abs());
                        assert!(
                            (a - numeric).abs() <= tolerance,
                            "{name}, sequence {sequence}, parameter {}[{j}]: backward {a}, central difference {numeric}",
                            built.params()[i].0
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn names_follow_pytorch_and_counts_match_the_built_stack() {
        let stacking = Stacking { layers: 2, dropout: 0.5, bidirectional: true };
        let built = stacking.build(gru, &[7, 3], 4, false, &mut Rng::seed(0));
        let names: Vec<String> = built.params().into_iter().map(|(n, _)| n).collect();
        assert_eq!(names[..4], ["weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"]);
        assert_eq!(names[4], "weight_ih_l0_reverse");
        assert_eq!(names.len(), 16);
        assert_eq!(stacking.counts(3, 2, 4, &[7, 3]).0, built.num_parameters());
        let lstm_stack = Stacking { layers: 3, dropout: 0.0, bidirectional: false };
        let built = lstm_stack.build(lstm, &[7, 3], 4, true, &mut Rng::seed(0));
        assert_eq!(lstm_stack.counts(4, 1, 4, &[7, 3]).0, built.num_parameters());
        assert_eq!(built.forward(&Var::constant(Tensor::zeros(&[2, 7, 3]))).shape(), &[2, 7, 4]);
    }

    #[test]
    fn dropout_acts_between_layers_in_training_only() {
        let stacking = Stacking { layers: 2, dropout: 0.5, bidirectional: false };
        let mut built = stacking.build(lstm, &[4, 2], 8, false, &mut Rng::seed(1));
        let x = Var::constant(Rng::seed(2).normal_tensor(&[2, 4, 2], 1.0));
        built.reseed(&mut Rng::seed(3));
        let (a, b) = (built.forward(&x), built.forward(&x));
        assert_ne!(a.value().data(), b.value().data(), "two masks");
        built.set_training(false);
        let (c, d) = (built.forward(&x), built.forward(&x));
        assert_eq!(c.value().data(), d.value().data());
    }

    #[test]
    fn bad_stackings_are_refused() {
        let bad = |layers, dropout| Stacking { layers, dropout, bidirectional: false }.output_shape(&[4, 2], 3, false);
        assert!(bad(0, 0.0).unwrap_err().contains("layers = 0"));
        assert!(bad(2, 1.0).unwrap_err().contains("dropout = 1"));
        assert!(bad(1, 0.2).unwrap_err().contains("needs layers ≥ 2"));
        assert_eq!(bad(2, 0.2).unwrap(), vec![3]);
    }
}
