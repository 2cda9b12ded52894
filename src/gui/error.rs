//! Typed errors of the desktop app and its headless renderer: volumes that
//! cannot be shown, previews that disagree, attribution computed in the
//! app, the GPU and the window. Each message is one line that says what to
//! do.

use crate::dashboard::DashboardError;
use crate::eval::EvalError;
use crate::viewer::ViewerError;
use crate::volume::VolumeError;
use std::path::PathBuf;
use thiserror::Error;

/// What can go wrong drawing or opening something in the app.
#[derive(Debug, Error)]
pub enum GuiError {
    /// A volume could not be read.
    #[error(transparent)]
    Volume(#[from] VolumeError),
    /// A selection or export failed.
    #[error(transparent)]
    Viewer(#[from] ViewerError),
    /// A dashboard file (curves, scores, experiment) could not be read.
    #[error(transparent)]
    Dashboard(#[from] DashboardError),
    /// Attribution computed in the app failed (or was cancelled).
    #[error(transparent)]
    Eval(#[from] EvalError),
    /// A volume whose voxel-to-world affine has no inverse.
    #[error("{name}: the voxel-to-world affine is singular; cannot display it")]
    SingularAffine {
        /// The volume's name.
        name: String,
    },
    /// A worker thread reading files ended without an answer (a bug).
    #[error("the file reader stopped unexpectedly; please report it")]
    ReaderStopped,
    /// The attribution worker thread ended without an answer (a crash in
    /// the model code or a bug).
    #[error("the attribution worker stopped unexpectedly; see the terminal and please report it")]
    ComputeStopped,
    /// A reconstruction preview whose volumes differ in size (a bug in the
    /// trainer, shown rather than drawn wrongly).
    #[error("the preview's volumes differ in size")]
    PreviewMismatch,
    /// No wgpu adapter or device for headless rendering.
    #[error(
        "no GPU adapter for rendering ({reason}); install a Vulkan driver (e.g. `apt-get install mesa-vulkan-drivers libvulkan1`)"
    )]
    NoAdapter {
        /// wgpu's words.
        reason: String,
    },
    /// The GPU failed while rendering or reading a frame back.
    #[error(
        "the GPU did not finish the frame or its read-back ({reason}); try again, or update the graphics driver"
    )]
    Frame {
        /// wgpu's words.
        reason: String,
    },
    /// A PNG could not be written.
    #[error("{path}: cannot write the PNG ({reason}); check the folder exists and is writable")]
    Png {
        /// The file.
        path: PathBuf,
        /// The encoder's words.
        reason: String,
    },
    /// The desktop window could not be opened.
    #[error(
        "cannot open the window ({reason}); on a machine without a display use `roimae render`"
    )]
    Window {
        /// eframe's words.
        reason: String,
    },
}
