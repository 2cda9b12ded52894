//! Pure rearrangements of channel-last token grids `[B, X, Y, Z, T, C]`:
//! window partition/merge (also used for patchify), the 2×2×2 patch-merging
//! gather and its inverse for patch expanding. Every step keeps tensors at
//! five or six dimensions because CubeCL allows at most eight.

use burn::prelude::*;

/// Splits `[B, X, Y, Z, T, C]` into blocks of `w = (wx, wy, wz, wt)`:
/// returns `[B·nx·ny·nz·nt, wx·wy·wz·wt, C]`, blocks in row-major
/// (b, bx, by, bz, bt) order and tokens inside a block in (x, y, z, t) order,
/// t fastest (docs/SPEC-model.md token order).
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

/// The window order of a grid's rows: row `r` of
/// `partition_shifted(x, window, shift)` (flattened to `[N, C]`) is row
/// [`WindowOrder::source`]`(r)` of `x` flattened to `[B·X·Y·Z·T, C]`. With
/// no shift it is [`partition`]'s order. Fused ops that take it (the
/// LayerNorm into windows) read their input in this order, so the windows
/// need no copy of their own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct WindowOrder {
    /// Grid `(X, Y, Z, T)` (the batch is the rows' outermost factor).
    pub grid: [usize; 4],
    /// Window `(wx, wy, wz, wt)`, each dividing its grid dim.
    pub window: [usize; 4],
    /// Cyclic shift `(sx, sy, sz, st)` of the grid before partitioning.
    pub shift: [usize; 4],
}

impl WindowOrder {
    /// Rows in their own order: a `[1, 1, 1, rows]` grid in one window.
    pub fn identity(rows: usize) -> Self {
        Self {
            grid: [1, 1, 1, rows],
            window: [1, 1, 1, rows],
            shift: [0; 4],
        }
    }

    /// The windows of `grid` `(X, Y, Z, T)` after a cyclic shift.
    pub fn windows(grid: [usize; 4], window: [usize; 4], shift: [usize; 4]) -> Self {
        debug_assert!((0..4).all(|d| window[d] > 0 && grid[d] % window[d] == 0));
        Self {
            grid,
            window,
            shift,
        }
    }

    /// The source row of output row `r` (any batch index: the batch is the
    /// outermost factor of both orders). Kernels repeat this arithmetic.
    pub fn source(&self, r: usize) -> usize {
        let (g, w, s) = (self.grid, self.window, self.shift);
        let len = w.iter().product::<usize>();
        let (inner, block) = (r % len, r / len);
        let inner_at = [
            inner / (w[3] * w[2] * w[1]),
            inner / (w[3] * w[2]) % w[1],
            inner / w[3] % w[2],
            inner % w[3],
        ];
        let n = [g[0] / w[0], g[1] / w[1], g[2] / w[2], g[3] / w[3]];
        let rest = block / (n[3] * n[2] * n[1]);
        let block_at = [
            rest % n[0],
            block / (n[3] * n[2]) % n[1],
            block / n[3] % n[2],
            block % n[3],
        ];
        let batch = rest / n[0];
        let at: [usize; 4] =
            std::array::from_fn(|d| (block_at[d] * w[d] + inner_at[d] + s[d]) % g[d]);
        (((batch * g[0] + at[0]) * g[1] + at[1]) * g[2] + at[2]) * g[3] + at[3]
    }

    /// Whether rows stay where they are.
    pub fn is_identity(&self) -> bool {
        self.shift == [0; 4] && self.window == self.grid
    }
}

/// For every row of `partition(roll(x, -shift), w)`, the row of the
/// flattened grid `[B·X·Y·Z·T]` it comes from (a permutation).
fn shifted_window_rows(grid: [usize; 5], w: [usize; 4], shift: [usize; 4]) -> Vec<i64> {
    let [b, gx, gy, gz, gt] = grid;
    let order = WindowOrder::windows([gx, gy, gz, gt], w, shift);
    (0..b * gx * gy * gz * gt)
        .map(|r| order.source(r) as i64)
        .collect()
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

#[cfg(test)]
mod tests {
    use super::WindowOrder;

    #[test]
    fn identity_order_keeps_rows_and_window_orders_permute_them() {
        let id = WindowOrder::identity(11);
        assert!(id.is_identity());
        assert!((0..11).all(|r| id.source(r) == r));
        // 2 batches of a 4x2x2x6 grid in 2x2x1x3 windows, shifted.
        let order = WindowOrder::windows([4, 2, 2, 6], [2, 2, 1, 3], [1, 0, 1, 2]);
        assert!(!order.is_identity());
        let rows = 2 * 4 * 2 * 2 * 6;
        let mut seen = vec![false; rows];
        for r in 0..rows {
            let q = order.source(r);
            assert!(!seen[q], "row {q} read twice");
            seen[q] = true;
        }
        // Row 0 reads the grid point (1, 0, 1, 2) of batch 0; row 1 the
        // next time step of the same window.
        assert_eq!(order.source(0), ((2 + 0) * 2 + 1) * 6 + 2);
        assert_eq!(order.source(1), ((2 + 0) * 2 + 1) * 6 + 3);
        // The second batch starts half-way through the rows.
        assert_eq!(order.source(rows / 2), rows / 2 + order.source(0));
    }
}
