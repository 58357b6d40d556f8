// LeNet-5's Euclidean RBF output units, as nn/rbf.rs: y[n, i] = Σ_j (x[n, j] − w[i, j])² for N
// inputs of F features and K centres. Backward (δ = ∂E/∂y):
//   ∂E/∂x[n, j] = Σ_i 2·δ[n, i]·(x[n, j] − w[i, j])     (one thread per (n, j), over i in order)
//   ∂E/∂w[i, j] = −Σ_n 2·δ[n, i]·(x[n, j] − w[i, j])    (one thread per (i, j), over n in order)
// each sum taken in the CPU's order.

struct Params {
    n: u32,
    f: u32,
    k: u32,
    _pad: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
// forward: x, y, W; backward_input: δy, δx, x, W; backward_weight: δy, ∂E/∂W, x, W
@group(0) @binding(1) var<storage, read> a: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<storage, read> x: array<f32>;
@group(0) @binding(4) var<storage, read> w: array<f32>;

fn thread(group: vec3<u32>, groups: vec3<u32>, local: vec3<u32>) -> u32 {
    return (group.y * groups.x + group.x) * 256u + local.x;
}

// forward reads x at binding 1 and W at binding 3
@compute @workgroup_size(256)
fn forward(@builtin(workgroup_id) group: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>,
           @builtin(local_invocation_id) local: vec3<u32>) {
    let t = thread(group, groups, local);
    if (t >= p.n * p.k) {
        return;
    }
    let row = (t / p.k) * p.f;
    let centre = (t % p.k) * p.f;
    var sum = 0.0;
    for (var j = 0u; j < p.f; j = j + 1u) {
        let d = a[row + j] - x[centre + j];
        sum = sum + d * d;
    }
    out[t] = sum;
}

@compute @workgroup_size(256)
fn backward_input(@builtin(workgroup_id) group: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>,
                  @builtin(local_invocation_id) local: vec3<u32>) {
    let t = thread(group, groups, local);
    if (t >= p.n * p.f) {
        return;
    }
    let n = t / p.f;
    let j = t % p.f;
    var sum = 0.0;
    for (var i = 0u; i < p.k; i = i + 1u) {
        sum = sum + 2.0 * a[n * p.k + i] * (x[t] - w[i * p.f + j]);
    }
    out[t] = sum;
}

@compute @workgroup_size(256)
fn backward_weight(@builtin(workgroup_id) group: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>,
                   @builtin(local_invocation_id) local: vec3<u32>) {
    let t = thread(group, groups, local);
    if (t >= p.k * p.f) {
        return;
    }
    let i = t / p.f;
    let j = t % p.f;
    var sum = 0.0;
    for (var n = 0u; n < p.n; n = n + 1u) {
        sum = sum - 2.0 * a[n * p.k + i] * (x[n * p.f + j] - w[t]);
    }
    out[t] = sum;
}
