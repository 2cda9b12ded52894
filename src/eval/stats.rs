//! The one mean and sample standard deviation of evaluation: the experiment
//! tables' `mean ± sd` over seeds and the attribution scores' spread over
//! subjects both come from [`mean_sd`].

/// Mean and sample standard deviation (divisor `n − 1`) of `values`.
///
/// - no value: `None`;
/// - one value: `Some((value, None))` (a sample sd needs two);
/// - otherwise `Some((mean, Some(sd)))`.
///
/// NaN and infinite values are used as given; callers that want only the
/// defined, finite ones filter first ([`finite`]).
pub fn mean_sd(values: &[f64]) -> Option<(f64, Option<f64>)> {
    if values.is_empty() {
        return None;
    }
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    let sd = (values.len() > 1)
        .then(|| (values.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt());
    Some((mean, sd))
}

/// The score and spread an attribution row reports: [`mean_sd`] with a
/// spread of 0 for one value; `None` for no value (each caller says what an
/// empty row shows).
pub fn mean_spread(values: &[f64]) -> Option<(f64, f64)> {
    mean_sd(values).map(|(mean, sd)| (mean, sd.unwrap_or(0.0)))
}

/// The defined, finite values of `values` (what the experiment tables
/// average: an undefined AUROC or a NaN loss is left out).
pub fn finite(values: &[Option<f64>]) -> Vec<f64> {
    values
        .iter()
        .flatten()
        .copied()
        .filter(|x| x.is_finite())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mean_and_sample_sd_by_hand() {
        // 0.5, 0.75, 1.0: mean 0.75; deviations ±0.25, 0 → var 0.125/2.
        let (m, s) = mean_sd(&finite(&[Some(0.5), Some(0.75), Some(1.0)])).unwrap();
        assert!((m - 0.75).abs() < 1e-12);
        assert!((s.unwrap() - 0.25).abs() < 1e-12);
        // 1 and 4: mean 2.5, sample sd √4.5.
        let (m, s) = mean_spread(&[1.0, 4.0]).unwrap();
        assert_eq!(m, 2.5);
        assert!((s - 4.5f64.sqrt()).abs() < 1e-12);
    }

    #[test]
    fn one_value_has_no_sd_and_no_value_has_no_mean() {
        assert_eq!(mean_sd(&[3.0]), Some((3.0, None)));
        assert_eq!(mean_spread(&[3.0]), Some((3.0, 0.0)));
        assert_eq!(mean_sd(&[]), None);
        assert_eq!(mean_spread(&[]), None);
        assert!(finite(&[None, Some(f64::NAN), Some(f64::INFINITY)]).is_empty());
    }
}
