//! `roimae attribute --run RUN_DIR --method occlusion [--out DIR]`: region
//! attribution of a pretrained model, written as CSV, JSON and a NIfTI map.

use crate::eval::attribute_run::{AttributeOptions, attribute_run};
use crate::eval::attribution::write_outputs;
use crate::train::DeviceChoice;
use anyhow::{anyhow, bail};
use std::path::PathBuf;

/// Attribution methods.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Method {
    /// ΔMSE of the reconstruction when a region is masked.
    Occlusion,
    /// Integrated gradients of a classifier (not implemented yet).
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
    /// Regions to print.
    #[arg(long, default_value_t = 10)]
    pub top: usize,
}

/// Runs `roimae attribute`.
pub fn run(args: &AttributeArgs) -> anyhow::Result<()> {
    if args.method == Method::Ig {
        bail!("--method ig is not implemented yet; use --method occlusion");
    }
    let opts = AttributeOptions {
        clips_per_subject: args.clips_per_subject,
        device: args.device,
        ..AttributeOptions::default()
    };
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| args.run.join("attribution"));
    let a = attribute_run(&args.run, &opts, &mut |l| eprintln!("{l}")).map_err(|e| anyhow!(e))?;
    write_outputs(&a.occlusion, &a.map, &out).map_err(|e| anyhow!(e))?;
    println!("{}", a.occlusion.method);
    println!(
        "baseline MSE (base window mask only) {:.4}",
        a.occlusion.baseline_mse
    );
    println!(
        "{:<24} {:<12} {:>10} {:>10}",
        "region", "lobe", "ΔMSE", "spread"
    );
    for r in a.occlusion.regions.iter().take(args.top) {
        println!(
            "{:<24} {:<12} {:>10.4} {:>10.4}",
            r.name, r.lobe, r.score, r.spread
        );
    }
    println!("lobes:");
    for r in &a.occlusion.lobes {
        println!("{:<24} {:>10.4} {:>10.4}", r.lobe, r.score, r.spread);
    }
    println!("wrote {}", out.display());
    Ok(())
}
