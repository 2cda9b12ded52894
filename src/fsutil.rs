//! File-system helpers every layer shares: the one atomic write, reads and
//! writes that fail with a typed [`FileError`] naming the file, and the one
//! TOML/JSON document loader (read → parse → validate) behind every config
//! and selection file.
//!
//! Each error is one line that names the file and says what to do; layer
//! errors (`DataError`, `TrainError`, …) wrap these with `#[from]`.

use serde::Serialize;
use serde::de::DeserializeOwned;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use thiserror::Error;

/// A file that could not be read, written or created.
#[derive(Debug, Error)]
pub enum FileError {
    /// Reading failed (missing file, permissions).
    #[error("{path}: cannot read the {what} ({source}); check the path and its permissions")]
    Read {
        /// The file.
        path: PathBuf,
        /// What the file holds, in the user's words ("run config").
        what: &'static str,
        /// The operating system's reason.
        source: std::io::Error,
    },
    /// Writing failed (read-only folder, full disk).
    #[error(
        "{path}: cannot write the {what} ({source}); check the folder exists, is writable and the disk has space"
    )]
    Write {
        /// The file.
        path: PathBuf,
        /// What the file holds.
        what: &'static str,
        /// The operating system's reason.
        source: std::io::Error,
    },
    /// A file could not be removed.
    #[error("{path}: cannot remove it ({source}); check its folder is writable")]
    Remove {
        /// The file.
        path: PathBuf,
        /// The operating system's reason.
        source: std::io::Error,
    },
    /// A folder could not be created.
    #[error("{path}: cannot create the folder ({source}); check the parent is writable")]
    CreateDir {
        /// The folder.
        path: PathBuf,
        /// The operating system's reason.
        source: std::io::Error,
    },
}

/// A TOML or JSON document that could not be loaded.
#[derive(Debug, Error)]
pub enum DocError {
    /// The file could not be read.
    #[error(transparent)]
    File(#[from] FileError),
    /// The text is not a valid document of that kind.
    #[error("{path}: not a valid {what} ({reason}); {hint}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// What the file should hold.
        what: &'static str,
        /// The parser's own words, on one line.
        reason: String,
        /// Where the format is documented.
        hint: &'static str,
    },
    /// The document parsed but a value is out of range or inconsistent.
    #[error("{path}: {source}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// The validator's typed error (names the field and what to do).
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The value could not be encoded (a bug: every type here serialises).
    #[error("{path}: cannot encode the {what} ({reason})")]
    Encode {
        /// The file.
        path: PathBuf,
        /// What was being written.
        what: &'static str,
        /// The encoder's own words.
        reason: String,
    },
}

/// Writes `parts` to a temporary file beside `path`, fsyncs it and renames
/// it into place, so a reader never sees half a file.
pub fn write_atomically(path: &Path, parts: &[&[u8]]) -> std::io::Result<()> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.partial-{}", std::process::id()));
    let result = (|| {
        let mut file = File::create(&tmp)?;
        for part in parts {
            file.write_all(part)?;
        }
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// Reads a whole text file; `what` names its content in the error.
pub fn read_text(path: &Path, what: &'static str) -> Result<String, FileError> {
    std::fs::read_to_string(path).map_err(|source| FileError::Read {
        path: path.to_path_buf(),
        what,
        source,
    })
}

/// Writes `bytes` to `path` atomically; `what` names the content.
pub fn write_file(path: &Path, bytes: &[u8], what: &'static str) -> Result<(), FileError> {
    write_atomically(path, &[bytes]).map_err(|source| FileError::Write {
        path: path.to_path_buf(),
        what,
        source,
    })
}

/// Removes a file.
pub fn remove_file(path: &Path) -> Result<(), FileError> {
    std::fs::remove_file(path).map_err(|source| FileError::Remove {
        path: path.to_path_buf(),
        source,
    })
}

/// Creates a folder and its parents.
pub fn create_dir(path: &Path) -> Result<(), FileError> {
    std::fs::create_dir_all(path).map_err(|source| FileError::CreateDir {
        path: path.to_path_buf(),
        source,
    })
}

/// How a document kind is named and where its format is documented.
#[derive(Clone, Copy, Debug)]
pub struct DocKind {
    /// What the file holds ("run config").
    pub what: &'static str,
    /// Where to read about the format ("see `roimae pretrain --help`").
    pub hint: &'static str,
}

/// Reads a TOML file, parses it as `T` and runs `validate` on it; every
/// failure names the file.
pub fn load_toml<T: DeserializeOwned, E: std::error::Error + Send + Sync + 'static>(
    path: &Path,
    kind: DocKind,
    validate: impl FnOnce(&T) -> Result<(), E>,
) -> Result<T, DocError> {
    let text = read_text(path, kind.what)?;
    let value: T = toml::from_str(&text).map_err(|e| DocError::Parse {
        path: path.to_path_buf(),
        what: kind.what,
        reason: e.message().replace('\n', " "),
        hint: kind.hint,
    })?;
    validate(&value).map_err(|e| DocError::Invalid {
        path: path.to_path_buf(),
        source: Box::new(e),
    })?;
    Ok(value)
}

/// Reads a JSON file and parses it as `T`.
pub fn load_json<T: DeserializeOwned>(path: &Path, kind: DocKind) -> Result<T, DocError> {
    let text = read_text(path, kind.what)?;
    serde_json::from_str(&text).map_err(|e| DocError::Parse {
        path: path.to_path_buf(),
        what: kind.what,
        reason: e.to_string().replace('\n', " "),
        hint: kind.hint,
    })
}

/// Writes `value` as TOML, atomically.
pub fn save_toml<T: Serialize>(path: &Path, value: &T, what: &'static str) -> Result<(), DocError> {
    let text = toml::to_string(value).map_err(|e| DocError::Encode {
        path: path.to_path_buf(),
        what,
        reason: e.to_string(),
    })?;
    Ok(write_file(path, text.as_bytes(), what)?)
}

/// Writes `value` as pretty JSON, atomically.
pub fn save_json<T: Serialize>(path: &Path, value: &T, what: &'static str) -> Result<(), DocError> {
    let text = serde_json::to_vec_pretty(value).map_err(|e| DocError::Encode {
        path: path.to_path_buf(),
        what,
        reason: e.to_string(),
    })?;
    Ok(write_file(path, &text, what)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, serde::Serialize, Debug, PartialEq)]
    struct Doc {
        n: u32,
    }

    const KIND: DocKind = DocKind {
        what: "test doc",
        hint: "see the tests",
    };

    #[derive(Debug, thiserror::Error)]
    #[error("n must be > 0")]
    struct NotPositive;

    fn positive(d: &Doc) -> Result<(), NotPositive> {
        if d.n == 0 { Err(NotPositive) } else { Ok(()) }
    }

    #[test]
    fn toml_round_trip_and_each_failure_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("doc.toml");
        save_toml(&path, &Doc { n: 3 }, "test doc").unwrap();
        assert_eq!(load_toml(&path, KIND, positive).unwrap(), Doc { n: 3 });

        let missing = dir.path().join("missing.toml");
        let e = load_toml::<Doc, _>(&missing, KIND, positive).unwrap_err();
        assert!(matches!(e, DocError::File(FileError::Read { .. })), "{e}");
        assert!(e.to_string().starts_with(&missing.display().to_string()));

        std::fs::write(&path, "n = \"three\"").unwrap();
        let e = load_toml::<Doc, _>(&path, KIND, positive).unwrap_err();
        assert!(matches!(e, DocError::Parse { .. }), "{e}");
        assert!(e.to_string().contains("see the tests"), "{e}");

        std::fs::write(&path, "n = 0").unwrap();
        let e = load_toml::<Doc, _>(&path, KIND, positive).unwrap_err();
        assert!(matches!(e, DocError::Invalid { .. }), "{e}");
        assert!(e.to_string().ends_with("n must be > 0"), "{e}");
    }

    #[test]
    fn atomic_write_leaves_no_partial_file_when_the_folder_is_missing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nope").join("x.json");
        let e = save_json(&path, &Doc { n: 1 }, "test doc").unwrap_err();
        assert!(matches!(e, DocError::File(FileError::Write { .. })), "{e}");
        assert!(!dir.path().join("nope").exists());
    }
}
