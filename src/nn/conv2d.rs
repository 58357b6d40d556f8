//! The convolutional layer: O feature maps, each the sum over the input maps of a KH×KW kernel
//! slid over that map, plus a bias (cross-correlation, as every library computes it; see
//! [`Var::conv2d`]). A fixed connection table can restrict which input maps feed each output map,
//! as in LeNet-5's C3 (Table I of LeCun et al. 1998).
//!
//! # Shapes
//! - input x: N × C × H × W
//! - weight W: O × C × KH × KW (w[o, c, u, v] links input map c to output map o)
//! - bias b: O
//! - output y: N × O × OH × OW, OH = (H + 2·PH − KH)/SH + 1, OW likewise
//!
//! # Partial connections
//! With a table, a fixed 0/1 mask M (O × C × KH × KW, 1 where output map o reads input map c) is
//! multiplied onto the weights in every forward pass: y = conv(x, W ⊙ M) + b. Then ∂E/∂W = M ⊙
//! ∂E/∂(W ⊙ M), so masked weights receive a zero gradient; they start at zero too, and so they stay
//! zero under every optimizer (and weight decay, and max-norm). Only the unmasked weights count as
//! parameters.

use super::{Init, Module};
use crate::autodiff::{Param, Var};
use crate::rng::Rng;
use crate::tensor::Tensor;

/// A 2-D convolutional layer.
///
/// ```
/// use nabla::nn::{Conv2d, Init, Module};
/// use nabla::{Tensor, Var, rng::Rng};
/// // LeNet's C1: 6 maps of 5×5 kernels over a 32×32 image
/// let c1 = Conv2d::new(1, 6, (5, 5), (1, 1), (0, 0), Init::Xavier, &mut Rng::seed(0));
/// let y = c1.forward(&Var::constant(Tensor::zeros(&[2, 1, 32, 32])));
/// assert_eq!(y.shape(), &[2, 6, 28, 28]);
/// assert_eq!(c1.num_parameters(), 156);
/// ```
#[derive(Clone, Debug)]
pub struct Conv2d {
    /// W, O × C × KH × KW.
    pub weight: Param,
    /// b, O.
    pub bias: Param,
    /// (rows, columns).
    pub stride: (usize, usize),
    /// Zero padding (rows, columns) on each side.
    pub padding: (usize, usize),
    /// The 0/1 connection mask, shaped like W, for a partially connected layer.
    mask: Option<Tensor>,
}

impl Conv2d {
    /// A fully connected convolution from `inputs` to `outputs` maps with `kernel` = (KH, KW),
    /// weights drawn by `init` with fan-in C·KH·KW and fan-out O·KH·KW (as PyTorch counts them),
    /// and zero biases.
    pub fn new(
        inputs: usize,
        outputs: usize,
        kernel: (usize, usize),
        stride: (usize, usize),
        padding: (usize, usize),
        init: Init,
        rng: &mut Rng,
    ) -> Conv2d {
        let area = kernel.0 * kernel.1;
        let shape = [outputs, inputs, kernel.0, kernel.1];
        Conv2d {
            weight: Param::new(init.draw(rng, &shape, inputs * area, outputs * area)),
            bias: Param::new(Tensor::zeros(&[outputs])),
            stride,
            padding,
            mask: None,
        }
    }

    /// A partially connected convolution: output map o reads only the input maps `table[o]`.
    /// Each output map's weights are drawn with its own fan-in, `|table[o]|·KH·KW`; the fan-out is
    /// the mean number of output maps an input map feeds, times KH·KW. Panics if the table does
    /// not have one entry per output map or names an input map that does not exist (specs check
    /// this first and return an error).
    #[track_caller]
    pub fn with_table(
        inputs: usize,
        table: &[Vec<usize>],
        kernel: (usize, usize),
        stride: (usize, usize),
        padding: (usize, usize),
        init: Init,
        rng: &mut Rng,
    ) -> Conv2d {
        let (outputs, area) = (table.len(), kernel.0 * kernel.1);
        let links: usize = table.iter().map(Vec::len).sum();
        let fan_out = (links * area).div_ceil(inputs.max(1));
        let mut weight = vec![0.0; outputs * inputs * area];
        let mut mask = vec![0.0; outputs * inputs * area];
        for (o, sources) in table.iter().enumerate() {
            let drawn = init.draw(rng, &[sources.len() * area], sources.len() * area, fan_out);
            for (k, &c) in sources.iter().enumerate() {
                assert!(c < inputs, "Conv2d::with_table: output map {o} reads input map {c} of {inputs}");
                let at = (o * inputs + c) * area;
                weight[at..at + area].copy_from_slice(&drawn.data()[k * area..(k + 1) * area]);
                mask[at..at + area].fill(1.0);
            }
        }
        let shape = [outputs, inputs, kernel.0, kernel.1];
        Conv2d {
            weight: Param::new(Tensor::from_vec(weight, &shape)),
            bias: Param::new(Tensor::zeros(&[outputs])),
            stride,
            padding,
            mask: Some(Tensor::from_vec(mask, &shape)),
        }
    }

    /// The connection mask of a partially connected layer.
    pub fn mask(&self) -> Option<&Tensor> {
        self.mask.as_ref()
    }
}

impl Module for Conv2d {
    fn forward(&self, x: &Var) -> Var {
        let w = match &self.mask {
            Some(mask) => self.weight.var().mul(&Var::constant(mask.clone())),
            None => self.weight.var(),
        };
        x.conv2d(&w, Some(&self.bias.var()), self.stride, self.padding)
    }

    fn params(&self) -> Vec<(String, &Param)> {
        vec![("weight".into(), &self.weight), ("bias".into(), &self.bias)]
    }

    fn params_mut(&mut self) -> Vec<(String, &mut Param)> {
        vec![("weight".into(), &mut self.weight), ("bias".into(), &mut self.bias)]
    }

    /// Unmasked weights and the biases.
    fn num_parameters(&self) -> usize {
        let weights = match &self.mask {
            Some(mask) => mask.data().iter().filter(|&&m| m != 0.0).count(),
            None => self.weight.value().numel(),
        };
        weights + self.bias.value().numel()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::autodiff::GradCheck;
    use crate::ops::testing::randn;

    #[test]
    fn conv2d_layer_passes_gradient_check_with_stride_and_padding() {
        let mut layer = Conv2d::new(3, 4, (3, 2), (2, 1), (1, 1), Init::He, &mut Rng::seed(1));
        let inputs = randn(2, &[&[2, 3, 6, 5], &[4, 3, 3, 2], &[4]]);
        *layer.weight.value_mut() = inputs[1].clone();
        *layer.bias.value_mut() = inputs[2].clone();
        let want = layer.forward(&Var::constant(inputs[0].clone()));
        // the layer computes the op with its parameters
        let by_op = Var::constant(inputs[0].clone()).conv2d(
            &Var::constant(inputs[1].clone()),
            Some(&Var::constant(inputs[2].clone())),
            (2, 1),
            (1, 1),
        );
        assert_eq!(want.value(), by_op.value());
        let check = GradCheck::default().run(&inputs, |v| v[0].conv2d(&v[1], Some(&v[2]), (2, 1), (1, 1)));
        assert!(check.is_ok(), "{check:?}");
    }

    #[test]
    fn masked_weights_stay_zero_and_get_zero_gradient() {
        let table = vec![vec![0], vec![1, 2], vec![0, 1, 2]];
        let layer = Conv2d::with_table(3, &table, (2, 2), (1, 1), (0, 0), Init::Xavier, &mut Rng::seed(3));
        assert_eq!(layer.num_parameters(), 6 * 4 + 3);
        let w = layer.weight.value().data();
        // output map 0 reads input map 0 only
        assert!(w[4..12].iter().all(|&v| v == 0.0) && w[..4].iter().all(|&v| v != 0.0));
        let x = Var::constant(randn(4, &[&[2, 3, 4, 4]]).remove(0));
        let grads = layer.forward(&x).square().sum().backward();
        let g = grads.get_param(&layer.weight).unwrap();
        for (gv, m) in g.data().iter().zip(layer.mask().unwrap().data()) {
            assert!(*m == 1.0 || *gv == 0.0, "a masked weight got gradient {gv}");
        }
        assert!(g.data()[..4].iter().any(|&v| v != 0.0));
        // the gradient through the mask passes the checker (inputs, weights, bias)
        let inputs = randn(5, &[&[2, 3, 4, 4], &[3, 3, 2, 2], &[3]]);
        let mask = Var::constant(layer.mask().unwrap().clone());
        let check = GradCheck::default().run(&inputs, |v| v[0].conv2d(&v[1].mul(&mask), Some(&v[2]), (1, 1), (0, 0)));
        assert!(check.is_ok(), "{check:?}");
    }
}
