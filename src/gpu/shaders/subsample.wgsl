// LeNet-5's trainable sub-sampling, as nn/pool.rs's Subsample (sum pooling, then ops/pool.rs's
// channel_affine): y = w[c]·Σ(window of x) + b[c], one coefficient w and one bias b per map c.
// Planes N·C of H×W, windows KH×KW moved by (SH, SW), OH×OW of them, no padding.
// A window's sum adds each window row's sum (taken left to right) in row order, as the CPU does.
// Backward gathers: one thread per input pixel adds the δ·w of the windows that hold it, in
// the order of the windows; one thread per map sums the parameters' gradients over the batch.

struct Params {
    planes: u32,
    channels: u32,
    h: u32,
    w: u32,
    kh: u32,
    kw: u32,
    sh: u32,
    sw: u32,
    oh: u32,
    ow: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
// forward: x, y, w, the window sums (kept for backward), b
// backward_input: δy, δx, w
// backward_params: δy, ∂E/∂w, the window sums, ∂E/∂b
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read_write> b: array<f32>;
@group(0) @binding(3) var<storage, read> c: array<f32>;
@group(0) @binding(4) var<storage, read_write> d: array<f32>;
@group(0) @binding(5) var<storage, read> e: array<f32>;

fn thread(group: vec3<u32>, groups: vec3<u32>, local: vec3<u32>) -> u32 {
    return (group.y * groups.x + group.x) * 256u + local.x;
}

@compute @workgroup_size(256)
fn forward(@builtin(workgroup_id) group: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>,
           @builtin(local_invocation_id) local: vec3<u32>) {
    let i = thread(group, groups, local);
    if (i >= p.planes * p.oh * p.ow) {
        return;
    }
    let plane = i / (p.oh * p.ow);
    let oy = (i % (p.oh * p.ow)) / p.ow;
    let ox = i % p.ow;
    var sum = 0.0;
    for (var ky = 0u; ky < p.kh; ky = ky + 1u) {
        let row = (plane * p.h + oy * p.sh + ky) * p.w + ox * p.sw;
        var row_sum = 0.0;
        for (var kx = 0u; kx < p.kw; kx = kx + 1u) {
            row_sum = row_sum + a[row + kx];
        }
        sum = sum + row_sum;
    }
    let ch = plane % p.channels;
    d[i] = sum;
    b[i] = sum * c[ch] + e[ch];
}

// The outputs whose windows hold coordinate z along one axis: first..last inclusive, empty
// when first > last.
fn covering(z: u32, k: u32, s: u32, outs: u32) -> vec2<u32> {
    var first = 0u;
    if (z + 1u > k) {
        first = (z + 1u - k + s - 1u) / s;
    }
    let last = min(z / s, outs - 1u);
    return vec2<u32>(first, last);
}

@compute @workgroup_size(256)
fn backward_input(@builtin(workgroup_id) group: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>,
                  @builtin(local_invocation_id) local: vec3<u32>) {
    let i = thread(group, groups, local);
    if (i >= p.planes * p.h * p.w) {
        return;
    }
    let plane = i / (p.h * p.w);
    let y = (i % (p.h * p.w)) / p.w;
    let x = i % p.w;
    let rows = covering(y, p.kh, p.sh, p.oh);
    let cols = covering(x, p.kw, p.sw, p.ow);
    let scale = c[plane % p.channels];
    var sum = 0.0;
    for (var oy = rows.x; oy <= rows.y; oy = oy + 1u) {
        for (var ox = cols.x; ox <= cols.y; ox = ox + 1u) {
            sum = sum + a[(plane * p.oh + oy) * p.ow + ox] * scale;
        }
    }
    b[i] = sum;
}

// one thread per map c: ∂E/∂w[c] = Σ δ·(window sum), ∂E/∂b[c] = Σ δ, summed map by map over
// the batch
@compute @workgroup_size(256)
fn backward_params(@builtin(workgroup_id) group: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>,
                   @builtin(local_invocation_id) local: vec3<u32>) {
    let ch = thread(group, groups, local);
    if (ch >= p.channels) {
        return;
    }
    let area = p.oh * p.ow;
    var dw = 0.0;
    var db = 0.0;
    for (var plane = ch; plane < p.planes; plane = plane + p.channels) {
        var dot = 0.0;
        var sum = 0.0;
        for (var j = plane * area; j < (plane + 1u) * area; j = j + 1u) {
            dot = dot + a[j] * c[j];
            sum = sum + a[j];
        }
        dw = dw + dot;
        db = db + sum;
    }
    b[ch] = dw;
    d[ch] = db;
}
