// A mini-batch from the data set on the device: out[i, :] = data[order[offset + i], :], for rows
// × cols values. The epoch's shuffled order is uploaded once per epoch; each batch is a range of
// it. One thread per value.

struct Params {
    rows: u32,
    cols: u32,
    offset: u32,
    _pad: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> order: array<u32>;
@group(0) @binding(2) var<storage, read> data: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(256)
fn gather(@builtin(workgroup_id) group: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>,
          @builtin(local_invocation_id) local: vec3<u32>) {
    let i = (group.y * groups.x + group.x) * 256u + local.x;
    if (i < p.rows * p.cols) {
        let row = order[p.offset + i / p.cols];
        out[i] = data[row * p.cols + i % p.cols];
    }
}
