//! Gathers subjects, runs and problems while a layout is scanned, runs the
//! header checks on every candidate run, and assembles the sorted
//! [`Dataset`] with the per-subject problems found at the end (no BOLD run,
//! missing label).

use super::checks::check_run;
use super::labels::LabelOutcome;
use crate::data::dataset::{Dataset, DatasetKind, Problem, Run, Subject};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A BOLD file found for a subject, before its header is checked.
#[derive(Debug, Clone, Default)]
pub(super) struct RunCandidate {
    /// The NIfTI file.
    pub path: PathBuf,
    /// Session label, when the layout has one.
    pub session: Option<String>,
    /// Run label, when the layout has one.
    pub run: Option<String>,
    /// Template space, when named.
    pub space: Option<String>,
    /// `RepetitionTime` from a JSON sidecar.
    pub sidecar_tr: Option<f64>,
}

/// A subject being assembled.
#[derive(Debug)]
struct Entry {
    subject: Subject,
    /// Candidate runs refused (missing, unreadable, not 4D, not MNI).
    refused_runs: usize,
    /// Why the label is missing, when it is.
    missing_label_reason: Option<String>,
}

/// Subjects and problems of a scan in progress.
#[derive(Debug)]
pub(super) struct Collector {
    root: PathBuf,
    kind: DatasetKind,
    entries: BTreeMap<String, Entry>,
    problems: Vec<Problem>,
}

impl Collector {
    /// An empty scan of `root` as `kind`.
    pub fn new(root: &Path, kind: DatasetKind) -> Self {
        Collector {
            root: root.to_path_buf(),
            kind,
            entries: BTreeMap::new(),
            problems: Vec::new(),
        }
    }

    /// Adds subject `id` (no runs, no label) unless already known.
    pub fn add_subject(&mut self, id: &str) {
        self.entry(id);
    }

    /// Whether subject `id` is known.
    pub fn has_subject(&self, id: &str) -> bool {
        self.entries.contains_key(id)
    }

    /// The known subject ids, sorted.
    pub fn subject_ids(&self) -> Vec<String> {
        self.entries.keys().cloned().collect()
    }

    /// Drops subject `id` (e.g. by the QC filter).
    pub fn remove_subject(&mut self, id: &str) {
        self.entries.remove(id);
    }

    /// Sets the site of subject `id`.
    pub fn set_site(&mut self, id: &str, site: Option<String>) {
        self.entry(id).subject.site = site;
    }

    /// The label of subject `id` so far.
    pub fn label_of(&self, id: &str) -> Option<(Option<u32>, Option<String>)> {
        self.entries
            .get(id)
            .map(|e| (e.subject.label, e.subject.label_raw.clone()))
    }

    /// Sets the label of subject `id` from its raw value and coding.
    pub fn set_label(&mut self, id: &str, raw: Option<&str>, outcome: LabelOutcome) {
        let entry = self.entry(id);
        entry.subject.label_raw = raw.map(str::to_string);
        match outcome {
            LabelOutcome::Class(class) => {
                entry.subject.label = Some(class);
                entry.missing_label_reason = None;
            }
            LabelOutcome::Missing(reason) => {
                entry.subject.label = None;
                entry.missing_label_reason = Some(reason);
            }
        }
    }

    /// Checks a candidate run's header and adds it to subject `id` when
    /// usable; problems found are recorded either way.
    pub fn add_run(&mut self, id: &str, candidate: RunCandidate) {
        let check = check_run(&candidate.path);
        for note in &check.notes {
            self.problem(Some(id), Some(&candidate.path), note.clone());
        }
        if !check.usable {
            self.entry(id).refused_runs += 1;
            return;
        }
        let tr = candidate.sidecar_tr.or(check.header_tr);
        if tr.is_none() {
            self.problem(
                Some(id),
                Some(&candidate.path),
                "no TR: no RepetitionTime in a JSON sidecar and pixdim[4] in the header is 0"
                    .into(),
            );
        }
        self.entry(id).subject.runs.push(Run {
            path: candidate.path,
            session: candidate.session,
            run: candidate.run,
            tr,
            space: candidate.space,
        });
    }

    /// Records a run of subject `id` that cannot be used, with the reason.
    pub fn refuse_run(&mut self, id: &str, path: &Path, message: String) {
        self.problem(Some(id), Some(path), message);
        self.entry(id).refused_runs += 1;
    }

    /// Records a problem.
    pub fn problem(&mut self, subject: Option<&str>, path: Option<&Path>, message: String) {
        self.problems.push(Problem {
            subject: subject.map(str::to_string),
            path: path.map(Path::to_path_buf),
            message,
        });
    }

    /// The dataset: subjects sorted by id, runs by path, and a problem for
    /// every subject without a usable run or without a label.
    pub fn finish(mut self) -> Dataset {
        let entries = std::mem::take(&mut self.entries);
        let mut subjects = Vec::with_capacity(entries.len());
        for (id, mut entry) in entries {
            entry.subject.runs.sort_by(|a, b| a.path.cmp(&b.path));
            if entry.subject.runs.is_empty() {
                let message = if entry.refused_runs > 0 {
                    format!(
                        "no usable BOLD run ({} refused, see above)",
                        entry.refused_runs
                    )
                } else {
                    "no BOLD run found".to_string()
                };
                self.problem(Some(&id), None, message);
            }
            if entry.subject.label.is_none() {
                let reason = entry
                    .missing_label_reason
                    .take()
                    .unwrap_or_else(|| "no label found".into());
                self.problem(Some(&id), None, format!("missing label: {reason}"));
            }
            subjects.push(entry.subject);
        }
        Dataset {
            root: self.root,
            kind: self.kind,
            subjects,
            problems: self.problems,
        }
    }

    fn entry(&mut self, id: &str) -> &mut Entry {
        self.entries.entry(id.to_string()).or_insert_with(|| Entry {
            subject: Subject {
                id: id.to_string(),
                site: None,
                label: None,
                label_raw: None,
                runs: Vec::new(),
            },
            refused_runs: 0,
            missing_label_reason: None,
        })
    }
}

/// Up to ten items joined by commas, then how many more.
pub(super) fn brief_list(items: &[String]) -> String {
    const SHOWN: usize = 10;
    let mut text = items
        .iter()
        .take(SHOWN)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if items.len() > SHOWN {
        text.push_str(&format!(" and {} more", items.len() - SHOWN));
    }
    text
}
