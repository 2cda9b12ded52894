//! `roimae pretrain --config run.toml [--out DIR] [--resume DIR]` and
//! `roimae pretrain --demo [--out DIR] [--steps N]`: trains in the
//! foreground with a progress bar and ends with a summary table.

use crate::train::{DeviceChoice, RunConfig, TrainEvent, TrainHandle};
use anyhow::{anyhow, bail};
use indicatif::{ProgressBar, ProgressStyle};
use std::path::PathBuf;
use std::time::Duration;

/// Arguments of `roimae pretrain`.
#[derive(Debug, clap::Args)]
pub struct PretrainArgs {
    /// The run config (TOML; a viewer selection file works too).
    #[arg(long, conflicts_with = "demo")]
    pub config: Option<PathBuf>,
    /// Train the `tiny` preset on a generated synthetic cohort (a few
    /// minutes on a laptop CPU).
    #[arg(long)]
    pub demo: bool,
    /// The run folder (default `runs/<config name>` or `runs/demo`).
    #[arg(long, conflicts_with = "resume")]
    pub out: Option<PathBuf>,
    /// Continue the run in this folder from its last checkpoint.
    #[arg(long)]
    pub resume: Option<PathBuf>,
    /// Stop after this many steps (overrides max_steps).
    #[arg(long)]
    pub steps: Option<usize>,
    /// Start from these weights: a NeuroSTORM .ckpt/.pt/.safetensors or a
    /// roimae run folder (the optimiser starts fresh).
    #[arg(long)]
    pub init_from: Option<PathBuf>,
    /// Override the config's device.
    #[arg(long, value_enum)]
    pub device: Option<DeviceChoice>,
}

/// Runs `roimae pretrain`.
pub fn run(args: &PretrainArgs) -> anyhow::Result<()> {
    let mut cfg = match (&args.config, args.demo, &args.resume) {
        (Some(path), _, _) => RunConfig::load(path)?,
        (None, true, _) => RunConfig::demo(),
        (None, false, Some(dir)) => RunConfig::load(&dir.join("config.toml"))?,
        (None, false, None) => bail!("give --config run.toml, --demo or --resume RUN_DIR"),
    };
    if let Some(steps) = args.steps {
        cfg.max_steps = Some(steps);
    }
    if let Some(device) = args.device {
        cfg.device = device;
    }
    if let Some(source) = &args.init_from {
        if args.resume.is_some() {
            bail!("--init-from starts a new run; it cannot be combined with --resume");
        }
        cfg.init_from = Some(source.clone());
    }
    if args.resume.is_none()
        && let Some(note) = crate::interop::run_folder::adopt_source_model(&mut cfg)?
    {
        println!(
            "init from {}: {note}",
            cfg.init_from
                .as_ref()
                .map_or_else(String::new, |p| p.display().to_string())
        );
    }
    cfg.validate()?;
    let run_dir = match (&args.resume, &args.out, &args.config) {
        (Some(dir), _, _) | (None, Some(dir), _) => dir.clone(),
        (None, None, Some(path)) => PathBuf::from("runs").join(
            path.file_stem()
                .map_or_else(|| "run".into(), |s| s.to_string_lossy().into_owned()),
        ),
        (None, None, None) => PathBuf::from("runs/demo"),
    };
    let main = std::thread::current();
    let handle = TrainHandle::start(cfg, run_dir, args.resume.is_some(), move || main.unpark())?;
    let bar = ProgressBar::new(0);
    if let Ok(style) = ProgressStyle::with_template("{bar:30} {pos}/{len} steps  {msg}  ETA {eta}")
    {
        bar.set_style(style);
    }
    let mut summary = Summary::default();
    loop {
        let events = handle.poll();
        let finished = events.is_empty() && !handle.is_running();
        for event in events {
            summary.take(&event, &bar);
        }
        if finished {
            break;
        }
        std::thread::park_timeout(Duration::from_millis(200));
    }
    bar.finish_and_clear();
    summary.print();
    match summary.failure {
        Some(e) => Err(anyhow!("{e}")),
        None => Ok(()),
    }
}

/// Prints a line above the bar, or plainly when there is no terminal.
fn say(bar: &ProgressBar, line: impl AsRef<str>) {
    if bar.is_hidden() {
        println!("{}", line.as_ref());
    } else {
        bar.println(line.as_ref());
    }
}

/// What the command prints at the end.
#[derive(Default)]
struct Summary {
    device: String,
    run_dir: PathBuf,
    params: usize,
    first_loss: Vec<f64>,
    last_loss: Vec<f64>,
    val: Option<f64>,
    best_val: Option<f64>,
    steps: usize,
    steps_per_s: f64,
    idle: f64,
    wall_s: f64,
    checkpoints: usize,
    stopped: bool,
    failure: Option<std::sync::Arc<crate::train::TrainError>>,
}

impl Summary {
    fn take(&mut self, event: &TrainEvent, bar: &ProgressBar) {
        match event {
            TrainEvent::Started {
                device,
                params,
                train_clips,
                val_clips,
                total_steps,
                run_dir,
                resumed_from,
                ..
            } => {
                self.device = device.clone();
                self.run_dir = run_dir.clone();
                self.params = *params;
                bar.set_length(*total_steps as u64);
                bar.set_position(resumed_from.unwrap_or(0) as u64);
                bar.reset_eta();
                say(
                    bar,
                    format!(
                        "training on {device}: {params} parameters, {train_clips} train / {val_clips} val clips → {}",
                        run_dir.display()
                    ),
                );
            }
            TrainEvent::Step {
                step,
                loss,
                steps_per_s,
                loader_idle_fraction,
                wall_s,
                ..
            } => {
                if self.first_loss.len() < 10 {
                    self.first_loss.push(*loss);
                }
                self.last_loss.push(*loss);
                if self.last_loss.len() > 10 {
                    self.last_loss.remove(0);
                }
                self.steps = *step;
                self.steps_per_s = *steps_per_s;
                self.idle = *loader_idle_fraction;
                self.wall_s = *wall_s;
                bar.set_position(*step as u64);
                bar.set_message(format!(
                    "loss {loss:.4}  val {}  {steps_per_s:.2} steps/s",
                    self.val.map_or("-".into(), |v| format!("{v:.4}"))
                ));
            }
            TrainEvent::Validation { step, loss, .. } => {
                self.val = Some(*loss);
                say(bar, format!("step {step}: val loss {loss:.4}"));
            }
            TrainEvent::Checkpoint { .. } => self.checkpoints += 1,
            TrainEvent::Log(line) => say(bar, line),
            TrainEvent::Finished {
                step,
                stopped,
                best_val,
            } => {
                self.steps = *step;
                self.stopped = *stopped;
                self.best_val = *best_val;
            }
            TrainEvent::Failed(e) => self.failure = Some(e.clone()),
            TrainEvent::Preview(_) => {}
        }
    }

    fn print(&self) {
        let mean = |v: &[f64]| {
            if v.is_empty() {
                "-".to_string()
            } else {
                format!("{:.4}", v.iter().sum::<f64>() / v.len() as f64)
            }
        };
        let opt = |v: Option<f64>| v.map_or("-".into(), |v| format!("{v:.4}"));
        let rows = [
            ("run folder", self.run_dir.display().to_string()),
            ("device", self.device.clone()),
            ("parameters", self.params.to_string()),
            (
                "steps",
                format!(
                    "{}{}",
                    self.steps,
                    if self.stopped { " (stopped)" } else { "" }
                ),
            ),
            ("train loss, first 10 steps", mean(&self.first_loss)),
            ("train loss, last 10 steps", mean(&self.last_loss)),
            ("last val loss", opt(self.val)),
            ("best val loss", opt(self.best_val)),
            ("steps/s (recent)", format!("{:.2}", self.steps_per_s)),
            ("loader idle", format!("{:.0} %", self.idle * 100.0)),
            ("wall time", format!("{:.1} s", self.wall_s)),
            ("checkpoints written", self.checkpoints.to_string()),
        ];
        for (k, v) in rows {
            println!("{k:<28} {v}");
        }
    }
}
