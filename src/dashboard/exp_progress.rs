//! Progress of a running experiment as the Experiment tab shows it, built
//! from the library's [`ExperimentEvent`]s and free of any GUI toolkit:
//! which run of how many, its phase and pretraining step, the fraction of
//! the current run and of the whole grid, and the ETA (from the runs
//! finished so far; before the first, from the pretraining speed).

use crate::eval::exp_progress::{ExperimentEvent, RunPhase};
use std::time::Instant;

/// Share of a run's time taken by pretraining until one run has finished
/// and measured it.
const DEFAULT_PRETRAIN_SHARE: f64 = 0.5;

/// The run under way.
#[derive(Debug, Clone)]
pub struct CurrentRun {
    /// Its 1-based index.
    pub index: usize,
    /// Strategy name.
    pub strategy: String,
    /// Seed.
    pub seed: u64,
    /// What it does now.
    pub phase: RunPhase,
    /// Pretraining steps done.
    pub step: usize,
    /// Pretraining steps in all (0 until known).
    pub total_steps: usize,
    started: Instant,
    /// Seconds its pretraining took, once over.
    pretrain_s: Option<f64>,
}

/// What the tab knows of the experiment's progress.
#[derive(Debug, Clone)]
pub struct ExperimentProgress {
    /// Runs in the grid.
    pub total: usize,
    /// Runs finished.
    pub done: usize,
    /// The run under way.
    pub current: Option<CurrentRun>,
    started: Instant,
    /// (pretraining, whole run) seconds of each finished run.
    finished: Vec<(f64, f64)>,
}

impl ExperimentProgress {
    /// Nothing done yet of `total` runs, started at `now`.
    pub fn new(total: usize, now: Instant) -> Self {
        ExperimentProgress {
            total,
            done: 0,
            current: None,
            started: now,
            finished: Vec::new(),
        }
    }

    /// Applies an event received at `now`.
    pub fn apply(&mut self, event: &ExperimentEvent, now: Instant) {
        match event {
            ExperimentEvent::Log(_) => {}
            ExperimentEvent::RunStarted {
                index,
                total,
                strategy,
                seed,
            } => {
                self.total = *total;
                self.current = Some(CurrentRun {
                    index: *index,
                    strategy: strategy.clone(),
                    seed: *seed,
                    phase: RunPhase::Pretraining,
                    step: 0,
                    total_steps: 0,
                    started: now,
                    pretrain_s: None,
                });
            }
            ExperimentEvent::Phase { phase, .. } => {
                if let Some(c) = &mut self.current {
                    if c.phase == RunPhase::Pretraining && *phase != RunPhase::Pretraining {
                        c.pretrain_s = Some(now.duration_since(c.started).as_secs_f64());
                    }
                    c.phase = *phase;
                }
            }
            ExperimentEvent::PretrainStep {
                step, total_steps, ..
            } => {
                if let Some(c) = &mut self.current {
                    c.step = *step;
                    c.total_steps = *total_steps;
                }
            }
            ExperimentEvent::RunFinished { index, total, .. } => {
                self.total = *total;
                self.done = *index;
                if let Some(c) = self.current.take() {
                    let run = now.duration_since(c.started).as_secs_f64();
                    self.finished.push((c.pretrain_s.unwrap_or(run), run));
                }
            }
        }
    }

    /// Share of a run's time spent pretraining (measured once a run
    /// finished).
    fn pretrain_share(&self) -> f64 {
        let (pre, all) = self
            .finished
            .iter()
            .fold((0.0, 0.0), |(p, a), (x, y)| (p + x, a + y));
        if all > 0.0 {
            (pre / all).clamp(0.05, 1.0)
        } else {
            DEFAULT_PRETRAIN_SHARE
        }
    }

    /// How far the current run is, 0..1 (0 with none).
    pub fn run_fraction(&self) -> f64 {
        let Some(c) = &self.current else { return 0.0 };
        let pre = self.pretrain_share();
        let rest = 1.0 - pre;
        match c.phase {
            RunPhase::Pretraining if c.total_steps > 0 => {
                pre * c.step as f64 / c.total_steps as f64
            }
            RunPhase::Pretraining => 0.0,
            RunPhase::FineTuning => pre + 0.4 * rest,
            RunPhase::Attributing => pre + 0.8 * rest,
        }
    }

    /// How far the whole grid is, 0..1.
    pub fn overall_fraction(&self) -> f64 {
        if self.total == 0 {
            return 0.0;
        }
        ((self.done as f64 + self.run_fraction()) / self.total as f64).min(1.0)
    }

    /// Seconds since the experiment started.
    pub fn elapsed_s(&self, now: Instant) -> f64 {
        now.duration_since(self.started).as_secs_f64()
    }

    /// Seconds left: the mean finished run times the runs to go (less the
    /// current run's time so far); before any run finished, the current
    /// run's pretraining speed stretched by the default pretraining share.
    /// `None` while there is nothing to go on.
    pub fn eta_s(&self, now: Instant) -> Option<f64> {
        let to_go = self.total.saturating_sub(self.done);
        if to_go == 0 {
            return Some(0.0);
        }
        let current_s = self
            .current
            .as_ref()
            .map_or(0.0, |c| now.duration_since(c.started).as_secs_f64());
        let per_run = if self.finished.is_empty() {
            let c = self.current.as_ref()?;
            if c.phase != RunPhase::Pretraining || c.step == 0 || c.total_steps == 0 {
                return None;
            }
            current_s * c.total_steps as f64 / c.step as f64 / DEFAULT_PRETRAIN_SHARE
        } else {
            self.finished.iter().map(|(_, all)| all).sum::<f64>() / self.finished.len() as f64
        };
        let current_left = if self.current.is_some() {
            (per_run - current_s).max(0.0)
        } else {
            per_run
        };
        Some(current_left + per_run * (to_go - 1) as f64)
    }

    /// One line: `run 2/4: roi-limbic, seed 0 — pretraining step 3/6`.
    pub fn line(&self) -> String {
        match &self.current {
            None => format!("{} of {} runs done", self.done, self.total),
            Some(c) => {
                let what = match c.phase {
                    RunPhase::Pretraining if c.total_steps > 0 => {
                        format!("pretraining step {}/{}", c.step, c.total_steps)
                    }
                    phase => phase.name().to_string(),
                };
                format!(
                    "run {}/{}: {}, seed {} — {what}",
                    c.index, self.total, c.strategy, c.seed
                )
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::exp_table::ResultRow;
    use std::time::Duration;

    fn row() -> ResultRow {
        ResultRow {
            strategy: "random".into(),
            seed: 0,
            masked_fraction: 0.5,
            val_masked_mse: Some(0.5),
            test_acc: 1.0,
            test_bal_acc: 1.0,
            test_auroc: Some(1.0),
            test_predictions: Vec::new(),
        }
    }

    #[test]
    fn fractions_and_eta_follow_the_events() {
        let t0 = Instant::now();
        let at = |s: u64| t0 + Duration::from_secs(s);
        let mut p = ExperimentProgress::new(2, t0);
        assert_eq!((p.overall_fraction(), p.eta_s(t0)), (0.0, None));
        p.apply(
            &ExperimentEvent::RunStarted {
                index: 1,
                total: 2,
                strategy: "random".into(),
                seed: 0,
            },
            t0,
        );
        for step in [1, 5] {
            p.apply(
                &ExperimentEvent::PretrainStep {
                    index: 1,
                    step,
                    total_steps: 10,
                },
                at(step as u64),
            );
        }
        assert_eq!(p.line(), "run 1/2: random, seed 0 — pretraining step 5/10");
        assert!((p.run_fraction() - 0.25).abs() < 1e-12);
        // 5 s for half the pretraining: 10 s of pretraining, 20 s a run.
        assert!((p.eta_s(at(5)).unwrap() - 35.0).abs() < 1e-9);
        p.apply(
            &ExperimentEvent::Phase {
                index: 1,
                phase: RunPhase::FineTuning,
            },
            at(10),
        );
        p.apply(
            &ExperimentEvent::RunFinished {
                index: 1,
                total: 2,
                row: row(),
            },
            at(40),
        );
        // Pretraining took a quarter of the 40 s run.
        assert_eq!(p.done, 1);
        assert!((p.overall_fraction() - 0.5).abs() < 1e-12);
        assert!((p.pretrain_share() - 0.25).abs() < 1e-12);
        assert!((p.eta_s(at(40)).unwrap() - 40.0).abs() < 1e-9);
        p.apply(
            &ExperimentEvent::RunStarted {
                index: 2,
                total: 2,
                strategy: "roi-limbic".into(),
                seed: 0,
            },
            at(40),
        );
        assert!((p.eta_s(at(50)).unwrap() - 30.0).abs() < 1e-9);
        assert!((p.eta_s(at(99)).unwrap()).abs() < 1e-9, "never negative");
        p.apply(
            &ExperimentEvent::RunFinished {
                index: 2,
                total: 2,
                row: row(),
            },
            at(80),
        );
        assert_eq!((p.overall_fraction(), p.eta_s(at(80))), (1.0, Some(0.0)));
        assert_eq!(p.line(), "2 of 2 runs done");
    }
}
