//! Least squares: E = (1/m) Σ_rows ½ Σ_k (z_k − t_k)²; δ = (z − t)/m.

use super::check_shapes;
use crate::autodiff::Var;
use crate::tensor::Tensor;

/// The least-squares loss of outputs `z` against targets `t` (both m×K), averaged over rows.
#[track_caller]
pub fn least_squares(z: &Var, t: &Tensor) -> Var {
    let (m, _) = check_shapes("least_squares", z, t);
    let diff = z.value().sub(t);
    let e = 0.5 * diff.data().iter().map(|&d| (d * d) as f64).sum::<f64>() / m as f64;
    Var::from_op(
        Tensor::scalar(e as f32),
        vec![z.clone()],
        Box::new(move |g, _| vec![Some(diff.scale(g.item() / m as f32))]),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::testing::{check, randn};

    #[test]
    fn least_squares_passes_gradient_check_and_has_the_right_value() {
        let xs = randn(11, &[&[4, 3], &[4, 3]]);
        let t = xs[1].clone();
        check(&xs[..1], |v| least_squares(&v[0], &t));
        let z = Var::constant(Tensor::from_vec(vec![1.0, 2.0, 0.0, 0.0], &[2, 2]));
        let t = Tensor::from_vec(vec![0.0, 0.0, 0.0, 3.0], &[2, 2]);
        // rows: ½(1 + 4) = 2.5 and ½·9 = 4.5; mean 3.5
        assert_eq!(least_squares(&z, &t).value().item(), 3.5);
    }
}
