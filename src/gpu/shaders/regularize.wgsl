// Regularization on the device, as train/regularize.rs:
// - penalty_grad: g ← g + λ₂w + λ₁·sign(w) (the L2 and L1 penalties' gradients)
// - max_norm: each column j of a rows × cols weight (a unit's incoming weights) scaled by
//   c/‖w_j‖ when ‖w_j‖ > c; one thread per column, the squares summed down the rows in order
// - partial_sums then finish: a sum over values of x² (gradient clipping's global norm) or of
//   λ₁|x| + ½λ₂x² (the penalty), as one workgroup's tree sum per 256 values and one thread
//   adding the workgroups' sums in order: deterministic, no atomics
// - clip_scale: g ← g·c/‖g‖ when the global norm ‖g‖ (from finish) exceeds c

struct Params {
    // values (columns for max_norm, partial sums for finish)
    n: u32,
    // max_norm: rows; partial_sums: 0 for x², 1 for the penalty; finish: the slot written
    k: u32,
    // partial_sums: where this tensor's workgroup sums go
    offset: u32,
    _pad: u32,
    l1: f32,
    l2: f32,
    // max_norm and clip_scale: c
    c: f32,
    _pad2: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
// penalty_grad: w, g; max_norm: w; partial_sums: x, sums; finish: sums, total;
// clip_scale: g, the squared norm
@group(0) @binding(1) var<storage, read_write> a: array<f32>;
@group(0) @binding(2) var<storage, read_write> b: array<f32>;

var<workgroup> tree: array<f32, 256>;

fn thread(group: vec3<u32>, groups: vec3<u32>, local: vec3<u32>) -> u32 {
    return (group.y * groups.x + group.x) * 256u + local.x;
}

fn sign_of(w: f32) -> f32 {
    if (w > 0.0) {
        return 1.0;
    }
    if (w < 0.0) {
        return -1.0;
    }
    return 0.0;
}

@compute @workgroup_size(256)
fn penalty_grad(@builtin(workgroup_id) group: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>,
                @builtin(local_invocation_id) local: vec3<u32>) {
    let i = thread(group, groups, local);
    if (i < p.n) {
        b[i] = b[i] + (p.l2 * a[i] + p.l1 * sign_of(a[i]));
    }
}

@compute @workgroup_size(256)
fn max_norm(@builtin(workgroup_id) group: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>,
            @builtin(local_invocation_id) local: vec3<u32>) {
    let j = thread(group, groups, local);
    if (j >= p.n) {
        return;
    }
    var sum = 0.0;
    for (var r = 0u; r < p.k; r = r + 1u) {
        let x = a[r * p.n + j];
        sum = sum + x * x;
    }
    if (sqrt(sum) > p.c) {
        let scale = p.c / sqrt(sum);
        for (var r = 0u; r < p.k; r = r + 1u) {
            a[r * p.n + j] = a[r * p.n + j] * scale;
        }
    }
}

@compute @workgroup_size(256)
fn partial_sums(@builtin(workgroup_id) group: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>,
                @builtin(local_invocation_id) local: vec3<u32>) {
    let i = thread(group, groups, local);
    var v = 0.0;
    if (i < p.n) {
        let x = a[i];
        if (p.k == 1u) {
            v = p.l1 * abs(x) + 0.5 * p.l2 * (x * x);
        } else {
            v = x * x;
        }
    }
    tree[local.x] = v;
    workgroupBarrier();
    for (var stride = 128u; stride > 0u; stride = stride / 2u) {
        if (local.x < stride) {
            tree[local.x] = tree[local.x] + tree[local.x + stride];
        }
        workgroupBarrier();
    }
    if (local.x == 0u) {
        b[p.offset + group.y * groups.x + group.x] = tree[0];
    }
}

@compute @workgroup_size(1)
fn finish() {
    var sum = 0.0;
    for (var i = 0u; i < p.n; i = i + 1u) {
        sum = sum + a[i];
    }
    b[p.k] = sum;
}

@compute @workgroup_size(256)
fn clip_scale(@builtin(workgroup_id) group: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>,
              @builtin(local_invocation_id) local: vec3<u32>) {
    let i = thread(group, groups, local);
    let norm = sqrt(b[0]);
    if (i < p.n && norm > p.c) {
        a[i] = a[i] * (p.c / norm);
    }
}
