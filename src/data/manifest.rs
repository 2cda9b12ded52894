//! The cache manifest (`manifest.json`): how the cache was made and one
//! entry per preprocessed run (subject, label, site, clips, checksum, and
//! the source's size and modification time used to skip up-to-date runs).

use super::error::DataError;
use super::preprocess::PreprocessConfig;
use crate::fsutil::{DocKind, load_json, save_json};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// File name of the manifest inside a cache folder.
pub const MANIFEST_NAME: &str = "manifest.json";
/// Format version of the manifest.
pub const MANIFEST_VERSION: u32 = 1;

/// How the manifest is named in messages.
const MANIFEST_FILE: DocKind = DocKind {
    what: "cache manifest",
    hint: "run `roimae prepare` again to rewrite it",
};

/// One preprocessed run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CacheEntry {
    /// Subject id.
    pub subject: String,
    /// Site, when known.
    pub site: Option<String>,
    /// Class index, when known.
    pub label: Option<u32>,
    /// The source NIfTI file.
    pub source: PathBuf,
    /// Source size in bytes when prepared.
    pub source_size: u64,
    /// Source modification time (seconds since the epoch) when prepared.
    pub source_mtime: u64,
    /// Clip file name, relative to the cache folder.
    pub file: String,
    /// Clips in the file.
    pub n_clips: usize,
    /// CRC-32 of the clip data.
    pub crc32: u32,
    /// Foreground voxels in the input cube.
    pub foreground_voxels: usize,
    /// NaN/Inf voxels zeroed in the source.
    pub nonfinite_zeroed: usize,
    /// TR of the clips (seconds).
    pub tr: f64,
}

/// Everything in a cache folder.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// Format version.
    pub version: u32,
    /// How the runs were preprocessed.
    pub config: PreprocessConfig,
    /// One entry per run, in subject order.
    pub entries: Vec<CacheEntry>,
}

impl Manifest {
    /// An empty manifest for `config`.
    pub fn new(config: PreprocessConfig) -> Self {
        Manifest {
            version: MANIFEST_VERSION,
            config,
            entries: Vec::new(),
        }
    }

    /// Reads `dir/manifest.json`.
    pub fn load(dir: &Path) -> Result<Manifest, DataError> {
        let path = dir.join(MANIFEST_NAME);
        if !path.is_file() {
            return Err(DataError::NoManifest { path });
        }
        let manifest: Manifest = load_json(&path, MANIFEST_FILE)?;
        if manifest.version != MANIFEST_VERSION {
            return Err(DataError::ManifestVersion {
                path,
                found: manifest.version,
                expected: MANIFEST_VERSION,
            });
        }
        Ok(manifest)
    }

    /// Writes `dir/manifest.json` atomically.
    pub fn save(&self, dir: &Path) -> Result<(), DataError> {
        Ok(save_json(
            &dir.join(MANIFEST_NAME),
            self,
            MANIFEST_FILE.what,
        )?)
    }

    /// Total clips.
    pub fn n_clips(&self) -> usize {
        self.entries.iter().map(|e| e.n_clips).sum()
    }
}

/// A source file's size and modification time (seconds), if readable.
pub fn source_stamp(path: &Path) -> Option<(u64, u64)> {
    let meta = std::fs::metadata(path).ok()?;
    let mtime = meta
        .modified()
        .ok()?
        .duration_since(std::time::UNIX_EPOCH)
        .ok()?
        .as_secs();
    Some((meta.len(), mtime))
}
