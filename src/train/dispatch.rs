//! Counting GPU kernel launches: CubeCL calls a process-wide launch
//! observer for every kernel it issues (cubecl-runtime
//! `logging/observer.rs`), which this installs for the duration of a
//! [`DispatchCount`]. Counts are per kernel name, so a benchmark can say
//! what the launches are, not only how many. Work still queued in burn's
//! fusion stream is flushed (`Device::sync`) at both ends; a device that
//! fails to flush is a [`DeviceFailure`].

use super::error::DeviceFailure;
use burn::prelude::*;
use burn_cubecl::cubecl::logging::{LaunchObservation, LaunchObserver};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

#[derive(Default)]
struct Counts(Mutex<HashMap<&'static str, u64>>);

impl LaunchObserver for Counts {
    fn launched(&self, kernel: &'static str) {
        let mut map = self.0.lock().unwrap_or_else(|e| e.into_inner());
        *map.entry(kernel).or_default() += 1;
    }
}

/// Kernel launches observed while it is alive.
pub struct DispatchCount {
    counts: Arc<Counts>,
    guard: Option<LaunchObservation>,
    device: Device,
}

impl DispatchCount {
    /// Starts counting after the device has drained its queue.
    pub fn start(device: &Device) -> Result<Self, DeviceFailure> {
        flush(device)?;
        let counts = Arc::new(Counts::default());
        let guard = Some(LaunchObservation::new(counts.clone()));
        Ok(Self {
            counts,
            guard,
            device: device.clone(),
        })
    }

    /// Flushes the device and returns the launches counted so far.
    pub fn so_far(&self) -> Result<u64, DeviceFailure> {
        flush(&self.device)?;
        let map = self.counts.0.lock().unwrap_or_else(|e| e.into_inner());
        Ok(map.values().sum())
    }

    /// Flushes the device, stops counting and returns the launches per
    /// kernel name, most frequent first.
    pub fn finish(mut self) -> Result<Vec<(String, u64)>, DeviceFailure> {
        flush(&self.device)?;
        self.guard.take();
        let map = self.counts.0.lock().unwrap_or_else(|e| e.into_inner());
        let mut out: Vec<(String, u64)> = map.iter().map(|(k, v)| (short_name(k), *v)).collect();
        out.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        Ok(out)
    }
}

/// Waits until `device` has run all queued work.
fn flush(device: &Device) -> Result<(), DeviceFailure> {
    device
        .sync()
        .map_err(|e| DeviceFailure::from_text(&format!("{e:?}")))
}

/// A kernel's type name without module paths, cut at 100 characters:
/// `burn_cubecl::kernel::binary::KernelBinop<burn_cubecl::kernel::binary::MulOp>`
/// → `KernelBinop<MulOp>`.
pub fn short_name(full: &str) -> String {
    let mut out = String::new();
    let mut token = String::new();
    let mut chars = full.chars().peekable();
    while let Some(ch) = chars.next() {
        if ch == ':' && chars.peek() == Some(&':') {
            chars.next();
            token.clear(); // a module path segment
        } else if ch.is_alphanumeric() || ch == '_' {
            token.push(ch);
        } else {
            out.push_str(&token);
            token.clear();
            out.push(ch);
        }
    }
    out.push_str(&token);
    if out.chars().count() > 100 {
        out = out.chars().take(99).collect::<String>() + "…";
    }
    out
}

#[cfg(test)]
mod tests {
    use super::short_name;

    #[test]
    fn kernel_names_lose_their_module_paths() {
        assert_eq!(
            short_name(
                "burn_cubecl::kernel::binary::kernel_binop::KernelBinop<burn_cubecl::kernel::binary::MulOp>"
            ),
            "KernelBinop<MulOp>"
        );
        assert_eq!(short_name("a::B<c::D, e::F<g::H>>"), "B<D, F<H>>");
        assert_eq!(short_name(&"x".repeat(150)).chars().count(), 100);
    }
}
