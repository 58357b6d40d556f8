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

use super::kind::{LayerKind, saturating_product, window_values, windows};
use super::{Init, Size2};
use super::{Module, pad2d};
use crate::autodiff::{Param, Var};
use crate::rng::Rng;
use crate::tensor::Tensor;
use serde::{Deserialize, Serialize};

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

/// Max pooling in a spec (`type = "maxpool2d"`), over a border of −∞ when padded.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MaxPool2dSpec {
    /// (KH, KW).
    pub kernel: Size2,
    /// (SH, SW); the kernel size by default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stride: Option<Size2>,
    /// (PH, PW) on each side, 0 by default; at most half the kernel.
    #[serde(default, skip_serializing_if = "Size2::is_zero")]
    pub padding: Size2,
}

/// Average pooling in a spec (`type = "avgpool2d"`), over a border of zeros (counted in the
/// average) when padded.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AvgPool2dSpec {
    /// (KH, KW).
    pub kernel: Size2,
    /// (SH, SW); the kernel size by default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stride: Option<Size2>,
    /// (PH, PW) on each side, 0 by default; at most half the kernel.
    #[serde(default, skip_serializing_if = "Size2::is_zero")]
    pub padding: Size2,
}

/// The output shape of a padded pooling layer: the padding may be at most half the kernel.
fn pooled_shape(input: &[usize], kernel: Size2, stride: Option<Size2>, padding: Size2) -> Result<Vec<usize>, String> {
    // 2p > k, written so that a huge p cannot overflow
    if padding.0 > kernel.0 / 2 || padding.1 > kernel.1 / 2 {
        return Err(format!("padding {padding} is more than half the kernel {kernel} (input shape {input:?})"));
    }
    let (c, oh, ow) = windows(input, kernel, stride.unwrap_or(kernel), padding)?;
    Ok(vec![c, oh, ow])
}

/// No parameters; each output reads its KH·KW window.
fn pool_counts(kernel: Size2, output: &[usize]) -> (usize, usize) {
    (0, saturating_product(output).saturating_mul(kernel.0).saturating_mul(kernel.1))
}

impl LayerKind for MaxPool2dSpec {
    fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>, String> {
        pooled_shape(input, self.kernel, self.stride, self.padding)
    }

    fn build(&self, _input: &[usize], _default_init: Init, _rng: &mut Rng) -> Box<dyn Module> {
        let (kernel, padding) = (self.kernel.pair(), self.padding.pair());
        Box::new(MaxPool2d { kernel, stride: self.stride.unwrap_or(self.kernel).pair(), padding })
    }

    fn counts(&self, _input: &[usize], output: &[usize]) -> (usize, usize) {
        pool_counts(self.kernel, output)
    }

    fn values(&self, input: &[usize], output: &[usize]) -> usize {
        window_values(input, output, self.kernel, self.padding)
    }

    fn set_init(&mut self, _init: Init) {}

    fn gpu(&self) -> bool {
        true
    }
}

impl LayerKind for AvgPool2dSpec {
    fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>, String> {
        pooled_shape(input, self.kernel, self.stride, self.padding)
    }

    fn build(&self, _input: &[usize], _default_init: Init, _rng: &mut Rng) -> Box<dyn Module> {
        let (kernel, padding) = (self.kernel.pair(), self.padding.pair());
        Box::new(AvgPool2d { kernel, stride: self.stride.unwrap_or(self.kernel).pair(), padding })
    }

    fn counts(&self, _input: &[usize], output: &[usize]) -> (usize, usize) {
        pool_counts(self.kernel, output)
    }

    fn values(&self, input: &[usize], output: &[usize]) -> usize {
        window_values(input, output, self.kernel, self.padding)
    }

    fn set_init(&mut self, _init: Init) {}

    fn gpu(&self) -> bool {
        true
    }
}

/// LeNet-5's trainable sub-sampling in a spec (`type = "subsample"`): w₁·Σ(window) + w₂ per map.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubsampleSpec {
    /// (KH, KW).
    pub kernel: Size2,
    /// (SH, SW); the kernel size by default.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stride: Option<Size2>,
}

impl LayerKind for SubsampleSpec {
    fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>, String> {
        let (c, oh, ow) = windows(input, self.kernel, self.stride.unwrap_or(self.kernel), Size2(0, 0))?;
        Ok(vec![c, oh, ow])
    }

    fn build(&self, input: &[usize], _default_init: Init, _rng: &mut Rng) -> Box<dyn Module> {
        Box::new(Subsample::new(input[0], self.kernel.pair(), self.stride.unwrap_or(self.kernel).pair()))
    }

    /// 2 parameters per map; each output unit has KH·KW + 1 connections.
    fn counts(&self, input: &[usize], output: &[usize]) -> (usize, usize) {
        let window = self.kernel.0.saturating_mul(self.kernel.1).saturating_add(1);
        (input[0].saturating_mul(2), saturating_product(output).saturating_mul(window))
    }

    fn set_init(&mut self, _init: Init) {}

    fn gpu(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::autodiff::GradCheck;
    use crate::nn::spec::tests::spec_of;
    use crate::ops::testing::randn;
    use crate::rng::Rng;

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

    #[test]
    fn shapes_are_inferred_through_convolutions_and_pooling() {
        let spec = spec_of(
            &[1, 28, 28],
            r#"[{"type":"pad","padding":2,"value":-0.1},{"type":"conv2d","out":6,"kernel":5},
            {"type":"maxpool2d","kernel":2},{"type":"conv2d","out":4,"kernel":[3,2],"stride":[2,1],"padding":[1,0]},
            {"type":"subsample","kernel":2,"stride":1},{"type":"flatten"},{"type":"linear","out":7}]"#,
        );
        let shapes = spec.shapes().unwrap();
        // 14×14 → conv 3×2, stride (2, 1), padding (1, 0): (14 + 2 − 3)/2 + 1 = 7, (14 − 2)/1 + 1 = 13
        let want: Vec<Vec<usize>> =
            vec![vec![1, 32, 32], vec![6, 28, 28], vec![6, 14, 14], vec![4, 7, 13], vec![4, 6, 12], vec![288], vec![7]];
        assert_eq!(shapes, want);
        let net = spec.build(&mut Rng::seed(1)).unwrap();
        let x = Var::constant(Tensor::zeros(&[2, 1, 28, 28]));
        assert_eq!(net.forward(&x).shape(), &[2, 7]);
    }
}
