//! The one-line status the app shows in its top bar and on each tab: what
//! was done, what is under way, or a typed error. Code and tests decide on
//! the kind, never by matching the text.

use egui::{Color32, RichText};
use std::fmt;
use std::sync::Arc;

/// A status line.
#[derive(Clone, Debug)]
pub enum Notice {
    /// Something finished ("saved the selection to mask.toml").
    Done(String),
    /// Work under way ("reading model.ckpt …").
    Working(String),
    /// A failure, kept as the error it is.
    Failed(Arc<dyn std::error::Error + Send + Sync>),
}

impl Notice {
    /// A failure from any error.
    pub fn failed(e: impl std::error::Error + Send + Sync + 'static) -> Notice {
        Notice::Failed(Arc::new(e))
    }

    /// Whether this reports a failure.
    pub fn is_error(&self) -> bool {
        matches!(self, Notice::Failed(_))
    }

    /// The line as shown: failures in the warning colour.
    pub fn rich_text(&self) -> RichText {
        let text = RichText::new(self.to_string());
        match self {
            Notice::Failed(_) => text.color(Color32::from_rgb(240, 130, 90)),
            Notice::Working(_) => text.italics(),
            Notice::Done(_) => text,
        }
    }
}

impl fmt::Display for Notice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Notice::Done(s) | Notice::Working(s) => f.write_str(s),
            Notice::Failed(e) => write!(f, "{e}"),
        }
    }
}
