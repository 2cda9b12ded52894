//! Reading NIfTI-1 volumes (`.nii`, `.nii.gz`, `.hdr`/`.img` pairs, or bytes
//! in memory) into one f32 array, streaming: raw bytes are decoded chunk by
//! chunk, so the only full-size allocation is the f32 result, and that is
//! made only after the header's claims were checked against the file size
//! and the free memory.

use super::datatype::DataType;
use super::error::{VolumeError, VolumeErrorKind};
use super::header::{Header, NIFTI1_HEADER_SIZE, is_nifti2, parse_header};
use super::{Volume, VolumeMeta};
use flate2::read::MultiGzDecoder;
use std::fs::File;
use std::io::{BufReader, Cursor, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

/// Deflate cannot compress better than 1032:1; a header promising more data
/// than that from a gzip file is lying.
const MAX_GZIP_RATIO: u64 = 1032;
/// Raw bytes decoded per step (and per progress report).
const CHUNK_BYTES: usize = 1 << 20;

/// Reads the header of a NIfTI-1 file without touching the voxel data.
pub fn read_header(path: impl AsRef<Path>) -> Result<Header, VolumeError> {
    let path = path.as_ref();
    let (_, header) = open_header(path).map_err(|k| VolumeError::new(path, k))?;
    Ok(header)
}

/// Reads a whole volume from a file.
pub fn read_volume(path: impl AsRef<Path>) -> Result<Volume, VolumeError> {
    read_volume_with_progress(path, &mut |_, _| {})
}

/// Reads a whole volume, calling `progress(decoded, total)` after every
/// chunk with the voxels decoded so far (in file order: the first frame is
/// complete once `decoded.len()` reaches one frame) and the total count.
pub fn read_volume_with_progress(
    path: impl AsRef<Path>,
    progress: &mut dyn FnMut(&[f32], usize),
) -> Result<Volume, VolumeError> {
    let path = path.as_ref();
    read_inner(path, progress).map_err(|k| VolumeError::new(path, k))
}

/// Reads a `.nii` or `.nii.gz` held in memory (the embedded atlas and
/// template); `name` is used in error messages.
pub fn read_volume_from_bytes(name: &str, bytes: &[u8]) -> Result<Volume, VolumeError> {
    let fail = |k| VolumeError::new(name, k);
    let len = bytes.len() as u64;
    let gz = is_gzip(bytes);
    let mut stream: Box<dyn Read + '_> = if gz {
        Box::new(MultiGzDecoder::new(bytes))
    } else {
        Box::new(Cursor::new(bytes))
    };
    let header = header_from_stream(&mut stream, len, gz).map_err(fail)?;
    if header.pair {
        return Err(fail(VolumeErrorKind::NotNifti(
            "a .hdr header without its .img data".into(),
        )));
    }
    let skip = header.vox_offset - NIFTI1_HEADER_SIZE as u64;
    decode_data(
        stream,
        &header,
        DataSource { len, gz, skip },
        &mut |_, _| {},
    )
    .map_err(fail)
}

/// Where the voxel data is, as far as the checks need to know.
struct DataSource {
    /// Compressed (gzip) or plain length of the data file in bytes.
    len: u64,
    /// Whether the data file is gzip-compressed.
    gz: bool,
    /// Bytes to skip in the stream before the voxels start.
    skip: u64,
}

fn read_inner(
    path: &Path,
    progress: &mut dyn FnMut(&[f32], usize),
) -> Result<Volume, VolumeErrorKind> {
    let (stream, header) = open_header(path)?;
    if !header.pair {
        let len = file_len(path)?;
        let skip = header.vox_offset - NIFTI1_HEADER_SIZE as u64;
        let gz = is_gzip_file(path)?;
        return decode_data(stream, &header, DataSource { len, gz, skip }, progress);
    }
    let img = if has_ext(path, ".img") || has_ext(path, ".img.gz") {
        Some(path.to_path_buf())
    } else {
        companion_image(path)
    };
    let img = img.ok_or_else(|| {
        VolumeErrorKind::NotNifti("this .hdr has no matching .img (or .img.gz) data file".into())
    })?;
    let len = file_len(&img)?;
    let gz = is_gzip_file(&img)?;
    let file = File::open(&img).map_err(VolumeErrorKind::Open)?;
    let data: Box<dyn Read> = if gz {
        Box::new(MultiGzDecoder::new(BufReader::new(file)))
    } else {
        let mut file = file;
        if header.vox_offset + header.data_bytes() > len {
            return Err(short_or_past_end(&header, len));
        }
        file.seek(SeekFrom::Start(header.vox_offset))
            .map_err(VolumeErrorKind::Io)?;
        return decode_data(
            Box::new(BufReader::new(file)),
            &header,
            DataSource { len, gz, skip: 0 },
            progress,
        );
    };
    decode_data(
        data,
        &header,
        DataSource {
            len,
            gz,
            skip: header.vox_offset,
        },
        progress,
    )
}

/// Opens the header file and parses its first 348 bytes; the returned
/// stream is positioned right after them.
fn open_header(path: &Path) -> Result<(Box<dyn Read>, Header), VolumeErrorKind> {
    let header_path = if has_ext(path, ".img") || has_ext(path, ".img.gz") {
        companion_header(path).ok_or_else(|| {
            VolumeErrorKind::NotNifti("this .img has no matching .hdr header file".into())
        })?
    } else {
        path.to_path_buf()
    };
    let len = file_len(&header_path)?;
    if len == 0 {
        return Err(VolumeErrorKind::Empty);
    }
    let gz = is_gzip_file(&header_path)?;
    let file = File::open(&header_path).map_err(VolumeErrorKind::Open)?;
    let mut stream: Box<dyn Read> = if gz {
        Box::new(MultiGzDecoder::new(BufReader::new(file)))
    } else {
        Box::new(BufReader::new(file))
    };
    let header = header_from_stream(&mut stream, len, gz)?;
    Ok((stream, header))
}

fn header_from_stream(
    stream: &mut dyn Read,
    len: u64,
    gz: bool,
) -> Result<Header, VolumeErrorKind> {
    if len == 0 {
        return Err(VolumeErrorKind::Empty);
    }
    let mut buf = [0u8; NIFTI1_HEADER_SIZE];
    let got = read_up_to(stream, &mut buf, gz)?;
    if got < NIFTI1_HEADER_SIZE {
        if is_nifti2(&buf[..got]) {
            return Err(VolumeErrorKind::Nifti2);
        }
        if gz {
            return Err(VolumeErrorKind::Gzip(format!(
                "it ends {got} bytes in, inside the 348-byte header"
            )));
        }
        return Err(VolumeErrorKind::TooShort(got));
    }
    parse_header(&buf)
}

fn decode_data(
    mut stream: Box<dyn Read + '_>,
    header: &Header,
    source: DataSource,
    progress: &mut dyn FnMut(&[f32], usize),
) -> Result<Volume, VolumeErrorKind> {
    let data_bytes = header.data_bytes();
    let needed_in_stream = source.skip + data_bytes;
    if source.gz {
        let possible = source.len.saturating_mul(MAX_GZIP_RATIO) + 4096;
        if needed_in_stream + NIFTI1_HEADER_SIZE as u64 > possible {
            return Err(VolumeErrorKind::Absurd {
                claimed: format!(
                    "shape {:?} = {} bytes of voxel data",
                    header.shape, data_bytes
                ),
                reason: format!(
                    "a {}-byte gzip file holds at most {possible} bytes",
                    source.len
                ),
            });
        }
    } else if !header.pair && NIFTI1_HEADER_SIZE as u64 + needed_in_stream > source.len {
        return Err(short_or_past_end(header, source.len));
    }
    let total = header.n_values() as usize;
    ensure_memory(total)?;
    let mut data: Vec<f32> = Vec::new();
    data.try_reserve_exact(total)
        .map_err(|_| VolumeErrorKind::OutOfMemory {
            what: format!("the volume ({total} voxels as float32)"),
            needed_gib: gib(total as u64 * 4),
            available_gib: available_memory().map(gib).unwrap_or(0.0),
        })?;

    let skipped = std::io::copy(&mut (&mut stream).take(source.skip), &mut std::io::sink())
        .map_err(|e| io_kind(e, source.gz))?;
    if skipped < source.skip {
        return Err(VolumeErrorKind::OffsetPastEnd {
            offset: header.vox_offset,
            len: NIFTI1_HEADER_SIZE as u64 + skipped,
        });
    }

    let elem = header.datatype.size();
    let mut buf = vec![0u8; (CHUNK_BYTES / elem) * elem];
    let mut done_bytes: u64 = 0;
    while data.len() < total {
        let want = ((total - data.len()) * elem).min(buf.len());
        let got = read_up_to(&mut stream, &mut buf[..want], source.gz)?;
        done_bytes += got as u64;
        if got < want {
            return Err(VolumeErrorKind::DataTooShort {
                expected: data_bytes,
                found: done_bytes,
            });
        }
        decode_chunk(&buf[..want], header, &mut data);
        progress(&data, total);
    }
    if source.gz {
        // Drain the (normally empty) rest so the gzip CRC gets verified.
        std::io::copy(&mut stream.take(64 << 20), &mut std::io::sink())
            .map_err(|e| io_kind(e, true))?;
    }
    let [nx, ny, nz, nt] = header.shape4();
    Ok(Volume {
        grid: super::Grid::new([nx, ny, nz], header.affine),
        frames: nt,
        data,
        meta: VolumeMeta::from_header(header),
    })
}

/// Converts raw voxels to scaled f32, one voxel type per loop.
fn decode_chunk(bytes: &[u8], header: &Header, out: &mut Vec<f32>) {
    let be = header.big_endian;
    let (slope, inter) = header.scaling.unwrap_or((1.0, 0.0));
    macro_rules! run {
        ($n:literal, $t:ty) => {{
            let conv = |c: &[u8]| -> f64 {
                let arr: [u8; $n] = c.try_into().unwrap();
                (if be {
                    <$t>::from_be_bytes(arr)
                } else {
                    <$t>::from_le_bytes(arr)
                }) as f64
            };
            if header.scaling.is_some() {
                out.extend(
                    bytes
                        .chunks_exact($n)
                        .map(|c| (conv(c) * slope + inter) as f32),
                );
            } else {
                out.extend(bytes.chunks_exact($n).map(|c| conv(c) as f32));
            }
        }};
    }
    match header.datatype {
        DataType::U8 => run!(1, u8),
        DataType::I8 => run!(1, i8),
        DataType::I16 => run!(2, i16),
        DataType::U16 => run!(2, u16),
        DataType::I32 => run!(4, i32),
        DataType::U32 => run!(4, u32),
        DataType::I64 => run!(8, i64),
        DataType::U64 => run!(8, u64),
        DataType::F32 => run!(4, f32),
        DataType::F64 => run!(8, f64),
    }
}

/// Fills `buf` as far as the stream allows; returns the bytes read.
fn read_up_to(stream: &mut dyn Read, buf: &mut [u8], gz: bool) -> Result<usize, VolumeErrorKind> {
    let mut filled = 0;
    while filled < buf.len() {
        match stream.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(io_kind(e, gz)),
        }
    }
    Ok(filled)
}

fn io_kind(e: std::io::Error, gz: bool) -> VolumeErrorKind {
    if gz {
        VolumeErrorKind::Gzip(e.to_string())
    } else {
        VolumeErrorKind::Io(e)
    }
}

fn short_or_past_end(header: &Header, len: u64) -> VolumeErrorKind {
    if header.vox_offset > len || (header.vox_offset == len && header.data_bytes() > 0) {
        VolumeErrorKind::OffsetPastEnd {
            offset: header.vox_offset,
            len,
        }
    } else {
        VolumeErrorKind::DataTooShort {
            expected: header.data_bytes(),
            found: len - header.vox_offset,
        }
    }
}

fn ensure_memory(voxels: usize) -> Result<(), VolumeErrorKind> {
    let needed = voxels as u64 * 4;
    match available_memory() {
        Some(avail) if needed > avail => Err(VolumeErrorKind::OutOfMemory {
            what: format!("the volume ({voxels} voxels as float32)"),
            needed_gib: gib(needed),
            available_gib: gib(avail),
        }),
        _ => Ok(()),
    }
}

/// MemAvailable from /proc/meminfo (Linux), in bytes.
fn available_memory() -> Option<u64> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = info.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

fn gib(bytes: u64) -> f64 {
    bytes as f64 / (1u64 << 30) as f64
}

fn file_len(path: &Path) -> Result<u64, VolumeErrorKind> {
    let meta = std::fs::metadata(path).map_err(VolumeErrorKind::Open)?;
    if meta.is_dir() {
        return Err(VolumeErrorKind::NotNifti(
            "this is a folder, not a file".into(),
        ));
    }
    Ok(meta.len())
}

fn is_gzip(bytes: &[u8]) -> bool {
    bytes.len() >= 2 && bytes[0] == 0x1f && bytes[1] == 0x8b
}

/// Gzip is recognised by its magic bytes, not by the file name.
fn is_gzip_file(path: &Path) -> Result<bool, VolumeErrorKind> {
    let mut magic = [0u8; 2];
    let mut f = File::open(path).map_err(VolumeErrorKind::Open)?;
    let n = read_up_to(&mut f, &mut magic, false)?;
    Ok(is_gzip(&magic[..n]))
}

fn has_ext(path: &Path, ext: &str) -> bool {
    path.to_string_lossy().to_ascii_lowercase().ends_with(ext)
}

/// `x.hdr[.gz]` -> the first existing of `x.img`, `x.img.gz`.
fn companion_image(path: &Path) -> Option<PathBuf> {
    swap_suffix(
        path,
        &[".hdr.gz", ".hdr", ".nii.gz", ".nii"],
        &[".img", ".img.gz", ".IMG"],
    )
}

/// `x.img[.gz]` -> the first existing of `x.hdr`, `x.hdr.gz`.
fn companion_header(path: &Path) -> Option<PathBuf> {
    swap_suffix(path, &[".img.gz", ".img"], &[".hdr", ".hdr.gz", ".HDR"])
}

fn swap_suffix(path: &Path, from: &[&str], to: &[&str]) -> Option<PathBuf> {
    let s = path.to_string_lossy();
    let lower = s.to_ascii_lowercase();
    let stem = from
        .iter()
        .find(|suffix| lower.ends_with(*suffix))
        .map(|suffix| &s[..s.len() - suffix.len()])?;
    to.iter()
        .map(|suffix| PathBuf::from(format!("{stem}{suffix}")))
        .find(|p| p.is_file())
}
