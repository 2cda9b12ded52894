//! What the training dashboard knows about the run it is watching, built
//! only from the engine's events: curves, progress and ETA, the device, the
//! latest reconstruction preview, checkpoints, the log and the last error.

use super::curves::{Point, RunCurves};
use crate::train::evaluate::RegionLoss;
use crate::train::{Preview, TrainError, TrainEvent};
use std::path::PathBuf;
use std::sync::Arc;

/// Where the run is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RunStatus {
    /// Nothing started yet.
    #[default]
    Idle,
    /// Steps are running.
    Running,
    /// Stop was asked; finishing the step and checkpointing.
    Stopping,
    /// Ended normally or by Stop.
    Finished,
    /// Aborted by the user.
    Aborted,
    /// Ended with an error.
    Failed,
}

/// The dashboard's view of one run.
#[derive(Default)]
pub struct Session {
    /// Status.
    pub status: RunStatus,
    /// Device name.
    pub device: String,
    /// Trainable parameters.
    pub params: usize,
    /// Run folder.
    pub run_dir: Option<PathBuf>,
    /// Steps per epoch and total steps.
    pub steps_per_epoch: usize,
    /// Total steps planned.
    pub total_steps: usize,
    /// Last step done.
    pub step: usize,
    /// Last epoch.
    pub epoch: usize,
    /// Recent throughput.
    pub steps_per_s: f64,
    /// Fraction of the last step spent waiting for data.
    pub loader_idle: f64,
    /// Best validation loss so far.
    pub best_val: Option<f64>,
    /// The curves, named as in `metrics.csv` (train/loss, train/lr,
    /// val/loss, val/val_loss_<lobe>).
    pub curves: RunCurves,
    /// The latest preview.
    pub preview: Option<Box<Preview>>,
    /// The latest validation's masked MSE per atlas region, with its step.
    pub region_losses: Option<(usize, Vec<RegionLoss>)>,
    /// Checkpoints written (step, path, best).
    pub checkpoints: Vec<(usize, PathBuf, bool)>,
    /// Log lines (most recent last, at most 500).
    pub log: Vec<String>,
    /// The last error, if the run failed.
    pub error: Option<Arc<TrainError>>,
}

impl Session {
    /// Applies one event.
    pub fn apply(&mut self, event: TrainEvent) {
        match event {
            TrainEvent::Started {
                device,
                params,
                steps_per_epoch,
                total_steps,
                run_dir,
                resumed_from,
                ..
            } => {
                let name = run_dir
                    .file_name()
                    .map_or("run".to_string(), |n| n.to_string_lossy().into_owned());
                match resumed_from {
                    // Keep the earlier curve up to the checkpoint; the run
                    // logs every later step again.
                    Some(from) if self.curves.name == name => {
                        for points in self.curves.series.values_mut() {
                            points.retain(|p| p.step <= from);
                        }
                    }
                    _ => self.curves = RunCurves::new(&name),
                }
                self.curves.steps_per_epoch = steps_per_epoch;
                self.status = RunStatus::Running;
                self.log(format!(
                    "started on {device}: {params} parameters, {total_steps} steps{}",
                    resumed_from.map_or(String::new(), |s| format!(", resumed from step {s}"))
                ));
                self.device = device;
                self.params = params;
                self.steps_per_epoch = steps_per_epoch;
                self.total_steps = total_steps;
                self.run_dir = Some(run_dir);
                self.error = None;
            }
            TrainEvent::Step {
                step,
                epoch,
                loss,
                lr,
                steps_per_s,
                loader_idle_fraction,
                wall_s,
            } => {
                self.step = step;
                self.epoch = epoch;
                self.steps_per_s = steps_per_s;
                self.loader_idle = loader_idle_fraction;
                let p = |value| Point {
                    step,
                    epoch,
                    wall_s,
                    value,
                };
                self.curves.push("train", "loss", p(loss));
                self.curves.push("train", "lr", p(lr));
            }
            TrainEvent::Validation {
                step,
                epoch,
                loss,
                per_lobe,
                per_region,
                wall_s,
            } => {
                let p = |value| Point {
                    step,
                    epoch,
                    wall_s,
                    value,
                };
                self.curves.push("val", "loss", p(loss));
                for (lobe, v) in per_lobe {
                    self.curves.push("val", &format!("val_loss_{lobe}"), p(v));
                }
                if !per_region.is_empty() {
                    self.region_losses = Some((step, per_region));
                }
                if loss.is_finite() && self.best_val.is_none_or(|b| loss < b) {
                    self.best_val = Some(loss);
                }
            }
            TrainEvent::Preview(p) => self.preview = Some(p),
            TrainEvent::Checkpoint { step, path, best } => {
                self.checkpoints.push((step, path, best));
            }
            TrainEvent::Log(line) => self.log(line),
            TrainEvent::Finished {
                step,
                stopped,
                best_val,
            } => {
                self.step = step;
                if best_val.is_some() {
                    self.best_val = best_val;
                }
                self.status = RunStatus::Finished;
                self.log(if stopped {
                    format!("stopped at step {step} (checkpoint written)")
                } else {
                    format!("finished at step {step}")
                });
            }
            TrainEvent::Failed(e) => {
                self.status = RunStatus::Failed;
                self.log(format!("error: {e}"));
                self.error = Some(e);
            }
        }
    }

    /// Adds a log line.
    pub fn log(&mut self, line: String) {
        self.log.push(line);
        if self.log.len() > 500 {
            self.log.drain(..self.log.len() - 500);
        }
    }

    /// Fraction of the planned steps done.
    pub fn progress(&self) -> f32 {
        if self.total_steps == 0 {
            0.0
        } else {
            (self.step as f32 / self.total_steps as f32).clamp(0.0, 1.0)
        }
    }

    /// Seconds left at the current throughput.
    pub fn eta_s(&self) -> Option<f64> {
        (self.steps_per_s > 0.0 && self.total_steps > self.step)
            .then(|| (self.total_steps - self.step) as f64 / self.steps_per_s)
    }

    /// Whether a run is in progress.
    pub fn is_active(&self) -> bool {
        matches!(self.status, RunStatus::Running | RunStatus::Stopping)
    }
}

/// `1h 02m`, `3m 07s` or `12s`.
pub fn format_duration(seconds: f64) -> String {
    let s = seconds.max(0.0).round() as u64;
    match (s / 3600, s / 60 % 60, s % 60) {
        (0, 0, s) => format!("{s}s"),
        (0, m, s) => format!("{m}m {s:02}s"),
        (h, m, _) => format!("{h}h {m:02}m"),
    }
}

/// Resident memory of this process in bytes (Linux), for the device panel.
pub fn resident_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_build_curves_progress_and_best() {
        let mut s = Session::default();
        s.apply(TrainEvent::Started {
            device: "cpu".into(),
            params: 10,
            train_clips: 8,
            val_clips: 2,
            steps_per_epoch: 4,
            total_steps: 8,
            run_dir: PathBuf::from("/tmp/runs/r1"),
            resumed_from: None,
        });
        assert!(s.is_active());
        for step in 1..=4 {
            s.apply(TrainEvent::Step {
                step,
                epoch: 0,
                loss: 1.0 / step as f64,
                lr: 1e-3,
                steps_per_s: 2.0,
                loader_idle_fraction: 0.1,
                wall_s: step as f64 * 0.5,
            });
        }
        s.apply(TrainEvent::Validation {
            step: 4,
            epoch: 0,
            loss: 0.5,
            per_lobe: vec![("limbic".into(), 0.7)],
            per_region: vec![RegionLoss {
                id: 41,
                mse: 0.8,
                voxels: 12,
            }],
            wall_s: 2.0,
        });
        s.apply(TrainEvent::Validation {
            step: 4,
            epoch: 0,
            loss: 0.6,
            per_lobe: vec![],
            per_region: vec![],
            wall_s: 2.0,
        });
        assert_eq!(s.curves.name, "r1");
        assert_eq!(s.curves.get("train", "loss").len(), 4);
        assert_eq!(s.curves.get("val", "val_loss_limbic")[0].value, 0.7);
        assert_eq!(s.best_val, Some(0.5));
        assert_eq!(s.progress(), 0.5);
        assert_eq!(s.eta_s(), Some(2.0));
        s.apply(TrainEvent::Failed(Arc::new(TrainError::NonFiniteLoss {
            loss: f64::NAN,
            step: 5,
            last_checkpoint: None,
        })));
        assert_eq!(s.status, RunStatus::Failed);
        assert!(!s.is_active());
        assert!(s.log.last().unwrap().contains("NaN"));
    }

    #[test]
    fn a_resumed_run_keeps_its_curve_up_to_the_checkpoint() {
        let mut s = Session {
            curves: RunCurves::new("r2"),
            ..Default::default()
        };
        for step in 1..=10 {
            let p = Point {
                step,
                epoch: 0,
                wall_s: 0.0,
                value: 1.0,
            };
            s.curves.push("train", "loss", p);
        }
        let started = |resumed_from| TrainEvent::Started {
            device: "cpu".into(),
            params: 1,
            train_clips: 1,
            val_clips: 1,
            steps_per_epoch: 5,
            total_steps: 20,
            run_dir: PathBuf::from("/runs/r2"),
            resumed_from,
        };
        s.apply(started(Some(6)));
        assert_eq!(s.curves.get("train", "loss").len(), 6);
        s.apply(started(None));
        assert!(
            s.curves.get("train", "loss").is_empty(),
            "a new run starts clean"
        );
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(format_duration(12.4), "12s");
        assert_eq!(format_duration(187.0), "3m 07s");
        assert_eq!(format_duration(3725.0), "1h 02m");
    }
}
