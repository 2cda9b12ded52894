//! Reading a clip and a token mask for [`super::reconstruct`], and writing
//! its `.npz`: `.npy` through `ndarray-npy`, clips also from NIfTI. Shapes
//! follow NeuroSTORM: clip `(1, 1, X, Y, Z, T)` or `(X, Y, Z, T)`, token mask
//! `(1, gx, gy, gz, T)` or `(gx, gy, gz, T)`, 1 = masked, C order.

use super::error::InteropError;
use ndarray::ArrayD;
use std::path::Path;

/// A clip, row-major `(X, Y, Z, T)`.
#[derive(Debug, Clone)]
pub struct Clip {
    /// `[X, Y, Z, T]`.
    pub shape: [usize; 4],
    /// Values, T fastest.
    pub data: Vec<f32>,
}

/// A token mask, row-major `(gx, gy, gz, T)`.
#[derive(Debug, Clone)]
pub struct TokenMask {
    /// `[gx, gy, gz, T]`.
    pub shape: [usize; 4],
    /// 1 where masked, T fastest.
    pub data: Vec<bool>,
}

fn bad(path: &Path, reason: impl Into<String>) -> InteropError {
    InteropError::Array {
        path: path.to_path_buf(),
        reason: reason.into(),
    }
}

fn is_nifti(path: &Path) -> bool {
    let name = path.to_string_lossy().to_lowercase();
    name.ends_with(".nii") || name.ends_with(".nii.gz")
}

/// Drops leading extents of 1 down to four dimensions.
fn four_dims(path: &Path, shape: &[usize], what: &str) -> Result<[usize; 4], InteropError> {
    let lead = shape.len().saturating_sub(4);
    if shape.len() < 4 || shape[..lead].iter().any(|&d| d != 1) {
        return Err(bad(
            path,
            format!(
                "{what} has shape {shape:?}; expected {}",
                if what == "the clip" {
                    "(1, 1, X, Y, Z, T) or (X, Y, Z, T)"
                } else {
                    "(1, gx, gy, gz, T) or (gx, gy, gz, T)"
                }
            ),
        ));
    }
    Ok([
        shape[lead],
        shape[lead + 1],
        shape[lead + 2],
        shape[lead + 3],
    ])
}

/// Reads a clip from `.npy` (float32) or a 4D NIfTI file.
pub fn read_clip(path: &Path) -> Result<Clip, InteropError> {
    if is_nifti(path) {
        let vol = crate::volume::read_volume(path).map_err(|e| bad(path, e.to_string()))?;
        let [nx, ny, nz] = vol.grid.dims;
        let t = vol.frames;
        let n = nx * ny * nz;
        let mut data = vec![0f32; n * t];
        // NIfTI: x fastest, then y, z, t → row-major (x, y, z, t).
        for f in 0..t {
            for k in 0..nz {
                for j in 0..ny {
                    for i in 0..nx {
                        data[((i * ny + j) * nz + k) * t + f] =
                            vol.data[f * n + (k * ny + j) * nx + i];
                    }
                }
            }
        }
        return Ok(Clip {
            shape: [nx, ny, nz, t],
            data,
        });
    }
    let array: ArrayD<f32> = ndarray_npy::read_npy(path).map_err(|e| {
        bad(
            path,
            format!("cannot read a float32 .npy ({e}); give a float32 array or a NIfTI clip"),
        )
    })?;
    let shape = four_dims(path, array.shape(), "the clip")?;
    Ok(Clip {
        shape,
        data: array.iter().copied().collect(),
    })
}

/// Reads a uint8 (or bool) token mask `.npy`.
pub fn read_token_mask(path: &Path) -> Result<TokenMask, InteropError> {
    let (shape, data): (Vec<usize>, Vec<bool>) = match ndarray_npy::read_npy::<_, ArrayD<u8>>(path)
    {
        Ok(a) => (a.shape().to_vec(), a.iter().map(|&v| v != 0).collect()),
        Err(first) => match ndarray_npy::read_npy::<_, ArrayD<bool>>(path) {
            Ok(a) => (a.shape().to_vec(), a.iter().copied().collect()),
            Err(_) => {
                return Err(bad(
                    path,
                    format!(
                        "cannot read a uint8 token mask .npy ({first}); give uint8 with 1 = masked"
                    ),
                ));
            }
        },
    };
    let shape = four_dims(path, &shape, "the token mask")?;
    Ok(TokenMask { shape, data })
}

/// Writes named float32 arrays (row-major, with shapes) as an uncompressed `.npz`.
pub fn write_npz(path: &Path, arrays: &[(&str, Vec<usize>, Vec<f32>)]) -> Result<(), InteropError> {
    let fail = |e: String| InteropError::Write {
        path: path.to_path_buf(),
        reason: e,
    };
    let tmp = path.with_extension("partial-write");
    let file = std::fs::File::create(&tmp).map_err(|e| fail(e.to_string()))?;
    let mut npz = ndarray_npy::NpzWriter::new(file);
    for (name, shape, data) in arrays {
        let a = ArrayD::from_shape_vec(ndarray::IxDyn(shape), data.clone())
            .map_err(|e| fail(e.to_string()))?;
        npz.add_array(*name, &a).map_err(|e| fail(e.to_string()))?;
    }
    npz.finish().map_err(|e| fail(e.to_string()))?;
    std::fs::rename(&tmp, path).map_err(|e| fail(e.to_string()))
}
