//! Masks as tensors and the masked reconstruction loss (docs/SPEC-model.md "Loss"):
//! at token level the per-token MSE over its p³ voxels averaged over masked
//! tokens; at voxel level the MSE over exactly the masked voxels.

use super::error::ModelError;
use super::layout::patchify;
use crate::masking::ClipMask;
use burn::prelude::*;
use serde::{Deserialize, Serialize};

/// Which learned token replaces masked token embeddings (NeuroSTORM has
/// all three; its window masking uses the table, random and tube masking
/// the single token, atlas masking the atlas token).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MaskToken {
    /// The per-window-position table (`window_mask_token`).
    #[default]
    Window,
    /// The atlas token (`atlas_mask_token`).
    Atlas,
    /// The single token (`mask_token`).
    Single,
}

impl MaskToken {
    /// Parses `window`, `atlas` or `single`.
    pub fn parse(s: &str) -> Result<Self, ModelError> {
        match s {
            "window" => Ok(Self::Window),
            "atlas" => Ok(Self::Atlas),
            "single" => Ok(Self::Single),
            other => Err(ModelError::UnknownMaskToken {
                name: other.to_string(),
            }),
        }
    }

    /// The name used on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Self::Window => "window",
            Self::Atlas => "atlas",
            Self::Single => "single",
        }
    }
}

/// The masks of a batch on the model's device.
#[derive(Debug, Clone)]
pub struct BatchMask {
    /// `[B, N]` 1 where the token is replaced by the mask token (token order
    /// x, y, z, t with t fastest).
    pub tokens: Tensor<2>,
    /// `[B, X, Y, Z, T']` 1 where the input voxel is filled and scored
    /// (voxel level): `T' = 1` when every frame of every clip has the same
    /// voxels (broadcast over the frames), else `T' = T`; `None` at token
    /// level.
    pub voxels: Option<Tensor<5>>,
    /// Which learned token replaces the masked tokens.
    pub token: MaskToken,
}

impl BatchMask {
    /// Stacks per-clip masks (all at the same level and grid).
    pub fn from_clip_masks(masks: &[ClipMask], device: &Device) -> Self {
        let b = masks.len();
        let n = masks[0].tokens.len();
        let tokens: Vec<f32> = masks
            .iter()
            .flat_map(|m| m.tokens.iter().map(|&v| f32::from(u8::from(v))))
            .collect();
        let tokens = Tensor::from_data(TensorData::new(tokens, [b, n]), device);
        let voxels = masks[0].voxels.as_ref().map(|_| {
            let [sx, sy, sz] = masks[0].grid.spatial.map(|s| s * masks[0].patch);
            let frames = masks[0].grid.frames;
            // Per frame only when some clip's voxels vary over time.
            let per_frame = masks.iter().any(ClipMask::voxels_vary_in_time);
            let tv = if per_frame { frames } else { 1 };
            let mut values: Vec<f32> = Vec::with_capacity(b * sx * sy * sz * tv);
            for m in masks {
                let v = m
                    .voxels
                    .as_ref()
                    .expect("all clips of a batch share one masking level");
                debug_assert_eq!(v.len() % (sx * sy * sz), 0);
                let as_f32 = |&x: &bool| f32::from(u8::from(x));
                if !per_frame || m.voxels_vary_in_time() {
                    values.extend(v.iter().map(as_f32));
                } else {
                    // A shared mask in a per-frame batch: repeat each voxel.
                    values.extend(v.iter().flat_map(|x| std::iter::repeat_n(as_f32(x), tv)));
                }
            }
            Tensor::from_data(TensorData::new(values, [b, sx, sy, sz, tv]), device)
        });
        Self {
            tokens,
            voxels,
            token: masks[0].token,
        }
    }

    /// The same masks with another learned mask token.
    pub fn with_token(mut self, token: MaskToken) -> Self {
        self.token = token;
        self
    }
}

/// Masked MSE between the prediction and the input, both `[B, 1, X, Y, Z, T]`.
pub fn masked_mse(pred: Tensor<6>, target: Tensor<6>, mask: &BatchMask, patch: usize) -> Tensor<1> {
    match &mask.voxels {
        Some(voxels) => {
            let [b, _, x, y, z, t] = target.dims();
            let tv = voxels.dims()[4];
            let weight = voxels.clone().reshape([b, 1, x, y, z, tv]);
            let sq = (pred - target).square();
            let total = (sq * weight.clone()).sum();
            // A shared mask (T' = 1) counts once per frame.
            total / (weight.sum() * ((t / tv) as f32)).clamp_min(1.0)
        }
        None => {
            let b = target.dims()[0];
            let per_token = (patchify(pred, patch) - patchify(target, patch))
                .square()
                .mean_dim(5)
                .reshape([b as i32, -1]);
            let m = mask.tokens.clone();
            (per_token * m.clone()).sum() / m.sum().clamp_min(1.0)
        }
    }
}
