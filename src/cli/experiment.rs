//! `roimae experiment --config exp.toml [--out DIR]` and
//! `roimae experiment --demo [--out DIR]`: runs the masking-strategy grid
//! (pretrain, fine-tune, attribute) and prints the summary table and, on a
//! synthetic cohort, plain verdicts about the planted lobes.

use crate::eval::{ExperimentConfig, run_experiment};
use crate::train::DeviceChoice;
use anyhow::bail;
use std::path::PathBuf;

/// Arguments of `roimae experiment`.
#[derive(Debug, clap::Args)]
pub struct ExperimentArgs {
    /// The experiment config (TOML: seeds, [pretrain], [finetune], [grid],
    /// [[strategies]], attribute, attribute_methods).
    #[arg(long, conflicts_with = "demo")]
    pub config: Option<PathBuf>,
    /// A small CPU demo: tiny preset, synthetic cohort with effects planted
    /// in limbic + cerebellum; random / window / limbic ROI / cerebellum ROI;
    /// occlusion and integrated-gradients attribution of every run.
    #[arg(long)]
    pub demo: bool,
    /// Output folder (default `experiments/<config name>` or
    /// `experiments/demo`).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Override the pretraining steps of every run.
    #[arg(long)]
    pub steps: Option<usize>,
    /// Override the seeds with 0..N.
    #[arg(long)]
    pub seeds: Option<u64>,
    /// Override the device of pretraining and fine-tuning.
    #[arg(long, value_enum)]
    pub device: Option<DeviceChoice>,
}

/// Runs `roimae experiment`.
pub fn run(args: &ExperimentArgs) -> anyhow::Result<()> {
    let mut cfg = match (&args.config, args.demo) {
        (Some(path), _) => ExperimentConfig::load(path)?,
        (None, true) => ExperimentConfig::demo(),
        (None, false) => bail!("give --config exp.toml or --demo"),
    };
    if let Some(steps) = args.steps {
        cfg.pretrain.max_steps = Some(steps);
        cfg.pretrain.val_every = cfg.pretrain.val_every.min(steps.max(1));
    }
    if let Some(n) = args.seeds {
        cfg.seeds = (0..n).collect();
    }
    if let Some(d) = args.device {
        cfg.pretrain.device = d;
        cfg.finetune.device = d;
    }
    cfg.validate()?;
    let out = args.out.clone().unwrap_or_else(|| match &args.config {
        Some(path) => PathBuf::from("experiments").join(
            path.file_stem()
                .map_or_else(|| "experiment".into(), |s| s.to_string_lossy().into_owned()),
        ),
        None => PathBuf::from("experiments/demo"),
    });
    if out.join("results.csv").exists() {
        bail!(
            "{} already holds an experiment; choose another --out",
            out.display()
        );
    }
    let result = run_experiment(&cfg, &out, &mut |l| eprintln!("{l}"))?;
    println!("{}", result.markdown.trim_end());
    println!();
    println!("experiment took {:.1} s", result.wall_s);
    println!(
        "wrote {}, {}, {} and the runs under {}",
        out.join("results.csv").display(),
        out.join("results.md").display(),
        out.join("attribution.csv").display(),
        out.join("runs").display()
    );
    Ok(())
}
