// Symbol indices on the device: the one-hot inputs of a char model (nn/one_hot.rs) and the
// softmax cross-entropy against one class index per step (loss/softmax_ce.rs,
// `softmax_cross_entropy_classes`), the loss of its next-character logits.
// - one_hot: index r of x (`n` of them, f32 as on the CPU) becomes the unit row e_k of `cols`
//   values; an index that is not a whole number in 0..cols gives a row of zeros (the host
//   checks the data before it reaches the device, as the CPU op panics on it). One thread per
//   value written.
// - softmax_ce_classes: for each of the `n` rows of logits u (`cols` wide) and its class c, the
//   row's loss −log softmax(u)_c (log-softmax taken stably, u − max − log Σ exp(u − max)) and
//   δ = (softmax(u) − e_c)·scale, scale = 1/(rows counted); a negative class (a padded step,
//   `IGNORED`) gives loss 0 and δ 0. One thread per row.
// - row_sums: out[offset + i] = scale·Σ_j x[i·cols + j], each of `n` rows summed in order: a
//   sample's loss from its steps' losses. One thread per row.

struct Params {
    n: u32,
    cols: u32,
    offset: u32,
    scale: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
// one_hot: indices, then outputs; softmax_ce_classes: logits, δ, classes, the rows' losses;
// row_sums: values, then sums
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<storage, read> classes: array<f32>;
@group(0) @binding(4) var<storage, read_write> losses: array<f32>;

fn thread(group: vec3<u32>, groups: vec3<u32>, local: vec3<u32>) -> u32 {
    return (group.y * groups.x + group.x) * 256u + local.x;
}

@compute @workgroup_size(256)
fn one_hot(@builtin(workgroup_id) group: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>,
           @builtin(local_invocation_id) local: vec3<u32>) {
    let i = thread(group, groups, local);
    if (i >= p.n * p.cols) {
        return;
    }
    // compared as f32: a fractional, negative or too large index matches no k
    out[i] = select(0.0, 1.0, x[i / p.cols] == f32(i % p.cols));
}

@compute @workgroup_size(256)
fn softmax_ce_classes(@builtin(workgroup_id) group: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>,
                      @builtin(local_invocation_id) local: vec3<u32>) {
    let r = thread(group, groups, local);
    if (r >= p.n) {
        return;
    }
    let base = r * p.cols;
    let wanted = classes[r];
    if (wanted < 0.0 || wanted >= f32(p.cols)) {
        for (var k = 0u; k < p.cols; k = k + 1u) {
            out[base + k] = 0.0;
        }
        losses[r] = 0.0;
        return;
    }
    let c = u32(wanted);
    var top = x[base];
    for (var k = 1u; k < p.cols; k = k + 1u) {
        top = max(top, x[base + k]);
    }
    var z = 0.0;
    for (var k = 0u; k < p.cols; k = k + 1u) {
        z = z + exp(x[base + k] - top);
    }
    let log_z = top + log(z);
    for (var k = 0u; k < p.cols; k = k + 1u) {
        out[base + k] = exp(x[base + k] - log_z) * p.scale;
    }
    out[base + c] = out[base + c] - p.scale;
    losses[r] = log_z - x[base + c];
}

@compute @workgroup_size(256)
fn row_sums(@builtin(workgroup_id) group: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>,
            @builtin(local_invocation_id) local: vec3<u32>) {
    let i = thread(group, groups, local);
    if (i >= p.n) {
        return;
    }
    var sum = 0.0;
    for (var j = i * p.cols; j < (i + 1u) * p.cols; j = j + 1u) {
        sum = sum + x[j];
    }
    out[p.offset + i] = sum * p.scale;
}
