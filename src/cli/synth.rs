//! `roimae synth --out DIR --subjects N [--grid mni2mm|mni4mm] [--frames T]
//! [--tr S] [--effect-regions limbic,Hippocampus_L] [--effect-size X]
//! [--sites K] [--seed S] [--json]`: writes a synthetic BIDS cohort with a
//! planted regional effect.

use crate::data::synth::{SynthConfig, SynthSummary, write_cohort_with_progress};
use crate::data::{DataError, GridChoice};
use crate::masking::RegionSelection;
use indicatif::{ProgressBar, ProgressStyle};
use std::path::PathBuf;

/// Arguments of `roimae synth`.
#[derive(Debug, clap::Args)]
pub struct SynthArgs {
    /// The dataset folder (created; must be new, empty or an earlier synth output).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Number of subjects, half controls and half patients.
    #[arg(long, value_name = "N", default_value_t = SynthConfig::default().subjects)]
    pub subjects: usize,
    /// The MNI grid of the runs.
    #[arg(long, value_enum, default_value_t = SynthConfig::default().grid)]
    pub grid: GridChoice,
    /// Time points per run.
    #[arg(long, value_name = "T", default_value_t = SynthConfig::default().frames)]
    pub frames: usize,
    /// Repetition time in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = SynthConfig::default().tr)]
    pub tr: f64,
    /// Where patients differ: comma-separated lobe names (frontal, parietal,
    /// temporal, occipital, limbic, subcortical, cerebellum) and/or AAL3
    /// region names (e.g. Hippocampus_L).
    #[arg(
        long,
        value_name = "LIST",
        value_delimiter = ',',
        default_value = "limbic"
    )]
    pub effect_regions: Vec<String>,
    /// Strength of the planted effect; 0 plants none.
    #[arg(long, value_name = "X", default_value_t = SynthConfig::default().effect_size)]
    pub effect_size: f64,
    /// Number of acquisition sites.
    #[arg(long, value_name = "K", default_value_t = SynthConfig::default().sites)]
    pub sites: usize,
    /// Seed of every random draw.
    #[arg(long, value_name = "S", default_value_t = SynthConfig::default().seed)]
    pub seed: u64,
    /// Print the summary as one JSON object.
    #[arg(long)]
    pub json: bool,
}

impl SynthArgs {
    /// The configuration these arguments describe.
    pub fn config(&self) -> SynthConfig {
        SynthConfig {
            subjects: self.subjects,
            grid: self.grid,
            frames: self.frames,
            tr: self.tr,
            effect_regions: RegionSelection::from_names(&self.effect_regions),
            effect_size: self.effect_size,
            sites: self.sites,
            seed: self.seed,
        }
    }
}

/// Runs `roimae synth`.
pub fn run(args: &SynthArgs) -> anyhow::Result<()> {
    let cfg = args.config();
    // Checked before the bar appears, so a bad argument prints just its error.
    cfg.validate()
        .map_err(|e| DataError::InvalidCohort(Box::new(e)))?;
    let bar = ProgressBar::new(cfg.subjects as u64);
    if let Ok(style) = ProgressStyle::with_template("subjects {bar:40} {pos}/{len} {eta}") {
        bar.set_style(style);
    }
    let summary = write_cohort_with_progress(&cfg, &args.out, &mut |done, _| {
        bar.set_position(done as u64)
    });
    bar.finish_and_clear();
    let summary = summary?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        print_text(&summary);
    }
    Ok(())
}

fn print_text(s: &SynthSummary) {
    println!(
        "wrote {} subjects ({} controls, {} patients) from {} site(s) to {}",
        s.subjects,
        s.controls,
        s.patients,
        s.sites,
        s.out.display()
    );
    println!(
        "runs: {} frames at TR {} s on the {} grid; {} files, {:.1} MB",
        s.frames,
        s.tr,
        s.grid.name(),
        s.files_written,
        s.bytes_written as f64 / 1e6
    );
    println!(
        "planted effect (size {}) in {} region(s): {}",
        s.effect_size,
        s.effect_regions.len(),
        s.effect_regions.join(", ")
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lobes_and_region_names_are_told_apart() {
        let items = ["limbic", " Hippocampus_L", "", "Limbic", "cerebellum"].map(String::from);
        let selection = RegionSelection::from_names(&items);
        assert_eq!(
            selection.lobes,
            vec![crate::atlas::Lobe::Limbic, crate::atlas::Lobe::Cerebellum]
        );
        assert_eq!(selection.names, vec!["Hippocampus_L".to_string()]);
    }
}
