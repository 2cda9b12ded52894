//! The desktop app (egui/eframe on wgpu): three linked orthogonal views of
//! an fMRI volume or the MNI template with the AAL3 atlas on top, drawn by
//! the WGSL shaders in `shaders/`; the region panel that edits the masking
//! selection; 4D navigation with a time course; and a headless renderer of
//! the same layout. Decisions live in [`crate::viewer`] and [`state`]; the
//! widgets only draw and forward input.

pub mod app;
pub mod attribution_compute;
pub mod attribution_controls;
pub mod attribution_page;
pub mod bench;
pub mod dashboard;
pub mod error;
pub mod experiment_export;
pub mod experiment_grid;
pub mod experiment_page;
pub mod experiment_run;
pub mod headless;
pub mod keys;
pub mod layers;
pub mod location_bar;
pub mod mask_outline;
pub mod notice;
pub mod offscreen;
pub mod recon_panel;
pub mod region_panel;
pub mod side_panels;
pub mod slice_geometry;
pub mod slice_render;
pub mod slice_view;
pub mod state;
pub mod timecourse_panel;

pub use app::{Startup, ViewerApp};
pub use error::GuiError;
pub use notice::Notice;

/// Opens the desktop window. Needs a display and a wgpu adapter.
pub fn run_native(startup: Startup) -> Result<(), GuiError> {
    let options = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_title("ROI-MAE Studio")
            .with_inner_size([1500.0, 950.0])
            .with_drag_and_drop(true),
        renderer: eframe::Renderer::Wgpu,
        ..Default::default()
    };
    eframe::run_native(
        "ROI-MAE Studio",
        options,
        Box::new(move |cc| {
            cc.egui_ctx.set_visuals(egui::Visuals::dark());
            let app = ViewerApp::new(
                &startup,
                cc.wgpu_render_state.as_ref(),
                Some(cc.egui_ctx.clone()),
            )?;
            Ok(Box::new(app))
        }),
    )
    .map_err(|e| GuiError::Window {
        reason: e.to_string(),
    })
}
