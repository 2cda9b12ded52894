//! `roimae prepare PATH --out CACHE [--grid mni2mm|mni4mm] [--tr 0.8]
//! [--frames 20] [--jobs N] [scan flags]`: scans a dataset and preprocesses
//! every usable run into a clip cache.

use super::dataset::ScanFlags;
use crate::data::GridChoice;
use crate::data::ingest::scan_dataset;
use crate::data::prepare::prepare_dataset;
use crate::data::preprocess::PreprocessConfig;
use anyhow::bail;
use indicatif::{ProgressBar, ProgressStyle};
use std::path::PathBuf;

/// Arguments of `roimae prepare`.
#[derive(Debug, clap::Args)]
pub struct PrepareArgs {
    /// The dataset folder (BIDS, fMRIPrep, ADHD-200, folder + CSV).
    pub path: PathBuf,
    /// The cache folder to fill (created if missing; up-to-date runs are kept).
    #[arg(long, value_name = "CACHE")]
    pub out: PathBuf,
    /// The grid runs are resampled to (mni2mm: 96³ input; mni4mm: 48³).
    #[arg(long, value_enum, default_value = "mni2mm")]
    pub grid: GridChoice,
    /// Resample every run in time to this TR (seconds).
    #[arg(long, value_name = "SECONDS")]
    pub tr: Option<f64>,
    /// Frames per clip.
    #[arg(long, default_value_t = 20)]
    pub frames: usize,
    /// A brain mask (NIfTI, any grid) defining the foreground; default:
    /// voxels that are non-zero after resampling.
    #[arg(long, value_name = "FILE")]
    pub mask: Option<PathBuf>,
    /// Runs processed in parallel (default: 2; each holds a few copies of a run in memory).
    #[arg(long, default_value_t = 2)]
    pub jobs: usize,
    /// Print the summary as JSON.
    #[arg(long)]
    pub json: bool,
    /// How to read the dataset.
    #[command(flatten)]
    pub flags: ScanFlags,
}

/// Runs `roimae prepare`.
pub fn run(args: &PrepareArgs) -> anyhow::Result<()> {
    if args.tr.is_some_and(|t| t.is_nan() || t <= 0.0) {
        bail!("--tr must be a positive number of seconds");
    }
    if args.frames == 0 {
        bail!("--frames must be at least 1");
    }
    let dataset = scan_dataset(&args.path, &args.flags.options()?)?;
    if dataset.usable().next().is_none() {
        bail!(
            "{}: no usable subject (a run and a label); see `roimae dataset scan {}`",
            args.path.display(),
            args.path.display()
        );
    }
    let cfg = PreprocessConfig {
        grid: args.grid,
        target_tr: args.tr,
        frames_per_clip: args.frames,
        brain_mask: args.mask.clone(),
    };
    let bar = ProgressBar::new(0);
    if let Ok(style) =
        ProgressStyle::with_template("preparing {bar:40} {pos}/{len} runs, ETA {eta}")
    {
        bar.set_style(style);
    }
    let summary = prepare_dataset(&dataset, &cfg, &args.out, args.jobs, &|done, total| {
        bar.set_length(total as u64);
        bar.set_position(done as u64);
    })?;
    bar.finish_and_clear();
    let mut problems = dataset.problems.clone();
    problems.extend(summary.problems.iter().cloned());
    if args.json {
        let mut value = serde_json::to_value(&summary)?;
        value["problems"] = serde_json::to_value(&problems)?;
        println!("{}", serde_json::to_string_pretty(&value)?);
    } else {
        println!(
            "cache {}: {} runs prepared, {} up to date, {} failed; {} clips of {} frames ({} grid)",
            args.out.display(),
            summary.prepared,
            summary.skipped,
            summary.failed,
            summary.clips,
            args.frames,
            args.grid.name()
        );
        for p in &problems {
            let who = p
                .subject
                .as_deref()
                .map(|s| format!("sub-{s}: "))
                .unwrap_or_default();
            println!("  {who}{}", p.message);
        }
    }
    Ok(())
}
