//! NeuroSTORM checkpoints and roimae run folders: importing a checkpoint as
//! a run folder (`config.toml` + a weights-only step-0 checkpoint +
//! `import.json`), loading initial weights for a new run from either, and
//! picking a run's checkpoint for export.

use super::error::InteropError;
use super::load::{LoadReport, load_checkpoint};
use crate::model::{Mae, ModelConfig};
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
) -> Result<LoadReport, String> {
    let device = Device::flex();
    let (mae, report) = load_checkpoint(ckpt, preset, &device).map_err(|e| e.to_string())?;
    let model = report.config.clone();
    let Some(geometry) = RunConfig::preset_for_geometry(&model) else {
        return Err(format!(
            "{}: a {}³×{} model at patch {} matches no roimae data geometry (tiny 24³×8/3, mni4mm 48³×20/3, reference 96³×20/6); `roimae reconstruct --checkpoint` still runs it",
            ckpt.display(),
            model.input,
            model.frames,
            model.patch
        ));
    };
    if out.join("config.toml").exists() {
        return Err(format!(
            "{}: already a run folder; choose a new --out so nothing is overwritten",
            out.display()
        ));
    }
    std::fs::create_dir_all(out)
        .map_err(|e| format!("{}: cannot create the run folder ({e})", out.display()))?;
    let cfg = RunConfig {
        preset: geometry.to_string(),
        model: (ModelConfig::preset(geometry).ok().as_ref() != Some(&model)).then(|| model.clone()),
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
    let json = serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?;
    std::fs::write(out.join("import.json"), json)
        .map_err(|e| format!("{}: cannot write import.json ({e})", out.display()))?;
    Ok(report)
}

/// Whether `path` is a roimae run folder.
pub fn is_run_folder(path: &Path) -> bool {
    path.is_dir() && path.join("config.toml").is_file()
}

/// The initial weights of a new run whose model is `model`: from a
/// NeuroSTORM file (shape-checked against `model`) or a run folder (same
/// topology required), on `device`.
pub fn init_weights(source: &Path, model: &ModelConfig, device: &Device) -> Result<Mae, String> {
    if is_run_folder(source) {
        let (_, mae, info) = crate::eval::pretrained::load_mae(
            source,
            crate::eval::pretrained::CheckpointChoice::Best,
            device,
        )?;
        let mut theirs = mae.config().clone();
        theirs.name = model.name.clone();
        if &theirs != model {
            return Err(format!(
                "{}: its model ({}, width {}, blocks {:?}) differs from this run's ({}, width {}, blocks {:?}); set the run's preset/[model] to the source's",
                source.display(),
                mae.config().name,
                mae.config().embed_dim,
                mae.config().depths,
                model.name,
                model.embed_dim,
                model.depths
            ));
        }
        let _ = info;
        return Ok(mae);
    }
    let (mae, _) = load_checkpoint(source, Some(model), device).map_err(|e| match e {
        InteropError::PresetMismatch { .. } => e.to_string(),
        other => other.to_string(),
    })?;
    Ok(mae)
}

/// The model held by a NeuroSTORM file or a run folder.
pub fn source_model(source: &Path) -> Result<ModelConfig, String> {
    if is_run_folder(source) {
        return crate::eval::pretrained::load_run_config(source)?.model();
    }
    let file = super::tensor_file::read_checkpoint(source).map_err(|e| e.to_string())?;
    super::infer::infer_config(source, &file.weights).map_err(|e| e.to_string())
}

/// Makes a run config that starts from `cfg.init_from` train that source's
/// model: its topology becomes `[model]` (and its data geometry the
/// preset) unless the config already names an explicit `[model]`. Returns
/// a note saying what changed.
pub fn adopt_source_model(cfg: &mut RunConfig) -> Result<Option<String>, String> {
    let Some(source) = cfg.init_from.clone() else {
        return Ok(None);
    };
    if cfg.model.is_some() {
        return Ok(None);
    }
    let model = source_model(&source)?;
    let Some(geometry) = RunConfig::preset_for_geometry(&model) else {
        return Err(format!(
            "{}: its {}³×{} model at patch {} matches no roimae data geometry",
            source.display(),
            model.input,
            model.frames,
            model.patch
        ));
    };
    let mut note = Vec::new();
    if geometry != cfg.preset {
        note.push(format!(
            "preset {} → {geometry} (the checkpoint's data geometry)",
            cfg.preset
        ));
        cfg.preset = geometry.to_string();
    }
    let preset = ModelConfig::preset(geometry)?;
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
