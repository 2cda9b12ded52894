//! Shared fixtures of the viewer's tests: the built-in AAL3 region table
//! (cheap) and the full atlas (decoded once per test binary).

use crate::assets;
use crate::atlas::{Atlas, RegionTable};
use std::sync::OnceLock;

/// The AAL3 region table.
pub(crate) fn aal3_table() -> RegionTable {
    RegionTable::from_tsv(assets::AAL3_LABELS_TSV).unwrap()
}

/// The AAL3 atlas, loaded on first use.
pub(crate) fn aal3_atlas() -> &'static Atlas {
    static ATLAS: OnceLock<Atlas> = OnceLock::new();
    ATLAS.get_or_init(|| Atlas::aal3().unwrap())
}
