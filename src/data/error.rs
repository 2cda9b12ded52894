//! Typed errors of dataset ingest, preprocessing, the clip cache and the
//! synthetic cohort's config: each message is one line that names the file,
//! folder or setting and says what to do.
//!
//! Preprocessing errors ([`DataError::Not4d`] … [`DataError::ConstantRun`])
//! describe a run without naming it: they are read beside the run's path
//! (a `Problem` of `prepare`, or the caller's context).

use crate::fsutil::{DocError, FileError};
use crate::masking::MaskError;
use crate::volume::VolumeError;
use std::path::PathBuf;
use thiserror::Error;

/// What can go wrong scanning, preparing or reading a dataset.
#[derive(Debug, Error)]
pub enum DataError {
    /// A file could not be read or written.
    #[error(transparent)]
    File(#[from] FileError),
    /// A TOML/JSON document (manifest, synth config) could not be loaded.
    #[error(transparent)]
    Doc(#[from] DocError),
    /// A NIfTI volume could not be read.
    #[error(transparent)]
    Volume(#[from] VolumeError),
    /// Effect regions that do not name AAL3 lobes or regions.
    #[error(transparent)]
    Mask(#[from] MaskError),

    // --- the synthetic cohort's BIDS folder ---
    /// The output folder holds files that `roimae synth` did not write.
    #[error("{path} is not empty and is not a roimae synth output; choose a new or empty folder")]
    NotSynthOutput {
        /// The folder.
        path: PathBuf,
    },
    /// The output path is a file.
    #[error("{path} exists and is not a folder; choose a folder for the cohort")]
    OutputNotAFolder {
        /// The path.
        path: PathBuf,
    },
    /// The synthetic cohort's settings are out of range.
    #[error("invalid synthetic cohort: {0}")]
    InvalidCohort(Box<DataError>),

    // --- dataset ingest ---
    /// The dataset root does not exist.
    #[error("{path}: no such folder; check the path")]
    NoSuchFolder {
        /// The root given.
        path: PathBuf,
    },
    /// The dataset root is a file.
    #[error("{path}: not a folder; give the dataset's root folder")]
    NotAFolder {
        /// The root given.
        path: PathBuf,
    },
    /// The root holds nothing of the layout looked for.
    #[error("{path}: {missing}; check the path, or choose the layout with --kind")]
    NothingToScan {
        /// The root.
        path: PathBuf,
        /// What was looked for and not found.
        missing: &'static str,
    },
    /// A label table (participants.tsv, phenotypic file, labels CSV) that
    /// the csv reader refuses.
    #[error("cannot parse {path}: {reason}; it must be comma- or tab-separated text")]
    TableParse {
        /// The table.
        path: PathBuf,
        /// The reader's own words, on one line.
        reason: String,
    },
    /// A label table without a single non-empty row.
    #[error("{path} is empty; it needs a header row and one row per subject")]
    EmptyTable {
        /// The table.
        path: PathBuf,
    },
    /// A column the user chose is not in the table.
    #[error("{path} has no {what} column '{column}' (columns: {columns})")]
    NoSuchColumn {
        /// The table.
        path: PathBuf,
        /// What the column holds ("site").
        what: &'static str,
        /// The column asked for.
        column: String,
        /// The table's columns, comma-separated.
        columns: String,
    },
    /// A BIDS JSON sidecar that is not JSON.
    #[error("sidecar {path} is not valid JSON: {reason}")]
    SidecarJson {
        /// The sidecar.
        path: PathBuf,
        /// The parser's own words.
        reason: String,
    },
    /// One `VALUE=CLASS` entry of a label map is malformed.
    #[error("label map entry '{entry}' {problem}; write it like ADHD=1,TD=0")]
    LabelMapEntry {
        /// The entry.
        entry: String,
        /// What is wrong with it.
        problem: &'static str,
    },
    /// A label map names a value twice.
    #[error("label map names '{value}' twice")]
    LabelMapDuplicate {
        /// The value named twice.
        value: String,
    },
    /// A label map with no entry.
    #[error("label map '{spec}' is empty; write it like ADHD=1,TD=0")]
    LabelMapEmpty {
        /// The map given.
        spec: String,
    },

    // --- preprocessing (of one run; the caller names it) ---
    /// The run is not a 4D time series.
    #[error("expected a 4D run, got shape {shape:?}")]
    Not4d {
        /// Its shape.
        shape: Vec<usize>,
    },
    /// Temporal resampling was asked for but the run has no TR.
    #[error(
        "the run has no TR, so it cannot be resampled in time; set pixdim[4] in its header or drop the target TR"
    )]
    NoTr,
    /// The run is shorter than one clip.
    #[error("the run has {frames} frames, fewer than one clip of {clip}")]
    TooFewFrames {
        /// Frames in the run (after temporal resampling).
        frames: usize,
        /// Frames per clip.
        clip: usize,
    },
    /// No foreground voxel inside the model's input cube.
    #[error("the run is empty on the MNI grid (all zero): is it in MNI space?")]
    EmptyOnGrid,
    /// Zero variance over the foreground.
    #[error("the run is constant (zero variance over the brain); it carries no signal")]
    ConstantRun,
    /// A brain mask with no brain voxel on the data grid.
    #[error(
        "brain mask {path}: no brain voxel on the MNI grid; check it is in MNI space and non-zero inside the brain"
    )]
    EmptyBrainMask {
        /// The mask file.
        path: PathBuf,
    },

    // --- the clip cache ---
    /// A cache folder without `manifest.json`.
    #[error("{path}: no cache manifest here; run `roimae prepare` first")]
    NoManifest {
        /// The manifest's path.
        path: PathBuf,
    },
    /// A manifest of another format version.
    #[error("{path}: manifest version {found} is not {expected}; run prepare again")]
    ManifestVersion {
        /// The manifest.
        path: PathBuf,
        /// Its version.
        found: u32,
        /// The version this build reads.
        expected: u32,
    },
    /// A clip file that could not be memory-mapped.
    #[error("{path}: cannot map the cache file ({source}); check it is a readable regular file")]
    ClipMap {
        /// The clip file.
        path: PathBuf,
        /// The operating system's reason.
        source: std::io::Error,
    },
    /// A file that is not a roimae clip file.
    #[error("{path}: not a roimae clip file (bad magic); delete it and run prepare again")]
    ClipMagic {
        /// The file.
        path: PathBuf,
    },
    /// A clip file whose JSON header is truncated or unreadable.
    #[error("{path}: unreadable header ({reason}); delete it and run prepare again")]
    ClipHeader {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A clip file whose size disagrees with its header.
    #[error(
        "{path}: size {found} bytes, expected {expected}; the file is damaged, run prepare again"
    )]
    ClipSize {
        /// The file.
        path: PathBuf,
        /// Its size.
        found: usize,
        /// The size its header implies.
        expected: usize,
    },

    // --- the synthetic cohort's config ---
    /// A synthetic-cohort setting out of range.
    #[error("{field} = {value} is out of range: {expected}")]
    OutOfRange {
        /// The setting.
        field: &'static str,
        /// The value given.
        value: String,
        /// What is accepted, in words.
        expected: String,
    },
}
