//! The Experiment tab's exports: the figure page as a PNG drawn off screen
//! by the same code as `roimae render --experiment DIR` ([`show_experiment`]
//! then [`settled_frame`]), and the table as CSV and Markdown written by the
//! library (`results_csv`; `results.md` itself once the experiment is done,
//! else its summary table).

use super::app::{Mode, ViewerApp};
use super::error::GuiError;
use super::headless::settled_frame;
use super::offscreen::Offscreen;
use super::{Startup, notice::Notice};
use crate::dashboard::DashboardError;
use crate::dashboard::experiment::ExperimentView;
use crate::eval::exp_markdown::summary_table;
use crate::eval::exp_table::results_csv;
use crate::fsutil::{self, FileError};
use std::path::Path;

/// The page size of PNG exports, in points (`roimae render`'s default).
pub const EXPORT_SIZE: [u32; 2] = [1500, 950];

/// Pixels per point of the tab's PNG export.
pub const EXPORT_SCALE: f32 = 2.0;

/// Shows the experiment in `dir` on the Experiment tab, results only (the
/// grid builder folded): what `roimae render --experiment` draws.
pub fn show_experiment(app: &mut ViewerApp, dir: &Path) -> Result<(), DashboardError> {
    app.experiment.open_now(dir)?;
    app.experiment.builder.open = false;
    app.mode = Mode::Experiment;
    Ok(())
}

/// Draws the experiment page of `dir` off screen at `size` points and
/// `scale` pixels per point and writes it to `png`; the image's pixel size.
pub fn experiment_png(
    dir: &Path,
    png: &Path,
    size: [u32; 2],
    scale: f32,
) -> Result<[u32; 2], GuiError> {
    let mut off = Offscreen::new()?;
    let mut app = ViewerApp::new(&Startup::default(), Some(&off.render_state), None)?;
    show_experiment(&mut app, dir)?;
    let image = settled_frame(&mut off, &mut app, size, scale)?;
    image.save_png(png)?;
    Ok([image.width, image.height])
}

/// Writes the table of `view` as `results.csv` does to `path`.
pub fn write_csv(view: &ExperimentView, path: &Path) -> Result<(), FileError> {
    fsutil::write_file(path, results_csv(&view.rows).as_bytes(), "results table")
}

/// Writes the experiment's Markdown to `path`: `results.md` of `dir` when
/// the experiment has written it, else the summary table of `view` (an
/// experiment still running or stopped).
pub fn write_markdown(view: &ExperimentView, dir: &Path, path: &Path) -> Result<(), FileError> {
    let md = dir.join("results.md");
    let text = if md.exists() {
        fsutil::read_text(&md, "results report")?
    } else {
        format!(
            "# ROI-MAE experiment (unfinished: {} runs)\n\n{}",
            view.rows.len(),
            summary_table(&view.rows)
        )
    };
    fsutil::write_file(path, text.as_bytes(), "results report")
}

/// A PNG export on a worker thread (a second wgpu device, so the window
/// keeps drawing); `wake` is called when it is done.
pub fn export_png_in_background(
    dir: std::path::PathBuf,
    png: std::path::PathBuf,
    wake: impl Fn() + Send + 'static,
) -> std::sync::mpsc::Receiver<Notice> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let notice = match experiment_png(&dir, &png, EXPORT_SIZE, EXPORT_SCALE) {
            Ok([w, h]) => Notice::Done(format!("wrote {} ({w}x{h} px)", png.display())),
            Err(e) => Notice::failed(e),
        };
        let _ = tx.send(notice);
        wake();
    });
    rx
}
