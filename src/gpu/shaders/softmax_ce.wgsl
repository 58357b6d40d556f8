// Softmax cross-entropy fused with its δ, as loss/softmax_ce.rs: for each row of logits u and
// target distribution t, the row's loss −Σ_k t_k log softmax(u)_k (with log-softmax taken
// stably, u − max − log Σ exp(u − max)) and δ = (softmax(u)·Σt − t)/m, which is (z − t)/m for a
// distribution t. One thread per row.

struct Params {
    rows: u32,
    cols: u32,
    // where the rows' losses go in `losses` (the batch's place in the epoch)
    offset: u32,
    _pad: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> u: array<f32>;
@group(0) @binding(2) var<storage, read> t: array<f32>;
@group(0) @binding(3) var<storage, read_write> delta: array<f32>;
@group(0) @binding(4) var<storage, read_write> losses: array<f32>;

@compute @workgroup_size(256)
fn softmax_ce(@builtin(workgroup_id) group: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>,
              @builtin(local_invocation_id) local: vec3<u32>) {
    let r = (group.y * groups.x + group.x) * 256u + local.x;
    if (r >= p.rows) {
        return;
    }
    let base = r * p.cols;
    var top = u[base];
    for (var k = 1u; k < p.cols; k = k + 1u) {
        top = max(top, u[base + k]);
    }
    var z = 0.0;
    for (var k = 0u; k < p.cols; k = k + 1u) {
        z = z + exp(u[base + k] - top);
    }
    let log_z = top + log(z);
    var mass = 0.0;
    var loss = 0.0;
    for (var k = 0u; k < p.cols; k = k + 1u) {
        mass = mass + t[base + k];
        loss = loss - (u[base + k] - log_z) * t[base + k];
    }
    let scale = 1.0 / f32(p.rows);
    for (var k = 0u; k < p.cols; k = k + 1u) {
        delta[base + k] = (exp(u[base + k] - log_z) * mass - t[base + k]) * scale;
    }
    losses[p.offset + r] = loss;
}
