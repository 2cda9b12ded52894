//! Data files compiled into the binary, so the program runs anywhere without
//! the repository beside it: the AAL3 atlas with its region table, and the
//! MNI152 2009a template (T1 and grey-matter map). Provenance and licences:
//! `atlases/README.md`, `assets/README.md`.

use crate::volume::{Volume, VolumeError, read_volume_from_bytes};

/// AAL3v1, 1 mm MNI grid, uint8 labels.
pub const AAL3_NII_GZ: &[u8] = include_bytes!("../atlases/AAL3v1_1mm.nii.gz");
/// AAL3v1 region table: index, name, hemisphere, group.
pub const AAL3_LABELS_TSV: &str = include_str!("../atlases/AAL3v1_labels.tsv");
/// MNI152 2009a symmetric T1 template, 1 mm.
pub const MNI152_T1_NII_GZ: &[u8] = include_bytes!("../assets/MNI152_2009a_sym_T1_1mm.nii.gz");
/// MNI152 2009a symmetric grey-matter probability map, 1 mm.
pub const MNI152_GM_NII_GZ: &[u8] = include_bytes!("../assets/MNI152_2009a_sym_GM_1mm.nii.gz");

/// The MNI152 T1 template as a volume.
pub fn mni152_t1() -> Result<Volume, VolumeError> {
    read_volume_from_bytes("<built-in MNI152 T1 template>", MNI152_T1_NII_GZ)
}

/// The MNI152 grey-matter probability map as a volume.
pub fn mni152_gm() -> Result<Volume, VolumeError> {
    read_volume_from_bytes("<built-in MNI152 GM template>", MNI152_GM_NII_GZ)
}
