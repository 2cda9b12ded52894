//! The synthetic brain on the chosen grid: which voxels are brain (the
//! skull-stripped MNI152 T1 template), the AAL3 region of each, the
//! EPI-like baseline intensity and how strongly each voxel carries the BOLD
//! signal (grey matter more than white), both from the template's GM map.

use crate::assets;
use crate::atlas::Atlas;
use crate::data::GridChoice;
use crate::volume::{Grid, Interpolation, resample};
use std::sync::{Arc, Mutex, OnceLock};

/// Template voxels at least this fraction of the T1 maximum are brain.
const BRAIN_T1_FRACTION: f32 = 0.1;
/// Mean baseline intensity of brain voxels (arbitrary scanner units).
const BASELINE: f32 = 1000.0;

/// The brain voxels of a grid and their properties, in NIfTI order.
#[derive(Debug, Clone, PartialEq)]
pub struct Anatomy {
    /// The grid.
    pub grid: Grid,
    /// Linear indices of the brain voxels, ascending.
    pub brain: Vec<usize>,
    /// Per brain voxel: its AAL3 label id (0 = unlabelled tissue).
    pub labels: Vec<u16>,
    /// Per brain voxel: the baseline intensity.
    pub baseline: Vec<f32>,
    /// Per brain voxel: how much of its region's signal it carries (0.35
    /// in white matter up to 1 in grey matter).
    pub signal_weight: Vec<f32>,
    /// Per brain voxel: position scaled to [-1, 1] along each axis.
    pub position: Vec<[f32; 3]>,
}

/// The T1 and GM templates resampled onto a grid, as fractions of their
/// maxima.
struct TemplateMaps {
    t1: Vec<f32>,
    gm: Vec<f32>,
}

impl Anatomy {
    /// The anatomy of `grid` with `atlas`'s labels; label ids the atlas's
    /// region table does not list are treated as unlabelled tissue.
    pub fn new(grid: GridChoice, atlas: &Atlas) -> Anatomy {
        let maps = template_maps(grid);
        let grid = grid.grid();
        let atlas_labels = atlas.on_grid(&grid).labels;
        let [nx, ny, nz] = grid.dims;
        let scale = |n: usize| if n > 1 { 2.0 / (n - 1) as f32 } else { 0.0 };
        let (sx, sy, sz) = (scale(nx), scale(ny), scale(nz));
        let mut anatomy = Anatomy {
            grid,
            brain: Vec::new(),
            labels: Vec::new(),
            baseline: Vec::new(),
            signal_weight: Vec::new(),
            position: Vec::new(),
        };
        for (index, &t1) in maps.t1.iter().enumerate() {
            if t1 < BRAIN_T1_FRACTION {
                continue;
            }
            let gm = maps.gm[index].clamp(0.0, 1.0);
            let label = atlas_labels[index];
            let known = atlas.regions.get(label).is_some();
            let [i, j, k] = grid.ijk(index);
            anatomy.brain.push(index);
            anatomy.labels.push(if known { label } else { 0 });
            // EPI contrast: grey matter brighter than white, mild T1 texture.
            anatomy
                .baseline
                .push(BASELINE * (0.78 + 0.22 * gm) * (0.94 + 0.06 * t1.min(1.0)));
            anatomy.signal_weight.push(0.35 + 0.65 * gm);
            anatomy.position.push([
                i as f32 * sx - 1.0,
                j as f32 * sy - 1.0,
                k as f32 * sz - 1.0,
            ]);
        }
        anatomy
    }

    /// Whether the grid holds no brain at all.
    pub fn is_empty(&self) -> bool {
        self.brain.is_empty()
    }
}

/// Templates already resampled, per grid.
type TemplateCache = Mutex<Vec<(GridChoice, Arc<TemplateMaps>)>>;

/// The templates on `grid`, resampled once per process and grid.
fn template_maps(grid: GridChoice) -> Arc<TemplateMaps> {
    static CACHE: OnceLock<TemplateCache> = OnceLock::new();
    let cache = CACHE.get_or_init(|| Mutex::new(Vec::new()));
    let mut entries = cache
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some((_, maps)) = entries.iter().find(|(g, _)| *g == grid) {
        return Arc::clone(maps);
    }
    let target = grid.grid();
    let on_grid = |volume: crate::volume::Volume| {
        let max = volume.stats().max as f32;
        let scale = if max > 0.0 { 1.0 / max } else { 0.0 };
        let mut data = resample(&volume, &target, Interpolation::Trilinear, 0.0).data;
        data.iter_mut().for_each(|v| *v *= scale);
        data
    };
    let maps = Arc::new(TemplateMaps {
        t1: on_grid(assets::mni152_t1().expect("the built-in T1 template is valid")),
        gm: on_grid(assets::mni152_gm().expect("the built-in GM template is valid")),
    });
    entries.push((grid, Arc::clone(&maps)));
    maps
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_4mm_brain_is_a_plausible_size_and_mostly_labelled() {
        let atlas = Atlas::aal3().unwrap();
        let anatomy = Anatomy::new(GridChoice::Mni4mm, &atlas);
        // About 1.5 litres of brain in 64 mm³ voxels.
        let litres = anatomy.brain.len() as f64 * 64.0 / 1e6;
        assert!((1.2..2.0).contains(&litres), "{litres} litres");
        let labelled = anatomy.labels.iter().filter(|&&l| l > 0).count();
        assert!(labelled * 2 > anatomy.brain.len(), "{labelled} labelled");
        assert!(anatomy.baseline.iter().all(|&b| b > 500.0));
        assert!(anatomy.brain.windows(2).all(|w| w[0] < w[1]));
        assert!(
            anatomy
                .position
                .iter()
                .flatten()
                .all(|p| (-1.0..=1.0).contains(p))
        );
    }
}
