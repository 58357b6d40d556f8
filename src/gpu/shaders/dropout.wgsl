// Dropout, as nn/dropout.rs, with its own random stream: the CPU layer draws its mask from a
// sequential ChaCha8 stream, which a GPU's thousands of threads cannot share, so each value i of
// a step's mask comes from a counter-based hash of (i, the step's 64-bit seed) instead. The same
// seed gives the same mask on every device and run; the masks differ from the CPU's, and both are
// Bernoulli(q) draws, q = 1 − p.

struct Params {
    n: u32,
    // q, the probability of keeping a unit
    keep: f32,
    // what a kept unit is multiplied by: 1/q (inverted dropout) or 1 (weight scaling)
    scale: f32,
    seed_lo: u32,
    seed_hi: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;
@group(0) @binding(3) var<storage, read_write> mask: array<f32>;

fn thread(group: vec3<u32>, groups: vec3<u32>, local: vec3<u32>) -> u32 {
    return (group.y * groups.x + group.x) * 256u + local.x;
}

// MurmurHash3's 32-bit finaliser: every input bit flips each output bit with probability ~1/2
fn hash_mix(h0: u32) -> u32 {
    var h = h0;
    h = (h ^ (h >> 16u)) * 0x85ebca6bu;
    h = (h ^ (h >> 13u)) * 0xc2b2ae35u;
    return h ^ (h >> 16u);
}

// a uniform draw from [0, 1) with 24 bits, for value i of the mask
fn draw(i: u32) -> f32 {
    let h = hash_mix(hash_mix(i * 0x9e3779b9u ^ p.seed_lo) ^ p.seed_hi);
    return f32(h >> 8u) * (1.0 / 16777216.0);
}

// y = x ⊙ m with m = scale where the draw is below q, else 0; m is kept for backward
@compute @workgroup_size(256)
fn forward(@builtin(workgroup_id) group: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>,
           @builtin(local_invocation_id) local: vec3<u32>) {
    let i = thread(group, groups, local);
    if (i < p.n) {
        let m = select(0.0, p.scale, draw(i) < p.keep);
        mask[i] = m;
        dst[i] = src[i] * m;
    }
}

// δx = δy ⊙ m (src δy, dst δx), with the mask of the forward pass
@compute @workgroup_size(256)
fn backward(@builtin(workgroup_id) group: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>,
            @builtin(local_invocation_id) local: vec3<u32>) {
    let i = thread(group, groups, local);
    if (i < p.n) {
        dst[i] = src[i] * mask[i];
    }
}

// y = x · scale: the test-time rule (q for weight scaling)
@compute @workgroup_size(256)
fn scale(@builtin(workgroup_id) group: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>,
         @builtin(local_invocation_id) local: vec3<u32>) {
    let i = thread(group, groups, local);
    if (i < p.n) {
        dst[i] = src[i] * p.scale;
    }
}
