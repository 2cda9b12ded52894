//! Pure rearrangements of channel-last token grids `[B, X, Y, Z, T, C]`:
//! window partition/merge (also used for patchify), the 2×2×2 patch-merging
//! gather and its inverse for patch expanding. Every step keeps tensors at
//! five or six dimensions because CubeCL allows at most eight.

use burn::prelude::*;

/// Splits `[B, X, Y, Z, T, C]` into blocks of `w = (wx, wy, wz, wt)`:
/// returns `[B·nx·ny·nz·nt, wx·wy·wz·wt, C]`, blocks in row-major
/// (b, bx, by, bz, bt) order and tokens inside a block in (x, y, z, t) order,
/// t fastest (SPEC-model token order).
///
/// One permute and one copy: `b` folds into `nx` and `wt` into `C` (each
/// pair is adjacent before and after), which keeps the view at eight
/// dimensions, CubeCL's limit.
pub fn partition(x: Tensor<6>, w: [usize; 4]) -> Tensor<3> {
    let [b, gx, gy, gz, gt, c] = x.dims();
    let [wx, wy, wz, wt] = w;
    let (nx, ny, nz, nt) = (gx / wx, gy / wy, gz / wz, gt / wt);
    debug_assert!(nx * wx == gx && ny * wy == gy && nz * wz == gz && nt * wt == gt);
    x.reshape([b * nx, wx, ny, wy, nz, wz, nt, wt * c])
        .permute([0, 2, 4, 6, 1, 3, 5, 7])
        .reshape([b * nx * ny * nz * nt, wx * wy * wz * wt, c])
}

/// Inverse of [`partition`]: blocks back onto the grid `[B, X, Y, Z, T, C]`.
pub fn merge(x: Tensor<3>, w: [usize; 4], grid: [usize; 5]) -> Tensor<6> {
    let [b, gx, gy, gz, gt] = grid;
    let c = x.dims()[2];
    let [wx, wy, wz, wt] = w;
    let (nx, ny, nz, nt) = (gx / wx, gy / wy, gz / wz, gt / wt);
    x.reshape([b * nx, ny, nz, nt, wx, wy, wz, wt * c])
        .permute([0, 4, 1, 5, 2, 6, 3, 7])
        .reshape([b, gx, gy, gz, gt, c])
}

/// For every row of `partition(roll(x, -shift), w)`, the row of the
/// flattened grid `[B·X·Y·Z·T]` it comes from (a permutation).
fn shifted_window_rows(grid: [usize; 5], w: [usize; 4], shift: [usize; 4]) -> Vec<i64> {
    let [b, gx, gy, gz, gt] = grid;
    let g = [gx, gy, gz, gt];
    let n = [gx / w[0], gy / w[1], gz / w[2], gt / w[3]];
    let mut rows = Vec::with_capacity(b * gx * gy * gz * gt);
    for bi in 0..b {
        for bx in 0..n[0] {
            for by in 0..n[1] {
                for bz in 0..n[2] {
                    for bt in 0..n[3] {
                        let block = [bx, by, bz, bt];
                        for ix in 0..w[0] {
                            for iy in 0..w[1] {
                                for iz in 0..w[2] {
                                    for it in 0..w[3] {
                                        let inner = [ix, iy, iz, it];
                                        let at: [usize; 4] = std::array::from_fn(|d| {
                                            (block[d] * w[d] + inner[d] + shift[d]) % g[d]
                                        });
                                        let row = (((bi * gx + at[0]) * gy + at[1]) * gz + at[2])
                                            * gt
                                            + at[3];
                                        rows.push(row as i64);
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    rows
}

/// `partition(x.roll(-shift), w)` as one row gather (no roll copies): the
/// windows of the cyclically shifted grid.
pub fn partition_shifted(x: Tensor<6>, w: [usize; 4], shift: [usize; 4]) -> Tensor<3> {
    let [b, gx, gy, gz, gt, c] = x.dims();
    let rows = shifted_window_rows([b, gx, gy, gz, gt], w, shift);
    let n = rows.len();
    let idx = Tensor::<1, Int>::from_data(TensorData::new(rows, [n]), &x.device());
    x.reshape([n, c]).select(0, idx).reshape([
        n / (w.iter().product::<usize>()),
        w.iter().product(),
        c,
    ])
}

/// Inverse of [`partition_shifted`]: `merge(x, w, grid).roll(shift)` as one
/// row gather through the inverse permutation.
pub fn merge_shifted(
    x: Tensor<3>,
    w: [usize; 4],
    shift: [usize; 4],
    grid: [usize; 5],
) -> Tensor<6> {
    let [b, gx, gy, gz, gt] = grid;
    let c = x.dims()[2];
    let rows = shifted_window_rows(grid, w, shift);
    let mut inverse = vec![0i64; rows.len()];
    for (k, &r) in rows.iter().enumerate() {
        inverse[r as usize] = k as i64;
    }
    let n = inverse.len();
    let idx = Tensor::<1, Int>::from_data(TensorData::new(inverse, [n]), &x.device());
    x.reshape([n, c])
        .select(0, idx)
        .reshape([b, gx, gy, gz, gt, c])
}

/// Input clips `[B, 1, X, Y, Z, T]` → patches `[B, X/p, Y/p, Z/p, T, p³]`,
/// the p³ values ordered (x-offset, y-offset, z-offset), z fastest.
pub fn patchify(x: Tensor<6>, p: usize) -> Tensor<6> {
    let [b, _, gx, gy, gz, gt] = x.dims();
    let grid = x.reshape([b, gx, gy, gz, gt, 1]);
    partition(grid, [p, p, p, 1]).reshape([b, gx / p, gy / p, gz / p, gt, p * p * p])
}

/// Inverse of [`patchify`]: `[B, X/p, Y/p, Z/p, T, p³]` → `[B, 1, X, Y, Z, T]`.
pub fn unpatchify(x: Tensor<6>, p: usize) -> Tensor<6> {
    let [b, nx, ny, nz, gt, _] = x.dims();
    let blocks = x.reshape([b * nx * ny * nz * gt, p * p * p, 1]);
    merge(blocks, [p, p, p, 1], [b, nx * p, ny * p, nz * p, gt]).reshape([
        b,
        1,
        nx * p,
        ny * p,
        nz * p,
        gt,
    ])
}

/// Patch-merging gather: `[B, X, Y, Z, T, C]` → `[B, X/2, Y/2, Z/2, T, 8C]`
/// where channel block `4i + 2j + k` holds the sub-grid `x[i::2, j::2, k::2]`.
pub fn gather_2x2x2(x: Tensor<6>) -> Tensor<6> {
    let [b, gx, gy, gz, gt, c] = x.dims();
    let (hx, hy, hz) = (gx / 2, gy / 2, gz / 2);
    x.reshape([b * hx, 2, hy, 2, gz * gt * c])
        .permute([0, 2, 1, 3, 4]) // [b hx, hy, i, j, z t c]
        .reshape([b * hx * hy, 4, hz, 2, gt, c]) // [.., ij, hz, k, t, c]
        .permute([0, 2, 4, 1, 3, 5]) // [.., hz, t, ij, k, c]
        .reshape([b, hx, hy, hz, gt, 8 * c])
}

/// Inverse of [`gather_2x2x2`] (the patch-expanding rearrangement):
/// `[B, X, Y, Z, T, 8C']` → `[B, 2X, 2Y, 2Z, T, C']`, sub-voxel (i, j, k)
/// taking channels `[(4i+2j+k)·C' ..]`.
pub fn scatter_2x2x2(x: Tensor<6>) -> Tensor<6> {
    let [b, gx, gy, gz, gt, c8] = x.dims();
    let c = c8 / 8;
    x.reshape([b * gx * gy, gz, gt, 4, 2, c]) // [.., z, t, ij, k, c]
        .permute([0, 3, 1, 4, 2, 5]) // [.., ij, z, k, t, c]
        .reshape([b * gx, gy, 2, 2, gz * 2 * gt * c]) // [b x, y, i, j, ..]
        .permute([0, 2, 1, 3, 4]) // [b x, i, y, j, ..]
        .reshape([b, 2 * gx, 2 * gy, 2 * gz, gt, c])
}
