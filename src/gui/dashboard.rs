//! The training dashboard: the run set-up (the viewer's region selection
//! plus a masking mode and a preset become the run config), Start / Stop /
//! Abort, progress with ETA and throughput, live loss curves with de-biased
//! smoothing, per-lobe validation loss, the live brain map of the masked
//! MSE per region (painted as the Attribution page paints scores), overlays
//! of earlier runs, CSV export, the reconstruction panels and the log. Training runs on the
//! engine's worker thread; this only polls its events.

use super::attribution_page::AttributionPage;
use super::notice::Notice;
use super::recon_panel::ReconView;
use super::state::ViewerState;
use crate::dashboard::attribution::Attribution;
use crate::dashboard::init_source::{InitSource, PendingImport};
use crate::dashboard::run_setup::{self, MaskMode, RunRequest, TimeKind, TimeSetup};
use crate::dashboard::{
    RunCurves, RunStatus, Session, XAxis, format_duration, resident_bytes, smooth,
};
use crate::masking::MaskLevel;
use crate::model::Preset;
use crate::train::{DataConfig, DeviceChoice, RunConfig, TrainHandle};
use egui::{Color32, RichText};
use egui_plot::{Legend, Line, Plot, PlotPoints, Points};
use std::path::PathBuf;

/// Dashboard state.
pub struct Dashboard {
    /// The config edited here (data, optimiser, steps, ...).
    pub config: RunConfig,
    /// Masking mode.
    pub mask_mode: MaskMode,
    /// Ratio of the non-region modes.
    pub ratio: f64,
    /// The temporal mode (`[mask] time`) of the next run.
    pub time: TimeSetup,
    /// Parent folder of new run folders.
    pub runs_root: PathBuf,
    /// The engine, while a run is going.
    pub handle: Option<TrainHandle>,
    /// What the dashboard knows of the current run.
    pub session: Session,
    /// Smoothing weight (0 = raw).
    pub smoothing: f64,
    /// Logarithmic y axis.
    pub log_y: bool,
    /// X axis.
    pub x_axis: XAxis,
    /// Earlier runs drawn for comparison.
    pub overlays: Vec<RunCurves>,
    /// The reconstruction panels.
    pub recon: Option<ReconView>,
    /// Last status line.
    pub message: Option<Notice>,
    /// The checkpoint the next run starts from (File → Open NeuroSTORM
    /// checkpoint…), once imported.
    pub init: Option<(InitSource, usize)>,
    /// An import still running.
    pub pending_import: Option<PendingImport>,
    /// The live map of the latest validation's masked MSE per region.
    pub region_map: AttributionPage,
    /// The validation step the map shows.
    pub region_map_step: Option<usize>,
}

impl Default for Dashboard {
    fn default() -> Self {
        Dashboard {
            config: RunConfig::demo(),
            mask_mode: MaskMode::Regions,
            ratio: 0.5,
            time: TimeSetup::default(),
            runs_root: PathBuf::from("runs"),
            handle: None,
            session: Session::default(),
            smoothing: 0.6,
            log_y: false,
            x_axis: XAxis::Step,
            overlays: Vec::new(),
            recon: None,
            message: None,
            init: None,
            pending_import: None,
            region_map: AttributionPage::default(),
            region_map_step: None,
        }
    }
}

impl Dashboard {
    /// Builds the config from the panel and the viewer, and starts a run in
    /// a new folder under `runs_root`.
    pub fn start(&mut self, viewer: &ViewerState, level: MaskLevel, wake: Option<egui::Context>) {
        if self.handle.as_ref().is_some_and(|h| h.is_running()) {
            return;
        }
        let request = RunRequest {
            config: &self.config,
            mode: self.mask_mode,
            ratio: self.ratio,
            time: self.time.mask_time(),
            selection: &viewer.selection,
            table: &viewer.labels.atlas.regions,
            level,
            init: self.init.as_ref().map(|(init, _)| init),
        };
        let config = match run_setup::plan_run(&request) {
            Ok(c) => c,
            Err(e) => {
                self.message = Some(Notice::failed(e));
                return;
            }
        };
        let run_dir = run_setup::new_run_dir(&self.runs_root, &config, self.mask_mode);
        match TrainHandle::start(config, run_dir, false, repaint(wake)) {
            Ok(h) => {
                self.handle = Some(h);
                self.session = Session::default();
                self.session.status = RunStatus::Running;
                self.recon = None;
                self.message = None;
            }
            Err(e) => self.message = Some(Notice::failed(e)),
        }
    }

    /// Continues the run in `run_dir` from its last checkpoint with the
    /// config saved there; the earlier curve is read back first.
    pub fn resume(&mut self, run_dir: PathBuf, wake: Option<egui::Context>) {
        let (config, curves) = match run_setup::resume_state(&run_dir) {
            Ok(state) => state,
            Err(e) => {
                self.message = Some(Notice::failed(e));
                return;
            }
        };
        match TrainHandle::start(config.clone(), run_dir, true, repaint(wake)) {
            Ok(h) => {
                self.handle = Some(h);
                self.session = Session::default();
                if let Some(c) = curves {
                    self.session.curves = c;
                }
                self.session.status = RunStatus::Running;
                self.config = config;
                self.recon = None;
                self.message = None;
            }
            Err(e) => self.message = Some(Notice::failed(e)),
        }
    }

    /// Asks the run to stop after the current step (checkpointing).
    pub fn stop(&mut self) {
        if let Some(h) = &self.handle {
            h.stop();
            self.session.status = RunStatus::Stopping;
        }
    }

    /// Stops the run now, without a checkpoint.
    pub fn abort(&mut self) {
        if let Some(h) = &self.handle {
            h.abort();
            self.session.status = RunStatus::Aborted;
            self.session.log("aborted".into());
        }
    }

    /// Imports a NeuroSTORM checkpoint on a worker thread; when done it
    /// becomes the next run's starting point.
    pub fn open_checkpoint(&mut self, file: PathBuf, wake: Option<egui::Context>) {
        self.message = Some(Notice::Working(format!("reading {} …", file.display())));
        self.pending_import = Some(PendingImport::start(file, &self.runs_root, repaint(wake)));
    }

    fn poll_import(&mut self) {
        let Some(result) = self.pending_import.as_ref().and_then(|p| p.poll()) else {
            return;
        };
        self.pending_import = None;
        match result {
            Ok((init, report)) => {
                self.config.preset = init.preset;
                self.message = Some(Notice::Done(format!(
                    "next run starts from {} (imported to {})",
                    init.describe(None),
                    init.run_dir.display()
                )));
                self.init = Some((init, report.loaded_values));
            }
            Err(e) => self.message = Some(Notice::failed(e)),
        }
    }

    /// Applies the engine's events and a finished import (call every frame).
    pub fn poll(&mut self) {
        self.poll_import();
        let Some(h) = &self.handle else {
            return;
        };
        for event in h.poll() {
            self.session.apply(event);
        }
        if let Some(p) = self.session.preview.take() {
            let result = match &mut self.recon {
                Some(view) => view.update(&p),
                None => ReconView::new(&p).map(|v| self.recon = Some(v)),
            };
            if let Err(e) = result {
                self.session.log(format!("preview: {e}"));
            }
        }
        if !h.is_running() && !self.session.is_active() {
            self.handle = None;
        }
    }

    /// Whether the dashboard needs repainting continuously.
    pub fn is_running(&self) -> bool {
        self.handle.is_some()
    }

    /// Draws the dashboard.
    pub fn show(&mut self, ui: &mut egui::Ui, viewer: &ViewerState, level: MaskLevel) {
        self.poll();
        self.refresh_region_map(viewer);
        egui::Panel::left("run-setup")
            .resizable(true)
            .default_size(320.0)
            .show(ui, |ui| {
                egui::ScrollArea::vertical().show(ui, |ui| {
                    self.setup(ui, viewer, level);
                    ui.separator();
                    self.progress(ui);
                    ui.separator();
                    self.log_view(ui);
                });
            });
        egui::Panel::bottom("recon")
            .resizable(true)
            .min_size(260.0)
            .default_size(330.0)
            .show(ui, |ui| match &mut self.recon {
                Some(view) => {
                    if let Some(m) = view.show(ui, &viewer.labels) {
                        self.message = Some(m);
                    }
                }
                None => {
                    ui.label("Reconstructions of a validation clip appear here during training.");
                }
            });
        egui::CentralPanel::default_margins().show(ui, |ui| self.plots(ui, viewer));
    }

    /// Paints the latest validation's per-region masked MSE when it is new.
    fn refresh_region_map(&mut self, viewer: &ViewerState) {
        let Some((step, losses)) = &self.session.region_losses else {
            if self.region_map_step.take().is_some() {
                self.region_map = AttributionPage::default();
            }
            return;
        };
        if self.region_map_step == Some(*step) {
            return;
        }
        let a = Attribution::from_region_losses(*step, losses, &viewer.labels.atlas.regions);
        self.region_map.set(a, viewer);
        self.region_map_step = Some(*step);
    }

    fn setup(&mut self, ui: &mut egui::Ui, viewer: &ViewerState, level: MaskLevel) {
        ui.heading("Run");
        let idle = !self.is_running();
        if self.pending_import.is_some() {
            ui.horizontal(|ui| {
                ui.spinner();
                ui.label("importing the NeuroSTORM checkpoint…");
            });
        }
        let mut clear = false;
        if let Some((init, values)) = &self.init {
            ui.group(|ui| {
                ui.label(RichText::new("starting point").strong());
                ui.label(init.describe(Some(*values)));
                ui.label(
                    RichText::new(format!(
                        "inferred preset: {} · run folder {}",
                        init.preset,
                        init.run_dir.display()
                    ))
                    .small(),
                );
                clear = ui
                    .add_enabled(idle, egui::Button::new("clear (fresh weights)"))
                    .clicked();
            });
        }
        if clear {
            self.init = None;
        }
        ui.add_enabled_ui(idle, |ui| {
            egui::ComboBox::from_label("preset")
                .selected_text(self.config.preset.name())
                .show_ui(ui, |ui| {
                    // Smallest first.
                    for p in Preset::ALL.into_iter().rev() {
                        ui.selectable_value(&mut self.config.preset, p, p.name());
                    }
                });
            egui::ComboBox::from_label("masking")
                .selected_text(self.mask_mode.label())
                .show_ui(ui, |ui| {
                    for m in MaskMode::ALL {
                        let picked = ui.selectable_value(&mut self.mask_mode, m, m.label());
                        // Random tokens draw every frame on their own.
                        if picked.changed() && m == MaskMode::Random {
                            self.time.kind = TimeKind::All;
                        }
                    }
                });
            if self.mask_mode == MaskMode::Regions {
                let n = viewer.selection.len();
                let text = format!(
                    "{n} regions, {:.1} % of the brain, {} level",
                    100.0 * viewer.summary.brain_fraction,
                    if level == MaskLevel::Voxel {
                        "voxel"
                    } else {
                        "token"
                    }
                );
                let colour = if n == 0 {
                    Color32::from_rgb(255, 150, 90)
                } else {
                    Color32::GRAY
                };
                ui.label(RichText::new(text).color(colour));
            } else {
                ui.add(egui::Slider::new(&mut self.ratio, 0.05..=0.95).text("ratio"));
            }
            let random = self.mask_mode == MaskMode::Random;
            time_controls(ui, "run-time", &mut self.time, !random);
            if random {
                ui.label(
                    RichText::new("random tokens draw their own frames: every frame")
                        .small()
                        .color(Color32::GRAY),
                );
            }
            let mut synthetic = matches!(self.config.data, DataConfig::Synthetic(_));
            ui.horizontal(|ui| {
                ui.label("data");
                if ui.radio(synthetic, "synthetic demo cohort").clicked() && !synthetic {
                    self.config.data = RunConfig::demo().data;
                    synthetic = true;
                }
                if ui.radio(!synthetic, "clip cache…").clicked()
                    && let Some(dir) = rfd::FileDialog::new().pick_folder()
                {
                    self.config.data = DataConfig::Cache { path: dir };
                }
            });
            if let DataConfig::Cache { path } = &self.config.data {
                ui.label(RichText::new(path.display().to_string()).small());
            }
            let mut steps = self.config.max_steps.unwrap_or(0);
            ui.add(
                egui::DragValue::new(&mut steps)
                    .range(0..=1_000_000)
                    .prefix("steps (0 = by epochs) "),
            );
            self.config.max_steps = (steps > 0).then_some(steps);
            ui.add(
                egui::DragValue::new(&mut self.config.epochs)
                    .range(1..=10_000)
                    .prefix("epochs "),
            );
            ui.add(
                egui::DragValue::new(&mut self.config.batch_size)
                    .range(1..=256)
                    .prefix("batch "),
            );
            ui.add(
                egui::DragValue::new(&mut self.config.optim.lr)
                    .speed(1e-5)
                    .range(1e-7..=1.0)
                    .prefix("learning rate "),
            );
            let aug = &mut self.config.augment;
            let mut on = aug.is_on(self.config.preset);
            ui.horizontal(|ui| {
                if ui
                    .checkbox(&mut on, "augment")
                    .on_hover_text(
                        "the reference recipe on training clips only: random affine, Gaussian noise, light smoothing; one draw per clip, the same for every frame (default on for reference and mni4mm)",
                    )
                    .changed()
                {
                    aug.enabled = Some(on);
                }
                if on {
                    ui.add(
                        egui::DragValue::new(&mut aug.rotate_deg)
                            .range(0.0..=30.0)
                            .speed(0.5)
                            .prefix("±")
                            .suffix("°"),
                    );
                    let mut scale = aug.scale * 100.0;
                    if ui
                        .add(
                            egui::DragValue::new(&mut scale)
                                .range(0.0..=30.0)
                                .speed(0.5)
                                .prefix("scale ±")
                                .suffix(" %"),
                        )
                        .changed()
                    {
                        aug.scale = scale / 100.0;
                    }
                    ui.add(
                        egui::DragValue::new(&mut aug.noise_p)
                            .range(0.0..=1.0)
                            .speed(0.01)
                            .prefix("noise p "),
                    );
                }
            });
            egui::ComboBox::from_label("device")
                .selected_text(self.config.device.as_str())
                .show_ui(ui, |ui| {
                    for d in DeviceChoice::ALL {
                        ui.selectable_value(&mut self.config.device, d, d.as_str());
                    }
                });
        });
        ui.horizontal(|ui| {
            if ui.add_enabled(idle, egui::Button::new("Start")).clicked() {
                self.start(viewer, level, Some(ui.ctx().clone()));
            }
            if ui
                .add_enabled(!idle, egui::Button::new("Stop"))
                .on_hover_text("finish the current step, write a checkpoint, stop")
                .clicked()
            {
                self.stop();
            }
            if ui
                .add_enabled(idle, egui::Button::new("Resume…"))
                .on_hover_text("continue a run folder from its last checkpoint")
                .clicked()
                && let Some(dir) = rfd::FileDialog::new().pick_folder()
            {
                self.resume(dir, Some(ui.ctx().clone()));
            }
            if ui
                .add_enabled(!idle, egui::Button::new("Abort"))
                .on_hover_text("stop now, no checkpoint")
                .clicked()
            {
                self.abort();
            }
        });
        if let Some(m) = &self.message {
            ui.label(m.rich_text());
        }
    }

    fn progress(&self, ui: &mut egui::Ui) {
        let s = &self.session;
        ui.label(RichText::new(format!("{:?}", s.status)).strong());
        if !s.device.is_empty() {
            ui.label(format!("device: {}", s.device));
        }
        if let Some(rss) = resident_bytes() {
            ui.label(format!("memory (process): {:.0} MB", rss as f64 / 1e6));
        }
        if s.total_steps > 0 {
            let eta = s
                .eta_s()
                .map_or(String::new(), |e| format!(", ETA {}", format_duration(e)));
            ui.add(
                egui::ProgressBar::new(s.progress())
                    .text(format!("step {} / {}{eta}", s.step, s.total_steps)),
            );
            ui.label(format!(
                "{:.2} steps/s · epoch {} · loader idle {:.0} %",
                s.steps_per_s,
                s.epoch,
                100.0 * s.loader_idle
            ));
        }
        if let Some(b) = s.best_val {
            ui.label(format!("best validation masked MSE {b:.5}"));
        }
        if let Some(dir) = &s.run_dir {
            ui.label(RichText::new(dir.display().to_string()).small());
        }
        if let Some((step, _, best)) = s.checkpoints.last() {
            ui.label(format!(
                "{} checkpoints, last at step {step}{}",
                s.checkpoints.len(),
                if *best { " (best)" } else { "" }
            ));
        }
    }

    fn log_view(&self, ui: &mut egui::Ui) {
        ui.label(RichText::new("Log").strong());
        if let Some(e) = &self.session.error {
            ui.label(Notice::Failed(e.clone()).rich_text());
        }
        egui::ScrollArea::vertical()
            .id_salt("train-log")
            .max_height(180.0)
            .stick_to_bottom(true)
            .show(ui, |ui| {
                for line in &self.session.log {
                    ui.monospace(line);
                }
            });
    }

    fn plots(&mut self, ui: &mut egui::Ui, viewer: &ViewerState) {
        ui.horizontal(|ui| {
            ui.add(egui::Slider::new(&mut self.smoothing, 0.0..=0.99).text("smoothing"));
            ui.checkbox(&mut self.log_y, "log y");
            for x in XAxis::ALL {
                ui.radio_value(&mut self.x_axis, x, x.label());
            }
            if ui.button("Add earlier run…").clicked()
                && let Some(dir) = rfd::FileDialog::new().pick_folder()
            {
                match RunCurves::read_csv(&dir.join("metrics.csv")) {
                    Ok(c) => self.overlays.push(c),
                    Err(e) => self.message = Some(Notice::failed(e)),
                }
            }
            if ui.button("Export CSV…").clicked()
                && let Some(path) = rfd::FileDialog::new()
                    .set_file_name("curves.csv")
                    .save_file()
            {
                self.message = Some(match self.session.curves.write_csv(&path) {
                    Ok(()) => Notice::Done(format!("wrote {}", path.display())),
                    Err(e) => Notice::failed(e),
                });
            }
        });
        let height = (ui.available_height() - 24.0).max(120.0);
        let (x_axis, log_y, w) = (self.x_axis, self.log_y, self.smoothing);
        let y = move |v: f64| if log_y { v.max(1e-12).log10() } else { v };
        let series = |c: &RunCurves, split: &str, metric: &str, smoothed: bool| -> Vec<[f64; 2]> {
            let pts = c.get(split, metric);
            let values: Vec<f64> = pts.iter().map(|p| p.value).collect();
            let values = if smoothed { smooth(&values, w) } else { values };
            pts.iter()
                .zip(values)
                .map(|(p, v)| [x_axis.x(p, c.steps_per_epoch), y(v)])
                .collect()
        };
        let y_label = if log_y {
            "log10 masked MSE"
        } else {
            "masked MSE"
        };
        let region_map = &mut self.region_map;
        ui.columns(3, |cols| {
            Plot::new("loss")
                .legend(Legend::default())
                .height(height)
                .x_axis_label(x_axis.label())
                .y_axis_label(y_label)
                .show(&mut cols[0], |plot| {
                    let c = &self.session.curves;
                    plot.line(
                        Line::new(
                            "train (raw)",
                            PlotPoints::from(series(c, "train", "loss", false)),
                        )
                        .color(Color32::from_rgba_unmultiplied(90, 160, 255, 60)),
                    );
                    plot.line(
                        Line::new("train", PlotPoints::from(series(c, "train", "loss", true)))
                            .color(Color32::from_rgb(90, 160, 255)),
                    );
                    let val = series(c, "val", "loss", false);
                    plot.line(
                        Line::new("validation", PlotPoints::from(val.clone()))
                            .color(Color32::from_rgb(255, 150, 60)),
                    );
                    plot.points(
                        Points::new("validation", PlotPoints::from(val))
                            .radius(3.0)
                            .color(Color32::from_rgb(255, 150, 60)),
                    );
                    for o in &self.overlays {
                        plot.line(Line::new(
                            format!("{} train", o.name),
                            PlotPoints::from(series(o, "train", "loss", true)),
                        ));
                        plot.line(Line::new(
                            format!("{} val", o.name),
                            PlotPoints::from(series(o, "val", "loss", false)),
                        ));
                    }
                });
            Plot::new("per-lobe")
                .legend(Legend::default())
                .height(height)
                .x_axis_label(x_axis.label())
                .y_axis_label(format!("{y_label} per lobe (validation)"))
                .show(&mut cols[1], |plot| {
                    let c = &self.session.curves;
                    for ((split, metric), _) in c.series.iter() {
                        if split == "val"
                            && let Some(lobe) = metric.strip_prefix("val_loss_")
                        {
                            plot.line(Line::new(
                                lobe.to_string(),
                                PlotPoints::from(series(c, "val", metric, false)),
                            ));
                        }
                    }
                });
            let ui = &mut cols[2];
            if region_map.attribution.is_none() {
                ui.label("The masked MSE of every masked region appears here at each validation.");
                return;
            }
            let rect = egui::Rect::from_min_size(
                ui.cursor().min,
                egui::vec2(ui.available_width(), height),
            );
            ui.allocate_rect(rect, egui::Sense::hover());
            let mut child = ui.new_child(egui::UiBuilder::new().max_rect(rect));
            region_map.maps(&mut child, viewer);
        });
    }
}

/// A wake-up for the engine's worker threads: repaints `ctx` when given.
fn repaint(ctx: Option<egui::Context>) -> impl Fn() + Send + 'static {
    move || {
        if let Some(ctx) = &ctx {
            ctx.request_repaint();
        }
    }
}

/// The temporal-mode control shared by the Training tab and the
/// Experiment tab: a combo "time: every frame / random frames / blocks of
/// frames" and, for the last two, the ratio and the block length; greyed
/// out when `enabled` is false.
pub(crate) fn time_controls(ui: &mut egui::Ui, id: &str, time: &mut TimeSetup, enabled: bool) {
    ui.add_enabled_ui(enabled, |ui| {
        ui.horizontal(|ui| {
            egui::ComboBox::new(id, "time")
                .selected_text(time.kind.label())
                .show_ui(ui, |ui| {
                    for k in TimeKind::ALL {
                        ui.selectable_value(&mut time.kind, k, k.label());
                    }
                });
            if time.kind != TimeKind::All {
                let what = if time.kind == TimeKind::Block {
                    "of the blocks"
                } else {
                    "of the frames"
                };
                ui.add(
                    egui::DragValue::new(&mut time.ratio)
                        .range(0.05..=1.0)
                        .speed(0.01)
                        .prefix("ratio ")
                        .suffix(format!(" {what}")),
                );
            }
            if time.kind == TimeKind::Block {
                ui.add(
                    egui::DragValue::new(&mut time.length)
                        .range(1..=64)
                        .prefix("block ")
                        .suffix(" frames"),
                );
            }
        });
    });
}
