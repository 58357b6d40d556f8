// The update rules of optim/ besides SGD and Adam (optim.wgsl), one thread per weight, each
// the CPU's equation in the CPU's order of operations (g = ∂E/∂w, η the learning rate):
// - adagrad (optim/adagrad.rs): G ← G + g², w ← w − η/√(G + ε)·g
// - rmsprop (optim/rmsprop.rs): v ← αv + (1 − α)g², w ← w − ηg/(√v + ε)
// - adadelta (optim/adadelta.rs, Zeiler): E[g²] ← ρE[g²] + (1 − ρ)g²,
//   Δw = −√(E[Δw²] + ε)/√(E[g²] + ε)·g, E[Δw²] ← ρE[Δw²] + (1 − ρ)Δw², w ← w + ηΔw
// - adamw (optim/adam.rs): w ← (1 − ηλ)w, then the Adam step of optim.wgsl
// - adadelta-window (optim/adadelta.rs): S = the sum of g² over the last `window` steps, kept
//   in a ring of squares and their running sum; w ← w − η/√(S + ε)·g. When the ring starts
//   over, `window_restart` writes the first square and the sum is rebuilt from the ring (by
//   kernels/shape.rs's accumulate, slot by slot) before `window_apply`; otherwise
//   `window_slide` swaps the slot's old square for the new one in the sum.

struct Params {
    n: u32,
    _pad: u32,
    eta: f32,
    // α for rmsprop, ρ for adadelta, β₁ for adamw
    a: f32,
    beta2: f32,
    eps: f32,
    c1: f32,
    c2: f32,
    // 1 − ηλ for adamw
    decay: f32,
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
fn adagrad(@builtin(workgroup_id) group: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>,
           @builtin(local_invocation_id) local: vec3<u32>) {
    let i = thread(group, groups, local);
    if (i < p.n) {
        let sum = s1[i] + g[i] * g[i];
        s1[i] = sum;
        w[i] = w[i] - p.eta / sqrt(sum + p.eps) * g[i];
    }
}

@compute @workgroup_size(256)
fn rmsprop(@builtin(workgroup_id) group: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>,
           @builtin(local_invocation_id) local: vec3<u32>) {
    let i = thread(group, groups, local);
    if (i < p.n) {
        let v = p.a * s1[i] + (1.0 - p.a) * g[i] * g[i];
        s1[i] = v;
        w[i] = w[i] - p.eta * g[i] / (sqrt(v) + p.eps);
    }
}

@compute @workgroup_size(256)
fn adadelta(@builtin(workgroup_id) group: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>,
            @builtin(local_invocation_id) local: vec3<u32>) {
    let i = thread(group, groups, local);
    if (i < p.n) {
        let eg2 = p.a * s1[i] + (1.0 - p.a) * g[i] * g[i];
        s1[i] = eg2;
        let dw = -sqrt(s2[i] + p.eps) / sqrt(eg2 + p.eps) * g[i];
        s2[i] = p.a * s2[i] + (1.0 - p.a) * dw * dw;
        w[i] = w[i] + p.eta * dw;
    }
}

@compute @workgroup_size(256)
fn adamw(@builtin(workgroup_id) group: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>,
         @builtin(local_invocation_id) local: vec3<u32>) {
    let i = thread(group, groups, local);
    if (i < p.n) {
        let decayed = w[i] * p.decay;
        let m = p.a * s1[i] + (1.0 - p.a) * g[i];
        let v = p.beta2 * s2[i] + (1.0 - p.beta2) * g[i] * g[i];
        s1[i] = m;
        s2[i] = v;
        w[i] = decayed - p.eta * (m / p.c1) / (sqrt(v / p.c2) + p.eps);
    }
}

// s1: the ring's first slot, s2: the running sum
@compute @workgroup_size(256)
fn window_restart(@builtin(workgroup_id) group: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>,
                  @builtin(local_invocation_id) local: vec3<u32>) {
    let i = thread(group, groups, local);
    if (i < p.n) {
        let square = g[i] * g[i];
        s1[i] = square;
        s2[i] = square;
        // w is bound so that every entry point shares the bindings' layout
        w[i] = w[i];
    }
}

// s1: the running sum
@compute @workgroup_size(256)
fn window_apply(@builtin(workgroup_id) group: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>,
                @builtin(local_invocation_id) local: vec3<u32>) {
    let i = thread(group, groups, local);
    if (i < p.n) {
        w[i] = w[i] - p.eta / sqrt(s1[i] + p.eps) * g[i];
    }
}

// s1: this step's slot of the ring, s2: the running sum
@compute @workgroup_size(256)
fn window_slide(@builtin(workgroup_id) group: vec3<u32>, @builtin(num_workgroups) groups: vec3<u32>,
                @builtin(local_invocation_id) local: vec3<u32>) {
    let i = thread(group, groups, local);
    if (i < p.n) {
        let square = g[i] * g[i];
        let sum = max(s2[i] - s1[i] + square, 0.0);
        s2[i] = sum;
        s1[i] = square;
        w[i] = w[i] - p.eta / sqrt(sum + p.eps) * g[i];
    }
}
