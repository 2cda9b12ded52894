//! The right-hand panels: display controls (colour map, window/level with
//! a robust auto range, opacity, outline vs fill, interpolation) and the
//! live mask summary with the save/load of the selection.

use super::notice::Notice;
use super::state::ViewerState;
use crate::data::GridChoice;
use crate::masking::MaskLevel;
use crate::viewer::{
    ColorMap, MaskSelection, SelectionFile, ViewerError, load_selection, save_selection,
};
use egui::RichText;
use std::path::Path;

/// Display controls. Returns true when the colour map changed.
pub fn display_controls(ui: &mut egui::Ui, state: &mut ViewerState) -> bool {
    ui.heading("Display");
    let d = &mut state.display;
    let before = d.colour_map;
    egui::ComboBox::from_label("colour map")
        .selected_text(d.colour_map.name())
        .show_ui(ui, |ui| {
            for map in ColorMap::ALL {
                ui.selectable_value(&mut d.colour_map, map, map.name());
            }
        });
    let (lo, hi) = &mut d.range;
    let span = (*hi - *lo).abs().max(1e-6);
    ui.add(egui::DragValue::new(lo).speed(span / 200.0).prefix("min "));
    ui.add(egui::DragValue::new(hi).speed(span / 200.0).prefix("max "));
    if ui
        .button("Auto range (2–98 %)")
        .on_hover_text("robust percentiles of the non-zero voxels of the shown volume")
        .clicked()
    {
        state.auto_range();
    }
    let d = &mut state.display;
    ui.add(egui::Slider::new(&mut d.label_opacity, 0.0..=1.0).text("atlas opacity"));
    ui.checkbox(&mut d.labels_shown, "show atlas");
    ui.checkbox(&mut d.fill_unmasked, "fill unmasked regions (else outline)");
    ui.checkbox(&mut d.trilinear, "trilinear underlay");
    ui.checkbox(&mut d.crosshair_shown, "crosshair");
    d.colour_map != before
}

/// The live mask summary and selection file buttons. Returns a message.
pub fn mask_summary(
    ui: &mut egui::Ui,
    state: &mut ViewerState,
    level: &mut MaskLevel,
) -> Option<Notice> {
    ui.heading("Mask");
    let before = state.token_grid;
    egui::ComboBox::from_label("patching")
        .selected_text(grid_label(state.token_grid))
        .show_ui(ui, |ui| {
            for choice in [GridChoice::Mni2mm, GridChoice::Mni4mm] {
                ui.selectable_value(&mut state.token_grid, choice, grid_label(choice));
            }
        })
        .response
        .on_hover_text("the model grid the token counts are made for: reference (2 mm) or mni4mm");
    if state.token_grid != before {
        state.set_token_grid(state.token_grid);
    }
    let s = &state.summary;
    ui.label(format!("{} regions masked", s.regions));
    ui.label(format!(
        "{} of {} brain voxels (1 mm atlas): {:.1} %",
        s.masked_voxels,
        s.brain_voxels,
        100.0 * s.brain_fraction
    ));
    ui.label(format!(
        "{} of {} brain tokens ({} in the input cube) at {}",
        s.masked_tokens,
        s.brain_tokens,
        s.total_tokens,
        grid_label(state.token_grid)
    ));
    if !s.vanished.is_empty() {
        ui.label(
            RichText::new(format!(
                "No token at this patching: {}",
                s.vanished.join(", ")
            ))
            .color(egui::Color32::from_rgb(240, 170, 60)),
        )
        .on_hover_text(
            "these regions are too small to own a token; mask at voxel level to include them",
        );
    }
    ui.horizontal(|ui| {
        ui.label("level");
        ui.radio_value(level, MaskLevel::Token, "token");
        ui.radio_value(level, MaskLevel::Voxel, "voxel");
    });
    let mut message = None;
    ui.horizontal(|ui| {
        if ui.button("Save selection…").clicked()
            && let Some(path) = rfd::FileDialog::new()
                .set_file_name("mask.toml")
                .add_filter("TOML", &["toml"])
                .save_file()
        {
            message = Some(save_to(state, *level, &path));
        }
        if ui.button("Load selection…").clicked()
            && let Some(path) = rfd::FileDialog::new()
                .add_filter("TOML", &["toml"])
                .pick_file()
        {
            message = Some(load_from(state, level, &path));
        }
    });
    message
}

fn grid_label(choice: GridChoice) -> &'static str {
    match choice {
        GridChoice::Mni2mm => "2 mm, 6³ patches",
        GridChoice::Mni4mm => "4 mm, 3³ patches",
    }
}

/// Saves the selection as a run-config `[mask]` table.
pub fn save_to(state: &ViewerState, level: MaskLevel, path: &Path) -> Notice {
    let table = &state.labels.atlas.regions;
    let file = SelectionFile {
        preset: state.token_grid.preset(),
        mask: state.selection.to_mask_spec(table, level, None, 0),
    };
    match save_selection(path, &file) {
        Ok(()) => Notice::Done(format!("saved the selection to {}", path.display())),
        Err(e) => Notice::failed(e),
    }
}

/// Loads a selection file written by [`save_to`] (or by hand).
pub fn load_from(state: &mut ViewerState, level: &mut MaskLevel, path: &Path) -> Notice {
    let file = match load_selection(path) {
        Ok(f) => f,
        Err(e) => return Notice::failed(e),
    };
    match &file.mask.strategy {
        crate::masking::MaskStrategy::Roi {
            regions, level: l, ..
        } => match MaskSelection::from_region_selection(regions, &state.labels.atlas.regions) {
            Ok(sel) => {
                *level = *l;
                if let Some(grid) = file.preset.grid() {
                    state.set_token_grid(grid);
                }
                state.set_selection(sel);
                Notice::Done(format!(
                    "loaded {} regions from {}",
                    state.selection.len(),
                    path.display()
                ))
            }
            Err(e) => Notice::failed(ViewerError::InFile {
                path: path.to_path_buf(),
                source: Box::new(e),
            }),
        },
        _ => Notice::failed(ViewerError::NotRegionMask {
            path: path.to_path_buf(),
            mask: file.mask.describe(),
        }),
    }
}
