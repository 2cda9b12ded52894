//! Preprocessing, the clip cache, prepare, splits and the loader against
//! analytic truth: z-scoring by hand, crop/pad positions, linear time
//! resampling, f16 error bounds, atomic and resumable prepare, stratified
//! splits, and the training prefetcher reading the cache in the seeded
//! epoch order from any step.

use roimae::atlas::Atlas;
use roimae::data::cache::ClipCache;
use roimae::data::cache::{ClipFile, ClipFileHeader, F16_RELATIVE_ERROR, write_clip_file};
use roimae::data::manifest::Manifest;
use roimae::data::prepare::prepare_dataset;
use roimae::data::preprocess::{PreprocessConfig, preprocess, preprocess_masked, resample_time};
use roimae::data::split::{SplitConfig, split_subjects};
use roimae::data::{Dataset, DatasetKind, GridChoice, Run, Subject};
use roimae::masking::{MaskSpec, Masker};
use roimae::train::data::{CacheClips, ClipSource, epoch_order};
use roimae::train::prefetch::{BatchPlan, Prefetcher};
use roimae::volume::{Volume, VolumeMeta, write_volume};
use std::path::Path;
use std::sync::Arc;

/// A run on the 4 mm MNI grid (so resampling is the identity): a box of
/// brain with a value depending on position and time, zero elsewhere.
fn box_run(frames: usize, tr: f64, seed: f32) -> Volume {
    let grid = GridChoice::Mni4mm.grid();
    let mut data = vec![0.0f32; grid.n_voxels() * frames];
    for t in 0..frames {
        for k in 10..30 {
            for j in 10..40 {
                for i in 8..36 {
                    let v = 100.0
                        + seed
                        + i as f32
                        + 2.0 * j as f32
                        + 0.5 * k as f32
                        + 3.0 * ((t * 7 + i) % 5) as f32;
                    data[t * grid.n_voxels() + grid.index(i, j, k)] = v;
                }
            }
        }
    }
    Volume::from_data(
        grid,
        frames,
        data,
        VolumeMeta::new_f32(&grid, frames, Some(tr), true),
    )
}

fn cfg() -> PreprocessConfig {
    PreprocessConfig {
        grid: GridChoice::Mni4mm,
        target_tr: None,
        frames_per_clip: 20,
        brain_mask: None,
    }
}

#[test]
fn preprocessing_z_scores_crops_pads_and_cuts_clips_as_specified() {
    let run = box_run(45, 2.0, 0.0);
    // Truth by hand: mean/std over the box and the 40 frames that form clips.
    let g = run.grid;
    let mut vals = Vec::new();
    for t in 0..40 {
        for idx in 0..g.n_voxels() {
            let v = run.data[t * g.n_voxels() + idx];
            if (0..45).any(|tt| run.data[tt * g.n_voxels() + idx] != 0.0) {
                vals.push(v as f64);
            }
        }
    }
    let mean = vals.iter().sum::<f64>() / vals.len() as f64;
    let std = (vals.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / vals.len() as f64).sqrt();
    let min_z = ((vals.iter().cloned().fold(f64::INFINITY, f64::min) - mean) / std) as f32;

    let p = preprocess(run.clone(), &cfg()).unwrap();
    assert_eq!((p.input, p.frames, p.n_clips), (48, 20, 2));
    assert!((p.mean - mean).abs() < 1e-9 && (p.std - std).abs() < 1e-9);
    assert!((p.fill - min_z).abs() < 1e-6);
    assert_eq!(p.foreground_voxels, 28 * 30 * 20);
    // 46 -> pad (1, 1); 55 -> crop from 3.
    let (i, j, k) = (20usize, 25usize, 15usize);
    let (u, v, w) = (i + 1, j - 3, k + 1);
    for (c, f) in [(0usize, 0usize), (1, 7)] {
        let t = c * 20 + f;
        let want = ((run.data[t * g.n_voxels() + g.index(i, j, k)] as f64 - mean) / std) as f32;
        let got = p.clip(c)[((u * 48 + v) * 48 + w) * 20 + f];
        assert!(
            (got - want).abs() < 1e-5,
            "clip {c} frame {f}: {got} vs {want}"
        );
    }
    // Padding and background carry the fill value.
    assert_eq!(p.clip(0)[0], p.fill);
    let bg = ((2 * 48 + 2) * 48 + 2) * 20;
    assert_eq!(p.clip(1)[bg], p.fill);
}

#[test]
fn temporal_resampling_is_linear_between_frames() {
    let mut run = box_run(5, 2.0, 0.0);
    let n = run.grid.n_voxels();
    for t in 0..5 {
        for v in &mut run.data[t * n..(t + 1) * n] {
            *v = 10.0 * t as f32;
        }
    }
    let r = resample_time(&run, 2.0, 0.8);
    // Span 8 s -> frames at 0, 0.8, ..., 8.0 = 11 frames; value = 5 * time.
    assert_eq!(r.frames, 11);
    for k in 0..11 {
        assert!(
            (r.frame(k)[123] - 5.0 * 0.8 * k as f32).abs() < 1e-4,
            "frame {k}"
        );
    }
    assert_eq!(r.meta.tr, Some(0.8));
}

#[test]
fn bad_runs_are_refused_or_repaired_with_a_reason() {
    let grid = GridChoice::Mni4mm.grid();
    let constant = Volume::from_data(
        grid,
        20,
        vec![5.0; grid.n_voxels() * 20],
        VolumeMeta::new_f32(&grid, 20, Some(2.0), true),
    );
    assert!(
        preprocess(constant, &cfg())
            .unwrap_err()
            .to_string()
            .contains("constant")
    );
    let short = box_run(10, 2.0, 0.0);
    assert!(
        preprocess(short, &cfg())
            .unwrap_err()
            .to_string()
            .contains("fewer than one clip")
    );
    let mut nan = box_run(20, 2.0, 0.0);
    nan.data[grid.index(20, 20, 20)] = f32::NAN;
    nan.data[5] = f32::INFINITY;
    let p = preprocess(nan, &cfg()).unwrap();
    assert_eq!(p.nonfinite_zeroed, 2);
    assert!(p.clips.iter().all(|v| v.is_finite()));
}

#[test]
fn cache_files_round_trip_within_the_f16_bound_and_detect_damage() {
    let dir = tempfile::tempdir().unwrap();
    let p = preprocess(box_run(40, 2.0, 0.0), &cfg()).unwrap();
    let path = dir.path().join("a.rmc");
    let header = ClipFileHeader {
        input: p.input,
        frames: p.frames,
        n_clips: p.n_clips,
        dtype: String::new(),
        layout: String::new(),
        fill: p.fill,
        mean: p.mean,
        std: p.std,
        tr: p.tr,
        crc32: 0,
    };
    write_clip_file(&path, header, &p.clips).unwrap();
    let file = ClipFile::open(&path).unwrap();
    assert!(file.verify());
    assert_eq!(file.header.dtype, "f16");
    let mut clip = Vec::new();
    let mut worst = 0.0f64;
    for c in 0..p.n_clips {
        file.read_clip(c, &mut clip);
        for (a, b) in clip.iter().zip(p.clip(c)) {
            let err = (*a as f64 - *b as f64).abs();
            assert!(
                err <= (*b as f64).abs() * F16_RELATIVE_ERROR + 1e-7,
                "{a} vs {b}"
            );
            worst = worst.max(err);
        }
    }
    assert!(worst > 0.0, "f16 should round something");
    // Damage: flip a data byte -> checksum fails; truncate -> open fails.
    let mut bytes = std::fs::read(&path).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x40;
    std::fs::write(&path, &bytes).unwrap();
    assert!(!ClipFile::open(&path).unwrap().verify());
    std::fs::write(&path, &bytes[..bytes.len() - 10]).unwrap();
    assert!(
        ClipFile::open(&path)
            .unwrap_err()
            .to_string()
            .contains("damaged")
    );
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        1,
        "no temporary files left"
    );
}

/// A dataset of `n` subjects with one run each, written under `dir`, plus
/// one subject whose file is not a NIfTI.
fn dataset(dir: &Path, n: usize) -> Dataset {
    let mut subjects = Vec::new();
    for s in 0..n {
        let path = dir.join(format!("sub-{s:02}_bold.nii.gz"));
        write_volume(&box_run(40, 2.0, s as f32), &path).unwrap();
        subjects.push(Subject {
            id: format!("{s:02}"),
            site: Some(format!("site{}", s % 2)),
            label: Some((s % 2) as u32),
            label_raw: None,
            runs: vec![Run {
                path,
                session: None,
                run: None,
                tr: Some(2.0),
                space: None,
            }],
        });
    }
    let bad = dir.join("sub-99_bold.nii.gz");
    std::fs::write(&bad, b"not a nifti").unwrap();
    subjects.push(Subject {
        id: "99".into(),
        site: None,
        label: Some(1),
        label_raw: None,
        runs: vec![Run {
            path: bad,
            session: None,
            run: None,
            tr: None,
            space: None,
        }],
    });
    Dataset {
        root: dir.to_path_buf(),
        kind: DatasetKind::FolderCsv,
        subjects,
        problems: vec![],
    }
}

#[test]
fn prepare_skips_bad_runs_and_up_to_date_entries() {
    let src = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    let ds = dataset(src.path(), 3);
    let first = prepare_dataset(&ds, &cfg(), out.path(), 2, &|_, _| {}).unwrap();
    assert_eq!(
        (first.prepared, first.skipped, first.failed, first.clips),
        (3, 0, 1, 6)
    );
    assert!(
        first.problems[0].message.contains("skipped"),
        "{:?}",
        first.problems
    );
    let manifest = Manifest::load(out.path()).unwrap();
    assert_eq!(manifest.entries.len(), 3);
    assert_eq!(manifest.entries[1].label, Some(1));
    let again = prepare_dataset(&ds, &cfg(), out.path(), 2, &|_, _| {}).unwrap();
    assert_eq!((again.prepared, again.skipped), (0, 3));
    // A changed source is prepared again.
    let path = &ds.subjects[0].runs[0].path;
    let f = std::fs::File::options().append(true).open(path).unwrap();
    f.set_modified(std::time::SystemTime::now() + std::time::Duration::from_secs(5))
        .unwrap();
    let third = prepare_dataset(&ds, &cfg(), out.path(), 1, &|_, _| {}).unwrap();
    assert_eq!((third.prepared, third.skipped), (1, 2));
    let leftovers = std::fs::read_dir(out.path())
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .contains("partial")
        })
        .count();
    assert_eq!(leftovers, 0);
    let cache = ClipCache::open(out.path()).unwrap();
    assert!(cache.verify().is_empty());
}

#[test]
fn splits_are_stratified_disjoint_and_seeded() {
    let subjects: Vec<(String, Option<u32>, Option<String>)> = (0..20)
        .map(|i| {
            (
                format!("s{i:02}"),
                Some((i % 2) as u32),
                Some(format!("site{}", i % 4)),
            )
        })
        .collect();
    let cfg = SplitConfig {
        val: 0.1,
        test: 0.2,
        by_site: false,
        seed: 3,
    };
    let split = split_subjects(&subjects, &cfg);
    assert_eq!(
        (split.train.len(), split.val.len(), split.test.len()),
        (14, 2, 4)
    );
    let label_of = |id: &String| subjects.iter().find(|s| &s.0 == id).unwrap().1.unwrap();
    for part in [&split.val, &split.test] {
        let ones = part.iter().filter(|id| label_of(id) == 1).count();
        assert_eq!(ones * 2, part.len(), "balanced: {part:?}");
    }
    let mut all: Vec<&String> = split
        .train
        .iter()
        .chain(&split.val)
        .chain(&split.test)
        .collect();
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 20);
    assert_eq!(split_subjects(&subjects, &cfg), split);
    assert_ne!(
        split_subjects(&subjects, &SplitConfig { seed: 4, ..cfg }),
        split
    );
}

#[test]
fn the_prefetcher_reads_the_cache_in_the_seeded_epoch_order_from_any_step() {
    let src = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    prepare_dataset(&dataset(src.path(), 3), &cfg(), out.path(), 2, &|_, _| {}).unwrap();
    let cache = ClipCache::open(out.path()).unwrap();
    let subjects = Some(vec!["01".to_string()]);
    assert_eq!(cache.clips(subjects.as_deref()).len(), 2);
    let source = Arc::new(CacheClips::new(cache));
    assert_eq!(source.len(), 6);

    // The order: a permutation fixed by (seed, epoch), new every epoch.
    let train: Vec<usize> = (0..6).collect();
    let order = epoch_order(&train, 9, 0);
    let mut sorted = order.clone();
    sorted.sort();
    assert_eq!(sorted, train);
    assert_eq!(order, epoch_order(&train, 9, 0));
    assert_ne!(order, epoch_order(&train, 9, 1));
    assert_ne!(order, epoch_order(&train, 4, 0));

    // The batches: the clips of that order, read from the cache, two per
    // step, three steps an epoch; a start at step 4 gives the same batches.
    let atlas = Atlas::aal3().unwrap();
    let geometry = GridChoice::Mni4mm.geometry();
    let labels = atlas.input_labels(&GridChoice::Mni4mm.grid(), geometry);
    let masker = Arc::new(Masker::new(&MaskSpec::default(), &labels, &atlas.regions, 20).unwrap());
    let plan = || BatchPlan {
        source: source.clone(),
        train: train.clone(),
        masker: masker.clone(),
        seed: 9,
        batch_size: 2,
        steps_per_epoch: 3,
        augment: None,
    };
    let all = Prefetcher::start(plan(), 0, 6, 2);
    let mut batches = Vec::new();
    while let Some(b) = all.next() {
        batches.push(b);
    }
    assert_eq!(batches.len(), 6);
    let mut clip = Vec::new();
    for (step, b) in batches.iter().enumerate() {
        assert_eq!(b.step, step);
        let epoch_clips = epoch_order(&train, 9, step / 3);
        let mut expected = Vec::new();
        for &c in &epoch_clips[(step % 3) * 2..(step % 3) * 2 + 2] {
            source.read(c, &mut clip);
            expected.extend_from_slice(&clip);
            assert_eq!(b.masks.len(), 2);
        }
        assert_eq!(b.data, expected, "step {step}");
    }
    let resumed = Prefetcher::start(plan(), 4, 6, 1);
    for step in 4..6 {
        let b = resumed.next().unwrap();
        assert_eq!((b.step, &b.data), (step, &batches[step].data));
    }
    assert!(resumed.next().is_none());
}

#[test]
fn a_brain_mask_defines_the_foreground() {
    let run = box_run(20, 2.0, 0.0);
    let g = run.grid;
    // Mask: only the lower half (k < 20) of the box.
    let mask: Vec<bool> = (0..g.n_voxels())
        .map(|idx| {
            let [i, j, k] = g.ijk(idx);
            (8..36).contains(&i) && (10..40).contains(&j) && (10..20).contains(&k)
        })
        .collect();
    let p = preprocess_masked(run.clone(), &cfg(), Some(&mask)).unwrap();
    assert_eq!(p.foreground_voxels, 28 * 30 * 10);
    // A box voxel outside the mask is background (fill value).
    let (u, v, w) = (20 + 1, 25 - 3, 25 + 1);
    assert_eq!(p.clip(0)[((u * 48 + v) * 48 + w) * 20], p.fill);
    let unmasked = preprocess(run, &cfg()).unwrap();
    assert!(
        p.mean < unmasked.mean,
        "the masked mean covers only low-k voxels"
    );
}
