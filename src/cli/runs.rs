//! `roimae runs list DIR`: one line per run folder under DIR (name, preset,
//! mask, steps, best validation loss, recent step time).

use crate::masking::MaskStrategy;
use crate::train::RunConfig;
use crate::train::run_dir::read_metrics;
use std::path::{Path, PathBuf};

/// Arguments of `roimae runs`.
#[derive(Debug, clap::Args)]
pub struct RunsArgs {
    /// What to do.
    #[command(subcommand)]
    pub what: RunsWhat,
}

/// The `runs` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum RunsWhat {
    /// Summarise the run folders under DIR (or DIR itself if it is a run).
    List {
        /// A folder of runs.
        dir: PathBuf,
    },
}

/// A short description of a mask.
pub fn mask_summary(strategy: &MaskStrategy) -> String {
    match strategy {
        MaskStrategy::Random { ratio } => format!("random {ratio}"),
        MaskStrategy::Tube { ratio } => format!("tube {ratio}"),
        MaskStrategy::Atlas { ratio } => format!("atlas {ratio}"),
        MaskStrategy::Window { ratio, .. } => format!("window {ratio}"),
        MaskStrategy::Roi {
            regions,
            partial,
            level,
        } => {
            let mut names: Vec<String> =
                regions.lobes.iter().map(|l| l.name().to_string()).collect();
            names.extend(regions.names.iter().cloned());
            let level = format!("{level:?}").to_lowercase();
            match partial {
                Some(p) => format!("roi {} ({level}, {p})", names.join("+")),
                None => format!("roi {} ({level})", names.join("+")),
            }
        }
    }
}

fn summarise(dir: &Path) -> Option<[String; 6]> {
    let cfg = RunConfig::load(&dir.join("config.toml")).ok()?;
    let rows = read_metrics(dir).unwrap_or_default();
    let steps = rows.iter().map(|r| r.step).max().unwrap_or(0);
    let best = rows
        .iter()
        .filter(|r| r.split == "val" && r.metric == "loss")
        .map(|r| r.value)
        .fold(None, |b: Option<f64>, v| Some(b.map_or(v, |b| b.min(v))));
    let speed = rows
        .iter()
        .rev()
        .find(|r| r.metric == "steps_per_s")
        .map(|r| r.value);
    Some([
        dir.file_name()?.to_string_lossy().into_owned(),
        cfg.preset.to_string(),
        mask_summary(&cfg.mask.strategy),
        steps.to_string(),
        best.map_or("-".into(), |b| format!("{b:.4}")),
        speed.map_or("-".into(), |s| format!("{:.3} s", 1.0 / s.max(1e-9))),
    ])
}

/// Runs `roimae runs`.
pub fn run(args: &RunsArgs) -> anyhow::Result<()> {
    let RunsWhat::List { dir } = &args.what;
    if !dir.is_dir() {
        anyhow::bail!("{}: not a folder; give a folder of runs", dir.display());
    }
    let mut lines: Vec<[String; 6]> = summarise(dir).into_iter().collect();
    let mut subdirs: Vec<PathBuf> = std::fs::read_dir(dir)?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    subdirs.sort();
    lines.extend(subdirs.iter().filter_map(|d| summarise(d)));
    if lines.is_empty() {
        println!("no run folders (with config.toml) under {}", dir.display());
        return Ok(());
    }
    println!(
        "{:<24} {:<10} {:<32} {:>7} {:>10} {:>10}",
        "run", "preset", "mask", "steps", "best val", "s/step"
    );
    for [name, preset, mask, steps, best, speed] in lines {
        println!("{name:<24} {preset:<10} {mask:<32} {steps:>7} {best:>10} {speed:>10}");
    }
    Ok(())
}
