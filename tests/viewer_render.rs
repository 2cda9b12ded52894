//! The GPU slice shader checked against the CPU: rendered off screen on a
//! real wgpu adapter (lavapipe in CI), the colour drawn at a voxel's screen
//! position must be the colour-mapped value of that voxel as read by the
//! library (nearest neighbour), for the MNI template (RAS), a functional
//! fixture written by another tool (LAS) and an oblique one (nitime); and
//! a masked region must be blended with its colour at the set opacity.

mod common;

use roimae::gui::offscreen::{Offscreen, RgbaImage};
use roimae::gui::slice_geometry::ViewAxis;
use roimae::gui::slice_view::screen_of;
use roimae::gui::{Startup, ViewerApp};
use roimae::viewer::ColorMap;
use std::path::PathBuf;

const SIZE: [u32; 2] = [1200, 800];

fn open(off: &Offscreen, file: Option<&str>) -> ViewerApp {
    let startup = Startup {
        file: file.map(|f| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("tests/data")
                .join(f)
        }),
        ..Default::default()
    };
    ViewerApp::new(&startup, Some(&off.render_state), None).expect("viewer starts")
}

fn render(off: &mut Offscreen, app: &mut ViewerApp) -> RgbaImage {
    let mut image = None;
    for _ in 0..3 {
        image = Some(
            off.frame(app, SIZE, 1.0, Vec::new())
                .expect("frame renders"),
        );
    }
    image.unwrap()
}

fn wait_loaded(off: &mut Offscreen, app: &mut ViewerApp) {
    for _ in 0..500 {
        if !app.is_loading() {
            return;
        }
        off.frame(app, SIZE, 1.0, Vec::new()).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    panic!("the file did not load");
}

/// The grey level the shader should draw for `value`.
fn expected_grey(value: f32, range: (f32, f32)) -> u8 {
    let t = ((value - range.0) / (range.1 - range.0)).clamp(0.0, 1.0);
    ColorMap::Gray.lut()[(t * 255.0 + 0.5) as usize][0]
}

fn pixel_at(image: &RgbaImage, pos: egui::Pos2) -> [u8; 4] {
    image.pixel(pos.x.floor() as u32, pos.y.floor() as u32)
}

/// Renders voxel `ijk` at about 16 points per voxel in every view and
/// compares the drawn grey with the voxel's value.
fn check_voxel(off: &mut Offscreen, app: &mut ViewerApp, ijk: [usize; 3]) {
    let grid = app.state.underlay.volume.grid;
    let world = grid.world(ijk);
    let value = app.state.underlay.value(ijk).unwrap();
    app.state.scene.set_crosshair(world);
    let d = &mut app.state.display;
    d.labels_shown = false;
    d.trilinear = false;
    d.crosshair_shown = false;
    d.colour_map = ColorMap::Gray;
    let range = d.range;
    render(off, app);
    // Zoom so one voxel spans ~16 points, then draw.
    let rect = app.view_rects[0].unwrap();
    let mm = app
        .state
        .scene
        .camera(ViewAxis::Axial, [rect.width() as f64, rect.height() as f64])
        .mm_per_point;
    let finest = grid.voxel_sizes().into_iter().fold(f64::INFINITY, f64::min);
    app.state.scene.zoom_by(mm * 16.0 / finest);
    app.state.scene.centre_views_on(world);
    let image = render(off, app);
    for axis in ViewAxis::ALL {
        let rect = app.view_rects[axis as usize].unwrap();
        let pos = screen_of(&app.state, axis, rect, world);
        assert!(rect.contains(pos), "{axis:?}: the voxel is on screen");
        let px = pixel_at(&image, pos);
        let want = expected_grey(value, range);
        assert!(
            px[0].abs_diff(want) <= 2 && px[1].abs_diff(want) <= 2 && px[2].abs_diff(want) <= 2,
            "{axis:?} view, voxel {ijk:?} (value {value}): drew {px:?}, expected grey {want}"
        );
    }
    app.state.scene.reset();
}

#[test]
fn drawn_voxels_are_the_values_the_library_reads() {
    let mut off = Offscreen::new().expect("a wgpu adapter (install mesa-vulkan-drivers)");
    // The template (RAS, 1 mm).
    let mut app = open(&off, None);
    for ijk in [[96, 116, 80], [60, 140, 100], [130, 90, 60]] {
        check_voxel(&mut off, &mut app, ijk);
    }
    // A functional fixture in LAS (negative x voxel axis), 4 x 4 x 8 mm.
    let mut app = open(&off, Some("functional.nii"));
    wait_loaded(&mut off, &mut app);
    assert_eq!(app.state.underlay.volume.grid.dims, [17, 21, 3]);
    for ijk in [[8, 10, 1], [3, 15, 0], [14, 4, 2]] {
        check_voxel(&mut off, &mut app, ijk);
    }
    // An oblique fixture (LSP-ish, rotated affine).
    let mut app = open(&off, Some("nitime_fmri1.nii.gz"));
    wait_loaded(&mut off, &mut app);
    for ijk in [[4, 5, 9], [2, 7, 3], [7, 2, 14]] {
        check_voxel(&mut off, &mut app, ijk);
    }
}

#[test]
fn masked_regions_are_blended_with_their_colour() {
    let mut off = Offscreen::new().expect("a wgpu adapter");
    let mut app = open(&off, None);
    let atlas = app.state.labels.atlas.clone();
    let id = atlas.regions.by_name("Precentral_R").unwrap().id;
    // An interior voxel: every neighbour within 3 mm has the same label.
    let labels = &atlas.labels;
    let [nx, ny, nz] = labels.grid.dims;
    let ijk = (3..nz - 3)
        .flat_map(|k| (3..ny - 3).flat_map(move |j| (3..nx - 3).map(move |i| [i, j, k])))
        .find(|&[i, j, k]| {
            (0..7usize).all(|a| {
                (0..7usize)
                    .all(|b| (0..7usize).all(|c| labels.at(i + a - 3, j + b - 3, k + c - 3) == id))
            })
        })
        .expect("Precentral_R has an interior voxel");
    let world = labels.grid.world(ijk);
    app.state.toggle_region(id);
    app.state.scene.set_crosshair(world);
    app.state.display.crosshair_shown = false;
    app.state.display.trilinear = false;
    app.state.display.label_opacity = 0.6;
    let image = render(&mut off, &mut app);
    let under_ijk = app.state.underlay.voxel_at(world).unwrap();
    let grey = expected_grey(
        app.state.underlay.value(under_ijk).unwrap(),
        app.state.display.range,
    ) as f32;
    let colour = app.state.labels.palette[&id];
    for axis in ViewAxis::ALL {
        let rect = app.view_rects[axis as usize].unwrap();
        let px = pixel_at(&image, screen_of(&app.state, axis, rect, world));
        for c in 0..3 {
            let want = grey * 0.4 + colour[c] as f32 * 0.6;
            assert!(
                (px[c] as f32 - want).abs() <= 2.5,
                "{axis:?}: channel {c} drew {}, expected {want:.1} (grey {grey}, region {colour:?})",
                px[c]
            );
        }
    }
    // Unmasked and outline-only: the same point shows plain grey.
    app.state.toggle_region(id);
    let image = render(&mut off, &mut app);
    let rect = app.view_rects[0].unwrap();
    let px = pixel_at(&image, screen_of(&app.state, ViewAxis::Axial, rect, world));
    assert!(
        px[..3].iter().all(|&p| (p as f32 - grey).abs() <= 2.0),
        "{px:?} vs grey {grey}"
    );
}

#[test]
fn the_render_command_writes_a_png_of_the_demo() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("demo.png");
    let status = common::roimae_command()
        .args([
            "render",
            "--demo",
            "--size",
            "900x600",
            "--regions",
            "limbic",
            "--out",
        ])
        .arg(&out)
        .status()
        .unwrap();
    assert!(status.success());
    let bytes = std::fs::read(&out).unwrap();
    assert_eq!(&bytes[1..4], b"PNG");
    // Width and height from the IHDR chunk.
    let w = u32::from_be_bytes(bytes[16..20].try_into().unwrap());
    let h = u32::from_be_bytes(bytes[20..24].try_into().unwrap());
    assert_eq!((w, h), (900, 600));

    let bad = common::roimae_command()
        .args(["render", "--demo", "--regions", "Hipocampus_L", "--out"])
        .arg(dir.path().join("x.png"))
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(err.contains("Hipocampus_L"), "{err}");
    assert_eq!(
        err.trim()
            .lines()
            .filter(|l| l.starts_with("roimae: error"))
            .count(),
        1
    );
}

#[test]
fn the_render_command_draws_an_experiment_folder_and_refuses_another() {
    // A finished experiment's tables, as `roimae experiment` writes them.
    let dir = tempfile::tempdir().unwrap();
    let exp = dir.path().join("exp");
    std::fs::create_dir(&exp).unwrap();
    std::fs::write(
        exp.join("results.csv"),
        "strategy,seed,masked_fraction,val_masked_mse,test_acc,test_bal_acc,test_auroc\n\
         random,0,0.5,0.72,0.875,0.875,0.938\n\
         roi-limbic,0,0.03,0.37,0.875,0.875,0.9\n",
    )
    .unwrap();
    std::fs::write(
        exp.join("results.md"),
        "# x\n\n## Verdicts\n\n- a verdict\n",
    )
    .unwrap();
    let out = dir.path().join("fig.png");
    let o = common::roimae_command()
        .args(["render", "--size", "800x500", "--experiment"])
        .arg(&exp)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let bytes = std::fs::read(&out).unwrap();
    assert_eq!(&bytes[1..4], b"PNG");
    let w = u32::from_be_bytes(bytes[16..20].try_into().unwrap());
    let h = u32::from_be_bytes(bytes[20..24].try_into().unwrap());
    assert_eq!((w, h), (800, 500));
    // A folder without results is one line naming what is missing.
    let o = common::roimae_command()
        .args(["render", "--experiment"])
        .arg(dir.path())
        .arg("--out")
        .arg(dir.path().join("y.png"))
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("results.csv") && err.contains("roimae experiment"),
        "{err}"
    );
    assert!(!dir.path().join("y.png").exists());
}
