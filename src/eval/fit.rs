//! The supervised training loop shared by frozen and full fine-tuning:
//! AdamW over the training clips in a seeded order, and after every epoch
//! the subject-level predictions on the validation and test subjects. Model
//! selection looks only at validation; the test predictions of every epoch
//! are kept so the selected epoch can be scored afterwards without a copy of
//! the model.

use super::EvalError;
use super::ft_config::FinetuneConfig;
use super::metrics::{SubjectPrediction, aggregate_by_subject};
use crate::data::split::{Split, SplitConfig, split_subjects};
use burn::module::Module;
use burn::optim::{AdamWConfig, GradientsParams};
use burn::prelude::*;
use burn::tensor::activation::{log_sigmoid, log_softmax};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

/// Clip indices of three subject-disjoint sets.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Sets {
    /// Training clips.
    pub train: Vec<usize>,
    /// Validation clips (model selection).
    pub val: Vec<usize>,
    /// Held-out test clips.
    pub test: Vec<usize>,
}

/// Labelled clips: per clip its subject and label (`None` = unlabelled).
#[derive(Clone, Copy)]
pub struct Labels<'a> {
    /// Subject id per clip.
    pub subjects: &'a [String],
    /// Label per clip.
    pub labels: &'a [Option<u32>],
}

/// What a fit trains and scores on: the labelled clips, their
/// subject-disjoint sets and the number of classes.
#[derive(Clone, Copy)]
pub struct Task<'a> {
    /// Subject and label per clip.
    pub clips: Labels<'a>,
    /// Clip indices per set.
    pub sets: &'a Sets,
    /// Number of classes (largest label + 1).
    pub classes: usize,
}

impl Task<'_> {
    /// The label of clip `i` (0 for an unlabelled clip, which no set holds).
    fn label(&self, i: usize) -> u32 {
        self.clips.labels[i].unwrap_or(0)
    }
}

/// Splits the labelled clips by subject, stratified by label: the subject
/// lists, the clip sets and the number of classes (largest label + 1).
pub fn split_labelled(l: &Labels, cfg: &FinetuneConfig) -> Result<(Split, Sets, usize), EvalError> {
    let triples: Vec<(String, Option<u32>, Option<String>)> = l
        .subjects
        .iter()
        .zip(l.labels)
        .filter(|(_, y)| y.is_some())
        .map(|(s, y)| (s.clone(), *y, None))
        .collect();
    let distinct: std::collections::BTreeSet<u32> = triples.iter().filter_map(|t| t.1).collect();
    if distinct.len() < 2 {
        return Err(EvalError::TooFewClasses {
            classes: distinct.len(),
        });
    }
    let classes = *distinct.last().unwrap_or(&1) as usize + 1;
    let split = split_subjects(
        &triples,
        &SplitConfig {
            val: cfg.val_fraction,
            test: cfg.test_fraction,
            by_site: false,
            seed: cfg.seed,
        },
    );
    for (name, ids) in [
        ("training", &split.train),
        ("validation", &split.val),
        ("test", &split.test),
    ] {
        if ids.is_empty() {
            return Err(EvalError::EmptySplit {
                set: name,
                subjects: triples
                    .iter()
                    .map(|t| &t.0)
                    .collect::<std::collections::BTreeSet<_>>()
                    .len(),
            });
        }
    }
    let mut sets = Sets::default();
    for (i, (s, y)) in l.subjects.iter().zip(l.labels).enumerate() {
        if y.is_none() {
            continue;
        }
        if split.train.binary_search(s).is_ok() {
            sets.train.push(i);
        } else if split.val.binary_search(s).is_ok() {
            sets.val.push(i);
        } else if split.test.binary_search(s).is_ok() {
            sets.test.push(i);
        }
    }
    Ok((split, sets, classes))
}

/// The logit count of a head for `classes` classes (1 for binary).
pub fn head_outputs(classes: usize) -> usize {
    if classes <= 2 { 1 } else { classes }
}

/// Mean cross-entropy of logits `[B, K]` (binary: BCE on one logit).
pub fn loss_tensor(logits: Tensor<2>, labels: &[u32], classes: usize) -> Tensor<1> {
    let device = logits.device();
    let [b, k] = logits.dims();
    if classes <= 2 {
        let y: Vec<f32> = labels.iter().map(|&l| l as f32).collect();
        let y = Tensor::<2>::from_data(TensorData::new(y, [b, 1]), &device);
        let per =
            y.clone() * log_sigmoid(logits.clone()) + (y.neg() + 1.0) * log_sigmoid(logits.neg());
        per.mean().neg().reshape([1])
    } else {
        let mut onehot = vec![0.0f32; b * k];
        for (i, &l) in labels.iter().enumerate() {
            onehot[i * k + l as usize] = 1.0;
        }
        let onehot = Tensor::<2>::from_data(TensorData::new(onehot, [b, k]), &device);
        (onehot * log_softmax(logits, 1)).sum().neg().reshape([1]) / b as f32
    }
}

/// The same loss for one clip's logits on the host.
pub fn clip_loss(logits: &[f64], label: u32, classes: usize) -> f64 {
    if classes <= 2 {
        let z = logits[0];
        let y = label as f64;
        // softplus(z) - y z, computed stably.
        z.max(0.0) + (-z.abs()).exp().ln_1p() - y * z
    } else {
        let m = logits.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let lse = m + logits.iter().map(|v| (v - m).exp()).sum::<f64>().ln();
        lse - logits[label as usize]
    }
}

/// One epoch's numbers.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EpochRow {
    /// 1-based epoch.
    pub epoch: usize,
    /// Mean training loss over the epoch's steps.
    pub train_loss: f64,
    /// Mean clip loss on the validation clips.
    pub val_loss: f64,
    /// Subject-level validation accuracy.
    pub val_accuracy: f64,
}

/// Everything a fit produced.
pub struct Fit {
    /// The model (non-autodiff copy) of the epoch with the lowest
    /// validation loss, as `Box<M>` (downcast to the fitted type).
    pub best_model: Option<Box<dyn std::any::Any + Send>>,
    /// Per-epoch numbers.
    pub history: Vec<EpochRow>,
    /// Subject predictions on validation, per epoch.
    pub val: Vec<Vec<SubjectPrediction>>,
    /// Subject predictions on test, per epoch.
    pub test: Vec<Vec<SubjectPrediction>>,
}

impl Fit {
    /// 0-based epoch with the lowest validation loss (the first of ties).
    pub fn best_by_val_loss(&self) -> usize {
        let mut best = 0;
        for (i, r) in self.history.iter().enumerate() {
            if r.val_loss < self.history[best].val_loss {
                best = i;
            }
        }
        best
    }

    /// 0-based epoch with the highest validation accuracy (ties: lower
    /// validation loss, then earlier).
    pub fn best_by_val_accuracy(&self) -> usize {
        let mut best = 0;
        for (i, r) in self.history.iter().enumerate() {
            let b = &self.history[best];
            if r.val_accuracy > b.val_accuracy
                || (r.val_accuracy == b.val_accuracy && r.val_loss < b.val_loss)
            {
                best = i;
            }
        }
        best
    }
}

/// A model's logits `[B, K]` for a batch of clip indices on a device.
pub type Forward<'a, M> = dyn Fn(&M, &[usize], &Device) -> Result<Tensor<2>, EvalError> + 'a;

/// Trains `model` (on the autodiff `device`) with `forward` on the task's
/// training clips and records the validation/test predictions after every
/// epoch.
pub fn fit<M: Module + Send + 'static>(
    mut model: M,
    forward: &Forward<M>,
    task: &Task,
    cfg: &FinetuneConfig,
    device: &Device,
    log: &mut dyn FnMut(String),
) -> Result<Fit, EvalError> {
    let eval_device = device.clone().without_autodiff();
    let mut optim = AdamWConfig::new()
        .with_weight_decay(cfg.weight_decay as f32)
        .init();
    let lr = cfg.learning_rate();
    let mut out = Fit {
        best_model: None,
        history: Vec::new(),
        val: Vec::new(),
        test: Vec::new(),
    };
    for epoch in 0..cfg.epochs {
        let mut losses = Vec::new();
        for chunk in epoch_order(&task.sets.train, cfg.seed, epoch).chunks(cfg.batch_size) {
            let y: Vec<u32> = chunk.iter().map(|&i| task.label(i)).collect();
            let loss = loss_tensor(forward(&model, chunk, device)?, &y, task.classes);
            let value = loss
                .clone()
                .try_into_scalar::<f32>()
                .map_err(EvalError::device)?;
            if !value.is_finite() {
                return Err(EvalError::LossDiverged {
                    value,
                    epoch: epoch + 1,
                });
            }
            losses.push(value as f64);
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = optim.step(lr, model, grads);
        }
        let frozen = model.valid();
        let scoring = Scoring {
            forward,
            task,
            batch: cfg.batch_size,
            device: &eval_device,
        };
        let (val, val_loss) = scoring.predict(&frozen, &task.sets.val)?;
        let (test, _) = scoring.predict(&frozen, &task.sets.test)?;
        let hits = val.iter().filter(|p| p.predicted() == p.label).count();
        let row = EpochRow {
            epoch: epoch + 1,
            train_loss: losses.iter().sum::<f64>() / losses.len().max(1) as f64,
            val_loss,
            val_accuracy: hits as f64 / val.len().max(1) as f64,
        };
        log(format!(
            "epoch {}: train loss {:.4}, val loss {:.4}, val acc {:.3}",
            row.epoch, row.train_loss, row.val_loss, row.val_accuracy
        ));
        if out.history.iter().all(|r| row.val_loss < r.val_loss) {
            out.best_model = Some(Box::new(frozen.clone()));
        }
        out.history.push(row);
        out.val.push(val);
        out.test.push(test);
    }
    Ok(out)
}

/// The training clips in epoch `epoch`'s seeded order.
fn epoch_order(train: &[usize], seed: u64, epoch: usize) -> Vec<usize> {
    let mut order = train.to_vec();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(epoch as u64 + 1);
    order.shuffle(&mut rng);
    order
}

/// How a fitted model's clips are scored after an epoch (no autodiff).
struct Scoring<'a, 'f, M> {
    forward: &'a Forward<'f, M>,
    task: &'a Task<'a>,
    batch: usize,
    device: &'a Device,
}

impl<M> Scoring<'_, '_, M> {
    /// The subject predictions of `clips` and their mean clip loss.
    fn predict(
        &self,
        model: &M,
        clips: &[usize],
    ) -> Result<(Vec<SubjectPrediction>, f64), EvalError> {
        let task = self.task;
        let mut rows = Vec::with_capacity(clips.len());
        let mut loss = 0.0;
        for chunk in clips.chunks(self.batch) {
            let logits = (self.forward)(model, chunk, self.device)?;
            let k = logits.dims()[1];
            let v = logits.try_into_vec_as::<f32>().map_err(EvalError::device)?;
            for (j, &c) in chunk.iter().enumerate() {
                let l: Vec<f64> = v[j * k..(j + 1) * k].iter().map(|&x| x as f64).collect();
                loss += clip_loss(&l, task.label(c), task.classes);
                rows.push((task.clips.subjects[c].clone(), task.label(c), l));
            }
        }
        Ok((
            aggregate_by_subject(&rows)?,
            loss / clips.len().max(1) as f64,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_loss_matches_hand_values() {
        // BCE at logit 0 is ln 2 for either label.
        assert!((clip_loss(&[0.0], 1, 2) - 2f64.ln()).abs() < 1e-12);
        // Logit ln 3 (p = 3/4): label 1 → -ln(3/4), label 0 → -ln(1/4).
        let z = 3f64.ln();
        assert!((clip_loss(&[z], 1, 2) + (0.75f64).ln()).abs() < 1e-12);
        assert!((clip_loss(&[z], 0, 2) + (0.25f64).ln()).abs() < 1e-12);
        // Three classes, logits (0, ln 2, 0): p = (1/4, 1/2, 1/4).
        let l = [0.0, 2f64.ln(), 0.0];
        assert!((clip_loss(&l, 1, 3) + 0.5f64.ln()).abs() < 1e-12);
        assert!((clip_loss(&l, 2, 3) + 0.25f64.ln()).abs() < 1e-12);
    }

    #[test]
    fn tensor_loss_agrees_with_the_host_loss() {
        let device = Device::flex();
        let z = Tensor::<2>::from_data(TensorData::new(vec![0.5f32, -1.0], [2, 1]), &device);
        let t = loss_tensor(z, &[1, 0], 2).into_scalar::<f32>() as f64;
        let h = (clip_loss(&[0.5], 1, 2) + clip_loss(&[-1.0], 0, 2)) / 2.0;
        assert!((t - h).abs() < 1e-6, "{t} {h}");
        let z = Tensor::<2>::from_data(
            TensorData::new(vec![0.0f32, 1.0, 2.0, 2.0, 1.0, 0.0], [2, 3]),
            &device,
        );
        let t = loss_tensor(z, &[2, 1], 3).into_scalar::<f32>() as f64;
        let h = (clip_loss(&[0.0, 1.0, 2.0], 2, 3) + clip_loss(&[2.0, 1.0, 0.0], 1, 3)) / 2.0;
        assert!((t - h).abs() < 1e-6, "{t} {h}");
    }

    #[test]
    fn split_keeps_subjects_whole_and_skips_unlabelled_clips() {
        let subjects: Vec<String> = (0..40).map(|i| format!("s{:02}", i / 2)).collect();
        let mut labels: Vec<Option<u32>> = (0..40).map(|i| Some(((i / 2) % 2) as u32)).collect();
        labels[0] = None; // s00's first clip
        let cfg = FinetuneConfig {
            val_fraction: 0.2,
            test_fraction: 0.2,
            ..FinetuneConfig::default()
        };
        let l = Labels {
            subjects: &subjects,
            labels: &labels,
        };
        let (split, sets, classes) = split_labelled(&l, &cfg).unwrap();
        assert_eq!(classes, 2);
        assert_eq!(
            (split.val.len(), split.test.len(), split.train.len()),
            (4, 4, 12)
        );
        let all: Vec<usize> = [&sets.train, &sets.val, &sets.test]
            .into_iter()
            .flatten()
            .copied()
            .collect();
        assert_eq!(all.len(), 39);
        assert!(!all.contains(&0));
        for (a, b) in [
            (&sets.train, &sets.test),
            (&sets.val, &sets.test),
            (&sets.train, &sets.val),
        ] {
            for &i in a {
                assert!(b.iter().all(|&j| subjects[j] != subjects[i]));
            }
        }
        let one = vec![Some(1); 40];
        let l = Labels {
            subjects: &subjects,
            labels: &one,
        };
        assert!(
            split_labelled(&l, &cfg)
                .unwrap_err()
                .to_string()
                .contains("at least two classes")
        );
    }
}
