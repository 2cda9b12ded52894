//! Typed errors of mask specifications and the masker: each message names
//! the setting at fault and says what to do.

use thiserror::Error;

/// A mask specification that cannot be drawn.
#[derive(Debug, Error, PartialEq)]
pub enum MaskError {
    /// A ratio or fraction outside (0, 1].
    #[error("{field} must be in (0, 1], got {value}")]
    OutOfRange {
        /// The setting, in the user's words ("mask ratio", "partial fraction").
        field: &'static str,
        /// The value given.
        value: f64,
    },
    /// A window with a zero-sized axis.
    #[error("window {window:?} has a zero size; give every axis (x, y, z, t) at least 1 token")]
    EmptyWindow {
        /// The window given.
        window: [usize; 4],
    },
    /// A region name the atlas does not know.
    #[error("unknown AAL3 region '{name}'{}", suggestion(close))]
    UnknownRegion {
        /// The name given.
        name: String,
        /// Up to five region names containing it.
        close: Vec<String>,
    },
    /// An ROI mask whose selection is empty.
    #[error("the ROI mask selects no region; name lobes or regions")]
    NoRegion,
    /// Atlas masking on a grid no atlas region reaches.
    #[error(
        "atlas masking: no atlas region owns a token on this grid; use a grid that overlaps the brain or another mask strategy"
    )]
    NoAtlasRegion,
    /// A block-temporal mask with a zero block length.
    #[error(
        "time block length must be at least 1 frame, got 0; give `length` in frames (NeuroSTORM's windows are 4)"
    )]
    BlockLength,
    /// A temporal mode on random token masking, which already draws frames.
    #[error(
        "time = \"{mode}\" does not apply to random token masking, which already draws every frame on its own; use time = \"all\", or a tube, window, atlas or roi strategy"
    )]
    TimeOnRandom {
        /// The temporal mode given (`random` or `block`).
        mode: &'static str,
    },
    /// A window whose t size competes with a temporal mode for the frames.
    #[error(
        "window t size {t} conflicts with time = \"{mode}\": under a temporal mode each spatial window spans the clip and [mask.time] picks its frames; set the window's t to {allowed}"
    )]
    WindowTime {
        /// The window's t size given.
        t: usize,
        /// The temporal mode given.
        mode: &'static str,
        /// The t sizes accepted, in words.
        allowed: String,
    },
}

/// How an unknown region's message ends: close names, or where to look.
fn suggestion(close: &[String]) -> String {
    if close.is_empty() {
        " (see `roimae atlas` for the names)".to_string()
    } else {
        format!("; did you mean {}?", close.join(", "))
    }
}
