//! The Experiment tab's controller, apart from drawing: runs one
//! experiment at a time on a worker thread through the library's
//! [`run_experiment_with`] (the same code as `roimae experiment`) in a new
//! folder under the experiments root, turns its events into progress and
//! a log, re-reads the folder after every finished run (so the table and
//! the figure grow run by run) and stops it on request through the
//! experiment's stop flag.

use super::notice::Notice;
use crate::dashboard::DashboardError;
use crate::dashboard::exp_grid::new_experiment_dir;
use crate::dashboard::exp_progress::ExperimentProgress;
use crate::dashboard::experiment::ExperimentView;
use crate::eval::exp_progress::{ExperimentEvent, ExperimentHook};
use crate::eval::{EvalError, ExperimentConfig, run_experiment_with};
use crate::train::TrainError;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, channel};
use std::time::Instant;

/// Log lines kept on the tab.
const LOG_LINES: usize = 400;

/// What the worker sends.
enum Message {
    Event(ExperimentEvent),
    /// The folder read back after a finished run (and at the end).
    View(Result<ExperimentView, DashboardError>),
    /// The experiment ended.
    Ended(Result<(), EvalError>),
}

/// An experiment started from the tab.
pub struct ExperimentRun {
    /// Its folder.
    pub out: PathBuf,
    /// Runs done, the current run, ETA.
    pub progress: ExperimentProgress,
    /// The experiment's progress lines (the last few hundred).
    pub log: Vec<String>,
    /// How it ended (set once it has): done, stopped, or the error.
    pub outcome: Option<Notice>,
    stop: Arc<AtomicBool>,
    rx: Receiver<Message>,
}

impl ExperimentRun {
    /// Checks `cfg`, creates a new folder under `root` and runs the
    /// experiment there on a worker thread; `wake` is called after every
    /// message (e.g. to repaint).
    pub fn start(
        cfg: ExperimentConfig,
        root: &Path,
        wake: impl Fn() + Send + 'static,
    ) -> Result<ExperimentRun, EvalError> {
        cfg.validate()?;
        let total = cfg.all_strategies().len() * cfg.seeds.len();
        let out = new_experiment_dir(root)?;
        let (tx, rx) = channel();
        let stop = Arc::new(AtomicBool::new(false));
        let (dir, flag) = (out.clone(), stop.clone());
        std::thread::Builder::new()
            .name("roimae-experiment".into())
            .spawn(move || {
                let send = |m: Message| {
                    let _ = tx.send(m);
                    wake();
                };
                let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    let mut on_event = |e: ExperimentEvent| {
                        let finished = matches!(e, ExperimentEvent::RunFinished { .. });
                        send(Message::Event(e));
                        if finished {
                            send(Message::View(ExperimentView::open(&dir)));
                        }
                    };
                    let mut hook = ExperimentHook::new(Some(flag), &mut on_event);
                    run_experiment_with(&cfg, &dir, &mut hook).map(|_| ())
                }));
                let result = result.unwrap_or_else(|panic| {
                    Err(EvalError::Train(TrainError::Panicked {
                        reason: panic
                            .downcast_ref::<String>()
                            .map(String::as_str)
                            .or_else(|| panic.downcast_ref::<&str>().copied())
                            .unwrap_or("panic")
                            .replace('\n', " "),
                    }))
                });
                if result.is_ok() {
                    // With the verdicts of results.md.
                    send(Message::View(ExperimentView::open(&dir)));
                }
                send(Message::Ended(result));
            })
            .map_err(|source| EvalError::Train(TrainError::Thread { source }))?;
        Ok(ExperimentRun {
            out,
            progress: ExperimentProgress::new(total, Instant::now()),
            log: Vec::new(),
            outcome: None,
            stop,
            rx,
        })
    }

    /// Applies the worker's messages; the latest reading of the folder,
    /// when there is a new one.
    pub fn poll(&mut self) -> Option<Result<ExperimentView, DashboardError>> {
        let mut view = None;
        let now = Instant::now();
        for m in self.rx.try_iter() {
            match m {
                Message::Event(e) => {
                    if let ExperimentEvent::Log(line) = &e {
                        self.log.push(line.clone());
                    }
                    self.progress.apply(&e, now);
                }
                Message::View(v) => view = Some(v),
                Message::Ended(result) => {
                    self.outcome = Some(match result {
                        Ok(()) => Notice::Done(format!(
                            "experiment finished: {}",
                            self.out.join("results.md").display()
                        )),
                        Err(e @ EvalError::ExperimentStopped { .. }) => Notice::Done(e.to_string()),
                        Err(e) => Notice::failed(e),
                    });
                }
            }
        }
        if self.log.len() > LOG_LINES {
            self.log.drain(..self.log.len() - LOG_LINES);
        }
        view
    }

    /// Asks the experiment to stop: the pretraining run under way stops
    /// after its step, attribution before its next pass, and no further run
    /// starts.
    pub fn stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
    }

    /// Whether a stop was asked.
    pub fn is_stopping(&self) -> bool {
        self.stop.load(Ordering::SeqCst) && self.is_running()
    }

    /// Whether the worker has not reported its end yet.
    pub fn is_running(&self) -> bool {
        self.outcome.is_none()
    }
}

impl Drop for ExperimentRun {
    /// Closing the app stops the experiment (its worker finishes the step).
    fn drop(&mut self) {
        self.stop();
    }
}
