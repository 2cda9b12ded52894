//! Typed errors of pretraining: run configs, run folders, checkpoints and
//! the training loop. Each message is one line that says what to do.

use crate::data::DataError;
use crate::fsutil::{DocError, FileError};
use crate::interop::InteropError;
use crate::masking::MaskError;
use crate::model::ModelError;
use crate::volume::VolumeError;
use thiserror::Error;

/// What can go wrong starting, running or resuming a pretraining run.
#[derive(Debug, Error)]
pub enum TrainError {
    /// A file could not be read or written.
    #[error(transparent)]
    File(#[from] FileError),
    /// A TOML/JSON document could not be loaded.
    #[error(transparent)]
    Doc(#[from] DocError),
    /// The data could not be read.
    #[error(transparent)]
    Data(#[from] DataError),
    /// The mask could not be drawn.
    #[error(transparent)]
    Mask(#[from] MaskError),
    /// The model could not be built or run.
    #[error(transparent)]
    Model(#[from] ModelError),
    /// A checkpoint could not be read or written.
    #[error(transparent)]
    Interop(#[from] InteropError),
    /// A volume could not be read or written.
    #[error(transparent)]
    Volume(#[from] VolumeError),
}
