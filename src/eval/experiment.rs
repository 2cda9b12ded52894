//! The paper's experiment on one dataset: for every strategy × seed,
//! pretrain (the same run config, only the mask differs), fine-tune the
//! frozen encoder (honest protocol: held-out test subjects) and optionally
//! attribute by region occlusion and/or integrated gradients of the
//! classifier; then `results.csv`, `results.md`,
//! `attribution.csv` and, for a synthetic cohort, plain verdicts on the
//! planted lobes.
//!
//! Layout of the output folder: `runs/<strategy>-s<seed>/` (the run, with
//! `finetune/` and `attribution/` inside), `experiment.toml`, the tables.

use super::attribute_run::{AttributeOptions, attribute_run};
use super::attribution::{RegionScore, write_outputs as write_attribution};
use super::exp_config::{
    AttrMethod, AttributeWhich, ExperimentConfig, RankScore, SplitProtocol, Strategy,
};
use super::exp_table::{ResultRow, format_mean_sd, results_csv, summary_table};
use super::finetune::{finetune, labelled_split, write_outputs as write_finetune};
use super::integrated_gradients::{IgOptions, ig_attribute_run, write_ig_outputs};
use super::paired::{AurocDifference, PairedSeed, auroc_difference};
use super::pretrained::CheckpointChoice;
use crate::atlas::{Atlas, Lobe};
use crate::data::loader::ClipCache;
use crate::masking::{MaskSpec, MaskStrategy, Masker};
use crate::train::config::{preset_geometry, preset_source_grid};
use crate::train::{DataConfig, RunConfig, TrainEvent, TrainHandle};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// One attributed run's region ranking under one score.
#[derive(Debug, Clone)]
pub struct RunRanking {
    /// Strategy name.
    pub strategy: String,
    /// Seed.
    pub seed: u64,
    /// What the score is.
    pub method: RankScore,
    /// Regions, highest score first.
    pub regions: Vec<RegionScore>,
    /// Lobes (name = lobe), highest score first.
    pub lobes: Vec<RegionScore>,
}

/// What an experiment produced.
#[derive(Debug, Clone)]
pub struct ExperimentResult {
    /// One row per strategy × seed.
    pub rows: Vec<ResultRow>,
    /// Attributed runs.
    pub rankings: Vec<RunRanking>,
    /// Plain-language verdicts about the planted lobes (synthetic data).
    pub verdicts: Vec<String>,
    /// The Markdown written to `results.md`.
    pub markdown: String,
    /// Seconds for everything.
    pub wall_s: f64,
}

/// Mean fraction of tokens masked per clip by `mask` (over 64 clips).
fn masked_fraction(run: &RunConfig, atlas: &Atlas) -> Result<f64, String> {
    let geometry = preset_geometry(&run.preset)?;
    let grid = match &run.data {
        DataConfig::Synthetic(_) => preset_source_grid(&run.preset).grid(),
        DataConfig::Cache { path } => ClipCache::open(path)?.manifest.config.grid.grid(),
    };
    let labels = atlas.input_labels(&grid, geometry);
    let spec = MaskSpec {
        strategy: run.mask.strategy.clone(),
        seed: run.mask.seed,
    };
    let masker = Masker::new(&spec, &labels, &atlas.regions, run.model()?.frames)?;
    let n = masker.grid().n_tokens() as f64;
    let draws = 64;
    Ok((0..draws)
        .map(|c| masker.mask(c).counts().tokens as f64 / n)
        .sum::<f64>()
        / draws as f64)
}

/// Pretrains `run` into `dir` in the foreground; the best (else last)
/// validation masked MSE.
fn pretrain(
    run: RunConfig,
    dir: &Path,
    log: &mut dyn FnMut(String),
) -> Result<Option<f64>, String> {
    let me = std::thread::current();
    let handle = TrainHandle::start(run, dir.to_path_buf(), false, move || me.unpark())?;
    let mut last_val = None;
    let mut best = None;
    loop {
        let events = handle.poll();
        let done = events.is_empty() && !handle.is_running();
        for e in events {
            match e {
                TrainEvent::Validation { step, loss, .. } => {
                    log(format!("  step {step}: val masked MSE {loss:.4}"));
                    last_val = Some(loss);
                }
                TrainEvent::Finished { best_val, .. } => best = best_val,
                TrainEvent::Failed(e) => return Err(format!("{}: {e}", dir.display())),
                _ => {}
            }
        }
        if done {
            break;
        }
        std::thread::park_timeout(Duration::from_millis(200));
    }
    Ok(best.or(last_val))
}

fn wants_attribution(which: AttributeWhich, s: &Strategy) -> bool {
    match which {
        AttributeWhich::None => false,
        AttributeWhich::Roi => matches!(s.mask, MaskStrategy::Roi { .. }),
        AttributeWhich::All => true,
    }
}

fn write(path: &Path, text: &str) -> Result<(), String> {
    std::fs::write(path, text).map_err(|e| {
        format!(
            "{}: cannot write ({e}); check the folder is writable",
            path.display()
        )
    })
}

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

/// Region scores averaged over the seeds of one strategy, highest first.
pub fn mean_ranking(runs: &[&RunRanking]) -> Vec<(String, String, f64, usize)> {
    mean_scores(runs.iter().map(|r| &r.regions))
}

/// Lobe scores averaged over the seeds of one strategy, highest first.
pub fn mean_lobe_ranking(runs: &[&RunRanking]) -> Vec<(String, String, f64, usize)> {
    mean_scores(runs.iter().map(|r| &r.lobes))
}

fn mean_scores<'a>(
    lists: impl Iterator<Item = &'a Vec<RegionScore>>,
) -> Vec<(String, String, f64, usize)> {
    let mut by: BTreeMap<(String, String), Vec<f64>> = BTreeMap::new();
    for list in lists {
        for s in list {
            by.entry((s.name.clone(), s.lobe.clone()))
                .or_default()
                .push(s.score);
        }
    }
    let mut out: Vec<(String, String, f64, usize)> = by
        .into_iter()
        .map(|((name, lobe), v)| (name, lobe, v.iter().sum::<f64>() / v.len() as f64, v.len()))
        .collect();
    out.sort_by(|a, b| b.2.total_cmp(&a.2));
    out
}

/// The paired AUROC difference `a` − `b` over the seeds both ran.
fn compare(
    rows: &[ResultRow],
    a: &str,
    b: &str,
    classes: usize,
    resamples: usize,
) -> Result<Option<AurocDifference>, String> {
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
) -> Result<Vec<String>, String> {
    let planted = cfg.planted_lobes();
    if planted.is_empty() {
        return Ok(vec![
            "no planted effect (not a synthetic cohort): no verdict on planted lobes".into(),
        ]);
    }
    let planted_names: Vec<&str> = planted.iter().map(|l| l.name()).collect();
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
    for method in methods_of(rankings) {
        for name in super::exp_table::strategies(rows) {
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
    if cfg.seeds.len() < 3 || test_subjects < 20 {
        out.push(format!(
            "caution: {} seed(s) and {test_subjects} test subjects per seed; with fewer than 3 seeds and 20 test subjects the intervals above cover little of the seed-to-seed and subject-to-subject variation",
            cfg.seeds.len()
        ));
    }
    Ok(out)
}

/// The rankings of one strategy under one score (one per seed).
fn runs_of<'a>(
    rankings: &'a [RunRanking],
    strategy: &str,
    method: RankScore,
) -> Vec<&'a RunRanking> {
    rankings
        .iter()
        .filter(|r| r.strategy == strategy && r.method == method)
        .collect()
}

/// The scores present in `rankings` (occlusion's before ig's).
fn methods_of(rankings: &[RunRanking]) -> Vec<RankScore> {
    let set: std::collections::BTreeSet<RankScore> = rankings.iter().map(|r| r.method).collect();
    set.into_iter().collect()
}

/// Runs the experiment into `out` (created; must not already hold runs of
/// the same names). `log` gets progress lines.
pub fn run_experiment(
    cfg: &ExperimentConfig,
    out: &Path,
    log: &mut dyn FnMut(String),
) -> Result<ExperimentResult, String> {
    let t0 = Instant::now();
    cfg.validate()?;
    std::fs::create_dir_all(out.join("runs")).map_err(|e| {
        format!(
            "{}: cannot create the experiment folder ({e}); check the path",
            out.display()
        )
    })?;
    let text =
        toml::to_string(cfg).map_err(|e| format!("cannot encode the experiment config ({e})"))?;
    write(&out.join("experiment.toml"), &text)?;
    let atlas = Atlas::aal3().map_err(|e| e.to_string())?;
    let strategies = cfg.all_strategies();
    let mut rows = Vec::new();
    let mut rankings = Vec::new();
    let mut test_subjects = 0;
    let mut classes = 2;
    let total = strategies.len() * cfg.seeds.len();
    for &seed in &cfg.seeds {
        let ft = cfg.finetune_config(seed);
        // Inductive: the seed's fine-tuning test subjects (the same for
        // every strategy) never enter pretraining.
        let excluded = match cfg.split {
            SplitProtocol::Inductive => {
                let first = cfg.run_config(&strategies[0], seed);
                let test = labelled_split(&first, &ft, &mut |_| {})?.split.test;
                log(format!(
                    "seed {seed}: {} fine-tuning test subjects kept out of pretraining (inductive)",
                    test.len()
                ));
                test
            }
            SplitProtocol::Transductive => Vec::new(),
        };
        for s in &strategies {
            let k = rows.len() + 1;
            let mut run = cfg.run_config(s, seed);
            run.exclude_subjects = excluded.clone();
            let fraction = masked_fraction(&run, &atlas)?;
            let dir: PathBuf = out.join("runs").join(format!("{}-s{seed}", s.name));
            log(format!(
                "[{k}/{total}] {} seed {seed}: {} (masks {:.1} % of tokens) → {}",
                s.name,
                run.mask.describe(),
                fraction * 100.0,
                dir.display()
            ));
            let t = Instant::now();
            let val = pretrain(run, &dir, log)?;
            log(format!(
                "  pretrained in {:.1} s",
                t.elapsed().as_secs_f64()
            ));
            let result = finetune(&dir, &ft, None, &mut |l| log(format!("  {l}")))?;
            write_finetune(&result, &dir.join("finetune"))?;
            if cfg.split == SplitProtocol::Inductive
                && result.evaluation.test_seen_in_pretraining != Some(0)
            {
                return Err(format!(
                    "{}: the inductive split was not kept ({}); this is a bug, please report it",
                    dir.display(),
                    result.evaluation.description
                ));
            }
            let h = &result.honest.report;
            test_subjects = h.subjects;
            log(format!(
                "  honest test ({} subjects): acc {:.3}  bal.acc {:.3}  AUROC {}",
                h.subjects,
                h.accuracy,
                h.balanced_accuracy,
                h.auroc.map_or("undefined".into(), |a| format!("{a:.3}"))
            ));
            rows.push(ResultRow {
                strategy: s.name.clone(),
                seed,
                masked_fraction: fraction,
                val_masked_mse: result.pretrained.val_loss.or(val),
                test_acc: h.accuracy,
                test_bal_acc: h.balanced_accuracy,
                test_auroc: h.auroc,
                test_predictions: result.honest.predictions.clone(),
            });
            classes = result.classes;
            let methods = if wants_attribution(cfg.attribute, s) {
                cfg.attribute_methods.clone()
            } else {
                Vec::new()
            };
            for method in methods {
                let lists = match method {
                    AttrMethod::Occlusion => {
                        let opts = AttributeOptions {
                            device: cfg.pretrain.device,
                            checkpoint: cfg.checkpoint,
                            ..AttributeOptions::default()
                        };
                        let a = attribute_run(&dir, &opts, &mut |l| log(format!("  {l}")))?;
                        write_attribution(&a.occlusion, &a.map, &dir.join("attribution"))?;
                        let o = a.occlusion;
                        vec![(o.regions, o.lobes), (o.region_mse, o.lobe_mse)]
                    }
                    AttrMethod::Ig => {
                        // The head is fitted with the same config and seed
                        // as the fine-tuning above, so it is the same split.
                        let opts = IgOptions {
                            steps: cfg.ig.steps,
                            samples: cfg.ig.samples,
                            noise: cfg.ig.noise,
                            finetune: ft.clone(),
                            ..IgOptions::default()
                        };
                        let r = ig_attribute_run(&dir, &opts, &mut |l| log(format!("  ig: {l}")))?;
                        write_ig_outputs(&r, &dir.join("attribution"))?;
                        if r.completeness_error.is_finite() {
                            log(format!(
                                "  ig completeness error {:.3}",
                                r.completeness_error
                            ));
                        }
                        vec![(r.regions, r.lobes), (r.shares, r.lobe_shares)]
                    }
                };
                for (&score, (regions, lobes)) in method.scores().iter().zip(lists) {
                    rankings.push(RunRanking {
                        strategy: s.name.clone(),
                        seed,
                        method: score,
                        regions,
                        lobes,
                    });
                }
            }
            // Keep partial results on disk as the grid goes.
            write(&out.join("results.csv"), &results_csv(&rows))?;
        }
    }
    let mut attr_csv = String::from("method,strategy,seed,rank,region,lobe,score,spread\n");
    for r in &rankings {
        for (i, s) in r.regions.iter().enumerate() {
            let _ = writeln!(
                attr_csv,
                "{},{},{},{},{},{},{},{}",
                r.method.name(),
                r.strategy,
                r.seed,
                i + 1,
                s.name,
                s.lobe,
                s.score,
                s.spread
            );
        }
    }
    write(&out.join("attribution.csv"), &attr_csv)?;
    let verdicts = verdicts(cfg, &rows, &rankings, test_subjects, classes)?;
    let markdown = markdown(cfg, &rows, &rankings, &verdicts, test_subjects);
    write(&out.join("results.md"), &markdown)?;
    Ok(ExperimentResult {
        rows,
        rankings,
        verdicts,
        markdown,
        wall_s: t0.elapsed().as_secs_f64(),
    })
}

/// `results.md`: the summary table, the attribution ranking and verdicts.
fn markdown(
    cfg: &ExperimentConfig,
    rows: &[ResultRow],
    rankings: &[RunRanking],
    verdicts: &[String],
    test_subjects: usize,
) -> String {
    let mut md = String::from("# ROI-MAE experiment\n\n");
    let _ = writeln!(
        md,
        "Preset `{}`, {} pretraining steps at most, seeds {:?}; frozen encoder + linear head from each run's **{}** checkpoint{}, honest protocol (epoch chosen on validation loss, scored on {test_subjects} held-out test subjects). Split: **{}**{}. Each cell: mean ± sample sd over seeds (`± –`: one seed). Masked MSE is the validation masked MSE at that checkpoint under the run's own mask, so it is not comparable across strategies. Verdicts: paired bootstrap ({} resamples) of the test-AUROC difference over test subjects and seeds; an interval that spans 0 is no evidence either way.\n",
        cfg.pretrain.preset,
        cfg.pretrain
            .max_steps
            .map_or("(epochs)".into(), |s| s.to_string()),
        cfg.seeds,
        cfg.checkpoint.name(),
        match cfg.checkpoint {
            CheckpointChoice::Last => " (every strategy at the same step)",
            CheckpointChoice::Best =>
                " (lowest validation masked MSE: strategies may be compared at different steps)",
        },
        cfg.split.name(),
        match cfg.split {
            SplitProtocol::Inductive =>
                " (each seed's test subjects were excluded from pretraining; checked in every run's split.json)",
            SplitProtocol::Transductive =>
                " (the encoders were pretrained on the test subjects too, without labels)",
        },
        cfg.bootstrap
    );
    md += &summary_table(rows);
    for method in methods_of(rankings) {
        let _ = writeln!(
            md,
            "\n## Attribution ranking ({} {}, mean over seeds)",
            method.name(),
            method.score_name()
        );
        for name in super::exp_table::strategies(rows) {
            let runs = runs_of(rankings, &name, method);
            if runs.is_empty() {
                continue;
            }
            let lobes: Vec<String> = mean_lobe_ranking(&runs)
                .iter()
                .map(|(l, _, v, _)| format!("{l} {v:.4}"))
                .collect();
            let _ = writeln!(
                md,
                "\n### {name} ({})\n\nLobes: {}\n\n| rank | region | lobe | {} |\n|---|---|---|---|",
                method.name(),
                lobes.join(" > "),
                method.score_name()
            );
            for (i, (region, lobe, score, _)) in
                mean_ranking(&runs).iter().take(cfg.top).enumerate()
            {
                let _ = writeln!(md, "| {} | {region} | {lobe} | {score:.4} |", i + 1);
            }
        }
    }
    if !verdicts.is_empty() {
        md += "\n## Verdicts\n\n";
        for v in verdicts {
            let _ = writeln!(md, "- {v}");
        }
    }
    md
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::SubjectPrediction;

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
