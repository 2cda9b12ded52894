//! Picking the training device: wgpu on a hardware GPU when one is there,
//! else burn Flex on the CPU, saying which and why.

use super::config::DeviceChoice;
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

/// The default wgpu adapter's name and whether it is a software renderer.
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

/// Resolves `choice`: `auto` takes wgpu on a hardware adapter and falls
/// back to the CPU (Flex is faster than a software adapter such as lavapipe).
pub fn pick(choice: DeviceChoice) -> Result<PickedDevice, String> {
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
            None => Err(
                "device = \"wgpu\" but no wgpu adapter was found; install a Vulkan driver or use device = \"cpu\""
                    .into(),
            ),
        },
        DeviceChoice::Auto => match wgpu_adapter() {
            Some((name, false)) => Ok(gpu(name.clone(), vec![format!("training on the GPU: {name}")])),
            Some((name, true)) => Ok(cpu(vec![format!(
                "only a software GPU adapter was found ({name}); training on the CPU (Flex), which is faster"
            )])),
            None => Ok(cpu(vec![
                "no GPU adapter found; training on the CPU (Flex)".into(),
            ])),
        },
    }
}
