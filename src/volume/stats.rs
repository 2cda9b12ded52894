//! Summary statistics of voxel values, robust to NaN/Inf: non-finite voxels
//! are counted and left out, never propagated into the numbers.

use serde::Serialize;

/// min / max / mean / population std of the finite values, in f64.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Stats {
    /// Smallest finite value (NaN when there is none).
    pub min: f64,
    /// Largest finite value (NaN when there is none).
    pub max: f64,
    /// Mean of the finite values.
    pub mean: f64,
    /// Population standard deviation (ddof = 0, as numpy) of the finite values.
    pub std: f64,
    /// Number of finite values used.
    pub count: usize,
    /// Number of NaN or infinite values left out.
    pub nonfinite: usize,
}

impl Stats {
    /// Statistics of `values` (two passes in f64 for an accurate std).
    pub fn of(values: &[f32]) -> Stats {
        let mut min = f64::INFINITY;
        let mut max = f64::NEG_INFINITY;
        let mut sum = 0.0f64;
        let mut count = 0usize;
        for &v in values.iter().filter(|v| v.is_finite()) {
            let v = v as f64;
            min = min.min(v);
            max = max.max(v);
            sum += v;
            count += 1;
        }
        let nonfinite = values.len() - count;
        if count == 0 {
            return Stats {
                min: f64::NAN,
                max: f64::NAN,
                mean: f64::NAN,
                std: f64::NAN,
                count,
                nonfinite,
            };
        }
        let mean = sum / count as f64;
        let sq: f64 = values
            .iter()
            .filter(|v| v.is_finite())
            .map(|&v| (v as f64 - mean).powi(2))
            .sum();
        Stats {
            min,
            max,
            mean,
            std: (sq / count as f64).sqrt(),
            count,
            nonfinite,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_hand_computed_values() {
        let s = Stats::of(&[1.0, 2.0, 3.0, 4.0]);
        assert_eq!((s.min, s.max, s.mean), (1.0, 4.0, 2.5));
        assert!((s.std - 1.25f64.sqrt()).abs() < 1e-12);
        assert_eq!((s.count, s.nonfinite), (4, 0));
    }

    #[test]
    fn nan_and_inf_are_counted_not_used() {
        let s = Stats::of(&[f32::NAN, 1.0, f32::INFINITY, 3.0, f32::NEG_INFINITY]);
        assert_eq!((s.min, s.max, s.mean, s.std), (1.0, 3.0, 2.0, 1.0));
        assert_eq!((s.count, s.nonfinite), (2, 3));
        let none = Stats::of(&[f32::NAN]);
        assert!(none.mean.is_nan());
        assert_eq!(none.nonfinite, 1);
    }
}
