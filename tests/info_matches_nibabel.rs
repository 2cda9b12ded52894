//! `roimae info` against nibabel's numbers for real files written by other
//! tools (tests/data/*.expected.json) and for nibabel-written files of every
//! supported datatype and byte order (tests/data/generated/).

mod common;

use common::{assert_close, data, expected, floats, roimae};
use roimae::volume::read_volume;
use serde_json::Value;

const FIXTURES: [&str; 3] = ["functional.nii", "anatomical.nii", "nitime_fmri1.nii.gz"];

/// Compares the `--json` output with nibabel's expected values.
fn check_info_json(got: &Value, want: &Value, name: &str) {
    assert_eq!(got["shape"], want["shape"], "{name}: shape");
    assert_eq!(got["datatype"], want["datatype"], "{name}: datatype");
    for (g, w) in floats(&got["zooms"]).iter().zip(floats(&want["zooms"])) {
        assert_close(&format!("{name}: zoom"), *g, w, 1e-6, 1e-9);
    }
    assert_eq!(
        floats(&got["zooms"]).len(),
        floats(&want["zooms"]).len(),
        "{name}: zooms"
    );
    for r in 0..4 {
        for c in 0..4 {
            let g = got["affine"][r][c].as_f64().unwrap();
            let w = want["affine"][r][c].as_f64().unwrap();
            assert!(
                (g - w).abs() <= 1e-4,
                "{name}: affine[{r}][{c}] = {g}, nibabel {w}"
            );
        }
    }
    assert_eq!(got["sform_code"], want["sform_code"], "{name}: sform_code");
    assert_eq!(got["qform_code"], want["qform_code"], "{name}: qform_code");
    assert_eq!(
        got["orientation"], want["orientation"],
        "{name}: orientation"
    );
    for key in ["min", "max", "mean", "std"] {
        let g = got["stats"][key].as_f64().unwrap();
        let w = want["stats"][key].as_f64().unwrap();
        assert_close(&format!("{name}: stats.{key}"), g, w, 1e-5, 1e-9);
    }
}

#[test]
fn info_json_keys_are_exactly_the_documented_ones() {
    let out = roimae(&["info", "--json", data("functional.nii").to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got: Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut keys: Vec<&str> = got
        .as_object()
        .unwrap()
        .keys()
        .map(|k| k.as_str())
        .collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "affine",
            "datatype",
            "orientation",
            "qform_code",
            "sform_code",
            "shape",
            "stats",
            "tr",
            "zooms"
        ]
    );
    let mut stats: Vec<&str> = got["stats"]
        .as_object()
        .unwrap()
        .keys()
        .map(|k| k.as_str())
        .collect();
    stats.sort();
    assert_eq!(stats, ["max", "mean", "min", "std"]);
    assert_eq!(got["tr"].as_f64(), Some(2.0));
}

#[test]
fn info_agrees_with_nibabel_on_every_fixture() {
    for name in FIXTURES {
        let out = roimae(&["info", "--json", data(name).to_str().unwrap()]);
        assert!(
            out.status.success(),
            "{name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let got: Value = serde_json::from_slice(&out.stdout).unwrap();
        check_info_json(&got, &expected(name), name);
    }
}

#[test]
fn listed_voxels_are_exact_scaled_floats() {
    for name in FIXTURES {
        let want = expected(name);
        for voxel in want["voxels"].as_array().unwrap() {
            let index: Vec<String> = voxel["index"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.to_string())
                .collect();
            let spec = index.join(",");
            let out = roimae(&[
                "info",
                "--json",
                "--voxel",
                &spec,
                data(name).to_str().unwrap(),
            ]);
            assert!(
                out.status.success(),
                "{name} {spec}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            let got: Value = serde_json::from_slice(&out.stdout).unwrap();
            let value = got["voxel"]["value"].as_f64().unwrap() as f32;
            let expected = voxel["value"].as_f64().unwrap() as f32;
            assert_eq!(value, expected, "{name} voxel {spec}");
        }
    }
}

#[test]
fn every_datatype_and_byte_order_reads_exactly_as_nibabel() {
    let dir = data("generated");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().to_string();
        let Some(file) = name.strip_suffix(".expected.json") else {
            continue;
        };
        let want = expected(&format!("generated/{file}"));
        let volume = read_volume(dir.join(file)).unwrap_or_else(|e| panic!("{e}"));
        let got = roimae::cli::info::info_json(&volume, None);
        check_info_json(&got, &want, file);
        assert_eq!(
            volume.stats().nonfinite as u64,
            want["nonfinite"].as_u64().unwrap(),
            "{file}"
        );
        let values = want["values"].as_array().unwrap();
        assert_eq!(values.len(), volume.data.len(), "{file}: voxel count");
        for (idx, (g, w)) in volume.data.iter().zip(values).enumerate() {
            match w.as_f64() {
                Some(w) => assert_eq!(*g, w as f32, "{file}: voxel {idx}"),
                None => assert!(!g.is_finite(), "{file}: voxel {idx} should be NaN/Inf"),
            }
        }
        checked += 1;
    }
    assert!(checked >= 23, "only {checked} generated fixtures found");
}

#[test]
fn tr_is_read_in_seconds_whatever_the_unit() {
    let ms = read_volume(data("generated/scaled_int16_tr_ms.nii.gz")).unwrap();
    assert!(
        (ms.meta.tr.unwrap() - 0.8).abs() < 1e-9,
        "TR {:?}",
        ms.meta.tr
    );
    let s = read_volume(data("generated/int16_le.nii")).unwrap();
    assert_eq!(s.meta.tr, Some(2.5));
    let three_d = read_volume(data("anatomical.nii")).unwrap();
    assert_eq!(three_d.meta.tr, None);
}

#[test]
fn nan_and_inf_are_counted_and_kept_out_of_the_stats() {
    let out = roimae(&[
        "info",
        "--json",
        data("generated/nan_inf_3d.nii").to_str().unwrap(),
    ]);
    assert!(out.status.success());
    let got: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(got["stats"]["nonfinite"].as_u64(), Some(3));
    assert!(got["stats"]["mean"].as_f64().unwrap().is_finite());
    let text = roimae(&["info", data("generated/nan_inf_3d.nii").to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&text.stdout);
    assert!(stdout.contains("non-finite:   3 voxel(s)"), "{stdout}");
}

#[test]
fn hdr_img_pair_reads_from_either_file() {
    let from_hdr = read_volume(data("generated/pair_int16.hdr")).unwrap();
    let from_img = read_volume(data("generated/pair_int16.img")).unwrap();
    assert_eq!(from_hdr, from_img);
}
