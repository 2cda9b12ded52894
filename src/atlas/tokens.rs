//! The atlas at token resolution: how the model sees regions.
//!
//! A run on its (2 mm) grid is centre-cropped or padded to the model input
//! (96 voxels per axis at the reference preset; crop start `(s-96)/2`, pad
//! `(ceil(p/2), floor(p/2))`, as docs/SPEC-model.md), then cut into patches (6³). A
//! token belongs to the region that holds the most of its labelled voxels
//! (ties go to the lower id); a token with no labelled voxel is background.

use super::labels::LabelMap;
use std::collections::BTreeMap;

/// The model's input cube and patch size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenGeometry {
    /// Input voxels per spatial axis after crop/pad (96).
    pub input: usize,
    /// Patch edge in voxels (6).
    pub patch: usize,
    /// Voxel size (mm) of the grid the model reads, times 1000 (2000 = 2 mm).
    pub voxel_um: u32,
}

impl TokenGeometry {
    /// The reference preset: 96³ input at 2 mm, 6³ patches, 16³ tokens.
    pub const REFERENCE: TokenGeometry = TokenGeometry {
        input: 96,
        patch: 6,
        voxel_um: 2000,
    };

    /// The 4 mm preset: 48³ input at 4 mm, 3³ patches, 16³ tokens.
    pub const MNI4MM: TokenGeometry = TokenGeometry {
        input: 48,
        patch: 3,
        voxel_um: 4000,
    };

    /// The `tiny` preset (tests and CPU demos): 24³ input at 8 mm, 3³
    /// patches, 8³ tokens.
    pub const TINY: TokenGeometry = TokenGeometry {
        input: 24,
        patch: 3,
        voxel_um: 8000,
    };

    /// Tokens per spatial axis.
    pub fn tokens_per_axis(&self) -> usize {
        self.input / self.patch
    }

    /// Voxel size of the model grid in mm.
    pub fn voxel_mm(&self) -> f64 {
        self.voxel_um as f64 / 1000.0
    }

    /// For an axis of `len` voxels: the source voxel that lands at input
    /// position `u` after crop/pad, or `None` where `u` is padding.
    pub fn source_index(&self, len: usize, u: usize) -> Option<usize> {
        if len >= self.input {
            Some(u + (len - self.input) / 2)
        } else {
            let before = (self.input - len).div_ceil(2);
            u.checked_sub(before).filter(|&s| s < len)
        }
    }
}

/// One region id per token, on a `t x t x t` token grid stored row-major
/// with z fastest (the model's (X, Y, Z) tensor layout); 0 = background.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenMap {
    /// The geometry the map was made for.
    pub geometry: TokenGeometry,
    /// Region id of each token.
    pub labels: Vec<u16>,
}

/// The labels as the model input sees them: the model-grid label map
/// centre-cropped/padded to `input³` voxels, row-major with w (z) fastest.
#[derive(Debug, Clone, PartialEq)]
pub struct InputLabels {
    /// The geometry of the cube.
    pub geometry: TokenGeometry,
    /// `input³` labels; 0 = background or padding.
    pub labels: Vec<u16>,
}

impl InputLabels {
    /// Crops/pads `labels` (on the model grid) to the input cube.
    pub fn from_labels(labels: &LabelMap, geometry: TokenGeometry) -> Self {
        let n = geometry.input;
        let [nx, ny, nz] = labels.grid.dims;
        let mut out = vec![0u16; n * n * n];
        for u in 0..n {
            let Some(i) = geometry.source_index(nx, u) else {
                continue;
            };
            for v in 0..n {
                let Some(j) = geometry.source_index(ny, v) else {
                    continue;
                };
                for w in 0..n {
                    if let Some(k) = geometry.source_index(nz, w) {
                        out[(u * n + v) * n + w] = labels.at(i, j, k);
                    }
                }
            }
        }
        InputLabels {
            geometry,
            labels: out,
        }
    }

    /// The label at input voxel (u, v, w).
    pub fn at(&self, u: usize, v: usize, w: usize) -> u16 {
        let n = self.geometry.input;
        self.labels[(u * n + v) * n + w]
    }

    /// Voxel count of every non-zero label in the cube.
    pub fn voxel_counts(&self) -> BTreeMap<u16, usize> {
        count_labels(&self.labels)
    }
}

impl TokenMap {
    /// The majority label of each patch of `labels`, which must be on the
    /// model grid (already resampled to the geometry's voxel size).
    pub fn from_labels(labels: &LabelMap, geometry: TokenGeometry) -> Self {
        Self::from_input(&InputLabels::from_labels(labels, geometry))
    }

    /// The majority label of each patch of the input cube.
    pub fn from_input(input: &InputLabels) -> Self {
        let geometry = input.geometry;
        let t = geometry.tokens_per_axis();
        let p = geometry.patch;
        let mut out = vec![0u16; t * t * t];
        let mut counts: Vec<(u16, u16)> = Vec::with_capacity(p * p * p);
        for tx in 0..t {
            for ty in 0..t {
                for tz in 0..t {
                    counts.clear();
                    for dx in 0..p {
                        for dy in 0..p {
                            for dz in 0..p {
                                let l = input.at(tx * p + dx, ty * p + dy, tz * p + dz);
                                if l == 0 {
                                    continue;
                                }
                                match counts.iter_mut().find(|(id, _)| *id == l) {
                                    Some((_, c)) => *c += 1,
                                    None => counts.push((l, 1)),
                                }
                            }
                        }
                    }
                    // Most voxels wins; among equals the lower id.
                    out[(tx * t + ty) * t + tz] = counts
                        .iter()
                        .max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(&a.0)))
                        .map_or(0, |&(id, _)| id);
                }
            }
        }
        TokenMap {
            geometry,
            labels: out,
        }
    }

    /// The label of token (tx, ty, tz).
    pub fn at(&self, tx: usize, ty: usize, tz: usize) -> u16 {
        let t = self.geometry.tokens_per_axis();
        self.labels[(tx * t + ty) * t + tz]
    }

    /// Token count of every non-zero label present.
    pub fn token_counts(&self) -> BTreeMap<u16, usize> {
        count_labels(&self.labels)
    }
}

/// How often each non-zero label occurs.
pub(crate) fn count_labels(labels: &[u16]) -> BTreeMap<u16, usize> {
    let mut counts = BTreeMap::new();
    for &l in labels.iter().filter(|&&l| l != 0) {
        *counts.entry(l).or_insert(0) += 1;
    }
    counts
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::volume::{Affine, Grid};

    #[test]
    fn crop_and_pad_follow_the_spec() {
        let g = TokenGeometry::REFERENCE;
        // 109 -> crop, start (109-96)/2 = 6.
        assert_eq!(g.source_index(109, 0), Some(6));
        assert_eq!(g.source_index(109, 95), Some(101));
        // 91 -> pad 5 = 3 before, 2 after.
        assert_eq!(g.source_index(91, 2), None);
        assert_eq!(g.source_index(91, 3), Some(0));
        assert_eq!(g.source_index(91, 93), Some(90));
        assert_eq!(g.source_index(91, 94), None);
        assert_eq!(g.source_index(96, 17), Some(17));
    }

    #[test]
    fn majority_wins_and_ties_go_to_the_lower_id() {
        let g = TokenGeometry {
            input: 4,
            patch: 2,
            voxel_um: 2000,
        };
        let grid = Grid::new([4, 4, 4], Affine::identity());
        let mut labels = vec![0u16; 64];
        // Token (0,0,0): three voxels of 5, two of 3 -> 5.
        for (n, (i, j, k)) in [(0, 0, 0), (1, 0, 0), (0, 1, 0), (1, 1, 0), (0, 0, 1)]
            .iter()
            .enumerate()
        {
            labels[grid.index(*i, *j, *k)] = if n < 3 { 5 } else { 3 };
        }
        // Token (1,1,1): one voxel of 9 and one of 7 -> tie -> 7.
        labels[grid.index(2, 2, 2)] = 9;
        labels[grid.index(3, 3, 3)] = 7;
        let map = TokenMap::from_labels(&LabelMap { grid, labels }, g);
        assert_eq!(map.at(0, 0, 0), 5);
        assert_eq!(map.at(1, 1, 1), 7);
        assert_eq!(map.at(1, 0, 0), 0);
        assert_eq!(map.token_counts().len(), 2);
    }
}
