//! `--device` of the commands that run a saved model (`eval`, `predict`): where its forward
//! passes run. `train` moves its trainer instead (`training/device.rs`), with the same flag,
//! environment variable and errors.

#[cfg(feature = "gpu")]
use super::print::errln;
use clap::Args;
#[cfg(feature = "gpu")]
use nabla::Error;
use nabla::Result;
use nabla::data::Dataset;
use nabla::gpu::Device;
use nabla::nn::Model;
use nabla::tensor::Tensor;
use nabla::train::Evaluation;

/// The `--device` flag.
#[derive(Args, Clone, Debug, Default)]
pub struct DeviceArgs {
    /// Where the model runs: cpu, gpu, or auto (a GPU when one is found and has kernels for every
    /// layer); NABLA_DEVICE when absent, else cpu. The GPU needs a build with `--features gpu`.
    #[arg(long, value_name = "cpu|gpu|auto")]
    pub device: Option<String>,
}

/// Where a saved model's forward passes run.
pub enum Runner {
    /// On the CPU, through the model itself.
    Cpu,
    /// On a GPU, through a copy of its network there.
    #[cfg(feature = "gpu")]
    Gpu(Box<nabla::gpu::GpuPredictor>),
}

impl Runner {
    /// The runner that `--device` (or NABLA_DEVICE) asks for, for `model`. `refused` names what
    /// the command is asked to do that the GPU cannot do yet (an ensemble, MC dropout): with
    /// `gpu` that, a missing adapter, or a layer without a kernel is an error; with `auto` the
    /// model runs on the CPU, and stderr says why.
    // without the feature there is no GPU to open
    #[cfg_attr(not(feature = "gpu"), allow(unused_variables))]
    pub fn open(args: &DeviceArgs, model: &Model, refused: Option<&str>) -> Result<Runner> {
        let device = Device::from_flag_or_env(args.device.as_deref())?;
        match device {
            Device::Cpu => Ok(Runner::Cpu),
            #[cfg(feature = "gpu")]
            Device::Gpu | Device::Auto => {
                let opened = match refused {
                    Some(what) => Err(Error::config(format!(
                        "--device gpu: {what} runs on the CPU only so far (use --device cpu)"
                    ))),
                    None => nabla::gpu::Gpu::new().and_then(|gpu| nabla::gpu::GpuPredictor::new(gpu, model)),
                };
                match opened {
                    Ok(predictor) => {
                        errln!("running on the GPU {}", predictor.device_name());
                        Ok(Runner::Gpu(Box::new(predictor)))
                    }
                    Err(e) if device == Device::Auto => {
                        errln!("--device auto: running on the CPU: {e}");
                        Ok(Runner::Cpu)
                    }
                    Err(e) => Err(e),
                }
            }
            #[cfg(not(feature = "gpu"))]
            Device::Gpu => Err(nabla::gpu::device::not_built()),
            #[cfg(not(feature = "gpu"))]
            Device::Auto => Ok(Runner::Cpu),
        }
    }

    /// The model's answer for the rows of `x`, as [`Model::predict`].
    pub fn predict(&mut self, model: &mut Model, x: &Tensor) -> Tensor {
        match self {
            Runner::Cpu => model.predict(x),
            #[cfg(feature = "gpu")]
            Runner::Gpu(gpu) => gpu.predict(x),
        }
    }

    /// The loss and accuracy of `model` on `data`, as [`nabla::train::evaluate`] in batches of
    /// `batch` rows on the CPU, and each row's predicted class when the GPU gives them for free.
    pub fn evaluate(
        &mut self,
        model: &mut Model,
        data: &Dataset,
        batch: usize,
    ) -> Result<(Evaluation, Option<Vec<usize>>)> {
        match self {
            Runner::Cpu => Ok((nabla::train::evaluate(model, data, batch), None)),
            #[cfg(feature = "gpu")]
            Runner::Gpu(gpu) => gpu.evaluate(data),
        }
    }
}
