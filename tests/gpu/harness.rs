//! What the GPU tests share: the device, opened once, random inputs, and the digits and zoo
//! specs the training tests run.

use nabla::Tensor;
use nabla::data::Dataset;
use nabla::gpu::{Gpu, GpuTensor};
use nabla::nn::{ModelSpec, Module};
use nabla::rng::Rng;
use nabla::train::Trainer;
use std::sync::OnceLock;

/// The GPU, opened once for every test of the binary.
pub fn gpu() -> &'static Gpu {
    static GPU: OnceLock<Gpu> = OnceLock::new();
    GPU.get_or_init(|| Gpu::new().unwrap_or_else(|e| panic!("the GPU tests need a GPU or lavapipe: {e}")))
}

/// Standard normal values of `shape`, from `seed`.
pub fn randn(seed: u64, shape: &[usize]) -> Tensor {
    Rng::seed(seed).normal_tensor(shape, 1.0)
}

/// |t|, value by value.
pub fn abs(t: &Tensor) -> Tensor {
    t.map(f32::abs)
}

/// `t` on the GPU.
pub fn up(t: &Tensor) -> GpuTensor {
    GpuTensor::upload(gpu(), t)
}

/// `rows` random 28×28 "digits" with labels 0, 7, 4, 1, … (row i: 7i mod 10).
pub fn digits(rows: usize) -> Dataset {
    let labels: Vec<usize> = (0..rows).map(|i| (i * 7) % 10).collect();
    let targets = Tensor::from_vec((0..rows * 10).map(|i| f32::from(labels[i / 10] == i % 10)).collect(), &[rows, 10]);
    let inputs = Rng::seed(6).uniform_tensor(&[rows, 784], 0.0, 1.0);
    Dataset { inputs: inputs.into(), targets, labels: Some(labels), image_shape: Some([1, 28, 28]), lengths: None }
}

/// The zoo's spec `name`, read from models/.
pub fn zoo(name: &str) -> ModelSpec {
    let path = format!("{}/models/{name}.toml", env!("CARGO_MANIFEST_DIR"));
    toml::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

/// Asserts that the GPU run's weights are the CPU run's, parameter by parameter, within 1e-4 of
/// the largest CPU weight (training steps compound the GEMMs' rounding, so a bound relative to
/// each weight would fail where a weight is near 0); `what` names the run in a failure.
pub fn assert_same_weights(what: &str, cpu: &Trainer, on_gpu: &Trainer) {
    let scale =
        cpu.model.params().iter().flat_map(|(_, p)| p.value().data().to_vec()).fold(0.0f32, |m, x| m.max(x.abs()));
    for ((cpu_name, c), (gpu_name, g)) in cpu.model.params().iter().zip(on_gpu.model.params()) {
        assert_eq!(cpu_name, &gpu_name, "{what}");
        for (x, y) in c.value().data().iter().zip(g.value().data()) {
            assert!((x - y).abs() <= 1e-4 * scale, "{what}: {cpu_name}: CPU {x}, GPU {y}");
        }
    }
}
