//! ROI-MAE Studio: region-aware masked-autoencoder pretraining for 4D fMRI.
//!
//! Layers, bottom up (docs/ARCHITECTURE.md): [`volume`] (NIfTI I/O, grids,
//! resampling) and [`atlas`] (AAL3 regions, label and token maps) know
//! nothing of the model or the GUI; [`model`] is the NeuroSTORM-compatible
//! masked autoencoder in burn and [`interop`] its checkpoints; [`masking`]
//! draws clip masks; [`data`] scans, preprocesses and caches datasets;
//! [`train`] pretrains and [`eval`] fine-tunes, scores and attributes.
//! [`viewer`] and [`dashboard`] hold the GUI-free state of the viewer and the
//! training dashboard; [`gui`] and [`cli`] are thin layers over all of them.
//! [`fsutil`] holds the file helpers every layer shares (atomic writes, the
//! TOML/JSON document loader); each layer has its own typed error.

pub mod assets;
pub mod atlas;
pub mod cli;
pub mod dashboard;
pub mod data;
pub mod eval;
pub mod fsutil;
pub mod gui;
pub mod interop;
pub mod masking;
pub mod model;
pub mod train;
pub mod viewer;
pub mod volume;
