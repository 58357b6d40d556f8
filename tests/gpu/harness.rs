//! What the GPU tests share: the device, opened once, random inputs, and the digits and zoo
//! specs the training tests run.

use nabla::Tensor;
use nabla::data::Dataset;
use nabla::gpu::{Gpu, GpuTensor};
use nabla::nn::ModelSpec;
use nabla::rng::Rng;
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
