//! Training on a GPU through `wgpu` (WGSL compute shaders over Vulkan, Metal or DX12), behind the
//! cargo feature `gpu`. Without a GPU, Mesa's software Vulkan driver (lavapipe) runs the same
//! shaders on the CPU, which is how CI tests every kernel.
//!
//! - [`device`]: which device a run asks for (`--device cpu|gpu|auto`, `NABLA_DEVICE`), and the
//!   errors of a GPU that cannot be had. Built with or without the feature, so that the default
//!   build can say how to get one.
//! - `context`: the adapter, the logical device, its queue and the compiled kernels.
//! - `buffer`: `GpuTensor`, a buffer of f32 on the device with its shape (upload, download).
//! - `kernels`: each WGSL kernel's launch (GEMM with every transpose, bias add and its column
//!   sums, activations and their derivatives, softmax cross-entropy fused with its δ, row
//!   gathering, the SGD and Adam updates, the argmax of each row; in `kernels/`: convolution
//!   through im2col, max and average pooling, dropout, GELU, the other losses and update rules,
//!   padding, concatenation and the other movements, LeNet-5's sub-sampling and RBF units, LRN,
//!   regularization, the recurrent cells' steps, one-hot rows and the per-step softmax
//!   cross-entropy of a sequence's outputs); the shaders are in `shaders/`.
//! - `net`: a sequential network on the device, forward and backward: every layer kind
//!   (Inception's branches and auxiliary heads as networks of their own; a linear layer over a
//!   sequence maps each step).
//! - `regularize`: L1/L2 penalties, gradient clipping and max-norm around the device's updates.
//! - `recurrent`: the Elman, LSTM and GRU layers (stacked, bidirectional) on the device.
//! - `bench`: timing kernels for `nabla bench --device gpu`.
//! - `infer`: evaluation and prediction of a saved model on the device (`GpuPredictor`).
//! - `train`: an epoch of mini-batch training with weights, optimizer state and data set on the
//!   device, which [`crate::train::Trainer`] hands its steps to.
//!
//! The device boundary runs at the layer level for now: a [`crate::nn::Model`] stays on the CPU
//! and a GPU executor holds a copy of its weights, written back after every epoch (evaluation,
//! checkpoints). See ARCHITECTURE.md for why, and for how it grows into tensors that know their
//! device.

pub mod device;

#[cfg(feature = "gpu")]
pub mod bench;
#[cfg(feature = "gpu")]
mod buffer;
#[cfg(feature = "gpu")]
mod context;
#[cfg(feature = "gpu")]
mod infer;
#[cfg(feature = "gpu")]
pub mod kernels;
#[cfg(feature = "gpu")]
mod net;
#[cfg(feature = "gpu")]
mod recurrent;
#[cfg(feature = "gpu")]
mod regularize;
#[cfg(feature = "gpu")]
mod train;

#[cfg(feature = "gpu")]
pub use buffer::GpuTensor;
#[cfg(feature = "gpu")]
pub use context::Gpu;
pub use device::Device;
#[cfg(feature = "gpu")]
pub use infer::GpuPredictor;
#[cfg(feature = "gpu")]
pub use net::GpuNet;
#[cfg(feature = "gpu")]
pub use recurrent::GpuRecurrent;
#[cfg(feature = "gpu")]
pub use train::GpuTraining;
