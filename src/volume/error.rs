//! Errors raised while reading or writing NIfTI volumes.
//!
//! Every variant names the file and says, in one line, what is wrong and what
//! the user can do about it; the CLI prints the message as is and exits 2.

use std::path::{Path, PathBuf};

/// What went wrong with a volume file, always tied to the file's path.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {kind}")]
pub struct VolumeError {
    /// The file the problem was found in.
    pub path: PathBuf,
    /// The problem itself.
    pub kind: VolumeErrorKind,
}

impl VolumeError {
    /// Ties a problem to the file it was found in.
    pub fn new(path: impl AsRef<Path>, kind: VolumeErrorKind) -> Self {
        VolumeError {
            path: path.as_ref().to_path_buf(),
            kind,
        }
    }
}

/// The problems a NIfTI file can have, each worded for the person who owns it.
#[derive(Debug, thiserror::Error)]
pub enum VolumeErrorKind {
    #[error("cannot open the file ({0}); check the path and its permissions")]
    Open(std::io::Error),
    #[error("the file is empty (0 bytes); it was probably not written completely")]
    Empty,
    #[error(
        "the file is {0} bytes, too short for a 348-byte NIfTI-1 header; it is truncated or not NIfTI"
    )]
    TooShort(usize),
    #[error("not a NIfTI-1 file: {0}")]
    NotNifti(String),
    #[error(
        "this is a NIfTI-2 file, which is not supported; convert it to NIfTI-1 (e.g. nibabel: nib.Nifti1Image(img.dataobj, img.affine).to_filename(...))"
    )]
    Nifti2,
    #[error("the gzip stream is corrupt or truncated ({0}); re-download or re-export the file")]
    Gzip(String),
    #[error("invalid dimensions in the header: {0}")]
    BadDims(String),
    #[error(
        "the header claims {claimed}, which is absurd for this file ({reason}); the header is corrupt"
    )]
    Absurd { claimed: String, reason: String },
    #[error(
        "data type {0} is not supported (supported: uint8, int8, int16, uint16, int32, uint32, int64, uint64, float32, float64)"
    )]
    UnsupportedType(String),
    #[error(
        "vox_offset {offset} points past the end of the file ({len} bytes); the header is corrupt"
    )]
    OffsetPastEnd { offset: u64, len: u64 },
    #[error(
        "the voxel data is shorter than the header says: expected {expected} bytes, found {found}; the file is truncated"
    )]
    DataTooShort { expected: u64, found: u64 },
    #[error(
        "{what} would need {needed_gib:.1} GiB of memory but only {available_gib:.1} GiB is available; free memory or crop the data"
    )]
    OutOfMemory {
        what: String,
        needed_gib: f64,
        available_gib: f64,
    },
    #[error(
        "expected a 4D fMRI run but this is a {ndim}D volume of shape {shape}; pass the BOLD time series, not a single volume"
    )]
    Not4d { ndim: usize, shape: String },
    #[error("read error ({0})")]
    Io(std::io::Error),
    #[error("cannot write the file ({0}); check the folder exists and is writable")]
    Write(String),
}
