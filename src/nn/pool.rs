//! Pooling layers: max and average pooling (no parameters), and LeNet-5's trainable sub-sampling,
//! which sums each window and applies one weight and one bias per feature map.
//!
//! # Shapes
//! - input x: N × C × H × W
//! - output y: N × C × OH × OW, OH = (H + 2·PH − KH)/SH + 1, OW likewise (padding PH, PW is 0
//!   unless set; [`Subsample`] has none)
//! - [`Subsample`] weight and bias: C each
//!
//! LeNet-5's S2 (LeCun et al. 1998, section II.B): S2ᵏ = f(w₁ᵏ·Σ(2×2 block of C1ᵏ) + w₂ᵏ) with
//! f the squashing function. [`Subsample`] computes the argument of f; the activation follows as
//! its own layer, so that the spec reads `subsample` then `scaled-tanh`.

use super::{Module, pad2d};
use crate::autodiff::{Param, Var};
use crate::tensor::Tensor;

/// Max pooling over KH×KW windows moved by a stride, optionally padded as PyTorch pads it: as if
/// by a border of −∞, which is never a window's maximum (the op clips the windows instead of
/// building the border). GoogLeNet's 3×3 pools keep or halve the size this way.
#[derive(Clone, Copy, Debug)]
pub struct MaxPool2d {
    /// (KH, KW).
    pub kernel: (usize, usize),
    /// (SH, SW).
    pub stride: (usize, usize),
    /// (PH, PW) on each side, usually 0.
    pub padding: (usize, usize),
}

impl Module for MaxPool2d {
    fn forward(&self, x: &Var) -> Var {
        x.max_pool2d_padded(self.kernel, self.stride, self.padding)
    }
}

/// Average pooling over KH×KW windows moved by a stride, optionally over a border of zeros that
/// counts in each average (PyTorch's `count_include_pad`).
#[derive(Clone, Copy, Debug)]
pub struct AvgPool2d {
    /// (KH, KW).
    pub kernel: (usize, usize),
    /// (SH, SW).
    pub stride: (usize, usize),
    /// (PH, PW) on each side, usually 0.
    pub padding: (usize, usize),
}

impl Module for AvgPool2d {
    fn forward(&self, x: &Var) -> Var {
        // the pad's backward crops δ, so the border gets no gradient
        let x = if self.padding == (0, 0) { x.clone() } else { pad2d(x, self.padding, 0.0) };
        x.avg_pool2d(self.kernel, self.stride)
    }
}

/// LeNet-5's trainable sub-sampling: `y[n, c] = w₁[c]·(window sums of x[n, c]) + w₂[c]`, two
/// trainable numbers per feature map.
///
/// ```
/// use nabla::nn::{Module, Subsample};
/// use nabla::{Tensor, Var};
/// let s2 = Subsample::new(6, (2, 2), (2, 2));
/// assert_eq!(s2.num_parameters(), 12);
/// let y = s2.forward(&Var::constant(Tensor::ones(&[1, 6, 28, 28])));
/// assert_eq!(y.shape(), &[1, 6, 14, 14]);
/// assert_eq!(y.value().data()[0], 1.0); // starts as the window average
/// ```
#[derive(Clone, Debug)]
pub struct Subsample {
    /// w₁, one coefficient per map.
    pub weight: Param,
    /// w₂, one bias per map.
    pub bias: Param,
    /// (KH, KW).
    pub kernel: (usize, usize),
    /// (SH, SW).
    pub stride: (usize, usize),
}

impl Subsample {
    /// Sub-sampling of `channels` maps. The coefficients start at 1/(KH·KW), so that the layer
    /// begins as average pooling, and the biases at 0.
    pub fn new(channels: usize, kernel: (usize, usize), stride: (usize, usize)) -> Subsample {
        Subsample {
            weight: Param::new(Tensor::full(&[channels], 1.0 / (kernel.0 * kernel.1) as f32)),
            bias: Param::new(Tensor::zeros(&[channels])),
            kernel,
            stride,
        }
    }
}

impl Module for Subsample {
    fn forward(&self, x: &Var) -> Var {
        x.sum_pool2d(self.kernel, self.stride).channel_affine(&self.weight.var(), &self.bias.var())
    }

    fn params(&self) -> Vec<(String, &Param)> {
        vec![("weight".into(), &self.weight), ("bias".into(), &self.bias)]
    }

    fn params_mut(&mut self) -> Vec<(String, &mut Param)> {
        vec![("weight".into(), &mut self.weight), ("bias".into(), &mut self.bias)]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::autodiff::GradCheck;
    use crate::ops::testing::randn;

    #[test]
    fn subsample_layer_passes_gradient_check() {
        let t = randn(50, &[&[2, 3, 7, 6], &[3], &[3]]);
        let layer = Subsample::new(3, (2, 3), (2, 2));
        let y = layer.forward(&Var::constant(t[0].clone()));
        assert_eq!(y.shape(), &[2, 3, 3, 2]);
        let f = |v: &[Var]| v[0].sum_pool2d((2, 3), (2, 2)).channel_affine(&v[1], &v[2]);
        assert!(GradCheck::default().run(&t, f).is_ok());
        // the layer's gradients reach both of its parameters
        let grads = y.square().sum().backward();
        assert!(grads.get_param(&layer.weight).is_some() && grads.get_param(&layer.bias).is_some());
    }

    #[test]
    fn pooling_layers_call_their_ops() {
        let x = Var::constant(Tensor::from_vec((0..16).map(|i| i as f32).collect(), &[1, 1, 4, 4]));
        let max = MaxPool2d { kernel: (2, 2), stride: (2, 2), padding: (0, 0) };
        let avg = AvgPool2d { kernel: (2, 2), stride: (2, 2), padding: (0, 0) };
        assert_eq!(max.forward(&x).value().data(), &[5.0, 7.0, 13.0, 15.0]);
        assert_eq!(avg.forward(&x).value().data(), &[2.5, 4.5, 10.5, 12.5]);
        assert_eq!(max.num_parameters() + avg.num_parameters(), 0);
    }

    #[test]
    fn padded_pooling_keeps_the_size_and_never_picks_the_border() {
        // GoogLeNet's 3×3/1 pool with padding 1 keeps 4×4; on all-negative inputs a zero border
        // would win every edge window, the −∞ border never does
        let x = Var::constant(Tensor::from_vec((0..16).map(|i| -1.0 - i as f32).collect(), &[1, 1, 4, 4]));
        let max = MaxPool2d { kernel: (3, 3), stride: (1, 1), padding: (1, 1) };
        let y = max.forward(&x);
        assert_eq!(y.shape(), &[1, 1, 4, 4]);
        assert_eq!(&y.value().data()[..4], &[-1.0, -1.0, -2.0, -3.0]);
        // 3×3/2 with padding 1 halves 4×4 to 2×2, as GoogLeNet's stride-2 pools halve 112 to 56
        let half = MaxPool2d { kernel: (3, 3), stride: (2, 2), padding: (1, 1) };
        assert_eq!(half.forward(&x).value().data(), &[-1.0, -2.0, -5.0, -6.0]);
        // the zero border counts in the average: the corner window holds 4 pixels of 9
        let avg = AvgPool2d { kernel: (3, 3), stride: (1, 1), padding: (1, 1) };
        let corner = (-1.0 - 2.0 - 5.0 - 6.0) / 9.0;
        assert!((avg.forward(&x).value().data()[0] - corner).abs() < 1e-6);
        // the gradient reaches only real pixels, each window's maximum
        let t = randn(51, &[&[2, 2, 5, 4]]);
        let f = |v: &[Var]| max.forward(&v[0]);
        assert!(GradCheck::default().run(&t, f).is_ok());
    }
}
