//! `roimae bench train`: the real training step of `roimae pretrain`
//! (masked forward, loss read back, backward, AdamW) on random clips with a
//! fixed checkerboard window mask — one warm-up step, then the median of N —
//! with the time of each phase, the process's peak memory and, with
//! `profile`, a per-op breakdown of one step. Failures are [`TrainError`]s
//! naming the step or phase that failed.

use super::config::OptimConfig;
use super::device;
use super::dispatch::DispatchCount;
use super::error::TrainError;
use super::step::{Phase, PhaseTimes, timed_step};
use super::trainer::optimiser;
use crate::model::DeviceChoice;
use crate::model::bench::checkerboard_mask;
use crate::model::profile::{OpTiming, profile_step};
use crate::model::{ModelConfig, ScanImpl};
use burn::module::Module;
use burn::prelude::*;
use burn::tensor::Distribution;
use serde::Serialize;

/// Kernel launches per step in each phase.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct DispatchesByPhase {
    /// Masked forward and loss.
    pub forward: u64,
    /// `loss.backward()`.
    pub backward: u64,
    /// Gradient collection and AdamW.
    pub optimizer: u64,
}

/// What `bench train` measures.
#[derive(Debug, Clone)]
pub struct TrainBenchSpec {
    /// The model.
    pub model: ModelConfig,
    /// Where it runs.
    pub device: DeviceChoice,
    /// Clips per step.
    pub batch: usize,
    /// Timed steps (after one warm-up).
    pub steps: usize,
    /// Also replay every op alone for a per-op breakdown.
    pub profile: bool,
}

/// The result, one JSON object.
#[derive(Debug, Clone, Serialize)]
pub struct TrainBench {
    /// Model preset name.
    pub preset: String,
    /// The device that ran, e.g. `cpu (flex)` or `wgpu: NVIDIA H200 (DiscreteGpu)`.
    pub device: String,
    /// Clips per step.
    pub batch: usize,
    /// Timed steps.
    pub steps: usize,
    /// The scan implementation that ran.
    pub scan: String,
    /// Trainable parameters.
    pub params: usize,
    /// Median seconds per step.
    pub step_s_median: f64,
    /// Fastest step.
    pub step_s_min: f64,
    /// `batch / step_s_median`.
    pub clips_per_s: f64,
    /// Median forward (+ loss read back) seconds.
    pub forward_s: f64,
    /// Median backward seconds.
    pub backward_s: f64,
    /// Median optimiser seconds.
    pub optimizer_s: f64,
    /// Peak resident memory of the process so far (Linux `VmHWM`), MiB.
    pub peak_rss_mb: Option<f64>,
    /// GPU kernel launches per step, where the backend can count them.
    pub dispatches_per_step: Option<u64>,
    /// `dispatches_per_step` split by phase.
    pub dispatches_by_phase: Option<DispatchesByPhase>,
    /// Why `dispatches_per_step` is missing, when it is.
    pub dispatches_note: Option<String>,
    /// The most launched kernels and their launches per step.
    pub top_kernels: Vec<(String, u64)>,
    /// The loss of the last step (a sanity check: finite, near 1 on noise).
    pub last_loss: f64,
    /// The per-op breakdown (`--profile`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profile: Option<Vec<OpTiming>>,
}

/// A device failure while kernel launches were counted.
fn counting_failed(failure: super::error::DeviceFailure) -> TrainError {
    TrainError::Device {
        during: "counting kernel launches".into(),
        failure,
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n == 0 {
        return f64::NAN;
    }
    if n % 2 == 1 {
        v[n / 2]
    } else {
        0.5 * (v[n / 2 - 1] + v[n / 2])
    }
}

/// Peak resident set size of this process in MiB (Linux only).
pub fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// Runs the benchmark. Errors (no such device, out of memory) are one line.
pub fn bench_train(spec: &TrainBenchSpec) -> Result<TrainBench, TrainError> {
    spec.model.validate()?;
    let batch = spec.batch.max(1);
    let picked = device::pick(spec.device)?;
    let dev = picked.device.clone();
    let cfg = &spec.model;
    let mut model = cfg.init(0, &dev)?;
    let mut optim = optimiser(&OptimConfig::default());
    let s = cfg.input;
    let x = Tensor::<6>::random(
        [batch, 1, s, s, s, cfg.frames],
        Distribution::Normal(0.0, 1.0),
        &dev,
    );
    let mask = checkerboard_mask(cfg, batch, &dev);
    let counting = !crate::model::scan::kernel::is_host(&dev);
    let mut times: Vec<PhaseTimes> = Vec::new();
    let mut last_loss = f64::NAN;
    let mut counter: Option<DispatchCount> = None;
    // Launches per phase over the timed steps; `last` is the running total
    // at the end of the previous phase.
    let mut by_phase = [0u64; 3];
    let mut last = 0u64;
    let mut count_error = None;
    for i in 0..=spec.steps.max(1) {
        if i == 1 && counting {
            // After the warm-up step: autotune launches many extra kernels
            // the first time it sees a shape.
            counter = Some(DispatchCount::start(&dev).map_err(counting_failed)?);
        }
        let mut observe = |phase: Phase| {
            let Some(c) = counter.as_ref() else { return };
            match c.so_far() {
                Ok(now) => {
                    by_phase[phase as usize] += now - last;
                    last = now;
                }
                Err(e) => count_error = Some(e),
            }
        };
        let (next, loss, t) = timed_step(model, &mut optim, x.clone(), &mask, 1e-4, &mut observe)
            .map_err(|failure| TrainError::Device {
            during: format!("training step {}", i + 1),
            failure,
        })?;
        model = next;
        last_loss = loss;
        if i > 0 {
            times.push(t);
        }
    }
    if let Some(failure) = count_error {
        return Err(counting_failed(failure));
    }
    let timed = times.len();
    let dispatches_by_phase = counter.as_ref().map(|_| {
        let per = |n: u64| n / timed as u64;
        DispatchesByPhase {
            forward: per(by_phase[0]),
            backward: per(by_phase[1]),
            optimizer: per(by_phase[2]),
        }
    });
    let (dispatches_per_step, dispatches_note, top_kernels) = match counter {
        Some(c) => {
            let kernels = c.finish().map_err(counting_failed)?;
            let total: u64 = kernels.iter().map(|k| k.1).sum();
            let per = |n: u64| n / timed as u64;
            let top = kernels
                .iter()
                .take(12)
                .map(|(k, n)| (k.clone(), per(*n)))
                .collect();
            (Some(per(total)), None, top)
        }
        None => (
            None,
            Some("Flex runs on the host: no GPU kernel dispatches to count".into()),
            Vec::new(),
        ),
    };
    let step = median(times.iter().map(PhaseTimes::total).collect());
    let profile = if spec.profile {
        Some(profile_step(cfg, &dev, batch, 1)?)
    } else {
        None
    };
    Ok(TrainBench {
        preset: cfg.name.clone(),
        device: picked.name,
        batch,
        steps: timed,
        scan: ScanImpl::Auto.resolve(&dev).name().into(),
        params: model.num_params(),
        step_s_median: step,
        step_s_min: times
            .iter()
            .map(PhaseTimes::total)
            .fold(f64::INFINITY, f64::min),
        clips_per_s: batch as f64 / step,
        forward_s: median(times.iter().map(|t| t.forward_s).collect()),
        backward_s: median(times.iter().map(|t| t.backward_s).collect()),
        optimizer_s: median(times.iter().map(|t| t.optimizer_s).collect()),
        peak_rss_mb: peak_rss_mb(),
        dispatches_per_step,
        dispatches_by_phase,
        dispatches_note,
        top_kernels,
        last_loss,
        profile,
    })
}
