//! `--device`: moving a prepared trainer to the GPU, or saying why not.

use nabla::Result;
use nabla::gpu::Device;
use nabla::train::Trainer;

/// Moves `trainer` to the device that `flag` (or `NABLA_DEVICE`) asks for: `gpu` is an error when
/// no GPU can be had or the run needs what it lacks; `auto` then trains on the CPU, saying why.
// without the feature there is no device to move the trainer to
#[cfg_attr(not(feature = "gpu"), allow(unused_variables))]
pub fn place(trainer: &mut Trainer, flag: Option<&str>) -> Result<()> {
    let device = Device::from_flag_or_env(flag)?;
    match device {
        Device::Cpu => Ok(()),
        #[cfg(feature = "gpu")]
        Device::Gpu | Device::Auto => {
            let moved = nabla::gpu::Gpu::new().and_then(|gpu| trainer.to_gpu(gpu));
            match moved {
                Err(e) if device == Device::Auto => {
                    crate::cli::shared::print::errln!("--device auto: training on the CPU: {e}");
                    Ok(())
                }
                moved => moved,
            }
        }
        #[cfg(not(feature = "gpu"))]
        Device::Gpu => Err(nabla::gpu::device::not_built()),
        #[cfg(not(feature = "gpu"))]
        Device::Auto => Ok(()),
    }
}
