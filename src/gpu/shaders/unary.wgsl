// Kernels that read one buffer (x) and write another (y), over rows × cols values: the bias add
// of an affine layer, its gradient (column sums) and the activations. One thread per value (per
// column for the sums), numbered across a second dimension of workgroups past 65,535.

struct Params {
    rows: u32,
    cols: u32,
    // the activation: 0 identity, 1 sigmoid, 2 tanh, 3 relu, 4 scaled tanh A·tanh(S·u)
    op: u32,
    _pad: u32,
    scale_a: f32,
    scale_s: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> y: array<f32>;

fn thread(group: vec3<u32>, groups: vec3<u32>, local: vec3<u32>) -> u32 {
    return (group.y * groups.x + group.x) * 256u + local.x;
}

// U += 1·b: y is U (rows × cols), x is b (cols)
@compute @workgroup_size(256)
fn bias_add(@builtin(workgroup_id) group: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>,
            @builtin(local_invocation_id) local: vec3<u32>) {
    let i = thread(group, groups, local);
    if (i < p.rows * p.cols) {
        y[i] = y[i] + x[i % p.cols];
    }
}

// ∂E/∂b = 1ᵀ·δ: y[j] = Σ_i x[i, j], summed over the rows in order
@compute @workgroup_size(256)
fn column_sum(@builtin(workgroup_id) group: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>,
              @builtin(local_invocation_id) local: vec3<u32>) {
    let j = thread(group, groups, local);
    if (j < p.cols) {
        var sum = 0.0;
        for (var i = 0u; i < p.rows; i = i + 1u) {
            sum = sum + x[i * p.cols + j];
        }
        y[j] = sum;
    }
}

// tanh as nabla's CPU computes it (ops/activation.rs, `tanh_rational`): Eigen's ratio of a
// degree-13 odd and a degree-6 even polynomial, ±1 past ±7.9053; so both devices agree to ~1 ulp
fn tanh_rational(u: f32) -> f32 {
    let x = clamp(u, -7.905311, 7.905311);
    let x2 = x * x;
    let num = x * (4.8935246e-3 + x2 * (6.3726193e-4 + x2 * (1.4857224e-5 + x2 * (5.122297e-8
        + x2 * (-8.604672e-11 + x2 * (2.000188e-13 + x2 * -2.7607685e-16))))));
    let den = 4.893525e-3 + x2 * (2.2684346e-3 + x2 * (1.1853471e-4 + x2 * 1.1982584e-6));
    return num / den;
}

fn activate(op: u32, u: f32) -> f32 {
    switch op {
        case 1u: { return 0.5 + 0.5 * tanh_rational(0.5 * u); }
        case 2u: { return tanh_rational(u); }
        case 3u: { return max(u, 0.0); }
        case 4u: { return p.scale_a * tanh_rational(p.scale_s * u); }
        default: { return u; }
    }
}

// Y = f(U), elementwise
@compute @workgroup_size(256)
fn forward(@builtin(workgroup_id) group: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>,
           @builtin(local_invocation_id) local: vec3<u32>) {
    let i = thread(group, groups, local);
    if (i < p.rows * p.cols) {
        y[i] = activate(p.op, x[i]);
    }
}
