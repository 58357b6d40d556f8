// One time step of the LSTM recurrence (ops/lstm.rs), forward and backward, one thread per
// (row r, unit j) of the batch's m rows and H units. Buffers are time-major (T × m × ·): step t
// is rows t·m .. (t+1)·m. The host runs the GEMMs around each step (x·W for every step before
// the first, h_{t−1}·U into `rec` before each, ∂E/∂a_t·Uᵀ after each backward step).

struct Params {
    m: u32,
    h: u32,
    // the slot of this step, and of h_{t−1} (the step before in reading order; NONE at the first)
    t: u32,
    prev: u32,
    // backward: 1 at the first step of BPTT (the last read), where δh and δc from later steps are 0
    first: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

const NONE: u32 = 0xffffffffu;

@group(0) @binding(0) var<uniform> p: Params;

// forward
// the gates' pre-activations x_t·W + b (T·m × 4H, blocks i, f, g, o), activated in place
@group(0) @binding(1) var<storage, read_write> gates: array<f32>;
// h_{t−1}·U of this step (m × 4H)
@group(0) @binding(2) var<storage, read> rec: array<f32>;
// c_t (T·m × H)
@group(0) @binding(3) var<storage, read_write> c: array<f32>;
// h_t (T·m × H)
@group(0) @binding(4) var<storage, read_write> hs: array<f32>;
// h_{t−1} at slot t (T·m × H): what U multiplied, for ∂E/∂U in one GEMM
@group(0) @binding(5) var<storage, read_write> h_prev: array<f32>;
// h_t again, contiguous (m × H), for the next step's GEMM
@group(0) @binding(6) var<storage, read_write> state: array<f32>;

// backward
@group(0) @binding(1) var<storage, read> b_gates: array<f32>;
@group(0) @binding(2) var<storage, read> b_c: array<f32>;
// ∂E/∂h_t from the output (T·m × H)
@group(0) @binding(3) var<storage, read> dh_out: array<f32>;
// ∂E/∂a_t (T·m × 4H)
@group(0) @binding(4) var<storage, read_write> da: array<f32>;
// ∂E/∂a_t again, contiguous (m × 4H), for the GEMM δh_{t−1} = ∂E/∂a_t·Uᵀ
@group(0) @binding(5) var<storage, read_write> da_step: array<f32>;
// δh that reached h_t from step t+1 (m × H)
@group(0) @binding(6) var<storage, read> dh_next: array<f32>;
// δc that reached c_t from step t+1 (m × H), turned into the one that reaches c_{t−1}
@group(0) @binding(7) var<storage, read_write> dc: array<f32>;

fn thread(group: vec3<u32>, groups: vec3<u32>, local: vec3<u32>) -> u32 {
    return (group.y * groups.x + group.x) * 256u + local.x;
}

// tanh as nabla's CPU computes it (ops/activation.rs, `tanh_rational`), so that both devices
// agree to a few ulp
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

// i, f, g, o from a_t = x_t·W + b + h_{t−1}·U; c_t = f⊙c_{t−1} + i⊙g, h_t = o⊙tanh(c_t)
@compute @workgroup_size(256)
fn forward(@builtin(workgroup_id) group: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>,
           @builtin(local_invocation_id) local: vec3<u32>) {
    let n = thread(group, groups, local);
    if (n >= p.m * p.h) {
        return;
    }
    let r = n / p.h;
    let j = n % p.h;
    let h4 = 4u * p.h;
    let a = (p.t * p.m + r) * h4 + j;
    var pre = vec4<f32>(gates[a], gates[a + p.h], gates[a + 2u * p.h], gates[a + 3u * p.h]);
    var c_prev = 0.0;
    var h_before = 0.0;
    if (p.prev != NONE) {
        let q = r * h4 + j;
        pre = pre + vec4<f32>(rec[q], rec[q + p.h], rec[q + 2u * p.h], rec[q + 3u * p.h]);
        c_prev = c[(p.prev * p.m + r) * p.h + j];
        h_before = hs[(p.prev * p.m + r) * p.h + j];
    }
    let i = sigmoid(pre.x);
    let f = sigmoid(pre.y);
    let g = tanh_rational(pre.z);
    let o = sigmoid(pre.w);
    gates[a] = i;
    gates[a + p.h] = f;
    gates[a + 2u * p.h] = g;
    gates[a + 3u * p.h] = o;
    let c_t = f * c_prev + i * g;
    let h_t = o * tanh_rational(c_t);
    let s = (p.t * p.m + r) * p.h + j;
    c[s] = c_t;
    hs[s] = h_t;
    h_prev[s] = h_before;
    state[n] = h_t;
}

// One step of BPTT: δh = δh_out + δh_next, δc += δh⊙o⊙(1 − tanh²c_t), then ∂E/∂a_t by gate,
// and δc ← δc⊙f for step t−1
@compute @workgroup_size(256)
fn backward(@builtin(workgroup_id) group: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>,
            @builtin(local_invocation_id) local: vec3<u32>) {
    let n = thread(group, groups, local);
    if (n >= p.m * p.h) {
        return;
    }
    let r = n / p.h;
    let j = n % p.h;
    let h4 = 4u * p.h;
    let a = (p.t * p.m + r) * h4 + j;
    let s = (p.t * p.m + r) * p.h + j;
    let i = b_gates[a];
    let f = b_gates[a + p.h];
    let g = b_gates[a + 2u * p.h];
    let o = b_gates[a + 3u * p.h];
    var dh = dh_out[s];
    var dc_in = 0.0;
    if (p.first == 0u) {
        dh = dh + dh_next[n];
        dc_in = dc[n];
    }
    var c_prev = 0.0;
    if (p.prev != NONE) {
        c_prev = b_c[(p.prev * p.m + r) * p.h + j];
    }
    let tc = tanh_rational(b_c[s]);
    let dcj = dc_in + dh * o * (1.0 - tc * tc);
    let d = vec4<f32>(dcj * g * i * (1.0 - i), dcj * c_prev * f * (1.0 - f), dcj * i * (1.0 - g * g),
                      dh * tc * o * (1.0 - o));
    da[a] = d.x;
    da[a + p.h] = d.y;
    da[a + 2u * p.h] = d.z;
    da[a + 3u * p.h] = d.w;
    let q = r * h4 + j;
    da_step[q] = d.x;
    da_step[q + p.h] = d.y;
    da_step[q + 2u * p.h] = d.z;
    da_step[q + 3u * p.h] = d.w;
    dc[n] = dcj * f;
}
