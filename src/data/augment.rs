//! Image data augmentation on the fly (Simard, Steinkraus & Platt 2003, "Best practices for
//! convolutional neural networks applied to visual document analysis"): every sample of every batch
//! is shifted, rotated, scaled and elastically distorted by its own random amounts, so that the
//! network never sees the same image twice.
//!
//! # The maths
//!
//! Pixel centres sit at integer coordinates p = (x, y), x the column and y the row of an H × W
//! image, whose centre is c = ((W − 1)/2, (H − 1)/2). For each sample, with strengths T, R, S from
//! [`Augmentation`], draw uniformly
//!
//! - a shift t ∈ [−T, T]² (pixels),
//! - an angle θ ∈ [−R, R] (degrees),
//! - a scale factor s = 1 + u, u ∈ [−S, S],
//!
//! which together move a point q of the input to A(q) = c + s·Rot(θ)·(q − c) + t: scaling and
//! rotation about the centre, then the shift. The output is computed by inverse mapping, so that
//! every output pixel gets exactly one value:
//!
//! out(p) = in(A⁻¹(p)),  A⁻¹(p) = c + s⁻¹·Rot(−θ)·(p − c − t).
//!
//! Elastic distortion displaces each output pixel before that map. Draw a field Δ(p) ∈ U(−1, 1)²
//! independently per pixel, smooth each of its two components with a Gaussian G_σ of standard
//! deviation σ pixels (normalised to sum 1, truncated at radius ⌈3σ⌉, zero beyond the border; the
//! 2-D Gaussian is separable, so it is a pass along the rows then one along the columns), and scale
//! it by α:
//!
//! out(p) = in(A⁻¹(p + α·(G_σ ∗ Δ)(p))).
//!
//! Smoothing shrinks the field (each component's standard deviation becomes about
//! √(1/3)/(2σ√π)), so α sets the displacement in pixels: Simard et al. use α ≈ 34, σ ≈ 4 for
//! 28 × 28 MNIST digits, about 1.4 pixels of smooth, local wobble. A small σ gives a random,
//! noisy field; a large σ an almost rigid shift.
//!
//! `in` at a non-integer point is bilinear interpolation of its four neighbouring pixels; a
//! neighbour outside the image reads as the background value, so pixels mapped from outside the
//! image are blank.

use crate::rng::Rng;
use crate::tensor::Tensor;
use crate::{Error, Result};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// How strongly to distort images: each strength is the half-width of the uniform range that a
/// sample's transform is drawn from. The default turns everything off.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Augmentation {
    /// Largest shift in pixels, along x and along y independently.
    pub translate: f32,
    /// Largest rotation in degrees, either way, about the image centre (at most 180).
    pub rotate: f32,
    /// Largest relative change of size: 0.1 scales by a factor in [0.9, 1.1] (below 1).
    pub scale: f32,
    /// Elastic distortion, if any.
    pub elastic: Option<Elastic>,
}

/// Elastic distortion (Simard et al. 2003): a random displacement field smoothed by a Gaussian of
/// standard deviation `sigma` pixels and scaled by `alpha`; they use α ≈ 34, σ ≈ 4 for 28 × 28
/// digits.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Elastic {
    /// The scale of the smoothed field, in pixels per unit of field.
    pub alpha: f32,
    /// The standard deviation of the smoothing Gaussian, in pixels (in (0, 100]).
    pub sigma: f32,
}

impl Augmentation {
    /// Whether every transform is off, so that [`augment_batch`] would return its input unchanged
    /// (a trainer may then skip the call).
    pub fn is_off(&self) -> bool {
        self.translate == 0.0 && self.rotate == 0.0 && self.scale == 0.0 && self.elastic.is_none_or(|e| e.alpha == 0.0)
    }

    /// Checks that every strength is finite and in its range: translate ≥ 0, rotate in [0, 180],
    /// scale in [0, 1), alpha ≥ 0, sigma in (0, 100].
    pub fn validate(&self) -> Result<()> {
        let check = |name: &str, value: f32, ok: bool, range: &str| {
            if value.is_finite() && ok {
                Ok(())
            } else {
                Err(Error::config(format!("augmentation: {name} {value} must be {range}")))
            }
        };
        check("translate", self.translate, self.translate >= 0.0, "at least 0 (pixels)")?;
        check("rotate", self.rotate, (0.0..=180.0).contains(&self.rotate), "in [0, 180] (degrees)")?;
        check("scale", self.scale, (0.0..1.0).contains(&self.scale), "in [0, 1) (0.1 is ±10%)")?;
        if let Some(e) = self.elastic {
            check("elastic alpha", e.alpha, e.alpha >= 0.0, "at least 0 (34 suits 28×28 digits)")?;
            check(
                "elastic sigma",
                e.sigma,
                e.sigma > 0.0 && e.sigma <= 100.0,
                "in (0, 100] pixels (4 suits 28×28 digits)",
            )?;
        }
        Ok(())
    }
}

/// Distorts each row of `x` (m × (C·H·W), one image per row, C planes of H × W — 1 for gray,
/// 3 for RGB — already normalised) by its own random draw of `aug`, the same for every plane of
/// the row, and returns the result in the same shape. `hw` is (H, W); `background` is the
/// normalised value of a blank pixel (for MNIST normalised by mean μ and std s: −μ/s), given to
/// every pixel that comes from outside the image.
///
/// Row i draws from the stream `Rng::derive(seed, i)`, so the result depends on `seed` and the
/// data alone, not on the number of threads; pass a different seed for each batch (from the run's
/// seed and the step number, say), or every batch repeats the same distortions. Rows are processed
/// in parallel.
///
/// Panics if `x` is not 2-D with a multiple of H·W columns, or if `aug` fails
/// [`Augmentation::validate`].
#[track_caller]
pub fn augment_batch(x: &Tensor, hw: (usize, usize), aug: &Augmentation, background: f32, seed: u64) -> Tensor {
    augment_part(x, hw, aug, background, seed, 0)
}

/// As [`augment_batch`] for the rows `first`, `first + 1`, … of a batch (row i of `x` draws from
/// `Rng::derive(seed, first + i)`): a data-parallel rank distorts its part of a batch exactly as
/// one process distorts those rows of the whole batch.
#[track_caller]
pub fn augment_part(
    x: &Tensor,
    hw: (usize, usize),
    aug: &Augmentation,
    background: f32,
    seed: u64,
    first: usize,
) -> Tensor {
    let (m, d) = x.dims2("augment_batch");
    let (h, w) = hw;
    assert!(
        h > 0 && w > 0 && d > 0 && d % (h * w) == 0,
        "augment_batch: rows of {d} values are not images of {h}×{w} = {} pixels per plane (input shape {:?})",
        h * w,
        x.shape()
    );
    let plane = h * w;
    if let Err(e) = aug.validate() {
        panic!("augment_batch: {e}");
    }
    let kernel = aug.elastic.map(|e| gaussian_kernel(e.sigma));
    let mut out = vec![0.0; m * d];
    out.par_chunks_mut(d).zip(x.data().par_chunks(d)).enumerate().for_each_init(
        // scratch for the two displacement components and the smoothing pass, reused across the
        // rows that one rayon job handles (each use overwrites it all)
        Vec::new,
        |scratch, (row, (out_row, in_row))| {
            let mut rng = Rng::derive(seed, (first + row) as u64);
            let map = InverseAffine::draw(aug, hw, &mut rng);
            let field = match (aug.elastic, &kernel) {
                (Some(e), Some(kernel)) => {
                    scratch.resize(3 * plane, 0.0);
                    let (dx, rest) = scratch.split_at_mut(plane);
                    let (dy, tmp) = rest.split_at_mut(plane);
                    elastic_field(e.alpha, kernel, hw, &mut rng, dx, tmp);
                    elastic_field(e.alpha, kernel, hw, &mut rng, dy, tmp);
                    Some((&*dx, &*dy))
                }
                _ => None,
            };
            // one geometry for the planes of a colour image, so that they stay registered
            for (in_plane, out_plane) in in_row.chunks(plane).zip(out_row.chunks_mut(plane)) {
                warp(in_plane, hw, &map, field, background, out_plane);
            }
        },
    );
    Tensor::from_vec(out, &[m, d])
}

/// The map from an output pixel to the input point it reads: src = M·p + b.
#[derive(Clone, Copy, Debug)]
struct InverseAffine {
    /// Row-major 2 × 2 matrix M.
    m: [f32; 4],
    /// Offset b.
    b: [f32; 2],
}

impl InverseAffine {
    /// A⁻¹ for the shift `shift`, rotation `degrees` and scale factor `scale` about the centre of
    /// an image of size `hw`: M = s⁻¹·Rot(−θ), b = c − M·(c + t).
    fn new(shift: [f32; 2], degrees: f32, scale: f32, hw: (usize, usize)) -> InverseAffine {
        let (sin, cos) = degrees.to_radians().sin_cos();
        let m = [cos / scale, sin / scale, -sin / scale, cos / scale];
        let c = [(hw.1 as f32 - 1.0) / 2.0, (hw.0 as f32 - 1.0) / 2.0];
        let (u, v) = (c[0] + shift[0], c[1] + shift[1]);
        InverseAffine { m, b: [c[0] - (m[0] * u + m[1] * v), c[1] - (m[2] * u + m[3] * v)] }
    }

    /// One sample's draw of shift, angle and scale (in that order from `rng`).
    fn draw(aug: &Augmentation, hw: (usize, usize), rng: &mut Rng) -> InverseAffine {
        let shift = [symmetric(rng, aug.translate), symmetric(rng, aug.translate)];
        let degrees = symmetric(rng, aug.rotate);
        let scale = 1.0 + symmetric(rng, aug.scale);
        InverseAffine::new(shift, degrees, scale, hw)
    }
}

/// A draw from U(−s, s), or exactly 0 (drawing nothing) when s is 0.
fn symmetric(rng: &mut Rng, s: f32) -> f32 {
    if s > 0.0 { rng.uniform(-s, s) } else { 0.0 }
}

/// The normalised Gaussian g[k] ∝ exp(−(k − r)²/(2σ²)), k = 0..=2r, r = ⌈3σ⌉.
fn gaussian_kernel(sigma: f32) -> Vec<f32> {
    let radius = (3.0 * sigma).ceil() as i64;
    let g: Vec<f32> = (-radius..=radius).map(|k| (-(k * k) as f32 / (2.0 * sigma * sigma)).exp()).collect();
    let sum: f32 = g.iter().sum();
    g.into_iter().map(|v| v / sum).collect()
}

/// Fills `field` (H·W) with α·(G ∗ U(−1, 1)): one displacement component. `tmp` (H·W) is scratch.
fn elastic_field(
    alpha: f32,
    kernel: &[f32],
    (h, w): (usize, usize),
    rng: &mut Rng,
    field: &mut [f32],
    tmp: &mut [f32],
) {
    for v in field.iter_mut() {
        *v = rng.uniform(-1.0, 1.0);
    }
    let r = kernel.len() / 2;
    // Both passes loop over the taps outside and the pixels inside, so that the inner loop is an
    // axpy over a contiguous run that the compiler vectorises.
    // Along the rows: tmp[y][x] = Σ_k g[k]·field[y][x + k − r], zero outside.
    tmp.fill(0.0);
    for (k, &g) in kernel.iter().enumerate() {
        // x + k − r must lie in 0..w
        let (lo, hi) = (r.saturating_sub(k), (w + r).saturating_sub(k).min(w));
        if lo >= hi {
            continue;
        }
        for y in 0..h {
            let src = &field[y * w + lo + k - r..y * w + hi + k - r];
            for (t, &f) in tmp[y * w + lo..y * w + hi].iter_mut().zip(src) {
                *t += g * f;
            }
        }
    }
    // Along the columns, back into field: field[y] = Σ_k g[k]·tmp[y + k − r], then times α.
    field.fill(0.0);
    for (k, &g) in kernel.iter().enumerate() {
        let (lo, hi) = (r.saturating_sub(k), (h + r).saturating_sub(k).min(h));
        if lo >= hi {
            continue;
        }
        let src = &tmp[(lo + k - r) * w..(hi + k - r) * w];
        for (f, &t) in field[lo * w..hi * w].iter_mut().zip(src) {
            *f += g * t;
        }
    }
    for f in field.iter_mut() {
        *f *= alpha;
    }
}

/// out(p) = in(A⁻¹(p + Δ(p))) for every pixel p, with Δ = (dx, dy) when given, else 0.
fn warp(
    input: &[f32],
    (h, w): (usize, usize),
    map: &InverseAffine,
    field: Option<(&[f32], &[f32])>,
    background: f32,
    out: &mut [f32],
) {
    let [m00, m01, m10, m11] = map.m;
    for y in 0..h {
        for x in 0..w {
            let i = y * w + x;
            let (mut px, mut py) = (x as f32, y as f32);
            if let Some((dx, dy)) = field {
                px += dx[i];
                py += dy[i];
            }
            let sx = m00 * px + m01 * py + map.b[0];
            let sy = m10 * px + m11 * py + map.b[1];
            out[i] = bilinear(input, (h, w), sx, sy, background);
        }
    }
}

/// The image at the point (x, y) by bilinear interpolation; pixels outside read as `background`.
fn bilinear(img: &[f32], (h, w): (usize, usize), x: f32, y: f32, background: f32) -> f32 {
    // The common case, all four neighbours inside, without a check per neighbour (and without
    // `floor`, a library call on baseline x86-64: truncation is the floor of a non-negative x).
    if x >= 0.0 && y >= 0.0 && x < (w - 1) as f32 && y < (h - 1) as f32 {
        let (col, row) = (x as usize, y as usize);
        let (fx, fy) = (x - col as f32, y - row as f32);
        let i = row * w + col;
        let top = img[i] + fx * (img[i + 1] - img[i]);
        let bottom = img[i + w] + fx * (img[i + w + 1] - img[i + w]);
        return top + fy * (bottom - top);
    }
    let (x0, y0) = (x.floor(), y.floor());
    let (fx, fy) = (x - x0, y - y0);
    // comparisons in f32 first: NaN and far-away points fail them without an overflowing cast
    let pixel = |row: f32, col: f32| {
        if row >= 0.0 && col >= 0.0 && row < h as f32 && col < w as f32 {
            img[row as usize * w + col as usize]
        } else {
            background
        }
    };
    // with fx = fy = 0 (an integer point) both branches give exactly img[y0][x0]
    let top = pixel(y0, x0) + fx * (pixel(y0, x0 + 1.0) - pixel(y0, x0));
    let bottom = pixel(y0 + 1.0, x0) + fx * (pixel(y0 + 1.0, x0 + 1.0) - pixel(y0 + 1.0, x0));
    top + fy * (bottom - top)
}

#[cfg(test)]
mod tests {
    use super::*;

    const HW: (usize, usize) = (28, 28);

    /// m images of an off-centre blob with values in [0, 1], different in each row.
    fn blobs(m: usize) -> Tensor {
        let (h, w) = HW;
        let mut data = Vec::with_capacity(m * h * w);
        for r in 0..m {
            let (cx, cy) = (12.0 + (r % 5) as f32, 13.0 - (r % 3) as f32);
            for y in 0..h {
                for x in 0..w {
                    let d2 = (x as f32 - cx).powi(2) / 8.0 + (y as f32 - cy).powi(2) / 18.0;
                    data.push((-d2).exp());
                }
            }
        }
        Tensor::from_vec(data, &[m, h * w])
    }

    fn full() -> Augmentation {
        Augmentation { translate: 2.0, rotate: 15.0, scale: 0.1, elastic: Some(Elastic { alpha: 34.0, sigma: 4.0 }) }
    }

    #[test]
    fn all_strengths_zero_is_the_identity() {
        let x = blobs(5);
        let aug = Augmentation::default();
        assert!(aug.is_off());
        assert_eq!(augment_batch(&x, HW, &aug, -0.42, 3), x);
    }

    #[test]
    fn an_integer_shift_moves_pixels_exactly() {
        let (h, w) = (4, 5);
        let input: Vec<f32> = (0..h * w).map(|i| i as f32).collect();
        // the content moves 2 right and 1 down: out[y][x] = in[y − 1][x − 2]
        let map = InverseAffine::new([2.0, 1.0], 0.0, 1.0, (h, w));
        let mut out = vec![0.0; h * w];
        warp(&input, (h, w), &map, None, -1.0, &mut out);
        #[rustfmt::skip]
        let expected = [
            -1.0, -1.0, -1.0, -1.0, -1.0,
            -1.0, -1.0,  0.0,  1.0,  2.0,
            -1.0, -1.0,  5.0,  6.0,  7.0,
            -1.0, -1.0, 10.0, 11.0, 12.0,
        ];
        assert_eq!(out, expected);
        // and a negative shift the other way
        let map = InverseAffine::new([-1.0, 0.0], 0.0, 1.0, (h, w));
        warp(&input, (h, w), &map, None, -1.0, &mut out);
        assert_eq!(&out[..5], &[1.0, 2.0, 3.0, 4.0, -1.0]);
    }

    #[test]
    fn rotation_zero_and_scale_zero_is_the_identity() {
        let x = blobs(3);
        let (h, w) = HW;
        let map = InverseAffine::new([0.0, 0.0], 0.0, 1.0, HW);
        for row in x.data().chunks(h * w) {
            let mut out = vec![0.0; h * w];
            warp(row, HW, &map, None, 7.0, &mut out);
            assert_eq!(out, row);
        }
        // odd sizes, whose centre is a pixel rather than a corner, too
        let input: Vec<f32> = (0..15).map(|i| i as f32).collect();
        let mut out = vec![0.0; 15];
        warp(&input, (3, 5), &InverseAffine::new([0.0, 0.0], 0.0, 1.0, (3, 5)), None, 7.0, &mut out);
        assert_eq!(out, input);
    }

    #[test]
    fn rotation_by_90_degrees_about_the_centre() {
        // a 3 × 3 image turned a quarter: integer points again, so exact up to sin/cos rounding
        let input: Vec<f32> = (0..9).map(|i| i as f32).collect();
        let mut out = vec![0.0; 9];
        warp(&input, (3, 3), &InverseAffine::new([0.0, 0.0], 90.0, 1.0, (3, 3)), None, -1.0, &mut out);
        let expected = [6.0, 3.0, 0.0, 7.0, 4.0, 1.0, 8.0, 5.0, 2.0];
        for (o, e) in out.iter().zip(expected) {
            assert!((o - e).abs() < 1e-5, "{out:?} vs {expected:?}");
        }
    }

    #[test]
    fn same_seed_same_output_different_seed_different_output() {
        let x = blobs(8);
        let a = augment_batch(&x, HW, &full(), 0.0, 11);
        let b = augment_batch(&x, HW, &full(), 0.0, 11);
        assert_eq!(a.data(), b.data());
        let c = augment_batch(&x, HW, &full(), 0.0, 12);
        assert_ne!(a.data(), c.data());
        // and every row gets its own draw: two equal inputs come out different
        let twins = Tensor::from_vec([x.slice(0, 0..1).data(), x.slice(0, 0..1).data()].concat(), &[2, 784]);
        let t = augment_batch(&twins, HW, &full(), 0.0, 11);
        assert_ne!(&t.data()[..784], &t.data()[784..]);
    }

    #[test]
    fn result_does_not_depend_on_the_number_of_threads() {
        let x = blobs(37);
        let global = augment_batch(&x, HW, &full(), -0.4, 5);
        let pool = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
        let single = pool.install(|| augment_batch(&x, HW, &full(), -0.4, 5));
        assert_eq!(global.data(), single.data());
    }

    #[test]
    fn elastic_with_alpha_zero_is_the_identity() {
        let x = blobs(4);
        let aug = Augmentation { elastic: Some(Elastic { alpha: 0.0, sigma: 4.0 }), ..Augmentation::default() };
        assert!(aug.is_off());
        assert_eq!(augment_batch(&x, HW, &aug, 0.5, 9), x);
        // while α > 0 does move pixels
        let aug = Augmentation { elastic: Some(Elastic { alpha: 34.0, sigma: 4.0 }), ..aug };
        assert!(!aug.is_off());
        assert_ne!(augment_batch(&x, HW, &aug, 0.5, 9), x);
    }

    #[test]
    fn elastic_field_has_the_expected_size() {
        // std of G_σ ∗ U(−1, 1) is about √(1/3)/(2σ√π) away from the border: α = 34, σ = 4 → ≈ 1.4 px
        let kernel = gaussian_kernel(4.0);
        assert_eq!(kernel.len(), 25);
        assert!((kernel.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        let (h, w) = (64, 64);
        let (mut field, mut tmp) = (vec![0.0; h * w], vec![0.0; h * w]);
        let mut sum_sq = 0.0;
        let mut count = 0;
        for k in 0..20 {
            elastic_field(34.0, &kernel, (h, w), &mut Rng::seed(k), &mut field, &mut tmp);
            for y in 12..h - 12 {
                sum_sq += field[y * w + 12..y * w + w - 12].iter().map(|v| v * v).sum::<f32>();
                count += w - 24;
            }
        }
        let std = (sum_sq / count as f32).sqrt();
        let expected = 34.0 * (1.0f32 / 3.0).sqrt() / (2.0 * 4.0 * std::f32::consts::PI.sqrt());
        assert!((std / expected - 1.0).abs() < 0.1, "std {std}, expected about {expected}");
    }

    #[test]
    fn small_transforms_roughly_preserve_mass() {
        let x = blobs(64);
        let aug = Augmentation {
            translate: 2.0,
            rotate: 10.0,
            scale: 0.05,
            elastic: Some(Elastic { alpha: 4.0, sigma: 4.0 }),
        };
        let y = augment_batch(&x, HW, &aug, 0.0, 1);
        let mut ratio_sum = 0.0;
        for (a, b) in x.data().chunks(784).zip(y.data().chunks(784)) {
            let ratio = b.iter().sum::<f32>() / a.iter().sum::<f32>();
            // shifts and rotations keep the mass, scaling multiplies it by s² ∈ [0.90, 1.10], and the
            // elastic field by about 1/det(I + α∇(G ∗ Δ)) over the blob
            assert!((0.85..1.15).contains(&ratio), "mass ratio {ratio}");
            ratio_sum += ratio;
        }
        let mean = ratio_sum / 64.0;
        assert!((mean - 1.0).abs() < 0.02, "mean mass ratio {mean}");
    }

    #[test]
    fn invalid_strengths_are_rejected_with_their_name() {
        let bad = [
            Augmentation { translate: -1.0, ..Augmentation::default() },
            Augmentation { rotate: 200.0, ..Augmentation::default() },
            Augmentation { scale: 1.0, ..Augmentation::default() },
            Augmentation { scale: f32::NAN, ..Augmentation::default() },
            Augmentation { elastic: Some(Elastic { alpha: 34.0, sigma: 0.0 }), ..Augmentation::default() },
        ];
        for (aug, name) in bad.iter().zip(["translate", "rotate", "scale", "scale", "sigma"]) {
            let message = aug.validate().unwrap_err().to_string();
            assert!(message.contains(name), "{message}");
        }
        assert!(full().validate().is_ok());
    }

    #[test]
    fn the_planes_of_a_colour_image_move_alike() {
        // three planes: the blobs, twice the blobs, minus the blobs; each row's planes must come
        // out as the gray row does, in the same ratios
        let gray = blobs(4);
        let d = HW.0 * HW.1;
        let mut rgb = Vec::new();
        for row in gray.data().chunks(d) {
            for k in [1.0, 2.0, -1.0] {
                rgb.extend(row.iter().map(|v| k * v));
            }
        }
        let rgb = Tensor::from_vec(rgb, &[4, 3 * d]);
        let a = augment_batch(&gray, HW, &full(), 0.0, 9);
        let b = augment_batch(&rgb, HW, &full(), 0.0, 9);
        for (g, c) in a.data().chunks(d).zip(b.data().chunks(3 * d)) {
            for (k, plane) in [1.0, 2.0, -1.0].iter().zip(c.chunks(d)) {
                assert!(g.iter().zip(plane).all(|(g, p)| (k * g - p).abs() <= 1e-5 * (1.0 + g.abs())));
            }
        }
    }

    #[test]
    #[should_panic(expected = "augment_batch: rows of 10 values are not images of 28×28")]
    fn wrong_row_length_panics_with_both_sizes() {
        augment_batch(&Tensor::zeros(&[2, 10]), HW, &full(), 0.0, 0);
    }
}
