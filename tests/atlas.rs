//! The built-in AAL3 atlas on the MNI 2 mm grid against independent truth:
//! SPEC-model's lobe split, and exact voxel/token numbers computed by numpy
//! from the atlas file alone (tests/data/atlas_truth.py).

mod common;

use common::roimae;
use roimae::atlas::{Atlas, AtlasReport, Hemisphere, LabelMap, Lobe, TokenGeometry};
use roimae::volume::Grid;
use serde_json::Value;

fn mni_report() -> AtlasReport {
    AtlasReport::build(
        &Atlas::aal3().unwrap(),
        &Grid::mni_2mm(),
        TokenGeometry::REFERENCE,
    )
}

#[test]
fn region_table_has_166_regions_over_ids_1_to_170() {
    let atlas = Atlas::aal3().unwrap();
    assert_eq!(atlas.regions.len(), 166);
    for missing in [35, 36, 81, 82] {
        assert!(
            atlas.regions.get(missing).is_none(),
            "id {missing} should be unused"
        );
    }
    assert_eq!(atlas.regions.get(170).unwrap().name, "Raphe_M");
    assert_eq!(atlas.regions.get(1).unwrap().name, "Precentral_L");
    let midline = atlas
        .regions
        .iter()
        .filter(|r| r.hemisphere == Hemisphere::M)
        .count();
    assert_eq!(midline, 10);
    for lobe in Lobe::ALL {
        assert!(atlas.regions.in_group(lobe).count() > 0, "{lobe:?}");
    }
    assert_eq!(atlas.labels.grid.dims, [181, 217, 181]);
}

#[test]
fn lobe_split_on_mni_2mm_matches_the_spec() {
    let r = mni_report();
    let spec = [
        (Lobe::Frontal, 29.4),
        (Lobe::Parietal, 16.7),
        (Lobe::Temporal, 16.9),
        (Lobe::Occipital, 11.6),
        (Lobe::Limbic, 8.5),
        (Lobe::Subcortical, 3.9),
        (Lobe::Cerebellum, 13.1),
    ];
    for (lobe, percent) in spec {
        let got = r.groups.0.iter().find(|(l, _)| *l == lobe).unwrap().1;
        assert!(
            (got.percent - percent).abs() <= 0.1,
            "{lobe:?}: {:.3} % vs spec {percent} %",
            got.percent
        );
    }
    let cerebellum = r
        .groups
        .0
        .iter()
        .find(|(l, _)| *l == Lobe::Cerebellum)
        .unwrap()
        .1;
    assert_eq!(cerebellum.voxels, 24_414);
    assert_eq!(r.labelled_voxels, 185_713);
}

#[test]
fn voxel_and_token_counts_match_numpy() {
    let r = mni_report();
    let precentral = r.regions.iter().find(|x| x.name == "Precentral_L").unwrap();
    assert_eq!((precentral.voxels, precentral.tokens), (3526, 30));
    let vermis = r.regions.iter().find(|x| x.name == "Vermis_1_2").unwrap();
    assert_eq!((vermis.voxels, vermis.tokens), (52, 0));
    let tokens: Vec<(Lobe, usize)> = r.groups.0.iter().map(|(l, g)| (*l, g.tokens)).collect();
    assert_eq!(
        tokens,
        vec![
            (Lobe::Frontal, 417),
            (Lobe::Parietal, 237),
            (Lobe::Temporal, 230),
            (Lobe::Occipital, 155),
            (Lobe::Limbic, 135),
            (Lobe::Subcortical, 68),
            (Lobe::Cerebellum, 196),
        ]
    );
    assert_eq!(r.regions_with_tokens, 135);
    assert_eq!(r.lost_at_token_level.len(), 30);
    for name in ["Vermis_1_2", "Thal_LGN_L", "N_Acc_R", "LC_L", "Raphe_D"] {
        assert!(
            r.lost_at_token_level.iter().any(|n| n == name),
            "{name} should be lost"
        );
    }
    assert_eq!(r.empty_on_grid.len(), 1, "{:?}", r.empty_on_grid);
    assert_eq!(r.lr_check, "ok");
}

#[test]
fn a_left_right_flipped_grid_is_caught() {
    let atlas = Atlas::aal3().unwrap();
    let labels = atlas.on_grid(&Grid::mni_2mm());
    // Same voxels, x axis of the affine negated: left now claims x > 0.
    let mut affine = labels.grid.affine;
    affine.0[(0, 0)] = -affine.0[(0, 0)];
    affine.0[(0, 3)] = -affine.0[(0, 3)];
    let flipped = LabelMap {
        grid: Grid::new(labels.grid.dims, affine),
        labels: labels.labels.clone(),
    };
    let check = flipped.left_right_check(&atlas.regions);
    assert!(check.starts_with("LEFT/RIGHT FLIP SUSPECTED"), "{check}");
    assert_eq!(labels.left_right_check(&atlas.regions), "ok");
}

#[test]
fn centroids_sit_where_anatomy_says() {
    let atlas = Atlas::aal3().unwrap();
    let c = atlas.on_grid(&Grid::mni_2mm()).centroids();
    let precentral_l = c[&1];
    assert!(
        precentral_l[0] < -20.0 && precentral_l[2] > 30.0,
        "{precentral_l:?}"
    );
    let cerebellum_l = c[&atlas.regions.by_name("Cerebellum_Crus1_L").unwrap().id];
    assert!(
        cerebellum_l[1] < -50.0 && cerebellum_l[2] < -15.0,
        "{cerebellum_l:?}"
    );
}

#[test]
fn atlas_cli_json_has_the_documented_keys_and_numbers() {
    let out = roimae(&["atlas", "--mni2mm", "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["regions"].as_array().unwrap().len(), 166);
    let first = &v["regions"][0];
    for key in ["id", "name", "hemisphere", "group", "voxels", "tokens"] {
        assert!(first.get(key).is_some(), "region key {key}");
    }
    assert_eq!(first["group"], "frontal");
    let groups = v["groups"].as_object().unwrap();
    assert_eq!(groups.len(), 7);
    assert_eq!(groups["cerebellum"]["voxels"], 24_414);
    assert!((groups["limbic"]["percent"].as_f64().unwrap() - 8.5).abs() <= 0.1);
    assert_eq!(v["lost_at_token_level"].as_array().unwrap().len(), 30);
    assert_eq!(v["lr_check"], "ok");
}

#[test]
fn atlas_cli_on_a_data_grid() {
    let grid_file = common::data("functional.nii");
    let out = roimae(&["atlas", "--grid", grid_file.to_str().unwrap(), "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["grid_shape"], serde_json::json!([17, 21, 3]));
    let text = roimae(&["atlas", "--mni2mm"]);
    let stdout = String::from_utf8_lossy(&text.stdout);
    assert!(stdout.contains("left/right check: ok"), "{stdout}");
    assert!(stdout.contains("cerebellum"));
}
