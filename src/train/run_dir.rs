//! The run folder's text files: `metrics.csv` (tidy rows: run, split,
//! metric, step, epoch, value, wall_s), `region_metrics.csv` (the same
//! tidy rows with the atlas region, its lobe and how many masked
//! voxel-frames the value averages: metric `masked_mse_region` at every
//! validation) and `log.txt`. Failing to open them is a [`FileError`]
//! naming the file.

use super::error::TrainError;
use crate::fsutil::{self, FileError};
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::Path;

/// The header of `metrics.csv`.
pub const METRICS_HEADER: &str = "run,split,metric,step,epoch,value,wall_s";

/// The header of `region_metrics.csv`.
pub const REGION_METRICS_HEADER: &str =
    "run,split,metric,step,epoch,region,lobe,voxels,value,wall_s";

/// Appends metric rows and log lines to a run folder.
pub struct RunFiles {
    run: String,
    metrics: File,
    regions: File,
    log: File,
}

/// One row of `region_metrics.csv` before the run name and wall time.
#[derive(Debug, Clone, PartialEq)]
pub struct RegionMetric<'a> {
    /// `val`.
    pub split: &'a str,
    /// e.g. `masked_mse_region`.
    pub metric: &'a str,
    /// Steps done.
    pub step: usize,
    /// Epoch.
    pub epoch: usize,
    /// Atlas region name.
    pub region: &'a str,
    /// Its lobe.
    pub lobe: &'a str,
    /// Masked voxel-frames averaged.
    pub voxels: usize,
    /// Value.
    pub value: f64,
}

/// Rewrites the tidy CSV at `path` with `header`, keeping (on a resume,
/// `keep_until` set) the rows whose step (4th column) is at most that step,
/// and returns it open for appending.
fn reopen_tidy(
    path: &Path,
    header: &str,
    keep_until: Option<usize>,
    what: &'static str,
) -> Result<File, TrainError> {
    let mut kept = vec![header.to_string()];
    if let (Some(until), Ok(f)) = (keep_until, File::open(path)) {
        for line in BufReader::new(f).lines().skip(1).map_while(Result::ok) {
            let step = line.split(',').nth(3).and_then(|s| s.parse::<usize>().ok());
            if step.is_some_and(|s| s <= until) {
                kept.push(line);
            }
        }
    }
    let mut file = File::create(path).map_err(write_error(path, what))?;
    writeln!(file, "{}", kept.join("\n")).map_err(write_error(path, what))?;
    Ok(file)
}

impl RunFiles {
    /// Opens (creating) the files of `dir`. When `keep_until` is set (a
    /// resume), metric rows after that step are dropped first so the
    /// resumed run does not repeat them.
    pub fn open(dir: &Path, keep_until: Option<usize>) -> Result<RunFiles, TrainError> {
        let metrics = reopen_tidy(
            &dir.join("metrics.csv"),
            METRICS_HEADER,
            keep_until,
            "metrics",
        )?;
        let regions = reopen_tidy(
            &dir.join("region_metrics.csv"),
            REGION_METRICS_HEADER,
            keep_until,
            "region metrics",
        )?;
        let log_path = dir.join("log.txt");
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .map_err(write_error(&log_path, "run log"))?;
        let run = dir
            .file_name()
            .map_or_else(|| "run".into(), |n| n.to_string_lossy().into_owned());
        Ok(RunFiles {
            run,
            metrics,
            regions,
            log,
        })
    }

    /// Appends one metric row.
    pub fn metric(
        &mut self,
        split: &str,
        metric: &str,
        step: usize,
        epoch: usize,
        value: f64,
        wall_s: f64,
    ) {
        let _ = writeln!(
            self.metrics,
            "{},{split},{metric},{step},{epoch},{value},{wall_s:.3}",
            self.run
        );
    }

    /// Appends one row to `region_metrics.csv`.
    pub fn region_metric(&mut self, row: &RegionMetric<'_>, wall_s: f64) {
        let _ = writeln!(
            self.regions,
            "{},{},{},{},{},{},{},{},{},{wall_s:.3}",
            self.run,
            row.split,
            row.metric,
            row.step,
            row.epoch,
            row.region,
            row.lobe,
            row.voxels,
            row.value
        );
    }

    /// Appends a line to `log.txt`.
    pub fn log(&mut self, line: &str) {
        let _ = writeln!(self.log, "{line}");
    }

    /// Flushes both files.
    pub fn flush(&mut self) {
        let _ = self.metrics.flush();
        let _ = self.regions.flush();
        let _ = self.log.flush();
    }
}

/// Turns an I/O error of writing `what` to `path` into a [`FileError`].
fn write_error(path: &Path, what: &'static str) -> impl FnOnce(std::io::Error) -> FileError {
    move |source| FileError::Write {
        path: path.to_path_buf(),
        what,
        source,
    }
}

/// One parsed row of `metrics.csv`.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricRow {
    /// `train` or `val`.
    pub split: String,
    /// e.g. `loss`, `lr`, `val_loss_limbic`.
    pub metric: String,
    /// Steps done.
    pub step: usize,
    /// Epoch.
    pub epoch: usize,
    /// Value.
    pub value: f64,
    /// Wall time in seconds.
    pub wall_s: f64,
}

/// Reads a run's `metrics.csv` (rows that do not parse are skipped).
pub fn read_metrics(dir: &Path) -> Result<Vec<MetricRow>, TrainError> {
    let text = fsutil::read_text(&dir.join("metrics.csv"), "metrics")?;
    Ok(text
        .lines()
        .skip(1)
        .filter_map(|line| {
            let f: Vec<&str> = line.split(',').collect();
            (f.len() == 7).then_some(())?;
            Some(MetricRow {
                split: f[1].into(),
                metric: f[2].into(),
                step: f[3].parse().ok()?,
                epoch: f[4].parse().ok()?,
                value: f[5].parse().ok()?,
                wall_s: f[6].parse().ok()?,
            })
        })
        .collect())
}
