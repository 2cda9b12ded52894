//! The data path end to end on a synthetic BIDS cohort: `synth` writes it,
//! `dataset scan` recognises it with the right labels and sites, `prepare`
//! fills a cache, and the training clip source reads every clip with its
//! label.

mod common;

use roimae::data::DatasetKind;
use roimae::data::GridChoice;
use roimae::data::cache::ClipCache;
use roimae::data::ingest::{ScanOptions, scan_dataset};
use roimae::data::synth::{SynthConfig, write_cohort};
use roimae::train::data::{CacheClips, ClipSource};

#[test]
fn synth_scan_prepare_load() {
    let dir = tempfile::tempdir().unwrap();
    let bids = dir.path().join("cohort");
    let cfg = SynthConfig {
        subjects: 4,
        grid: GridChoice::Mni4mm,
        frames: 40,
        sites: 2,
        seed: 5,
        ..SynthConfig::default()
    };
    write_cohort(&cfg, &bids).unwrap();

    let dataset = scan_dataset(&bids, &ScanOptions::default()).unwrap();
    assert_eq!(dataset.kind, DatasetKind::Bids);
    assert_eq!(
        dataset.usable().count(),
        4,
        "problems: {:?}",
        dataset.problems
    );
    let labels: Vec<u32> = dataset.subjects.iter().map(|s| s.label.unwrap()).collect();
    assert_eq!(labels.iter().filter(|&&l| l == 1).count(), 2);
    assert!(
        dataset
            .subjects
            .iter()
            .all(|s| s.runs[0].tr == Some(cfg.tr))
    );

    // Same binary path as a user: the CLI prepare.
    let cache_dir = dir.path().join("cache");
    let out = common::roimae_command()
        .args([
            "prepare",
            bids.to_str().unwrap(),
            "--out",
            cache_dir.to_str().unwrap(),
            "--grid",
            "mni4mm",
            "--json",
        ])
        .output()
        .unwrap();
    let summary = common::stdout_json(&out);
    assert_eq!(summary["prepared"], 4);
    assert_eq!(summary["clips"], 8);

    let cache = ClipCache::open(&cache_dir).unwrap();
    assert!(cache.verify().is_empty());
    let source = CacheClips::new(cache);
    assert_eq!(source.clip_len(), 48 * 48 * 48 * 20);
    let mut clip = Vec::new();
    let mut seen = 0;
    for i in 0..source.len() {
        source.read(i, &mut clip);
        assert_eq!(clip.len(), source.clip_len());
        let info = source.info(i);
        let truth = dataset
            .subjects
            .iter()
            .find(|s| s.id == info.subject)
            .unwrap();
        assert_eq!(info.label, truth.label);
        // z-scored foreground: values stay in a sane range.
        assert!(clip.iter().all(|v| v.is_finite() && v.abs() < 50.0));
        seen += 1;
    }
    assert_eq!(seen, 8);
}
