//! What a layer kind of a spec knows about itself. Each kind (`linear`, `conv2d`, …) is a spec
//! struct, in the file of the layer it builds, that implements [`LayerKind`]: its fields (serde,
//! with their defaults), its shape rule, its build, its counts for `nabla summary`, its init
//! override and the capabilities other parts of nabla ask about. [`super::spec`] lists the kinds
//! once, in its registry, and only dispatches to them; activations are one kind per row of the
//! [`Activation`] table (see [`super::activation`]).
//!
//! The methods without a default are the ones every kind must answer, so that the compiler lists
//! what a new kind lacks. The defaults cover what only a few kinds are: activations, and the
//! layers that greedy pre-training trains.

use super::Activation;
use super::{Init, Module, Size2};
use crate::rng::Rng;

/// One layer kind of a spec: its rules, next to the layer it builds.
pub trait LayerKind {
    /// The output shape for one sample of `input`, or what does not fit (the caller adds the
    /// layer's index and type).
    fn output_shape(&self, input: &[usize]) -> Result<Vec<usize>, String>;

    /// Builds the layer for one sample of shape `input` (already checked by
    /// [`LayerKind::output_shape`]); `default_init` is the init to use where the spec gives none
    /// (chosen by the layer after this one, see [`LayerKind::init_before`]).
    fn build(&self, input: &[usize], default_init: Init, rng: &mut Rng) -> Box<dyn Module>;

    /// (parameters, connections) for an input and an output shape that fit (see
    /// [`super::Summary`] for how connections are counted).
    fn counts(&self, input: &[usize], output: &[usize]) -> (usize, usize);

    /// The numbers the built layer holds for an input and an output shape that fit: its
    /// parameters, and weights that a mask keeps at zero (a connection table's); what the size
    /// limits ([`super::SizeLimits`]) and a checkpoint's length are checked against. Saturates
    /// at `usize::MAX` instead of overflowing.
    fn stored(&self, input: &[usize], output: &[usize]) -> usize {
        self.counts(input, output).0
    }

    /// The values one sample's forward pass through the layer computes: its output, and the
    /// intermediates of the layers that make them (a convolution's padded input and im2col
    /// columns, a recurrent layer's states at every step); what the activation limit of
    /// [`super::SizeLimits`] is checked against. Saturates at `usize::MAX`.
    fn values(&self, _input: &[usize], output: &[usize]) -> usize {
        saturating_product(output)
    }

    /// Overrides how the layer's weights are drawn (`nabla train --init`); kinds that draw no
    /// weights, or none by [`Init`], leave themselves unchanged.
    fn set_init(&mut self, init: Init);

    /// Whether the GPU backend (`crate::gpu`, cargo feature `gpu`) has kernels for this kind; it
    /// asks before it takes a model, so that a kind it lacks is named instead of silently run on
    /// the CPU. True for every kind so far; a new kind answers it before the GPU takes it.
    fn gpu(&self) -> bool;

    /// The init this kind asks of the layer that feeds it when that layer's spec gives none: He
    /// before ReLU-like activations, LeCun before the identity. `None`: no preference (Xavier).
    fn init_before(&self) -> Option<Init> {
        None
    }

    /// The activation this layer applies, if it is an activation layer (greedy pre-training uses
    /// it in its autoencoders, `nabla train` names it).
    fn activation(&self) -> Option<Activation> {
        None
    }

    /// The number of units of a layer that greedy pre-training trains as the encoder of an
    /// autoencoder when an activation follows it (`linear`); `None` for other kinds.
    fn pretrain_units(&self) -> Option<usize> {
        None
    }
}

/// (C, H, W) of an image input, or the error of a layer that needs one.
pub(super) fn image(input: &[usize]) -> Result<(usize, usize, usize), String> {
    match *input {
        [c, h, w] => Ok((c, h, w)),
        _ => Err(format!("needs an image input C×H×W, got shape {input:?}")),
    }
}

/// F of a flat input, or the error of a layer that needs one.
pub(super) fn flat(input: &[usize]) -> Result<usize, String> {
    match *input {
        [f] => Ok(f),
        _ => Err(format!("needs a flat input (add a flatten layer before it), got shape {input:?}")),
    }
}

/// An error if a count of units (`out`, `hidden`, …) is zero.
pub(super) fn units(what: &str, n: usize, input: &[usize]) -> Result<(), String> {
    if n == 0 { Err(format!("{what} = 0 (input shape {input:?})")) } else { Ok(()) }
}

/// `size` + 2·`padding`, or an error if that does not fit in a `usize` (a hostile spec's
/// `padding = 2^63 − 1` must not wrap around).
pub(super) fn padded(size: usize, padding: usize, input: &[usize]) -> Result<usize, String> {
    padding
        .checked_mul(2)
        .and_then(|p| p.checked_add(size))
        .ok_or_else(|| format!("padding {padding} is too large (input shape {input:?})"))
}

/// The number of values of a shape, or an error if it does not fit in a `usize`.
pub(super) fn elements(shape: &[usize]) -> Result<usize, String> {
    shape.iter().try_fold(1usize, |n, &d| n.checked_mul(d)).ok_or_else(|| format!("shape {shape:?} is too large"))
}

/// The number of values of a shape, `usize::MAX` if more: counts saturate, so that a count too
/// large to hold is refused by the size limits (see [`super::SizeLimits`]) instead of wrapping.
pub(super) fn saturating_product(shape: &[usize]) -> usize {
    shape.iter().fold(1, |n: usize, &d| n.saturating_mul(d))
}

/// The values of a window sliding over `input` padded by `padding` to give `output`: the padded
/// input, one column of KH·KW·C values per output position (im2col), and the output.
pub(super) fn window_values(input: &[usize], output: &[usize], kernel: Size2, padding: Size2) -> usize {
    let padded = [
        input[0],
        input[1].saturating_add(padding.0.saturating_mul(2)),
        input[2].saturating_add(padding.1.saturating_mul(2)),
    ];
    let columns = saturating_product(&[input[0], kernel.0, kernel.1, output[1], output[2]]);
    saturating_product(&padded).saturating_add(columns).saturating_add(saturating_product(output))
}

/// (C, OH, OW) of a window sliding over an image input padded by `padding` on each side.
pub(super) fn windows(
    input: &[usize],
    kernel: Size2,
    stride: Size2,
    padding: Size2,
) -> Result<(usize, usize, usize), String> {
    let (c, h, w) = image(input)?;
    for (what, s) in [("kernel", kernel), ("stride", stride)] {
        if s.0 == 0 || s.1 == 0 {
            return Err(format!("{what} {s} must be positive (input shape {input:?})"));
        }
    }
    let (ph, pw) = (padded(h, padding.0, input)?, padded(w, padding.1, input)?);
    if kernel.0 > ph || kernel.1 > pw {
        let padded = if padding == Size2(0, 0) { String::new() } else { format!(" padded by {padding}") };
        return Err(format!("kernel {kernel} does not fit input shape {input:?}{padded}"));
    }
    Ok((c, (ph - kernel.0) / stride.0 + 1, (pw - kernel.1) / stride.1 + 1))
}
