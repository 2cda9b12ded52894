//! The live summary under the region panel: how many voxels (on the 1 mm
//! atlas) and tokens (at the model's geometry) the current selection masks,
//! and which selected regions own no token, so masking them does nothing at
//! token level. Counts come from the atlas report, computed once per grid.

use super::MaskSelection;
use crate::atlas::{Atlas, AtlasReport, RegionTable};
use crate::data::GridChoice;
use std::collections::BTreeMap;

/// Per-region voxel counts on the 1 mm atlas and token counts at one model
/// geometry, computed once.
#[derive(Debug, Clone, PartialEq)]
pub struct RegionCounts {
    /// The grid the token counts were made for.
    choice: GridChoice,
    /// Voxels per region on the atlas's own (1 mm) grid.
    voxels: BTreeMap<u16, usize>,
    /// Tokens per region for data on `choice`'s grid.
    tokens: BTreeMap<u16, usize>,
    /// Tokens of the whole token grid (16³).
    total_tokens: usize,
}

/// What the current selection masks.
#[derive(Debug, Clone, PartialEq)]
pub struct MaskSummary {
    /// Selected regions.
    pub regions: usize,
    /// Voxels of the selected regions on the 1 mm atlas.
    pub masked_voxels: usize,
    /// Labelled voxels of the 1 mm atlas.
    pub brain_voxels: usize,
    /// Tokens whose majority label is a selected region.
    pub masked_tokens: usize,
    /// Tokens with any region as majority label.
    pub brain_tokens: usize,
    /// All tokens of the grid, background included.
    pub total_tokens: usize,
    /// `masked_voxels / brain_voxels` (0 when the atlas is empty).
    pub brain_fraction: f64,
    /// Names of selected regions present in the atlas that own no token at
    /// this geometry, in label order.
    pub vanished: Vec<String>,
}

impl RegionCounts {
    /// Counts voxels on the atlas's own grid and tokens for data on the
    /// model grid of `choice` (what the masker sees for that preset).
    pub fn compute(atlas: &Atlas, choice: GridChoice) -> RegionCounts {
        let geometry = choice.geometry();
        let report = AtlasReport::build(atlas, &choice.grid(), geometry);
        let tokens = report
            .regions
            .iter()
            .filter(|row| row.tokens > 0)
            .map(|row| (row.id, row.tokens))
            .collect();
        RegionCounts {
            choice,
            voxels: atlas.labels.voxel_counts(),
            tokens,
            total_tokens: geometry.tokens_per_axis().pow(3),
        }
    }

    /// The grid the token counts are for.
    pub fn choice(&self) -> GridChoice {
        self.choice
    }

    /// Voxels of region `id` on the 1 mm atlas (0 when absent).
    pub fn voxels(&self, id: u16) -> usize {
        self.voxels.get(&id).copied().unwrap_or(0)
    }

    /// Tokens of region `id` at this geometry (0 when it owns none).
    pub fn tokens(&self, id: u16) -> usize {
        self.tokens.get(&id).copied().unwrap_or(0)
    }

    /// Totals of `selection`; `table` names the vanished regions.
    pub fn summarise(&self, selection: &MaskSelection, table: &RegionTable) -> MaskSummary {
        let ids = selection.ids();
        let masked_voxels = ids.iter().map(|&id| self.voxels(id)).sum();
        let brain_voxels: usize = self.voxels.values().sum();
        let vanished = ids
            .iter()
            .filter(|&&id| self.voxels(id) > 0 && self.tokens(id) == 0)
            .map(|&id| {
                table
                    .get(id)
                    .map_or_else(|| format!("label {id}"), |r| r.name.clone())
            })
            .collect();
        MaskSummary {
            regions: ids.len(),
            masked_voxels,
            brain_voxels,
            masked_tokens: ids.iter().map(|&id| self.tokens(id)).sum(),
            brain_tokens: self.tokens.values().sum(),
            total_tokens: self.total_tokens,
            brain_fraction: if brain_voxels == 0 {
                0.0
            } else {
                masked_voxels as f64 / brain_voxels as f64
            },
            vanished,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::viewer::test_support::aal3_atlas;
    use std::sync::OnceLock;
    use std::time::Instant;

    fn reference_counts() -> &'static RegionCounts {
        static COUNTS: OnceLock<RegionCounts> = OnceLock::new();
        COUNTS.get_or_init(|| {
            let atlas = aal3_atlas();
            let start = Instant::now();
            let counts = RegionCounts::compute(atlas, GridChoice::Mni2mm);
            eprintln!("RegionCounts::compute(mni2mm) took {:?}", start.elapsed());
            counts
        })
    }

    // Expected numbers below come from numpy on the atlas file alone
    // (tests/data/atlas_truth.py: exact subsampling to the 2 mm / 4 mm
    // grids, crop/pad, majority tokens), not from the code under test.

    #[test]
    fn masked_voxels_and_tokens_sum_the_selected_regions() {
        let atlas = aal3_atlas();
        let counts = reference_counts();
        let mut s = MaskSelection::default();
        s.toggle(&atlas.regions, 41, true); // both hippocampi
        let summary = counts.summarise(&s, &atlas.regions);
        assert_eq!(summary.regions, 2);
        assert_eq!(summary.masked_voxels, 7_456 + 7_568);
        assert_eq!(summary.brain_voxels, 1_486_008);
        assert!(
            (summary.brain_fraction - summary.masked_voxels as f64 / 1_486_008.0).abs() < 1e-12
        );
        assert_eq!(summary.masked_tokens, 9 + 9);
        assert_eq!(summary.brain_tokens, 1_438);
        assert_eq!(summary.total_tokens, 16 * 16 * 16);
        assert!(summary.vanished.is_empty());
    }

    #[test]
    fn empty_selection_masks_nothing() {
        let atlas = aal3_atlas();
        let summary = reference_counts().summarise(&MaskSelection::default(), &atlas.regions);
        assert_eq!(
            (
                summary.regions,
                summary.masked_voxels,
                summary.masked_tokens
            ),
            (0, 0, 0)
        );
        assert_eq!(summary.brain_fraction, 0.0);
        assert!(summary.brain_voxels > 1_000_000);
    }

    #[test]
    fn everything_selected_vanishes_what_the_atlas_report_loses() {
        let atlas = aal3_atlas();
        let counts = reference_counts();
        let mut all = MaskSelection::default();
        all.set_all(atlas.regions.iter().map(|r| r.id), true);
        let summary = counts.summarise(&all, &atlas.regions);
        let expected: Vec<String> = [
            113, 118, 119, 121, 122, 123, 124, 131, 132, 133, 134, 137, 138, 139, 140, 141, 142,
            143, 144, 147, 148, 149, 150, 157, 158, 159, 161, 162, 167, 168, 169,
        ]
        .iter()
        .map(|&id| atlas.regions.get(id).unwrap().name.clone())
        .collect();
        assert_eq!(summary.vanished, expected);
        assert!(
            !summary.vanished.is_empty(),
            "AAL3 loses small nuclei at 6³ patches"
        );
        assert_eq!(summary.masked_voxels, summary.brain_voxels);
        assert_eq!(summary.masked_tokens, summary.brain_tokens);
        assert_eq!(summary.brain_fraction, 1.0);
    }

    #[test]
    fn four_mm_counts_match_numpy() {
        let atlas = aal3_atlas();
        let start = Instant::now();
        let counts = RegionCounts::compute(atlas, GridChoice::Mni4mm);
        eprintln!("RegionCounts::compute(mni4mm) took {:?}", start.elapsed());
        let expected = [
            (1u16, 30, 28_208),
            (41, 9, 7_456),
            (77, 7, 7_967),
            (95, 18, 20_824),
        ];
        for (id, tokens, voxels) in expected {
            assert_eq!(counts.tokens(id), tokens, "region {id}");
            assert_eq!(counts.voxels(id), voxels, "region {id}");
        }
        assert_eq!(counts.choice(), GridChoice::Mni4mm);
    }
}
