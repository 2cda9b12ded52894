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
    /// A checkpoint whose model fits none of roimae's data geometries.
    #[error(
        "{path}: a {input}³×{frames} model at patch {patch} matches no roimae data geometry (tiny 24³×8/3, mni4mm 48³×20/3, reference 96³×20/6); `roimae reconstruct --checkpoint` still runs it"
    )]
    NoGeometry {
        /// The checkpoint or run folder.
        path: PathBuf,
        /// Its input edge.
        input: usize,
        /// Its frames.
        frames: usize,
        /// Its patch edge.
        patch: usize,
    },
    /// An import would overwrite an existing run folder.
    #[error("{path}: already a run folder; choose a new --out so nothing is overwritten")]
    AlreadyRunFolder {
        /// The folder.
        path: PathBuf,
    },
    /// A run folder's model differs from the run that starts from it.
    #[error(
        "{path}: its model ({theirs}) differs from this run's ({ours}); set the run's preset/[model] to the source's"
    )]
    ModelDiffers {
        /// The source run folder.
        path: PathBuf,
        /// Its model (name, width, blocks).
        theirs: String,
        /// This run's model.
        ours: String,
    },
    /// A file of the run folder could not be read or written.
    #[error(transparent)]
    File(#[from] crate::fsutil::FileError),
    /// A document of the run folder could not be read or written.
    #[error(transparent)]
    Doc(#[from] crate::fsutil::DocError),
    /// A model configuration could not be built.
    #[error(transparent)]
    Model(#[from] crate::model::ModelError),
    /// The run folder's config or checkpoint could not be used.
    #[error(transparent)]
    Train(Box<crate::train::TrainError>),
    /// The run folder's checkpoint could not be loaded.
    #[error(transparent)]
    Eval(Box<crate::eval::EvalError>),
}

impl From<crate::train::TrainError> for InteropError {
    fn from(e: crate::train::TrainError) -> Self {
        InteropError::Train(Box::new(e))
    }
}

impl From<crate::eval::EvalError> for InteropError {
    fn from(e: crate::eval::EvalError) -> Self {
        InteropError::Eval(Box::new(e))
    }
}
