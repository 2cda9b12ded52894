//! One masked forward pass of a model on a given clip and token mask — the
//! computation NeuroSTORM's fixtures record — returning the loss, the
//! voxel-space reconstruction and the encoder latent in NeuroSTORM's axis
//! orders.

use super::arrays::{Clip, TokenMask};
use super::error::InteropError;
use crate::model::{BatchMask, Mae, MaskToken, ScanImpl};
use burn::prelude::*;
use serde::Serialize;

/// What [`reconstruct`] gives.
#[derive(Debug, Clone)]
pub struct Reconstruction {
    /// Masked MSE.
    pub loss: f64,
    /// Tokens masked.
    pub masked_tokens: usize,
    /// `(1, 1, X, Y, Z, T)` row-major.
    pub pred: Vec<f32>,
    /// `(1, C, gx', gy', gz', T)` shape.
    pub latent_shape: Vec<usize>,
    /// The latent, row-major.
    pub latent: Vec<f32>,
}

/// The summary printed by `roimae reconstruct --json`.
#[derive(Debug, Clone, Serialize)]
pub struct ReconstructSummary {
    /// Masked MSE.
    pub loss: f64,
    /// Tokens masked.
    pub masked_tokens: usize,
    /// All tokens.
    pub tokens: usize,
    /// The mask token used.
    pub mask_token: &'static str,
    /// The device.
    pub device: String,
}

fn dev<E: std::fmt::Debug>(e: E) -> InteropError {
    InteropError::Device(format!("{e:?}").replace('\n', " "))
}

/// Runs `mae` on `clip` under `mask` with the chosen mask token.
pub fn reconstruct(
    mae: &Mae,
    clip: &Clip,
    mask: &TokenMask,
    token: MaskToken,
    device: &Device,
) -> Result<Reconstruction, InteropError> {
    let cfg = mae.config();
    let g = cfg.tokens_per_axis();
    let want_clip = [cfg.input, cfg.input, cfg.input, cfg.frames];
    if clip.shape != want_clip {
        return Err(InteropError::Array {
            path: "clip".into(),
            reason: format!(
                "the clip is {:?} but the model takes {want_clip:?} (X, Y, Z, T)",
                clip.shape
            ),
        });
    }
    let want_mask = [g, g, g, cfg.frames];
    if mask.shape != want_mask {
        return Err(InteropError::Array {
            path: "mask".into(),
            reason: format!(
                "the token mask is {:?} but the model's token grid is {want_mask:?}",
                mask.shape
            ),
        });
    }
    let n = cfg.input;
    let x = Tensor::<6>::from_data(
        TensorData::new(clip.data.clone(), [1, 1, n, n, n, cfg.frames]),
        device,
    );
    let m: Vec<f32> = mask.data.iter().map(|&b| f32::from(u8::from(b))).collect();
    let batch_mask = BatchMask {
        tokens: Tensor::from_data(TensorData::new(m, [1, mask.data.len()]), device),
        voxels: None,
        token,
    };
    let out = mae.forward(x, &batch_mask, ScanImpl::Auto);
    let loss = out.loss.try_into_scalar::<f32>().map_err(dev)? as f64;
    let [b, lx, ly, lz, lt, c] = out.latent.dims();
    let latent = out
        .latent
        .permute([0, 5, 1, 2, 3, 4])
        .try_into_vec_as::<f32>()
        .map_err(dev)?;
    let pred = out.reconstruction.try_into_vec_as::<f32>().map_err(dev)?;
    Ok(Reconstruction {
        loss,
        masked_tokens: mask.data.iter().filter(|&&b| b).count(),
        pred,
        latent_shape: vec![b, c, lx, ly, lz, lt],
        latent,
    })
}
