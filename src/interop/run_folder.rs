//! NeuroSTORM checkpoints and roimae run folders: importing a checkpoint as
//! a run folder (`config.toml` + a weights-only step-0 checkpoint +
//! `import.json`), loading initial weights for a new run from either, and
//! picking a run's checkpoint for export.

use super::error::InteropError;
use super::load::{LoadReport, load_checkpoint};
use crate::model::{Mae, ModelConfig, Preset};
use crate::train::RunConfig;
use crate::train::checkpoint::{self, CheckpointState};
use burn::prelude::*;
use std::path::Path;

/// Imports `ckpt` into a new run folder `out` whose checkpoint
/// `pretrain --resume`, `finetune --pretrained` and `attribute` accept.
pub fn import_checkpoint(
    ckpt: &Path,
    out: &Path,
    preset: Option<&ModelConfig>,
) -> Result<LoadReport, InteropError> {
    let device = Device::flex();
    let (mae, report) = load_checkpoint(ckpt, preset, &device)?;
    let model = report.config.clone();
    let Some(geometry) = Preset::of_geometry(&model) else {
        return Err(no_geometry(ckpt, &model));
    };
    if out.join("config.toml").exists() {
        return Err(InteropError::AlreadyRunFolder {
            path: out.to_path_buf(),
        });
    }
    crate::fsutil::create_dir(out)?;
    let cfg = RunConfig {
        preset: geometry,
        model: (geometry.model() != model).then(|| model.clone()),
        ..RunConfig::default()
    };
    cfg.save(&out.join("config.toml"))?;
    checkpoint::save_model_only(
        out,
        &mae,
        &CheckpointState {
            step: 0,
            epoch: 0,
            wall_s: 0.0,
            val_loss: None,
            best_val: None,
        },
    )?;
    crate::fsutil::save_json(&out.join("import.json"), &report, "import report")?;
    Ok(report)
}

/// Whether `path` is a roimae run folder.
pub fn is_run_folder(path: &Path) -> bool {
    path.is_dir() && path.join("config.toml").is_file()
}

/// The initial weights of a new run whose model is `model`: from a
/// NeuroSTORM file (shape-checked against `model`) or a run folder (same
/// topology required), on `device`.
pub fn init_weights(
    source: &Path,
    model: &ModelConfig,
    device: &Device,
) -> Result<Mae, InteropError> {
    if is_run_folder(source) {
        let (_, mae, info) = crate::eval::pretrained::load_mae(
            source,
            crate::eval::pretrained::CheckpointChoice::Best,
            device,
        )?;
        let mut theirs = mae.config().clone();
        theirs.name = model.name.clone();
        if &theirs != model {
            let describe = |m: &ModelConfig| {
                format!("{}, width {}, blocks {:?}", m.name, m.embed_dim, m.depths)
            };
            return Err(InteropError::ModelDiffers {
                path: source.to_path_buf(),
                theirs: describe(mae.config()),
                ours: describe(model),
            });
        }
        let _ = info;
        return Ok(mae);
    }
    let (mae, _) = load_checkpoint(source, Some(model), device)?;
    Ok(mae)
}

/// The model held by a NeuroSTORM file or a run folder.
pub fn source_model(source: &Path) -> Result<ModelConfig, InteropError> {
    if is_run_folder(source) {
        let cfg = crate::eval::pretrained::load_run_config(source)?;
        return Ok(cfg.model()?);
    }
    let file = super::tensor_file::read_checkpoint(source)?;
    super::infer::infer_config(source, &file.weights)
}

/// Makes a run config that starts from `cfg.init_from` train that source's
/// model: its topology becomes `[model]` (and its data geometry the
/// preset) unless the config already names an explicit `[model]`. Returns
/// a note saying what changed.
pub fn adopt_source_model(cfg: &mut RunConfig) -> Result<Option<String>, InteropError> {
    let Some(source) = cfg.init_from.clone() else {
        return Ok(None);
    };
    if cfg.model.is_some() {
        return Ok(None);
    }
    let model = source_model(&source)?;
    let Some(geometry) = Preset::of_geometry(&model) else {
        return Err(no_geometry(&source, &model));
    };
    let mut note = Vec::new();
    if geometry != cfg.preset {
        note.push(format!(
            "preset {} → {geometry} (the checkpoint's data geometry)",
            cfg.preset
        ));
        cfg.preset = geometry;
    }
    let preset = geometry.model();
    let mut named = model.clone();
    named.name = preset.name.clone();
    if named != preset {
        note.push(format!(
            "model from the checkpoint: width {}, blocks {:?}",
            model.embed_dim, model.depths
        ));
        cfg.model = Some(model);
    }
    Ok((!note.is_empty()).then(|| note.join("; ")))
}

/// The error of a model that fits no roimae data geometry.
fn no_geometry(path: &Path, model: &ModelConfig) -> InteropError {
    InteropError::NoGeometry {
        path: path.to_path_buf(),
        input: model.input,
        frames: model.frames,
        patch: model.patch,
    }
}
