//! Typed errors of the dashboard's files: the tidy metrics CSV, attribution
//! score tables, experiment result tables, and checkpoint imports. Each
//! message is one line naming the file and saying what to do.

use crate::fsutil::FileError;
use crate::interop::InteropError;
use std::path::{Path, PathBuf};
use thiserror::Error;

/// What can go wrong reading or writing a dashboard file.
#[derive(Debug, Error)]
pub enum DashboardError {
    /// A file could not be read or written.
    #[error(transparent)]
    File(#[from] FileError),
    /// A CSV could not be opened or parsed.
    #[error("{path}: cannot read the {what} ({reason}); {hint}")]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// What it should hold ("metrics", "scores").
        what: &'static str,
        /// The reader's words.
        reason: String,
        /// What the file is expected to be.
        hint: &'static str,
    },
    /// The table lacks the columns it needs.
    #[error("{path}: {needs}")]
    Columns {
        /// The file.
        path: PathBuf,
        /// Which columns are needed, and who writes them.
        needs: String,
    },
    /// One row cannot be used.
    #[error("{path}: row {row}: {problem}")]
    Row {
        /// The file.
        path: PathBuf,
        /// The 1-based line number (the header is line 1).
        row: usize,
        /// What is wrong with it.
        problem: String,
    },
    /// A score table naming no region of the atlas.
    #[error("{path}: no row names an AAL3 region")]
    NoRegion {
        /// The file.
        path: PathBuf,
    },
    /// A CSV could not be written.
    #[error("{path}: cannot write ({reason})")]
    Write {
        /// The file.
        path: PathBuf,
        /// The writer's words.
        reason: String,
    },
    /// A checkpoint import failed.
    #[error(transparent)]
    Import(#[from] InteropError),
    /// The import's worker thread ended without an answer (a bug).
    #[error("the import stopped unexpectedly")]
    ImportStopped,
}

impl DashboardError {
    /// The error of data row `index` (0-based, after the header: line
    /// `index + 2` of the file).
    pub(crate) fn row(path: &Path, index: usize, problem: String) -> DashboardError {
        DashboardError::Row {
            path: path.to_path_buf(),
            row: index + 2,
            problem,
        }
    }
}

/// Opens a CSV and reads its header row; failures name the file, what it
/// should hold (`what`) and what it is expected to be (`hint`).
pub(crate) fn open_csv(
    path: &Path,
    what: &'static str,
    hint: &'static str,
) -> Result<(csv::Reader<std::fs::File>, csv::StringRecord), DashboardError> {
    let unreadable = |e: csv::Error| DashboardError::Unreadable {
        path: path.to_path_buf(),
        what,
        reason: e.to_string(),
        hint,
    };
    let mut reader = csv::Reader::from_path(path).map_err(unreadable)?;
    let headers = reader.headers().map_err(unreadable)?.clone();
    Ok((reader, headers))
}
