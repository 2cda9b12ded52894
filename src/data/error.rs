//! Typed errors of dataset ingest, preprocessing and the clip cache: each
//! message is one line that names the file or folder and says what to do.

use crate::fsutil::{DocError, FileError};
use crate::volume::VolumeError;
use std::path::PathBuf;
use thiserror::Error;

/// What can go wrong scanning, preparing or reading a dataset.
#[derive(Debug, Error)]
pub enum DataError {
    /// A file could not be read or written.
    #[error(transparent)]
    File(#[from] FileError),
    /// A TOML/JSON document (manifest, synth config) could not be loaded.
    #[error(transparent)]
    Doc(#[from] DocError),
    /// A NIfTI volume could not be read.
    #[error(transparent)]
    Volume(#[from] VolumeError),
    /// A setting is out of range; the message names the field.
    #[error("{0}")]
    Config(String),
}
