//! One-hot encoding: each step's symbol index k becomes the unit vector e_k of `classes`
//! components. It lets a recurrent layer read symbols (the characters of a text) with no learned
//! embedding: x_t·W with a one-hot x_t selects row k of W, so the LSTM's input weights *are* the
//! embedding, one 4H-wide row per symbol (Karpathy's char-rnn reads characters the same way).
//!
//! # Shapes
//! - input x: N × T, each value a symbol index in 0..classes (stored as f32, exact below 2²⁴)
//! - output y: N × T × classes, constant (indices have no gradient)

use super::Init;
use super::Module;
use super::kind::{LayerKind, units};
use crate::autodiff::Var;
use crate::rng::Rng;
use crate::tensor::Tensor;
use serde::{Deserialize, Serialize};

/// Maps N × T symbol indices to N × T × `classes` one-hot vectors.
#[derive(Clone, Copy, Debug)]
pub struct OneHot {
    /// The number of symbols.
    pub classes: usize,
}

impl Module for OneHot {
    #[track_caller]
    fn forward(&self, x: &Var) -> Var {
        Var::constant(one_hot(x.value(), self.classes))
    }
}

/// The one-hot vectors of the indices `x` (any shape): the output has one more axis, `classes`
/// long. Panics naming the value if an index is not a whole number below `classes`.
#[track_caller]
pub fn one_hot(x: &Tensor, classes: usize) -> Tensor {
    let mut out = vec![0.0; x.numel() * classes];
    for (row, &k) in out.chunks_exact_mut(classes.max(1)).zip(x.data()) {
        assert!(
            k >= 0.0 && k.fract() == 0.0 && (k as usize) < classes,
            "one_hot: index {k} is not a symbol of 0..{classes}"
        );
        row[k as usize] = 1.0;
    }
    let mut shape = x.shape().to_vec();
    shape.push(classes);
    Tensor::from_vec(out, &shape)
}

/// Symbol indices as one-hot vectors, in a spec (`type = "one-hot"`, `classes`). Training on a
/// text sets `classes` to the size of its vocabulary.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OneHotSpec {
    /// The number of symbols.
    pub classes: usize,
}

impl LayerKind for OneHotSpec {
    fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>, String> {
        units("classes", self.classes, input)?;
        match *input {
            [t] => Ok(vec![t, self.classes]),
            _ => Err(format!("needs a sequence of symbol indices [T], got shape {input:?}")),
        }
    }

    fn build(&self, _input: &[usize], _default_init: Init, _rng: &mut Rng) -> Box<dyn Module> {
        Box::new(OneHot { classes: self.classes })
    }

    fn counts(&self, _input: &[usize], _output: &[usize]) -> (usize, usize) {
        (0, 0)
    }

    fn set_init(&mut self, _init: Init) {}

    fn gpu(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indices_become_unit_vectors_and_bad_indices_are_named() {
        let x = Tensor::from_vec(vec![2.0, 0.0, 1.0, 2.0], &[2, 2]);
        let y = OneHot { classes: 3 }.forward(&Var::constant(x));
        assert_eq!(y.shape(), &[2, 2, 3]);
        assert_eq!(y.value().data(), &[0., 0., 1., 1., 0., 0., 0., 1., 0., 0., 0., 1.]);
        let spec = OneHotSpec { classes: 3 };
        assert_eq!(spec.output_shape(&[5]).unwrap(), vec![5, 3]);
        assert!(spec.output_shape(&[5, 2]).unwrap_err().contains("[T]"));
        let bad = std::panic::catch_unwind(|| one_hot(&Tensor::from_vec(vec![3.0], &[1]), 3));
        assert!(bad.is_err());
    }
}
