//! Integrated gradients of a run folder's downstream classifier: the
//! frozen encoder with the linear head fitted exactly as `roimae finetune`
//! fits it, explained on validation clips (else test clips), one map per
//! clip aggregated by region and averaged over subjects. The maths is
//! `integrated_gradients.rs`, the aggregation `ig_regions.rs`, the files
//! `region_files.rs`.

use super::EvalError;
use super::attribute_run::clips_per_subject;
use super::attribution::{RegionScore, region_map};
use super::features::{ClipShape, mean_token_features};
use super::fit::head_outputs;
use super::ft_config::FinetuneConfig;
use super::ft_data::{Prepared, prepare};
use super::head::{Scaling, train_head_on_features};
use super::ig_regions::{LobeOf, RegionStat, region_stats, summarise};
use super::integrated_gradients::{Explained, Noise, integrated_gradients, smooth_grad_squared};
use super::pretrained::{self, PretrainedInfo};
use super::progress::{Counter, Progress};
use crate::atlas::{Atlas, InputLabels, TokenMap};
use crate::model::ClassifierHead;
use crate::volume::{Affine, Grid, Volume, VolumeMeta};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::collections::BTreeMap;
use std::path::Path;

/// How integrated gradients are computed.
#[derive(Debug, Clone)]
pub struct IgOptions {
    /// Midpoints of the straight path from the baseline to the input.
    pub steps: usize,
    /// SmoothGrad² noise samples per clip (0 = plain, signed IG); the
    /// default is SmoothGrad² with 8 samples.
    pub samples: usize,
    /// Noise SD as a fraction of the clip's value range (SmoothGrad²).
    pub noise: f64,
    /// Clips per subject attributed (validation subjects, else test).
    pub clips_per_subject: usize,
    /// Class whose logit is explained (binary: the single logit).
    pub class: usize,
    /// How the head is fitted (as `roimae finetune`; must be frozen).
    pub finetune: FinetuneConfig,
    /// Progress in gradient passes (one per clip, or one per noise sample),
    /// and a cancel flag checked before each (none by default).
    pub progress: Progress,
}

impl Default for IgOptions {
    fn default() -> Self {
        IgOptions {
            steps: 16,
            samples: 8,
            noise: 0.15,
            clips_per_subject: 1,
            class: 1,
            finetune: FinetuneConfig::default(),
            progress: Progress::none(),
        }
    }
}

/// Integrated gradients of a run.
#[derive(Debug, Clone)]
pub struct IgResult {
    /// Per region: mean |attribution| per voxel, spread over subjects; highest first.
    pub regions: Vec<RegionScore>,
    /// Per lobe (id 0, name = lobe).
    pub lobes: Vec<RegionScore>,
    /// Per region: its share of the total |attribution| over labelled
    /// voxels (size-aware: a large region can hold a large share at a low
    /// density); highest first.
    pub shares: Vec<RegionScore>,
    /// Per lobe: the sum of its regions' shares.
    pub lobe_shares: Vec<RegionScore>,
    /// Per region: mean signed attribution per voxel (plain IG; for
    /// SmoothGrad² the noise mean of IG, i.e. SmoothGrad); highest first.
    pub signed: Vec<RegionScore>,
    /// Per lobe: mean of its regions' signed scores.
    pub lobe_signed: Vec<RegionScore>,
    /// Midpoint steps of the path.
    pub steps: usize,
    /// SmoothGrad² noise samples per clip (0 = plain IG).
    pub samples: usize,
    /// Noise SD as a fraction of the clip's value range.
    pub noise: f64,
    /// Mean voxel attribution over frames and clips (signed for plain IG).
    pub voxel_map: Volume,
    /// Region scores painted on the input cube.
    pub region_map: Volume,
    /// The method and its parameters in one line.
    pub method: String,
    /// Completeness check: mean |Σ attributions − (f(x) − f(baseline))| / |f(x) − f(baseline)|.
    pub completeness_error: f64,
}

/// The logit explained: the head's weights over the feature scale.
struct HeadLogit {
    /// `W[·, column] / sd`: the gradient path from the mean token.
    direction: Vec<f32>,
    /// The head's column explained.
    column: usize,
    /// The head's logit count.
    outputs: usize,
}

/// Fits the frozen-encoder head as `roimae finetune` does and returns the
/// logit it explains.
fn fitted_target(
    run_dir: &Path,
    prepared: &Prepared,
    opts: &IgOptions,
    log: &mut dyn FnMut(String),
) -> Result<HeadLogit, EvalError> {
    let labelled = &prepared.labelled;
    let plain = &prepared.devices.plain;
    let (_, mae, _) = pretrained::load_mae(run_dir, opts.finetune.checkpoint, plain)?;
    let features = mean_token_features(
        &mae.encoder,
        labelled.data.source.as_ref(),
        &labelled.all_clips(),
        prepared.shape,
        plain,
    )?;
    let task = labelled.task();
    let fit = train_head_on_features(&features, &task, &opts.finetune, &prepared.devices.ad, log)?;
    let scaling = Scaling::for_training(&features, &task, &opts.finetune)?;
    let head = fit
        .best_model
        .and_then(|b| b.downcast::<ClassifierHead>().ok())
        .ok_or(EvalError::NoFittedHead)?;
    let weight = head
        .fc
        .weight
        .val()
        .try_into_vec_as::<f32>()
        .map_err(EvalError::device)?;
    let outputs = head_outputs(labelled.classes);
    let column = if outputs == 1 {
        0
    } else {
        opts.class.min(outputs - 1)
    };
    let dim = scaling.dim();
    // Logit = Σ_k W[k, col] (f_k - mean_k) / sd_k + b: the gradient path is W/sd.
    let direction: Vec<f32> = (0..dim)
        .map(|k| weight[k * outputs + column] / scaling.sd[k] as f32)
        .collect();
    Ok(HeadLogit {
        direction,
        column,
        outputs,
    })
}

/// The attribution of one clip: what the score ranks (|IG| of plain IG is
/// taken later; SmoothGrad² is already ≥ 0), the signed map (IG, or its
/// noise mean), and the completeness error of plain IG.
fn clip_attribution(
    explained: &Explained,
    clip: &[f32],
    opts: &IgOptions,
    rng: &mut ChaCha8Rng,
    counter: &Counter,
) -> Result<(Vec<f32>, Vec<f32>, Option<f64>), EvalError> {
    let lo = clip.iter().copied().fold(f32::INFINITY, f32::min);
    let hi = clip.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    if opts.samples == 0 {
        counter.check()?;
        let (a, delta) = integrated_gradients(explained, clip, lo, opts.steps)?;
        counter.tick();
        let total: f64 = a.iter().map(|&x| x as f64).sum();
        let completeness = (delta.abs() > 1e-9).then(|| (total - delta).abs() / delta.abs());
        Ok((a.clone(), a, completeness))
    } else {
        let noise = Noise {
            samples: opts.samples,
            sd: (opts.noise * (hi - lo) as f64).max(1e-6),
            rng,
        };
        let (acc, mean) =
            smooth_grad_squared(explained, clip, lo, opts.steps, noise, Some(counter))?;
        Ok((acc, mean, None))
    }
}

/// The clips' attributions summed per subject and per voxel.
struct Sums {
    /// Per subject: per region the summed stats, and the clip count.
    per_subject: BTreeMap<String, (BTreeMap<u16, RegionStat>, usize)>,
    /// Per cube voxel (model layout): Σ over clips of the frame mean.
    voxels: Vec<f64>,
    /// Clips added.
    clips: usize,
    /// Completeness errors of plain IG.
    completeness: Vec<f64>,
}

impl Sums {
    fn new(shape: ClipShape) -> Sums {
        Sums {
            per_subject: BTreeMap::new(),
            voxels: vec![0.0f64; shape.input.pow(3)],
            clips: 0,
            completeness: Vec::new(),
        }
    }

    fn add(
        &mut self,
        subject: String,
        attr: &[f32],
        signed: &[f32],
        labels: &InputLabels,
        frames: usize,
    ) {
        let stats = region_stats(attr, signed, labels, frames);
        let entry = self.per_subject.entry(subject).or_default();
        for (id, s) in stats {
            let e = entry.0.entry(id).or_default();
            e.mean_abs += s.mean_abs;
            e.share += s.share;
            e.mean_signed += s.mean_signed;
        }
        entry.1 += 1;
        for (cube, v) in self.voxels.iter_mut().enumerate() {
            *v += attr[cube * frames..(cube + 1) * frames]
                .iter()
                .map(|&x| x as f64)
                .sum::<f64>()
                / frames as f64;
        }
        self.clips += 1;
    }

    /// Per subject, per region: the clip mean of one stat.
    fn per_subject(&self, pick: fn(&RegionStat) -> f64) -> Vec<BTreeMap<u16, f64>> {
        self.per_subject
            .values()
            .map(|(m, k)| m.iter().map(|(id, s)| (*id, pick(s) / *k as f64)).collect())
            .collect()
    }

    /// The mean voxel map over clips, in NIfTI order (x fastest).
    fn voxel_map(&self, n: usize, affine: Affine) -> Volume {
        let mut voxels = vec![0.0f32; n * n * n];
        for u in 0..n {
            for v in 0..n {
                for w in 0..n {
                    voxels[u + n * (v + n * w)] =
                        (self.voxels[(u * n + v) * n + w] / self.clips as f64) as f32;
                }
            }
        }
        cube_volume(voxels, affine, n)
    }

    /// The mean completeness error (NaN without plain-IG clips).
    fn completeness_error(&self) -> f64 {
        if self.completeness.is_empty() {
            f64::NAN
        } else {
            self.completeness.iter().sum::<f64>() / self.completeness.len() as f64
        }
    }
}

/// Integrated gradients of the classifier fitted on the run in `run_dir`;
/// progress counts gradient passes, and a cancel through `opts.progress`
/// stops before the next one with [`EvalError::Cancelled`].
pub fn ig_attribute_run(
    run_dir: &Path,
    opts: &IgOptions,
    log: &mut dyn FnMut(String),
) -> Result<IgResult, EvalError> {
    if opts.finetune.full {
        return Err(EvalError::IgNeedsFrozen);
    }
    let prepared = prepare(run_dir, &opts.finetune, log)?;
    opts.progress.check()?;
    let target = fitted_target(run_dir, &prepared, opts, log)?;
    opts.progress.check()?;
    let labelled = &prepared.labelled;
    let (ad, shape) = (&prepared.devices.ad, prepared.shape);
    // The encoder on the autodiff device.
    let (_, mae_ad, info) = pretrained::load_mae(run_dir, opts.finetune.checkpoint, ad)?;
    let explained = Explained {
        encoder: &mae_ad.encoder,
        direction: &target.direction,
        shape,
        device: ad,
    };
    let sets = &labelled.sets;
    let pool = if sets.val.is_empty() {
        &sets.test
    } else {
        &sets.val
    };
    let subjects = &labelled.subjects;
    let source = labelled.data.source.as_ref();
    let mut sums = Sums::new(shape);
    let mut rng = ChaCha8Rng::seed_from_u64(opts.finetune.seed);
    let chosen = clips_per_subject(pool, |i| subjects[i].as_str(), opts.clips_per_subject);
    let counter = opts.progress.counter(chosen.len() * opts.samples.max(1));
    for i in chosen {
        let mut clip = Vec::new();
        source.read(i, &mut clip);
        let (attr, signed, completeness) =
            clip_attribution(&explained, &clip, opts, &mut rng, &counter)?;
        sums.completeness.extend(completeness);
        sums.add(
            subjects[i].clone(),
            &attr,
            &signed,
            &labelled.data.labels,
            shape.frames,
        );
        log(format!(
            "integrated gradients: clip {} ({})",
            sums.clips, subjects[i]
        ));
    }
    if sums.clips == 0 {
        return Err(EvalError::NoClipToAttribute {
            pool: "validation or test",
            hint: "add subjects or raise val_fraction/test_fraction",
        });
    }
    summarise_run(&prepared, &sums, &target, &info, opts)
}

/// The result of a run's IG from the summed clips.
fn summarise_run(
    prepared: &Prepared,
    sums: &Sums,
    target: &HeadLogit,
    info: &PretrainedInfo,
    opts: &IgOptions,
) -> Result<IgResult, EvalError> {
    let data = &prepared.labelled.data;
    let atlas = Atlas::aal3()?;
    let tokens = TokenMap::from_input(&data.labels);
    let table = &atlas.regions;
    let (regions, lobes) = summarise(
        &sums.per_subject(|s| s.mean_abs),
        table,
        &tokens,
        LobeOf::Mean,
    );
    let (shares, lobe_shares) =
        summarise(&sums.per_subject(|s| s.share), table, &tokens, LobeOf::Sum);
    let (signed, lobe_signed) = summarise(
        &sums.per_subject(|s| s.mean_signed),
        table,
        &tokens,
        LobeOf::Mean,
    );
    let voxel_map = sums.voxel_map(prepared.shape.input, data.cube_affine);
    let region_map = region_map(&regions, &data.labels, data.cube_affine);
    Ok(IgResult {
        regions,
        lobes,
        shares,
        lobe_shares,
        signed,
        lobe_signed,
        steps: opts.steps,
        samples: opts.samples,
        noise: opts.noise,
        voxel_map,
        region_map,
        method: method_line(opts, target, info, sums),
        completeness_error: sums.completeness_error(),
    })
}

/// The method and its parameters in one line.
fn method_line(opts: &IgOptions, target: &HeadLogit, info: &PretrainedInfo, sums: &Sums) -> String {
    let kind = if opts.samples == 0 {
        "integrated gradients (signed voxel map)".to_string()
    } else {
        format!(
            "SmoothGrad² integrated gradients ({} samples, noise {} of the range)",
            opts.samples, opts.noise
        )
    };
    let logit = if target.outputs == 1 {
        "patient-vs-control logit (class 1)".to_string()
    } else {
        format!("class-{} logit", target.column)
    };
    format!(
        "{kind} of the {logit} of the frozen encoder ({} checkpoint, step {}) + linear head on the mean token; {} midpoint steps from baseline = clip minimum (background); region score = mean |attribution| per voxel over frames (also: the region's share of the total, and the signed mean); {} clips of {} subjects",
        info.which,
        info.step,
        opts.steps,
        sums.clips,
        sums.per_subject.len(),
    )
}

fn cube_volume(data: Vec<f32>, affine: Affine, n: usize) -> Volume {
    let grid = Grid::new([n; 3], affine);
    let meta = VolumeMeta::new_f32(&grid, 1, None, true);
    Volume::from_data(grid, 1, data, meta)
}
