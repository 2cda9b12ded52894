//! The two data grids the model presets read: MNI152 at 2 mm (reference,
//! 96³ input, 6³ patches) and at 4 mm (48³ input, 3³ patches, e.g. the
//! ADHD-200 preprocessed release). Both give a 16³ token grid; each is read
//! by one model preset ([`GridChoice::preset`]).

use crate::atlas::TokenGeometry;
use crate::model::Preset;
use crate::volume::Grid;
use serde::{Deserialize, Serialize};

/// Which standard grid data are resampled to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum GridChoice {
    /// MNI152 2 mm, 91 x 109 x 91.
    #[default]
    Mni2mm,
    /// MNI152 4 mm, 46 x 55 x 46 (same field of view).
    Mni4mm,
}

impl GridChoice {
    /// The world-space grid.
    pub fn grid(self) -> Grid {
        match self {
            GridChoice::Mni2mm => Grid::mni_2mm(),
            GridChoice::Mni4mm => Grid::mni_2mm().with_voxel_size(4.0),
        }
    }

    /// The model preset that reads this grid.
    pub fn preset(self) -> Preset {
        match self {
            GridChoice::Mni2mm => Preset::Reference,
            GridChoice::Mni4mm => Preset::Mni4mm,
        }
    }

    /// Input cube and patching of the model that reads this grid.
    pub fn geometry(self) -> TokenGeometry {
        self.preset().token_geometry()
    }

    /// The name used on the command line and in files.
    pub fn name(self) -> &'static str {
        match self {
            GridChoice::Mni2mm => "mni2mm",
            GridChoice::Mni4mm => "mni4mm",
        }
    }
}
