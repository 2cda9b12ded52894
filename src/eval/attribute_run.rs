//! Attribution of a pretraining run folder: loads the model from its best
//! (else last) checkpoint, or its last on request, and the run's own data and validation split, and
//! runs region occlusion on validation clips (base masks: the reference
//! window mask with the validation mask ids); the map is on the model input
//! cube with the world affine the preview volumes use.

use super::attribution::{MaeReconstructor, Occlusion, RegionScore, occlusion, region_map};
use super::pretrained::{self, CheckpointChoice, PretrainedInfo};
use crate::atlas::Atlas;
use crate::masking::{MaskSpec, Masker};
use crate::train::data::TrainData;
use crate::train::evaluate::val_mask_id;
use crate::train::{DeviceChoice, device};
use crate::volume::Volume;
use std::collections::BTreeMap;
use std::path::Path;

/// Options of a run's attribution.
#[derive(Debug, Clone, PartialEq)]
pub struct AttributeOptions {
    /// Validation clips used per subject (their scores are averaged).
    pub clips_per_subject: usize,
    /// Masks per forward pass.
    pub batch: usize,
    /// Where to compute.
    pub device: DeviceChoice,
    /// Which checkpoint of the run.
    pub checkpoint: CheckpointChoice,
}

impl Default for AttributeOptions {
    fn default() -> Self {
        AttributeOptions {
            clips_per_subject: 1,
            batch: 8,
            device: DeviceChoice::Auto,
            checkpoint: CheckpointChoice::Best,
        }
    }
}

/// A run's occlusion result with its map.
#[derive(Debug, Clone)]
pub struct RunAttribution {
    /// Scores per region and lobe.
    pub occlusion: Occlusion,
    /// Region scores painted on the input cube (3D, world-placed).
    pub map: Volume,
    /// The checkpoint used.
    pub pretrained: PretrainedInfo,
}

impl RunAttribution {
    /// Region scores, highest first (what the GUI's bar chart draws).
    pub fn region_scores(&self) -> &[RegionScore] {
        &self.occlusion.regions
    }
}

/// Region occlusion for the run in `run_dir` on its validation subjects.
pub fn attribute_run(
    run_dir: &Path,
    opts: &AttributeOptions,
    log: &mut dyn FnMut(String),
) -> Result<RunAttribution, String> {
    pretrained::load_run_config(run_dir)?;
    pretrained::pick_checkpoint(run_dir, opts.checkpoint)?;
    let picked = device::pick(opts.device)?;
    for note in &picked.notes {
        log(note.clone());
    }
    let plain = picked.device.clone().without_autodiff();
    let (cfg, mae, info) = pretrained::load_mae(run_dir, opts.checkpoint, &plain)?;
    log(format!(
        "model from {} ({} checkpoint, step {})",
        info.checkpoint.display(),
        info.which,
        info.step
    ));
    let atlas = Atlas::aal3().map_err(|e| e.to_string())?;
    let data = TrainData::load(&cfg, &atlas)?;
    let pool = if data.val.is_empty() {
        log("the run has no validation subject; attributing on training clips".into());
        &data.train
    } else {
        &data.val
    };
    let mut taken: BTreeMap<String, usize> = BTreeMap::new();
    let frames = cfg.model()?.frames;
    let base = Masker::new(&MaskSpec::default(), &data.labels, &atlas.regions, frames)?;
    let mut clips = Vec::new();
    let mut bases = Vec::new();
    for &i in pool {
        let subject = data.source.info(i).subject.clone();
        let k = taken.entry(subject.clone()).or_default();
        if *k < opts.clips_per_subject.max(1) {
            *k += 1;
            let mut values = Vec::new();
            data.source.read(i, &mut values);
            clips.push((subject, values));
            bases.push(base.mask(val_mask_id(i)));
        }
    }
    log(format!(
        "occlusion on {} clips of {} subjects",
        clips.len(),
        taken.len()
    ));
    let recon = MaeReconstructor {
        model: &mae,
        device: plain,
        batch: opts.batch,
    };
    let occ = occlusion(
        &recon,
        &clips,
        &bases,
        &data.labels,
        &atlas.regions,
        frames,
        log,
    )?;
    let map = region_map(&occ.regions, &data.labels, data.cube_affine);
    Ok(RunAttribution {
        occlusion: occ,
        map,
        pretrained: info,
    })
}
