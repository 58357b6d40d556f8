//! The GPU of a run: the adapter wgpu found, its logical device and queue, and the compiled
//! kernels; and the one way every kernel is launched ([`Gpu::launch`]).

use super::device::DRIVER_HINT;
use super::kernels::Kernels;
use crate::{Error, Result};
use std::sync::Mutex;
use wgpu::util::DeviceExt;

/// An open GPU: where kernels run and buffers live.
pub struct Gpu {
    pub(super) device: wgpu::Device,
    pub(super) queue: wgpu::Queue,
    info: wgpu::AdapterInfo,
    pub(super) limits: wgpu::Limits,
    pub(super) kernels: Kernels,
    /// The launches recorded since the last submit ([`Gpu::submit`]): a training step's kernels
    /// go to the driver in one command buffer, not one each.
    pending: Mutex<Option<wgpu::CommandEncoder>>,
}

/// Threads per workgroup of the one-dimensional kernels (`@workgroup_size(256)` in the shaders).
pub(super) const GROUP: u32 = 256;

/// The most workgroups in one dimension of a dispatch (WebGPU's limit, which every backend has).
const MAX_GROUPS: u32 = 65_535;

impl Gpu {
    /// Opens the best adapter wgpu finds (a discrete GPU before an integrated one, a virtual one,
    /// then a software driver such as lavapipe). An error lists the adapters found, if any, and
    /// how to install a Vulkan driver.
    pub fn new() -> Result<Gpu> {
        let instance = wgpu::Instance::default();
        let adapters = pollster::block_on(instance.enumerate_adapters(wgpu::Backends::all()));
        let rank = |a: &wgpu::Adapter| match a.get_info().device_type {
            wgpu::DeviceType::DiscreteGpu => 0,
            wgpu::DeviceType::IntegratedGpu => 1,
            wgpu::DeviceType::VirtualGpu => 2,
            wgpu::DeviceType::Cpu => 3,
            wgpu::DeviceType::Other => 4,
        };
        let found: Vec<String> = adapters.iter().map(|a| describe(&a.get_info())).collect();
        let Some(adapter) = adapters.into_iter().min_by_key(rank) else {
            return Err(Error::config(format!(
                "--device gpu: wgpu found no GPU adapter (through Vulkan, Metal or DX12): {DRIVER_HINT}"
            )));
        };
        let info = adapter.get_info();
        // the adapter's own maxima: a data set of MNIST's size (188 MB of f32) is over WebGPU's
        // default 128 MiB binding
        let limits = adapter.limits();
        let descriptor =
            wgpu::DeviceDescriptor { label: Some("nabla"), required_limits: limits.clone(), ..Default::default() };
        let (device, queue) = pollster::block_on(adapter.request_device(&descriptor)).map_err(|e| {
            Error::config(format!(
                "--device gpu: could not open {} ({e}); adapters found: {}; {DRIVER_HINT}",
                describe(&info),
                found.join(", ")
            ))
        })?;
        let kernels = Kernels::compile(&device);
        Ok(Gpu { device, queue, info, limits, kernels, pending: Mutex::new(None) })
    }

    /// The adapter in words: its name, driver and backend (`llvmpipe (LLVM 19.1.7, 256 bits),
    /// Vulkan, a software driver`).
    pub fn name(&self) -> String {
        describe(&self.info)
    }

    /// Whether the adapter is a software driver running on the CPU (lavapipe, WARP).
    pub fn is_software(&self) -> bool {
        self.info.device_type == wgpu::DeviceType::Cpu
    }

    /// Launches `pipeline` over `groups` workgroups with `params` (the kernel's uniform `Params`,
    /// as 32-bit words: f32 values by their bits) at binding 0 and `buffers` at bindings 1, 2, …
    /// The launch is recorded after the ones before it and sent to the device by the next
    /// [`Gpu::submit`] (or a download, or [`Gpu::wait`]). Writing a buffer through the queue must
    /// go through [`Gpu::write`], which submits first: the queue runs its writes before the
    /// command buffers of the next submit.
    pub(super) fn launch(
        &self,
        pipeline: &wgpu::ComputePipeline,
        params: &[u32],
        buffers: &[&wgpu::Buffer],
        groups: [u32; 3],
    ) {
        if groups.contains(&0) {
            return; // an empty output: nothing to compute, and wgpu refuses nothing
        }
        // uniform buffers are read in 16-byte rows
        let mut words = params.to_vec();
        words.resize(params.len().div_ceil(4).max(1) * 4, 0);
        let uniform = self.device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
            label: None,
            contents: &words.iter().flat_map(|w| w.to_le_bytes()).collect::<Vec<u8>>(),
            usage: wgpu::BufferUsages::UNIFORM,
        });
        let mut entries = vec![wgpu::BindGroupEntry { binding: 0, resource: uniform.as_entire_binding() }];
        entries.extend(
            buffers
                .iter()
                .enumerate()
                .map(|(i, b)| wgpu::BindGroupEntry { binding: i as u32 + 1, resource: b.as_entire_binding() }),
        );
        let bind_group = self.device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: None,
            layout: &pipeline.get_bind_group_layout(0),
            entries: &entries,
        });
        let mut pending = self.pending.lock().expect("no launch panicked while recording");
        let encoder = pending.get_or_insert_with(|| self.device.create_command_encoder(&Default::default()));
        let mut pass = encoder.begin_compute_pass(&wgpu::ComputePassDescriptor::default());
        pass.set_pipeline(pipeline);
        pass.set_bind_group(0, &bind_group, &[]);
        pass.dispatch_workgroups(groups[0], groups[1], groups[2]);
    }

    /// Sends the launches recorded so far to the device (they run in order, after every launch
    /// submitted before them).
    pub fn submit(&self) {
        let encoder = self.pending.lock().expect("no launch panicked while recording").take();
        if let Some(encoder) = encoder {
            self.queue.submit([encoder.finish()]);
        }
    }

    /// `bytes` into `buffer` from byte `offset`, after every launch recorded so far.
    pub(super) fn write(&self, buffer: &wgpu::Buffer, offset: u64, bytes: &[u8]) {
        self.submit();
        self.queue.write_buffer(buffer, offset, bytes);
    }

    /// Waits until every launch has run.
    pub fn wait(&self) {
        self.submit();
        self.device
            .poll(wgpu::PollType::Wait { submission_index: None, timeout: None })
            .expect("the GPU device was lost");
    }
}

/// The workgroups of a one-dimensional kernel over `n` items, [`GROUP`] threads each: spread over
/// a second dimension past [`MAX_GROUPS`] (the shaders number a thread
/// `(group.y · groups.x + group.x) · GROUP + local`).
pub(super) fn groups_for(n: usize) -> [u32; 3] {
    let groups = n.div_ceil(GROUP as usize);
    let x = groups.min(MAX_GROUPS as usize);
    let y = groups.div_ceil(x.max(1));
    [x as u32, y as u32, 1]
}

/// An adapter in words, for messages.
fn describe(info: &wgpu::AdapterInfo) -> String {
    let kind = match info.device_type {
        wgpu::DeviceType::Cpu => ", a software driver",
        _ => "",
    };
    let driver = if info.driver_info.is_empty() { String::new() } else { format!(" ({})", info.driver_info) };
    format!("{}{driver}, {}{kind}", info.name, info.backend)
}
