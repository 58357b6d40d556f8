// The backward pass of an activation: δ_U = δ_Y ⊙ f′, with f′ written through the output
// Y = f(U) as on the CPU (ops/activation.rs). One thread per value.

struct Params {
    n: u32,
    // the activation, numbered as in unary.wgsl
    op: u32,
    scale_a: f32,
    scale_s: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> y: array<f32>;
@group(0) @binding(2) var<storage, read> delta_y: array<f32>;
@group(0) @binding(3) var<storage, read_write> delta_u: array<f32>;

// f′ from y = f(u)
fn derivative(op: u32, y: f32) -> f32 {
    switch op {
        case 1u: { return y * (1.0 - y); }
        case 2u: { return 1.0 - y * y; }
        case 3u: { return select(0.0, 1.0, y > 0.0); }
        case 4u: { return p.scale_s * (p.scale_a - y * y / p.scale_a); }
        default: { return 1.0; }
    }
}

@compute @workgroup_size(256)
fn backward(@builtin(workgroup_id) group: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>,
            @builtin(local_invocation_id) local: vec3<u32>) {
    let i = (group.y * groups.x + group.x) * 256u + local.x;
    if (i < p.n) {
        delta_u[i] = delta_y[i] * derivative(p.op, y[i]);
    }
}
