//! Choosing where the model runs: burn's pure-Rust CPU backend (Flex) or the
//! GPU through wgpu (Vulkan/Metal/DX12; Mesa lavapipe without a GPU).

use burn::prelude::*;
use serde::{Deserialize, Serialize};

/// A compute backend by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    /// burn Flex on the CPU.
    Cpu,
    /// burn wgpu on the default adapter.
    Gpu,
}

impl Backend {
    /// Parses `cpu` or `gpu`.
    pub fn parse(s: &str) -> Result<Self, String> {
        match s {
            "cpu" | "flex" => Ok(Self::Cpu),
            "gpu" | "wgpu" => Ok(Self::Gpu),
            other => Err(format!("unknown device '{other}'; choose cpu or gpu")),
        }
    }

    /// The name shown in reports.
    pub fn name(self) -> &'static str {
        match self {
            Self::Cpu => "cpu (flex)",
            Self::Gpu => "gpu (wgpu)",
        }
    }

    /// The burn device, with autodiff when `train` is set.
    pub fn device(self, train: bool) -> Device {
        let d = match self {
            Self::Cpu => Device::flex(),
            Self::Gpu => Device::wgpu(DeviceKind::DefaultDevice),
        };
        if train { d.autodiff() } else { d }
    }
}

/// Reads one value of `t` back, which waits for the device to finish the
/// work that produced it; a device failure (e.g. out of memory) becomes one
/// line: the error's line about allocation if it has one, else its first.
pub fn wait_for<const D: usize>(t: Tensor<D>) -> Result<(), String> {
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
            line.trim().to_string()
        })
}
