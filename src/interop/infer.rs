//! The model a checkpoint holds, read off its shapes: width and patch from
//! `patch_embed.fc`, token grid and frames from the stage-0 embeddings,
//! blocks per stage from the `layers.{i}.blocks.{j}` keys, Mamba state and
//! kernel sizes, MLP ratio; then named after the preset it equals, if any,
//! and checked shape by shape against a preset when one is asked for.

use super::error::InteropError;
use super::names::expected_shapes;
use super::tensor_file::HostTensor;
use crate::model::{ModelConfig, Preset};
use burn::prelude::*;
use std::collections::BTreeMap;
use std::path::Path;

/// The config of the NeuroSTORM MAE whose weights are `weights`.
pub fn infer_config(
    path: &Path,
    weights: &BTreeMap<String, HostTensor>,
) -> Result<ModelConfig, InteropError> {
    let topo = |reason: String| InteropError::Topology {
        path: path.to_path_buf(),
        reason,
    };
    let shape = |key: &str| weights.get(key).map(|t| t.shape.clone());
    let Some(fc) = shape("patch_embed.fc.weight") else {
        return Err(InteropError::NotNeurostorm {
            path: path.to_path_buf(),
            key: "patch_embed.fc.weight",
            count: weights.len(),
        });
    };
    let [embed_dim, patch_volume] = fc[..] else {
        return Err(topo(format!(
            "patch_embed.fc.weight has shape {fc:?}, expected [C, p³]"
        )));
    };
    let patch = (1..=64usize)
        .find(|p| p.pow(3) == patch_volume)
        .ok_or_else(|| {
            topo(format!(
                "patch_embed.fc.weight has {patch_volume} inputs, not a cube p³"
            ))
        })?;
    let pos =
        shape("pos_embeds.0.pos_embed").ok_or_else(|| topo("no pos_embeds.0.pos_embed".into()))?;
    let [1, _, gx, gy, gz, 1] = pos[..] else {
        return Err(topo(format!(
            "pos_embeds.0.pos_embed has shape {pos:?}, expected [1, C, X, Y, Z, 1]"
        )));
    };
    if gx != gy || gy != gz {
        return Err(topo(format!(
            "the token grid {gx}×{gy}×{gz} is not a cube; roimae models cubic inputs"
        )));
    }
    let time = shape("pos_embeds.0.time_embed")
        .ok_or_else(|| topo("no pos_embeds.0.time_embed".into()))?;
    let [1, _, 1, 1, 1, frames] = time[..] else {
        return Err(topo(format!(
            "pos_embeds.0.time_embed has shape {time:?}, expected [1, C, 1, 1, 1, T]"
        )));
    };
    let mut depths: Vec<usize> = Vec::new();
    for key in weights.keys() {
        let Some(rest) = key.strip_prefix("layers.") else {
            continue;
        };
        let mut parts = rest.split('.');
        let (Some(i), Some("blocks"), Some(j)) = (parts.next(), parts.next(), parts.next()) else {
            continue;
        };
        let (Ok(i), Ok(j)) = (i.parse::<usize>(), j.parse::<usize>()) else {
            continue;
        };
        if depths.len() <= i {
            depths.resize(i + 1, 0);
        }
        depths[i] = depths[i].max(j + 1);
    }
    if depths.is_empty() || depths.contains(&0) {
        return Err(topo(format!(
            "encoder stages with no blocks (blocks per stage {depths:?})"
        )));
    }
    let a_log = shape("layers.0.blocks.0.mamba.A_log")
        .ok_or_else(|| topo("no layers.0.blocks.0.mamba.A_log".into()))?;
    let conv = shape("layers.0.blocks.0.mamba.conv1d.weight")
        .ok_or_else(|| topo("no layers.0.blocks.0.mamba.conv1d.weight".into()))?;
    let mlp = shape("layers.0.blocks.0.mlp.linear1.weight")
        .ok_or_else(|| topo("no layers.0.blocks.0.mlp.linear1.weight".into()))?;
    let (Some(&d_state), Some(&d_conv), Some(&hidden)) = (a_log.get(1), conv.get(2), mlp.first())
    else {
        return Err(topo(
            "Mamba or MLP weights of layers.0.blocks.0 have too few dimensions".into(),
        ));
    };
    // NeuroSTORM's last stage (last_layer_full_MSA) sees its whole spatial grid.
    let last_spatial = (gx >> (depths.len() - 1)).max(1);
    let mut cfg = ModelConfig {
        name: "custom".into(),
        input: gx * patch,
        patch,
        frames,
        embed_dim,
        depths,
        window: [4, 4, 4, 4],
        last_window: [last_spatial, last_spatial, last_spatial, 4],
        d_state,
        d_conv,
        mlp_ratio: hidden / embed_dim.max(1),
        norm_eps: 1e-5,
    };
    cfg.validate().map_err(|e| topo(e.to_string()))?;
    if let Some(preset) = matching_preset(&cfg) {
        cfg.name = preset.name;
    }
    Ok(cfg)
}

/// The preset with exactly this topology, if any.
pub fn matching_preset(cfg: &ModelConfig) -> Option<ModelConfig> {
    Preset::ALL.into_iter().map(Preset::model).find(|p| {
        let mut named = cfg.clone();
        named.name = p.name.clone();
        // Windows equal after clamping to each stage's grid.
        named.encoder_stages() == p.encoder_stages()
            && named.decoder_stages() == p.decoder_stages()
            && ModelConfig {
                window: p.window,
                last_window: p.last_window,
                ..named
            } == *p
    })
}

/// Checks the file's shapes against `preset`; the first difference names
/// the key and both shapes.
pub fn check_against_preset(
    path: &Path,
    weights: &BTreeMap<String, HostTensor>,
    preset: &ModelConfig,
) -> Result<(), InteropError> {
    let mae = preset.init(0, &Device::flex())?;
    let mut table = expected_shapes(&mae);
    // The weights first: a different width shows at patch_embed, the
    // first weight, rather than at the mask tokens.
    table.sort_by_key(|(key, _)| key.contains("mask_token"));
    for (key, expected) in table {
        let found = weights
            .get(&key)
            .map(|t| t.shape.clone())
            .unwrap_or_default();
        if found != expected {
            return Err(InteropError::PresetMismatch {
                path: path.to_path_buf(),
                preset: preset.name.clone(),
                key,
                found,
                expected,
            });
        }
    }
    Ok(())
}
