//! Small file-system helpers for the scanners: sorted directory listings
//! that never fail loudly, and NIfTI file-name recognition.

use std::path::{Path, PathBuf};

/// One directory entry: its file name and full path.
#[derive(Debug, Clone)]
pub(super) struct Entry {
    /// The file name (lossy UTF-8).
    pub name: String,
    /// The full path.
    pub path: PathBuf,
}

/// The entries of `dir` sorted by name; an unreadable folder lists as empty.
pub(super) fn list_dir(dir: &Path) -> Vec<Entry> {
    let Ok(read) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut entries: Vec<Entry> = read
        .filter_map(Result::ok)
        .map(|e| Entry {
            name: e.file_name().to_string_lossy().into_owned(),
            path: e.path(),
        })
        .collect();
    entries.sort_by(|a, b| a.name.cmp(&b.name));
    entries
}

/// The sub-folders of `dir`, sorted by name.
pub(super) fn sub_dirs(dir: &Path) -> Vec<Entry> {
    list_dir(dir)
        .into_iter()
        .filter(|e| e.path.is_dir())
        .collect()
}

/// The plain files of `dir`, sorted by name.
pub(super) fn files_in(dir: &Path) -> Vec<Entry> {
    list_dir(dir)
        .into_iter()
        .filter(|e| e.path.is_file())
        .collect()
}

/// The name without its `.nii.gz` or `.nii` extension, when it has one.
pub(super) fn nifti_stem(name: &str) -> Option<&str> {
    name.strip_suffix(".nii.gz")
        .or_else(|| name.strip_suffix(".nii"))
}

/// Whether `name` ends in `.nii` or `.nii.gz`.
pub(super) fn is_nifti(name: &str) -> bool {
    nifti_stem(name).is_some()
}

/// Whether `name` ends in `ext` (a lowercase extension without the dot),
/// ignoring case.
pub(super) fn has_extension(name: &str, ext: &str) -> bool {
    name.to_ascii_lowercase().ends_with(&format!(".{ext}"))
}
