// Kernels that move values, with at most one multiply or add each: LeNet-5's constant border
// (pad) and its backward (crop), a constant factor (scale), Inception's concatenation along the
// channels and its backward (split), a copy, and dst += src (the δ of a value read by several
// layers). One thread per value written.
//
// A sample's maps C×H×W are one row of C·H·W values, so the channels of a batch's row are
// contiguous blocks: concatenating along the channels puts each part's row at an offset of the
// whole row.

struct Params {
    // values written
    n: u32,
    // pad and crop: planes N·C of H×W (unpadded), PH, PW on each side
    h: u32,
    w: u32,
    ph: u32,
    pw: u32,
    // concat and split: a part's row width, its offset in the whole row, the whole row's width
    part: u32,
    offset: u32,
    total: u32,
    // pad: the border's value; scale: the factor
    value: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;

fn thread(group: vec3<u32>, groups: vec3<u32>, local: vec3<u32>) -> u32 {
    return (group.y * groups.x + group.x) * 256u + local.x;
}

// dst (planes × (H + 2PH) × (W + 2PW)) = src (planes × H × W) inside a border of `value`
@compute @workgroup_size(256)
fn pad(@builtin(workgroup_id) group: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>,
       @builtin(local_invocation_id) local: vec3<u32>) {
    let i = thread(group, groups, local);
    if (i >= p.n) {
        return;
    }
    let oh = p.h + 2u * p.ph;
    let ow = p.w + 2u * p.pw;
    let plane = i / (oh * ow);
    let y = (i % (oh * ow)) / ow;
    let x = i % ow;
    if (y < p.ph || y >= p.h + p.ph || x < p.pw || x >= p.w + p.pw) {
        dst[i] = p.value;
    } else {
        dst[i] = src[(plane * p.h + y - p.ph) * p.w + x - p.pw];
    }
}

// the backward pass of pad: dst (planes × H × W) = the inside of src (δ of the padded maps)
@compute @workgroup_size(256)
fn crop(@builtin(workgroup_id) group: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>,
        @builtin(local_invocation_id) local: vec3<u32>) {
    let i = thread(group, groups, local);
    if (i >= p.n) {
        return;
    }
    let oh = p.h + 2u * p.ph;
    let ow = p.w + 2u * p.pw;
    let plane = i / (p.h * p.w);
    let y = (i % (p.h * p.w)) / p.w;
    let x = i % p.w;
    dst[i] = src[plane * oh * ow + (y + p.ph) * ow + x + p.pw];
}

// dst = value · src
@compute @workgroup_size(256)
fn scale(@builtin(workgroup_id) group: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>,
         @builtin(local_invocation_id) local: vec3<u32>) {
    let i = thread(group, groups, local);
    if (i < p.n) {
        dst[i] = p.value * src[i];
    }
}

// dst = src
@compute @workgroup_size(256)
fn copy(@builtin(workgroup_id) group: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>,
        @builtin(local_invocation_id) local: vec3<u32>) {
    let i = thread(group, groups, local);
    if (i < p.n) {
        dst[i] = src[i];
    }
}

// dst += src
@compute @workgroup_size(256)
fn accumulate(@builtin(workgroup_id) group: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>,
              @builtin(local_invocation_id) local: vec3<u32>) {
    let i = thread(group, groups, local);
    if (i < p.n) {
        dst[i] = dst[i] + src[i];
    }
}

// row r of src (rows × part) goes to dst[r·total + offset ..][..part]; n = rows·part
@compute @workgroup_size(256)
fn concat(@builtin(workgroup_id) group: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>,
          @builtin(local_invocation_id) local: vec3<u32>) {
    let i = thread(group, groups, local);
    if (i < p.n) {
        dst[(i / p.part) * p.total + p.offset + i % p.part] = src[i];
    }
}

// the backward pass of concat: dst (rows × part) = src[r·total + offset ..][..part] of each row
@compute @workgroup_size(256)
fn split(@builtin(workgroup_id) group: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>,
         @builtin(local_invocation_id) local: vec3<u32>) {
    let i = thread(group, groups, local);
    if (i < p.n) {
        dst[i] = src[(i / p.part) * p.total + p.offset + i % p.part];
    }
}
