//! `roimae view [FILE]` (and `roimae` alone): the desktop viewer, on a file
//! or on the built-in demo (MNI template + AAL3).

use crate::gui::{Startup, run_native};
use std::path::PathBuf;

/// Arguments of `roimae view`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct ViewArgs {
    /// A NIfTI file (.nii, .nii.gz, .hdr/.img); the MNI template when absent.
    pub file: Option<PathBuf>,
    /// Open the synthetic 4D demo subject instead of the template.
    #[arg(long, conflicts_with = "file")]
    pub demo_subject: bool,
    /// Regions (AAL3 names) or lobes to mask at start, comma-separated.
    #[arg(long, value_delimiter = ',')]
    pub regions: Vec<String>,
}

/// Opens the window.
pub fn run(args: &ViewArgs) -> anyhow::Result<()> {
    if let Some(f) = &args.file
        && !f.exists()
    {
        anyhow::bail!("{}: no such file; check the path", f.display());
    }
    let startup = Startup {
        file: args.file.clone(),
        demo_subject: args.demo_subject,
        regions: args.regions.clone(),
        crosshair: None,
    };
    Ok(run_native(startup)?)
}
