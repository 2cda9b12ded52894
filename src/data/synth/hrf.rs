//! The canonical (SPM) haemodynamic response function and the convolution
//! that turns neural activity into a BOLD time course.

/// How long the response lasts, in seconds.
pub const HRF_SECONDS: f64 = 32.0;

/// The SPM double-gamma response at `t` seconds: a peak near 5 s and an
/// undershoot near 15 s, one sixth as deep.
pub fn canonical_hrf(t: f64) -> f64 {
    if t <= 0.0 {
        return 0.0;
    }
    // Gamma(6) = 120, Gamma(16) = 15!.
    const GAMMA_6: f64 = 120.0;
    const GAMMA_16: f64 = 1_307_674_368_000.0;
    let peak = t.powi(5) * (-t).exp() / GAMMA_6;
    let undershoot = t.powi(15) * (-t).exp() / GAMMA_16;
    peak - undershoot / 6.0
}

/// The response sampled every `dt` seconds over [`HRF_SECONDS`], scaled to
/// unit sum (so a constant input passes with gain 1).
pub fn sampled_hrf(dt: f64) -> Vec<f64> {
    let n = (HRF_SECONDS / dt).ceil() as usize + 1;
    let mut kernel: Vec<f64> = (0..n).map(|k| canonical_hrf(k as f64 * dt)).collect();
    let sum: f64 = kernel.iter().sum();
    if sum > 0.0 {
        kernel.iter_mut().for_each(|v| *v /= sum);
    }
    kernel
}

/// The causal convolution `signal * kernel`, same length as `signal`.
pub fn convolve(signal: &[f64], kernel: &[f64]) -> Vec<f64> {
    (0..signal.len())
        .map(|t| {
            kernel
                .iter()
                .take(t + 1)
                .enumerate()
                .map(|(k, h)| h * signal[t - k])
                .sum()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peaks_near_five_seconds_with_a_late_undershoot() {
        let dt = 0.1;
        let kernel = sampled_hrf(dt);
        let peak = kernel
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .unwrap()
            .0 as f64
            * dt;
        assert!((4.5..=5.5).contains(&peak), "peak at {peak} s");
        let trough = kernel
            .iter()
            .enumerate()
            .min_by(|a, b| a.1.total_cmp(b.1))
            .unwrap()
            .0 as f64
            * dt;
        assert!((13.0..=17.0).contains(&trough), "undershoot at {trough} s");
        assert!((kernel.iter().sum::<f64>() - 1.0).abs() < 1e-12);
    }

    #[test]
    fn convolving_an_impulse_returns_the_kernel() {
        let kernel = sampled_hrf(1.0);
        let mut impulse = vec![0.0; 40];
        impulse[0] = 1.0;
        let out = convolve(&impulse, &kernel);
        assert_eq!(&out[..kernel.len()], &kernel[..]);
    }
}
