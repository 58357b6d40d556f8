//! The lecture's sigmoid cross-entropy, E = −(1/m) Σ_rows Σ_k t_k log f_k + (1 − t_k) log(1 − f_k)
//! with f = σ(u), computed from the logits u as max(u, 0) − u·t + log(1 + e^(−|u|)) so that it
//! stays finite when σ(u) rounds to 0 or 1; δ = (σ(u) − t)/m.

use super::check_shapes;
use crate::autodiff::Var;
use crate::ops::sigmoid;
use crate::tensor::Tensor;

/// Sigmoid cross-entropy of logits `u` against targets `t` in [0, 1] (both m×K).
#[track_caller]
pub fn sigmoid_cross_entropy(u: &Var, t: &Tensor) -> Var {
    let (m, _) = check_shapes("sigmoid_cross_entropy", u, t);
    let e: f64 = u
        .value()
        .data()
        .iter()
        .zip(t.data())
        .map(|(&u, &t)| (u.max(0.0) - u * t + (-u.abs()).exp().ln_1p()) as f64)
        .sum::<f64>()
        / m as f64;
    let t = t.clone();
    Var::from_op(
        Tensor::scalar(e as f32),
        vec![u.clone()],
        Box::new(move |g, p| {
            let scale = g.item() / m as f32;
            let delta = p[0].value().data().iter().zip(t.data()).map(|(&u, &t)| (sigmoid(u) - t) * scale).collect();
            vec![Some(Tensor::from_vec(delta, t.shape()))]
        }),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::testing::{check, randn};

    #[test]
    fn sigmoid_ce_passes_gradient_check_and_matches_the_lecture_formula() {
        let xs = randn(13, &[&[3, 4]]);
        let t = crate::rng::Rng::seed(2).uniform_tensor(&[3, 4], 0.0, 1.0);
        check(&xs, |v| sigmoid_cross_entropy(&v[0], &t));
        let naive: f64 = xs[0]
            .data()
            .iter()
            .zip(t.data())
            .map(|(&u, &t)| {
                let f = sigmoid(u) as f64;
                -(t as f64 * f.ln() + (1.0 - t as f64) * (1.0 - f).ln())
            })
            .sum::<f64>()
            / 3.0;
        let got = sigmoid_cross_entropy(&Var::constant(xs[0].clone()), &t).value().item() as f64;
        assert!((got - naive).abs() < 1e-5, "{got} vs {naive}");
    }

    #[test]
    fn sigmoid_ce_is_finite_where_the_naive_formula_is_not() {
        let u = Var::leaf(Tensor::from_vec(vec![200.0, -200.0], &[1, 2]));
        let t = Tensor::from_vec(vec![0.0, 1.0], &[1, 2]);
        let e = sigmoid_cross_entropy(&u, &t);
        assert!((e.value().item() - 400.0).abs() < 1e-3);
    }
}
