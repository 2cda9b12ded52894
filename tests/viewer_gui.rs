//! The viewer driven like a user would, through egui_kittest on a real wgpu
//! adapter (Mesa lavapipe in CI): checkbox masking, clicking a region in a
//! slice, the filter, keyboard stepping, and a snapshot of the demo layout.

use egui::accesskit::Role;
use egui::{Event, Key, Modifiers, PointerButton, Pos2};
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use roimae::gui::slice_geometry::ViewAxis;
use roimae::gui::slice_view::screen_of;
use roimae::gui::{Notice, Startup, ViewerApp};

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

fn region_id(h: &Harness<'_, ViewerApp>, name: &str) -> u16 {
    h.state()
        .state
        .labels
        .atlas
        .regions
        .by_name(name)
        .unwrap()
        .id
}

/// A world point inside `name` whose neighbours (±3 mm) carry the same label.
fn interior_point(h: &Harness<'_, ViewerApp>, name: &str) -> [f64; 3] {
    let id = region_id(h, name);
    let labels = &h.state().state.labels.atlas.labels;
    let [nx, ny, nz] = labels.grid.dims;
    let mut best = None;
    for k in 3..nz - 3 {
        for j in 3..ny - 3 {
            for i in 3..nx - 3 {
                if labels.at(i, j, k) != id {
                    continue;
                }
                let inside = (-3i64..=3).all(|d| {
                    let (a, b, c) = (i as i64, j as i64, k as i64);
                    [(a + d, b, c), (a, b + d, c), (a, b, c + d)]
                        .iter()
                        .all(|&(x, y, z)| labels.at(x as usize, y as usize, z as usize) == id)
                });
                if inside {
                    best = Some([i, j, k]);
                }
            }
        }
    }
    labels
        .grid
        .world(best.expect("the region has an interior voxel"))
}

fn click_at(h: &mut Harness<'_, ViewerApp>, pos: Pos2) {
    h.event(Event::PointerMoved(pos));
    h.run();
    for pressed in [true, false] {
        h.event(Event::PointerButton {
            pos,
            button: PointerButton::Primary,
            pressed,
            modifiers: Modifiers::NONE,
        });
    }
    h.run();
}

#[test]
fn clicking_a_region_checkbox_masks_it() {
    let mut h = harness(Startup::default());
    let hippo = region_id(&h, "Hippocampus_L");
    assert!(!h.state().state.selection.contains(hippo));
    h.get_by_label_contains("limbic (0/").click();
    h.run();
    h.get_by_label("Hippocampus_L").click();
    h.run();
    let s = &h.state().state;
    assert!(s.selection.contains(hippo));
    assert_eq!(s.selection.len(), 1, "only the clicked region");
    assert_eq!(s.summary.regions, 1);
    assert!(s.summary.masked_voxels > 0);
    // The header count follows.
    h.get_by_label_contains("limbic (1/");
}

#[test]
fn clicking_inside_a_region_in_each_slice_toggles_that_region() {
    let mut h = harness(Startup::default());
    let world = interior_point(&h, "Precentral_R");
    let id = region_id(&h, "Precentral_R");
    h.state_mut().state.scene.set_crosshair(world);
    h.run();
    for (n, axis) in ViewAxis::ALL.into_iter().enumerate() {
        let rect = h.state().view_rects[axis as usize].expect("views are laid out");
        let pos = screen_of(&h.state().state, axis, rect, world);
        click_at(&mut h, pos);
        let s = &h.state().state;
        assert_eq!(
            s.hovered_region(),
            id,
            "{axis:?}: the hovered region is named"
        );
        assert_eq!(
            s.selection.contains(id),
            n % 2 == 0,
            "{axis:?}: the click toggles Precentral_R"
        );
    }
    // Right-click moves the crosshair instead and toggles nothing.
    let before = h.state().state.selection.clone();
    let rect = h.state().view_rects[0].unwrap();
    let target = rect.center() + egui::vec2(40.0, 25.0);
    h.event(Event::PointerMoved(target));
    h.run();
    for pressed in [true, false] {
        h.event(Event::PointerButton {
            pos: target,
            button: PointerButton::Secondary,
            pressed,
            modifiers: Modifiers::NONE,
        });
    }
    h.run();
    let s = &h.state().state;
    assert_eq!(s.selection, before);
    let expected = roimae::gui::slice_view::world_at(s, ViewAxis::Axial, rect, target);
    assert!((s.scene.crosshair[0] - expected[0]).abs() < 1e-6);
    assert!((s.scene.crosshair[1] - expected[1]).abs() < 1e-6);
}

#[test]
fn both_hemispheres_masks_the_partner_too() {
    let mut h = harness(Startup::default());
    h.state_mut().state.both_hemispheres = true;
    let world = interior_point(&h, "Precentral_R");
    h.state_mut().state.scene.set_crosshair(world);
    h.run();
    let rect = h.state().view_rects[0].unwrap();
    let pos = screen_of(&h.state().state, ViewAxis::Axial, rect, world);
    click_at(&mut h, pos);
    let s = &h.state().state;
    assert!(s.selection.contains(region_id(&h, "Precentral_R")));
    assert!(s.selection.contains(region_id(&h, "Precentral_L")));
}

#[test]
fn the_filter_narrows_the_region_list() {
    let mut h = harness(Startup::default());
    let filter = h.get_by_role_and_label(Role::TextInput, "Filter");
    filter.focus();
    filter.type_text("hippo");
    h.run();
    assert_eq!(h.state().state.filter, "hippo");
    // Matching lobes open; only the (para)hippocampi remain.
    for name in [
        "Hippocampus_L",
        "Hippocampus_R",
        "ParaHippocampal_L",
        "ParaHippocampal_R",
    ] {
        h.get_by_label(name);
    }
    assert!(h.query_by_label("Precentral_L").is_none());
    assert!(h.query_by_label_contains("frontal (").is_none());
    // "all" now masks just the four shown regions.
    h.get_all_by_label("all").next().unwrap().click();
    h.run();
    assert_eq!(h.state().state.selection.len(), 4);
}

#[test]
fn keys_step_volumes_and_slices_and_toggle_orientation() {
    let mut h = harness(Startup {
        demo_subject: true,
        ..Default::default()
    });
    assert!(h.state().state.underlay.frames() > 1);
    h.key_press(Key::Period);
    h.run();
    assert_eq!(h.state().state.underlay.frame, 1);
    h.key_press(Key::Comma);
    h.key_press(Key::Comma);
    h.run();
    let last = h.state().state.underlay.frames() - 1;
    assert_eq!(h.state().state.underlay.frame, last, "stepping back wraps");

    let z = h.state().state.scene.crosshair[2];
    h.key_press(Key::PageUp);
    h.run();
    assert!(
        (h.state().state.scene.crosshair[2] - (z + 2.0)).abs() < 1e-9,
        "one 2 mm slice up"
    );

    assert!(!h.state().state.scene.radiological);
    h.key_press(Key::O);
    h.run();
    assert!(h.state().state.scene.radiological);
    h.get_by_label_contains("RADIOLOGICAL");

    h.key_press(Key::Questionmark);
    h.run();
    assert!(h.state().help_open);
    h.get_by_label("reset zoom, pan and crosshair");
}

#[test]
fn demo_layout_snapshot() {
    let mut h = harness(Startup {
        regions: vec![
            "Hippocampus_L".into(),
            "Hippocampus_R".into(),
            "cerebellum".into(),
        ],
        crosshair: Some([-25.0, -20.0, -12.0]),
        ..Default::default()
    });
    h.run();
    h.snapshot("viewer_demo");
}

#[test]
fn a_bad_file_shows_a_message_and_keeps_the_viewer_usable() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("broken.nii");
    // A real header cut short: the data the header promises are missing.
    let good = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/functional.nii"
    ))
    .unwrap();
    std::fs::write(&bad, &good[..good.len() / 2]).unwrap();
    let mut h = harness(Startup {
        file: Some(bad.clone()),
        ..Default::default()
    });
    for _ in 0..200 {
        h.run();
        if !h.state().is_loading() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let app = h.state();
    assert!(!app.is_loading());
    let notice = app.message.clone().expect("an error message is shown");
    assert!(notice.is_error(), "{notice}");
    let message = notice.to_string();
    assert!(message.contains("broken.nii"), "{message}");
    assert!(!message.contains('\n'), "one line: {message}");
    assert!(
        app.state.underlay.name.contains("template"),
        "the template stays"
    );
    h.get_by_label_contains("broken.nii");
}

#[test]
fn a_4d_file_opens_in_the_background_and_its_time_course_shows() {
    let path = std::path::PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/nitime_fmri1.nii.gz"
    ));
    let mut h = harness(Startup {
        file: Some(path),
        ..Default::default()
    });
    for _ in 0..300 {
        h.run();
        if !h.state().is_loading() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let app = h.state();
    assert_eq!(app.state.underlay.frames(), 40);
    assert_eq!(app.state.underlay.volume.grid.dims, [10, 10, 18]);
    h.get_by_label_contains("volume 0 of 40 (0-based)");
    h.get_by_label_contains("Time course at voxel");
}

#[test]
fn the_selection_saves_as_a_run_mask_and_loads_back() {
    use roimae::gui::side_panels::{load_from, save_to};
    use roimae::masking::{MaskLevel, MaskStrategy};
    let mut app = ViewerApp::new(&Startup::default(), None, None).unwrap();
    let s = &mut app.state;
    let names = ["Hippocampus_L", "Amygdala_R"];
    for n in names {
        let id = s.labels.atlas.regions.by_name(n).unwrap().id;
        s.toggle_region(id);
    }
    s.set_regions(
        s.labels
            .atlas
            .regions
            .in_group(roimae::atlas::Lobe::Cerebellum)
            .map(|r| r.id)
            .collect(),
        true,
    );
    s.set_token_grid(roimae::data::GridChoice::Mni4mm);
    let before = s.selection.clone();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mask.toml");
    let msg = save_to(s, MaskLevel::Voxel, &path);
    assert!(
        matches!(&msg, Notice::Done(m) if m.contains(&path.display().to_string())),
        "{msg}"
    );
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains("preset = \"mni4mm\""), "{text}");
    assert!(
        text.contains("\"cerebellum\""),
        "whole lobes are written as lobes: {text}"
    );

    let mut fresh = ViewerApp::new(&Startup::default(), None, None).unwrap();
    let mut level = MaskLevel::Token;
    let msg = load_from(&mut fresh.state, &mut level, &path);
    assert!(
        matches!(&msg, Notice::Done(m) if m.starts_with("loaded")),
        "{msg}"
    );
    assert_eq!(fresh.state.selection, before);
    assert_eq!(level, MaskLevel::Voxel);
    assert_eq!(fresh.state.token_grid, roimae::data::GridChoice::Mni4mm);
    assert_eq!(fresh.state.summary.regions, before.len());
    // The same file is a run config's mask.
    let file = roimae::viewer::load_selection(&path).unwrap();
    assert!(matches!(
        file.mask.strategy,
        MaskStrategy::Roi {
            level: MaskLevel::Voxel,
            ..
        }
    ));
}

#[test]
fn the_dashboard_starts_a_run_with_the_clicked_regions_and_stops_it() {
    use roimae::dashboard::RunStatus;
    use roimae::gui::app::Mode;
    use roimae::train::{DataConfig, DeviceChoice};
    let runs = tempfile::tempdir().unwrap();
    let mut h = harness(Startup {
        regions: vec!["limbic".into()],
        ..Default::default()
    });
    {
        let app = h.state_mut();
        app.mode = Mode::Training;
        let d = &mut app.dashboard;
        d.runs_root = runs.path().to_path_buf();
        d.config.device = DeviceChoice::Cpu;
        d.config.max_steps = Some(500);
        d.config.batch_size = 2;
        if let DataConfig::Synthetic(s) = &mut d.config.data {
            s.subjects = 4;
            s.frames = 24;
        }
    }
    h.run();
    h.get_by_label("Start").click();
    h.run();
    // Wait (real time) for a few optimiser steps to arrive as events.
    let start = std::time::Instant::now();
    while h.state().dashboard.session.step < 2 {
        assert!(
            start.elapsed().as_secs() < 240,
            "no training steps: {:?}",
            h.state().dashboard.session.log
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
        h.run();
    }
    let run_dir = h
        .state()
        .dashboard
        .session
        .run_dir
        .clone()
        .expect("the run folder is known");
    let config = std::fs::read_to_string(run_dir.join("config.toml")).unwrap();
    assert!(
        config.contains("kind = \"roi\"") && config.contains("limbic"),
        "{config}"
    );
    assert!(
        h.state()
            .dashboard
            .session
            .curves
            .get("train", "loss")
            .len()
            >= 2
    );
    h.get_by_label("Stop").click();
    h.run();
    let start = std::time::Instant::now();
    while h.state().dashboard.session.status != RunStatus::Finished {
        assert!(
            start.elapsed().as_secs() < 120,
            "the run did not stop: {:?}",
            h.state().dashboard.session.log
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
        h.run();
    }
    let s = &h.state().dashboard.session;
    assert!(s.step < 500, "stopped early");
    assert!(!s.checkpoints.is_empty(), "Stop writes a checkpoint");
    assert!(s.log.iter().any(|l| l.contains("stopped")), "{:?}", s.log);
    assert!(run_dir.join("metrics.csv").exists());
}

#[test]
fn the_attribution_page_reads_score_files_off_the_ui_thread() {
    use roimae::gui::app::Mode;
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("ig_regions.csv");
    std::fs::write(
        &csv,
        "region,lobe,score,spread\nHippocampus_L,limbic,0.2,0.05\nPrecentral_R,frontal,0.5,0.1\n",
    )
    .unwrap();
    let bad = dir.path().join("x_regions.csv");
    std::fs::write(&bad, "name,value\nHippocampus_L,1\n").unwrap();
    let mut h = harness(Startup::default());
    let wait = |h: &mut Harness<'static, ViewerApp>| {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while h.state().attribution.is_loading() {
            assert!(
                std::time::Instant::now() < deadline,
                "reading did not finish"
            );
            h.step();
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    };
    {
        let app = h.state_mut();
        app.mode = Mode::Attribution;
        app.attribution.open_in_background(csv, &app.state, || {});
        assert!(
            app.attribution.is_loading(),
            "the read runs on a worker thread"
        );
    }
    wait(&mut h);
    let page = &h.state().attribution;
    let a = page.attribution.as_ref().expect("the scores are shown");
    assert_eq!(a.scores.len(), 2);
    assert_eq!(a.top(1)[0].name, "Precentral_R");
    assert!(page.voxels.is_none(), "no voxel map beside these scores");
    {
        let app = h.state_mut();
        app.attribution.open_in_background(bad, &app.state, || {});
    }
    wait(&mut h);
    let page = &h.state().attribution;
    let notice = page.message.clone().expect("the failure is shown");
    assert!(notice.is_error(), "{notice}");
    assert!(notice.to_string().contains("x_regions.csv"), "{notice}");
    assert!(page.attribution.is_some(), "the earlier scores stay");
}

#[test]
fn the_attribution_page_ranks_regions_and_names_the_hovered_score() {
    use roimae::dashboard::attribution::Attribution;
    use roimae::gui::app::Mode;
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("occlusion.csv");
    std::fs::write(
        &csv,
        "region,lobe,score,spread,method\nPrecentral_R,frontal,0.5,0.1,occlusion\nHippocampus_L,limbic,0.2,0.05,occlusion\n",
    )
    .unwrap();
    let mut h = harness(Startup::default());
    let world = interior_point(&h, "Precentral_R");
    {
        let app = h.state_mut();
        let a = Attribution::read_csv(&csv, &app.state.labels.atlas.regions).unwrap();
        app.state.scene.set_crosshair(world);
        app.attribution.set(a, &app.state);
        app.mode = Mode::Attribution;
    }
    h.run();
    h.run();
    // The legend prints the method and the scores are ranked.
    assert!(h.query_all_by_label_contains("occlusion").count() >= 1);
    assert_eq!(h.state().attribution.top_n, 20);
    let top = h.state().attribution.attribution.as_ref().unwrap().top(1)[0]
        .name
        .clone();
    assert_eq!(top, "Precentral_R");
    // Hovering a known voxel of Precentral_R in each map view names the
    // region with its score; a scored region elsewhere reads its own score.
    for axis in ViewAxis::ALL {
        let pos = h
            .state()
            .attribution
            .screen_of(axis, world)
            .expect("the map views are laid out");
        h.event(Event::PointerMoved(pos));
        h.run();
        h.get_by_label_contains("Precentral_R (frontal): score 0.5000 ± 0.1000");
    }
    let hippo = interior_point(&h, "Hippocampus_L");
    {
        let app = h.state_mut();
        app.attribution = Default::default();
        let a = Attribution::read_csv(&csv, &app.state.labels.atlas.regions).unwrap();
        app.state.scene.set_crosshair(hippo);
        app.attribution.set(a, &app.state);
    }
    h.run();
    let pos = h
        .state()
        .attribution
        .screen_of(ViewAxis::Coronal, hippo)
        .unwrap();
    h.event(Event::PointerMoved(pos));
    h.run();
    h.get_by_label_contains("Hippocampus_L (limbic): score 0.2000 ± 0.0500");
}

#[test]
fn a_signed_voxel_map_beside_the_scores_is_shown_and_read_under_the_mouse() {
    use roimae::gui::app::Mode;
    use roimae::volume::{Affine, Grid, Volume, VolumeMeta, write_volume};
    let dir = tempfile::tempdir().unwrap();
    let csv = dir.path().join("ig_regions.csv");
    std::fs::write(
        &csv,
        "region,lobe,score,spread\nPrecentral_R,frontal,0.5,0.1\nHippocampus_L,limbic,0.2,0.05\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("ig.json"),
        r#"{"method": "integrated gradients test"}"#,
    )
    .unwrap();
    // 45 x 54 x 45 voxels of 4 mm from (-90, -126, -72); value = i - 22
    // (signed: negative on the left, positive on the right).
    let dims = [45, 54, 45];
    let mut m = nalgebra::Matrix4::<f64>::identity();
    for a in 0..3 {
        m[(a, a)] = 4.0;
    }
    m[(0, 3)] = -90.0;
    m[(1, 3)] = -126.0;
    m[(2, 3)] = -72.0;
    let grid = Grid::new(dims, Affine(m));
    let data: Vec<f32> = (0..dims[0] * dims[1] * dims[2])
        .map(|n| (n % dims[0]) as f32 - 22.0)
        .collect();
    let meta = VolumeMeta::new_f32(&grid, 1, None, true);
    write_volume(
        &Volume::from_data(grid, 1, data, meta),
        dir.path().join("ig_voxels.nii.gz"),
    )
    .unwrap();
    let mut h = harness(Startup::default());
    let world = interior_point(&h, "Precentral_R");
    {
        let app = h.state_mut();
        app.state.scene.set_crosshair(world);
        let viewer = &app.state;
        app.attribution.open(&csv, viewer).unwrap();
        app.mode = Mode::Attribution;
    }
    h.run();
    h.run();
    let page = &h.state().attribution;
    assert!(page.show_voxels, "the voxel map is shown when present");
    // |value| runs 0..22; the symmetric range is its 99.5th percentile.
    let limit = page.voxels.as_ref().unwrap().limit;
    assert!((21.0..=22.0).contains(&limit), "limit {limit}");
    h.get_by_label("voxel map (signed)");
    let pos = h
        .state()
        .attribution
        .screen_of(ViewAxis::Axial, world)
        .unwrap();
    h.event(Event::PointerMoved(pos));
    h.run();
    let expected = ((world[0] + 90.0) / 4.0).round() - 22.0;
    h.get_by_label_contains("Precentral_R (frontal): score 0.5000");
    h.get_by_label(&format!("voxel value {expected:.4}"));
    // Back to region scores: no voxel value line.
    h.get_by_label("region scores").click();
    h.run();
    assert!(!h.state().attribution.show_voxels);
    assert_eq!(h.query_all_by_label_contains("voxel value").count(), 0);
}

#[test]
fn a_neurostorm_checkpoint_opened_in_the_app_becomes_the_next_runs_starting_point() {
    use roimae::gui::app::Mode;
    let runs = tempfile::tempdir().unwrap();
    let mut h = harness(Startup::default());
    let ckpt = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/neurostorm/tiny/model.ckpt");
    {
        let app = h.state_mut();
        app.mode = Mode::Training;
        app.dashboard.runs_root = runs.path().to_path_buf();
        app.dashboard.config.preset = roimae::model::Preset::Reference;
        app.dashboard.open_checkpoint(ckpt, None);
    }
    let start = std::time::Instant::now();
    while h.state().dashboard.init.is_none() {
        assert!(
            start.elapsed().as_secs() < 60,
            "{:?}",
            h.state().dashboard.message
        );
        h.step(); // the spinner repaints every frame while the import runs
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    h.run();
    if let Some(path) = std::env::var_os("ROIMAE_SHOT") {
        h.render().unwrap().save(path).unwrap();
    }
    h.get_by_label("starting point");
    h.get_by_label_contains(
        "model.ckpt: custom (width 12, blocks [2, 2, 2, 2], 24³×8 at patch 3), 609783 values",
    );
    h.get_by_label_contains("inferred preset: tiny");
    assert_eq!(
        h.state().dashboard.config.preset,
        roimae::model::Preset::Tiny
    );
    h.get_by_label("clear (fresh weights)").click();
    h.run();
    assert!(h.state().dashboard.init.is_none());
}

#[test]
fn the_training_tab_paints_region_errors_live_and_composites_inside_the_mask() {
    use roimae::gui::app::Mode;
    use roimae::gui::recon_panel::ReconMode;
    use roimae::train::{DataConfig, DeviceChoice};
    let runs = tempfile::tempdir().unwrap();
    let mut h = harness(Startup {
        regions: vec!["limbic".into()],
        ..Default::default()
    });
    {
        let app = h.state_mut();
        app.mode = Mode::Training;
        let d = &mut app.dashboard;
        d.runs_root = runs.path().to_path_buf();
        d.config.device = DeviceChoice::Cpu;
        d.config.max_steps = Some(2);
        d.config.val_every = 2;
        d.config.preview_every = 2;
        d.config.batch_size = 2;
        if let DataConfig::Synthetic(s) = &mut d.config.data {
            s.subjects = 4;
            s.frames = 20;
        }
    }
    h.run();
    h.get_by_label("Start").click();
    h.run();
    let start = std::time::Instant::now();
    while h.state().dashboard.region_map_step.is_none() || h.state().dashboard.recon.is_none() {
        assert!(
            start.elapsed().as_secs() < 240,
            "no validation: {:?} {:?}",
            h.state().dashboard.session.log,
            h.state().dashboard.message
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
        h.run();
    }
    // The live map holds the validation's per-region losses, named.
    let d = &h.state().dashboard;
    let (step, losses) = d.session.region_losses.clone().unwrap();
    assert_eq!(d.region_map_step, Some(step));
    let shown = d.region_map.attribution.as_ref().unwrap();
    assert_eq!(shown.scores.len(), losses.len());
    let hippo = region_id(&h, "Hippocampus_L");
    let hippo_loss = losses
        .iter()
        .find(|l| l.id == hippo)
        .expect("a masked limbic region");
    // Hovering the hippocampus in the map's axial view names it and its error.
    let world = interior_point(&h, "Hippocampus_L");
    {
        // Re-painting the map lays its views out through the viewer's crosshair.
        let app = h.state_mut();
        app.state.scene.set_crosshair(world);
        app.dashboard.region_map_step = None;
    }
    h.run();
    h.run();
    let pos = h
        .state()
        .dashboard
        .region_map
        .screen_of(ViewAxis::Axial, world)
        .unwrap();
    h.event(Event::PointerMoved(pos));
    h.run();
    if let Some(path) = std::env::var_os("ROIMAE_SHOT") {
        h.render().unwrap().save(path).unwrap();
    }
    h.get_by_label_contains(&format!(
        "Hippocampus_L (limbic): score {}",
        roimae::gui::attribution_page::fmt_score(hippo_loss.mse)
    ));

    // Composite (the default): the original outside the mask, the
    // reconstruction inside; checked in values and in rendered pixels.
    let recon = h.state().dashboard.recon.as_ref().unwrap();
    assert_eq!(recon.mode, ReconMode::Composite);
    assert!(recon.error_masked_only);
    let grid = recon.reconstruction().grid;
    let [nx, ny, nz] = grid.dims;
    let k = nz / 2;
    let centre = grid.world([nx / 2, ny / 2, k]);
    h.state_mut()
        .dashboard
        .recon
        .as_mut()
        .unwrap()
        .scene
        .set_crosshair(centre);
    h.run();
    let recon = h.state().dashboard.recon.as_ref().unwrap();
    let (mut outside, mut inside) = (None, None);
    for j in 2..ny - 2 {
        for i in 2..nx - 2 {
            if i.abs_diff(nx / 2) < 2 || j.abs_diff(ny / 2) < 2 {
                continue; // keep off the crosshair lines
            }
            let w = grid.world([i, j, k]);
            let v = recon.values_at(w);
            match recon.masked_at(w) {
                Some(false) if v[0].is_some_and(|x| x > recon.display.range.0 + 0.3) => {
                    outside = Some(w)
                }
                Some(true) => inside = Some(w),
                _ => {}
            }
        }
    }
    let (outside, inside) = (
        outside.expect("a visible voxel"),
        inside.expect("a masked voxel"),
    );
    let v = recon.values_at(outside);
    assert_eq!(v[2], v[0], "composite = original outside the mask");
    assert_eq!(v[3], Some(0.0), "|error| is shown at masked voxels only");
    let v = recon.values_at(inside);
    let ijk = grid
        .affine
        .inverse()
        .unwrap()
        .apply(inside)
        .map(|c| c.round() as usize);
    let raw = recon
        .reconstruction()
        .value(ijk[0], ijk[1], ijk[2], recon.frame());
    assert_eq!(v[2], raw, "composite = reconstruction inside the mask");
    let (p_orig, p_comp) = (
        recon.screen_of(0, outside).unwrap(),
        recon.screen_of(2, outside).unwrap(),
    );
    let ppp = h.ctx.pixels_per_point();
    let image = h.render().unwrap();
    let px = |p: Pos2| *image.get_pixel((p.x * ppp) as u32, (p.y * ppp) as u32);
    assert_eq!(
        px(p_orig),
        px(p_comp),
        "same grey in both panels outside the mask"
    );
}
