//! A label map: one region id per voxel of a grid (0 = background), with
//! per-region voxel counts, world-space centroids and the left/right sanity
//! check that catches flipped atlases or grids.

use super::regions::{Hemisphere, RegionTable};
use crate::volume::{Grid, Interpolation, Volume, resample};
use std::collections::BTreeMap;

/// Region ids on a grid, in NIfTI order (i fastest).
#[derive(Debug, Clone, PartialEq)]
pub struct LabelMap {
    /// Where the labels sit.
    pub grid: Grid,
    /// One label id per voxel; 0 is background.
    pub labels: Vec<u16>,
}

impl LabelMap {
    /// Labels from the first frame of a volume (values rounded; negative,
    /// non-finite or too large values become background).
    pub fn from_volume(volume: &Volume) -> Self {
        let labels = volume
            .frame(0)
            .iter()
            .map(|&v| {
                let r = v.round();
                if r.is_finite() && r > 0.0 && r <= u16::MAX as f32 {
                    r as u16
                } else {
                    0
                }
            })
            .collect();
        LabelMap {
            grid: volume.grid,
            labels,
        }
    }

    /// These labels on another grid, by nearest neighbour through world space.
    pub fn resampled_to(&self, target: &Grid) -> LabelMap {
        let as_volume = Volume::from_data(
            self.grid,
            1,
            self.labels.iter().map(|&l| l as f32).collect(),
            crate::volume::VolumeMeta::new_f32(&self.grid, 1, None, true),
        );
        LabelMap::from_volume(&resample(&as_volume, target, Interpolation::Nearest, 0.0))
    }

    /// The label at voxel (i, j, k), 0 outside the grid.
    pub fn at(&self, i: usize, j: usize, k: usize) -> u16 {
        let [nx, ny, nz] = self.grid.dims;
        if i < nx && j < ny && k < nz {
            self.labels[self.grid.index(i, j, k)]
        } else {
            0
        }
    }

    /// Voxel count of every non-zero label present.
    pub fn voxel_counts(&self) -> BTreeMap<u16, usize> {
        super::tokens::count_labels(&self.labels)
    }

    /// World-space (mm) centroid of every non-zero label present.
    pub fn centroids(&self) -> BTreeMap<u16, [f64; 3]> {
        let mut sums: BTreeMap<u16, ([f64; 3], usize)> = BTreeMap::new();
        for (idx, &l) in self.labels.iter().enumerate() {
            if l == 0 {
                continue;
            }
            let ijk = self.grid.ijk(idx).map(|v| v as f64);
            let (sum, n) = sums.entry(l).or_insert(([0.0; 3], 0));
            for (s, v) in sum.iter_mut().zip(ijk) {
                *s += v;
            }
            *n += 1;
        }
        sums.into_iter()
            .map(|(l, (s, n))| {
                let mean = s.map(|v| v / n as f64);
                (l, self.grid.affine.apply(mean))
            })
            .collect()
    }

    /// `"ok"` when left-hemisphere regions lie at world x < 0 and right ones
    /// at x > 0 (overall and region by region); otherwise a warning saying
    /// what is off. A failure means the atlas or the grid's affine is
    /// left-right flipped.
    pub fn left_right_check(&self, regions: &RegionTable) -> String {
        let counts = self.voxel_counts();
        let centroids = self.centroids();
        let mut side_sum = [(0.0f64, 0usize); 2];
        let mut wrong = Vec::new();
        for (id, c) in &centroids {
            let Some(region) = regions.get(*id) else {
                continue;
            };
            let n = counts[id];
            let side = match region.hemisphere {
                Hemisphere::L => 0,
                Hemisphere::R => 1,
                Hemisphere::M => continue,
            };
            side_sum[side].0 += c[0] * n as f64;
            side_sum[side].1 += n;
            if (side == 0 && c[0] > 0.0) || (side == 1 && c[0] < 0.0) {
                wrong.push(format!("{} (x = {:+.1} mm)", region.name, c[0]));
            }
        }
        let mean = |s: (f64, usize)| if s.1 == 0 { f64::NAN } else { s.0 / s.1 as f64 };
        let (left, right) = (mean(side_sum[0]), mean(side_sum[1]));
        if side_sum[0].1 == 0 && side_sum[1].1 == 0 {
            return "no left or right regions on this grid; cannot check left/right".to_string();
        }
        let left_ok = side_sum[0].1 == 0 || left < 0.0;
        let right_ok = side_sum[1].1 == 0 || right > 0.0;
        let overall_ok = left_ok && right_ok;
        if overall_ok && wrong.is_empty() {
            return "ok".to_string();
        }
        let mut msg = format!(
            "LEFT/RIGHT FLIP SUSPECTED: _L regions lie at mean x = {left:+.1} mm and _R regions at {right:+.1} mm (expected x < 0 for left)"
        );
        if !wrong.is_empty() {
            let shown: Vec<_> = wrong.iter().take(5).cloned().collect();
            msg.push_str(&format!(
                "; {} region(s) on the wrong side: {}{}",
                wrong.len(),
                shown.join(", "),
                if wrong.len() > 5 { ", ..." } else { "" }
            ));
        }
        msg.push_str("; check the atlas and data affines (sform/qform)");
        msg
    }
}
