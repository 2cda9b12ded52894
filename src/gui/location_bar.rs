//! The location bar: voxel i,j,k, world x,y,z (mm), the volume index
//! (0-based, and said so), the value, the AAL3 region with its lobe, the
//! display orientation, and a button that copies the coordinates.

use super::state::ViewerState;
use egui::RichText;

/// The location text of the focused point (mouse, else crosshair).
pub fn location_text(state: &ViewerState) -> String {
    let p = state.focus_point();
    let voxel = p
        .voxel
        .map_or("outside".to_string(), |[i, j, k]| format!("{i}, {j}, {k}"));
    let value = p.value.map_or("-".to_string(), |v| format!("{v:.4}"));
    let region = state
        .labels
        .atlas
        .regions
        .get(p.region)
        .map_or("no region".to_string(), |r| {
            format!("{} ({})", r.name, r.group.name())
        });
    format!(
        "voxel [{voxel}]   world [{:.1}, {:.1}, {:.1}] mm   volume {} of {} (0-based)   value {value}   {region}",
        p.world[0],
        p.world[1],
        p.world[2],
        state.underlay.frame,
        state.underlay.frames(),
    )
}

/// Draws the bar.
pub fn location_bar(ui: &mut egui::Ui, state: &ViewerState) {
    ui.horizontal(|ui| {
        let mode = if state.scene.radiological {
            "RADIOLOGICAL (L on right)"
        } else {
            "NEUROLOGICAL (R on right)"
        };
        ui.label(RichText::new(mode).strong())
            .on_hover_text("press o to toggle");
        ui.separator();
        let text = location_text(state);
        ui.monospace(&text);
        if ui
            .button("Copy")
            .on_hover_text("copy the coordinates to the clipboard")
            .clicked()
        {
            ui.ctx().copy_text(text);
        }
    });
}
