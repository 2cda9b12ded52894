//! [`TrainHandle`]: starts a run on a worker thread and hands its events to
//! the caller (CLI or GUI) without blocking; stop (graceful, checkpointed)
//! and abort (immediate). Refusals before the worker starts are
//! [`TrainError`]s; failures on the worker end the run with
//! [`TrainEvent::Failed`] and its one-line message.

use super::checkpoint;
use super::config::RunConfig;
use super::error::TrainError;
use super::events::TrainEvent;
use super::trainer::{Control, Reporter, train};
use crate::fsutil;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, channel};
use std::thread::JoinHandle;

/// A running (or finished) training run.
pub struct TrainHandle {
    rx: Receiver<TrainEvent>,
    control: Arc<Control>,
    running: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl TrainHandle {
    /// Checks `config` and the run folder, then trains on a worker thread.
    /// `resume` continues from the folder's last checkpoint (the config must
    /// describe the same run; `max_steps`/`epochs`/intervals may change).
    /// `wake` is called after every event (e.g. to repaint the GUI).
    /// Errors (bad config, folder in use, nothing to resume) are one line.
    pub fn start(
        config: RunConfig,
        run_dir: PathBuf,
        resume: bool,
        wake: impl Fn() + Send + 'static,
    ) -> Result<TrainHandle, TrainError> {
        config.validate()?;
        let config_path = run_dir.join("config.toml");
        let resume_from = if resume {
            let saved =
                RunConfig::load(&config_path).map_err(|source| TrainError::CannotResume {
                    run_dir: run_dir.clone(),
                    source: Box::new(source),
                })?;
            config.same_run_as(&saved)?;
            let (_, dir) =
                checkpoint::list(&run_dir)
                    .pop()
                    .ok_or_else(|| TrainError::NothingToResume {
                        run_dir: run_dir.clone(),
                    })?;
            Some(dir)
        } else {
            if config_path.exists() {
                return Err(TrainError::RunFolderInUse { run_dir });
            }
            None
        };
        fsutil::create_dir(&run_dir.join("checkpoints"))?;
        config.save(&config_path)?;

        let (tx, rx) = channel();
        let control = Arc::new(Control::default());
        let running = Arc::new(AtomicBool::new(true));
        let (ctl, run_flag) = (control.clone(), running.clone());
        let log_path = run_dir.join("log.txt");
        let thread = std::thread::Builder::new()
            .name("roimae-train".into())
            .spawn(move || {
                let mut rep = Reporter {
                    tx,
                    wake: Box::new(wake),
                    files: None,
                    pending: Vec::new(),
                };
                let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    train(config, run_dir, resume_from, ctl, &mut rep)
                }));
                let failure = match result {
                    Ok(Ok(())) => None,
                    Ok(Err(e)) => Some(e),
                    Err(panic) => Some(TrainError::Panicked {
                        reason: panic
                            .downcast_ref::<String>()
                            .map(String::as_str)
                            .or_else(|| panic.downcast_ref::<&str>().copied())
                            .unwrap_or("panic")
                            .replace('\n', " "),
                    }),
                };
                if let Some(e) = failure {
                    rep.send(TrainEvent::Failed(std::sync::Arc::new(e)));
                    if rep.files.is_none() {
                        // Failed before the run files were opened: keep the lines anyway.
                        let text: String = rep.pending.iter().map(|l| format!("{l}\n")).collect();
                        let log = log_path.clone();
                        let _ = std::fs::OpenOptions::new()
                            .create(true)
                            .append(true)
                            .open(log)
                            .and_then(|mut f| std::io::Write::write_all(&mut f, text.as_bytes()));
                    }
                }
                // Only now: a watcher that sees `is_running() == false` and
                // then polls gets every event, the last one included.
                run_flag.store(false, Ordering::SeqCst);
                (rep.wake)();
            })
            .map_err(|source| TrainError::Thread { source })?;
        Ok(TrainHandle {
            rx,
            control,
            running,
            thread: Some(thread),
        })
    }

    /// The events since the last call (never blocks).
    pub fn poll(&self) -> Vec<TrainEvent> {
        self.rx.try_iter().collect()
    }

    /// Graceful stop: finish the current step, checkpoint, then
    /// `Finished { stopped: true }`.
    pub fn stop(&self) {
        self.control.stop.store(true, Ordering::SeqCst);
    }

    /// Stops before the next step without writing a checkpoint.
    pub fn abort(&self) {
        self.control.abort.store(true, Ordering::SeqCst);
    }

    /// Whether the worker is still running.
    pub fn is_running(&self) -> bool {
        self.running.load(Ordering::SeqCst)
    }

    /// Blocks until the worker ends and returns every remaining event.
    pub fn wait(mut self) -> Vec<TrainEvent> {
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        self.poll()
    }
}

impl Drop for TrainHandle {
    /// Dropping the handle aborts the run and waits for the worker.
    fn drop(&mut self) {
        self.abort();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
