//! Driving the app without a window, shared by `roimae render
//! --training-steps` and the viewer benchmark: start the Training tab's
//! demo run on the CPU with the viewer's regions, draw frames off screen
//! until a condition holds, and the settled frame that is written.

use super::app::{Mode, ViewerApp};
use super::error::GuiError;
use super::notice::Notice;
use super::offscreen::Offscreen;
use std::path::Path;
use std::time::{Duration, Instant};

/// Switches to the Training tab and starts its run on the CPU in a folder
/// under `runs_root`, for at most `max_steps` steps. `Err` is the notice
/// the tab shows when it cannot start (e.g. no region selected).
pub fn start_cpu_training(
    app: &mut ViewerApp,
    runs_root: &Path,
    max_steps: usize,
) -> Result<(), Notice> {
    app.mode = Mode::Training;
    let d = &mut app.dashboard;
    d.runs_root = runs_root.to_path_buf();
    d.config.device = crate::train::DeviceChoice::Cpu;
    d.config.max_steps = Some(max_steps.max(1));
    let level = app.level;
    app.dashboard.start(&app.state, level, None);
    match &app.dashboard.message {
        Some(m) if m.is_error() => Err(m.clone()),
        _ => Ok(()),
    }
}

/// Draws frames of `app` (sleeping `pause` between them) while `going`
/// holds; `Ok(false)` when `timeout` passed first.
pub fn frames_while(
    off: &mut Offscreen,
    app: &mut ViewerApp,
    size: [u32; 2],
    scale: f32,
    pause: Duration,
    timeout: Duration,
    mut going: impl FnMut(&ViewerApp) -> bool,
) -> Result<bool, GuiError> {
    let start = Instant::now();
    while going(app) {
        if start.elapsed() > timeout {
            return Ok(false);
        }
        off.frame(app, size, scale, Vec::new())?;
        std::thread::sleep(pause);
    }
    Ok(true)
}

/// The frame of `app` once its layout has settled: egui lays out over two
/// passes, the third is drawn (what `roimae render` writes).
pub fn settled_frame(
    off: &mut Offscreen,
    app: &mut ViewerApp,
    size: [u32; 2],
    scale: f32,
) -> Result<super::offscreen::RgbaImage, GuiError> {
    off.frame(app, size, scale, Vec::new())?;
    off.frame(app, size, scale, Vec::new())?;
    off.frame(app, size, scale, Vec::new())
}
