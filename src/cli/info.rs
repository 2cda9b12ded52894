//! `roimae info FILE [--json] [--voxel i,j,k[,t]] [--expect-4d]`.

use crate::volume::{Volume, VolumeError, read_volume_with_progress};
use anyhow::{Context, bail};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{Value, json};
use std::path::PathBuf;

/// Arguments of `roimae info`.
#[derive(Debug, clap::Args)]
pub struct InfoArgs {
    /// The NIfTI-1 file (.nii, .nii.gz, .hdr/.img).
    pub file: PathBuf,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
    /// Also print the scaled value at voxel i,j,k (and time point t, 0-based).
    #[arg(long, value_name = "i,j,k[,t]")]
    pub voxel: Option<String>,
    /// Fail (exit 2) unless the file is a 4D time series.
    #[arg(long)]
    pub expect_4d: bool,
}

/// Runs `roimae info`.
pub fn run(args: &InfoArgs) -> anyhow::Result<()> {
    let volume = read_with_progress_bar(&args.file)?;
    if args.expect_4d {
        volume.require_4d(&args.file)?;
    }
    let voxel = match &args.voxel {
        Some(spec) => {
            Some(voxel_value(&volume, spec).with_context(|| args.file.display().to_string())?)
        }
        None => None,
    };
    if let Some(w) = volume.sform_qform_warning() {
        eprintln!("roimae: warning: {}: {w}", args.file.display());
    }
    let report = info_json(&volume, voxel);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print_text(&args.file, &volume, &report);
    }
    Ok(())
}

/// Reads a volume, showing a progress bar on an interactive stderr for
/// large files (nothing is drawn when stderr is not a terminal).
pub fn read_with_progress_bar(path: &std::path::Path) -> Result<Volume, VolumeError> {
    const SHOW_FROM_VOXELS: usize = 1 << 24;
    let mut bar: Option<ProgressBar> = None;
    let volume = read_volume_with_progress(path, &mut |decoded, total| {
        if total < SHOW_FROM_VOXELS {
            return;
        }
        let bar = bar.get_or_insert_with(|| {
            let b = ProgressBar::new(total as u64);
            if let Ok(style) = ProgressStyle::with_template("decoding {bar:40} {percent:>3}% {eta}")
            {
                b.set_style(style);
            }
            b
        });
        bar.set_position(decoded.len() as u64);
    });
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    volume
}

/// The `--json` object: exactly shape, datatype, zooms, affine, sform_code,
/// qform_code, orientation, tr, stats (+ voxel when asked); `stats` carries
/// `nonfinite` only when NaN/Inf voxels exist.
pub fn info_json(volume: &Volume, voxel: Option<(Vec<usize>, f32)>) -> Value {
    let meta = &volume.meta;
    let stats = volume.stats();
    let mut stats_json = json!({
        "min": stats.min, "max": stats.max, "mean": stats.mean, "std": stats.std,
    });
    if stats.nonfinite > 0 {
        stats_json["nonfinite"] = json!(stats.nonfinite);
    }
    let mut out = json!({
        "shape": volume.shape(),
        "datatype": meta.datatype.numpy_name(meta.big_endian),
        "zooms": meta.zooms,
        "affine": volume.affine().rows(),
        "sform_code": meta.sform_code,
        "qform_code": meta.qform_code,
        "orientation": volume.orientation(),
        "tr": meta.tr,
        "stats": stats_json,
    });
    if let Some((index, value)) = voxel {
        out["voxel"] = json!({ "index": index, "value": value });
    }
    out
}

/// Parses `i,j,k[,t]` and looks the value up.
fn voxel_value(volume: &Volume, spec: &str) -> anyhow::Result<(Vec<usize>, f32)> {
    let parts: Result<Vec<usize>, _> = spec.split(',').map(|p| p.trim().parse::<usize>()).collect();
    let Ok(index) = parts else {
        bail!("--voxel '{spec}' is not i,j,k or i,j,k,t with non-negative integers");
    };
    let (i, j, k, t) = match index[..] {
        [i, j, k] => (i, j, k, 0),
        [i, j, k, t] => (i, j, k, t),
        _ => bail!("--voxel '{spec}' needs 3 or 4 indices"),
    };
    match volume.value(i, j, k, t) {
        Some(v) => Ok((index, v)),
        None => bail!(
            "voxel {spec} is outside the volume of shape {:?}",
            volume.shape()
        ),
    }
}

fn print_text(file: &std::path::Path, volume: &Volume, report: &Value) {
    let meta = &volume.meta;
    let stats = volume.stats();
    let shape: Vec<String> = volume.shape().iter().map(|d| d.to_string()).collect();
    println!("file:         {}", file.display());
    println!("shape:        {} ({}D)", shape.join(" x "), meta.ndim);
    println!(
        "datatype:     {}",
        report["datatype"].as_str().unwrap_or("?")
    );
    let zooms: Vec<String> = meta.zooms.iter().map(|z| format!("{z:.6}")).collect();
    println!("zooms:        {}", zooms.join(" "));
    for (r, row) in volume.affine().rows().iter().enumerate() {
        let cells: Vec<String> = row.iter().map(|v| format!("{v:>11.5}")).collect();
        println!(
            "{}[{}]",
            if r == 0 {
                "affine:       "
            } else {
                "              "
            },
            cells.join(" ")
        );
    }
    println!(
        "sform_code:   {} ({})   qform_code: {} ({})",
        meta.sform_code,
        xform_name(meta.sform_code),
        meta.qform_code,
        xform_name(meta.qform_code)
    );
    println!("orientation:  {}", volume.orientation());
    match meta.tr {
        Some(tr) => println!("TR:           {tr} s"),
        None => println!("TR:           none (not a time series)"),
    }
    println!(
        "stats:        min {}  max {}  mean {}  std {}",
        stats.min, stats.max, stats.mean, stats.std
    );
    println!(
        "non-finite:   {} voxel(s) (NaN/Inf, left out of the stats)",
        stats.nonfinite
    );
    if let Some(v) = report.get("voxel") {
        println!("voxel {}: {}", v["index"], v["value"]);
    }
}

fn xform_name(code: i16) -> &'static str {
    match code {
        0 => "unknown",
        1 => "scanner",
        2 => "aligned",
        3 => "talairach",
        4 => "mni152",
        5 => "template",
        _ => "invalid",
    }
}
