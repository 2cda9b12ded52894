//! What a running experiment reports and how it is stopped: typed
//! [`ExperimentEvent`]s (log lines, a run starting, its phase, each
//! pretraining step, a run finished with its row) sent through an
//! [`ExperimentHook`], which also carries the stop flag that
//! [`super::experiment::run_experiment_with`] checks between runs and hands
//! to each pretraining run (graceful stop) and to attribution (cancel). The
//! command line's `run_experiment` only forwards the log lines.

use super::exp_table::ResultRow;
use super::progress::Progress;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// The part of one run (strategy × seed) under way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunPhase {
    /// Masked-autoencoder pretraining.
    Pretraining,
    /// Fine-tuning the frozen encoder's head.
    FineTuning,
    /// Region attribution (occlusion and/or integrated gradients).
    Attributing,
}

impl RunPhase {
    /// The phase in words.
    pub fn name(self) -> &'static str {
        match self {
            RunPhase::Pretraining => "pretraining",
            RunPhase::FineTuning => "fine-tuning",
            RunPhase::Attributing => "attribution",
        }
    }
}

/// One thing that happened in a running experiment. Run indices count
/// from 1 to `total` (strategy × seed, in the order they run).
#[derive(Debug, Clone)]
pub enum ExperimentEvent {
    /// A progress line (what the command line prints).
    Log(String),
    /// A run began.
    RunStarted {
        /// Its 1-based index.
        index: usize,
        /// Runs in the whole grid.
        total: usize,
        /// Strategy name.
        strategy: String,
        /// Seed.
        seed: u64,
    },
    /// The current run moved on to `phase`.
    Phase {
        /// The run's index.
        index: usize,
        /// What it does now.
        phase: RunPhase,
    },
    /// The current run's pretraining finished a step.
    PretrainStep {
        /// The run's index.
        index: usize,
        /// Steps done (from 1).
        step: usize,
        /// Steps the pretraining takes in all.
        total_steps: usize,
    },
    /// A run finished; `results.csv` in the output folder already holds
    /// its row (and its attribution files are written).
    RunFinished {
        /// Its index.
        index: usize,
        /// Runs in the whole grid.
        total: usize,
        /// Its row of `results.csv`.
        row: ResultRow,
    },
}

/// Where a running experiment sends its events, and its stop flag.
pub struct ExperimentHook<'a> {
    stop: Option<Arc<AtomicBool>>,
    on_event: &'a mut dyn FnMut(ExperimentEvent),
}

impl<'a> ExperimentHook<'a> {
    /// Sends every event to `on_event`; the experiment stops once `stop`
    /// is set (when given).
    pub fn new(
        stop: Option<Arc<AtomicBool>>,
        on_event: &'a mut dyn FnMut(ExperimentEvent),
    ) -> Self {
        ExperimentHook { stop, on_event }
    }

    /// Sends `event`.
    pub fn send(&mut self, event: ExperimentEvent) {
        (self.on_event)(event);
    }

    /// Sends a log line.
    pub fn log(&mut self, line: String) {
        self.send(ExperimentEvent::Log(line));
    }

    /// Whether a stop was asked.
    pub fn stopped(&self) -> bool {
        self.stop.as_ref().is_some_and(|s| s.load(Ordering::SeqCst))
    }

    /// The stop flag as an attribution [`Progress`] hook (cancels
    /// occlusion between forward batches, integrated gradients between
    /// gradient passes; reports nothing).
    pub fn attribution_progress(&self) -> Progress {
        match &self.stop {
            Some(flag) => Progress::new(flag.clone(), |_, _| {}),
            None => Progress::none(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hook_forwards_events_and_reads_the_flag() {
        let flag = Arc::new(AtomicBool::new(false));
        let mut seen = Vec::new();
        let mut on = |e: ExperimentEvent| seen.push(format!("{e:?}"));
        let mut hook = ExperimentHook::new(Some(flag.clone()), &mut on);
        hook.log("hello".into());
        assert!(!hook.stopped() && !hook.attribution_progress().is_cancelled());
        flag.store(true, Ordering::SeqCst);
        assert!(hook.stopped() && hook.attribution_progress().is_cancelled());
        drop(hook);
        assert_eq!(seen, [r#"Log("hello")"#]);
        let mut none = |_: ExperimentEvent| {};
        assert!(!ExperimentHook::new(None, &mut none).stopped());
    }
}
