//! Parameter initialisation that burn's initialisers do not provide, drawn on
//! the host from a seeded generator (docs/SPEC-model.md): truncated-normal embeddings
//! and Mamba's A_log, D and Δ projection.

use burn::module::Param;
use burn::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// The host-side generator used for the custom initialisations.
pub type InitRng = ChaCha8Rng;

/// A generator from a seed.
pub fn rng(seed: u64) -> InitRng {
    ChaCha8Rng::seed_from_u64(seed)
}

/// Samples N(0, std²) truncated to ±2 in absolute value (rejection), as
/// torch's `trunc_normal_(std=…)` does with its default bounds `a=-2, b=2`:
/// at std 0.02 the bound sits at 100σ, so in practice nothing is cut.
pub fn truncated_normal<const D: usize>(
    rng: &mut InitRng,
    shape: [usize; D],
    std: f64,
    device: &Device,
) -> Param<Tensor<D>> {
    let n: usize = shape.iter().product();
    let values: Vec<f32> = (0..n)
        .map(|_| {
            loop {
                // Box–Muller; rejection keeps |value| ≤ 2 (absolute).
                let u1: f64 = rng.random::<f64>().max(f64::MIN_POSITIVE);
                let u2: f64 = rng.random();
                let z = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
                if (z * std).abs() <= 2.0 {
                    break (z * std) as f32;
                }
            }
        })
        .collect();
    Param::from_data(TensorData::new(values, shape), device)
}

/// `A_log[c, n] = ln(n + 1)` for every channel (so A = -(1..N)).
pub fn a_log(d_inner: usize, d_state: usize, device: &Device) -> Param<Tensor<2>> {
    let values: Vec<f32> = (0..d_inner * d_state)
        .map(|i| (((i % d_state) + 1) as f32).ln())
        .collect();
    Param::from_data(TensorData::new(values, [d_inner, d_state]), device)
}

/// Δ projection bias: inverse softplus of Δ ~ log-uniform [1e-3, 0.1]
/// (floor 1e-4), so that softplus(bias) starts in that range.
pub fn dt_bias(rng: &mut InitRng, d_inner: usize, device: &Device) -> Param<Tensor<1>> {
    let (lo, hi) = (1e-3f64.ln(), 0.1f64.ln());
    let values: Vec<f32> = (0..d_inner)
        .map(|_| {
            let dt = (lo + rng.random::<f64>() * (hi - lo)).exp().max(1e-4);
            // softplus⁻¹(dt) = dt + ln(1 - e^{-dt})
            (dt + (-(-dt).exp_m1()).ln()) as f32
        })
        .collect();
    Param::from_data(TensorData::new(values, [d_inner]), device)
}

/// Δ projection weight `[dt_rank, d_inner]`: uniform ±dt_rank^-½.
pub fn dt_weight(
    rng: &mut InitRng,
    dt_rank: usize,
    d_inner: usize,
    device: &Device,
) -> Param<Tensor<2>> {
    let bound = (dt_rank as f64).powf(-0.5);
    let values: Vec<f32> = (0..dt_rank * d_inner)
        .map(|_| ((rng.random::<f64>() * 2.0 - 1.0) * bound) as f32)
        .collect();
    Param::from_data(TensorData::new(values, [dt_rank, d_inner]), device)
}
