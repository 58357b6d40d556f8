//! Local response normalisation across channels (Krizhevsky et al. 2012; GoogLeNet's stem uses it
//! after its first pooling and after its second convolution), as Caffe and PyTorch define it.
//!
//! Shapes: x N×C×H×W (or N×C×…), output the same. For each sample and position, with n = `size`
//! and the window W(c) = the channels c − ⌊n/2⌋ … c + ⌊(n−1)/2⌋ that exist:
//!   D_c = k + (α/n)·Σ_{c′∈W(c)} a_{c′}²,   b_c = a_c · D_c^(−β).
//!
//! Backward (δ = ∂E/∂b): a_j enters b_j directly and every D_c whose window holds j, so
//!   ∂E/∂a_j = δ_j·D_j^(−β) − (2αβ/n)·a_j·Σ_{c: j∈W(c)} δ_c·a_c·D_c^(−β−1).
//! The forward pass keeps D, so that backward needs one more pass over the channels.

use crate::autodiff::Var;
use crate::tensor::Tensor;

/// The constants of a local response normalisation: window `size` n, `alpha` α, `beta` β, `k`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Lrn {
    /// n, the number of neighbouring channels summed (the channel itself included).
    pub size: usize,
    /// α, the weight of the sum of squares (divided by n).
    pub alpha: f32,
    /// β, the exponent.
    pub beta: f32,
    /// k, the constant added before the exponent.
    pub k: f32,
}

impl Lrn {
    /// GoogLeNet's (and Caffe's) values: n = 5, α = 10⁻⁴, β = 0.75, k = 1.
    pub const GOOGLENET: Lrn = Lrn { size: 5, alpha: 1e-4, beta: 0.75, k: 1.0 };

    /// The channels in the window of channel `c` of `channels`.
    fn window(&self, c: usize, channels: usize) -> std::ops::Range<usize> {
        c.saturating_sub(self.size / 2)..(c + (self.size - 1) / 2 + 1).min(channels)
    }
}

impl Var {
    /// Local response normalisation across the channels (axis 1) of an N×C×… value; see
    /// [`Lrn`] and the module docs for the formula. Panics if the value has fewer than 2 axes
    /// or the size is 0.
    ///
    /// ```
    /// use nabla::ops::Lrn;
    /// use nabla::{Tensor, Var};
    /// let x = Var::constant(Tensor::from_vec(vec![1.0, 2.0], &[1, 2, 1, 1]));
    /// let y = x.local_response_norm(Lrn { size: 3, alpha: 3.0, beta: 1.0, k: 1.0 });
    /// // both windows hold both channels: D = 1 + (3/3)·(1 + 4) = 6
    /// assert_eq!(y.value().data(), &[1.0 / 6.0, 2.0 / 6.0]);
    /// ```
    #[track_caller]
    pub fn local_response_norm(&self, lrn: Lrn) -> Var {
        let shape = self.shape().to_vec();
        assert!(shape.len() >= 2 && lrn.size > 0, "local_response_norm: input {shape:?} is not N×C×…, or size is 0");
        let (channels, inner) = (shape[1], shape[2..].iter().product::<usize>());
        let x = self.value().data();
        let scale = lrn.alpha / lrn.size as f32;
        // D for every element, then b = a·D^(−β)
        let mut d = vec![0.0f32; x.len()];
        for (xs, ds) in x.chunks_exact(channels * inner).zip(d.chunks_exact_mut(channels * inner)) {
            for c in 0..channels {
                let dc = &mut ds[c * inner..(c + 1) * inner];
                dc.fill(0.0);
                for c2 in lrn.window(c, channels) {
                    for (s, &a) in dc.iter_mut().zip(&xs[c2 * inner..(c2 + 1) * inner]) {
                        *s += a * a;
                    }
                }
                dc.iter_mut().for_each(|s| *s = lrn.k + scale * *s);
            }
        }
        let out: Vec<f32> = x.iter().zip(&d).map(|(&a, &dc)| a * dc.powf(-lrn.beta)).collect();
        Var::from_op(
            Tensor::from_vec(out, &shape),
            vec![self.clone()],
            Box::new(move |delta, p| {
                let (x, g) = (p[0].value().data(), delta.data());
                // q_c = δ_c·a_c·D_c^(−β−1), summed back over the windows that hold each channel
                let q: Vec<f32> =
                    g.iter().zip(x).zip(&d).map(|((&g, &a), &dc)| g * a * dc.powf(-lrn.beta - 1.0)).collect();
                let mut dx: Vec<f32> = g.iter().zip(&d).map(|(&g, &dc)| g * dc.powf(-lrn.beta)).collect();
                let factor = 2.0 * scale * lrn.beta;
                let block = channels * inner;
                for ((xs, qs), dxs) in x.chunks_exact(block).zip(q.chunks_exact(block)).zip(dx.chunks_exact_mut(block))
                {
                    for c in 0..channels {
                        for j in lrn.window(c, channels) {
                            let (dj, aj) = (&mut dxs[j * inner..(j + 1) * inner], &xs[j * inner..(j + 1) * inner]);
                            for ((dx, &a), &q) in dj.iter_mut().zip(aj).zip(&qs[c * inner..(c + 1) * inner]) {
                                *dx -= factor * a * q;
                            }
                        }
                    }
                }
                vec![Some(Tensor::from_vec(dx, p[0].shape()))]
            }),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::testing::{check, randn};

    #[test]
    fn lrn_passes_gradient_check() {
        // large α so that the normalisation matters; even and odd window sizes, and a window
        // wider than the channels
        let x = randn(70, &[&[2, 6, 2, 3]]);
        for size in [1, 2, 3, 5, 9] {
            check(&x, |v| v[0].local_response_norm(Lrn { size, alpha: 2.0, beta: 0.75, k: 1.0 }));
        }
        check(&randn(71, &[&[3, 4]]), |v| v[0].local_response_norm(Lrn { size: 3, alpha: 1.5, beta: 0.5, k: 2.0 }));
    }

    #[test]
    fn lrn_matches_the_formula_at_one_point() {
        // channels 1, 2, 3, 4 at one position, n = 3: D_1 = k + α/3·(1 + 4)
        let x = Var::constant(Tensor::from_vec(vec![1.0, 2.0, 3.0, 4.0], &[1, 4, 1, 1]));
        let lrn = Lrn { size: 3, alpha: 0.3, beta: 0.75, k: 2.0 };
        let y = x.local_response_norm(lrn);
        let sums = [1.0 + 4.0, 1.0 + 4.0 + 9.0, 4.0 + 9.0 + 16.0, 9.0 + 16.0];
        for (c, (&got, s)) in y.value().data().iter().zip(sums).enumerate() {
            let want = (c + 1) as f32 * (2.0f32 + 0.1 * s).powf(-0.75);
            assert!((got - want).abs() < 1e-6, "channel {c}: {got} vs {want}");
        }
    }
}
