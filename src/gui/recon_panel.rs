//! Reconstruction inspection: original / masked input / reconstruction /
//! |error| of a validation clip side by side, one slice orientation, one
//! synced crosshair and zoom, ONE shared display range for the three
//! intensity panels (the error panel uses a hot map from 0), a frame slider
//! and NIfTI export of the reconstruction.

use super::error::GuiError;
use super::layers::{LabelLayer, ScalarLayer};
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

/// Panel titles, in order.
pub const PANELS: [&str; 4] = ["original", "masked input", "reconstruction", "|error|"];
const SLOTS: [&str; 4] = [
    "recon-original",
    "recon-masked",
    "recon-output",
    "recon-error",
];

/// The four panels of one preview.
pub struct ReconView {
    /// Training step of the preview.
    pub step: usize,
    layers: Vec<ScalarLayer>,
    /// Shared crosshair/zoom/pan.
    pub scene: Scene,
    /// Orientation of all four panels.
    pub axis: ViewAxis,
    /// Shared display settings of the intensity panels.
    pub display: DisplaySettings,
    error_display: DisplaySettings,
    grey: Arc<TextureSource>,
    hot: Arc<TextureSource>,
    hover: Option<[f64; 3]>,
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

impl ReconView {
    /// The panels of `preview`, or an error when its volumes disagree.
    pub fn new(preview: &Preview) -> Result<ReconView, GuiError> {
        let volumes = [&preview.original, &preview.masked, &preview.reconstruction];
        if volumes
            .iter()
            .any(|v| v.data.len() != preview.original.data.len())
        {
            return Err(GuiError::PreviewMismatch);
        }
        let error = abs_error(&preview.reconstruction, &preview.original);
        let all = [
            preview.original.clone(),
            preview.masked.clone(),
            preview.reconstruction.clone(),
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
        let error_display = DisplaySettings {
            range: (0.0, (range.1 - range.0).max(1e-6) / 2.0),
            ..display.clone()
        };
        Ok(ReconView {
            step: preview.step,
            scene: Scene::new(WorldBox::of_grid(&preview.original.grid)),
            layers,
            axis: ViewAxis::Axial,
            display,
            error_display,
            grey: lut_texture(ColorMap::Gray),
            hot: lut_texture(ColorMap::Hot),
            hover: None,
        })
    }

    /// Replaces the volumes with a newer preview, keeping the view.
    pub fn update(&mut self, preview: &Preview) -> Result<(), GuiError> {
        let mut next = ReconView::new(preview)?;
        if next.scene.bounds == self.scene.bounds {
            next.scene = self.scene.clone();
        }
        next.axis = self.axis;
        next.display.labels_shown = self.display.labels_shown;
        next.error_display.labels_shown = self.display.labels_shown;
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

    /// Values of the four panels at `world` (None outside).
    pub fn values_at(&self, world: [f64; 3]) -> [Option<f32>; 4] {
        let get = |l: &ScalarLayer| l.voxel_at(world).and_then(|v| l.value(v));
        [
            get(&self.layers[0]),
            get(&self.layers[1]),
            get(&self.layers[2]),
            get(&self.layers[3]),
        ]
    }

    /// The reconstruction volume (all frames).
    pub fn reconstruction(&self) -> &Volume {
        &self.layers[2].volume
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
        let h = (ui.available_height() - 22.0).max(220.0);
        let mut hovered = None;
        for i in 0..4 {
            let rect = Rect::from_min_size(
                full.min + egui::vec2(i as f32 * (w + gap), 0.0),
                egui::vec2(w, h),
            );
            if let Some(world) = self.panel(ui, i, rect, labels) {
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
        ui.monospace(format!(
            "at [{:.1}, {:.1}, {:.1}] mm: original {}  masked {}  reconstruction {}  |error| {}   range [{:.2}, {:.2}] shared",
            at[0], at[1], at[2], fmt(v[0]), fmt(v[1]), fmt(v[2]), fmt(v[3]),
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
        let (display, lut) = if i == 3 {
            (&self.error_display, &self.hot)
        } else {
            (&self.display, &self.grey)
        };
        let layers = DrawLayers {
            underlay: &self.layers[i],
            labels,
            display,
            colour_map: lut,
            hovered: 0,
            crosshair: self.scene.crosshair,
        };
        let draw = layer_draw(ui, &cam, rect, &layers, 100 + i as u64);
        ui.painter()
            .add(egui_wgpu::Callback::new_paint_callback(rect, draw));
        ui.painter().text(
            rect.left_top() + egui::vec2(6.0, 6.0),
            Align2::LEFT_TOP,
            PANELS[i],
            FontId::proportional(13.0),
            Color32::from_rgb(240, 220, 80),
        );
        hover
    }
}
