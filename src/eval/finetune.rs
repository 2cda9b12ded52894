//! Fine-tuning a pretrained encoder for diagnosis (docs/SPEC-model.md "Downstream
//! classification"): the encoder from a run's best (else last) checkpoint
//! or its last one (`checkpoint = "last"`),
//! frozen with a linear head on the mean output token (default), or
//! trained with it (`full`); subject-level metrics under two protocols:
//!
//! - **honest**: the epoch with the lowest validation loss, scored on
//!   held-out test subjects never used for any choice;
//! - **reference** (test = validation, as the paper): the epoch with the best
//!   validation accuracy, scored on those same validation subjects —
//!   optimistic, reported for comparison with the literature only.
//!
//! Writes `finetune.json` and `metrics.csv` into the output folder.

use super::fit::{self, EpochRow, Fit, Forward, Labels, Sets};
use super::ft_config::FinetuneConfig;
use super::metrics::{ClassificationReport, SubjectPrediction, report};
use super::pretrained::{self, PretrainedInfo};
use super::site_out::{SiteOutResult, leave_site_out};
use crate::atlas::Atlas;
use crate::data::split::Split;
use crate::model::encoder::Encoder;
use crate::model::{ClassifierHead, ScanImpl};
use crate::train::data::{ClipSource, TrainData};
use crate::train::subject_split::PretrainingSplit;
use crate::train::{RunConfig, device};
use burn::module::Module;
use burn::nn::{Initializer, LinearConfig};
use burn::prelude::*;
use serde::Serialize;
use std::path::Path;
use std::time::Instant;

/// The encoder and head trained together (full fine-tuning).
#[derive(Module, Debug)]
pub struct EncoderClassifier {
    /// The pretrained encoder.
    pub encoder: Encoder,
    /// Mean token → logits.
    pub head: ClassifierHead,
}

/// One protocol's choice and scores.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProtocolResult {
    /// `honest` or `reference`.
    pub protocol: String,
    /// What was chosen on what, and what was scored.
    pub description: String,
    /// The split the report is on: `test` or `validation`.
    pub evaluated_on: String,
    /// The chosen (1-based) epoch.
    pub epoch: usize,
    /// Subject-level metrics.
    pub report: ClassificationReport,
    /// The scored subjects' predictions.
    pub predictions: Vec<SubjectPrediction>,
}

/// Everything `finetune.json` holds.
#[derive(Debug, Clone, Serialize)]
pub struct FinetuneResult {
    /// Where the encoder came from.
    pub pretrained: PretrainedInfo,
    /// `frozen` (linear head on the mean token) or `full`.
    pub mode: String,
    /// The config used.
    pub config: FinetuneConfig,
    /// The data, in words.
    pub data: String,
    /// The device, in words.
    pub device: String,
    /// Number of classes (largest label + 1).
    pub classes: usize,
    /// Subjects per split.
    pub split: Split,
    /// Whether the test subjects were kept out of pretraining.
    pub evaluation: Evaluation,
    /// Clips per split: train, val, test.
    pub clips: [usize; 3],
    /// Held-out test, selection on validation loss.
    pub honest: ProtocolResult,
    /// The paper's protocol (test = validation), optimistic.
    pub reference: ProtocolResult,
    /// Leave-one-site-out folds and pooled metrics, when asked for.
    pub leave_site_out: Option<SiteOutResult>,
    /// Per-epoch losses and validation accuracy.
    pub history: Vec<EpochRow>,
    /// Seconds for the whole fine-tuning.
    pub wall_s: f64,
}

/// Whether the encoder saw the fine-tuning test subjects in pretraining.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Evaluation {
    /// `inductive` (no test subject was read in pretraining),
    /// `transductive` (some were) or `unknown` (the run has no `split.json`).
    pub protocol: String,
    /// Test subjects pretraining read (`None` when unknown).
    pub test_seen_in_pretraining: Option<usize>,
    /// Test subjects.
    pub test_subjects: usize,
    /// The above in one line.
    pub description: String,
}

impl Evaluation {
    /// Compares the pretraining split (when known) with the test subjects
    /// by id; `other_data`: fine-tuning reads other data than pretraining,
    /// where an id in both may or may not be the same person.
    pub fn of(
        pretraining: Option<&PretrainingSplit>,
        test: &[String],
        other_data: bool,
    ) -> Evaluation {
        let n = test.len();
        match pretraining.map(|p| p.seen_of(test)) {
            Some(0) => Evaluation {
                protocol: "inductive".into(),
                test_seen_in_pretraining: Some(0),
                test_subjects: n,
                description: format!(
                    "inductive: none of the {n} test subjects was read in pretraining"
                ),
            },
            Some(k) => Evaluation {
                protocol: "transductive".into(),
                test_seen_in_pretraining: Some(k),
                test_subjects: n,
                description: if other_data {
                    format!(
                        "transductive by id: {k} of the {n} test subject ids also occur in the pretraining data (other data than fine-tuning's: check whether they are the same people)"
                    )
                } else {
                    format!(
                        "transductive: the encoder was pretrained on {k} of the {n} test subjects (pretrain with exclude_subjects for an inductive test)"
                    )
                },
            },
            None => Evaluation {
                protocol: "unknown".into(),
                test_seen_in_pretraining: None,
                test_subjects: n,
                description: format!(
                    "unknown overlap: the run has no split.json, so the {n} test subjects may have been pretrained on"
                ),
            },
        }
    }
}

/// Reads clips into a `[B, 1, n, n, n, T]` tensor.
pub fn clip_batch(
    source: &dyn ClipSource,
    clips: &[usize],
    n: usize,
    frames: usize,
    device: &Device,
) -> Tensor<6> {
    let mut values = Vec::with_capacity(clips.len() * source.clip_len());
    let mut clip = Vec::new();
    for &c in clips {
        source.read(c, &mut clip);
        values.extend_from_slice(&clip);
    }
    Tensor::from_data(
        TensorData::new(values, [clips.len(), 1, n, n, n, frames]),
        device,
    )
}

/// Mean over all output tokens of `encoded` `[B, x, y, z, T, C]` → `[B, C]`.
pub fn mean_token(encoded: Tensor<6>) -> Tensor<2> {
    let [b, x, y, z, t, c] = encoded.dims();
    encoded
        .reshape([b, x * y * z * t, c])
        .mean_dim(1)
        .reshape([b, c])
}

/// The mean output token of each clip in `clips` (a non-autodiff encoder),
/// indexed like the source (empty for clips not asked for).
pub fn mean_token_features(
    encoder: &Encoder,
    source: &dyn ClipSource,
    clips: &[usize],
    input: usize,
    frames: usize,
    batch: usize,
    device: &Device,
) -> Result<Vec<Vec<f32>>, String> {
    let mut out = vec![Vec::new(); source.len()];
    for chunk in clips.chunks(batch.max(1)) {
        let x = clip_batch(source, chunk, input, frames, device);
        let f = mean_token(encoder.forward(x, ScanImpl::Auto));
        let c = f.dims()[1];
        let v = f
            .try_into_vec_as::<f32>()
            .map_err(|e| crate::train::trainer::device_error(&format!("{e:?}")))?;
        for (j, &i) in chunk.iter().enumerate() {
            out[i] = v[j * c..(j + 1) * c].to_vec();
        }
    }
    Ok(out)
}

/// Trains a linear head (zero-initialised) on fixed per-clip features —
/// the frozen-encoder protocol once the mean tokens are computed. With
/// `cfg.standardize` the features are z-scored with the training clips'
/// statistics first. `device` must have autodiff.
#[allow(clippy::too_many_arguments)]
pub fn train_head_on_features(
    features: &[Vec<f32>],
    subjects: &[String],
    labels: &[Option<u32>],
    sets: &Sets,
    classes: usize,
    cfg: &FinetuneConfig,
    device: &Device,
    log: &mut dyn FnMut(String),
) -> Result<Fit, String> {
    train_scaled_head(features, subjects, labels, sets, classes, cfg, device, log).map(|(f, _)| f)
}

/// The feature scaling a head was trained with: `(f - mean) / sd`.
#[derive(Debug, Clone, PartialEq)]
pub struct Scaling {
    /// Per-feature mean of the training clips (0 without standardising).
    pub mean: Vec<f64>,
    /// Per-feature SD of the training clips (1 without standardising).
    pub sd: Vec<f64>,
}

/// [`train_head_on_features`], also returning the feature scaling (the
/// fitted head's best copy is in `Fit::best_model` as `Box<ClassifierHead>`).
#[allow(clippy::too_many_arguments)]
pub fn train_scaled_head(
    features: &[Vec<f32>],
    subjects: &[String],
    labels: &[Option<u32>],
    sets: &Sets,
    classes: usize,
    cfg: &FinetuneConfig,
    device: &Device,
    log: &mut dyn FnMut(String),
) -> Result<(Fit, Scaling), String> {
    let dim = sets
        .train
        .first()
        .map(|&i| features[i].len())
        .filter(|&d| d > 0)
        .ok_or("no training features to fit a head on")?;
    let mut mean = vec![0.0f64; dim];
    let mut sd = vec![1.0f64; dim];
    if cfg.standardize {
        let n = sets.train.len() as f64;
        for &i in &sets.train {
            for (m, v) in mean.iter_mut().zip(&features[i]) {
                *m += *v as f64 / n;
            }
        }
        let mut var = vec![0.0f64; dim];
        for &i in &sets.train {
            for ((s, v), m) in var.iter_mut().zip(&features[i]).zip(&mean) {
                *s += (*v as f64 - m).powi(2) / n;
            }
        }
        sd = var.iter().map(|v| v.sqrt().max(1e-6)).collect();
    }
    let scaled: Vec<Vec<f32>> = features
        .iter()
        .map(|f| {
            f.iter()
                .enumerate()
                .map(|(k, &v)| ((v as f64 - mean[k]) / sd[k]) as f32)
                .collect()
        })
        .collect();
    let head = ClassifierHead {
        fc: LinearConfig::new(dim, fit::head_outputs(classes))
            .with_initializer(Initializer::Zeros)
            .init(device),
    };
    let forward: &Forward<ClassifierHead> = &|head, clips, dev| {
        let mut rows = Vec::with_capacity(clips.len() * dim);
        for &c in clips {
            if scaled[c].len() != dim {
                return Err(format!("clip {c} has no feature vector"));
            }
            rows.extend_from_slice(&scaled[c]);
        }
        let x = Tensor::<2>::from_data(TensorData::new(rows, [clips.len(), dim]), dev);
        Ok(head.fc.forward(x))
    };
    let fit = fit::fit(
        head, forward, subjects, labels, sets, classes, cfg, device, log,
    )?;
    Ok((fit, Scaling { mean, sd }))
}

/// The two protocols' results of a fit.
pub fn protocols(
    fit: &Fit,
    classes: usize,
    cfg: &FinetuneConfig,
) -> (ProtocolResult, ProtocolResult) {
    let h = fit.best_by_val_loss();
    let r = fit.best_by_val_accuracy();
    let honest = ProtocolResult {
        protocol: "honest".into(),
        description: "epoch with the lowest validation loss; scored on held-out test subjects never used for selection".into(),
        evaluated_on: "test".into(),
        epoch: h + 1,
        report: report(&fit.test[h], classes, cfg.bootstrap, cfg.seed),
        predictions: fit.test[h].clone(),
    };
    let reference = ProtocolResult {
        protocol: "reference".into(),
        description: "paper protocol (test = validation): epoch with the best validation accuracy, scored on the same validation subjects; optimistic".into(),
        evaluated_on: "validation".into(),
        epoch: r + 1,
        report: report(&fit.val[r], classes, cfg.bootstrap, cfg.seed),
        predictions: fit.val[r].clone(),
    };
    (honest, reference)
}

/// The labelled data and splits of a fine-tuning (shared with attribution).
pub struct Prepared {
    /// The pretraining run's config.
    pub run_cfg: RunConfig,
    /// The device chosen.
    pub picked: device::PickedDevice,
    /// Its autodiff form.
    pub ad: Device,
    /// Its plain form.
    pub plain: Device,
    /// The clips.
    pub data: TrainData,
    /// Subject of every clip.
    pub subjects: Vec<String>,
    /// Label of every clip.
    pub labels: Vec<Option<u32>>,
    /// Subjects per split.
    pub split: Split,
    /// Clips per split.
    pub sets: Sets,
    /// Number of classes.
    pub classes: usize,
    /// Frames per clip.
    pub frames: usize,
    /// Input voxels per axis.
    pub input: usize,
    /// The subjects pretraining read (`None`: the run has no `split.json`).
    pub pretraining: Option<PretrainingSplit>,
}

/// The labelled clips of a fine-tuning, split by subject.
pub struct LabelledSplit {
    /// The clips.
    pub data: TrainData,
    /// Subject of every clip.
    pub subjects: Vec<String>,
    /// Label of every clip.
    pub labels: Vec<Option<u32>>,
    /// Subjects per split.
    pub split: Split,
    /// Clips per split.
    pub sets: Sets,
    /// Number of classes.
    pub classes: usize,
}

/// Loads the data fine-tuning of a run with config `run_cfg` reads
/// (`cfg.data`, else the run's) and splits its labelled clips by subject —
/// what an inductive experiment calls before pretraining to know the test
/// subjects to keep out.
pub fn labelled_split(
    run_cfg: &RunConfig,
    cfg: &FinetuneConfig,
    log: &mut dyn FnMut(String),
) -> Result<LabelledSplit, String> {
    let data_cfg = RunConfig {
        data: cfg.data.clone().unwrap_or_else(|| run_cfg.data.clone()),
        batch_size: 1,
        ..run_cfg.clone()
    };
    let atlas = Atlas::aal3().map_err(|e| e.to_string())?;
    let data = TrainData::load(&data_cfg, &atlas)?;
    log(format!("data: {}", data.description));
    let source = data.source.as_ref();
    let subjects: Vec<String> = (0..source.len())
        .map(|i| source.info(i).subject.clone())
        .collect();
    let labels: Vec<Option<u32>> = (0..source.len()).map(|i| source.info(i).label).collect();
    let unlabelled = labels.iter().filter(|l| l.is_none()).count();
    if unlabelled > 0 {
        log(format!("{unlabelled} clips without a label are left out"));
    }
    let (split, sets, classes) = fit::split_labelled(
        &Labels {
            subjects: &subjects,
            labels: &labels,
        },
        cfg,
    )?;
    log(format!(
        "{classes} classes; subjects train/val/test {}/{}/{}, clips {}/{}/{}",
        split.train.len(),
        split.val.len(),
        split.test.len(),
        sets.train.len(),
        sets.val.len(),
        sets.test.len()
    ));
    Ok(LabelledSplit {
        data,
        subjects,
        labels,
        split,
        sets,
        classes,
    })
}

/// Loads the run's config and data (or `cfg.data`), and splits the
/// labelled clips by subject as fine-tuning does.
pub fn prepare(
    run_dir: &Path,
    cfg: &FinetuneConfig,
    log: &mut dyn FnMut(String),
) -> Result<Prepared, String> {
    cfg.validate()?;
    let run_cfg = pretrained::load_run_config(run_dir)?;
    pretrained::pick_checkpoint(run_dir, cfg.checkpoint)?;
    let picked = device::pick(cfg.device)?;
    for note in &picked.notes {
        log(note.clone());
    }
    let ad = picked.device.clone();
    let plain = ad.clone().without_autodiff();
    let LabelledSplit {
        data,
        subjects,
        labels,
        split,
        sets,
        classes,
    } = labelled_split(&run_cfg, cfg, log)?;
    let frames = run_cfg.model()?.frames;
    let input = data.geometry.input;
    let pretraining = PretrainingSplit::load(run_dir)?;
    Ok(Prepared {
        run_cfg,
        picked,
        ad,
        plain,
        data,
        subjects,
        labels,
        split,
        sets,
        classes,
        frames,
        input,
        pretraining,
    })
}

/// Fine-tunes the encoder of the run in `run_dir` and, when `out` is
/// given, writes `finetune.json` and `metrics.csv` there.
pub fn finetune(
    run_dir: &Path,
    cfg: &FinetuneConfig,
    out: Option<&Path>,
    log: &mut dyn FnMut(String),
) -> Result<FinetuneResult, String> {
    let t0 = Instant::now();
    let Prepared {
        run_cfg,
        picked,
        ad,
        plain,
        data,
        subjects,
        labels,
        split,
        sets,
        classes,
        frames,
        input,
        pretraining,
    } = prepare(run_dir, cfg, log)?;
    let other_data = cfg.data.as_ref().is_some_and(|d| *d != run_cfg.data);
    let evaluation = Evaluation::of(pretraining.as_ref(), &split.test, other_data);
    log(evaluation.description.clone());
    let source = data.source.as_ref();
    let mut site_out = None;
    let (fit, info) = if cfg.full {
        let (_, mae, info) = pretrained::load_mae(run_dir, cfg.checkpoint, &ad)?;
        log(format!(
            "full fine-tuning from {} ({} checkpoint, step {})",
            info.checkpoint.display(),
            info.which,
            info.step
        ));
        let dim = *mae
            .config()
            .encoder_stages()
            .last()
            .map(|s| &s.dim)
            .ok_or("model without stages")?;
        let model = EncoderClassifier {
            encoder: mae.encoder,
            head: ClassifierHead {
                fc: LinearConfig::new(dim, fit::head_outputs(classes))
                    .with_initializer(Initializer::Zeros)
                    .init(&ad),
            },
        };
        let forward: &Forward<EncoderClassifier> = &|m, clips, dev| {
            let x = clip_batch(source, clips, input, frames, dev);
            Ok(m.head
                .fc
                .forward(mean_token(m.encoder.forward(x, ScanImpl::Auto))))
        };
        let fit = fit::fit(
            model, forward, &subjects, &labels, &sets, classes, cfg, &ad, log,
        )?;
        (fit, info)
    } else {
        let (_, mae, info) = pretrained::load_mae(run_dir, cfg.checkpoint, &plain)?;
        log(format!(
            "frozen encoder from {} ({} checkpoint, step {}); computing mean-token features",
            info.checkpoint.display(),
            info.which,
            info.step
        ));
        let wanted: Vec<usize> = [&sets.train, &sets.val, &sets.test]
            .into_iter()
            .flatten()
            .copied()
            .collect();
        let features =
            mean_token_features(&mae.encoder, source, &wanted, input, frames, 8, &plain)?;
        let fit =
            train_head_on_features(&features, &subjects, &labels, &sets, classes, cfg, &ad, log)?;
        if cfg.leave_site_out {
            let sites: Vec<Option<String>> = (0..source.len())
                .map(|i| source.info(i).site.clone())
                .collect();
            let mut folds = leave_site_out(
                &features, &subjects, &labels, &sites, classes, cfg, &ad, log,
            )?;
            if let Some(p) = &pretraining {
                let seen = p.seen_of(folds.predictions.iter().map(|s| &s.subject));
                folds.description += &format!(
                    "; the encoder was pretrained on {seen} of these {} subjects{}",
                    folds.predictions.len(),
                    if seen > 0 {
                        " (the head never saw the left-out site, the encoder did: transductive for the encoder)"
                    } else {
                        ""
                    }
                );
            }
            site_out = Some(folds);
        }
        (fit, info)
    };
    let (honest, reference) = protocols(&fit, classes, cfg);
    let result = FinetuneResult {
        pretrained: info,
        mode: if cfg.full { "full" } else { "frozen" }.into(),
        config: cfg.clone(),
        data: data.description.clone(),
        device: picked.name.clone(),
        classes,
        clips: [sets.train.len(), sets.val.len(), sets.test.len()],
        split,
        evaluation,
        honest,
        reference,
        leave_site_out: site_out,
        history: fit.history,
        wall_s: t0.elapsed().as_secs_f64(),
    };
    if let Some(dir) = out {
        write_outputs(&result, dir)?;
    }
    Ok(result)
}

/// Appends the subjects / accuracy / balanced accuracy / AUROC (with its
/// interval) rows of one report to `metrics.csv` text.
fn report_rows(csv: &mut String, protocol: &str, split: &str, r: &ClassificationReport) {
    let num = |v: Option<f64>| v.map_or(String::new(), |v| format!("{v}"));
    let (lo, hi) = r.auroc_ci95.unzip();
    for (metric, v, lo, hi) in [
        ("subjects", Some(r.subjects as f64), None, None),
        ("accuracy", Some(r.accuracy), None, None),
        ("balanced_accuracy", Some(r.balanced_accuracy), None, None),
        ("auroc", r.auroc, lo, hi),
    ] {
        *csv += &format!(
            "{protocol},{split},{metric},{},{},{}\n",
            num(v),
            num(lo),
            num(hi)
        );
    }
}

/// Writes `finetune.json` and `metrics.csv` (protocol, split, metric,
/// value, ci_low, ci_high; confusion cells as `confusion_T_P`).
pub fn write_outputs(result: &FinetuneResult, dir: &Path) -> Result<(), String> {
    let fail = |p: &Path, e: String| {
        format!(
            "{}: cannot write ({e}); check the folder is writable",
            p.display()
        )
    };
    std::fs::create_dir_all(dir).map_err(|e| fail(dir, e.to_string()))?;
    let json = serde_json::to_string_pretty(result).map_err(|e| fail(dir, e.to_string()))?;
    let path = dir.join("finetune.json");
    std::fs::write(&path, json).map_err(|e| fail(&path, e.to_string()))?;
    let mut csv = String::from("protocol,split,metric,value,ci_low,ci_high\n");
    for p in [&result.honest, &result.reference] {
        report_rows(&mut csv, &p.protocol, &p.evaluated_on, &p.report);
        for (t, row) in p.report.confusion.iter().enumerate() {
            for (q, count) in row.iter().enumerate() {
                csv += &format!(
                    "{},{},confusion_{t}_{q},{count},,\n",
                    p.protocol, p.evaluated_on
                );
            }
        }
    }
    if let Some(l) = &result.leave_site_out {
        for f in &l.folds {
            report_rows(
                &mut csv,
                "leave-site-out",
                &format!("site:{}", f.site),
                &f.report,
            );
        }
        report_rows(&mut csv, "leave-site-out", "pooled", &l.pooled);
    }
    let path = dir.join("metrics.csv");
    std::fs::write(&path, csv).map_err(|e| fail(&path, e.to_string()))
}
