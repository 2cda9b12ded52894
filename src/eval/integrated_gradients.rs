//! Integrated gradients (Sundararajan et al. 2017) of the downstream
//! classifier — the frozen pretrained encoder with the linear head on the
//! mean token, fitted as `roimae finetune` does — with respect to the input
//! clip, optionally smoothed as SmoothGrad² (the mean of squared IG over
//! noisy copies of the input). The baseline is the background value (the
//! clip's minimum, what padding and masking use). Voxel attributions are
//! aggregated per AAL3 region and lobe as the mean |attribution| per voxel
//! (over all frames), with the spread over subjects.
//!
//! IG satisfies completeness: the attributions of a clip sum to
//! `f(x) - f(baseline)` up to the Riemann error of `steps` midpoints; the
//! tests check exactly that on a real (randomly initialised) encoder.

use super::attribution::RegionScore;
use super::finetune::{Prepared, mean_token, mean_token_features, prepare, train_scaled_head};
use super::ft_config::FinetuneConfig;
use super::pretrained;
use crate::atlas::{InputLabels, Lobe, RegionTable, TokenMap};
use crate::data::synth::normal;
use crate::model::encoder::Encoder;
use crate::model::{ClassifierHead, ScanImpl};
use crate::volume::{Affine, Grid, Volume, VolumeMeta};
use burn::prelude::*;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use std::collections::BTreeMap;

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

/// The classifier logit of a batch: `direction · mean_token(encoder(x))`.
fn logits(encoder: &Encoder, x: Tensor<6>, direction: &Tensor<2>) -> Tensor<2> {
    mean_token(encoder.forward(x, ScanImpl::Auto)).matmul(direction.clone())
}

/// IG of one clip (`[n, n, n, T]` values, t fastest) for `direction`
/// `[C]`, on an autodiff `device`. Returns the attributions and
/// `f(x) - f(baseline)`.
#[allow(clippy::too_many_arguments)]
pub fn integrated_gradients(
    encoder: &Encoder,
    direction: &[f32],
    clip: &[f32],
    baseline: f32,
    steps: usize,
    n: usize,
    frames: usize,
    device: &Device,
) -> Result<(Vec<f32>, f64), String> {
    let steps = steps.max(1);
    let c = direction.len();
    let dir = Tensor::<2>::from_data(TensorData::new(direction.to_vec(), [c, 1]), device);
    let mut values = Vec::with_capacity(steps * clip.len());
    for k in 0..steps {
        let a = (k as f32 + 0.5) / steps as f32;
        values.extend(clip.iter().map(|&v| baseline + a * (v - baseline)));
    }
    let xs = Tensor::<6>::from_data(TensorData::new(values, [steps, 1, n, n, n, frames]), device)
        .require_grad();
    let out = logits(encoder, xs.clone(), &dir).sum();
    let grads = out.backward();
    let g = xs
        .grad(&grads)
        .ok_or("no gradient reached the input")?
        .sum_dim(0)
        .try_into_vec_as::<f32>()
        .map_err(|e| crate::train::trainer::device_error(&format!("{e:?}")))?;
    let attributions: Vec<f32> = clip
        .iter()
        .zip(&g)
        .map(|(&v, &gi)| (v - baseline) * gi / steps as f32)
        .collect();
    // f(x) - f(baseline), on the same device without tracking.
    let ends: Vec<f32> = clip
        .iter()
        .copied()
        .chain(std::iter::repeat_n(baseline, clip.len()))
        .collect();
    let ends = Tensor::<6>::from_data(TensorData::new(ends, [2, 1, n, n, n, frames]), device);
    let f = logits(encoder, ends, &dir)
        .try_into_vec_as::<f32>()
        .map_err(|e| crate::train::trainer::device_error(&format!("{e:?}")))?;
    Ok((attributions, (f[0] - f[1]) as f64))
}

/// One region's attribution in one clip.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct RegionStat {
    /// Mean over its voxels of |attribution| (mean over frames).
    pub mean_abs: f64,
    /// Its voxels' Σ |attribution| over that of every labelled voxel.
    pub share: f64,
    /// Mean over its voxels of the signed attribution (mean over frames).
    pub mean_signed: f64,
}

/// Per-voxel attribution (mean over frames) aggregated by region: `attr`
/// gives |attribution| (its absolute value is taken) and `signed` the
/// signed one. Returns id → stats; background (label 0) is no region.
pub fn region_stats(
    attr: &[f32],
    signed: &[f32],
    labels: &InputLabels,
    frames: usize,
) -> BTreeMap<u16, RegionStat> {
    let n = labels.geometry.input;
    // id → (Σ mean |a|, Σ mean a, voxels)
    let mut acc: BTreeMap<u16, (f64, f64, usize)> = BTreeMap::new();
    let mean = |v: &[f32], abs: bool| {
        v.iter()
            .map(|&a| if abs { a.abs() as f64 } else { a as f64 })
            .sum::<f64>()
            / frames as f64
    };
    for u in 0..n {
        for v in 0..n {
            for w in 0..n {
                let l = labels.at(u, v, w);
                if l == 0 {
                    continue;
                }
                let base = ((u * n + v) * n + w) * frames;
                let e = acc.entry(l).or_default();
                e.0 += mean(&attr[base..base + frames], true);
                e.1 += mean(&signed[base..base + frames], false);
                e.2 += 1;
            }
        }
    }
    let total: f64 = acc.values().map(|e| e.0).sum();
    acc.into_iter()
        .map(|(l, (abs, sig, k))| {
            let k = k.max(1) as f64;
            let stat = RegionStat {
                mean_abs: abs / k,
                share: if total > 0.0 { abs / total } else { 0.0 },
                mean_signed: sig / k,
            };
            (l, stat)
        })
        .collect()
}

/// How a lobe's score comes from its regions' scores.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LobeOf {
    /// Their mean (per-voxel densities).
    Mean,
    /// Their sum (shares of a total).
    Sum,
}

fn mean_sd(v: &[f64]) -> (f64, f64) {
    let n = v.len().max(1) as f64;
    let m = v.iter().sum::<f64>() / n;
    let sd = if v.len() > 1 {
        (v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n - 1.0)).sqrt()
    } else {
        0.0
    };
    (m, sd)
}

/// Region and lobe scores from per-subject region scores.
fn summarise(
    per_subject: &[BTreeMap<u16, f64>],
    table: &RegionTable,
    tokens: &TokenMap,
    lobe_of: LobeOf,
) -> (Vec<RegionScore>, Vec<RegionScore>) {
    let mut token_counts: BTreeMap<u16, usize> = BTreeMap::new();
    for &l in &tokens.labels {
        *token_counts.entry(l).or_default() += 1;
    }
    let ids: std::collections::BTreeSet<u16> =
        per_subject.iter().flat_map(|m| m.keys().copied()).collect();
    let mut regions = Vec::new();
    for id in ids {
        let Some(r) = table.get(id) else { continue };
        let values: Vec<f64> = per_subject
            .iter()
            .filter_map(|m| m.get(&id).copied())
            .collect();
        let (score, spread) = mean_sd(&values);
        regions.push(RegionScore {
            id,
            name: r.name.clone(),
            lobe: r.group.name().to_string(),
            score,
            spread,
            tokens: token_counts.get(&id).copied().unwrap_or(0),
        });
    }
    regions.sort_by(|a, b| b.score.total_cmp(&a.score));
    let lobes = Lobe::ALL
        .iter()
        .filter_map(|&lobe| {
            let values: Vec<f64> = per_subject
                .iter()
                .map(|m| {
                    let v: Vec<f64> = m
                        .iter()
                        .filter(|(id, _)| table.get(**id).is_some_and(|r| r.group == lobe))
                        .map(|(_, s)| *s)
                        .collect();
                    match lobe_of {
                        LobeOf::Mean => v.iter().sum::<f64>() / v.len().max(1) as f64,
                        LobeOf::Sum => v.iter().sum::<f64>(),
                    }
                })
                .collect();
            let members: usize = regions
                .iter()
                .filter(|r| r.lobe == lobe.name())
                .map(|r| r.tokens)
                .sum();
            if regions.iter().all(|r| r.lobe != lobe.name()) {
                return None;
            }
            let (score, spread) = mean_sd(&values);
            Some(RegionScore {
                id: 0,
                name: lobe.name().to_string(),
                lobe: lobe.name().to_string(),
                score,
                spread,
                tokens: members,
            })
        })
        .collect();
    (regions, lobes)
}

/// Integrated gradients of the classifier fitted on the run in `run_dir`.
pub fn ig_attribute_run(
    run_dir: &std::path::Path,
    opts: &IgOptions,
    log: &mut dyn FnMut(String),
) -> Result<IgResult, String> {
    if opts.finetune.full {
        return Err("integrated gradients use the frozen-encoder head; drop `full`".into());
    }
    let Prepared {
        data,
        subjects,
        labels,
        sets,
        classes,
        frames,
        input,
        ad,
        plain,
        ..
    } = prepare(run_dir, &opts.finetune, log)?;
    let source = data.source.as_ref();
    // The head, fitted exactly as `roimae finetune` fits it.
    let (_, mae, _) = pretrained::load_mae(run_dir, opts.finetune.checkpoint, &plain)?;
    let wanted: Vec<usize> = [&sets.train, &sets.val, &sets.test]
        .into_iter()
        .flatten()
        .copied()
        .collect();
    let features = mean_token_features(&mae.encoder, source, &wanted, input, frames, 8, &plain)?;
    let (fit, scaling) = train_scaled_head(
        &features,
        &subjects,
        &labels,
        &sets,
        classes,
        &opts.finetune,
        &ad,
        log,
    )?;
    let head = fit
        .best_model
        .and_then(|b| b.downcast::<ClassifierHead>().ok())
        .ok_or("the head fit kept no model")?;
    let weight = head
        .fc
        .weight
        .val()
        .try_into_vec_as::<f32>()
        .map_err(|e| crate::train::trainer::device_error(&format!("{e:?}")))?;
    let outputs = super::fit::head_outputs(classes);
    let column = if outputs == 1 {
        0
    } else {
        opts.class.min(outputs - 1)
    };
    let dim = scaling.sd.len();
    // Logit = Σ_k W[k, col] (f_k - mean_k) / sd_k + b: the gradient path is W/sd.
    let direction: Vec<f32> = (0..dim)
        .map(|k| weight[k * outputs + column] / scaling.sd[k] as f32)
        .collect();
    // The encoder on the autodiff device.
    let (_, mae_ad, info) = pretrained::load_mae(run_dir, opts.finetune.checkpoint, &ad)?;
    let pool = if sets.val.is_empty() {
        &sets.test
    } else {
        &sets.val
    };
    let mut taken: BTreeMap<String, usize> = BTreeMap::new();
    let mut per_subject_sums: BTreeMap<String, (BTreeMap<u16, RegionStat>, usize)> =
        BTreeMap::new();
    let mut voxel_sum = vec![0.0f64; input * input * input];
    let mut clips_done = 0usize;
    let mut completeness = Vec::new();
    let mut rng = ChaCha8Rng::seed_from_u64(opts.finetune.seed);
    for &i in pool {
        let subject = subjects[i].clone();
        let k = taken.entry(subject.clone()).or_default();
        if *k >= opts.clips_per_subject.max(1) {
            continue;
        }
        *k += 1;
        let mut clip = Vec::new();
        source.read(i, &mut clip);
        let lo = clip.iter().copied().fold(f32::INFINITY, f32::min);
        let hi = clip.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        // `attr`: what the score ranks (|IG| of plain IG is taken below;
        // SmoothGrad² is already ≥ 0); `signed`: IG, or its noise mean.
        let (attr, signed) = if opts.samples == 0 {
            let (a, delta) = integrated_gradients(
                &mae_ad.encoder,
                &direction,
                &clip,
                lo,
                opts.steps,
                input,
                frames,
                &ad,
            )?;
            let total: f64 = a.iter().map(|&x| x as f64).sum();
            if delta.abs() > 1e-9 {
                completeness.push((total - delta).abs() / delta.abs());
            }
            (a.clone(), a)
        } else {
            let sd = (opts.noise * (hi - lo) as f64).max(1e-6);
            let mut acc = vec![0.0f32; clip.len()];
            let mut mean = vec![0.0f32; clip.len()];
            for _ in 0..opts.samples {
                let noisy: Vec<f32> = clip
                    .iter()
                    .map(|&v| v + (sd * normal(&mut rng)) as f32)
                    .collect();
                let (a, _) = integrated_gradients(
                    &mae_ad.encoder,
                    &direction,
                    &noisy,
                    lo,
                    opts.steps,
                    input,
                    frames,
                    &ad,
                )?;
                for ((s, m), x) in acc.iter_mut().zip(mean.iter_mut()).zip(a) {
                    *s += x * x / opts.samples as f32;
                    *m += x / opts.samples as f32;
                }
            }
            (acc, mean)
        };
        let stats = region_stats(&attr, &signed, &data.labels, frames);
        let entry = per_subject_sums.entry(subject).or_default();
        for (id, s) in stats {
            let e = entry.0.entry(id).or_default();
            e.mean_abs += s.mean_abs;
            e.share += s.share;
            e.mean_signed += s.mean_signed;
        }
        entry.1 += 1;
        for (cube, v) in voxel_sum.iter_mut().enumerate() {
            *v += attr[cube * frames..(cube + 1) * frames]
                .iter()
                .map(|&x| x as f64)
                .sum::<f64>()
                / frames as f64;
        }
        clips_done += 1;
        log(format!(
            "integrated gradients: clip {clips_done} ({})",
            subjects[i]
        ));
    }
    if clips_done == 0 {
        return Err("no validation or test clip to attribute".into());
    }
    let per_subject = |pick: fn(&RegionStat) -> f64| -> Vec<BTreeMap<u16, f64>> {
        per_subject_sums
            .values()
            .map(|(m, k)| m.iter().map(|(id, s)| (*id, pick(s) / *k as f64)).collect())
            .collect()
    };
    let atlas = crate::atlas::Atlas::aal3().map_err(|e| e.to_string())?;
    let tokens = TokenMap::from_input(&data.labels);
    let table = &atlas.regions;
    let (regions, lobes) = summarise(&per_subject(|s| s.mean_abs), table, &tokens, LobeOf::Mean);
    let (shares, lobe_shares) = summarise(&per_subject(|s| s.share), table, &tokens, LobeOf::Sum);
    let (signed, lobe_signed) = summarise(
        &per_subject(|s| s.mean_signed),
        table,
        &tokens,
        LobeOf::Mean,
    );
    let subjects = per_subject_sums.len();
    let n = input;
    // Model layout (u, v, w) → NIfTI order (x fastest).
    let mut voxels = vec![0.0f32; n * n * n];
    for u in 0..n {
        for v in 0..n {
            for w in 0..n {
                voxels[u + n * (v + n * w)] =
                    (voxel_sum[(u * n + v) * n + w] / clips_done as f64) as f32;
            }
        }
    }
    let voxel_map = cube_volume(voxels, data.cube_affine, n);
    let region_map = super::attribution::region_map(&regions, &data.labels, data.cube_affine);
    let kind = if opts.samples == 0 {
        "integrated gradients (signed voxel map)".to_string()
    } else {
        format!(
            "SmoothGrad² integrated gradients ({} samples, noise {} of the range)",
            opts.samples, opts.noise
        )
    };
    let completeness_error = if completeness.is_empty() {
        f64::NAN
    } else {
        completeness.iter().sum::<f64>() / completeness.len() as f64
    };
    let target = if outputs == 1 {
        "patient-vs-control logit (class 1)".to_string()
    } else {
        format!("class-{column} logit")
    };
    let method = format!(
        "{kind} of the {target} of the frozen encoder ({} checkpoint, step {}) + linear head on the mean token; {} midpoint steps from baseline = clip minimum (background); region score = mean |attribution| per voxel over frames (also: the region's share of the total, and the signed mean); {clips_done} clips of {subjects} subjects",
        info.which, info.step, opts.steps,
    );
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
        method,
        completeness_error,
    })
}

fn cube_volume(data: Vec<f32>, affine: Affine, n: usize) -> Volume {
    let grid = Grid::new([n; 3], affine);
    let meta = VolumeMeta::new_f32(&grid, 1, None, true);
    Volume::from_data(grid, 1, data, meta)
}

/// Writes `ig_regions.csv`, `ig_lobes.csv` (mean |IG| per voxel; same
/// columns as occlusion's), `ig_regions_share.csv` / `ig_lobes_share.csv`
/// (share of the total |IG|), `ig_regions_signed.csv` /
/// `ig_lobes_signed.csv` (signed mean), `ig.json` (method, steps, samples,
/// noise, completeness error: the parameters of the maps beside it) and
/// the maps `ig_regions.nii.gz` and `ig_voxels.nii.gz`.
pub fn write_ig_outputs(r: &IgResult, dir: &std::path::Path) -> Result<(), String> {
    let fail = |p: &std::path::Path, e: String| {
        format!(
            "{}: cannot write ({e}); check the folder is writable",
            p.display()
        )
    };
    std::fs::create_dir_all(dir).map_err(|e| fail(dir, e.to_string()))?;
    for (suffix, regions, lobes) in [
        ("", &r.regions, &r.lobes),
        ("_share", &r.shares, &r.lobe_shares),
        ("_signed", &r.signed, &r.lobe_signed),
    ] {
        let path = dir.join(format!("ig_regions{suffix}.csv"));
        super::attribution::write_region_csv(&path, regions)?;
        let path = dir.join(format!("ig_lobes{suffix}.csv"));
        super::attribution::write_lobe_csv(&path, lobes)?;
    }
    let path = dir.join("ig.json");
    let json = serde_json::json!({
        "method": r.method,
        "steps": r.steps,
        "samples": r.samples,
        "noise": r.noise,
        "completeness_error": r.completeness_error,
    });
    std::fs::write(
        &path,
        serde_json::to_string_pretty(&json).unwrap_or_default(),
    )
    .map_err(|e| fail(&path, e.to_string()))?;
    crate::volume::write_volume(&r.region_map, dir.join("ig_regions.nii.gz"))
        .map_err(|e| e.to_string())?;
    crate::volume::write_volume(&r.voxel_map, dir.join("ig_voxels.nii.gz"))
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::atlas::TokenGeometry;
    use crate::model::{Mae, ModelConfig};

    #[test]
    fn attributions_sum_to_the_logit_difference() {
        // Completeness on a real (random-weight) tiny encoder.
        let device = Device::flex().autodiff();
        let cfg = ModelConfig::preset("tiny").unwrap();
        let mae = Mae::new(&cfg, 3, &device);
        let n = cfg.input;
        let frames = cfg.frames;
        let dim = *cfg.encoder_stages().last().map(|s| &s.dim).unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        use rand::Rng;
        let direction: Vec<f32> = (0..dim).map(|_| rng.random_range(-1.0..1.0)).collect();
        let clip: Vec<f32> = (0..n * n * n * frames)
            .map(|i| ((i % 97) as f32 / 97.0).sin() + 0.3 * rng.random_range(-1.0..1.0f32))
            .collect();
        let baseline = clip.iter().copied().fold(f32::INFINITY, f32::min);
        let (attr, delta) = integrated_gradients(
            &mae.encoder,
            &direction,
            &clip,
            baseline,
            32,
            n,
            frames,
            &device,
        )
        .unwrap();
        let total: f64 = attr.iter().map(|&a| a as f64).sum();
        assert!(delta.abs() > 1e-4, "the path changes the logit: {delta}");
        assert!(
            (total - delta).abs() <= 0.05 * delta.abs(),
            "Σ attributions {total} vs f(x) - f(baseline) {delta}"
        );
        // At the baseline itself every attribution is zero.
        let flat = vec![baseline; clip.len()];
        let (zero, d0) = integrated_gradients(
            &mae.encoder,
            &direction,
            &flat,
            baseline,
            4,
            n,
            frames,
            &device,
        )
        .unwrap();
        assert!(zero.iter().all(|&a| a == 0.0) && d0.abs() < 1e-6);
    }

    #[test]
    fn region_scores_are_mean_absolute_per_voxel_share_of_the_total_and_signed_mean() {
        // A 3³ cube (1 frame) with region 1 on u = 0 and region 2 on u = 1.
        let geometry = TokenGeometry {
            input: 3,
            patch: 1,
            voxel_um: 8000,
        };
        let mut labels = vec![0u16; 27];
        for (i, l) in labels.iter_mut().enumerate() {
            *l = match i / 9 {
                0 => 1,
                1 => 2,
                _ => 0,
            };
        }
        let input = InputLabels { geometry, labels };
        let mut attr = vec![0.0f32; 27];
        for (i, a) in attr.iter_mut().enumerate() {
            *a = if i / 9 == 0 {
                -2.0
            } else if i / 9 == 1 {
                (i % 2) as f32
            } else {
                100.0
            };
        }
        let m = region_stats(&attr, &attr, &input, 1);
        assert_eq!(m[&1].mean_abs, 2.0);
        // Region 2 holds i = 9..18: the odd ones (5 of 9) are 1.
        assert!((m[&2].mean_abs - 5.0 / 9.0).abs() < 1e-12, "{:?}", m[&2]);
        assert!(!m.contains_key(&0), "background is not a region");
        // Σ|a|: region 1 9 × 2 = 18, region 2 5, total 23 (background out).
        assert!((m[&1].share - 18.0 / 23.0).abs() < 1e-12);
        assert!((m[&2].share - 5.0 / 23.0).abs() < 1e-12);
        // Signed: region 1 is -2 everywhere.
        assert_eq!(m[&1].mean_signed, -2.0);
        assert!((m[&2].mean_signed - 5.0 / 9.0).abs() < 1e-12);
    }
}
