//! What a synthetic cohort looks like: size, grid, run length, TR, where
//! the planted effect sits and how strong it is, sites and seed — with the
//! checks that keep a configuration sensible before anything is generated
//! (a [`DataError`] naming the setting).

use crate::assets;
use crate::atlas::{Lobe, RegionTable};
use crate::data::{DataError, GridChoice};
use crate::masking::RegionSelection;
use serde::{Deserialize, Serialize};

/// The longest run accepted, in frames (a 2 mm subject of this length
/// already needs about 18 GB of memory).
pub const MAX_FRAMES: usize = 5000;

/// Everything that defines a synthetic cohort; the same configuration always
/// gives the same data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SynthConfig {
    /// Number of subjects (half controls, half patients).
    pub subjects: usize,
    /// The MNI grid the runs are written on.
    pub grid: GridChoice,
    /// Time points per run.
    pub frames: usize,
    /// Repetition time in seconds.
    pub tr: f64,
    /// The AAL3 regions where patients differ from controls.
    pub effect_regions: RegionSelection,
    /// Strength of the planted effect; 0 plants none.
    pub effect_size: f64,
    /// Number of acquisition sites (subjects are assigned round-robin).
    pub sites: usize,
    /// Seed of every random draw.
    pub seed: u64,
}

impl Default for SynthConfig {
    fn default() -> Self {
        SynthConfig {
            subjects: 8,
            grid: GridChoice::Mni2mm,
            frames: 120,
            tr: 2.0,
            effect_regions: RegionSelection {
                lobes: vec![Lobe::Limbic],
                names: Vec::new(),
            },
            effect_size: 1.0,
            sites: 2,
            seed: 0,
        }
    }
}

impl SynthConfig {
    /// Checks the numbers (at least 2 subjects, 20 to [`MAX_FRAMES`] frames,
    /// 1 to `subjects` sites, a finite effect size >= 0, a finite TR > 0) and
    /// that the effect regions name AAL3 lobes or regions.
    pub fn validate(&self) -> Result<(), DataError> {
        let out_of_range =
            |field: &'static str, value: &dyn std::fmt::Display, expected: String| {
                Err(DataError::OutOfRange {
                    field,
                    value: value.to_string(),
                    expected,
                })
            };
        if self.subjects < 2 {
            return out_of_range(
                "subjects",
                &self.subjects,
                "a cohort needs at least 2 subjects (one per class)".into(),
            );
        }
        if self.frames < 20 {
            return out_of_range(
                "frames",
                &self.frames,
                "runs need at least 20 frames (one model clip)".into(),
            );
        }
        if self.frames > MAX_FRAMES {
            return out_of_range(
                "frames",
                &self.frames,
                format!("runs of more than {MAX_FRAMES} frames are not supported"),
            );
        }
        if self.sites < 1 {
            return out_of_range(
                "sites",
                &self.sites,
                "a cohort needs at least 1 site".into(),
            );
        }
        if self.sites > self.subjects {
            return out_of_range(
                "sites",
                &self.sites,
                format!(
                    "{} sites for {} subjects would leave a site empty",
                    self.sites, self.subjects
                ),
            );
        }
        if !(self.effect_size.is_finite() && self.effect_size >= 0.0) {
            return out_of_range(
                "effect_size",
                &self.effect_size,
                "the effect size must be a finite number >= 0".into(),
            );
        }
        if !(self.tr.is_finite() && self.tr > 0.0) {
            return out_of_range(
                "tr",
                &self.tr,
                "the repetition time must be a finite number of seconds > 0".into(),
            );
        }
        self.effect_regions.resolve(&aal3_regions())?;
        Ok(())
    }
}

/// The built-in AAL3 region table (cheap: no label volume is decoded).
pub(crate) fn aal3_regions() -> RegionTable {
    RegionTable::from_tsv(assets::AAL3_LABELS_TSV).expect("the built-in AAL3 region table is valid")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_is_valid_and_each_rule_bites() {
        let ok = SynthConfig::default();
        ok.validate().unwrap();
        let bad = [
            SynthConfig {
                subjects: 1,
                ..ok.clone()
            },
            SynthConfig {
                frames: 19,
                ..ok.clone()
            },
            SynthConfig {
                frames: MAX_FRAMES + 1,
                ..ok.clone()
            },
            SynthConfig {
                sites: 0,
                ..ok.clone()
            },
            SynthConfig {
                sites: 9,
                ..ok.clone()
            },
            SynthConfig {
                effect_size: -0.1,
                ..ok.clone()
            },
            SynthConfig {
                effect_size: f64::NAN,
                ..ok.clone()
            },
            SynthConfig {
                tr: 0.0,
                ..ok.clone()
            },
            SynthConfig {
                effect_regions: RegionSelection {
                    lobes: vec![],
                    names: vec!["Nowhere_L".into()],
                },
                ..ok.clone()
            },
            SynthConfig {
                effect_regions: RegionSelection::default(),
                ..ok.clone()
            },
        ];
        for cfg in bad {
            assert!(cfg.validate().is_err(), "{cfg:?} should be refused");
        }
    }

    #[test]
    fn toml_round_trip_fills_missing_fields_with_defaults() {
        let cfg: SynthConfig = toml::from_str("subjects = 4\ngrid = \"mni4mm\"").unwrap();
        assert_eq!(cfg.subjects, 4);
        assert_eq!(cfg.grid, GridChoice::Mni4mm);
        assert_eq!(cfg.frames, 120);
        let text = toml::to_string(&cfg).unwrap();
        assert_eq!(toml::from_str::<SynthConfig>(&text).unwrap(), cfg);
    }
}
