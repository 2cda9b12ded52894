//! The NeuroSTORM-compatible shifted-window Mamba masked autoencoder in burn
//! (docs/SPEC-model.md): config and presets, layouts, the selective scan, Mamba,
//! SWM blocks, encoder, decoder, MAE loss and the classification head.
//! A model is built from its config with [`ModelConfig::init`]; every
//! failure is a [`ModelError`].

pub mod bench;
pub mod block;
pub mod config;
pub mod decoder;
pub mod device;
pub mod encoder;
pub mod error;
pub mod fused;
pub mod head;
pub mod init;
pub mod layout;
pub mod loss;
pub mod mae;
pub mod mamba;
pub mod patch;
pub mod preset;
pub mod profile;
pub mod scan;

pub use config::{ModelConfig, StageGeometry};
pub use device::DeviceChoice;
pub use error::ModelError;
pub use head::ClassifierHead;
pub use loss::{BatchMask, MaskToken, masked_mse};
pub use mae::{Mae, MaeOutput, MaeTrace};
pub use preset::Preset;
pub use scan::{ScanImpl, ScanInput, selective_scan};

use burn::module::Module;
use burn::prelude::*;
use serde::Serialize;

/// Parameter counts of a config (what `roimae model` prints).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ParamCounts {
    /// The encoder.
    pub encoder_params: usize,
    /// The whole pretraining model (encoder + the three mask tokens +
    /// decoder), as NeuroSTORM counts it.
    pub mae_params: usize,
    /// The decoder alone.
    pub decoder_params: usize,
    /// The mask-token table (`window_mask_token`).
    pub mask_token_params: usize,
    /// NeuroSTORM's two single mask tokens (`mask_token`, `atlas_mask_token`),
    /// included in `mae_params`.
    pub extra_token_params: usize,
    /// The whole model without the two single tokens (docs/SPEC-model.md's count).
    pub spec_mae_params: usize,
    /// The binary classification head (Linear(C → 1)).
    pub head_params: usize,
}

impl ParamCounts {
    /// Counts by building the model on the CPU (weights are initialised lazily,
    /// so this is cheap even at `reference`); fails if `cfg` is invalid.
    pub fn of(cfg: &ModelConfig) -> Result<Self, ModelError> {
        let device = Device::flex();
        let mae = cfg.init(0, &device)?;
        let head = ClassifierHead::new(cfg.stage_dim(cfg.depths.len() - 1), 1, &device);
        let extra = 2 * cfg.embed_dim;
        Ok(Self {
            encoder_params: mae.encoder.num_params(),
            mae_params: mae.num_params(),
            decoder_params: mae.decoder.num_params(),
            mask_token_params: mae.mask_token.dims().iter().product(),
            extra_token_params: extra,
            spec_mae_params: mae.num_params() - extra,
            head_params: head.num_params(),
        })
    }
}
