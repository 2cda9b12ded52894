//! BIDS roots and fMRIPrep derivatives: `sub-*/[ses-*/]func/*_bold.nii[.gz]`
//! with TR from JSON sidecars and labels and sites from participants.tsv.
//!
//! Files that differ only in space, resolution, density or description are
//! variants of one run; `desc-preproc` variants are preferred, then the
//! space MNI152NLin2009cAsym, MNI152NLin6Asym, other MNI152, then the rest.

use super::ScanOptions;
use super::collect::{Collector, RunCandidate, brief_list};
use super::files::{Entry, files_in, nifti_stem, sub_dirs};
use super::label_columns::LabelColumns;
use super::labels::LabelOutcome;
use super::sidecar::{entities, repetition_time};
use super::table::Table;
use crate::data::error::DataError;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Entities that tell variants of one run apart rather than runs.
const VARIANT_ENTITIES: [&str; 4] = ["space", "res", "den", "desc"];
/// The label column used when none is chosen.
const DEFAULT_LABEL_COLUMN: &str = "diagnosis";

/// Scans a BIDS or fMRIPrep folder into `out`; `Err` when it has no
/// `sub-*` folders at all.
pub(super) fn scan(root: &Path, opts: &ScanOptions, out: &mut Collector) -> Result<(), DataError> {
    let subject_dirs = subject_dirs(root);
    if subject_dirs.is_empty() {
        return Err(DataError::NothingToScan {
            path: root.to_path_buf(),
            missing: "no sub-* folders found",
        });
    }
    for dir in &subject_dirs {
        let id = dir.name.trim_start_matches("sub-");
        out.add_subject(id);
        for bold in choose_runs(&bold_files(&dir.path)) {
            add_bold(root, id, bold, out);
        }
    }
    apply_participants(root, opts, out);
    Ok(())
}

/// The `sub-*` folders of `root`.
pub(super) fn subject_dirs(root: &Path) -> Vec<Entry> {
    sub_dirs(root)
        .into_iter()
        .filter(|d| d.name.starts_with("sub-") && d.name.len() > 4)
        .collect()
}

/// One `*_bold.nii[.gz]` file with its parsed name.
#[derive(Debug, Clone)]
pub(super) struct BoldFile {
    pub path: PathBuf,
    pub entities: Vec<(String, String)>,
}

impl BoldFile {
    fn entity(&self, key: &str) -> Option<&str> {
        self.entities
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// The BOLD files of one subject folder (`func/` and `ses-*/func/`).
pub(super) fn bold_files(subject_dir: &Path) -> Vec<BoldFile> {
    let mut func_dirs = vec![subject_dir.join("func")];
    func_dirs.extend(
        sub_dirs(subject_dir)
            .into_iter()
            .filter(|d| d.name.starts_with("ses-"))
            .map(|d| d.path.join("func")),
    );
    func_dirs
        .iter()
        .flat_map(|d| files_in(d))
        .filter_map(|f| {
            let stem = nifti_stem(&f.name)?;
            stem.ends_with("_bold").then(|| BoldFile {
                entities: entities(stem),
                path: f.path.clone(),
            })
        })
        .collect()
}

/// One file per run: the best variant of each group.
fn choose_runs(files: &[BoldFile]) -> Vec<&BoldFile> {
    let mut groups: BTreeMap<String, Vec<&BoldFile>> = BTreeMap::new();
    for f in files {
        let key: Vec<String> = f
            .entities
            .iter()
            .filter(|(k, _)| !VARIANT_ENTITIES.contains(&k.as_str()))
            .map(|(k, v)| format!("{k}-{v}"))
            .collect();
        groups.entry(key.join("_")).or_default().push(f);
    }
    groups
        .into_values()
        .filter_map(|variants| {
            variants
                .into_iter()
                .min_by(|a, b| preference(a).cmp(&preference(b)).then(a.path.cmp(&b.path)))
        })
        .collect()
}

/// Sort key of a variant: lower is better.
fn preference(f: &BoldFile) -> (u8, u8) {
    let not_preproc = u8::from(f.entity("desc") != Some("preproc"));
    (not_preproc, space_rank(f.entity("space")))
}

/// Rank of a template space: lower is better.
fn space_rank(space: Option<&str>) -> u8 {
    match space {
        Some("MNI152NLin2009cAsym") => 0,
        Some("MNI152NLin6Asym") => 1,
        Some(s) if s.starts_with("MNI152") => 2,
        _ => 3,
    }
}

/// Adds the chosen file of a run, with its sidecar TR.
fn add_bold(root: &Path, id: &str, bold: &BoldFile, out: &mut Collector) {
    let sidecar_tr = match repetition_time(&bold.path, root) {
        Ok(tr) => tr,
        Err(e) => {
            out.problem(Some(id), Some(&bold.path), e.to_string());
            None
        }
    };
    let space = bold.entity("space").map(str::to_string);
    if let Some(s) = space.as_deref().filter(|s| !s.starts_with("MNI152")) {
        out.problem(
            Some(id),
            Some(&bold.path),
            format!("no MNI152 variant of this run; using space-{s}"),
        );
    }
    out.add_run(
        id,
        RunCandidate {
            path: bold.path.clone(),
            session: bold.entity("ses").map(str::to_string),
            run: bold.entity("run").map(str::to_string),
            space,
            sidecar_tr,
        },
    );
}

/// participants.tsv of the root, else of the raw dataset above a
/// `derivatives/<pipeline>` root.
fn participants_file(root: &Path) -> Option<PathBuf> {
    let own = root.join("participants.tsv");
    if own.is_file() {
        return Some(own);
    }
    let parent = root.parent()?;
    let is_derivatives = parent.file_name().is_some_and(|n| n == "derivatives");
    let raw = parent.parent()?.join("participants.tsv");
    (is_derivatives && raw.is_file()).then_some(raw)
}

/// Labels and sites from participants.tsv; every problem is recorded.
fn apply_participants(root: &Path, opts: &ScanOptions, out: &mut Collector) {
    let Some(path) = participants_file(root) else {
        out.problem(
            None,
            None,
            "no participants.tsv found; labels and sites are unknown".into(),
        );
        for id in out.subject_ids() {
            out.set_label(
                &id,
                None,
                LabelOutcome::Missing("no participants.tsv".into()),
            );
        }
        return;
    };
    let table = match Table::read(&path) {
        Ok(t) => t,
        Err(e) => {
            out.problem(None, Some(&path), e.to_string());
            return;
        }
    };
    let Some(id_col) = table.column("participant_id") else {
        out.problem(
            None,
            Some(&path),
            format!(
                "participants.tsv has no participant_id column (columns: {})",
                table.column_list()
            ),
        );
        return;
    };
    let columns = LabelColumns::find(
        &table,
        opts,
        DEFAULT_LABEL_COLUMN,
        "participants.tsv",
        &path,
        out,
    );
    let (label_name, label_col, site_col, coding) =
        (columns.name, columns.label, columns.site, &columns.coding);
    let mut listed = BTreeSet::new();
    let mut without_folder = Vec::new();
    for row in &table.rows {
        let Some(id) = Table::cell(row, id_col).map(|v| v.trim_start_matches("sub-")) else {
            continue;
        };
        listed.insert(id.to_string());
        if !out.has_subject(id) {
            without_folder.push(id.to_string());
            continue;
        }
        out.set_site(
            id,
            site_col
                .and_then(|c| Table::cell(row, c))
                .map(str::to_string),
        );
        let Some(col) = label_col else {
            out.set_label(
                id,
                None,
                LabelOutcome::Missing(format!("no column '{label_name}'")),
            );
            continue;
        };
        let raw = row.get(col).map(String::as_str).unwrap_or("");
        let outcome = match coding.code(raw) {
            LabelOutcome::Missing(why) => {
                LabelOutcome::Missing(format!("participants.tsv column '{label_name}': {why}"))
            }
            class => class,
        };
        out.set_label(id, Some(raw), outcome);
    }
    for id in out.subject_ids() {
        if !listed.contains(&id) {
            out.set_label(
                &id,
                None,
                LabelOutcome::Missing("not listed in participants.tsv".into()),
            );
        }
    }
    if !without_folder.is_empty() {
        out.problem(
            None,
            Some(&path),
            format!(
                "{} participant(s) listed in participants.tsv have no sub-* folder: {}",
                without_folder.len(),
                brief_list(&without_folder)
            ),
        );
    }
}
