//! `roimae render`: draws the viewer off screen (same layout, same slice
//! shaders) and writes a PNG: for figures, the README picture and tests.

use crate::gui::experiment_export::show_experiment;
use crate::gui::headless::{frames_while, settled_frame, start_cpu_training};
use crate::gui::offscreen::Offscreen;
use crate::gui::{Startup, ViewerApp};
use anyhow::bail;
use std::path::PathBuf;
use std::time::Duration;

/// Arguments of `roimae render`.
#[derive(Debug, Clone, clap::Args)]
pub struct RenderArgs {
    /// A NIfTI file to show (the MNI template with `--demo` or when absent).
    pub file: Option<PathBuf>,
    /// Show the built-in demo (MNI template + AAL3).
    #[arg(long, conflicts_with = "file")]
    pub demo: bool,
    /// Show the synthetic 4D demo subject.
    #[arg(long, conflicts_with_all = ["file", "demo"])]
    pub demo_subject: bool,
    /// Output PNG.
    #[arg(long)]
    pub out: PathBuf,
    /// Crosshair position in world mm, `x,y,z`.
    #[arg(long, value_delimiter = ',', allow_negative_numbers = true)]
    pub crosshair: Option<Vec<f64>>,
    /// Regions (AAL3 names) or lobes to mask, comma-separated.
    #[arg(long, value_delimiter = ',')]
    pub regions: Vec<String>,
    /// Window size in points, `WxH`.
    #[arg(long, default_value = "1500x950")]
    pub size: String,
    /// Pixels per point (2 for print).
    #[arg(long, default_value_t = 1.0)]
    pub scale: f32,
    /// Radiological orientation.
    #[arg(long)]
    pub radiological: bool,
    /// Render the training page after training the demo config (tiny, CPU)
    /// with the `--regions` masked for this many steps.
    #[arg(long)]
    pub training_steps: Option<usize>,
    /// Render the attribution page with these region scores (the CSV of
    /// `roimae attribute`).
    #[arg(long, conflicts_with = "training_steps")]
    pub attribution: Option<PathBuf>,
    /// Render the experiment page of a finished `roimae experiment` folder
    /// (the masked-MSE vs test-AUROC figure and the verdicts).
    #[arg(long)]
    pub experiment: Option<PathBuf>,
}

/// A `--size` that is not a usable `WIDTHxHEIGHT`.
#[derive(Debug, PartialEq, thiserror::Error)]
pub enum SizeError {
    /// Not of the form `WxH`.
    #[error("--size '{0}' is not WIDTHxHEIGHT (e.g. 1500x950)")]
    NotWxH(String),
    /// A side outside 200..=8192.
    #[error("--size {0}x{1}: each side must be 200 to 8192 points")]
    OutOfRange(u32, u32),
}

/// Parses `WxH`.
pub fn parse_size(text: &str) -> Result<[u32; 2], SizeError> {
    let bad = || SizeError::NotWxH(text.to_string());
    let (w, h) = text.split_once(['x', 'X']).ok_or_else(bad)?;
    let w: u32 = w.trim().parse().map_err(|_| bad())?;
    let h: u32 = h.trim().parse().map_err(|_| bad())?;
    if !(200..=8192).contains(&w) || !(200..=8192).contains(&h) {
        return Err(SizeError::OutOfRange(w, h));
    }
    Ok([w, h])
}

/// Renders and writes the PNG.
pub fn run(args: &RenderArgs) -> anyhow::Result<()> {
    let size = parse_size(&args.size)?;
    if !(0.5..=4.0).contains(&args.scale) {
        bail!("--scale {} must be between 0.5 and 4", args.scale);
    }
    if let Some(f) = &args.file
        && !f.exists()
    {
        bail!("{}: no such file; check the path", f.display());
    }
    let crosshair = match args.crosshair.as_deref() {
        None => None,
        Some(&[x, y, z]) => Some([x, y, z]),
        Some(other) => bail!(
            "--crosshair needs three numbers x,y,z in mm, got {}",
            other.len()
        ),
    };
    let startup = Startup {
        file: args.file.clone(),
        demo_subject: args.demo_subject,
        regions: args.regions.clone(),
        crosshair,
    };
    let mut off = Offscreen::new()?;
    let mut app = ViewerApp::new(&startup, Some(&off.render_state), None)?;
    app.state.scene.radiological = args.radiological;
    // Wait for a file to finish decoding (the loader runs on its own thread).
    let pause = Duration::from_millis(20);
    let loaded = frames_while(
        &mut off,
        &mut app,
        size,
        args.scale,
        pause,
        Duration::from_secs(600),
        |app| app.is_loading(),
    )?;
    if !loaded {
        bail!("loading took over 10 minutes; giving up");
    }
    if let Some(m) = &app.message
        && args.file.is_some()
        && m.is_error()
    {
        bail!("{m}");
    }
    if let Some(c) = crosshair {
        app.state.scene.set_crosshair(c);
    }
    if let Some(csv) = &args.attribution {
        app.attribution.open(csv, &app.state)?;
        app.mode = crate::gui::app::Mode::Attribution;
    }
    if let Some(dir) = &args.experiment {
        show_experiment(&mut app, dir)?;
    }
    if let Some(steps) = args.training_steps {
        train_for(&mut off, &mut app, size, args.scale, steps)?;
    }
    let image = settled_frame(&mut off, &mut app, size, args.scale)?;
    image.save_png(&args.out)?;
    println!(
        "wrote {} ({}x{} px) on {}",
        args.out.display(),
        image.width,
        image.height,
        off.adapter_name()
    );
    Ok(())
}

/// Trains the dashboard's demo run for `steps` steps (CPU), then shows the
/// training page.
fn train_for(
    off: &mut Offscreen,
    app: &mut ViewerApp,
    size: [u32; 2],
    scale: f32,
    steps: usize,
) -> anyhow::Result<()> {
    let runs = std::env::temp_dir().join(format!("roimae-render-runs-{}", std::process::id()));
    app.dashboard.config.val_every = (steps / 8).max(1);
    app.dashboard.config.preview_every = (steps / 2).max(1);
    if let Err(notice) = start_cpu_training(app, &runs, steps) {
        bail!("{notice}");
    }
    let pause = Duration::from_millis(100);
    let finished = frames_while(
        off,
        app,
        size,
        scale,
        pause,
        Duration::from_secs(1800),
        |app| app.dashboard.is_running(),
    )?;
    if !finished {
        bail!("training took over 30 minutes; giving up");
    }
    if let Some(e) = &app.dashboard.session.error {
        bail!("{e}");
    }
    let _ = std::fs::remove_dir_all(&runs);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{SizeError, parse_size};

    #[test]
    fn sizes_parse_and_bad_ones_explain() {
        assert_eq!(parse_size("800x600"), Ok([800, 600]));
        let e = parse_size("800").unwrap_err();
        assert_eq!(e, SizeError::NotWxH("800".into()));
        assert!(e.to_string().contains("WIDTHxHEIGHT"), "{e}");
        let e = parse_size("10x10").unwrap_err();
        assert!(e.to_string().contains("200 to 8192"), "{e}");
    }
}
