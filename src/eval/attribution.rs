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

use crate::atlas::{InputLabels, Lobe, RegionTable, TokenMap};
use crate::masking::ClipMask;
use crate::model::{BatchMask, Mae, ScanImpl};
use crate::volume::{Affine, Grid, Volume, VolumeMeta};
use burn::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

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
    fn reconstruct(&self, clip: &[f32], masks: &[ClipMask]) -> Result<Vec<Vec<f32>>, String>;
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
}

impl Reconstructor for MaeReconstructor<'_> {
    fn reconstruct(&self, clip: &[f32], masks: &[ClipMask]) -> Result<Vec<Vec<f32>>, String> {
        let cfg = self.model.config();
        let (n, frames) = (cfg.input, cfg.frames);
        let mut out = Vec::with_capacity(masks.len());
        for chunk in masks.chunks(self.batch.max(1)) {
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
                .map_err(|e| crate::train::trainer::device_error(&format!("{e:?}")))?;
            out.extend(r.chunks(clip.len()).map(<[f32]>::to_vec));
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

fn mean_sd(values: &[f64]) -> (f64, f64) {
    let n = values.len() as f64;
    let mean = values.iter().sum::<f64>() / n;
    if values.len() < 2 {
        return (mean, 0.0);
    }
    let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1.0);
    (mean, var.sqrt())
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
) -> Result<Occlusion, String> {
    if clips.is_empty() {
        return Err("no clip to attribute on; the run has no validation subject".into());
    }
    if base_masks.len() != clips.len() {
        return Err("occlusion needs one base mask per clip".into());
    }
    let g = labels.geometry;
    let (n, p) = (g.input, g.patch);
    let (regions, lobes) = targets(labels, table);
    let all: Vec<&Target> = regions.iter().chain(&lobes).collect();
    // Each target's own voxels in every frame (flat token indices).
    let own: Vec<Vec<usize>> = all
        .iter()
        .map(|tg| {
            tg.tokens
                .iter()
                .flat_map(|&s| s * frames..(s + 1) * frames)
                .collect()
        })
        .collect();
    // Per subject, per target: the context scores of its clips and the
    // target's own error.
    let mut per: BTreeMap<&str, Vec<Vec<f64>>> = BTreeMap::new();
    let mut per_own: BTreeMap<&str, Vec<Vec<f64>>> = BTreeMap::new();
    let mut baseline = Vec::new();
    for (k, ((subject, clip), base)) in clips.iter().zip(base_masks).enumerate() {
        let mut masks = vec![base.clone()];
        masks.extend(all.iter().map(|tg| with_tube(base, &tg.tokens)));
        let out = recon.reconstruct(clip, &masks)?;
        let hidden: Vec<usize> = (0..base.tokens.len()).filter(|&i| base.tokens[i]).collect();
        baseline.push(token_mse(&out[0], clip, &hidden, n, p, frames));
        let own_entry = per_own
            .entry(subject.as_str())
            .or_insert_with(|| vec![Vec::new(); all.len()]);
        for (j, tokens) in own.iter().enumerate() {
            own_entry[j].push(token_mse(&out[j + 1], clip, tokens, n, p, frames));
        }
        let entry = per
            .entry(subject.as_str())
            .or_insert_with(|| vec![Vec::new(); all.len()]);
        for (j, tg) in all.iter().enumerate() {
            let scored: Vec<usize> = hidden
                .iter()
                .copied()
                .filter(|&i| tg.tokens.binary_search(&(i / frames)).is_err())
                .collect();
            let occluded = token_mse(&out[j + 1], clip, &scored, n, p, frames);
            let reference = token_mse(&out[0], clip, &scored, n, p, frames);
            entry[j].push(occluded - reference);
        }
        log(format!("clip {}/{} ({subject}) done", k + 1, clips.len()));
    }
    let scores_of = |per: &BTreeMap<&str, Vec<Vec<f64>>>| -> Vec<RegionScore> {
        all.iter()
            .enumerate()
            .map(|(j, tg)| {
                let subject_means: Vec<f64> = per
                    .values()
                    .map(|v| v[j].iter().sum::<f64>() / v[j].len() as f64)
                    .collect();
                let (score, spread) = mean_sd(&subject_means);
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
    };
    let sort = |mut v: Vec<RegionScore>| {
        v.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.id.cmp(&b.id)));
        v
    };
    let scores = scores_of(&per);
    let (r, l) = scores.split_at(regions.len());
    let own_scores = scores_of(&per_own);
    let (own_r, own_l) = own_scores.split_at(regions.len());
    Ok(Occlusion {
        regions: sort(r.to_vec()),
        lobes: sort(l.to_vec()),
        region_mse: sort(own_r.to_vec()),
        lobe_mse: sort(own_l.to_vec()),
        subjects: per.len(),
        clips: clips.len(),
        baseline_mse: baseline.iter().sum::<f64>() / baseline.len() as f64,
        method: format!(
            "region occlusion: context ΔMSE = change of the MSE on the base-masked voxels outside the region when the region's tokens are masked too (all {frames} frames); region MSE = the MSE on the region's own voxels then; base = window mask 0.5; {} clips of {} subjects; {}³ input, {}³ patches",
            clips.len(),
            per.len(),
            n,
            p
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

/// Writes `occlusion_regions.csv` (region, lobe, score, spread, id,
/// tokens), `occlusion_lobes.csv` (lobe, score, spread, tokens), the same
/// two for the regions' own error (`region_mse_regions.csv`,
/// `region_mse_lobes.csv`), `occlusion.json` and the map
/// `occlusion_regions.nii.gz`.
pub fn write_outputs(occ: &Occlusion, map: &Volume, dir: &Path) -> Result<(), String> {
    let fail = |p: &Path, e: String| {
        format!(
            "{}: cannot write ({e}); check the folder is writable",
            p.display()
        )
    };
    std::fs::create_dir_all(dir).map_err(|e| fail(dir, e.to_string()))?;
    write_region_csv(&dir.join("occlusion_regions.csv"), &occ.regions)?;
    write_lobe_csv(&dir.join("occlusion_lobes.csv"), &occ.lobes)?;
    write_region_csv(&dir.join("region_mse_regions.csv"), &occ.region_mse)?;
    write_lobe_csv(&dir.join("region_mse_lobes.csv"), &occ.lobe_mse)?;
    let path = dir.join("occlusion.json");
    let json = serde_json::to_string_pretty(occ).map_err(|e| fail(&path, e.to_string()))?;
    std::fs::write(&path, json).map_err(|e| fail(&path, e.to_string()))?;
    crate::volume::write_volume(map, dir.join("occlusion_regions.nii.gz"))
        .map_err(|e| e.to_string())
}

fn write_text(path: &Path, text: String) -> Result<(), String> {
    std::fs::write(path, text).map_err(|e| {
        format!(
            "{}: cannot write ({e}); check the folder is writable",
            path.display()
        )
    })
}

/// Writes region scores as `region,lobe,score,spread,id,tokens` (what
/// [`read_region_scores`] reads).
pub fn write_region_csv(path: &Path, scores: &[RegionScore]) -> Result<(), String> {
    let mut csv = String::from("region,lobe,score,spread,id,tokens\n");
    for r in scores {
        csv += &format!(
            "{},{},{},{},{},{}\n",
            r.name, r.lobe, r.score, r.spread, r.id, r.tokens
        );
    }
    write_text(path, csv)
}

/// Writes lobe scores as `lobe,score,spread,tokens`.
pub fn write_lobe_csv(path: &Path, scores: &[RegionScore]) -> Result<(), String> {
    let mut csv = String::from("lobe,score,spread,tokens\n");
    for r in scores {
        csv += &format!("{},{},{},{}\n", r.lobe, r.score, r.spread, r.tokens);
    }
    write_text(path, csv)
}

/// Reads `occlusion_regions.csv` back (for drawing saved results).
pub fn read_region_scores(path: &Path) -> Result<Vec<RegionScore>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("{}: cannot read ({e})", path.display()))?;
    text.lines()
        .skip(1)
        .enumerate()
        .map(|(i, line)| {
            let f: Vec<&str> = line.split(',').collect();
            let bad = || {
                format!(
                    "{}: line {} is not region,lobe,score,spread,id,tokens",
                    path.display(),
                    i + 2
                )
            };
            if f.len() != 6 {
                return Err(bad());
            }
            Ok(RegionScore {
                name: f[0].into(),
                lobe: f[1].into(),
                score: f[2].parse().map_err(|_| bad())?,
                spread: f[3].parse().map_err(|_| bad())?,
                id: f[4].parse().map_err(|_| bad())?,
                tokens: f[5].parse().map_err(|_| bad())?,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sample_spread_and_patch_error_by_hand() {
        let (m, s) = mean_sd(&[1.0, 4.0]);
        assert_eq!(m, 2.5);
        assert!((s - 4.5f64.sqrt()).abs() < 1e-12);
        assert_eq!(mean_sd(&[3.0]), (3.0, 0.0));
        // n = 2, p = 1 (8 tokens), 2 frames; token 7 = voxel (1,1,1),
        // flat tokens 14 (frame 0) and 15 (frame 1).
        let a = vec![0.0f32; 16];
        let mut b = a.clone();
        b[14] = 1.0;
        b[15] = 3.0;
        assert_eq!(token_mse(&a, &b, &[14, 15], 2, 1, 2), 5.0);
        assert_eq!(token_mse(&a, &b, &[0, 15], 2, 1, 2), 4.5);
    }
}
