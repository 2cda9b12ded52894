//! Keyboard shortcuts, in one table so the help overlay lists exactly what
//! the handler does.

use super::state::ViewerState;
use super::timecourse_panel::Movie;
use egui::Key;

/// What a key does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyAction {
    /// Next slice in the active view.
    SliceUp,
    /// Previous slice in the active view.
    SliceDown,
    /// Move the crosshair left/right/up/down in the active view.
    Nudge(i8, i8),
    /// Reset zoom, pan and crosshair.
    Reset,
    /// Toggle radiological / neurological.
    ToggleOrientation,
    /// Previous / next volume.
    Frame(i8),
    /// Play / pause the movie.
    PlayPause,
    /// Show / hide the help overlay.
    Help,
}

/// Every shortcut: key, action, description.
pub const SHORTCUTS: [(Key, KeyAction, &str); 12] = [
    (
        Key::PageUp,
        KeyAction::SliceUp,
        "next slice in the view under the mouse",
    ),
    (Key::PageDown, KeyAction::SliceDown, "previous slice"),
    (
        Key::ArrowLeft,
        KeyAction::Nudge(-1, 0),
        "move the crosshair left",
    ),
    (
        Key::ArrowRight,
        KeyAction::Nudge(1, 0),
        "move the crosshair right",
    ),
    (
        Key::ArrowUp,
        KeyAction::Nudge(0, -1),
        "move the crosshair up",
    ),
    (
        Key::ArrowDown,
        KeyAction::Nudge(0, 1),
        "move the crosshair down",
    ),
    (Key::R, KeyAction::Reset, "reset zoom, pan and crosshair"),
    (
        Key::O,
        KeyAction::ToggleOrientation,
        "radiological / neurological",
    ),
    (Key::Comma, KeyAction::Frame(-1), "previous volume"),
    (Key::Period, KeyAction::Frame(1), "next volume"),
    (Key::Space, KeyAction::PlayPause, "play / pause the movie"),
    (Key::Questionmark, KeyAction::Help, "this help"),
];

/// Mouse gestures, for the help overlay.
pub const MOUSE: [(&str, &str); 6] = [
    (
        "hover",
        "name the region and read the value under the cursor",
    ),
    ("left click", "mask / unmask the region under the cursor"),
    ("left drag or right click", "move the crosshair"),
    ("wheel", "next / previous slice"),
    ("Ctrl + wheel", "zoom"),
    ("middle drag", "pan"),
];

/// Applies one action. Returns true when the help overlay should toggle.
pub fn apply(action: KeyAction, state: &mut ViewerState, movie: &mut Movie) -> bool {
    let axis = state.active_view;
    let step = state.slice_step();
    match action {
        KeyAction::SliceUp => state.scene.step_slice(axis, 1.0, step),
        KeyAction::SliceDown => state.scene.step_slice(axis, -1.0, step),
        KeyAction::Nudge(r, d) => state.scene.nudge(axis, r as f64, d as f64, step),
        KeyAction::Reset => state.scene.reset(),
        KeyAction::ToggleOrientation => state.scene.radiological = !state.scene.radiological,
        KeyAction::Frame(d) => state.step_frame(d as i64),
        KeyAction::PlayPause => movie.playing = !movie.playing && state.underlay.frames() > 1,
        KeyAction::Help => return true,
    }
    false
}

/// Handles the keys pressed this frame unless a text field has focus.
/// Returns true when the help overlay should toggle.
pub fn handle_keys(ctx: &egui::Context, state: &mut ViewerState, movie: &mut Movie) -> bool {
    if ctx.egui_wants_keyboard_input() {
        return false;
    }
    let mut help = false;
    for (key, action, _) in SHORTCUTS {
        let pressed = ctx.input(|i| i.key_pressed(key) && !i.modifiers.command);
        if pressed {
            help ^= apply(action, state, movie);
        }
    }
    help
}
