//! The per-region and per-lobe summary of the atlas on a grid (what
//! `roimae atlas` prints): voxel and token counts, lobe shares, regions that
//! vanish at token level or on the grid, and the left/right check.

use super::{Atlas, Lobe, TokenGeometry};
use crate::volume::Grid;
use serde::Serialize;
use serde::ser::{SerializeMap, Serializer};

/// One row per region.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RegionRow {
    /// Label id.
    pub id: u16,
    /// AAL3 name.
    pub name: String,
    /// `L`, `R` or `M`.
    pub hemisphere: super::Hemisphere,
    /// Lobe group (AAL3; a placeholder for atlases not grouped by lobes).
    #[serde(skip)]
    pub group: Lobe,
    /// The atlas's group name (the lobe's name for AAL3).
    #[serde(rename = "group")]
    pub group_name: String,
    /// Voxels on the grid.
    pub voxels: usize,
    /// Tokens whose majority label it is.
    pub tokens: usize,
}

/// Totals of one lobe group.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct GroupRow {
    /// Voxels of the group's regions on the grid.
    pub voxels: usize,
    /// Share of all labelled voxels, in percent.
    pub percent: f64,
    /// Tokens of the group's regions.
    pub tokens: usize,
}

/// Lobe totals in display order, serialised as an object keyed by name.
#[derive(Debug, Clone, PartialEq)]
pub struct Groups(pub Vec<(Lobe, GroupRow)>);

/// The atlas's own group totals in display order (the lobes for AAL3),
/// serialised as an object keyed by group name.
#[derive(Debug, Clone, PartialEq)]
pub struct NamedGroups(pub Vec<(String, GroupRow)>);

impl Serialize for NamedGroups {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (name, row) in &self.0 {
            map.serialize_entry(name, row)?;
        }
        map.end()
    }
}

impl Serialize for Groups {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (lobe, row) in &self.0 {
            map.serialize_entry(lobe.name(), row)?;
        }
        map.end()
    }
}

/// The atlas summarised on one grid.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AtlasReport {
    /// Shape of the grid the voxels were counted on.
    pub grid_shape: [usize; 3],
    /// Voxel sizes of that grid (mm).
    pub grid_voxel_mm: [f64; 3],
    /// Every region of the table, in label order.
    pub regions: Vec<RegionRow>,
    /// Lobe totals (empty for an atlas not grouped by lobes).
    #[serde(skip)]
    pub groups: Groups,
    /// Totals of the atlas's groups (the lobes for AAL3), in JSON as
    /// `groups`.
    #[serde(rename = "groups")]
    pub group_totals: NamedGroups,
    /// Names of regions present on the grid but owning no token.
    pub lost_at_token_level: Vec<String>,
    /// Names of regions with no voxel at all on the grid.
    pub empty_on_grid: Vec<String>,
    /// `"ok"` or the left/right warning.
    pub lr_check: String,
    /// Total labelled voxels.
    pub labelled_voxels: usize,
    /// Regions that own at least one token.
    pub regions_with_tokens: usize,
}

impl AtlasReport {
    /// Summarises `atlas` on `grid`, with tokens for `geometry`.
    pub fn build(atlas: &Atlas, grid: &Grid, geometry: TokenGeometry) -> AtlasReport {
        let labels = atlas.on_grid(grid);
        let voxel_counts = labels.voxel_counts();
        let token_counts = atlas.token_map(grid, geometry).token_counts();
        let regions: Vec<RegionRow> = atlas
            .regions
            .iter()
            .map(|r| RegionRow {
                id: r.id,
                name: r.name.clone(),
                hemisphere: r.hemisphere,
                group: r.group,
                group_name: r.group_name.clone(),
                voxels: voxel_counts.get(&r.id).copied().unwrap_or(0),
                tokens: token_counts.get(&r.id).copied().unwrap_or(0),
            })
            .collect();
        let labelled_voxels: usize = regions.iter().map(|r| r.voxels).sum();
        let totals = |keep: &dyn Fn(&RegionRow) -> bool| {
            let rows = regions.iter().filter(|r| keep(r));
            let voxels: usize = rows.clone().map(|r| r.voxels).sum();
            let tokens: usize = rows.map(|r| r.tokens).sum();
            let percent = if labelled_voxels == 0 {
                0.0
            } else {
                100.0 * voxels as f64 / labelled_voxels as f64
            };
            GroupRow {
                voxels,
                percent,
                tokens,
            }
        };
        let groups = if atlas.regions.is_lobe_grouped() {
            Lobe::ALL
                .iter()
                .map(|&lobe| (lobe, totals(&|r| r.group == lobe)))
                .collect()
        } else {
            Vec::new()
        };
        let group_totals = atlas
            .regions
            .groups()
            .iter()
            .map(|g| (g.clone(), totals(&|r| r.group_name == *g)))
            .collect();
        let names = |keep: fn(&RegionRow) -> bool| {
            regions
                .iter()
                .filter(|r| keep(r))
                .map(|r| r.name.clone())
                .collect::<Vec<_>>()
        };
        AtlasReport {
            grid_shape: grid.dims,
            grid_voxel_mm: grid.voxel_sizes(),
            lost_at_token_level: names(|r| r.voxels > 0 && r.tokens == 0),
            empty_on_grid: names(|r| r.voxels == 0),
            regions_with_tokens: regions.iter().filter(|r| r.tokens > 0).count(),
            lr_check: if labelled_voxels == 0 {
                "the atlas does not overlap this grid at all: the data is probably not in MNI space"
                    .to_string()
            } else {
                labels.left_right_check(&atlas.regions)
            },
            groups: Groups(groups),
            group_totals: NamedGroups(group_totals),
            regions,
            labelled_voxels,
        }
    }
}
