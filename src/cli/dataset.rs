//! `roimae dataset scan PATH [--json] [--kind K] [--label-column C]
//! [--label-map A=1,B=0] [--site-column C] [--labels FILE] [--qc]`: lists a
//! dataset's subjects, runs, labels, sites and problems.

use crate::data::dataset::{Dataset, DatasetKind, Subject};
use crate::data::ingest::{ScanOptions, parse_label_map, scan_dataset};
use anyhow::anyhow;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

/// Arguments of `roimae dataset`.
#[derive(Debug, clap::Args)]
pub struct DatasetArgs {
    /// What to do with the dataset.
    #[command(subcommand)]
    pub command: DatasetCommand,
}

/// The `dataset` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum DatasetCommand {
    /// Recognise a dataset folder (BIDS, fMRIPrep, ADHD-200, folder + CSV)
    /// and list its subjects, runs, labels, sites and problems.
    Scan(ScanArgs),
}

/// Arguments of `roimae dataset scan`.
#[derive(Debug, clap::Args)]
pub struct ScanArgs {
    /// The dataset folder.
    pub path: PathBuf,
    /// Print the scan as one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
    /// How to read the dataset.
    #[command(flatten)]
    pub flags: ScanFlags,
}

/// How a dataset folder is read (shared by `dataset scan` and `prepare`).
#[derive(Debug, Clone, clap::Args)]
pub struct ScanFlags {
    /// The layout, instead of detecting it.
    #[arg(long, value_enum)]
    pub kind: Option<KindArg>,
    /// The label column (default: diagnosis for BIDS, DX for ADHD-200,
    /// label for a folder + CSV).
    #[arg(long, value_name = "COLUMN")]
    pub label_column: Option<String>,
    /// Label value to class index, e.g. ADHD=1,TD=0.
    #[arg(long, value_name = "VALUE=CLASS,...")]
    pub label_map: Option<String>,
    /// The site column (default: site, else site_id or acq_site).
    #[arg(long, value_name = "COLUMN")]
    pub site_column: Option<String>,
    /// The labels CSV of a folder + CSV dataset (file,label[,site]).
    #[arg(long, value_name = "FILE")]
    pub labels: Option<PathBuf>,
    /// ADHD-200: keep only subjects whose QC_Athena is 1.
    #[arg(long)]
    pub qc: bool,
}

impl ScanFlags {
    /// The library's scan options (fails on a malformed --label-map).
    pub fn options(&self) -> anyhow::Result<ScanOptions> {
        let label_map = self
            .label_map
            .as_deref()
            .map(parse_label_map)
            .transpose()
            .map_err(|e| anyhow!("--label-map: {e}"))?;
        Ok(ScanOptions {
            kind: self.kind.map(DatasetKind::from),
            label_column: self.label_column.clone(),
            label_map,
            site_column: self.site_column.clone(),
            labels_csv: self.labels.clone(),
            qc_filter: self.qc,
        })
    }
}

/// The `--kind` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum KindArg {
    /// A raw BIDS root.
    Bids,
    /// fMRIPrep derivatives.
    Fmriprep,
    /// The ADHD-200 preprocessed release.
    Adhd200,
    /// A folder of NIfTI files plus a labels CSV.
    Folder,
}

impl From<KindArg> for DatasetKind {
    fn from(kind: KindArg) -> Self {
        match kind {
            KindArg::Bids => DatasetKind::Bids,
            KindArg::Fmriprep => DatasetKind::Fmriprep,
            KindArg::Adhd200 => DatasetKind::Adhd200,
            KindArg::Folder => DatasetKind::FolderCsv,
        }
    }
}

/// Runs `roimae dataset`.
pub fn run(args: &DatasetArgs) -> anyhow::Result<()> {
    match &args.command {
        DatasetCommand::Scan(scan) => run_scan(scan),
    }
}

fn run_scan(args: &ScanArgs) -> anyhow::Result<()> {
    let dataset = scan_dataset(&args.path, &args.flags.options()?)?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&dataset)?);
    } else {
        print_text(&dataset);
    }
    Ok(())
}

fn kind_name(kind: DatasetKind) -> &'static str {
    match kind {
        DatasetKind::Bids => "BIDS",
        DatasetKind::Fmriprep => "fMRIPrep derivatives",
        DatasetKind::Adhd200 => "ADHD-200 preprocessed",
        DatasetKind::FolderCsv => "folder + CSV",
    }
}

/// Prints a scan as text: counts, a subject table, the problems.
pub fn print_text(d: &Dataset) {
    println!("dataset: {}", d.root.display());
    println!("kind:    {}", kind_name(d.kind));
    println!(
        "subjects: {} ({} usable: a run and a label), runs: {}",
        d.subjects.len(),
        d.usable().count(),
        d.n_runs()
    );
    println!("labels:  {}", label_counts(&d.subjects));
    println!("sites:   {}", site_counts(&d.subjects));
    println!();
    print_subject_table(&d.subjects);
    println!();
    if d.problems.is_empty() {
        println!("problems: none");
        return;
    }
    println!("problems ({}):", d.problems.len());
    for p in &d.problems {
        let who = p
            .subject
            .as_deref()
            .map(|s| format!("[{s}] "))
            .unwrap_or_default();
        let file = p
            .path
            .as_ref()
            .map(|f| format!("{}: ", f.display()))
            .unwrap_or_default();
        println!("  {who}{file}{}", p.message);
    }
}

/// `0 (TD): 12, 1 (ADHD): 9, missing: 2`.
fn label_counts(subjects: &[Subject]) -> String {
    let mut counts: BTreeMap<u32, (usize, BTreeSet<String>)> = BTreeMap::new();
    let mut missing = 0;
    for s in subjects {
        match s.label {
            Some(l) => {
                let entry = counts.entry(l).or_default();
                entry.0 += 1;
                entry.1.extend(s.label_raw.clone());
            }
            None => missing += 1,
        }
    }
    let mut parts: Vec<String> = counts
        .iter()
        .map(|(l, (n, raws))| {
            let raws: Vec<&str> = raws.iter().map(String::as_str).collect();
            format!("{l} ({}): {n}", raws.join("/"))
        })
        .collect();
    if missing > 0 {
        parts.push(format!("missing: {missing}"));
    }
    if parts.is_empty() {
        "none".into()
    } else {
        parts.join(", ")
    }
}

/// `NYU: 10, Peking_1: 8, unknown: 1`.
fn site_counts(subjects: &[Subject]) -> String {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for s in subjects {
        *counts
            .entry(s.site.as_deref().unwrap_or("unknown"))
            .or_default() += 1;
    }
    if counts.is_empty() {
        return "none".into();
    }
    counts
        .iter()
        .map(|(site, n)| format!("{site}: {n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn print_subject_table(subjects: &[Subject]) {
    let rows: Vec<[String; 5]> = subjects
        .iter()
        .map(|s| {
            let label = match (s.label, &s.label_raw) {
                (Some(l), Some(raw)) if raw != &l.to_string() => format!("{l} ({raw})"),
                (Some(l), _) => l.to_string(),
                (None, _) => "-".into(),
            };
            [
                s.id.clone(),
                s.site.clone().unwrap_or_else(|| "-".into()),
                label,
                s.runs.len().to_string(),
                tr_summary(s),
            ]
        })
        .collect();
    let header = ["SUBJECT", "SITE", "LABEL", "RUNS", "TR (s)"].map(String::from);
    let widths: Vec<usize> = (0..5)
        .map(|c| {
            rows.iter()
                .chain(std::iter::once(&header))
                .map(|r| r[c].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    for row in std::iter::once(&header).chain(&rows) {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        println!("{}", cells.join("  ").trim_end());
    }
}

/// The distinct TRs of a subject's runs, e.g. `2` or `2, 2.5`.
fn tr_summary(s: &Subject) -> String {
    let mut trs: Vec<String> = s
        .runs
        .iter()
        .map(|r| r.tr.map_or_else(|| "?".to_string(), |t| format!("{t}")))
        .collect();
    trs.dedup();
    let distinct: BTreeSet<String> = trs.into_iter().collect();
    if distinct.is_empty() {
        "-".into()
    } else {
        distinct.into_iter().collect::<Vec<_>>().join(", ")
    }
}
