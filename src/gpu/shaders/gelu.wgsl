// GELU(u) = u·Φ(u) and its backward δu = δy·(Φ(u) + u·φ(u)), as ops/activation.rs computes
// them: Φ(u) = ½(1 + erf(u/√2)) with nabla's rational erf (Eigen's), and φ(u) = e^(−u²/2)/√(2π)
// with nabla's polynomial exp (Cephes'), so that both devices agree to a few ulp. WGSL's own
// exp could stand in, but erf has no WGSL built-in. One thread per value.

struct Params {
    n: u32,
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
// forward: u, y; backward: u, δu, δy
@group(0) @binding(1) var<storage, read> u: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<storage, read> delta_y: array<f32>;

fn thread(group: vec3<u32>, groups: vec3<u32>, local: vec3<u32>) -> u32 {
    return (group.y * groups.x + group.x) * 256u + local.x;
}

// erf(x) = x·P(x²)/Q(x²), exactly ±1 for |x| ≥ 3.9 (ops/activation.rs, `erf_rational`)
fn erf_rational(x_in: f32) -> f32 {
    let x = clamp(x_in, -4.0, 4.0);
    let x2 = x * x;
    let num = x * (-1.6096033e-2 + x2 * (-2.9546e-3 + x2 * (-7.3499063e-4 + x2 * (-5.6925064e-5
        + x2 * (-2.101024e-6 + x2 * (2.7706814e-8 + x2 * -2.7261423e-10))))));
    let den = -1.4264739e-2 + x2 * (-7.3733292e-3 + x2 * (-1.682827e-3 + x2 * (-2.1337406e-4
        + x2 * -1.4566072e-5)));
    if (abs(x) >= 3.9) {
        return select(-1.0, 1.0, x > 0.0);
    }
    return num / den;
}

// e^x = 2ⁿ·e^r, n = round(x·log₂e), e^r by a degree-7 polynomial (ops/activation.rs,
// `exp_rational`)
fn exp_rational(x_in: f32) -> f32 {
    let x = clamp(x_in, -87.3, 88.7);
    let n = round(x * 1.442695);
    let r = x - n * 0.6933594 - n * -2.1219444e-4;
    var q = 1.9875691e-4;
    q = q * r + 1.3982e-3;
    q = q * r + 8.333452e-3;
    q = q * r + 4.1665796e-2;
    q = q * r + 0.16666665;
    q = q * r + 0.5;
    let y = q * r * r + r + 1.0;
    return y * bitcast<f32>(u32(i32(n) + 127) << 23u);
}

fn normal_cdf(v: f32) -> f32 {
    return 0.5 + 0.5 * erf_rational(v * 0.70710677);
}

@compute @workgroup_size(256)
fn forward(@builtin(workgroup_id) group: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>,
           @builtin(local_invocation_id) local: vec3<u32>) {
    let i = thread(group, groups, local);
    if (i < p.n) {
        out[i] = u[i] * normal_cdf(u[i]);
    }
}

@compute @workgroup_size(256)
fn backward(@builtin(workgroup_id) group: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>,
            @builtin(local_invocation_id) local: vec3<u32>) {
    let i = thread(group, groups, local);
    if (i < p.n) {
        let v = u[i];
        let pdf = 0.3989423 * exp_rational(-0.5 * v * v);
        out[i] = delta_y[i] * (normal_cdf(v) + v * pdf);
    }
}
