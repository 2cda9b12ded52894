//! `prepare`: preprocesses every usable run of a scanned dataset into a
//! clip cache folder, in parallel, skipping runs that are already up to
//! date. A bad run is reported and skipped; it never aborts the others.
//! The manifest is rewritten after every finished run, so an interrupted
//! prepare keeps what it finished. Only an unusable cache folder is an
//! error; a run that fails becomes a `skipped:` [`Problem`].

use super::cache::{ClipFileHeader, write_clip_file};
use super::dataset::{Dataset, Problem};
use super::error::DataError;
use super::manifest::{CacheEntry, Manifest, source_stamp};
use super::preprocess::{PreprocessConfig, load_brain_mask, preprocess_masked};
use crate::fsutil::create_dir;
use crate::volume::read_volume;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

/// What a prepare run did.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct PrepareSummary {
    /// Runs preprocessed now.
    pub prepared: usize,
    /// Runs already up to date.
    pub skipped: usize,
    /// Runs that failed (see `problems`).
    pub failed: usize,
    /// Clips in the cache.
    pub clips: usize,
    /// Problems met (bad files, constant runs, NaN voxels zeroed, ...).
    pub problems: Vec<Problem>,
}

/// One run to do.
struct Job {
    subject: String,
    site: Option<String>,
    label: Option<u32>,
    source: PathBuf,
    file: String,
}

/// Preprocesses `dataset` into `out` with `jobs` worker threads;
/// `progress(done, total)` is called as runs finish.
pub fn prepare_dataset(
    dataset: &Dataset,
    cfg: &PreprocessConfig,
    out: &Path,
    jobs: usize,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<PrepareSummary, DataError> {
    create_dir(out)?;
    let brain = match &cfg.brain_mask {
        Some(path) => Some(load_brain_mask(path, &cfg.grid.grid())?),
        None => None,
    };
    let brain = brain.as_deref();
    let previous = Manifest::load(out).ok().filter(|m| m.config == *cfg);
    let mut summary = PrepareSummary::default();
    let mut todo = Vec::new();
    let mut kept = Vec::new();
    for subject in dataset.usable() {
        for (r, run) in subject.runs.iter().enumerate() {
            let file = format!("{}_run{r}.rmc", sanitize(&subject.id));
            let fresh = previous.as_ref().and_then(|m| {
                let stamp = source_stamp(&run.path)?;
                m.entries
                    .iter()
                    .find(|e| {
                        e.file == file
                            && e.source == run.path
                            && (e.source_size, e.source_mtime) == stamp
                    })
                    .filter(|_| out.join(&file).is_file())
                    .cloned()
            });
            match fresh {
                Some(entry) => kept.push(entry),
                None => todo.push(Job {
                    subject: subject.id.clone(),
                    site: subject.site.clone(),
                    label: subject.label,
                    source: run.path.clone(),
                    file,
                }),
            }
        }
    }
    summary.skipped = kept.len();
    let manifest = Mutex::new(Manifest {
        entries: kept,
        ..Manifest::new(cfg.clone())
    });
    let problems = Mutex::new(Vec::new());
    let next = AtomicUsize::new(0);
    let done = AtomicUsize::new(0);
    let total = todo.len();
    progress(0, total);
    std::thread::scope(|scope| {
        for _ in 0..jobs.max(1).min(total.max(1)) {
            scope.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(job) = todo.get(i) else { break };
                    match prepare_one(job, cfg, brain, out) {
                        Ok((entry, warnings)) => {
                            let mut m = manifest.lock().unwrap();
                            m.entries.push(entry);
                            let _ = m.save(out);
                            problems.lock().unwrap().extend(warnings);
                        }
                        Err(skipped) => problems.lock().unwrap().push(skipped),
                    }
                    progress(done.fetch_add(1, Ordering::Relaxed) + 1, total);
                }
            });
        }
    });
    let mut manifest = manifest.into_inner().unwrap();
    manifest
        .entries
        .sort_by(|a, b| (&a.subject, &a.file).cmp(&(&b.subject, &b.file)));
    manifest.save(out)?;
    summary.problems = problems.into_inner().unwrap();
    summary.failed = summary
        .problems
        .iter()
        .filter(|p| p.message.starts_with("skipped:"))
        .count();
    summary.prepared = manifest.entries.len() - summary.skipped;
    summary.clips = manifest.n_clips();
    Ok(summary)
}

/// Preprocesses one run and writes its clip file; a run that cannot be
/// done is the `skipped:` problem that reports it (naming the run's file,
/// so the reason does not repeat it).
fn prepare_one(
    job: &Job,
    cfg: &PreprocessConfig,
    brain: Option<&[bool]>,
    out: &Path,
) -> Result<(CacheEntry, Vec<Problem>), Problem> {
    let skipped = |reason: String| Problem {
        subject: Some(job.subject.clone()),
        path: Some(job.source.clone()),
        message: format!("skipped: {reason}"),
    };
    let stamp = source_stamp(&job.source).ok_or_else(|| skipped("cannot stat the file".into()))?;
    let volume = read_volume(&job.source).map_err(|e| skipped(e.kind.to_string()))?;
    let prepared = preprocess_masked(volume, cfg, brain).map_err(|e| skipped(e.to_string()))?;
    let header = ClipFileHeader {
        input: prepared.input,
        frames: prepared.frames,
        n_clips: prepared.n_clips,
        dtype: String::new(),
        layout: String::new(),
        fill: prepared.fill,
        mean: prepared.mean,
        std: prepared.std,
        tr: prepared.tr,
        crc32: 0,
    };
    let path = out.join(&job.file);
    let crc32 =
        write_clip_file(&path, header, &prepared.clips).map_err(|e| skipped(e.to_string()))?;
    let mut warnings = Vec::new();
    if prepared.nonfinite_zeroed > 0 {
        warnings.push(Problem {
            subject: Some(job.subject.clone()),
            path: Some(job.source.clone()),
            message: format!(
                "warning: {} NaN/Inf voxels were set to 0",
                prepared.nonfinite_zeroed
            ),
        });
    }
    Ok((
        CacheEntry {
            subject: job.subject.clone(),
            site: job.site.clone(),
            label: job.label,
            source: job.source.clone(),
            source_size: stamp.0,
            source_mtime: stamp.1,
            file: job.file.clone(),
            n_clips: prepared.n_clips,
            crc32,
            foreground_voxels: prepared.foreground_voxels,
            nonfinite_zeroed: prepared.nonfinite_zeroed,
            tr: prepared.tr,
        },
        warnings,
    ))
}

/// A subject id made safe for a file name.
fn sanitize(id: &str) -> String {
    id.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}
