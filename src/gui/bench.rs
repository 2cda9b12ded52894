//! Viewer frame times, measured off screen on the wgpu adapter: the whole
//! egui pass (all panels, three slice views) plus the GPU draw, waited for.
//! Scenarios: hovering over the 1 mm template (uniform changes only), and a
//! 96³×200 4D run in memory while hovering, then while scrubbing volumes
//! (one 3.5 MB frame upload per frame). The read-back of each frame (needed
//! off screen, absent on a real window) is timed separately and excluded.

use super::app::{Startup, ViewerApp};
use super::error::GuiError;
use super::headless::{frames_while, start_cpu_training};
use super::notice::Notice;
use super::offscreen::Offscreen;
use super::slice_geometry::ViewAxis;
use crate::volume::{Affine, Grid, Volume, VolumeMeta};
use serde::Serialize;
use std::sync::Arc;
use std::time::Duration;

/// Why the viewer benchmark could not run.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// Rendering failed.
    #[error(transparent)]
    Gui(#[from] GuiError),
    /// The training scenario's run did not start.
    #[error("the training page's run did not start: {0}")]
    Start(Notice),
}

/// Frame-time statistics of one scenario.
#[derive(Debug, Clone, Serialize)]
pub struct FrameTimes {
    /// What was done each frame.
    pub scenario: String,
    /// The adapter.
    pub adapter: String,
    /// Frames timed.
    pub frames: usize,
    /// Mean frame time (ms), read-back excluded.
    pub mean_ms: f64,
    /// 95th percentile (ms).
    pub p95_ms: f64,
    /// Worst frame (ms).
    pub max_ms: f64,
    /// Mean time of the egui pass alone (layout and widgets, CPU), ms.
    pub ui_mean_ms: f64,
}

/// A 96³×`frames` synthetic 4D run (smooth blobs plus a slow drift) on a
/// 2 mm grid centred on the MNI origin.
pub fn synthetic_run(n: usize, frames: usize) -> Volume {
    let h = (n as f64 - 1.0) / 2.0;
    let grid = Grid::new(
        [n; 3],
        Affine::from_rows([
            [2.0, 0.0, 0.0, -2.0 * h],
            [0.0, 2.0, 0.0, -2.0 * h - 18.0],
            [0.0, 0.0, 2.0, -2.0 * h + 18.0],
        ]),
    );
    let mut data = Vec::with_capacity(n * n * n * frames);
    for t in 0..frames {
        let phase = t as f32 * 0.1;
        for k in 0..n {
            for j in 0..n {
                for i in 0..n {
                    let (x, y, z) = (
                        i as f32 / n as f32,
                        j as f32 / n as f32,
                        k as f32 / n as f32,
                    );
                    let r2 = (x - 0.5).powi(2) + (y - 0.5).powi(2) + (z - 0.5).powi(2);
                    let brain = if r2 < 0.16 { 1000.0 } else { 0.0 };
                    let wave = ((x * 9.0 + phase).sin() * (y * 7.0).cos() + z * 3.0).sin();
                    data.push(brain * (1.0 + 0.05 * wave));
                }
            }
        }
    }
    let meta = VolumeMeta::new_f32(&grid, frames, Some(2.0), true);
    Volume::from_data(grid, frames, data, meta)
}

fn stats(scenario: &str, adapter: &str, (mut ms, ui): (Vec<f64>, Vec<f64>)) -> FrameTimes {
    ms.sort_by(f64::total_cmp);
    let n = ms.len().max(1);
    FrameTimes {
        scenario: scenario.to_string(),
        adapter: adapter.to_string(),
        frames: ms.len(),
        mean_ms: ms.iter().sum::<f64>() / n as f64,
        p95_ms: ms[((n as f64 * 0.95).ceil() as usize).min(n) - 1],
        max_ms: ms.last().copied().unwrap_or(0.0),
        ui_mean_ms: ui.iter().sum::<f64>() / ui.len().max(1) as f64,
    }
}

/// Times `frames` frames of `app` at `size`; `each` prepares frame `f` and
/// returns the input events to deliver.
fn time_frames(
    off: &mut Offscreen,
    app: &mut ViewerApp,
    size: [u32; 2],
    frames: usize,
    mut each: impl FnMut(&mut ViewerApp, usize) -> Vec<egui::Event>,
) -> Result<(Vec<f64>, Vec<f64>), GuiError> {
    for _ in 0..3 {
        off.frame(app, size, 1.0, Vec::new())?; // warm-up: layout, uploads, pipeline
    }
    let (mut ms, mut ui) = (Vec::new(), Vec::new());
    for f in 0..frames {
        let events = each(app, f);
        let (total, pass) = off.frame_time(app, size, events)?;
        ms.push(total.as_secs_f64() * 1e3);
        ui.push(pass.as_secs_f64() * 1e3);
    }
    Ok((ms, ui))
}

/// Hover positions sweeping across the axial view.
fn hover_path(app: &ViewerApp, f: usize) -> Vec<egui::Event> {
    let rect = app.view_rects[ViewAxis::Axial as usize].unwrap_or(egui::Rect::from_min_size(
        egui::pos2(300.0, 30.0),
        egui::vec2(400.0, 400.0),
    ));
    let t = (f % 100) as f32 / 100.0;
    let pos = rect.left_top() + egui::vec2(rect.width() * t, rect.height() * (0.3 + 0.4 * t));
    vec![egui::Event::PointerMoved(pos)]
}

/// Runs the three scenarios.
pub fn bench_viewer(frames: usize, size: [u32; 2]) -> Result<Vec<FrameTimes>, BenchError> {
    let mut off = Offscreen::new()?;
    let adapter = off.adapter_name();
    let mut out = Vec::new();

    let mut app = ViewerApp::new(&Startup::default(), Some(&off.render_state), None)?;
    let mut hover = |off: &mut Offscreen, app: &mut ViewerApp, scenario: &str| {
        let ms = time_frames(off, app, size, frames, |app, f| hover_path(app, f))?;
        out.push(stats(scenario, &adapter, ms));
        Ok::<(), GuiError>(())
    };
    hover(
        &mut off,
        &mut app,
        "hover, 1 mm template (197x233x189) + AAL3",
    )?;
    app.state.display.labels_shown = false;
    app.state.display.trilinear = false;
    hover(&mut off, &mut app, "hover, template, atlas hidden, nearest")?;
    app.state.display.labels_shown = true;
    app.state.display.trilinear = true;

    let run = Arc::new(synthetic_run(96, 200));
    app.state.set_underlay("synthetic 96^3 x 200", run)?;
    hover(&mut off, &mut app, "hover, 96^3 x 200 run + AAL3")?;
    let ms = time_frames(&mut off, &mut app, size, frames, |app, f| {
        app.state.set_frame(f % 200);
        hover_path(app, f)
    })?;
    out.push(stats(
        "scrub volumes (upload per frame), 96^3 x 200",
        &adapter,
        ms,
    ));

    // The training page while the demo trains on the CPU (worker thread).
    let runs = std::env::temp_dir().join(format!("roimae-bench-runs-{}", std::process::id()));
    let mut app = ViewerApp::new(&Startup::default(), Some(&off.render_state), None)?;
    let limbic = app.state.visible_regions(Some(crate::atlas::Lobe::Limbic));
    app.state.set_regions(limbic, true);
    if let Err(notice) = start_cpu_training(&mut app, &runs, 100_000) {
        return Err(BenchError::Start(notice));
    }
    frames_while(
        &mut off,
        &mut app,
        size,
        1.0,
        Duration::ZERO,
        Duration::from_secs(300),
        |app| app.dashboard.session.step < 3,
    )?;
    let ms = time_frames(&mut off, &mut app, size, frames, |app, f| {
        hover_path(app, f)
    });
    app.dashboard.abort();
    let _ = std::fs::remove_dir_all(&runs);
    out.push(stats(
        "training page while tiny trains (CPU)",
        &adapter,
        ms?,
    ));
    Ok(out)
}
