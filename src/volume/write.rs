//! Writing float32 NIfTI-1 files (`.nii` or `.nii.gz`) that nibabel, FSLeyes
//! and NiiVue read back with the same array, affine, codes and TR.
//!
//! The header is built on the `nifti` crate's writer; the file is written
//! under a temporary name beside the target and renamed into place, so a
//! failed write never leaves a half-written file under the real name.

use super::Volume;
use super::error::{VolumeError, VolumeErrorKind};
use ndarray::{ArrayView3, ArrayView4, ShapeBuilder};
use nifti::writer::WriterOptions;
use nifti::{NiftiHeader, XForm};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Writes `volume` as float32 to `path` (gzip when it ends in `.gz`).
pub fn write_volume(volume: &Volume, path: impl AsRef<Path>) -> Result<(), VolumeError> {
    let path = path.as_ref();
    let fail = |msg: String| VolumeError::new(path, VolumeErrorKind::Write(msg));
    let name = path.to_string_lossy();
    let gz = name.ends_with(".nii.gz");
    if !gz && !name.ends_with(".nii") {
        return Err(fail("the file name must end in .nii or .nii.gz".into()));
    }
    let header = build_header(volume);
    let tmp = temp_path(path, gz);
    let [nx, ny, nz] = volume.grid.dims;
    let options = WriterOptions::new(&tmp).reference_header(&header);
    let written = if volume.meta.ndim == 4 {
        ArrayView4::from_shape((nx, ny, nz, volume.frames).f(), &volume.data)
            .map_err(|e| e.to_string())
            .and_then(|view| options.write_nifti(&view).map_err(|e| e.to_string()))
    } else {
        ArrayView3::from_shape((nx, ny, nz).f(), &volume.data[..volume.grid.n_voxels()])
            .map_err(|e| e.to_string())
            .and_then(|view| options.write_nifti(&view).map_err(|e| e.to_string()))
    };
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(fail(e));
    }
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        fail(e.to_string())
    })
}

/// A header carrying the volume's affine (as sform and as the closest
/// qform), its codes, voxel sizes, TR (seconds) and description.
fn build_header(volume: &Volume) -> NiftiHeader {
    let meta = &volume.meta;
    let affine = volume.grid.affine.0;
    let mut h = NiftiHeader::default();
    h.set_sform(&affine, XForm::Unknown);
    h.set_qform(&affine, XForm::Unknown);
    h.sform_code = meta.sform_code;
    h.qform_code = meta.qform_code;
    if meta.ndim == 4 {
        h.pixdim[4] = meta.tr.or(meta.zooms.get(3).copied()).unwrap_or(1.0) as f32;
    }
    // mm + seconds.
    h.xyzt_units = 2 | 8;
    let mut descrip = meta.description.as_bytes().to_vec();
    descrip.truncate(79);
    descrip.resize(80, 0);
    h.descrip = descrip;
    h
}

/// A unique temporary name in the target's folder. It has no dot besides the
/// `.nii`/`.nii.gz` suffix, because the `nifti` writer rebuilds the suffix
/// from the last extension and would otherwise write somewhere else.
fn temp_path(path: &Path, gz: bool) -> PathBuf {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let suffix = if gz { ".nii.gz" } else { ".nii" };
    path.with_file_name(format!("roimae-partial-{}-{n}{suffix}", std::process::id()))
}
