// The moves of the recurrent layers' buffers: batch-major (m × T × ·) to time-major
// (T × m × ·) and back, a block of columns of one buffer into another (the two directions'
// states side by side, a step's slot), and zeros. One thread per value written.

struct Params {
    // swap: a, b, w of an a × b × w input; copy: rows, cols, then each side's row width, first
    // column and first row; fill: n
    a: u32,
    b: u32,
    w: u32,
    src_col: u32,
    src_row: u32,
    dst_width: u32,
    dst_col: u32,
    dst_row: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;
// fill
@group(0) @binding(1) var<storage, read_write> out: array<f32>;

fn thread(group: vec3<u32>, groups: vec3<u32>, local: vec3<u32>) -> u32 {
    return (group.y * groups.x + group.x) * 256u + local.x;
}

// dst (b × a × w) = src (a × b × w) with its leading axes swapped
@compute @workgroup_size(256)
fn swap(@builtin(workgroup_id) group: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>,
        @builtin(local_invocation_id) local: vec3<u32>) {
    let o = thread(group, groups, local);
    if (o >= p.a * p.b * p.w) {
        return;
    }
    let k = o % p.w;
    let q = o / p.w;
    let i = q % p.a;
    let j = q / p.a;
    dst[o] = src[(i * p.b + j) * p.w + k];
}

// dst[dst_row + r, dst_col + c] = src[src_row + r, src_col + c] for r < a rows, c < b columns;
// the rows of src are w wide, those of dst dst_width
@compute @workgroup_size(256)
fn copy(@builtin(workgroup_id) group: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>,
        @builtin(local_invocation_id) local: vec3<u32>) {
    let i = thread(group, groups, local);
    if (i >= p.a * p.b) {
        return;
    }
    let r = i / p.b;
    let c = i % p.b;
    dst[(p.dst_row + r) * p.dst_width + p.dst_col + c] = src[(p.src_row + r) * p.w + p.src_col + c];
}

// out[..a] = 0
@compute @workgroup_size(256)
fn fill(@builtin(workgroup_id) group: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>,
        @builtin(local_invocation_id) local: vec3<u32>) {
    let i = thread(group, groups, local);
    if (i < p.a) {
        out[i] = 0.0;
    }
}
