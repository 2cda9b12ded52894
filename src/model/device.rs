//! Where the model runs, in one vocabulary: [`DeviceChoice`] (`auto`, `wgpu`,
//! `cpu`; `gpu` and `flex` are accepted as aliases) is what the CLI flags,
//! the run config, the GUI and the benchmarks name. `cpu` is burn's
//! pure-Rust CPU backend (Flex); `wgpu` is the GPU through wgpu
//! (Vulkan/Metal/DX12; Mesa lavapipe without a GPU); `auto` takes wgpu on a
//! hardware adapter and the CPU otherwise. [`wait_for`] reads a result back,
//! turning a device failure into one [`ModelError::Device`] line.
//!
//! The training device with its notes (why that device) is picked in
//! `train/device.rs`.

use super::error::ModelError;
use burn::prelude::*;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// Which device computes, by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum DeviceChoice {
    /// A hardware GPU through wgpu when there is one, else the CPU.
    #[default]
    Auto,
    /// wgpu on the default adapter (also a software one such as lavapipe);
    /// also written `gpu`.
    #[serde(alias = "gpu")]
    #[value(alias = "gpu")]
    Wgpu,
    /// burn Flex on the CPU; also written `flex`.
    #[serde(alias = "flex")]
    #[value(alias = "flex")]
    Cpu,
}

impl DeviceChoice {
    /// Every choice, in the order menus list them.
    pub const ALL: [DeviceChoice; 3] = [DeviceChoice::Auto, DeviceChoice::Wgpu, DeviceChoice::Cpu];

    /// The name written in run configs and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Auto => "auto",
            Self::Wgpu => "wgpu",
            Self::Cpu => "cpu",
        }
    }

    /// `Auto` resolved by looking at the adapters (wgpu on a hardware
    /// adapter, else the CPU, which Flex runs faster than a software
    /// adapter); `Wgpu` and `Cpu` are returned as they are.
    pub fn resolve(self) -> DeviceChoice {
        match self {
            Self::Auto => match wgpu_adapter() {
                Some((_, false)) => Self::Wgpu,
                _ => Self::Cpu,
            },
            explicit => explicit,
        }
    }

    /// The backend that runs, for reports: `cpu (flex)` or `gpu (wgpu)`.
    pub fn name(self) -> &'static str {
        match self.resolve() {
            Self::Cpu => "cpu (flex)",
            _ => "gpu (wgpu)",
        }
    }

    /// The burn device (`Auto` resolved), with autodiff when `train` is set.
    pub fn device(self, train: bool) -> Device {
        let d = match self.resolve() {
            Self::Cpu => Device::flex(),
            _ => Device::wgpu(DeviceKind::DefaultDevice),
        };
        if train { d.autodiff() } else { d }
    }
}

impl fmt::Display for DeviceChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for DeviceChoice {
    type Err = ModelError;

    /// Parses `auto`, `wgpu` (or `gpu`) and `cpu` (or `flex`).
    fn from_str(s: &str) -> Result<Self, ModelError> {
        match s {
            "auto" => Ok(Self::Auto),
            "wgpu" | "gpu" => Ok(Self::Wgpu),
            "cpu" | "flex" => Ok(Self::Cpu),
            other => Err(ModelError::UnknownDevice {
                name: other.to_string(),
            }),
        }
    }
}

/// The default wgpu adapter's name and whether it is a software renderer;
/// `None` when there is no adapter at all.
pub fn wgpu_adapter() -> Option<(String, bool)> {
    let instance = wgpu::Instance::default();
    let adapter =
        pollster::block_on(instance.request_adapter(&wgpu::RequestAdapterOptions::default()))
            .ok()?;
    let info = adapter.get_info();
    Some((
        format!("{} ({:?})", info.name, info.device_type),
        info.device_type == wgpu::DeviceType::Cpu,
    ))
}

/// Reads one value of `t` back, which waits for the device to finish the
/// work that produced it. A device failure (e.g. out of memory) becomes
/// [`ModelError::Device`] with `during` (what was running, e.g. "while
/// profiling") and one line of the device's words: its line about
/// allocation if it has one, else its first.
pub fn wait_for<const D: usize>(t: Tensor<D>, during: &'static str) -> Result<(), ModelError> {
    let first: Tensor<1> = t.reshape([-1]);
    if first.dims()[0] == 0 {
        return Ok(());
    }
    first
        .narrow(0, 0, 1)
        .try_into_scalar::<f32>()
        .map(|_| ())
        .map_err(|e| {
            let text = format!("{e:?}");
            let line = text
                .lines()
                .rev()
                .find(|l| l.contains("allocate"))
                .or_else(|| text.lines().next())
                .unwrap_or_default();
            ModelError::Device {
                during,
                reason: line.trim().to_string(),
            }
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_aliases_parse_to_one_choice() {
        for (text, choice) in [
            ("auto", DeviceChoice::Auto),
            ("wgpu", DeviceChoice::Wgpu),
            ("gpu", DeviceChoice::Wgpu),
            ("cpu", DeviceChoice::Cpu),
            ("flex", DeviceChoice::Cpu),
        ] {
            assert_eq!(text.parse::<DeviceChoice>().unwrap(), choice);
            let toml: DeviceChoice = toml::from_str::<
                std::collections::BTreeMap<String, DeviceChoice>,
            >(&format!("d = \"{text}\""))
            .unwrap()["d"];
            assert_eq!(toml, choice);
        }
        for c in DeviceChoice::ALL {
            assert_eq!(c.to_string().parse::<DeviceChoice>().unwrap(), c);
        }
        let e = "tpu".parse::<DeviceChoice>().unwrap_err().to_string();
        assert!(e.contains("'tpu'") && e.contains("auto"), "{e}");
    }
}
