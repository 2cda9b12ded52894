//! The ADHD-200 preprocessed release:
//! `<Site>/<ScanDirID>/sfnwmrda<ID>_session_<s>_rest_<r>.nii[.gz]` (or the
//! unfiltered `snwmrda` prefix), with `*phenotypic*.csv|tsv` tables in the
//! root or the site folders giving `DX` (0 = control, 1-3 = ADHD, so label
//! 1), and `QC_Athena` for the optional QC filter. The ScanDir folder name
//! is the subject id (padded to 7 digits); the site is the site folder.

use super::ScanOptions;
use super::collect::{Collector, RunCandidate, brief_list};
use super::files::{files_in, has_extension, nifti_stem, sub_dirs};
use super::labels::{LabelCoding, LabelOutcome, is_missing};
use super::sidecar::repetition_time;
use super::table::Table;
use crate::data::error::DataError;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

/// File-name prefixes of preprocessed runs, preferred first (band-pass
/// filtered, then not).
const RUN_PREFIXES: [&str; 2] = ["sfnwmrda", "snwmrda"];
/// Width of a ScanDir ID.
const ID_DIGITS: usize = 7;
/// The label column used when none is chosen.
const DX_COLUMN: &str = "DX";
/// The QC column kept at 1 by the QC filter.
const QC_COLUMN: &str = "QC_Athena";

/// A run file name parsed: which prefix, session and rest run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct RunName {
    prefix_rank: usize,
    session: String,
    rest: String,
}

/// Parses `sfnwmrda<ID>_session_<s>_rest_<r>.nii[.gz]`.
pub(super) fn parse_run_name(name: &str) -> Option<RunName> {
    let stem = nifti_stem(name)?;
    let (prefix_rank, rest) = RUN_PREFIXES
        .iter()
        .enumerate()
        .find_map(|(rank, p)| stem.strip_prefix(p).map(|r| (rank, r)))?;
    let (_, after_id) = rest.split_once("_session_")?;
    let (session, rest_run) = after_id.split_once("_rest_")?;
    let rest_run = rest_run.split('_').next().unwrap_or(rest_run);
    (!session.is_empty() && !rest_run.is_empty()).then(|| RunName {
        prefix_rank,
        session: session.to_string(),
        rest: rest_run.to_string(),
    })
}

/// A ScanDir ID padded to 7 digits, when it is a number.
fn normalise_id(raw: &str) -> Option<String> {
    let raw = raw.trim();
    let digits = raw.strip_suffix(".0").unwrap_or(raw);
    (!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()))
        .then(|| format!("{digits:0>ID_DIGITS$}"))
}

/// Scans an ADHD-200 tree into `out`; `Err` when no site folder holds a
/// ScanDir folder.
pub(super) fn scan(root: &Path, opts: &ScanOptions, out: &mut Collector) -> Result<(), DataError> {
    let mut found_any = false;
    for site in sub_dirs(root) {
        for subject in sub_dirs(&site.path) {
            let Some(id) = normalise_id(&subject.name) else {
                continue;
            };
            found_any = true;
            out.add_subject(&id);
            out.set_site(&id, Some(site.name.clone()));
            add_runs(&id, &subject.path, out);
        }
    }
    if !found_any {
        return Err(DataError::NothingToScan {
            path: root.to_path_buf(),
            missing: "no <Site>/<ScanDirID> folders found",
        });
    }
    let phenotypes = read_phenotypes(root, out);
    apply_labels(&phenotypes, opts, out);
    if opts.qc_filter {
        apply_qc_filter(&phenotypes, out);
    }
    Ok(())
}

/// Adds the runs in one ScanDir folder, one per session and rest run.
fn add_runs(id: &str, dir: &Path, out: &mut Collector) {
    let mut best: BTreeMap<(String, String), (usize, PathBuf)> = BTreeMap::new();
    for file in files_in(dir) {
        let Some(name) = parse_run_name(&file.name) else {
            continue;
        };
        let key = (name.session, name.rest);
        let better = best
            .get(&key)
            .is_none_or(|(rank, _)| name.prefix_rank < *rank);
        if better {
            best.insert(key, (name.prefix_rank, file.path));
        }
    }
    for ((session, rest), (_, path)) in best {
        let sidecar_tr = repetition_time(&path, dir).unwrap_or_else(|e| {
            out.problem(Some(id), Some(&path), e.to_string());
            None
        });
        out.add_run(
            id,
            RunCandidate {
                path,
                session: Some(session),
                run: Some(rest),
                space: None,
                sidecar_tr,
            },
        );
    }
}

/// One phenotypic row: its values by lowercase column name.
#[derive(Debug, Clone)]
struct Phenotype {
    values: HashMap<String, String>,
    source: PathBuf,
}

impl Phenotype {
    fn get(&self, column: &str) -> Option<&str> {
        self.values
            .get(&column.to_ascii_lowercase())
            .map(String::as_str)
    }
}

/// The phenotypic tables in the root and the site folders, by ScanDir ID
/// (the first row for an ID wins).
fn read_phenotypes(root: &Path, out: &mut Collector) -> BTreeMap<String, Phenotype> {
    let mut dirs = vec![root.to_path_buf()];
    dirs.extend(sub_dirs(root).into_iter().map(|d| d.path));
    let tables: Vec<PathBuf> = dirs
        .iter()
        .flat_map(|d| files_in(d))
        .filter(|f| {
            f.name.to_ascii_lowercase().contains("phenotypic")
                && (has_extension(&f.name, "csv") || has_extension(&f.name, "tsv"))
        })
        .map(|f| f.path)
        .collect();
    if tables.is_empty() {
        out.problem(
            None,
            Some(root),
            "no *phenotypic*.csv or .tsv found in the root or the site folders; labels are unknown"
                .into(),
        );
    }
    let mut rows = BTreeMap::new();
    for path in tables {
        let table = match Table::read(&path) {
            Ok(t) => t,
            Err(e) => {
                out.problem(None, Some(&path), e.to_string());
                continue;
            }
        };
        let Some(id_col) = table.first_column(&["ScanDir ID", "ScanDirID"]) else {
            out.problem(
                None,
                Some(&path),
                format!("no 'ScanDir ID' column (columns: {})", table.column_list()),
            );
            continue;
        };
        for row in &table.rows {
            let Some(id) = Table::cell(row, id_col).and_then(normalise_id) else {
                continue;
            };
            let values = table
                .headers
                .iter()
                .zip(row)
                .map(|(h, v)| (h.to_ascii_lowercase(), v.clone()))
                .collect();
            rows.entry(id).or_insert(Phenotype {
                values,
                source: path.clone(),
            });
        }
    }
    rows
}

/// The ADHD-200 rule: DX 0 is control, 1-3 (any ADHD subtype) is 1.
fn dx_label(raw: &str) -> LabelOutcome {
    if is_missing(raw) {
        return LabelOutcome::Missing(format!("DX is '{raw}'"));
    }
    match raw.trim().parse::<f64>() {
        Ok(0.0) => LabelOutcome::Class(0),
        Ok(v) if (1.0..=3.0).contains(&v) && v.fract() == 0.0 => LabelOutcome::Class(1),
        _ => LabelOutcome::Missing(format!("DX value '{raw}' is not 0-3")),
    }
}

/// Labels of every subject: the DX rule, or the generic coding when the
/// user chose another column or a label map.
fn apply_labels(phenotypes: &BTreeMap<String, Phenotype>, opts: &ScanOptions, out: &mut Collector) {
    let column = opts.label_column.as_deref().unwrap_or(DX_COLUMN);
    let generic =
        (opts.label_map.is_some() || !column.eq_ignore_ascii_case(DX_COLUMN)).then(|| {
            LabelCoding::infer(
                phenotypes.values().filter_map(|p| p.get(column)),
                opts.label_map.as_ref(),
            )
        });
    if let Some(report) = generic.as_ref().and_then(|c| c.report(column)) {
        out.problem(None, None, report);
    }
    for id in out.subject_ids() {
        let Some(pheno) = phenotypes.get(&id) else {
            out.set_label(
                &id,
                None,
                LabelOutcome::Missing("not listed in a phenotypic file".into()),
            );
            continue;
        };
        let Some(raw) = pheno.get(column) else {
            let source = pheno.source.display();
            out.set_label(
                &id,
                None,
                LabelOutcome::Missing(format!("{source} has no column '{column}'")),
            );
            continue;
        };
        let outcome = match &generic {
            Some(coding) => coding.code(raw),
            None => dx_label(raw),
        };
        out.set_label(&id, Some(raw), outcome);
    }
}

/// Keeps only subjects whose `QC_Athena` is 1; says who was left out.
fn apply_qc_filter(phenotypes: &BTreeMap<String, Phenotype>, out: &mut Collector) {
    if !phenotypes.values().any(|p| p.get(QC_COLUMN).is_some()) {
        out.problem(
            None,
            None,
            format!("--qc: no phenotypic file has a {QC_COLUMN} column; no subject was left out"),
        );
        return;
    }
    let mut left_out = Vec::new();
    for id in out.subject_ids() {
        let passed = phenotypes
            .get(&id)
            .and_then(|p| p.get(QC_COLUMN))
            .and_then(|v| v.trim().parse::<f64>().ok())
            == Some(1.0);
        if !passed {
            out.remove_subject(&id);
            left_out.push(id);
        }
    }
    if !left_out.is_empty() {
        out.problem(
            None,
            None,
            format!(
                "--qc: left out {} subject(s) whose {QC_COLUMN} is not 1: {}",
                left_out.len(),
                brief_list(&left_out)
            ),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_names_parse_and_prefer_filtered() {
        let f = parse_run_name("sfnwmrda0010001_session_1_rest_2.nii.gz").unwrap();
        assert_eq!(
            (f.prefix_rank, f.session.as_str(), f.rest.as_str()),
            (0, "1", "2")
        );
        let u = parse_run_name("snwmrda0010001_session_1_rest_2.nii").unwrap();
        assert_eq!(u.prefix_rank, 1);
        assert!(parse_run_name("wmean_mrda0010001_session_1_rest_1.nii.gz").is_none());
    }

    #[test]
    fn ids_are_padded_and_dx_is_binarised() {
        assert_eq!(normalise_id("10001").as_deref(), Some("0010001"));
        assert_eq!(normalise_id("abc"), None);
        assert_eq!(dx_label("3"), LabelOutcome::Class(1));
        assert_eq!(dx_label("0"), LabelOutcome::Class(0));
        assert!(matches!(dx_label("pending"), LabelOutcome::Missing(_)));
        assert!(matches!(dx_label("-999"), LabelOutcome::Missing(_)));
        assert!(matches!(dx_label("7"), LabelOutcome::Missing(_)));
    }
}
