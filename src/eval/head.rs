//! The linear head of the frozen-encoder protocol, trained on fixed
//! per-clip features (the mean output tokens): optional z-scoring with the
//! training clips' statistics, a zero-initialised head, and the shared
//! fitting loop of [`super::fit`].

use super::EvalError;
use super::fit::{self, Fit, Forward, Task};
use super::ft_config::FinetuneConfig;
use crate::model::ClassifierHead;
use burn::nn::{Initializer, LinearConfig};
use burn::prelude::*;

/// A zero-initialised linear head from `dim` features to the logits of
/// `classes` classes (one logit for binary).
pub fn zero_head(dim: usize, classes: usize, device: &Device) -> ClassifierHead {
    ClassifierHead {
        fc: LinearConfig::new(dim, fit::head_outputs(classes))
            .with_initializer(Initializer::Zeros)
            .init(device),
    }
}

/// The feature scaling a head was trained with: `(f - mean) / sd`.
#[derive(Debug, Clone, PartialEq)]
pub struct Scaling {
    /// Per-feature mean of the training clips (0 without standardising).
    pub mean: Vec<f64>,
    /// Per-feature SD of the training clips (1 without standardising).
    pub sd: Vec<f64>,
}

impl Scaling {
    /// The scaling a head on `features` is trained with: with
    /// `cfg.standardize` the mean and (population) SD of the task's
    /// training clips, each SD at least 1e-6; else the identity. Errors
    /// when the training clips have no features.
    pub fn for_training(
        features: &[Vec<f32>],
        task: &Task,
        cfg: &FinetuneConfig,
    ) -> Result<Scaling, EvalError> {
        let train = &task.sets.train;
        let dim = train
            .first()
            .map(|&i| features[i].len())
            .filter(|&d| d > 0)
            .ok_or(EvalError::NoTrainingFeatures)?;
        if !cfg.standardize {
            return Ok(Scaling {
                mean: vec![0.0; dim],
                sd: vec![1.0; dim],
            });
        }
        let n = train.len() as f64;
        let mut mean = vec![0.0f64; dim];
        for &i in train {
            for (m, v) in mean.iter_mut().zip(&features[i]) {
                *m += *v as f64 / n;
            }
        }
        let mut var = vec![0.0f64; dim];
        for &i in train {
            for ((s, v), m) in var.iter_mut().zip(&features[i]).zip(&mean) {
                *s += (*v as f64 - m).powi(2) / n;
            }
        }
        let sd = var.iter().map(|v| v.sqrt().max(1e-6)).collect();
        Ok(Scaling { mean, sd })
    }

    /// Features per clip.
    pub fn dim(&self) -> usize {
        self.sd.len()
    }

    /// Every feature vector scaled.
    fn apply(&self, features: &[Vec<f32>]) -> Vec<Vec<f32>> {
        features
            .iter()
            .map(|f| {
                f.iter()
                    .enumerate()
                    .map(|(k, &v)| ((v as f64 - self.mean[k]) / self.sd[k]) as f32)
                    .collect()
            })
            .collect()
    }
}

/// Trains a linear head (zero-initialised) on fixed per-clip features —
/// the frozen-encoder protocol once the mean tokens are computed — on the
/// features scaled by [`Scaling::for_training`]. `device` must have
/// autodiff. The fitted head's best copy is in `Fit::best_model` as
/// `Box<ClassifierHead>`.
pub fn train_head_on_features(
    features: &[Vec<f32>],
    task: &Task,
    cfg: &FinetuneConfig,
    device: &Device,
    log: &mut dyn FnMut(String),
) -> Result<Fit, EvalError> {
    let scaling = Scaling::for_training(features, task, cfg)?;
    let dim = scaling.dim();
    let scaled = scaling.apply(features);
    let forward: &Forward<ClassifierHead> = &|head, clips, dev| {
        let mut rows = Vec::with_capacity(clips.len() * dim);
        for &c in clips {
            if scaled[c].len() != dim {
                return Err(EvalError::MissingFeature { clip: c });
            }
            rows.extend_from_slice(&scaled[c]);
        }
        let x = Tensor::<2>::from_data(TensorData::new(rows, [clips.len(), dim]), dev);
        Ok(head.fc.forward(x))
    };
    let head = zero_head(dim, task.classes, device);
    fit::fit(head, forward, task, cfg, device, log)
}
