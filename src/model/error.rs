//! Typed errors of the model layer: configurations that cannot build a
//! model, unknown names, and device failures while reading results back.

use thiserror::Error;

/// What can go wrong building or running the model.
#[derive(Debug, Error)]
pub enum ModelError {
    /// A model configuration that cannot build a model; names the field.
    #[error("model config: {0}")]
    Config(String),
}
