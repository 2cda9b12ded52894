//! The training loop on the worker thread, as named steps: set the run up
//! ([`RunContext::set_up`]: device, data and split, masker), build or
//! restore the model ([`start_or_resume`]), open the run files and announce
//! the run ([`announce`]), then step, report, preview, validate and
//! checkpoint until the last step, a stop or an abort ([`run_steps`]), and
//! finish ([`finish`]). Every event goes through the [`Reporter`]; failures
//! are [`TrainError`]s, which the engine turns into one `Failed` line.

use super::augment::Augmenter;
use super::checkpoint::{self, CheckpointState};
use super::config::{OptimConfig, RunConfig};
use super::data::TrainData;
use super::device;
use super::error::{DeviceFailure, TrainError};
use super::evaluate;
use super::events::TrainEvent;
use super::prefetch::{BatchPlan, Prefetcher, ReadyBatch};
use super::run_dir::{RegionMetric, RunFiles};
use super::step;
use super::subject_split::PretrainingSplit;
use crate::atlas::{Atlas, RegionTable};
use crate::masking::Masker;
use crate::model::{BatchMask, Mae};
use burn::module::{Module, ModuleVisitor, Param};
use burn::optim::grad_clipping::GradientClippingConfig;
use burn::optim::{AdamWConfig, ModuleOptimizer};
use burn::prelude::*;
use std::collections::VecDeque;
use std::path::{Path, PathBuf};
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
        match (&self.files, &event) {
            (None, TrainEvent::Log(line)) => self.pending.push(line.clone()),
            (None, TrainEvent::Failed(e)) => self.pending.push(e.to_string()),
            _ => {}
        }
        if let Some(f) = self.files.as_mut() {
            for line in self.pending.drain(..) {
                f.log(&line);
            }
            match &event {
                TrainEvent::Log(line) => f.log(line),
                TrainEvent::Failed(e) => f.log(&format!("FAILED: {e}")),
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
fn fresh_model(cfg: &RunConfig, device: &Device) -> Result<Mae, TrainError> {
    let model_cfg = cfg.model()?;
    let _guard = INIT_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let model = model_cfg.init(cfg.seed, device)?;
    model.visit(&mut Touch);
    Ok(model)
}

/// AdamW as `o` describes it (the optimiser of every run and of `bench train`).
pub fn optimiser(o: &OptimConfig) -> ModuleOptimizer {
    AdamWConfig::new()
        .with_beta_1(o.beta1 as f32)
        .with_beta_2(o.beta2 as f32)
        .with_epsilon(o.epsilon as f32)
        .with_weight_decay(o.weight_decay as f32)
        .with_grad_clipping(o.grad_clip.map(|c| GradientClippingConfig::Norm(c as f32)))
        .init()
}

/// A device failure as one line, with advice when memory ran out
/// ([`DeviceFailure::from_text`] as text, for callers that keep text).
pub fn device_error(text: &str) -> String {
    DeviceFailure::from_text(text).to_string()
}

/// Batches the loader keeps ready ahead of the trainer.
const PREFETCH_DEPTH: usize = 3;

/// What a run reads while it trains: set up once, never changed by a step.
struct RunContext {
    cfg: RunConfig,
    run_dir: PathBuf,
    /// The training device (with autodiff).
    device: Device,
    /// The same device without autodiff, for validation and previews.
    eval_device: Device,
    /// The device in words, for reports.
    device_name: String,
    data: TrainData,
    masker: Arc<Masker>,
    /// The lobe of every input voxel (for per-lobe validation losses).
    lobes: Vec<Option<u8>>,
    /// The atlas's regions (names of the per-region validation losses).
    regions: RegionTable,
    /// Frames per clip.
    frames: usize,
    steps_per_epoch: usize,
    /// Steps of the whole run.
    total: usize,
}

impl RunContext {
    /// Picks the device, loads and splits the data (writing `split.json`)
    /// and builds the masker, logging what it chose.
    fn set_up(cfg: RunConfig, run_dir: PathBuf, rep: &mut Reporter) -> Result<Self, TrainError> {
        let picked = device::pick(cfg.device)?;
        for note in &picked.notes {
            rep.log(note.clone());
        }
        let atlas = Atlas::aal3()?;
        let data = TrainData::load(&cfg, &atlas)?;
        rep.log(format!("data: {}", data.description));
        let subjects = PretrainingSplit::of(&data);
        subjects.save(&run_dir)?;
        if !subjects.excluded.is_empty() {
            rep.log(format!(
                "{} subjects kept out of pretraining (exclude_subjects)",
                subjects.excluded.len()
            ));
        }
        let frames = cfg.model()?.frames;
        let masker = Masker::new(&cfg.mask, &data.labels, &atlas.regions, frames)
            .map_err(|e| TrainError::config("[mask]", e))?;
        let lobes = evaluate::voxel_lobes(&data, &atlas.regions);
        let steps_per_epoch = data.train.len() / cfg.batch_size;
        let total = cfg.total_steps(steps_per_epoch);
        Ok(RunContext {
            eval_device: picked.device.clone().without_autodiff(),
            device: picked.device,
            device_name: picked.name,
            masker: Arc::new(masker),
            lobes,
            regions: atlas.regions.clone(),
            frames,
            steps_per_epoch,
            total,
            data,
            cfg,
            run_dir,
        })
    }

    /// The (0-based) epoch `step` falls in.
    fn epoch_of(&self, step: usize) -> usize {
        step / self.steps_per_epoch.max(1)
    }

    /// Whether training batches are augmented.
    fn augments(&self) -> bool {
        self.cfg.augment.is_on(self.cfg.preset)
    }
}

/// What the steps change: the model, its optimiser, the step count and
/// the bookkeeping stored with the next checkpoint.
struct Progress {
    model: Mae,
    optim: ModuleOptimizer,
    /// Steps done.
    step: usize,
    /// Position, wall time and best validation for the next checkpoint.
    state: CheckpointState,
    /// The step of the last checkpoint written (or resumed from).
    last_ckpt: Option<usize>,
}

/// How the step loop ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// Every step was taken.
    Completed,
    /// A graceful stop: the run checkpoints where it is.
    Stopped,
    /// An abort: the run ends without a checkpoint.
    Aborted,
}

/// Seconds since the run first started: the resumed checkpoint's wall time
/// plus the time since this session's first step.
struct WallClock {
    start: Instant,
    before: f64,
}

impl WallClock {
    fn since(before: f64) -> Self {
        WallClock {
            start: Instant::now(),
            before,
        }
    }

    fn now(&self) -> f64 {
        self.before + self.start.elapsed().as_secs_f64()
    }
}

/// Steps per second over the last 20 steps.
#[derive(Default)]
struct StepSpeed(VecDeque<f64>);

impl StepSpeed {
    /// Adds a step of `seconds` and returns the recent speed.
    fn record(&mut self, seconds: f64) -> f64 {
        self.0.push_back(seconds);
        if self.0.len() > 20 {
            self.0.pop_front();
        }
        self.0.len() as f64 / self.0.iter().sum::<f64>().max(1e-9)
    }
}

/// Runs the whole training; an error ends the run (the engine reports it
/// as one `Failed` line).
pub fn train(
    cfg: RunConfig,
    run_dir: PathBuf,
    resume: Option<PathBuf>,
    ctl: Arc<Control>,
    rep: &mut Reporter,
) -> Result<(), TrainError> {
    let t_setup = Instant::now();
    let ctx = RunContext::set_up(cfg, run_dir, rep)?;
    let progress = start_or_resume(&ctx, resume.as_deref(), rep)?;
    announce(&ctx, &progress, resume.is_some(), t_setup, rep)?;
    let prefetch = start_prefetch(&ctx, progress.step);
    let clock = WallClock::since(progress.state.wall_s);
    let (mut progress, outcome) = run_steps(&ctx, progress, &prefetch, &ctl, &clock, rep)?;
    finish(&ctx, &mut progress, outcome, &clock, rep)
}

/// The model and optimiser to start from: the `init_from` weights (fresh
/// optimiser) or a fresh model; when resuming, then the checkpoint's
/// weights, optimiser state and position.
fn start_or_resume(
    ctx: &RunContext,
    resume: Option<&Path>,
    rep: &mut Reporter,
) -> Result<Progress, TrainError> {
    let model = match (&ctx.cfg.init_from, resume) {
        (Some(source), None) => {
            rep.log(format!(
                "initialised from {} (fresh optimiser)",
                source.display()
            ));
            crate::interop::init_weights(source, &ctx.cfg.model()?, &ctx.device)?
        }
        _ => fresh_model(&ctx.cfg, &ctx.device)?,
    };
    let mut p = Progress {
        model,
        optim: optimiser(&ctx.cfg.optim),
        step: 0,
        state: CheckpointState {
            step: 0,
            epoch: 0,
            wall_s: 0.0,
            val_loss: None,
            best_val: None,
        },
        last_ckpt: None,
    };
    if let Some(dir) = resume {
        (p.model, p.optim) = checkpoint::load(dir, p.model, p.optim)?;
        if !checkpoint::has_optimiser(dir) {
            rep.log(format!(
                "{}: no optimiser state (an imported checkpoint); AdamW starts fresh",
                dir.display()
            ));
        }
        p.state = checkpoint::load_state(dir)?;
        p.step = p.state.step;
        p.last_ckpt = Some(p.step);
        rep.log(format!("resumed from {} (step {})", dir.display(), p.step));
    }
    Ok(p)
}

/// Opens `metrics.csv` and `log.txt` (a resume drops the metric rows after
/// its checkpoint), then sends [`TrainEvent::Started`] and the set-up lines.
fn announce(
    ctx: &RunContext,
    p: &Progress,
    resumed: bool,
    t_setup: Instant,
    rep: &mut Reporter,
) -> Result<(), TrainError> {
    let resumed_from = resumed.then_some(p.step);
    rep.files = Some(RunFiles::open(&ctx.run_dir, resumed_from)?);
    let (train_clips, val_clips) = (ctx.data.train.len(), ctx.data.val.len());
    rep.send(TrainEvent::Started {
        device: ctx.device_name.clone(),
        params: p.model.num_params(),
        train_clips,
        val_clips,
        steps_per_epoch: ctx.steps_per_epoch,
        total_steps: ctx.total,
        run_dir: ctx.run_dir.clone(),
        resumed_from,
    });
    rep.log(format!(
        "set up in {:.1} s: preset {}, {train_clips} train / {val_clips} val clips, {} steps per epoch, {} steps",
        t_setup.elapsed().as_secs_f64(),
        ctx.cfg.preset,
        ctx.steps_per_epoch,
        ctx.total
    ));
    if ctx.augments() {
        rep.log(ctx.cfg.augment.describe());
    }
    Ok(())
}

/// Starts the loader thread at `from_step` (the clip order and masks are
/// functions of the step, so a resume continues at the exact clip).
fn start_prefetch(ctx: &RunContext, from_step: usize) -> Prefetcher {
    let cfg = &ctx.cfg;
    let plan = BatchPlan {
        source: ctx.data.source.clone(),
        train: ctx.data.train.clone(),
        masker: ctx.masker.clone(),
        seed: cfg.seed,
        batch_size: cfg.batch_size,
        steps_per_epoch: ctx.steps_per_epoch,
        augment: ctx
            .augments()
            .then(|| Augmenter::new(&cfg.augment, cfg.seed, ctx.data.geometry.input, ctx.frames)),
    };
    Prefetcher::start(plan, from_step, ctx.total, PREFETCH_DEPTH)
}

/// Steps until the last step, a stop or an abort: each step is reported,
/// previewed every `preview_every` steps, validated and checkpointed every
/// `val_every` steps and at the end.
fn run_steps(
    ctx: &RunContext,
    mut p: Progress,
    prefetch: &Prefetcher,
    ctl: &Control,
    clock: &WallClock,
    rep: &mut Reporter,
) -> Result<(Progress, Outcome), TrainError> {
    let mut speed = StepSpeed::default();
    while p.step < ctx.total {
        if ctl.abort.load(Ordering::Relaxed) {
            return Ok((p, Outcome::Aborted));
        }
        if ctl.stop.load(Ordering::Relaxed) {
            return Ok((p, Outcome::Stopped));
        }
        let t0 = Instant::now();
        let batch = prefetch
            .next()
            .ok_or(TrainError::LoaderStopped { step: p.step + 1 })?;
        let epoch = ctx.epoch_of(p.step);
        let (model, loss, lr) = take_step(ctx, p.model, &mut p.optim, batch, p.step, p.last_ckpt)?;
        p.model = model;
        p.step += 1;
        let steps_per_s = speed.record(t0.elapsed().as_secs_f64());
        report_step(
            rep,
            TrainEvent::Step {
                step: p.step,
                epoch,
                loss,
                lr,
                steps_per_s,
                loader_idle_fraction: prefetch.idle_fraction(),
                wall_s: clock.now(),
            },
        );
        if ctx.cfg.preview_every > 0 && p.step.is_multiple_of(ctx.cfg.preview_every) {
            send_preview(ctx, &p.model, p.step, rep)?;
        }
        if p.step.is_multiple_of(ctx.cfg.val_every) || p.step == ctx.total {
            validate_and_checkpoint(ctx, &mut p, clock.now(), rep)?;
        }
    }
    Ok((p, Outcome::Completed))
}

/// One optimiser step (0-based `step`) on `batch`: masked forward and loss,
/// a check that the loss is finite (before the weights are touched),
/// backward and AdamW. Returns the new model, the loss and the learning
/// rate used.
fn take_step(
    ctx: &RunContext,
    model: Mae,
    optim: &mut ModuleOptimizer,
    batch: ReadyBatch,
    step: usize,
    last_ckpt: Option<usize>,
) -> Result<(Mae, f64, f64), TrainError> {
    debug_assert_eq!(batch.step, step);
    let lr = ctx.cfg.optim.lr_at(step, ctx.total);
    let n = ctx.data.geometry.input;
    let x = Tensor::<6>::from_data(
        TensorData::new(batch.data, [ctx.cfg.batch_size, 1, n, n, n, ctx.frames]),
        &ctx.device,
    );
    let mask = BatchMask::from_clip_masks(&batch.masks, &ctx.device);
    let at_step = |failure: DeviceFailure| TrainError::Device {
        during: format!("step {}", step + 1),
        failure,
    };
    let (loss_t, loss) = step::forward_loss(&model, x, &mask).map_err(at_step)?;
    if !loss.is_finite() {
        return Err(TrainError::NonFiniteLoss {
            loss,
            step: step + 1,
            last_checkpoint: last_ckpt,
        });
    }
    let (model, _, _) =
        step::update(model, optim, loss_t, lr, step::Sync::None).map_err(at_step)?;
    Ok((model, loss, lr))
}

/// Writes a [`TrainEvent::Step`] as `metrics.csv` rows, then sends it.
fn report_step(rep: &mut Reporter, event: TrainEvent) {
    if let (
        Some(f),
        TrainEvent::Step {
            step,
            epoch,
            loss,
            lr,
            steps_per_s,
            loader_idle_fraction,
            wall_s,
        },
    ) = (rep.files.as_mut(), &event)
    {
        for (metric, value) in [
            ("loss", loss),
            ("lr", lr),
            ("steps_per_s", steps_per_s),
            ("loader_idle_fraction", loader_idle_fraction),
        ] {
            f.metric("train", metric, *step, *epoch, *value, *wall_s);
        }
    }
    rep.send(event);
}

/// Sends the reconstruction preview of the first validation clip (the first
/// training clip when there is no validation clip).
fn send_preview(
    ctx: &RunContext,
    model: &Mae,
    step: usize,
    rep: &mut Reporter,
) -> Result<(), TrainError> {
    let clip = ctx.data.val.first().copied().unwrap_or(ctx.data.train[0]);
    let preview = evaluate::preview(
        &model.valid(),
        &ctx.data,
        &ctx.masker,
        clip,
        evaluate::val_mask_id(clip),
        step,
        &ctx.eval_device,
    )?;
    rep.send(TrainEvent::Preview(Box::new(preview)));
    Ok(())
}

/// Validates at the current step (when there are validation clips),
/// recording the loss and the per-lobe losses, then checkpoints.
fn validate_and_checkpoint(
    ctx: &RunContext,
    p: &mut Progress,
    wall_s: f64,
    rep: &mut Reporter,
) -> Result<(), TrainError> {
    let step = p.step;
    p.state.step = step;
    p.state.epoch = ctx.epoch_of(step);
    p.state.val_loss = None;
    let mut best = false;
    if !ctx.data.val.is_empty() {
        let v = evaluate::validate(
            &p.model.valid(),
            &ctx.data,
            &ctx.masker,
            &ctx.lobes,
            ctx.cfg.batch_size,
            &ctx.eval_device,
        )?;
        let epoch = p.state.epoch;
        if let Some(f) = rep.files.as_mut() {
            f.metric("val", "loss", step, epoch, v.loss, wall_s);
            for (lobe, value) in &v.per_lobe {
                f.metric(
                    "val",
                    &format!("val_loss_{lobe}"),
                    step,
                    epoch,
                    *value,
                    wall_s,
                );
            }
            for r in &v.per_region {
                let Some(region) = ctx.regions.get(r.id) else {
                    continue;
                };
                let row = RegionMetric {
                    split: "val",
                    metric: "masked_mse_region",
                    step,
                    epoch,
                    region: &region.name,
                    lobe: region.group.name(),
                    voxels: r.voxels,
                    value: r.mse,
                };
                f.region_metric(&row, wall_s);
            }
            f.flush();
        }
        best = p.state.best_val.is_none_or(|(b, _)| v.loss < b);
        if best {
            p.state.best_val = Some((v.loss, step));
        }
        p.state.val_loss = Some(v.loss);
        rep.send(TrainEvent::Validation {
            step,
            epoch,
            loss: v.loss,
            per_lobe: v.per_lobe,
            per_region: v.per_region,
            wall_s,
        });
    }
    p.state.wall_s = wall_s;
    write_checkpoint(ctx, p, best, rep)
}

/// Writes the checkpoint of `p.state`, prunes the old ones and reports it.
fn write_checkpoint(
    ctx: &RunContext,
    p: &mut Progress,
    best: bool,
    rep: &mut Reporter,
) -> Result<(), TrainError> {
    let path = checkpoint::save(&ctx.run_dir, &p.model, &p.optim, &p.state)?;
    checkpoint::prune(
        &ctx.run_dir,
        ctx.cfg.keep_last,
        p.state.best_val.map(|b| b.1),
    );
    rep.send(TrainEvent::Checkpoint {
        step: p.state.step,
        path,
        best,
    });
    p.last_ckpt = Some(p.state.step);
    Ok(())
}

/// Ends the run: a stopped run checkpoints where it is (unless it just
/// did), an aborted one says that it wrote none; then
/// [`TrainEvent::Finished`].
fn finish(
    ctx: &RunContext,
    p: &mut Progress,
    outcome: Outcome,
    clock: &WallClock,
    rep: &mut Reporter,
) -> Result<(), TrainError> {
    match outcome {
        Outcome::Aborted => rep.log(format!("aborted at step {}; no checkpoint written", p.step)),
        Outcome::Stopped if p.last_ckpt != Some(p.step) => {
            p.state.step = p.step;
            p.state.epoch = ctx.epoch_of(p.step);
            p.state.wall_s = clock.now();
            p.state.val_loss = None;
            write_checkpoint(ctx, p, false, rep)?;
        }
        Outcome::Stopped | Outcome::Completed => {}
    }
    rep.send(TrainEvent::Finished {
        step: p.step,
        stopped: outcome != Outcome::Completed,
        best_val: p.state.best_val.map(|b| b.0),
    });
    Ok(())
}
