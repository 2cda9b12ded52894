//! Integrated-gradients attributions aggregated by AAL3 region: per clip,
//! each region's mean |attribution| per voxel (over all frames), its share
//! of the total and its signed mean; over subjects, region and lobe scores
//! with the spread over subjects.

use super::attribution::RegionScore;
use super::stats::mean_spread;
use crate::atlas::{InputLabels, Lobe, RegionTable, TokenMap};
use std::collections::BTreeMap;

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
pub enum LobeOf {
    /// Their mean (per-voxel densities).
    Mean,
    /// Their sum (shares of a total).
    Sum,
}

/// Score and spread over subjects; no subject scores 0 ± 0.
fn score_and_spread(values: &[f64]) -> (f64, f64) {
    mean_spread(values).unwrap_or((0.0, 0.0))
}

/// Region and lobe scores from per-subject region scores.
pub fn summarise(
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
        let (score, spread) = score_and_spread(&values);
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
            let (score, spread) = score_and_spread(&values);
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::atlas::TokenGeometry;

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
