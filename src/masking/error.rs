//! Typed errors of mask specifications and the masker: each message names
//! the setting at fault and says what to do.

use thiserror::Error;

/// A mask specification that cannot be drawn.
#[derive(Debug, Error)]
pub enum MaskError {
    /// A setting is out of range; the message names the field.
    #[error("{0}")]
    Config(String),
}
