//! Elementwise arithmetic with broadcasting: add, sub, mul, div, and scalar ops.
//! The backward of a broadcast sums the gradient back to the operand's shape (`sum_to`).

use crate::autodiff::Var;

impl Var {
    /// `self + rhs`, broadcasting (the bias row: U = Y·W + 1·b).
    #[track_caller]
    pub fn add(&self, rhs: &Var) -> Var {
        let value = self.value().add(rhs.value());
        Var::from_op(
            value,
            vec![self.clone(), rhs.clone()],
            Box::new(|g, p| vec![Some(g.sum_to(p[0].shape())), Some(g.sum_to(p[1].shape()))]),
        )
    }

    /// `self − rhs`, broadcasting.
    #[track_caller]
    pub fn sub(&self, rhs: &Var) -> Var {
        let value = self.value().sub(rhs.value());
        Var::from_op(
            value,
            vec![self.clone(), rhs.clone()],
            Box::new(|g, p| vec![Some(g.sum_to(p[0].shape())), Some(g.scale(-1.0).sum_to(p[1].shape()))]),
        )
    }

    /// `self ⊙ rhs` (elementwise), broadcasting.
    #[track_caller]
    pub fn mul(&self, rhs: &Var) -> Var {
        let value = self.value().mul(rhs.value());
        Var::from_op(
            value,
            vec![self.clone(), rhs.clone()],
            Box::new(|g, p| {
                let (a, b) = (p[0].value(), p[1].value());
                vec![
                    p[0].requires_grad().then(|| g.mul(b).sum_to(a.shape())),
                    p[1].requires_grad().then(|| g.mul(a).sum_to(b.shape())),
                ]
            }),
        )
    }

    /// `self / rhs` (elementwise), broadcasting.
    #[track_caller]
    pub fn div(&self, rhs: &Var) -> Var {
        let value = self.value().div(rhs.value());
        Var::from_op(
            value,
            vec![self.clone(), rhs.clone()],
            Box::new(|g, p| {
                let (a, b) = (p[0].value(), p[1].value());
                vec![
                    p[0].requires_grad().then(|| g.div(b).sum_to(a.shape())),
                    // ∂(a/b)/∂b = −a/b²
                    p[1].requires_grad().then(|| g.mul(a).div(&b.mul(b)).scale(-1.0).sum_to(b.shape())),
                ]
            }),
        )
    }

    /// `s · self`.
    pub fn scale(&self, s: f32) -> Var {
        Var::from_op(self.value().scale(s), vec![self.clone()], Box::new(move |g, _| vec![Some(g.scale(s))]))
    }

    /// `self + s` elementwise.
    pub fn add_scalar(&self, s: f32) -> Var {
        Var::from_op(self.value().map(|x| x + s), vec![self.clone()], Box::new(|g, _| vec![Some(g.clone())]))
    }

    /// `−self`.
    pub fn neg(&self) -> Var {
        self.scale(-1.0)
    }

    /// `self²` elementwise.
    pub fn square(&self) -> Var {
        Var::from_op(
            self.value().map(|x| x * x),
            vec![self.clone()],
            Box::new(|g, p| vec![Some(g.mul(&p[0].value().scale(2.0)))]),
        )
    }
}

#[cfg(test)]
mod tests {
    use crate::ops::testing::{check, randn};

    #[test]
    fn add_sub_mul_div_pass_gradient_checks_with_broadcasting() {
        for shapes in
            [[&[3, 4][..], &[3, 4][..]], [&[3, 4], &[1, 4]], [&[3, 4], &[4]], [&[2, 1, 3], &[4, 1]], [&[5], &[]]]
        {
            let xs = randn(1, &shapes);
            check(&xs, |v| v[0].add(&v[1]));
            check(&xs, |v| v[0].sub(&v[1]));
            check(&xs, |v| v[0].mul(&v[1]));
            // keep the divisor away from 0
            let ys = vec![xs[0].clone(), xs[1].map(|x| 2.0 + x.abs())];
            check(&ys, |v| v[0].div(&v[1]));
        }
    }

    #[test]
    fn scalar_ops_pass_gradient_checks() {
        let xs = randn(2, &[&[4, 5]]);
        check(&xs, |v| v[0].scale(-2.5));
        check(&xs, |v| v[0].add_scalar(3.0));
        check(&xs, |v| v[0].neg());
        check(&xs, |v| v[0].square());
    }

    #[test]
    fn a_value_used_twice_accumulates_both_gradients() {
        let xs = randn(3, &[&[2, 3]]);
        // y = x ⊙ x + x: dy/dx = 2x + 1
        check(&xs, |v| v[0].mul(&v[0]).add(&v[0]));
        let x = crate::Var::leaf(xs[0].clone());
        let g = x.mul(&x).add(&x).sum().backward();
        for (got, a) in g.get(&x).unwrap().data().iter().zip(xs[0].data()) {
            assert!((got - (2.0 * a + 1.0)).abs() < 1e-6);
        }
    }
}
