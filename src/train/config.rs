//! A training run's configuration (TOML): model preset, mask, data,
//! optimiser and schedule, batch/epochs/steps, validation, checkpoints,
//! seed and device. Every field has a default, so a viewer-saved selection
//! file (`preset` + `[mask]`) is already a valid run config. Loading goes
//! through [`crate::fsutil::load_toml`] (read → parse → [`RunConfig::validate`]);
//! a bad setting is a [`TrainError::Config`] naming the field.

use super::augment::AugmentConfig;
use super::error::TrainError;
use crate::atlas::Lobe;
use crate::data::GridChoice;
use crate::fsutil::{self, DocKind};
use crate::masking::{MaskSpec, RegionSelection};
use crate::model::DeviceChoice;
use crate::model::{ModelConfig, Preset};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Everything that defines a pretraining run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RunConfig {
    /// Model preset: `reference`, `mni4mm` or `tiny` (also fixes the data
    /// geometry: input cube, patch and frames).
    pub preset: Preset,
    /// An explicit model instead of the preset's (e.g. the topology of an
    /// imported NeuroSTORM checkpoint); its input, patch and frames must
    /// equal the preset's.
    pub model: Option<ModelConfig>,
    /// Start from these weights (a NeuroSTORM `.ckpt`/`.pt`/`.safetensors`
    /// or a roimae run folder) instead of a fresh initialisation; the
    /// optimiser starts fresh.
    pub init_from: Option<PathBuf>,
    /// What is masked (the viewer's `[mask]` table).
    pub mask: MaskSpec,
    /// Where clips come from.
    pub data: DataConfig,
    /// Augmentation of training clips (the reference recipe).
    pub augment: AugmentConfig,
    /// AdamW and the learning-rate schedule.
    pub optim: OptimConfig,
    /// Clips per step.
    pub batch_size: usize,
    /// Passes over the training clips.
    pub epochs: usize,
    /// Stop after this many steps (wins over `epochs` when smaller).
    pub max_steps: Option<usize>,
    /// Validate (and checkpoint) every this many steps.
    pub val_every: usize,
    /// Fraction of subjects held out for validation.
    pub val_fraction: f64,
    /// Subjects kept out of pretraining entirely (neither trained nor
    /// validated on): the fine-tuning test subjects of an inductive
    /// experiment. The run writes what it used to `split.json`.
    pub exclude_subjects: Vec<String>,
    /// Seed of the model init, split and clip order.
    pub seed: u64,
    /// Where to train.
    pub device: DeviceChoice,
    /// Checkpoints kept besides the best-validation one.
    pub keep_last: usize,
    /// Send a reconstruction preview every this many steps (0 = never).
    pub preview_every: usize,
}

/// Where the clips come from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum DataConfig {
    /// A clip cache written by `roimae prepare`.
    Cache {
        /// The cache folder (with `manifest.json`).
        path: PathBuf,
    },
    /// A synthetic cohort generated in memory.
    Synthetic(SyntheticData),
}

/// A synthetic cohort made in memory for the run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct SyntheticData {
    /// Subjects (half controls, half patients).
    pub subjects: usize,
    /// Frames per subject run (cut into clips of the preset's frames).
    pub frames: usize,
    /// Seed of the cohort.
    pub seed: u64,
    /// Lobes where patients differ from controls.
    pub effect_lobes: Vec<Lobe>,
    /// Strength of the planted effect.
    pub effect_size: f64,
    /// Acquisition sites.
    pub sites: usize,
}

impl Default for SyntheticData {
    fn default() -> Self {
        SyntheticData {
            subjects: 8,
            frames: 48,
            seed: 0,
            effect_lobes: vec![Lobe::Limbic],
            effect_size: 1.0,
            sites: 2,
        }
    }
}

impl SyntheticData {
    /// The cohort as a [`crate::data::synth::SynthConfig`] on `grid`.
    pub fn synth_config(&self, grid: GridChoice) -> crate::data::synth::SynthConfig {
        crate::data::synth::SynthConfig {
            subjects: self.subjects,
            grid,
            frames: self.frames,
            effect_regions: RegionSelection {
                lobes: self.effect_lobes.clone(),
                names: Vec::new(),
            },
            effect_size: self.effect_size,
            sites: self.sites,
            seed: self.seed,
            ..Default::default()
        }
    }
}

impl Default for DataConfig {
    fn default() -> Self {
        DataConfig::Synthetic(SyntheticData::default())
    }
}

/// AdamW with optional linear warm-up, cosine decay and gradient clipping.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct OptimConfig {
    /// Peak learning rate (docs/SPEC-model.md: 5e-5).
    pub lr: f64,
    /// Adam β1.
    pub beta1: f64,
    /// Adam β2.
    pub beta2: f64,
    /// Decoupled weight decay (docs/SPEC-model.md: 0.01).
    pub weight_decay: f64,
    /// Adam ε.
    pub epsilon: f64,
    /// Steps of linear warm-up from 0 to `lr`.
    pub warmup_steps: usize,
    /// Cosine decay from `lr` to `min_lr` over the remaining steps.
    pub cosine: bool,
    /// Floor of the cosine decay.
    pub min_lr: f64,
    /// Clip the global gradient norm to this value.
    pub grad_clip: Option<f64>,
}

impl Default for OptimConfig {
    /// docs/SPEC-model.md's reference: AdamW lr 5e-5, weight decay 0.01, no scheduler.
    fn default() -> Self {
        OptimConfig {
            lr: 5e-5,
            beta1: 0.9,
            beta2: 0.999,
            weight_decay: 0.01,
            epsilon: 1e-8,
            warmup_steps: 0,
            cosine: false,
            min_lr: 0.0,
            grad_clip: None,
        }
    }
}

impl OptimConfig {
    /// The learning rate of (0-based) step `step` of `total`.
    pub fn lr_at(&self, step: usize, total: usize) -> f64 {
        if step < self.warmup_steps {
            return self.lr * (step + 1) as f64 / self.warmup_steps as f64;
        }
        if !self.cosine {
            return self.lr;
        }
        let span = total.saturating_sub(self.warmup_steps).max(1) as f64;
        let progress = ((step - self.warmup_steps) as f64 / span).min(1.0);
        self.min_lr
            + 0.5 * (self.lr - self.min_lr) * (1.0 + (std::f64::consts::PI * progress).cos())
    }
}

impl Default for RunConfig {
    fn default() -> Self {
        RunConfig {
            preset: Preset::Tiny,
            model: None,
            init_from: None,
            mask: MaskSpec::default(),
            data: DataConfig::default(),
            augment: AugmentConfig::default(),
            optim: OptimConfig::default(),
            batch_size: 4,
            epochs: 30,
            max_steps: None,
            val_every: 50,
            val_fraction: 0.2,
            exclude_subjects: Vec::new(),
            seed: 0,
            device: DeviceChoice::Auto,
            keep_last: 2,
            preview_every: 50,
        }
    }
}

impl RunConfig {
    /// The CPU-friendly demo: `tiny` on 8 synthetic subjects (48 clips of
    /// 8 frames), window masking, AdamW 1e-3 with warm-up and cosine decay,
    /// 300 steps of 4 clips — a few minutes on a 2-core CPU.
    pub fn demo() -> Self {
        RunConfig {
            optim: OptimConfig {
                lr: 1e-3,
                warmup_steps: 20,
                cosine: true,
                min_lr: 1e-5,
                grad_clip: Some(1.0),
                ..OptimConfig::default()
            },
            epochs: 100,
            max_steps: Some(300),
            val_every: 25,
            preview_every: 25,
            ..RunConfig::default()
        }
    }

    /// The model: the explicit `[model]` when given (checked against the
    /// preset's data geometry), else the preset's.
    pub fn model(&self) -> Result<ModelConfig, TrainError> {
        let preset = self.preset.model();
        let Some(model) = &self.model else {
            return Ok(preset);
        };
        model
            .validate()
            .map_err(|e| TrainError::config("[model]", e))?;
        if (model.input, model.patch, model.frames) != (preset.input, preset.patch, preset.frames) {
            return Err(TrainError::config(
                "[model]",
                format!(
                    "input {}³×{} at patch {} differs from preset '{}' ({}³×{} at patch {}); set preset to the one with the model's data geometry",
                    model.input,
                    model.frames,
                    model.patch,
                    self.preset,
                    preset.input,
                    preset.frames,
                    preset.patch
                ),
            ));
        }
        Ok(model.clone())
    }

    /// Checks every number and name; the error is a [`TrainError::Config`]
    /// naming the field.
    pub fn validate(&self) -> Result<(), TrainError> {
        self.model()?;
        self.mask
            .validate()
            .map_err(|e| TrainError::config("[mask]", e))?;
        let o = &self.optim;
        if !(o.lr.is_finite() && o.lr > 0.0) {
            return Err(TrainError::config(
                "optim.lr",
                format!("must be a finite number > 0, got {}", o.lr),
            ));
        }
        for (name, b) in [("beta1", o.beta1), ("beta2", o.beta2)] {
            if !(0.0..1.0).contains(&b) {
                return Err(TrainError::config(
                    format!("optim.{name}"),
                    format!("must be in [0, 1), got {b}"),
                ));
            }
        }
        if !(o.weight_decay.is_finite() && o.weight_decay >= 0.0) {
            return Err(TrainError::config(
                "optim.weight_decay",
                format!("must be >= 0, got {}", o.weight_decay),
            ));
        }
        if !(o.epsilon.is_finite() && o.epsilon > 0.0) {
            return Err(TrainError::config(
                "optim.epsilon",
                format!("must be > 0, got {}", o.epsilon),
            ));
        }
        if !(o.min_lr.is_finite() && o.min_lr >= 0.0 && o.min_lr <= o.lr) {
            return Err(TrainError::config(
                "optim.min_lr",
                format!("must be in [0, lr], got {}", o.min_lr),
            ));
        }
        if let Some(c) = o.grad_clip
            && !(c.is_finite() && c > 0.0)
        {
            return Err(TrainError::config(
                "optim.grad_clip",
                format!("must be > 0, got {c}"),
            ));
        }
        if self.batch_size == 0 {
            return Err(TrainError::config("batch_size", "must be at least 1"));
        }
        if self.epochs == 0 {
            return Err(TrainError::config("epochs", "must be at least 1"));
        }
        if self.max_steps == Some(0) {
            return Err(TrainError::config(
                "max_steps",
                "must be at least 1 (or left out)",
            ));
        }
        if self.val_every == 0 {
            return Err(TrainError::config("val_every", "must be at least 1 step"));
        }
        self.augment.validate()?;
        if !(0.0..1.0).contains(&self.val_fraction) {
            return Err(TrainError::config(
                "val_fraction",
                format!("must be in [0, 1), got {}", self.val_fraction),
            ));
        }
        if let DataConfig::Synthetic(s) = &self.data {
            let frames = self.model()?.frames;
            if s.frames < frames.max(20) {
                return Err(TrainError::config(
                    "data.frames",
                    format!(
                        "must be at least {} (one clip of the '{}' preset, and 20 for the synthetic cohort), got {}",
                        frames.max(20),
                        self.preset,
                        s.frames
                    ),
                ));
            }
            s.synth_config(self.preset.source_grid())
                .validate()
                .map_err(|e| TrainError::config("[data]", e))?;
        }
        Ok(())
    }

    /// What a run config file is called in errors and where it is documented.
    const DOC: DocKind = DocKind {
        what: "run config",
        hint: "see `roimae pretrain --help`",
    };

    /// Reads and validates a run config (or a viewer selection file); every
    /// failure names the file.
    pub fn load(path: &Path) -> Result<RunConfig, TrainError> {
        Ok(fsutil::load_toml(path, Self::DOC, RunConfig::validate)?)
    }

    /// Writes the config as TOML, atomically.
    pub fn save(&self, path: &Path) -> Result<(), TrainError> {
        Ok(fsutil::save_toml(path, self, Self::DOC.what)?)
    }

    /// The steps of the run given the steps per epoch.
    pub fn total_steps(&self, steps_per_epoch: usize) -> usize {
        let all = self.epochs * steps_per_epoch;
        self.max_steps.map_or(all, |m| m.min(all))
    }

    /// Whether `other` trains the same model on the same data in the same
    /// order (what resuming needs); `Err` names the first difference.
    pub fn same_run_as(&self, other: &RunConfig) -> Result<(), TrainError> {
        let checks = [
            ("preset", self.preset == other.preset),
            ("model", self.model == other.model),
            ("mask", self.mask == other.mask),
            ("data", self.data == other.data),
            ("augment", self.augment == other.augment),
            ("seed", self.seed == other.seed),
            ("batch_size", self.batch_size == other.batch_size),
            ("val_fraction", self.val_fraction == other.val_fraction),
            (
                "exclude_subjects",
                self.exclude_subjects == other.exclude_subjects,
            ),
        ];
        match checks.iter().find(|(_, same)| !same) {
            Some(&(field, _)) => Err(TrainError::NotSameRun { field }),
            None => Ok(()),
        }
    }
}
