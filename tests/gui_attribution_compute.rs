//! Compute on the Attribution tab, driven like a user would through
//! egui_kittest on a real wgpu adapter (Mesa lavapipe in CI): a tiny CPU
//! run from the Training tab becomes the tab's run folder, Compute writes
//! exactly the files `roimae attribute` writes (the same library calls) and
//! shows the bar chart, a new page opens those saved scores by itself, and
//! Cancel stops a running computation without writing anything.

use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use roimae::dashboard::RunStatus;
use roimae::dashboard::attribution::Attribution;
use roimae::eval::attribute_run::{AttributeOptions, attribute_run};
use roimae::eval::region_files::write_occlusion_outputs;
use roimae::gui::app::Mode;
use roimae::gui::attribution_compute::{ComputeStatus, Method};
use roimae::gui::headless::start_cpu_training;
use roimae::gui::{Startup, ViewerApp};
use roimae::train::{DataConfig, DeviceChoice, RunConfig, SyntheticData, TrainEvent, TrainHandle};
use std::path::Path;
use std::time::{Duration, Instant};

/// The files `roimae attribute --method occlusion` writes.
const OCCLUSION_FILES: [&str; 6] = [
    "occlusion_regions.csv",
    "occlusion_lobes.csv",
    "region_mse_regions.csv",
    "region_mse_lobes.csv",
    "occlusion.json",
    "occlusion_regions.nii.gz",
];

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

/// Draws frames (real time) until `done` holds; panics after `secs`.
fn frames_until(
    h: &mut Harness<'static, ViewerApp>,
    what: &str,
    secs: u64,
    mut done: impl FnMut(&ViewerApp) -> bool,
) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !done(h.state()) {
        assert!(
            Instant::now() < deadline,
            "{what}: not within {secs} s; compute log {:?}, notice {:?}",
            h.state().attribution.compute.last_log,
            h.state()
                .attribution
                .compute
                .notice
                .as_ref()
                .map(|n| n.to_string())
        );
        std::thread::sleep(Duration::from_millis(30));
        h.step();
    }
}

fn click(h: &mut Harness<'static, ViewerApp>, label: &str) {
    h.get_by_label(label).click();
    // One frame takes the click (the worker's wake-ups may keep `run` going).
    h.step();
    h.step();
}

#[test]
fn compute_occlusion_on_the_training_tabs_run_writes_the_cli_files_and_shows_the_chart() {
    let runs = tempfile::tempdir().unwrap();
    let mut h = harness(Startup {
        regions: vec!["limbic".into()],
        ..Default::default()
    });
    {
        let app = h.state_mut();
        let c = &mut app.dashboard.config;
        c.batch_size = 2;
        c.preview_every = 0;
        if let DataConfig::Synthetic(s) = &mut c.data {
            s.subjects = 4;
            s.frames = 20;
        }
        start_cpu_training(app, runs.path(), 2).expect("the run starts");
    }
    frames_until(&mut h, "the tiny run finishes", 50, |app| {
        let s = &app.dashboard.session;
        assert_ne!(s.status, RunStatus::Failed, "{:?}", s.log);
        s.status == RunStatus::Finished
    });
    let run_dir = h.state().dashboard.session.run_dir.clone().unwrap();

    // The Attribution tab works on the Training tab's run.
    h.state_mut().mode = Mode::Attribution;
    h.run();
    let page = &h.state().attribution;
    assert_eq!(page.compute.run_dir(), Some(run_dir.as_path()));
    assert!(
        page.attribution.is_none() && !page.is_loading(),
        "nothing saved yet"
    );
    h.state_mut().attribution.compute.settings.device = DeviceChoice::Cpu;
    click(&mut h, "Compute");
    assert!(
        h.state().attribution.compute.is_running(),
        "Compute runs on a worker thread, not in the frame"
    );
    frames_until(&mut h, "occlusion finishes", 50, |app| {
        !app.attribution.compute.is_running()
    });
    let page = &h.state().attribution;
    assert_eq!(
        page.compute.status,
        ComputeStatus::Finished,
        "{:?}",
        page.compute.notice.as_ref().map(|n| n.to_string())
    );
    let shown = page.attribution.clone().expect("the bar chart has scores");
    assert!(shown.scores.len() > 20, "{} regions", shown.scores.len());
    assert!(
        shown.description.contains("occlusion"),
        "{}",
        shown.description
    );

    // The same files, with the same content, as the library writes for
    // `roimae attribute --run RUN_DIR --device cpu`.
    let out = run_dir.join("attribution");
    let lib = tempfile::tempdir().unwrap();
    let opts = AttributeOptions {
        device: DeviceChoice::Cpu,
        ..AttributeOptions::default()
    };
    let a = attribute_run(&run_dir, &opts, &mut |_| {}).unwrap();
    write_occlusion_outputs(&a.occlusion, &a.map, lib.path()).unwrap();
    for name in OCCLUSION_FILES {
        let ours = std::fs::read(out.join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        let theirs = std::fs::read(lib.path().join(name)).unwrap();
        if !name.ends_with(".gz") {
            assert_eq!(
                String::from_utf8_lossy(&ours),
                String::from_utf8_lossy(&theirs),
                "{name}"
            );
        }
    }
    let table = &h.state().state.labels.atlas.regions;
    let expected = Attribution::read_csv(&lib.path().join("occlusion_regions.csv"), table).unwrap();
    assert_eq!(
        shown.scores, expected.scores,
        "the chart shows the file's scores"
    );

    // A fresh page given this run folder opens its saved scores by itself,
    // off the UI thread.
    h.state_mut().attribution = Default::default();
    h.step();
    assert!(h.state().attribution.is_loading(), "read in the background");
    frames_until(&mut h, "saved scores open", 30, |app| {
        !app.attribution.is_loading()
    });
    let reopened = h.state().attribution.attribution.clone().expect("opened");
    assert_eq!(reopened.scores, expected.scores);
}

/// A tiny pretraining run with two validation subjects of several clips
/// (8 subjects: the IG head needs training, validation and test subjects).
fn pretrain(dir: &Path) {
    let cfg = RunConfig {
        data: DataConfig::Synthetic(SyntheticData {
            subjects: 8,
            frames: 32,
            ..SyntheticData::default()
        }),
        batch_size: 2,
        max_steps: Some(1),
        val_every: 1,
        val_fraction: 0.25,
        device: DeviceChoice::Cpu,
        preview_every: 0,
        ..RunConfig::default()
    };
    let handle = TrainHandle::start(cfg, dir.to_path_buf(), false, || {}).expect("start");
    let deadline = Instant::now() + Duration::from_secs(50);
    while handle.is_running() {
        assert!(Instant::now() < deadline, "pretraining took too long");
        std::thread::sleep(Duration::from_millis(20));
    }
    if let Some(TrainEvent::Failed(e)) = handle.wait().last() {
        panic!("pretraining failed: {e}");
    }
}

#[test]
fn cancel_stops_a_running_computation_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let run = dir.path().join("run");
    pretrain(&run);
    let mut h = harness(Startup::default());
    {
        let app = h.state_mut();
        app.mode = Mode::Attribution;
        let compute = &mut app.attribution.compute;
        compute.choose_run(run.clone());
        compute.settings.device = DeviceChoice::Cpu;
        // Every validation clip: enough forward batches to cancel midway.
        compute.settings.clips_per_subject = 16;
    }
    h.run();
    click(&mut h, "Compute");
    frames_until(&mut h, "the first forward batch", 50, |app| {
        let c = &app.attribution.compute;
        assert!(
            c.is_running(),
            "ended early: {:?}",
            c.notice.as_ref().map(|n| n.to_string())
        );
        c.progress().is_some_and(|(done, _)| done >= 1)
    });
    let (done, total) = h.state().attribution.compute.progress().unwrap();
    assert!(done < total, "{done} of {total}");
    eprintln!("cancelling at forward batch {done} of {total}");
    click(&mut h, "Cancel");
    frames_until(&mut h, "the cancel takes effect", 20, |app| {
        !app.attribution.compute.is_running()
    });
    let page = &h.state().attribution;
    assert_eq!(page.compute.status, ComputeStatus::Cancelled);
    let notice = page.compute.notice.clone().expect("a cancelled notice");
    assert!(!notice.is_error(), "a cancel is no failure: {notice}");
    assert!(notice.to_string().contains("cancelled"), "{notice}");
    assert!(page.attribution.is_none(), "no scores shown");
    let out = run.join("attribution");
    for name in OCCLUSION_FILES {
        assert!(!out.join(name).exists(), "{name} was written");
    }

    // Computing again after a cancel works: integrated gradients (plain,
    // signed) write their files and the page shows the voxel map.
    {
        let s = &mut h.state_mut().attribution.compute.settings;
        s.method = Method::IntegratedGradients;
        s.clips_per_subject = 1;
        (s.steps, s.samples) = (2, 0);
    }
    // Lay the panel out with the IG settings before clicking.
    h.run();
    click(&mut h, "Compute");
    frames_until(&mut h, "integrated gradients finish", 50, |app| {
        !app.attribution.compute.is_running()
    });
    let page = &h.state().attribution;
    assert_eq!(
        page.compute.status,
        ComputeStatus::Finished,
        "{:?}",
        page.compute.notice.as_ref().map(|n| n.to_string())
    );
    for name in ["ig_regions.csv", "ig.json", "ig_voxels.nii.gz"] {
        assert!(out.join(name).is_file(), "{name}");
    }
    let shown = page.attribution.as_ref().expect("IG scores shown");
    assert!(
        shown.description.contains("integrated gradients"),
        "{}",
        shown.description
    );
    assert!(
        page.voxels.is_some() && page.show_voxels,
        "the signed voxel map is shown"
    );
}
