//! The region panel: every AAL3 region with a checkbox (checked = masked),
//! grouped by lobe, with a filter, all / none / invert per lobe and overall,
//! a both-hemispheres toggle and "centre on region".

use super::state::ViewerState;
use crate::atlas::Lobe;
use egui::{Color32, RichText};

/// Draws the panel's contents.
pub fn region_panel(ui: &mut egui::Ui, state: &mut ViewerState) {
    ui.heading("Regions (checked = masked)");
    ui.horizontal(|ui| {
        let label = ui.label("Filter");
        ui.add(
            egui::TextEdit::singleline(&mut state.filter)
                .hint_text("name or lobe")
                .desired_width(f32::INFINITY),
        )
        .labelled_by(label.id);
    });
    ui.checkbox(
        &mut state.both_hemispheres,
        "Both hemispheres (L and R together)",
    );
    ui.horizontal(|ui| {
        ui.label("All shown:");
        bulk_buttons(ui, state, None);
    });
    ui.separator();
    egui::ScrollArea::vertical()
        .auto_shrink([false, false])
        .show(ui, |ui| {
            for lobe in Lobe::ALL {
                lobe_section(ui, state, lobe);
            }
        });
}

fn bulk_buttons(ui: &mut egui::Ui, state: &mut ViewerState, lobe: Option<Lobe>) {
    let salt = lobe.map_or("all", |l| l.name());
    ui.push_id(salt, |ui| {
        if ui.small_button("all").clicked() {
            state.set_regions(state.visible_regions(lobe), true);
        }
        if ui.small_button("none").clicked() {
            state.set_regions(state.visible_regions(lobe), false);
        }
        if ui.small_button("invert").clicked() {
            state.invert_regions(state.visible_regions(lobe));
        }
    });
}

fn lobe_section(ui: &mut egui::Ui, state: &mut ViewerState, lobe: Lobe) {
    let ids = state.visible_regions(Some(lobe));
    if ids.is_empty() {
        return;
    }
    let masked = ids
        .iter()
        .filter(|&&id| state.selection.contains(id))
        .count();
    let title = format!("{} ({masked}/{} masked)", lobe.name(), ids.len());
    let open = if state.filter.is_empty() {
        None
    } else {
        Some(true)
    };
    egui::CollapsingHeader::new(title)
        .id_salt(lobe.name())
        .open(open)
        .show(ui, |ui| {
            ui.horizontal(|ui| bulk_buttons(ui, state, Some(lobe)));
            for id in ids {
                region_row(ui, state, id);
            }
        });
}

fn region_row(ui: &mut egui::Ui, state: &mut ViewerState, id: u16) {
    let Some(region) = state.labels.atlas.regions.get(id) else {
        return;
    };
    let name = region.name.clone();
    let hovered = state.hovered_region() == id;
    let mut masked = state.selection.contains(id);
    let tokens = state.counts.tokens(id);
    ui.horizontal(|ui| {
        let [r, g, b] = state.labels.palette.get(&id).copied().unwrap_or([128; 3]);
        let (swatch, _) = ui.allocate_exact_size(egui::vec2(10.0, 10.0), egui::Sense::hover());
        ui.painter()
            .rect_filled(swatch, 2.0, Color32::from_rgb(r, g, b));
        let text = if hovered {
            RichText::new(&name).strong().color(Color32::WHITE)
        } else {
            RichText::new(&name)
        };
        if ui.checkbox(&mut masked, text).changed() {
            state.set_region(id, masked);
        }
        let tokens_text = RichText::new(format!("{tokens} tok")).small().weak();
        ui.label(tokens_text)
            .on_hover_text("tokens of this region at the model's patching");
        if ui
            .small_button("go")
            .on_hover_text("centre on region")
            .clicked()
        {
            state.centre_on_region(id);
        }
    });
}
