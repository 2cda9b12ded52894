//! `roimae attribute --run RUN_DIR --method occlusion [--out DIR]`: region
//! attribution of a pretrained model, written as CSV, JSON and a NIfTI map.
//! The app's Attribution tab (Compute) calls the same library functions
//! and writes the same files.

use crate::eval::attribute_run::{AttributeOptions, attribute_run};
use crate::eval::pretrained::CheckpointChoice;
use crate::eval::region_files::write_occlusion_outputs;
use crate::train::DeviceChoice;
use anyhow::bail;
use std::path::PathBuf;

/// Attribution methods.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Method {
    /// ΔMSE of the reconstruction when a region is masked.
    Occlusion,
    /// The region's own reconstruction error: masked MSE on its voxels
    /// when it is masked on top of the base window mask (the same pass and
    /// files as occlusion; prints `region_mse_regions.csv`).
    RegionMse,
    /// Integrated gradients of the frozen-encoder classifier (head fitted
    /// as `roimae finetune` does), optionally SmoothGrad².
    Ig,
}

/// Arguments of `roimae attribute`.
#[derive(Debug, clap::Args)]
pub struct AttributeArgs {
    /// The pretraining run folder.
    #[arg(long)]
    pub run: PathBuf,
    /// The method.
    #[arg(long, value_enum, default_value = "occlusion")]
    pub method: Method,
    /// Output folder (default `RUN_DIR/attribution`).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Validation clips per subject.
    #[arg(long, default_value_t = 1)]
    pub clips_per_subject: usize,
    /// Where to compute.
    #[arg(long, value_enum, default_value = "auto")]
    pub device: DeviceChoice,
    /// The checkpoint: `best` (lowest validation loss, else last) or `last`.
    #[arg(long, value_enum, default_value = "best")]
    pub checkpoint: CheckpointChoice,
    /// Regions to print.
    #[arg(long, default_value_t = 10)]
    pub top: usize,
    /// IG: midpoint steps from the baseline to the input.
    #[arg(long, default_value_t = 16)]
    pub steps: usize,
    /// IG: SmoothGrad² noise samples per clip (0 = plain signed IG, which
    /// also reports the completeness check).
    #[arg(long, default_value_t = 8)]
    pub samples: usize,
    /// IG: noise SD as a fraction of the clip's value range.
    #[arg(long, default_value_t = 0.15)]
    pub noise: f64,
    /// IG: fine-tuning config for the head (TOML, as `roimae finetune`).
    #[arg(long)]
    pub finetune_config: Option<PathBuf>,
}

/// Runs `roimae attribute`.
pub fn run(args: &AttributeArgs) -> anyhow::Result<()> {
    if args.method == Method::Ig {
        return run_ig(args);
    }
    let opts = AttributeOptions {
        clips_per_subject: args.clips_per_subject,
        device: args.device,
        checkpoint: args.checkpoint,
        ..AttributeOptions::default()
    };
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| args.run.join("attribution"));
    let a = attribute_run(&args.run, &opts, &mut |l| eprintln!("{l}"))?;
    write_occlusion_outputs(&a.occlusion, &a.map, &out)?;
    println!("{}", a.occlusion.method);
    println!(
        "baseline MSE (base window mask only) {:.4}",
        a.occlusion.baseline_mse
    );
    let (column, regions, lobes) = match args.method {
        Method::RegionMse => ("own MSE", &a.occlusion.region_mse, &a.occlusion.lobe_mse),
        _ => ("ΔMSE", &a.occlusion.regions, &a.occlusion.lobes),
    };
    println!(
        "{:<24} {:<12} {:>10} {:>10}",
        "region", "lobe", column, "spread"
    );
    for r in regions.iter().take(args.top) {
        println!(
            "{:<24} {:<12} {:>10.4} {:>10.4}",
            r.name, r.lobe, r.score, r.spread
        );
    }
    println!("lobes:");
    for r in lobes {
        println!("{:<24} {:>10.4} {:>10.4}", r.lobe, r.score, r.spread);
    }
    println!("wrote {}", out.display());
    Ok(())
}

/// `--method ig`.
fn run_ig(args: &AttributeArgs) -> anyhow::Result<()> {
    use crate::eval::ig_run::{IgOptions, ig_attribute_run};
    use crate::eval::region_files::write_ig_outputs;
    let mut finetune = match &args.finetune_config {
        Some(p) => crate::eval::FinetuneConfig::load(p)?,
        None => crate::eval::FinetuneConfig::default(),
    };
    finetune.device = args.device;
    finetune.checkpoint = args.checkpoint;
    if !(args.noise.is_finite() && args.noise >= 0.0) {
        bail!("--noise must be a number >= 0, got {}", args.noise);
    }
    let opts = IgOptions {
        steps: args.steps.max(1),
        samples: args.samples,
        noise: args.noise,
        clips_per_subject: args.clips_per_subject,
        finetune,
        ..IgOptions::default()
    };
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| args.run.join("attribution"));
    let r = ig_attribute_run(&args.run, &opts, &mut |l| eprintln!("{l}"))?;
    write_ig_outputs(&r, &out)?;
    println!("{}", r.method);
    if r.completeness_error.is_finite() {
        println!(
            "completeness: |Σ attributions − (f(x) − f(baseline))| / |f(x) − f(baseline)| = {:.3} (mean over clips)",
            r.completeness_error
        );
    }
    println!(
        "{:<24} {:<12} {:>12} {:>12}",
        "region", "lobe", "mean |IG|", "spread"
    );
    for s in r.regions.iter().take(args.top) {
        println!(
            "{:<24} {:<12} {:>12.4e} {:>12.4e}",
            s.name, s.lobe, s.score, s.spread
        );
    }
    println!("lobes:");
    for s in &r.lobes {
        println!("{:<24} {:>12.4e} {:>12.4e}", s.lobe, s.score, s.spread);
    }
    println!("wrote {}", out.display());
    Ok(())
}
