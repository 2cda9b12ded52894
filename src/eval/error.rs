//! Typed errors of downstream evaluation, attribution and experiments.
//! Each message is one line that names the run or file and says what to do.

use crate::data::DataError;
use crate::fsutil::{DocError, FileError};
use crate::interop::InteropError;
use crate::masking::MaskError;
use crate::model::ModelError;
use crate::train::TrainError;
use crate::volume::VolumeError;
use thiserror::Error;

/// What can go wrong fine-tuning, attributing or running an experiment.
#[derive(Debug, Error)]
pub enum EvalError {
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
    /// Pretraining (inside an experiment) failed.
    #[error(transparent)]
    Train(#[from] TrainError),
    /// A checkpoint could not be read or written.
    #[error(transparent)]
    Interop(#[from] InteropError),
    /// A volume could not be read or written.
    #[error(transparent)]
    Volume(#[from] VolumeError),
}
