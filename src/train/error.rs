//! Typed errors of pretraining: run configs, run folders, checkpoints and
//! the training loop ([`TrainError`]), and device failures during a step
//! ([`DeviceFailure`]). Each message is one line that names the file,
//! field or step at fault and says what to do.

use crate::data::DataError;
use crate::fsutil::{DocError, FileError};
use crate::interop::InteropError;
use crate::masking::MaskError;
use crate::model::ModelError;
use crate::volume::VolumeError;
use std::path::PathBuf;
use thiserror::Error;

/// What can go wrong starting, running or resuming a pretraining run.
#[derive(Debug, Error)]
pub enum TrainError {
    /// A file could not be read or written.
    #[error(transparent)]
    File(#[from] FileError),
    /// A TOML/JSON document could not be loaded.
    #[error(transparent)]
    Doc(#[from] DocError),
    /// The data could not be read.
    #[error(transparent)]
    Data(#[from] DataError),
    /// The mask could not be drawn.
    #[error(transparent)]
    Mask(#[from] MaskError),
    /// The model could not be built or run.
    #[error(transparent)]
    Model(#[from] ModelError),
    /// A checkpoint could not be read or written.
    #[error(transparent)]
    Interop(#[from] InteropError),
    /// A volume could not be read or written.
    #[error(transparent)]
    Volume(#[from] VolumeError),

    /// A run-config setting is out of range or inconsistent.
    #[error("{field}: {problem}")]
    Config {
        /// The setting as written in the TOML (`optim.lr`, `[mask]`).
        field: String,
        /// What is wrong with it and what it must be.
        problem: String,
    },
    /// Resuming with a config that describes another run.
    #[error(
        "the config's {field} differs from the run being resumed; resume with the run's own config.toml"
    )]
    NotSameRun {
        /// The first setting that differs.
        field: &'static str,
    },
    /// The run folder's own config could not be loaded for a resume.
    #[error("cannot resume {run_dir}: {source}")]
    CannotResume {
        /// The run folder.
        run_dir: PathBuf,
        /// Why its config could not be loaded.
        source: Box<TrainError>,
    },
    /// Resuming a run folder that has no checkpoint.
    #[error("{run_dir}: no checkpoint to resume from; start a new run instead")]
    NothingToResume {
        /// The run folder.
        run_dir: PathBuf,
    },
    /// Starting a new run in a folder that already holds one.
    #[error("{run_dir} already holds a run; resume it or choose another folder")]
    RunFolderInUse {
        /// The run folder.
        run_dir: PathBuf,
    },
    /// The worker thread could not be started.
    #[error("cannot start the training thread ({source}); free memory or close other programs")]
    Thread {
        /// The operating system's reason.
        source: std::io::Error,
    },
    /// `device = "wgpu"` on a machine without a wgpu adapter.
    #[error(
        "device = \"wgpu\" but no wgpu adapter was found; install a Vulkan driver or use device = \"cpu\""
    )]
    NoWgpuAdapter,
    /// A clip cache whose clips are not the preset's.
    #[error(
        "{path}: the cache holds {cache_input}³×{cache_frames} clips ({cache_grid}) but preset '{preset}' reads {input}³×{frames}; use a matching preset or run `roimae prepare` again"
    )]
    CacheMismatch {
        /// The cache folder.
        path: PathBuf,
        /// Input voxels per axis of the cached clips.
        cache_input: usize,
        /// Frames per cached clip.
        cache_frames: usize,
        /// The cache's grid.
        cache_grid: String,
        /// The run's preset.
        preset: String,
        /// Input voxels per axis the preset reads.
        input: usize,
        /// Frames per clip the preset reads.
        frames: usize,
    },
    /// A synthetic subject could not be preprocessed.
    #[error("synthetic subject {subject}: {source}")]
    SyntheticSubject {
        /// The subject id.
        subject: String,
        /// Why preprocessing failed.
        source: DataError,
    },
    /// The data hold no clip at all.
    #[error("the data hold no clip; check the dataset")]
    NoClips,
    /// Fewer training clips than one batch.
    #[error(
        "only {clips} training clips for batch_size {batch_size}; lower batch_size or add data"
    )]
    TooFewClips {
        /// Training clips.
        clips: usize,
        /// Clips per step.
        batch_size: usize,
    },
    /// A checkpoint's model or optimiser could not be written.
    #[error(
        "{dir}: cannot write the checkpoint's {part} ({reason}); check the disk has space and the run folder is writable"
    )]
    CheckpointWrite {
        /// The checkpoint folder.
        dir: PathBuf,
        /// `model`, `optimiser` or `folder` (the final rename).
        part: &'static str,
        /// burn's or the OS's words.
        reason: String,
    },
    /// A checkpoint's model or optimiser could not be loaded.
    #[error(
        "{dir}: cannot load the {part} ({reason}); the checkpoint is incomplete or of another model"
    )]
    CheckpointLoad {
        /// The checkpoint folder.
        dir: PathBuf,
        /// `model` or `optimiser`.
        part: &'static str,
        /// burn's words.
        reason: String,
    },
    /// The background data loader ended before the run did.
    #[error("the data loader stopped early (before step {step}); see log.txt")]
    LoaderStopped {
        /// The step that got no batch.
        step: usize,
    },
    /// The loss became NaN or infinite; training stopped.
    #[error(
        "the loss became {loss} at step {step}; training stopped and {}; lower optim.lr or set optim.grad_clip",
        kept_checkpoint(*last_checkpoint)
    )]
    NonFiniteLoss {
        /// The loss.
        loss: f64,
        /// The step (counting from 1).
        step: usize,
        /// The step of the last checkpoint written, if any.
        last_checkpoint: Option<usize>,
    },
    /// The training thread panicked (a bug).
    #[error("internal error: {reason}; see log.txt")]
    Panicked {
        /// The panic's message.
        reason: String,
    },
    /// The device failed while the run was computing.
    #[error("{during}: {failure}")]
    Device {
        /// What was running (`step 12`, `validation`).
        during: String,
        /// The failure.
        failure: DeviceFailure,
    },
}

fn kept_checkpoint(last: Option<usize>) -> String {
    match last {
        Some(s) => format!("the last good checkpoint (step {s}) is kept"),
        None => "no checkpoint had been written yet".into(),
    }
}

impl TrainError {
    /// A setting at fault: `field` as written in the TOML, `problem` what
    /// it must be.
    pub fn config(field: impl Into<String>, problem: impl std::fmt::Display) -> Self {
        TrainError::Config {
            field: field.into(),
            problem: problem.to_string(),
        }
    }
}

/// A device failure during a training step, validation or a benchmark.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum DeviceFailure {
    /// The device could not allocate memory.
    #[error("the device ran out of memory ({0}); lower batch_size or use a smaller preset")]
    OutOfMemory(String),
    /// Any other device failure, in the device's words (one line).
    #[error("the device failed ({0})")]
    Failed(String),
    /// A parameter got no gradient from backward (a bug; please report it).
    #[error("{0} got no gradient (a bug; please report it)")]
    NoGradient(&'static str),
}

impl DeviceFailure {
    /// Classifies a device's (possibly multi-line) error text: its line
    /// about allocation or memory if it has one (out of memory), else its
    /// first line.
    pub fn from_text(text: &str) -> Self {
        let is_memory = |l: &str| l.contains("allocate") || l.to_lowercase().contains("memory");
        match text.lines().rev().find(|l| is_memory(l)) {
            Some(line) => DeviceFailure::OutOfMemory(line.trim().to_string()),
            None => {
                DeviceFailure::Failed(text.lines().next().unwrap_or_default().trim().to_string())
            }
        }
    }

    /// A failure of the model layer's read-back ([`crate::model::device::wait_for`]).
    pub fn from_model(e: ModelError) -> Self {
        match e {
            ModelError::Device { reason, .. } => DeviceFailure::from_text(&reason),
            other => DeviceFailure::Failed(other.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_text_is_one_line_with_advice_when_memory_ran_out() {
        let oom = DeviceFailure::from_text("launch failed\n  cannot allocate 3 GiB\n");
        assert_eq!(
            oom,
            DeviceFailure::OutOfMemory("cannot allocate 3 GiB".into())
        );
        assert!(oom.to_string().contains("lower batch_size"));
        let other = DeviceFailure::from_text("lost device\nbacktrace");
        assert_eq!(other.to_string(), "the device failed (lost device)");
        let e = TrainError::Device {
            during: "step 3".into(),
            failure: other,
        };
        assert_eq!(e.to_string(), "step 3: the device failed (lost device)");
    }

    #[test]
    fn a_non_finite_loss_says_which_checkpoint_is_kept() {
        let e = TrainError::NonFiniteLoss {
            loss: f64::NAN,
            step: 7,
            last_checkpoint: Some(6),
        };
        let text = e.to_string();
        assert!(text.contains("loss became NaN at step 7"), "{text}");
        assert!(text.contains("(step 6) is kept"), "{text}");
    }
}
