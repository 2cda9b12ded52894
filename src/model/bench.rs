//! Throughput measurements behind `roimae bench`: the selective scan at a
//! given shape (tokens/s, forward and forward+backward) and the full MAE
//! training step (clips/s). Results are read back to the host each
//! iteration so that asynchronous GPU work is inside the timing.

use super::{
    BatchMask, DeviceChoice, ModelConfig, ModelError, ScanImpl, ScanInput, selective_scan,
};
use burn::prelude::*;
use burn::tensor::Distribution;
use serde::Serialize;
use std::time::Instant;

/// The shape of one scan benchmark; the default is the reference stage 0
/// for one clip: 320 windows × 256 tokens × d_inner 72 × d_state 16.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct ScanShape {
    /// Independent sequences (windows × batch).
    pub windows: usize,
    /// Sequence length.
    pub len: usize,
    /// Channels.
    pub d_inner: usize,
    /// States per channel.
    pub d_state: usize,
}

impl Default for ScanShape {
    fn default() -> Self {
        Self {
            windows: 320,
            len: 256,
            d_inner: 72,
            d_state: 16,
        }
    }
}

/// One measured throughput.
#[derive(Debug, Clone, Serialize)]
pub struct Measurement {
    /// What ran (e.g. "scan chunked forward").
    pub what: String,
    /// Device name.
    pub device: String,
    /// Timed iterations (after one untimed warm-up).
    pub iters: usize,
    /// Mean seconds per iteration.
    pub seconds_per_iter: f64,
    /// Items per second (tokens for the scan, clips for the MAE).
    pub per_second: f64,
    /// The unit of `per_second`.
    pub unit: &'static str,
}

/// Waits for the device ([`super::device::wait_for`]).
fn sync(t: Tensor<1>) -> Result<(), ModelError> {
    super::device::wait_for(t, "during the benchmark")
}

fn time_iters(
    iters: usize,
    mut f: impl FnMut() -> Result<(), ModelError>,
) -> Result<f64, ModelError> {
    f()?; // warm-up: kernel compilation, autotune, allocation
    let start = Instant::now();
    for _ in 0..iters {
        f()?;
    }
    Ok(start.elapsed().as_secs_f64() / iters.max(1) as f64)
}

fn scan_input(shape: ScanShape, device: &Device) -> ScanInput {
    let ScanShape {
        windows: w,
        len: l,
        d_inner: di,
        d_state: n,
    } = shape;
    ScanInput {
        u: Tensor::random([w, l, di], Distribution::Normal(0.0, 1.0), device),
        delta: Tensor::random([w, l, di], Distribution::Uniform(0.001, 0.1), device),
        a: Tensor::random([di, n], Distribution::Uniform(-16.0, -1.0), device),
        b: Tensor::random([w, l, n], Distribution::Normal(0.0, 1.0), device),
        c: Tensor::random([w, l, n], Distribution::Normal(0.0, 1.0), device),
        d: Tensor::ones([di], device),
    }
}

/// Times one scan implementation, forward only or forward + backward.
pub fn bench_scan(
    which: ScanImpl,
    backend: DeviceChoice,
    shape: ScanShape,
    backward: bool,
    iters: usize,
) -> Result<Measurement, ModelError> {
    let device = backend.device(backward);
    let base = scan_input(shape, &device);
    let secs = time_iters(iters, || {
        let input = if backward {
            ScanInput {
                u: base.u.clone().require_grad(),
                delta: base.delta.clone().require_grad(),
                a: base.a.clone().require_grad(),
                b: base.b.clone().require_grad(),
                c: base.c.clone().require_grad(),
                d: base.d.clone().require_grad(),
            }
        } else {
            base.clone()
        };
        let y = selective_scan(input.clone(), which);
        if backward {
            let grads = y.sum().backward();
            let g = input.delta.grad(&grads).expect("gradient of delta");
            sync(g.sum())
        } else {
            sync(y.sum())
        }
    })?;
    let tokens = (shape.windows * shape.len) as f64;
    Ok(Measurement {
        what: format!(
            "scan {} {}",
            which.resolve(&device).name(),
            if backward {
                "forward+backward"
            } else {
                "forward"
            }
        ),
        device: backend.name().into(),
        iters,
        seconds_per_iter: secs,
        per_second: tokens / secs,
        unit: "tokens/s",
    })
}

/// Times full MAE training steps (forward + backward, no optimiser) on
/// random clips with half of the 4⁴ windows masked.
pub fn bench_mae(
    cfg: &ModelConfig,
    backend: DeviceChoice,
    batch: usize,
    scan: ScanImpl,
    iters: usize,
) -> Result<Measurement, ModelError> {
    let device = backend.device(true);
    let model = cfg.init(0, &device)?;
    let s = cfg.input;
    let x = Tensor::<6>::random(
        [batch, 1, s, s, s, cfg.frames],
        Distribution::Normal(0.0, 1.0),
        &device,
    );
    let mask = checkerboard_mask(cfg, batch, &device);
    let secs = time_iters(iters, || {
        let out = model.forward(x.clone(), &mask, scan);
        let grads = out.loss.backward();
        let g = model
            .decoder
            .pred
            .weight
            .val()
            .grad(&grads)
            .expect("gradient");
        sync(g.sum())
    })?;
    Ok(Measurement {
        what: format!(
            "MAE {} forward+backward, batch {batch}, scan {}",
            cfg.name,
            scan.resolve(&device).name()
        ),
        device: backend.name().into(),
        iters,
        seconds_per_iter: secs,
        per_second: batch as f64 / secs,
        unit: "clips/s",
    })
}

/// Half of the masking windows masked, in a checkerboard that shifts by one
/// window per clip: the fixed mask of the training benchmarks.
pub fn checkerboard_mask(cfg: &ModelConfig, batch: usize, device: &Device) -> BatchMask {
    let g = cfg.tokens_per_axis();
    let w = cfg.mask_window();
    let n = g * g * g * cfg.frames;
    let mask: Vec<f32> = (0..batch * n)
        .map(|i| {
            let (bi, tok) = (i / n, i % n);
            let (x, y, z, t) = (
                tok / (g * g * cfg.frames),
                (tok / (g * cfg.frames)) % g,
                (tok / cfg.frames) % g,
                tok % cfg.frames,
            );
            ((x / w[0] + y / w[1] + z / w[2] + t / w[3] + bi) % 2) as f32
        })
        .collect();
    BatchMask {
        tokens: Tensor::from_data(TensorData::new(mask, [batch, n]), device),
        voxels: None,
        token: Default::default(),
    }
}
