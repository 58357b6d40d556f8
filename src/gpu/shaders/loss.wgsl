// The losses besides softmax cross-entropy (softmax_ce.wgsl), each fused with its δ as in
// loss/: for each row of outputs u and targets t (m rows of K),
// - least squares (loss/least_squares.rs): loss ½Σ_k (u_k − t_k)², δ = (u − t)/m;
// - sigmoid cross-entropy (loss/sigmoid_ce.rs): loss Σ_k max(u, 0) − u·t + log(1 + e^(−|u|))
//   (the stable form of −t log σ(u) − (1 − t) log(1 − σ(u))), δ = (σ(u) − t)/m, with σ as the
//   CPU computes it, ½(1 + tanh(u/2)) through nabla's rational tanh.
// Each row's loss goes to `losses` from index `offset` on; their mean is the CPU loss. One
// thread per row.

struct Params {
    rows: u32,
    cols: u32,
    offset: u32,
    _pad: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> u: array<f32>;
@group(0) @binding(2) var<storage, read> t: array<f32>;
@group(0) @binding(3) var<storage, read_write> delta: array<f32>;
@group(0) @binding(4) var<storage, read_write> losses: array<f32>;

fn row(group: vec3<u32>, groups: vec3<u32>, local: vec3<u32>) -> u32 {
    return (group.y * groups.x + group.x) * 256u + local.x;
}

// as unary.wgsl's (ops/activation.rs, `tanh_rational`)
fn tanh_rational(v: f32) -> f32 {
    let x = clamp(v, -7.905311, 7.905311);
    let x2 = x * x;
    let num = x * (4.8935246e-3 + x2 * (6.3726193e-4 + x2 * (1.4857224e-5 + x2 * (5.122297e-8
        + x2 * (-8.604672e-11 + x2 * (2.000188e-13 + x2 * -2.7607685e-16))))));
    let den = 4.893525e-3 + x2 * (2.2684346e-3 + x2 * (1.1853471e-4 + x2 * 1.1982584e-6));
    return num / den;
}

@compute @workgroup_size(256)
fn least_squares(@builtin(workgroup_id) group: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>,
                 @builtin(local_invocation_id) local: vec3<u32>) {
    let r = row(group, groups, local);
    if (r >= p.rows) {
        return;
    }
    let scale = 1.0 / f32(p.rows);
    var sum = 0.0;
    for (var k = r * p.cols; k < (r + 1u) * p.cols; k = k + 1u) {
        let d = u[k] - t[k];
        sum = sum + d * d;
        delta[k] = d * scale;
    }
    losses[p.offset + r] = 0.5 * sum;
}

@compute @workgroup_size(256)
fn sigmoid_ce(@builtin(workgroup_id) group: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>,
              @builtin(local_invocation_id) local: vec3<u32>) {
    let r = row(group, groups, local);
    if (r >= p.rows) {
        return;
    }
    let scale = 1.0 / f32(p.rows);
    var sum = 0.0;
    for (var k = r * p.cols; k < (r + 1u) * p.cols; k = k + 1u) {
        let v = u[k];
        sum = sum + (max(v, 0.0) - v * t[k] + log(1.0 + exp(-abs(v))));
        delta[k] = ((0.5 + 0.5 * tanh_rational(0.5 * v)) - t[k]) * scale;
    }
    losses[p.offset + r] = sum;
}
