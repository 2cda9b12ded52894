//! One orthogonal view as an egui widget: mouse input (hover names the
//! region, click toggles it, drag or right-click moves the crosshair, wheel
//! steps slices, Ctrl+wheel zooms, middle-drag pans), the GPU paint
//! callback, and the orientation letters and slice label on top.

use super::layers::matrix_f32;
use super::layers::{LabelLayer, ScalarLayer};
use super::slice_geometry::{ViewAxis, ViewCamera};
use super::slice_render::{SliceDraw, TextureSource, ViewUniforms};
use super::state::{DisplaySettings, ViewerState};
use egui::{Align2, Color32, FontId, Rect, Sense, Vec2};
use std::sync::Arc;

/// Shared lookup textures the views read (the colour map changes rarely).
pub struct ViewTextures {
    /// The underlay colour map.
    pub colour_map: Arc<TextureSource>,
}

/// Camera of `axis` in `rect`.
pub fn camera_for(state: &ViewerState, axis: ViewAxis, rect: Rect) -> ViewCamera {
    state
        .scene
        .camera(axis, [rect.width() as f64, rect.height() as f64])
}

/// The world point under screen position `pos` in a view at `rect`.
pub fn world_at(state: &ViewerState, axis: ViewAxis, rect: Rect, pos: egui::Pos2) -> [f64; 3] {
    let c = rect.center();
    camera_for(state, axis, rect).world_at([(pos.x - c.x) as f64, (pos.y - c.y) as f64])
}

/// The screen position of `world` (projected onto the slice) in a view at `rect`.
pub fn screen_of(state: &ViewerState, axis: ViewAxis, rect: Rect, world: [f64; 3]) -> egui::Pos2 {
    let c = rect.center();
    let o = camera_for(state, axis, rect).offset_of(world);
    egui::pos2(c.x + o[0] as f32, c.y + o[1] as f32)
}

/// Draws one view filling `rect` and handles its input. Returns true when
/// the view was clicked on a region (the selection changed).
pub fn slice_view(
    ui: &mut egui::Ui,
    state: &mut ViewerState,
    axis: ViewAxis,
    rect: Rect,
    textures: &ViewTextures,
) -> bool {
    let id = ui.scope_id().with(("slice-view", axis as u8));
    let response = ui.interact(rect, id, Sense::click_and_drag());
    let mut toggled = false;

    // Input.
    if let Some(pos) = response.hover_pos() {
        state.hover = Some((axis, world_at(state, axis, rect, pos)));
        state.active_view = axis;
        // One wheel event = one slice (or one zoom step with Ctrl/Cmd).
        let wheel: Vec<(f32, bool)> = ui.input(|i| {
            i.raw
                .events
                .iter()
                .filter_map(|e| match e {
                    egui::Event::MouseWheel {
                        delta, modifiers, ..
                    } if delta.y != 0.0 => Some((delta.y, modifiers.command)),
                    _ => None,
                })
                .collect()
        });
        for (dy, zoom) in wheel {
            if zoom {
                let c = rect.center();
                let size = [rect.width() as f64, rect.height() as f64];
                let offset = [(pos.x - c.x) as f64, (pos.y - c.y) as f64];
                let factor = if dy > 0.0 { 1.15 } else { 1.0 / 1.15 };
                state.scene.zoom_at(axis, size, offset, factor);
            } else {
                let step = state.slice_step();
                state.scene.step_slice(axis, dy.signum() as f64, step);
            }
        }
    } else if state.hover.is_some_and(|(a, _)| a == axis) {
        state.hover = None;
    }
    if response.clicked()
        && let Some(pos) = response.interact_pointer_pos()
    {
        let world = world_at(state, axis, rect, pos);
        toggled = state.toggle_region_at(world) != 0;
    }
    if (response.dragged_by(egui::PointerButton::Primary) || response.secondary_clicked())
        && let Some(pos) = response.interact_pointer_pos()
    {
        let world = world_at(state, axis, rect, pos);
        let n = axis.normal();
        let mut target = world;
        target[n] = state.scene.crosshair[n];
        state.scene.set_crosshair(target);
    }
    if response.dragged_by(egui::PointerButton::Middle) {
        let d = response.drag_delta();
        let mm = camera_for(state, axis, rect).mm_per_point;
        let pan = &mut state.scene.pan[axis as usize];
        pan[0] += d.x as f64 * mm;
        pan[1] += d.y as f64 * mm;
    }

    // Drawing.
    let draw = slice_draw(ui, state, axis, rect, textures);
    ui.painter()
        .add(egui_wgpu::Callback::new_paint_callback(rect, draw));
    let painter = ui.painter_at(rect);
    let letters = axis.edge_letters(state.scene.radiological);
    let font = FontId::proportional(15.0);
    let colour = Color32::from_rgb(240, 220, 80);
    let m = 6.0;
    painter.text(
        rect.left_center() + Vec2::new(m, 0.0),
        Align2::LEFT_CENTER,
        letters[0],
        font.clone(),
        colour,
    );
    painter.text(
        rect.right_center() - Vec2::new(m, 0.0),
        Align2::RIGHT_CENTER,
        letters[1],
        font.clone(),
        colour,
    );
    painter.text(
        rect.center_top() + Vec2::new(0.0, m),
        Align2::CENTER_TOP,
        letters[2],
        font.clone(),
        colour,
    );
    painter.text(
        rect.center_bottom() - Vec2::new(0.0, m),
        Align2::CENTER_BOTTOM,
        letters[3],
        font,
        colour,
    );
    let coord = ["x", "y", "z"][axis.normal()];
    painter.text(
        rect.left_top() + Vec2::new(m, m),
        Align2::LEFT_TOP,
        format!(
            "{} {coord} = {:.1} mm",
            axis.name(),
            state.scene.crosshair[axis.normal()]
        ),
        FontId::proportional(12.0),
        Color32::from_gray(200),
    );
    toggled
}

/// The paint callback of one view.
fn slice_draw(
    ui: &egui::Ui,
    state: &ViewerState,
    axis: ViewAxis,
    rect: Rect,
    textures: &ViewTextures,
) -> SliceDraw {
    let cam = camera_for(state, axis, rect);
    let layers = DrawLayers {
        underlay: &state.underlay,
        labels: &state.labels,
        display: &state.display,
        colour_map: &textures.colour_map,
        hovered: state.hovered_region(),
        crosshair: state.scene.crosshair,
    };
    layer_draw(ui, &cam, rect, &layers, axis as u64)
}

/// What one slice draws: a scalar layer under the atlas, with settings.
pub struct DrawLayers<'a> {
    /// The image.
    pub underlay: &'a ScalarLayer,
    /// The atlas.
    pub labels: &'a LabelLayer,
    /// Display settings (range, opacity, ...).
    pub display: &'a DisplaySettings,
    /// Colour map texture.
    pub colour_map: &'a Arc<TextureSource>,
    /// Hovered region (0 = none).
    pub hovered: u16,
    /// Crosshair (world mm).
    pub crosshair: [f64; 3],
}

/// The paint callback drawing `layers` through camera `cam` into `rect`;
/// `view_key` must differ between views drawn in the same frame.
pub fn layer_draw(
    ui: &egui::Ui,
    cam: &ViewCamera,
    rect: Rect,
    layers: &DrawLayers<'_>,
    view_key: u64,
) -> SliceDraw {
    let f3 = |v: [f64; 3]| v.map(|x| x as f32);
    let scale = |v: [f64; 3], s: f64| f3(v.map(|x| x * s));
    let under = layers.underlay;
    let labels = layers.labels;
    let d = layers.display;
    let ppp = ui.ctx().pixels_per_point() as f64;
    let uniforms = ViewUniforms {
        centre: f3(cam.centre),
        u_vec: scale(cam.right, cam.mm_per_point * rect.width() as f64),
        v_vec: scale(cam.down, cam.mm_per_point * rect.height() as f64),
        under_from_world: matrix_f32(&under.from_world),
        label_from_world: matrix_f32(&labels.from_world),
        under_dims: under.volume.grid.dims.map(|x| x as f32),
        label_dims: labels.atlas.labels.grid.dims.map(|x| x as f32),
        window: [d.range.0, d.range.1],
        underlay_shown: true,
        trilinear: d.trilinear,
        label_opacity: d.label_opacity,
        fill_unmasked: d.fill_unmasked,
        hovered: layers.hovered,
        labels_shown: d.labels_shown,
        crosshair: f3(layers.crosshair),
        crosshair_shown: d.crosshair_shown,
        mm_per_pixel: (cam.mm_per_point / ppp) as f32,
        crosshair_colour: [0.2, 0.9, 0.3, 0.85],
    };
    SliceDraw {
        view_key,
        uniforms,
        underlay: Some(under.texture.clone()),
        labels: Some(labels.texture.clone()),
        colour_map: layers.colour_map.clone(),
        label_lut: labels.lut.clone(),
    }
}

/// The summed vertical wheel delta of this frame's raw events (a mouse
/// wheel notch is one event, however the platform scales it).
pub fn wheel_delta(ui: &egui::Ui) -> f32 {
    ui.input(|i| {
        i.raw
            .events
            .iter()
            .filter_map(|e| match e {
                egui::Event::MouseWheel { delta, .. } => Some(delta.y),
                _ => None,
            })
            .sum()
    })
}
