//! The Inception module of GoogLeNet (Szegedy et al. 2015, "Going deeper with convolutions",
//! figure 2b): four branches side by side over the same input, their outputs concatenated along
//! the channels, so that the next layer sees features of several scales at once.
//!
//! ```text
//!            ┌─ 1×1 ──────────────────┐
//!            ├─ 1×1 (3×3 reduce) ─ 3×3 ┤
//!   input ───┤                         ├── concatenate ──▶ output
//!            ├─ 1×1 (5×5 reduce) ─ 5×5 ┤
//!            └─ 3×3 max pool ─ 1×1 (pool proj)
//! ```
//!
//! The 1×1 "reduce" convolutions shrink the channels before the expensive 3×3 and 5×5 ones; that
//! is what keeps GoogLeNet's 22 layers at 1.5 billion multiply-adds. Every convolution is followed
//! by a ReLU, the 3×3 and 5×5 ones are padded (1 and 2) and the pool is 3×3 with stride 1 and
//! padding 1, so that all four branches keep the input's H×W.
//!
//! Parameters are named as in the paper's Table 1 and Caffe's model: `1x1`, `3x3_reduce`, `3x3`,
//! `5x5_reduce`, `5x5`, `pool_proj`, each with a `weight` and a `bias`.
//!
//! # Shapes
//! - input x: N × C × H × W
//! - output y: N × (#1×1 + #3×3 + #5×5 + pool proj) × H × W

use super::kind::{LayerKind, image, saturating_product, units, window_values};
use super::{Conv2d, Init, MaxPool2d, Module, Size2};
use crate::autodiff::{Param, Var};
use crate::rng::Rng;
use serde::{Deserialize, Serialize};

/// The channel counts of an Inception module, the columns of the paper's Table 1.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InceptionSizes {
    /// #1×1: output maps of the 1×1 branch.
    pub c1x1: usize,
    /// #3×3 reduce: the 1×1 maps before the 3×3 convolution.
    pub c3x3_reduce: usize,
    /// #3×3: output maps of the 3×3 branch.
    pub c3x3: usize,
    /// #5×5 reduce: the 1×1 maps before the 5×5 convolution.
    pub c5x5_reduce: usize,
    /// #5×5: output maps of the 5×5 branch.
    pub c5x5: usize,
    /// pool proj: the 1×1 maps after the max pool.
    pub pool_proj: usize,
}

impl InceptionSizes {
    /// The output maps: the four branches' maps together.
    pub fn outputs(&self) -> usize {
        self.c1x1 + self.c3x3 + self.c5x5 + self.pool_proj
    }

    /// The convolutions as (name, input maps, output maps, kernel size), given `inputs` maps in.
    pub fn convolutions(&self, inputs: usize) -> [(&'static str, usize, usize, usize); 6] {
        [
            ("1x1", inputs, self.c1x1, 1),
            ("3x3_reduce", inputs, self.c3x3_reduce, 1),
            ("3x3", self.c3x3_reduce, self.c3x3, 3),
            ("5x5_reduce", inputs, self.c5x5_reduce, 1),
            ("5x5", self.c5x5_reduce, self.c5x5, 5),
            ("pool_proj", inputs, self.pool_proj, 1),
        ]
    }
}

/// An Inception module.
///
/// ```
/// use nabla::nn::{Inception, InceptionSizes, Init, Module};
/// use nabla::{Tensor, Var, rng::Rng};
/// // GoogLeNet's inception (3a): 192 maps of 28×28 in, 64 + 128 + 32 + 32 = 256 out
/// let sizes = InceptionSizes { c1x1: 64, c3x3_reduce: 96, c3x3: 128, c5x5_reduce: 16, c5x5: 32, pool_proj: 32 };
/// let module = Inception::new(192, sizes, Init::He, &mut Rng::seed(0));
/// let y = module.forward(&Var::constant(Tensor::zeros(&[1, 192, 28, 28])));
/// assert_eq!(y.shape(), &[1, 256, 28, 28]);
/// assert_eq!(module.num_parameters(), 163_328 + 64 + 96 + 128 + 16 + 32 + 32); // weights + biases
/// ```
#[derive(Clone, Debug)]
pub struct Inception {
    /// The six convolutions, in the order of [`InceptionSizes::convolutions`].
    convs: Vec<(&'static str, Conv2d)>,
}

impl Inception {
    /// A module over `inputs` maps, with weights drawn by `init` (He by default in specs: every
    /// convolution feeds a ReLU) and zero biases.
    pub fn new(inputs: usize, sizes: InceptionSizes, init: Init, rng: &mut Rng) -> Inception {
        let convs = sizes
            .convolutions(inputs)
            .into_iter()
            .map(|(name, c, o, k)| (name, Conv2d::new(c, o, (k, k), (1, 1), (k / 2, k / 2), init, rng)))
            .collect();
        Inception { convs }
    }

    fn conv(&self, i: usize, x: &Var) -> Var {
        self.convs[i].1.forward(x).relu()
    }
}

impl Module for Inception {
    fn forward(&self, x: &Var) -> Var {
        let pool = MaxPool2d { kernel: (3, 3), stride: (1, 1), padding: (1, 1) };
        let branches = [
            self.conv(0, x),
            self.conv(2, &self.conv(1, x)),
            self.conv(4, &self.conv(3, x)),
            self.conv(5, &pool.forward(x)),
        ];
        Var::concat(&branches, 1)
    }

    fn params(&self) -> Vec<(String, &Param)> {
        let named = self.convs.iter().map(|(name, conv)| (name, conv.params()));
        named.flat_map(|(name, ps)| ps.into_iter().map(move |(p, v)| (format!("{name}.{p}"), v))).collect()
    }

    fn params_mut(&mut self) -> Vec<(String, &mut Param)> {
        let named = self.convs.iter_mut().map(|(name, conv)| (*name, conv.params_mut()));
        named.flat_map(|(name, ps)| ps.into_iter().map(move |(p, v)| (format!("{name}.{p}"), v))).collect()
    }
}

/// GoogLeNet's Inception module in a spec (`type = "inception"`), with the channel counts of the
/// paper's Table 1.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InceptionSpec {
    /// #1×1.
    #[serde(rename = "1x1")]
    pub c1x1: usize,
    /// #3×3 reduce.
    #[serde(rename = "3x3_reduce")]
    pub c3x3_reduce: usize,
    /// #3×3.
    #[serde(rename = "3x3")]
    pub c3x3: usize,
    /// #5×5 reduce.
    #[serde(rename = "5x5_reduce")]
    pub c5x5_reduce: usize,
    /// #5×5.
    #[serde(rename = "5x5")]
    pub c5x5: usize,
    /// pool proj.
    pub pool_proj: usize,
    /// Weight initialisation of its convolutions (He by default: each feeds a ReLU).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub init: Option<Init>,
}

impl InceptionSpec {
    /// The channel counts.
    pub fn sizes(&self) -> InceptionSizes {
        let InceptionSpec { c1x1, c3x3_reduce, c3x3, c5x5_reduce, c5x5, pool_proj, .. } = *self;
        InceptionSizes { c1x1, c3x3_reduce, c3x3, c5x5_reduce, c5x5, pool_proj }
    }
}

impl LayerKind for InceptionSpec {
    fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>, String> {
        let (_, h, w) = image(input)?;
        let sizes = self.sizes();
        for (name, _, out, _) in sizes.convolutions(0) {
            units(name, out, input)?;
        }
        let outputs = [sizes.c1x1, sizes.c3x3, sizes.c5x5, sizes.pool_proj]
            .iter()
            .try_fold(0usize, |n, &c| n.checked_add(c))
            .ok_or_else(|| format!("the branches' output maps add up past {} (input shape {input:?})", usize::MAX))?;
        Ok(vec![outputs, h, w])
    }

    /// Its convolutions feed ReLUs: He unless the spec says otherwise, whatever follows.
    fn build(&self, input: &[usize], _default_init: Init, rng: &mut Rng) -> Box<dyn Module> {
        Box::new(Inception::new(input[0], self.sizes(), self.init.unwrap_or(Init::He), rng))
    }

    /// Each of its six convolutions' values (padded input, im2col columns, output) at H×W, the
    /// 3×3 pool's, and the concatenated output.
    fn values(&self, input: &[usize], output: &[usize]) -> usize {
        let (h, w) = (input[1], input[2]);
        let convs = self.sizes().convolutions(input[0]);
        let branches = convs.iter().fold(0usize, |n, &(_, c, o, k)| {
            n.saturating_add(window_values(&[c, h, w], &[o, h, w], Size2(k, k), Size2(k / 2, k / 2)))
        });
        let pool = window_values(input, input, Size2(3, 3), Size2(1, 1));
        branches.saturating_add(pool).saturating_add(saturating_product(output))
    }

    /// Its six convolutions at the output's H×W, and the 3×3 pool before pool proj.
    fn counts(&self, input: &[usize], output: &[usize]) -> (usize, usize) {
        let convs = self.sizes().convolutions(input[0]);
        let params = convs.iter().fold(0usize, |n, &(_, c, o, k)| {
            n.saturating_add(o.saturating_mul(c.saturating_mul(k * k).saturating_add(1)))
        });
        let pool = saturating_product(input).saturating_mul(9);
        (params, params.saturating_mul(saturating_product(&output[1..])).saturating_add(pool))
    }

    fn set_init(&mut self, init: Init) {
        self.init = Some(init);
    }

    fn gpu(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::autodiff::GradCheck;
    use crate::nn::spec::tests::spec_of;
    use crate::nn::{Layer, LayerSpec, LrnSpec};
    use crate::ops::testing::randn;

    fn small() -> InceptionSizes {
        InceptionSizes { c1x1: 2, c3x3_reduce: 2, c3x3: 3, c5x5_reduce: 1, c5x5: 2, pool_proj: 1 }
    }

    #[test]
    fn branches_are_concatenated_in_order_and_keep_the_size() {
        let module = Inception::new(3, small(), Init::He, &mut Rng::seed(3));
        let x = Var::constant(randn(1, &[&[2, 3, 6, 5]]).remove(0));
        let y = module.forward(&x);
        assert_eq!(y.shape(), &[2, 8, 6, 5]);
        // the first two maps are the 1×1 branch alone, the last one the pool branch
        let first = module.convs[0].1.forward(&x).relu();
        assert_eq!(y.value().slice(1, 0..2).data(), first.value().data());
        let pool = MaxPool2d { kernel: (3, 3), stride: (1, 1), padding: (1, 1) };
        let last = module.convs[5].1.forward(&pool.forward(&x)).relu();
        assert_eq!(y.value().slice(1, 7..8).data(), last.value().data());
        let names: Vec<String> = module.params().into_iter().map(|(n, _)| n).collect();
        assert_eq!(names[..4], ["1x1.weight", "1x1.bias", "3x3_reduce.weight", "3x3_reduce.bias"]);
        assert_eq!(names.len(), 12);
    }

    #[test]
    fn inception_passes_gradient_check_through_every_branch() {
        // the module's weights as inputs of the check: conv weights and biases, in order
        let mut rng = Rng::seed(4);
        let mut module = Inception::new(2, small(), Init::Xavier, &mut rng);
        let mut inputs = vec![rng.normal_tensor(&[1, 2, 4, 4], 1.0)];
        for (_, conv) in &module.convs {
            inputs.push(conv.weight.value().clone());
            inputs.push(rng.normal_tensor(conv.bias.value().shape(), 0.5));
        }
        // the module as a function of its input and parameters, with activation `f`
        let module_fn = |f: fn(&Var) -> Var| {
            move |v: &[Var]| {
                let conv = |i: usize, x: &Var, k: usize| {
                    f(&x.conv2d(&v[1 + 2 * i], Some(&v[2 + 2 * i]), (1, 1), (k / 2, k / 2)))
                };
                let pool = MaxPool2d { kernel: (3, 3), stride: (1, 1), padding: (1, 1) };
                let x = &v[0];
                let b = [
                    conv(0, x, 1),
                    conv(2, &conv(1, x, 1), 3),
                    conv(4, &conv(3, x, 1), 5),
                    conv(5, &pool.forward(x), 1),
                ];
                Var::concat(&b, 1)
            }
        };
        // through tanh, which has no kink for central differences to straddle (the ReLU has its
        // own check)
        GradCheck::default().run(&inputs, module_fn(Var::tanh)).unwrap();
        // and the module computes exactly that function with ReLUs
        for ((_, p), t) in module.params_mut().into_iter().zip(&inputs[1..]) {
            *p.value_mut() = t.clone();
        }
        let vars: Vec<Var> = inputs.iter().cloned().map(Var::constant).collect();
        let y = module.forward(&vars[0]);
        assert_eq!(y.value().data(), module_fn(Var::relu)(&vars).value().data());
    }

    #[test]
    fn googlenet_layers_infer_their_shapes_and_build() {
        let spec = spec_of(
            &[3, 9, 9],
            r#"[{"type":"maxpool2d","kernel":3,"stride":2,"padding":1},{"type":"lrn"},
            {"type":"inception","1x1":4,"3x3_reduce":2,"3x3":3,"5x5_reduce":1,"5x5":2,"pool_proj":2},
            {"type":"auxiliary","weight":0.3,"layers":[{"type":"flatten"},{"type":"linear","out":5}]},
            {"type":"avgpool2d","kernel":5},{"type":"flatten"},{"type":"linear","out":5}]"#,
        );
        let shapes = spec.shapes().unwrap();
        assert_eq!(shapes[..4], [vec![3, 5, 5], vec![3, 5, 5], vec![11, 5, 5], vec![11, 5, 5]]);
        let net = spec.build(&mut Rng::seed(0)).unwrap();
        let names: Vec<String> = net.params().into_iter().map(|(n, _)| n).collect();
        assert_eq!(names[0], "2.1x1.weight");
        assert_eq!(names[12..], ["3.1.weight", "3.1.bias", "6.weight", "6.bias"]);
        // lrn's defaults are GoogLeNet's
        let lrn: Layer = toml::from_str("type = \"lrn\"").unwrap();
        assert_eq!(lrn.spec, LayerSpec::Lrn(LrnSpec { size: 5, alpha: 1e-4, beta: 0.75, k: 1.0 }));
    }
}
