//! The experiment page: the grid builder (`experiment_grid.rs`), the
//! experiment running in the background (`experiment_run.rs`) with its
//! progress, ETA and Stop, and the results — the paper's figure
//! (validation masked MSE (x) against held-out test AUROC (y), one labelled
//! point per strategy with ± sd error bars over seeds), the table as
//! `results.md` shows it, each attributed run's lobe ranking, the verdicts
//! and the exports (`experiment_export.rs`). A finished folder opens on a
//! worker thread; a running experiment's folder is re-read after each run.

use super::experiment_export::{self, EXPORT_SCALE};
use super::experiment_grid::GridBuilder;
use super::experiment_run::ExperimentRun;
use super::notice::Notice;
use super::state::ViewerState;
use crate::dashboard::DashboardError;
use crate::dashboard::exp_lobes::LobeRanking;
use crate::dashboard::experiment::{ExperimentView, StrategyPoint};
use crate::dashboard::format_duration;
use crate::eval::exp_markdown::format_mean_sd;
use crate::eval::exp_table::ResultRow;
use crate::masking::MaskLevel;
use egui::{Color32, RichText};
use egui_plot::{Line, MarkerShape, Plot, PlotPoint, PlotPoints, Points, Text};
use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, channel};
use std::time::Instant;

/// Experiment page state.
pub struct ExperimentPage {
    /// The experiment shown.
    pub view: Option<ExperimentView>,
    /// Its folder.
    pub dir: Option<PathBuf>,
    /// The last error or export, shown under the buttons.
    pub message: Option<Notice>,
    /// The grid being built (an `ExperimentConfig`).
    pub builder: GridBuilder,
    /// The experiment started here (running, or how it ended).
    pub run: Option<ExperimentRun>,
    /// Where new experiment folders go.
    pub experiments_root: PathBuf,
    loading: Option<Receiver<Result<ExperimentView, DashboardError>>>,
    exporting: Option<Receiver<Notice>>,
}

impl Default for ExperimentPage {
    fn default() -> Self {
        ExperimentPage {
            view: None,
            dir: None,
            message: None,
            builder: GridBuilder::default(),
            run: None,
            experiments_root: PathBuf::from("experiments"),
            loading: None,
            exporting: None,
        }
    }
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
        "tube" => Color32::from_rgb(150, 150, 230),
        _ => WARM[k % WARM.len()],
    }
}

impl ExperimentPage {
    /// Reads `dir` now (the CLI's `render --experiment`).
    pub fn open_now(&mut self, dir: &Path) -> Result<(), DashboardError> {
        self.view = Some(ExperimentView::open(dir)?);
        self.dir = Some(dir.to_path_buf());
        self.message = None;
        Ok(())
    }

    /// Starts reading `dir` on a worker thread.
    pub fn open_in_background(&mut self, dir: PathBuf, ctx: egui::Context) {
        let (tx, rx) = channel();
        self.dir = Some(dir.clone());
        std::thread::spawn(move || {
            let _ = tx.send(ExperimentView::open(&dir));
            ctx.request_repaint();
        });
        self.loading = Some(rx);
    }

    /// Runs the builder's grid in a new folder under `experiments_root`
    /// on a worker thread (one experiment at a time).
    pub fn start(&mut self, wake: Option<egui::Context>) {
        if self.is_running() {
            return;
        }
        let wake = move || {
            if let Some(ctx) = &wake {
                ctx.request_repaint();
            }
        };
        match ExperimentRun::start(self.builder.config.clone(), &self.experiments_root, wake) {
            Ok(run) => {
                self.dir = Some(run.out.clone());
                self.view = None;
                self.loading = None;
                self.message = None;
                self.run = Some(run);
            }
            Err(e) => self.message = Some(Notice::failed(e)),
        }
    }

    /// Asks the running experiment to stop.
    pub fn stop(&self) {
        if let Some(r) = &self.run {
            r.stop();
        }
    }

    /// Whether an experiment started here is still running.
    pub fn is_running(&self) -> bool {
        self.run.as_ref().is_some_and(ExperimentRun::is_running)
    }

    /// Applies the reader's, the experiment's and the export's news (the
    /// app calls it every frame, whichever tab is shown).
    pub fn poll(&mut self) {
        if let Some(rx) = &self.loading
            && let Ok(result) = rx.try_recv()
        {
            self.loading = None;
            match result {
                Ok(v) => {
                    self.view = Some(v);
                    self.message = None;
                }
                Err(e) => self.message = Some(Notice::failed(e)),
            }
        }
        if let Some(run) = &mut self.run
            && let Some(result) = run.poll()
        {
            match result {
                Ok(v) => self.view = Some(v),
                Err(e) => self.message = Some(Notice::failed(e)),
            }
        }
        if let Some(rx) = &self.exporting
            && let Ok(notice) = rx.try_recv()
        {
            self.exporting = None;
            self.message = Some(notice);
        }
    }

    /// Draws the page; `viewer` gives the checked regions for the grid.
    pub fn show(&mut self, ui: &mut egui::Ui, viewer: &ViewerState, level: MaskLevel) {
        self.poll();
        if self.builder.open {
            egui::Panel::left("experiment-grid")
                .resizable(true)
                .default_size(380.0)
                .show(ui, |ui| {
                    self.run_buttons(ui);
                    ui.separator();
                    egui::ScrollArea::vertical()
                        .id_salt("experiment-grid-scroll")
                        .show(ui, |ui| {
                            let idle = !self.is_running();
                            self.builder
                                .show(ui, viewer, level, idle, &self.experiments_root);
                        });
                });
        }
        egui::Panel::left("experiment-verdicts")
            .resizable(true)
            .default_size(460.0)
            .show(ui, |ui| self.results(ui));
        egui::CentralPanel::default().show(ui, |ui| {
            if let Some(v) = &self.view {
                figure(ui, &v.points);
            }
        });
    }

    fn run_buttons(&mut self, ui: &mut egui::Ui) {
        let idle = !self.is_running();
        ui.horizontal(|ui| {
            if ui
                .add_enabled(idle, egui::Button::new("Run experiment"))
                .on_hover_text(format!(
                    "pretrain, fine-tune and attribute every strategy × seed in a new folder under {}",
                    self.experiments_root.display()
                ))
                .clicked()
            {
                self.start(Some(ui.ctx().clone()));
            }
            self.stop_button(ui);
        });
    }

    fn stop_button(&self, ui: &mut egui::Ui) {
        let Some(run) = &self.run else { return };
        if ui
            .add_enabled(
                run.is_running() && !run.is_stopping(),
                egui::Button::new("Stop"),
            )
            .on_hover_text("finish the current pretraining step, then end the experiment")
            .clicked()
        {
            run.stop();
        }
    }

    fn progress(&self, ui: &mut egui::Ui) {
        let Some(run) = &self.run else { return };
        let p = &run.progress;
        if run.is_running() {
            ui.ctx()
                .request_repaint_after(std::time::Duration::from_millis(500));
            let now = Instant::now();
            ui.label(p.line());
            ui.add(
                egui::ProgressBar::new(p.run_fraction() as f32)
                    .desired_width(300.0)
                    .text("this run"),
            );
            let eta = p
                .eta_s(now)
                .map_or("ETA –".into(), |s| format!("ETA {}", format_duration(s)));
            ui.add(
                egui::ProgressBar::new(p.overall_fraction() as f32)
                    .desired_width(300.0)
                    .text(format!(
                        "{}/{} runs · {} elapsed · {eta}",
                        p.done,
                        p.total,
                        format_duration(p.elapsed_s(now))
                    )),
            );
            if run.is_stopping() {
                ui.label(RichText::new("stopping…").italics());
            }
            if !self.builder.open {
                self.stop_button(ui);
            }
        }
        if let Some(o) = &run.outcome {
            ui.label(o.rich_text());
        }
        egui::CollapsingHeader::new("log")
            .id_salt("experiment-log")
            .show(ui, |ui| {
                egui::ScrollArea::vertical()
                    .id_salt("experiment-log-scroll")
                    .max_height(160.0)
                    .stick_to_bottom(true)
                    .show(ui, |ui| {
                        for line in &run.log {
                            ui.label(RichText::new(line).small().monospace());
                        }
                    });
            });
        ui.separator();
    }

    fn results(&mut self, ui: &mut egui::Ui) {
        ui.horizontal(|ui| {
            ui.toggle_value(&mut self.builder.open, "Grid builder");
            if ui.button("Open experiment folder…").clicked()
                && let Some(dir) = rfd::FileDialog::new().pick_folder()
            {
                self.open_in_background(dir, ui.ctx().clone());
            }
            if self.loading.is_some() || self.exporting.is_some() {
                ui.spinner();
            }
        });
        if let Some(m) = &self.message {
            ui.label(m.rich_text());
        }
        self.progress(ui);
        let Some(v) = &self.view else {
            ui.label("Build a grid and run it, or open a `roimae experiment` folder.");
            return;
        };
        ui.label(RichText::new(&v.folder).small());
        self.exports(ui);
        let Some(v) = &self.view else { return };
        ui.separator();
        table(ui, &v.rows);
        if !v.lobes.is_empty() {
            ui.separator();
            egui::CollapsingHeader::new("Lobe attribution per run")
                .id_salt("experiment-lobes")
                .default_open(true)
                .show(ui, |ui| lobe_rankings(ui, &v.lobes));
        }
        ui.separator();
        ui.label(RichText::new("Verdicts").strong());
        egui::ScrollArea::vertical()
            .id_salt("experiment-verdicts-scroll")
            .show(ui, |ui| {
                if v.verdicts.is_empty() {
                    ui.label(RichText::new("(written when the experiment is done)").small());
                }
                for line in &v.verdicts {
                    ui.label(RichText::new(line).small());
                }
            });
    }

    fn exports(&mut self, ui: &mut egui::Ui) {
        let (Some(view), Some(dir)) = (&self.view, self.dir.clone()) else {
            return;
        };
        let mut notice = None;
        ui.horizontal(|ui| {
            ui.label("export");
            if ui
                .add_enabled(
                    self.exporting.is_none(),
                    egui::Button::new(format!("figure PNG ({EXPORT_SCALE}×)…")),
                )
                .clicked()
                && let Some(png) = rfd::FileDialog::new()
                    .add_filter("PNG", &["png"])
                    .set_file_name("experiment.png")
                    .save_file()
            {
                let ctx = ui.ctx().clone();
                self.exporting = Some(experiment_export::export_png_in_background(
                    dir.clone(),
                    png,
                    move || ctx.request_repaint(),
                ));
            }
            if ui.button("table CSV…").clicked()
                && let Some(path) = rfd::FileDialog::new()
                    .add_filter("CSV", &["csv"])
                    .set_file_name("results.csv")
                    .save_file()
            {
                notice = Some(match experiment_export::write_csv(view, &path) {
                    Ok(()) => Notice::Done(format!("wrote {}", path.display())),
                    Err(e) => Notice::failed(e),
                });
            }
            if ui.button("table Markdown…").clicked()
                && let Some(path) = rfd::FileDialog::new()
                    .add_filter("Markdown", &["md"])
                    .set_file_name("results.md")
                    .save_file()
            {
                notice = Some(match experiment_export::write_markdown(view, &dir, &path) {
                    Ok(()) => Notice::Done(format!("wrote {}", path.display())),
                    Err(e) => Notice::failed(e),
                });
            }
        });
        if notice.is_some() {
            self.message = notice;
        }
    }
}

/// The summary table as `results.md` shows it: per strategy, each column
/// mean ± sd over seeds.
fn table(ui: &mut egui::Ui, rows: &[ResultRow]) {
    egui::Grid::new("experiment-table")
        .striped(true)
        .show(ui, |ui| {
            for h in [
                "strategy",
                "seeds",
                "masked fraction",
                "masked MSE (val)",
                "ACC",
                "balanced ACC",
                "AUROC",
            ] {
                ui.label(RichText::new(h).strong());
            }
            ui.end_row();
            for name in crate::eval::exp_table::strategies(rows) {
                let mine: Vec<&ResultRow> = rows.iter().filter(|r| r.strategy == name).collect();
                let col = |f: &dyn Fn(&ResultRow) -> Option<f64>, d| {
                    format_mean_sd(&mine.iter().map(|r| f(r)).collect::<Vec<_>>(), d)
                };
                ui.label(&name);
                ui.label(mine.len().to_string());
                ui.label(col(&|r| Some(r.masked_fraction), 3));
                ui.label(col(&|r| r.val_masked_mse, 4));
                ui.label(col(&|r| Some(r.test_acc), 3));
                ui.label(col(&|r| Some(r.test_bal_acc), 3));
                ui.label(col(&|r| r.test_auroc, 3));
                ui.end_row();
            }
        });
}

/// Each attributed run's lobes, highest score first.
fn lobe_rankings(ui: &mut egui::Ui, rankings: &[LobeRanking]) {
    for r in rankings {
        let lobes: Vec<String> = r
            .lobes
            .iter()
            .map(|(lobe, score)| format!("{lobe} {score:.3}"))
            .collect();
        ui.label(
            RichText::new(format!(
                "{} s{} ({}): {}",
                r.strategy,
                r.seed,
                r.score.score_name(),
                lobes.join(" · ")
            ))
            .small(),
        );
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
