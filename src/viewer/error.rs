//! Typed errors of the viewer's GUI-free logic: selection files, region
//! names and time-course exports. Each message names the file or the name at
//! fault and says what to do.

use crate::fsutil::{DocError, FileError};
use crate::masking::MaskError;
use crate::volume::VolumeError;
use std::path::PathBuf;
use thiserror::Error;

/// What can go wrong saving, loading or resolving a selection, or exporting
/// what the viewer shows.
#[derive(Debug, Error)]
pub enum ViewerError {
    /// A file could not be read or written.
    #[error(transparent)]
    File(#[from] FileError),
    /// A selection file could not be loaded or saved.
    #[error(transparent)]
    Doc(#[from] DocError),
    /// A region or lobe name is not in the atlas.
    #[error(transparent)]
    Mask(#[from] MaskError),
    /// A time course whose times and values differ in length (a bug in the
    /// caller, reported rather than written as a ragged CSV).
    #[error("{path}: cannot export a time course with {times} times but {values} values")]
    RaggedSeries {
        /// The CSV that was to be written.
        path: PathBuf,
        /// Number of time points.
        times: usize,
        /// Number of values.
        values: usize,
    },
    /// A mask file that holds another strategy where regions were expected.
    #[error("{path}: the mask is '{mask}', not a region selection; nothing to show")]
    NotRegionMask {
        /// The mask file.
        path: PathBuf,
        /// The mask it holds, described.
        mask: String,
    },
    /// A problem found in a given file (e.g. an unknown region name).
    #[error("{path}: {source}")]
    InFile {
        /// The file.
        path: PathBuf,
        /// The problem.
        source: Box<ViewerError>,
    },
    /// A volume that cannot be read (on the loading thread).
    #[error("{}", one_line(&.source.to_string()))]
    Unreadable {
        /// The reader's error, which names the file.
        source: VolumeError,
    },
    /// The loading thread panicked (a bug).
    #[error("{path}: internal error while reading the file; please report it")]
    LoaderPanicked {
        /// The file.
        path: PathBuf,
    },
    /// No thread could be started to load the file.
    #[error("{path}: cannot start a loading thread ({reason})")]
    LoaderThread {
        /// The file.
        path: PathBuf,
        /// The operating system's words.
        reason: String,
    },
    /// The CSV encoder failed.
    #[error("{path}: cannot encode the CSV ({reason})")]
    CsvEncode {
        /// The CSV that was to be written.
        path: PathBuf,
        /// The encoder's words.
        reason: String,
    },
}

/// Collapses a message onto one line (readers may wrap theirs).
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}
