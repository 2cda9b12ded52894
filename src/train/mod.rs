//! Pretraining: the run config, the clips a run reads, and the engine that
//! trains the masked autoencoder on a worker thread with checkpoints,
//! exact resume, validation per lobe and reconstruction previews.
//! [`TrainHandle`] is what the CLI and the GUI drive.

pub mod error;
pub mod augment;
pub mod bench;
pub mod checkpoint;
pub mod config;
pub mod data;
pub mod device;
pub mod dispatch;
pub mod engine;
pub mod evaluate;
pub mod events;
pub mod prefetch;
pub mod run_dir;
pub mod step;
pub mod subject_split;
pub mod trainer;

pub use error::TrainError;
pub use config::{DataConfig, DeviceChoice, OptimConfig, RunConfig, SyntheticData};
pub use engine::TrainHandle;
pub use events::{Preview, TrainEvent};
