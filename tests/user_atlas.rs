//! User-supplied atlases against independent truth: the two atlases
//! NeuroSTORM ships (../shared/atlases/neurostorm; numbers from its README
//! and from nibabel/numpy, tests/data/user_atlas_truth.py), the shipped
//! Schaefer 100 × 7 built-in (atlases/schaefer_100_7net, no ../shared
//! needed), and tiny synthetic files for each validation error.

mod common;

use common::roimae;
use roimae::atlas::{
    Atlas, AtlasError, AtlasLoadOptions, AtlasReport, Hemisphere, Lobe, TokenGeometry,
};
use roimae::volume::{Affine, Grid, Volume, VolumeMeta, write_volume};
use std::path::{Path, PathBuf};

const SCHAEFER_GROUPS: [&str; 14] = [
    "LH_Vis",
    "LH_SomMot",
    "LH_DorsAttn",
    "LH_SalVentAttn",
    "LH_Limbic",
    "LH_Cont",
    "LH_Default",
    "RH_Vis",
    "RH_SomMot",
    "RH_DorsAttn",
    "RH_SalVentAttn",
    "RH_Limbic",
    "RH_Cont",
    "RH_Default",
];

const OFFSET1: AtlasLoadOptions = AtlasLoadOptions {
    labels_offset: Some(1),
};

fn repo(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(rel)
}

/// `../shared/atlases/neurostorm/<name>` or `None` (with a note) when the
/// shared folder is absent.
fn shared(name: &str) -> Option<PathBuf> {
    let dir = repo("../shared/atlases/neurostorm").join(name);
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!(
            "note: {} is absent; skipping the check that needs it",
            dir.display()
        );
        None
    }
}

/// Token count per region and total brain tokens of `atlas` on its own grid.
fn token_numbers(atlas: &Atlas, geometry: TokenGeometry) -> (usize, usize, usize) {
    let counts = atlas.token_map(&atlas.labels.grid, geometry).token_counts();
    (
        counts.len(),
        counts.values().sum(),
        counts.get(&1).copied().unwrap_or(0),
    )
}

fn check_schaefer(atlas: &Atlas) {
    let t = &atlas.regions;
    assert_eq!(t.len(), 100);
    assert_eq!(t.get(1).unwrap().name, "7Networks_LH_Vis_1");
    assert_eq!(t.get(100).unwrap().name, "7Networks_RH_Default_pCunPCC_2");
    assert!(t.get(0).is_none() && t.get(101).is_none());
    assert_eq!(t.groups(), SCHAEFER_GROUPS);
    assert!(!t.is_lobe_grouped());
    assert_eq!(t.in_group(Lobe::Frontal).count(), 0, "no lobes on Schaefer");
    assert_eq!(t.get(1).unwrap().group_name, "LH_Vis");
    assert_eq!(t.in_named_group("LH_Vis").count(), 9);
    assert_eq!(t.in_named_group("rh_default").count(), 11);
    assert_eq!(
        t.iter().filter(|r| r.hemisphere == Hemisphere::L).count(),
        50
    );
    assert_eq!(
        t.iter().filter(|r| r.hemisphere == Hemisphere::R).count(),
        50
    );
    // nibabel: 132032 labelled voxels, 794 of value 1, centroid of value 1.
    let counts = atlas.labels.voxel_counts();
    assert_eq!(counts.values().sum::<usize>(), 132_032);
    assert_eq!(counts[&1], 794);
    let c = atlas.labels.centroids()[&1];
    for (got, want) in c.iter().zip([-25.75, -32.62, -17.38]) {
        assert!((got - want).abs() < 0.01, "{c:?}");
    }
    assert_eq!(atlas.labels.grid.dims, [99, 117, 95]);
    assert_eq!(atlas.labels.left_right_check(t), "ok");
    // numpy: 2 mm / 6³ and 4 mm / 3³ token maps on the atlas's own grid.
    assert_eq!(
        token_numbers(atlas, TokenGeometry::REFERENCE),
        (100, 1189, 9)
    );
    assert_eq!(token_numbers(atlas, TokenGeometry::MNI4MM), (100, 1108, 12));
}

#[test]
fn the_builtin_schaefer100_loads_with_its_offset() {
    let (atlas, v) = Atlas::schaefer100_validated().unwrap();
    check_schaefer(&atlas);
    assert_eq!(v.labels_offset, Some(1));
    assert_eq!(v.group_source, "schaefer names");
    assert_eq!(v.lr_check, "ok");
    assert!(
        v.fixed.iter().any(|f| f.contains("offset 1")),
        "{:?}",
        v.fixed
    );
    assert!(
        v.fixed.iter().any(|f| f.contains("Background")),
        "{:?}",
        v.fixed
    );
    assert_eq!(v.datatype, "float32");
    let report = AtlasReport::build(&atlas, &Grid::mni_2mm(), TokenGeometry::REFERENCE);
    assert_eq!(report.group_totals.0.len(), 14);
    assert!(report.groups.0.is_empty(), "no lobe totals for Schaefer");
    assert_eq!(report.lr_check, "ok");
    assert_eq!(report.regions.len(), 100);
}

#[test]
fn the_shipped_schaefer_files_are_neurostorms_and_refuse_without_the_offset() {
    let vol = repo("atlases/schaefer_100_7net/atlas.nii.gz");
    let table = repo("atlases/schaefer_100_7net/labels.csv");
    let err = Atlas::load(&vol, &table, &AtlasLoadOptions::default()).unwrap_err();
    assert!(
        matches!(err, AtlasError::OffByOne { values: 100, .. }),
        "{err}"
    );
    let msg = err.to_string();
    assert!(msg.contains("--labels-offset 1"), "{msg}");
    assert!(msg.contains("labels.csv") && !msg.contains('\n'), "{msg}");
    let atlas = Atlas::load(&vol, &table, &OFFSET1).unwrap();
    assert_eq!(atlas.regions, Atlas::schaefer100().unwrap().regions);
    if let Some(dir) = shared("schaefer_100_7net") {
        for f in ["atlas.nii.gz", "labels.csv"] {
            assert_eq!(
                std::fs::read(dir.join(f)).unwrap(),
                std::fs::read(repo("atlases/schaefer_100_7net").join(f)).unwrap(),
                "{f} is shipped unmodified"
            );
        }
        let from_shared =
            Atlas::load(dir.join("atlas.nii.gz"), dir.join("labels.csv"), &OFFSET1).unwrap();
        check_schaefer(&from_shared);
    }
}

#[test]
fn harvard_oxford_from_shared_loads_with_the_offset() {
    let Some(dir) = shared("harvard_oxford_cort") else {
        return;
    };
    let (vol, table) = (dir.join("atlas.nii.gz"), dir.join("labels.csv"));
    let err = Atlas::load(&vol, &table, &AtlasLoadOptions::default()).unwrap_err();
    assert!(
        matches!(err, AtlasError::OffByOne { values: 48, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("--labels-offset 1"));
    let (atlas, v) = Atlas::load_validated(&vol, &table, &OFFSET1).unwrap();
    let t = &atlas.regions;
    assert_eq!(t.len(), 48);
    assert_eq!(t.get(1).unwrap().name, "Frontal Pole");
    assert_eq!(t.get(2).unwrap().name, "Insular Cortex");
    assert_eq!(
        t.get(5).unwrap().name,
        "Inferior Frontal Gyrus, pars triangularis"
    );
    assert_eq!(t.get(48).unwrap().name, "Occipital Pole");
    assert_eq!(t.groups(), ["all"]);
    assert!(t.iter().all(|r| r.hemisphere == Hemisphere::M));
    assert_eq!(v.datatype, "uint8");
    assert_eq!(v.hemisphere_source, "unknown");
    assert!(v.lr_check.contains("not checked"), "{}", v.lr_check);
    assert_eq!(atlas.labels.voxel_counts().values().sum::<usize>(), 131_074);
    assert_eq!(
        token_numbers(&atlas, TokenGeometry::REFERENCE),
        (48, 1196, 154)
    );
    assert_eq!(
        token_numbers(&atlas, TokenGeometry::MNI4MM),
        (47, 1092, 134)
    );
}

#[test]
fn the_builtin_aal3_files_through_the_loader_give_the_same_atlas() {
    let atlas = Atlas::load(
        repo("atlases/AAL3v1_1mm.nii.gz"),
        repo("atlases/AAL3v1_labels.tsv"),
        &AtlasLoadOptions::default(),
    )
    .unwrap();
    let aal3 = Atlas::aal3().unwrap();
    assert_eq!(atlas.regions, aal3.regions);
    assert_eq!(atlas.labels, aal3.labels);
    assert!(atlas.regions.is_lobe_grouped());
    assert_eq!(
        atlas.regions.in_group(Lobe::Cerebellum).count(),
        aal3.regions.in_group(Lobe::Cerebellum).count()
    );
}

// ---- synthetic small files -------------------------------------------------

/// A 20 × 10 × 10 grid of 4 mm voxels, x from -38 to +38 mm (MNI-like).
fn grid() -> Grid {
    Grid::new(
        [20, 10, 10],
        Affine::from_rows([
            [4.0, 0.0, 0.0, -38.0],
            [0.0, 4.0, 0.0, -18.0],
            [0.0, 0.0, 4.0, -18.0],
        ]),
    )
}

/// Labels: `left` in a block at x < 0, `right` in a block at x > 0.
fn labels(left: f32, right: f32) -> Vec<f32> {
    let g = grid();
    let mut data = vec![0.0f32; g.n_voxels()];
    for k in 3..7 {
        for j in 3..7 {
            for i in 2..6 {
                data[g.index(i, j, k)] = left;
                data[g.index(19 - i, j, k)] = right;
            }
        }
    }
    data
}

struct Files {
    dir: tempfile::TempDir,
}

impl Files {
    fn new() -> Files {
        Files {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn volume(&self, name: &str, data: Vec<f32>, code: i16) -> PathBuf {
        let g = grid();
        let mut meta = VolumeMeta::new_f32(&g, 1, None, true);
        meta.sform_code = code;
        meta.qform_code = code;
        let path = self.dir.path().join(name);
        write_volume(&Volume::from_data(g, 1, data, meta), &path).unwrap();
        path
    }

    fn table(&self, name: &str, text: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    }
}

const GOOD: &str = "index\tname\themisphere\n1\tA_L\tL\n2\tA_R\tR\n";

fn load(vol: &Path, table: &Path) -> Result<Atlas, AtlasError> {
    Atlas::load(vol, table, &AtlasLoadOptions::default())
}

#[test]
fn a_small_good_atlas_loads() {
    let f = Files::new();
    let vol = f.volume("good.nii.gz", labels(1.0, 2.0), 4);
    let (atlas, v) = Atlas::load_validated(
        &vol,
        f.table("good.tsv", GOOD),
        &AtlasLoadOptions::default(),
    )
    .unwrap();
    assert_eq!(atlas.regions.len(), 2);
    assert_eq!(atlas.regions.get(1).unwrap().name, "A_L");
    assert_eq!(atlas.regions.get(2).unwrap().hemisphere, Hemisphere::R);
    assert_eq!(atlas.regions.groups(), ["all"]);
    assert_eq!(v.lr_check, "ok");
    assert!(v.fixed.is_empty(), "{:?}", v.fixed);
    assert_eq!(atlas.labels.voxel_counts()[&1], 64);
}

#[test]
fn csv_headers_any_case_and_a_group_column() {
    let f = Files::new();
    let vol = f.volume("a.nii", labels(1.0, 2.0), 2);
    let table = f.table(
        "t.csv",
        "Index,Name,HEMISPHERE,Network\n1,\"Left thing, part\",left,Visual\n2,Right thing,RH,Motor\n",
    );
    let atlas = load(&vol, &table).unwrap();
    assert_eq!(atlas.regions.get(1).unwrap().name, "Left thing, part");
    assert_eq!(atlas.regions.groups(), ["Visual", "Motor"]);
    assert_eq!(atlas.regions.get(2).unwrap().group_name, "Motor");
    // A group column of lobe names is a lobe-grouped table.
    let lobes = f.table(
        "l.tsv",
        "index\tname\themisphere\tgroup\n1\tA_L\tL\tlimbic\n2\tA_R\tR\tfrontal\n",
    );
    let atlas = load(&vol, &lobes).unwrap();
    assert!(atlas.regions.is_lobe_grouped());
    assert_eq!(atlas.regions.get(1).unwrap().group, Lobe::Limbic);
    assert_eq!(atlas.regions.in_group(Lobe::Frontal).count(), 1);
}

#[test]
fn schaefer_names_give_hemispheres_and_network_groups() {
    let f = Files::new();
    let vol = f.volume("s.nii.gz", labels(1.0, 2.0), 4);
    let table = f.table(
        "s.csv",
        "index,name\n1,7Networks_LH_Vis_1\n2,7Networks_RH_Default_PFC_1\n",
    );
    let atlas = load(&vol, &table).unwrap();
    assert_eq!(atlas.regions.groups(), ["LH_Vis", "RH_Default"]);
    assert_eq!(atlas.regions.get(1).unwrap().hemisphere, Hemisphere::L);
    assert_eq!(atlas.regions.get(2).unwrap().hemisphere, Hemisphere::R);
    // The same names on the wrong sides: the L/R check refuses.
    let flipped = f.volume("flip.nii.gz", labels(2.0, 1.0), 4);
    let err = load(&flipped, &table).unwrap_err();
    assert!(matches!(err, AtlasError::LeftRight { .. }), "{err}");
    assert!(err.to_string().contains("flip.nii.gz"), "{err}");
}

#[test]
fn each_bad_file_is_its_own_error() {
    let f = Files::new();
    let good_vol = f.volume("good.nii.gz", labels(1.0, 2.0), 4);
    let good_table = f.table("good.tsv", GOOD);

    // A value of the volume without a row.
    let three = f.volume("three.nii.gz", labels(1.0, 3.0), 4);
    let err = load(&three, &good_table).unwrap_err();
    assert!(
        matches!(err, AtlasError::MissingFromTable { count: 1, ref values, .. } if values == "3"),
        "{err}"
    );
    // A row without voxels.
    let extra = f.table("extra.tsv", &format!("{GOOD}7\tGhost\tM\n"));
    let err = load(&good_vol, &extra).unwrap_err();
    assert!(
        matches!(err, AtlasError::MissingFromVolume { count: 1, ref names, .. } if names == "7 Ghost"),
        "{err}"
    );
    // Background / Unknown at a non-zero index (not the v+1 pattern).
    for row in ["5\tBackground\tM\n", "3\tUnknown\tM\n"] {
        let t = f.table("bg.tsv", &format!("{GOOD}{row}"));
        let err = load(&good_vol, &t).unwrap_err();
        assert!(matches!(err, AtlasError::BackgroundRow { .. }), "{err}");
        assert!(err.to_string().contains("background"), "{err}");
    }
    // Background at 0 is fine and dropped.
    let t = f.table("bg0.tsv", &format!("{GOOD}0\tBackground\tM\n"));
    assert_eq!(load(&good_vol, &t).unwrap().regions.len(), 2);
    // Off by one: refused without an offset, fixed with it.
    let shifted = f.table("shift.csv", "index,name\n1,Background\n2,A_L\n3,A_R\n");
    let err = load(&good_vol, &shifted).unwrap_err();
    assert!(
        matches!(err, AtlasError::OffByOne { values: 2, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("--labels-offset 1"), "{err}");
    let (atlas, v) = Atlas::load_validated(&good_vol, &shifted, &OFFSET1).unwrap();
    assert_eq!(atlas.regions.get(1).unwrap().name, "A_L");
    assert_eq!(atlas.regions.get(2).unwrap().name, "A_R");
    assert_eq!(v.lr_check, "ok", "hemispheres from the _L/_R names");
    assert!(
        v.fixed.iter().any(|x| x.contains("offset 1")),
        "{:?}",
        v.fixed
    );
    // An offset that does not fit: a real region would land on 0.
    let err = Atlas::load(&good_vol, &good_table, &OFFSET1).unwrap_err();
    assert!(matches!(err, AtlasError::OffsetMisfit { .. }), "{err}");
    // Non-integer labels.
    let mut data = labels(1.0, 2.0);
    data[0] = 1.5;
    let frac = f.volume("frac.nii.gz", data, 4);
    let err = load(&frac, &good_table).unwrap_err();
    assert!(
        matches!(
            err,
            AtlasError::NonIntegerLabels {
                count: 1,
                voxel: [0, 0, 0],
                ..
            }
        ),
        "{err}"
    );
    // Negative labels.
    let neg = f.volume("neg.nii.gz", labels(-1.0, 2.0), 4);
    let err = load(&neg, &good_table).unwrap_err();
    assert!(
        matches!(err, AtlasError::LabelOutOfRange { count: 64, .. }),
        "{err}"
    );
    // No sform/qform, Talairach codes, labels outside the MNI head box.
    let uncoded = f.volume("nocode.nii.gz", labels(1.0, 2.0), 0);
    let err = load(&uncoded, &good_table).unwrap_err();
    assert!(
        matches!(err, AtlasError::NotMni { ref reason, .. } if reason.contains("code")),
        "{err}"
    );
    let tal = f.volume("tal.nii.gz", labels(1.0, 2.0), 3);
    let err = load(&tal, &good_table).unwrap_err();
    assert!(
        matches!(err, AtlasError::NotMni { ref reason, .. } if reason.contains("Talairach")),
        "{err}"
    );
    let native = {
        let g = Grid::new(
            [20, 10, 10],
            Affine::from_rows([
                [4.0, 0.0, 0.0, 60.0],
                [0.0, 4.0, 0.0, 80.0],
                [0.0, 0.0, 4.0, 100.0],
            ]),
        );
        let path = f.dir.path().join("native.nii.gz");
        let meta = VolumeMeta::new_f32(&g, 1, None, false);
        write_volume(&Volume::from_data(g, 1, labels(1.0, 2.0), meta), &path).unwrap();
        path
    };
    let err = load(&native, &good_table).unwrap_err();
    assert!(
        matches!(err, AtlasError::NotMni { ref reason, .. } if reason.contains("head box")),
        "{err}"
    );
    // A 4D file.
    let g = grid();
    let mut two = labels(1.0, 2.0);
    two.extend(labels(1.0, 2.0));
    let path4 = f.dir.path().join("prob.nii.gz");
    write_volume(
        &Volume::from_data(g, 2, two, VolumeMeta::new_f32(&g, 2, Some(1.0), true)),
        &path4,
    )
    .unwrap();
    let err = load(&path4, &good_table).unwrap_err();
    assert!(
        matches!(err, AtlasError::NotALabelVolume { frames: 2, .. }),
        "{err}"
    );
    // An empty volume.
    let empty = f.volume("empty.nii.gz", vec![0.0; grid().n_voxels()], 4);
    assert!(matches!(
        load(&empty, &good_table).unwrap_err(),
        AtlasError::EmptyAtlas { .. }
    ));
    // Table problems: no name column, a bad index, a duplicate.
    let t = f.table("noname.tsv", "index\tlabelx\n1\tA\n");
    assert!(matches!(
        load(&good_vol, &t).unwrap_err(),
        AtlasError::TableColumn { column: "name", .. }
    ));
    let t = f.table("badidx.tsv", "index\tname\none\tA\n");
    assert!(matches!(
        load(&good_vol, &t).unwrap_err(),
        AtlasError::TableRow { line: 2, .. }
    ));
    let t = f.table("dup.tsv", "index\tname\n1\tA\n1\tB\n");
    assert!(matches!(
        load(&good_vol, &t).unwrap_err(),
        AtlasError::TableDuplicate { line: 3, id: 1, .. }
    ));
    // Every message is one line naming the file.
    let err = load(&three, &good_table).unwrap_err().to_string();
    assert!(
        err.contains("good.tsv") && err.contains("three.nii.gz") && !err.contains('\n'),
        "{err}"
    );
}

// ---- the command line ------------------------------------------------------

#[test]
fn atlas_cli_loads_a_user_atlas_and_reports_validation() {
    let vol = repo("atlases/schaefer_100_7net/atlas.nii.gz");
    let table = repo("atlases/schaefer_100_7net/labels.csv");
    let (vol, table) = (vol.to_str().unwrap(), table.to_str().unwrap());
    // Without the offset: refused, exit code 2, the message names the fix.
    let out = roimae(&["atlas", "--atlas", vol, "--labels", table]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--labels-offset 1"), "{stderr}");
    // With it: JSON with regions, groups and what was fixed.
    let out = roimae(&[
        "atlas",
        "--atlas",
        vol,
        "--labels",
        table,
        "--labels-offset",
        "1",
        "--json",
    ]);
    let v = common::stdout_json(&out);
    assert_eq!(v["regions"].as_array().unwrap().len(), 100);
    assert_eq!(v["regions"][0]["name"], "7Networks_LH_Vis_1");
    assert_eq!(v["regions"][0]["group"], "LH_Vis");
    assert_eq!(v["regions"][0]["hemisphere"], "L");
    assert_eq!(v["groups"].as_object().unwrap().len(), 14);
    assert_eq!(v["group_names"].as_array().unwrap().len(), 14);
    assert_eq!(v["regions_with_tokens"], 100);
    assert_eq!(v["lr_check"], "ok");
    assert_eq!(v["validation"]["labels_offset"], 1);
    assert!(
        v["validation"]["fixed"][0]
            .as_str()
            .unwrap()
            .contains("offset 1")
    );
    // The built-in, as text.
    let out = roimae(&["atlas", "--builtin", "schaefer100"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("100 regions in 14 group(s)"), "{text}");
    assert!(text.contains("fixed: labels offset 1"), "{text}");
    assert!(
        text.contains("token-map coverage: 100 of 100 regions"),
        "{text}"
    );
    assert!(text.contains("RH_Default"), "{text}");
    // An unknown built-in is a one-line error.
    let out = roimae(&["atlas", "--builtin", "destrieux"]);
    assert_eq!(out.status.code(), Some(2));
}
