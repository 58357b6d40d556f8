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

use super::Size2;
use super::kind::{LayerKind, saturating_product, units, window_values, windows};
use super::{Init, Module};
use crate::autodiff::{Param, Var};
use crate::rng::Rng;
use crate::tensor::Tensor;
use serde::{Deserialize, Serialize};

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

/// A 2-D convolution with `out` maps of `kernel`-sized kernels in a spec (`type = "conv2d"`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Conv2dSpec {
    /// Number of output maps O.
    pub out: usize,
    /// (KH, KW).
    pub kernel: Size2,
    /// (SH, SW), 1 by default.
    #[serde(default = "Size2::one", skip_serializing_if = "Size2::is_one")]
    pub stride: Size2,
    /// Zero padding on each side, 0 by default.
    #[serde(default, skip_serializing_if = "Size2::is_zero")]
    pub padding: Size2,
    /// Weight initialisation; by default He before a ReLU, LeCun last, Xavier otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub init: Option<Init>,
    /// For each output map, the input maps it reads (all of them when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connections: Option<Vec<Vec<usize>>>,
}

impl LayerKind for Conv2dSpec {
    fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>, String> {
        units("out", self.out, input)?;
        let (c, oh, ow) = windows(input, self.kernel, self.stride, self.padding)?;
        if let Some(table) = &self.connections {
            check_table(table, self.out, c).map_err(|e| format!("{e} (input shape {input:?})"))?;
        }
        Ok(vec![self.out, oh, ow])
    }

    fn build(&self, input: &[usize], default_init: Init, rng: &mut Rng) -> Box<dyn Module> {
        let init = self.init.unwrap_or(default_init);
        let (k, s, p) = (self.kernel.pair(), self.stride.pair(), self.padding.pair());
        Box::new(match &self.connections {
            Some(table) => Conv2d::with_table(input[0], table, k, s, p, init, rng),
            None => Conv2d::new(input[0], self.out, k, s, p, init, rng),
        })
    }

    /// Σ_o (links_o·KH·KW + 1) parameters, where links_o is the number of input maps output map
    /// o reads; each used at every one of the OH·OW output positions.
    fn counts(&self, input: &[usize], output: &[usize]) -> (usize, usize) {
        let links: usize = match &self.connections {
            Some(table) => table.iter().map(Vec::len).fold(0, usize::saturating_add),
            None => self.out.saturating_mul(input[0]),
        };
        let params = links.saturating_mul(self.kernel.0).saturating_mul(self.kernel.1).saturating_add(self.out);
        (params, params.saturating_mul(saturating_product(&output[1..])))
    }

    fn values(&self, input: &[usize], output: &[usize]) -> usize {
        window_values(input, output, self.kernel, self.padding)
    }

    /// With a connection table the weight is still out × C × KH × KW, unread links masked to 0.
    fn stored(&self, input: &[usize], output: &[usize]) -> usize {
        match &self.connections {
            Some(_) => {
                let weights = self.out.saturating_mul(saturating_product(&[input[0], self.kernel.0, self.kernel.1]));
                weights.saturating_add(self.out)
            }
            None => self.counts(input, output).0,
        }
    }

    fn set_init(&mut self, init: Init) {
        self.init = Some(init);
    }

    fn gpu(&self) -> bool {
        true
    }
}

/// Checks a connection table: one non-empty list per output map, each naming distinct input maps
/// below `inputs`.
fn check_table(table: &[Vec<usize>], outputs: usize, inputs: usize) -> Result<(), String> {
    if table.len() != outputs {
        return Err(format!("connections has {} entries but out = {outputs} (one list per output map)", table.len()));
    }
    for (o, sources) in table.iter().enumerate() {
        if sources.is_empty() {
            return Err(format!("connections[{o}] is empty: output map {o} would read no input map"));
        }
        if let Some(&c) = sources.iter().find(|&&c| c >= inputs) {
            return Err(format!("connections[{o}] names input map {c}, but there are {inputs} (0 to {})", inputs - 1));
        }
        let mut sorted = sources.clone();
        sorted.sort_unstable();
        if sorted.windows(2).any(|w| w[0] == w[1]) {
            return Err(format!("connections[{o}] names an input map twice: {sources:?}"));
        }
    }
    Ok(())
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
