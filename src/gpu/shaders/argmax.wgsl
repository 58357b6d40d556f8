// The predicted class of each row of outputs u (rows × cols): the index of its largest value, the
// first one on ties (as Tensor::argmax_rows), written to out[offset + row]. One thread per row.

struct Params {
    rows: u32,
    cols: u32,
    // where the rows' classes go in `out` (the batch's place in the data set)
    offset: u32,
    _pad: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> u: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<u32>;

@compute @workgroup_size(256)
fn argmax(@builtin(workgroup_id) group: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>,
          @builtin(local_invocation_id) local: vec3<u32>) {
    let r = (group.y * groups.x + group.x) * 256u + local.x;
    if (r >= p.rows) {
        return;
    }
    let base = r * p.cols;
    var best = 0u;
    for (var k = 1u; k < p.cols; k = k + 1u) {
        if (u[base + k] > u[base + best]) {
            best = k;
        }
    }
    out[p.offset + r] = best;
}
