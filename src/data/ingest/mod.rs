//! Dataset ingest: recognise a dataset folder's layout (BIDS, fMRIPrep
//! derivatives, the ADHD-200 preprocessed release, or a folder of NIfTI
//! files plus a labels CSV) and list its subjects, runs, labels and sites
//! (`roimae dataset scan`).
//!
//! Headers are read, never voxel data. Everything wrong with a subject or a
//! file becomes a [`Problem`](crate::data::Problem) and the scan goes on;
//! only an unusable root is an error ([`DataError`]).

mod adhd200;
mod bids;
mod checks;
mod collect;
mod files;
mod folder_csv;
mod label_columns;
mod labels;
mod sidecar;
mod table;

pub use labels::parse_label_map;

use crate::data::dataset::{Dataset, DatasetKind};
use crate::data::error::DataError;
use collect::Collector;
use files::{files_in, has_extension, is_nifti, sub_dirs};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// What the user chose for a scan; the defaults autodetect everything.
#[derive(Debug, Clone, Default)]
pub struct ScanOptions {
    /// The layout, instead of detecting it.
    pub kind: Option<DatasetKind>,
    /// The label column (default `diagnosis` for BIDS, `DX` for ADHD-200,
    /// `label` for a folder + CSV).
    pub label_column: Option<String>,
    /// Raw label value to class index, e.g. `ADHD=1,TD=0`.
    pub label_map: Option<BTreeMap<String, u32>>,
    /// The site column (default `site`, else `site_id` or `acq_site`).
    pub site_column: Option<String>,
    /// The labels CSV of a folder + CSV dataset.
    pub labels_csv: Option<PathBuf>,
    /// ADHD-200: keep only subjects whose `QC_Athena` is 1.
    pub qc_filter: bool,
}

/// Scans the dataset at `root`. `Err` only when the root is missing, not a
/// folder, or holds no recognisable data; everything else is in
/// `problems`. Subjects are sorted by id, runs by path.
pub fn scan_dataset(root: &Path, opts: &ScanOptions) -> Result<Dataset, DataError> {
    if !root.exists() {
        return Err(DataError::NoSuchFolder {
            path: root.to_path_buf(),
        });
    }
    if !root.is_dir() {
        return Err(DataError::NotAFolder {
            path: root.to_path_buf(),
        });
    }
    let kind = match opts.kind {
        Some(kind) => kind,
        None => detect_kind(root).ok_or_else(|| DataError::NothingToScan {
            path: root.to_path_buf(),
            missing: "no recognisable data (no sub-* folders, no ADHD-200 <Site>/<ScanDirID>/*nwmrda*_rest_*.nii files, no NIfTI or CSV files)",
        })?,
    };
    let mut out = Collector::new(root, kind);
    match kind {
        DatasetKind::Bids | DatasetKind::Fmriprep => bids::scan(root, opts, &mut out)?,
        DatasetKind::Adhd200 => adhd200::scan(root, opts, &mut out)?,
        DatasetKind::FolderCsv => folder_csv::scan(root, opts, &mut out)?,
    }
    Ok(out.finish())
}

/// The layout of `root`: fMRIPrep when `dataset_description.json` says
/// `"DatasetType": "derivative"` or a `*_space-*_desc-preproc_bold.nii*`
/// exists; BIDS when `sub-*` folders exist; ADHD-200 when a
/// `*nwmrda*_rest_*.nii*` sits two levels down; a folder + CSV when the
/// root holds NIfTI or CSV files; else none.
pub fn detect_kind(root: &Path) -> Option<DatasetKind> {
    let subjects = bids::subject_dirs(root);
    if is_derivative(root) && !subjects.is_empty() {
        return Some(DatasetKind::Fmriprep);
    }
    if !subjects.is_empty() {
        let preprocessed = subjects.iter().any(|s| {
            bids::bold_files(&s.path).iter().any(|f| {
                let name = f.path.file_name().unwrap_or_default().to_string_lossy();
                name.contains("_space-") && name.contains("_desc-preproc_bold.nii")
            })
        });
        return Some(if preprocessed {
            DatasetKind::Fmriprep
        } else {
            DatasetKind::Bids
        });
    }
    if has_adhd200_runs(root) {
        return Some(DatasetKind::Adhd200);
    }
    let loose_files = files_in(root)
        .iter()
        .any(|f| is_nifti(&f.name) || has_extension(&f.name, "csv"));
    loose_files.then_some(DatasetKind::FolderCsv)
}

/// Whether `dataset_description.json` says `"DatasetType": "derivative"`.
fn is_derivative(root: &Path) -> bool {
    let Ok(text) = std::fs::read_to_string(root.join("dataset_description.json")) else {
        return false;
    };
    serde_json::from_str::<serde_json::Value>(&text)
        .ok()
        .and_then(|v| v.get("DatasetType")?.as_str().map(str::to_string))
        .is_some_and(|t| t.eq_ignore_ascii_case("derivative"))
}

/// Whether any `<Site>/<ScanDirID>/*nwmrda*_rest_*.nii*` exists.
fn has_adhd200_runs(root: &Path) -> bool {
    sub_dirs(root).iter().any(|site| {
        sub_dirs(&site.path).iter().any(|subject| {
            files_in(&subject.path).iter().any(|f| {
                is_nifti(&f.name) && f.name.contains("nwmrda") && f.name.contains("_rest_")
            })
        })
    })
}
