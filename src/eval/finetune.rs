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
//! This file is the orchestration and the result types; the steps live
//! beside it: `ft_data.rs` (device, labelled data, split), `features.rs`
//! (mean-token features), `head.rs` (the linear head), `fit.rs` (the
//! training loop), `site_out.rs` (leave-one-site-out) and `ft_files.rs`
//! (`finetune.json` and `metrics.csv`, written into the output folder).

use super::EvalError;
use super::features::{clip_batch, mean_token, mean_token_features};
use super::fit::{self, EpochRow, Fit, Forward};
use super::ft_config::FinetuneConfig;
use super::ft_data::{Devices, Prepared, prepare};
use super::ft_files::write_outputs;
use super::head::{train_head_on_features, zero_head};
use super::metrics::{ClassificationReport, SubjectPrediction, report};
use super::pretrained::{self, PretrainedInfo};
use super::site_out::{SiteClips, SiteOutResult, leave_site_out};
use crate::data::split::Split;
use crate::model::encoder::Encoder;
use crate::model::{ClassifierHead, ScanImpl};
use crate::train::subject_split::PretrainingSplit;
use burn::module::Module;
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

/// The two protocols' results of a fit.
pub fn protocols(
    fit: &Fit,
    classes: usize,
    cfg: &FinetuneConfig,
) -> (ProtocolResult, ProtocolResult) {
    let scored = |protocol: &str,
                  description: &str,
                  evaluated_on: &str,
                  best: usize,
                  preds: &[SubjectPrediction]| ProtocolResult {
        protocol: protocol.into(),
        description: description.into(),
        evaluated_on: evaluated_on.into(),
        epoch: best + 1,
        report: report(preds, classes, cfg.bootstrap, cfg.seed),
        predictions: preds.to_vec(),
    };
    let h = fit.best_by_val_loss();
    let r = fit.best_by_val_accuracy();
    let honest = scored(
        "honest",
        "epoch with the lowest validation loss; scored on held-out test subjects never used for selection",
        "test",
        h,
        &fit.test[h],
    );
    let reference = scored(
        "reference",
        "paper protocol (test = validation): epoch with the best validation accuracy, scored on the same validation subjects; optimistic",
        "validation",
        r,
        &fit.val[r],
    );
    (honest, reference)
}

/// Fine-tunes the encoder of the run in `run_dir` and, when `out` is
/// given, writes `finetune.json` and `metrics.csv` there.
pub fn finetune(
    run_dir: &Path,
    cfg: &FinetuneConfig,
    out: Option<&Path>,
    log: &mut dyn FnMut(String),
) -> Result<FinetuneResult, EvalError> {
    let t0 = Instant::now();
    let prepared = prepare(run_dir, cfg, log)?;
    let other_data = cfg
        .data
        .as_ref()
        .is_some_and(|d| *d != prepared.run_cfg.data);
    let labelled = &prepared.labelled;
    let evaluation = Evaluation::of(
        prepared.pretraining.as_ref(),
        &labelled.split.test,
        other_data,
    );
    log(evaluation.description.clone());
    let (fit, info, site_out) = if cfg.full {
        let (fit, info) = fit_full(run_dir, &prepared, cfg, log)?;
        (fit, info, None)
    } else {
        fit_frozen(run_dir, &prepared, cfg, log)?
    };
    let (honest, reference) = protocols(&fit, labelled.classes, cfg);
    let sets = &labelled.sets;
    let result = FinetuneResult {
        pretrained: info,
        mode: if cfg.full { "full" } else { "frozen" }.into(),
        config: cfg.clone(),
        data: labelled.data.description.clone(),
        device: prepared.devices.picked.name.clone(),
        classes: labelled.classes,
        clips: [sets.train.len(), sets.val.len(), sets.test.len()],
        split: labelled.split.clone(),
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

/// Full fine-tuning: the encoder and a zero-initialised head trained
/// together on the autodiff device.
fn fit_full(
    run_dir: &Path,
    prepared: &Prepared,
    cfg: &FinetuneConfig,
    log: &mut dyn FnMut(String),
) -> Result<(Fit, PretrainedInfo), EvalError> {
    let ad = &prepared.devices.ad;
    let labelled = &prepared.labelled;
    let (_, mae, info) = pretrained::load_mae(run_dir, cfg.checkpoint, ad)?;
    log(format!("full fine-tuning from {}", info.describe()));
    let dim = *mae
        .config()
        .encoder_stages()
        .last()
        .map(|s| &s.dim)
        .ok_or_else(|| EvalError::NoEncoderStage {
            run_dir: run_dir.to_path_buf(),
        })?;
    let model = EncoderClassifier {
        encoder: mae.encoder,
        head: zero_head(dim, labelled.classes, ad),
    };
    let source = labelled.data.source.as_ref();
    let shape = prepared.shape;
    let forward: &Forward<EncoderClassifier> = &|m, clips, dev| {
        let x = clip_batch(source, clips, shape, dev);
        Ok(m.head
            .fc
            .forward(mean_token(m.encoder.forward(x, ScanImpl::Auto))))
    };
    let fit = fit::fit(model, forward, &labelled.task(), cfg, ad, log)?;
    Ok((fit, info))
}

/// Frozen encoder: mean-token features once, then the linear head on them
/// (and leave-one-site-out on the same features when asked for).
fn fit_frozen(
    run_dir: &Path,
    prepared: &Prepared,
    cfg: &FinetuneConfig,
    log: &mut dyn FnMut(String),
) -> Result<(Fit, PretrainedInfo, Option<SiteOutResult>), EvalError> {
    let Devices { ad, plain, .. } = &prepared.devices;
    let labelled = &prepared.labelled;
    let (_, mae, info) = pretrained::load_mae(run_dir, cfg.checkpoint, plain)?;
    log(format!(
        "frozen encoder from {}; computing mean-token features",
        info.describe()
    ));
    let source = labelled.data.source.as_ref();
    let features = mean_token_features(
        &mae.encoder,
        source,
        &labelled.all_clips(),
        prepared.shape,
        plain,
    )?;
    let task = labelled.task();
    let fit = train_head_on_features(&features, &task, cfg, ad, log)?;
    let site_out = if cfg.leave_site_out {
        Some(site_out_of(prepared, &features, cfg, log)?)
    } else {
        None
    };
    Ok((fit, info, site_out))
}

/// Leave-one-site-out on the frozen features, its description saying how
/// many of the scored subjects the encoder was pretrained on.
fn site_out_of(
    prepared: &Prepared,
    features: &[Vec<f32>],
    cfg: &FinetuneConfig,
    log: &mut dyn FnMut(String),
) -> Result<SiteOutResult, EvalError> {
    let labelled = &prepared.labelled;
    let source = labelled.data.source.as_ref();
    let sites: Vec<Option<String>> = (0..source.len())
        .map(|i| source.info(i).site.clone())
        .collect();
    let task = labelled.task();
    let input = SiteClips {
        features,
        clips: task.clips,
        sites: &sites,
        classes: task.classes,
    };
    let mut folds = leave_site_out(&input, cfg, &prepared.devices.ad, log)?;
    if let Some(p) = &prepared.pretraining {
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
    Ok(folds)
}
