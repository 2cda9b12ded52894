//! What `write_cohort` reports: the cohort's make-up and what it wrote.

use crate::data::GridChoice;
use serde::Serialize;
use std::path::PathBuf;

/// The outcome of writing a synthetic cohort.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SynthSummary {
    /// The dataset folder.
    pub out: PathBuf,
    /// The grid of the runs.
    pub grid: GridChoice,
    /// Number of subjects.
    pub subjects: usize,
    /// Subjects with diagnosis 0.
    pub controls: usize,
    /// Subjects with diagnosis 1 (carrying the planted effect).
    pub patients: usize,
    /// Number of sites.
    pub sites: usize,
    /// Frames per run.
    pub frames: usize,
    /// Repetition time in seconds.
    pub tr: f64,
    /// Strength of the planted effect.
    pub effect_size: f64,
    /// Names of the regions carrying it (the ground truth).
    pub effect_regions: Vec<String>,
    /// Files written.
    pub files_written: usize,
    /// Bytes written, over all files.
    pub bytes_written: u64,
}
