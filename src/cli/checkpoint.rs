//! `roimae checkpoint import|export|inspect`: NeuroSTORM checkpoints in and
//! out of roimae run folders (thin over `crate::interop`).

use crate::interop::{self, ExportFormat, ExportInfo};
use crate::masking::MaskStrategy;
use crate::model::Preset;
use anyhow::anyhow;
use burn::prelude::*;
use std::path::PathBuf;

/// Arguments of `roimae checkpoint`.
#[derive(Debug, clap::Args)]
pub struct CheckpointArgs {
    /// What to do.
    #[command(subcommand)]
    pub action: CheckpointAction,
}

/// The checkpoint actions.
#[derive(Debug, clap::Subcommand)]
pub enum CheckpointAction {
    /// Make a roimae run folder from a NeuroSTORM `.ckpt`/`.pt`/`.safetensors`
    /// (its checkpoint works with `pretrain --resume`, `finetune
    /// --pretrained` and `attribute`).
    Import {
        /// The NeuroSTORM checkpoint.
        ckpt: PathBuf,
        /// The new run folder.
        #[arg(long)]
        out: PathBuf,
        /// Require this preset's exact shapes (default: the checkpoint's own model).
        #[arg(long)]
        preset: Option<Preset>,
        /// Print the import report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Write a run's model as a NeuroSTORM checkpoint (or safetensors).
    Export {
        /// The run folder (its best-validation checkpoint, else the last).
        run_dir: PathBuf,
        /// `neurostorm` (Lightning .ckpt, loads with `torch.load(weights_only=True)`)
        /// or `safetensors`.
        #[arg(long, default_value = "neurostorm")]
        format: String,
        /// The file to write.
        #[arg(long)]
        out: PathBuf,
    },
    /// Show the model a checkpoint holds and whether it loads.
    Inspect {
        /// The checkpoint file.
        ckpt: PathBuf,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// NeuroSTORM's `(mask_ratio, spatial_mask, time_mask)` closest to a strategy.
fn neurostorm_masking(s: &MaskStrategy) -> (f64, String, String) {
    let (r, sp, t) = match s {
        MaskStrategy::Window { ratio, .. } => (*ratio, "window", "random"),
        MaskStrategy::Random { ratio } => (*ratio, "random", "random"),
        MaskStrategy::Tube { ratio } => (*ratio, "random", "tube"),
        MaskStrategy::Atlas { ratio } => (*ratio, "atlas", "tube"),
        MaskStrategy::Roi { .. } => (0.5, "atlas", "tube"),
    };
    (r, sp.into(), t.into())
}

/// What a load found, then one `skipped:` / `note:` line each.
fn describe(ckpt: &std::path::Path, report: &interop::LoadReport) -> String {
    let c = &report.config;
    let mut text = format!(
        "{} ({}): model {} (width {}, blocks {:?}, {}³×{} at patch {}), {} tensors / {} values{}",
        ckpt.display(),
        report.format,
        c.name,
        c.embed_dim,
        c.depths,
        c.input,
        c.frames,
        c.patch,
        report.loaded_tensors,
        report.loaded_values,
        if report.encoder_only {
            " (encoder only)"
        } else {
            ""
        }
    );
    for s in &report.skipped {
        text.push_str(&format!("\nskipped: {s}"));
    }
    for n in &report.notes {
        text.push_str(&format!("\nnote: {n}"));
    }
    text
}

/// Runs `roimae checkpoint`.
pub fn run(args: &CheckpointArgs) -> anyhow::Result<()> {
    match &args.action {
        CheckpointAction::Import {
            ckpt,
            out,
            preset,
            json,
        } => {
            let preset = preset.map(Preset::model);
            let report = interop::import_checkpoint(ckpt, out, preset.as_ref())?;
            if *json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                println!("imported {}", describe(ckpt, &report));
                println!("run folder: {}", out.display());
            }
            Ok(())
        }
        CheckpointAction::Export {
            run_dir,
            format,
            out,
        } => {
            let format = match format.as_str() {
                "neurostorm" | "ckpt" => ExportFormat::Neurostorm,
                "safetensors" => ExportFormat::Safetensors,
                other => {
                    return Err(anyhow!(
                        "unknown export format '{other}'; choose neurostorm or safetensors"
                    ));
                }
            };
            let (cfg, mae, info) = crate::eval::pretrained::load_mae(
                run_dir,
                crate::eval::pretrained::CheckpointChoice::Best,
                &Device::flex(),
            )?;
            let n = interop::export(
                &mae,
                out,
                format,
                &ExportInfo {
                    masking: Some(neurostorm_masking(&cfg.mask.strategy)),
                    epoch: crate::train::checkpoint::load_state(&info.checkpoint)
                        .map(|s| s.epoch)
                        .unwrap_or(0),
                    source: format!("{} step {} ({})", run_dir.display(), info.step, info.which),
                },
            )?;
            println!(
                "wrote {} ({n} tensors, model {}) from {} step {} ({})",
                out.display(),
                mae.config().name,
                run_dir.display(),
                info.step,
                info.which
            );
            Ok(())
        }
        CheckpointAction::Inspect { ckpt, json } => {
            let (_, report) = interop::load_checkpoint(ckpt, None, &Device::flex())?;
            if *json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                println!("{}", describe(ckpt, &report));
            }
            Ok(())
        }
    }
}
