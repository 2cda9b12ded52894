//! The set of AAL3 regions the region panel marks as masked: toggling with
//! or without the contralateral partner, select all / none / invert, the
//! panel's substring filter, and conversion to and from the compact
//! [`RegionSelection`] (whole lobes + names) that mask configs store.

use super::ViewerError;
use crate::atlas::{Hemisphere, Lobe, Region, RegionTable};
use crate::masking::{MaskLevel, MaskSpec, MaskStrategy, RegionSelection};
use std::collections::BTreeSet;

/// The label ids of the regions currently selected for masking.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MaskSelection {
    ids: BTreeSet<u16>,
}

impl MaskSelection {
    /// Whether region `id` is masked.
    pub fn contains(&self, id: u16) -> bool {
        self.ids.contains(&id)
    }

    /// The masked label ids, ascending.
    pub fn ids(&self) -> &BTreeSet<u16> {
        &self.ids
    }

    /// Number of masked regions.
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// Whether nothing is masked.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Flips `id`; with `both_hemispheres` the contralateral partner (same
    /// name, `_L` <-> `_R`) gets the same new state. Ids not in `table` are
    /// ignored.
    pub fn toggle(&mut self, table: &RegionTable, id: u16, both_hemispheres: bool) {
        let masked = !self.contains(id);
        self.set(table, id, masked, both_hemispheres);
    }

    /// Masks (or unmasks) `id`, and with `both_hemispheres` its
    /// contralateral partner too. Ids not in `table` are ignored.
    pub fn set(&mut self, table: &RegionTable, id: u16, masked: bool, both_hemispheres: bool) {
        if table.get(id).is_none() {
            return;
        }
        let partner = both_hemispheres.then(|| contralateral(table, id)).flatten();
        for id in std::iter::once(id).chain(partner) {
            if masked {
                self.ids.insert(id);
            } else {
                self.ids.remove(&id);
            }
        }
    }

    /// Masks (or unmasks) every id of `ids` (e.g. one lobe, or the regions
    /// the filter shows).
    pub fn set_all(&mut self, ids: impl IntoIterator<Item = u16>, masked: bool) {
        for id in ids {
            if masked {
                self.ids.insert(id);
            } else {
                self.ids.remove(&id);
            }
        }
    }

    /// Flips every id of `ids`; ids not listed keep their state.
    pub fn invert(&mut self, ids: impl IntoIterator<Item = u16>) {
        for id in ids {
            if !self.ids.remove(&id) {
                self.ids.insert(id);
            }
        }
    }

    /// Compact form for configs: lobes whose regions are all selected
    /// become `lobes` (in [`Lobe::ALL`] order), the remaining regions
    /// `names` (AAL3 names, in label order). Ids not in `table` are dropped.
    pub fn to_region_selection(&self, table: &RegionTable) -> RegionSelection {
        let mut lobes = Vec::new();
        let mut names = Vec::new();
        for lobe in Lobe::ALL {
            let members: Vec<&Region> = table.in_group(lobe).collect();
            if members.is_empty() {
                continue;
            }
            if members.iter().all(|r| self.contains(r.id)) {
                lobes.push(lobe);
            }
        }
        for region in table.iter() {
            if self.contains(region.id) && !lobes.contains(&region.group) {
                names.push(region.name.clone());
            }
        }
        RegionSelection { lobes, names }
    }

    /// The regions a stored selection names. An empty selection is allowed
    /// (nothing masked); an unknown region name is an error that says so.
    pub fn from_region_selection(
        sel: &RegionSelection,
        table: &RegionTable,
    ) -> Result<MaskSelection, ViewerError> {
        let mut ids: BTreeSet<u16> = sel
            .lobes
            .iter()
            .flat_map(|&lobe| table.in_group(lobe).map(|r| r.id))
            .collect();
        if !sel.names.is_empty() {
            let by_name = RegionSelection {
                lobes: Vec::new(),
                names: sel.names.clone(),
            };
            ids.extend(by_name.resolve(table)?);
        }
        Ok(MaskSelection { ids })
    }

    /// The regions named by a user (`--regions limbic,Precentral_L`): lobe
    /// names select their lobe, other names a region; empty selects nothing.
    pub fn from_names<S: AsRef<str>>(
        names: &[S],
        table: &RegionTable,
    ) -> Result<MaskSelection, ViewerError> {
        Self::from_region_selection(&RegionSelection::from_names(names), table)
    }

    /// An ROI [`MaskSpec`] (strategy `Roi`) masking these regions.
    pub fn to_mask_spec(
        &self,
        table: &RegionTable,
        level: MaskLevel,
        partial: Option<f64>,
        seed: u64,
    ) -> MaskSpec {
        MaskSpec {
            strategy: MaskStrategy::Roi {
                regions: self.to_region_selection(table),
                partial,
                level,
            },
            seed,
            time: Default::default(),
        }
    }
}

/// The region on the other side with the same name (`Hippocampus_L` <->
/// `Hippocampus_R`); `None` for midline regions or when the table has no
/// partner.
pub fn contralateral(table: &RegionTable, id: u16) -> Option<u16> {
    let region = table.get(id)?;
    let (from, to) = match region.hemisphere {
        Hemisphere::L => ("_L", "_R"),
        Hemisphere::R => ("_R", "_L"),
        Hemisphere::M => return None,
    };
    let stem = region.name.strip_suffix(from)?;
    table
        .by_name(&format!("{stem}{to}"))
        .filter(|partner| partner.id != id)
        .map(|partner| partner.id)
}

/// Case-insensitive substring match on the region name or its lobe name;
/// an empty (or all-blank) filter matches every region.
pub fn matches_filter(region: &Region, filter: &str) -> bool {
    let needle = filter.trim().to_lowercase();
    needle.is_empty()
        || region.name.to_lowercase().contains(&needle)
        || region.group.name().contains(&needle)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::viewer::test_support::aal3_table;

    fn id(table: &RegionTable, name: &str) -> u16 {
        table.by_name(name).unwrap().id
    }

    #[test]
    fn contralateral_pairs_left_and_right_and_skips_midline() {
        let t = aal3_table();
        assert_eq!(contralateral(&t, 41), Some(42)); // Hippocampus_L -> _R
        assert_eq!(contralateral(&t, 42), Some(41));
        assert_eq!(contralateral(&t, 1), Some(2)); // Precentral
        assert_eq!(contralateral(&t, 113), None); // Vermis_1_2
        assert_eq!(contralateral(&t, 169), None); // Raphe_D
        assert_eq!(contralateral(&t, 35), None); // unused id
    }

    #[test]
    fn toggle_flips_one_or_both_hemispheres() {
        let t = aal3_table();
        let mut s = MaskSelection::default();
        s.toggle(&t, 41, true);
        assert_eq!(s.ids().iter().copied().collect::<Vec<_>>(), vec![41, 42]);
        s.toggle(&t, 42, false);
        assert_eq!(s.ids().iter().copied().collect::<Vec<_>>(), vec![41]);
        // Both-hemisphere toggle of a half-selected pair: 41 becomes
        // unmasked, and the partner follows 41's new state.
        s.toggle(&t, 41, true);
        assert!(s.is_empty());
        s.toggle(&t, 113, true); // midline: only itself
        assert_eq!(s.len(), 1);
        s.toggle(&t, 35, true); // unused id: ignored
        assert_eq!(s.len(), 1);
        s.set(&t, 1, true, false);
        s.set(&t, 1, true, false);
        assert!(s.contains(1) && !s.contains(2));
    }

    #[test]
    fn set_all_and_invert_touch_only_the_given_ids() {
        let mut s = MaskSelection::default();
        s.set_all([1, 2, 3], true);
        s.set_all([2], false);
        assert_eq!(s.ids().iter().copied().collect::<Vec<_>>(), vec![1, 3]);
        s.invert([3, 4]);
        assert_eq!(s.ids().iter().copied().collect::<Vec<_>>(), vec![1, 4]);
    }

    #[test]
    fn full_lobes_compact_to_lobes_and_the_rest_to_names() {
        let t = aal3_table();
        let mut s = MaskSelection::default();
        s.set_all(t.in_group(Lobe::Limbic).map(|r| r.id), true);
        s.set(&t, id(&t, "Precentral_L"), true, false);
        s.set(&t, id(&t, "Caudate_R"), true, false);
        let sel = s.to_region_selection(&t);
        assert_eq!(sel.lobes, vec![Lobe::Limbic]);
        assert_eq!(sel.names, vec!["Precentral_L", "Caudate_R"]);
        assert_eq!(MaskSelection::from_region_selection(&sel, &t).unwrap(), s);
        // 18 limbic regions + 2 named.
        assert_eq!(s.len(), 20);

        // One limbic region short of the lobe: all names, no lobe.
        s.set(&t, id(&t, "Insula_L"), false, false);
        let sel = s.to_region_selection(&t);
        assert!(sel.lobes.is_empty());
        assert_eq!(sel.names.len(), 19);
        assert_eq!(sel.names[0], "Precentral_L");
    }

    #[test]
    fn from_region_selection_allows_empty_and_names_unknown_regions() {
        let t = aal3_table();
        let empty = MaskSelection::from_region_selection(&RegionSelection::default(), &t);
        assert_eq!(empty.unwrap(), MaskSelection::default());
        let bad = RegionSelection {
            lobes: vec![],
            names: vec!["Hippocampus_X".into()],
        };
        let err = MaskSelection::from_region_selection(&bad, &t).unwrap_err();
        assert!(matches!(err, ViewerError::Mask(_)), "{err}");
        assert!(err.to_string().contains("Hippocampus_X"), "{err}");
    }

    #[test]
    fn mask_spec_is_roi_with_the_compact_regions() {
        let t = aal3_table();
        let mut s = MaskSelection::default();
        s.toggle(&t, 41, true);
        let spec = s.to_mask_spec(&t, MaskLevel::Voxel, Some(0.5), 7);
        assert_eq!(spec.seed, 7);
        let MaskStrategy::Roi {
            regions,
            partial,
            level,
        } = spec.strategy
        else {
            panic!("expected an ROI strategy");
        };
        assert_eq!(regions.names, vec!["Hippocampus_L", "Hippocampus_R"]);
        assert!(regions.lobes.is_empty());
        assert_eq!((partial, level), (Some(0.5), MaskLevel::Voxel));
    }

    #[test]
    fn filter_matches_name_or_lobe_ignoring_case() {
        let t = aal3_table();
        let hippo = t.get(41).unwrap();
        assert!(matches_filter(hippo, ""));
        assert!(matches_filter(hippo, "  "));
        assert!(matches_filter(hippo, "HIPPO"));
        assert!(matches_filter(hippo, "limb"));
        assert!(!matches_filter(hippo, "frontal"));
        let parahippo = t.get(43).unwrap();
        assert!(matches_filter(parahippo, "hippo"));
    }
}
