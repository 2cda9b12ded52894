//! Reproducible randomness: every draw of the generator comes from its own
//! ChaCha stream, named by the cohort seed and a path (purpose, subject,
//! frame, ...), so results never depend on the order or the thread in which
//! things are generated. Also the normal samplers the signal model needs.

use rand::{Rng, RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// What a stream is used for; part of every stream's name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u64)]
pub enum Purpose {
    /// Cohort-wide region loadings and amplitudes.
    Loadings = 1,
    /// Scanner properties of a site.
    Site = 2,
    /// A subject's neural time courses.
    Neural = 3,
    /// A subject's head-motion-like drifts.
    Drift = 4,
    /// A subject's thermal noise (one stream per frame).
    Noise = 5,
}

/// The stream named by `seed`, `purpose` and `path`.
pub fn stream(seed: u64, purpose: Purpose, path: &[u64]) -> ChaCha8Rng {
    let mut state = splitmix(seed ^ 0x5EED_0FC0_4087);
    state = splitmix(state ^ purpose as u64);
    for &part in path {
        state = splitmix(state ^ part);
    }
    ChaCha8Rng::seed_from_u64(state)
}

/// One step of SplitMix64: a good 64-bit mixer.
fn splitmix(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A standard normal draw (Box–Muller).
pub fn normal(rng: &mut impl Rng) -> f64 {
    // 1 - U lies in (0, 1], so the logarithm is finite.
    let u1: f64 = 1.0 - rng.random::<f64>();
    let u2: f64 = rng.random::<f64>();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

/// A cheap, nearly normal draw with mean 0 and variance 1: the centred sum
/// of four 16-bit uniforms from one 64-bit word (Irwin–Hall). Used for the
/// millions of thermal-noise values, which are smoothed afterwards anyway.
#[inline]
pub fn fast_normal(rng: &mut impl RngCore) -> f32 {
    const SCALE: f32 = 1.732_050_8 / 65536.0; // sqrt(3) / 2^16
    let w = rng.next_u64();
    let sum = (w & 0xFFFF) + ((w >> 16) & 0xFFFF) + ((w >> 32) & 0xFFFF) + (w >> 48);
    (sum as f32 - 2.0 * 65535.0) * SCALE
}

#[cfg(test)]
mod tests {
    use super::*;

    fn moments(xs: &[f64]) -> (f64, f64) {
        let n = xs.len() as f64;
        let mean = xs.iter().sum::<f64>() / n;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n;
        (mean, var)
    }

    #[test]
    fn streams_are_reproducible_and_distinct() {
        let a = stream(7, Purpose::Neural, &[3]).next_u64();
        assert_eq!(a, stream(7, Purpose::Neural, &[3]).next_u64());
        assert_ne!(a, stream(7, Purpose::Neural, &[4]).next_u64());
        assert_ne!(a, stream(8, Purpose::Neural, &[3]).next_u64());
        assert_ne!(a, stream(7, Purpose::Drift, &[3]).next_u64());
    }

    #[test]
    fn both_samplers_have_unit_variance() {
        let mut rng = stream(1, Purpose::Noise, &[]);
        let exact: Vec<f64> = (0..200_000).map(|_| normal(&mut rng)).collect();
        let fast: Vec<f64> = (0..200_000).map(|_| fast_normal(&mut rng) as f64).collect();
        for (mean, var) in [moments(&exact), moments(&fast)] {
            assert!(mean.abs() < 0.01, "mean {mean}");
            assert!((var - 1.0).abs() < 0.02, "variance {var}");
        }
    }
}
