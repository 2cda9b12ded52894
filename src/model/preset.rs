//! The three model presets as one enum, [`Preset`], and everything decided
//! per preset: its model config, the data geometry it reads (input cube,
//! patch, voxel size), the standard grid behind it, the grid synthetic data
//! are generated on, and whether augmentation is on by default. Presets are
//! written by name (`reference`, `mni4mm`, `tiny`) in run configs, mask
//! files and on the command line.

use super::config::ModelConfig;
use super::error::ModelError;
use crate::atlas::TokenGeometry;
use crate::data::GridChoice;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A model preset by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Preset {
    /// The published NeuroSTORM model: 96³×20 input at 2 mm, 6³ patches.
    Reference,
    /// 4 mm data (48³×20, 3³ patches): the same 16³ token grid as `Reference`.
    Mni4mm,
    /// A small model for tests and CPU demos: 24³×8 input at 8 mm, 3³ patches.
    Tiny,
}

impl Preset {
    /// Every preset, largest first (the order error messages list them in).
    pub const ALL: [Preset; 3] = [Preset::Reference, Preset::Mni4mm, Preset::Tiny];

    /// The name used in files and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Preset::Reference => "reference",
            Preset::Mni4mm => "mni4mm",
            Preset::Tiny => "tiny",
        }
    }

    /// The preset's model.
    pub fn model(self) -> ModelConfig {
        match self {
            Preset::Reference => ModelConfig::reference(),
            Preset::Mni4mm => ModelConfig::mni4mm(),
            Preset::Tiny => ModelConfig::tiny(),
        }
    }

    /// The input cube, patching and voxel size of the data it reads.
    pub fn token_geometry(self) -> TokenGeometry {
        match self {
            Preset::Reference => TokenGeometry::REFERENCE,
            Preset::Mni4mm => TokenGeometry::MNI4MM,
            Preset::Tiny => TokenGeometry::TINY,
        }
    }

    /// The standard grid whose data this preset reads as they are; `None`
    /// for `tiny`, which reads an 8 mm grid.
    pub fn grid(self) -> Option<GridChoice> {
        match self {
            Preset::Reference => Some(GridChoice::Mni2mm),
            Preset::Mni4mm => Some(GridChoice::Mni4mm),
            Preset::Tiny => None,
        }
    }

    /// The MNI grid synthetic data are generated on (the model grid is this
    /// grid at the preset's voxel size).
    pub fn source_grid(self) -> GridChoice {
        self.grid().unwrap_or(GridChoice::Mni4mm)
    }

    /// Whether training clips are augmented when the run config leaves it
    /// unset (on for the full-size presets, off for `tiny`).
    pub fn augments_by_default(self) -> bool {
        self != Preset::Tiny
    }

    /// The preset whose data geometry (input, patch, frames) is `model`'s.
    pub fn of_geometry(model: &ModelConfig) -> Option<Preset> {
        Preset::ALL.into_iter().find(|p| {
            let m = p.model();
            (m.input, m.patch, m.frames) == (model.input, model.patch, model.frames)
        })
    }

    /// The valid names, comma-separated (for messages).
    pub fn names() -> String {
        Preset::ALL.map(Preset::name).join(", ")
    }
}

impl fmt::Display for Preset {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Preset {
    type Err = ModelError;

    fn from_str(s: &str) -> Result<Self, ModelError> {
        Preset::ALL
            .into_iter()
            .find(|p| p.name() == s)
            .ok_or_else(|| ModelError::UnknownPreset {
                name: s.to_string(),
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_an_unknown_name_lists_the_valid_ones() {
        for p in Preset::ALL {
            assert_eq!(p.name().parse::<Preset>().unwrap(), p);
            assert_eq!(p.model().name, p.name());
            assert_eq!(p.to_string(), p.name());
            assert_eq!(Preset::of_geometry(&p.model()), Some(p));
            let g = p.token_geometry();
            assert_eq!((g.input, g.patch), (p.model().input, p.model().patch));
        }
        let e = "huge".parse::<Preset>().unwrap_err().to_string();
        assert_eq!(
            e,
            "unknown model preset 'huge'; choose one of: reference, mni4mm, tiny"
        );
    }

    #[test]
    fn serde_uses_the_lowercase_names() {
        #[derive(Serialize, Deserialize)]
        struct Doc {
            preset: Preset,
        }
        let doc: Doc = toml::from_str("preset = \"mni4mm\"").unwrap();
        assert_eq!(doc.preset, Preset::Mni4mm);
        assert_eq!(
            toml::to_string(&Doc {
                preset: Preset::Reference
            })
            .unwrap()
            .trim(),
            "preset = \"reference\""
        );
    }
}
