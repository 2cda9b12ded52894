//! Downstream evaluation on the CPU (Flex): the linear head on features
//! with a planted signal, fine-tuning a tiny pretrained run end to end
//! through the CLI, and region attribution (a stub with a known answer and
//! a real tiny model).

mod common;

use burn::prelude::Device;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use roimae::atlas::{Atlas, Lobe, TokenGeometry, TokenMap};
use roimae::eval::attribution::{Reconstructor, occlusion, region_map};
use roimae::eval::finetune::protocols;
use roimae::eval::fit::{Labels, Task, split_labelled};
use roimae::eval::head::train_head_on_features;
use roimae::eval::region_files::{read_region_scores, write_occlusion_outputs};
use roimae::eval::{EvalError, FinetuneConfig};
use roimae::masking::{ClipMask, MaskSpec, Masker};
use roimae::model::Preset;
use roimae::train::data::cube_affine;
use roimae::train::{DataConfig, DeviceChoice, RunConfig, SyntheticData, TrainEvent, TrainHandle};
use roimae::volume::{Affine, read_volume};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// The subjects a run's `split.json` says pretraining read (train + val).
fn pretrained_subjects(run: &Path) -> std::collections::BTreeSet<String> {
    let split: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("split.json")).unwrap()).unwrap();
    ["train", "val"]
        .iter()
        .flat_map(|k| split[k].as_array().unwrap().clone())
        .map(|v| v.as_str().unwrap().to_string())
        .collect()
}

/// A tiny pretraining run of `steps` steps on `subjects` synthetic subjects.
fn pretrain(dir: &Path, steps: usize, subjects: usize) {
    let mut cfg = RunConfig {
        data: DataConfig::Synthetic(SyntheticData {
            subjects,
            frames: 24,
            ..SyntheticData::default()
        }),
        batch_size: 2,
        max_steps: Some(steps),
        val_every: 10.min(steps),
        val_fraction: 0.25,
        device: DeviceChoice::Cpu,
        preview_every: 0,
        ..RunConfig::default()
    };
    cfg.optim.lr = 2e-3;
    let handle = TrainHandle::start(cfg, dir.to_path_buf(), false, || {}).expect("start");
    let deadline = Instant::now() + Duration::from_secs(120);
    while handle.is_running() {
        assert!(Instant::now() < deadline, "pretraining took too long");
        std::thread::sleep(Duration::from_millis(20));
    }
    let events = handle.wait();
    if let Some(TrainEvent::Failed(e)) = events.last() {
        panic!("pretraining failed: {e}");
    }
}

#[test]
fn linear_head_recovers_a_planted_feature_signal_on_held_out_subjects() {
    // 40 subjects × 3 clips, 12 features of N(0, 1) noise; feature 5 is
    // shifted by +2 for patients. A linear head should separate held-out
    // subjects almost perfectly (Bayes accuracy per clip ≈ 84 %, per
    // subject of 3 averaged clips ≈ 96 %).
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let mut subjects = Vec::new();
    let mut labels = Vec::new();
    let mut features = Vec::new();
    for s in 0..40u32 {
        for _ in 0..3 {
            subjects.push(format!("sub-{s:02}"));
            labels.push(Some(s % 2));
            let f: Vec<f32> = (0..12)
                .map(|k| {
                    let z: f32 = (0..12).map(|_| rng.random::<f32>()).sum::<f32>() - 6.0;
                    z + if k == 5 && s % 2 == 1 { 2.0 } else { 0.0 }
                })
                .collect();
            features.push(f);
        }
    }
    let cfg = FinetuneConfig {
        epochs: 30,
        bootstrap: 200,
        val_fraction: 0.25,
        test_fraction: 0.25,
        ..FinetuneConfig::default()
    };
    let (split, sets, classes) = split_labelled(
        &Labels {
            subjects: &subjects,
            labels: &labels,
        },
        &cfg,
    )
    .unwrap();
    assert_eq!((split.test.len(), split.val.len(), classes), (10, 10, 2));
    let device = Device::flex().autodiff();
    let task = Task {
        clips: Labels {
            subjects: &subjects,
            labels: &labels,
        },
        sets: &sets,
        classes,
    };
    let fit = train_head_on_features(&features, &task, &cfg, &device, &mut |_| {}).unwrap();
    assert!(fit.history.last().unwrap().train_loss < fit.history[0].train_loss);
    let (honest, reference) = protocols(&fit, classes, &cfg);
    let r = &honest.report;
    assert_eq!(r.subjects, 10);
    assert!(
        honest
            .predictions
            .iter()
            .all(|p| split.test.contains(&p.subject))
    );
    assert!(r.accuracy >= 0.8, "held-out accuracy {}", r.accuracy);
    assert!(r.auroc.unwrap() >= 0.9, "held-out AUROC {:?}", r.auroc);
    let (lo, hi) = r.auroc_ci95.unwrap();
    assert!(lo <= r.auroc.unwrap() && r.auroc.unwrap() <= hi);
    assert_eq!(r.confusion.iter().flatten().sum::<usize>(), 10);
    assert_eq!(reference.evaluated_on, "validation");
    assert!(
        reference
            .predictions
            .iter()
            .all(|p| split.val.contains(&p.subject))
    );
}

#[test]
fn finetune_cli_on_a_tiny_pretrained_run_writes_subject_level_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    pretrain(&run, 30, 4);
    // Fine-tune on a larger labelled cohort with a strong limbic effect.
    let ft = FinetuneConfig {
        epochs: 60,
        bootstrap: 200,
        val_fraction: 0.25,
        test_fraction: 0.25,
        device: DeviceChoice::Cpu,
        data: Some(DataConfig::Synthetic(SyntheticData {
            subjects: 48,
            frames: 24,
            seed: 5,
            effect_lobes: vec![Lobe::Limbic],
            effect_size: 8.0,
            sites: 3,
        })),
        ..FinetuneConfig::default()
    };
    let ft_path = dir.path().join("ft.toml");
    std::fs::write(&ft_path, toml::to_string(&ft).unwrap()).unwrap();
    let out = dir.path().join("ft");
    let t0 = Instant::now();
    let o = common::roimae_command()
        .args(["finetune", "--pretrained"])
        .arg(&run)
        .arg("--config")
        .arg(&ft_path)
        .arg("--leave-site-out")
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    eprintln!(
        "{stdout}\n{}\nfinetune took {:.1} s",
        String::from_utf8_lossy(&o.stderr),
        t0.elapsed().as_secs_f64()
    );
    assert!(o.status.success());
    assert!(stdout.contains("honest") && stdout.contains("test = validation"));
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("finetune.json")).unwrap()).unwrap();
    assert_eq!(json["mode"], "frozen");
    assert_eq!(json["classes"], 2);
    assert_eq!(json["pretrained"]["step"], 30);
    assert_eq!(json["honest"]["evaluated_on"], "test");
    let honest = &json["honest"]["report"];
    assert_eq!(honest["subjects"], 12);
    // The frozen encoder + head beats chance on held-out test subjects
    // (measured: accuracy 1.0, AUROC 1.0 on 12 test subjects).
    assert!(honest["accuracy"].as_f64().unwrap() >= 0.7, "{honest}");
    assert!(honest["auroc"].as_f64().unwrap() >= 0.8, "{honest}");
    let test: Vec<&str> = json["split"]["test"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    let train: Vec<&str> = json["split"]["train"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(test.iter().all(|s| !train.contains(s)));
    // The run kept no subject out, so the overlap of its split.json with
    // the test ids is what finetune.json reports (other data: by id).
    let seen = pretrained_subjects(&run);
    let overlap = test.iter().filter(|s| seen.contains(**s)).count();
    assert_eq!(
        json["evaluation"]["test_seen_in_pretraining"],
        overlap as u64
    );
    assert_eq!(
        json["evaluation"]["protocol"],
        if overlap == 0 {
            "inductive"
        } else {
            "transductive"
        }
    );
    let csv = std::fs::read_to_string(out.join("metrics.csv")).unwrap();
    assert!(csv.starts_with("protocol,split,metric,value,ci_low,ci_high\n"));
    assert!(csv.contains("honest,test,balanced_accuracy,"));
    assert!(csv.contains("reference,validation,auroc,"));
    eprintln!("{csv}");
    // Leave-one-site-out: 3 sites of 16 subjects, each scored by a head
    // trained on the other two; every subject once in the pooled report.
    let loso = &json["leave_site_out"];
    let folds = loso["folds"].as_array().unwrap();
    assert_eq!(folds.len(), 3, "{loso}");
    for f in folds {
        assert_eq!(f["report"]["subjects"], 16, "{f}");
        assert_eq!(f["subjects"][2], 16, "{f}");
    }
    assert_eq!(loso["pooled"]["subjects"], 48);
    assert!(loso["pooled"]["auroc"].as_f64().unwrap() >= 0.7, "{loso}");
    assert!(csv.contains("leave-site-out,site:site1,accuracy,"));
    assert!(csv.contains("leave-site-out,pooled,auroc,"));
    assert!(stdout.contains("leave-one-site-out over 3 sites"));

    // A folder that is not a run fails with one line and exit code 2.
    let o = common::roimae_command()
        .args(["finetune", "--pretrained"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("config.toml") && err.lines().count() == 1,
        "{err}"
    );
}

/// Reconstructs perfectly except in masked tokens, which are off by 0.1 —
/// or by `1 + clip value` when every token of the planted region is masked
/// (the planted region is the context everything else needs).
struct Stub {
    token_labels: Vec<u16>,
    planted: u16,
    n: usize,
    p: usize,
    frames: usize,
}

impl Reconstructor for Stub {
    fn reconstruct(&self, clip: &[f32], masks: &[ClipMask]) -> Result<Vec<Vec<f32>>, EvalError> {
        let (n, p, f) = (self.n, self.p, self.frames);
        let t = n / p;
        Ok(masks
            .iter()
            .map(|m| {
                let mut out = clip.to_vec();
                let hidden = (0..t * t * t)
                    .filter(|&s| self.token_labels[s] == self.planted)
                    .all(|s| m.tokens[s * f..(s + 1) * f].iter().all(|&h| h));
                let delta = if hidden { 1.0 + clip[0] } else { 0.1 };
                for k in 0..t * t * t * f {
                    if !m.tokens[k] {
                        continue;
                    }
                    let (s, frame) = (k / f, k % f);
                    let (x, y, z) = (s / (t * t), s / t % t, s % t);
                    for u in x * p..(x + 1) * p {
                        for v in y * p..(y + 1) * p {
                            for w in z * p..(z + 1) * p {
                                out[((u * n + v) * n + w) * f + frame] += delta;
                            }
                        }
                    }
                }
                out
            })
            .collect())
    }
}

#[test]
fn occlusion_recovers_a_planted_region_with_hand_computed_scores() {
    let atlas = Atlas::aal3().unwrap();
    let geometry = TokenGeometry::TINY;
    let grid = Preset::Tiny.source_grid().grid();
    let labels = atlas.input_labels(&grid, geometry);
    let tokens = TokenMap::from_input(&labels);
    // The planted region: the limbic region owning the most tokens.
    let counts = tokens.token_counts();
    let (&planted, _) = counts
        .iter()
        .filter(|(id, _)| {
            atlas
                .regions
                .get(**id)
                .is_some_and(|r| r.group == Lobe::Limbic)
        })
        .max_by_key(|(_, c)| **c)
        .unwrap();
    let frames = 8;
    let stub = Stub {
        token_labels: tokens.labels.clone(),
        planted,
        n: geometry.input,
        p: geometry.patch,
        frames,
    };
    let len = geometry.input.pow(3) * frames;
    // Base masks: the reference window mask. Occluding the planted region
    // raises the error on the other hidden voxels from 0.1² to (1 + c)²:
    // subject a (c = 0) 0.99, subject b (c = 1) 3.99 → mean 2.49, sample
    // sd 3/√2 = √4.5. Occluding any other region changes nothing: 0.
    let clips = vec![
        ("a".to_string(), vec![0.0f32; len]),
        ("a".to_string(), vec![0.0f32; len]),
        ("b".to_string(), vec![1.0f32; len]),
    ];
    let masker = Masker::new(&MaskSpec::default(), &labels, &atlas.regions, frames).unwrap();
    let bases: Vec<ClipMask> = (0..3).map(|i| masker.mask(100 + i)).collect();
    let occ = occlusion(
        &stub,
        &clips,
        &bases,
        &labels,
        &atlas.regions,
        frames,
        &mut |_| {},
    )
    .unwrap();
    assert_eq!((occ.subjects, occ.clips), (2, 3));
    assert!((occ.baseline_mse - 0.01).abs() < 1e-6);
    let top = &occ.regions[0];
    assert_eq!(top.id, planted);
    assert!((top.score - 2.49).abs() < 1e-6, "{top:?}");
    assert!((top.spread - 4.5f64.sqrt()).abs() < 1e-6, "{top:?}");
    assert_eq!(top.tokens, counts[&planted]);
    for r in &occ.regions[1..] {
        assert!(r.score.abs() < 1e-9 && r.spread < 1e-9, "{r:?}");
    }
    // Regions present at token level: exactly the labels of the token map.
    let present = counts.keys().filter(|&&id| id != 0).count();
    assert_eq!(occ.regions.len(), present);
    assert_eq!(occ.lobes[0].lobe, "limbic");
    assert!((occ.lobes[0].score - 2.49).abs() < 1e-6);
    assert!(occ.lobes[1..].iter().all(|l| l.score.abs() < 1e-9));
    // The region's own error under base ∪ region: (1 + c)² on the planted
    // region (a 1, b 4 → mean 2.5, sample sd √4.5), 0.1² on every other.
    let own = &occ.region_mse[0];
    assert_eq!(own.id, planted);
    assert!((own.score - 2.5).abs() < 1e-6, "{own:?}");
    assert!((own.spread - 4.5f64.sqrt()).abs() < 1e-6, "{own:?}");
    for r in &occ.region_mse[1..] {
        assert!((r.score - 0.01).abs() < 1e-6 && r.spread < 1e-6, "{r:?}");
    }
    assert_eq!(occ.region_mse.len(), occ.regions.len());
    assert_eq!(occ.lobe_mse[0].lobe, "limbic");
    assert!((occ.lobe_mse[0].score - 2.5).abs() < 1e-6);
    assert!(
        occ.lobe_mse[1..]
            .iter()
            .all(|l| (l.score - 0.01).abs() < 1e-6)
    );

    // The map paints the planted region's voxels with its score, on the
    // cube's affine; the files read back (ours and nibabel).
    let affine = cube_affine(&grid.with_voxel_size(geometry.voxel_mm()), geometry);
    let map = region_map(&occ.regions, &labels, affine);
    let n = geometry.input;
    let voxel = (0..n * n * n)
        .find(|&i| labels.labels[i] == planted)
        .map(|i| (i / (n * n), i / n % n, i % n))
        .unwrap();
    assert_eq!(
        map.value(voxel.0, voxel.1, voxel.2, 0),
        Some(top.score as f32)
    );
    let dir = tempfile::tempdir().unwrap();
    write_occlusion_outputs(&occ, &map, dir.path()).unwrap();
    let back = read_region_scores(&dir.path().join("occlusion_regions.csv")).unwrap();
    assert_eq!(back.len(), occ.regions.len());
    assert_eq!(back[0].id, planted);
    let back = read_region_scores(&dir.path().join("region_mse_regions.csv")).unwrap();
    assert_eq!((back[0].id, back[0].score), (planted, own.score));
    let nii = dir.path().join("occlusion_regions.nii.gz");
    let read = read_volume(&nii).unwrap();
    assert_eq!(read.grid.dims, [n, n, n]);
    assert_eq!(
        read.value(voxel.0, voxel.1, voxel.2, 0),
        Some(top.score as f32)
    );
    nibabel_check(&nii, voxel, top.score as f32, &affine);
}

/// nibabel opens the map with our shape, affine and value. Outside CI a
/// missing python3/nibabel skips the check with a line saying so; under CI
/// (`CI` set, `.ci/test` installs nibabel) it fails.
fn nibabel_check(path: &Path, voxel: (usize, usize, usize), value: f32, affine: &Affine) {
    let script = format!(
        "import nibabel as nib, json; i = nib.load({:?}); print(json.dumps([list(i.shape), i.affine.tolist(), float(i.get_fdata()[{},{},{}])]))",
        path.display().to_string(),
        voxel.0,
        voxel.1,
        voxel.2
    );
    let under_ci = std::env::var_os("CI").is_some();
    let o = match Command::new("python3").args(["-c", &script]).output() {
        Ok(o) => o,
        Err(e) => {
            assert!(!under_ci, "CI must have python3 with nibabel: {e}");
            eprintln!("SKIPPED: python3 missing ({e}); nibabel check not run");
            return;
        }
    };
    if !o.status.success() {
        let stderr = String::from_utf8_lossy(&o.stderr);
        let missing = stderr.contains("No module named 'nibabel'");
        assert!(
            missing && !under_ci,
            "nibabel could not read {}: {stderr}",
            path.display()
        );
        eprintln!("SKIPPED: nibabel not installed (`pip install nibabel` to run this check)");
        return;
    }
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v[0].as_array().unwrap().len(), 3);
    assert_eq!(v[2].as_f64().unwrap() as f32, value);
    for r in 0..3 {
        for c in 0..4 {
            let got = v[1][r][c].as_f64().unwrap();
            assert!(
                (got - affine.0[(r, c)]).abs() < 1e-4,
                "affine[{r}][{c}] = {got}"
            );
        }
    }
}

#[test]
fn attribute_cli_on_a_tiny_pretrained_run_writes_csv_and_a_nifti_map() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    // 8 subjects: the IG head needs training, validation and test subjects.
    pretrain(&run, 10, 8);
    let out = dir.path().join("attr");
    let t0 = Instant::now();
    let o = common::roimae_command()
        .args([
            "attribute",
            "--device",
            "cpu",
            "--method",
            "occlusion",
            "--run",
        ])
        .arg(&run)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    eprintln!(
        "{}\n{}\nattribute took {:.1} s",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr),
        t0.elapsed().as_secs_f64()
    );
    assert!(o.status.success());
    let scores = read_region_scores(&out.join("occlusion_regions.csv")).unwrap();
    assert!(scores.len() > 20, "{} regions", scores.len());
    assert!(
        scores
            .iter()
            .all(|s| s.score.is_finite() && s.spread >= 0.0)
    );
    assert!(scores.windows(2).all(|w| w[0].score >= w[1].score));
    let lobes = std::fs::read_to_string(out.join("occlusion_lobes.csv")).unwrap();
    assert_eq!(lobes.lines().count(), 8, "{lobes}");
    let map = read_volume(out.join("occlusion_regions.nii.gz")).unwrap();
    assert_eq!(map.grid.dims, [24, 24, 24]);
    let top = &scores[0];
    assert!(
        map.data
            .iter()
            .any(|&v| (v as f64 - top.score).abs() < 1e-6 * top.score.abs().max(1.0)),
        "the map holds the top region's score"
    );
    // Integrated gradients of the frozen encoder + fitted head on the same run.
    let ig_out = dir.path().join("ig");
    let o = common::roimae_command()
        .args([
            "attribute",
            "--device",
            "cpu",
            "--method",
            "ig",
            "--steps",
            "8",
            "--samples",
            "0",
            "--run",
        ])
        .arg(&run)
        .arg("--out")
        .arg(&ig_out)
        .output()
        .unwrap();
    eprintln!(
        "{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(o.status.success());
    let ig = read_region_scores(&ig_out.join("ig_regions.csv")).unwrap();
    assert!(ig.len() > 20, "{} regions", ig.len());
    assert!(ig.iter().all(|s| s.score.is_finite() && s.score >= 0.0));
    assert!(ig.windows(2).all(|w| w[0].score >= w[1].score));
    assert!(ig[0].score > 0.0, "some region carries attribution");
    let lobes = std::fs::read_to_string(ig_out.join("ig_lobes.csv")).unwrap();
    assert_eq!(lobes.lines().count(), 8, "{lobes}");
    // Completeness (the attributions sum to f(x) − f(baseline)) holds up to
    // the midpoint rule's error.
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(ig_out.join("ig.json")).unwrap()).unwrap();
    let completeness = json["completeness_error"].as_f64().unwrap();
    assert!(completeness < 0.05, "completeness error {completeness}");
    let voxels = read_volume(ig_out.join("ig_voxels.nii.gz")).unwrap();
    assert_eq!(voxels.grid.dims, [24, 24, 24]);
    assert!(voxels.data.iter().any(|&v| v != 0.0));
    let map = read_volume(ig_out.join("ig_regions.nii.gz")).unwrap();
    assert!(
        map.data
            .iter()
            .any(|&v| (v as f64 - ig[0].score).abs() < 1e-6 * ig[0].score.max(1.0)),
        "the region map holds the top region's score"
    );
    // The GUI's reader takes the method line from ig.json.
    let atlas = Atlas::aal3().unwrap();
    let shown = roimae::dashboard::attribution::Attribution::read_csv(
        &ig_out.join("ig_regions.csv"),
        &atlas.regions,
    )
    .unwrap();
    assert!(
        shown.description.contains("integrated gradients"),
        "{}",
        shown.description
    );
    // The default is SmoothGrad² (8 samples, noise 0.15 of the range),
    // written beside the maps; shares of the total |IG| sum to 1 over the
    // regions (each subject's do, so their mean does).
    let sg_out = dir.path().join("sg");
    let o = common::roimae_command()
        .args([
            "attribute",
            "--device",
            "cpu",
            "--method",
            "ig",
            "--steps",
            "2",
            "--run",
        ])
        .arg(&run)
        .arg("--out")
        .arg(&sg_out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(sg_out.join("ig.json")).unwrap()).unwrap();
    assert_eq!(
        (json["samples"].as_u64(), json["noise"].as_f64()),
        (Some(8), Some(0.15))
    );
    assert!(
        json["method"].as_str().unwrap().starts_with("SmoothGrad²"),
        "{json}"
    );
    let shares = read_region_scores(&sg_out.join("ig_regions_share.csv")).unwrap();
    let total: f64 = shares.iter().map(|s| s.score).sum();
    assert!((total - 1.0).abs() < 1e-6, "shares sum to {total}");
    let lobes = std::fs::read_to_string(sg_out.join("ig_lobes_share.csv")).unwrap();
    let lobe_total: f64 = lobes
        .lines()
        .skip(1)
        .map(|l| l.split(',').nth(1).unwrap().parse::<f64>().unwrap())
        .sum();
    assert!((lobe_total - 1.0).abs() < 1e-6, "{lobes}");
    let signed = read_region_scores(&sg_out.join("ig_regions_signed.csv")).unwrap();
    assert_eq!(signed.len(), shares.len());
    // A bad option is one clear line and a non-zero exit.
    let o = common::roimae_command()
        .args(["attribute", "--method", "ig", "--noise=-1", "--run"])
        .arg(&run)
        .output()
        .unwrap();
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("--noise"), "{err}");
}

#[test]
fn experiment_cli_runs_a_two_strategy_grid_and_writes_tidy_results() {
    let dir = tempfile::tempdir().unwrap();
    // 2 strategies × 1 seed, 6 pretraining steps each, on 8 subjects with
    // a limbic effect; attribution of the ROI run.
    let cfg = r#"
seeds = [3]
attribute = "roi"
attribute_methods = ["occlusion", "ig"]
top = 5

[pretrain]
preset = "tiny"
batch_size = 2
max_steps = 6
val_every = 3
val_fraction = 0.25
device = "cpu"
preview_every = 0
keep_last = 1
[pretrain.data]
kind = "synthetic"
subjects = 8
frames = 24
effect_lobes = ["limbic"]
effect_size = 4.0
sites = 1

[finetune]
epochs = 5
bootstrap = 50
val_fraction = 0.25
test_fraction = 0.25
device = "cpu"

[grid]
random = 0.5
lobes = ["limbic"]
"#;
    let path = dir.path().join("exp.toml");
    std::fs::write(&path, cfg).unwrap();
    let out = dir.path().join("exp");
    let t0 = Instant::now();
    let o = common::roimae_command()
        .args(["experiment", "--config"])
        .arg(&path)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    eprintln!(
        "{stdout}\n{}\nexperiment took {:.1} s",
        String::from_utf8_lossy(&o.stderr),
        t0.elapsed().as_secs_f64()
    );
    assert!(o.status.success());
    let csv = std::fs::read_to_string(out.join("results.csv")).unwrap();
    let mut lines = csv.lines();
    assert_eq!(
        lines.next().unwrap(),
        "strategy,seed,masked_fraction,val_masked_mse,test_acc,test_bal_acc,test_auroc"
    );
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert_eq!(rows.len(), 2, "{csv}");
    assert_eq!((rows[0][0], rows[1][0]), ("random", "roi-limbic"));
    for r in &rows {
        assert_eq!(r.len(), 7);
        assert_eq!(r[1], "3");
        for cell in &r[2..] {
            let v: f64 = cell.parse().unwrap_or_else(|_| panic!("'{cell}' in {csv}"));
            assert!(v.is_finite() && v >= 0.0, "{csv}");
        }
    }
    let random_fraction: f64 = rows[0][2].parse().unwrap();
    assert!((random_fraction - 0.5).abs() < 0.01, "{csv}");
    let md = std::fs::read_to_string(out.join("results.md")).unwrap();
    assert!(md.contains(
        "| strategy | seeds | masked fraction | masked MSE (val) | ACC | balanced ACC | AUROC |"
    ));
    assert!(md.contains("| random | 1 | 0.500 ± – |"), "{md}");
    assert!(md.contains("| roi-limbic | 1 |"), "{md}");
    assert!(
        md.contains("### roi-limbic (occlusion)")
            && md.contains("### roi-limbic (ig)")
            && md.contains("## Verdicts"),
        "{md}"
    );
    assert!(
        !md.contains("### random"),
        "only ROI runs are attributed: {md}"
    );
    assert!(
        stdout.contains("random masking")
            && stdout.contains("occlusion attribution of roi-limbic")
            && stdout.contains("ig attribution of roi-limbic"),
        "{stdout}"
    );
    let attr = std::fs::read_to_string(out.join("attribution.csv")).unwrap();
    assert!(
        attr.starts_with(
            "method,strategy,seed,rank,region,lobe,score,spread\nocclusion,roi-limbic,3,1,"
        ),
        "{attr}"
    );
    assert!(attr.contains("\nig,roi-limbic,3,1,"), "{attr}");
    for file in [
        "occlusion_regions.nii.gz",
        "ig_regions.nii.gz",
        "ig_voxels.nii.gz",
    ] {
        assert!(
            out.join("runs/roi-limbic-s3/attribution")
                .join(file)
                .exists(),
            "{file}"
        );
    }
    // Inductive split, last checkpoint: every run's fine-tuning test
    // subjects are exactly the subjects its pretraining kept out, and the
    // encoder comes from the run's last step.
    assert!(
        md.contains("**last** checkpoint") && md.contains("Split: **inductive**"),
        "{md}"
    );
    for name in ["random-s3", "roi-limbic-s3"] {
        let run = out.join("runs").join(name);
        let ft: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(run.join("finetune/finetune.json")).unwrap(),
        )
        .unwrap();
        let test: std::collections::BTreeSet<String> = ft["split"]["test"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect();
        assert_eq!(test.len(), 2, "{ft}");
        let seen = pretrained_subjects(&run);
        assert!(seen.is_disjoint(&test), "{name}: {seen:?} vs {test:?}");
        assert_eq!(seen.len() + test.len(), 8, "the other 6 subjects pretrain");
        let split: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(run.join("split.json")).unwrap())
                .unwrap();
        let excluded: std::collections::BTreeSet<String> = split["excluded"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect();
        assert_eq!(excluded, test);
        assert_eq!(ft["evaluation"]["protocol"], "inductive");
        assert_eq!(ft["pretrained"]["which"], "last");
        assert_eq!(ft["pretrained"]["step"], 6);
    }
    // The same folder again is refused with one line and exit code 2.
    let o = common::roimae_command()
        .args(["experiment", "--config"])
        .arg(&path)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(String::from_utf8_lossy(&o.stderr).lines().count(), 1);
}
