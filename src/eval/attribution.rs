//! Region occlusion attribution for a pretrained MAE. Each clip is first
//! reconstructed under a base mask (the reference window mask, ratio 0.5,
//! the same for every run so that runs compare); then, for each AAL3 region
//! (and each lobe) that owns tokens at the model's resolution, its tokens are
//! masked too, in every frame. The score is the change of the
//! reconstruction error on the voxels the base mask hides outside the
//! region:
//!
//! `score = MSE(base \ R | base ∪ R masked) − MSE(base \ R | base masked)`
//!
//! i.e. how much the region helps, as context, to fill in the rest (both
//! errors are on masked voxels only, where the MAE was trained). Beside it
//! stands the region's own error under the same mask, the paper's
//! per-region MSE: `MSE(R | base ∪ R masked)`, how well the model fills in
//! the region itself. Scores are
//! averaged over a subject's clips; the reported score is the mean over
//! validation subjects and the spread their sample standard deviation.
//! The [`Reconstructor`] seam lets the bookkeeping be tested with a stub.
//! The files are written by `region_files.rs`; a run folder's occlusion is
//! `attribute_run.rs`.

use super::EvalError;
use super::progress::Counter;
use super::stats::mean_spread;
use crate::atlas::{InputLabels, Lobe, RegionTable, TokenMap};
use crate::masking::ClipMask;
use crate::model::{BatchMask, Mae, ScanImpl};
use crate::volume::{Affine, Grid, Volume, VolumeMeta};
use burn::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One region's (or lobe's) attribution score.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegionScore {
    /// AAL3 label id (0 for a lobe row).
    pub id: u16,
    /// AAL3 region name (the lobe name for a lobe row).
    pub name: String,
    /// Lobe name, e.g. `limbic`.
    pub lobe: String,
    /// Mean over subjects (ΔMSE for occlusion).
    pub score: f64,
    /// Sample standard deviation over subjects (0 for one subject).
    pub spread: f64,
    /// Spatial tokens the region owns (what is masked).
    pub tokens: usize,
}

/// Reconstructs one clip under several masks.
pub trait Reconstructor {
    /// The reconstruction of `clip` (`input³ × frames`, t fastest) under
    /// each of `masks`, in order.
    fn reconstruct(&self, clip: &[f32], masks: &[ClipMask]) -> Result<Vec<Vec<f32>>, EvalError>;
}

/// A pretrained MAE as a [`Reconstructor`] (no autodiff; `batch` masks per
/// forward pass).
pub struct MaeReconstructor<'a> {
    /// The model.
    pub model: &'a Mae,
    /// A device without autodiff.
    pub device: Device,
    /// Masks per forward pass.
    pub batch: usize,
    /// Counts forward passes, and is checked for cancellation before each.
    pub counter: Option<&'a Counter<'a>>,
}

impl Reconstructor for MaeReconstructor<'_> {
    fn reconstruct(&self, clip: &[f32], masks: &[ClipMask]) -> Result<Vec<Vec<f32>>, EvalError> {
        let cfg = self.model.config();
        let (n, frames) = (cfg.input, cfg.frames);
        let mut out = Vec::with_capacity(masks.len());
        for chunk in masks.chunks(self.batch.max(1)) {
            if let Some(c) = self.counter {
                c.check()?;
            }
            let b = chunk.len();
            let data: Vec<f32> = (0..b).flat_map(|_| clip.iter().copied()).collect();
            let x = Tensor::<6>::from_data(
                TensorData::new(data, [b, 1, n, n, n, frames]),
                &self.device,
            );
            let mask = BatchMask::from_clip_masks(chunk, &self.device);
            let r = self
                .model
                .forward(x, &mask, ScanImpl::Auto)
                .reconstruction
                .try_into_vec_as::<f32>()
                .map_err(EvalError::device)?;
            out.extend(r.chunks(clip.len()).map(<[f32]>::to_vec));
            if let Some(c) = self.counter {
                c.tick();
            }
        }
        Ok(out)
    }
}

/// What is occluded: a name and its spatial tokens.
struct Target {
    id: u16,
    name: String,
    lobe: String,
    tokens: Vec<usize>,
}

/// The occlusion scores of a set of clips.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Occlusion {
    /// Regions present at token resolution, highest score first.
    pub regions: Vec<RegionScore>,
    /// Lobes (id 0, name = lobe), highest score first.
    pub lobes: Vec<RegionScore>,
    /// The region's own error (the paper's per-region MSE): MSE on the
    /// region's voxels, all frames, when its tokens are masked on top of
    /// the base mask; highest first.
    pub region_mse: Vec<RegionScore>,
    /// The same per lobe (the lobe masked), highest first.
    pub lobe_mse: Vec<RegionScore>,
    /// Subjects averaged.
    pub subjects: usize,
    /// Clips used.
    pub clips: usize,
    /// MSE on the base mask's voxels with only the base mask.
    pub baseline_mse: f64,
    /// The method and its parameters, to print with every map.
    pub method: String,
}

fn targets(labels: &InputLabels, table: &RegionTable) -> (Vec<Target>, Vec<Target>) {
    let tokens = TokenMap::from_input(labels);
    let mut by_region: BTreeMap<u16, Vec<usize>> = BTreeMap::new();
    for (i, &l) in tokens.labels.iter().enumerate() {
        if l != 0 {
            by_region.entry(l).or_default().push(i);
        }
    }
    let mut regions = Vec::new();
    let mut lobes: BTreeMap<Lobe, Vec<usize>> = BTreeMap::new();
    for (id, toks) in by_region {
        let Some(r) = table.get(id) else { continue };
        lobes.entry(r.group).or_default().extend(&toks);
        regions.push(Target {
            id,
            name: r.name.clone(),
            lobe: r.group.name().into(),
            tokens: toks,
        });
    }
    let lobes = lobes
        .into_iter()
        .map(|(l, mut toks)| {
            toks.sort_unstable();
            Target {
                id: 0,
                name: l.name().into(),
                lobe: l.name().into(),
                tokens: toks,
            }
        })
        .collect();
    (regions, lobes)
}

/// Masks reconstructed per clip by [`occlusion`]: the base mask, then one
/// per region and per lobe that owns tokens (what progress counts).
pub fn masks_per_clip(labels: &InputLabels, table: &RegionTable) -> usize {
    let (regions, lobes) = targets(labels, table);
    1 + regions.len() + lobes.len()
}

/// Mean squared error over the voxels of `tokens` (flat token indices
/// `spatial · frames + t`: the token's patch in its frame).
fn token_mse(a: &[f32], b: &[f32], tokens: &[usize], n: usize, p: usize, frames: usize) -> f64 {
    let t = n / p;
    let (mut sum, mut count) = (0.0f64, 0usize);
    for &k in tokens {
        let (s, f) = (k / frames, k % frames);
        let (x, y, z) = (s / (t * t), s / t % t, s % t);
        for u in x * p..(x + 1) * p {
            for v in y * p..(y + 1) * p {
                for w in z * p..(z + 1) * p {
                    let i = ((u * n + v) * n + w) * frames + f;
                    sum += (a[i] as f64 - b[i] as f64).powi(2);
                    count += 1;
                }
            }
        }
    }
    sum / count.max(1) as f64
}

/// `base` with every frame of `spatial` tokens masked too.
fn with_tube(base: &ClipMask, spatial: &[usize]) -> ClipMask {
    let mut m = base.clone();
    let f = base.grid.frames;
    for &s in spatial {
        m.tokens[s * f..(s + 1) * f].fill(true);
    }
    m.voxels = None;
    m
}

/// A clip's errors under its base mask and with each target masked too.
struct ClipScores {
    /// MSE on the base mask's voxels, only the base masked.
    baseline: f64,
    /// Per target: its own voxels' MSE when it is masked too.
    own: Vec<f64>,
    /// Per target: the change of the MSE on the base-masked voxels outside
    /// it when it is masked too.
    context: Vec<f64>,
}

/// The targets of an occlusion and the geometry they are scored in.
struct Scorer<'a> {
    /// Regions, then lobes.
    targets: Vec<&'a Target>,
    /// Each target's own voxels in every frame (flat token indices).
    own: Vec<Vec<usize>>,
    /// Input voxels per axis.
    n: usize,
    /// Patch voxels per axis.
    p: usize,
    /// Frames per clip.
    frames: usize,
}

impl Scorer<'_> {
    /// Reconstructs `clip` under `base` and under base ∪ each target, and
    /// scores it.
    fn score(
        &self,
        recon: &dyn Reconstructor,
        clip: &[f32],
        base: &ClipMask,
    ) -> Result<ClipScores, EvalError> {
        let (n, p, frames) = (self.n, self.p, self.frames);
        let mut masks = vec![base.clone()];
        masks.extend(self.targets.iter().map(|tg| with_tube(base, &tg.tokens)));
        let out = recon.reconstruct(clip, &masks)?;
        let hidden: Vec<usize> = (0..base.tokens.len()).filter(|&i| base.tokens[i]).collect();
        let own = self
            .own
            .iter()
            .enumerate()
            .map(|(j, tokens)| token_mse(&out[j + 1], clip, tokens, n, p, frames))
            .collect();
        let context = self
            .targets
            .iter()
            .enumerate()
            .map(|(j, tg)| {
                let scored: Vec<usize> = hidden
                    .iter()
                    .copied()
                    .filter(|&i| tg.tokens.binary_search(&(i / frames)).is_err())
                    .collect();
                let occluded = token_mse(&out[j + 1], clip, &scored, n, p, frames);
                let reference = token_mse(&out[0], clip, &scored, n, p, frames);
                occluded - reference
            })
            .collect();
        Ok(ClipScores {
            baseline: token_mse(&out[0], clip, &hidden, n, p, frames),
            own,
            context,
        })
    }
}

/// Per subject, per target: the values of the subject's clips.
type PerSubject<'s> = BTreeMap<&'s str, Vec<Vec<f64>>>;

/// Appends one clip's per-target `values` to its subject's lists.
fn push_clip<'s>(per: &mut PerSubject<'s>, subject: &'s str, values: Vec<f64>) {
    let entry = per
        .entry(subject)
        .or_insert_with(|| vec![Vec::new(); values.len()]);
    for (list, v) in entry.iter_mut().zip(values) {
        list.push(v);
    }
}

/// Each target's score: the mean over subjects of the subject's clip mean,
/// with the subjects' sample SD as spread.
fn target_scores(targets: &[&Target], per: &PerSubject) -> Vec<RegionScore> {
    targets
        .iter()
        .enumerate()
        .map(|(j, tg)| {
            let subject_means: Vec<f64> = per
                .values()
                .map(|v| v[j].iter().sum::<f64>() / v[j].len() as f64)
                .collect();
            // Never empty (every subject has a clip); NaN would say so.
            let (score, spread) = mean_spread(&subject_means).unwrap_or((f64::NAN, 0.0));
            RegionScore {
                id: tg.id,
                name: tg.name.clone(),
                lobe: tg.lobe.clone(),
                score,
                spread,
                tokens: tg.tokens.len(),
            }
        })
        .collect()
}

/// Highest score first (ties: lower id first).
fn by_score(mut v: Vec<RegionScore>) -> Vec<RegionScore> {
    v.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.id.cmp(&b.id)));
    v
}

/// Region occlusion over `clips` (`(subject, clip data)`) with one
/// token-level base mask per clip; `labels` are the input cube's AAL3
/// labels and `frames` the clip length.
pub fn occlusion(
    recon: &dyn Reconstructor,
    clips: &[(String, Vec<f32>)],
    base_masks: &[ClipMask],
    labels: &InputLabels,
    table: &RegionTable,
    frames: usize,
    log: &mut dyn FnMut(String),
) -> Result<Occlusion, EvalError> {
    if clips.is_empty() {
        return Err(EvalError::NoClipToAttribute {
            pool: "validation",
            hint: "the run has no validation subject",
        });
    }
    if base_masks.len() != clips.len() {
        return Err(EvalError::BaseMaskCount {
            masks: base_masks.len(),
            clips: clips.len(),
        });
    }
    let g = labels.geometry;
    let (regions, lobes) = targets(labels, table);
    let all: Vec<&Target> = regions.iter().chain(&lobes).collect();
    let scorer = Scorer {
        own: all
            .iter()
            .map(|tg| {
                tg.tokens
                    .iter()
                    .flat_map(|&s| s * frames..(s + 1) * frames)
                    .collect()
            })
            .collect(),
        targets: all,
        n: g.input,
        p: g.patch,
        frames,
    };
    let mut per: PerSubject = BTreeMap::new();
    let mut per_own: PerSubject = BTreeMap::new();
    let mut baseline = Vec::new();
    for (k, ((subject, clip), base)) in clips.iter().zip(base_masks).enumerate() {
        let scores = scorer.score(recon, clip, base)?;
        baseline.push(scores.baseline);
        push_clip(&mut per_own, subject, scores.own);
        push_clip(&mut per, subject, scores.context);
        log(format!("clip {}/{} ({subject}) done", k + 1, clips.len()));
    }
    let scores = target_scores(&scorer.targets, &per);
    let (r, l) = scores.split_at(regions.len());
    let own_scores = target_scores(&scorer.targets, &per_own);
    let (own_r, own_l) = own_scores.split_at(regions.len());
    Ok(Occlusion {
        regions: by_score(r.to_vec()),
        lobes: by_score(l.to_vec()),
        region_mse: by_score(own_r.to_vec()),
        lobe_mse: by_score(own_l.to_vec()),
        subjects: per.len(),
        clips: clips.len(),
        baseline_mse: baseline.iter().sum::<f64>() / baseline.len() as f64,
        method: format!(
            "region occlusion: context ΔMSE = change of the MSE on the base-masked voxels outside the region when the region's tokens are masked too (all {frames} frames); region MSE = the MSE on the region's own voxels then; base = window mask 0.5; {} clips of {} subjects; {}³ input, {}³ patches",
            clips.len(),
            per.len(),
            g.input,
            g.patch
        ),
    })
}

/// A 3D volume on the input cube (world `affine`, as the preview volumes)
/// painting every voxel with its region's score; voxels of regions without
/// a score (no token) and background are 0.
pub fn region_map(scores: &[RegionScore], labels: &InputLabels, affine: Affine) -> Volume {
    let n = labels.geometry.input;
    let by_id: BTreeMap<u16, f32> = scores.iter().map(|s| (s.id, s.score as f32)).collect();
    let mut data = vec![0.0f32; n * n * n];
    for u in 0..n {
        for v in 0..n {
            for w in 0..n {
                if let Some(&s) = by_id.get(&labels.at(u, v, w)) {
                    data[u + n * (v + n * w)] = s;
                }
            }
        }
    }
    let grid = Grid::new([n, n, n], affine);
    Volume::from_data(grid, 1, data, VolumeMeta::new_f32(&grid, 1, None, true))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sample_spread_and_patch_error_by_hand() {
        let (m, s) = mean_spread(&[1.0, 4.0]).unwrap();
        assert_eq!(m, 2.5);
        assert!((s - 4.5f64.sqrt()).abs() < 1e-12);
        assert_eq!(mean_spread(&[3.0]), Some((3.0, 0.0)));
        // n = 2, p = 1 (8 tokens), 2 frames; token 7 = voxel (1,1,1),
        // flat tokens 14 (frame 0) and 15 (frame 1).
        let a = vec![0.0f32; 16];
        let mut b = a.clone();
        b[14] = 1.0;
        b[15] = 3.0;
        assert_eq!(token_mse(&a, &b, &[14, 15], 2, 1, 2), 5.0);
        assert_eq!(token_mse(&a, &b, &[0, 15], 2, 1, 2), 4.5);
    }

    #[test]
    fn a_cancel_stops_the_reconstruction_before_the_next_forward_batch() {
        use crate::eval::Progress;
        use crate::masking::TokenGrid;
        use crate::model::{MaskToken, ModelConfig};
        use std::sync::Arc;
        use std::sync::atomic::{AtomicBool, Ordering};
        let device = Device::flex();
        let cfg = ModelConfig::tiny();
        let mae = cfg.init(1, &device).unwrap();
        let t = cfg.input / cfg.patch;
        let grid = TokenGrid {
            spatial: [t; 3],
            frames: cfg.frames,
        };
        let mask = ClipMask {
            grid,
            patch: cfg.patch,
            tokens: (0..grid.n_spatial() * cfg.frames)
                .map(|i| i % 2 == 0)
                .collect(),
            voxels: None,
            token: MaskToken::Window,
        };
        let masks = vec![mask; 3];
        let clip = vec![0.5f32; cfg.input.pow(3) * cfg.frames];
        // The report of the first batch asks to cancel (as the app's
        // Cancel would while it runs).
        let flag = Arc::new(AtomicBool::new(false));
        let stop = flag.clone();
        let progress = Progress::new(flag, move |done, _| {
            if done >= 1 {
                stop.store(true, Ordering::Relaxed);
            }
        });
        let counter = progress.counter(3);
        let recon = MaeReconstructor {
            model: &mae,
            device: device.clone(),
            batch: 1,
            counter: Some(&counter),
        };
        let r = recon.reconstruct(&clip, &masks);
        assert!(matches!(r, Err(EvalError::Cancelled)), "{:?}", r.err());
        assert_eq!(counter.done(), 1, "one batch ran, then it stopped");
        // Never cancelled: every batch runs and is counted.
        let none = Progress::none();
        let counter = none.counter(2);
        let recon = MaeReconstructor {
            model: &mae,
            device,
            batch: 2,
            counter: Some(&counter),
        };
        let out = recon.reconstruct(&clip, &masks).unwrap();
        assert_eq!(out.len(), 3);
        assert!(out.iter().all(|r| r.len() == clip.len()));
        assert_eq!(counter.done(), 2);
    }
}
