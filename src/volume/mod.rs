//! 3D and 4D NIfTI volumes: reading, writing, statistics and resampling.
//!
//! A [`Volume`] holds its voxels once, as scaled f32 in NIfTI (Fortran)
//! order — x fastest, then y, z, and time — with the grid that places them
//! in world space and the header facts worth keeping. This module knows
//! nothing of the model or the GUI.

pub mod affine;
pub mod datatype;
pub mod error;
pub mod grid;
pub mod header;
pub mod read;
pub mod resample;
pub mod stats;
pub mod write;

pub use affine::Affine;
pub use datatype::DataType;
pub use error::{VolumeError, VolumeErrorKind};
pub use grid::Grid;
pub use header::Header;
pub use read::{read_header, read_volume, read_volume_from_bytes, read_volume_with_progress};
pub use resample::{Interpolation, resample};
pub use stats::Stats;
pub use write::write_volume;

use std::path::Path;

/// Header facts kept with a volume (what `roimae info` reports and what a
/// written file preserves).
#[derive(Debug, Clone, PartialEq)]
pub struct VolumeMeta {
    /// 3 or 4.
    pub ndim: usize,
    /// Voxel type the data had on disk (f32 for volumes made in memory).
    pub datatype: DataType,
    /// Whether the source file was big-endian.
    pub big_endian: bool,
    /// Voxel sizes (mm) and, for 4D, the time step, as stored in pixdim.
    pub zooms: Vec<f64>,
    /// sform_code of the source (0 = unset).
    pub sform_code: i16,
    /// qform_code of the source (0 = unset).
    pub qform_code: i16,
    /// The stored sform and qform, kept to warn when they disagree.
    pub sform: Option<Affine>,
    /// See `sform`.
    pub qform: Option<Affine>,
    /// Repetition time in seconds (4D only).
    pub tr: Option<f64>,
    /// The header's description field.
    pub description: String,
}

impl VolumeMeta {
    /// The facts of a parsed header.
    pub fn from_header(h: &Header) -> Self {
        VolumeMeta {
            ndim: h.ndim,
            datatype: h.datatype,
            big_endian: h.big_endian,
            zooms: h.zooms.clone(),
            sform_code: h.sform_code,
            qform_code: h.qform_code,
            sform: h.sform,
            qform: h.qform,
            tr: h.tr,
            description: h.description.clone(),
        }
    }

    /// Facts for a float32 volume made in memory on `grid`; both codes are
    /// set to 4 (MNI152) when `mni` is true, else 1 (scanner).
    pub fn new_f32(grid: &Grid, frames: usize, tr: Option<f64>, mni: bool) -> Self {
        let code = if mni { 4 } else { 1 };
        let mut zooms: Vec<f64> = grid.voxel_sizes().to_vec();
        if frames > 1 {
            zooms.push(tr.unwrap_or(1.0));
        }
        VolumeMeta {
            ndim: if frames > 1 { 4 } else { 3 },
            datatype: DataType::F32,
            big_endian: false,
            zooms,
            sform_code: code,
            qform_code: code,
            sform: Some(grid.affine),
            qform: Some(grid.affine),
            tr: if frames > 1 { tr } else { None },
            description: String::new(),
        }
    }
}

/// A 3D or 4D image on a world-space grid.
#[derive(Debug, Clone, PartialEq)]
pub struct Volume {
    /// The spatial grid (shape and voxel-to-world affine).
    pub grid: Grid,
    /// Number of time points (1 for a 3D volume).
    pub frames: usize,
    /// Scaled voxel values, x fastest, then y, z, t.
    pub data: Vec<f32>,
    /// Header facts.
    pub meta: VolumeMeta,
}

impl Volume {
    /// A float32 volume from data in NIfTI order on `grid`.
    pub fn from_data(grid: Grid, frames: usize, data: Vec<f32>, meta: VolumeMeta) -> Self {
        assert_eq!(
            data.len(),
            grid.n_voxels() * frames,
            "data length must match grid x frames"
        );
        Volume {
            grid,
            frames,
            data,
            meta,
        }
    }

    /// The shape as nibabel reports it: 3 entries for 3D, 4 for 4D.
    pub fn shape(&self) -> Vec<usize> {
        let mut s = self.grid.dims.to_vec();
        if self.meta.ndim == 4 {
            s.push(self.frames);
        }
        s
    }

    /// The voxel-to-world affine.
    pub fn affine(&self) -> &Affine {
        &self.grid.affine
    }

    /// The voxels of time point `t`.
    pub fn frame(&self, t: usize) -> &[f32] {
        let n = self.grid.n_voxels();
        &self.data[t * n..(t + 1) * n]
    }

    /// The value at voxel (i, j, k) of time point `t`, if inside.
    pub fn value(&self, i: usize, j: usize, k: usize, t: usize) -> Option<f32> {
        let [nx, ny, nz] = self.grid.dims;
        (i < nx && j < ny && k < nz && t < self.frames)
            .then(|| self.data[t * self.grid.n_voxels() + self.grid.index(i, j, k)])
    }

    /// The orientation code of the grid, e.g. `"LAS"`.
    pub fn orientation(&self) -> String {
        self.grid.affine.orientation()
    }

    /// Statistics of all voxels (non-finite values counted, not used).
    pub fn stats(&self) -> Stats {
        Stats::of(&self.data)
    }

    /// Fails with a clear error unless this is a 4D time series; `path` is
    /// the file named in the message.
    pub fn require_4d(&self, path: impl AsRef<Path>) -> Result<(), VolumeError> {
        if self.meta.ndim == 4 {
            return Ok(());
        }
        Err(VolumeError::new(
            path,
            VolumeErrorKind::Not4d {
                ndim: self.meta.ndim,
                shape: format!("{:?}", self.shape()),
            },
        ))
    }

    /// When both sform and qform are set and place voxels differently (by
    /// more than 0.01 mm or in orientation), a one-line warning.
    pub fn sform_qform_warning(&self) -> Option<String> {
        let (Some(s), Some(q)) = (self.meta.sform, self.meta.qform) else {
            return None;
        };
        let diff = s.max_abs_diff(&q);
        (diff > 1e-2).then(|| {
            format!(
                "sform ({}) and qform ({}) disagree by up to {diff:.3}; using the sform as nibabel does",
                s.orientation(),
                q.orientation()
            )
        })
    }
}
