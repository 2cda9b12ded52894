//! What a training run reports while it runs: typed events sent from the
//! worker thread to whoever watches (the CLI progress bar, the GUI
//! dashboard).

use super::error::TrainError;
use super::evaluate::RegionLoss;
use crate::volume::Volume;
use std::path::PathBuf;
use std::sync::Arc;

/// One thing that happened in a run.
#[derive(Debug, Clone)]
pub enum TrainEvent {
    /// The run is set up and about to take its first step.
    Started {
        /// The device, in words (e.g. `cpu (flex)`, `wgpu: NVIDIA H100`).
        device: String,
        /// Model parameters.
        params: usize,
        /// Training clips.
        train_clips: usize,
        /// Validation clips.
        val_clips: usize,
        /// Optimiser steps per epoch.
        steps_per_epoch: usize,
        /// Steps the run will take in all.
        total_steps: usize,
        /// The run folder.
        run_dir: PathBuf,
        /// The checkpoint step a resumed run continues from.
        resumed_from: Option<usize>,
    },
    /// One optimiser step finished (`step` counts from 1).
    Step {
        /// Steps done.
        step: usize,
        /// Epoch of this step (0-based).
        epoch: usize,
        /// Masked MSE of the batch.
        loss: f64,
        /// Learning rate used.
        lr: f64,
        /// Recent training speed.
        steps_per_s: f64,
        /// Share of its time the data loader spent waiting for room in its
        /// queue (1 = the trainer never waits for data).
        loader_idle_fraction: f64,
        /// Seconds since the run first started (resumes included).
        wall_s: f64,
    },
    /// Validation over all validation clips.
    Validation {
        /// Steps done.
        step: usize,
        /// Epoch.
        epoch: usize,
        /// Masked MSE over the validation clips.
        loss: f64,
        /// Masked MSE restricted to each lobe's voxels (lobes with any masked voxel).
        per_lobe: Vec<(String, f64)>,
        /// Masked MSE restricted to each region's voxels (regions with any
        /// masked voxel).
        per_region: Vec<RegionLoss>,
        /// Wall time.
        wall_s: f64,
    },
    /// A validation clip's reconstruction.
    Preview(Box<Preview>),
    /// A checkpoint was written.
    Checkpoint {
        /// Its step.
        step: usize,
        /// Its folder.
        path: PathBuf,
        /// Whether it has the best validation loss so far.
        best: bool,
    },
    /// A line for the log.
    Log(String),
    /// The run ended normally or by a graceful stop / abort.
    Finished {
        /// Steps done.
        step: usize,
        /// Ended early on request (stop or abort).
        stopped: bool,
        /// Best validation loss seen.
        best_val: Option<f64>,
    },
    /// The run failed: the error, which says in one line why and what to do.
    Failed(Arc<TrainError>),
}

/// A validation clip: input, masked input and reconstruction as 4D volumes
/// (all frames) on the model input cube, placed in MNI world space so they
/// overlay on the template and atlas.
#[derive(Debug, Clone)]
pub struct Preview {
    /// Steps done.
    pub step: usize,
    /// The frame to show first.
    pub frame: usize,
    /// The (z-scored) clip.
    pub original: Volume,
    /// The clip as the model saw it: masked voxels set to the clip minimum.
    pub masked: Volume,
    /// The model's reconstruction.
    pub reconstruction: Volume,
    /// Where the loss is: 1 at masked voxels, 0 elsewhere (every frame).
    pub mask: Volume,
}

impl Preview {
    /// Whether voxel `i` (index into the volumes' data) is masked.
    pub fn is_masked(&self, i: usize) -> bool {
        self.mask.data.get(i).is_some_and(|&m| m > 0.5)
    }
}
