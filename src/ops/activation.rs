//! Activation functions f(u) and their derivatives f′(u), applied elementwise, as ops on [`Var`]
//! (`relu`, `gelu`, `sigmoid`, `tanh`, `scaled_tanh`, `identity`). The table that names them for
//! spec files and flags is `nn::Activation`.
//!
//! Backward multiplies δ by f′(u), written in terms of the output y = f(u) where that is cheaper:
//! sigmoid y(1−y), tanh 1−y², ReLU [y > 0], scaled tanh S·(A − y²/A). GELU's needs the input:
//! Φ(u) + u·φ(u).
//!
//! tanh, the sigmoid, erf and exp are computed by branch-free rational or polynomial
//! approximations ([`tanh_rational`], [`erf_rational`], [`exp_rational`]) rather than by the C
//! library's `tanhf`, `erff` and `expf`: a call per value keeps the loops from vectorizing, and
//! these functions are a large part of a step's time in convolutional and recurrent nets. Each
//! approximation is tested against f64. The loops run in blocks on the team (see [`unary`]).

use crate::autodiff::Var;
use crate::tensor::{Tensor, team};

/// The logistic sigmoid σ(u) = ½(1 + tanh(u/2)): within 2·10⁻⁷ of the exact value, exactly 0
/// and 1 for |u| beyond 15.8, and vectorizable.
#[inline(always)]
pub fn sigmoid(u: f32) -> f32 {
    0.5 + 0.5 * tanh_rational(0.5 * u)
}

/// tanh(x) as the ratio of a degree-13 odd and a degree-6 even polynomial on [−7.9053, 7.9053]
/// (the approximation of the Eigen library's `ptanh_float`), ±1 beyond; its largest error is
/// 4·10⁻⁷ (tested against f64). No branches and no calls, so loops over it vectorize.
#[inline(always)]
pub fn tanh_rational(x: f32) -> f32 {
    const LIMIT: f32 = 7.905_311;
    let x = x.clamp(-LIMIT, LIMIT);
    let x2 = x * x;
    let p = x
        * (4.893_524_6e-3
            + x2 * (6.372_619_3e-4
                + x2 * (1.485_722_4e-5
                    + x2 * (5.122_297e-8 + x2 * (-8.604_672e-11 + x2 * (2.000_188e-13 + x2 * -2.760_768_5e-16))))));
    let q = 4.893_525e-3 + x2 * (2.268_434_6e-3 + x2 * (1.185_347_1e-4 + x2 * 1.198_258_4e-6));
    p / q
}

/// A in LeNet-5's A·tanh(S·u) (LeCun et al. 1998, appendix A): f(±1) = ±1, and the second
/// derivative is largest at ±1.
pub const SCALED_TANH_A: f32 = 1.7159;
/// S in A·tanh(S·u).
pub const SCALED_TANH_S: f32 = 2.0 / 3.0;

/// erf(x) as x·P(x²)/Q(x²), P of degree 6 and Q of degree 4 (the approximation of the Eigen
/// library's float `erf`), and exactly ±1 for |x| ≥ 3.9, where erf is 1 within 10⁻⁷ (so that
/// GELU's far tail is exactly 0); its largest error is 4.5·10⁻⁷, near |x| = 3.9 (tested against
/// f64). No branches and no calls, so loops over it vectorize.
#[inline(always)]
pub fn erf_rational(x: f32) -> f32 {
    let x = x.clamp(-4.0, 4.0);
    let x2 = x * x;
    let p = x
        * (-1.609_603_3e-2
            + x2 * (-2.954_6e-3
                + x2 * (-7.349_906_3e-4
                    + x2 * (-5.692_506_4e-5 + x2 * (-2.101_024e-6 + x2 * (2.770_681_4e-8 + x2 * -2.726_142_3e-10))))));
    let q =
        -1.426_473_9e-2 + x2 * (-7.373_329_2e-3 + x2 * (-1.682_827e-3 + x2 * (-2.133_740_6e-4 + x2 * -1.456_607_2e-5)));
    if x.abs() >= 3.9 { 1.0f32.copysign(x) } else { p / q }
}

/// e^x as 2ⁿ·e^r with n = round(x·log₂e) and |r| ≤ ½ln 2, e^r by a degree-7 polynomial (Cephes'
/// `expf`), for x clamped to [−87.3, 88.7] (normal results); its largest relative error is
/// 3·10⁻⁷ (tested against f64). No branches and no calls, so loops over it vectorize.
#[inline(always)]
pub fn exp_rational(x: f32) -> f32 {
    // 1.5·2²³: adding and subtracting it rounds to the nearest integer (|x·log₂e| < 2²²)
    const ROUND: f32 = 12_582_912.0;
    let x = x.clamp(-87.3, 88.7);
    let n = (x * std::f32::consts::LOG2_E + ROUND) - ROUND;
    // ln 2 in two parts (the first is 0.693359375, exact in f32), so that n·ln 2 is subtracted
    // exactly
    let r = x - n * 0.693_359_4 - n * -2.121_944_4e-4;
    let p = 1.987_569_1e-4;
    let p = p * r + 1.398_2e-3;
    let p = p * r + 8.333_452e-3;
    let p = p * r + 4.166_579_6e-2;
    let p = p * r + 0.166_666_65;
    let p = p * r + 0.5;
    let y = p * r * r + r + 1.0;
    y * f32::from_bits(((n as i32 + 127) as u32) << 23)
}

/// Φ(u) = ½(1 + erf(u/√2)), the standard normal CDF.
#[inline(always)]
fn normal_cdf(u: f32) -> f32 {
    0.5 + 0.5 * erf_rational(u * std::f32::consts::FRAC_1_SQRT_2)
}

/// φ(u) = e^(−u²/2)/√(2π), the standard normal density.
#[inline(always)]
fn normal_pdf(u: f32) -> f32 {
    const INV_SQRT_2PI: f32 = 0.398_942_3;
    INV_SQRT_2PI * exp_rational(-0.5 * u * u)
}

/// An elementwise op y = f(u) whose backward is δ_in = δ ⊙ f′, with f′ = `df(u, y)` (given both
/// the input and the output, whichever is cheaper). Generic rather than `fn` pointers, so that `f`
/// and `df` are inlined and the loops vectorize (through a pointer they do not).
fn unary(x: &Var, f: impl Fn(f32) -> f32 + Sync, df: impl Fn(f32, f32) -> f32 + Sync + 'static) -> Var {
    let (mut y, input) = (vec![0.0; x.value().numel()], x.value().data());
    in_blocks(&mut y, |start, y| {
        for (y, &x) in y.iter_mut().zip(&input[start..]) {
            *y = f(x);
        }
    });
    let y = Tensor::from_vec(y, x.shape());
    let (saved_u, saved_y) = (x.value().clone(), y.clone());
    Var::from_op(
        y,
        vec![x.clone()],
        Box::new(move |g, _| {
            let mut delta = vec![0.0; g.numel()];
            in_blocks(&mut delta, |start, delta| {
                let values = saved_u.data()[start..].iter().zip(&saved_y.data()[start..]);
                for (out, (&d, (&u, &y))) in delta.iter_mut().zip(g.data()[start..].iter().zip(values)) {
                    *out = d * df(u, y);
                }
            });
            vec![Some(Tensor::from_vec(delta, g.shape()))]
        }),
    )
}

/// Elements per block of an elementwise op on the team: below two blocks' worth one thread does
/// it all, as handing half of a few microseconds' work to the team would not pay.
const BLOCK: usize = 1 << 14;

/// Calls `f(start, part)` for blocks of `out` that start at element `start`, on the team.
fn in_blocks(out: &mut [f32], f: impl Fn(usize, &mut [f32]) + Sync) {
    let block = team::block_len(out.len(), BLOCK);
    team::for_each(out.chunks_mut(block).enumerate().collect(), |(i, part)| f(i * block, part));
}

impl Var {
    /// The logistic sigmoid σ(u); σ′ = σ(1−σ).
    pub fn sigmoid(&self) -> Var {
        unary(self, sigmoid, |_, y| y * (1.0 - y))
    }

    /// tanh(u); tanh′ = 1 − tanh².
    pub fn tanh(&self) -> Var {
        unary(self, tanh_rational, |_, y| 1.0 - y * y)
    }

    /// max(0, u); its derivative is 1 where u > 0 and 0 elsewhere.
    pub fn relu(&self) -> Var {
        unary(self, |u| u.max(0.0), |_, y| if y > 0.0 { 1.0 } else { 0.0 })
    }

    /// LeNet-5's A·tanh(S·u); its derivative A·S·(1 − tanh²(S·u)) = S·(A − y²/A).
    pub fn scaled_tanh(&self) -> Var {
        const A: f32 = SCALED_TANH_A;
        const S: f32 = SCALED_TANH_S;
        unary(self, |u| A * tanh_rational(S * u), |_, y| S * (A - y * y / A))
    }

    /// GELU(u) = u·Φ(u) (Hendrycks & Gimpel 2016), with the exact Φ (erf form); its derivative
    /// is Φ(u) + u·φ(u).
    pub fn gelu(&self) -> Var {
        unary(self, |u| u * normal_cdf(u), |u, _| normal_cdf(u) + u * normal_pdf(u))
    }

    /// f(u) = u.
    pub fn identity(&self) -> Var {
        self.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::testing::{check, randn};

    #[test]
    fn activations_pass_gradient_checks() {
        let xs = randn(9, &[&[4, 6]]);
        check(&xs, |v| v[0].sigmoid());
        check(&xs, |v| v[0].tanh());
        check(&xs, |v| v[0].identity().scale(1.0));
        // ReLU: keep inputs more than ε away from the kink at 0
        let away = vec![xs[0].map(|x| if x.abs() < 0.05 { x + 0.2 } else { x })];
        check(&away, |v| v[0].relu());
        check(&xs, |v| v[0].scaled_tanh());
        check(&[xs[0].scale(3.0)], |v| v[0].scaled_tanh());
        check(&xs, |v| v[0].gelu());
        // GELU's tails, where Φ and φ come from the ends of the approximations
        check(&[xs[0].scale(4.0)], |v| v[0].gelu());
    }

    #[test]
    fn scaled_tanh_maps_one_to_one() {
        let y = Var::constant(Tensor::from_vec(vec![1.0, -1.0, 0.0], &[3])).scaled_tanh();
        let v = y.value().data();
        assert!((v[0] - 1.0).abs() < 1e-4 && (v[1] + 1.0).abs() < 1e-4 && v[2] == 0.0, "{v:?}");
    }

    /// erf by its Taylor series in f64; for |x| ≤ 4 the largest term is below e^16, so the
    /// rounding error stays under 10⁻⁸, far below the f32 approximation's.
    fn erf_f64(x: f64) -> f64 {
        let (mut term, mut sum) = (x, x);
        for n in 1..200 {
            term *= -x * x / n as f64;
            sum += term / (2 * n + 1) as f64;
        }
        sum * 2.0 / std::f64::consts::PI.sqrt()
    }

    #[test]
    fn erf_and_exp_are_within_half_a_micro() {
        assert!((erf_f64(1.0) - 0.842_700_792_949_714_9).abs() < 1e-15);
        let mut worst = 0.0f64;
        for i in -40_000..=40_000 {
            let x = i as f32 * 1e-4;
            worst = worst.max((erf_rational(x) as f64 - erf_f64(x as f64)).abs());
        }
        // beyond 4, erf is 1 within 1.6·10⁻⁸
        for x in [4.5f32, 7.0, 1e3, f32::INFINITY] {
            worst = worst.max((erf_rational(x) as f64 - 1.0).abs()).max((erf_rational(-x) as f64 + 1.0).abs());
        }
        assert!(worst < 5e-7, "erf: largest error {worst}");
        let mut worst = 0.0f64;
        for i in -87_000..=88_000 {
            let x = i as f32 * 1e-3;
            let want = (x as f64).exp();
            worst = worst.max(((exp_rational(x) as f64 - want) / want).abs());
        }
        assert!(worst < 3e-7, "exp: largest relative error {worst}");
        assert_eq!(exp_rational(0.0), 1.0);
        assert!(exp_rational(-1000.0) < 1e-37 && exp_rational(-1000.0) >= 0.0);
    }

    /// u·½(1 + erf(u/√2)) in f64 by Python's `math.erf`, the values of PyTorch's `gelu` (approximate='none').
    #[test]
    fn gelu_has_the_known_values() {
        let u = [1.0f32, -1.0, 0.5, 0.0, 2.0, -3.0, 6.0, -10.0];
        let want: [f64; 8] = [0.841_344_75, -0.158_655_25, 0.345_731_23, 0.0, 1.954_499_7, -0.004_049_694, 6.0, 0.0];
        let y = Var::constant(Tensor::from_vec(u.to_vec(), &[8])).gelu();
        for ((&u, &got), &want) in u.iter().zip(y.value().data()).zip(&want) {
            assert!((got as f64 - want).abs() < 1e-6 * u.abs().max(1.0) as f64, "GELU({u}) = {got}, want {want}");
        }
    }

    #[test]
    fn tanh_rational_is_within_half_a_micro_of_tanh() {
        let mut worst = 0.0f64;
        for i in -200_000..=200_000 {
            let x = i as f32 * 1e-4;
            worst = worst.max((tanh_rational(x) as f64 - (x as f64).tanh()).abs());
        }
        assert!(worst < 5e-7, "largest error {worst}");
        assert_eq!((tanh_rational(100.0), tanh_rational(-100.0), tanh_rational(0.0)), (1.0, -1.0, 0.0));
    }

    #[test]
    fn sigmoid_is_stable_for_large_inputs() {
        assert_eq!(super::sigmoid(-1000.0), 0.0);
        assert_eq!(super::sigmoid(1000.0), 1.0);
        assert!((super::sigmoid(0.0) - 0.5).abs() < 1e-7);
        let worst = (-400..=400)
            .map(|i| i as f64 * 0.05)
            .map(|u| (super::sigmoid(u as f32) as f64 - 1.0 / (1.0 + (-u).exp())).abs())
            .fold(0.0, f64::max);
        assert!(worst < 2.5e-7, "largest error {worst}");
    }
}
