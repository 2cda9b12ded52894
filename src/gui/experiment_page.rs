//! The experiment page: a finished `roimae experiment` folder as the
//! paper's figure — validation masked MSE (x) against held-out test AUROC
//! (y), one labelled point per strategy with ± sd error bars over seeds —
//! beside the verdicts. The folder is read on a worker thread.

use super::notice::Notice;
use crate::dashboard::DashboardError;
use crate::dashboard::experiment::{ExperimentView, StrategyPoint};
use egui::{Color32, RichText};
use egui_plot::{Line, MarkerShape, Plot, PlotPoint, PlotPoints, Points, Text};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, channel};

/// Experiment page state.
#[derive(Default)]
pub struct ExperimentPage {
    /// The experiment shown.
    pub view: Option<ExperimentView>,
    /// The last error, shown under the button.
    pub message: Option<Notice>,
    loading: Option<Receiver<Result<ExperimentView, DashboardError>>>,
}

/// A colour per strategy kind: random / window grey-blue, ROI warm.
fn colour(name: &str, k: usize) -> Color32 {
    const WARM: [Color32; 6] = [
        Color32::from_rgb(240, 140, 60),
        Color32::from_rgb(230, 90, 90),
        Color32::from_rgb(250, 200, 70),
        Color32::from_rgb(200, 120, 220),
        Color32::from_rgb(120, 200, 120),
        Color32::from_rgb(240, 170, 200),
    ];
    match name {
        "random" => Color32::from_rgb(110, 170, 250),
        "window" => Color32::from_rgb(140, 200, 230),
        _ => WARM[k % WARM.len()],
    }
}

impl ExperimentPage {
    /// Reads `dir` now (the CLI's `render --experiment`).
    pub fn open_now(&mut self, dir: &Path) -> Result<(), DashboardError> {
        self.view = Some(ExperimentView::open(dir)?);
        self.message = None;
        Ok(())
    }

    /// Starts reading `dir` on a worker thread.
    pub fn open_in_background(&mut self, dir: PathBuf, ctx: egui::Context) {
        let (tx, rx) = channel();
        std::thread::spawn(move || {
            let _ = tx.send(ExperimentView::open(&dir));
            ctx.request_repaint();
        });
        self.loading = Some(rx);
    }

    fn poll(&mut self) {
        let Some(rx) = &self.loading else { return };
        if let Ok(result) = rx.try_recv() {
            self.loading = None;
            match result {
                Ok(v) => {
                    self.view = Some(v);
                    self.message = None;
                }
                Err(e) => self.message = Some(Notice::failed(e)),
            }
        }
    }

    /// Draws the page.
    pub fn show(&mut self, ui: &mut egui::Ui) {
        self.poll();
        egui::Panel::left("experiment-verdicts")
            .resizable(true)
            .default_size(460.0)
            .show(ui, |ui| {
                if ui.button("Open experiment folder…").clicked()
                    && let Some(dir) = rfd::FileDialog::new().pick_folder()
                {
                    self.open_in_background(dir, ui.ctx().clone());
                }
                if self.loading.is_some() {
                    ui.spinner();
                }
                if let Some(m) = &self.message {
                    ui.label(m.rich_text());
                }
                let Some(v) = &self.view else {
                    ui.label("Run `roimae experiment --demo` (or `--config exp.toml`) and open its folder here.");
                    return;
                };
                ui.label(RichText::new(&v.folder).small());
                ui.separator();
                egui::Grid::new("experiment-table")
                    .striped(true)
                    .show(ui, |ui| {
                        for h in ["strategy", "seeds", "masked MSE", "AUROC"] {
                            ui.label(RichText::new(h).strong());
                        }
                        ui.end_row();
                        let cell = |m: Option<crate::dashboard::experiment::MeanSd>| {
                            m.map_or("–".into(), |m| format!("{:.3} ± {:.3}", m.mean, m.sd))
                        };
                        for p in &v.points {
                            ui.label(&p.strategy);
                            ui.label(p.seeds.to_string());
                            ui.label(cell(p.mse));
                            ui.label(cell(p.auroc));
                            ui.end_row();
                        }
                    });
                ui.separator();
                ui.label(RichText::new("Verdicts").strong());
                egui::ScrollArea::vertical().show(ui, |ui| {
                    for line in &v.verdicts {
                        ui.label(RichText::new(line).small());
                    }
                });
            });
        egui::CentralPanel::default().show(ui, |ui| {
            if let Some(v) = &self.view {
                figure(ui, &v.points);
            }
        });
    }
}

/// The paper's figure: masked MSE against test AUROC per strategy.
fn figure(ui: &mut egui::Ui, points: &[StrategyPoint]) {
    ui.label(
        RichText::new(
            "Validation masked MSE (own mask) vs held-out test AUROC — mean ± sd over seeds",
        )
        .strong(),
    );
    // Room to the right of the last point for its label, below 0.5 and
    // above 1 for the error bars.
    let xs: Vec<f64> = points
        .iter()
        .filter_map(|p| p.mse.map(|m| m.mean))
        .collect();
    let (lo, hi) = xs
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &x| {
            (a.min(x), b.max(x))
        });
    let span = if hi > lo { hi - lo } else { 0.1 };
    // Every point is labelled in place, so there is no legend.
    Plot::new("experiment-figure")
        .x_axis_label("validation masked MSE")
        .y_axis_label("test AUROC")
        .include_y(0.45)
        .include_y(1.05)
        .include_x(if lo.is_finite() { lo - 0.1 * span } else { 0.0 })
        .include_x(if hi.is_finite() { hi + 0.3 * span } else { 1.0 })
        .allow_scroll(false)
        .show(ui, |plot| {
            for (k, p) in points.iter().enumerate() {
                let (Some(x), Some(y)) = (p.mse, p.auroc) else {
                    continue;
                };
                let c = colour(&p.strategy, k);
                for (a, b) in [
                    ([x.mean - x.sd, y.mean], [x.mean + x.sd, y.mean]),
                    ([x.mean, y.mean - y.sd], [x.mean, y.mean + y.sd]),
                ] {
                    plot.line(
                        Line::new(p.strategy.clone(), PlotPoints::from(vec![a, b]))
                            .color(c)
                            .width(1.5),
                    );
                }
                plot.points(
                    Points::new(p.strategy.clone(), PlotPoints::from(vec![[x.mean, y.mean]]))
                        .shape(MarkerShape::Circle)
                        .radius(6.0)
                        .color(c),
                );
                plot.text(
                    Text::new(
                        format!("{}-label", p.strategy),
                        PlotPoint::new(x.mean, y.mean),
                        RichText::new(format!("  {}", p.strategy)).size(14.0),
                    )
                    .anchor(egui::Align2::LEFT_BOTTOM)
                    .color(c),
                );
            }
        });
}
