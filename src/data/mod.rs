//! Data in, model-ready clips out: dataset ingest (`ingest/`: scanning
//! BIDS, fMRIPrep, ADHD-200, folder + CSV), preprocessing into an on-disk
//! clip cache (read back by `train::data::CacheClips`), subject-level
//! splits, and the synthetic cohort. Every failure is a [`DataError`].

pub mod cache;
pub mod dataset;
pub mod error;
pub mod grid_choice;
pub mod ingest;
pub mod manifest;
pub mod prepare;
pub mod preprocess;
pub mod split;
pub mod synth;

pub use dataset::{Dataset, DatasetKind, Problem, Run, Subject};
pub use error::DataError;
pub use grid_choice::GridChoice;
