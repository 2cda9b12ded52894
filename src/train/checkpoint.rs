//! Checkpoints: `checkpoints/step-NNNNNNNN/` holding the model and
//! optimiser (burnpack) and `state.json` (step, wall time, best validation);
//! written into a hidden folder and renamed, so a checkpoint is complete or
//! absent. The last N are kept plus the best-validation one. Failures are
//! [`TrainError`]s naming the checkpoint folder.

use super::error::TrainError;
use crate::fsutil::{self, DocKind};
use crate::model::Mae;
use burn::module::Module;
use burn::optim::ModuleOptimizer;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The training position and bookkeeping stored with a checkpoint. The
/// data position, masks and learning rate are functions of `step` and the
/// config's seed, so `step` is the whole RNG/data state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckpointState {
    /// Steps done.
    pub step: usize,
    /// Epoch of the next step.
    pub epoch: usize,
    /// Wall time so far.
    pub wall_s: f64,
    /// Validation loss at this step, when validated.
    pub val_loss: Option<f64>,
    /// Best validation loss so far and its step.
    pub best_val: Option<(f64, usize)>,
}

/// The folder of the checkpoint at `step`.
pub fn checkpoint_dir(run_dir: &Path, step: usize) -> PathBuf {
    run_dir.join("checkpoints").join(format!("step-{step:08}"))
}

/// Writes a checkpoint atomically (temporary folder + rename).
pub fn save(
    run_dir: &Path,
    model: &Mae,
    optim: &ModuleOptimizer,
    state: &CheckpointState,
) -> Result<PathBuf, TrainError> {
    write(run_dir, model, Some(optim), state)
}

/// Writes a weights-only checkpoint (no optimiser state: an imported
/// model), atomically.
pub fn save_model_only(
    run_dir: &Path,
    model: &Mae,
    state: &CheckpointState,
) -> Result<PathBuf, TrainError> {
    write(run_dir, model, None, state)
}

/// The atomic writer behind [`save`] and [`save_model_only`].
fn write(
    run_dir: &Path,
    model: &Mae,
    optim: Option<&ModuleOptimizer>,
    state: &CheckpointState,
) -> Result<PathBuf, TrainError> {
    let final_dir = checkpoint_dir(run_dir, state.step);
    let tmp = run_dir
        .join("checkpoints")
        .join(format!(".step-{:08}.partial", state.step));
    let fail = |part: &'static str, reason: String| TrainError::CheckpointWrite {
        dir: final_dir.clone(),
        part,
        reason,
    };
    let _ = std::fs::remove_dir_all(&tmp);
    fsutil::create_dir(&tmp)?;
    model
        .clone()
        .save_file(tmp.join("model.bpk"))
        .map_err(|e| fail("model", format!("{e:?}")))?;
    if let Some(optim) = optim {
        optim
            .save(tmp.join("optim.bpk"))
            .map_err(|e| fail("optimiser", format!("{e:?}")))?;
    }
    fsutil::save_json(&tmp.join("state.json"), state, STATE.what)?;
    let _ = std::fs::remove_dir_all(&final_dir);
    std::fs::rename(&tmp, &final_dir).map_err(|e| fail("folder", e.to_string()))?;
    Ok(final_dir)
}

/// The complete checkpoints of a run, oldest first: (step, folder).
pub fn list(run_dir: &Path) -> Vec<(usize, PathBuf)> {
    let mut out: Vec<(usize, PathBuf)> = std::fs::read_dir(run_dir.join("checkpoints"))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let step = name.strip_prefix("step-")?.parse().ok()?;
            e.path()
                .join("state.json")
                .is_file()
                .then(|| (step, e.path()))
        })
        .collect();
    out.sort();
    out
}

/// `state.json` in errors.
const STATE: DocKind = DocKind {
    what: "checkpoint state",
    hint: "the checkpoint is damaged; delete its folder to use the one before",
};

/// Reads a checkpoint's state.
pub fn load_state(dir: &Path) -> Result<CheckpointState, TrainError> {
    Ok(fsutil::load_json(&dir.join("state.json"), STATE)?)
}

/// Whether a checkpoint has optimiser state (imported ones have none).
pub fn has_optimiser(dir: &Path) -> bool {
    dir.join("optim.bpk").is_file()
}

/// Loads the model and optimiser of a checkpoint into freshly built ones;
/// a checkpoint without optimiser state keeps the fresh optimiser.
pub fn load(
    dir: &Path,
    model: Mae,
    optim: ModuleOptimizer,
) -> Result<(Mae, ModuleOptimizer), TrainError> {
    let fail = |part: &'static str, reason: String| TrainError::CheckpointLoad {
        dir: dir.to_path_buf(),
        part,
        reason,
    };
    let model = model
        .try_load_file(dir.join("model.bpk"))
        .map_err(|e| fail("model", format!("{e:?}")))?;
    if !has_optimiser(dir) {
        return Ok((model, optim));
    }
    let optim = optim
        .load(dir.join("optim.bpk"))
        .map_err(|e| fail("optimiser", format!("{e:?}")))?;
    Ok((model, optim))
}

/// Deletes all but the last `keep_last` checkpoints and the one at `best`.
pub fn prune(run_dir: &Path, keep_last: usize, best: Option<usize>) {
    let all = list(run_dir);
    let cut = all.len().saturating_sub(keep_last.max(1));
    for (step, dir) in &all[..cut] {
        if Some(*step) != best {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}
