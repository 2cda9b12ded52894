//! The Experiment tab's grid builder panel: the strategies of the grid
//! (each removable), buttons that add random / window / tube at a ratio,
//! each AAL3 lobe, a combination of ticked lobes and the regions checked in
//! the viewer (whole or partial), each at the temporal mode picked, the seeds, steps, device, data, starting
//! checkpoint and attribution, and Save / Load TOML. The grid is an
//! [`ExperimentConfig`], the type `roimae experiment --config` reads; the
//! edits themselves are `dashboard::exp_grid`.

use super::notice::Notice;
use super::state::ViewerState;
use crate::atlas::Lobe;
use crate::dashboard::exp_grid::{self, RatioKind};
use crate::dashboard::init_source::PendingImport;
use crate::dashboard::run_setup::TimeSetup;
use crate::eval::EvalError;
use crate::eval::exp_config::{AttrMethod, AttributeWhich, ExperimentConfig, Grid};
use crate::masking::MaskLevel;
use crate::model::Preset;
use crate::train::{DataConfig, DeviceChoice};
use egui::RichText;
use std::path::{Path, PathBuf};

/// The builder's state: the config and the panel's own inputs.
pub struct GridBuilder {
    /// The experiment being built.
    pub config: ExperimentConfig,
    /// The panel is shown (folded for figure exports).
    pub open: bool,
    /// Ratio of the next random / window / tube.
    pub ratio: f64,
    /// ROI strategies added next are partial.
    pub partial_on: bool,
    /// Their fraction of the selected tokens.
    pub partial: f64,
    /// The temporal mode of the strategies added next (at the pretraining
    /// config's own `[mask] time` they inherit it).
    pub time: TimeSetup,
    /// Lobes ticked for the next combination, in [`Lobe::ALL`] order.
    pub combination: [bool; 7],
    /// The last edit's result.
    pub message: Option<Notice>,
    /// Where the runs start from, in words (None = fresh weights).
    pub start_label: Option<String>,
    pending_import: Option<PendingImport>,
}

impl Default for GridBuilder {
    /// The demo experiment's settings with an empty grid.
    fn default() -> Self {
        GridBuilder {
            config: ExperimentConfig {
                grid: Grid::default(),
                strategies: Vec::new(),
                ..ExperimentConfig::demo()
            },
            open: true,
            ratio: 0.5,
            partial_on: false,
            partial: 0.5,
            time: TimeSetup::default(),
            combination: [false; 7],
            message: None,
            start_label: None,
            pending_import: None,
        }
    }
}

impl GridBuilder {
    /// Writes the grid as TOML (`roimae experiment --config` reads it).
    pub fn save(&self, path: &Path) -> Result<(), EvalError> {
        self.config.save(path)
    }

    /// Reads a grid from TOML (checked as `experiment --config` checks it).
    pub fn load(&mut self, path: &Path) -> Result<(), EvalError> {
        self.config = ExperimentConfig::load(path)?;
        self.time = TimeSetup::from_mask_time(self.config.pretrain.mask.time);
        self.start_label = self
            .config
            .pretrain
            .init_from
            .as_ref()
            .map(|p| p.display().to_string());
        Ok(())
    }

    fn partial(&self) -> Option<f64> {
        self.partial_on.then_some(self.partial)
    }

    /// The result of an edit, as the panel's message.
    fn edited(&mut self, r: Result<String, exp_grid::GridEditError>) {
        self.message = Some(match r {
            Ok(name) => Notice::Done(format!("added {name}")),
            Err(e) => Notice::failed(e),
        });
    }

    fn poll_import(&mut self) {
        let Some(result) = self.pending_import.as_ref().and_then(|p| p.poll()) else {
            return;
        };
        self.pending_import = None;
        match result {
            Ok((init, _)) => {
                exp_grid::start_from(&mut self.config, Some(&init));
                self.start_label = Some(init.describe(None));
                self.message = Some(Notice::Done(format!(
                    "runs start from {} (preset {})",
                    init.file.display(),
                    init.preset
                )));
            }
            Err(e) => self.message = Some(Notice::failed(e)),
        }
    }

    /// Draws the panel; `idle` is false while an experiment runs (the
    /// grid is then read-only), `root` is where imports are written.
    pub fn show(
        &mut self,
        ui: &mut egui::Ui,
        viewer: &ViewerState,
        level: MaskLevel,
        idle: bool,
        root: &Path,
    ) {
        self.poll_import();
        ui.heading("Grid");
        ui.add_enabled_ui(idle, |ui| {
            self.strategy_list(ui);
            ui.separator();
            self.add_buttons(ui, viewer, level);
            ui.separator();
            self.settings(ui, root);
            ui.separator();
            self.toml_buttons(ui);
        });
        if let Some(m) = &self.message {
            ui.label(m.rich_text());
        }
    }

    fn strategy_list(&mut self, ui: &mut egui::Ui) {
        let strategies = self.config.all_strategies();
        let runs = strategies.len() * self.config.seeds.len();
        ui.label(format!(
            "{} strategies × {} seeds = {runs} runs",
            strategies.len(),
            self.config.seeds.len()
        ));
        let mut removed = None;
        egui::Grid::new("experiment-strategies")
            .striped(true)
            .show(ui, |ui| {
                for s in &strategies {
                    ui.label(RichText::new(&s.name).strong());
                    let spec = crate::masking::MaskSpec {
                        strategy: s.mask.clone(),
                        time: self.config.strategy_time(s),
                        ..crate::masking::MaskSpec::default()
                    };
                    ui.label(RichText::new(spec.describe()).small());
                    if ui.small_button(format!("remove {}", s.name)).clicked() {
                        removed = Some(s.name.clone());
                    }
                    ui.end_row();
                }
            });
        if let Some(name) = removed {
            exp_grid::remove(&mut self.config, &name);
            self.message = Some(Notice::Done(format!("removed {name}")));
        }
    }

    fn add_buttons(&mut self, ui: &mut egui::Ui, viewer: &ViewerState, level: MaskLevel) {
        ui.label(RichText::new("Add").strong());
        ui.horizontal(|ui| {
            ui.add(egui::Slider::new(&mut self.ratio, 0.05..=0.95).text("ratio"));
        });
        super::dashboard::time_controls(ui, "grid-time", &mut self.time, true);
        let time = self.time.mask_time();
        ui.horizontal(|ui| {
            for kind in RatioKind::ALL {
                if ui.button(format!("+ {}", kind.name())).clicked() {
                    let r = exp_grid::add_ratio(&mut self.config, kind, self.ratio, time);
                    self.edited(r);
                }
            }
        });
        ui.horizontal(|ui| {
            ui.checkbox(&mut self.partial_on, "partial ROI");
            let mut pct = self.partial * 100.0;
            if ui
                .add_enabled(
                    self.partial_on,
                    egui::DragValue::new(&mut pct)
                        .range(1.0..=100.0)
                        .suffix(" %"),
                )
                .changed()
            {
                self.partial = pct / 100.0;
            }
        });
        ui.label(RichText::new("lobes as ROI (tick two or more for a combination)").small());
        egui::Grid::new("experiment-lobes").show(ui, |ui| {
            for (k, lobe) in Lobe::ALL.into_iter().enumerate() {
                if ui.button(format!("+ {}", lobe.name())).clicked() {
                    let partial = self.partial();
                    let r = exp_grid::add_lobes(&mut self.config, &[lobe], partial, time);
                    self.edited(r);
                }
                ui.checkbox(&mut self.combination[k], lobe.name());
                if k % 2 == 1 {
                    ui.end_row();
                }
            }
        });
        let picked: Vec<Lobe> = Lobe::ALL
            .into_iter()
            .zip(self.combination)
            .filter_map(|(l, on)| on.then_some(l))
            .collect();
        if ui
            .add_enabled(picked.len() >= 2, egui::Button::new("+ combination"))
            .clicked()
        {
            let partial = self.partial();
            let r = exp_grid::add_lobes(&mut self.config, &picked, partial, time);
            self.edited(r);
            self.combination = [false; 7];
        }
        let n = viewer.selection.len();
        if ui
            .button(format!("+ regions checked in the viewer ({n})"))
            .clicked()
        {
            let sel = viewer
                .selection
                .to_region_selection(&viewer.labels.atlas.regions);
            let partial = self.partial();
            let r = exp_grid::add_regions(&mut self.config, sel, partial, level, time);
            self.edited(r);
        }
    }

    fn settings(&mut self, ui: &mut egui::Ui, root: &Path) {
        let cfg = &mut self.config;
        let mut seeds = cfg.seeds.len() as u64;
        if ui
            .add(
                egui::DragValue::new(&mut seeds)
                    .range(1..=20)
                    .prefix("seeds "),
            )
            .changed()
        {
            exp_grid::set_seed_count(cfg, seeds);
        }
        let mut steps = cfg.pretrain.max_steps.unwrap_or(100);
        if ui
            .add(
                egui::DragValue::new(&mut steps)
                    .range(1..=1_000_000)
                    .prefix("pretraining steps "),
            )
            .changed()
        {
            exp_grid::set_steps(cfg, steps);
        }
        egui::ComboBox::from_label("preset")
            .selected_text(cfg.pretrain.preset.name())
            .show_ui(ui, |ui| {
                for p in Preset::ALL.into_iter().rev() {
                    ui.selectable_value(&mut cfg.pretrain.preset, p, p.name());
                }
            });
        let mut device = cfg.pretrain.device;
        egui::ComboBox::from_label("device")
            .selected_text(device.as_str())
            .show_ui(ui, |ui| {
                for d in DeviceChoice::ALL {
                    ui.selectable_value(&mut device, d, d.as_str());
                }
            });
        cfg.pretrain.device = device;
        cfg.finetune.device = device;
        self.data(ui);
        self.start_point(ui, root);
        self.attribution(ui);
    }

    fn data(&mut self, ui: &mut egui::Ui) {
        let cfg = &mut self.config;
        let synthetic = matches!(cfg.pretrain.data, DataConfig::Synthetic(_));
        ui.horizontal(|ui| {
            ui.label("data");
            if ui.radio(synthetic, "demo synthetic cohort").clicked() && !synthetic {
                exp_grid::use_demo_cohort(cfg, 32);
            }
            if ui.radio(!synthetic, "clip cache…").clicked()
                && let Some(dir) = rfd::FileDialog::new().pick_folder()
            {
                exp_grid::use_cache(cfg, dir);
            }
        });
        match &mut cfg.pretrain.data {
            DataConfig::Synthetic(s) => {
                ui.add(
                    egui::DragValue::new(&mut s.subjects)
                        .range(4..=10_000)
                        .prefix("subjects "),
                );
            }
            DataConfig::Cache { path } => {
                ui.label(RichText::new(path.display().to_string()).small());
            }
        }
    }

    fn start_point(&mut self, ui: &mut egui::Ui, root: &Path) {
        ui.horizontal(|ui| {
            ui.label("start from");
            match &self.start_label {
                Some(l) => {
                    ui.label(RichText::new(l).small());
                    if ui.small_button("fresh weights").clicked() {
                        exp_grid::start_from(&mut self.config, None);
                        self.start_label = None;
                    }
                }
                None => {
                    ui.label("fresh weights");
                }
            }
        });
        if self.pending_import.is_some() {
            ui.horizontal(|ui| {
                ui.spinner();
                ui.label("importing the checkpoint…");
            });
        } else if ui.button("NeuroSTORM checkpoint…").clicked()
            && let Some(file) = rfd::FileDialog::new()
                .add_filter(
                    "NeuroSTORM / PyTorch",
                    &["ckpt", "pt", "pth", "safetensors"],
                )
                .pick_file()
        {
            let ctx = ui.ctx().clone();
            let imports: PathBuf = root.join("imported");
            self.pending_import = Some(PendingImport::start(file, &imports, move || {
                ctx.request_repaint()
            }));
        }
    }

    fn attribution(&mut self, ui: &mut egui::Ui) {
        let cfg = &mut self.config;
        egui::ComboBox::from_label("attribute")
            .selected_text(match cfg.attribute {
                AttributeWhich::None => "no run",
                AttributeWhich::Roi => "ROI runs",
                AttributeWhich::All => "every run",
            })
            .show_ui(ui, |ui| {
                ui.selectable_value(&mut cfg.attribute, AttributeWhich::None, "no run");
                ui.selectable_value(&mut cfg.attribute, AttributeWhich::Roi, "ROI runs");
                ui.selectable_value(&mut cfg.attribute, AttributeWhich::All, "every run");
            });
        ui.horizontal(|ui| {
            for m in [AttrMethod::Occlusion, AttrMethod::Ig] {
                let mut on = cfg.attribute_methods.contains(&m);
                if ui.checkbox(&mut on, m.name()).changed() {
                    cfg.attribute_methods.retain(|x| *x != m);
                    if on {
                        cfg.attribute_methods.push(m);
                        cfg.attribute_methods.sort();
                    }
                }
            }
        });
    }

    fn toml_buttons(&mut self, ui: &mut egui::Ui) {
        ui.horizontal(|ui| {
            if ui.button("Save TOML…").clicked()
                && let Some(path) = rfd::FileDialog::new()
                    .add_filter("TOML", &["toml"])
                    .set_file_name("exp.toml")
                    .save_file()
            {
                self.message = Some(match self.save(&path) {
                    Ok(()) => Notice::Done(format!("saved {}", path.display())),
                    Err(e) => Notice::failed(e),
                });
            }
            if ui.button("Load TOML…").clicked()
                && let Some(path) = rfd::FileDialog::new()
                    .add_filter("TOML", &["toml"])
                    .pick_file()
            {
                self.message = Some(match self.load(&path) {
                    Ok(()) => Notice::Done(format!("loaded {}", path.display())),
                    Err(e) => Notice::failed(e),
                });
            }
            if ui.button("demo grid").clicked() {
                self.config = ExperimentConfig::demo();
                self.start_label = None;
            }
            if ui.button("clear").clicked() {
                self.config.grid = Grid::default();
                self.config.strategies.clear();
            }
        });
    }
}
