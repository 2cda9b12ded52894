//! Head-motion-like signal changes: a slow scanner drift plus random walks
//! and sudden steps of a global level and of linear intensity gradients
//! along x, y and z — what small head movements do to a BOLD run.

use super::random::{Purpose, normal, stream};
use rand::Rng;

/// Diffusion of the random walks per second, so a 4-minute run wanders by
/// about 0.3 % of the baseline.
const WALK_DIFFUSION_PER_S: f64 = 3.75e-8;
/// Largest scanner drift, as a fraction of the baseline per 100 s.
const MAX_SLOPE_PER_100S: f64 = 0.002;
/// Chance per frame of a sudden movement.
const STEP_CHANCE: f64 = 0.01;
/// Typical size of a sudden movement's intensity step.
const STEP_SIZE: f64 = 0.003;

/// A subject's drift: per frame, a global level and the x, y, z gradients
/// (fractions of the baseline; gradients per unit of normalised position).
#[derive(Debug, Clone, PartialEq)]
pub struct Drift {
    /// `[global, x, y, z]` for every frame.
    pub per_frame: Vec<[f32; 4]>,
}

impl Drift {
    /// The drift of subject `index` of the cohort seeded by `seed`.
    pub fn draw(seed: u64, index: usize, frames: usize, tr: f64) -> Drift {
        let mut rng = stream(seed, Purpose::Drift, &[index as u64]);
        let step_sd = (WALK_DIFFUSION_PER_S * tr).sqrt();
        let slope = rng.random_range(-1.0..=1.0) * MAX_SLOPE_PER_100S * tr / 100.0;
        let mut level = [0.0f64; 4];
        let per_frame = (0..frames)
            .map(|t| {
                let moved = rng.random::<f64>() < STEP_CHANCE;
                for (c, value) in level.iter_mut().enumerate() {
                    *value += step_sd * normal(&mut rng);
                    if moved && c > 0 {
                        *value += STEP_SIZE * normal(&mut rng);
                    }
                }
                let trend = slope * t as f64;
                [
                    (level[0] + trend) as f32,
                    level[1] as f32,
                    level[2] as f32,
                    level[3] as f32,
                ]
            })
            .collect();
        Drift { per_frame }
    }

    /// The drift at normalised position `p` (each axis in [-1, 1]) in frame `t`.
    #[inline]
    pub fn at(&self, t: usize, p: [f32; 3]) -> f32 {
        let [g, x, y, z] = self.per_frame[t];
        g + x * p[0] + y * p[1] + z * p[2]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drifts_are_small_seeded_and_subject_specific() {
        let a = Drift::draw(1, 0, 200, 2.0);
        assert_eq!(a, Drift::draw(1, 0, 200, 2.0));
        assert_ne!(a, Drift::draw(1, 1, 200, 2.0));
        assert_eq!(a.per_frame.len(), 200);
        let largest = a
            .per_frame
            .iter()
            .flat_map(|f| f.iter())
            .fold(0.0f32, |m, v| m.max(v.abs()));
        assert!(largest > 0.0 && largest < 0.05, "largest drift {largest}");
    }
}
