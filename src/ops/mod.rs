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
mod recurrent;
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

    /// Asserts that a fused op and its composition from simpler ops (its definition) give the
    /// same output and the same gradient for each input (`names`), within 1e-5 relative: the
    /// sums run in another order. The loss weighs every output differently.
    #[track_caller]
    pub fn assert_same_as_composed(
        inputs: &[Tensor],
        names: &[&str],
        fused: impl Fn(&[Var]) -> Var,
        composed: impl Fn(&[Var]) -> Var,
        what: &str,
    ) {
        let (fused_in, plain_in): (Vec<Var>, Vec<Var>) =
            inputs.iter().map(|t| (Var::leaf(t.clone()), Var::leaf(t.clone()))).unzip();
        let run = |v: &[Var], f: &dyn Fn(&[Var]) -> Var| {
            let out = f(v);
            let weights = randn(24, &[out.shape()]).remove(0);
            let e = out.mul(&Var::constant(weights)).sum();
            (out, e.backward())
        };
        let ((fo, fg), (po, pg)) = (run(&fused_in, &fused), run(&plain_in, &composed));
        let close = |a: &[f32], b: &[f32], part: &str| {
            for (p, q) in a.iter().zip(b) {
                assert!((p - q).abs() < 1e-5 * (1.0 + q.abs()), "{what}, {part}: {p} vs {q}");
            }
        };
        close(fo.value().data(), po.value().data(), "output");
        for (k, name) in names.iter().enumerate() {
            let (a, b) = (fg.get(&fused_in[k]).expect("fused gradient"), pg.get(&plain_in[k]).expect("gradient"));
            close(a.data(), b.data(), name);
        }
    }
}
