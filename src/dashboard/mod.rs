//! The training dashboard's logic, free of any GUI toolkit: curves with
//! de-biased smoothing and CSV in/out, and the session state built from the
//! engine's events (progress, ETA, previews, log), and region attribution
//! scores ranked and coloured for the brain map, and NeuroSTORM checkpoints
//! imported as a run's starting point, and the run controller's decisions
//! (mask, starting checkpoint, run folder, resume), and the experiment
//! grid builder's edits, progress and results (`exp_*`, `experiment`).
//! `gui` draws them.

pub mod attribution;
pub mod curves;
pub mod error;
pub mod exp_grid;
pub mod exp_lobes;
pub mod exp_progress;
pub mod experiment;
pub mod init_source;
pub mod run_setup;
pub mod session;

pub use curves::{Point, RunCurves, XAxis, smooth};
pub use error::DashboardError;
pub use run_setup::{MaskMode, RunRequest, RunSetupError};
pub use session::{RunStatus, Session, format_duration, resident_bytes};
