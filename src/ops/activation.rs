//! Activation functions f(u) and their derivatives f′(u), applied elementwise.
//! Backward multiplies δ by f′(u), written in terms of the output y = f(u) where that is cheaper:
//! sigmoid y(1−y), tanh 1−y², ReLU [y > 0].

use crate::autodiff::Var;
use crate::tensor::Tensor;
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

/// The logistic sigmoid, stable for large |u|.
pub fn sigmoid(u: f32) -> f32 {
    if u >= 0.0 {
        1.0 / (1.0 + (-u).exp())
    } else {
        let e = u.exp();
        e / (1.0 + e)
    }
}

/// An elementwise op whose derivative is a function of its output: δ_in = δ ⊙ f′ where
/// f′ = `dy(y)`. Generic rather than `fn` pointers, so that `f` and `dy` are inlined and the loops
/// vectorize (through a pointer, ReLU on LeNet's 301,056 C1 outputs took 6 times as long).
fn unary_by_output(x: &Var, f: impl Fn(f32) -> f32, dy: impl Fn(f32) -> f32 + 'static) -> Var {
    let y = x.value().map(f);
    let saved = y.clone();
    Var::from_op(
        y,
        vec![x.clone()],
        Box::new(move |g, _| {
            let data = g.data().iter().zip(saved.data()).map(|(&d, &y)| d * dy(y)).collect();
            vec![Some(Tensor::from_vec(data, g.shape()))]
        }),
    )
}

impl Var {
    /// The logistic sigmoid σ(u); σ′ = σ(1−σ).
    pub fn sigmoid(&self) -> Var {
        unary_by_output(self, sigmoid, |y| y * (1.0 - y))
    }

    /// tanh(u); tanh′ = 1 − tanh².
    pub fn tanh(&self) -> Var {
        unary_by_output(self, f32::tanh, |y| 1.0 - y * y)
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
    fn sigmoid_is_stable_for_large_inputs() {
        assert_eq!(super::sigmoid(-1000.0), 0.0);
        assert_eq!(super::sigmoid(1000.0), 1.0);
        assert!((super::sigmoid(0.0) - 0.5).abs() < 1e-7);
    }
}
