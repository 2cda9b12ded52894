//! Saving and loading a mask selection as TOML: the model preset plus a
//! `[mask]` table that is a [`MaskSpec`], so the same file loads wherever a
//! run config has a `mask: MaskSpec` field.
//!
//! ```toml
//! preset = "reference"
//!
//! [mask]
//! kind = "roi"
//! level = "token"
//! seed = 0
//!
//! [mask.regions]
//! lobes = ["limbic"]
//! names = ["Precentral_L"]
//! ```

use super::ViewerError;
use crate::fsutil::{DocKind, load_toml, save_toml};
use crate::masking::MaskSpec;
use crate::model::Preset;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// How a mask file is named in errors and where its format is told.
const MASK_FILE: DocKind = DocKind {
    what: "mask file",
    hint: "it needs `preset = \"...\"` and a [mask] table with `kind`",
};

/// A saved mask: which model preset it was made for and the mask itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SelectionFile {
    /// The model preset it was made for (`reference`, `mni4mm`, `tiny`).
    pub preset: Preset,
    /// The mask (any strategy; the region panel writes `kind = "roi"`).
    pub mask: MaskSpec,
}

/// Writes `file` as TOML to `path`, atomically (temporary file + rename),
/// so an interrupted save never leaves half a file.
pub fn save_selection(path: &Path, file: &SelectionFile) -> Result<(), ViewerError> {
    Ok(save_toml(path, file, MASK_FILE.what)?)
}

/// Reads a mask file written by [`save_selection`] (or by hand), checking
/// its ratios; errors name the file and the problem in one line.
pub fn load_selection(path: &Path) -> Result<SelectionFile, ViewerError> {
    Ok(load_toml(path, MASK_FILE, |f: &SelectionFile| {
        f.mask.validate()
    })?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::atlas::Lobe;
    use crate::fsutil::DocError;
    use crate::masking::{MaskLevel, MaskStrategy};
    use crate::viewer::MaskSelection;
    use crate::viewer::test_support::aal3_table;

    fn limbic_plus_precentral() -> SelectionFile {
        let t = aal3_table();
        let mut s = MaskSelection::default();
        s.set_all(t.in_group(Lobe::Limbic).map(|r| r.id), true);
        s.set(&t, 1, true, false);
        SelectionFile {
            preset: Preset::Reference,
            mask: s.to_mask_spec(&t, MaskLevel::Token, None, 3),
        }
    }

    #[test]
    fn toml_text_has_the_documented_shape_and_round_trips() {
        let file = limbic_plus_precentral();
        let text = toml::to_string(&file).unwrap();
        let value: toml::Table = text.parse().unwrap();
        assert_eq!(value["preset"].as_str(), Some("reference"));
        let mask = value["mask"].as_table().unwrap();
        assert_eq!(mask["kind"].as_str(), Some("roi"));
        assert_eq!(mask["level"].as_str(), Some("token"));
        assert_eq!(mask["seed"].as_integer(), Some(3));
        let regions = mask["regions"].as_table().unwrap();
        assert_eq!(
            regions["lobes"].as_array().unwrap()[0].as_str(),
            Some("limbic")
        );
        assert_eq!(
            regions["names"].as_array().unwrap()[0].as_str(),
            Some("Precentral_L")
        );
        assert_eq!(toml::from_str::<SelectionFile>(&text).unwrap(), file);
    }

    #[test]
    fn save_then_load_gives_the_same_file_and_the_same_regions() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mask.toml");
        let file = limbic_plus_precentral();
        save_selection(&path, &file).unwrap();
        let back = load_selection(&path).unwrap();
        assert_eq!(back, file);
        let MaskStrategy::Roi { regions, .. } = &back.mask.strategy else {
            panic!("expected an ROI mask");
        };
        let t = aal3_table();
        let s = MaskSelection::from_region_selection(regions, &t).unwrap();
        assert_eq!(s.len(), 19);
        // No temporary file is left beside it.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn a_window_mask_loads_too() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("window.toml");
        std::fs::write(
            &path,
            "preset = \"mni4mm\"\n[mask]\nkind = \"window\"\nratio = 0.75\nwindow = [2, 2, 2, 4]\n",
        )
        .unwrap();
        let file = load_selection(&path).unwrap();
        assert_eq!(file.preset, Preset::Mni4mm);
        assert_eq!(
            file.mask.strategy,
            MaskStrategy::Window {
                ratio: 0.75,
                window: [2, 2, 2, 4]
            }
        );
        assert_eq!(file.mask.seed, 0);
    }

    #[test]
    fn bad_files_give_one_line_errors_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope.toml");
        let err = load_selection(&missing).unwrap_err();
        assert!(matches!(err, ViewerError::Doc(DocError::File(_))), "{err}");
        let err = err.to_string();
        assert!(err.starts_with(&missing.display().to_string()), "{err}");

        let broken = dir.path().join("broken.toml");
        std::fs::write(
            &broken,
            "preset = \"reference\"\n[mask]\nkind = \"spiral\"\n",
        )
        .unwrap();
        let err = load_selection(&broken).unwrap_err();
        assert!(
            matches!(err, ViewerError::Doc(DocError::Parse { .. })),
            "{err}"
        );
        let err = err.to_string();
        assert!(err.contains("broken.toml") && !err.contains('\n'), "{err}");

        let bad_ratio = dir.path().join("ratio.toml");
        std::fs::write(
            &bad_ratio,
            "preset = \"reference\"\n[mask]\nkind = \"random\"\nratio = 2.0\n",
        )
        .unwrap();
        let err = load_selection(&bad_ratio).unwrap_err();
        assert!(
            matches!(err, ViewerError::Doc(DocError::Invalid { .. })),
            "{err}"
        );
        let err = err.to_string();
        assert!(
            err.contains("ratio.toml") && err.contains("(0, 1]"),
            "{err}"
        );

        let no_folder = dir.path().join("missing-dir").join("m.toml");
        let err = save_selection(&no_folder, &limbic_plus_precentral())
            .unwrap_err()
            .to_string();
        assert!(err.contains("m.toml"), "{err}");
    }
}
