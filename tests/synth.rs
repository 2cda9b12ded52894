//! The synthetic cohort against truths it does not compute itself: the BIDS
//! tree as specified, runs that read back on the MNI grid, background
//! exactly 0 outside the template brain, determinism, class balance, and
//! the planted effect — measured with plain statistics (amplitude and
//! connectivity of AAL3 region-mean time courses) that differ between
//! diagnosis groups inside the effect regions only, and nowhere at effect
//! size 0. Runs on the 4 mm grid with short runs to stay fast.

mod common;

use roimae::atlas::{Atlas, LabelMap, Lobe};
use roimae::data::GridChoice;
use roimae::data::synth::{SynthConfig, SyntheticSubject, generate_subject, write_cohort};
use roimae::masking::RegionSelection;
use roimae::volume::{Interpolation, read_volume, resample};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::OnceLock;

/// The atlas and its labels on the 4 mm grid, loaded once.
fn atlas() -> &'static (Atlas, LabelMap) {
    static CELL: OnceLock<(Atlas, LabelMap)> = OnceLock::new();
    CELL.get_or_init(|| {
        let atlas = Atlas::aal3().unwrap();
        let labels = atlas.on_grid(&GridChoice::Mni4mm.grid());
        (atlas, labels)
    })
}

fn small(subjects: usize, frames: usize) -> SynthConfig {
    SynthConfig {
        subjects,
        grid: GridChoice::Mni4mm,
        frames,
        ..SynthConfig::default()
    }
}

fn files_under(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else {
            out.push(path);
        }
    }
    out.sort();
    out
}

fn read_tsv(path: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(b'\t')
        .from_path(path)
        .unwrap();
    let header = reader.headers().unwrap().iter().map(String::from).collect();
    let rows = reader
        .records()
        .map(|r| r.unwrap().iter().map(String::from).collect())
        .collect();
    (header, rows)
}

fn read_json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn the_written_tree_is_the_specified_bids_dataset() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("cohort");
    let cfg = SynthConfig {
        tr: 1.5,
        ..small(4, 20)
    };
    let summary = write_cohort(&cfg, &out).unwrap();

    let description = read_json(&out.join("dataset_description.json"));
    assert_eq!(description["BIDSVersion"], "1.9.0");
    assert!(description["Name"].is_string());

    let (header, rows) = read_tsv(&out.join("participants.tsv"));
    assert_eq!(header, ["participant_id", "diagnosis", "site"]);
    let ids: Vec<&str> = rows.iter().map(|r| r[0].as_str()).collect();
    assert_eq!(ids, ["sub-01", "sub-02", "sub-03", "sub-04"]);
    for row in &rows {
        assert!(row[1] == "0" || row[1] == "1", "diagnosis {}", row[1]);
        assert!(row[2] == "site1" || row[2] == "site2", "site {}", row[2]);
        let func = out.join(&row[0]).join("func");
        let stem = format!("{}_task-rest_bold", row[0]);
        assert!(func.join(format!("{stem}.nii.gz")).is_file());
        let sidecar = read_json(&func.join(format!("{stem}.json")));
        assert_eq!(sidecar["RepetitionTime"], 1.5);
        assert_eq!(sidecar["TaskName"], "rest");
    }
    let patients = rows.iter().filter(|r| r[1] == "1").count();
    assert_eq!(
        (summary.controls, summary.patients),
        (4 - patients, patients)
    );

    // The ground truth is exactly the limbic lobe of the region table.
    let (header, rows) = read_tsv(&out.join("effect_regions.tsv"));
    assert_eq!(&header[..2], ["index", "name"]);
    let listed: BTreeSet<u16> = rows.iter().map(|r| r[0].parse().unwrap()).collect();
    let limbic: BTreeSet<u16> = atlas()
        .0
        .regions
        .in_group(Lobe::Limbic)
        .map(|r| r.id)
        .collect();
    assert_eq!(listed, limbic);
    assert_eq!(summary.effect_regions.len(), limbic.len());

    let files = files_under(&out);
    assert_eq!(summary.files_written, files.len());
    let bytes: u64 = files.iter().map(|f| f.metadata().unwrap().len()).sum();
    assert_eq!(summary.bytes_written, bytes);
    assert_eq!((summary.subjects, summary.sites), (4, 2));
}

#[test]
fn written_runs_read_back_on_the_mni_grid_as_generated() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = small(2, 24);
    write_cohort(&cfg, dir.path()).unwrap();
    let grid = GridChoice::Mni4mm.grid();
    for index in 0..2 {
        let path = dir.path().join(format!(
            "sub-0{}/func/sub-0{}_task-rest_bold.nii.gz",
            index + 1,
            index + 1
        ));
        let volume = read_volume(&path).unwrap();
        assert_eq!(volume.shape(), [46, 55, 46, 24]);
        assert_eq!(volume.meta.tr, Some(2.0));
        assert!(volume.affine().max_abs_diff(&grid.affine) < 1e-4);
        assert_eq!((volume.meta.sform_code, volume.meta.qform_code), (4, 4));
        let memory = generate_subject(&cfg, &atlas().0, index);
        assert_eq!(volume.data, memory.volume.data, "subject {index}");
    }
}

#[test]
fn background_is_exactly_zero_and_brain_voxels_vary_in_time() {
    let subject = generate_subject(&small(2, 20), &atlas().0, 0);
    let volume = &subject.volume;
    assert_eq!(volume.shape(), [46, 55, 46, 20]);
    assert_eq!((volume.meta.sform_code, volume.meta.qform_code), (4, 4));
    assert_eq!(volume.meta.tr, Some(2.0));
    // Outside the template's brain nothing may be non-zero.
    let template = roimae::assets::mni152_t1().unwrap();
    let t1 = resample(&template, &volume.grid, Interpolation::Trilinear, 0.0);
    let n = volume.grid.n_voxels();
    let mut brain = 0;
    for v in 0..n {
        let series: Vec<f32> = (0..volume.frames).map(|t| volume.data[t * n + v]).collect();
        if t1.data[v] == 0.0 {
            assert!(
                series.iter().all(|&x| x == 0.0),
                "voxel {v} is outside the brain"
            );
        } else if series[0] != 0.0 {
            brain += 1;
            assert!(
                series.iter().all(|&x| x > 0.0),
                "brain voxel {v} drops to 0"
            );
        }
    }
    // About 1.5 litres of 64 mm³ voxels.
    assert!((19_000..31_000).contains(&brain), "{brain} brain voxels");
    // Labelled voxels carry signal: they change over time.
    let labels = &atlas().1.labels;
    let varying = (0..n)
        .filter(|&v| labels[v] > 0 && volume.data[v] != 0.0)
        .filter(|&v| (1..volume.frames).any(|t| volume.data[t * n + v] != volume.data[v]))
        .count();
    let labelled = (0..n)
        .filter(|&v| labels[v] > 0 && volume.data[v] != 0.0)
        .count();
    assert!(labelled > 10_000);
    assert_eq!(varying, labelled);
}

#[test]
fn the_same_seed_gives_the_same_bytes_and_another_seed_other_data() {
    let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    let cfg = small(2, 20);
    for dir in &dirs {
        write_cohort(&cfg, dir.path()).unwrap();
    }
    let listing: Vec<_> = dirs.iter().map(|d| files_under(d.path())).collect();
    assert_eq!(listing[0].len(), listing[1].len());
    for (a, b) in listing[0].iter().zip(&listing[1]) {
        assert_eq!(
            a.strip_prefix(dirs[0].path()),
            b.strip_prefix(dirs[1].path())
        );
        assert!(
            std::fs::read(a).unwrap() == std::fs::read(b).unwrap(),
            "{}",
            a.display()
        );
    }
    let atlas = &atlas().0;
    let first = generate_subject(&cfg, atlas, 1);
    assert_eq!(first, generate_subject(&cfg, atlas, 1));
    let other_seed = generate_subject(
        &SynthConfig {
            seed: 1,
            ..cfg.clone()
        },
        atlas,
        1,
    );
    assert_ne!(first.volume.data, other_seed.volume.data);
    assert_ne!(
        first.volume.data,
        generate_subject(&cfg, atlas, 3).volume.data
    );
}

#[test]
fn classes_are_balanced_and_not_confounded_with_site() {
    let atlas = &atlas().0;
    for (subjects, sites) in [(8, 1), (8, 2), (9, 3)] {
        let cfg = SynthConfig {
            sites,
            ..small(subjects, 20)
        };
        let cohort: Vec<SyntheticSubject> = (0..subjects)
            .map(|i| generate_subject(&cfg, atlas, i))
            .collect();
        let patients = cohort.iter().filter(|s| s.diagnosis == 1).count();
        assert!(
            patients.abs_diff(subjects - patients) <= 1,
            "{subjects}/{sites}: {patients}"
        );
        for (index, subject) in cohort.iter().enumerate() {
            assert_eq!(subject.site, format!("site{}", index % sites + 1));
            assert_eq!(subject.id, format!("{:02}", index + 1));
            assert!(subject.diagnosis <= 1);
        }
        for site in 1..=sites {
            let name = format!("site{site}");
            let at_site: Vec<u32> = cohort
                .iter()
                .filter(|s| s.site == name)
                .map(|s| s.diagnosis)
                .collect();
            let patients = at_site.iter().filter(|&&d| d == 1).count();
            assert!(
                patients.abs_diff(at_site.len() - patients) <= 1,
                "{name}: {at_site:?}"
            );
        }
    }
}

/// Per region with at least 10 voxels on the grid: the region-mean time course.
fn region_courses(subject: &SyntheticSubject) -> BTreeMap<u16, Vec<f64>> {
    let labels = &atlas().1.labels;
    let volume = &subject.volume;
    let n = volume.grid.n_voxels();
    let mut members: BTreeMap<u16, Vec<usize>> = BTreeMap::new();
    for (v, &l) in labels.iter().enumerate() {
        if l > 0 && volume.data[v] != 0.0 {
            members.entry(l).or_default().push(v);
        }
    }
    members
        .into_iter()
        .filter(|(_, voxels)| voxels.len() >= 10)
        .map(|(l, voxels)| {
            let course = (0..volume.frames)
                .map(|t| {
                    voxels
                        .iter()
                        .map(|&v| volume.data[t * n + v] as f64)
                        .sum::<f64>()
                        / voxels.len() as f64
                })
                .collect();
            (l, course)
        })
        .collect()
}

/// Standard deviation of the linearly detrended course over its mean: the
/// fractional amplitude of fluctuation (immune to site scale).
fn fractional_amplitude(course: &[f64]) -> f64 {
    let n = course.len() as f64;
    let mean = course.iter().sum::<f64>() / n;
    let tm = (n - 1.0) / 2.0;
    let stt: f64 = (0..course.len()).map(|t| (t as f64 - tm).powi(2)).sum();
    let slope: f64 = course
        .iter()
        .enumerate()
        .map(|(t, y)| (t as f64 - tm) * (y - mean))
        .sum::<f64>()
        / stt;
    let residual: f64 = course
        .iter()
        .enumerate()
        .map(|(t, y)| (y - mean - slope * (t as f64 - tm)).powi(2))
        .sum::<f64>()
        / n;
    residual.sqrt() / mean
}

fn correlation(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len() as f64;
    let (ma, mb) = (a.iter().sum::<f64>() / n, b.iter().sum::<f64>() / n);
    let (mut ab, mut aa, mut bb) = (0.0, 0.0, 0.0);
    for (x, y) in a.iter().zip(b) {
        ab += (x - ma) * (y - mb);
        aa += (x - ma).powi(2);
        bb += (y - mb).powi(2);
    }
    ab / (aa * bb).sqrt()
}

/// What an analyst would compute per subject: the region-mean time courses
/// and each region's log fractional amplitude relative to the subject's
/// median region (as mALFF normalises ALFF by the whole brain).
struct SubjectMeasures {
    diagnosis: u32,
    courses: BTreeMap<u16, Vec<f64>>,
    relative_log_amplitude: BTreeMap<u16, f64>,
}

impl SubjectMeasures {
    fn of(subject: &SyntheticSubject) -> SubjectMeasures {
        let courses = region_courses(subject);
        let logs: BTreeMap<u16, f64> = courses
            .iter()
            .map(|(&r, c)| (r, fractional_amplitude(c).ln()))
            .collect();
        let mut sorted: Vec<f64> = logs.values().copied().collect();
        sorted.sort_by(f64::total_cmp);
        let median = sorted[sorted.len() / 2];
        SubjectMeasures {
            diagnosis: subject.diagnosis,
            courses,
            relative_log_amplitude: logs.into_iter().map(|(r, v)| (r, v - median)).collect(),
        }
    }

    /// Mean pairwise correlation of the region-mean courses of `regions`.
    fn within_connectivity(&self, regions: &BTreeSet<u16>) -> f64 {
        let present: Vec<&Vec<f64>> = regions.iter().filter_map(|r| self.courses.get(r)).collect();
        let mut sum = 0.0;
        let mut count = 0;
        for (i, a) in present.iter().enumerate() {
            for b in &present[i + 1..] {
                sum += correlation(a, b);
                count += 1;
            }
        }
        sum / count as f64
    }
}

fn cohort_measures(cfg: &SynthConfig) -> Vec<SubjectMeasures> {
    (0..cfg.subjects)
        .map(|i| SubjectMeasures::of(&generate_subject(cfg, &atlas().0, i)))
        .collect()
}

/// Patients' mean minus controls' mean of the regions' average relative
/// log amplitude.
fn amplitude_contrast(cohort: &[SubjectMeasures], regions: &BTreeSet<u16>) -> f64 {
    let group_mean = |d: u32| {
        let values: Vec<f64> = cohort
            .iter()
            .filter(|s| s.diagnosis == d)
            .map(|s| {
                let v: Vec<f64> = regions
                    .iter()
                    .filter_map(|r| s.relative_log_amplitude.get(r))
                    .copied()
                    .collect();
                v.iter().sum::<f64>() / v.len() as f64
            })
            .collect();
        values.iter().sum::<f64>() / values.len() as f64
    };
    group_mean(1) - group_mean(0)
}

fn lobe_ids(lobe: Lobe) -> BTreeSet<u16> {
    atlas().0.regions.in_group(lobe).map(|r| r.id).collect()
}

fn limbic_effect(effect_size: f64) -> SynthConfig {
    SynthConfig {
        effect_regions: RegionSelection {
            lobes: vec![Lobe::Limbic],
            names: vec![],
        },
        effect_size,
        ..small(12, 60)
    }
}

#[test]
fn patients_differ_in_amplitude_inside_the_effect_regions_only() {
    let cohort = cohort_measures(&limbic_effect(1.0));
    let limbic = lobe_ids(Lobe::Limbic);
    let effect = amplitude_contrast(&cohort, &limbic);
    assert!(effect > 0.25, "limbic log amplitude contrast {effect}");
    for lobe in Lobe::ALL.into_iter().filter(|&l| l != Lobe::Limbic) {
        let contrast = amplitude_contrast(&cohort, &lobe_ids(lobe));
        assert!(
            contrast.abs() < 0.1,
            "{lobe:?}: log amplitude contrast {contrast}"
        );
    }
    for r in &limbic {
        let contrast = amplitude_contrast(&cohort, &[*r].into());
        if contrast.is_finite() {
            assert!(contrast > 0.05, "limbic region {r}: {contrast}");
        }
    }
}

#[test]
fn with_effect_size_zero_no_region_differs() {
    let cohort = cohort_measures(&limbic_effect(0.0));
    for lobe in Lobe::ALL {
        let contrast = amplitude_contrast(&cohort, &lobe_ids(lobe));
        assert!(
            contrast.abs() < 0.1,
            "{lobe:?}: log amplitude contrast {contrast}"
        );
    }
}

#[test]
fn the_effect_touches_patients_voxels_in_the_effect_regions_only_and_couples_them() {
    // The same cohort with and without the effect: every draw is shared, so
    // any difference is the planted effect itself.
    let with = limbic_effect(1.0);
    let without = limbic_effect(0.0);
    let labels = &atlas().1.labels;
    let limbic = lobe_ids(Lobe::Limbic);
    let occipital = lobe_ids(Lobe::Occipital);
    let mut coupling_gain = Vec::new();
    for index in 0..4 {
        let a = generate_subject(&with, &atlas().0, index);
        let b = generate_subject(&without, &atlas().0, index);
        let n = a.volume.grid.n_voxels();
        let changed: BTreeSet<usize> = (0..a.volume.data.len())
            .filter(|&i| a.volume.data[i] != b.volume.data[i])
            .map(|i| i % n)
            .collect();
        if a.diagnosis == 0 {
            assert!(changed.is_empty(), "control {index} changed");
            continue;
        }
        assert!(
            changed.len() > 500,
            "patient {index}: {} voxels changed",
            changed.len()
        );
        for v in &changed {
            assert!(
                limbic.contains(&labels[*v]),
                "voxel {v} (label {}) changed",
                labels[*v]
            );
        }
        let (ma, mb) = (SubjectMeasures::of(&a), SubjectMeasures::of(&b));
        coupling_gain.push(ma.within_connectivity(&limbic) - mb.within_connectivity(&limbic));
        assert_eq!(
            ma.within_connectivity(&occipital),
            mb.within_connectivity(&occipital)
        );
    }
    assert_eq!(coupling_gain.len(), 2);
    for gain in coupling_gain {
        assert!(gain > 0.15, "limbic connectivity rose by {gain}");
    }
}

#[test]
fn rewriting_a_synth_output_replaces_it_and_foreign_folders_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    write_cohort(&small(4, 20), dir.path()).unwrap();
    write_cohort(&small(2, 20), dir.path()).unwrap();
    assert!(dir.path().join("sub-02").is_dir());
    assert!(!dir.path().join("sub-03").exists());
    let (_, rows) = read_tsv(&dir.path().join("participants.tsv"));
    assert_eq!(rows.len(), 2);

    let foreign = tempfile::tempdir().unwrap();
    std::fs::write(foreign.path().join("notes.txt"), "mine").unwrap();
    let err = write_cohort(&small(2, 20), foreign.path()).unwrap_err();
    assert!(err.to_string().contains("not empty"), "{err}");
    assert_eq!(files_under(foreign.path()).len(), 1);

    let invalid = SynthConfig {
        subjects: 1,
        ..small(2, 20)
    };
    let fresh = dir.path().join("never");
    assert!(write_cohort(&invalid, &fresh).is_err());
    assert!(!fresh.exists());
}

#[test]
fn cli_writes_a_cohort_and_reports_it_as_json() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("ds");
    let result = common::roimae(&[
        "synth",
        "--out",
        out.to_str().unwrap(),
        "--subjects",
        "2",
        "--grid",
        "mni4mm",
        "--frames",
        "20",
        "--effect-regions",
        "cerebellum,Hippocampus_L",
        "--seed",
        "5",
        "--json",
    ]);
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert!(result.status.success(), "stderr: {stderr}");
    let summary: serde_json::Value = serde_json::from_slice(&result.stdout).unwrap();
    assert_eq!(summary["subjects"], 2);
    assert_eq!(summary["grid"], "mni4mm");
    let names: Vec<&str> = summary["effect_regions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(names.contains(&"Hippocampus_L") && names.contains(&"Vermis_6"));
    assert_eq!(names.len(), lobe_ids(Lobe::Cerebellum).len() + 1);
    assert!(
        out.join("sub-02/func/sub-02_task-rest_bold.nii.gz")
            .is_file()
    );
    let config = read_json(&out.join("synth_config.json"));
    assert_eq!(config["seed"], 5);
}

#[test]
fn cli_refuses_a_foreign_non_empty_folder_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("data.csv"), "a,b\n").unwrap();
    let result = common::roimae(&["synth", "--out", dir.path().to_str().unwrap()]);
    assert_eq!(result.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert_eq!(stderr.trim_end().lines().count(), 1, "stderr: {stderr}");
    assert!(
        stderr.starts_with("roimae: error:") && stderr.contains("not empty"),
        "{stderr}"
    );
    assert_eq!(files_under(dir.path()).len(), 1);

    let unknown = common::roimae(&[
        "synth",
        "--out",
        dir.path().join("new").to_str().unwrap(),
        "--effect-regions",
        "Nowhere_L",
    ]);
    assert_eq!(unknown.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&unknown.stderr);
    assert_eq!(stderr.trim_end().lines().count(), 1, "stderr: {stderr}");
    assert!(stderr.contains("Nowhere_L"), "{stderr}");
    assert!(!dir.path().join("new").exists());
}

/// AUROC of `feature` for patients against controls, as a distance from
/// chance: max(AUROC, 1 − AUROC), the best threshold classifier on it in
/// either direction.
fn separation(feature: &[f64], patient: &[bool]) -> f64 {
    let a = roimae::eval::metrics::auroc(feature, patient).unwrap();
    a.max(1.0 - a)
}

#[test]
fn after_preprocessing_the_label_is_inside_the_planted_regions_only() {
    use roimae::train::data::TrainData;
    use roimae::train::{DataConfig, RunConfig, SyntheticData};
    // 40 subjects (20 patients) with a strong effect in limbic +
    // cerebellum, through the same preprocessing a run uses (global
    // z-score, background fill, crop to the tiny input cube).
    let planted_lobes = [Lobe::Limbic, Lobe::Cerebellum];
    let cfg = RunConfig {
        data: DataConfig::Synthetic(SyntheticData {
            subjects: 40,
            frames: 24,
            seed: 11,
            effect_lobes: planted_lobes.to_vec(),
            effect_size: 4.0,
            sites: 1,
        }),
        ..RunConfig::default()
    };
    let atlas = &atlas().0;
    let data = TrainData::load(&cfg, atlas).unwrap();
    let n = data.geometry.input;
    let frames = data.source.clip_len() / (n * n * n);
    let planted: BTreeSet<u16> = planted_lobes.iter().flat_map(|&l| lobe_ids(l)).collect();
    let labels = &data.labels.labels;
    let at = |u: usize, v: usize, w: usize| (u * n + v) * n + w;
    // Outside: labelled voxels of other regions with no planted voxel
    // among their 26 neighbours (trilinear resampling mixes neighbours).
    let near_planted = |u: usize, v: usize, w: usize| {
        let r = |c: usize| c.saturating_sub(1)..(c + 2).min(n);
        r(u).any(|a| r(v).any(|b| r(w).any(|c| planted.contains(&labels[at(a, b, c)]))))
    };
    let (mut inside, mut outside) = (Vec::new(), Vec::new());
    for u in 0..n {
        for v in 0..n {
            for w in 0..n {
                let l = labels[at(u, v, w)];
                if planted.contains(&l) {
                    inside.push(at(u, v, w));
                } else if l != 0 && !near_planted(u, v, w) {
                    outside.push(at(u, v, w));
                }
            }
        }
    }
    assert!(
        inside.len() > 20 && outside.len() > 200,
        "{} {}",
        inside.len(),
        outside.len()
    );
    // Per subject: mean temporal SD and mean level of a voxel set, and the
    // background fill (the clip minimum), averaged over its clips.
    let mut by_subject: BTreeMap<String, (bool, Vec<[f64; 4]>)> = BTreeMap::new();
    let mut clip = Vec::new();
    for i in 0..data.source.len() {
        data.source.read(i, &mut clip);
        let stats = |voxels: &[usize]| {
            let (mut sd, mut level) = (0.0, 0.0);
            for &x in voxels {
                let t = &clip[x * frames..(x + 1) * frames];
                let m = t.iter().map(|&v| v as f64).sum::<f64>() / frames as f64;
                let var = t.iter().map(|&v| (v as f64 - m).powi(2)).sum::<f64>() / frames as f64;
                sd += var.sqrt() / voxels.len() as f64;
                level += m / voxels.len() as f64;
            }
            (sd, level)
        };
        let (sd_out, level_out) = stats(&outside);
        let (sd_in, _) = stats(&inside);
        let fill = clip.iter().copied().fold(f32::INFINITY, f32::min) as f64;
        let info = data.source.info(i);
        by_subject
            .entry(info.subject.clone())
            .or_insert((info.label == Some(1), Vec::new()))
            .1
            .push([sd_out, level_out, fill, sd_in]);
    }
    let patient: Vec<bool> = by_subject.values().map(|(p, _)| *p).collect();
    assert_eq!(patient.iter().filter(|&&p| p).count(), 20);
    let feature = |k: usize| -> Vec<f64> {
        by_subject
            .values()
            .map(|(_, rows)| rows.iter().map(|r| r[k]).sum::<f64>() / rows.len() as f64)
            .collect()
    };
    // Measured: without the balancing of balance.rs the mean level outside
    // separates at 0.81 (the global SD rescales everything); with it 0.55,
    // temporal SD outside 0.63, fill 0.52, and inside 1.0.
    // Chance: under no difference the AUROC of 20 vs 20 has SD
    // sqrt(41 / (12·20·20)) = 0.092, so three features stay within
    // 0.5 ± 0.23 (2.5 SD each) with probability > 0.96.
    for (k, name) in [
        (0, "temporal SD outside"),
        (1, "mean level outside"),
        (2, "background fill"),
    ] {
        let s = separation(&feature(k), &patient);
        eprintln!("{name}: {s:.3}");
        assert!(
            s < 0.73,
            "{name}: AUROC distance from chance {s:.3} — the label leaks outside the planted regions"
        );
    }
    // Inside, patients' stronger fluctuation separates them.
    let s = separation(&feature(3), &patient);
    eprintln!("temporal SD inside: {s:.3}");
    assert!(s > 0.9, "temporal SD inside the planted regions: {s:.3}");
}
