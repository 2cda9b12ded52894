//! Typed errors of downstream evaluation, attribution and experiments.
//! Each message is one line that names the run, file, field or strategy at
//! fault and says what to do; errors of lower layers pass through
//! unchanged (`#[from]`).

use crate::data::DataError;
use crate::fsutil::{DocError, FileError};
use crate::interop::InteropError;
use crate::masking::MaskError;
use crate::model::ModelError;
use crate::train::{DeviceFailure, TrainError};
use crate::volume::VolumeError;
use std::path::PathBuf;
use thiserror::Error;

/// What can go wrong fine-tuning, attributing or running an experiment.
#[derive(Debug, Error)]
pub enum EvalError {
    /// Pretraining (inside an experiment) failed, or a layer below it did:
    /// files, documents, data, masks, the model, checkpoints, volumes. Those
    /// reach evaluation through [`TrainError`], the one list of them.
    #[error(transparent)]
    Train(#[from] TrainError),

    // --- configs (`ft.toml`, `exp.toml`) ---
    /// A setting is out of range; `problem` continues the sentence after
    /// the field's name.
    #[error("{field} {problem}")]
    Setting {
        /// The field, as written in the TOML (`lr`, `[ig] steps`).
        field: &'static str,
        /// What is wrong and what is expected.
        problem: String,
    },
    /// An error inside one table of a config (`[finetune]`).
    #[error("[{section}]: {cause}")]
    Section {
        /// The table.
        section: &'static str,
        /// What is wrong in it.
        cause: Box<EvalError>,
    },
    /// An experiment strategy is unusable (its name, or a duplicate).
    #[error("strategy {problem}")]
    StrategyName {
        /// The rest of the sentence, naming the strategy.
        problem: String,
    },
    /// The pretraining run config is invalid under one strategy's mask.
    #[error("strategy '{strategy}': {cause}")]
    StrategyRun {
        /// The strategy.
        strategy: String,
        /// What the run config's validator found.
        cause: Box<TrainError>,
    },

    // --- run folders and checkpoints ---
    /// The folder has no `config.toml`.
    #[error("{config}: missing; is {run_dir} a run folder written by `roimae pretrain`?")]
    NotARunFolder {
        /// The folder given.
        run_dir: PathBuf,
        /// The config looked for.
        config: PathBuf,
    },
    /// The run has no checkpoint yet.
    #[error(
        "{run_dir}: no checkpoint in checkpoints/; pretrain first (`roimae pretrain`) or give a run folder"
    )]
    NoCheckpoint {
        /// The run folder.
        run_dir: PathBuf,
    },
    /// The checkpoint's weights do not fit the run's model.
    #[error(
        "{checkpoint}: cannot load the model ({reason}); the checkpoint does not match the run's preset"
    )]
    CheckpointMismatch {
        /// The checkpoint folder.
        checkpoint: PathBuf,
        /// burn's words, on one line.
        reason: String,
    },
    /// The run's model has no encoder stage to put a head on.
    #[error("{run_dir}: the run's model has no encoder stage; check its [model] table")]
    NoEncoderStage {
        /// The run folder.
        run_dir: PathBuf,
    },

    // --- labelled data and splits ---
    /// Fewer than two labelled classes.
    #[error(
        "the data hold {classes} labelled class(es); fine-tuning needs labels of at least two classes"
    )]
    TooFewClasses {
        /// Distinct labels found.
        classes: usize,
    },
    /// The subject split left one set empty.
    #[error(
        "the split left no {set} subject ({subjects} labelled subjects); add subjects or change val_fraction/test_fraction"
    )]
    EmptySplit {
        /// `training`, `validation` or `test`.
        set: &'static str,
        /// Labelled subjects in the data.
        subjects: usize,
    },
    /// One subject's clips disagree on the label or the logit count.
    #[error("subject {subject}: clips disagree on the label or the number of logits")]
    SubjectDisagrees {
        /// The subject.
        subject: String,
    },

    // --- head training ---
    /// No training clip has a feature vector.
    #[error("no training features to fit a head on")]
    NoTrainingFeatures,
    /// A clip asked for has no feature vector.
    #[error("clip {clip} has no feature vector")]
    MissingFeature {
        /// The clip index.
        clip: usize,
    },
    /// The loss became NaN or infinite.
    #[error("the fine-tuning loss became {value} in epoch {epoch}; lower lr")]
    LossDiverged {
        /// The loss.
        value: f32,
        /// The 1-based epoch.
        epoch: usize,
    },
    /// The device failed while computing or reading results back.
    #[error(transparent)]
    Device(#[from] DeviceFailure),

    // --- leave-one-site-out ---
    /// A labelled subject has no site.
    #[error(
        "leave_site_out: subject {subject} has no site; give the dataset a site column or drop leave_site_out"
    )]
    NoSite {
        /// The subject.
        subject: String,
    },
    /// Fewer than two sites.
    #[error("leave_site_out needs labelled subjects from at least 2 sites; the data have {sites}")]
    TooFewSites {
        /// Sites found.
        sites: usize,
    },
    /// Leaving one site out leaves too few subjects to train and validate.
    #[error(
        "leave_site_out: leaving out {site} leaves {subjects} subjects elsewhere, too few for training and validation; add subjects or raise val_fraction"
    )]
    SiteFoldTooSmall {
        /// The site left out.
        site: String,
        /// Subjects of the other sites.
        subjects: usize,
    },

    // --- attribution ---
    /// There is no clip to attribute on.
    #[error("no {pool} clip to attribute on; {hint}")]
    NoClipToAttribute {
        /// Which clips were looked for.
        pool: &'static str,
        /// What to do.
        hint: &'static str,
    },
    /// Occlusion was given a base-mask count different from the clip count.
    #[error("occlusion needs one base mask per clip, got {masks} masks for {clips} clips")]
    BaseMaskCount {
        /// Masks given.
        masks: usize,
        /// Clips given.
        clips: usize,
    },
    /// Integrated gradients were asked of a fully fine-tuned model.
    #[error("integrated gradients use the frozen-encoder head; drop `full`")]
    IgNeedsFrozen,
    /// The backward pass produced no input gradient.
    #[error("no gradient reached the input")]
    NoInputGradient,
    /// The head fit kept no model (zero epochs).
    #[error("the head fit kept no model; set epochs to at least 1")]
    NoFittedHead,
    /// The attribution was cancelled (the app's Cancel) before it ended;
    /// nothing was written.
    #[error("attribution cancelled before it finished; no result files were written")]
    Cancelled,
    /// A line of a region-score CSV is malformed.
    #[error("{path}: line {line} is not {columns}")]
    CsvLine {
        /// The file.
        path: PathBuf,
        /// The 1-based line.
        line: usize,
        /// The columns expected.
        columns: &'static str,
    },

    // --- experiments ---
    /// Two strategies were not scored on the same test subjects.
    #[error("{problem}; compare runs of the same split")]
    NotPaired {
        /// What differs.
        problem: String,
    },
    /// A pretraining run of the experiment failed.
    #[error("{run_dir}: {source}")]
    PretrainFailed {
        /// The run folder.
        run_dir: PathBuf,
        /// The training loop's error.
        source: std::sync::Arc<TrainError>,
    },
    /// The experiment was stopped on request (the app's Stop) before its
    /// grid was done.
    #[error(
        "{out}: experiment stopped after {done} of {total} runs; results.csv there holds the finished runs"
    )]
    ExperimentStopped {
        /// The experiment folder.
        out: PathBuf,
        /// Runs that finished.
        done: usize,
        /// Runs in the grid.
        total: usize,
    },
    /// The inductive split let test subjects into pretraining (a bug).
    #[error(
        "{run_dir}: the inductive split was not kept ({description}); this is a bug, please report it"
    )]
    InductiveLeak {
        /// The run folder.
        run_dir: PathBuf,
        /// What the fine-tuning found.
        description: String,
    },
}

/// `?` on a lower layer's error in evaluation code: it is wrapped as the
/// [`TrainError`] variant that names it.
macro_rules! via_train_error {
    ($($lower:ty),* $(,)?) => {
        $(impl From<$lower> for EvalError {
            fn from(e: $lower) -> Self {
                EvalError::Train(TrainError::from(e))
            }
        })*
    };
}

via_train_error!(
    FileError,
    DocError,
    DataError,
    MaskError,
    ModelError,
    InteropError,
    VolumeError,
);

impl EvalError {
    /// A device failure (a tensor read back), classified as the training
    /// loop classifies its own.
    pub fn device(e: impl std::fmt::Debug) -> EvalError {
        EvalError::Device(DeviceFailure::from_text(&format!("{e:?}")))
    }

    /// A setting out of range.
    pub fn setting(field: &'static str, problem: impl Into<String>) -> EvalError {
        EvalError::Setting {
            field,
            problem: problem.into(),
        }
    }
}
