//! Picking the training device from a [`DeviceChoice`]: wgpu on a hardware
//! GPU when one is there, else burn Flex on the CPU, saying which and why.

use super::error::TrainError;
use crate::model::DeviceChoice;
use crate::model::device::wgpu_adapter;
use burn::prelude::*;

/// The chosen device (with autodiff) and its name.
pub struct PickedDevice {
    /// The autodiff device.
    pub device: Device,
    /// For reports, e.g. `wgpu: NVIDIA H100 (DiscreteGpu)`.
    pub name: String,
    /// Lines worth logging about the choice.
    pub notes: Vec<String>,
}

/// Resolves `choice`: `auto` takes wgpu on a hardware adapter and falls
/// back to the CPU (Flex is faster than a software adapter such as lavapipe);
/// `wgpu` without any adapter is [`TrainError::NoWgpuAdapter`].
pub fn pick(choice: DeviceChoice) -> Result<PickedDevice, TrainError> {
    let cpu = |notes| PickedDevice {
        device: Device::flex().autodiff(),
        name: "cpu (flex)".into(),
        notes,
    };
    let gpu = |name: String, notes| PickedDevice {
        device: Device::wgpu(DeviceKind::DefaultDevice).autodiff(),
        name: format!("wgpu: {name}"),
        notes,
    };
    match choice {
        DeviceChoice::Cpu => Ok(cpu(vec![])),
        DeviceChoice::Wgpu => match wgpu_adapter() {
            Some((name, _)) => Ok(gpu(name, vec![])),
            None => Err(TrainError::NoWgpuAdapter),
        },
        DeviceChoice::Auto => match wgpu_adapter() {
            Some((name, false)) => Ok(gpu(
                name.clone(),
                vec![format!("training on the GPU: {name}")],
            )),
            Some((name, true)) => Ok(cpu(vec![format!(
                "only a software GPU adapter was found ({name}); training on the CPU (Flex), which is faster"
            )])),
            None => Ok(cpu(vec![
                "no GPU adapter found; training on the CPU (Flex)".into(),
            ])),
        },
    }
}
