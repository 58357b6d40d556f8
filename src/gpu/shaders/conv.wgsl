// 2-D convolution: x N×C×H×W, W O×C×KH×KW, K = C·KH·KW, P = OH·OW. Two ways (see
// kernels/conv.rs, `ConvKernel`): directly, for few input maps (the `direct_` kernels at the end),
// or through im2col and the GEMM, as ops/conv.rs (without its chunking and wide rows). `cols` is
// K×(N·P): row (c, u, v), column (n, i, j) holds x[n, c, i·SH + u − PH, j·SW + v − PW], 0 in the
// padding. Forward: prod = W·cols (O×N·P, by the GEMM), then `to_maps` reorders it to N×O×P
// adding the bias. Backward: `from_maps` reorders δ to O×N·P; ∂E/∂W = δ·colsᵀ and δcols = Wᵀ·δ
// by the GEMM; `col2im` sums δcols back onto the pixels; `bias_grad` sums δ per output map. Every
// kernel gathers (one thread per output value), so no two threads write one value and sums run
// in a fixed order. Bindings: `src` read, `dst` written, `aux` a third operand where one is
// needed.

struct Params {
    n: u32,
    c: u32,
    h: u32,
    w: u32,
    o: u32,
    kh: u32,
    kw: u32,
    sh: u32,
    sw: u32,
    ph: u32,
    pw: u32,
    oh: u32,
    ow: u32,
    // values of the elementwise `mask_mul` and of `sum_samples`
    len: u32,
    // `sum_samples`: where its values start in a sample's share
    first: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;
@group(0) @binding(3) var<storage, read> aux: array<f32>;
// the bias, for `direct_forward` only
@group(0) @binding(4) var<storage, read> bias: array<f32>;

fn thread(group: vec3<u32>, groups: vec3<u32>, local: vec3<u32>) -> u32 {
    return (group.y * groups.x + group.x) * 256u + local.x;
}

// cols (K × N·P) from x (N×C×H×W); one thread per entry of cols
@compute @workgroup_size(256)
fn im2col(@builtin(workgroup_id) group: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>,
          @builtin(local_invocation_id) local: vec3<u32>) {
    let i = thread(group, groups, local);
    let pp = p.oh * p.ow;
    let np = p.n * pp;
    if (i >= p.c * p.kh * p.kw * np) {
        return;
    }
    let r = i / np;
    let col = i % np;
    let s = col / pp;
    let oy = col % pp / p.ow;
    let ox = col % p.ow;
    let ci = r / (p.kh * p.kw);
    let u = r / p.kw % p.kh;
    let v = r % p.kw;
    // the padded coordinates; below PH (or PW) is the top (left) border
    let y = oy * p.sh + u;
    let x = ox * p.sw + v;
    var value = 0.0;
    if (y >= p.ph && y < p.h + p.ph && x >= p.pw && x < p.w + p.pw) {
        value = src[((s * p.c + ci) * p.h + y - p.ph) * p.w + x - p.pw];
    }
    dst[i] = value;
}

// δx (N×C×H×W) = the sum of the entries of δcols (K × N·P) copied from each pixel, over (u, v) in
// row-major order as the CPU's col2im adds them; one thread per pixel
@compute @workgroup_size(256)
fn col2im(@builtin(workgroup_id) group: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>,
          @builtin(local_invocation_id) local: vec3<u32>) {
    let i = thread(group, groups, local);
    if (i >= p.n * p.c * p.h * p.w) {
        return;
    }
    let pp = p.oh * p.ow;
    let np = p.n * pp;
    let s = i / (p.c * p.h * p.w);
    let ci = i / (p.h * p.w) % p.c;
    let y = i / p.w % p.h + p.ph;
    let x = i % p.w + p.pw;
    var sum = 0.0;
    for (var u = 0u; u < p.kh; u = u + 1u) {
        // output row oy reads padded row y at kernel row u when oy·SH + u = y
        if (u > y || (y - u) % p.sh != 0u || (y - u) / p.sh >= p.oh) {
            continue;
        }
        let oy = (y - u) / p.sh;
        for (var v = 0u; v < p.kw; v = v + 1u) {
            if (v > x || (x - v) % p.sw != 0u || (x - v) / p.sw >= p.ow) {
                continue;
            }
            let ox = (x - v) / p.sw;
            let r = (ci * p.kh + u) * p.kw + v;
            sum = sum + src[r * np + s * pp + oy * p.ow + ox];
        }
    }
    dst[i] = sum;
}

// y (N×O×P) = prod (O × N·P) reordered, plus the bias b (O, in `aux`); one thread per output
@compute @workgroup_size(256)
fn to_maps(@builtin(workgroup_id) group: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>,
           @builtin(local_invocation_id) local: vec3<u32>) {
    let i = thread(group, groups, local);
    let pp = p.oh * p.ow;
    if (i >= p.n * p.o * pp) {
        return;
    }
    let s = i / (p.o * pp);
    let oc = i / pp % p.o;
    let q = i % pp;
    dst[i] = src[oc * p.n * pp + s * pp + q] + aux[oc];
}

// δ (N×O×P) reordered to O × N·P, the GEMMs' layout; one thread per value
@compute @workgroup_size(256)
fn from_maps(@builtin(workgroup_id) group: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>,
             @builtin(local_invocation_id) local: vec3<u32>) {
    let i = thread(group, groups, local);
    let pp = p.oh * p.ow;
    let np = p.n * pp;
    if (i >= p.o * np) {
        return;
    }
    let oc = i / np;
    let s = i % np / pp;
    let q = i % pp;
    dst[i] = src[(s * p.o + oc) * pp + q];
}

// ∂E/∂b[o] = Σ δ over the samples and positions of map o (δ N×O×P), in that order; one thread per
// map
@compute @workgroup_size(256)
fn bias_grad(@builtin(workgroup_id) group: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>,
             @builtin(local_invocation_id) local: vec3<u32>) {
    let oc = thread(group, groups, local);
    if (oc >= p.o) {
        return;
    }
    let pp = p.oh * p.ow;
    var sum = 0.0;
    for (var s = 0u; s < p.n; s = s + 1u) {
        let base = (s * p.o + oc) * pp;
        for (var q = 0u; q < pp; q = q + 1u) {
            sum = sum + src[base + q];
        }
    }
    dst[oc] = sum;
}

// dst = src ⊙ aux over `len` values: a connection table's mask M on the weights, W ⊙ M
@compute @workgroup_size(256)
fn mask_mul(@builtin(workgroup_id) group: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>,
            @builtin(local_invocation_id) local: vec3<u32>) {
    let i = thread(group, groups, local);
    if (i < p.len) {
        dst[i] = src[i] * aux[i];
    }
}

// dst = dst ⊙ src over `len` values: the mask (src) on the gradient in place
@compute @workgroup_size(256)
fn mask_in_place(@builtin(workgroup_id) group: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>,
                 @builtin(local_invocation_id) local: vec3<u32>) {
    let i = thread(group, groups, local);
    if (i < p.len) {
        dst[i] = dst[i] * src[i];
    }
}

// Direct convolution, for layers with few input maps (K = C·KH·KW small, as LeNet's): each
// output reads x and W where they are, so there is no K × N·P copy of x to write and read back,
// and the weight gradient sums over one sample's positions per thread, then over the samples.

// y[s, oc, oy, ox] = Σ over (ci, u, v) in row-major order of W[oc, ci, u, v]·x[s, ci, oy·SH + u −
// PH, ox·SW + v − PW] (0 in the padding), plus b[oc]; x in `src`, W in `aux`; one thread per
// output
@compute @workgroup_size(256)
fn direct_forward(@builtin(workgroup_id) group: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>,
                  @builtin(local_invocation_id) local: vec3<u32>) {
    let i = thread(group, groups, local);
    let pp = p.oh * p.ow;
    if (i >= p.n * p.o * pp) {
        return;
    }
    let s = i / (p.o * pp);
    let oc = i / pp % p.o;
    let oy = i % pp / p.ow;
    let ox = i % p.ow;
    // the taps inside the input: PH ≤ oy·SH + u < H + PH, likewise for v
    let top = oy * p.sh;
    let u_first = select(0u, p.ph - top, p.ph > top);
    let u_end = select(0u, min(p.kh, p.h + p.ph - top), p.h + p.ph > top);
    let left = ox * p.sw;
    let v_first = select(0u, p.pw - left, p.pw > left);
    let v_end = select(0u, min(p.kw, p.w + p.pw - left), p.w + p.pw > left);
    var sum = 0.0;
    for (var ci = 0u; ci < p.c; ci = ci + 1u) {
        let plane = (s * p.c + ci) * p.h;
        let taps = (oc * p.c + ci) * p.kh;
        for (var u = u_first; u < u_end; u = u + 1u) {
            let row = (plane + top + u - p.ph) * p.w + left - p.pw;
            let tap_row = (taps + u) * p.kw;
            for (var v = v_first; v < v_end; v = v + 1u) {
                sum = fma(aux[tap_row + v], src[row + v], sum);
            }
        }
    }
    dst[i] = sum + bias[oc];
}

// δx[s, ci, y, x] = Σ over oc, then the outputs (oy, ox) in row-major order that read the pixel
// (at kernel tap u = y + PH − oy·SH, v likewise), of δ[s, oc, oy, ox]·W[oc, ci, u, v]; δ in `src`,
// W in `aux`; one thread per pixel. The outputs' ranges are found once, so that the loops divide
// nothing (a software driver divides each SIMD lane on its own)
@compute @workgroup_size(256)
fn direct_input_grad(@builtin(workgroup_id) group: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>,
                     @builtin(local_invocation_id) local: vec3<u32>) {
    let i = thread(group, groups, local);
    if (i >= p.n * p.c * p.h * p.w) {
        return;
    }
    let s = i / (p.c * p.h * p.w);
    let ci = i / (p.h * p.w) % p.c;
    // the padded coordinates
    let y = i / p.w % p.h + p.ph;
    let x = i % p.w + p.pw;
    // the outputs whose windows hold the pixel: oy·SH ≤ y ≤ oy·SH + KH − 1
    let oy_first = select(0u, (y + 1u - p.kh + p.sh - 1u) / p.sh, y + 1u > p.kh);
    let oy_end = min(y / p.sh + 1u, p.oh);
    let ox_first = select(0u, (x + 1u - p.kw + p.sw - 1u) / p.sw, x + 1u > p.kw);
    let ox_end = min(x / p.sw + 1u, p.ow);
    var sum = 0.0;
    for (var oc = 0u; oc < p.o; oc = oc + 1u) {
        let maps = (s * p.o + oc) * p.oh;
        let taps = (oc * p.c + ci) * p.kh;
        for (var oy = oy_first; oy < oy_end; oy = oy + 1u) {
            let row = (maps + oy) * p.ow;
            let tap_row = (taps + y - oy * p.sh) * p.kw;
            for (var ox = ox_first; ox < ox_end; ox = ox + 1u) {
                sum = fma(src[row + ox], aux[tap_row + x - ox * p.sw], sum);
            }
        }
    }
    dst[i] = sum;
}

// One sample's share of the gradients, L = O·K + O values a sample: partial[s·L + (oc·K + r)] =
// Σ over (oy, ox) in row-major order of δ[s, oc, oy, ox]·x[s, ci, oy·SH + u − PH, ox·SW + v − PW]
// for tap r = (ci, u, v), and partial[s·L + O·K + oc] = Σ δ[s, oc, ·, ·]; δ in `src`, x in `aux`,
// one thread per value
@compute @workgroup_size(256)
fn direct_grad_partial(@builtin(workgroup_id) group: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>,
                       @builtin(local_invocation_id) local: vec3<u32>) {
    let i = thread(group, groups, local);
    let k = p.c * p.kh * p.kw;
    let per_sample = p.o * k + p.o;
    if (i >= p.n * per_sample) {
        return;
    }
    let s = i / per_sample;
    let j = i % per_sample;
    let pp = p.oh * p.ow;
    var sum = 0.0;
    if (j >= p.o * k) {
        let base = (s * p.o + j - p.o * k) * pp;
        for (var q = 0u; q < pp; q = q + 1u) {
            sum = sum + src[base + q];
        }
        dst[i] = sum;
        return;
    }
    let oc = j / k;
    let ci = j % k / (p.kh * p.kw);
    let u = j % (p.kh * p.kw) / p.kw;
    let v = j % p.kw;
    let maps = (s * p.o + oc) * pp;
    let plane = (s * p.c + ci) * p.h;
    // the outputs whose tap (u, v) is inside the input: PH ≤ oy·SH + u < H + PH, likewise for ox
    let oy_first = select(0u, (p.ph - u + p.sh - 1u) / p.sh, p.ph > u);
    let oy_end = select(0u, min(p.oh, (p.h + p.ph - u + p.sh - 1u) / p.sh), p.h + p.ph > u);
    let ox_first = select(0u, (p.pw - v + p.sw - 1u) / p.sw, p.pw > v);
    let ox_end = select(0u, min(p.ow, (p.w + p.pw - v + p.sw - 1u) / p.sw), p.w + p.pw > v);
    for (var oy = oy_first; oy < oy_end; oy = oy + 1u) {
        let row = (plane + oy * p.sh + u - p.ph) * p.w + v - p.pw;
        let outputs = maps + oy * p.ow;
        for (var ox = ox_first; ox < ox_end; ox = ox + 1u) {
            sum = fma(src[outputs + ox], aux[row + ox * p.sw], sum);
        }
    }
    dst[i] = sum;
}

// dst[j] = Σ over the samples s in order of partial[s·L + first + j], for j < len, L = O·K + O,
// the weight (first 0, len O·K) or bias (first O·K, len O)
// gradient from `direct_grad_partial`'s shares; partial in `src`; one thread per value
@compute @workgroup_size(256)
fn sum_samples(@builtin(workgroup_id) group: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>,
               @builtin(local_invocation_id) local: vec3<u32>) {
    let j = thread(group, groups, local);
    if (j >= p.len) {
        return;
    }
    let per_sample = p.o * p.c * p.kh * p.kw + p.o;
    var sum = 0.0;
    for (var s = 0u; s < p.n; s = s + 1u) {
        sum = sum + src[s * per_sample + p.first + j];
    }
    dst[j] = sum;
}
