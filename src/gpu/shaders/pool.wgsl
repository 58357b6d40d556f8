// Max and average pooling, as ops/pool.rs and nn/pool.rs: planes N·C of H×W, windows KH×KW moved
// by (SH, SW) over the input with a border of (PH, PW) on each side, OH×OW of them per plane.
// Max pooling's border is −∞, so each window is clipped to the input and its argmax (the index in
// the plane, the first maximum in row-major order) is saved for backward; average pooling's
// border is zeros that count in the average (PyTorch's count_include_pad), so each window's sum
// is divided by KH·KW. Backward gathers: one thread per input pixel adds the δ of the windows that
// hold it, in the order of the windows, as the CPU adds them.

struct Params {
    planes: u32,
    h: u32,
    w: u32,
    kh: u32,
    kw: u32,
    sh: u32,
    sw: u32,
    ph: u32,
    pw: u32,
    oh: u32,
    ow: u32,
    // 1/(KH·KW) for the average
    scale: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;
@group(0) @binding(3) var<storage, read_write> argmax: array<u32>;

fn thread(group: vec3<u32>, groups: vec3<u32>, local: vec3<u32>) -> u32 {
    return (group.y * groups.x + group.x) * 256u + local.x;
}

// The outputs whose windows hold padded coordinate z (the pixel's index plus the padding) along
// one axis: first..last inclusive, empty when first > last.
fn covering(z: u32, k: u32, s: u32, outs: u32) -> vec2<u32> {
    // window o covers o·s ≤ z < o·s + k
    var first = 0u;
    if (z + 1u > k) {
        first = (z + 1u - k + s - 1u) / s;
    }
    let last = min(z / s, outs - 1u);
    return vec2<u32>(first, last);
}

// y = the window maxima (src x, dst y), argmax their indices in the plane; one thread per output
@compute @workgroup_size(256)
fn max_forward(@builtin(workgroup_id) group: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>,
               @builtin(local_invocation_id) local: vec3<u32>) {
    let i = thread(group, groups, local);
    let ohw = p.oh * p.ow;
    if (i >= p.planes * ohw) {
        return;
    }
    let plane = i / ohw;
    let oy = i % ohw / p.ow;
    let ox = i % p.ow;
    // the window clipped to the input (padding ≤ kernel/2 leaves a pixel in every window)
    let y0 = max(oy * p.sh, p.ph) - p.ph;
    let y1 = min(oy * p.sh + p.kh - p.ph, p.h);
    let x0 = max(ox * p.sw, p.pw) - p.pw;
    let x1 = min(ox * p.sw + p.kw - p.pw, p.w);
    let base = plane * p.h * p.w;
    var at = y0 * p.w + x0;
    var best = src[base + at];
    for (var y = y0; y < y1; y = y + 1u) {
        for (var x = x0; x < x1; x = x + 1u) {
            let v = src[base + y * p.w + x];
            if (v > best) {
                best = v;
                at = y * p.w + x;
            }
        }
    }
    dst[i] = best;
    argmax[i] = at;
}

// δx (dst) from δy (src): each pixel collects the δ of the windows whose maximum it is
@compute @workgroup_size(256)
fn max_backward(@builtin(workgroup_id) group: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>,
                @builtin(local_invocation_id) local: vec3<u32>) {
    let i = thread(group, groups, local);
    let hw = p.h * p.w;
    if (i >= p.planes * hw) {
        return;
    }
    let plane = i / hw;
    let at = i % hw;
    let rows = covering(at / p.w + p.ph, p.kh, p.sh, p.oh);
    let cols = covering(at % p.w + p.pw, p.kw, p.sw, p.ow);
    var sum = 0.0;
    for (var oy = rows.x; oy <= rows.y; oy = oy + 1u) {
        for (var ox = cols.x; ox <= cols.y; ox = ox + 1u) {
            let o = (plane * p.oh + oy) * p.ow + ox;
            if (argmax[o] == at) {
                sum = sum + src[o];
            }
        }
    }
    dst[i] = sum;
}

// y = the window sums (zeros in the border) times 1/(KH·KW); each window row is summed, then
// added to the window's total, in row-major order as on the CPU
@compute @workgroup_size(256)
fn avg_forward(@builtin(workgroup_id) group: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>,
               @builtin(local_invocation_id) local: vec3<u32>) {
    let i = thread(group, groups, local);
    let ohw = p.oh * p.ow;
    if (i >= p.planes * ohw) {
        return;
    }
    let plane = i / ohw;
    let oy = i % ohw / p.ow;
    let ox = i % p.ow;
    let base = plane * p.h * p.w;
    var total = 0.0;
    for (var u = 0u; u < p.kh; u = u + 1u) {
        let y = oy * p.sh + u;
        if (y < p.ph || y >= p.h + p.ph) {
            continue;
        }
        var row = 0.0;
        for (var v = 0u; v < p.kw; v = v + 1u) {
            let x = ox * p.sw + v;
            if (x >= p.pw && x < p.w + p.pw) {
                row = row + src[base + (y - p.ph) * p.w + x - p.pw];
            }
        }
        total = total + row;
    }
    dst[i] = total * p.scale;
}

// δx (dst) from δy (src): each pixel collects δ/(KH·KW) from every window that holds it
@compute @workgroup_size(256)
fn avg_backward(@builtin(workgroup_id) group: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>,
                @builtin(local_invocation_id) local: vec3<u32>) {
    let i = thread(group, groups, local);
    let hw = p.h * p.w;
    if (i >= p.planes * hw) {
        return;
    }
    let plane = i / hw;
    let at = i % hw;
    let rows = covering(at / p.w + p.ph, p.kh, p.sh, p.oh);
    let cols = covering(at % p.w + p.pw, p.kw, p.sw, p.ow);
    var sum = 0.0;
    for (var oy = rows.x; oy <= rows.y; oy = oy + 1u) {
        for (var ox = cols.x; ox <= cols.y; ox = ox + 1u) {
            sum = sum + p.scale * src[(plane * p.oh + oy) * p.ow + ox];
        }
    }
    dst[i] = sum;
}
