//! A plain folder of NIfTI files plus a CSV of labels (`file,label[,site]`,
//! header optional; `--labels FILE` or the folder's single `*.csv`). File
//! paths are relative to the folder. The subject is the `subject` column
//! when there is one (several rows then give several runs), else the file
//! name without `.nii[.gz]`.

use super::ScanOptions;
use super::collect::{Collector, RunCandidate, brief_list};
use super::files::{files_in, has_extension, is_nifti, nifti_stem};
use super::label_columns::LabelColumns;
use super::labels::{LabelCoding, LabelOutcome};
use super::sidecar::repetition_time;
use super::table::Table;
use crate::data::error::DataError;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Names accepted for the file column.
const FILE_COLUMNS: [&str; 4] = ["file", "path", "filename", "image"];
/// Names accepted for an optional subject column.
const SUBJECT_COLUMNS: [&str; 3] = ["subject", "subject_id", "participant_id"];
/// The label column used when none is chosen.
const DEFAULT_LABEL_COLUMN: &str = "label";
/// Column names given to a CSV without a header row.
const HEADERLESS_COLUMNS: [&str; 3] = ["file", "label", "site"];

/// Scans a folder + CSV into `out`; `Err` when the folder has neither NIfTI
/// files nor a labels CSV.
pub(super) fn scan(root: &Path, opts: &ScanOptions, out: &mut Collector) -> Result<(), DataError> {
    let niftis: Vec<PathBuf> = files_in(root)
        .into_iter()
        .filter(|f| is_nifti(&f.name))
        .map(|f| f.path)
        .collect();
    let csv = match &opts.labels_csv {
        Some(path) => Some(path.clone()),
        None => find_csv(root, out),
    };
    if niftis.is_empty() && csv.is_none() {
        return Err(DataError::NothingToScan {
            path: root.to_path_buf(),
            missing: "no recognisable data (no NIfTI files and no labels CSV)",
        });
    }
    let table = csv.and_then(|path| {
        Table::read(&path)
            .map_err(|e| out.problem(None, Some(&path), e.to_string()))
            .ok()
    });
    let listed = match table {
        Some(table) => scan_table(root, &with_header(table), opts, out),
        None => BTreeSet::new(),
    };
    let unlisted: Vec<PathBuf> = niftis.into_iter().filter(|p| !listed.contains(p)).collect();
    if listed.is_empty() {
        for path in unlisted {
            add_unlabelled_file(&path, out);
        }
    } else if !unlisted.is_empty() {
        let names: Vec<String> = unlisted
            .iter()
            .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
            .collect();
        out.problem(
            None,
            Some(root),
            format!(
                "{} NIfTI file(s) in the folder are not in the labels CSV: {}",
                names.len(),
                brief_list(&names)
            ),
        );
    }
    Ok(())
}

/// The folder's only `*.csv`; none or several is a problem.
fn find_csv(root: &Path, out: &mut Collector) -> Option<PathBuf> {
    let csvs: Vec<PathBuf> = files_in(root)
        .into_iter()
        .filter(|f| has_extension(&f.name, "csv"))
        .map(|f| f.path)
        .collect();
    match csvs.as_slice() {
        [one] => Some(one.clone()),
        [] => {
            out.problem(
                None,
                Some(root),
                "no labels CSV in the folder; pass one with --labels".into(),
            );
            None
        }
        several => {
            let names: Vec<String> = several.iter().map(|p| p.display().to_string()).collect();
            out.problem(
                None,
                Some(root),
                format!(
                    "several CSV files in the folder ({}); choose one with --labels",
                    names.join(", ")
                ),
            );
            None
        }
    }
}

/// The table with a header row: a first row naming a NIfTI file is data,
/// and the columns are then `file,label,site`.
fn with_header(mut table: Table) -> Table {
    if table.headers.iter().any(|h| is_nifti(h)) {
        let first = std::mem::take(&mut table.headers);
        table.rows.insert(0, first);
        table.headers = HEADERLESS_COLUMNS.iter().map(|s| s.to_string()).collect();
    }
    table
}

/// Adds the runs, labels and sites of the table's rows; returns the files
/// it names.
fn scan_table(
    root: &Path,
    table: &Table,
    opts: &ScanOptions,
    out: &mut Collector,
) -> BTreeSet<PathBuf> {
    let mut listed = BTreeSet::new();
    let Some(file_col) = table.first_column(&FILE_COLUMNS) else {
        out.problem(
            None,
            Some(&table.path),
            format!(
                "the labels CSV has no file column (columns: {})",
                table.column_list()
            ),
        );
        return listed;
    };
    let columns = LabelColumns::find(
        table,
        opts,
        DEFAULT_LABEL_COLUMN,
        "the labels CSV",
        &table.path,
        out,
    );
    let (label_name, label_col, site_col, coding) =
        (columns.name, columns.label, columns.site, &columns.coding);
    let subject_col = table.first_column(&SUBJECT_COLUMNS);
    for (line, row) in table.rows.iter().enumerate() {
        let Some(file) = Table::cell(row, file_col) else {
            out.problem(
                None,
                Some(&table.path),
                format!("row {}: no file named", line + 2),
            );
            continue;
        };
        let path = root.join(file);
        let id = subject_col
            .and_then(|c| Table::cell(row, c))
            .map(|s| s.trim_start_matches("sub-").to_string())
            .unwrap_or_else(|| file_subject_id(file));
        listed.insert(path.clone());
        out.add_subject(&id);
        if let Some(site) = site_col.and_then(|c| Table::cell(row, c)) {
            out.set_site(&id, Some(site.to_string()));
        }
        let raw = label_col.and_then(|c| row.get(c)).map(String::as_str);
        set_row_label(&id, raw, label_name, coding, out, &table.path);
        if path.is_file() {
            let sidecar_tr =
                repetition_time(&path, path.parent().unwrap_or(root)).unwrap_or_else(|e| {
                    out.problem(Some(&id), Some(&path), e.to_string());
                    None
                });
            out.add_run(
                &id,
                RunCandidate {
                    path,
                    sidecar_tr,
                    ..RunCandidate::default()
                },
            );
        } else {
            out.refuse_run(
                &id,
                &path,
                "file listed in the labels CSV does not exist".into(),
            );
        }
    }
    listed
}

/// Sets a subject's label from one row, noting rows that disagree.
fn set_row_label(
    id: &str,
    raw: Option<&str>,
    column: &str,
    coding: &LabelCoding,
    out: &mut Collector,
    csv: &Path,
) {
    let outcome = match raw {
        Some(raw) => match coding.code(raw) {
            LabelOutcome::Missing(why) => {
                LabelOutcome::Missing(format!("labels CSV column '{column}': {why}"))
            }
            class => class,
        },
        None => LabelOutcome::Missing(format!("no '{column}' value in the labels CSV")),
    };
    if let Some((Some(earlier), earlier_raw)) = out.label_of(id) {
        if outcome != LabelOutcome::Class(earlier) {
            out.problem(
                Some(id),
                Some(csv),
                format!(
                    "conflicting labels in the labels CSV: '{}' and '{}'; keeping the first",
                    earlier_raw.unwrap_or_default(),
                    raw.unwrap_or_default()
                ),
            );
        }
        return;
    }
    out.set_label(id, raw, outcome);
}

/// A subject id from a file name: the name without folders and `.nii[.gz]`.
fn file_subject_id(file: &str) -> String {
    let name = Path::new(file)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| file.to_string());
    nifti_stem(&name).unwrap_or(&name).to_string()
}

/// A NIfTI file in the folder with no labels CSV: a subject of its own.
fn add_unlabelled_file(path: &Path, out: &mut Collector) {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let id = file_subject_id(&name);
    out.set_label(&id, None, LabelOutcome::Missing("no labels CSV".into()));
    out.add_run(
        &id,
        RunCandidate {
            path: path.to_path_buf(),
            ..RunCandidate::default()
        },
    );
}
