//! Loss functions E(z, t). Each is averaged over the m rows of a mini-batch (the lecture sums;
//! averaging keeps η independent of the batch size), and each fuses the output activation with
//! its loss so that the gradient is the lecture's simple δ = (f(u) − t)/m and cannot overflow.

mod least_squares;
mod sigmoid_ce;
mod softmax_ce;

pub use least_squares::least_squares;
pub use sigmoid_ce::sigmoid_cross_entropy;
pub use softmax_ce::{IGNORED, softmax_cross_entropy, softmax_cross_entropy_classes};

use crate::autodiff::Var;
use crate::tensor::Tensor;
use serde::{Deserialize, Serialize};

/// Which loss a model is trained with; it also fixes how raw outputs become predictions.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Loss {
    /// E = ½ Σ_k (z_k − t_k)², on the raw outputs (regression).
    LeastSquares,
    /// E = −Σ_k t_k log softmax(u)_k (one class out of K).
    SoftmaxCrossEntropy,
    /// E = −Σ_k t_k log σ(u_k) + (1 − t_k) log(1 − σ(u_k)) (K independent yes/no outputs).
    SigmoidCrossEntropy,
}

impl Loss {
    /// The loss of raw outputs `u` (m×K) against targets `t` (m×K), averaged over the m rows.
    /// A sequence of outputs, u m×T×K (a language model's next-symbol logits at every step),
    /// takes one class index per step, t m×T: softmax cross-entropy averaged over all m·T steps,
    /// but those whose target is negative (the padding of a shorter sequence, [`IGNORED`]).
    #[track_caller]
    pub fn apply(self, u: &Var, t: &Tensor) -> Var {
        if let ([m, steps, k], [tm, tt]) = (u.shape(), t.shape()) {
            assert!(
                self == Loss::SoftmaxCrossEntropy && (m, steps) == (tm, tt),
                "{self:?}: sequence outputs {:?} need softmax cross-entropy and one class index per step, got \
                 targets {:?}",
                u.shape(),
                t.shape()
            );
            let (rows, k) = (m * steps, *k);
            let classes: Vec<usize> = t.data().iter().map(|&c| if c < 0.0 { IGNORED } else { c as usize }).collect();
            return softmax_cross_entropy_classes(&u.reshape(&[rows, k]), &classes);
        }
        match self {
            Loss::LeastSquares => least_squares(u, t),
            Loss::SoftmaxCrossEntropy => softmax_cross_entropy(u, t),
            Loss::SigmoidCrossEntropy => sigmoid_cross_entropy(u, t),
        }
    }

    /// The model's answer from raw outputs: softmax probabilities, sigmoid probabilities, or the
    /// outputs themselves for least squares.
    pub fn predict(self, u: &Tensor) -> Tensor {
        match self {
            Loss::LeastSquares => u.clone(),
            Loss::SoftmaxCrossEntropy => crate::ops::softmax_rows(u),
            Loss::SigmoidCrossEntropy => u.map(crate::ops::sigmoid),
        }
    }

    /// Parses a name: mse (least-squares), softmax-ce, sigmoid-ce.
    pub fn parse(name: &str) -> crate::Result<Loss> {
        match name {
            "mse" | "least-squares" => Ok(Loss::LeastSquares),
            "softmax-ce" | "ce" | "cross-entropy" => Ok(Loss::SoftmaxCrossEntropy),
            "sigmoid-ce" | "bce" => Ok(Loss::SigmoidCrossEntropy),
            other => {
                Err(crate::Error::config(format!("unknown loss '{other}': expected mse, softmax-ce or sigmoid-ce")))
            }
        }
    }
}

#[track_caller]
fn check_shapes(op: &str, u: &Var, t: &Tensor) -> (usize, usize) {
    assert_eq!(u.shape(), t.shape(), "{op}: outputs {:?} and targets {:?} differ", u.shape(), t.shape());
    u.value().dims2(op)
}
