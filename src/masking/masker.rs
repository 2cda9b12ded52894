//! Draws clip masks from a [`MaskSpec`]: deterministic for a (seed, clip)
//! pair, with region targets resolved once against the atlas. The spatial
//! draw comes first; a temporal mode ([`super::MaskTime`]) then draws the
//! frames of each masked unit (spatial token, region patch at voxel level,
//! spatial window), in ascending unit order, from the same stream.

use super::clip_mask::{ClipMask, TokenGrid};
use super::error::MaskError;
use super::spec::{MaskLevel, MaskSpec, MaskStrategy};
use crate::atlas::{InputLabels, RegionTable, TokenMap};
use rand::SeedableRng;
use rand::seq::index::sample;
use rand_chacha::ChaCha8Rng;

/// The selected regions at the model's resolutions.
#[derive(Debug, Clone)]
struct RoiTargets {
    /// Spatial token indices whose majority label is selected.
    tokens: Vec<usize>,
    /// Input voxels (row-major `input³`) whose label is selected.
    voxels: Vec<bool>,
    /// Spatial tokens whose patch holds at least one selected voxel
    /// (ascending): what partial masking draws from at voxel level, so that
    /// `partial = 1.0` masks every region voxel, as no partial does.
    voxel_tokens: Vec<usize>,
}

/// A resolved mask spec, ready to draw masks clip after clip.
#[derive(Debug, Clone)]
pub struct Masker {
    spec: MaskSpec,
    grid: TokenGrid,
    patch: usize,
    roi: Option<RoiTargets>,
    /// Atlas masking: per region present on the token grid (ascending
    /// label), its spatial tokens.
    atlas_regions: Vec<Vec<usize>>,
}

impl Masker {
    /// Resolves `spec` for a token grid of `frames` frames; ROI specs look
    /// their regions up in `table` and the atlas at input resolution.
    pub fn new(
        spec: &MaskSpec,
        input: &InputLabels,
        table: &RegionTable,
        frames: usize,
    ) -> Result<Self, MaskError> {
        spec.validate()?;
        let tokens = TokenMap::from_input(input);
        let t = input.geometry.tokens_per_axis();
        let grid = TokenGrid {
            spatial: [t; 3],
            frames,
        };
        let roi = match &spec.strategy {
            MaskStrategy::Roi { regions, .. } => {
                let ids = regions.resolve(table)?;
                let voxels: Vec<bool> = input.labels.iter().map(|l| ids.contains(l)).collect();
                Some(RoiTargets {
                    tokens: (0..grid.n_spatial())
                        .filter(|&i| ids.contains(&tokens.labels[i]))
                        .collect(),
                    voxel_tokens: tokens_holding(&voxels, input.geometry.patch, t),
                    voxels,
                })
            }
            _ => None,
        };
        let atlas_regions = match &spec.strategy {
            MaskStrategy::Atlas { .. } => {
                let mut by_label: std::collections::BTreeMap<u16, Vec<usize>> = Default::default();
                for (i, &label) in tokens.labels.iter().enumerate().take(grid.n_spatial()) {
                    if label > 0 {
                        by_label.entry(label).or_default().push(i);
                    }
                }
                if by_label.is_empty() {
                    return Err(MaskError::NoAtlasRegion);
                }
                by_label.into_values().collect()
            }
            _ => Vec::new(),
        };
        Ok(Masker {
            spec: spec.clone(),
            grid,
            patch: input.geometry.patch,
            roi,
            atlas_regions,
        })
    }

    /// The token grid masks are drawn on.
    pub fn grid(&self) -> TokenGrid {
        self.grid
    }

    /// Spatial tokens of the selected regions (ROI specs only).
    pub fn roi_token_count(&self) -> Option<usize> {
        self.roi.as_ref().map(|r| r.tokens.len())
    }

    /// The mask of clip number `clip` (the same every time it is asked for).
    pub fn mask(&self, clip: u64) -> ClipMask {
        let mut rng = ChaCha8Rng::seed_from_u64(self.spec.seed);
        rng.set_stream(clip);
        let g = self.grid;
        let time = self.spec.time;
        let mut tokens = vec![false; g.n_tokens()];
        let mut voxels = None;
        let amount = |ratio: f64, n: usize| ((ratio * n as f64).round() as usize).min(n);
        match &self.spec.strategy {
            MaskStrategy::Random { ratio } => {
                for i in sample(&mut rng, g.n_tokens(), amount(*ratio, g.n_tokens())) {
                    tokens[i] = true;
                }
            }
            MaskStrategy::Tube { ratio } => {
                for s in sample(&mut rng, g.n_spatial(), amount(*ratio, g.n_spatial())) {
                    tokens[s * g.frames..(s + 1) * g.frames].fill(true);
                }
            }
            MaskStrategy::Atlas { ratio } => {
                // NeuroSTORM: num_mask = max(1, int(R * ratio)) of the R regions.
                let r = self.atlas_regions.len();
                let count = (((r as f64) * ratio).floor() as usize).clamp(1, r);
                for region in sample(&mut rng, r, count) {
                    for &s in &self.atlas_regions[region] {
                        tokens[s * g.frames..(s + 1) * g.frames].fill(true);
                    }
                }
            }
            MaskStrategy::Window { ratio, window } => {
                let dims = [g.spatial[0], g.spatial[1], g.spatial[2], g.frames];
                let mut w: Vec<usize> = (0..4).map(|d| window[d].min(dims[d])).collect();
                if !time.is_all() {
                    // Spatial windows spanning the clip, as `window = [x, y,
                    // z, frames]` would draw them; their frames come below.
                    w[3] = dims[3];
                }
                let counts: Vec<usize> = (0..4).map(|d| dims[d].div_ceil(w[d])).collect();
                let n_windows: usize = counts.iter().product();
                let mut drawn = sample(&mut rng, n_windows, amount(*ratio, n_windows)).into_vec();
                if !time.is_all() {
                    drawn.sort_unstable();
                }
                for win in drawn {
                    let frames = if time.is_all() {
                        None
                    } else {
                        Some(time.draw(&mut rng, g.frames))
                    };
                    let wx = win / (counts[1] * counts[2] * counts[3]);
                    let wy = win / (counts[2] * counts[3]) % counts[1];
                    let wz = win / counts[3] % counts[2];
                    let wt = win % counts[3];
                    for x in wx * w[0]..((wx + 1) * w[0]).min(dims[0]) {
                        for y in wy * w[1]..((wy + 1) * w[1]).min(dims[1]) {
                            for z in wz * w[2]..((wz + 1) * w[2]).min(dims[2]) {
                                for t in wt * w[3]..((wt + 1) * w[3]).min(dims[3]) {
                                    tokens[g.index(x, y, z, t)] =
                                        frames.as_ref().is_none_or(|f| f[t]);
                                }
                            }
                        }
                    }
                }
            }
            MaskStrategy::Roi { partial, level, .. } => {
                let roi = self.roi.as_ref().expect("ROI targets resolved in new()");
                // Token level draws from the region's majority tokens; voxel
                // level from every patch that holds a region voxel.
                let pool = match level {
                    MaskLevel::Token => &roi.tokens,
                    MaskLevel::Voxel => &roi.voxel_tokens,
                };
                let mut chosen: Vec<usize> = match partial {
                    Some(f) => sample(&mut rng, pool.len(), amount(*f, pool.len()))
                        .into_iter()
                        .map(|i| pool[i])
                        .collect(),
                    None => pool.clone(),
                };
                match level {
                    MaskLevel::Token => {
                        for s in chosen {
                            tokens[s * g.frames..(s + 1) * g.frames].fill(true);
                        }
                    }
                    MaskLevel::Voxel if !time.is_all() => {
                        chosen.sort_unstable();
                        voxels = Some(self.voxels_over_time(&roi.voxels, &chosen, &mut rng));
                    }
                    MaskLevel::Voxel => {
                        voxels = Some(match partial {
                            None => roi.voxels.clone(),
                            Some(_) => self.voxels_in_tokens(&roi.voxels, &chosen),
                        });
                    }
                }
            }
        }
        // Tube, atlas and token-level ROI masks are tubes so far: each
        // masked spatial token now keeps only its drawn frames.
        let tubes = match &self.spec.strategy {
            MaskStrategy::Tube { .. } | MaskStrategy::Atlas { .. } => true,
            MaskStrategy::Roi { level, .. } => *level == MaskLevel::Token,
            MaskStrategy::Random { .. } | MaskStrategy::Window { .. } => false,
        };
        if tubes && !time.is_all() {
            for s in 0..g.n_spatial() {
                if tokens[s * g.frames] {
                    let frames = time.draw(&mut rng, g.frames);
                    tokens[s * g.frames..(s + 1) * g.frames].copy_from_slice(&frames);
                }
            }
        }
        ClipMask {
            grid: g,
            patch: self.patch,
            tokens,
            voxels,
            token: self.spec.strategy.mask_token(),
        }
    }

    /// `region` restricted to the patches of the given spatial tokens
    /// (ascending), each at the frames drawn for it: row-major `input³ ×
    /// frames`, t fastest.
    fn voxels_over_time(
        &self,
        region: &[bool],
        chosen: &[usize],
        rng: &mut ChaCha8Rng,
    ) -> Vec<bool> {
        let p = self.patch;
        let f = self.grid.frames;
        let [_, ny, nz] = self.grid.spatial;
        let n = self.grid.spatial[0] * p;
        let mut out = vec![false; region.len() * f];
        for &s in chosen {
            let frames = self.spec.time.draw(rng, f);
            let (x, y, z) = (s / (ny * nz), s / nz % ny, s % nz);
            for u in x * p..(x + 1) * p {
                for v in y * p..(y + 1) * p {
                    for w in z * p..(z + 1) * p {
                        let i = (u * n + v) * n + w;
                        if region[i] {
                            out[i * f..(i + 1) * f].copy_from_slice(&frames);
                        }
                    }
                }
            }
        }
        out
    }

    /// `region` restricted to the patches of the given spatial tokens.
    fn voxels_in_tokens(&self, region: &[bool], chosen: &[usize]) -> Vec<bool> {
        let p = self.patch;
        let [_, ny, nz] = self.grid.spatial;
        let n = self.grid.spatial[0] * p;
        let mut out = vec![false; region.len()];
        for &s in chosen {
            let (x, y, z) = (s / (ny * nz), s / nz % ny, s % nz);
            for u in x * p..(x + 1) * p {
                for v in y * p..(y + 1) * p {
                    for w in z * p..(z + 1) * p {
                        let i = (u * n + v) * n + w;
                        out[i] = region[i];
                    }
                }
            }
        }
        out
    }
}

/// Spatial tokens (row-major `t³`, patches of `patch³`) whose patch holds a
/// `true` voxel of the row-major `(t·patch)³` volume, ascending.
fn tokens_holding(voxels: &[bool], patch: usize, t: usize) -> Vec<usize> {
    let n = t * patch;
    let mut held = vec![false; t * t * t];
    for (i, _) in voxels.iter().enumerate().filter(|(_, v)| **v) {
        let (u, v, w) = (i / (n * n), i / n % n, i % n);
        held[((u / patch) * t + v / patch) * t + w / patch] = true;
    }
    (0..held.len()).filter(|&s| held[s]).collect()
}
