//! Bad input never panics or hangs: every broken file gets exit code 2 and
//! one readable line on stderr naming the file and the problem.

mod common;

use common::data;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

/// Runs `roimae info [extra] FILE`, failing the test if it takes over 30 s;
/// returns (exit code, stderr).
fn info_on(path: &Path, extra: &[&str]) -> (i32, String) {
    let mut child = common::roimae_command()
        .arg("info")
        .args(extra)
        .arg(path)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let mut err = String::new();
            std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
            return (status.code().unwrap_or(-1), err);
        }
        if start.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            panic!("roimae info {} hung", path.display());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Asserts the clean-refusal contract and that the message says `needle`.
fn assert_refused(path: &Path, extra: &[&str], needle: &str) {
    let (code, err) = info_on(path, extra);
    assert_eq!(
        code,
        2,
        "{}: exit code {code}, stderr: {err}",
        path.display()
    );
    assert!(
        !err.contains("panicked"),
        "{}: panicked: {err}",
        path.display()
    );
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(
        lines.len(),
        1,
        "{}: expected one line, got: {err}",
        path.display()
    );
    let name = path.file_name().unwrap().to_string_lossy();
    assert!(
        lines[0].contains(name.as_ref()),
        "message does not name the file: {err}"
    );
    assert!(
        lines[0].to_lowercase().contains(&needle.to_lowercase()),
        "message for {name} should mention '{needle}': {err}"
    );
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

/// functional.nii (little-endian int16, 17x21x3x20) with `edit` applied.
fn edited_functional(edit: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
    let mut bytes = std::fs::read(data("functional.nii")).unwrap();
    edit(&mut bytes);
    bytes
}

fn set_i16(bytes: &mut [u8], at: usize, v: i16) {
    bytes[at..at + 2].copy_from_slice(&v.to_le_bytes());
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

#[test]
fn empty_file() {
    let dir = tempfile::tempdir().unwrap();
    assert_refused(&write(dir.path(), "empty.nii", b""), &[], "empty");
}

#[test]
fn random_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let mut x: u32 = 12345;
    let noise: Vec<u8> = (0..5000)
        .map(|_| {
            x = x.wrapping_mul(1664525).wrapping_add(1013904223);
            (x >> 24) as u8
        })
        .collect();
    assert_refused(
        &write(dir.path(), "noise.nii", &noise),
        &[],
        "not a NIfTI-1",
    );
    assert_refused(
        &write(dir.path(), "short.nii", &noise[..100]),
        &[],
        "too short",
    );
    assert_refused(
        &write(dir.path(), "noise.nii.gz", &gzip(&noise)),
        &[],
        "not a NIfTI-1",
    );
}

#[test]
fn truncated_gzip() {
    let dir = tempfile::tempdir().unwrap();
    let whole = std::fs::read(data("nitime_fmri1.nii.gz")).unwrap();
    let cut = write(dir.path(), "cut.nii.gz", &whole[..whole.len() / 2]);
    let (code, err) = info_on(&cut, &[]);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("gzip") || err.contains("shorter than the header"),
        "{err}"
    );
    assert_refused(&cut, &[], "cut.nii.gz");
    // Cut inside the header.
    assert_refused(&write(dir.path(), "head.nii.gz", &whole[..60]), &[], "gzip");
}

#[test]
fn absurd_dimensions_are_refused_before_allocating() {
    let dir = tempfile::tempdir().unwrap();
    // 30000^4 voxels: beyond any real scan.
    let huge = edited_functional(|b| {
        for axis in 1..=4 {
            set_i16(b, 40 + 2 * axis, 30000);
        }
    });
    assert_refused(&write(dir.path(), "huge.nii", &huge), &[], "absurd");
    // 2000^3 x 1 voxels claimed by a small gzip file: impossible ratio.
    let bomb = edited_functional(|b| {
        for axis in 1..=3 {
            set_i16(b, 40 + 2 * axis, 2000);
        }
        set_i16(b, 48, 1);
    });
    assert_refused(
        &write(dir.path(), "bomb.nii.gz", &gzip(&bomb)),
        &[],
        "absurd",
    );
    // The same uncompressed: the file is far shorter than the claim.
    assert_refused(
        &write(dir.path(), "bomb.nii", &bomb),
        &[],
        "shorter than the header",
    );
}

#[test]
fn data_shorter_than_the_header_says() {
    let dir = tempfile::tempdir().unwrap();
    let mut short = std::fs::read(data("functional.nii")).unwrap();
    short.truncate(short.len() - 100);
    assert_refused(
        &write(dir.path(), "short_data.nii", &short),
        &[],
        "shorter than the header",
    );
    assert_refused(
        &write(dir.path(), "short_data.nii.gz", &gzip(&short)),
        &[],
        "shorter than the header",
    );
}

#[test]
fn negative_and_zero_dimensions() {
    let dir = tempfile::tempdir().unwrap();
    let neg = edited_functional(|b| set_i16(b, 44, -5));
    assert_refused(&write(dir.path(), "neg.nii", &neg), &[], "dim[2] = -5");
    let zero = edited_functional(|b| set_i16(b, 42, 0));
    assert_refused(&write(dir.path(), "zero.nii", &zero), &[], "dim[1] = 0");
    let ndim = edited_functional(|b| set_i16(b, 40, -1));
    assert_refused(&write(dir.path(), "ndim.nii", &ndim), &[], "dim[0] = -1");
    let five_d = edited_functional(|b| {
        set_i16(b, 40, 5);
        set_i16(b, 50, 2);
    });
    assert_refused(
        &write(dir.path(), "five.nii", &five_d),
        &[],
        "more than 4 dimensions",
    );
}

#[test]
fn bad_magic() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = edited_functional(|b| b[344..348].copy_from_slice(b"abc\0"));
    assert_refused(&write(dir.path(), "magic.nii", &bytes), &[], "bad magic");
}

#[test]
fn vox_offset_past_the_end() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = edited_functional(|b| b[108..112].copy_from_slice(&1.0e9f32.to_le_bytes()));
    assert_refused(
        &write(dir.path(), "offset.nii", &bytes),
        &[],
        "past the end",
    );
    assert_refused(
        &write(dir.path(), "offset.nii.gz", &gzip(&bytes)),
        &[],
        "absurd",
    );
    let mid = edited_functional(|b| b[108..112].copy_from_slice(&20000.0f32.to_le_bytes()));
    assert_refused(
        &write(dir.path(), "mid.nii.gz", &gzip(&mid)),
        &[],
        "shorter than the header",
    );
}

#[test]
fn three_d_file_where_a_run_is_required() {
    assert_refused(
        &data("anatomical.nii"),
        &["--expect-4d"],
        "expected a 4D fMRI run",
    );
}

#[test]
fn nifti2_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let mut header = vec![0u8; 544];
    header[0..4].copy_from_slice(&540i32.to_le_bytes());
    header[4..8].copy_from_slice(b"n+2\0");
    assert_refused(&write(dir.path(), "two.nii", &header), &[], "NIfTI-2");
}

#[test]
fn unsupported_datatype() {
    let dir = tempfile::tempdir().unwrap();
    let bytes = edited_functional(|b| set_i16(b, 70, 32));
    assert_refused(
        &write(dir.path(), "complex.nii", &bytes),
        &[],
        "not supported",
    );
}

#[test]
fn missing_file_and_folder() {
    let dir = tempfile::tempdir().unwrap();
    assert_refused(&dir.path().join("nothere.nii"), &[], "cannot open");
    let sub = dir.path().join("folder.nii");
    std::fs::create_dir(&sub).unwrap();
    assert_refused(&sub, &[], "folder");
}

#[test]
fn voxel_outside_the_volume() {
    assert_refused(
        &data("anatomical.nii"),
        &["--voxel", "99,0,0"],
        "outside the volume",
    );
    assert_refused(&data("anatomical.nii"), &["--voxel", "a,b"], "--voxel");
}
