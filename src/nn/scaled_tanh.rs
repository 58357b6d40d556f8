//! LeNet-5's squashing function f(a) = A·tanh(S·a) with A = 1.7159 and S = 2/3 (LeCun et al. 1998,
//! appendix A): f(±1) = ±1, the second derivative is largest at ±1, and the gain near 0 is about 1.
//!
//! Backward, written with the output y = f(a):
//!   f′(a) = A·S·(1 − tanh²(S·a)) = S·(A − y²/A).
//!
//! tanh itself is [`tanh_rational`], a rational function that the compiler vectorizes: the C
//! library's `tanhf`, one call per value, took about five times as long, and on LeNet-5's 301,056
//! C1 outputs per batch of 64 it was the largest cost of a training step.
//!
//! # Shapes
//! - input: any; output: the same

use super::Module;
use crate::autodiff::Var;
use crate::tensor::Tensor;

/// A in A·tanh(S·a).
pub const SCALED_TANH_A: f32 = 1.7159;
/// S in A·tanh(S·a).
pub const SCALED_TANH_S: f32 = 2.0 / 3.0;

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

/// 1.7159·tanh(2a/3), elementwise.
pub fn scaled_tanh(x: &Var) -> Var {
    let y = x.value().map(|a| SCALED_TANH_A * tanh_rational(SCALED_TANH_S * a));
    let saved = y.clone();
    Var::from_op(
        y,
        vec![x.clone()],
        Box::new(move |delta, _| {
            let dx = delta
                .data()
                .iter()
                .zip(saved.data())
                .map(|(&d, &y)| d * SCALED_TANH_S * (SCALED_TANH_A - y * y / SCALED_TANH_A))
                .collect();
            vec![Some(Tensor::from_vec(dx, delta.shape()))]
        }),
    )
}

/// The scaled tanh as a layer.
#[derive(Clone, Copy, Debug, Default)]
pub struct ScaledTanh;

impl Module for ScaledTanh {
    fn forward(&self, x: &Var) -> Var {
        scaled_tanh(x)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::testing::{check, randn};

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
    fn scaled_tanh_passes_gradient_check_and_maps_one_to_one() {
        let x = randn(62, &[&[3, 7]]);
        check(&x, |v| scaled_tanh(&v[0]));
        check(&[x[0].scale(3.0)], |v| scaled_tanh(&v[0]));
        let y = scaled_tanh(&Var::constant(Tensor::from_vec(vec![1.0, -1.0, 0.0], &[3])));
        let v = y.value().data();
        assert!((v[0] - 1.0).abs() < 1e-4 && (v[1] + 1.0).abs() < 1e-4 && v[2] == 0.0, "{v:?}");
    }
}
