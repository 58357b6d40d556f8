//! Activation functions f(u) and their derivatives f′(u), applied elementwise.
//! Backward multiplies δ by f′(u), written in terms of the output y = f(u) where that is cheaper:
//! sigmoid y(1−y), tanh 1−y², ReLU [y > 0].
//!
//! tanh and the sigmoid are computed by [`tanh_rational`], a rational function that the compiler
//! vectorizes. The C library's `tanhf` and `expf`, one call per value, took about five times as
//! long: on LeNet-5's 301,056 C1 outputs per batch of 64 they were the largest cost of a step, and
//! they were 45% of an LSTM's training time.

use crate::autodiff::Var;
use crate::tensor::{Tensor, team};
use serde::{Deserialize, Serialize};

/// The activation functions of the lecture, by name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Activation {
    /// f(u) = u.
    Identity,
    /// f(u) = 1 / (1 + e^(−u)).
    Sigmoid,
    /// f(u) = tanh(u).
    Tanh,
    /// f(u) = max(0, u).
    Relu,
}

impl Activation {
    /// Applies the activation to a value.
    pub fn apply(self, u: &Var) -> Var {
        match self {
            Activation::Identity => u.clone(),
            Activation::Sigmoid => u.sigmoid(),
            Activation::Tanh => u.tanh(),
            Activation::Relu => u.relu(),
        }
    }

    /// Parses a name: identity, sigmoid, tanh or relu.
    pub fn parse(name: &str) -> crate::Result<Activation> {
        match name {
            "identity" | "linear" => Ok(Activation::Identity),
            "sigmoid" => Ok(Activation::Sigmoid),
            "tanh" => Ok(Activation::Tanh),
            "relu" => Ok(Activation::Relu),
            other => Err(crate::Error::config(format!(
                "unknown activation '{other}': expected identity, sigmoid, tanh or relu"
            ))),
        }
    }
}

/// The logistic sigmoid σ(u) = ½(1 + tanh(u/2)): within 2·10⁻⁷ of the exact value, exactly 0
/// and 1 for |u| beyond 15.8, and vectorizable.
#[inline(always)]
pub fn sigmoid(u: f32) -> f32 {
    0.5 + 0.5 * tanh_rational(0.5 * u)
}

/// tanh(x) as the ratio of a degree-13 odd and a degree-6 even polynomial on [−7.9053, 7.9053]
/// (the approximation of the Eigen library's `ptanh_float`), ±1 beyond; its largest error is
/// 4·10⁻⁷ (tested against f64). No branches and no calls, so loops over it vectorize.
#[inline(always)]
pub fn tanh_rational(x: f32) -> f32 {
    const LIMIT: f32 = 7.905_311;
    let x = x.clamp(-LIMIT, LIMIT);
    let x2 = x * x;
    let p = x
        * (4.893_524_6e-3
            + x2 * (6.372_619_3e-4
                + x2 * (1.485_722_4e-5
                    + x2 * (5.122_297e-8 + x2 * (-8.604_672e-11 + x2 * (2.000_188e-13 + x2 * -2.760_768_5e-16))))));
    let q = 4.893_525e-3 + x2 * (2.268_434_6e-3 + x2 * (1.185_347_1e-4 + x2 * 1.198_258_4e-6));
    p / q
}

/// An elementwise op whose derivative is a function of its output: δ_in = δ ⊙ f′ where
/// f′ = `dy(y)`. Generic rather than `fn` pointers, so that `f` and `dy` are inlined and the loops
/// vectorize (through a pointer, ReLU on LeNet's 301,056 C1 outputs took 6 times as long).
fn unary_by_output(x: &Var, f: impl Fn(f32) -> f32 + Sync, dy: impl Fn(f32) -> f32 + Sync + 'static) -> Var {
    let (mut y, input) = (vec![0.0; x.value().numel()], x.value().data());
    in_blocks(&mut y, |start, y| {
        for (y, &x) in y.iter_mut().zip(&input[start..]) {
            *y = f(x);
        }
    });
    let y = Tensor::from_vec(y, x.shape());
    let saved = y.clone();
    Var::from_op(
        y,
        vec![x.clone()],
        Box::new(move |g, _| {
            let mut delta = vec![0.0; g.numel()];
            in_blocks(&mut delta, |start, delta| {
                let inputs = g.data()[start..].iter().zip(&saved.data()[start..]);
                for (out, (&d, &y)) in delta.iter_mut().zip(inputs) {
                    *out = d * dy(y);
                }
            });
            vec![Some(Tensor::from_vec(delta, g.shape()))]
        }),
    )
}

/// Elements per block of an elementwise op on the team: below two blocks' worth one thread does
/// it all, as handing half of a few microseconds' work to the team would not pay.
const BLOCK: usize = 1 << 14;

/// Calls `f(start, part)` for blocks of `out` that start at element `start`, on the team.
fn in_blocks(out: &mut [f32], f: impl Fn(usize, &mut [f32]) + Sync) {
    let block = team::block_len(out.len(), BLOCK);
    team::for_each(out.chunks_mut(block).enumerate().collect(), |(i, part)| f(i * block, part));
}

impl Var {
    /// The logistic sigmoid σ(u); σ′ = σ(1−σ).
    pub fn sigmoid(&self) -> Var {
        unary_by_output(self, sigmoid, |y| y * (1.0 - y))
    }

    /// tanh(u); tanh′ = 1 − tanh².
    pub fn tanh(&self) -> Var {
        unary_by_output(self, tanh_rational, |y| 1.0 - y * y)
    }

    /// max(0, u); its derivative is 1 where u > 0 and 0 elsewhere.
    pub fn relu(&self) -> Var {
        unary_by_output(self, |u| u.max(0.0), |y| if y > 0.0 { 1.0 } else { 0.0 })
    }

    /// f(u) = u.
    pub fn identity(&self) -> Var {
        self.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::tanh_rational;
    use crate::ops::testing::{check, randn};

    #[test]
    fn activations_pass_gradient_checks() {
        let xs = randn(9, &[&[4, 6]]);
        check(&xs, |v| v[0].sigmoid());
        check(&xs, |v| v[0].tanh());
        check(&xs, |v| v[0].identity().scale(1.0));
        // ReLU: keep inputs more than ε away from the kink at 0
        let away = vec![xs[0].map(|x| if x.abs() < 0.05 { x + 0.2 } else { x })];
        check(&away, |v| v[0].relu());
    }

    #[test]
    fn tanh_rational_is_within_half_a_micro_of_tanh() {
        let mut worst = 0.0f64;
        for i in -200_000..=200_000 {
            let x = i as f32 * 1e-4;
            worst = worst.max((tanh_rational(x) as f64 - (x as f64).tanh()).abs());
        }
        assert!(worst < 5e-7, "largest error {worst}");
        assert_eq!((tanh_rational(100.0), tanh_rational(-100.0), tanh_rational(0.0)), (1.0, -1.0, 0.0));
    }

    #[test]
    fn sigmoid_is_stable_for_large_inputs() {
        assert_eq!(super::sigmoid(-1000.0), 0.0);
        assert_eq!(super::sigmoid(1000.0), 1.0);
        assert!((super::sigmoid(0.0) - 0.5).abs() < 1e-7);
        let worst = (-400..=400)
            .map(|i| i as f64 * 0.05)
            .map(|u| (super::sigmoid(u as f32) as f64 - 1.0 / (1.0 + (-u).exp())).abs())
            .fold(0.0, f64::max);
        assert!(worst < 2.5e-7, "largest error {worst}");
    }
}
