//! The attribution page: region scores from `roimae attribute` as a sorted
//! horizontal bar chart of the top regions (with their spread over
//! subjects) and as a brain map with every region painted by its score over
//! the viewer's image, with a colour bar, a threshold, hover naming region
//! and score, and the method printed with the map. When a voxel map sits
//! beside the scores (`ig_voxels.nii.gz` beside `ig_regions.csv`), the views
//! can show it instead: signed values in a symmetric diverging map with the
//! atlas outlines on top. Files are read on a worker thread. The side
//! panel also computes scores of a run folder in the app (Compute:
//! `attribution_compute.rs`, drawn by `attribution_controls.rs`), written
//! where `roimae attribute` writes them.

use super::attribution_compute::AttributionCompute;
use super::attribution_controls::compute_controls;
use super::error::GuiError;
use super::layers::{LabelLayer, ScalarLayer};
use super::notice::Notice;
use super::slice_geometry::{Scene, ViewAxis, WorldBox};
use super::slice_render::{Texels, TextureSource};
use super::slice_view::{DrawLayers, layer_draw, wheel_delta};
use super::state::{DisplaySettings, ViewerState};
use crate::atlas::RegionTable;
use crate::dashboard::attribution::Attribution;
use crate::viewer::{ColorMap, robust_range};
use crate::volume::{Volume, read_volume};
use egui::{Align2, Color32, FontId, Rect, RichText, Sense};
use egui_plot::{Bar, BarChart, Line, Plot, PlotPoints};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc::{Receiver, TryRecvError, channel};

/// A voxel attribution map shown in a symmetric diverging colour map.
pub struct VoxelMap {
    /// The image (its own GPU slot).
    pub layer: ScalarLayer,
    /// Display range is `-limit..limit` (99.5th percentile of |value|).
    pub limit: f32,
    colours: Arc<TextureSource>,
    outlines: LabelLayer,
}

impl VoxelMap {
    /// A map of `volume`, or `None` when it is empty or all zero.
    pub fn new(
        name: &str,
        volume: crate::volume::Volume,
        viewer: &ViewerState,
    ) -> Option<VoxelMap> {
        let abs: Vec<f32> = volume.data.iter().map(|v| v.abs()).collect();
        let (_, limit) = robust_range(&abs, 0.0, 99.5, true)?;
        if !(limit.is_finite() && limit > 0.0) {
            return None;
        }
        let layer = ScalarLayer::with_slot(name, Arc::new(volume), "attribution-voxels")?;
        let lut = ColorMap::RedBlue.lut();
        Some(VoxelMap {
            layer,
            limit,
            colours: TextureSource::new(
                "attribution-voxel-lut",
                [lut.len(), 1, 1],
                Texels::Colours(lut.into()),
            ),
            outlines: LabelLayer::new(viewer.labels.atlas.clone()),
        })
    }
}

/// Attribution page state.
pub struct AttributionPage {
    /// The scores shown.
    pub attribution: Option<Attribution>,
    /// Bars shown.
    pub top_n: usize,
    /// |score| below which regions are not painted.
    pub threshold: f64,
    labels: Option<LabelLayer>,
    scene: Option<Scene>,
    hover: Option<[f64; 3]>,
    /// Where each map view was last laid out (axial, coronal, sagittal).
    pub view_rects: [Option<Rect>; 3],
    /// The voxel map beside the scores, if any.
    pub voxels: Option<VoxelMap>,
    /// Show the voxel map instead of the region-painted scores.
    pub show_voxels: bool,
    /// Last status line.
    pub message: Option<Notice>,
    /// Scores being read on a worker thread.
    loading: Option<Receiver<Result<ScoreFiles, GuiError>>>,
    /// Compute: the run folder, method and the worker.
    pub compute: AttributionCompute,
}

/// What an attribution folder holds for one method, read from disk.
pub struct ScoreFiles {
    /// The region scores (`METHOD_regions.csv`).
    pub attribution: Attribution,
    /// The voxel map beside them (`METHOD_voxels.nii.gz`), named, if any.
    pub voxels: Option<(String, Volume)>,
}

impl ScoreFiles {
    /// Reads `METHOD_regions.csv` and, when present beside it,
    /// `METHOD_voxels.nii.gz`; region names are checked against `table`.
    pub fn read(csv: &Path, table: &RegionTable) -> Result<ScoreFiles, GuiError> {
        let attribution = Attribution::read_csv(csv, table)?;
        let stem = csv
            .file_stem()
            .map_or(String::new(), |s| s.to_string_lossy().into_owned());
        let voxel_path = csv.with_file_name(format!(
            "{}_voxels.nii.gz",
            stem.trim_end_matches("_regions")
        ));
        let voxels = if voxel_path.exists() {
            let name = voxel_path
                .file_name()
                .map_or(String::new(), |n| n.to_string_lossy().into_owned());
            Some((name, read_volume(&voxel_path)?))
        } else {
            None
        };
        Ok(ScoreFiles {
            attribution,
            voxels,
        })
    }
}

impl Default for AttributionPage {
    fn default() -> Self {
        AttributionPage {
            attribution: None,
            top_n: 20,
            threshold: 0.0,
            labels: None,
            scene: None,
            hover: None,
            view_rects: [None; 3],
            voxels: None,
            show_voxels: false,
            message: None,
            loading: None,
            compute: AttributionCompute::default(),
        }
    }
}

impl AttributionPage {
    /// Opens `METHOD_regions.csv` and, when present beside it,
    /// `METHOD_voxels.nii.gz` (shown as a signed voxel map), reading them
    /// now (`roimae render`; the app reads them with
    /// [`AttributionPage::open_in_background`]).
    pub fn open(&mut self, csv: &Path, viewer: &ViewerState) -> Result<(), GuiError> {
        let files = ScoreFiles::read(csv, &viewer.labels.atlas.regions)?;
        self.show_files(files, viewer);
        Ok(())
    }

    /// Starts reading `csv` (and its voxel map) on a worker thread; the
    /// page shows them once read. `wake` repaints the app when done.
    pub fn open_in_background(
        &mut self,
        csv: PathBuf,
        viewer: &ViewerState,
        wake: impl Fn() + Send + 'static,
    ) {
        let (tx, rx) = channel();
        let atlas = viewer.labels.atlas.clone();
        std::thread::spawn(move || {
            let _ = tx.send(ScoreFiles::read(&csv, &atlas.regions));
            wake();
        });
        self.loading = Some(rx);
        self.message = None;
    }

    /// The Training tab's current (or last) run folder, the one Compute
    /// works on; saved scores in it are opened. A folder chosen with
    /// "Choose run folder…" stays until the Training tab starts another run.
    pub fn set_run_dir(&mut self, dir: Option<PathBuf>) {
        self.compute.set_training_run(dir);
    }

    /// Takes what Compute has done: computed scores are shown, and saved
    /// scores of a newly picked run folder start reading in the background.
    pub fn poll_compute(&mut self, viewer: &ViewerState, wake: impl Fn() + Send + 'static) {
        if let Some(files) = self.compute.poll() {
            // Newer than anything still being read.
            self.loading = None;
            self.show_files(files, viewer);
        }
        if let Some(csv) = self.compute.take_open_request() {
            self.open_in_background(csv, viewer, wake);
        }
    }

    /// Whether scores are still being read.
    pub fn is_loading(&self) -> bool {
        self.loading.is_some()
    }

    /// Takes the worker's result once it is there.
    pub fn poll(&mut self, viewer: &ViewerState) {
        let Some(rx) = &self.loading else { return };
        let result = match rx.try_recv() {
            Ok(result) => result,
            Err(TryRecvError::Empty) => return,
            Err(TryRecvError::Disconnected) => Err(GuiError::ReaderStopped),
        };
        self.loading = None;
        match result {
            Ok(files) => self.show_files(files, viewer),
            Err(e) => self.message = Some(Notice::failed(e)),
        }
    }

    /// Shows what was read: the scores, and the voxel map when there is one.
    fn show_files(&mut self, files: ScoreFiles, viewer: &ViewerState) {
        self.set(files.attribution, viewer);
        if let Some((name, volume)) = files.voxels {
            self.voxels = VoxelMap::new(&name, volume, viewer);
            self.show_voxels = self.voxels.is_some();
        }
        self.message = None;
    }

    /// Shows `attribution` (replacing any earlier one and its voxel map).
    pub fn set(&mut self, attribution: Attribution, viewer: &ViewerState) {
        self.voxels = None;
        self.show_voxels = false;
        self.threshold = 0.0;
        self.attribution = Some(attribution);
        self.labels = None;
        self.scene = None;
        self.refresh_lut(viewer);
    }

    /// The screen position of a world point (RAS mm) in one map view, once
    /// the page has been laid out.
    pub fn screen_of(&self, axis: ViewAxis, world: [f64; 3]) -> Option<egui::Pos2> {
        let rect = self.view_rects[axis as usize]?;
        let scene = self.scene.as_ref()?;
        let cam = scene.camera(axis, [rect.width() as f64, rect.height() as f64]);
        let o = cam.offset_of(world);
        let c = rect.center();
        Some(egui::pos2(c.x + o[0] as f32, c.y + o[1] as f32))
    }

    fn refresh_lut(&mut self, viewer: &ViewerState) {
        let Some(a) = &self.attribution else {
            return;
        };
        let layer = self
            .labels
            .get_or_insert_with(|| LabelLayer::new(viewer.labels.atlas.clone()));
        let max_id = layer.palette.keys().max().copied().unwrap_or(0);
        let rows = a.label_colours(max_id, self.threshold);
        layer.lut = TextureSource::new(
            "label-lut",
            [rows.len(), 1, 1],
            Texels::Colours(rows.into()),
        );
    }

    /// Draws the page.
    pub fn show(&mut self, ui: &mut egui::Ui, viewer: &ViewerState) {
        self.poll(viewer);
        let ctx = ui.ctx().clone();
        self.poll_compute(viewer, move || ctx.request_repaint());
        if self.compute.is_running() || self.is_loading() {
            // Progress arrives from the worker; keep drawing it.
            ui.ctx()
                .request_repaint_after(std::time::Duration::from_millis(250));
        }
        let mut threshold_changed = false;
        egui::Panel::left("attribution-chart")
            .resizable(true)
            .default_size(420.0)
            .show(ui, |ui| {
                compute_controls(ui, &mut self.compute, &viewer.labels.atlas);
                ui.separator();
                if ui.button("Open region scores (CSV)…").clicked()
                    && let Some(path) = rfd::FileDialog::new()
                        .add_filter("CSV", &["csv"])
                        .pick_file()
                {
                    let ctx = ui.ctx().clone();
                    self.open_in_background(path, viewer, move || ctx.request_repaint());
                }
                if self.is_loading() {
                    ui.spinner();
                }
                if let Some(m) = &self.message {
                    ui.label(m.rich_text());
                }
                let Some(a) = &self.attribution else {
                    ui.label(
                        "Compute the scores of a run above, or open a CSV written by `roimae attribute --run RUN_DIR`.",
                    );
                    return;
                };
                ui.label(RichText::new(&a.description).strong());
                if let Some(v) = &self.voxels {
                    ui.horizontal(|ui| {
                        ui.label("map:");
                        ui.radio_value(&mut self.show_voxels, false, "region scores");
                        ui.radio_value(&mut self.show_voxels, true, "voxel map (signed)")
                            .on_hover_text(v.layer.name.clone());
                    });
                }
                ui.add(egui::Slider::new(&mut self.top_n, 5..=60).text("regions shown"));
                let (_, hi) = a.range();
                threshold_changed = ui
                    .add(
                        egui::Slider::new(&mut self.threshold, 0.0..=hi)
                            .text("paint threshold |score|"),
                    )
                    .changed();
                bar_chart(ui, a, self.top_n);
            });
        if threshold_changed {
            self.refresh_lut(viewer);
        }
        egui::CentralPanel::no_frame().show(ui, |ui| self.maps(ui, viewer));
    }

    /// Draws the three map views and the legend into the ui's max rect
    /// (the Training tab's live region-error map uses it too).
    pub fn maps(&mut self, ui: &mut egui::Ui, viewer: &ViewerState) {
        let (Some(a), Some(labels)) = (&self.attribution, &self.labels) else {
            return;
        };
        let scene = self.scene.get_or_insert_with(|| {
            let mut scene = Scene::new(WorldBox::of_grid(&viewer.underlay.volume.grid));
            scene.set_crosshair(viewer.scene.crosshair);
            scene.radiological = viewer.scene.radiological;
            scene
        });
        let cells = quad_cells(ui.max_rect());
        let voxels = self.voxels.as_ref().filter(|_| self.show_voxels);
        let display = map_display(voxels, viewer);
        let layers = match voxels {
            Some(v) => MapLayers {
                underlay: &v.layer,
                labels: &v.outlines,
                display: &display,
                colour_map: v.colours.clone(),
            },
            None => MapLayers {
                underlay: &viewer.underlay,
                labels,
                display: &display,
                colour_map: grey_texture(),
            },
        };
        let mut hovered = None;
        for (i, axis) in ViewAxis::ALL.into_iter().enumerate() {
            self.view_rects[i] = Some(cells[i]);
            if let Some(world) = map_view(ui, scene, axis, cells[i], i, &layers, viewer) {
                hovered = Some(world);
            }
        }
        self.hover = hovered;
        let legend = Legend {
            attribution: a,
            voxels,
            labels: layers.labels,
            hover: self.hover,
            threshold: self.threshold,
        };
        legend.show(ui, cells[3], viewer);
    }
}

/// The 2 × 2 cells of the map area: three views and the legend.
fn quad_cells(full: Rect) -> [Rect; 4] {
    let w = (full.width() - 4.0) / 2.0;
    let h = (full.height() - 4.0) / 2.0;
    std::array::from_fn(|i| {
        Rect::from_min_size(
            full.min + egui::vec2((i % 2) as f32 * (w + 4.0), (i / 2) as f32 * (h + 4.0)),
            egui::vec2(w, h),
        )
    })
}

/// How the maps are drawn: the voxel map in a symmetric diverging range,
/// or the region-painted scores over the viewer's image.
fn map_display(voxels: Option<&VoxelMap>, viewer: &ViewerState) -> DisplaySettings {
    match voxels {
        Some(v) => DisplaySettings {
            colour_map: ColorMap::RedBlue,
            range: (-v.limit, v.limit),
            label_opacity: 0.6,
            fill_unmasked: false,
            crosshair_shown: false,
            ..viewer.display.clone()
        },
        None => DisplaySettings {
            label_opacity: 0.9,
            crosshair_shown: false,
            ..viewer.display.clone()
        },
    }
}

/// What every map view draws.
struct MapLayers<'a> {
    underlay: &'a ScalarLayer,
    labels: &'a LabelLayer,
    display: &'a DisplaySettings,
    colour_map: Arc<TextureSource>,
}

/// One map view: wheel steps the slice, a click moves the crosshair, then
/// the view is drawn with its edge letters. Returns the hovered world point.
fn map_view(
    ui: &mut egui::Ui,
    scene: &mut Scene,
    axis: ViewAxis,
    rect: Rect,
    index: usize,
    layers: &MapLayers,
    viewer: &ViewerState,
) -> Option<[f64; 3]> {
    let size = [rect.width() as f64, rect.height() as f64];
    let response = ui.interact(rect, ui.scope_id().with(("attr", index)), Sense::click());
    let c = rect.center();
    let mut hovered = None;
    if let Some(p) = response.hover_pos() {
        let cam = scene.camera(axis, size);
        hovered = Some(cam.world_at([(p.x - c.x) as f64, (p.y - c.y) as f64]));
        let wheel = wheel_delta(ui);
        if wheel != 0.0 {
            scene.step_slice(axis, wheel.signum() as f64, viewer.slice_step());
        }
    }
    if response.clicked()
        && let Some(p) = response.interact_pointer_pos()
    {
        let mut world = scene
            .camera(axis, size)
            .world_at([(p.x - c.x) as f64, (p.y - c.y) as f64]);
        world[axis.normal()] = scene.crosshair[axis.normal()];
        scene.set_crosshair(world);
    }
    let cam = scene.camera(axis, size);
    let draw_layers = DrawLayers {
        underlay: layers.underlay,
        labels: layers.labels,
        display: layers.display,
        colour_map: &layers.colour_map,
        hovered: 0,
        crosshair: scene.crosshair,
    };
    let draw = layer_draw(ui, &cam, rect, &draw_layers, 200 + index as u64);
    ui.painter()
        .add(egui_wgpu::Callback::new_paint_callback(rect, draw));
    edge_letters(ui, rect, &axis.edge_letters(scene.radiological));
    hovered
}

/// The orientation letters at a view's left and right edges.
fn edge_letters(ui: &egui::Ui, rect: Rect, letters: &[&str]) {
    let font = FontId::proportional(14.0);
    let yellow = Color32::from_rgb(240, 220, 80);
    ui.painter().text(
        rect.left_center() + egui::vec2(5.0, 0.0),
        Align2::LEFT_CENTER,
        letters[0],
        font.clone(),
        yellow,
    );
    ui.painter().text(
        rect.right_center() - egui::vec2(5.0, 0.0),
        Align2::RIGHT_CENTER,
        letters[1],
        font,
        yellow,
    );
}

/// The legend cell: colour bar with its range, the method, what is painted,
/// and the hovered region (and voxel value).
struct Legend<'a> {
    attribution: &'a Attribution,
    voxels: Option<&'a VoxelMap>,
    labels: &'a LabelLayer,
    hover: Option<[f64; 3]>,
    threshold: f64,
}

impl Legend<'_> {
    fn show(&self, ui: &mut egui::Ui, cell: Rect, viewer: &ViewerState) {
        let a = self.attribution;
        let bar = Rect::from_min_size(
            cell.min + egui::vec2(10.0, 12.0),
            egui::vec2((cell.width() - 20.0).clamp(80.0, 300.0), 14.0),
        );
        let map = if self.voxels.is_some() {
            ColorMap::RedBlue
        } else {
            a.colour_map()
        };
        for k in 0..128 {
            let x0 = bar.left() + bar.width() * k as f32 / 128.0;
            let r = Rect::from_min_max(
                egui::pos2(x0, bar.top()),
                egui::pos2(x0 + bar.width() / 128.0 + 0.5, bar.bottom()),
            );
            let [cr, cg, cb, _] = map.sample(k as f32 / 127.0);
            ui.painter()
                .rect_filled(r, 0.0, Color32::from_rgb(cr, cg, cb));
        }
        let (lo, hi) = match self.voxels {
            Some(v) => (-v.limit as f64, v.limit as f64),
            None => a.range(),
        };
        let small = FontId::proportional(12.0);
        let grey = Color32::from_gray(210);
        ui.painter().text(
            bar.left_bottom() + egui::vec2(0.0, 3.0),
            Align2::LEFT_TOP,
            fmt_score(lo),
            small.clone(),
            grey,
        );
        ui.painter().text(
            bar.right_bottom() + egui::vec2(0.0, 3.0),
            Align2::RIGHT_TOP,
            fmt_score(hi),
            small,
            grey,
        );
        let text_rect = Rect::from_min_max(
            bar.left_bottom() + egui::vec2(0.0, 24.0),
            cell.right_bottom(),
        );
        let mut text_ui = ui.new_child(egui::UiBuilder::new().max_rect(text_rect));
        text_ui.label(RichText::new(&a.description).color(grey).size(12.0));
        text_ui.label(RichText::new(self.paint_line()).color(grey).size(12.0));
        text_ui.add_space(6.0);
        text_ui.label(RichText::new(self.hover_text(viewer)).strong());
        if let Some(t) = self.voxel_text() {
            text_ui.label(RichText::new(t).strong());
        }
    }

    /// What the views paint.
    fn paint_line(&self) -> String {
        match self.voxels {
            Some(v) => format!(
                "{}: signed voxel values, colour range ±{} (99.5th percentile of |value|); outlines = AAL3",
                v.layer.name,
                fmt_score(v.limit as f64)
            ),
            None => format!("painted where |score| ≥ {}", fmt_score(self.threshold)),
        }
    }

    /// The hovered region and its score.
    fn hover_text(&self, viewer: &ViewerState) -> String {
        self.hover
            .map(|w| self.labels.label_at(w))
            .and_then(|id| {
                let r = viewer.labels.atlas.regions.get(id)?;
                Some(match self.attribution.score_of(id) {
                    Some(s) if s.spread > 0.0 => format!(
                        "{} ({}): score {} ± {}",
                        r.name,
                        r.group.name(),
                        fmt_score(s.score),
                        fmt_score(s.spread)
                    ),
                    Some(s) => format!(
                        "{} ({}): score {}",
                        r.name,
                        r.group.name(),
                        fmt_score(s.score)
                    ),
                    None => format!("{} ({}): not scored", r.name, r.group.name()),
                })
            })
            .unwrap_or_else(|| "hover a region".into())
    }

    /// The voxel map's value under the pointer.
    fn voxel_text(&self) -> Option<String> {
        let (v, w) = self.voxels.zip(self.hover)?;
        let ijk = v.layer.voxel_at(w)?;
        Some(format!(
            "voxel value {}",
            fmt_score(v.layer.value(ijk)? as f64)
        ))
    }
}

/// A score with 4 significant digits, in scientific notation when tiny.
pub fn fmt_score(v: f64) -> String {
    if v != 0.0 && v.abs() < 1e-3 {
        format!("{v:.3e}")
    } else {
        format!("{v:.4}")
    }
}

fn grey_texture() -> Arc<TextureSource> {
    thread_local! {
        static GREY: Arc<TextureSource> = {
            let lut = crate::viewer::ColorMap::Gray.lut();
            TextureSource::new("colour-map-attr", [lut.len(), 1, 1], Texels::Colours(lut.into()))
        };
    }
    GREY.with(|g| g.clone())
}

/// Horizontal bars of the top regions, largest at the top, with the spread
/// drawn as a line through each bar's end.
fn bar_chart(ui: &mut egui::Ui, a: &Attribution, n: usize) {
    let top = a.top(n);
    let count = top.len();
    let bars: Vec<Bar> = top
        .iter()
        .enumerate()
        .map(|(i, s)| {
            Bar::new((count - i) as f64, s.score)
                .name(format!("{} ({})", s.name, s.lobe))
                .width(0.7)
        })
        .collect();
    let names: Vec<String> = top.iter().map(|s| s.name.clone()).collect();
    let spreads: Vec<(f64, f64, f64)> = top
        .iter()
        .enumerate()
        .map(|(i, s)| ((count - i) as f64, s.score - s.spread, s.score + s.spread))
        .collect();
    Plot::new("attribution-bars")
        .height(ui.available_height().max(200.0))
        .x_axis_label("score")
        .y_axis_formatter(move |mark, _| {
            let i = mark.value.round() as usize;
            if (mark.value - i as f64).abs() < 1e-6 && i >= 1 && i <= count {
                names[count - i].clone()
            } else {
                String::new()
            }
        })
        .show_axes([true, true])
        .allow_scroll(false)
        .show(ui, |plot| {
            plot.bar_chart(
                BarChart::new("score", bars)
                    .horizontal()
                    .color(Color32::from_rgb(240, 140, 60)),
            );
            for (y, lo, hi) in spreads {
                plot.line(
                    Line::new("spread", PlotPoints::from(vec![[lo, y], [hi, y]]))
                        .color(Color32::from_gray(230))
                        .width(1.5),
                );
            }
        });
}
