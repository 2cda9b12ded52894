//! Cheap separable spatial smoothing: the binomial kernel [1, 2, 1] / 4
//! along x, then y, then z (zero beyond the edges), about 3.3 voxels FWHM
//! in all.

/// Standard deviation that white unit-variance noise keeps after
/// [`smooth_binomial`] away from the edges: (6/16)^(3/2).
pub const WHITE_NOISE_SD_AFTER_SMOOTHING: f32 = 0.229_640_3;

/// Smooths `field` (NIfTI order, `dims` voxels) in place.
pub fn smooth_binomial(field: &mut [f32], dims: [usize; 3], scratch: &mut Scratch) {
    let [nx, ny, nz] = dims;
    debug_assert_eq!(field.len(), nx * ny * nz);
    smooth_contiguous_lines(field, nx);
    smooth_axis(field, nx, ny, scratch);
    smooth_axis(field, nx * ny, nz, scratch);
}

/// Reusable row buffers of [`smooth_binomial`].
#[derive(Debug, Default)]
pub struct Scratch {
    previous: Vec<f32>,
    current: Vec<f32>,
}

/// Along x: lines of `n` consecutive values.
fn smooth_contiguous_lines(field: &mut [f32], n: usize) {
    for line in field.chunks_exact_mut(n) {
        let mut previous = 0.0f32;
        for j in 0..n {
            let current = line[j];
            let next = if j + 1 < n { line[j + 1] } else { 0.0 };
            line[j] = 0.25 * (previous + next) + 0.5 * current;
            previous = current;
        }
    }
}

/// Along an outer axis: the field is blocks of `n` rows of `block` values,
/// and each value is smoothed with the same position in the neighbouring
/// rows.
fn smooth_axis(field: &mut [f32], block: usize, n: usize, scratch: &mut Scratch) {
    let Scratch { previous, current } = scratch;
    previous.resize(block, 0.0);
    current.resize(block, 0.0);
    for slab in field.chunks_exact_mut(block * n) {
        previous.fill(0.0);
        for j in 0..n {
            let (head, tail) = slab.split_at_mut((j + 1) * block);
            let row = &mut head[j * block..];
            current.copy_from_slice(row);
            if j + 1 < n {
                let next = &tail[..block];
                for (((out, &p), &c), &nx) in
                    row.iter_mut().zip(&*previous).zip(&*current).zip(next)
                {
                    *out = 0.25 * (p + nx) + 0.5 * c;
                }
            } else {
                for ((out, &p), &c) in row.iter_mut().zip(&*previous).zip(&*current) {
                    *out = 0.25 * p + 0.5 * c;
                }
            }
            std::mem::swap(previous, current);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::synth::random::{Purpose, fast_normal, stream};

    #[test]
    fn an_impulse_spreads_into_the_binomial_kernel() {
        let dims = [5, 5, 5];
        let mut field = vec![0.0f32; 125];
        field[2 + 5 * (2 + 5 * 2)] = 64.0;
        smooth_binomial(&mut field, dims, &mut Scratch::default());
        let at = |i: usize, j: usize, k: usize| field[i + 5 * (j + 5 * k)];
        assert_eq!(at(2, 2, 2), 8.0);
        assert_eq!(at(1, 2, 2), 4.0);
        assert_eq!(at(1, 1, 2), 2.0);
        assert_eq!(at(1, 1, 1), 1.0);
        assert_eq!(at(0, 2, 2), 0.0);
        assert!((field.iter().sum::<f32>() - 64.0).abs() < 1e-4);
    }

    #[test]
    fn white_noise_keeps_the_documented_sd() {
        let dims = [40, 40, 40];
        let mut rng = stream(0, Purpose::Noise, &[]);
        let mut field: Vec<f32> = (0..64_000).map(|_| fast_normal(&mut rng)).collect();
        smooth_binomial(&mut field, dims, &mut Scratch::default());
        let inner: Vec<f64> = (0..64_000)
            .filter(|&idx| {
                let (i, j, k) = (idx % 40, idx / 40 % 40, idx / 1600);
                [i, j, k].iter().all(|&c| (1..39).contains(&c))
            })
            .map(|idx| field[idx] as f64)
            .collect();
        let var = inner.iter().map(|v| v * v).sum::<f64>() / inner.len() as f64;
        let sd = var.sqrt() as f32;
        assert!(
            (sd / WHITE_NOISE_SD_AFTER_SMOOTHING - 1.0).abs() < 0.03,
            "sd {sd}"
        );
    }
}
