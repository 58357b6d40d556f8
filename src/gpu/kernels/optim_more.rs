//! The launches of `shaders/optim_more.wgsl`: the update rules of [`crate::optim`] besides SGD
//! and Adam (AdaGrad, RMSProp, AdaDelta in both forms, AdamW), the device twins of their
//! [`crate::optim::UpdateRule::update`].

use super::{shape, word};
use crate::gpu::Gpu;
use crate::gpu::context::groups_for;
use crate::optim::RuleParams;

/// The update kernels' pipelines.
pub(in crate::gpu) struct OptimPipelines {
    adagrad: wgpu::ComputePipeline,
    rmsprop: wgpu::ComputePipeline,
    adadelta: wgpu::ComputePipeline,
    adamw: wgpu::ComputePipeline,
    window_restart: wgpu::ComputePipeline,
    window_apply: wgpu::ComputePipeline,
    window_slide: wgpu::ComputePipeline,
}

impl OptimPipelines {
    /// The pipelines of `module` (optim_more.wgsl), made by `pipeline`.
    pub(in crate::gpu) fn new(
        module: &wgpu::ShaderModule,
        pipeline: impl Fn(&wgpu::ShaderModule, &str) -> wgpu::ComputePipeline,
    ) -> OptimPipelines {
        OptimPipelines {
            adagrad: pipeline(module, "adagrad"),
            rmsprop: pipeline(module, "rmsprop"),
            adadelta: pipeline(module, "adadelta"),
            adamw: pipeline(module, "adamw"),
            window_restart: pipeline(module, "window_restart"),
            window_apply: pipeline(module, "window_apply"),
            window_slide: pipeline(module, "window_slide"),
        }
    }
}

/// One update of `n` weights by AdaGrad, RMSProp, AdaDelta (either form) or AdamW (see
/// [`super::update`], which hands these rules here). Panics naming the rule if `state` does not
/// hold its buffers.
#[allow(clippy::too_many_arguments)]
pub(super) fn update(
    gpu: &Gpu,
    rule: RuleParams,
    eta: f32,
    t: u64,
    n: usize,
    g: &wgpu::Buffer,
    w: &wgpu::Buffer,
    state: &[&wgpu::Buffer],
) {
    let k = &gpu.kernels.optim;
    let groups = groups_for(n);
    // n, –, η, a, β₂, ε, c₁, c₂, 1 − ηλ
    let params = |a: f32, beta2: f32, eps: f32, (c1, c2): (f32, f32), decay: f32| {
        [
            word(n, "n"),
            0,
            eta.to_bits(),
            a.to_bits(),
            beta2.to_bits(),
            eps.to_bits(),
            c1.to_bits(),
            c2.to_bits(),
            decay.to_bits(),
        ]
    };
    match (rule, state) {
        (RuleParams::AdaGrad { eps }, [sum]) => {
            gpu.launch(&k.adagrad, &params(0.0, 0.0, eps, (0.0, 0.0), 0.0), &[g, w, sum], groups)
        }
        (RuleParams::RmsProp { alpha, eps }, [v]) => {
            gpu.launch(&k.rmsprop, &params(alpha, 0.0, eps, (0.0, 0.0), 0.0), &[g, w, v], groups);
        }
        (RuleParams::AdaDelta { rho, eps }, [eg2, edw2]) => {
            gpu.launch(&k.adadelta, &params(rho, 0.0, eps, (0.0, 0.0), 0.0), &[g, w, eg2, edw2], groups);
        }
        (RuleParams::AdamW { beta1, beta2, eps, weight_decay }, [m, v]) => {
            // as the CPU: 1 − βᵗ in f64, and the decay factor 1 − ηλ in f32
            let c1 = (1.0 - f64::from(beta1).powf(t as f64)) as f32;
            let c2 = (1.0 - f64::from(beta2).powf(t as f64)) as f32;
            let decay = 1.0 - eta * weight_decay;
            gpu.launch(&k.adamw, &params(beta1, beta2, eps, (c1, c2), decay), &[g, w, m, v], groups);
        }
        (RuleParams::AdaDeltaWindow { window, eps }, state) if window > 0 && state.len() == window + 1 => {
            let (ring, sum) = (&state[..window], state[window]);
            let p = params(0.0, 0.0, eps, (0.0, 0.0), 0.0);
            let slot = ((t - 1) % window as u64) as usize;
            if slot == 0 {
                // the sum anew, in the CPU's order: the new square, then the ring's other slots
                gpu.launch(&k.window_restart, &p, &[g, w, ring[0], sum], groups);
                for old in &ring[1..] {
                    shape::accumulate(gpu, n, old, sum);
                }
                gpu.launch(&k.window_apply, &p, &[g, w, sum], groups);
            } else {
                gpu.launch(&k.window_slide, &p, &[g, w, ring[slot], sum], groups);
            }
        }
        (rule, state) => panic!("GPU update: {rule:?} given {} state buffers", state.len()),
    }
}
