//! World-space resampling against analytic truth: identity, exact
//! subsampling, translations, and linear fields that trilinear interpolation
//! must reproduce exactly.

use roimae::volume::{Affine, Grid, Interpolation, Volume, VolumeMeta, resample};

fn volume_from(grid: Grid, frames: usize, f: impl Fn([f64; 3], usize) -> f32) -> Volume {
    let mut data = Vec::with_capacity(grid.n_voxels() * frames);
    for t in 0..frames {
        for idx in 0..grid.n_voxels() {
            data.push(f(grid.world(grid.ijk(idx)), t));
        }
    }
    let meta = VolumeMeta::new_f32(&grid, frames, Some(2.0), true);
    Volume::from_data(grid, frames, data, meta)
}

fn linear(w: [f64; 3], t: usize) -> f32 {
    (0.5 * w[0] - 0.25 * w[1] + 0.125 * w[2] + 3.0 + t as f64 * 10.0) as f32
}

#[test]
fn onto_its_own_grid_is_the_identity() {
    let grid = Grid::new(
        [6, 5, 4],
        Affine::from_rows([
            [-2.0, 0.0, 0.0, 5.0],
            [0.0, 2.0, 0.0, -3.0],
            [0.0, 0.0, 2.0, 1.0],
        ]),
    );
    let v = volume_from(grid, 3, |w, t| (w[0] * w[1] + w[2] + t as f64) as f32);
    for interp in [Interpolation::Nearest, Interpolation::Trilinear] {
        let r = resample(&v, &grid, interp, -1.0);
        assert_eq!(r.data, v.data, "{interp:?}");
        assert_eq!(r.frames, 3);
    }
}

#[test]
fn one_mm_ras_to_two_mm_las_nearest_is_exact_subsampling() {
    // Like AAL3 (1 mm RAS) onto the MNI 2 mm LAS grid.
    let src = Grid::new(
        [21, 19, 17],
        Affine::from_rows([
            [1.0, 0.0, 0.0, -10.0],
            [0.0, 1.0, 0.0, -9.0],
            [0.0, 0.0, 1.0, -8.0],
        ]),
    );
    let dst = Grid::new(
        [11, 10, 9],
        Affine::from_rows([
            [-2.0, 0.0, 0.0, 10.0],
            [0.0, 2.0, 0.0, -9.0],
            [0.0, 0.0, 2.0, -8.0],
        ]),
    );
    let v = volume_from(src, 1, |w, _| (w[0] * 1000.0 + w[1] * 10.0 + w[2]) as f32);
    let r = resample(&v, &dst, Interpolation::Nearest, 0.0);
    for idx in 0..dst.n_voxels() {
        let [i, j, k] = dst.ijk(idx);
        let src_i = 20 - 2 * i; // x = 10 - 2i = -10 + src_i
        assert_eq!(
            r.data[idx],
            v.value(src_i, 2 * j, 2 * k, 0).unwrap(),
            "voxel {i},{j},{k}"
        );
    }
}

#[test]
fn trilinear_reproduces_linear_fields_on_an_oblique_grid() {
    let src = Grid::new(
        [20, 20, 20],
        Affine::from_rows([
            [2.0, 0.0, 0.0, -20.0],
            [0.0, 2.0, 0.0, -20.0],
            [0.0, 0.0, 2.0, -20.0],
        ]),
    );
    let v = volume_from(src, 2, linear);
    let (c, s) = (0.3f64.cos(), 0.3f64.sin());
    let dst = Grid::new(
        [9, 8, 7],
        Affine::from_rows([
            [1.3 * c, -1.3 * s, 0.0, -6.0],
            [1.3 * s, 1.3 * c, 0.0, -5.0],
            [0.0, 0.0, 1.7, -4.0],
        ]),
    );
    let r = resample(&v, &dst, Interpolation::Trilinear, f32::NAN);
    for t in 0..2 {
        for idx in 0..dst.n_voxels() {
            let want = linear(dst.world(dst.ijk(idx)), t);
            let got = r.data[t * dst.n_voxels() + idx];
            assert!(
                (got - want).abs() < 1e-3,
                "t {t} voxel {idx}: {got} vs {want}"
            );
        }
    }
}

#[test]
fn half_voxel_shift_averages_neighbours_and_outside_gets_fill() {
    let src = Grid::new([4, 1, 1], Affine::identity());
    let v = volume_from(src, 1, |w, _| (w[0] * w[0]) as f32); // 0 1 4 9
    let shifted = Grid::new(
        [5, 1, 1],
        Affine::from_rows([
            [1.0, 0.0, 0.0, 0.5],
            [0.0, 1.0, 0.0, 0.0],
            [0.0, 0.0, 1.0, 0.0],
        ]),
    );
    let r = resample(&v, &shifted, Interpolation::Trilinear, -7.0);
    assert_eq!(r.data, vec![0.5, 2.5, 6.5, -7.0, -7.0]);
    let n = resample(&v, &shifted, Interpolation::Nearest, -7.0);
    assert_eq!(n.data, vec![1.0, 4.0, 9.0, -7.0, -7.0]);
}
