//! Convolution: 1-D and 2-D, batched, through im2col and the GEMM.
//!
//! Shapes: input x N×C×H×W, weight W O×C×KH×KW, bias b O, stride (SH, SW), zero padding (PH, PW);
//! output N×O×OH×OW with OH = (H + 2·PH − KH)/SH + 1 and OW likewise. As in every deep-learning
//! library, "convolution" is cross-correlation: y[n,o,i,j] = b[o] + Σ_{c,u,v} W[o,c,u,v] ·
//! x[n, c, i·SH + u − PH, j·SW + v − PW] (a true convolution flips the kernel; see the
//! polynomial-product test).
//!
//! im2col: with K = C·KH·KW and P = OH·OW, the patches of G samples are unrolled into a K×(G·P)
//! matrix `cols` (row (c, u, v), column (sample, i, j)), so that the whole forward pass is one GEMM,
//! W (O×K) · cols (K×G·P), followed by a copy into N×O×P order that adds the bias.
//!
//! At stride 1, `cols` is built *wide*: each output row gets WP = W + 2·PW columns instead of OW,
//! the last KW − 1 of them unused. Then row (c, u, v) of one sample is a single contiguous run of
//! the (padded) input plane, starting at u·WP + v, instead of OH runs of OW values each: im2col is
//! one long copy per row and sample and col2im one long vector add, where the short runs spent most
//! of their time on loop overhead. The unused columns
//! cost (KW − 1)/WP more GEMM work (13% for LeNet's C1, 29% for C3, 3% for 3×3 on 56×56); they
//! hold finite input values (or zeros) and meet zero δ in backward, so they change nothing. Padded
//! inputs are first copied into a zero-bordered buffer. With a kernel as large as the unpadded
//! input (LeNet-5's C5), `cols` is the input transposed and is never built.
//!
//! Backward, with δ = ∂E/∂y rearranged as O×(G·P):
//!   δ for the input = col2im(Wᵀ·δ)  (col2im adds each column of the K×(G·P) product back onto the
//!                                    input pixel it was copied from),
//!   ∂E/∂W = δ·colsᵀ                (O×G·P · G·P×K),
//!   ∂E/∂b = Σ δ                    (over samples and output positions).
//! Transposes are GEMM strides, never copies. `cols` is not kept between forward and backward: it
//! is rebuilt in backward, which costs one memory pass and saves holding K·N·P floats per layer.
//!
//! A batch is processed in chunks of G samples whose `cols` fits about 2 MiB, and in at least
//! [`MIN_CHUNKS`] chunks when the batch has that many samples (G = 16 for LeNet's C1 and C3 at
//! batch 64, 1 for 64 channels on 56×56), so that each GEMM is large (G·P columns) while `cols`
//! stays in cache between im2col and the GEMM; its buffers are reused from call to call. The
//! chunks run in parallel, one per thread at a time, each doing its own im2col, GEMM,
//! rearrangement and col2im: coarse tasks that keep both cores of a small machine busy on LeNet's
//! small layers, where splitting each step across threads cost more in synchronisation than it
//! saved. The chunking does not depend on the number of threads, no sum is split between threads,
//! and the weight gradient adds the chunks' parts in chunk order, so results are bit-identical
//! from run to run.
//!
//! [`conv2d_naive`] (plain loops, f64 sums) stays beside the fast kernel as its test oracle.

use crate::autodiff::Var;
use crate::tensor::team;
use crate::tensor::{Tensor, Transpose, gemm_into};
use std::cell::Cell;

/// The most floats that one chunk's `cols` may hold (2 MiB, about one core's L2 cache), unless a
/// single sample needs more. Measured on LeNet's layers at batch 64 and on 64 channels of 56×56:
/// chunks of this size ran as fast as or faster than whole batches, and take far less memory.
const COLS_BUDGET: usize = 1 << 19;

/// The fewest chunks a batch is cut into (when it has that many samples), so that two or four
/// threads share the work evenly.
const MIN_CHUNKS: usize = 4;

/// The sizes of one convolution, checked.
#[derive(Clone, Copy, Debug)]
struct Geometry {
    n: usize,
    c: usize,
    h: usize,
    w: usize,
    o: usize,
    kh: usize,
    kw: usize,
    sh: usize,
    sw: usize,
    ph: usize,
    pw: usize,
    oh: usize,
    ow: usize,
    /// Samples per chunk (G).
    chunk: usize,
    /// Whether `cols` is built wide (stride 1; see the module docs).
    wide: bool,
}

impl Geometry {
    /// Checks the shapes of input, weight and bias and derives the output size; panics naming
    /// `op` and the shapes when they do not fit.
    #[track_caller]
    fn new(
        op: &str,
        x: &[usize],
        w: &[usize],
        b: Option<&[usize]>,
        stride: (usize, usize),
        padding: (usize, usize),
    ) -> Geometry {
        let ([n, c, h, wi], [o, c2, kh, kw]) = (x, w) else {
            panic!("{op}: input {x:?} and weight {w:?} do not fit (want N×C×H×W and O×C×KH×KW)");
        };
        let (n, c, h, wi, o, kh, kw) = (*n, *c, *h, *wi, *o, *kh, *kw);
        assert!(c == *c2, "{op}: input {x:?} has {c} channels but weight {w:?} expects {c2}");
        if let Some(b) = b {
            assert!(b == [o], "{op}: bias {b:?} does not fit weight {w:?} (want [{o}])");
        }
        assert!(stride.0 > 0 && stride.1 > 0, "{op}: stride must be positive, got {stride:?}");
        assert!(
            kh > 0 && kw > 0 && kh <= h + 2 * padding.0 && kw <= wi + 2 * padding.1,
            "{op}: kernel of weight {w:?} does not fit input {x:?} padded by {padding:?}"
        );
        let (oh, ow) = ((h + 2 * padding.0 - kh) / stride.0 + 1, (wi + 2 * padding.1 - kw) / stride.1 + 1);
        let whole_input = kh == h && kw == wi && padding == (0, 0);
        let wide = stride == (1, 1) && !whole_input;
        let per_sample = c * kh * kw * oh * if wide { wi + 2 * padding.1 } else { ow };
        let fits = (COLS_BUDGET / per_sample.max(1)).clamp(1, n.max(1));
        let chunks = n.div_ceil(fits).max(MIN_CHUNKS.min(n)).max(1);
        Geometry {
            n,
            c,
            h,
            w: wi,
            o,
            kh,
            kw,
            sh: stride.0,
            sw: stride.1,
            ph: padding.0,
            pw: padding.1,
            oh,
            ow,
            chunk: n.div_ceil(chunks).max(1),
            wide,
        }
    }

    /// Columns of `cols` per output row: WP = W + 2·PW when wide, else OW.
    fn row_stride(&self) -> usize {
        if self.wide { self.w + 2 * self.pw } else { self.ow }
    }

    /// Columns of `cols` per sample: OH · [`Geometry::row_stride`].
    fn q(&self) -> usize {
        self.oh * self.row_stride()
    }

    /// Values per sample of the padded input: C·HP·WP.
    fn padded_chw(&self) -> usize {
        self.c * (self.h + 2 * self.ph) * (self.w + 2 * self.pw)
    }

    /// Whether the input has a zero border.
    fn padded(&self) -> bool {
        self.ph > 0 || self.pw > 0
    }

    /// Rows of `cols`: C·KH·KW.
    fn k(&self) -> usize {
        self.c * self.kh * self.kw
    }

    /// Output positions per sample: OH·OW.
    fn p(&self) -> usize {
        self.oh * self.ow
    }

    /// Input values per sample: C·H·W.
    fn chw(&self) -> usize {
        self.c * self.h * self.w
    }

    /// Whether each kernel covers its whole (unpadded) input, as LeNet-5's C5 does: then one
    /// sample's patch is the sample itself, `cols` is the chunk's input transposed, and the GEMMs
    /// read the input in place instead of through im2col and col2im.
    fn whole_input(&self) -> bool {
        self.kh == self.h && self.kw == self.w && self.ph == 0 && self.pw == 0
    }
}

/// The output indices `lo..hi` (of `out_len`) whose input index `i·stride + offset − pad` lies in
/// `0..in_len`.
fn valid_range(out_len: usize, in_len: usize, stride: usize, offset: usize, pad: usize) -> (usize, usize) {
    let lo = pad.saturating_sub(offset).div_ceil(stride);
    let hi = (in_len + pad).saturating_sub(offset).div_ceil(stride).min(out_len);
    (lo.min(hi), hi)
}

/// Unrolls the patches of `g` samples `x` (g×C×H×W) into `cols` (K×(g·P)), zeros where a patch
/// covers the padding.
fn im2col(geo: &Geometry, x: &[f32], g: usize, cols: &mut [f32]) {
    let (hw, p, ow) = (geo.h * geo.w, geo.p(), geo.ow);
    for (r, row) in cols.chunks_exact_mut(g * p).enumerate() {
        let (ci, ki, kj) = (r / (geo.kh * geo.kw), r / geo.kw % geo.kh, r % geo.kw);
        let (ylo, yhi) = valid_range(geo.oh, geo.h, geo.sh, ki, geo.ph);
        let (xlo, xhi) = valid_range(ow, geo.w, geo.sw, kj, geo.pw);
        for (s, dst) in row.chunks_exact_mut(p).enumerate() {
            let plane = &x[(s * geo.c + ci) * hw..][..hw];
            dst[..ylo * ow].fill(0.0);
            dst[yhi * ow..].fill(0.0);
            for (oy, dst_row) in dst.chunks_exact_mut(ow).enumerate().take(yhi).skip(ylo) {
                dst_row[..xlo].fill(0.0);
                dst_row[xhi..].fill(0.0);
                if xlo == xhi {
                    continue;
                }
                let iy = oy * geo.sh + ki - geo.ph;
                let src = &plane[iy * geo.w..][..geo.w][xlo * geo.sw + kj - geo.pw..];
                let dst_row = &mut dst_row[xlo..xhi];
                if geo.sw == 1 {
                    copy_row(dst_row, src);
                } else {
                    for (d, &v) in dst_row.iter_mut().zip(src.iter().step_by(geo.sw)) {
                        *d = v;
                    }
                }
            }
        }
    }
}

/// Copies the first `dst.len()` floats of `src` into `dst`. Short rows go eight floats at a time:
/// `copy_from_slice` calls `memmove`, whose call overhead dominates rows of ten floats (im2col of
/// LeNet's C3 ran 20% faster without it), while it wins on long rows.
fn copy_row(dst: &mut [f32], src: &[f32]) {
    let src = &src[..dst.len()];
    if dst.len() >= 32 {
        dst.copy_from_slice(src);
        return;
    }
    let mut dst8 = dst.chunks_exact_mut(8);
    let mut src8 = src.chunks_exact(8);
    for (d, s) in (&mut dst8).zip(&mut src8) {
        d.copy_from_slice(s);
    }
    for (d, &s) in dst8.into_remainder().iter_mut().zip(src8.remainder()) {
        *d = s;
    }
}

/// The adjoint of [`im2col`]: adds every entry of `cols` (K×(g·P)) onto the input pixel of `dx`
/// (g×C×H×W) that it was copied from. Each plane sums its contributions in a fixed order.
fn col2im(geo: &Geometry, cols: &[f32], g: usize, dx: &mut [f32]) {
    let (hw, p, ow, khw) = (geo.h * geo.w, geo.p(), geo.ow, geo.kh * geo.kw);
    for (plane_index, plane) in dx.chunks_exact_mut(hw).enumerate() {
        let (s, ci) = (plane_index / geo.c, plane_index % geo.c);
        for (ki, kj) in (0..geo.kh).flat_map(|ki| (0..geo.kw).map(move |kj| (ki, kj))) {
            let r = ci * khw + ki * geo.kw + kj;
            let src = &cols[r * g * p + s * p..][..p];
            let (ylo, yhi) = valid_range(geo.oh, geo.h, geo.sh, ki, geo.ph);
            let (xlo, xhi) = valid_range(ow, geo.w, geo.sw, kj, geo.pw);
            if xlo == xhi {
                continue;
            }
            for (oy, src_row) in src.chunks_exact(ow).enumerate().take(yhi).skip(ylo) {
                let iy = oy * geo.sh + ki - geo.ph;
                let dst = &mut plane[iy * geo.w..][..geo.w][xlo * geo.sw + kj - geo.pw..];
                let src_row = &src_row[xlo..xhi];
                if geo.sw == 1 {
                    for (d, &v) in dst[..src_row.len()].iter_mut().zip(src_row) {
                        *d += v;
                    }
                } else {
                    for (d, &v) in dst.iter_mut().step_by(geo.sw).zip(src_row) {
                        *d += v;
                    }
                }
            }
        }
    }
}

/// The `g` samples of `x` (g×C×H×W) with a zero border: g×C×HP×WP in `buf`.
fn pad_planes(geo: &Geometry, x: &[f32], buf: &mut [f32]) {
    let (wp, ph, pw) = (geo.w + 2 * geo.pw, geo.ph, geo.pw);
    let hpwp = (geo.h + 2 * ph) * wp;
    for (dst, src) in buf.chunks_exact_mut(hpwp).zip(x.chunks_exact(geo.h * geo.w)) {
        dst[..ph * wp].fill(0.0);
        dst[(ph + geo.h) * wp..].fill(0.0);
        for (row, src_row) in dst[ph * wp..].chunks_exact_mut(wp).zip(src.chunks_exact(geo.w)) {
            row[..pw].fill(0.0);
            row[pw..pw + geo.w].copy_from_slice(src_row);
            row[pw + geo.w..].fill(0.0);
        }
    }
}

/// The length of the contiguous run that row (c, u, v) of one sample copies in a wide `cols`: the
/// columns up to the last used one, (OH − 1)·WP + OW. It ends inside the padded plane for every
/// (u, v); the unused columns after it are zero.
fn wide_run(geo: &Geometry) -> usize {
    (geo.oh - 1) * geo.row_stride() + geo.ow
}

/// Wide im2col (stride 1): row (c, u, v) of sample s is the run of padded plane (s, c) that
/// starts at u·WP + v. `xp` holds g padded samples, g×C×HP×WP.
fn im2col_wide(geo: &Geometry, xp: &[f32], g: usize, cols: &mut [f32]) {
    let (q, wp, run) = (geo.q(), geo.row_stride(), wide_run(geo));
    let hpwp = (geo.h + 2 * geo.ph) * wp;
    for (r, row) in cols.chunks_exact_mut(g * q).enumerate() {
        let (ci, ki, kj) = (r / (geo.kh * geo.kw), r / geo.kw % geo.kh, r % geo.kw);
        let start = ki * wp + kj;
        for (s, dst) in row.chunks_exact_mut(q).enumerate() {
            let plane = &xp[(s * geo.c + ci) * hpwp..][..hpwp];
            dst[..run].copy_from_slice(&plane[start..start + run]);
            dst[run..].fill(0.0);
        }
    }
}

/// The adjoint of [`im2col_wide`]: adds each row's run back onto the padded planes `dxp`
/// (g×C×HP×WP), each plane in a fixed order.
fn col2im_wide(geo: &Geometry, cols: &[f32], g: usize, dxp: &mut [f32]) {
    let (q, wp, run, khw) = (geo.q(), geo.row_stride(), wide_run(geo), geo.kh * geo.kw);
    let hpwp = (geo.h + 2 * geo.ph) * wp;
    for (plane_index, plane) in dxp.chunks_exact_mut(hpwp).enumerate() {
        let (s, ci) = (plane_index / geo.c, plane_index % geo.c);
        for r in ci * khw..(ci + 1) * khw {
            let start = (r % khw / geo.kw) * wp + r % geo.kw;
            let src = &cols[r * g * q + s * q..][..run];
            for (d, &v) in plane[start..start + run].iter_mut().zip(src) {
                *d += v;
            }
        }
    }
}

/// Copies the inside of padded planes `dxp` (g×C×HP×WP) to `dx` (g×C×H×W).
fn crop_planes(geo: &Geometry, dxp: &[f32], dx: &mut [f32]) {
    let wp = geo.w + 2 * geo.pw;
    let hpwp = (geo.h + 2 * geo.ph) * wp;
    for (dst, src) in dx.chunks_exact_mut(geo.h * geo.w).zip(dxp.chunks_exact(hpwp)) {
        for (row, src_row) in dst.chunks_exact_mut(geo.w).zip(src[geo.ph * wp..].chunks_exact(wp)) {
            row.copy_from_slice(&src_row[geo.pw..geo.pw + geo.w]);
        }
    }
}

/// `cols` for the `g` samples `x`, by the wide or the general im2col; `pad` is scratch for the
/// padded input.
fn unroll(geo: &Geometry, x: &[f32], g: usize, cols: &mut [f32], pad: &mut [f32]) {
    if !geo.wide {
        im2col(geo, x, g, cols);
    } else if geo.padded() {
        let pad = &mut pad[..g * geo.padded_chw()];
        pad_planes(geo, x, pad);
        im2col_wide(geo, pad, g, cols);
    } else {
        im2col_wide(geo, x, g, cols);
    }
}

/// Adds `cols` back onto `dx` (the `g` samples' input gradient, zeros on entry), by the wide or
/// the general col2im; `pad` is scratch for the padded gradient.
fn roll_back(geo: &Geometry, cols: &[f32], g: usize, dx: &mut [f32], pad: &mut [f32]) {
    if !geo.wide {
        col2im(geo, cols, g, dx);
    } else if geo.padded() {
        let pad = &mut pad[..g * geo.padded_chw()];
        pad.fill(0.0);
        col2im_wide(geo, cols, g, pad);
        crop_planes(geo, pad, dx);
    } else {
        col2im_wide(geo, cols, g, dx);
    }
}

thread_local! {
    /// Scratch for `cols` and the rearranged output or δ, kept between calls: a fresh buffer of
    /// this size costs a page fault per 4 KiB on first touch, which is a large part of the time of
    /// a small layer. It holds one chunk's worth per thread: about `COLS_BUDGET` floats, or one
    /// sample's `cols` where that is larger.
    static SCRATCH: Cell<Vec<f32>> = const { Cell::new(Vec::new()) };
}

/// Runs `f` on three scratch buffers of `a`, `b` and `c` floats (stale values, not zeros). A
/// nested call finds the scratch taken and allocates its own.
fn with_scratch<R>(a: usize, b: usize, c: usize, f: impl FnOnce(&mut [f32], &mut [f32], &mut [f32]) -> R) -> R {
    let mut buf = SCRATCH.take();
    if buf.len() < a + b + c {
        buf = vec![0.0; a + b + c];
    }
    let (first, rest) = buf.split_at_mut(a);
    let (second, third) = rest.split_at_mut(b);
    let result = f(first, second, &mut third[..c]);
    SCRATCH.set(buf);
    result
}

/// The forward pass: y = W·im2col(x) + b, the chunks in parallel, returned as N×O×OH×OW.
fn conv2d_forward(geo: &Geometry, x: &[f32], w: &[f32], b: Option<&[f32]>) -> Tensor {
    let (k, p, q, o, chw) = (geo.k(), geo.p(), geo.q(), geo.o, geo.chw());
    let (ow, stride) = (geo.ow, geo.row_stride());
    let mut out = vec![0.0; geo.n * o * p];
    team::for_each(out.chunks_mut(geo.chunk * o * p).enumerate().collect(), |(index, out)| {
        let (n0, g) = (index * geo.chunk, out.len() / (o * p));
        let x = &x[n0 * chw..(n0 + g) * chw];
        let pad = if geo.wide && geo.padded() { g * geo.padded_chw() } else { 0 };
        with_scratch(k * g * q, o * g * q, pad, |cols, prod, pad| {
            if geo.whole_input() {
                gemm_into(o, g, k, w, Transpose::No, x, Transpose::Yes, prod, false);
            } else {
                unroll(geo, x, g, cols, pad);
                gemm_into(o, g * q, k, w, Transpose::No, cols, Transpose::No, prod, false);
            }
            // O×(g·Q) → g×O×OH×OW, dropping unused columns and adding the bias on the way
            for (i, dst) in out.chunks_exact_mut(p).enumerate() {
                let (s, oc) = (i / o, i % o);
                let bias = b.map_or(0.0, |b| b[oc]);
                let src = &prod[oc * g * q + s * q..][..q];
                for (dst_row, src_row) in dst.chunks_exact_mut(ow).zip(src.chunks_exact(stride)) {
                    for (d, &v) in dst_row.iter_mut().zip(src_row) {
                        *d = v + bias;
                    }
                }
            }
        });
    });
    Tensor::from_vec(out, &[geo.n, o, geo.oh, geo.ow])
}

/// The gradients of the input, the weight and the bias, each only when asked for.
struct ConvGrads {
    x: Option<Vec<f32>>,
    w: Option<Vec<f32>>,
    b: Option<Vec<f32>>,
}

/// The backward pass: δx = col2im(Wᵀ·δ), ∂E/∂W = δ·colsᵀ, ∂E/∂b = Σ δ. The chunks run in
/// parallel; each writes its samples' part of δx and returns its part of ∂E/∂W, and the parts are
/// added in chunk order. The weight gradient is computed as its transpose cols·δᵀ (K×O), which
/// the GEMM ran 1.2 to 2.7 times faster than δ·colsᵀ (O×K) on LeNet's C1 and C3 and on 64
/// channels of 56×56, and transposed once at the end. ∂E/∂b is summed per output map over the
/// samples in order, in f64, independently of the chunks.
fn conv2d_backward(geo: &Geometry, x: &[f32], w: &[f32], delta: &[f32], need: [bool; 3]) -> ConvGrads {
    let (k, p, o, chw) = (geo.k(), geo.p(), geo.o, geo.chw());
    let db = need[2].then(|| {
        let mut db = vec![0.0; o];
        team::for_each(db.iter_mut().enumerate().collect(), |(oc, db)| {
            let planes = (0..geo.n).map(|s| &delta[(s * o + oc) * p..][..p]);
            *db = planes.map(|plane| plane.iter().map(|&v| v as f64).sum::<f64>()).sum::<f64>() as f32;
        });
        db
    });
    // one chunk: writes its part of δx (when given) and returns its part of ∂E/∂Wᵀ (when needed)
    let (q, ow, stride) = (geo.q(), geo.ow, geo.row_stride());
    let chunk = |index: usize, dx: Option<&mut [f32]>| -> Option<Vec<f32>> {
        let n0 = index * geo.chunk;
        let g = geo.chunk.min(geo.n - n0);
        let pad = if geo.wide && geo.padded() { g * geo.padded_chw() } else { 0 };
        with_scratch(k * g * q, o * g * q, pad, |cols, d, pad| {
            // δ: g×O×OH×OW → O×(g·Q), zeros in the unused columns
            for (oc, row) in d.chunks_exact_mut(g * q).enumerate() {
                for (s, dst) in row.chunks_exact_mut(q).enumerate() {
                    let src = &delta[((n0 + s) * o + oc) * p..][..p];
                    for (dst_row, src_row) in dst.chunks_exact_mut(stride).zip(src.chunks_exact(ow)) {
                        dst_row[..ow].copy_from_slice(src_row);
                        dst_row[ow..].fill(0.0);
                    }
                }
            }
            let x = &x[n0 * chw..(n0 + g) * chw];
            let dw_t = need[1].then(|| {
                let mut dw_t = vec![0.0; k * o];
                if geo.whole_input() {
                    gemm_into(k, o, g, x, Transpose::Yes, d, Transpose::Yes, &mut dw_t, false);
                } else {
                    unroll(geo, x, g, cols, pad);
                    gemm_into(k, o, g * q, cols, Transpose::No, d, Transpose::Yes, &mut dw_t, false);
                }
                dw_t
            });
            if let Some(dx) = dx {
                if geo.whole_input() {
                    // δx (g×K) = δᵀ (g×O) · W (O×K)
                    gemm_into(g, k, o, d, Transpose::Yes, w, Transpose::No, dx, false);
                } else {
                    gemm_into(k, g * q, o, w, Transpose::Yes, d, Transpose::No, cols, false);
                    roll_back(geo, cols, g, dx, pad);
                }
            }
            dw_t
        })
    };
    let chunks = geo.n.div_ceil(geo.chunk);
    let mut dx = need[0].then(|| vec![0.0; geo.n * chw]);
    let mut parts: Vec<Option<Vec<f32>>> = vec![None; chunks];
    match dx.as_mut() {
        Some(dx) => {
            let items = dx.chunks_mut(geo.chunk * chw).zip(parts.iter_mut()).enumerate().collect();
            team::for_each(items, |(i, (dx, part))| *part = chunk(i, Some(dx)));
        }
        None if need[1] => team::for_each(parts.iter_mut().enumerate().collect(), |(i, part)| *part = chunk(i, None)),
        None => {}
    }
    let w = need[1].then(|| {
        let mut dw_t = vec![0.0; k * o];
        for part in parts.iter().flatten() {
            dw_t.iter_mut().zip(part).for_each(|(a, &b)| *a += b);
        }
        (0..o * k).map(|i| dw_t[i % k * o + i / k]).collect()
    });
    ConvGrads { x: dx, w, b: db }
}

impl Var {
    /// 2-D convolution (cross-correlation) of an N×C×H×W input with an O×C×KH×KW weight and an
    /// optional bias of O values, with `stride` and zero `padding` as (rows, columns); gives
    /// N×O×OH×OW with OH = (H + 2·padding.0 − KH)/stride.0 + 1 and OW likewise. Panics naming both
    /// shapes when they do not fit.
    #[track_caller]
    pub fn conv2d(&self, w: &Var, b: Option<&Var>, stride: (usize, usize), padding: (usize, usize)) -> Var {
        let geo = Geometry::new("conv2d", self.shape(), w.shape(), b.map(Var::shape), stride, padding);
        let value = conv2d_forward(&geo, self.value().data(), w.value().data(), b.map(|b| b.value().data()));
        let mut parents = vec![self.clone(), w.clone()];
        parents.extend(b.cloned());
        Var::from_op(
            value,
            parents,
            Box::new(move |delta, p| {
                let need = [p[0].requires_grad(), p[1].requires_grad(), p.get(2).is_some_and(Var::requires_grad)];
                let grads = conv2d_backward(&geo, p[0].value().data(), p[1].value().data(), delta.data(), need);
                let mut out = vec![
                    grads.x.map(|g| Tensor::from_vec(g, p[0].shape())),
                    grads.w.map(|g| Tensor::from_vec(g, p[1].shape())),
                ];
                if p.len() == 3 {
                    out.push(grads.b.map(|g| Tensor::from_vec(g, p[2].shape())));
                }
                out
            }),
        )
    }

    /// 1-D convolution (cross-correlation) of an N×C×L input with an O×C×K weight and an optional
    /// bias of O values; gives N×O×OL with OL = (L + 2·padding − K)/stride + 1. It is
    /// [`Var::conv2d`] on a view with H = 1, so it shares its kernel and its gradients.
    #[track_caller]
    pub fn conv1d(&self, w: &Var, b: Option<&Var>, stride: usize, padding: usize) -> Var {
        let ([n, c, l], [o, c2, k]) = (self.shape(), w.shape()) else {
            panic!("conv1d: input {:?} and weight {:?} do not fit (want N×C×L and O×C×K)", self.shape(), w.shape());
        };
        let (n, c, l, o, c2, k) = (*n, *c, *l, *o, *c2, *k);
        let (xs, ws) = (self.shape(), w.shape());
        assert!(c == c2, "conv1d: input {xs:?} has {c} channels but weight {ws:?} expects {c2}");
        if let Some(b) = b {
            assert!(b.shape() == [o], "conv1d: bias {:?} does not fit weight {ws:?} (want [{o}])", b.shape());
        }
        assert!(stride > 0, "conv1d: stride must be positive, got {stride}");
        assert!(
            k > 0 && k <= l + 2 * padding,
            "conv1d: kernel of weight {ws:?} does not fit input {xs:?} padded by {padding}"
        );
        let y = self.reshape(&[n, c, 1, l]).conv2d(&w.reshape(&[o, c, 1, k]), b, (1, stride), (0, padding));
        let ol = y.shape()[3];
        y.reshape(&[n, o, ol])
    }
}

/// Direct 2-D convolution in plain loops with f64 sums: the oracle for [`Var::conv2d`]'s kernel.
/// Same shapes and conventions as [`Var::conv2d`].
#[track_caller]
pub fn conv2d_naive(
    x: &Tensor,
    w: &Tensor,
    b: Option<&Tensor>,
    stride: (usize, usize),
    padding: (usize, usize),
) -> Tensor {
    let geo = Geometry::new("conv2d_naive", x.shape(), w.shape(), b.map(Tensor::shape), stride, padding);
    let (xd, wd) = (x.data(), w.data());
    let mut out = Vec::with_capacity(geo.n * geo.o * geo.p());
    for n in 0..geo.n {
        for o in 0..geo.o {
            for i in 0..geo.oh {
                for j in 0..geo.ow {
                    let mut acc = b.map_or(0.0, |b| b.data()[o] as f64);
                    for c in 0..geo.c {
                        for u in 0..geo.kh {
                            for v in 0..geo.kw {
                                let iy = (i * geo.sh + u) as isize - geo.ph as isize;
                                let ix = (j * geo.sw + v) as isize - geo.pw as isize;
                                if iy < 0 || ix < 0 || iy >= geo.h as isize || ix >= geo.w as isize {
                                    continue;
                                }
                                let xv = xd[((n * geo.c + c) * geo.h + iy as usize) * geo.w + ix as usize];
                                let wv = wd[((o * geo.c + c) * geo.kh + u) * geo.kw + v];
                                acc += xv as f64 * wv as f64;
                            }
                        }
                    }
                    out.push(acc as f32);
                }
            }
        }
    }
    Tensor::from_vec(out, &[geo.n, geo.o, geo.oh, geo.ow])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops::testing::{check, randn};

    /// (N, C, H, W, O, KH, KW, stride, padding)
    type Config = (usize, usize, usize, usize, usize, usize, usize, (usize, usize), (usize, usize));

    const CONFIGS: [Config; 9] = [
        (1, 1, 4, 4, 1, 3, 3, (1, 1), (0, 0)),
        (2, 3, 5, 7, 4, 3, 2, (1, 1), (1, 0)),
        (2, 2, 7, 6, 3, 3, 3, (2, 2), (1, 1)),
        (3, 2, 9, 8, 2, 5, 3, (2, 3), (2, 1)),
        (1, 3, 5, 5, 2, 1, 1, (1, 2), (0, 0)),
        (2, 1, 6, 6, 2, 3, 3, (3, 1), (2, 2)),
        (2, 2, 3, 3, 3, 4, 4, (1, 1), (1, 1)),
        // kernels that cover the whole input (LeNet-5's C5): no im2col
        (3, 4, 5, 5, 6, 5, 5, (1, 1), (0, 0)),
        (2, 2, 3, 4, 3, 3, 4, (2, 2), (0, 0)),
    ];

    fn assert_close(got: &[f32], want: &[f32], what: &str) {
        assert_eq!(got.len(), want.len(), "{what}");
        for (i, (g, w)) in got.iter().zip(want).enumerate() {
            assert!((g - w).abs() <= 1e-4 * (1.0 + w.abs()), "{what}: element {i}: {g} vs {w}");
        }
    }

    #[test]
    fn conv2d_equals_naive_on_random_inputs() {
        let bigger: Config = (4, 6, 14, 14, 16, 5, 5, (1, 1), (0, 0));
        for (seed, &(n, c, h, w, o, kh, kw, stride, padding)) in CONFIGS.iter().chain([&bigger]).enumerate() {
            let t = randn(seed as u64, &[&[n, c, h, w], &[o, c, kh, kw], &[o]]);
            for bias in [None, Some(&t[2])] {
                let want = conv2d_naive(&t[0], &t[1], bias, stride, padding);
                let v: Vec<Var> = t.iter().cloned().map(Var::constant).collect();
                let got = v[0].conv2d(&v[1], bias.map(|_| &v[2]), stride, padding);
                assert_eq!(got.shape(), want.shape());
                assert_close(got.value().data(), want.data(), &format!("config {seed}"));
            }
        }
    }

    #[test]
    fn conv2d_passes_gradient_check() {
        for (seed, &(n, c, h, w, o, kh, kw, stride, padding)) in CONFIGS.iter().enumerate() {
            let t = randn(10 + seed as u64, &[&[n, c, h, w], &[o, c, kh, kw], &[o]]);
            check(&t, |v| v[0].conv2d(&v[1], Some(&v[2]), stride, padding));
            check(&t[..2], |v| v[0].conv2d(&v[1], None, stride, padding));
        }
    }

    #[test]
    fn chunked_batches_give_the_same_values_and_gradients() {
        let (n, c, h, w, o, kh, kw, stride, padding) = CONFIGS[3];
        let t = randn(3, &[&[n, c, h, w], &[o, c, kh, kw], &[o]]);
        let geo = Geometry::new("test", t[0].shape(), t[1].shape(), Some(t[2].shape()), stride, padding);
        // a batch of fewer than MIN_CHUNKS samples is cut into single samples
        assert_eq!(geo.chunk, 1);
        let whole = Geometry { chunk: n, ..geo };
        let single = Geometry { chunk: 1, ..whole };
        let two = Geometry { chunk: 2, ..whole };
        let delta = randn(4, &[&[n, o, whole.oh, whole.ow]]).remove(0);
        let (x, wt, b) = (t[0].data(), t[1].data(), Some(t[2].data()));
        let reference = conv2d_forward(&whole, x, wt, b);
        let grads = conv2d_backward(&whole, x, wt, delta.data(), [true; 3]);
        for geo in [single, two] {
            assert_eq!(conv2d_forward(&geo, x, wt, b), reference);
            let g = conv2d_backward(&geo, x, wt, delta.data(), [true; 3]);
            assert_eq!(g.x, grads.x, "the input gradient does not depend on the chunking");
            assert_eq!(g.b, grads.b);
            assert_close(g.w.as_deref().unwrap(), grads.w.as_deref().unwrap(), "weight gradient");
        }
    }

    #[test]
    fn batches_are_cut_into_balanced_chunks() {
        let chunk = |x: &[usize], w: &[usize], padding| Geometry::new("test", x, w, None, (1, 1), padding).chunk;
        // LeNet at batch 64: four chunks of 16 (C1's cols alone would allow 26 samples, C3's 34)
        assert_eq!(chunk(&[64, 1, 28, 28], &[6, 1, 5, 5], (2, 2)), 16);
        assert_eq!(chunk(&[64, 6, 14, 14], &[16, 6, 5, 5], (0, 0)), 16);
        // one sample's cols exceed the budget: one sample per chunk
        assert_eq!(chunk(&[32, 64, 56, 56], &[64, 64, 3, 3], (1, 1)), 1);
        // 200 samples of C1: a wide cols of 23 samples fits, so 9 chunks of 23
        assert_eq!(chunk(&[200, 1, 28, 28], &[6, 1, 5, 5], (2, 2)), 23);
    }

    #[test]
    fn conv2d_is_bit_identical_run_to_run() {
        // large enough for the GEMM to use both cores
        let t = randn(5, &[&[8, 16, 20, 20], &[32, 16, 3, 3], &[32]]);
        let run = || {
            let v: Vec<Var> = t.iter().cloned().map(Var::leaf).collect();
            let y = v[0].conv2d(&v[1], Some(&v[2]), (1, 1), (1, 1));
            let grads = y.square().sum().backward();
            let mut all = y.value().data().to_vec();
            for leaf in &v {
                all.extend_from_slice(grads.get(leaf).unwrap().data());
            }
            all
        };
        let first = run();
        for _ in 0..3 {
            assert!(run().iter().zip(&first).all(|(a, b)| a.to_bits() == b.to_bits()));
        }
    }

    #[test]
    fn conv1d_passes_gradient_check_and_equals_conv2d() {
        for (seed, (n, c, l, o, k, stride, padding)) in
            [(1, 1, 5, 1, 3, 1, 0), (2, 3, 9, 2, 4, 2, 1), (3, 2, 7, 4, 1, 3, 2)].into_iter().enumerate()
        {
            let t = randn(20 + seed as u64, &[&[n, c, l], &[o, c, k], &[o]]);
            check(&t, |v| v[0].conv1d(&v[1], Some(&v[2]), stride, padding));
            check(&t[..2], |v| v[0].conv1d(&v[1], None, stride, padding));
            let want = conv2d_naive(
                &t[0].reshape(&[n, c, 1, l]),
                &t[1].reshape(&[o, c, 1, k]),
                Some(&t[2]),
                (1, stride),
                (0, padding),
            );
            let v: Vec<Var> = t.iter().cloned().map(Var::constant).collect();
            let got = v[0].conv1d(&v[1], Some(&v[2]), stride, padding);
            assert_eq!(got.shape(), &[n, o, want.shape()[3]]);
            assert_close(got.value().data(), want.data(), "conv1d");
        }
    }

    /// (1 + 2t)·(3 + 2t + 5t²) = 3 + 8t + 9t² + 10t³. A true convolution (a ∗ b)[i] = Σ_j a[j]·b[i − j]
    /// is the cross-correlation that conv1d computes, with the kernel flipped and K − 1 zeros of
    /// padding on each side so that every partial overlap counts.
    #[test]
    fn conv1d_with_a_flipped_kernel_multiplies_polynomials() {
        let poly = Var::constant(Tensor::from_vec(vec![3.0, 2.0, 5.0], &[1, 1, 3]));
        let flipped = Var::constant(Tensor::from_vec(vec![2.0, 1.0], &[1, 1, 2]));
        assert_eq!(poly.conv1d(&flipped, None, 1, 1).value().data(), &[3.0, 8.0, 9.0, 10.0]);
        // without the flip it is the cross-correlation: Σ_j x[i + j − 1]·[1, 2][j]
        let unflipped = Var::constant(Tensor::from_vec(vec![1.0, 2.0], &[1, 1, 2]));
        assert_eq!(poly.conv1d(&unflipped, None, 1, 1).value().data(), &[6.0, 7.0, 12.0, 5.0]);
    }

    #[test]
    fn only_the_needed_gradients_are_computed() {
        let t = randn(6, &[&[2, 2, 5, 5], &[3, 2, 3, 3], &[3]]);
        let x = Var::constant(t[0].clone());
        let (w, b) = (Var::leaf(t[1].clone()), Var::leaf(t[2].clone()));
        let grads = x.conv2d(&w, Some(&b), (1, 1), (0, 0)).sum().backward();
        assert_eq!(grads.len(), 2);
        assert!(grads.get(&x).is_none());
        // ∂Σy/∂b[o] counts the output positions: N·OH·OW = 2·3·3
        assert_eq!(grads.get(&b).unwrap().data(), &[18.0; 3]);
    }

    #[test]
    #[should_panic(expected = "conv2d: input [2, 3, 8, 8] has 3 channels but weight [4, 2, 3, 3] expects 2")]
    fn conv2d_channel_mismatch_names_both_shapes() {
        let x = Var::constant(Tensor::zeros(&[2, 3, 8, 8]));
        let _ = x.conv2d(&Var::constant(Tensor::zeros(&[4, 2, 3, 3])), None, (1, 1), (0, 0));
    }

    #[test]
    #[should_panic(expected = "conv2d: input [3, 8, 8] and weight [4, 3, 3, 3] do not fit")]
    fn conv2d_wrong_rank_names_both_shapes() {
        let x = Var::constant(Tensor::zeros(&[3, 8, 8]));
        let _ = x.conv2d(&Var::constant(Tensor::zeros(&[4, 3, 3, 3])), None, (1, 1), (0, 0));
    }

    #[test]
    #[should_panic(expected = "conv2d: kernel of weight [1, 1, 5, 5] does not fit input [1, 1, 3, 3] padded by (0, 0)")]
    fn conv2d_kernel_larger_than_input_panics() {
        let x = Var::constant(Tensor::zeros(&[1, 1, 3, 3]));
        let _ = x.conv2d(&Var::constant(Tensor::zeros(&[1, 1, 5, 5])), None, (1, 1), (0, 0));
    }

    #[test]
    #[should_panic(expected = "conv2d: bias [3] does not fit weight [4, 1, 3, 3] (want [4])")]
    fn conv2d_bias_mismatch_panics() {
        let x = Var::constant(Tensor::zeros(&[1, 1, 5, 5]));
        let w = Var::constant(Tensor::zeros(&[4, 1, 3, 3]));
        let _ = x.conv2d(&w, Some(&Var::constant(Tensor::zeros(&[3]))), (1, 1), (0, 0));
    }

    #[test]
    #[should_panic(expected = "conv1d: input [2, 3, 8] has 3 channels but weight [4, 2, 3] expects 2")]
    fn conv1d_channel_mismatch_names_both_shapes() {
        let x = Var::constant(Tensor::zeros(&[2, 3, 8]));
        let _ = x.conv1d(&Var::constant(Tensor::zeros(&[4, 2, 3])), None, 1, 0);
    }
}
