//! A character-level language model run one character at a time, for generating text: the
//! trained layers `one-hot → lstm (sequence = true, one or more layers) → linear` of a [`Model`],
//! stepped with [`Lstm::step`] so that each new character costs one step of each layer and the
//! state is carried from step to step (O(L) for L characters, where re-running the sequence op on
//! the growing text would cost O(L²) and would restart from a zero state each time).
//!
//! Sampling at temperature τ draws the next character k with probability
//! p_k = exp(u_k/τ) / Σ_j exp(u_j/τ): τ = 1 is the model's own distribution, τ → 0 the most
//! likely character, τ > 1 flatter.

use super::{Carry, LayerSpec, Linear, Lstm, LstmState, Model, Module, one_hot};
use crate::autodiff::Param;
use crate::rng::Rng;
use crate::tensor::Tensor;

/// The layers of a char model, ready to step.
pub struct CharModel {
    classes: usize,
    cells: Vec<Lstm>,
    output: Linear,
    state: Vec<LstmState>,
}

/// Whether `model` is a char model: layers one-hot, lstm (every step's output, not
/// bidirectional), linear; otherwise what it is instead.
pub fn char_layers(model: &Model) -> std::result::Result<(usize, usize), String> {
    let kinds: Vec<&str> = model.spec().layers.iter().map(|l| l.spec.kind()).collect();
    let wrong = || {
        format!(
            "not a character-level model: its layers are {} (expected one-hot, lstm with sequence = true, linear)",
            kinds.join(", ")
        )
    };
    match &model.spec().layers[..] {
        [a, b, c] => match (&a.spec, &b.spec, &c.spec) {
            (LayerSpec::OneHot(o), LayerSpec::Lstm(l), LayerSpec::Linear(_)) if l.sequence && !l.bidirectional => {
                Ok((o.classes, l.layers))
            }
            _ => Err(wrong()),
        },
        _ => Err(wrong()),
    }
}

impl CharModel {
    /// The stepping form of a trained char model (see [`char_layers`] for what it must be).
    pub fn new(model: &Model) -> std::result::Result<CharModel, String> {
        let (classes, layers) = char_layers(model)?;
        let params = model.params();
        let get = |name: &str| -> Param {
            let (_, p) = params.iter().find(|(n, _)| n == name).expect("a built char model has its parameters");
            Param::new(p.value().clone())
        };
        // a single layer is the cell itself (1.weight_ih); a stack names each cell's (1.weight_ih_l0)
        let suffix = |k: usize| if layers == 1 { String::new() } else { format!("_l{k}") };
        let cells: Vec<Lstm> = (0..layers)
            .map(|k| Lstm {
                weight_ih: get(&format!("1.weight_ih{}", suffix(k))),
                weight_hh: get(&format!("1.weight_hh{}", suffix(k))),
                bias: get(&format!("1.bias{}", suffix(k))),
                sequence: true,
                carry: Carry::default(),
            })
            .collect();
        let output = Linear { weight: get("2.weight"), bias: get("2.bias") };
        let state = cells.iter().map(|c| c.zero_state(1)).collect();
        Ok(CharModel { classes, cells, output, state })
    }

    /// The number of characters V.
    pub fn classes(&self) -> usize {
        self.classes
    }

    /// Reads character `k` (after those read before) and returns the logits of the next one.
    #[track_caller]
    pub fn feed(&mut self, k: usize) -> Vec<f32> {
        let mut x = one_hot(&Tensor::from_vec(vec![k as f32], &[1]), self.classes);
        for (cell, state) in self.cells.iter().zip(&mut self.state) {
            *state = cell.step(&x, state);
            x = state.h.clone();
        }
        let u = x.matmul(self.output.weight.value());
        u.data().iter().zip(self.output.bias.value().data()).map(|(u, b)| u + b).collect()
    }

    /// Reads `prime` (at least one character), then draws `length` characters, each read back in
    /// turn, at `temperature` (> 0) with `rng`; returns the drawn ones.
    #[track_caller]
    pub fn sample(&mut self, prime: &[usize], length: usize, temperature: f32, rng: &mut Rng) -> Vec<usize> {
        assert!(!prime.is_empty() && temperature > 0.0, "sample: an empty prime or temperature {temperature}");
        let mut logits = Vec::new();
        for &k in prime {
            logits = self.feed(k);
        }
        let mut out = Vec::with_capacity(length);
        for _ in 0..length {
            let k = draw(&logits, temperature, rng.uniform(0.0, 1.0));
            out.push(k);
            logits = self.feed(k);
        }
        out
    }
}

/// The class whose share of the softmax of `logits`/τ covers the point `u` ∈ [0, 1).
pub fn draw(logits: &[f32], temperature: f32, u: f32) -> usize {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let weights: Vec<f64> = logits.iter().map(|&l| (((l - max) / temperature) as f64).exp()).collect();
    let mut point = u as f64 * weights.iter().sum::<f64>();
    for (k, w) in weights.iter().enumerate() {
        if point < *w {
            return k;
        }
        point -= w;
    }
    // rounding left the point past the last share
    weights.iter().rposition(|&w| w > 0.0).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::ModelSpec;
    use std::path::Path;

    fn char_spec(layers: usize) -> ModelSpec {
        let toml = format!(
            "name = 'c'\ninput = [5]\nloss = 'softmax-cross-entropy'\n[[layers]]\ntype = 'one-hot'\nclasses = 4\n\
             [[layers]]\ntype = 'lstm'\nhidden = 6\nsequence = true\nlayers = {layers}\n\
             [[layers]]\ntype = 'linear'\nout = 4\n"
        );
        ModelSpec::from_toml(&toml, Path::new("c.toml")).unwrap()
    }

    /// Feeding characters one at a time gives the logits of the whole model run on the sequence.
    #[test]
    fn feeding_one_character_at_a_time_equals_the_sequence_model() {
        for layers in [1, 2] {
            let model = Model::new(char_spec(layers), &mut Rng::seed(1)).unwrap();
            let ids = [2.0, 0.0, 3.0, 3.0, 1.0];
            let u = model.forward(&crate::Var::constant(Tensor::from_vec(ids.to_vec(), &[1, 5])));
            let mut stepper = CharModel::new(&model).unwrap();
            for (t, &k) in ids.iter().enumerate() {
                let logits = stepper.feed(k as usize);
                for (a, b) in logits.iter().zip(&u.value().data()[t * 4..(t + 1) * 4]) {
                    assert!((a - b).abs() < 1e-5, "{layers} layers, step {t}: {a} vs {b}");
                }
            }
        }
        let mlp = ModelSpec::mlp(4, &[3], 2, crate::nn::Activation::Relu, crate::loss::Loss::SoftmaxCrossEntropy);
        let err = CharModel::new(&Model::new(mlp, &mut Rng::seed(0)).unwrap()).err().unwrap();
        assert!(err.contains("not a character-level model: its layers are linear, relu, linear"), "{err}");
    }

    #[test]
    fn draws_follow_the_tempered_softmax() {
        let logits = [0.0, 2f32.ln()];
        // shares 1/3 and 2/3 at τ = 1; 1/5 and 4/5 at τ = 0.5
        assert_eq!(draw(&logits, 1.0, 0.3), 0);
        assert_eq!(draw(&logits, 1.0, 0.34), 1);
        assert_eq!(draw(&logits, 0.5, 0.19), 0);
        assert_eq!(draw(&logits, 0.5, 0.21), 1);
        assert_eq!(draw(&[1.0, -1e30], 1.0, 0.999_999_9), 0);
    }
}
