//! Attribution of a pretraining run folder: loads the model from its best
//! (else last) checkpoint, or its last on request, and the run's own data
//! and validation split, and runs region occlusion on validation clips
//! (base masks: the reference window mask with the validation mask ids);
//! the map is on the model input cube with the world affine the preview
//! volumes use. Also which clips a run's attribution uses (the first few
//! of each subject), shared with integrated gradients.

use super::EvalError;
use super::attribution::{
    MaeReconstructor, Occlusion, RegionScore, masks_per_clip, occlusion, region_map,
};
use super::ft_data::Devices;
use super::pretrained::{self, CheckpointChoice, PretrainedInfo};
use super::progress::Progress;
use crate::atlas::Atlas;
use crate::masking::{MaskSpec, Masker};
use crate::train::DeviceChoice;
use crate::train::data::TrainData;
use crate::train::evaluate::val_mask_id;
use crate::volume::Volume;
use std::collections::{BTreeMap, BTreeSet};
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
    /// Progress in forward batches, and a cancel flag checked before each
    /// (none by default).
    pub progress: Progress,
}

impl Default for AttributeOptions {
    fn default() -> Self {
        AttributeOptions {
            clips_per_subject: 1,
            batch: 8,
            device: DeviceChoice::Auto,
            checkpoint: CheckpointChoice::Best,
            progress: Progress::none(),
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

/// Region occlusion for the run in `run_dir` on its validation subjects;
/// progress counts forward batches, and a cancel through `opts.progress`
/// stops before the next one with [`EvalError::Cancelled`].
pub fn attribute_run(
    run_dir: &Path,
    opts: &AttributeOptions,
    log: &mut dyn FnMut(String),
) -> Result<RunAttribution, EvalError> {
    pretrained::load_run_config(run_dir)?;
    pretrained::pick_checkpoint(run_dir, opts.checkpoint)?;
    let plain = Devices::pick(opts.device, log)?.plain;
    let (cfg, mae, info) = pretrained::load_mae(run_dir, opts.checkpoint, &plain)?;
    log(format!("model from {}", info.describe()));
    let atlas = Atlas::aal3()?;
    let data = TrainData::load(&cfg, &atlas)?;
    let pool = if data.val.is_empty() {
        log("the run has no validation subject; attributing on training clips".into());
        &data.train
    } else {
        &data.val
    };
    let frames = cfg.model()?.frames;
    let base = Masker::new(&MaskSpec::default(), &data.labels, &atlas.regions, frames)?;
    let source = data.source.as_ref();
    let chosen = clips_per_subject(
        pool,
        |i| source.info(i).subject.as_str(),
        opts.clips_per_subject,
    );
    let mut clips = Vec::with_capacity(chosen.len());
    let mut bases = Vec::with_capacity(chosen.len());
    for i in chosen {
        let mut values = Vec::new();
        source.read(i, &mut values);
        clips.push((source.info(i).subject.clone(), values));
        bases.push(base.mask(val_mask_id(i)));
    }
    let subjects: BTreeSet<&str> = clips.iter().map(|(s, _)| s.as_str()).collect();
    log(format!(
        "occlusion on {} clips of {} subjects",
        clips.len(),
        subjects.len()
    ));
    opts.progress.check()?;
    let batch = opts.batch.max(1);
    let per_clip = masks_per_clip(&data.labels, &atlas.regions).div_ceil(batch);
    let counter = opts.progress.counter(clips.len() * per_clip);
    let recon = MaeReconstructor {
        model: &mae,
        device: plain,
        batch,
        counter: Some(&counter),
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

/// The first `per_subject` clips of each subject in `pool`, in pool order.
pub fn clips_per_subject<'s>(
    pool: &[usize],
    subject: impl Fn(usize) -> &'s str,
    per_subject: usize,
) -> Vec<usize> {
    let mut taken: BTreeMap<&str, usize> = BTreeMap::new();
    pool.iter()
        .copied()
        .filter(|&i| {
            let k = taken.entry(subject(i)).or_default();
            *k += 1;
            *k <= per_subject.max(1)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clips_per_subject_keeps_the_first_of_each_subject_in_pool_order() {
        let subjects = ["a", "a", "b", "a", "b", "c"];
        let pool = [5, 0, 1, 2, 3, 4];
        assert_eq!(clips_per_subject(&pool, |i| subjects[i], 1), [5, 0, 2]);
        assert_eq!(
            clips_per_subject(&pool, |i| subjects[i], 2),
            [5, 0, 1, 2, 4]
        );
        // 0 is taken as 1.
        assert_eq!(clips_per_subject(&pool, |i| subjects[i], 0), [5, 0, 2]);
    }
}
