//! 4D navigation: the volume slider, movie mode, and the time course at
//! the crosshair voxel (seconds from TR; click the plot to jump to that
//! volume; raw / demeaned / %-signal; CSV export).

use super::notice::Notice;
use super::state::ViewerState;
use crate::viewer::{
    SeriesHeader, SeriesMode, time_axis, transform, voxel_series, write_series_csv,
};
use egui_plot::{Line, Plot, PlotPoints, VLine};

/// Movie playback state.
#[derive(Debug, Clone, PartialEq)]
pub struct Movie {
    /// Playing.
    pub playing: bool,
    /// Volumes per second.
    pub fps: f32,
    /// Time accumulated towards the next step (s).
    pub pending: f32,
}

impl Default for Movie {
    fn default() -> Self {
        Movie {
            playing: false,
            fps: 5.0,
            pending: 0.0,
        }
    }
}

impl Movie {
    /// Advances the movie by `dt` seconds; returns the volumes to step.
    pub fn advance(&mut self, dt: f32) -> i64 {
        if !self.playing || self.fps <= 0.0 {
            self.pending = 0.0;
            return 0;
        }
        self.pending += dt;
        let period = 1.0 / self.fps;
        let steps = (self.pending / period).floor();
        self.pending -= steps * period;
        steps as i64
    }
}

/// Volume slider and movie controls. Returns a message to show, if any.
pub fn volume_controls(ui: &mut egui::Ui, state: &mut ViewerState, movie: &mut Movie) {
    let n = state.underlay.frames();
    ui.horizontal(|ui| {
        let mut t = state.underlay.frame;
        ui.label("Volume (0-based)");
        let slider = egui::Slider::new(&mut t, 0..=n.saturating_sub(1)).text(format!("of {n}"));
        if ui.add_enabled(n > 1, slider).changed() {
            state.set_frame(t);
        }
        if ui
            .add_enabled(n > 1, egui::Button::new("Prev"))
            .on_hover_text(",")
            .clicked()
        {
            state.step_frame(-1);
        }
        if ui
            .add_enabled(n > 1, egui::Button::new("Next"))
            .on_hover_text(".")
            .clicked()
        {
            state.step_frame(1);
        }
        let label = if movie.playing { "Pause" } else { "Play" };
        if ui
            .add_enabled(n > 1, egui::Button::new(label))
            .on_hover_text("movie mode (space)")
            .clicked()
        {
            movie.playing = !movie.playing;
        }
        ui.add(egui::Slider::new(&mut movie.fps, 0.5..=30.0).text("fps"));
    });
}

/// The time course at the crosshair voxel.
pub fn timecourse_plot(ui: &mut egui::Ui, state: &mut ViewerState, message: &mut Option<Notice>) {
    let world = state.scene.crosshair;
    let Some(ijk) = state.underlay.voxel_at(world) else {
        ui.label("The crosshair is outside the image.");
        return;
    };
    let volume = state.underlay.volume.clone();
    if volume.frames < 2 {
        ui.label("3D image: no time course.");
        return;
    }
    let tr = volume.meta.tr.filter(|&t| t > 0.0);
    let values = transform(&voxel_series(&volume, ijk), state.series_mode);
    let times = time_axis(values.len(), tr);
    ui.horizontal(|ui| {
        ui.label(format!(
            "Time course at voxel [{}, {}, {}]",
            ijk[0], ijk[1], ijk[2]
        ));
        for mode in SeriesMode::ALL {
            ui.radio_value(&mut state.series_mode, mode, mode.label());
        }
        if ui.button("Export CSV…").clicked()
            && let Some(path) = rfd::FileDialog::new()
                .set_file_name("timecourse.csv")
                .add_filter("CSV", &["csv"])
                .save_file()
        {
            let header = SeriesHeader {
                ijk,
                world_mm: world,
                mode: state.series_mode,
                tr,
            };
            *message = Some(match write_series_csv(&path, &header, &times, &values) {
                Ok(()) => Notice::Done(format!("wrote {}", path.display())),
                Err(e) => Notice::failed(e),
            });
        }
    });
    let x_label = if tr.is_some() { "time (s)" } else { "volume" };
    let points: PlotPoints = times.iter().zip(&values).map(|(&t, &v)| [t, v]).collect();
    let current = times.get(state.underlay.frame).copied().unwrap_or(0.0);
    let response = Plot::new("timecourse")
        .height(ui.available_height().max(80.0))
        .x_axis_label(x_label)
        .allow_scroll(false)
        .show(ui, |plot_ui| {
            plot_ui.line(Line::new(state.series_mode.label(), points));
            plot_ui.vline(VLine::new("current volume", current));
            plot_ui.pointer_coordinate()
        });
    if response.response.clicked()
        && let Some(p) = response.inner
    {
        let step = tr.unwrap_or(1.0);
        let t = (p.x / step).round().max(0.0) as usize;
        state.set_frame(t);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn movie_steps_at_its_frame_rate() {
        let mut m = Movie {
            playing: true,
            fps: 4.0,
            pending: 0.0,
        };
        assert_eq!(m.advance(0.1), 0);
        assert_eq!(m.advance(0.2), 1); // 0.3 s: one step, 0.05 s pending
        assert_eq!(m.advance(1.0), 4);
        m.playing = false;
        assert_eq!(m.advance(10.0), 0);
    }
}
