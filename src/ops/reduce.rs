//! Reductions to one number: sum and mean. Their backward spreads δ back over every element.

use crate::autodiff::Var;
use crate::tensor::Tensor;

impl Var {
    /// The sum of all elements, as a one-element value of shape [].
    pub fn sum(&self) -> Var {
        Var::from_op(
            Tensor::scalar(self.value().sum()),
            vec![self.clone()],
            Box::new(|g, p| vec![Some(Tensor::full(p[0].shape(), g.item()))]),
        )
    }

    /// The mean of all elements, as a one-element value of shape [].
    pub fn mean(&self) -> Var {
        let n = self.value().numel().max(1) as f32;
        Var::from_op(
            Tensor::scalar(self.value().sum() / n),
            vec![self.clone()],
            Box::new(move |g, p| vec![Some(Tensor::full(p[0].shape(), g.item() / n))]),
        )
    }
}

#[cfg(test)]
mod tests {
    use crate::ops::testing::{check, randn};

    #[test]
    fn sum_and_mean_pass_gradient_checks() {
        let xs = randn(6, &[&[3, 5]]);
        check(&xs, |v| v[0].sum());
        check(&xs, |v| v[0].mean());
    }
}
