//! The viewer application: composes the panels around the three linked
//! views, runs background loading, keys, movie mode and drag-and-drop. The
//! same [`ViewerApp::show`] runs in the eframe window, in kittest tests and
//! in the headless `roimae render`.

use super::attribution_page::AttributionPage;
use super::dashboard::Dashboard;
use super::error::GuiError;
use super::experiment_page::ExperimentPage;
use super::keys::{MOUSE, SHORTCUTS, handle_keys};
use super::location_bar::location_bar;
use super::notice::Notice;
use super::region_panel::region_panel;
use super::side_panels::{display_controls, mask_summary};
use super::slice_geometry::ViewAxis;
use super::slice_render::{SliceRenderer, Texels, TextureSource};
use super::slice_view::{ViewTextures, slice_view};
use super::state::ViewerState;
use super::timecourse_panel::{Movie, timecourse_plot, volume_controls};
use crate::atlas::Atlas;
use crate::data::GridChoice;
use crate::masking::MaskLevel;
use crate::viewer::{
    ColorMap, LoadEvent, MaskSelection, RegionCounts, VolumeLoader, demo_subject, space_warning,
};
use crate::volume::Volume;
use egui::{Color32, Rect, RichText};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

/// What the viewer opens on.
#[derive(Debug, Clone, Default)]
pub struct Startup {
    /// A NIfTI file to load (in the background); the template otherwise.
    pub file: Option<PathBuf>,
    /// Open the synthetic demo subject (4D) instead of the template.
    pub demo_subject: bool,
    /// Regions masked at start (AAL3 names or lobe names).
    pub regions: Vec<String>,
    /// Crosshair at start (world mm).
    pub crosshair: Option<[f64; 3]>,
}

/// Progress of a background load.
#[derive(Debug, Clone)]
struct Loading {
    path: PathBuf,
    shape: [usize; 4],
    bytes: u64,
    fraction: f32,
}

/// The application.
pub struct ViewerApp {
    /// Everything shown.
    pub state: ViewerState,
    /// Colour map texture (rebuilt when the map changes).
    textures: ViewTextures,
    colour_map: ColorMap,
    /// Movie mode.
    pub movie: Movie,
    /// Token or voxel level for the saved mask.
    pub level: MaskLevel,
    loader: Option<VolumeLoader>,
    loading: Option<Loading>,
    /// Last status line (done, working or an error), shown in the top bar.
    pub message: Option<Notice>,
    /// The help overlay is open.
    pub help_open: bool,
    gpu_ready: bool,
    /// Where each view was laid out last frame (for tests and picking).
    pub view_rects: [Option<Rect>; 3],
    last_frame: Option<Instant>,
    /// Which page is shown.
    pub mode: Mode,
    /// The training dashboard.
    pub dashboard: Dashboard,
    /// The attribution page.
    pub attribution: AttributionPage,
    /// The experiment page.
    pub experiment: ExperimentPage,
}

/// The app's two pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// Slices, atlas and the region panel.
    #[default]
    Viewer,
    /// Pretraining: set-up, curves, reconstructions.
    Training,
    /// Region attribution: ranked scores and the painted brain map.
    Attribution,
    /// A finished experiment: the masked-MSE vs AUROC figure and verdicts.
    Experiment,
}

impl ViewerApp {
    /// Builds the viewer; installs the slice pipeline when a wgpu render
    /// state is given (without one the views show a notice instead).
    pub fn new(
        startup: &Startup,
        render_state: Option<&egui_wgpu::RenderState>,
        wake: Option<egui::Context>,
    ) -> Result<ViewerApp, GuiError> {
        if let Some(rs) = render_state {
            SliceRenderer::install(rs);
        }
        let atlas = Arc::new(Atlas::aal3()?);
        let counts = Arc::new(RegionCounts::compute(&atlas, GridChoice::Mni2mm));
        let (name, volume) = if startup.demo_subject {
            demo_subject(&atlas)
        } else {
            let t1 = crate::assets::mni152_t1()?;
            ("MNI152 2009a T1 template (1 mm)".to_string(), Arc::new(t1))
        };
        let mut state = ViewerState::new(&name, volume, atlas.clone(), counts)?;
        state.set_selection(MaskSelection::from_names(&startup.regions, &atlas.regions)?);
        if let Some(c) = startup.crosshair {
            state.scene.set_crosshair(c);
        }
        let colour_map = state.display.colour_map;
        let mut app = ViewerApp {
            state,
            textures: ViewTextures {
                colour_map: colour_map_texture(colour_map),
            },
            colour_map,
            movie: Movie::default(),
            level: MaskLevel::Token,
            loader: None,
            loading: None,
            message: None,
            help_open: false,
            gpu_ready: render_state.is_some(),
            view_rects: [None; 3],
            last_frame: None,
            mode: Mode::Viewer,
            dashboard: Dashboard::default(),
            attribution: AttributionPage::default(),
            experiment: ExperimentPage::default(),
        };
        if let Some(path) = &startup.file {
            app.open(path.clone(), wake);
        }
        Ok(app)
    }

    /// Starts loading `path` in the background.
    pub fn open(&mut self, path: PathBuf, wake: Option<egui::Context>) {
        let wake_fn = move || {
            if let Some(ctx) = &wake {
                ctx.request_repaint();
            }
        };
        self.loader = Some(VolumeLoader::start(path.clone(), wake_fn));
        self.loading = Some(Loading {
            path,
            shape: [0; 4],
            bytes: 0,
            fraction: 0.0,
        });
    }

    /// True while a file is being decoded.
    pub fn is_loading(&self) -> bool {
        self.loader.is_some()
    }

    /// Applies the loader's events.
    fn poll_loader(&mut self) {
        let Some(loader) = &self.loader else {
            return;
        };
        let events = loader.poll();
        let name = loader
            .path()
            .file_name()
            .map_or("image".to_string(), |n| n.to_string_lossy().into_owned());
        for event in events {
            match event {
                LoadEvent::Started { path, shape, bytes } => {
                    self.loading = Some(Loading {
                        path,
                        shape,
                        bytes,
                        fraction: 0.0,
                    });
                }
                LoadEvent::Progress { done, total } => {
                    if let Some(l) = &mut self.loading {
                        l.fraction = done as f32 / total.max(1) as f32;
                    }
                }
                LoadEvent::FirstFrame(volume) => self.show_volume(&name, volume),
                LoadEvent::Finished(volume) => {
                    self.show_volume(&name, volume);
                    self.loader = None;
                    self.loading = None;
                    self.message = Some(Notice::Done(format!("opened {name}")));
                }
                LoadEvent::Failed(e) => {
                    self.loader = None;
                    self.loading = None;
                    self.message = Some(Notice::failed(e));
                }
            }
        }
    }

    fn show_volume(&mut self, name: &str, volume: Volume) {
        let frame = self.state.underlay.frame;
        if let Err(e) = self.state.set_underlay(name, Arc::new(volume)) {
            self.message = Some(Notice::failed(e));
        }
        self.state.set_frame(frame);
    }

    /// Draws one frame of the whole viewer into `ui`.
    pub fn show(&mut self, ui: &mut egui::Ui) {
        let ctx = ui.ctx().clone();
        self.poll_loader();
        let now = Instant::now();
        if let Some(last) = self.last_frame {
            let steps = self.movie.advance(now.duration_since(last).as_secs_f32());
            if steps != 0 {
                self.state.step_frame(steps);
            }
        }
        self.last_frame = Some(now);
        if self.movie.playing || self.loader.is_some() {
            ctx.request_repaint();
        }
        if self.mode == Mode::Viewer && handle_keys(&ctx, &mut self.state, &mut self.movie) {
            self.help_open = !self.help_open;
        }
        let dropped: Vec<PathBuf> = ctx.input(|i| {
            i.raw
                .dropped_files
                .iter()
                .map(|f| f.path().to_path_buf())
                .filter(|p| !p.as_os_str().is_empty())
                .collect()
        });
        if let Some(path) = dropped.into_iter().next() {
            self.open(path, Some(ctx.clone()));
        }

        egui::Panel::top("menu").show(ui, |ui| self.top_bar(ui));
        if self.mode == Mode::Training {
            self.dashboard.show(ui, &self.state, self.level);
            return;
        }
        self.dashboard.poll();
        if self.mode == Mode::Attribution {
            self.attribution
                .set_run_dir(self.dashboard.session.run_dir.clone());
            self.attribution.show(ui, &self.state);
            return;
        }
        if self.mode == Mode::Experiment {
            self.experiment.show(ui, &self.state, self.level);
            return;
        }
        self.experiment.poll();
        egui::Panel::bottom("time")
            .resizable(true)
            .default_size(210.0)
            .show(ui, |ui| {
                location_bar(ui, &self.state);
                volume_controls(ui, &mut self.state, &mut self.movie);
                let mut msg = None;
                timecourse_plot(ui, &mut self.state, &mut msg);
                if msg.is_some() {
                    self.message = msg;
                }
            });
        egui::Panel::left("regions")
            .resizable(true)
            .default_size(300.0)
            .show(ui, |ui| region_panel(ui, &mut self.state));
        egui::Panel::right("display")
            .resizable(true)
            .default_size(250.0)
            .show(ui, |ui| {
                if display_controls(ui, &mut self.state) {
                    self.colour_map_changed();
                }
                ui.separator();
                if let Some(m) = mask_summary(ui, &mut self.state, &mut self.level) {
                    self.message = Some(m);
                }
                ui.separator();
                self.image_info(ui);
            });
        egui::CentralPanel::no_frame().show(ui, |ui| self.views(ui));
        if self.help_open {
            self.help_window(&ctx);
        }
    }

    fn colour_map_changed(&mut self) {
        if self.colour_map != self.state.display.colour_map {
            self.colour_map = self.state.display.colour_map;
            self.textures.colour_map = colour_map_texture(self.colour_map);
        }
    }

    fn top_bar(&mut self, ui: &mut egui::Ui) {
        egui::MenuBar::new().ui(ui, |ui| {
            ui.selectable_value(
                &mut self.mode,
                Mode::Viewer,
                RichText::new("Viewer").strong(),
            );
            let training = if self.dashboard.is_running() {
                "Training (running)"
            } else {
                "Training"
            };
            ui.selectable_value(
                &mut self.mode,
                Mode::Training,
                RichText::new(training).strong(),
            );
            ui.selectable_value(
                &mut self.mode,
                Mode::Attribution,
                RichText::new("Attribution").strong(),
            );
            let experiment = if self.experiment.is_running() {
                "Experiment (running)"
            } else {
                "Experiment"
            };
            ui.selectable_value(
                &mut self.mode,
                Mode::Experiment,
                RichText::new(experiment).strong(),
            );
            ui.separator();
            ui.menu_button("File", |ui| {
                if ui.button("Open NIfTI…").clicked() {
                    if let Some(path) = rfd::FileDialog::new()
                        .add_filter("NIfTI", &["nii", "gz", "hdr"])
                        .pick_file()
                    {
                        self.open(path, Some(ui.ctx().clone()));
                    }
                    ui.close();
                }
                if ui.button("Open NeuroSTORM checkpoint…").clicked() {
                    if let Some(path) = rfd::FileDialog::new()
                        .add_filter(
                            "NeuroSTORM / PyTorch",
                            &["ckpt", "pt", "pth", "safetensors"],
                        )
                        .pick_file()
                    {
                        self.dashboard.open_checkpoint(path, Some(ui.ctx().clone()));
                        self.mode = Mode::Training;
                    }
                    ui.close();
                }
                if ui.button("Demo subject (synthetic 4D)").clicked() {
                    let (name, volume) = demo_subject(&self.state.labels.atlas);
                    if let Err(e) = self.state.set_underlay(&name, volume) {
                        self.message = Some(Notice::failed(e));
                    }
                    ui.close();
                }
                if ui.button("MNI152 template").clicked() {
                    match crate::assets::mni152_t1() {
                        Ok(t1) => self.show_volume("MNI152 2009a T1 template (1 mm)", t1),
                        Err(e) => self.message = Some(Notice::failed(e)),
                    }
                    ui.close();
                }
            });
            ui.menu_button("View", |ui| {
                ui.checkbox(&mut self.state.scene.radiological, "Radiological (o)");
                if ui.button("Reset view (r)").clicked() {
                    self.state.scene.reset();
                    ui.close();
                }
                if ui.button("Keys and mouse (?)").clicked() {
                    self.help_open = true;
                    ui.close();
                }
            });
            ui.separator();
            ui.label(RichText::new(&self.state.underlay.name).strong());
            if let Some(l) = &self.loading {
                ui.separator();
                let [x, y, z, t] = l.shape;
                ui.label(format!(
                    "loading {} ({x}×{y}×{z}×{t}, {:.0} MB)",
                    l.path.display(),
                    l.bytes as f64 / 1e6
                ));
                ui.add(
                    egui::ProgressBar::new(l.fraction)
                        .desired_width(160.0)
                        .show_percentage(),
                );
            }
            if let Some(m) = &self.message {
                ui.separator();
                ui.label(m.rich_text());
                if ui.small_button("x").clicked() {
                    self.message = None;
                }
            }
        });
    }

    fn views(&mut self, ui: &mut egui::Ui) {
        let full = ui.max_rect();
        if !self.gpu_ready {
            ui.centered_and_justified(|ui| {
                ui.label("The slice views need the wgpu renderer, which is not available here.");
            });
            return;
        }
        let gap = 2.0;
        let w = (full.width() - gap) / 2.0;
        let h = (full.height() - gap) / 2.0;
        let cell = |col: f32, row: f32| {
            Rect::from_min_size(
                full.min + egui::vec2(col * (w + gap), row * (h + gap)),
                egui::vec2(w, h),
            )
        };
        let cells = [cell(0.0, 0.0), cell(1.0, 0.0), cell(0.0, 1.0)];
        for (axis, rect) in ViewAxis::ALL.into_iter().zip(cells) {
            self.view_rects[axis as usize] = Some(rect);
            slice_view(ui, &mut self.state, axis, rect, &self.textures);
        }
        let info = cell(1.0, 1.0);
        ui.painter().rect_filled(info, 0.0, Color32::from_gray(12));
        let mut child = ui.new_child(egui::UiBuilder::new().max_rect(info.shrink(10.0)));
        self.legend(&mut child);
    }

    fn legend(&self, ui: &mut egui::Ui) {
        let s = &self.state;
        ui.label(RichText::new("AAL3 masking").strong());
        let hovered = s.hovered_region();
        match s.labels.atlas.regions.get(hovered) {
            Some(r) => {
                let masked = if s.selection.contains(r.id) {
                    "masked"
                } else {
                    "not masked"
                };
                ui.label(
                    RichText::new(format!("{} — {} ({masked})", r.name, r.group.name())).size(16.0),
                );
            }
            None => {
                ui.label("Hover a region to name it; click to mask it.");
            }
        }
        ui.label(format!(
            "{} regions masked · {:.1} % of brain voxels · {} tokens",
            s.summary.regions,
            100.0 * s.summary.brain_fraction,
            s.summary.masked_tokens
        ));
        colour_bar(ui, s.display.colour_map, s.display.range);
        ui.label(
            RichText::new(
                "filled = masked, outline = not masked, white = under the mouse · ? for keys",
            )
            .small()
            .weak(),
        );
    }

    fn image_info(&self, ui: &mut egui::Ui) {
        let v = &self.state.underlay.volume;
        ui.heading("Image");
        let [x, y, z] = v.grid.dims;
        let vox = v.grid.voxel_sizes();
        ui.label(format!("{x}×{y}×{z}×{} voxels", v.frames));
        ui.label(format!(
            "{:.2}×{:.2}×{:.2} mm, {}",
            vox[0],
            vox[1],
            vox[2],
            v.orientation()
        ));
        if let Some(tr) = v.meta.tr {
            ui.label(format!("TR {tr:.3} s"));
        }
        let warn = Color32::from_rgb(255, 170, 60);
        if let Some(w) = v.sform_qform_warning() {
            ui.label(RichText::new(w).color(warn));
        }
        if let Some(w) = space_warning(v.meta.sform_code, v.meta.qform_code) {
            ui.label(RichText::new(w).color(warn));
        }
    }

    fn help_window(&mut self, ctx: &egui::Context) {
        let mut open = true;
        egui::Window::new("Keys and mouse")
            .open(&mut open)
            .collapsible(false)
            .anchor(egui::Align2::CENTER_CENTER, egui::Vec2::ZERO)
            .show(ctx, |ui| {
                egui::Grid::new("keys").striped(true).show(ui, |ui| {
                    for (key, _, what) in SHORTCUTS {
                        ui.monospace(key.name());
                        ui.label(what);
                        ui.end_row();
                    }
                    for (gesture, what) in MOUSE {
                        ui.monospace(gesture);
                        ui.label(what);
                        ui.end_row();
                    }
                });
            });
        if !open || ctx.input(|i| i.key_pressed(egui::Key::Escape)) {
            self.help_open = false;
        }
    }
}

impl eframe::App for ViewerApp {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        self.show(ui);
    }
}

/// A horizontal colour bar of `map` labelled with the display range.
fn colour_bar(ui: &mut egui::Ui, map: ColorMap, range: (f32, f32)) {
    let width = ui.available_width().min(320.0);
    let (rect, _) = ui.allocate_exact_size(egui::vec2(width, 14.0), egui::Sense::hover());
    let lut = map.lut();
    let n = lut.len();
    for (i, c) in lut.iter().enumerate() {
        let x0 = rect.left() + rect.width() * i as f32 / n as f32;
        let x1 = rect.left() + rect.width() * (i + 1) as f32 / n as f32;
        let r = Rect::from_min_max(
            egui::pos2(x0, rect.top()),
            egui::pos2(x1 + 0.5, rect.bottom()),
        );
        ui.painter()
            .rect_filled(r, 0.0, Color32::from_rgb(c[0], c[1], c[2]));
    }
    ui.horizontal(|ui| {
        ui.set_width(width);
        ui.label(RichText::new(format!("{:.4}", range.0)).small());
        ui.with_layout(egui::Layout::right_to_left(egui::Align::Center), |ui| {
            ui.label(RichText::new(format!("{:.4}", range.1)).small());
        });
    });
}

/// The colour map as a lookup texture.
fn colour_map_texture(map: ColorMap) -> Arc<TextureSource> {
    let lut = map.lut();
    TextureSource::new("colour-map", [lut.len(), 1, 1], Texels::Colours(lut.into()))
}
