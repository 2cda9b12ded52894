//! The command line: argument definitions and dispatch. Each subcommand is a
//! thin layer in its own file over the library.

pub mod atlas;
pub mod attribute;
pub mod bench;
pub mod checkpoint;
pub mod dataset;
pub mod experiment;
pub mod finetune;
pub mod info;
pub mod model;
pub mod prepare;
pub mod pretrain;
pub mod reconstruct;
pub mod render;
pub mod runs;
pub mod synth;
pub mod view;

use clap::{Parser, Subcommand};

/// ROI-MAE Studio: region-aware masked autoencoder pretraining for 4D fMRI.
///
/// Run without a subcommand to open the desktop app.
#[derive(Debug, Parser)]
#[command(name = "roimae", version, about, long_about = None)]
pub struct Cli {
    /// What to do; none opens the GUI.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show a NIfTI file's shape, type, voxel sizes, affine, orientation, TR
    /// and value statistics (as nibabel would report them).
    Info(info::InfoArgs),
    /// Summarise the built-in AAL3 atlas on a grid: voxels and tokens per
    /// region and lobe, regions lost at token level, left/right check.
    Atlas(atlas::AtlasArgs),
    /// Inspect datasets: `roimae dataset scan PATH` lists subjects, runs,
    /// labels, sites and problems (BIDS, fMRIPrep, ADHD-200, folder + CSV).
    Dataset(dataset::DatasetArgs),
    /// Preprocess a dataset into a clip cache (MNI grid, z-score, clips).
    Prepare(prepare::PrepareArgs),
    /// Write a synthetic BIDS cohort with planted regional effects.
    Synth(synth::SynthArgs),
    /// Show a model preset's stages and exact parameter counts.
    Model(model::ModelArgs),
    /// Measure selective-scan and MAE training throughput (CPU or GPU).
    Bench(bench::BenchArgs),
    /// Pretrain the masked autoencoder: `--config run.toml`, `--demo`, or
    /// `--resume RUN_DIR`.
    Pretrain(pretrain::PretrainArgs),
    /// NeuroSTORM checkpoints: `import CKPT --out RUN_DIR`, `export RUN_DIR
    /// --format neurostorm|safetensors --out FILE`, `inspect CKPT`.
    Checkpoint(checkpoint::CheckpointArgs),
    /// One masked forward pass of a checkpoint on a clip and token mask
    /// (NeuroSTORM's pred and latent into an .npz).
    Reconstruct(reconstruct::ReconstructArgs),
    /// Summarise training run folders: `roimae runs list DIR`.
    Runs(runs::RunsArgs),
    /// Fine-tune a pretrained encoder for diagnosis (frozen + linear head,
    /// or `--full`) and report subject-level metrics.
    Finetune(finetune::FinetuneArgs),
    /// Region attribution of a pretrained model (occlusion ΔMSE per AAL3
    /// region and lobe) as CSV and a NIfTI map.
    Attribute(attribute::AttributeArgs),
    /// The paper's experiment: pretrain every masking strategy × seed,
    /// fine-tune each frozen encoder, attribute; `results.csv`/`results.md`.
    Experiment(experiment::ExperimentArgs),
    /// Open the desktop viewer on a NIfTI file (or the built-in demo).
    View(view::ViewArgs),
    /// Draw the viewer off screen to a PNG (same layout and shaders).
    Render(render::RenderArgs),
}

/// Runs a parsed command line; errors are for the user (exit code 2).
pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Some(Command::Info(args)) => info::run(&args),
        Some(Command::Atlas(args)) => atlas::run(&args),
        Some(Command::Dataset(args)) => dataset::run(&args),
        Some(Command::Prepare(args)) => prepare::run(&args),
        Some(Command::Synth(args)) => synth::run(&args),
        Some(Command::Model(args)) => model::run(&args),
        Some(Command::Bench(args)) => bench::run(&args),
        Some(Command::Pretrain(args)) => pretrain::run(&args),
        Some(Command::Checkpoint(args)) => checkpoint::run(&args),
        Some(Command::Reconstruct(args)) => reconstruct::run(&args),
        Some(Command::Runs(args)) => runs::run(&args),
        Some(Command::Finetune(args)) => finetune::run(&args),
        Some(Command::Attribute(args)) => attribute::run(&args),
        Some(Command::Experiment(args)) => experiment::run(&args),
        Some(Command::View(args)) => view::run(&args),
        Some(Command::Render(args)) => render::run(&args),
        None => view::run(&view::ViewArgs::default()),
    }
}
