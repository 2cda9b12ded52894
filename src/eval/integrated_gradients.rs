//! Integrated gradients (Sundararajan et al. 2017) of the downstream
//! classifier — the frozen pretrained encoder with the linear head on the
//! mean token — with respect to the input clip, and SmoothGrad² (the mean
//! of squared IG over noisy copies of the input). The baseline is the
//! background value (the clip's minimum, what padding and masking use).
//!
//! IG satisfies completeness: the attributions of a clip sum to
//! `f(x) - f(baseline)` up to the Riemann error of `steps` midpoints; the
//! tests check exactly that on a real (randomly initialised) encoder.
//! Aggregation by region is `ig_regions.rs`; a run folder's IG is
//! `ig_run.rs`.

use super::EvalError;
use super::features::{ClipShape, mean_token};
use super::progress::Counter;
use crate::data::synth::normal;
use crate::model::ScanImpl;
use crate::model::encoder::Encoder;
use burn::prelude::*;
use rand_chacha::ChaCha8Rng;

/// What is explained: the logit `direction · mean_token(encoder(x))` of
/// clips of `shape`, computed on an autodiff `device`.
pub struct Explained<'a> {
    /// The encoder (on `device`).
    pub encoder: &'a Encoder,
    /// The head's gradient path `[C]` (weights over feature scale).
    pub direction: &'a [f32],
    /// The input's shape.
    pub shape: ClipShape,
    /// An autodiff device.
    pub device: &'a Device,
}

impl Explained<'_> {
    /// The classifier logit of a batch `[B, 1]`.
    fn logits(&self, x: Tensor<6>, direction: &Tensor<2>) -> Tensor<2> {
        mean_token(self.encoder.forward(x, ScanImpl::Auto)).matmul(direction.clone())
    }

    /// `values` of `batch` clips as an input tensor.
    fn input(&self, values: Vec<f32>, batch: usize) -> Tensor<6> {
        let ClipShape { input: n, frames } = self.shape;
        Tensor::<6>::from_data(
            TensorData::new(values, [batch, 1, n, n, n, frames]),
            self.device,
        )
    }
}

/// IG of one clip (`[n, n, n, T]` values, t fastest) from `baseline` over
/// `steps` midpoints. Returns the attributions and `f(x) - f(baseline)`.
pub fn integrated_gradients(
    explained: &Explained,
    clip: &[f32],
    baseline: f32,
    steps: usize,
) -> Result<(Vec<f32>, f64), EvalError> {
    let steps = steps.max(1);
    let c = explained.direction.len();
    let dir = Tensor::<2>::from_data(
        TensorData::new(explained.direction.to_vec(), [c, 1]),
        explained.device,
    );
    let mut values = Vec::with_capacity(steps * clip.len());
    for k in 0..steps {
        let a = (k as f32 + 0.5) / steps as f32;
        values.extend(clip.iter().map(|&v| baseline + a * (v - baseline)));
    }
    let xs = explained.input(values, steps).require_grad();
    let out = explained.logits(xs.clone(), &dir).sum();
    let grads = out.backward();
    let g = xs
        .grad(&grads)
        .ok_or(EvalError::NoInputGradient)?
        .sum_dim(0)
        .try_into_vec_as::<f32>()
        .map_err(EvalError::device)?;
    let attributions: Vec<f32> = clip
        .iter()
        .zip(&g)
        .map(|(&v, &gi)| (v - baseline) * gi / steps as f32)
        .collect();
    // f(x) - f(baseline), on the same device without tracking.
    let ends: Vec<f32> = clip
        .iter()
        .copied()
        .chain(std::iter::repeat_n(baseline, clip.len()))
        .collect();
    let f = explained
        .logits(explained.input(ends, 2), &dir)
        .try_into_vec_as::<f32>()
        .map_err(EvalError::device)?;
    Ok((attributions, (f[0] - f[1]) as f64))
}

/// SmoothGrad² of one clip: IG of `samples` copies with Gaussian noise of
/// SD `sd` added. Returns the mean squared IG (what is ranked) and the mean
/// IG (the signed map). `counter`, when given, is ticked after each sample
/// and checked for cancellation before it.
pub fn smooth_grad_squared(
    explained: &Explained,
    clip: &[f32],
    baseline: f32,
    steps: usize,
    noise: Noise<'_>,
    counter: Option<&Counter>,
) -> Result<(Vec<f32>, Vec<f32>), EvalError> {
    let samples = noise.samples;
    let mut acc = vec![0.0f32; clip.len()];
    let mut mean = vec![0.0f32; clip.len()];
    for _ in 0..samples {
        if let Some(c) = counter {
            c.check()?;
        }
        let noisy: Vec<f32> = clip
            .iter()
            .map(|&v| v + (noise.sd * normal(noise.rng)) as f32)
            .collect();
        let (a, _) = integrated_gradients(explained, &noisy, baseline, steps)?;
        if let Some(c) = counter {
            c.tick();
        }
        for ((s, m), x) in acc.iter_mut().zip(mean.iter_mut()).zip(a) {
            *s += x * x / samples as f32;
            *m += x / samples as f32;
        }
    }
    Ok((acc, mean))
}

/// The noise of SmoothGrad².
pub struct Noise<'a> {
    /// Noisy copies per clip.
    pub samples: usize,
    /// The noise SD, in the clip's units.
    pub sd: f64,
    /// The seeded source of the noise.
    pub rng: &'a mut ChaCha8Rng,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ModelConfig;
    use rand::SeedableRng;

    #[test]
    fn attributions_sum_to_the_logit_difference() {
        // Completeness on a real (random-weight) tiny encoder.
        let device = Device::flex().autodiff();
        let cfg = ModelConfig::tiny();
        let mae = cfg.init(3, &device).unwrap();
        let n = cfg.input;
        let frames = cfg.frames;
        let dim = *cfg.encoder_stages().last().map(|s| &s.dim).unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        use rand::Rng;
        let direction: Vec<f32> = (0..dim).map(|_| rng.random_range(-1.0..1.0)).collect();
        let clip: Vec<f32> = (0..n * n * n * frames)
            .map(|i| ((i % 97) as f32 / 97.0).sin() + 0.3 * rng.random_range(-1.0..1.0f32))
            .collect();
        let baseline = clip.iter().copied().fold(f32::INFINITY, f32::min);
        let explained = Explained {
            encoder: &mae.encoder,
            direction: &direction,
            shape: ClipShape { input: n, frames },
            device: &device,
        };
        let (attr, delta) = integrated_gradients(&explained, &clip, baseline, 32).unwrap();
        let total: f64 = attr.iter().map(|&a| a as f64).sum();
        assert!(delta.abs() > 1e-4, "the path changes the logit: {delta}");
        assert!(
            (total - delta).abs() <= 0.05 * delta.abs(),
            "Σ attributions {total} vs f(x) - f(baseline) {delta}"
        );
        // At the baseline itself every attribution is zero.
        let flat = vec![baseline; clip.len()];
        let (zero, d0) = integrated_gradients(&explained, &flat, baseline, 4).unwrap();
        assert!(zero.iter().all(|&a| a == 0.0) && d0.abs() < 1e-6);
    }
}
