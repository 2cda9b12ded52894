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
//! This file is the orchestration; the rankings are `exp_rank.rs`, the
//! verdicts `exp_verdict.rs`, the tables `exp_table.rs` (CSV) and
//! `exp_markdown.rs` (`results.md`); progress events and the stop flag
//! (the app's Stop) are `exp_progress.rs`.

use super::EvalError;
use super::attribute_run::{AttributeOptions, attribute_run};
use super::attribution::RegionScore;
use super::exp_config::{AttrMethod, AttributeWhich, ExperimentConfig, SplitProtocol, Strategy};
use super::exp_markdown::results_markdown;
use super::exp_progress::{ExperimentEvent, ExperimentHook, RunPhase};
use super::exp_rank::RunRanking;
use super::exp_table::{ResultRow, attribution_csv, results_csv};
use super::exp_verdict::verdicts;
use super::finetune::{FinetuneResult, finetune};
use super::ft_config::FinetuneConfig;
use super::ft_data::labelled_split;
use super::ft_files::write_outputs as write_finetune;
use super::ig_run::{IgOptions, ig_attribute_run};
use super::region_files::{write_ig_outputs, write_occlusion_outputs};
use crate::atlas::Atlas;
use crate::data::cache::ClipCache;
use crate::fsutil;
use crate::masking::{MaskSpec, MaskStrategy, Masker};
use crate::train::{DataConfig, RunConfig, TrainEvent, TrainHandle};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

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
fn masked_fraction(run: &RunConfig, atlas: &Atlas) -> Result<f64, EvalError> {
    let geometry = run.preset.token_geometry();
    let grid = match &run.data {
        DataConfig::Synthetic(_) => run.preset.source_grid().grid(),
        DataConfig::Cache { path } => ClipCache::open(path)?.manifest.config.grid.grid(),
    };
    let labels = atlas.input_labels(&grid, geometry);
    let spec: MaskSpec = run.mask.clone();
    let masker = Masker::new(&spec, &labels, &atlas.regions, run.model()?.frames)?;
    let n = masker.grid().n_tokens() as f64;
    let draws = 64;
    Ok((0..draws)
        .map(|c| masker.mask(c).counts().tokens as f64 / n)
        .sum::<f64>()
        / draws as f64)
}

/// Pretrains `run` (run `index` of the grid) into `dir` in the
/// foreground, reporting its steps; the best (else last) validation masked
/// MSE. A stop asked through `hook` stops the run gracefully (it
/// checkpoints) and returns the MSE so far; the caller then ends.
fn pretrain(
    run: RunConfig,
    dir: &Path,
    index: usize,
    hook: &mut ExperimentHook,
) -> Result<Option<f64>, EvalError> {
    let me = std::thread::current();
    let handle = TrainHandle::start(run, dir.to_path_buf(), false, move || me.unpark())?;
    let mut last_val = None;
    let mut best = None;
    let mut total_steps = 0;
    let mut stopping = false;
    loop {
        if hook.stopped() && !stopping {
            handle.stop();
            stopping = true;
        }
        let events = handle.poll();
        let done = events.is_empty() && !handle.is_running();
        for e in events {
            match e {
                TrainEvent::Started { total_steps: n, .. } => total_steps = n,
                TrainEvent::Step { step, .. } => hook.send(ExperimentEvent::PretrainStep {
                    index,
                    step,
                    total_steps,
                }),
                TrainEvent::Validation { step, loss, .. } => {
                    hook.log(format!("  step {step}: val masked MSE {loss:.4}"));
                    last_val = Some(loss);
                }
                TrainEvent::Finished { best_val, .. } => best = best_val,
                TrainEvent::Failed(source) => {
                    return Err(EvalError::PretrainFailed {
                        run_dir: dir.to_path_buf(),
                        source,
                    });
                }
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

/// Whether the strategy's runs get attribution.
fn wants_attribution(which: AttributeWhich, s: &Strategy) -> bool {
    match which {
        AttributeWhich::None => false,
        AttributeWhich::Roi => matches!(s.mask, MaskStrategy::Roi { .. }),
        AttributeWhich::All => true,
    }
}

/// Writes one of the experiment's text files.
fn write(path: &Path, text: &str, what: &'static str) -> Result<(), EvalError> {
    Ok(fsutil::write_file(path, text.as_bytes(), what)?)
}

/// Runs the experiment into `out` (created; must not already hold runs of
/// the same names). `log` gets progress lines.
pub fn run_experiment(
    cfg: &ExperimentConfig,
    out: &Path,
    log: &mut dyn FnMut(String),
) -> Result<ExperimentResult, EvalError> {
    let mut on_event = |e: ExperimentEvent| {
        if let ExperimentEvent::Log(line) = e {
            log(line);
        }
    };
    run_experiment_with(cfg, out, &mut ExperimentHook::new(None, &mut on_event))
}

/// [`run_experiment`] reporting typed events (each run's start, phase,
/// pretraining steps and finished row) through `hook`. Once its stop flag
/// is set the experiment ends between runs, or within one (pretraining
/// stops gracefully, attribution is cancelled), with
/// [`EvalError::ExperimentStopped`]; `results.csv` then holds the runs
/// that finished.
pub fn run_experiment_with(
    cfg: &ExperimentConfig,
    out: &Path,
    hook: &mut ExperimentHook,
) -> Result<ExperimentResult, EvalError> {
    let t0 = Instant::now();
    cfg.validate()?;
    fsutil::create_dir(&out.join("runs"))?;
    fsutil::save_toml(&out.join("experiment.toml"), cfg, "experiment config")?;
    let atlas = Atlas::aal3()?;
    let strategies = cfg.all_strategies();
    let mut grid = Grid {
        cfg,
        out,
        atlas: &atlas,
        total: strategies.len() * cfg.seeds.len(),
        rows: Vec::new(),
        rankings: Vec::new(),
        test_subjects: 0,
        classes: 2,
    };
    for &seed in &cfg.seeds {
        let ft = cfg.finetune_config(seed);
        let excluded = excluded_subjects(cfg, &strategies[0], seed, &ft, &mut |l| hook.log(l))?;
        for s in &strategies {
            grid.check_stop(hook)?;
            match grid.run_one(s, seed, &ft, &excluded, hook) {
                // Attribution cancelled by the stop flag.
                Err(EvalError::Cancelled) if hook.stopped() => grid.check_stop(hook)?,
                other => other?,
            }
            // Keep partial results on disk as the grid goes.
            write(
                &out.join("results.csv"),
                &results_csv(&grid.rows),
                "results table",
            )?;
            let row = grid.rows.last().cloned().expect("run_one added a row");
            hook.send(ExperimentEvent::RunFinished {
                index: grid.rows.len(),
                total: grid.total,
                row,
            });
        }
    }
    let Grid {
        rows,
        rankings,
        test_subjects,
        classes,
        ..
    } = grid;
    write(
        &out.join("attribution.csv"),
        &attribution_csv(&rankings),
        "attribution table",
    )?;
    let verdicts = verdicts(cfg, &rows, &rankings, test_subjects, classes)?;
    let markdown = results_markdown(cfg, &rows, &rankings, &verdicts, test_subjects);
    write(&out.join("results.md"), &markdown, "results report")?;
    Ok(ExperimentResult {
        rows,
        rankings,
        verdicts,
        markdown,
        wall_s: t0.elapsed().as_secs_f64(),
    })
}

/// Inductive: the seed's fine-tuning test subjects (the same for every
/// strategy), which never enter pretraining; transductive: none.
fn excluded_subjects(
    cfg: &ExperimentConfig,
    first: &Strategy,
    seed: u64,
    ft: &FinetuneConfig,
    log: &mut dyn FnMut(String),
) -> Result<Vec<String>, EvalError> {
    match cfg.split {
        SplitProtocol::Inductive => {
            let run = cfg.run_config(first, seed);
            let test = labelled_split(&run, ft, &mut |_| {})?.split.test;
            log(format!(
                "seed {seed}: {} fine-tuning test subjects kept out of pretraining (inductive)",
                test.len()
            ));
            Ok(test)
        }
        SplitProtocol::Transductive => Ok(Vec::new()),
    }
}

/// The grid as it runs: where it writes and what it has produced.
struct Grid<'a> {
    cfg: &'a ExperimentConfig,
    out: &'a Path,
    atlas: &'a Atlas,
    /// Runs in the whole grid.
    total: usize,
    rows: Vec<ResultRow>,
    rankings: Vec<RunRanking>,
    /// Test subjects per seed (of the last run).
    test_subjects: usize,
    /// Classes (of the last run).
    classes: usize,
}

impl Grid<'_> {
    /// `Err(ExperimentStopped)` once the hook's stop flag is set.
    fn check_stop(&self, hook: &ExperimentHook) -> Result<(), EvalError> {
        if hook.stopped() {
            return Err(EvalError::ExperimentStopped {
                out: self.out.to_path_buf(),
                done: self.rows.len(),
                total: self.total,
            });
        }
        Ok(())
    }

    /// Pretrains, fine-tunes and (when asked) attributes strategy `s`
    /// under `seed`, adding its row and rankings.
    fn run_one(
        &mut self,
        s: &Strategy,
        seed: u64,
        ft: &FinetuneConfig,
        excluded: &[String],
        hook: &mut ExperimentHook,
    ) -> Result<(), EvalError> {
        let cfg = self.cfg;
        let k = self.rows.len() + 1;
        hook.send(ExperimentEvent::RunStarted {
            index: k,
            total: self.total,
            strategy: s.name.clone(),
            seed,
        });
        hook.send(ExperimentEvent::Phase {
            index: k,
            phase: RunPhase::Pretraining,
        });
        let mut run = cfg.run_config(s, seed);
        run.exclude_subjects = excluded.to_vec();
        let fraction = masked_fraction(&run, self.atlas)?;
        let dir: PathBuf = self.out.join("runs").join(format!("{}-s{seed}", s.name));
        hook.log(format!(
            "[{k}/{}] {} seed {seed}: {} (masks {:.1} % of tokens) → {}",
            self.total,
            s.name,
            run.mask.describe(),
            fraction * 100.0,
            dir.display()
        ));
        let t = Instant::now();
        let val = pretrain(run, &dir, k, hook)?;
        self.check_stop(hook)?;
        hook.log(format!(
            "  pretrained in {:.1} s",
            t.elapsed().as_secs_f64()
        ));
        hook.send(ExperimentEvent::Phase {
            index: k,
            phase: RunPhase::FineTuning,
        });
        let result = finetune(&dir, ft, None, &mut |l| hook.log(format!("  {l}")))?;
        write_finetune(&result, &dir.join("finetune"))?;
        if cfg.split == SplitProtocol::Inductive
            && result.evaluation.test_seen_in_pretraining != Some(0)
        {
            return Err(EvalError::InductiveLeak {
                run_dir: dir,
                description: result.evaluation.description.clone(),
            });
        }
        let row = result_row(s, seed, fraction, val, &result, &mut |l| hook.log(l));
        self.test_subjects = result.honest.report.subjects;
        self.classes = result.classes;
        if wants_attribution(cfg.attribute, s) {
            hook.send(ExperimentEvent::Phase {
                index: k,
                phase: RunPhase::Attributing,
            });
            for &method in &cfg.attribute_methods {
                self.check_stop(hook)?;
                let lists = attribute(method, cfg, &dir, ft, hook)?;
                for (&score, (regions, lobes)) in method.scores().iter().zip(lists) {
                    self.rankings.push(RunRanking {
                        strategy: s.name.clone(),
                        seed,
                        method: score,
                        regions,
                        lobes,
                    });
                }
            }
        }
        // The row last: a stopped run leaves none.
        self.rows.push(row);
        Ok(())
    }
}

/// The results row of one fine-tuned run (logging its honest test scores).
fn result_row(
    s: &Strategy,
    seed: u64,
    fraction: f64,
    val: Option<f64>,
    result: &FinetuneResult,
    log: &mut dyn FnMut(String),
) -> ResultRow {
    let h = &result.honest.report;
    log(format!(
        "  honest test ({} subjects): acc {:.3}  bal.acc {:.3}  AUROC {}",
        h.subjects,
        h.accuracy,
        h.balanced_accuracy,
        h.auroc.map_or("undefined".into(), |a| format!("{a:.3}"))
    ));
    ResultRow {
        strategy: s.name.clone(),
        seed,
        masked_fraction: fraction,
        val_masked_mse: result.pretrained.val_loss.or(val),
        test_acc: h.accuracy,
        test_bal_acc: h.balanced_accuracy,
        test_auroc: h.auroc,
        test_predictions: result.honest.predictions.clone(),
    }
}

/// Region and lobe scores per ranking score of `method`.
type Lists = Vec<(Vec<RegionScore>, Vec<RegionScore>)>;

/// Attributes the run in `dir` by `method`, writing its files into
/// `attribution/`; one (regions, lobes) pair per score of the method.
fn attribute(
    method: AttrMethod,
    cfg: &ExperimentConfig,
    dir: &Path,
    ft: &FinetuneConfig,
    hook: &mut ExperimentHook,
) -> Result<Lists, EvalError> {
    match method {
        AttrMethod::Occlusion => {
            let opts = AttributeOptions {
                device: cfg.pretrain.device,
                checkpoint: cfg.checkpoint,
                progress: hook.attribution_progress(),
                ..AttributeOptions::default()
            };
            let a = attribute_run(dir, &opts, &mut |l| hook.log(format!("  {l}")))?;
            write_occlusion_outputs(&a.occlusion, &a.map, &dir.join("attribution"))?;
            let o = a.occlusion;
            Ok(vec![(o.regions, o.lobes), (o.region_mse, o.lobe_mse)])
        }
        AttrMethod::Ig => {
            // The head is fitted with the same config and seed as the
            // fine-tuning, so it is the same split.
            let opts = IgOptions {
                steps: cfg.ig.steps,
                samples: cfg.ig.samples,
                noise: cfg.ig.noise,
                finetune: ft.clone(),
                progress: hook.attribution_progress(),
                ..IgOptions::default()
            };
            let r = ig_attribute_run(dir, &opts, &mut |l| hook.log(format!("  ig: {l}")))?;
            write_ig_outputs(&r, &dir.join("attribution"))?;
            if r.completeness_error.is_finite() {
                hook.log(format!(
                    "  ig completeness error {:.3}",
                    r.completeness_error
                ));
            }
            Ok(vec![(r.regions, r.lobes), (r.shares, r.lobe_shares)])
        }
    }
}
