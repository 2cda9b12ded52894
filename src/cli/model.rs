//! `roimae model --preset NAME [--json]`: the model's stages and exact
//! parameter counts.

use crate::model::{ParamCounts, Preset};

/// Arguments of `roimae model`.
#[derive(Debug, clap::Args)]
pub struct ModelArgs {
    /// Preset: reference (96³×20, 6³ patches), mni4mm (48³×20, 3³), tiny.
    #[arg(long, default_value = "reference")]
    pub preset: Preset,
    /// Print one JSON object (encoder_params, mae_params, head_params, ...).
    #[arg(long)]
    pub json: bool,
}

/// Runs `roimae model`.
pub fn run(args: &ModelArgs) -> anyhow::Result<()> {
    let cfg = args.preset.model();
    let counts = ParamCounts::of(&cfg)?;
    if args.json {
        let mut v = serde_json::to_value(counts)?;
        v["preset"] = serde_json::json!(cfg.name);
        v["config"] = serde_json::to_value(&cfg)?;
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    let p = cfg.patch;
    println!(
        "preset {}: input {}³×{} frames, {p}³ patches → {}³×{} tokens",
        cfg.name,
        cfg.input,
        cfg.frames,
        cfg.tokens_per_axis(),
        cfg.frames
    );
    println!(
        "{:<10} {:>6} {:>16} {:>14} {:>14} {:>7} {:>8}",
        "stage", "dim", "grid", "window", "shift", "blocks", "windows"
    );
    let rows = cfg
        .encoder_stages()
        .into_iter()
        .enumerate()
        .map(|(i, g)| (format!("enc {i}"), g));
    let up = cfg
        .decoder_stages()
        .into_iter()
        .enumerate()
        .map(|(i, g)| (format!("dec {i}"), g));
    for (name, g) in rows.chain(up) {
        println!(
            "{:<10} {:>6} {:>16} {:>14} {:>14} {:>7} {:>8}",
            name,
            g.dim,
            format!("{:?}", g.grid),
            format!("{:?}", g.window),
            format!("{:?}", g.shift),
            g.depth,
            g.n_windows()
        );
    }
    println!();
    println!("encoder      {:>12}", group(counts.encoder_params));
    println!(
        "mask tokens  {:>12}  (window table; + {} for the single and atlas tokens)",
        group(counts.mask_token_params),
        counts.extra_token_params
    );
    println!("decoder      {:>12}", group(counts.decoder_params));
    println!(
        "MAE total    {:>12}  (NeuroSTORM's count, all three mask tokens)",
        group(counts.mae_params)
    );
    println!(
        "MAE (spec)   {:>12}  (SPEC-model: without the single and atlas tokens)",
        group(counts.spec_mae_params)
    );
    println!("head (1 out) {:>12}", group(counts.head_params));
    Ok(())
}

/// 5173020 → "5,173,020".
fn group(n: usize) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, ch) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}
