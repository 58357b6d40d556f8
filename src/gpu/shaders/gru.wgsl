// One time step of the GRU recurrence in PyTorch's form (ops/gru.rs), forward and backward, one
// thread per (row r, unit j) of the batch's m rows and H units. Buffers are time-major
// (T × m × ·). The host runs the GEMMs around each step (x·W + b_x for every step before the
// first, h_{t−1}·U into `rec` before each, ∂E/∂[h_r, h_z, h_n]·Uᵀ after each backward step).

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
// the input parts x_t·W + b_x (T·m × 3H, blocks r, z, n), turned into the gates r, z, n in place
@group(0) @binding(1) var<storage, read_write> gates: array<f32>;
// h_{t−1}·U of this step (m × 3H), without b_h
@group(0) @binding(2) var<storage, read> rec: array<f32>;
// b_h (3H)
@group(0) @binding(3) var<storage, read> b_h: array<f32>;
// h_n = h_{t−1}·U_n + b_hn, which r scales (T·m × H)
@group(0) @binding(4) var<storage, read_write> h_n: array<f32>;
// h_t (T·m × H)
@group(0) @binding(5) var<storage, read_write> hs: array<f32>;
// h_{t−1} at slot t (T·m × H): what U multiplied, for ∂E/∂U in one GEMM
@group(0) @binding(6) var<storage, read_write> h_prev: array<f32>;
// h_t again, contiguous (m × H), for the next step's GEMM
@group(0) @binding(7) var<storage, read_write> state: array<f32>;

// backward
@group(0) @binding(1) var<storage, read> b_gates: array<f32>;
@group(0) @binding(2) var<storage, read> b_h_n: array<f32>;
@group(0) @binding(3) var<storage, read> b_h_prev: array<f32>;
// ∂E/∂h_t from the output (T·m × H)
@group(0) @binding(4) var<storage, read> dh_out: array<f32>;
// ∂E/∂ of the input parts (T·m × 3H)
@group(0) @binding(5) var<storage, read_write> dx_parts: array<f32>;
// ∂E/∂ of the recurrent parts [h_r, h_z, h_n] (T·m × 3H)
@group(0) @binding(6) var<storage, read_write> dh_parts: array<f32>;
// the recurrent parts' gradients again, contiguous (m × 3H), for the GEMM with Uᵀ
@group(0) @binding(7) var<storage, read_write> dh_step: array<f32>;
// δh that reached h_t from step t+1 (m × H), turned into δh⊙z (the host's GEMM adds the rest)
@group(0) @binding(8) var<storage, read_write> dh_next: array<f32>;

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

fn sigmoid(u: f32) -> f32 {
    return 0.5 + 0.5 * tanh_rational(0.5 * u);
}

// r = σ(x_r + h_r), z = σ(x_z + h_z), n = tanh(x_n + r⊙h_n), h_t = (1 − z)⊙n + z⊙h_{t−1}
@compute @workgroup_size(256)
fn forward(@builtin(workgroup_id) group: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>,
           @builtin(local_invocation_id) local: vec3<u32>) {
    let n = thread(group, groups, local);
    if (n >= p.m * p.h) {
        return;
    }
    let r = n / p.h;
    let j = n % p.h;
    let h3 = 3u * p.h;
    let a = (p.t * p.m + r) * h3 + j;
    // h_{t−1}·U + b_h, or b_h alone at the first step (h_0 = 0)
    var rec_r = b_h[j];
    var rec_z = b_h[j + p.h];
    var rec_n = b_h[j + 2u * p.h];
    var h_before = 0.0;
    if (p.prev != NONE) {
        let q = r * h3 + j;
        rec_r = rec_r + rec[q];
        rec_z = rec_z + rec[q + p.h];
        rec_n = rec_n + rec[q + 2u * p.h];
        h_before = hs[(p.prev * p.m + r) * p.h + j];
    }
    let rg = sigmoid(gates[a] + rec_r);
    let z = sigmoid(gates[a + p.h] + rec_z);
    let ng = tanh_rational(gates[a + 2u * p.h] + rg * rec_n);
    gates[a] = rg;
    gates[a + p.h] = z;
    gates[a + 2u * p.h] = ng;
    let h_t = (1.0 - z) * ng + z * h_before;
    let s = (p.t * p.m + r) * p.h + j;
    h_n[s] = rec_n;
    hs[s] = h_t;
    h_prev[s] = h_before;
    state[n] = h_t;
}

// One step of BPTT: δn = δh⊙(1 − z)⊙(1 − n²), ∂E/∂h_n = δn⊙r, ∂E/∂x_r = ∂E/∂h_r = δn⊙h_n⊙r(1 − r),
// ∂E/∂x_z = ∂E/∂h_z = δh⊙(h_{t−1} − n)⊙z(1 − z), and δh⊙z toward step t−1
@compute @workgroup_size(256)
fn backward(@builtin(workgroup_id) group: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>,
            @builtin(local_invocation_id) local: vec3<u32>) {
    let n = thread(group, groups, local);
    if (n >= p.m * p.h) {
        return;
    }
    let r = n / p.h;
    let j = n % p.h;
    let h3 = 3u * p.h;
    let a = (p.t * p.m + r) * h3 + j;
    let s = (p.t * p.m + r) * p.h + j;
    let rg = b_gates[a];
    let z = b_gates[a + p.h];
    let ng = b_gates[a + 2u * p.h];
    var delta = dh_out[s];
    if (p.first == 0u) {
        delta = delta + dh_next[n];
    }
    let dn = delta * (1.0 - z) * (1.0 - ng * ng);
    let dr = dn * b_h_n[s] * rg * (1.0 - rg);
    let dz = delta * (b_h_prev[s] - ng) * z * (1.0 - z);
    dx_parts[a] = dr;
    dx_parts[a + p.h] = dz;
    dx_parts[a + 2u * p.h] = dn;
    dh_parts[a] = dr;
    dh_parts[a + p.h] = dz;
    dh_parts[a + 2u * p.h] = dn * rg;
    let q = r * h3 + j;
    dh_step[q] = dr;
    dh_step[q + p.h] = dz;
    dh_step[q + 2u * p.h] = dn * rg;
    dh_next[n] = delta * z;
}
