//! The training loop on the worker thread: set up data, model and
//! optimiser (or restore them from the last checkpoint), then step,
//! validate, preview and checkpoint, reporting every event.

use super::augment::Augmenter;
use super::checkpoint::{self, CheckpointState};
use super::config::RunConfig;
use super::data::TrainData;
use super::device;
use super::evaluate;
use super::events::TrainEvent;
use super::prefetch::{BatchPlan, Prefetcher};
use super::run_dir::RunFiles;
use super::step;
use crate::atlas::Atlas;
use crate::masking::Masker;
use crate::model::{BatchMask, Mae};
use burn::module::{Module, ModuleVisitor, Param};
use burn::optim::grad_clipping::GradientClippingConfig;
use burn::optim::{AdamWConfig, ModuleOptimizer};
use burn::prelude::*;
use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Stop and abort requests from the handle.
#[derive(Default)]
pub struct Control {
    /// Finish the step, checkpoint, end.
    pub stop: AtomicBool,
    /// End now without a checkpoint.
    pub abort: AtomicBool,
}

/// Sends events, mirrors them into the run files and wakes the watcher.
pub struct Reporter {
    /// The channel to the handle.
    pub tx: Sender<TrainEvent>,
    /// Called after each event.
    pub wake: Box<dyn Fn() + Send>,
    /// The run's files, once open.
    pub files: Option<RunFiles>,
    /// Log lines sent before the files were open.
    pub pending: Vec<String>,
}

impl Reporter {
    /// Sends `event` (and logs the textual ones).
    pub fn send(&mut self, event: TrainEvent) {
        if let (None, TrainEvent::Log(line) | TrainEvent::Failed(line)) = (&self.files, &event) {
            self.pending.push(line.clone());
        }
        if let Some(f) = self.files.as_mut() {
            for line in self.pending.drain(..) {
                f.log(&line);
            }
            match &event {
                TrainEvent::Log(line) => f.log(line),
                TrainEvent::Failed(line) => f.log(&format!("FAILED: {line}")),
                TrainEvent::Checkpoint { step, path, best } => f.log(&format!(
                    "checkpoint step {step}{} → {}",
                    if *best { " (best val)" } else { "" },
                    path.display()
                )),
                TrainEvent::Finished {
                    step,
                    stopped,
                    best_val,
                } => {
                    f.log(&format!(
                        "finished at step {step} (stopped: {stopped}, best val: {best_val:?})"
                    ));
                    f.flush();
                }
                _ => {}
            }
        }
        let _ = self.tx.send(event);
        (self.wake)();
    }

    fn log(&mut self, line: impl Into<String>) {
        self.send(TrainEvent::Log(line.into()));
    }
}

/// Serialises model creation: Flex draws initial weights from one global,
/// seeded generator, so two runs built at once would interleave draws.
static INIT_LOCK: Mutex<()> = Mutex::new(());

struct Touch;
impl ModuleVisitor for Touch {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let _ = param.val();
    }
}

/// A fresh model whose lazily initialised weights are all drawn now, under
/// the lock, so the same seed gives the same model on Flex.
fn fresh_model(cfg: &RunConfig, device: &Device) -> Result<Mae, String> {
    let model_cfg = cfg.model()?;
    let _guard = INIT_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let model = Mae::new(&model_cfg, cfg.seed, device);
    model.visit(&mut Touch);
    Ok(model)
}

/// AdamW as `o` describes it (the optimiser of every run and of `bench train`).
pub fn optimiser(o: &super::config::OptimConfig) -> ModuleOptimizer {
    AdamWConfig::new()
        .with_beta_1(o.beta1 as f32)
        .with_beta_2(o.beta2 as f32)
        .with_epsilon(o.epsilon as f32)
        .with_weight_decay(o.weight_decay as f32)
        .with_grad_clipping(o.grad_clip.map(|c| GradientClippingConfig::Norm(c as f32)))
        .init()
}

/// A device failure as one line, with advice when memory ran out.
pub fn device_error(text: &str) -> String {
    let reason = text
        .lines()
        .rev()
        .find(|l| l.contains("allocate") || l.to_lowercase().contains("memory"))
        .unwrap_or(text.lines().next().unwrap_or_default())
        .trim()
        .to_string();
    if reason.contains("allocate") || reason.to_lowercase().contains("memory") {
        format!("the device ran out of memory ({reason}); lower batch_size or use a smaller preset")
    } else {
        format!("the device failed ({reason})")
    }
}

/// Runs the whole training; errors are one line for a `Failed` event.
pub fn train(
    cfg: RunConfig,
    run_dir: PathBuf,
    resume: Option<PathBuf>,
    ctl: Arc<Control>,
    rep: &mut Reporter,
) -> Result<(), String> {
    let t_setup = Instant::now();
    let picked = device::pick(cfg.device)?;
    for note in &picked.notes {
        rep.log(note.clone());
    }
    let device = picked.device.clone();
    let eval_device = device.clone().without_autodiff();
    let atlas = Atlas::aal3().map_err(|e| e.to_string())?;
    let data = TrainData::load(&cfg, &atlas)?;
    rep.log(format!("data: {}", data.description));
    let subjects = super::subject_split::PretrainingSplit::of(&data);
    subjects.save(&run_dir)?;
    if !subjects.excluded.is_empty() {
        rep.log(format!(
            "{} subjects kept out of pretraining (exclude_subjects)",
            subjects.excluded.len()
        ));
    }
    let model_cfg = cfg.model()?;
    let masker = Arc::new(
        Masker::new(&cfg.mask, &data.labels, &atlas.regions, model_cfg.frames)
            .map_err(|e| format!("[mask]: {e}"))?,
    );
    let lobes = evaluate::voxel_lobes(&data, &atlas.regions);
    let steps_per_epoch = data.train.len() / cfg.batch_size;
    let total = cfg.total_steps(steps_per_epoch);

    let mut model = match (&cfg.init_from, &resume) {
        (Some(source), None) => {
            rep.log(format!(
                "initialised from {} (fresh optimiser)",
                source.display()
            ));
            crate::interop::init_weights(source, &model_cfg, &device)?
        }
        _ => fresh_model(&cfg, &device)?,
    };
    let mut optim = optimiser(&cfg.optim);
    let mut state = CheckpointState {
        step: 0,
        epoch: 0,
        wall_s: 0.0,
        val_loss: None,
        best_val: None,
    };
    if let Some(dir) = &resume {
        (model, optim) = checkpoint::load(dir, model, optim)?;
        if !checkpoint::has_optimiser(dir) {
            rep.log(format!(
                "{}: no optimiser state (an imported checkpoint); AdamW starts fresh",
                dir.display()
            ));
        }
        state = checkpoint::load_state(dir)?;
        rep.log(format!(
            "resumed from {} (step {})",
            dir.display(),
            state.step
        ));
    }
    rep.files = Some(RunFiles::open(
        &run_dir,
        resume.as_ref().map(|_| state.step),
    )?);
    let start_step = state.step;
    rep.send(TrainEvent::Started {
        device: picked.name.clone(),
        params: model.num_params(),
        train_clips: data.train.len(),
        val_clips: data.val.len(),
        steps_per_epoch,
        total_steps: total,
        run_dir: run_dir.clone(),
        resumed_from: resume.as_ref().map(|_| start_step),
    });
    rep.log(format!(
        "set up in {:.1} s: preset {}, {} train / {} val clips, {steps_per_epoch} steps per epoch, {total} steps",
        t_setup.elapsed().as_secs_f64(),
        cfg.preset,
        data.train.len(),
        data.val.len()
    ));

    if cfg.augment.is_on(&cfg.preset) {
        rep.log(cfg.augment.describe());
    }
    let prefetch = Prefetcher::start(
        BatchPlan {
            source: data.source.clone(),
            train: data.train.clone(),
            masker: masker.clone(),
            seed: cfg.seed,
            batch_size: cfg.batch_size,
            steps_per_epoch,
            augment: cfg.augment.is_on(&cfg.preset).then(|| {
                Augmenter::new(
                    &cfg.augment,
                    cfg.seed,
                    data.geometry.input,
                    model_cfg.frames,
                )
            }),
        },
        start_step,
        total,
        3,
    );
    let clock = Instant::now();
    let wall0 = state.wall_s;
    let wall = |c: &Instant| wall0 + c.elapsed().as_secs_f64();
    let n = data.geometry.input;
    let frames = model_cfg.frames;
    let mut recent: VecDeque<f64> = VecDeque::new();
    let mut last_ckpt = resume.as_ref().map(|_| start_step);
    let mut step = start_step;
    let mut stopped = false;

    while step < total {
        if ctl.abort.load(Ordering::Relaxed) {
            rep.log(format!("aborted at step {step}; no checkpoint written"));
            rep.send(TrainEvent::Finished {
                step,
                stopped: true,
                best_val: state.best_val.map(|b| b.0),
            });
            return Ok(());
        }
        if ctl.stop.load(Ordering::Relaxed) {
            stopped = true;
            break;
        }
        let t0 = Instant::now();
        let Some(batch) = prefetch.next() else {
            return Err("the data loader stopped early".into());
        };
        debug_assert_eq!(batch.step, step);
        let epoch = step / steps_per_epoch;
        let lr = cfg.optim.lr_at(step, total);
        let x = Tensor::<6>::from_data(
            TensorData::new(batch.data, [cfg.batch_size, 1, n, n, n, frames]),
            &device,
        );
        let mask = BatchMask::from_clip_masks(&batch.masks, &device);
        let (loss_t, loss) = step::forward_loss(&model, x, &mask)
            .map_err(|e| format!("step {}: {}", step + 1, device_error(&e)))?;
        if !loss.is_finite() {
            let kept = match last_ckpt {
                Some(s) => format!("the last good checkpoint (step {s}) is kept"),
                None => "no checkpoint had been written yet".into(),
            };
            return Err(format!(
                "the loss became {loss} at step {}; training stopped and {kept}; lower optim.lr or set optim.grad_clip",
                step + 1
            ));
        }
        (model, _, _) = step::update(model, &mut optim, loss_t, lr, step::Sync::None)
            .map_err(|e| format!("step {}: {}", step + 1, device_error(&e)))?;
        step += 1;
        recent.push_back(t0.elapsed().as_secs_f64());
        if recent.len() > 20 {
            recent.pop_front();
        }
        let steps_per_s = recent.len() as f64 / recent.iter().sum::<f64>().max(1e-9);
        let idle = prefetch.idle_fraction();
        let w = wall(&clock);
        if let Some(f) = rep.files.as_mut() {
            for (metric, value) in [
                ("loss", loss),
                ("lr", lr),
                ("steps_per_s", steps_per_s),
                ("loader_idle_fraction", idle),
            ] {
                f.metric("train", metric, step, epoch, value, w);
            }
        }
        rep.send(TrainEvent::Step {
            step,
            epoch,
            loss,
            lr,
            steps_per_s,
            loader_idle_fraction: idle,
            wall_s: w,
        });

        let preview_now = cfg.preview_every > 0 && step.is_multiple_of(cfg.preview_every);
        if preview_now {
            let (clip, id) = match data.val.first() {
                Some(&c) => (c, evaluate::val_mask_id(c)),
                None => (data.train[0], evaluate::val_mask_id(data.train[0])),
            };
            let p =
                evaluate::preview(&model.valid(), &data, &masker, clip, id, step, &eval_device)?;
            rep.send(TrainEvent::Preview(Box::new(p)));
        }
        if step.is_multiple_of(cfg.val_every) || step == total {
            state.step = step;
            state.epoch = step / steps_per_epoch;
            validate_and_checkpoint(
                &cfg,
                &run_dir,
                &model,
                &optim,
                &data,
                &masker,
                &lobes,
                &eval_device,
                &mut state,
                wall(&clock),
                rep,
            )?;
            last_ckpt = Some(step);
        }
    }
    if stopped && last_ckpt != Some(step) {
        state.step = step;
        state.epoch = step / steps_per_epoch.max(1);
        state.wall_s = wall(&clock);
        state.val_loss = None;
        let path = checkpoint::save(&run_dir, &model, &optim, &state)?;
        checkpoint::prune(&run_dir, cfg.keep_last, state.best_val.map(|b| b.1));
        rep.send(TrainEvent::Checkpoint {
            step,
            path,
            best: false,
        });
    }
    rep.send(TrainEvent::Finished {
        step,
        stopped,
        best_val: state.best_val.map(|b| b.0),
    });
    Ok(())
}

#[allow(clippy::too_many_arguments)]
fn validate_and_checkpoint(
    cfg: &RunConfig,
    run_dir: &std::path::Path,
    model: &Mae,
    optim: &ModuleOptimizer,
    data: &TrainData,
    masker: &Masker,
    lobes: &[Option<u8>],
    eval_device: &Device,
    state: &mut CheckpointState,
    wall_s: f64,
    rep: &mut Reporter,
) -> Result<(), String> {
    let step = state.step;
    let mut best = false;
    state.val_loss = None;
    if !data.val.is_empty() {
        let v = evaluate::validate(
            &model.valid(),
            data,
            masker,
            lobes,
            cfg.batch_size,
            eval_device,
        )?;
        if let Some(f) = rep.files.as_mut() {
            f.metric("val", "loss", step, state.epoch, v.loss, wall_s);
            for (lobe, value) in &v.per_lobe {
                f.metric(
                    "val",
                    &format!("val_loss_{lobe}"),
                    step,
                    state.epoch,
                    *value,
                    wall_s,
                );
            }
            f.flush();
        }
        best = state.best_val.is_none_or(|(b, _)| v.loss < b);
        if best {
            state.best_val = Some((v.loss, step));
        }
        state.val_loss = Some(v.loss);
        rep.send(TrainEvent::Validation {
            step,
            epoch: state.epoch,
            loss: v.loss,
            per_lobe: v.per_lobe,
            wall_s,
        });
    }
    state.wall_s = wall_s;
    let path = checkpoint::save(run_dir, model, optim, state)?;
    checkpoint::prune(run_dir, cfg.keep_last, state.best_val.map(|b| b.1));
    rep.send(TrainEvent::Checkpoint { step, path, best });
    Ok(())
}
