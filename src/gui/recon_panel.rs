//! Reconstruction inspection where the loss is: original / masked input /
//! reconstruction / |error| of a validation clip side by side, one slice
//! orientation, one synced crosshair and zoom, ONE shared display range for
//! the three intensity panels (the error panel uses a hot map from 0), the
//! outline of the masked tokens on every panel, a frame slider and NIfTI
//! export of the reconstruction. The reconstruction panel shows the
//! composite by default (the original outside the masked tokens, the
//! reconstruction inside: unmasked tokens are never trained), and |error|
//! with its colour range is restricted to masked voxels by default.

use super::error::GuiError;
use super::layers::{LabelLayer, ScalarLayer};
use super::mask_outline::{Segment, mask_edges, paint_edges};
use super::notice::Notice;
use super::slice_geometry::{Scene, ViewAxis, WorldBox};
use super::slice_render::{Texels, TextureSource};
use super::slice_view::{DrawLayers, layer_draw, wheel_delta};
use super::state::DisplaySettings;
use crate::train::Preview;
use crate::viewer::{ColorMap, robust_range};
use crate::volume::{Volume, write_volume};
use egui::{Align2, Color32, FontId, Rect, Sense};
use std::sync::Arc;

/// What the third panel shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ReconMode {
    /// The original outside the masked tokens, the reconstruction inside.
    #[default]
    Composite,
    /// The model's output everywhere (unmasked tokens were never trained).
    Raw,
}

/// The volumes of one preview, in the order of [`SLOTS`].
const ORIGINAL: usize = 0;
const MASKED: usize = 1;
const COMPOSITE: usize = 2;
const RAW: usize = 3;
const ERROR_MASKED: usize = 4;
const ERROR_ALL: usize = 5;
const SLOTS: [&str; 6] = [
    "recon-original",
    "recon-masked",
    "recon-composite",
    "recon-output",
    "recon-error-masked",
    "recon-error",
];

/// The four panels of one preview.
pub struct ReconView {
    /// Training step of the preview.
    pub step: usize,
    layers: Vec<ScalarLayer>,
    mask: Arc<Volume>,
    /// Shared crosshair/zoom/pan.
    pub scene: Scene,
    /// Orientation of all four panels.
    pub axis: ViewAxis,
    /// What the reconstruction panel shows.
    pub mode: ReconMode,
    /// |error| (and its colour range) only at masked voxels.
    pub error_masked_only: bool,
    /// Draw the outline of the masked tokens.
    pub outline: bool,
    /// Shared display settings of the intensity panels.
    pub display: DisplaySettings,
    error_display: DisplaySettings,
    error_all_display: DisplaySettings,
    grey: Arc<TextureSource>,
    hot: Arc<TextureSource>,
    hover: Option<[f64; 3]>,
    /// Where each panel was last laid out.
    pub panel_rects: [Option<Rect>; 4],
}

fn lut_texture(map: ColorMap) -> Arc<TextureSource> {
    let lut = map.lut();
    TextureSource::new("recon-lut", [lut.len(), 1, 1], Texels::Colours(lut.into()))
}

/// |a - b| voxel by voxel.
pub fn abs_error(a: &Volume, b: &Volume) -> Volume {
    let data = a
        .data
        .iter()
        .zip(&b.data)
        .map(|(x, y)| (x - y).abs())
        .collect();
    Volume::from_data(a.grid, a.frames, data, a.meta.clone())
}

/// `inside` where `mask` is set, `outside` elsewhere, voxel by voxel.
pub fn blend(mask: &Volume, inside: &Volume, outside: &Volume) -> Volume {
    let data = mask
        .data
        .iter()
        .zip(inside.data.iter().zip(&outside.data))
        .map(|(&m, (&a, &b))| if m > 0.5 { a } else { b })
        .collect();
    Volume::from_data(outside.grid, outside.frames, data, outside.meta.clone())
}

impl ReconView {
    /// The panels of `preview`, or an error when its volumes disagree.
    pub fn new(preview: &Preview) -> Result<ReconView, GuiError> {
        let volumes = [
            &preview.original,
            &preview.masked,
            &preview.reconstruction,
            &preview.mask,
        ];
        if volumes
            .iter()
            .any(|v| v.data.len() != preview.original.data.len())
        {
            return Err(GuiError::PreviewMismatch);
        }
        let error = abs_error(&preview.reconstruction, &preview.original);
        let zero = Volume::from_data(
            error.grid,
            error.frames,
            vec![0.0; error.data.len()],
            error.meta.clone(),
        );
        let all = [
            preview.original.clone(),
            preview.masked.clone(),
            blend(&preview.mask, &preview.reconstruction, &preview.original),
            preview.reconstruction.clone(),
            blend(&preview.mask, &error, &zero),
            error,
        ];
        let mut layers = Vec::new();
        for (v, slot) in all.into_iter().zip(SLOTS) {
            let mut layer = ScalarLayer::with_slot(slot, Arc::new(v), slot).ok_or_else(|| {
                GuiError::SingularAffine {
                    name: format!("the preview's {slot} volume"),
                }
            })?;
            layer.set_frame(preview.frame);
            layers.push(layer);
        }
        let range = robust_range(preview.original.frame(layers[0].frame), 1.0, 99.0, false)
            .unwrap_or((0.0, 1.0));
        let display = DisplaySettings {
            range,
            label_opacity: 0.8,
            trilinear: false,
            labels_shown: false,
            ..Default::default()
        };
        let half_span = (range.1 - range.0).max(1e-6) / 2.0;
        let error_all_display = DisplaySettings {
            range: (0.0, half_span),
            ..display.clone()
        };
        // The masked errors' own range: zeros outside the mask are skipped.
        let masked_hi = robust_range(
            layers[ERROR_MASKED].volume.frame(preview.frame),
            0.0,
            99.0,
            true,
        )
        .map_or(half_span, |(_, hi)| hi.max(1e-6));
        let error_display = DisplaySettings {
            range: (0.0, masked_hi),
            ..display.clone()
        };
        Ok(ReconView {
            step: preview.step,
            scene: Scene::new(WorldBox::of_grid(&preview.original.grid)),
            layers,
            mask: Arc::new(preview.mask.clone()),
            axis: ViewAxis::Axial,
            mode: ReconMode::default(),
            error_masked_only: true,
            outline: true,
            display,
            error_display,
            error_all_display,
            grey: lut_texture(ColorMap::Gray),
            hot: lut_texture(ColorMap::Hot),
            hover: None,
            panel_rects: [None; 4],
        })
    }

    /// The volume index drawn in panel `i` (0..4) under the current modes.
    fn layer_of_panel(&self, i: usize) -> usize {
        match i {
            0 => ORIGINAL,
            1 => MASKED,
            2 if self.mode == ReconMode::Composite => COMPOSITE,
            2 => RAW,
            _ if self.error_masked_only => ERROR_MASKED,
            _ => ERROR_ALL,
        }
    }

    /// The title of panel `i`.
    pub fn panel_title(&self, i: usize) -> &'static str {
        match self.layer_of_panel(i) {
            ORIGINAL => "original",
            MASKED => "masked input",
            COMPOSITE => "composite (reconstruction inside the mask)",
            RAW => "reconstruction (raw)",
            ERROR_MASKED => "|error| at masked voxels",
            _ => "|error| everywhere",
        }
    }

    /// The screen position of a world point (on the shown slice) in panel
    /// `i`, once laid out.
    pub fn screen_of(&self, i: usize, world: [f64; 3]) -> Option<egui::Pos2> {
        let rect = self.panel_rects.get(i).copied().flatten()?;
        let cam = self
            .scene
            .camera(self.axis, [rect.width() as f64, rect.height() as f64]);
        let o = cam.offset_of(world);
        let c = rect.center();
        Some(egui::pos2(c.x + o[0] as f32, c.y + o[1] as f32))
    }

    /// The colour range of the error panel.
    pub fn error_range(&self) -> (f32, f32) {
        if self.error_masked_only {
            self.error_display.range
        } else {
            self.error_all_display.range
        }
    }

    /// Replaces the volumes with a newer preview, keeping the view.
    pub fn update(&mut self, preview: &Preview) -> Result<(), GuiError> {
        let mut next = ReconView::new(preview)?;
        if next.scene.bounds == self.scene.bounds {
            next.scene = self.scene.clone();
        }
        next.axis = self.axis;
        next.mode = self.mode;
        next.error_masked_only = self.error_masked_only;
        next.outline = self.outline;
        next.display.labels_shown = self.display.labels_shown;
        next.error_display.labels_shown = self.display.labels_shown;
        next.error_all_display.labels_shown = self.display.labels_shown;
        *self = next;
        Ok(())
    }

    /// The frame shown.
    pub fn frame(&self) -> usize {
        self.layers[0].frame
    }

    /// Frames in the clip.
    pub fn frames(&self) -> usize {
        self.layers[0].frames()
    }

    /// Shows frame `t` in all panels.
    pub fn set_frame(&mut self, t: usize) {
        for l in &mut self.layers {
            l.set_frame(t);
        }
    }

    /// Values of the four panels as shown at `world` (None outside).
    pub fn values_at(&self, world: [f64; 3]) -> [Option<f32>; 4] {
        std::array::from_fn(|i| {
            let l = &self.layers[self.layer_of_panel(i)];
            l.voxel_at(world).and_then(|v| l.value(v))
        })
    }

    /// Whether the voxel under `world` is masked in the shown frame.
    pub fn masked_at(&self, world: [f64; 3]) -> Option<bool> {
        let l = &self.layers[ORIGINAL];
        let [i, j, k] = l.voxel_at(world)?;
        Some(self.mask.value(i, j, k, l.frame)? > 0.5)
    }

    /// The reconstruction volume (all frames), as the model output it.
    pub fn reconstruction(&self) -> &Volume {
        &self.layers[RAW].volume
    }

    /// Draws the controls and the four panels.
    pub fn show(&mut self, ui: &mut egui::Ui, labels: &LabelLayer) -> Option<Notice> {
        let mut message = None;
        ui.horizontal(|ui| {
            ui.label(format!("Validation clip at step {}", self.step));
            for axis in ViewAxis::ALL {
                ui.radio_value(&mut self.axis, axis, axis.name());
            }
            let mut t = self.frame();
            let n = self.frames();
            if ui
                .add(egui::Slider::new(&mut t, 0..=n.saturating_sub(1)).text("frame"))
                .changed()
            {
                self.set_frame(t);
            }
            ui.checkbox(&mut self.display.labels_shown, "atlas");
            self.error_display.labels_shown = self.display.labels_shown;
            self.error_all_display.labels_shown = self.display.labels_shown;
        });
        ui.horizontal(|ui| {
            ui.label("reconstruction:");
            ui.radio_value(&mut self.mode, ReconMode::Composite, "composite")
                .on_hover_text("original outside the masked tokens, reconstruction inside");
            ui.radio_value(&mut self.mode, ReconMode::Raw, "raw output");
            ui.checkbox(&mut self.error_masked_only, "|error| at masked voxels only");
            ui.checkbox(&mut self.outline, "outline masked tokens");
            if ui.button("Export reconstruction…").clicked()
                && let Some(path) = rfd::FileDialog::new()
                    .set_file_name(format!("reconstruction_step{}.nii.gz", self.step))
                    .add_filter("NIfTI", &["nii", "gz"])
                    .save_file()
            {
                message = Some(match write_volume(self.reconstruction(), &path) {
                    Ok(()) => Notice::Done(format!("wrote {}", path.display())),
                    Err(e) => Notice::failed(e),
                });
            }
        });
        let full = ui.available_rect_before_wrap();
        let gap = 4.0;
        let w = (full.width() - 3.0 * gap) / 4.0;
        let h = (ui.available_height() - 42.0).max(220.0);
        let mut hovered = None;
        let edges = if self.outline {
            mask_edges(&self.mask, self.frame(), self.axis, self.scene.crosshair)
        } else {
            Vec::new()
        };
        for i in 0..4 {
            let rect = Rect::from_min_size(
                full.min + egui::vec2(i as f32 * (w + gap), 0.0),
                egui::vec2(w, h),
            );
            self.panel_rects[i] = Some(rect);
            if let Some(world) = self.panel(ui, i, rect, labels, &edges) {
                hovered = Some(world);
            }
        }
        self.hover = hovered;
        ui.allocate_rect(
            Rect::from_min_size(full.min, egui::vec2(full.width(), h)),
            Sense::hover(),
        );
        let at = self.hover.unwrap_or(self.scene.crosshair);
        let v = self.values_at(at);
        let fmt = |x: Option<f32>| x.map_or("-".to_string(), |x| format!("{x:.3}"));
        let masked = match self.masked_at(at) {
            Some(true) => "masked",
            Some(false) => "visible",
            None => "outside",
        };
        let (_, error_hi) = self.error_range();
        // Two lines of fixed meaning, so hovering never changes the panel's height.
        ui.monospace(format!(
            "at [{:.1}, {:.1}, {:.1}] mm ({masked}): original {}  masked {}  reconstruction {}  |error| {}",
            at[0], at[1], at[2], fmt(v[0]), fmt(v[1]), fmt(v[2]), fmt(v[3]),
        ));
        ui.monospace(format!(
            "intensity range [{:.2}, {:.2}] shared by the three image panels; |error| 0 to {error_hi:.2}",
            self.display.range.0, self.display.range.1
        ));
        message
    }

    /// One panel; returns the hovered world point.
    fn panel(
        &mut self,
        ui: &mut egui::Ui,
        i: usize,
        rect: Rect,
        labels: &LabelLayer,
        edges: &[Segment],
    ) -> Option<[f64; 3]> {
        let id = ui.scope_id().with(("recon", i));
        let response = ui.interact(rect, id, Sense::click_and_drag());
        let size = [rect.width() as f64, rect.height() as f64];
        let c = rect.center();
        let offset = |p: egui::Pos2| [(p.x - c.x) as f64, (p.y - c.y) as f64];
        let mut hover = None;
        if let Some(pos) = response.hover_pos() {
            hover = Some(self.scene.camera(self.axis, size).world_at(offset(pos)));
            let wheel = wheel_delta(ui);
            let zoom = ui.input(|i| i.modifiers.command);
            if wheel != 0.0 {
                if zoom {
                    let f = if wheel > 0.0 { 1.15 } else { 1.0 / 1.15 };
                    self.scene.zoom_at(self.axis, size, offset(pos), f);
                } else {
                    let step = self.layers[0].slice_step_mm();
                    self.scene
                        .step_slice(self.axis, wheel.signum() as f64, step);
                }
            }
        }
        if (response.clicked() || response.dragged_by(egui::PointerButton::Primary))
            && let Some(pos) = response.interact_pointer_pos()
        {
            let mut w = self.scene.camera(self.axis, size).world_at(offset(pos));
            w[self.axis.normal()] = self.scene.crosshair[self.axis.normal()];
            self.scene.set_crosshair(w);
        }
        let cam = self.scene.camera(self.axis, size);
        let (display, lut) = match (i, self.error_masked_only) {
            (3, true) => (&self.error_display, &self.hot),
            (3, false) => (&self.error_all_display, &self.hot),
            _ => (&self.display, &self.grey),
        };
        let layers = DrawLayers {
            underlay: &self.layers[self.layer_of_panel(i)],
            labels,
            display,
            colour_map: lut,
            hovered: 0,
            crosshair: self.scene.crosshair,
        };
        let draw = layer_draw(ui, &cam, rect, &layers, 100 + i as u64);
        ui.painter()
            .add(egui_wgpu::Callback::new_paint_callback(rect, draw));
        paint_edges(ui.painter(), &cam, rect, edges);
        ui.painter().text(
            rect.left_top() + egui::vec2(6.0, 6.0),
            Align2::LEFT_TOP,
            self.panel_title(i),
            FontId::proportional(13.0),
            Color32::from_rgb(240, 220, 80),
        );
        hover
    }
}
