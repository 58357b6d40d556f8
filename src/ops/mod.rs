//! The differentiable ops, one file per family. Each op computes its forward value with the
//! tensor kernels and, a few lines below, the backward rule that maps the output gradient δ to
//! the gradients of its inputs. Every op has a gradient check in its file's tests.

mod activation;
mod arith;
mod conv;
mod gru;
mod lrn;
mod lstm;
mod matmul;
mod pool;
mod reduce;
mod rnn;
mod shape;
mod softmax;

pub use activation::{SCALED_TANH_A, SCALED_TANH_S, erf_rational, exp_rational, sigmoid, tanh_rational};
pub use conv::conv2d_naive;
pub use lrn::Lrn;
pub(crate) use softmax::{log_softmax_rows, softmax_rows};

#[cfg(test)]
pub(crate) mod testing {
    //! Shared helpers for the gradient-check tests.
    use crate::autodiff::{GradCheck, Var};
    use crate::rng::Rng;
    use crate::tensor::Tensor;

    /// Random N(0,1) inputs of the given shapes, from `seed`.
    pub fn randn(seed: u64, shapes: &[&[usize]]) -> Vec<Tensor> {
        let mut rng = Rng::seed(seed);
        shapes.iter().map(|s| rng.normal_tensor(s, 1.0)).collect()
    }

    /// Asserts that `f` passes the gradient check on `inputs`.
    #[track_caller]
    pub fn check(inputs: &[Tensor], f: impl Fn(&[Var]) -> Var) {
        if let Err(e) = GradCheck::default().run(inputs, f) {
            panic!("{e}");
        }
    }
}
