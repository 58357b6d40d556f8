//! One LSTM step as two fused ops, from the pre-activations a = x_t·W + h_{t−1}·U + b (m × 4H,
//! blocks i, f, g, o) and the previous cell state:
//!   i = σ(a_i), f = σ(a_f), g = tanh(a_g), o = σ(a_o)
//!   c_t = f⊙c_{t−1} + i⊙g            (the cell node)
//!   h_t = o⊙tanh(c_t)                 (the output node)
//! Backward, with δc the gradient reaching c_t (from h_t and from step t+1):
//!   ∂E/∂a_i = δc⊙g⊙i(1−i),  ∂E/∂a_f = δc⊙c_{t−1}⊙f(1−f),  ∂E/∂a_g = δc⊙i⊙(1−g²),
//!   ∂E/∂c_{t−1} = δc⊙f;  from δh: ∂E/∂a_o = δh⊙tanh(c_t)⊙o(1−o), δc += δh⊙o⊙(1 − tanh²(c_t)).
//! Composed from slices and elementwise ops, a step was a dozen graph nodes, each with its own
//! buffers; fused, it is two.

use super::activation::{sigmoid, tanh_rational};
use crate::autodiff::Var;
use crate::tensor::Tensor;

impl Var {
    /// (h_t, c_t) of an LSTM step from the pre-activations `self` (m × 4H, gate blocks i, f, g,
    /// o) and c_{t−1} (m × H; `None` for a zero state).
    #[track_caller]
    pub fn lstm_cell(&self, c_prev: Option<&Var>) -> (Var, Var) {
        let (m, h4) = self.value().dims2("lstm_cell");
        assert!(h4 % 4 == 0, "lstm_cell: pre-activations {:?} are not 4 gate blocks", self.shape());
        let h = h4 / 4;
        if let Some(c) = c_prev {
            assert_eq!(
                c.shape(),
                &[m, h],
                "lstm_cell: cell state {:?} vs pre-activations {:?}",
                c.shape(),
                self.shape()
            );
        }
        let gates = activate_gates(self.value(), h);
        let zeros;
        let prev = match c_prev {
            Some(c) => c.value(),
            None => {
                zeros = Tensor::zeros(&[m, h]);
                &zeros
            }
        };
        let mut c = vec![0.0; m * h];
        for ((c, gr), pr) in c.chunks_exact_mut(h).zip(gates.data().chunks_exact(h4)).zip(prev.data().chunks_exact(h)) {
            let (i, f, g) = (&gr[..h], &gr[h..2 * h], &gr[2 * h..3 * h]);
            for j in 0..h {
                c[j] = f[j] * pr[j] + i[j] * g[j];
            }
        }
        let c = Tensor::from_vec(c, &[m, h]);
        let mut parents = vec![self.clone()];
        parents.extend(c_prev.cloned());
        let (saved_gates, saved_prev) = (gates.clone(), prev.clone());
        let cell = Var::from_op(
            c.clone(),
            parents,
            Box::new(move |dc, p| {
                let mut da = vec![0.0; m * h4];
                let mut dprev = vec![0.0; m * h];
                let rows = da.chunks_exact_mut(h4).zip(dprev.chunks_exact_mut(h));
                let inputs = dc.data().chunks_exact(h).zip(saved_gates.data().chunks_exact(h4));
                for (((da, dp), (dc, gr)), pr) in rows.zip(inputs).zip(saved_prev.data().chunks_exact(h)) {
                    for j in 0..h {
                        let (i, f, g) = (gr[j], gr[h + j], gr[2 * h + j]);
                        da[j] = dc[j] * g * i * (1.0 - i);
                        da[h + j] = dc[j] * pr[j] * f * (1.0 - f);
                        da[2 * h + j] = dc[j] * i * (1.0 - g * g);
                        dp[j] = dc[j] * f;
                    }
                }
                let mut out = vec![Some(Tensor::from_vec(da, &[m, h4]))];
                if p.len() == 2 {
                    out.push(Some(Tensor::from_vec(dprev, &[m, h])));
                }
                out
            }),
        );
        let tanh_c = c.map(tanh_rational);
        let mut hv = vec![0.0; m * h];
        for ((hr, gr), tr) in
            hv.chunks_exact_mut(h).zip(gates.data().chunks_exact(h4)).zip(tanh_c.data().chunks_exact(h))
        {
            for j in 0..h {
                hr[j] = gr[3 * h + j] * tr[j];
            }
        }
        let out = Var::from_op(
            Tensor::from_vec(hv, &[m, h]),
            vec![self.clone(), cell.clone()],
            Box::new(move |dh, _| {
                let mut da = vec![0.0; m * h4];
                let mut dc = vec![0.0; m * h];
                let rows = da.chunks_exact_mut(h4).zip(dc.chunks_exact_mut(h));
                let inputs = dh.data().chunks_exact(h).zip(gates.data().chunks_exact(h4));
                for (((da, dc), (dh, gr)), tr) in rows.zip(inputs).zip(tanh_c.data().chunks_exact(h)) {
                    for j in 0..h {
                        let o = gr[3 * h + j];
                        da[3 * h + j] = dh[j] * tr[j] * o * (1.0 - o);
                        dc[j] = dh[j] * o * (1.0 - tr[j] * tr[j]);
                    }
                }
                vec![Some(Tensor::from_vec(da, &[m, h4])), Some(Tensor::from_vec(dc, &[m, h]))]
            }),
        );
        (out, cell)
    }
}

/// σ on the i, f and o blocks of each row, tanh on the g block.
fn activate_gates(a: &Tensor, h: usize) -> Tensor {
    let mut out = a.data().to_vec();
    for row in out.chunks_exact_mut(4 * h) {
        let (ifg, o) = row.split_at_mut(3 * h);
        let (i_f, g) = ifg.split_at_mut(2 * h);
        i_f.iter_mut().chain(o.iter_mut()).for_each(|x| *x = sigmoid(*x));
        g.iter_mut().for_each(|x| *x = tanh_rational(*x));
    }
    Tensor::from_vec(out, a.shape())
}

#[cfg(test)]
mod tests {
    use crate::Var;
    use crate::ops::testing::{check, randn};

    /// The fused step by its definition: slices and elementwise ops.
    fn composed(a: &Var, c_prev: Option<&Var>) -> (Var, Var) {
        let h = a.shape()[1] / 4;
        let block = |k: usize| a.slice(1, k * h..(k + 1) * h);
        let (i, f, g, o) = (block(0).sigmoid(), block(1).sigmoid(), block(2).tanh(), block(3).sigmoid());
        let c = match c_prev {
            Some(c) => f.mul(c).add(&i.mul(&g)),
            None => i.mul(&g),
        };
        (o.mul(&c.tanh()), c)
    }

    #[test]
    fn lstm_cell_passes_gradient_check_and_equals_its_definition() {
        let xs = randn(21, &[&[3, 8], &[3, 2]]);
        // a loss that reaches both outputs, so that both backward rules are checked
        check(&xs, |v| {
            let (h, c) = v[0].lstm_cell(Some(&v[1]));
            h.add(&c.scale(0.7))
        });
        check(&xs[..1], |v| v[0].lstm_cell(None).0);
        let (a, c) = (Var::leaf(xs[0].clone()), Var::leaf(xs[1].clone()));
        for prev in [Some(&c), None] {
            let (fused, want) = (a.lstm_cell(prev), composed(&a, prev));
            for (x, y) in [(&fused.0, &want.0), (&fused.1, &want.1)] {
                for (p, q) in x.value().data().iter().zip(y.value().data()) {
                    assert!((p - q).abs() < 1e-6, "{p} vs {q}");
                }
            }
        }
    }
}
