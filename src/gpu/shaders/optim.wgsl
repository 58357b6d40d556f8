// The optimizers' update rules on the device, one thread per weight, as in optim/sgd.rs and
// optim/adam.rs (g = ∂E/∂w, η the learning rate):
// - sgd: w ← w − ηg
// - momentum: Δw ← αΔw − ηg, w ← w + Δw; Nesterov's: v ← αv − ηg, w ← w − ηg + αv
// - adam: m ← β₁m + (1 − β₁)g, v ← β₂v + (1 − β₂)g², w ← w − η m̂/(√v̂ + ε), with
//   m̂ = m/c₁, v̂ = v/c₂ and c = 1 − βᵗ computed on the CPU in f64

struct Params {
    n: u32,
    nesterov: u32,
    eta: f32,
    // α for momentum, β₁ for adam
    a: f32,
    beta2: f32,
    eps: f32,
    c1: f32,
    c2: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> g: array<f32>;
@group(0) @binding(2) var<storage, read_write> w: array<f32>;
@group(0) @binding(3) var<storage, read_write> s1: array<f32>;
@group(0) @binding(4) var<storage, read_write> s2: array<f32>;

fn thread(group: vec3<u32>, groups: vec3<u32>, local: vec3<u32>) -> u32 {
    return (group.y * groups.x + group.x) * 256u + local.x;
}

@compute @workgroup_size(256)
fn sgd(@builtin(workgroup_id) group: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>,
       @builtin(local_invocation_id) local: vec3<u32>) {
    let i = thread(group, groups, local);
    if (i < p.n) {
        w[i] = w[i] - p.eta * g[i];
    }
}

@compute @workgroup_size(256)
fn momentum(@builtin(workgroup_id) group: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>,
            @builtin(local_invocation_id) local: vec3<u32>) {
    let i = thread(group, groups, local);
    if (i < p.n) {
        let v = p.a * s1[i] - p.eta * g[i];
        s1[i] = v;
        if (p.nesterov != 0u) {
            w[i] = w[i] + (p.a * v - p.eta * g[i]);
        } else {
            w[i] = w[i] + v;
        }
    }
}

@compute @workgroup_size(256)
fn adam(@builtin(workgroup_id) group: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>,
        @builtin(local_invocation_id) local: vec3<u32>) {
    let i = thread(group, groups, local);
    if (i < p.n) {
        let m = p.a * s1[i] + (1.0 - p.a) * g[i];
        let v = p.beta2 * s2[i] + (1.0 - p.beta2) * g[i] * g[i];
        s1[i] = m;
        s2[i] = v;
        w[i] = w[i] - p.eta * (m / p.c1) / (sqrt(v / p.c2) + p.eps);
    }
}
