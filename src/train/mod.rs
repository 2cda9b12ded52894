//! Pretraining: the run config, the clips a run reads, and the engine that
//! trains the masked autoencoder on a worker thread with checkpoints,
//! exact resume, validation per lobe and reconstruction previews.
//! [`TrainHandle`] is what the CLI and the GUI drive; every failure is a
//! [`TrainError`]. The run config's `device` is the model layer's
//! [`DeviceChoice`], re-exported here.

pub mod augment;
pub mod bench;
pub mod checkpoint;
pub mod config;
pub mod data;
pub mod device;
pub mod dispatch;
pub mod engine;
pub mod error;
pub mod evaluate;
pub mod events;
pub mod prefetch;
pub mod run_dir;
pub mod step;
pub mod subject_split;
pub mod trainer;

pub use crate::model::DeviceChoice;
pub use config::{DataConfig, OptimConfig, RunConfig, SyntheticData};
pub use engine::TrainHandle;
pub use error::{DeviceFailure, TrainError};
pub use events::{Preview, TrainEvent};
