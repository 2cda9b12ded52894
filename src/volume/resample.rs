//! Resampling a volume onto another grid through the two affines (world
//! space): nearest neighbour for labels, trilinear for intensities. Every
//! frame of a 4D volume is resampled the same way; target voxels whose world
//! position falls outside the source get the fill value.

use super::{Grid, Volume, VolumeMeta};

/// How values between source voxels are obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interpolation {
    /// The value of the closest source voxel (labels, masks).
    Nearest,
    /// Weighted mean of the 8 surrounding source voxels.
    Trilinear,
}

/// `source` resampled onto `target`; voxels outside the source get `fill`.
/// The result keeps the source's TR and takes the target's affine (codes:
/// the source's, or MNI152 when the source had none).
pub fn resample(source: &Volume, target: &Grid, interp: Interpolation, fill: f32) -> Volume {
    let n = target.n_voxels();
    let mut data = Vec::with_capacity(n * source.frames);
    let plan = SamplePlan::new(&source.grid, target);
    for t in 0..source.frames {
        let frame = source.frame(t);
        match interp {
            Interpolation::Nearest => plan.nearest(frame, fill, &mut data),
            Interpolation::Trilinear => plan.trilinear(frame, fill, &mut data),
        }
    }
    let mut meta = VolumeMeta::new_f32(target, source.frames, source.meta.tr, true);
    meta.ndim = source.meta.ndim;
    if source.meta.sform_code > 0 || source.meta.qform_code > 0 {
        meta.sform_code = source.meta.sform_code.max(source.meta.qform_code);
        meta.qform_code = meta.sform_code;
    }
    if meta.ndim == 4 && meta.zooms.len() == 3 {
        meta.zooms.push(source.meta.tr.unwrap_or(1.0));
    }
    Volume::from_data(*target, source.frames, data, meta)
}

/// The target-voxel to source-voxel transform, stepped incrementally.
struct SamplePlan {
    /// Source dims.
    src: [usize; 3],
    /// Target dims.
    dst: [usize; 3],
    /// Source voxel coordinate of target voxel (0, 0, 0).
    origin: [f64; 3],
    /// Change of source coordinate per target step along i, j, k.
    step: [[f64; 3]; 3],
}

impl SamplePlan {
    fn new(source: &Grid, target: &Grid) -> Self {
        let inv = source
            .affine
            .inverse()
            .unwrap_or_else(super::Affine::identity);
        let m = inv.then_after(&target.affine).0;
        let col = |c: usize| [m[(0, c)], m[(1, c)], m[(2, c)]];
        SamplePlan {
            src: source.dims,
            dst: target.dims,
            origin: col(3),
            step: [col(0), col(1), col(2)],
        }
    }

    /// Calls `f` with the source coordinate of every target voxel, in order.
    fn for_each(&self, mut f: impl FnMut([f64; 3])) {
        let [nx, ny, nz] = self.dst;
        for k in 0..nz {
            for j in 0..ny {
                let mut p = [0.0; 3];
                for (a, pa) in p.iter_mut().enumerate() {
                    *pa = self.origin[a] + j as f64 * self.step[1][a] + k as f64 * self.step[2][a];
                }
                for _ in 0..nx {
                    f(p);
                    for (a, pa) in p.iter_mut().enumerate() {
                        *pa += self.step[0][a];
                    }
                }
            }
        }
    }

    fn nearest(&self, frame: &[f32], fill: f32, out: &mut Vec<f32>) {
        let [sx, sy, sz] = self.src;
        self.for_each(|p| {
            // Round half up, with a small tolerance so exact half-way points
            // produced by float error land consistently.
            let idx = p.map(|v| (v + 0.5 + 1e-9).floor());
            let inside = idx[0] >= 0.0
                && idx[1] >= 0.0
                && idx[2] >= 0.0
                && (idx[0] as usize) < sx
                && (idx[1] as usize) < sy
                && (idx[2] as usize) < sz;
            out.push(if inside {
                let [i, j, k] = idx.map(|v| v as usize);
                frame[i + sx * (j + sy * k)]
            } else {
                fill
            });
        });
    }

    fn trilinear(&self, frame: &[f32], fill: f32, out: &mut Vec<f32>) {
        let [sx, sy, sz] = self.src;
        let max = [sx as f64 - 1.0, sy as f64 - 1.0, sz as f64 - 1.0];
        const EPS: f64 = 1e-6;
        self.for_each(|p| {
            if (0..3).any(|a| p[a] < -EPS || p[a] > max[a] + EPS) {
                out.push(fill);
                return;
            }
            let p = [0, 1, 2].map(|a| p[a].clamp(0.0, max[a]));
            let base = p.map(|v| v.floor());
            let w = [p[0] - base[0], p[1] - base[1], p[2] - base[2]];
            let i0 = base.map(|v| v as usize);
            let i1 = [
                (i0[0] + 1).min(sx - 1),
                (i0[1] + 1).min(sy - 1),
                (i0[2] + 1).min(sz - 1),
            ];
            let at = |i: usize, j: usize, k: usize| frame[i + sx * (j + sy * k)] as f64;
            let c00 = at(i0[0], i0[1], i0[2]) * (1.0 - w[0]) + at(i1[0], i0[1], i0[2]) * w[0];
            let c10 = at(i0[0], i1[1], i0[2]) * (1.0 - w[0]) + at(i1[0], i1[1], i0[2]) * w[0];
            let c01 = at(i0[0], i0[1], i1[2]) * (1.0 - w[0]) + at(i1[0], i0[1], i1[2]) * w[0];
            let c11 = at(i0[0], i1[1], i1[2]) * (1.0 - w[0]) + at(i1[0], i1[1], i1[2]) * w[0];
            let c0 = c00 * (1.0 - w[1]) + c10 * w[1];
            let c1 = c01 * (1.0 - w[1]) + c11 * w[1];
            out.push((c0 * (1.0 - w[2]) + c1 * w[2]) as f32);
        });
    }
}
