//! The synthetic cohort: BIDS datasets of resting-state fMRI in which
//! "which regions matter" has a known answer.
//!
//! Anatomy comes from the MNI152 template and its grey-matter map; AAL3
//! regions are the units of signal. Each region's time course mixes a few
//! correlated resting-state networks and its own fluctuation, convolved
//! with the canonical HRF; voxels add smoothed thermal noise, per-site
//! scale, offset and noise level, and head-motion-like drifts; background
//! is exactly 0. Patients (diagnosis 1) differ from controls only inside
//! the chosen effect regions (amplitude and connectivity), by an amount
//! set by the effect size, with the brain-wide mean and SD of the matched
//! control (so the global z-score carries no label outside the effect
//! regions). Everything is seeded: the same configuration
//! gives the same bytes.
//!
//! [`generate_subject`] makes one subject in memory (the GUI demo);
//! [`write_cohort`] writes a whole dataset (`roimae synth`).

mod anatomy;
mod assignment;
mod balance;
mod bids;
mod config;
mod drift;
mod hrf;
mod model;
mod networks;
mod random;
mod render;
mod signal;
mod smooth;
mod summary;

pub use bids::write_cohort_with_progress;
pub use config::{MAX_FRAMES, SynthConfig};
pub use model::{CohortModel, SyntheticSubject};
pub use random::normal;
pub use summary::SynthSummary;

use crate::atlas::Atlas;
use crate::data::DataError;
use std::path::Path;

/// Subject `index` (0-based) of the cohort `cfg`, in memory. Deterministic
/// for the configuration and index; diagnoses alternate within each site
/// (site = `index % sites`, named `site1`, `site2`, ...). Call
/// [`SynthConfig::validate`] first: effect regions the atlas does not know
/// plant nothing, and other invalid numbers are clamped, never a panic.
pub fn generate_subject(cfg: &SynthConfig, atlas: &Atlas, index: usize) -> SyntheticSubject {
    model::CohortModel::new(cfg, atlas).subject(index)
}

/// Writes the cohort `cfg` as a BIDS dataset under `out` (created when
/// missing). Refuses a non-empty folder that is not an earlier `roimae
/// synth` output.
pub fn write_cohort(cfg: &SynthConfig, out: &Path) -> Result<SynthSummary, DataError> {
    write_cohort_with_progress(cfg, out, &mut |_, _| {})
}
