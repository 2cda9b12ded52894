//! The Compute controls at the top of the Attribution tab's side panel:
//! the run folder (the Training tab's run, or "Choose run folder…"), the
//! method and its parameters, the checkpoint, clips per subject, Compute,
//! and while it runs a progress bar with ETA and Cancel. State and the
//! worker are [`AttributionCompute`]; this only draws and forwards clicks.

use super::attribution_compute::{AttributionCompute, Method};
use crate::atlas::Atlas;
use crate::dashboard::format_duration;
use crate::eval::pretrained::CheckpointChoice;
use crate::train::DeviceChoice;
use egui::RichText;
use std::sync::Arc;

/// Draws the Compute controls and starts or cancels the worker.
pub fn compute_controls(ui: &mut egui::Ui, compute: &mut AttributionCompute, atlas: &Arc<Atlas>) {
    ui.heading("Compute scores");
    ui.horizontal(|ui| {
        ui.label("run:");
        match compute.run_dir() {
            Some(dir) => ui.label(RichText::new(dir.display().to_string()).monospace()),
            None => ui.label(RichText::new("none (train one, or choose a folder)").weak()),
        };
    });
    let running = compute.is_running();
    ui.add_enabled_ui(!running, |ui| {
        if ui.button("Choose run folder…").clicked()
            && let Some(dir) = rfd::FileDialog::new().pick_folder()
        {
            compute.choose_run(dir);
        }
        settings(ui, compute);
    });
    ui.horizontal(|ui| {
        let can_start = !running && compute.run_dir().is_some();
        if ui
            .add_enabled(can_start, egui::Button::new("Compute"))
            .on_hover_text("writes the scores into RUN_DIR/attribution, as `roimae attribute`")
            .clicked()
        {
            let ctx = ui.ctx().clone();
            compute.start(atlas.clone(), move || ctx.request_repaint());
        }
        if running && ui.button("Cancel").clicked() {
            compute.cancel();
        }
    });
    if running {
        match compute.progress() {
            Some((done, total)) => {
                let eta = compute.eta().map_or(String::new(), |e| {
                    format!(", ETA {}", format_duration(e.as_secs_f64()))
                });
                ui.add(
                    egui::ProgressBar::new(done as f32 / total.max(1) as f32)
                        .text(format!("pass {done} / {total}{eta}")),
                );
            }
            None => {
                ui.horizontal(|ui| {
                    ui.spinner();
                    ui.label("preparing: model and data (IG: fitting the head) …");
                });
            }
        }
        if let Some(line) = &compute.last_log {
            ui.label(RichText::new(line).small().weak());
        }
    }
    if let Some(n) = &compute.notice {
        ui.label(n.rich_text());
    }
}

/// Method, its parameters, checkpoint, clips per subject and device.
fn settings(ui: &mut egui::Ui, compute: &mut AttributionCompute) {
    let s = &mut compute.settings;
    egui::ComboBox::from_label("method")
        .selected_text(s.method.label())
        .show_ui(ui, |ui| {
            for m in Method::ALL {
                ui.selectable_value(&mut s.method, m, m.label());
            }
        });
    if s.method == Method::IntegratedGradients {
        ui.add(egui::Slider::new(&mut s.steps, 1..=64).text("IG steps"));
        ui.add(
            egui::Slider::new(&mut s.samples, 0..=32).text("SmoothGrad² samples (0 = plain IG)"),
        );
        ui.add_enabled(
            s.samples > 0,
            egui::Slider::new(&mut s.noise, 0.0..=0.5).text("noise (fraction of range)"),
        );
    }
    ui.horizontal(|ui| {
        ui.label("checkpoint:");
        for c in [CheckpointChoice::Best, CheckpointChoice::Last] {
            ui.radio_value(&mut s.checkpoint, c, c.name());
        }
    });
    ui.add(egui::Slider::new(&mut s.clips_per_subject, 1..=16).text("clips per subject"));
    egui::ComboBox::from_label("device")
        .selected_text(s.device.as_str())
        .show_ui(ui, |ui| {
            for d in DeviceChoice::ALL {
                ui.selectable_value(&mut s.device, d, d.as_str());
            }
        });
}
