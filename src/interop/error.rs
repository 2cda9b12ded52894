//! Typed errors of checkpoint interchange: each message is one line that
//! names the file (and the key, where one is at fault) and says what to do.

use std::path::PathBuf;
use thiserror::Error;

/// What can go wrong reading, mapping or writing a checkpoint.
#[derive(Debug, Error)]
pub enum InteropError {
    /// The file could not be opened or parsed as a checkpoint at all.
    #[error(
        "{path}: cannot read it as a {format} checkpoint ({reason}); is the file complete and of that format?"
    )]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// `PyTorch` or `safetensors`.
        format: &'static str,
        /// The reader's own words.
        reason: String,
    },
    /// One tensor's bytes could not be read (a truncated or corrupt file).
    #[error("{path}: cannot read tensor '{key}' ({reason}); the file is truncated or corrupt")]
    TensorUnreadable {
        /// The file.
        path: PathBuf,
        /// The tensor.
        key: String,
        /// The reader's own words.
        reason: String,
    },
    /// A weight tensor has a type we cannot use as float32.
    #[error("{path}: tensor '{key}' is {dtype}; NeuroSTORM weights are floating point")]
    NotFloat {
        /// The file.
        path: PathBuf,
        /// The tensor.
        key: String,
        /// Its element type.
        dtype: String,
    },
    /// The file holds no NeuroSTORM MAE weights (no `patch_embed.fc.weight`).
    #[error(
        "{path}: no NeuroSTORM MAE weights found (no '{key}' among its {count} tensors); give a NeuroSTORM Lightning .ckpt, a state_dict .pt or a .safetensors export"
    )]
    NotNeurostorm {
        /// The file.
        path: PathBuf,
        /// The key looked for.
        key: &'static str,
        /// Tensors in the file.
        count: usize,
    },
    /// The shapes do not describe a model roimae can build.
    #[error("{path}: cannot infer the model from its shapes: {reason}")]
    Topology {
        /// The file.
        path: PathBuf,
        /// What is inconsistent.
        reason: String,
    },
    /// The checkpoint's model differs from the one asked for.
    #[error(
        "{path}: the checkpoint does not match preset '{preset}': key '{key}' has shape {found:?} in the file but {expected:?} in the preset; drop the preset to use the checkpoint's own model"
    )]
    PresetMismatch {
        /// The file.
        path: PathBuf,
        /// The preset asked for.
        preset: String,
        /// The first key that differs.
        key: String,
        /// Its shape in the file.
        found: Vec<usize>,
        /// Its shape in the preset (absent key: empty).
        expected: Vec<usize>,
    },
    /// Keys missing, unexpected or mis-shaped against the inferred model.
    #[error("{path}: does not match the NeuroSTORM MAE: {}; nothing was loaded", problems.join("; "))]
    Keys {
        /// The file.
        path: PathBuf,
        /// One entry per problem key.
        problems: Vec<String>,
    },
    /// Writing the output failed.
    #[error("{path}: cannot write ({reason}); check the folder exists and is writable")]
    Write {
        /// The file.
        path: PathBuf,
        /// The OS's words.
        reason: String,
    },
    /// An input array for `reconstruct` is unusable.
    #[error("{path}: {reason}")]
    Array {
        /// The file.
        path: PathBuf,
        /// What is wrong and what is expected.
        reason: String,
    },
    /// The device failed while computing.
    #[error("the device failed ({0})")]
    Device(String),
}
