//! Counting GPU kernel launches: CubeCL calls a process-wide launch
//! observer for every kernel it issues (cubecl-runtime
//! `logging/observer.rs`), which this installs for the duration of a
//! [`DispatchCount`]. Counts are per kernel name, so a benchmark can say
//! what the launches are, not only how many. Work still queued in burn's
//! fusion stream is flushed (`Device::sync`) at both ends.

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
    pub fn start(device: &Device) -> Result<Self, String> {
        device
            .sync()
            .map_err(|e| format!("the device failed ({e:?})"))?;
        let counts = Arc::new(Counts::default());
        let guard = Some(LaunchObservation::new(counts.clone()));
        Ok(Self {
            counts,
            guard,
            device: device.clone(),
        })
    }

    /// Flushes the device, stops counting and returns the launches per
    /// kernel name, most frequent first.
    pub fn finish(mut self) -> Result<Vec<(String, u64)>, String> {
        self.device
            .sync()
            .map_err(|e| format!("the device failed ({e:?})"))?;
        self.guard.take();
        let map = self.counts.0.lock().unwrap_or_else(|e| e.into_inner());
        let mut out: Vec<(String, u64)> = map.iter().map(|(k, v)| (k.to_string(), *v)).collect();
        out.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        Ok(out)
    }
}
