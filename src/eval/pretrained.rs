//! A pretraining run folder as a source of weights: its `config.toml`, the
//! checkpoint to use (the best-validation one, else the last, or the last
//! on request) and the MAE (with its encoder) loaded from it.

use super::EvalError;
use crate::model::Mae;
use crate::train::RunConfig;
use crate::train::checkpoint;
use burn::module::Module;
use burn::prelude::*;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Which checkpoint of a pretraining run to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum CheckpointChoice {
    /// The lowest validation masked MSE (else the last when it was not kept
    /// or the run never validated).
    #[default]
    Best,
    /// The last one written: runs of the same length are compared at the
    /// same step (the experiment's default).
    Last,
}

impl CheckpointChoice {
    /// `best` or `last`.
    pub fn name(self) -> &'static str {
        match self {
            CheckpointChoice::Best => "best",
            CheckpointChoice::Last => "last",
        }
    }
}

/// Which checkpoint of a run was loaded.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PretrainedInfo {
    /// The run folder.
    pub run_dir: PathBuf,
    /// The checkpoint folder.
    pub checkpoint: PathBuf,
    /// Pretraining steps done at that checkpoint.
    pub step: usize,
    /// `best` (lowest validation loss) or `last`.
    pub which: String,
    /// Validation masked MSE at that checkpoint, when validated.
    pub val_loss: Option<f64>,
}

impl PretrainedInfo {
    /// `<checkpoint> (<which> checkpoint, step <step>)`, for log lines.
    pub fn describe(&self) -> String {
        format!(
            "{} ({} checkpoint, step {})",
            self.checkpoint.display(),
            self.which,
            self.step
        )
    }
}

/// The checkpoint to load: with [`CheckpointChoice::Best`] the
/// best-validation one when it still exists, else the last; with
/// [`CheckpointChoice::Last`] the last.
pub fn pick_checkpoint(
    run_dir: &Path,
    choice: CheckpointChoice,
) -> Result<PretrainedInfo, EvalError> {
    let all = checkpoint::list(run_dir);
    let Some((last_step, last_dir)) = all.last().cloned() else {
        return Err(EvalError::NoCheckpoint {
            run_dir: run_dir.to_path_buf(),
        });
    };
    let state = checkpoint::load_state(&last_dir)?;
    let best_val = match choice {
        CheckpointChoice::Best => state.best_val,
        CheckpointChoice::Last => None,
    };
    let (step, dir, which) = match best_val {
        Some((_, best)) => match all.iter().find(|(s, _)| *s == best) {
            Some((s, d)) => (*s, d.clone(), "best"),
            None => (last_step, last_dir, "last"),
        },
        None => (last_step, last_dir, "last"),
    };
    let val_loss = checkpoint::load_state(&dir)?.val_loss;
    Ok(PretrainedInfo {
        run_dir: run_dir.to_path_buf(),
        checkpoint: dir,
        step,
        which: which.into(),
        val_loss,
    })
}

/// Reads a run's `config.toml`.
pub fn load_run_config(run_dir: &Path) -> Result<RunConfig, EvalError> {
    let path = run_dir.join("config.toml");
    if !path.is_file() {
        return Err(EvalError::NotARunFolder {
            run_dir: run_dir.to_path_buf(),
            config: path,
        });
    }
    Ok(RunConfig::load(&path)?)
}

/// Loads the run's config and its MAE from the chosen checkpoint onto
/// `device` (an autodiff device gives trainable weights).
pub fn load_mae(
    run_dir: &Path,
    choice: CheckpointChoice,
    device: &Device,
) -> Result<(RunConfig, Mae, PretrainedInfo), EvalError> {
    let cfg = load_run_config(run_dir)?;
    let info = pick_checkpoint(run_dir, choice)?;
    let model = cfg
        .model()?
        .init(cfg.seed, device)?
        .try_load_file(info.checkpoint.join("model.bpk"))
        .map_err(|e| EvalError::CheckpointMismatch {
            checkpoint: info.checkpoint.clone(),
            reason: format!("{e:?}").replace('\n', " "),
        })?;
    Ok((cfg, model, info))
}
