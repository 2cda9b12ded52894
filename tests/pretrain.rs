//! The pretraining engine and CLI on the CPU (Flex): config files, a small
//! run whose loss falls, exact resume, graceful stop, NaN handling, the
//! `pretrain` and `runs` commands and their errors.

mod common;

use roimae::masking::{MaskSpec, MaskStrategy};
use roimae::train::{DataConfig, DeviceChoice, RunConfig, SyntheticData, TrainEvent, TrainHandle};
use roimae::viewer::selection_file::{SelectionFile, save_selection};
use std::path::Path;
use std::time::{Duration, Instant};

/// A run small enough for a test: tiny preset, 4 subjects × 3 clips.
fn small(steps: usize) -> RunConfig {
    let mut cfg = RunConfig {
        data: DataConfig::Synthetic(SyntheticData {
            subjects: 4,
            frames: 24,
            ..SyntheticData::default()
        }),
        batch_size: 2,
        max_steps: Some(steps),
        val_every: 4,
        val_fraction: 0.25,
        device: DeviceChoice::Cpu,
        preview_every: 0,
        ..RunConfig::default()
    };
    cfg.optim.lr = 2e-3;
    cfg
}

/// Runs to the end (or until `on_step` returns true, then stops) and
/// returns every event.
fn run(cfg: RunConfig, dir: &Path, resume: bool, stop_at: Option<usize>) -> Vec<TrainEvent> {
    let handle = TrainHandle::start(cfg, dir.to_path_buf(), resume, || {}).expect("start");
    let mut events = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(240);
    let mut stopping = false;
    while handle.is_running() {
        assert!(Instant::now() < deadline, "run took too long");
        for e in handle.poll() {
            if let (TrainEvent::Step { step, .. }, Some(k)) = (&e, stop_at)
                && *step >= k
                && !stopping
            {
                handle.stop();
                stopping = true;
            }
            events.push(e);
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    events.extend(handle.wait());
    if let Some(TrainEvent::Failed(e)) = events.last() {
        panic!("run failed: {e}");
    }
    events
}

fn losses(events: &[TrainEvent]) -> Vec<(usize, f64)> {
    events
        .iter()
        .filter_map(|e| match e {
            TrainEvent::Step { step, loss, .. } => Some((*step, *loss)),
            _ => None,
        })
        .collect()
}

#[test]
fn config_round_trips_and_a_viewer_selection_file_is_a_run_config() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run.toml");
    let demo = RunConfig::demo();
    demo.save(&path).unwrap();
    assert_eq!(RunConfig::load(&path).unwrap(), demo);

    let sel = dir.path().join("selection.toml");
    let mask: MaskSpec = toml::from_str(
        "kind = \"roi\"\nlevel = \"voxel\"\nseed = 3\n[regions]\nlobes = [\"limbic\"]\nnames = [\"Precentral_L\"]",
    )
    .unwrap();
    save_selection(
        &sel,
        &SelectionFile {
            preset: roimae::model::Preset::Mni4mm,
            mask: mask.clone(),
        },
    )
    .unwrap();
    let cfg = RunConfig::load(&sel).unwrap();
    assert_eq!(cfg.preset, roimae::model::Preset::Mni4mm);
    assert_eq!(cfg.mask, mask);
    assert_eq!(cfg.batch_size, RunConfig::default().batch_size);
    assert_eq!(cfg.optim.lr, 5e-5, "SPEC-model's learning rate");
    assert_eq!(cfg.optim.weight_decay, 0.01);

    for (text, needle) in [
        ("batch_size = 0", "batch_size"),
        ("preset = \"huge\"", "huge"),
        ("[optim]\nlr = -1.0", "optim.lr"),
        ("val_fraction = 1.5", "val_fraction"),
        ("batch_size = \"four\"", "not a valid run config"),
    ] {
        std::fs::write(&path, text).unwrap();
        let err = RunConfig::load(&path).unwrap_err().to_string();
        assert!(
            err.contains(needle) && err.contains("run.toml"),
            "{text}: {err}"
        );
        assert!(!err.contains('\n'), "{err}");
    }
}

#[test]
fn lr_schedule_warms_up_then_follows_the_cosine() {
    let mut o = RunConfig::default().optim;
    o.lr = 1.0;
    o.min_lr = 0.0;
    o.warmup_steps = 4;
    o.cosine = true;
    assert!((o.lr_at(0, 104) - 0.25).abs() < 1e-12);
    assert!((o.lr_at(3, 104) - 1.0).abs() < 1e-12);
    assert!((o.lr_at(4, 104) - 1.0).abs() < 1e-12);
    assert!(
        (o.lr_at(54, 104) - 0.5).abs() < 1e-12,
        "half way down the cosine"
    );
    assert!(o.lr_at(103, 104) < 1e-3);
}

#[test]
fn small_run_learns_and_reports_validation_previews_and_checkpoints() {
    let dir = tempfile::tempdir().unwrap();
    let run_dir = dir.path().join("run");
    let mut cfg = small(40);
    cfg.val_every = 20;
    cfg.preview_every = 20;
    let events = run(cfg, &run_dir, false, None);
    let l = losses(&events);
    assert_eq!(l.len(), 40);
    let first: f64 = l[..5].iter().map(|x| x.1).sum::<f64>() / 5.0;
    let last: f64 = l[35..].iter().map(|x| x.1).sum::<f64>() / 5.0;
    assert!(
        last < 0.8 * first,
        "loss should fall: first {first}, last {last}"
    );

    let started = events.iter().find_map(|e| match e {
        TrainEvent::Started {
            train_clips,
            val_clips,
            steps_per_epoch,
            total_steps,
            ..
        } => Some((*train_clips, *val_clips, *steps_per_epoch, *total_steps)),
        _ => None,
    });
    // 4 subjects × 3 clips; one subject per label held out.
    assert_eq!(started, Some((6, 6, 3, 40)));
    let vals: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            TrainEvent::Validation {
                step,
                loss,
                per_lobe,
                ..
            } => Some((*step, *loss, per_lobe.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(vals.iter().map(|v| v.0).collect::<Vec<_>>(), vec![20, 40]);
    assert!(vals[0].1.is_finite() && !vals[0].2.is_empty());
    assert!(vals[0].2.iter().any(|(name, _)| name == "frontal"));

    let preview = events
        .iter()
        .find_map(|e| match e {
            TrainEvent::Preview(p) => Some(p.clone()),
            _ => None,
        })
        .expect("a preview");
    assert_eq!(preview.original.grid.dims, [24, 24, 24]);
    assert_eq!(preview.reconstruction.frames, 8);
    // The 8 mm model grid over MNI 4 mm is 23 × 28 × 23: x is padded by one
    // voxel in front, y cropped from voxel 2, z padded by one.
    let model_grid = roimae::volume::Grid::mni_2mm()
        .with_voxel_size(4.0)
        .with_voxel_size(8.0);
    assert_eq!(model_grid.dims, [23, 28, 23]);
    let cube = preview.original.grid.world([1, 0, 1]);
    let truth = model_grid.world([0, 2, 0]);
    for a in 0..3 {
        assert!((cube[a] - truth[a]).abs() < 1e-9, "{cube:?} vs {truth:?}");
    }
    // Masked voxels carry the fill value, others the original.
    let diff = preview
        .original
        .data
        .iter()
        .zip(&preview.masked.data)
        .filter(|(a, b)| a != b)
        .count();
    assert!(diff > 0 && diff < preview.original.data.len());
    // The preview's mask marks exactly the voxels the masked input changed
    // (a masked voxel could equal the fill by chance; the clip minimum is
    // met at few voxels).
    let fill = preview
        .original
        .data
        .iter()
        .copied()
        .fold(f32::INFINITY, f32::min);
    for i in 0..preview.original.data.len() {
        if preview.is_masked(i) {
            assert_eq!(preview.masked.data[i], fill, "voxel {i}");
        } else {
            assert_eq!(
                preview.masked.data[i], preview.original.data[i],
                "voxel {i}"
            );
        }
    }

    // Per-region validation losses: every region's lobe loss is the
    // voxel-weighted mean of its regions' losses, and region_metrics.csv
    // holds one row per region per validation with the event's values.
    let atlas = roimae::atlas::Atlas::aal3().unwrap();
    let (per_lobe, per_region) = events
        .iter()
        .find_map(|e| match e {
            TrainEvent::Validation {
                step: 20,
                per_lobe,
                per_region,
                ..
            } => Some((per_lobe.clone(), per_region.clone())),
            _ => None,
        })
        .unwrap();
    assert!(per_region.len() > 5, "{} regions", per_region.len());
    for (lobe, value) in &per_lobe {
        let (sum, n) = per_region
            .iter()
            .filter(|r| atlas.regions.get(r.id).unwrap().group.name() == lobe)
            .fold((0.0, 0usize), |(s, n), r| {
                (s + r.mse * r.voxels as f64, n + r.voxels)
            });
        assert!(n > 0, "{lobe}");
        assert!(
            (sum / n as f64 - value).abs() < 1e-9 * value.max(1.0),
            "{lobe}"
        );
    }
    let regions = std::fs::read_to_string(run_dir.join("region_metrics.csv")).unwrap();
    let mut lines = regions.lines();
    assert_eq!(
        lines.next(),
        Some("run,split,metric,step,epoch,region,lobe,voxels,value,wall_s")
    );
    let at_20: Vec<Vec<&str>> = lines
        .map(|l| l.split(',').collect::<Vec<_>>())
        .filter(|f| f[3] == "20")
        .collect();
    assert_eq!(at_20.len(), per_region.len());
    for (row, r) in at_20.iter().zip(&per_region) {
        let region = atlas.regions.get(r.id).unwrap();
        assert_eq!(row[2], "masked_mse_region");
        assert_eq!(row[5], region.name);
        assert_eq!(row[6], region.group.name());
        assert_eq!(row[7].parse::<usize>().unwrap(), r.voxels);
        assert_eq!(row[8].parse::<f64>().unwrap(), r.mse);
    }

    let metrics = std::fs::read_to_string(run_dir.join("metrics.csv")).unwrap();
    assert!(metrics.starts_with("run,split,metric,step,epoch,value,wall_s\n"));
    assert!(metrics.contains(",val,val_loss_frontal,20,"));
    assert!(run_dir.join("log.txt").is_file());
    assert!(
        run_dir
            .join("checkpoints/step-00000040/model.bpk")
            .is_file()
    );
}

#[test]
fn resumed_run_matches_an_uninterrupted_one_and_stop_checkpoints() {
    let dir = tempfile::tempdir().unwrap();
    // With augmentation: its draws depend on seed and mask id only, so the
    // resumed run sees the same inputs.
    let mut cfg = small(12);
    cfg.augment.enabled = Some(true);
    let whole = losses(&run(cfg.clone(), &dir.path().join("a"), false, None));
    assert_eq!(whole.len(), 12);

    let b = dir.path().join("b");
    let first = run(cfg.clone(), &b, false, Some(5));
    let stopped_at = match first.last() {
        Some(TrainEvent::Finished {
            step,
            stopped: true,
            ..
        }) => *step,
        other => panic!("expected a graceful stop, got {other:?}"),
    };
    assert!((5..12).contains(&stopped_at));
    assert!(
        first
            .iter()
            .any(|e| matches!(e, TrainEvent::Checkpoint { step, .. } if *step == stopped_at))
    );
    let second = run(cfg, &b, true, None);
    assert!(second.iter().any(
        |e| matches!(e, TrainEvent::Started { resumed_from: Some(s), .. } if *s == stopped_at)
    ));
    let mut joined = losses(&first);
    joined.extend(losses(&second));
    assert_eq!(
        joined.iter().map(|x| x.0).collect::<Vec<_>>(),
        (1..=12).collect::<Vec<_>>()
    );
    for ((s, a), (_, b)) in whole.iter().zip(&joined) {
        assert!(
            (a - b).abs() < 1e-5,
            "step {s}: uninterrupted {a}, resumed {b}"
        );
    }
    // metrics.csv holds each step once.
    let metrics = std::fs::read_to_string(b.join("metrics.csv")).unwrap();
    assert_eq!(
        metrics
            .lines()
            .filter(|l| l.contains(",train,loss,"))
            .count(),
        12
    );
    // region_metrics.csv too: the resumed run's per-region rows are the
    // uninterrupted run's (same steps, regions and voxel counts, each once).
    let region_rows = |run: &str| -> Vec<(String, String, String, f64)> {
        let text =
            std::fs::read_to_string(dir.path().join(run).join("region_metrics.csv")).unwrap();
        let mut rows: Vec<_> = text
            .lines()
            .skip(1)
            .map(|l| {
                let f: Vec<&str> = l.split(',').collect();
                (
                    f[3].to_string(),
                    f[5].to_string(),
                    f[7].to_string(),
                    f[8].parse().unwrap(),
                )
            })
            .collect();
        rows.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
        rows
    };
    let (rows_a, rows_b) = (region_rows("a"), region_rows("b"));
    assert!(rows_a.iter().any(|r| r.0 == "12"), "validated at the end");
    assert_eq!(rows_a.len(), rows_b.len());
    for (x, y) in rows_a.iter().zip(&rows_b) {
        assert_eq!((&x.0, &x.1, &x.2), (&y.0, &y.1, &y.2));
        assert!((x.3 - y.3).abs() < 1e-4 * x.3.max(1.0), "{x:?} vs {y:?}");
    }
}

#[test]
fn augmentation_changes_training_inputs_but_never_validation() {
    // One step at a learning rate too small to move any f32 weight: the
    // model validated after it is the initial model in both runs, so equal
    // validation losses mean validation read unaugmented clips, while the
    // training loss (augmented inputs) differs.
    let dir = tempfile::tempdir().unwrap();
    let one = |augment: bool, name: &str| {
        let mut cfg = small(1);
        cfg.val_every = 1;
        cfg.optim.lr = 1e-30;
        cfg.optim.warmup_steps = 0;
        cfg.optim.min_lr = 0.0;
        cfg.augment.enabled = Some(augment);
        cfg.augment.noise_p = 1.0;
        let events = run(cfg, &dir.path().join(name), false, None);
        let train = losses(&events)[0].1;
        let val = events
            .iter()
            .find_map(|e| match e {
                TrainEvent::Validation { loss, .. } => Some(*loss),
                _ => None,
            })
            .expect("a validation");
        (train, val)
    };
    let (train_plain, val_plain) = one(false, "plain");
    let (train_aug, val_aug) = one(true, "augmented");
    assert!(
        (train_plain - train_aug).abs() > 1e-4 * train_plain,
        "augmented training loss {train_aug} equals plain {train_plain}"
    );
    assert_eq!(val_plain, val_aug, "validation must not be augmented");
    // The run log says what was drawn from.
    let log = std::fs::read_to_string(dir.path().join("augmented/log.txt")).unwrap();
    assert!(
        log.contains("augmentation: affine p 1 (±10°, ±10 % scale), noise p 1 std 0.1"),
        "{log}"
    );
}

#[test]
fn nan_loss_fails_with_one_line_and_keeps_the_last_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = small(6);
    cfg.optim.lr = 1e30;
    cfg.val_every = 1;
    let handle = TrainHandle::start(cfg, dir.path().to_path_buf(), false, || {}).unwrap();
    let events = handle.wait();
    let Some(TrainEvent::Failed(error)) = events.last() else {
        panic!("expected Failed, got {:?}", events.last());
    };
    assert!(
        matches!(**error, roimae::train::TrainError::NonFiniteLoss { .. }),
        "{error}"
    );
    let msg = error.to_string();
    assert!(msg.contains("loss became") && !msg.contains('\n'), "{msg}");
    let kept: Vec<usize> = events
        .iter()
        .filter_map(|e| match e {
            TrainEvent::Checkpoint { step, .. } => Some(*step),
            _ => None,
        })
        .collect();
    let last = *kept.last().expect("a checkpoint before the NaN");
    assert!(msg.contains(&format!("step {last}")), "{msg}");
    assert!(
        dir.path()
            .join(format!("checkpoints/step-{last:08}/state.json"))
            .is_file()
    );
}

#[test]
fn starting_twice_in_one_folder_or_resuming_nothing_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let err = TrainHandle::start(small(2), dir.path().to_path_buf(), true, || {})
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("cannot resume"), "{err}");
    std::fs::write(dir.path().join("config.toml"), "").unwrap();
    let err = TrainHandle::start(small(2), dir.path().to_path_buf(), false, || {})
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("already holds a run"), "{err}");
    let mut bad = small(2);
    bad.mask.strategy = MaskStrategy::Random { ratio: 0.0 };
    assert!(TrainHandle::start(bad, dir.path().join("x"), false, || {}).is_err());
}

#[test]
fn cli_demo_writes_metrics_and_runs_list_summarises_it() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("demo");
    let o = common::roimae_command()
        .args([
            "pretrain", "--demo", "--steps", "6", "--device", "cpu", "--out",
        ])
        .arg(&out)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(stdout.contains("best val loss"), "{stdout}");
    let metrics = std::fs::read_to_string(out.join("metrics.csv")).unwrap();
    let mut lines = metrics.lines();
    assert_eq!(
        lines.next(),
        Some("run,split,metric,step,epoch,value,wall_s")
    );
    let loss_rows: Vec<&str> = metrics
        .lines()
        .filter(|l| l.starts_with("demo,train,loss,"))
        .collect();
    assert_eq!(loss_rows.len(), 6);
    assert!(metrics.lines().any(|l| l.starts_with("demo,val,loss,6,")));

    let o = common::roimae_command()
        .args(["runs", "list"])
        .arg(dir.path())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success());
    let row = text.lines().find(|l| l.starts_with("demo ")).expect(&text);
    assert!(
        row.contains("tiny") && row.contains("window 0.5") && row.contains(" 6 "),
        "{row}"
    );
}

#[test]
fn cli_bad_config_exits_2_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bad.toml");
    std::fs::write(&path, "batch_size = 0\n").unwrap();
    let o = common::roimae_command()
        .args(["pretrain", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(
        err.contains("bad.toml") && err.contains("batch_size"),
        "{err}"
    );
}

/// `bench train` times the trainer's own step: a finite loss, phases that
/// add up to the step, the model's parameter count, no dispatch count on
/// the host, and a profile that replays every block op once per block.
#[test]
fn bench_train_times_the_real_step_and_profiles_every_block_op() {
    use roimae::model::ModelConfig;
    use roimae::model::profile::CATEGORIES;
    use roimae::train::bench::{TrainBenchSpec, bench_train};
    let model = ModelConfig::tiny();
    let spec = TrainBenchSpec {
        model: model.clone(),
        device: DeviceChoice::Cpu,
        batch: 1,
        steps: 2,
        profile: true,
    };
    let r = bench_train(&spec).expect("bench train on the CPU");
    assert_eq!((r.preset.as_str(), r.batch, r.steps), ("tiny", 1, 2));
    assert!(
        r.last_loss.is_finite() && r.last_loss > 0.0,
        "{}",
        r.last_loss
    );
    assert!(r.forward_s > 0.0 && r.backward_s > 0.0 && r.optimizer_s > 0.0);
    assert!(r.step_s_min <= r.step_s_median);
    assert!((r.clips_per_s - 1.0 / r.step_s_median).abs() < 1e-9);
    let fresh = model.init(0, &burn::prelude::Device::flex()).unwrap();
    assert_eq!(r.params, burn::module::Module::num_params(&fresh));
    assert_eq!(r.dispatches_per_step, None);
    assert!(r.dispatches_note.is_some());
    assert!(r.peak_rss_mb.is_some_and(|m| m > 1.0));

    let ops = r.profile.expect("a profile");
    let stages = model.depths.len();
    let blocks: usize =
        model.depths.iter().sum::<usize>() + model.depths[..stages - 1].iter().sum::<usize>();
    let calls = |category: &str, what: &str| -> usize {
        ops.iter()
            .filter(|o| o.category == category && o.op.contains(what))
            .map(|o| o.calls)
            .sum()
    };
    assert_eq!(calls("scan", "selective scan"), blocks);
    assert_eq!(calls("conv1d", "causal conv1d"), blocks);
    assert_eq!(calls("layout", "window merge"), blocks);
    // norm1 writes the windows itself: no partition op is left.
    assert_eq!(calls("norm", "norm1 into"), blocks);
    assert_eq!(calls("norm", "norm2"), blocks);
    assert_eq!(calls("layout", "partition"), 0);
    assert_eq!(calls("linear", "in_proj"), blocks);
    for category in CATEGORIES {
        assert!(
            ops.iter().any(|o| o.category == category),
            "no op of category {category}"
        );
    }
    assert!(
        ops.iter()
            .all(|o| o.forward_s >= 0.0 && o.backward_s >= 0.0)
    );
}
