//! The AAL3 region table: label id, name, hemisphere and lobe group of each
//! of the 166 regions. Label ids are keys, never array positions (ids run
//! 1-170 with 35, 36, 81 and 82 unused). A bad table is an [`AtlasError`]
//! naming the line.

use super::error::AtlasError;
use serde::Serialize;
use std::collections::BTreeMap;

/// Which side of the brain a region is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum Hemisphere {
    /// Left (world x < 0).
    L,
    /// Right (world x > 0).
    R,
    /// Midline (vermis, raphe).
    M,
}

/// The seven lobe groups regions are masked by.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum Lobe {
    Frontal,
    Parietal,
    Temporal,
    Occipital,
    Limbic,
    Subcortical,
    Cerebellum,
}

impl Lobe {
    /// All groups in display order.
    pub const ALL: [Lobe; 7] = [
        Lobe::Frontal,
        Lobe::Parietal,
        Lobe::Temporal,
        Lobe::Occipital,
        Lobe::Limbic,
        Lobe::Subcortical,
        Lobe::Cerebellum,
    ];

    /// The lowercase name used in files and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Lobe::Frontal => "frontal",
            Lobe::Parietal => "parietal",
            Lobe::Temporal => "temporal",
            Lobe::Occipital => "occipital",
            Lobe::Limbic => "limbic",
            Lobe::Subcortical => "subcortical",
            Lobe::Cerebellum => "cerebellum",
        }
    }

    /// The group of a lowercase name.
    pub fn from_name(name: &str) -> Option<Lobe> {
        Lobe::ALL
            .into_iter()
            .find(|l| l.name() == name.trim().to_ascii_lowercase())
    }
}

/// One atlas region.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Region {
    /// The label value in the atlas volume.
    pub id: u16,
    /// The AAL3 name, e.g. `Precentral_L`.
    pub name: String,
    /// Its side.
    pub hemisphere: Hemisphere,
    /// Its AAL3 lobe. Meaningful only when the table is grouped by lobes
    /// ([`RegionTable::is_lobe_grouped`], the built-in AAL3); for any other
    /// atlas it is a placeholder (`Lobe::Frontal`) that
    /// [`RegionTable::in_group`] never matches: use `group_name` there.
    pub group: Lobe,
    /// The atlas's own group of the region: the lobe's name for AAL3, the
    /// table's group column or a name-derived group (Schaefer `LH_Vis`) for
    /// a user atlas, `all` when the atlas has no grouping.
    pub group_name: String,
}

/// All regions of an atlas, keyed by label id.
#[derive(Debug, Clone, PartialEq)]
pub struct RegionTable {
    regions: BTreeMap<u16, Region>,
    /// Group names in display order.
    groups: Vec<String>,
    /// Whether `Region::group` holds real AAL3 lobes.
    lobes: bool,
}

impl RegionTable {
    /// Parses a TSV with the header `index name hemisphere group`.
    pub fn from_tsv(text: &str) -> Result<RegionTable, AtlasError> {
        let tsv = |e: csv::Error| AtlasError::Tsv {
            reason: e.to_string().replace('\n', " "),
        };
        let mut reader = csv::ReaderBuilder::new()
            .delimiter(b'\t')
            .from_reader(text.as_bytes());
        let headers = reader.headers().map_err(tsv)?.clone();
        let col = |column: &'static str| {
            headers
                .iter()
                .position(|h| h == column)
                .ok_or(AtlasError::MissingColumn { column })
        };
        let (ci, cn, ch, cg) = (
            col("index")?,
            col("name")?,
            col("hemisphere")?,
            col("group")?,
        );
        let mut regions = BTreeMap::new();
        for (i, record) in reader.records().enumerate() {
            let record = record.map_err(tsv)?;
            let at = |c: usize| record.get(c).unwrap_or("").trim();
            let line = i + 2;
            let id: u16 = at(ci).parse().map_err(|_| AtlasError::BadIndex {
                line,
                value: at(ci).to_string(),
            })?;
            let hemisphere = match at(ch) {
                "L" => Hemisphere::L,
                "R" => Hemisphere::R,
                "M" => Hemisphere::M,
                other => {
                    return Err(AtlasError::BadHemisphere {
                        line,
                        value: other.to_string(),
                    });
                }
            };
            let group = Lobe::from_name(at(cg)).ok_or_else(|| AtlasError::UnknownGroup {
                line,
                value: at(cg).to_string(),
            })?;
            let region = Region {
                id,
                name: at(cn).to_string(),
                hemisphere,
                group,
                group_name: group.name().to_string(),
            };
            if regions.insert(id, region).is_some() {
                return Err(AtlasError::DuplicateId { line, id });
            }
        }
        Ok(RegionTable {
            regions,
            groups: Lobe::ALL.map(|l| l.name().to_string()).to_vec(),
            lobes: true,
        })
    }

    /// A table of user-atlas regions grouped by `group_name`, in the order
    /// the groups first appear in label order. When every group name is a
    /// lobe name the regions' `group` is set from it and the table counts
    /// as lobe-grouped.
    pub(crate) fn from_named(regions: Vec<Region>) -> RegionTable {
        let lobes = regions
            .iter()
            .all(|r| Lobe::from_name(&r.group_name).is_some());
        let mut map = BTreeMap::new();
        for mut r in regions {
            if lobes {
                r.group = Lobe::from_name(&r.group_name).expect("checked above");
                r.group_name = r.group.name().to_string();
            }
            map.insert(r.id, r);
        }
        let groups = if lobes {
            Lobe::ALL
                .into_iter()
                .filter(|l| map.values().any(|r: &Region| r.group == *l))
                .map(|l| l.name().to_string())
                .collect()
        } else {
            let mut g: Vec<String> = Vec::new();
            for r in map.values() {
                if !g.contains(&r.group_name) {
                    g.push(r.group_name.clone());
                }
            }
            g
        };
        RegionTable {
            regions: map,
            groups,
            lobes,
        }
    }

    /// The atlas's group names in display order (the 7 lobes for AAL3).
    pub fn groups(&self) -> &[String] {
        &self.groups
    }

    /// Whether the regions are grouped by the AAL3 lobes (so `Region::group`
    /// and [`RegionTable::in_group`] are meaningful).
    pub fn is_lobe_grouped(&self) -> bool {
        self.lobes
    }

    /// The regions of the group called `name` (case-insensitive), in label
    /// order.
    pub fn in_named_group<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Region> + 'a {
        self.regions
            .values()
            .filter(move |r| r.group_name.eq_ignore_ascii_case(name))
    }

    /// Number of regions.
    pub fn len(&self) -> usize {
        self.regions.len()
    }

    /// Whether the table is empty.
    pub fn is_empty(&self) -> bool {
        self.regions.is_empty()
    }

    /// The region with label `id`.
    pub fn get(&self, id: u16) -> Option<&Region> {
        self.regions.get(&id)
    }

    /// The region called `name` (exact, case-insensitive).
    pub fn by_name(&self, name: &str) -> Option<&Region> {
        self.regions
            .values()
            .find(|r| r.name.eq_ignore_ascii_case(name))
    }

    /// All regions in label order.
    pub fn iter(&self) -> impl Iterator<Item = &Region> {
        self.regions.values()
    }

    /// The regions of one lobe group, in label order; none for an atlas
    /// that is not grouped by lobes.
    pub fn in_group(&self, group: Lobe) -> impl Iterator<Item = &Region> {
        let lobes = self.lobes;
        self.regions
            .values()
            .filter(move |r| lobes && r.group == group)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_refuses_bad_rows() {
        let t = RegionTable::from_tsv(
            "index\tname\themisphere\tgroup\n7\tA_L\tL\tfrontal\n9\tB\tM\tcerebellum\n",
        )
        .unwrap();
        assert_eq!(t.len(), 2);
        assert_eq!(t.get(9).unwrap().group, Lobe::Cerebellum);
        assert!(t.get(1).is_none());
        assert_eq!(t.by_name("a_l").unwrap().id, 7);
        assert!(matches!(
            RegionTable::from_tsv("index\tname\themisphere\tgroup\nx\tA\tL\tfrontal\n"),
            Err(AtlasError::BadIndex { line: 2, .. })
        ));
        assert!(
            RegionTable::from_tsv("index\tname\themisphere\tgroup\n1\tA\tQ\tfrontal\n").is_err()
        );
        assert!(RegionTable::from_tsv("index\tname\themisphere\tgroup\n1\tA\tL\tnose\n").is_err());
        assert!(
            RegionTable::from_tsv(
                "index\tname\themisphere\tgroup\n1\tA\tL\tfrontal\n1\tB\tR\tfrontal\n"
            )
            .is_err()
        );
    }
}
