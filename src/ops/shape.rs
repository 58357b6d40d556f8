//! Movement ops: reshape, transpose, concat, slice and time reversal (of every step, or of each
//! padded row's real steps). Their backward moves δ back to where each
//! element came from: reshape it back, transpose it back, slice it apart, or pad it with zeros.

use crate::autodiff::Var;
use crate::tensor::Tensor;
use std::ops::Range;

impl Var {
    /// The same values under another shape (no copy).
    #[track_caller]
    pub fn reshape(&self, shape: &[usize]) -> Var {
        Var::from_op(
            self.value().reshape(shape),
            vec![self.clone()],
            Box::new(|g, p| vec![Some(g.reshape(p[0].shape()))]),
        )
    }

    /// The transpose of a 2-D value.
    pub fn transpose(&self) -> Var {
        Var::from_op(self.value().transpose(), vec![self.clone()], Box::new(|g, _| vec![Some(g.transpose())]))
    }

    /// Joins values along `axis` (the branches of an Inception module, for example).
    #[track_caller]
    pub fn concat(parts: &[Var], axis: usize) -> Var {
        let values: Vec<&Tensor> = parts.iter().map(Var::value).collect();
        let value = Tensor::concat(&values, axis);
        Var::from_op(
            value,
            parts.to_vec(),
            Box::new(move |g, p| {
                let mut start = 0;
                p.iter()
                    .map(|part| {
                        let len = part.shape()[axis];
                        start += len;
                        part.requires_grad().then(|| g.slice(axis, start - len..start))
                    })
                    .collect()
            }),
        )
    }

    /// The part whose index along `axis` lies in `range`.
    #[track_caller]
    pub fn slice(&self, axis: usize, range: Range<usize>) -> Var {
        let value = self.value().slice(axis, range.clone());
        Var::from_op(
            value,
            vec![self.clone()],
            Box::new(move |g, p| {
                // δ goes back to its place; the rest of the input gets zero gradient
                let shape = p[0].shape();
                let mut before = shape.to_vec();
                before[axis] = range.start;
                let mut after = shape.to_vec();
                after[axis] = shape[axis] - range.end;
                let (zb, za) = (Tensor::zeros(&before), Tensor::zeros(&after));
                vec![Some(Tensor::concat(&[&zb, g, &za], axis))]
            }),
        )
    }

    /// An m × T × F sequence with its T steps in reverse order (the backward direction of a
    /// bidirectional recurrent layer reads it). Its own inverse, so δ is reversed the same way.
    #[track_caller]
    pub fn reverse_steps(&self) -> Var {
        Var::from_op(
            reversed_steps(self.value(), None),
            vec![self.clone()],
            Box::new(|g, _| vec![Some(reversed_steps(g, None))]),
        )
    }

    /// [`Var::reverse_steps`] of padded rows: the first `lengths[r]` steps of row r in reverse
    /// order, its padding left where it is, so that the backward direction of a bidirectional
    /// layer starts at each row's last real step. Its own inverse, as the plain reversal.
    #[track_caller]
    pub fn reverse_steps_within(&self, lengths: &[usize]) -> Var {
        let lengths = lengths.to_vec();
        Var::from_op(
            reversed_steps(self.value(), Some(&lengths)),
            vec![self.clone()],
            Box::new(move |g, _| vec![Some(reversed_steps(g, Some(&lengths)))]),
        )
    }
}

/// x (m × T × F) with its steps reversed: all T of them, or the first `lengths[r]` of row r.
#[track_caller]
fn reversed_steps(x: &Tensor, lengths: Option<&[usize]>) -> Tensor {
    let &[m, steps, f] = x.shape() else {
        panic!("reverse_steps: input shape {:?}, want m × T × F", x.shape());
    };
    if let Some(lengths) = lengths {
        assert!(
            lengths.len() == m && lengths.iter().all(|&l| l <= steps),
            "reverse_steps_within: {} lengths {lengths:?} for an input of shape {:?} (want one per row, each ≤ {steps})",
            lengths.len(),
            x.shape()
        );
    }
    if steps * f == 0 {
        return x.clone();
    }
    let mut out = Vec::with_capacity(x.numel());
    for (r, sample) in x.data().chunks_exact(steps * f).take(m).enumerate() {
        let len = lengths.map_or(steps, |l| l[r]);
        let (real, padding) = sample.split_at(len * f);
        real.chunks_exact(f).rev().for_each(|step| out.extend_from_slice(step));
        out.extend_from_slice(padding);
    }
    Tensor::from_vec(out, &[m, steps, f])
}

#[cfg(test)]
mod tests {
    use crate::Var;
    use crate::ops::testing::{check, randn};

    #[test]
    fn movement_ops_pass_gradient_checks() {
        let xs = randn(7, &[&[3, 4]]);
        check(&xs, |v| v[0].reshape(&[2, 6]));
        check(&xs, |v| v[0].transpose());
        check(&xs, |v| v[0].slice(1, 1..3));
        check(&xs, |v| v[0].slice(0, 0..1));
        let ys = randn(8, &[&[2, 3, 2], &[2, 1, 2], &[2, 4, 2]]);
        check(&ys, |v| Var::concat(v, 1));
        // a branch that is sliced twice and concatenated back must add up to the identity
        check(&xs, |v| Var::concat(&[v[0].slice(1, 2..4), v[0].slice(1, 0..2)], 1).mul(&v[0]));
        // reversal, weighted so that a gradient sent to the wrong step shows
        check(&ys[..1], |v| v[0].reverse_steps().mul(&v[0]));
        check(&ys[..1], |v| v[0].reverse_steps_within(&[1, 3]).mul(&v[0]));
    }

    #[test]
    fn reverse_steps_within_reverses_each_rows_real_steps_only() {
        let x = crate::Tensor::from_vec((0..12).map(|v| v as f32).collect(), &[2, 3, 2]);
        let r = Var::constant(x.clone()).reverse_steps_within(&[2, 0]);
        assert_eq!(r.value().data(), &[2., 3., 0., 1., 4., 5., 6., 7., 8., 9., 10., 11.]);
        assert_eq!(r.reverse_steps_within(&[2, 0]).value().data(), x.data());
    }

    #[test]
    fn reverse_steps_reverses_each_sample_and_undoes_itself() {
        let x = crate::Tensor::from_vec((0..12).map(|v| v as f32).collect(), &[2, 3, 2]);
        let r = Var::constant(x.clone()).reverse_steps();
        assert_eq!(r.value().data(), &[4., 5., 2., 3., 0., 1., 10., 11., 8., 9., 6., 7.]);
        assert_eq!(r.reverse_steps().value().data(), x.data());
    }
}
