//! What a fine-tuning reads before it trains anything: the device (in its
//! autodiff and plain forms), the labelled clips (`[finetune] data`, else
//! the pretraining run's) split by subject, the clip shape and the subjects
//! pretraining read. Shared by fine-tuning, integrated gradients and the
//! inductive experiment (which needs the test subjects before pretraining).

use super::EvalError;
use super::features::ClipShape;
use super::fit::{self, Labels, Sets, Task};
use super::ft_config::FinetuneConfig;
use super::pretrained;
use crate::atlas::Atlas;
use crate::data::split::Split;
use crate::train::data::TrainData;
use crate::train::subject_split::PretrainingSplit;
use crate::train::{DeviceChoice, RunConfig, device};
use burn::prelude::Device;
use std::path::Path;

/// The device chosen, in both forms.
pub struct Devices {
    /// The choice and its report.
    pub picked: device::PickedDevice,
    /// Its autodiff form (training).
    pub ad: Device,
    /// Its plain form (inference).
    pub plain: Device,
}

impl Devices {
    /// Picks the device and logs the notes about the choice.
    pub fn pick(choice: DeviceChoice, log: &mut dyn FnMut(String)) -> Result<Devices, EvalError> {
        let picked = device::pick(choice)?;
        for note in &picked.notes {
            log(note.clone());
        }
        let ad = picked.device.clone();
        let plain = ad.clone().without_autodiff();
        Ok(Devices { picked, ad, plain })
    }
}

/// The labelled clips of a fine-tuning, split by subject.
pub struct LabelledSplit {
    /// The clips.
    pub data: TrainData,
    /// Subject of every clip.
    pub subjects: Vec<String>,
    /// Label of every clip.
    pub labels: Vec<Option<u32>>,
    /// Subjects per split.
    pub split: Split,
    /// Clips per split.
    pub sets: Sets,
    /// Number of classes.
    pub classes: usize,
}

impl LabelledSplit {
    /// The clips, sets and classes as a fit's task.
    pub fn task(&self) -> Task<'_> {
        Task {
            clips: Labels {
                subjects: &self.subjects,
                labels: &self.labels,
            },
            sets: &self.sets,
            classes: self.classes,
        }
    }

    /// Every clip of the three sets (train, val, test, in that order).
    pub fn all_clips(&self) -> Vec<usize> {
        [&self.sets.train, &self.sets.val, &self.sets.test]
            .into_iter()
            .flatten()
            .copied()
            .collect()
    }
}

/// Loads the data fine-tuning of a run with config `run_cfg` reads
/// (`cfg.data`, else the run's) and splits its labelled clips by subject —
/// what an inductive experiment calls before pretraining to know the test
/// subjects to keep out.
pub fn labelled_split(
    run_cfg: &RunConfig,
    cfg: &FinetuneConfig,
    log: &mut dyn FnMut(String),
) -> Result<LabelledSplit, EvalError> {
    let data_cfg = RunConfig {
        data: cfg.data.clone().unwrap_or_else(|| run_cfg.data.clone()),
        batch_size: 1,
        ..run_cfg.clone()
    };
    let atlas = Atlas::aal3()?;
    let data = TrainData::load(&data_cfg, &atlas)?;
    log(format!("data: {}", data.description));
    let source = data.source.as_ref();
    let subjects: Vec<String> = (0..source.len())
        .map(|i| source.info(i).subject.clone())
        .collect();
    let labels: Vec<Option<u32>> = (0..source.len()).map(|i| source.info(i).label).collect();
    let unlabelled = labels.iter().filter(|l| l.is_none()).count();
    if unlabelled > 0 {
        log(format!("{unlabelled} clips without a label are left out"));
    }
    let (split, sets, classes) = fit::split_labelled(
        &Labels {
            subjects: &subjects,
            labels: &labels,
        },
        cfg,
    )?;
    log(format!(
        "{classes} classes; subjects train/val/test {}/{}/{}, clips {}/{}/{}",
        split.train.len(),
        split.val.len(),
        split.test.len(),
        sets.train.len(),
        sets.val.len(),
        sets.test.len()
    ));
    Ok(LabelledSplit {
        data,
        subjects,
        labels,
        split,
        sets,
        classes,
    })
}

/// Everything a fine-tuning of a run starts from.
pub struct Prepared {
    /// The pretraining run's config.
    pub run_cfg: RunConfig,
    /// The device.
    pub devices: Devices,
    /// The labelled clips and their split.
    pub labelled: LabelledSplit,
    /// The model input's shape.
    pub shape: ClipShape,
    /// The subjects pretraining read (`None`: the run has no `split.json`).
    pub pretraining: Option<PretrainingSplit>,
}

/// Checks the config and the run folder, picks the device, loads the
/// run's config and data (or `cfg.data`), and splits the labelled clips by
/// subject as fine-tuning does.
pub fn prepare(
    run_dir: &Path,
    cfg: &FinetuneConfig,
    log: &mut dyn FnMut(String),
) -> Result<Prepared, EvalError> {
    cfg.validate()?;
    let run_cfg = pretrained::load_run_config(run_dir)?;
    pretrained::pick_checkpoint(run_dir, cfg.checkpoint)?;
    let devices = Devices::pick(cfg.device, log)?;
    let labelled = labelled_split(&run_cfg, cfg, log)?;
    let shape = ClipShape {
        input: labelled.data.geometry.input,
        frames: run_cfg.model()?.frames,
    };
    let pretraining = PretrainingSplit::load(run_dir)?;
    Ok(Prepared {
        run_cfg,
        devices,
        labelled,
        shape,
        pretraining,
    })
}
