//! Compute on the Attribution tab, apart from drawing: which run folder
//! (the Training tab's run, or one chosen by hand), the method and its
//! settings, and the worker thread that runs exactly what `roimae
//! attribute` runs (`attribute_run` / `ig_attribute_run`, then
//! `write_occlusion_outputs` / `write_ig_outputs` into `RUN_DIR/attribution`)
//! and reads the written scores back for the page. Progress (forward or
//! gradient passes) and Cancel go through the library's [`Progress`] hook;
//! a cancelled computation writes nothing.

use super::attribution_page::ScoreFiles;
use super::error::GuiError;
use super::notice::Notice;
use crate::atlas::Atlas;
use crate::eval::attribute_run::{AttributeOptions, attribute_run};
use crate::eval::ig_run::{IgOptions, ig_attribute_run};
use crate::eval::pretrained::CheckpointChoice;
use crate::eval::region_files::{write_ig_outputs, write_occlusion_outputs};
use crate::eval::{EvalError, FinetuneConfig, Progress};
use crate::train::DeviceChoice;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, TryRecvError, channel};
use std::time::{Duration, Instant};

/// What is computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Method {
    /// Occlusion: ΔMSE of the rest when a region is masked too.
    #[default]
    Occlusion,
    /// The region's own reconstruction error when it is masked on top of
    /// the base mask (computed by the same occlusion pass).
    RegionMse,
    /// Integrated gradients of the frozen-encoder classifier (SmoothGrad²
    /// with samples > 0).
    IntegratedGradients,
}

impl Method {
    /// Every method, in menu order.
    pub const ALL: [Method; 3] = [
        Method::Occlusion,
        Method::RegionMse,
        Method::IntegratedGradients,
    ];

    /// The menu label.
    pub fn label(self) -> &'static str {
        match self {
            Method::Occlusion => "occlusion ΔMSE",
            Method::RegionMse => "region's own MSE",
            Method::IntegratedGradients => "integrated gradients",
        }
    }

    /// The region CSV this method's scores are in (`RUN_DIR/attribution/…`).
    pub fn csv_name(self) -> &'static str {
        match self {
            Method::Occlusion => "occlusion_regions.csv",
            Method::RegionMse => "region_mse_regions.csv",
            Method::IntegratedGradients => "ig_regions.csv",
        }
    }
}

/// The settings of a computation (the CLI's defaults).
#[derive(Debug, Clone, PartialEq)]
pub struct ComputeSettings {
    /// The method.
    pub method: Method,
    /// Which checkpoint of the run.
    pub checkpoint: CheckpointChoice,
    /// Clips per subject.
    pub clips_per_subject: usize,
    /// IG: midpoint steps.
    pub steps: usize,
    /// IG: SmoothGrad² noise samples (0 = plain signed IG).
    pub samples: usize,
    /// IG: noise SD as a fraction of the clip's range.
    pub noise: f64,
    /// Where to compute.
    pub device: DeviceChoice,
}

impl Default for ComputeSettings {
    fn default() -> Self {
        let ig = IgOptions::default();
        ComputeSettings {
            method: Method::Occlusion,
            checkpoint: CheckpointChoice::Best,
            clips_per_subject: 1,
            steps: ig.steps,
            samples: ig.samples,
            noise: ig.noise,
            device: DeviceChoice::Auto,
        }
    }
}

/// Where a computation is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ComputeStatus {
    /// Nothing computed yet.
    #[default]
    Idle,
    /// The worker is computing.
    Running,
    /// Finished; the files are written and shown.
    Finished,
    /// Cancelled; nothing was written.
    Cancelled,
    /// Failed; the notice says why.
    Failed,
}

/// What the worker sends.
enum Event {
    Progress(usize, usize),
    Log(String),
    Done(Result<ScoreFiles, GuiError>),
}

/// A computation under way.
struct Job {
    rx: Receiver<Event>,
    cancel: Arc<AtomicBool>,
    method: Method,
    out_dir: PathBuf,
    done: usize,
    total: usize,
    /// When counting started (the first progress report).
    counting_since: Option<Instant>,
}

/// The Compute controller of the Attribution tab.
#[derive(Default)]
pub struct AttributionCompute {
    /// The settings edited in the panel.
    pub settings: ComputeSettings,
    /// Where the last computation is.
    pub status: ComputeStatus,
    /// Its status line.
    pub notice: Option<Notice>,
    /// The worker's last log line.
    pub last_log: Option<String>,
    run_dir: Option<PathBuf>,
    /// The Training tab's run as last given.
    training_run: Option<PathBuf>,
    /// Saved scores of a newly picked run folder, to be opened.
    open_request: Option<PathBuf>,
    job: Option<Job>,
}

impl AttributionCompute {
    /// The Training tab's current (or last) run folder; takes effect when
    /// it changes, so a folder chosen by hand stays until the Training tab
    /// starts another run.
    pub fn set_training_run(&mut self, dir: Option<PathBuf>) {
        if dir == self.training_run {
            return;
        }
        self.training_run = dir.clone();
        if let Some(dir) = dir {
            self.choose_run(dir);
        }
    }

    /// Makes `dir` the run folder; results already in it are opened.
    pub fn choose_run(&mut self, dir: PathBuf) {
        if self.run_dir.as_ref() == Some(&dir) {
            return;
        }
        self.open_request = saved_scores(&dir, self.settings.method);
        self.run_dir = Some(dir);
    }

    /// The run folder computed on.
    pub fn run_dir(&self) -> Option<&Path> {
        self.run_dir.as_deref()
    }

    /// The saved scores of the run folder just picked, once (the page
    /// reads them on a worker thread).
    pub fn take_open_request(&mut self) -> Option<PathBuf> {
        self.open_request.take()
    }

    /// Whether a computation is under way.
    pub fn is_running(&self) -> bool {
        self.job.is_some()
    }

    /// Starts computing on the run folder on a worker thread; `atlas`
    /// names the regions of the scores read back, `wake` repaints.
    pub fn start(&mut self, atlas: Arc<Atlas>, wake: impl Fn() + Send + Sync + 'static) {
        let Some(run_dir) = self.run_dir.clone() else {
            return;
        };
        if self.is_running() {
            return;
        }
        let (tx, rx) = channel();
        let cancel = Arc::new(AtomicBool::new(false));
        let settings = self.settings.clone();
        let out_dir = run_dir.join("attribution");
        let wake = Arc::new(wake);
        let progress = {
            let (tx, wake) = (tx.clone(), wake.clone());
            Progress::new(cancel.clone(), move |done, total| {
                let _ = tx.send(Event::Progress(done, total));
                wake();
            })
        };
        std::thread::spawn(move || {
            let log_tx = tx.clone();
            let mut log = |line: String| {
                let _ = log_tx.send(Event::Log(line));
            };
            let result = compute(&run_dir, &settings, progress, &mut log, &atlas);
            let _ = tx.send(Event::Done(result));
            wake();
        });
        self.job = Some(Job {
            rx,
            cancel,
            method: self.settings.method,
            out_dir,
            done: 0,
            total: 0,
            counting_since: None,
        });
        self.status = ComputeStatus::Running;
        self.last_log = None;
        self.notice = Some(Notice::Working(format!(
            "computing {} …",
            self.settings.method.label()
        )));
    }

    /// Asks the worker to stop before its next forward or gradient pass.
    pub fn cancel(&mut self) {
        if let Some(job) = &self.job {
            job.cancel.store(true, Ordering::Relaxed);
            self.notice = Some(Notice::Working("cancelling …".into()));
        }
    }

    /// `(done, total)` passes of the computation under way, once counted.
    pub fn progress(&self) -> Option<(usize, usize)> {
        let job = self.job.as_ref()?;
        (job.total > 0).then_some((job.done, job.total))
    }

    /// The estimated time left, once a pass is done.
    pub fn eta(&self) -> Option<Duration> {
        let job = self.job.as_ref()?;
        let since = job.counting_since?;
        if job.done == 0 || job.total < job.done {
            return None;
        }
        let per = since.elapsed().as_secs_f64() / job.done as f64;
        Some(Duration::from_secs_f64(per * (job.total - job.done) as f64))
    }

    /// Takes the worker's news; returns the scores once computed, written
    /// and read back.
    pub fn poll(&mut self) -> Option<ScoreFiles> {
        let job = self.job.as_mut()?;
        let result = loop {
            match job.rx.try_recv() {
                Ok(Event::Progress(done, total)) => {
                    job.counting_since.get_or_insert_with(Instant::now);
                    (job.done, job.total) = (done, total);
                }
                Ok(Event::Log(line)) => self.last_log = Some(line),
                Ok(Event::Done(result)) => break result,
                Err(TryRecvError::Empty) => return None,
                Err(TryRecvError::Disconnected) => break Err(GuiError::ComputeStopped),
            }
        };
        let (method, out_dir) = (job.method, job.out_dir.clone());
        self.job = None;
        match result {
            Ok(files) => {
                self.status = ComputeStatus::Finished;
                self.notice = Some(Notice::Done(format!(
                    "{} written to {}",
                    method.label(),
                    out_dir.display()
                )));
                Some(files)
            }
            Err(GuiError::Eval(EvalError::Cancelled)) => {
                self.status = ComputeStatus::Cancelled;
                self.notice = Some(Notice::Done(format!(
                    "{} cancelled; nothing written to {}",
                    method.label(),
                    out_dir.display()
                )));
                None
            }
            Err(e) => {
                self.status = ComputeStatus::Failed;
                self.notice = Some(Notice::failed(e));
                None
            }
        }
    }
}

/// The saved region scores in `RUN_DIR/attribution`, `method`'s first.
pub fn saved_scores(run_dir: &Path, method: Method) -> Option<PathBuf> {
    let dir = run_dir.join("attribution");
    std::iter::once(method)
        .chain(Method::ALL)
        .map(|m| dir.join(m.csv_name()))
        .find(|p| p.is_file())
}

/// What `roimae attribute --run RUN_DIR` does for `settings`, then the
/// method's scores read back from `RUN_DIR/attribution`.
fn compute(
    run_dir: &Path,
    settings: &ComputeSettings,
    progress: Progress,
    log: &mut dyn FnMut(String),
    atlas: &Atlas,
) -> Result<ScoreFiles, GuiError> {
    let out = run_dir.join("attribution");
    let mut description = None;
    match settings.method {
        Method::Occlusion | Method::RegionMse => {
            let opts = AttributeOptions {
                clips_per_subject: settings.clips_per_subject,
                device: settings.device,
                checkpoint: settings.checkpoint,
                progress,
                ..AttributeOptions::default()
            };
            let a = attribute_run(run_dir, &opts, log)?;
            write_occlusion_outputs(&a.occlusion, &a.map, &out)?;
            if settings.method == Method::RegionMse {
                description = Some(format!(
                    "region's own error: masked MSE on the region's voxels when its tokens are masked on top of the base window mask (0.5); {} clips of {} subjects ({})",
                    a.occlusion.clips,
                    a.occlusion.subjects,
                    Method::RegionMse.csv_name()
                ));
            }
        }
        Method::IntegratedGradients => {
            let finetune = FinetuneConfig {
                device: settings.device,
                checkpoint: settings.checkpoint,
                ..FinetuneConfig::default()
            };
            let opts = IgOptions {
                steps: settings.steps.max(1),
                samples: settings.samples,
                noise: settings.noise.max(0.0),
                clips_per_subject: settings.clips_per_subject,
                finetune,
                progress,
                ..IgOptions::default()
            };
            let r = ig_attribute_run(run_dir, &opts, log)?;
            write_ig_outputs(&r, &out)?;
        }
    }
    let mut files = ScoreFiles::read(&out.join(settings.method.csv_name()), &atlas.regions)?;
    if let Some(d) = description {
        files.attribution.description = d;
    }
    Ok(files)
}
