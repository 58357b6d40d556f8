// One time step of the Elman recurrence (ops/rnn.rs), forward and backward, one thread per
// (row r, unit j) of the batch's m rows and H units. Buffers are time-major (T × m × ·). The
// host runs the GEMMs around each step (x·W + b for every step before the first, h_{t−1}·U
// into `rec` before each, ∂E/∂a_t·Uᵀ after each backward step).

struct Params {
    m: u32,
    h: u32,
    // the slot of this step, and of h_{t−1} (the step before in reading order; NONE at the first)
    t: u32,
    prev: u32,
    // backward: 1 at the first step of BPTT (the last read), where δh from later steps is 0
    first: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

const NONE: u32 = 0xffffffffu;

@group(0) @binding(0) var<uniform> p: Params;

// forward
// x_t·W + b (T·m × H)
@group(0) @binding(1) var<storage, read> pre: array<f32>;
// h_{t−1}·U of this step (m × H)
@group(0) @binding(2) var<storage, read> rec: array<f32>;
// h_t (T·m × H)
@group(0) @binding(3) var<storage, read_write> hs: array<f32>;
// h_{t−1} at slot t (T·m × H): what U multiplied, for ∂E/∂U in one GEMM
@group(0) @binding(4) var<storage, read_write> h_prev: array<f32>;
// h_t again, contiguous (m × H), for the next step's GEMM
@group(0) @binding(5) var<storage, read_write> state: array<f32>;

// backward
@group(0) @binding(1) var<storage, read> b_hs: array<f32>;
// ∂E/∂h_t from the output (T·m × H)
@group(0) @binding(2) var<storage, read> dh_out: array<f32>;
// ∂E/∂a_t (T·m × H)
@group(0) @binding(3) var<storage, read_write> da: array<f32>;
// ∂E/∂a_t again, contiguous (m × H), for the GEMM δh_{t−1} = ∂E/∂a_t·Uᵀ
@group(0) @binding(4) var<storage, read_write> da_step: array<f32>;
// δh that reached h_t from step t+1 (m × H)
@group(0) @binding(5) var<storage, read> dh_next: array<f32>;

fn thread(group: vec3<u32>, groups: vec3<u32>, local: vec3<u32>) -> u32 {
    return (group.y * groups.x + group.x) * 256u + local.x;
}

// tanh as nabla's CPU computes it (ops/activation.rs, `tanh_rational`)
fn tanh_rational(u: f32) -> f32 {
    let x = clamp(u, -7.905311, 7.905311);
    let x2 = x * x;
    let num = x * (4.8935246e-3 + x2 * (6.3726193e-4 + x2 * (1.4857224e-5 + x2 * (5.122297e-8
        + x2 * (-8.604672e-11 + x2 * (2.000188e-13 + x2 * -2.7607685e-16))))));
    let den = 4.893525e-3 + x2 * (2.2684346e-3 + x2 * (1.1853471e-4 + x2 * 1.1982584e-6));
    return num / den;
}

// h_t = tanh(x_t·W + b + h_{t−1}·U)
@compute @workgroup_size(256)
fn forward(@builtin(workgroup_id) group: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>,
           @builtin(local_invocation_id) local: vec3<u32>) {
    let n = thread(group, groups, local);
    if (n >= p.m * p.h) {
        return;
    }
    let r = n / p.h;
    let j = n % p.h;
    let s = (p.t * p.m + r) * p.h + j;
    var a = pre[s];
    var h_before = 0.0;
    if (p.prev != NONE) {
        a = a + rec[n];
        h_before = hs[(p.prev * p.m + r) * p.h + j];
    }
    let h_t = tanh_rational(a);
    hs[s] = h_t;
    h_prev[s] = h_before;
    state[n] = h_t;
}

// One step of BPTT: ∂E/∂a_t = (δh_out + δh_next)⊙(1 − h_t²)
@compute @workgroup_size(256)
fn backward(@builtin(workgroup_id) group: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>,
            @builtin(local_invocation_id) local: vec3<u32>) {
    let n = thread(group, groups, local);
    if (n >= p.m * p.h) {
        return;
    }
    let s = (p.t * p.m + n / p.h) * p.h + n % p.h;
    var dh = dh_out[s];
    if (p.first == 0u) {
        dh = dh + dh_next[n];
    }
    let y = b_hs[s];
    let d = dh * (1.0 - y * y);
    da[s] = d;
    da_step[n] = d;
}
