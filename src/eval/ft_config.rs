//! The fine-tuning config (`ft.toml`): frozen or full, epochs, optimiser,
//! the subject splits, the bootstrap, the device and, optionally, labelled
//! data other than the pretraining run's. Every field has a default.

use super::EvalError;
use super::pretrained::CheckpointChoice;
use crate::fsutil::{self, DocKind};
use crate::train::{DataConfig, DeviceChoice};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// How to fine-tune and evaluate a pretrained encoder.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct FinetuneConfig {
    /// Train the encoder too (default: frozen encoder, only the head trains).
    pub full: bool,
    /// Passes over the training clips.
    pub epochs: usize,
    /// AdamW learning rate; default 1e-2 frozen, 1e-4 full.
    pub lr: Option<f64>,
    /// AdamW decoupled weight decay.
    pub weight_decay: f64,
    /// Clips per step.
    pub batch_size: usize,
    /// Fraction of subjects (per label) for validation (model selection).
    pub val_fraction: f64,
    /// Fraction of subjects (per label) held out for the final test.
    pub test_fraction: f64,
    /// Seed of the split, the clip order and the bootstrap.
    pub seed: u64,
    /// Bootstrap resamples for the AUROC interval (0 = none).
    pub bootstrap: usize,
    /// Frozen mode: z-score each mean-token feature with the training
    /// clips' mean and sd (an affine change of the linear head's input,
    /// which only conditions the optimisation).
    pub standardize: bool,
    /// Also run leave-one-site-out (frozen encoder; needs sites in the data).
    pub leave_site_out: bool,
    /// Where to compute.
    pub device: DeviceChoice,
    /// The pretraining checkpoint whose encoder is used.
    pub checkpoint: CheckpointChoice,
    /// Labelled data to fine-tune on; default: the pretraining run's data.
    pub data: Option<DataConfig>,
}

impl Default for FinetuneConfig {
    fn default() -> Self {
        FinetuneConfig {
            full: false,
            epochs: 50,
            lr: None,
            weight_decay: 1e-4,
            batch_size: 16,
            val_fraction: 0.2,
            test_fraction: 0.2,
            seed: 0,
            bootstrap: 1000,
            standardize: true,
            leave_site_out: false,
            device: DeviceChoice::Auto,
            checkpoint: CheckpointChoice::Best,
            data: None,
        }
    }
}

impl FinetuneConfig {
    /// The learning rate in use.
    pub fn learning_rate(&self) -> f64 {
        self.lr.unwrap_or(if self.full { 1e-4 } else { 1e-2 })
    }

    /// Checks every number; the error names the field.
    pub fn validate(&self) -> Result<(), EvalError> {
        let lr = self.learning_rate();
        if !(lr.is_finite() && lr > 0.0) {
            return Err(EvalError::setting(
                "lr",
                format!("must be a finite number > 0, got {lr}"),
            ));
        }
        for (field, value) in [("epochs", self.epochs), ("batch_size", self.batch_size)] {
            if value == 0 {
                return Err(EvalError::setting(field, "must be at least 1, got 0"));
            }
        }
        if !(self.weight_decay.is_finite() && self.weight_decay >= 0.0) {
            return Err(EvalError::setting(
                "weight_decay",
                format!("must be >= 0, got {}", self.weight_decay),
            ));
        }
        let (v, t) = (self.val_fraction, self.test_fraction);
        if !(v > 0.0 && t > 0.0 && v + t < 1.0) {
            return Err(EvalError::setting(
                "val_fraction and test_fraction",
                format!("must be > 0 with a sum < 1, got {v} and {t}"),
            ));
        }
        if self.leave_site_out && self.full {
            return Err(EvalError::setting(
                "leave_site_out",
                "trains one head per site on the frozen encoder; drop full",
            ));
        }
        Ok(())
    }

    /// Reads and validates a fine-tuning config.
    pub fn load(path: &Path) -> Result<FinetuneConfig, EvalError> {
        Ok(fsutil::load_toml(path, KIND, FinetuneConfig::validate)?)
    }
}

/// How `ft.toml` is named in errors and where its format is documented.
const KIND: DocKind = DocKind {
    what: "fine-tuning config",
    hint: "see `roimae finetune --help`",
};
