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
