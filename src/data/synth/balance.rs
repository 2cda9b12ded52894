//! Keeping the planted effect inside the planted regions after
//! preprocessing: a patient's brain-wide mean and SD (what the global
//! z-score divides by) equal those of its matched control — the same
//! subject rendered without the effect, from the same random streams.
//!
//! Patients' effect regions fluctuate more, which alone would raise the
//! run's global SD and so rescale every other voxel and the background
//! fill after z-scoring: the label would leak outside the planted regions.
//! Here the planted voxels of the patient are given the mean and the total
//! variance about that mean of the same voxels in the control
//! (`v' = m_c + s (v − m_p)`, `s² = E_c / E_p` over all frames), which
//! fixes the global mean and SD exactly (before rounding) while every
//! other voxel stays untouched. The planted regions keep their larger
//! temporal fluctuation; what pays for it is a slightly flatter spatial
//! contrast inside them.

use super::render::MIN_BRAIN_VALUE;

/// Rescales `patient`'s values at the voxel indices `planted` (in every
/// frame of `frames`, each `n_voxels` long) to the mean and variance of the
/// same values in `control`, rounded to whole scanner units.
pub fn match_planted_moments(
    patient: &mut [f32],
    control: &[f32],
    planted: &[usize],
    n_voxels: usize,
    frames: usize,
) {
    let values = |data: &[f32]| -> (f64, f64) {
        let n = (planted.len() * frames) as f64;
        let mut sum = 0.0;
        for t in 0..frames {
            sum += planted
                .iter()
                .map(|&i| data[t * n_voxels + i] as f64)
                .sum::<f64>();
        }
        let mean = sum / n;
        let mut energy = 0.0;
        for t in 0..frames {
            energy += planted
                .iter()
                .map(|&i| (data[t * n_voxels + i] as f64 - mean).powi(2))
                .sum::<f64>();
        }
        (mean, energy)
    };
    if planted.is_empty() || frames == 0 {
        return;
    }
    let (m_p, e_p) = values(patient);
    let (m_c, e_c) = values(control);
    if e_p <= 0.0 {
        return;
    }
    let s = (e_c / e_p).sqrt();
    for t in 0..frames {
        for &i in planted {
            let v = &mut patient[t * n_voxels + i];
            *v = ((m_c + s * (*v as f64 - m_p)).round() as f32).max(MIN_BRAIN_VALUE);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Mean and population SD of all values.
    fn moments(v: &[f32]) -> (f64, f64) {
        let n = v.len() as f64;
        let m = v.iter().map(|&x| x as f64).sum::<f64>() / n;
        let var = v.iter().map(|&x| (x as f64 - m).powi(2)).sum::<f64>() / n;
        (m, var.sqrt())
    }

    #[test]
    fn the_planted_voxels_take_the_controls_moments_and_the_rest_is_untouched() {
        // 4 voxels × 3 frames; voxels 1 and 2 are planted. The control's
        // planted values 100, 102, 98, 104, 96, 100 have mean 100 and
        // energy 4 + 4 + 16 + 16 = 40 (+ 0 + 0); the patient's 90, 130,
        // 70, 150, 80, 100 have mean 103.33.
        let control = [
            500.0, 100.0, 102.0, 700.0, //
            510.0, 98.0, 104.0, 690.0, //
            505.0, 96.0, 100.0, 705.0,
        ];
        let mut patient = [
            500.0, 90.0, 130.0, 700.0, //
            510.0, 70.0, 150.0, 690.0, //
            505.0, 80.0, 100.0, 705.0,
        ];
        match_planted_moments(&mut patient, &control, &[1, 2], 4, 3);
        for (t, v) in [(0, 500.0), (1, 510.0), (2, 505.0)] {
            assert_eq!(patient[t * 4], v);
        }
        assert_eq!([patient[3], patient[7], patient[11]], [700.0, 690.0, 705.0]);
        let planted: Vec<f32> = (0..3)
            .flat_map(|t| [patient[t * 4 + 1], patient[t * 4 + 2]])
            .collect();
        let (m, sd) = moments(&planted);
        // Rounding to whole units moves the moments by less than 0.5.
        assert!((m - 100.0).abs() < 0.5, "{planted:?}");
        assert!((sd - (40.0f64 / 6.0).sqrt()).abs() < 0.5, "{planted:?}");
        // So the whole volume's moments are the control's.
        let (mp, sp) = moments(&patient);
        let (mc, sc) = moments(&control);
        assert!((mp - mc).abs() < 0.25 && (sp - sc).abs() < 0.25);
        // The patient's ordering inside the planted set is kept.
        assert!(patient[6] > patient[2] && patient[2] > patient[10]);
    }
}
