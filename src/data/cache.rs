//! The on-disk clip cache: one file per preprocessed run, memory-mappable,
//! holding clips as IEEE half floats (f16) in the model's layout, plus a
//! manifest of what is in the folder and how it was made; [`ClipCache`] is
//! a cache folder opened for reading (what training's `CacheClips` reads).
//!
//! File layout (`.rmc`): the 8-byte magic `RMCLIP01`, a little-endian u32
//! header length, a JSON [`ClipFileHeader`], zero padding to a 64-byte
//! boundary, then the clips, clip after clip, each `input³ x frames` f16
//! values in (x, y, z, t) order with t fastest.
//!
//! Quantisation: f16 keeps 11 significant bits, so a stored z-score `z`
//! differs from the f32 value by at most `|z| x 2^-11` (0.05 %; 0.005 at
//! z = 10), below fMRI thermal noise. Files are written under a temporary
//! name, fsynced and renamed, so a crash never leaves a corrupt entry.

use super::error::DataError;
use super::manifest::Manifest;
use crate::fsutil::{FileError, write_atomically};
use half::f16;
use memmap2::Mmap;
use serde::{Deserialize, Serialize};
use std::fs::File;
use std::path::{Path, PathBuf};

/// The magic bytes that open a clip file.
pub const CLIP_MAGIC: &[u8; 8] = b"RMCLIP01";
/// The data start is aligned to this many bytes.
const ALIGN: usize = 64;
/// Largest relative error f16 storage adds (2^-11).
pub const F16_RELATIVE_ERROR: f64 = 1.0 / 2048.0;

/// The JSON header of a clip file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClipFileHeader {
    /// Input voxels per axis.
    pub input: usize,
    /// Frames per clip.
    pub frames: usize,
    /// Number of clips.
    pub n_clips: usize,
    /// Always `"f16"`.
    pub dtype: String,
    /// Always `"clip,x,y,z,t"`.
    pub layout: String,
    /// Background value (minimum foreground z).
    pub fill: f32,
    /// Foreground mean before z-scoring.
    pub mean: f64,
    /// Foreground std before z-scoring.
    pub std: f64,
    /// TR of the clips (seconds).
    pub tr: f64,
    /// CRC-32 of the data section.
    pub crc32: u32,
}

impl ClipFileHeader {
    /// Values per clip.
    pub fn clip_len(&self) -> usize {
        self.input.pow(3) * self.frames
    }
}

/// Writes clips (f32, model layout) as an f16 clip file, atomically;
/// returns the CRC-32 of the data.
pub fn write_clip_file(
    path: &Path,
    mut header: ClipFileHeader,
    clips: &[f32],
) -> Result<u32, FileError> {
    assert_eq!(
        clips.len(),
        header.clip_len() * header.n_clips,
        "clip data size"
    );
    let mut data = vec![0u8; clips.len() * 2];
    for (chunk, v) in data.chunks_exact_mut(2).zip(clips) {
        chunk.copy_from_slice(&f16::from_f32(*v).to_le_bytes());
    }
    header.dtype = "f16".into();
    header.layout = "clip,x,y,z,t".into();
    header.crc32 = crc32fast::hash(&data);
    let json = serde_json::to_vec(&header).expect("a clip header always encodes");
    let mut head = Vec::with_capacity(ALIGN + json.len());
    head.extend_from_slice(CLIP_MAGIC);
    head.extend_from_slice(&(json.len() as u32).to_le_bytes());
    head.extend_from_slice(&json);
    head.resize(head.len().div_ceil(ALIGN) * ALIGN, 0);
    write_atomically(path, &[&head, &data]).map_err(|source| FileError::Write {
        path: path.to_path_buf(),
        what: "clip file",
        source,
    })?;
    Ok(header.crc32)
}

/// Decodes little-endian f16 bytes into `out` (same length in values),
/// with the vectorised conversion of the `half` crate where the bytes can
/// be viewed as f16 in place.
fn decode_f16(bytes: &[u8], out: &mut [f32]) {
    #[cfg(target_endian = "little")]
    {
        // SAFETY: f16 is a plain 2-byte value; align_to only yields the
        // aligned middle, and the data start is 64-byte aligned.
        let (head, halves, tail) = unsafe { bytes.align_to::<f16>() };
        if head.is_empty() && tail.is_empty() {
            use half::slice::HalfFloatSliceExt;
            halves.convert_to_f32_slice(out);
            return;
        }
    }
    for (o, b) in out.iter_mut().zip(bytes.chunks_exact(2)) {
        *o = f16::from_le_bytes([b[0], b[1]]).to_f32();
    }
}

/// A clip file opened by memory mapping.
#[derive(Debug)]
pub struct ClipFile {
    /// Where it is.
    pub path: PathBuf,
    /// Its header.
    pub header: ClipFileHeader,
    map: Mmap,
    data_start: usize,
}

impl ClipFile {
    /// Opens and checks a clip file (magic, header, size; not the CRC).
    pub fn open(path: &Path) -> Result<ClipFile, DataError> {
        let file = File::open(path).map_err(|source| FileError::Read {
            path: path.to_path_buf(),
            what: "cache file",
            source,
        })?;
        // SAFETY: cache files are written once (atomically renamed) and
        // never modified in place, so the mapping cannot change under us.
        let map = unsafe { Mmap::map(&file) }.map_err(|source| DataError::ClipMap {
            path: path.to_path_buf(),
            source,
        })?;
        if map.len() < 12 || &map[..8] != CLIP_MAGIC {
            return Err(DataError::ClipMagic {
                path: path.to_path_buf(),
            });
        }
        let header_error = |reason: String| DataError::ClipHeader {
            path: path.to_path_buf(),
            reason,
        };
        let json_len = u32::from_le_bytes(map[8..12].try_into().unwrap()) as usize;
        let json = map
            .get(12..12 + json_len)
            .ok_or_else(|| header_error("truncated".into()))?;
        let header: ClipFileHeader =
            serde_json::from_slice(json).map_err(|e| header_error(e.to_string()))?;
        let data_start = (12 + json_len).div_ceil(ALIGN) * ALIGN;
        let expected = data_start + header.clip_len() * header.n_clips * 2;
        if map.len() != expected {
            return Err(DataError::ClipSize {
                path: path.to_path_buf(),
                found: map.len(),
                expected,
            });
        }
        Ok(ClipFile {
            path: path.to_path_buf(),
            header,
            map,
            data_start,
        })
    }

    /// Whether the data still match the CRC-32 in the header.
    pub fn verify(&self) -> bool {
        crc32fast::hash(&self.map[self.data_start..]) == self.header.crc32
    }

    /// Decodes clip `c` into `out` (resized to one clip).
    pub fn read_clip(&self, c: usize, out: &mut Vec<f32>) {
        assert!(
            c < self.header.n_clips,
            "clip {c} of {}",
            self.header.n_clips
        );
        let len = self.header.clip_len();
        let bytes = &self.map[self.data_start + c * len * 2..][..len * 2];
        out.clear();
        out.resize(len, 0.0);
        decode_f16(bytes, out);
    }
}

/// A cache folder opened for reading: its manifest and mapped clip files.
#[derive(Debug)]
pub struct ClipCache {
    /// The folder.
    pub dir: PathBuf,
    /// Its manifest.
    pub manifest: Manifest,
    files: Vec<ClipFile>,
}

/// One clip of the cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClipRef {
    /// Index of the run in the manifest.
    pub entry: usize,
    /// Clip number within the run.
    pub clip: usize,
}

impl ClipCache {
    /// Opens every clip file of the manifest in `dir`.
    pub fn open(dir: &Path) -> Result<ClipCache, DataError> {
        let manifest = Manifest::load(dir)?;
        let files = manifest
            .entries
            .iter()
            .map(|e| ClipFile::open(&dir.join(&e.file)))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(ClipCache {
            dir: dir.to_path_buf(),
            manifest,
            files,
        })
    }

    /// Values per clip (input³ x frames).
    pub fn clip_len(&self) -> usize {
        self.files.first().map_or(0, |f| f.header.clip_len())
    }

    /// Every clip of the given subjects (all subjects when `None`).
    pub fn clips(&self, subjects: Option<&[String]>) -> Vec<ClipRef> {
        self.manifest
            .entries
            .iter()
            .enumerate()
            .filter(|(_, e)| subjects.is_none_or(|s| s.contains(&e.subject)))
            .flat_map(|(entry, e)| (0..e.n_clips).map(move |clip| ClipRef { entry, clip }))
            .collect()
    }

    /// Decodes one clip into `out`.
    pub fn read(&self, clip: &ClipRef, out: &mut Vec<f32>) {
        self.files[clip.entry].read_clip(clip.clip, out);
    }

    /// Whether every clip file still matches its checksum.
    pub fn verify(&self) -> Vec<String> {
        self.files
            .iter()
            .filter(|f| !f.verify())
            .map(|f| format!("{}: checksum mismatch; run prepare again", f.path.display()))
            .collect()
    }
}
