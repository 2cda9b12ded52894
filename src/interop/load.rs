//! Loading NeuroSTORM weights into a roimae [`Mae`]: every parameter is
//! looked up by its NeuroSTORM key and shape-checked; missing, unexpected
//! and mis-shaped keys are all listed in one error (never NeuroSTORM's
//! silent `strict=False`), and only keys known to be irrelevant — the
//! `atlas_map` buffer, a fine-tuning `output_head`, optimiser state — are
//! skipped, and reported.

use super::error::InteropError;
use super::infer::{check_against_preset, infer_config};
use super::names::{Layout, ParamMut, is_encoder_key, visit_params};
use super::tensor_file::{CheckpointFile, read_checkpoint};
use crate::model::{Mae, ModelConfig};
use burn::prelude::*;
use serde::Serialize;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// What a load did.
#[derive(Debug, Clone, Serialize)]
pub struct LoadReport {
    /// The file.
    pub path: PathBuf,
    /// `PyTorch` or `safetensors`.
    pub format: &'static str,
    /// The model the file holds.
    pub config: ModelConfig,
    /// Parameters (tensors) loaded.
    pub loaded_tensors: usize,
    /// Values loaded.
    pub loaded_values: usize,
    /// Keys skipped, each with the reason.
    pub skipped: Vec<String>,
    /// Whether only the encoder was in the file (decoder and mask tokens
    /// kept at their initialisation).
    pub encoder_only: bool,
    /// Conversions made.
    pub notes: Vec<String>,
}

/// Reads `path`, infers its model (checked against `preset` when given),
/// builds it on `device` and loads every weight.
pub fn load_checkpoint(
    path: &Path,
    preset: Option<&ModelConfig>,
    device: &Device,
) -> Result<(Mae, LoadReport), InteropError> {
    let file = read_checkpoint(path)?;
    let config = infer_config(path, &file.weights)?;
    if let Some(preset) = preset {
        check_against_preset(path, &file.weights, preset)?;
    }
    let mut mae = preset.unwrap_or(&config).init(0, device)?;
    let mut report = load_into(&mut mae, &file)?;
    report.config = preset.cloned().unwrap_or(config);
    Ok((mae, report))
}

/// Loads the weights of `file` into `mae` (built for the file's model).
pub fn load_into(mae: &mut Mae, file: &CheckpointFile) -> Result<LoadReport, InteropError> {
    let encoder_only = !file
        .weights
        .keys()
        .any(|k| !is_encoder_key(k) && !k.starts_with("output_head."));
    let mut problems = Vec::new();
    let mut used: BTreeSet<&str> = BTreeSet::new();
    let mut plan: Vec<(String, Vec<f32>)> = Vec::new();
    let mut skipped = Vec::new();
    let mut probe = mae.clone();
    visit_params(&mut probe, &mut |key, layout, p| {
        let ours = p.dims();
        let expected = layout.torch_shape(&ours);
        match file.weights.get_key_value(key) {
            Some((k, t)) if t.shape == expected => {
                used.insert(k.as_str());
                plan.push((key.to_string(), layout.to_ours(&t.data, &ours)));
            }
            Some((k, t)) => {
                used.insert(k.as_str());
                problems.push(format!(
                    "key '{key}' has shape {:?} but the model expects {expected:?}",
                    t.shape
                ));
            }
            None if encoder_only && !is_encoder_key(key) => {}
            None => problems.push(format!("missing key '{key}' {expected:?}")),
        }
    });
    for key in file.weights.keys() {
        if used.contains(key.as_str()) {
            continue;
        }
        if key.starts_with("output_head.") {
            skipped.push(format!("{key} (a fine-tuning head, not part of the MAE)"));
        } else {
            problems.push(format!("unexpected key '{key}'"));
        }
    }
    for (key, dtype) in &file.non_float {
        if key == "atlas_map" {
            skipped.push(format!(
                "{key} ({dtype} buffer: NeuroSTORM's token atlas, not a weight)"
            ));
        } else {
            problems.push(format!("unexpected {dtype} tensor '{key}'"));
        }
    }
    if !file.outside_state_dict.is_empty() {
        skipped.push(format!(
            "{} tensors outside state_dict (optimiser state; a new run starts a fresh optimiser)",
            file.outside_state_dict.len()
        ));
    }
    if !problems.is_empty() {
        const SHOWN: usize = 8;
        let more = problems.len().saturating_sub(SHOWN);
        problems.truncate(SHOWN);
        if more > 0 {
            problems.push(format!("and {more} more"));
        }
        return Err(InteropError::Keys {
            path: file.path.clone(),
            problems,
        });
    }
    let mut values = 0;
    let mut tensors = 0;
    let mut by_key: std::collections::HashMap<String, Vec<f32>> = plan.into_iter().collect();
    visit_params(mae, &mut |key, _layout: Layout, mut p: ParamMut<'_>| {
        if let Some(v) = by_key.remove(key) {
            values += v.len();
            tensors += 1;
            p.set(v);
        }
    });
    if encoder_only {
        skipped.push(
            "decoder and mask tokens: not in the file (an encoder-only checkpoint), kept at their initialisation"
                .into(),
        );
    }
    Ok(LoadReport {
        path: file.path.clone(),
        format: file.format,
        config: mae.config().clone(),
        loaded_tensors: tensors,
        loaded_values: values,
        skipped,
        encoder_only,
        notes: file.notes.clone(),
    })
}
