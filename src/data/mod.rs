//! Data in, model-ready clips out: dataset scanning (BIDS, fMRIPrep,
//! ADHD-200, folder + CSV), preprocessing into an on-disk clip cache, the
//! clip loader with subject-level splits, and the synthetic cohort.

pub mod error;
pub mod cache;
pub mod dataset;
pub mod grid_choice;
pub mod loader;
pub mod manifest;
pub mod prepare;
pub mod preprocess;
pub mod scan;
pub mod split;
pub mod synth;

pub use error::DataError;
pub use dataset::{Dataset, DatasetKind, Problem, Run, Subject};
pub use grid_choice::GridChoice;
