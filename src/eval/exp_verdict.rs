//! The experiment's verdicts on the planted lobes (synthetic cohorts):
//! ROI masking of planted lobes against random masking and against the
//! control (ROI masking of a lobe without a planted effect) on test AUROC,
//! with a paired bootstrap interval; whether attribution ranked
//! planted-lobe regions first; and a caution when seeds or test subjects
//! are few.

use super::EvalError;
use super::exp_config::{ExperimentConfig, Strategy};
use super::exp_markdown::format_mean_sd;
use super::exp_rank::{RunRanking, mean_lobe_ranking, mean_ranking, methods_of, runs_of};
use super::exp_table::{ResultRow, strategies};
use super::paired::{AurocDifference, PairedSeed, auroc_difference};
use crate::atlas::Lobe;
use crate::masking::MaskStrategy;

/// The lobes an ROI strategy selects when it names whole lobes only.
fn roi_lobes(s: &Strategy) -> Option<(Vec<Lobe>, bool)> {
    match &s.mask {
        MaskStrategy::Roi {
            regions, partial, ..
        } if regions.names.is_empty() && !regions.lobes.is_empty() => {
            Some((regions.lobes.clone(), partial.is_some()))
        }
        _ => None,
    }
}

/// The paired AUROC difference `a` − `b` over the seeds both ran.
fn compare(
    rows: &[ResultRow],
    a: &str,
    b: &str,
    classes: usize,
    resamples: usize,
) -> Result<Option<AurocDifference>, EvalError> {
    let pairs: Vec<PairedSeed> = rows
        .iter()
        .filter(|r| r.strategy == a)
        .filter_map(|ra| {
            rows.iter()
                .find(|rb| rb.strategy == b && rb.seed == ra.seed)
                .map(|rb| PairedSeed {
                    a: &ra.test_predictions,
                    b: &rb.test_predictions,
                })
        })
        .collect();
    auroc_difference(&pairs, classes, resamples, 0)
}

/// One comparison in words: BEAT / did NOT beat / no evidence, with the
/// difference and its interval.
fn comparison_line(
    mine: &str,
    other: &str,
    d: Option<AurocDifference>,
    means: (String, String),
) -> String {
    let Some(d) = d else {
        return format!("{mine} could not be compared with {other} (AUROC undefined)");
    };
    let verdict = if !d.excludes_zero() {
        "no evidence of a difference from"
    } else if d.mean > 0.0 {
        "BEAT"
    } else {
        "did NOT beat (worse than)"
    };
    format!(
        "{mine} {verdict} {other} on test AUROC: ΔAUROC {} over {} seed(s) × {} test subjects (paired bootstrap); AUROC {} vs {}",
        d.text(),
        d.seeds,
        d.subjects,
        means.0,
        means.1
    )
}

/// The verdicts on the planted lobes: ROI masking of planted lobes against
/// random masking and against the control (a lobe with no planted effect)
/// on test AUROC with a paired bootstrap interval, and whether attribution
/// ranked planted-lobe regions first.
pub fn verdicts(
    cfg: &ExperimentConfig,
    rows: &[ResultRow],
    rankings: &[RunRanking],
    test_subjects: usize,
    classes: usize,
) -> Result<Vec<String>, EvalError> {
    let planted = cfg.planted_lobes();
    if planted.is_empty() {
        return Ok(vec![
            "no planted effect (not a synthetic cohort): no verdict on planted lobes".into(),
        ]);
    }
    let mut out = masking_verdicts(cfg, rows, &planted, classes)?;
    out.extend(attribution_verdicts(rows, rankings, &planted));
    if cfg.seeds.len() < 3 || test_subjects < 20 {
        out.push(format!(
            "caution: {} seed(s) and {test_subjects} test subjects per seed; with fewer than 3 seeds and 20 test subjects the intervals above cover little of the seed-to-seed and subject-to-subject variation",
            cfg.seeds.len()
        ));
    }
    Ok(out)
}

/// Each ROI strategy of planted lobes only against random masking and the
/// first control.
fn masking_verdicts(
    cfg: &ExperimentConfig,
    rows: &[ResultRow],
    planted: &[Lobe],
    classes: usize,
) -> Result<Vec<String>, EvalError> {
    let mut out = Vec::new();
    let auroc = |name: &str| {
        let v: Vec<Option<f64>> = rows
            .iter()
            .filter(|r| r.strategy == name)
            .map(|r| r.test_auroc)
            .collect();
        format_mean_sd(&v, 3)
    };
    let strategies = cfg.all_strategies();
    let random = strategies
        .iter()
        .find(|s| matches!(s.mask, MaskStrategy::Random { .. }));
    let controls = cfg.controls();
    for s in &strategies {
        let Some((lobes, _)) = roi_lobes(s) else {
            continue;
        };
        if !lobes.iter().all(|l| planted.contains(l)) {
            continue;
        }
        let mine = format!(
            "ROI masking of planted lobe(s) {} ({})",
            lobes.iter().map(|l| l.name()).collect::<Vec<_>>().join("+"),
            s.name
        );
        let mut against: Vec<(String, &str)> = Vec::new();
        match random {
            Some(r) => against.push((format!("random masking ({})", r.name), &r.name)),
            None => out.push(format!(
                "{mine}: no random-masking strategy in the grid to compare with"
            )),
        }
        match controls.first() {
            Some(c) => against.push((format!("the control ({}, no planted effect)", c.name), &c.name)),
            None => out.push(format!(
                "{mine}: no control in the grid (ROI masking of a lobe without a planted effect, e.g. occipital) to compare with"
            )),
        }
        for (other, name) in against {
            let d = compare(rows, &s.name, name, classes, cfg.bootstrap)?;
            out.push(comparison_line(
                &mine,
                &other,
                d,
                (auroc(&s.name), auroc(name)),
            ));
        }
    }
    Ok(out)
}

/// For every score and strategy: is the top region of the seed-mean
/// ranking in a planted lobe, and where do planted lobes rank.
fn attribution_verdicts(
    rows: &[ResultRow],
    rankings: &[RunRanking],
    planted: &[Lobe],
) -> Vec<String> {
    let planted_names: Vec<&str> = planted.iter().map(|l| l.name()).collect();
    let mut out = Vec::new();
    for method in methods_of(rankings) {
        for name in strategies(rows) {
            let runs = runs_of(rankings, &name, method);
            if runs.is_empty() {
                continue;
            }
            let ranking = mean_ranking(&runs);
            let Some((region, lobe, score, _)) = ranking.first() else {
                continue;
            };
            let planted_rank = ranking
                .iter()
                .position(|(_, l, _, _)| planted_names.contains(&l.as_str()))
                .map_or("none".into(), |p| format!("#{}", p + 1));
            let lobes = mean_lobe_ranking(&runs);
            let lobe_ranks: Vec<String> = lobes
                .iter()
                .enumerate()
                .filter(|(_, (l, _, _, _))| planted_names.contains(&l.as_str()))
                .map(|(i, (l, _, _, _))| format!("{l} #{}", i + 1))
                .collect();
            out.push(format!(
                "{} attribution of {name}: the top region is {region} ({lobe}, {} {score:.4}) — {}; first planted-lobe region at rank {planted_rank} of {}; planted lobes rank {} of {} lobes",
                method.name(),
                method.score_name(),
                if planted_names.contains(&lobe.as_str()) {
                    "a planted lobe: YES"
                } else {
                    "not a planted lobe: NO"
                },
                ranking.len(),
                if lobe_ranks.is_empty() {
                    "(none scored)".to_string()
                } else {
                    lobe_ranks.join(", ")
                },
                lobes.len()
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::SubjectPrediction;
    use crate::eval::attribution::RegionScore;
    use crate::eval::exp_config::RankScore;

    fn score(name: &str, lobe: &str, score: f64) -> RegionScore {
        RegionScore {
            id: 1,
            name: name.into(),
            lobe: lobe.into(),
            score,
            spread: 0.0,
            tokens: 1,
        }
    }

    /// Eight test subjects (s0–s3 patients, s4–s7 controls): `perfect`
    /// ranks every patient above every control (AUROC 1), else the reverse
    /// (AUROC 0).
    fn row(strategy: &str, seed: u64, perfect: bool) -> ResultRow {
        let sign = if perfect { 1.0 } else { -1.0 };
        let test_predictions: Vec<SubjectPrediction> = (0..8)
            .map(|i| SubjectPrediction {
                subject: format!("s{i}"),
                label: u32::from(i < 4),
                logits: vec![sign * (3.5 - i as f64)],
                clips: 1,
            })
            .collect();
        ResultRow {
            strategy: strategy.into(),
            seed,
            masked_fraction: 0.5,
            val_masked_mse: Some(1.0),
            test_acc: 0.5,
            test_bal_acc: 0.5,
            test_auroc: crate::eval::metrics::subject_auroc(&test_predictions, 2),
            test_predictions,
        }
    }

    #[test]
    fn verdicts_compare_planted_lobes_with_random_and_the_control_by_paired_intervals() {
        // Demo: planted limbic + cerebellum; random, window, roi-limbic,
        // roi-cerebellum, roi-occipital (the control).
        let cfg = ExperimentConfig {
            seeds: vec![0, 1],
            ..ExperimentConfig::demo()
        };
        assert_eq!(
            cfg.controls()
                .iter()
                .map(|s| s.name.as_str())
                .collect::<Vec<_>>(),
            ["roi-occipital"]
        );
        let mut rows = Vec::new();
        for seed in [0, 1] {
            rows.push(row("random", seed, false));
            rows.push(row("window", seed, false));
            rows.push(row("roi-limbic", seed, true));
            rows.push(row("roi-cerebellum", seed, false));
            rows.push(row("roi-occipital", seed, true));
        }
        // IG of roi-limbic: seed 0 puts Precentral_L first, seed 1 puts
        // Hippocampus_L far ahead, so the seed mean ranks Hippocampus_L
        // first: (0.1 + 0.9) / 2 = 0.5 > (0.4 + 0.2) / 2 = 0.3.
        let ranking = |seed, hippo, pre, limbic, frontal| RunRanking {
            strategy: "roi-limbic".into(),
            seed,
            method: RankScore::Ig,
            regions: vec![
                score("Precentral_L", "frontal", pre),
                score("Hippocampus_L", "limbic", hippo),
            ],
            lobes: vec![
                score("frontal", "frontal", frontal),
                score("limbic", "limbic", limbic),
            ],
        };
        let rankings = vec![
            ranking(0, 0.1, 0.4, 0.1, 0.3),
            ranking(1, 0.9, 0.2, 0.2, 0.1),
        ];
        let v = verdicts(&cfg, &rows, &rankings, 8, 2).unwrap();
        // AUROC 1 against 0 in every paired draw: +1 exactly.
        assert_eq!(
            v[0],
            "ROI masking of planted lobe(s) limbic (roi-limbic) BEAT random masking (random) on test AUROC: ΔAUROC +1.000 [95 % CI +1.000, +1.000] over 2 seed(s) × 8 test subjects (paired bootstrap); AUROC 1.000 ± 0.000 vs 0.000 ± 0.000"
        );
        assert!(
            v[1].starts_with("ROI masking of planted lobe(s) limbic (roi-limbic) no evidence of a difference from the control (roi-occipital, no planted effect) on test AUROC: ΔAUROC +0.000 [95 % CI +0.000, +0.000]"),
            "{v:?}"
        );
        assert!(
            v[2].starts_with("ROI masking of planted lobe(s) cerebellum (roi-cerebellum) no evidence of a difference from random masking"),
            "{v:?}"
        );
        assert!(
            v[3].contains("(roi-cerebellum) did NOT beat (worse than) the control (roi-occipital, no planted effect) on test AUROC: ΔAUROC -1.000"),
            "{v:?}"
        );
        // Lobes: frontal (0.3 + 0.1) / 2 = 0.2 > limbic (0.1 + 0.2) / 2 = 0.15.
        assert_eq!(
            v[4],
            "ig attribution of roi-limbic: the top region is Hippocampus_L (limbic, mean |IG| per voxel 0.5000) — a planted lobe: YES; first planted-lobe region at rank #1 of 2; planted lobes rank limbic #2 of 2 lobes"
        );
        assert!(
            v[5].starts_with("caution: 2 seed(s) and 8 test subjects"),
            "{v:?}"
        );
        assert_eq!(v.len(), 6);
        // Without a control in the grid the verdict says so.
        let mut no_control = cfg.clone();
        no_control.grid.lobes.retain(|l| *l != Lobe::Occipital);
        let v = verdicts(&no_control, &rows, &rankings, 8, 2).unwrap();
        assert!(
            v.iter().any(|l| l.contains("no control in the grid")),
            "{v:?}"
        );
    }
}
