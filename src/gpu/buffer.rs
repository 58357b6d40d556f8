//! [`GpuTensor`]: f32 values in a buffer on the device, row-major like [`Tensor`], with a shape.

use super::Gpu;
use crate::tensor::Tensor;
use wgpu::util::DeviceExt;

/// A tensor on the GPU: a storage buffer of f32 and its shape. Kernels read and write its
/// buffer ([`GpuTensor::buffer`]); [`GpuTensor::upload`] and [`GpuTensor::download`] cross the
/// device boundary.
pub struct GpuTensor {
    buffer: wgpu::Buffer,
    shape: Vec<usize>,
}

/// What every nabla buffer can be used for: a kernel's operand, and either end of a copy.
const USAGE: wgpu::BufferUsages =
    wgpu::BufferUsages::STORAGE.union(wgpu::BufferUsages::COPY_SRC).union(wgpu::BufferUsages::COPY_DST);

impl GpuTensor {
    /// A copy of `t` on the device.
    pub fn upload(gpu: &Gpu, t: &Tensor) -> GpuTensor {
        GpuTensor { buffer: upload_words(gpu, t.data()), shape: t.shape().to_vec() }
    }

    /// Zeros of `shape` on the device.
    pub fn zeros(gpu: &Gpu, shape: &[usize]) -> GpuTensor {
        let n: usize = shape.iter().product();
        GpuTensor { buffer: zeroed(gpu, n), shape: shape.to_vec() }
    }

    /// A copy on the CPU, once every queued kernel has run.
    pub fn download(&self, gpu: &Gpu) -> Tensor {
        Tensor::from_vec(download_f32(gpu, &self.buffer, self.numel()), &self.shape)
    }

    /// Its shape.
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// Its number of values.
    pub fn numel(&self) -> usize {
        self.shape.iter().product()
    }

    /// The buffer, for kernels.
    pub fn buffer(&self) -> &wgpu::Buffer {
        &self.buffer
    }
}

/// A buffer holding `values` (f32, or u32 indices: any 4-byte plain values).
pub(super) fn upload_words<T: Copy + ToLeBytes>(gpu: &Gpu, values: &[T]) -> wgpu::Buffer {
    let mut bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le()).collect();
    // wgpu binds no empty buffer
    bytes.resize(bytes.len().max(4), 0);
    gpu.device.create_buffer_init(&wgpu::util::BufferInitDescriptor { label: None, contents: &bytes, usage: USAGE })
}

/// A buffer of `n` zeros (at least one value: wgpu binds no empty buffer).
pub(super) fn zeroed(gpu: &Gpu, n: usize) -> wgpu::Buffer {
    gpu.device.create_buffer(&wgpu::BufferDescriptor {
        label: None,
        size: 4 * n.max(1) as u64,
        usage: USAGE,
        mapped_at_creation: false,
    })
}

/// The first `n` f32 of `buffer`, after every queued kernel has run.
pub(super) fn download_f32(gpu: &Gpu, buffer: &wgpu::Buffer, n: usize) -> Vec<f32> {
    if n == 0 {
        return Vec::new();
    }
    let size = 4 * n as u64;
    let staging = gpu.device.create_buffer(&wgpu::BufferDescriptor {
        label: None,
        size,
        usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    });
    // the kernels that write `buffer` first
    gpu.submit();
    let mut encoder = gpu.device.create_command_encoder(&wgpu::CommandEncoderDescriptor::default());
    encoder.copy_buffer_to_buffer(buffer, 0, &staging, 0, size);
    gpu.queue.submit([encoder.finish()]);
    let (sender, receiver) = std::sync::mpsc::channel();
    staging.map_async(wgpu::MapMode::Read, .., move |r| {
        // the receiver waits below; it cannot be gone
        let _ = sender.send(r);
    });
    gpu.wait();
    receiver.recv().expect("the map callback ran").expect("mapping a staging buffer for reading");
    let view = staging.get_mapped_range(..).expect("the staging buffer is mapped");
    view.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect()
}

/// The little-endian bytes of a 4-byte value (what WGSL's `f32` and `u32` read).
pub(super) trait ToLeBytes {
    /// Its bytes.
    fn to_le(self) -> [u8; 4];
}

impl ToLeBytes for f32 {
    fn to_le(self) -> [u8; 4] {
        self.to_le_bytes()
    }
}

impl ToLeBytes for u32 {
    fn to_le(self) -> [u8; 4] {
        self.to_le_bytes()
    }
}
