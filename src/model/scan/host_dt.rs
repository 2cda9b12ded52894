//! dt_proj and A = -exp(A_log) around the host scan of the Mamba form
//! (burn Flex): the CubeCL kernels fold them in per step; on the host they
//! are threaded passes before the forward loops and after the backward
//! ones, so the Flex path has the same op boundaries (one op per layer,
//! seven gradients) as the kernels.
//!
//! Layouts: `x_dbl [rows, stride]` with dt's R columns first, `weight
//! [R, Di]` (burn's `[in, out]`), `bias [Di]`, `delta [rows, Di]`.

use crate::model::fused::{par_blocks, sum_partial_pairs};

/// dt_proj's inputs and parameters for one Mamba-form scan.
#[derive(Debug, Clone, Copy)]
pub struct DtProj<'a> {
    /// x_proj's output rows, dt's `rank` columns first.
    pub x_dbl: &'a [f32],
    /// Row length of `x_dbl`.
    pub stride: usize,
    /// `[rank, channels]` dt_proj's weight.
    pub weight: &'a [f32],
    /// `[channels]` dt_proj's bias.
    pub bias: &'a [f32],
    /// R, dt's columns.
    pub rank: usize,
    /// Di.
    pub channels: usize,
}

/// Rows per threaded block.
const ROWS: usize = 256;

impl DtProj<'_> {
    fn rows(&self) -> usize {
        self.x_dbl.len() / self.stride.max(1)
    }

    /// dt_proj's output before softplus: `[rows, Di]`.
    pub fn raw_delta(&self) -> Vec<f32> {
        let di = self.channels;
        let mut delta = vec![0f32; self.rows() * di];
        par_blocks(&mut delta, ROWS * di.max(1), |first, piece| {
            for (k, out) in piece.chunks_mut(di.max(1)).enumerate() {
                let row = first * ROWS + k;
                out.copy_from_slice(self.bias);
                let x = &self.x_dbl[row * self.stride..row * self.stride + self.rank];
                for (r, &xr) in x.iter().enumerate() {
                    let w = &self.weight[r * di..(r + 1) * di];
                    out.iter_mut().zip(w).for_each(|(o, &w)| *o += xr * w);
                }
            }
        });
        delta
    }

    /// From `ddelta` (the gradient of dt_proj's output `[rows, Di]`):
    /// writes x_dbl's dt columns of `dx_dbl` (`[rows, stride]`, B and C
    /// columns untouched) and returns `(dW [R, Di], dbias [Di])`.
    pub fn backward(&self, ddelta: &[f32], dx_dbl: &mut [f32]) -> (Vec<f32>, Vec<f32>) {
        let (di, r, stride) = (self.channels, self.rank, self.stride);
        let partials = par_blocks(dx_dbl, ROWS * stride.max(1), |first, piece| {
            let mut dw = vec![0f32; r * di];
            let mut db = vec![0f32; di];
            for (k, dx_row) in piece.chunks_mut(stride.max(1)).enumerate() {
                let row = first * ROWS + k;
                let e = &ddelta[row * di..(row + 1) * di];
                let x = &self.x_dbl[row * stride..row * stride + r];
                db.iter_mut().zip(e).for_each(|(b, &e)| *b += e);
                for j in 0..r {
                    let w = &self.weight[j * di..(j + 1) * di];
                    dx_row[j] = e.iter().zip(w).map(|(&e, &w)| e * w).sum();
                    let xj = x[j];
                    dw[j * di..(j + 1) * di]
                        .iter_mut()
                        .zip(e)
                        .for_each(|(g, &e)| *g += e * xj);
                }
            }
            (dw, db)
        });
        sum_partial_pairs(partials, (r * di, di))
    }
}

/// A = -exp(A_log).
pub fn state_matrix(a_log: &[f32]) -> Vec<f32> {
    a_log.iter().map(|v| -v.exp()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Against the sums written out: 3 rows of stride 5 (R = 2, then 3
    /// other columns), Di = 3.
    #[test]
    fn dt_proj_and_its_gradients_match_the_sums() {
        let x_dbl: Vec<f32> = (0..15).map(|i| i as f32 * 0.5 - 3.0).collect();
        let weight = [0.1, -0.2, 0.3, 0.4, 0.5, -0.6];
        let bias = [1.0, 2.0, 3.0];
        let dt = DtProj {
            x_dbl: &x_dbl,
            stride: 5,
            weight: &weight,
            bias: &bias,
            rank: 2,
            channels: 3,
        };
        let delta = dt.raw_delta();
        for row in 0..3 {
            for ch in 0..3 {
                let want =
                    bias[ch] + x_dbl[row * 5] * weight[ch] + x_dbl[row * 5 + 1] * weight[3 + ch];
                assert!((delta[row * 3 + ch] - want).abs() < 1e-6);
            }
        }
        let ddelta: Vec<f32> = (0..9).map(|i| (i as f32 - 4.0) * 0.25).collect();
        let mut dx = vec![7.0f32; 15];
        let (dw, db) = dt.backward(&ddelta, &mut dx);
        for row in 0..3 {
            for j in 0..2 {
                let want: f32 = (0..3)
                    .map(|ch| ddelta[row * 3 + ch] * weight[j * 3 + ch])
                    .sum();
                assert!((dx[row * 5 + j] - want).abs() < 1e-6);
            }
            assert!(dx[row * 5 + 2..row * 5 + 5].iter().all(|v| *v == 7.0));
        }
        for ch in 0..3 {
            let want_b: f32 = (0..3).map(|row| ddelta[row * 3 + ch]).sum();
            assert!((db[ch] - want_b).abs() < 1e-6);
            for j in 0..2 {
                let want: f32 = (0..3)
                    .map(|row| ddelta[row * 3 + ch] * x_dbl[row * 5 + j])
                    .sum();
                assert!((dw[j * 3 + ch] - want).abs() < 1e-6);
            }
        }
        assert_eq!(state_matrix(&[0.0, 1.0f32.ln()]), [-1.0, -1.0]);
    }
}
