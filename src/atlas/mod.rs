//! The atlases: the built-in AAL3 (grouped by 7 lobes) and Schaefer
//! 100 × 7, and user atlases loaded and validated from a label NIfTI + table
//! ([`user`]); their region tables and groups, label volumes, resampling onto
//! any data grid, the token-level view the model sees, and the per-region /
//! per-group report behind `roimae atlas`. Knows nothing of burn or egui.
//! A table or atlas file that cannot be used is an [`AtlasError`].

pub mod error;
pub mod labels;
pub mod regions;
pub mod report;
pub mod tokens;
pub mod user;

pub use error::AtlasError;
pub use labels::LabelMap;
pub use regions::{Hemisphere, Lobe, Region, RegionTable};
pub use report::AtlasReport;
pub use tokens::{InputLabels, TokenGeometry, TokenMap};
pub use user::{AtlasLoadOptions, AtlasValidation};

use crate::assets;
use crate::volume::{Grid, VolumeError, read_volume_from_bytes};

/// An atlas: named regions and the 1 mm label volume they are drawn on.
#[derive(Debug, Clone)]
pub struct Atlas {
    /// The regions, keyed by label id.
    pub regions: RegionTable,
    /// The labels on the atlas's own grid.
    pub labels: LabelMap,
}

impl Atlas {
    /// The AAL3v1 atlas compiled into the binary.
    pub fn aal3() -> Result<Atlas, VolumeError> {
        let volume = read_volume_from_bytes("<built-in AAL3v1_1mm.nii.gz>", assets::AAL3_NII_GZ)?;
        let regions = RegionTable::from_tsv(assets::AAL3_LABELS_TSV)
            .expect("the built-in AAL3 region table is valid");
        Ok(Atlas {
            regions,
            labels: LabelMap::from_volume(&volume),
        })
    }

    /// The labels on `grid` (nearest neighbour through world space).
    pub fn on_grid(&self, grid: &Grid) -> LabelMap {
        self.labels.resampled_to(grid)
    }

    /// The token map the model sees for data on `grid`: the atlas is
    /// resampled to the model's voxel size over the grid's field of view,
    /// cropped/padded and patched as the data will be.
    pub fn token_map(&self, grid: &Grid, geometry: TokenGeometry) -> TokenMap {
        TokenMap::from_input(&self.input_labels(grid, geometry))
    }

    /// The labels of the model's input cube for data on `grid`: the atlas
    /// on the model-resolution grid over the same field of view, then
    /// cropped/padded to the input size.
    pub fn input_labels(&self, grid: &Grid, geometry: TokenGeometry) -> InputLabels {
        let model_grid = grid.with_voxel_size(geometry.voxel_mm());
        InputLabels::from_labels(&self.on_grid(&model_grid), geometry)
    }
}
