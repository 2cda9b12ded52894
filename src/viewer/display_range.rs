//! The automatic display range of a slice or overlay: robust percentiles
//! that ignore NaN/Inf and, optionally, the zero background, so a few hot
//! voxels or a black border do not wash the image out.

/// Above this many values, every `stride`-th value is used (a regular
/// subsample of about this size), which keeps the range cheap for 4D runs.
const MAX_SAMPLES: usize = 1 << 20;

/// Robust display range: the `lo`/`hi` percentiles (0-100) of the finite
/// values, skipping exact zeros (background) when `skip_zeros`.
///
/// Percentiles use the nearest-rank definition applied from each end, so
/// the range is symmetric: `lo` is the ⌈lo/100 · n⌉-th smallest value and
/// `hi` the ⌈(100 − hi)/100 · n⌉-th largest (ranks clamped to 1..=n). For
/// the values 1..=100, `(2, 98)` gives `(2, 99)` and `(0, 100)` gives the
/// minimum and maximum. Percentiles are clamped to 0-100 (NaN reads as 0
/// and 100) and swapped if `lo > hi`. Over a million values, a regular
/// subsample of about a million is used.
///
/// `None` when no value qualifies. When the two percentiles coincide (a
/// constant image), the range is widened downwards to `(v − max(|v|, 1), v)`
/// so the constant shows at the top of the colour map.
pub fn robust_range(values: &[f32], lo: f64, hi: f64, skip_zeros: bool) -> Option<(f32, f32)> {
    let stride = values.len().div_ceil(MAX_SAMPLES).max(1);
    let mut kept: Vec<f32> = values
        .iter()
        .step_by(stride)
        .copied()
        .filter(|v| v.is_finite() && !(skip_zeros && *v == 0.0))
        .collect();
    if kept.is_empty() {
        return None;
    }
    let clamp = |p: f64, nan: f64| if p.is_nan() { nan } else { p.clamp(0.0, 100.0) };
    let (mut lo, mut hi) = (clamp(lo, 0.0), clamp(hi, 100.0));
    if lo > hi {
        std::mem::swap(&mut lo, &mut hi);
    }
    let n = kept.len();
    let rank = |p: f64| ((p / 100.0 * n as f64).ceil() as usize).clamp(1, n);
    let low_index = rank(lo) - 1;
    let high_index = n - rank(100.0 - hi);
    let (_, &mut low, _) = kept.select_nth_unstable_by(low_index, f32::total_cmp);
    let (_, &mut high, _) = kept.select_nth_unstable_by(high_index, f32::total_cmp);
    if high > low {
        Some((low, high))
    } else {
        Some((high - high.abs().max(1.0), high))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_from_both_ends() {
        let values: Vec<f32> = (1..=100).rev().map(|v| v as f32).collect();
        assert_eq!(robust_range(&values, 2.0, 98.0, false), Some((2.0, 99.0)));
        assert_eq!(robust_range(&values, 0.0, 100.0, false), Some((1.0, 100.0)));
        assert_eq!(robust_range(&values, 50.0, 50.0, false), Some((50.0, 51.0)));
        // Ten values: 10th percentile = 1st smallest, 90th = 1st largest.
        let ten: Vec<f32> = (1..=10).map(|v| v as f32).collect();
        assert_eq!(robust_range(&ten, 10.0, 90.0, false), Some((1.0, 10.0)));
        assert_eq!(robust_range(&ten, 11.0, 89.0, false), Some((2.0, 9.0)));
        // Swapped and out-of-range percentiles.
        assert_eq!(robust_range(&ten, 90.0, 10.0, false), Some((1.0, 10.0)));
        assert_eq!(robust_range(&ten, -5.0, 250.0, false), Some((1.0, 10.0)));
    }

    #[test]
    fn skips_non_finite_values_and_optionally_zeros() {
        let values = [0.0, 0.0, 0.0, f32::NAN, f32::INFINITY, -2.0, 5.0, 0.0];
        assert_eq!(robust_range(&values, 0.0, 100.0, true), Some((-2.0, 5.0)));
        // With zeros kept: 6 values -2, 0, 0, 0, 0, 5; 20th pct = 2nd smallest.
        assert_eq!(robust_range(&values, 20.0, 100.0, false), Some((0.0, 5.0)));
        assert_eq!(
            robust_range(&[f32::NAN, f32::NEG_INFINITY], 2.0, 98.0, false),
            None
        );
        assert_eq!(robust_range(&[0.0, 0.0], 2.0, 98.0, true), None);
        assert_eq!(robust_range(&[], 2.0, 98.0, false), None);
    }

    #[test]
    fn constant_images_get_a_nonempty_range() {
        assert_eq!(
            robust_range(&[1.0, 1.0, 0.0], 2.0, 98.0, true),
            Some((0.0, 1.0))
        );
        assert_eq!(
            robust_range(&[300.0; 4], 2.0, 98.0, false),
            Some((0.0, 300.0))
        );
        assert_eq!(robust_range(&[-4.0], 2.0, 98.0, false), Some((-8.0, -4.0)));
        assert_eq!(robust_range(&[0.0], 2.0, 98.0, false), Some((-1.0, 0.0)));
    }

    #[test]
    fn large_arrays_are_subsampled_but_keep_their_range() {
        // 3 million values cycling 0..1000: the subsample (stride 3, which
        // is coprime with 1000) still covers every value equally often.
        let values: Vec<f32> = (0..3_000_000).map(|i| (i % 1000) as f32).collect();
        let (lo, hi) = robust_range(&values, 2.0, 98.0, false).unwrap();
        assert!((19.0..=21.0).contains(&lo), "{lo}");
        assert!((978.0..=980.0).contains(&hi), "{hi}");
        // Its speed on a whole MNI 2 mm frame is in `cargo bench --bench
        // volume_io` (benches/README.md), not asserted here.
    }
}
