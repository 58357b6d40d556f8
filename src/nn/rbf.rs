//! LeNet-5's output layer: Euclidean radial basis function units (LeCun et al. 1998, section
//! II.B, eq. 7). Unit i outputs the squared distance between the input vector and its centre:
//!
//!   y_i = Σ_j (x_j − w_ij)²
//!
//! a *penalty*: the smaller, the better the input matches class i, so a prediction is argmin_i y_i.
//!
//! # Shapes
//! - input x: N × F (F = 84 in LeNet-5, the outputs of F6)
//! - weight W: K × F (row i is the centre of unit i)
//! - output y: N × K
//!
//! # Derivation of backward
//! With δ = ∂E/∂y (N × K):
//!   ∂y_ni/∂x_nj = 2(x_nj − w_ij)  ⇒  ∂E/∂x_nj = 2 Σ_i δ_ni (x_nj − w_ij)
//!                                              = 2 (x_nj · Σ_i δ_ni − (δ·W)_nj)
//!   ∂y_ni/∂w_ij = −2(x_nj − w_ij) ⇒  ∂E/∂w_ij = −2 Σ_n δ_ni (x_nj − w_ij)
//!                                              = 2 (w_ij · Σ_n δ_ni − (δᵀ·X)_ij)
//! The layer is small (10 × 84 in LeNet-5), so plain loops compute both, with the sums in f32 in a
//! fixed order.
//!
//! # Centres
//! The paper sets the centres by hand to ±1 pictures of the digits drawn on 7×12 bitmaps (its
//! Fig. 3), so that F6 learns to draw a stylised digit: [`RbfInit::Digits`] uses such bitmaps, drawn
//! for nabla in the same spirit (not copied pixel for pixel from the paper; see [`DIGITS`]).
//! [`RbfInit::Random`] draws each centre coordinate as −1 or +1 with equal probability, the
//! paper's alternative for classes without a picture. Unlike the paper, which kept the centres
//! fixed, nabla trains them like any other parameter; with the softmax over −y used as the loss
//! (see the zoo's `lenet5.toml`) the centres cannot collapse onto one point, because that would
//! make every class equally likely.

use super::Init;
use super::Module;
use super::kind::{LayerKind, flat, units};
use crate::autodiff::{Param, Var};
use crate::rng::Rng;
use crate::tensor::Tensor;
use serde::{Deserialize, Serialize};

/// How the RBF centres start.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RbfInit {
    /// ±1 bitmaps of the digits 0–9, 7 wide and 12 high ([`DIGITS`]); needs K = 10 units of F = 84
    /// inputs.
    Digits,
    /// −1 or +1 at random.
    #[default]
    Random,
}

/// Stylised digits 0–9 on a 7×12 grid ('#' = +1, ink; '.' = −1, background), row by row: the
/// centres of [`RbfInit::Digits`].
pub const DIGITS: [[&str; 12]; 10] = [
    [
        ".......", "..###..", ".#...#.", "#.....#", "#.....#", "#.....#", "#.....#", "#.....#", "#.....#", ".#...#.",
        "..###..", ".......",
    ],
    [
        ".......", "...#...", "..##...", ".#.#...", "...#...", "...#...", "...#...", "...#...", "...#...", "...#...",
        ".#####.", ".......",
    ],
    [
        ".......", "..###..", ".#...#.", "#.....#", "......#", ".....#.", "....#..", "...#...", "..#....", ".#.....",
        "#######", ".......",
    ],
    [
        ".......", ".#####.", "#.....#", "......#", "......#", "...###.", "......#", "......#", "......#", "#.....#",
        ".#####.", ".......",
    ],
    [
        ".......", "....#..", "...##..", "..#.#..", ".#..#..", "#...#..", "#######", "....#..", "....#..", "....#..",
        "....#..", ".......",
    ],
    [
        ".......", "#######", "#......", "#......", "######.", "......#", "......#", "......#", "......#", "#.....#",
        ".#####.", ".......",
    ],
    [
        ".......", "..####.", ".#.....", "#......", "#......", "######.", "#.....#", "#.....#", "#.....#", "#.....#",
        ".#####.", ".......",
    ],
    [
        ".......", "#######", "......#", ".....#.", ".....#.", "....#..", "....#..", "...#...", "...#...", "..#....",
        "..#....", ".......",
    ],
    [
        ".......", ".#####.", "#.....#", "#.....#", "#.....#", ".#####.", "#.....#", "#.....#", "#.....#", "#.....#",
        ".#####.", ".......",
    ],
    [
        ".......", ".#####.", "#.....#", "#.....#", "#.....#", "#.....#", ".######", "......#", "......#", ".....#.",
        ".####..", ".......",
    ],
];

/// The penalties y_ni = Σ_j (x_nj − w_ij)² of an N×F batch `x` against K×F centres `w`: N×K.
/// Panics naming both shapes if they do not fit.
#[track_caller]
pub fn rbf(x: &Var, w: &Var) -> Var {
    let (&[n, f], &[k, f2]) = (x.shape(), w.shape()) else {
        panic!("rbf: input {:?} and centres {:?} do not fit (want N×F and K×F)", x.shape(), w.shape());
    };
    assert!(f == f2, "rbf: input {:?} has {f} features but centres {:?} have {f2}", x.shape(), w.shape());
    let (xd, wd) = (x.value().data(), w.value().data());
    let mut y = Vec::with_capacity(n * k);
    for xr in xd.chunks_exact(f) {
        y.extend(wd.chunks_exact(f).map(|wr| xr.iter().zip(wr).map(|(a, b)| (a - b) * (a - b)).sum::<f32>()));
    }
    Var::from_op(
        Tensor::from_vec(y, &[n, k]),
        vec![x.clone(), w.clone()],
        Box::new(move |delta, p| {
            let (xd, wd, dd) = (p[0].value().data(), p[1].value().data(), delta.data());
            let dx = p[0].requires_grad().then(|| {
                let mut dx = vec![0.0; n * f];
                for ((dxr, xr), dr) in dx.chunks_exact_mut(f).zip(xd.chunks_exact(f)).zip(dd.chunks_exact(k)) {
                    for (&d, wr) in dr.iter().zip(wd.chunks_exact(f)) {
                        for ((g, &a), &b) in dxr.iter_mut().zip(xr).zip(wr) {
                            *g += 2.0 * d * (a - b);
                        }
                    }
                }
                Tensor::from_vec(dx, &[n, f])
            });
            let dw = p[1].requires_grad().then(|| {
                let mut dw = vec![0.0; k * f];
                for (xr, dr) in xd.chunks_exact(f).zip(dd.chunks_exact(k)) {
                    for ((dwr, wr), &d) in dw.chunks_exact_mut(f).zip(wd.chunks_exact(f)).zip(dr) {
                        for ((g, &a), &b) in dwr.iter_mut().zip(xr).zip(wr) {
                            *g -= 2.0 * d * (a - b);
                        }
                    }
                }
                Tensor::from_vec(dw, &[k, f])
            });
            vec![dx, dw]
        }),
    )
}

/// A layer of Euclidean RBF units.
///
/// ```
/// use nabla::nn::{Module, Rbf, RbfInit};
/// use nabla::{Tensor, Var, rng::Rng};
/// let out = Rbf::new(84, 10, RbfInit::Digits, &mut Rng::seed(0));
/// // an F6 output that draws a perfect "3" has penalty 0 for class 3
/// let three = Var::constant(out.weight.value().slice(0, 3..4));
/// let y = out.forward(&three);
/// assert_eq!(y.value().data()[3], 0.0);
/// assert!(y.value().data().iter().all(|&p| p >= 0.0));
/// ```
#[derive(Clone, Debug)]
pub struct Rbf {
    /// The centres W, K × F.
    pub weight: Param,
}

impl Rbf {
    /// `outputs` units over `inputs` features, centres from `init`. Panics if `init` is
    /// [`RbfInit::Digits`] and the layer is not 84 → 10 (specs check this first).
    #[track_caller]
    pub fn new(inputs: usize, outputs: usize, init: RbfInit, rng: &mut Rng) -> Rbf {
        let centres = match init {
            RbfInit::Digits => {
                assert!(inputs == 84 && outputs == 10, "Rbf: digit centres need 84 inputs and 10 units");
                let values = DIGITS
                    .iter()
                    .flat_map(|rows| rows.iter().flat_map(|row| row.chars()))
                    .map(|c| if c == '#' { 1.0 } else { -1.0 })
                    .collect();
                Tensor::from_vec(values, &[10, 84])
            }
            RbfInit::Random => {
                let values = (0..inputs * outputs).map(|_| if rng.below(2) == 1 { 1.0 } else { -1.0 }).collect();
                Tensor::from_vec(values, &[outputs, inputs])
            }
        };
        Rbf { weight: Param::new(centres) }
    }
}

impl Module for Rbf {
    fn forward(&self, x: &Var) -> Var {
        rbf(x, &self.weight.var())
    }

    fn params(&self) -> Vec<(String, &Param)> {
        vec![("weight".into(), &self.weight)]
    }

    fn params_mut(&mut self) -> Vec<(String, &mut Param)> {
        vec![("weight".into(), &mut self.weight)]
    }
}

/// Euclidean RBF units y_i = Σ_j (x_j − w_ij)² in a spec (`type = "rbf"`; LeNet-5's output layer).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RbfSpec {
    /// Number of units K.
    pub out: usize,
    /// The centres: random ±1 (default) or the digit bitmaps.
    #[serde(default)]
    pub init: RbfInit,
}

impl LayerKind for RbfSpec {
    fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>, String> {
        let out = self.out;
        units("out", out, input)?;
        let f = flat(input)?;
        if self.init == RbfInit::Digits && (f != 84 || out != 10) {
            return Err(format!(
                "init = \"digits\" needs 84 inputs (7×12 bitmaps) and out = 10, got input shape {input:?} \
                 and out = {out}; use init = \"random\""
            ));
        }
        Ok(vec![out])
    }

    fn build(&self, input: &[usize], _default_init: Init, rng: &mut Rng) -> Box<dyn Module> {
        Box::new(Rbf::new(input[0], self.out, self.init, rng))
    }

    /// out·in centre coordinates, each one connection.
    fn counts(&self, input: &[usize], _output: &[usize]) -> (usize, usize) {
        let n = self.out.saturating_mul(input[0]);
        (n, n)
    }

    /// The centres are drawn by [`RbfInit`], not by an [`Init`]: unchanged.
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
    fn rbf_passes_gradient_check() {
        let t = randn(63, &[&[3, 5], &[4, 5]]);
        check(&t, |v| rbf(&v[0], &v[1]));
        check(&t, |v| rbf(&v[0], &v[1]).neg());
    }

    #[test]
    fn rbf_values_are_squared_distances() {
        let x = Var::constant(Tensor::from_vec(vec![1.0, 2.0], &[1, 2]));
        let w = Var::constant(Tensor::from_vec(vec![1.0, 2.0, 0.0, 0.0, -1.0, 1.0], &[3, 2]));
        assert_eq!(rbf(&x, &w).value().data(), &[0.0, 5.0, 5.0]);
    }

    #[test]
    fn digit_bitmaps_are_7_by_12_and_far_apart() {
        for rows in DIGITS {
            assert!(rows.iter().all(|r| r.len() == 7 && r.chars().all(|c| c == '#' || c == '.')), "{rows:?}");
        }
        let layer = Rbf::new(84, 10, RbfInit::Digits, &mut Rng::seed(0));
        let w = layer.weight.value().data();
        for i in 0..10 {
            for j in 0..i {
                let differ = (0..84).filter(|&p| w[i * 84 + p] != w[j * 84 + p]).count();
                // 3, 6 and 8 are the closest pairs, as in any digit font
                assert!(differ >= 7, "digits {i} and {j} differ in {differ} pixels only");
            }
        }
        let random = Rbf::new(6, 3, RbfInit::Random, &mut Rng::seed(1));
        assert!(random.weight.value().data().iter().all(|&v| v == 1.0 || v == -1.0));
    }

    #[test]
    #[should_panic(expected = "rbf: input [2, 5] has 5 features but centres [3, 4] have 4")]
    fn rbf_feature_mismatch_panics() {
        let _ = rbf(&Var::constant(Tensor::zeros(&[2, 5])), &Var::constant(Tensor::zeros(&[3, 4])));
    }
}
