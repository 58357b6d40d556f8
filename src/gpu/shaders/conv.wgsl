// 2-D convolution through im2col and the GEMM, as ops/conv.rs (without its chunking and wide
// rows): x N×C×H×W, W O×C×KH×KW, K = C·KH·KW, P = OH·OW. `cols` is K×(N·P): row (c, u, v),
// column (n, i, j) holds x[n, c, i·SH + u − PH, j·SW + v − PW], 0 in the padding. Forward:
// prod = W·cols (O×N·P, by the GEMM), then `to_maps` reorders it to N×O×P adding the bias.
// Backward: `from_maps` reorders δ to O×N·P; ∂E/∂W = δ·colsᵀ and δcols = Wᵀ·δ by the GEMM;
// `col2im` sums δcols back onto the pixels; `bias_grad` sums δ per output map. Every kernel
// gathers (one thread per output value), so no two threads write one value and sums run in a
// fixed order. Bindings: `src` read, `dst` written, `aux` a third operand where one is needed.

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
    // values of the elementwise `mask_mul`
    len: u32,
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;
@group(0) @binding(3) var<storage, read> aux: array<f32>;

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
