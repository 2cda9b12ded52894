//! What a dataset scan finds: subjects with their runs, labels and sites,
//! and the problems met on the way (reported per subject, never fatal).

use serde::Serialize;
use std::path::PathBuf;

/// The layout a dataset folder was recognised as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DatasetKind {
    /// A raw BIDS root (`sub-*/[ses-*/]func/*_bold.nii[.gz]`).
    Bids,
    /// fMRIPrep derivatives (`space-MNI152*` `desc-preproc` BOLD).
    Fmriprep,
    /// The ADHD-200 preprocessed release (`<Site>/<ScanDirID>/...`).
    Adhd200,
    /// A plain folder of NIfTI files plus a CSV of labels.
    FolderCsv,
}

/// One fMRI run (a 4D file) of a subject.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Run {
    /// The NIfTI file.
    pub path: PathBuf,
    /// Session label, when the layout has one.
    pub session: Option<String>,
    /// Run label, when the layout has one.
    pub run: Option<String>,
    /// Repetition time in seconds (JSON sidecar, else the header).
    pub tr: Option<f64>,
    /// Template space, e.g. `MNI152NLin2009cAsym`, when named.
    pub space: Option<String>,
}

/// One subject: its runs, its diagnosis label and its site.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Subject {
    /// Subject id without the `sub-` prefix (ADHD-200: the 7-digit ScanDir ID).
    pub id: String,
    /// Acquisition site, when known.
    pub site: Option<String>,
    /// Class index (0 = control, 1 = patient for binary labels), `None`
    /// when missing.
    pub label: Option<u32>,
    /// The raw label value as written in the source table.
    pub label_raw: Option<String>,
    /// The subject's runs.
    pub runs: Vec<Run>,
}

/// A problem met while scanning; the scan goes on.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Problem {
    /// The subject concerned, if any.
    pub subject: Option<String>,
    /// The file concerned, if any.
    pub path: Option<PathBuf>,
    /// What is wrong, in one line.
    pub message: String,
}

/// The result of scanning a dataset folder.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Dataset {
    /// The folder scanned.
    pub root: PathBuf,
    /// Its recognised layout.
    pub kind: DatasetKind,
    /// Subjects in id order.
    pub subjects: Vec<Subject>,
    /// Problems, in the order found.
    pub problems: Vec<Problem>,
}

impl Dataset {
    /// Subjects that can be used: at least one run and a label.
    pub fn usable(&self) -> impl Iterator<Item = &Subject> {
        self.subjects
            .iter()
            .filter(|s| !s.runs.is_empty() && s.label.is_some())
    }

    /// Number of runs over all subjects.
    pub fn n_runs(&self) -> usize {
        self.subjects.iter().map(|s| s.runs.len()).sum()
    }
}
