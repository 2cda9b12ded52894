//! ROI-MAE Studio: region-aware masked-autoencoder pretraining for 4D fMRI.
//!
//! Layers, bottom up (see DESIGN.md): [`volume`] (NIfTI I/O, grids,
//! resampling) and [`atlas`] (AAL3 regions, label and token maps) know
//! nothing of the model or the GUI; [`cli`] is a thin layer over them.
//! [`viewer`] holds the viewer's GUI-free logic (mask selection and summary,
//! time courses, colour maps, display ranges, background loading).

pub mod assets;
pub mod atlas;
pub mod cli;
pub mod dashboard;
pub mod data;
pub mod eval;
pub mod gui;
pub mod interop;
pub mod masking;
pub mod model;
pub mod train;
pub mod viewer;
pub mod volume;
