//! Which device a run asks for: `--device cpu|gpu|auto`, or the environment variable
//! [`ENV`] when the flag is absent (the CLI reads it; the library takes a [`Device`]).

use crate::{Error, Result};

/// The environment variable that chooses the device when `--device` is not given.
pub const ENV: &str = "NABLA_DEVICE";

/// Where a run trains.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Device {
    /// The CPU (the default).
    #[default]
    Cpu,
    /// A GPU; an error if none can be had.
    Gpu,
    /// A GPU if one can be had and the model has GPU kernels for all its layers, else the CPU.
    Auto,
}

impl Device {
    /// Parses `cpu`, `gpu` or `auto`; `what` names where the text came from in the error.
    pub fn parse(name: &str, what: &str) -> Result<Device> {
        match name {
            "cpu" => Ok(Device::Cpu),
            "gpu" => Ok(Device::Gpu),
            "auto" => Ok(Device::Auto),
            _ => Err(Error::config(format!("{what}: unknown device '{name}': expected cpu, gpu or auto"))),
        }
    }

    /// The device asked for by a flag, else by [`ENV`], else the CPU.
    pub fn from_flag_or_env(flag: Option<&str>) -> Result<Device> {
        match (flag, std::env::var(ENV)) {
            (Some(name), _) => Device::parse(name, "--device"),
            (None, Ok(name)) if !name.is_empty() => Device::parse(&name, ENV),
            _ => Ok(Device::Cpu),
        }
    }

    /// Its name, as parsed.
    pub fn name(self) -> &'static str {
        match self {
            Device::Cpu => "cpu",
            Device::Gpu => "gpu",
            Device::Auto => "auto",
        }
    }
}

/// How to get a Vulkan driver, for the errors of a GPU that cannot be had.
pub const DRIVER_HINT: &str = "install your GPU vendor's Vulkan driver, or Mesa's (Debian/Ubuntu: `apt-get install \
     mesa-vulkan-drivers`, which also brings lavapipe, a software driver that runs on the CPU); or train with \
     --device cpu";

/// The error of `--device gpu` in a build without the `gpu` feature.
pub fn not_built() -> Error {
    Error::config(
        "--device gpu: this nabla was built without GPU support: rebuild it with `cargo build --release --features \
         gpu` (or train with --device cpu)",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_three_devices_and_names_a_wrong_one() {
        for d in [Device::Cpu, Device::Gpu, Device::Auto] {
            assert_eq!(Device::parse(d.name(), "--device").unwrap(), d);
        }
        let err = Device::parse("cuda", "--device").unwrap_err().to_string();
        assert_eq!(err, "--device: unknown device 'cuda': expected cpu, gpu or auto");
        assert_eq!(Device::from_flag_or_env(Some("gpu")).unwrap(), Device::Gpu);
    }
}
