//! Dataset ingest (`data::ingest`) on hand-made trees: BIDS with sessions and sidecars,
//! fMRIPrep with several spaces, ADHD-200 with phenotypic tables, a folder +
//! CSV, and the problems each kind of bad input must produce.

mod common;

use roimae::data::ingest::{ScanOptions, detect_kind, parse_label_map, scan_dataset};
use roimae::data::{Dataset, DatasetKind, Subject};
use roimae::volume::{Affine, Grid, Volume, VolumeMeta, write_volume};
use std::path::{Path, PathBuf};

/// A small MNI-like 2 mm grid around the world origin.
fn mni_like_grid() -> Grid {
    Grid::new(
        [6, 7, 5],
        Affine::from_rows([
            [-2.0, 0.0, 0.0, 6.0],
            [0.0, 2.0, 0.0, -6.0],
            [0.0, 0.0, 2.0, -4.0],
        ]),
    )
}

/// A grid 500 mm to the right of the MNI brain box.
fn far_grid() -> Grid {
    Grid::new(
        [6, 7, 5],
        Affine::from_rows([
            [2.0, 0.0, 0.0, 500.0],
            [0.0, 2.0, 0.0, 0.0],
            [0.0, 0.0, 2.0, 0.0],
        ]),
    )
}

/// Writes a 6x7x5x10 float run at `path` with header TR `tr`; codes 4 when
/// `mni`, else 1.
fn write_run(path: &Path, grid: Grid, tr: f64, mni: bool) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let frames = 10;
    let data: Vec<f32> = (0..grid.n_voxels() * frames).map(|i| i as f32).collect();
    let meta = VolumeMeta::new_f32(&grid, frames, Some(tr), mni);
    write_volume(&Volume::from_data(grid, frames, data, meta), path).unwrap();
}

/// An MNI run with header TR `tr`.
fn write_mni_run(path: &Path, tr: f64) {
    write_run(path, mni_like_grid(), tr, true);
}

fn write_text(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

fn copy_anatomical(path: &Path) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let source = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/anatomical.nii");
    std::fs::copy(source, path).unwrap();
}

fn subject<'a>(d: &'a Dataset, id: &str) -> &'a Subject {
    d.subjects
        .iter()
        .find(|s| s.id == id)
        .unwrap_or_else(|| panic!("no subject {id} in {:?}", ids(d)))
}

fn ids(d: &Dataset) -> Vec<&str> {
    d.subjects.iter().map(|s| s.id.as_str()).collect()
}

/// Asserts a problem about `subject` (None: the dataset) says `needle`.
fn assert_problem(d: &Dataset, subject: Option<&str>, needle: &str) {
    assert!(
        d.problems
            .iter()
            .any(|p| p.subject.as_deref() == subject && p.message.contains(needle)),
        "no problem for {subject:?} containing {needle:?} in {:#?}",
        d.problems
    );
}

fn file_names(s: &Subject) -> Vec<String> {
    s.runs
        .iter()
        .map(|r| r.path.file_name().unwrap().to_string_lossy().into_owned())
        .collect()
}

/// A BIDS root: sub-01 with two sessions, sub-02, sub-03 (label n/a),
/// sub-04 (no func) and sub-05 listed but without a folder.
fn build_bids(root: &Path) {
    write_text(
        &root.join("dataset_description.json"),
        r#"{"Name": "toy", "BIDSVersion": "1.8.0", "DatasetType": "raw"}"#,
    );
    write_text(
        &root.join("participants.tsv"),
        "participant_id\tdiagnosis\tsite\tage\n\
         sub-01\tADHD\tNYU\t10\n\
         sub-02\tTD\tPeking\t11\n\
         sub-03\tn/a\tNYU\t12\n\
         sub-05\tTD\tKKI\t9\n",
    );
    write_text(
        &root.join("task-rest_bold.json"),
        r#"{"RepetitionTime": 1.5}"#,
    );
    let ses1 = root.join("sub-01/ses-1/func/sub-01_ses-1_task-rest_bold.nii.gz");
    write_mni_run(&ses1, 2.0);
    write_text(
        &root.join("sub-01/ses-1/func/sub-01_ses-1_task-rest_bold.json"),
        r#"{"RepetitionTime": 2.5, "TaskName": "rest"}"#,
    );
    write_mni_run(
        &root.join("sub-01/ses-2/func/sub-01_ses-2_task-rest_run-1_bold.nii"),
        2.0,
    );
    write_mni_run(&root.join("sub-02/func/sub-02_task-movie_bold.nii.gz"), 0.8);
    write_mni_run(&root.join("sub-03/func/sub-03_task-rest_bold.nii.gz"), 2.0);
    std::fs::create_dir_all(root.join("sub-04/anat")).unwrap();
}

#[test]
fn bids_tree_lists_sessions_sidecar_trs_sites_and_sorted_string_labels() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    build_bids(root);
    assert_eq!(detect_kind(root), Some(DatasetKind::Bids));
    let d = scan_dataset(root, &ScanOptions::default()).unwrap();
    assert_eq!(d.kind, DatasetKind::Bids);
    assert_eq!(ids(&d), ["01", "02", "03", "04"]);

    let s1 = subject(&d, "01");
    assert_eq!(
        file_names(s1),
        [
            "sub-01_ses-1_task-rest_bold.nii.gz",
            "sub-01_ses-2_task-rest_run-1_bold.nii"
        ]
    );
    let sessions: Vec<_> = s1.runs.iter().map(|r| r.session.as_deref()).collect();
    assert_eq!(sessions, [Some("1"), Some("2")]);
    assert_eq!(s1.runs[1].run.as_deref(), Some("1"));
    // Own sidecar beats the header; the root task-rest_bold.json is inherited.
    let trs: Vec<_> = s1.runs.iter().map(|r| r.tr).collect();
    assert_eq!(trs, [Some(2.5), Some(1.5)]);
    // No sidecar applies to task-movie: the header TR.
    assert_eq!(subject(&d, "02").runs[0].tr, Some(0.8));

    // ADHD and TD numbered in sorted order, and the mapping is reported.
    assert_eq!((s1.label, s1.label_raw.as_deref()), (Some(0), Some("ADHD")));
    assert_eq!(subject(&d, "02").label, Some(1));
    assert_problem(&d, None, "ADHD=0,TD=1");
    let sites: Vec<_> = d.subjects.iter().map(|s| s.site.as_deref()).collect();
    assert_eq!(sites, [Some("NYU"), Some("Peking"), Some("NYU"), None]);

    assert_eq!(subject(&d, "03").label, None);
    assert_problem(&d, Some("03"), "missing label");
    assert_problem(&d, Some("03"), "'n/a'");
    assert_problem(&d, Some("04"), "no BOLD run found");
    assert_problem(&d, Some("04"), "not listed in participants.tsv");
    assert_problem(&d, None, "have no sub-* folder: 05");
    assert_eq!(d.usable().count(), 2);
    assert_eq!(d.n_runs(), 4);
}

#[test]
fn bids_label_map_and_site_column_choices_are_honoured() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    build_bids(root);
    let opts = ScanOptions {
        label_map: Some(parse_label_map("ADHD=1,TD=0").unwrap()),
        site_column: Some("age".into()),
        ..ScanOptions::default()
    };
    let d = scan_dataset(root, &opts).unwrap();
    assert_eq!(subject(&d, "01").label, Some(1));
    assert_eq!(subject(&d, "02").label, Some(0));
    assert_eq!(subject(&d, "01").site.as_deref(), Some("10"));
    assert!(
        !d.problems
            .iter()
            .any(|p| p.message.contains("sorted order"))
    );

    let missing_column = ScanOptions {
        label_column: Some("group".into()),
        ..ScanOptions::default()
    };
    let d = scan_dataset(root, &missing_column).unwrap();
    assert_problem(&d, None, "no label column 'group'");
    assert!(d.subjects.iter().all(|s| s.label.is_none()));
}

#[test]
fn fmriprep_prefers_mni152nlin2009casym_and_reads_raw_participants() {
    let tmp = tempfile::tempdir().unwrap();
    let raw = tmp.path().join("ds");
    write_text(
        &raw.join("participants.tsv"),
        "participant_id\tdiagnosis\tsite_id\nsub-01\t1\tA\nsub-02\t0\tB\n",
    );
    let root = raw.join("derivatives/fmriprep");
    write_text(
        &root.join("dataset_description.json"),
        r#"{"Name": "fMRIPrep", "DatasetType": "derivative"}"#,
    );
    let func = root.join("sub-01/func");
    let stem = "sub-01_task-rest";
    write_run(
        &func.join(format!("{stem}_space-T1w_desc-preproc_bold.nii.gz")),
        mni_like_grid(),
        2.0,
        false,
    );
    write_mni_run(
        &func.join(format!(
            "{stem}_space-MNI152NLin6Asym_desc-preproc_bold.nii.gz"
        )),
        2.0,
    );
    let chosen = func.join(format!(
        "{stem}_space-MNI152NLin2009cAsym_desc-preproc_bold.nii.gz"
    ));
    write_mni_run(&chosen, 2.0);
    write_text(
        &func.join(format!(
            "{stem}_space-MNI152NLin2009cAsym_desc-preproc_bold.json"
        )),
        r#"{"RepetitionTime": 0.72}"#,
    );
    write_mni_run(
        &func.join(format!(
            "{stem}_space-MNI152NLin2009cAsym_desc-brain_mask.nii.gz"
        )),
        2.0,
    );
    // sub-02 has only a T1w-space run, with scanner codes but an MNI extent.
    let t1w_only = root.join("sub-02/func/sub-02_task-rest_space-T1w_desc-preproc_bold.nii.gz");
    write_run(&t1w_only, mni_like_grid(), 2.0, false);

    assert_eq!(detect_kind(&root), Some(DatasetKind::Fmriprep));
    let d = scan_dataset(&root, &ScanOptions::default()).unwrap();
    assert_eq!(d.kind, DatasetKind::Fmriprep);
    assert_eq!(ids(&d), ["01", "02"]);
    let s1 = subject(&d, "01");
    assert_eq!(s1.runs.len(), 1);
    assert_eq!(s1.runs[0].path, chosen);
    assert_eq!(s1.runs[0].space.as_deref(), Some("MNI152NLin2009cAsym"));
    assert_eq!(s1.runs[0].tr, Some(0.72));
    assert_eq!((s1.label, s1.site.as_deref()), (Some(1), Some("A")));

    let s2 = subject(&d, "02");
    assert_eq!(s2.runs[0].path, t1w_only);
    assert_eq!(s2.runs[0].tr, Some(2.0));
    assert_problem(
        &d,
        Some("02"),
        "no MNI152 variant of this run; using space-T1w",
    );
    assert_problem(&d, Some("02"), "header codes do not say MNI");
    assert_eq!(d.usable().count(), 2);

    // Without the description, a space-*_desc-preproc file still says fMRIPrep.
    std::fs::remove_file(root.join("dataset_description.json")).unwrap();
    assert_eq!(detect_kind(&root), Some(DatasetKind::Fmriprep));
}

/// An ADHD-200 tree: NYU (phenotypes in the root, unpadded IDs) and
/// Peking_1 (phenotypes as TSV in the site folder).
fn build_adhd200(root: &Path) {
    let run = |site: &str, id: &str, prefix: &str, rest: u32| {
        root.join(site)
            .join(id)
            .join(format!("{prefix}{id}_session_1_rest_{rest}.nii.gz"))
    };
    write_mni_run(&run("NYU", "0010001", "sfnwmrda", 1), 2.0);
    write_mni_run(&run("NYU", "0010001", "snwmrda", 1), 2.0);
    write_mni_run(&run("NYU", "0010001", "sfnwmrda", 2), 2.0);
    write_mni_run(&run("NYU", "0010002", "snwmrda", 1), 2.0);
    write_mni_run(&run("NYU", "0010003", "sfnwmrda", 1), 2.0);
    write_mni_run(&run("Peking_1", "1050345", "sfnwmrda", 1), 2.0);
    write_mni_run(&run("Peking_1", "1050346", "sfnwmrda", 1), 2.0);
    write_text(
        &root.join("adhd200_preprocessed_phenotypics.csv"),
        "ScanDir ID,Site,Gender,DX,QC_Athena\n\
         10001,5,1,0,1\n\
         10002,5,0,3,0\n\
         10003,5,1,pending,1\n",
    );
    write_text(
        &root.join("Peking_1/Peking_1_phenotypic.tsv"),
        "ScanDir ID\tSite\tDX\tQC_Athena\n\
         1050345\t1\t1\t1\n\
         1050346\t1\t-999\t1\n",
    );
}

#[test]
fn adhd200_tree_pads_ids_binarises_dx_and_prefers_filtered_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    build_adhd200(root);
    assert_eq!(detect_kind(root), Some(DatasetKind::Adhd200));
    let d = scan_dataset(root, &ScanOptions::default()).unwrap();
    assert_eq!(d.kind, DatasetKind::Adhd200);
    assert_eq!(
        ids(&d),
        ["0010001", "0010002", "0010003", "1050345", "1050346"]
    );
    let labels: Vec<_> = d.subjects.iter().map(|s| s.label).collect();
    assert_eq!(labels, [Some(0), Some(1), None, Some(1), None]);
    assert_eq!(subject(&d, "0010002").label_raw.as_deref(), Some("3"));
    let sites: Vec<_> = d
        .subjects
        .iter()
        .map(|s| s.site.as_deref().unwrap())
        .collect();
    assert_eq!(sites, ["NYU", "NYU", "NYU", "Peking_1", "Peking_1"]);

    let s1 = subject(&d, "0010001");
    assert_eq!(
        file_names(s1),
        [
            "sfnwmrda0010001_session_1_rest_1.nii.gz",
            "sfnwmrda0010001_session_1_rest_2.nii.gz"
        ]
    );
    assert_eq!(s1.runs[1].run.as_deref(), Some("2"));
    assert_eq!(s1.runs[0].tr, Some(2.0));
    assert_eq!(
        file_names(subject(&d, "0010002")),
        ["snwmrda0010002_session_1_rest_1.nii.gz"]
    );
    assert_problem(&d, Some("0010003"), "DX is 'pending'");
    assert_problem(&d, Some("1050346"), "DX is '-999'");

    let qc = ScanOptions {
        qc_filter: true,
        ..ScanOptions::default()
    };
    let d = scan_dataset(root, &qc).unwrap();
    assert_eq!(ids(&d), ["0010001", "0010003", "1050345", "1050346"]);
    assert_problem(
        &d,
        None,
        "left out 1 subject(s) whose QC_Athena is not 1: 0010002",
    );
}

#[test]
fn folder_csv_lists_files_sites_and_missing_files() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    write_mni_run(&root.join("a.nii.gz"), 2.0);
    write_mni_run(&root.join("b.nii"), 1.0);
    write_mni_run(&root.join("extra.nii.gz"), 2.0);
    write_text(
        &root.join("labels.csv"),
        "file,label,site\na.nii.gz,1,siteA\nb.nii,0,siteB\nmissing.nii.gz,1,siteA\n",
    );
    assert_eq!(detect_kind(root), Some(DatasetKind::FolderCsv));
    let d = scan_dataset(root, &ScanOptions::default()).unwrap();
    assert_eq!(d.kind, DatasetKind::FolderCsv);
    assert_eq!(ids(&d), ["a", "b", "missing"]);
    let labels: Vec<_> = d.subjects.iter().map(|s| s.label).collect();
    assert_eq!(labels, [Some(1), Some(0), Some(1)]);
    let sites: Vec<_> = d.subjects.iter().map(|s| s.site.as_deref()).collect();
    assert_eq!(sites, [Some("siteA"), Some("siteB"), Some("siteA")]);
    assert_eq!(subject(&d, "a").runs[0].path, root.join("a.nii.gz"));
    assert_eq!(subject(&d, "b").runs[0].tr, Some(1.0));
    assert!(subject(&d, "missing").runs.is_empty());
    assert_problem(&d, Some("missing"), "does not exist");
    assert_problem(&d, Some("missing"), "no usable BOLD run");
    assert_problem(&d, None, "not in the labels CSV: extra.nii.gz");
    assert_eq!(d.usable().count(), 2);

    // A headerless CSV elsewhere, given with --labels, with text labels.
    let csv = tmp.path().join("elsewhere.txt");
    write_text(&csv, "a.nii.gz,patient\nb.nii,control\n");
    let opts = ScanOptions {
        labels_csv: Some(csv),
        label_map: Some(parse_label_map("patient=1,control=0").unwrap()),
        ..ScanOptions::default()
    };
    let d = scan_dataset(root, &opts).unwrap();
    assert_eq!(ids(&d), ["a", "b"]);
    assert_eq!(subject(&d, "a").label, Some(1));
    assert_eq!(subject(&d, "b").label, Some(0));
}

#[test]
fn bad_runs_and_subjects_become_problems_without_stopping_the_scan() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    write_text(
        &root.join("participants.tsv"),
        "participant_id\tdiagnosis\n\
         sub-bad\t1\nsub-flat\t1\nsub-far\t0\nsub-good\tn/a\nsub-empty\t0\n",
    );
    let func = |id: &str, file: &str| root.join(format!("sub-{id}/func/sub-{id}_{file}"));
    let bad = func("bad", "task-rest_bold.nii.gz");
    let noise: Vec<u8> = (0..1000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::create_dir_all(bad.parent().unwrap()).unwrap();
    std::fs::write(&bad, noise).unwrap();
    copy_anatomical(&func("flat", "task-rest_bold.nii"));
    write_run(
        &func("far", "task-rest_bold.nii.gz"),
        far_grid(),
        2.0,
        false,
    );
    write_mni_run(&func("good", "task-rest_bold.nii.gz"), 2.0);
    std::fs::create_dir_all(root.join("sub-empty")).unwrap();

    let d = scan_dataset(root, &ScanOptions::default()).unwrap();
    assert_eq!(ids(&d), ["bad", "empty", "far", "flat", "good"]);
    assert_problem(&d, Some("bad"), "unreadable NIfTI");
    assert_problem(&d, Some("flat"), "not a 4D run: 3D volume");
    assert_problem(
        &d,
        Some("far"),
        "not in MNI space: sform_code 1, qform_code 1",
    );
    assert_problem(&d, Some("good"), "missing label");
    assert_problem(&d, Some("empty"), "no BOLD run found");
    for refused in ["bad", "flat", "far"] {
        assert!(subject(&d, refused).runs.is_empty());
        assert_problem(&d, Some(refused), "no usable BOLD run (1 refused");
    }
    assert_eq!(subject(&d, "good").runs.len(), 1);
    assert_eq!(subject(&d, "far").label, Some(0));
    assert_eq!(d.usable().count(), 0);
    let unreadable = d
        .problems
        .iter()
        .find(|p| p.message.contains("unreadable"))
        .unwrap();
    assert_eq!(unreadable.path.as_deref(), Some(bad.as_path()));
}

#[test]
fn only_unusable_roots_are_errors() {
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("nope");
    assert!(
        scan_dataset(&missing, &ScanOptions::default())
            .unwrap_err()
            .to_string()
            .contains("no such folder")
    );
    let file = tmp.path().join("file.txt");
    write_text(&file, "x");
    assert!(
        scan_dataset(&file, &ScanOptions::default())
            .unwrap_err()
            .to_string()
            .contains("not a folder")
    );
    let empty = tmp.path().join("empty");
    std::fs::create_dir_all(&empty).unwrap();
    assert!(
        scan_dataset(&empty, &ScanOptions::default())
            .unwrap_err()
            .to_string()
            .contains("no recognisable data")
    );
    let forced = ScanOptions {
        kind: Some(DatasetKind::Bids),
        ..ScanOptions::default()
    };
    assert!(
        scan_dataset(&empty, &forced)
            .unwrap_err()
            .to_string()
            .contains("no sub-* folders")
    );
}

#[test]
fn cli_scan_prints_json_and_text() {
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path();
    build_adhd200(root);
    let out = common::roimae_command()
        .args(["dataset", "scan", "--json", "--qc"])
        .arg(root)
        .output()
        .unwrap();
    let json = common::stdout_json(&out);
    assert_eq!(json["kind"], "adhd200");
    let ids: Vec<&str> = json["subjects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["0010001", "0010003", "1050345", "1050346"]);
    assert_eq!(json["subjects"][0]["runs"][0]["tr"], 2.0);

    let out = common::roimae_command()
        .args(["dataset", "scan", "--kind", "adhd200"])
        .arg(root)
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for needle in [
        "ADHD-200",
        "subjects: 5 (3 usable",
        "NYU: 3",
        "SUBJECT",
        "0010001",
        "problems (",
    ] {
        assert!(text.contains(needle), "{needle:?} missing from:\n{text}");
    }
}

#[test]
fn cli_scan_of_a_missing_folder_exits_2_with_one_line() {
    let tmp = tempfile::tempdir().unwrap();
    let out = common::roimae_command()
        .args(["dataset", "scan"])
        .arg(tmp.path().join("absent"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(err.contains("no such folder"), "{err}");
}
