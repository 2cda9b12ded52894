//! Written NIfTI files read back identically here and in nibabel (array,
//! affine, sform/qform codes, TR).

mod common;

use common::data;
use roimae::volume::{Affine, Grid, Volume, VolumeMeta, read_volume, write_volume};
use std::path::Path;
use std::process::Command;

/// A 4D float volume on an oblique LAS grid with a recognisable pattern.
fn sample_volume() -> Volume {
    let grid = Grid::new(
        [7, 6, 5],
        Affine::from_rows([
            [-2.0, 0.0, 0.1, 30.0],
            [0.0, 2.5, 0.0, -40.0],
            [0.0, 0.0, 3.0, -12.0],
        ]),
    );
    let frames = 4;
    let data = (0..grid.n_voxels() * frames)
        .map(|n| (n as f32 * 0.37).sin() * 100.0 + n as f32 * 1e-3)
        .collect();
    let mut meta = VolumeMeta::new_f32(&grid, frames, Some(0.8), true);
    meta.sform_code = 4;
    meta.qform_code = 1;
    meta.description = "roimae test".into();
    Volume::from_data(grid, frames, data, meta)
}

#[test]
fn round_trip_through_our_reader_keeps_everything() {
    let dir = tempfile::tempdir().unwrap();
    let volume = sample_volume();
    for name in ["out.nii", "out.nii.gz", "sub-01_task-rest.desc-x.nii.gz"] {
        let path = dir.path().join(name);
        write_volume(&volume, &path).unwrap();
        let back = read_volume(&path).unwrap();
        assert_eq!(back.data, volume.data, "{name}: data");
        assert_eq!(back.shape(), vec![7, 6, 5, 4]);
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            1,
            "{name}: exactly one file"
        );
        assert!(
            back.affine().max_abs_diff(volume.affine()) < 1e-5,
            "{name}: affine"
        );
        assert_eq!((back.meta.sform_code, back.meta.qform_code), (4, 1));
        assert!((back.meta.tr.unwrap() - 0.8).abs() < 1e-6, "{name}: TR");
        assert_eq!(back.meta.description, "roimae test");
        std::fs::remove_file(&path).unwrap();
    }
}

#[test]
fn fixtures_survive_a_rewrite() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["functional.nii", "anatomical.nii", "nitime_fmri1.nii.gz"] {
        let original = read_volume(data(name)).unwrap();
        let path = dir.path().join("copy.nii.gz");
        write_volume(&original, &path).unwrap();
        let back = read_volume(&path).unwrap();
        assert_eq!(back.data, original.data, "{name}");
        assert_eq!(back.shape(), original.shape(), "{name}");
        assert!(
            back.affine().max_abs_diff(original.affine()) < 1e-4,
            "{name}"
        );
        assert_eq!(back.orientation(), original.orientation(), "{name}");
        assert_eq!(back.meta.tr, original.meta.tr, "{name}");
    }
}

#[test]
fn bad_output_names_and_folders_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let v = sample_volume();
    let err = write_volume(&v, dir.path().join("x.img")).unwrap_err();
    assert!(err.to_string().contains(".nii or .nii.gz"), "{err}");
    let err = write_volume(&v, dir.path().join("missing/x.nii")).unwrap_err();
    assert!(err.to_string().contains("cannot write"), "{err}");
}

/// nibabel is the reference reader; CI installs it (.ci/run). Without it, the
/// test says so and passes only outside CI.
fn nibabel_available() -> bool {
    let ok = Command::new("python3")
        .args(["-c", "import nibabel"])
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false);
    if !ok {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must have nibabel (pip install nibabel)"
        );
        eprintln!("SKIPPED: nibabel not installed; `pip install nibabel` to run this check");
    }
    ok
}

fn nibabel_check(path: &Path, volume: &Volume) {
    let script = r#"
import json, sys
import nibabel as nib, numpy as np
img = nib.load(sys.argv[1])
data = np.asarray(img.dataobj, dtype=np.float64)
print(json.dumps({
    "shape": list(img.shape),
    "affine": img.affine.tolist(),
    "sform_code": int(img.header["sform_code"]),
    "qform_code": int(img.header["qform_code"]),
    "zooms": [float(z) for z in img.header.get_zooms()],
    "units": list(img.header.get_xyzt_units()),
    "values": data.ravel(order="F").tolist(),
}))
"#;
    let out = Command::new("python3")
        .args(["-c", script])
        .arg(path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "nibabel failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(got["shape"], serde_json::json!(volume.shape()));
    let rows = volume.affine().rows();
    for r in 0..4 {
        for c in 0..4 {
            let g = got["affine"][r][c].as_f64().unwrap();
            assert!(
                (g - rows[r][c]).abs() < 1e-4,
                "affine[{r}][{c}]: nibabel {g}, ours {}",
                rows[r][c]
            );
        }
    }
    assert_eq!(
        got["sform_code"].as_i64(),
        Some(volume.meta.sform_code as i64)
    );
    assert_eq!(
        got["qform_code"].as_i64(),
        Some(volume.meta.qform_code as i64)
    );
    if let Some(tr) = volume.meta.tr {
        assert_eq!(got["units"][1], "sec");
        assert!((got["zooms"][3].as_f64().unwrap() - tr).abs() < 1e-6);
    }
    let values = got["values"].as_array().unwrap();
    assert_eq!(values.len(), volume.data.len());
    for (i, (v, w)) in volume.data.iter().zip(values).enumerate() {
        assert_eq!(w.as_f64().unwrap() as f32, *v, "voxel {i}");
    }
}

#[test]
fn nibabel_reads_back_the_same_array_affine_codes_and_tr() {
    if !nibabel_available() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let volume = sample_volume();
    for name in ["nb.nii", "nb.nii.gz"] {
        let path = dir.path().join(name);
        write_volume(&volume, &path).unwrap();
        nibabel_check(&path, &volume);
    }
    let oblique = read_volume(data("nitime_fmri1.nii.gz")).unwrap();
    let path = dir.path().join("nitime.nii.gz");
    write_volume(&oblique, &path).unwrap();
    nibabel_check(&path, &oblique);
}
