//! `roimae finetune --pretrained RUN_DIR [--config ft.toml] [--out DIR]
//! [--full]`: fine-tunes a pretrained encoder for diagnosis and prints the
//! subject-level metrics of the honest and the reference protocol.

use crate::eval::metrics::ClassificationReport;
use crate::eval::pretrained::CheckpointChoice;
use crate::eval::{FinetuneConfig, ProtocolResult, finetune};
use crate::train::DeviceChoice;
use std::path::PathBuf;

/// Arguments of `roimae finetune`.
#[derive(Debug, clap::Args)]
pub struct FinetuneArgs {
    /// The pretraining run folder (its best, else last, checkpoint is used).
    #[arg(long)]
    pub pretrained: PathBuf,
    /// Fine-tuning config (TOML); defaults otherwise.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Output folder (default `RUN_DIR/finetune` or `RUN_DIR/finetune-full`).
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Train the encoder too (default: frozen encoder, linear head only).
    #[arg(long)]
    pub full: bool,
    /// Also evaluate leave-one-site-out (one head per left-out site).
    #[arg(long)]
    pub leave_site_out: bool,
    /// Override the config's epochs.
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Override the config's device.
    #[arg(long, value_enum)]
    pub device: Option<DeviceChoice>,
    /// Override the config's checkpoint: `best` (lowest validation loss,
    /// else last) or `last`.
    #[arg(long, value_enum)]
    pub checkpoint: Option<CheckpointChoice>,
}

fn auroc_text(r: &ClassificationReport) -> String {
    match (r.auroc, r.auroc_ci95) {
        (Some(a), Some((lo, hi))) => format!("{a:.3} [{lo:.3}, {hi:.3}]"),
        (Some(a), None) => format!("{a:.3}"),
        _ => "undefined (one class)".into(),
    }
}

fn line(p: &ProtocolResult) -> String {
    let r = &p.report;
    let auroc = auroc_text(r);
    format!(
        "{:<9} on {:<10} epoch {:>3}  n {:>3}  acc {:.3}  bal.acc {:.3}  AUROC {auroc}  confusion {:?}",
        p.protocol,
        p.evaluated_on,
        p.epoch,
        r.subjects,
        r.accuracy,
        r.balanced_accuracy,
        r.confusion
    )
}

/// Runs `roimae finetune`.
pub fn run(args: &FinetuneArgs) -> anyhow::Result<()> {
    let mut cfg = match &args.config {
        Some(path) => FinetuneConfig::load(path)?,
        None => FinetuneConfig::default(),
    };
    cfg.full |= args.full;
    cfg.leave_site_out |= args.leave_site_out;
    cfg.validate()?;
    if let Some(e) = args.epochs {
        cfg.epochs = e;
    }
    if let Some(d) = args.device {
        cfg.device = d;
    }
    if let Some(c) = args.checkpoint {
        cfg.checkpoint = c;
    }
    let out = args.out.clone().unwrap_or_else(|| {
        args.pretrained.join(if cfg.full {
            "finetune-full"
        } else {
            "finetune"
        })
    });
    let result = finetune(&args.pretrained, &cfg, Some(&out), &mut |l| {
        eprintln!("{l}")
    })?;
    println!(
        "{} fine-tuning of {} ({} checkpoint, step {}), {} classes, {:.1} s",
        result.mode,
        result.pretrained.run_dir.display(),
        result.pretrained.which,
        result.pretrained.step,
        result.classes,
        result.wall_s
    );
    println!("{}", line(&result.honest));
    println!(
        "{}  (test = validation; optimistic)",
        line(&result.reference)
    );
    if let Some(l) = &result.leave_site_out {
        println!("{}", l.description);
        for f in &l.folds {
            let r = &f.report;
            println!(
                "  site {:<10} n {:>3}  acc {:.3}  bal.acc {:.3}  AUROC {}",
                f.site,
                r.subjects,
                r.accuracy,
                r.balanced_accuracy,
                auroc_text(r)
            );
        }
        let r = &l.pooled;
        println!(
            "  pooled          n {:>3}  acc {:.3}  bal.acc {:.3}  AUROC {}",
            r.subjects,
            r.accuracy,
            r.balanced_accuracy,
            auroc_text(r)
        );
    }
    println!("wrote {}", out.join("finetune.json").display());
    Ok(())
}
