//! LeNet-5's squashing function f(a) = A·tanh(S·a) with A = 1.7159 and S = 2/3 (LeCun et al. 1998,
//! appendix A): f(±1) = ±1, the second derivative is largest at ±1, and the gain near 0 is about 1.
//!
//! Backward, written with the output y = f(a):
//!   f′(a) = A·S·(1 − tanh²(S·a)) = S·(A − y²/A).
//!
//! tanh itself is [`crate::ops::tanh_rational`], which the compiler vectorizes.
//!
//! # Shapes
//! - input: any; output: the same

use super::Module;
use crate::autodiff::Var;
use crate::ops::tanh_rational;
use crate::tensor::Tensor;

/// A in A·tanh(S·a).
pub const SCALED_TANH_A: f32 = 1.7159;
/// S in A·tanh(S·a).
pub const SCALED_TANH_S: f32 = 2.0 / 3.0;

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
    fn scaled_tanh_passes_gradient_check_and_maps_one_to_one() {
        let x = randn(62, &[&[3, 7]]);
        check(&x, |v| scaled_tanh(&v[0]));
        check(&[x[0].scale(3.0)], |v| scaled_tanh(&v[0]));
        let y = scaled_tanh(&Var::constant(Tensor::from_vec(vec![1.0, -1.0, 0.0], &[3])));
        let v = y.value().data();
        assert!((v[0] - 1.0).abs() < 1e-4 && (v[1] + 1.0).abs() < 1e-4 && v[2] == 0.0, "{v:?}");
    }
}
