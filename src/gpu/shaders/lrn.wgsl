// Local response normalisation across channels, as ops/lrn.rs: for each sample and position,
// with n = size and the window W(c) = channels c − ⌊n/2⌋ … c + ⌊(n−1)/2⌋ that exist,
//   D_c = k + (α/n)·Σ_{c′∈W(c)} a_{c′}²,   b_c = a_c·D_c^(−β),
// and backward (δ = ∂E/∂b), with q_c = δ_c·a_c·D_c^(−β−1):
//   ∂E/∂a_j = δ_j·D_j^(−β) − (2αβ/n)·a_j·q_c for each c whose window holds j, in the order of c.
// Rows of C·inner values (inner = H·W); one thread per value.

struct Params {
    // values (rows · C · inner)
    n: u32,
    channels: u32,
    inner: u32,
    size: u32,
    k: f32,
    // α/n
    scale: f32,
    beta: f32,
    _pad: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
// forward: a, b, D (kept for backward); backward: δb, δa, D, a
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;
@group(0) @binding(3) var<storage, read_write> d: array<f32>;
@group(0) @binding(4) var<storage, read> a: array<f32>;

fn thread(group: vec3<u32>, groups: vec3<u32>, local: vec3<u32>) -> u32 {
    return (group.y * groups.x + group.x) * 256u + local.x;
}

@compute @workgroup_size(256)
fn forward(@builtin(workgroup_id) group: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>,
           @builtin(local_invocation_id) local: vec3<u32>) {
    let i = thread(group, groups, local);
    if (i >= p.n) {
        return;
    }
    let block = p.channels * p.inner;
    let base = (i / block) * block + i % p.inner;
    let c = (i % block) / p.inner;
    var first = 0u;
    if (c > p.size / 2u) {
        first = c - p.size / 2u;
    }
    let end = min(c + (p.size - 1u) / 2u + 1u, p.channels);
    var sum = 0.0;
    for (var c2 = first; c2 < end; c2 = c2 + 1u) {
        let v = src[base + c2 * p.inner];
        sum = sum + v * v;
    }
    let dc = p.k + p.scale * sum;
    d[i] = dc;
    dst[i] = src[i] * pow(dc, -p.beta);
}

@compute @workgroup_size(256)
fn backward(@builtin(workgroup_id) group: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>,
            @builtin(local_invocation_id) local: vec3<u32>) {
    let i = thread(group, groups, local);
    if (i >= p.n) {
        return;
    }
    let block = p.channels * p.inner;
    let base = (i / block) * block + i % p.inner;
    let j = (i % block) / p.inner;
    // the channels c whose window holds j: j − ⌊(n−1)/2⌋ ≤ c ≤ j + ⌊n/2⌋
    var first = 0u;
    if (j > (p.size - 1u) / 2u) {
        first = j - (p.size - 1u) / 2u;
    }
    let end = min(j + p.size / 2u + 1u, p.channels);
    let factor = 2.0 * p.scale * p.beta;
    var dx = src[i] * pow(d[i], -p.beta);
    for (var c = first; c < end; c = c + 1u) {
        let at = base + c * p.inner;
        let q = src[at] * a[at] * pow(d[at], -p.beta - 1.0);
        dx = dx - factor * a[i] * q;
    }
    dst[i] = dx;
}
