//! Constant padding of image batches: a border of `value` around every map (LeNet-5 pads MNIST's
//! 28×28 digits to 32×32 with the background value, so that strokes reach the centre of C1's
//! receptive fields even at the edge).
//!
//! # Shapes
//! - input x: N × C × H × W
//! - output y: N × C × (H + 2·PH) × (W + 2·PW)
//!
//! Backward crops δ back to the input's window: the border is a constant and gets no gradient.

use super::Module;
use super::kind::{LayerKind, image, padded};
use super::{Init, Size2};
use crate::autodiff::Var;
use crate::rng::Rng;
use crate::tensor::Tensor;
use serde::{Deserialize, Serialize};

/// Pads the last two axes of an N×C×H×W value by `padding` = (PH, PW) on each side with `value`.
/// Panics naming the shape if the input is not 4-D.
#[track_caller]
pub fn pad2d(x: &Var, padding: (usize, usize), value: f32) -> Var {
    let &[n, c, h, w] = x.shape() else {
        panic!("pad2d: input {:?} is not N×C×H×W (padding {padding:?})", x.shape());
    };
    let (ph, pw) = padding;
    let (oh, ow) = (h + 2 * ph, w + 2 * pw);
    let mut out = vec![value; n * c * oh * ow];
    for (plane, src) in out.chunks_exact_mut(oh * ow).zip(x.value().data().chunks_exact(h * w)) {
        for (row, src_row) in plane[ph * ow..].chunks_exact_mut(ow).zip(src.chunks_exact(w)) {
            row[pw..pw + w].copy_from_slice(src_row);
        }
    }
    Var::from_op(
        Tensor::from_vec(out, &[n, c, oh, ow]),
        vec![x.clone()],
        Box::new(move |delta, _| {
            let mut dx = Vec::with_capacity(n * c * h * w);
            for plane in delta.data().chunks_exact(oh * ow) {
                for row in plane[ph * ow..].chunks_exact(ow).take(h) {
                    dx.extend_from_slice(&row[pw..pw + w]);
                }
            }
            vec![Some(Tensor::from_vec(dx, &[n, c, h, w]))]
        }),
    )
}

/// A border of a constant value around each map.
#[derive(Clone, Copy, Debug)]
pub struct Pad {
    /// (PH, PW), added on each side.
    pub padding: (usize, usize),
    /// The value of the border.
    pub value: f32,
}

impl Module for Pad {
    fn forward(&self, x: &Var) -> Var {
        pad2d(x, self.padding, self.value)
    }
}

/// A border of a constant value around each map in a spec (`type = "pad"`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PadSpec {
    /// (PH, PW) on each side.
    pub padding: Size2,
    /// The border's value (0 by default).
    #[serde(default)]
    pub value: f32,
}

impl LayerKind for PadSpec {
    fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>, String> {
        let (c, h, w) = image(input)?;
        if !self.value.is_finite() {
            return Err(format!("value {} is not a finite number", self.value));
        }
        Ok(vec![c, padded(h, self.padding.0, input)?, padded(w, self.padding.1, input)?])
    }

    fn build(&self, _input: &[usize], _default_init: Init, _rng: &mut Rng) -> Box<dyn Module> {
        Box::new(Pad { padding: self.padding.pair(), value: self.value })
    }

    fn counts(&self, _input: &[usize], _output: &[usize]) -> (usize, usize) {
        (0, 0)
    }

    fn set_init(&mut self, _init: Init) {}

    fn gpu(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::testing::{check, randn};

    #[test]
    fn pad2d_passes_gradient_check() {
        let x = randn(60, &[&[2, 3, 3, 4]]);
        check(&x, |v| pad2d(&v[0], (2, 1), -0.1));
        check(&x, |v| pad2d(&v[0], (0, 3), 0.0));
    }

    #[test]
    fn pad2d_surrounds_each_map_with_the_value() {
        let x = Var::constant(Tensor::from_vec(vec![1.0, 2.0, 3.0, 4.0], &[1, 1, 2, 2]));
        let y = Pad { padding: (1, 1), value: -0.5 }.forward(&x);
        assert_eq!(y.shape(), &[1, 1, 4, 4]);
        #[rustfmt::skip]
        let want = [-0.5, -0.5, -0.5, -0.5,
                    -0.5,  1.0,  2.0, -0.5,
                    -0.5,  3.0,  4.0, -0.5,
                    -0.5, -0.5, -0.5, -0.5];
        assert_eq!(y.value().data(), &want);
    }

    #[test]
    #[should_panic(expected = "pad2d: input [4, 4] is not N×C×H×W (padding (2, 2))")]
    fn pad2d_wrong_rank_panics() {
        let _ = pad2d(&Var::constant(Tensor::zeros(&[4, 4])), (2, 2), 0.0);
    }
}
