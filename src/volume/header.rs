//! Parsing and validation of the 348-byte NIfTI-1 header.
//!
//! Field decoding is done by the `nifti` crate; this module checks what that
//! crate lets through (NIfTI-2 files, negative or absurd dimensions,
//! unsupported types, invalid offsets) and turns the raw fields into the
//! facts the rest of the program uses: shape, voxel type, scaling, affine
//! (sform, else qform, else pixdim, as nibabel) and TR in seconds.

use super::affine::Affine;
use super::datatype::DataType;
use super::error::VolumeErrorKind;
use nifti::NiftiHeader;

/// Size of a NIfTI-1 header in bytes.
pub const NIFTI1_HEADER_SIZE: usize = 348;
/// Size of a NIfTI-2 header in bytes (recognised only to refuse it clearly).
const NIFTI2_HEADER_SIZE: i32 = 540;
/// More voxels than any real scan has (16 Gi); larger claims are corruption.
pub const MAX_VOXELS: u64 = 1 << 34;

/// Everything the program needs from a NIfTI-1 header.
#[derive(Debug, Clone, PartialEq)]
pub struct Header {
    /// Number of dimensions (3 or 4; 1D/2D files are read as 3D with
    /// singleton axes).
    pub ndim: usize,
    /// Size of each of the first `ndim` dimensions.
    pub shape: Vec<usize>,
    /// Voxel type on disk.
    pub datatype: DataType,
    /// Whether the file is big-endian.
    pub big_endian: bool,
    /// pixdim\[1..=ndim\] as stored (what nibabel's `get_zooms` reports).
    pub zooms: Vec<f64>,
    /// `(slope, intercept)` when scl_slope is finite and non-zero.
    pub scaling: Option<(f64, f64)>,
    /// Byte offset of the voxel data in the data file.
    pub vox_offset: u64,
    /// Whether the data lives in a separate `.img` file (magic `ni1`).
    pub pair: bool,
    /// sform_code (0 = unset).
    pub sform_code: i16,
    /// qform_code (0 = unset).
    pub qform_code: i16,
    /// The sform transform, when sform_code > 0.
    pub sform: Option<Affine>,
    /// The qform transform, when qform_code > 0.
    pub qform: Option<Affine>,
    /// The voxel-to-world transform in use: sform, else qform, else pixdim.
    pub affine: Affine,
    /// Repetition time in seconds for 4D files (pixdim\[4\] in xyzt units).
    pub tr: Option<f64>,
    /// The `descrip` field.
    pub description: String,
}

impl Header {
    /// Total number of voxels over all dimensions.
    pub fn n_values(&self) -> u64 {
        self.shape.iter().map(|&d| d as u64).product()
    }

    /// Bytes of voxel data the header promises.
    pub fn data_bytes(&self) -> u64 {
        self.n_values() * self.datatype.size() as u64
    }

    /// Shape padded to (x, y, z, t).
    pub fn shape4(&self) -> [usize; 4] {
        let mut s = [1usize; 4];
        for (d, v) in self.shape.iter().enumerate().take(4) {
            s[d] = *v;
        }
        s
    }
}

/// Whether the first bytes of a file are a NIfTI-2 header (size field 540
/// in either byte order, or the `n+2` / `ni2` magic right after it).
pub fn is_nifti2(bytes: &[u8]) -> bool {
    if bytes.len() < 8 {
        return false;
    }
    let size_le = i32::from_le_bytes(bytes[0..4].try_into().unwrap());
    let size_be = i32::from_be_bytes(bytes[0..4].try_into().unwrap());
    size_le == NIFTI2_HEADER_SIZE
        || size_be == NIFTI2_HEADER_SIZE
        || &bytes[4..8] == b"n+2\0"
        || &bytes[4..8] == b"ni2\0"
}

/// The f64 with the same shortest decimal form as a header f32: a TR stored
/// as 1.35f32 is 1.35 s, not 1.350000023841858 s.
fn f32_decimal(v: f32) -> f64 {
    v.to_string().parse().unwrap_or(v as f64)
}

/// Checks the first bytes of a file (at least 348) and parses the header.
pub fn parse_header(bytes: &[u8]) -> Result<Header, VolumeErrorKind> {
    if bytes.len() < NIFTI1_HEADER_SIZE {
        return Err(VolumeErrorKind::TooShort(bytes.len()));
    }
    if is_nifti2(bytes) {
        return Err(VolumeErrorKind::Nifti2);
    }
    let size_le = i32::from_le_bytes(bytes[0..4].try_into().unwrap());
    let size_be = i32::from_be_bytes(bytes[0..4].try_into().unwrap());
    let big_endian = match (size_le, size_be) {
        (348, _) => false,
        (_, 348) => true,
        _ => {
            return Err(VolumeErrorKind::NotNifti(format!(
                "the header size field is {size_le}, not 348"
            )));
        }
    };
    let magic = &bytes[344..348];
    let pair = match magic {
        b"n+1\0" => false,
        b"ni1\0" => true,
        _ => {
            return Err(VolumeErrorKind::NotNifti(format!(
                "bad magic {:?} (expected \"n+1\" or \"ni1\")",
                String::from_utf8_lossy(&magic[..3])
            )));
        }
    };
    // dim[0] decides the `nifti` crate's byte-order guess; check it first
    // with the byte order the header size field proved.
    let dim0_bytes: [u8; 2] = bytes[40..42].try_into().unwrap();
    let dim0 = if big_endian {
        i16::from_be_bytes(dim0_bytes)
    } else {
        i16::from_le_bytes(dim0_bytes)
    };
    if !(1..=7).contains(&dim0) {
        return Err(VolumeErrorKind::BadDims(format!(
            "dim[0] = {dim0} (the number of dimensions must be 1 to 7)"
        )));
    }
    let raw = NiftiHeader::from_reader(&bytes[..NIFTI1_HEADER_SIZE])
        .map_err(|e| VolumeErrorKind::NotNifti(e.to_string()))?;
    interpret(&raw, big_endian, pair)
}

/// Reads a signed 16-bit header field exactly as stored (the `nifti` crate
/// keeps `dim` as u16, which hides negative values).
fn dims_as_signed(raw: &NiftiHeader) -> [i16; 8] {
    raw.dim.map(|d| d as i16)
}

fn interpret(raw: &NiftiHeader, big_endian: bool, pair: bool) -> Result<Header, VolumeErrorKind> {
    let dim = dims_as_signed(raw);
    let ndim_raw = dim[0];
    if !(1..=7).contains(&ndim_raw) {
        return Err(VolumeErrorKind::BadDims(format!(
            "dim[0] = {ndim_raw} (the number of dimensions must be 1 to 7)"
        )));
    }
    let ndim_raw = ndim_raw as usize;
    for (axis, &d) in dim.iter().enumerate().skip(1).take(ndim_raw) {
        if d <= 0 {
            return Err(VolumeErrorKind::BadDims(format!(
                "dim[{axis}] = {d} (every dimension must be at least 1)"
            )));
        }
    }
    if dim[5..=ndim_raw.max(4)].iter().any(|&d| d > 1) {
        return Err(VolumeErrorKind::BadDims(format!(
            "shape {:?} has more than 4 dimensions, which is not supported",
            &dim[1..=ndim_raw]
        )));
    }
    let ndim = ndim_raw.clamp(3, 4);
    let shape: Vec<usize> = (1..=ndim)
        .map(|a| if a <= ndim_raw { dim[a] as usize } else { 1 })
        .collect();
    let n_values: u64 = shape.iter().map(|&d| d as u64).product();
    let datatype = DataType::from_code(raw.datatype).ok_or_else(|| {
        VolumeErrorKind::UnsupportedType(match raw.data_type() {
            Ok(t) => format!("{t:?} (code {})", raw.datatype),
            Err(_) => format!("code {}", raw.datatype),
        })
    })?;
    if n_values > MAX_VOXELS {
        return Err(VolumeErrorKind::Absurd {
            claimed: format!("shape {shape:?} = {n_values} voxels"),
            reason: format!("more than {MAX_VOXELS} voxels"),
        });
    }
    let vox_offset = raw.vox_offset;
    if !vox_offset.is_finite()
        || vox_offset < 0.0
        || (!pair && vox_offset < NIFTI1_HEADER_SIZE as f32)
    {
        return Err(VolumeErrorKind::NotNifti(format!(
            "vox_offset {vox_offset} is invalid (a .nii file needs at least 348)"
        )));
    }
    let pixdim: Vec<f64> = raw.pixdim.iter().map(|&p| p as f64).collect();
    let zooms: Vec<f64> = raw.pixdim[1..=ndim]
        .iter()
        .map(|&p| f32_decimal(p))
        .collect();
    let slope = raw.scl_slope as f64;
    let inter = raw.scl_inter as f64;
    let scaling = (slope.is_finite() && slope != 0.0)
        .then_some((slope, if inter.is_finite() { inter } else { 0.0 }));

    let shape3 = [shape[0], shape[1], shape[2]];
    let sform = (raw.sform_code > 0).then(|| {
        let row = |r: [f32; 4]| r.map(|v| v as f64);
        Affine::from_rows([row(raw.srow_x), row(raw.srow_y), row(raw.srow_z)])
    });
    let qform = (raw.qform_code > 0).then(|| {
        Affine::from_qform(
            [raw.quatern_b, raw.quatern_c, raw.quatern_d].map(|v| v as f64),
            [raw.quatern_x, raw.quatern_y, raw.quatern_z].map(|v| v as f64),
            pixdim[0],
            [pixdim[1], pixdim[2], pixdim[3]],
        )
    });
    let affine = sform
        .filter(Affine::is_valid)
        .or(qform.filter(Affine::is_valid))
        .unwrap_or_else(|| Affine::from_pixdim(shape3, [pixdim[1], pixdim[2], pixdim[3]]));

    let tr = (ndim == 4 && pixdim[4].is_finite() && pixdim[4] > 0.0).then(|| {
        let step = f32_decimal(raw.pixdim[4]);
        // xyzt_units bits 3-5: 8 = s, 16 = ms, 24 = us; unset means seconds.
        match raw.xyzt_units & 0x38 {
            16 => step / 1e3,
            24 => step / 1e6,
            _ => step,
        }
    });
    let description = String::from_utf8_lossy(&raw.descrip)
        .trim_end_matches('\0')
        .trim()
        .to_string();
    Ok(Header {
        ndim,
        shape,
        datatype,
        big_endian,
        zooms,
        scaling,
        vox_offset: vox_offset as u64,
        pair,
        sform_code: raw.sform_code,
        qform_code: raw.qform_code,
        sform,
        qform,
        affine,
        tr,
        description,
    })
}
