//! `roimae reconstruct --checkpoint CKPT|RUN_DIR --input FILE --mask FILE
//! --mask-token window|atlas|single --out OUT.npz [--device ..] [--json]`:
//! one masked forward pass, written as NeuroSTORM's `pred` and `latent`.

use crate::interop::{self, arrays};
use crate::model::MaskToken;
use crate::train::DeviceChoice;
use anyhow::anyhow;
use std::path::PathBuf;

/// Arguments of `roimae reconstruct`.
#[derive(Debug, clap::Args)]
pub struct ReconstructArgs {
    /// A NeuroSTORM checkpoint (.ckpt/.pt/.safetensors) or a roimae run folder.
    #[arg(long)]
    pub checkpoint: PathBuf,
    /// The clip: float32 .npy (1,1,X,Y,Z,T) or (X,Y,Z,T), or a 4D NIfTI.
    #[arg(long)]
    pub input: PathBuf,
    /// The token mask: uint8 .npy (1,gx,gy,gz,T) or (gx,gy,gz,T), 1 = masked.
    #[arg(long)]
    pub mask: PathBuf,
    /// Which learned token replaces masked tokens: window, atlas or single.
    #[arg(long, default_value = "window")]
    pub mask_token: String,
    /// The .npz to write (`pred`, `latent`, `loss`).
    #[arg(long)]
    pub out: PathBuf,
    /// Where to compute.
    #[arg(long, value_enum, default_value = "cpu")]
    pub device: DeviceChoice,
    /// Print one JSON object (loss, masked_tokens, ...).
    #[arg(long)]
    pub json: bool,
}

/// Runs `roimae reconstruct`.
pub fn run(args: &ReconstructArgs) -> anyhow::Result<()> {
    let token = MaskToken::parse(&args.mask_token)?;
    let clip = arrays::read_clip(&args.input)?;
    let mask = arrays::read_token_mask(&args.mask)?;
    let picked = crate::train::device::pick(args.device)?;
    let device = picked.device.without_autodiff();
    let mae = if interop::is_run_folder(&args.checkpoint) {
        crate::eval::pretrained::load_mae(
            &args.checkpoint,
            crate::eval::pretrained::CheckpointChoice::Best,
            &device,
        )?
        .1
    } else {
        interop::load_checkpoint(&args.checkpoint, None, &device)?.0
    };
    let r = interop::reconstruct(&mae, &clip, &mask, token, &device).map_err(|e| match e {
        interop::InteropError::Array { path, reason } if path.as_os_str() == "clip" => {
            anyhow!("{}: {reason}", args.input.display())
        }
        interop::InteropError::Array { path, reason } if path.as_os_str() == "mask" => {
            anyhow!("{}: {reason}", args.mask.display())
        }
        other => anyhow!(other),
    })?;
    let [x, y, z, t] = clip.shape;
    arrays::write_npz(
        &args.out,
        &[
            ("pred", vec![1, 1, x, y, z, t], r.pred.clone()),
            ("latent", r.latent_shape.clone(), r.latent.clone()),
            ("loss", vec![], vec![r.loss as f32]),
        ],
    )?;
    let summary = interop::reconstruct::ReconstructSummary {
        loss: r.loss,
        masked_tokens: r.masked_tokens,
        tokens: mask.data.len(),
        mask_token: token.name(),
        device: picked.name.clone(),
    };
    if args.json {
        println!("{}", serde_json::to_string(&summary)?);
    } else {
        println!(
            "loss {:.6} on {} of {} tokens masked ({} token, {}); wrote {}",
            r.loss,
            r.masked_tokens,
            summary.tokens,
            token.name(),
            picked.name,
            args.out.display()
        );
    }
    Ok(())
}
