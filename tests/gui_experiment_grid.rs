//! The Experiment tab driven like a user would, through egui_kittest on a
//! real wgpu adapter (Mesa lavapipe in CI): a grid built by clicking (random
//! + the limbic lobe as ROI, one seed, 6 steps of `tiny` on 8 synthetic
//! subjects, as small as tests/downstream.rs keeps its experiment) runs in
//! the background until the figure has both points; the exports; and the
//! grid saved and loaded as the TOML `roimae experiment --config` reads.

use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use roimae::atlas::Lobe;
use roimae::dashboard::experiment::ExperimentView;
use roimae::eval::ExperimentConfig;
use roimae::eval::exp_config::{AttrMethod, AttributeWhich};
use roimae::gui::experiment_export::{experiment_png, write_csv};
use roimae::gui::{Notice, Startup, ViewerApp};
use roimae::model::Preset;
use roimae::train::{DataConfig, DeviceChoice, SyntheticData};
use std::time::{Duration, Instant};

fn harness(startup: Startup) -> Harness<'static, ViewerApp> {
    let mut h = Harness::builder()
        .wgpu()
        .with_size(egui::vec2(1400.0, 900.0))
        .build_eframe(move |cc| {
            cc.egui_ctx.set_visuals(egui::Visuals::dark());
            ViewerApp::new(&startup, cc.wgpu_render_state.as_ref(), None).expect("viewer starts")
        });
    h.run();
    h
}

fn click(h: &mut Harness<'_, ViewerApp>, label: &str) {
    h.get_by_label(label).click();
    h.run();
}

fn strategy_names(h: &Harness<'_, ViewerApp>) -> Vec<String> {
    h.state()
        .experiment
        .builder
        .config
        .all_strategies()
        .into_iter()
        .map(|s| s.name)
        .collect()
}

/// The smallest experiment that still fine-tunes and attributes: the
/// settings of tests/downstream.rs's CLI experiment, on the CPU.
fn keep_small(cfg: &mut ExperimentConfig) {
    cfg.seeds = vec![3];
    let p = &mut cfg.pretrain;
    p.preset = Preset::Tiny;
    p.batch_size = 2;
    p.max_steps = Some(6);
    p.val_every = 3;
    p.val_fraction = 0.25;
    p.device = DeviceChoice::Cpu;
    p.preview_every = 0;
    p.keep_last = 1;
    p.data = DataConfig::Synthetic(SyntheticData {
        subjects: 8,
        frames: 24,
        effect_lobes: vec![Lobe::Limbic],
        effect_size: 4.0,
        sites: 1,
        ..SyntheticData::default()
    });
    let f = &mut cfg.finetune;
    f.epochs = 5;
    f.bootstrap = 50;
    f.val_fraction = 0.25;
    f.test_fraction = 0.25;
    f.device = DeviceChoice::Cpu;
    cfg.bootstrap = 200;
    cfg.attribute = AttributeWhich::Roi;
    cfg.attribute_methods = vec![AttrMethod::Occlusion];
    cfg.top = 5;
}

#[test]
fn a_grid_built_by_clicking_runs_in_the_background_and_draws_both_points() {
    let root = tempfile::tempdir().unwrap();
    let mut h = harness(Startup::default());
    click(&mut h, "Experiment");
    {
        let page = &mut h.state_mut().experiment;
        page.experiments_root = root.path().join("experiments");
        keep_small(&mut page.builder.config);
    }
    click(&mut h, "+ random");
    click(&mut h, "+ limbic");
    assert_eq!(strategy_names(&h), ["random", "roi-limbic"]);
    h.get_by_label("Run experiment").click();
    h.step();
    assert!(
        h.state().experiment.is_running(),
        "{:?}",
        h.state().experiment.message
    );
    let t0 = Instant::now();
    let mut saw_progress = false;
    while h.state().experiment.is_running() {
        assert!(
            t0.elapsed() < Duration::from_secs(85),
            "the experiment took too long"
        );
        h.step();
        let run = h.state().experiment.run.as_ref().unwrap();
        saw_progress |= run.progress.current.as_ref().is_some_and(|c| c.step > 0);
        std::thread::sleep(Duration::from_millis(50));
    }
    eprintln!("the experiment took {:.1} s", t0.elapsed().as_secs_f64());
    h.step();
    let page = &h.state().experiment;
    let run = page.run.as_ref().unwrap();
    assert!(
        matches!(run.outcome, Some(Notice::Done(_))),
        "{:?}\n{}",
        run.outcome,
        run.log.join("\n")
    );
    assert!(saw_progress, "pretraining steps were reported");
    assert_eq!((run.progress.done, run.progress.total), (2, 2));
    assert_eq!(run.progress.overall_fraction(), 1.0);
    // A new, timestamped folder under the experiments root.
    let dir = page.dir.clone().unwrap();
    assert_eq!(dir, run.out);
    assert!(dir.starts_with(root.path().join("experiments")));
    assert!(
        dir.file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("exp-"),
        "{}",
        dir.display()
    );
    assert!(dir.join("results.csv").is_file() && dir.join("results.md").is_file());
    // The figure: two strategy points, each with a masked MSE and an AUROC.
    let view = page.view.clone().expect("the results are shown");
    assert_eq!(view.points.len(), 2, "{view:?}");
    assert_eq!(
        view.points
            .iter()
            .map(|p| p.strategy.as_str())
            .collect::<Vec<_>>(),
        ["random", "roi-limbic"]
    );
    for p in &view.points {
        let (mse, auroc) = (p.mse.unwrap(), p.auroc.unwrap());
        assert!(mse.mean.is_finite() && mse.mean > 0.0, "{p:?}");
        assert!((0.0..=1.0).contains(&auroc.mean), "{p:?}");
        assert_eq!(p.seeds, 1);
    }
    assert!(!view.verdicts.is_empty(), "results.md's verdicts are shown");
    // Only the ROI run was attributed; its lobe ranking is shown.
    assert!(!view.lobes.is_empty());
    assert!(view.lobes.iter().all(|l| l.strategy == "roi-limbic"));
    let lobes = &view.lobes[0].lobes;
    assert!(lobes.windows(2).all(|w| w[0].1 >= w[1].1), "{lobes:?}");
    // The view is what reading the folder gives (as the Open button does).
    assert_eq!(view, ExperimentView::open(&dir).unwrap());
    // Exports: the table as results.csv has it; the figure at 2x.
    let csv = root.path().join("table.csv");
    write_csv(&view, &csv).unwrap();
    assert_eq!(
        std::fs::read_to_string(&csv).unwrap(),
        std::fs::read_to_string(dir.join("results.csv")).unwrap()
    );
    let png = root.path().join("figure.png");
    assert_eq!(
        experiment_png(&dir, &png, [800, 500], 2.0).unwrap(),
        [1600, 1000]
    );
    assert!(png.is_file());
}

#[test]
fn the_grid_saves_and_loads_as_the_experiment_toml() {
    let dir = tempfile::tempdir().unwrap();
    let mut h = harness(Startup {
        regions: vec!["Hippocampus_L".into(), "Hippocampus_R".into()],
        ..Startup::default()
    });
    click(&mut h, "Experiment");
    click(&mut h, "+ window");
    click(&mut h, "+ tube");
    click(&mut h, "limbic");
    click(&mut h, "cerebellum");
    click(&mut h, "+ combination");
    click(&mut h, "partial ROI");
    click(&mut h, "+ occipital");
    click(&mut h, "+ regions checked in the viewer (2)");
    assert_eq!(
        strategy_names(&h),
        [
            "window",
            "roi-limbic+cerebellum",
            "tube",
            "roi-occipital-p50",
            "roi-selection-p50"
        ]
    );
    let built = h.state().experiment.builder.config.clone();
    let path = dir.path().join("exp.toml");
    h.state().experiment.builder.save(&path).unwrap();
    // The file is what `roimae experiment --config` reads.
    assert_eq!(ExperimentConfig::load(&path).unwrap(), built);
    // Removing a strategy by its button, then loading restores the grid.
    click(&mut h, "remove tube");
    assert!(!strategy_names(&h).contains(&"tube".to_string()));
    h.state_mut().experiment.builder.load(&path).unwrap();
    assert_eq!(h.state().experiment.builder.config, built);
    // A bad file is a typed error naming it and leaves the grid alone.
    std::fs::write(&path, "sedes = [1]\n").unwrap();
    let e = h.state_mut().experiment.builder.load(&path).unwrap_err();
    assert!(e.to_string().contains("exp.toml"), "{e}");
    assert_eq!(h.state().experiment.builder.config, built);
}

#[test]
fn stop_ends_a_running_experiment_with_its_pretraining_checkpointed() {
    let root = tempfile::tempdir().unwrap();
    let mut h = harness(Startup::default());
    click(&mut h, "Experiment");
    {
        let page = &mut h.state_mut().experiment;
        page.experiments_root = root.path().to_path_buf();
        keep_small(&mut page.builder.config);
        // Far more steps than the test waits for.
        page.builder.config.pretrain.max_steps = Some(100_000);
    }
    click(&mut h, "+ random");
    click(&mut h, "+ limbic");
    h.get_by_label("Run experiment").click();
    h.step();
    let t0 = Instant::now();
    let stepped = |h: &Harness<'_, ViewerApp>| {
        let run = h.state().experiment.run.as_ref().unwrap();
        run.progress.current.as_ref().is_some_and(|c| c.step > 0) || !run.is_running()
    };
    while !stepped(&h) {
        assert!(
            t0.elapsed() < Duration::from_secs(60),
            "no pretraining step"
        );
        h.step();
        std::thread::sleep(Duration::from_millis(50));
    }
    h.get_by_label("Stop").click();
    h.step();
    while h.state().experiment.is_running() {
        assert!(
            t0.elapsed() < Duration::from_secs(80),
            "the stop took too long"
        );
        h.step();
        std::thread::sleep(Duration::from_millis(50));
    }
    let run = h.state().experiment.run.as_ref().unwrap();
    let outcome = run.outcome.clone().unwrap();
    assert!(
        matches!(outcome, Notice::Done(_))
            && outcome.to_string().contains("stopped after 0 of 2 runs"),
        "{outcome}\n{}",
        run.log.join("\n")
    );
    let current = run.progress.current.as_ref().unwrap();
    assert!(current.step < 100_000 && current.strategy == "random");
    // The stopped pretraining run wrote its checkpoint; no run finished.
    let checkpoints = run.out.join("runs/random-s3/checkpoints");
    assert!(std::fs::read_dir(&checkpoints).unwrap().next().is_some());
    assert!(!run.out.join("results.csv").exists());
}
