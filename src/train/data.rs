//! The clips a run trains on: a [`ClipSource`] over a clip cache or an
//! in-memory synthetic cohort, the subject-level train/validation split and
//! the per-epoch clip order (a pure function of seed and epoch, so a resumed
//! run restarts at the exact clip).

use super::config::{DataConfig, RunConfig, SyntheticData};
use super::error::TrainError;
use crate::atlas::{Atlas, InputLabels, TokenGeometry};
use crate::data::cache::{ClipCache, ClipRef};
use crate::data::preprocess::{PreprocessConfig, preprocess_on_grid};
use crate::data::split::{SplitConfig, split_subjects};
use crate::volume::{Affine, Grid};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use std::sync::Arc;

/// Who a clip belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClipInfo {
    /// Subject id.
    pub subject: String,
    /// Diagnosis label, when known.
    pub label: Option<u32>,
    /// Acquisition site, when known (for leave-one-site-out evaluation).
    pub site: Option<String>,
}

/// Random access to preprocessed clips (`input³ × frames`, t fastest).
pub trait ClipSource: Send + Sync {
    /// Number of clips.
    fn len(&self) -> usize;
    /// Whether there is no clip.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Values per clip.
    fn clip_len(&self) -> usize;
    /// The subject and label of clip `i`.
    fn info(&self, i: usize) -> &ClipInfo;
    /// Decodes clip `i` into `out` (resized to [`ClipSource::clip_len`]).
    fn read(&self, i: usize, out: &mut Vec<f32>);
}

/// Clips held in memory (the synthetic cohort).
pub struct MemoryClips {
    clip_len: usize,
    data: Vec<f32>,
    infos: Vec<ClipInfo>,
}

impl ClipSource for MemoryClips {
    fn len(&self) -> usize {
        self.infos.len()
    }
    fn clip_len(&self) -> usize {
        self.clip_len
    }
    fn info(&self, i: usize) -> &ClipInfo {
        &self.infos[i]
    }
    fn read(&self, i: usize, out: &mut Vec<f32>) {
        out.clear();
        out.extend_from_slice(&self.data[i * self.clip_len..(i + 1) * self.clip_len]);
    }
}

/// Clips of an on-disk cache (memory-mapped f16).
pub struct CacheClips {
    cache: ClipCache,
    refs: Vec<ClipRef>,
    infos: Vec<ClipInfo>,
}

impl CacheClips {
    /// Every clip of an opened cache, with its subject, label and site.
    pub fn new(cache: ClipCache) -> CacheClips {
        let refs = cache.clips(None);
        let infos = refs
            .iter()
            .map(|r| {
                let e = &cache.manifest.entries[r.entry];
                ClipInfo {
                    subject: e.subject.clone(),
                    label: e.label,
                    site: e.site.clone(),
                }
            })
            .collect();
        CacheClips { cache, refs, infos }
    }
}

impl ClipSource for CacheClips {
    fn len(&self) -> usize {
        self.refs.len()
    }
    fn clip_len(&self) -> usize {
        self.cache.clip_len()
    }
    fn info(&self, i: usize) -> &ClipInfo {
        &self.infos[i]
    }
    fn read(&self, i: usize, out: &mut Vec<f32>) {
        self.cache.read(&self.refs[i], out);
    }
}

/// A run's data: the clips, the split, and the model grid they live on.
pub struct TrainData {
    /// All clips.
    pub source: Arc<dyn ClipSource>,
    /// Indices of training clips.
    pub train: Vec<usize>,
    /// Indices of validation clips.
    pub val: Vec<usize>,
    /// Input cube and patching.
    pub geometry: TokenGeometry,
    /// World placement of the input cube (voxel (u, v, w) → mm).
    pub cube_affine: Affine,
    /// AAL3 labels of the input cube.
    pub labels: InputLabels,
    /// Where the clips came from, for the log.
    pub description: String,
}

impl TrainData {
    /// Builds the data of `cfg` (generating or opening it) and splits it.
    pub fn load(cfg: &RunConfig, atlas: &Atlas) -> Result<TrainData, TrainError> {
        let model = cfg.model()?;
        let geometry = cfg.preset.token_geometry();
        let (source, source_grid, description): (Arc<dyn ClipSource>, Grid, String) =
            match &cfg.data {
                DataConfig::Synthetic(s) => {
                    let grid = cfg.preset.source_grid();
                    let clips = synthetic_clips(s, cfg, atlas, geometry, model.frames)?;
                    let text = format!(
                        "synthetic cohort: {} subjects × {} frames on {} → {} clips of {}³×{}",
                        s.subjects,
                        s.frames,
                        grid.name(),
                        clips.len(),
                        geometry.input,
                        model.frames
                    );
                    (Arc::new(clips), grid.grid(), text)
                }
                DataConfig::Cache { path } => {
                    let cache = ClipCache::open(path)?;
                    let pre = &cache.manifest.config;
                    if pre.grid.geometry() != geometry || pre.frames_per_clip != model.frames {
                        return Err(TrainError::CacheMismatch {
                            path: path.clone(),
                            cache_input: pre.grid.geometry().input,
                            cache_frames: pre.frames_per_clip,
                            cache_grid: pre.grid.name().to_string(),
                            preset: cfg.preset.to_string(),
                            input: geometry.input,
                            frames: model.frames,
                        });
                    }
                    let grid = pre.grid.grid();
                    let clips = CacheClips::new(cache);
                    let text = format!("clip cache {} ({} clips)", path.display(), clips.len());
                    (Arc::new(clips), grid, text)
                }
            };
        if source.is_empty() {
            return Err(TrainError::NoClips);
        }
        let model_grid = source_grid.with_voxel_size(geometry.voxel_mm());
        let (train, val) = split(
            source.as_ref(),
            cfg.val_fraction,
            cfg.seed,
            &cfg.exclude_subjects,
        );
        if train.len() < cfg.batch_size {
            return Err(TrainError::TooFewClips {
                clips: train.len(),
                batch_size: cfg.batch_size,
            });
        }
        Ok(TrainData {
            labels: atlas.input_labels(&source_grid, geometry),
            cube_affine: cube_affine(&model_grid, geometry),
            source,
            train,
            val,
            geometry,
            description,
        })
    }
}

/// Splits clips by subject (label-stratified, seeded): (train, val). Clips
/// of `exclude`d subjects are in neither.
pub fn split(
    source: &dyn ClipSource,
    val_fraction: f64,
    seed: u64,
    exclude: &[String],
) -> (Vec<usize>, Vec<usize>) {
    let excluded: std::collections::BTreeSet<&str> = exclude.iter().map(|s| s.as_str()).collect();
    let kept = |i: usize| !excluded.contains(source.info(i).subject.as_str());
    let subjects: Vec<(String, Option<u32>, Option<String>)> = (0..source.len())
        .filter(|&i| kept(i))
        .map(|i| {
            let info = source.info(i);
            (info.subject.clone(), info.label, None)
        })
        .collect();
    let s = split_subjects(
        &subjects,
        &SplitConfig {
            val: val_fraction,
            test: 0.0,
            by_site: false,
            seed,
        },
    );
    let mut val = s.val;
    // Stratified rounding can leave a small cohort with no validation
    // subject (0.2 of 2 per class rounds to 0): keep at least one.
    if val.is_empty() && val_fraction > 0.0 && s.train.len() > 1 {
        val.extend(s.train.last().cloned());
    }
    (0..source.len())
        .filter(|&i| kept(i))
        .partition(|&i| !val.contains(&source.info(i).subject))
}

/// The training clips of `epoch` in order: `train` shuffled with stream
/// `epoch` of the seed.
pub fn epoch_order(train: &[usize], seed: u64, epoch: usize) -> Vec<usize> {
    let mut order = train.to_vec();
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(epoch as u64);
    order.shuffle(&mut rng);
    order
}

/// The affine of the input cube: the model grid's, moved by the crop/pad
/// offset (input voxel u is grid voxel u + offset).
pub fn cube_affine(model_grid: &Grid, geometry: TokenGeometry) -> Affine {
    let n = geometry.input as f64;
    let offset: Vec<f64> = model_grid
        .dims
        .iter()
        .map(|&len| {
            let len = len as f64;
            if len >= n {
                ((len - n) / 2.0).floor()
            } else {
                -((n - len) / 2.0).ceil()
            }
        })
        .collect();
    let mut affine = model_grid.affine;
    let shifted = model_grid.affine.apply([offset[0], offset[1], offset[2]]);
    for (r, v) in shifted.iter().enumerate() {
        affine.0[(r, 3)] = *v;
    }
    affine
}

fn synthetic_clips(
    s: &SyntheticData,
    cfg: &RunConfig,
    atlas: &Atlas,
    geometry: TokenGeometry,
    frames: usize,
) -> Result<MemoryClips, TrainError> {
    let grid = cfg.preset.source_grid();
    let synth = s.synth_config(grid);
    synth
        .validate()
        .map_err(|e| TrainError::config("[data]", e))?;
    let model_grid = grid.grid().with_voxel_size(geometry.voxel_mm());
    let pre = PreprocessConfig {
        frames_per_clip: frames,
        ..PreprocessConfig::default()
    };
    let model = crate::data::synth::CohortModel::new(&synth, atlas);
    let mut data = Vec::new();
    let mut infos = Vec::new();
    for index in 0..s.subjects {
        let subject = model.subject(index);
        let run = preprocess_on_grid(subject.volume, &pre, &model_grid, geometry, None).map_err(
            |source| TrainError::SyntheticSubject {
                subject: subject.id.clone(),
                source,
            },
        )?;
        data.extend_from_slice(&run.clips);
        for _ in 0..run.n_clips {
            infos.push(ClipInfo {
                subject: subject.id.clone(),
                label: Some(subject.diagnosis),
                site: Some(subject.site.clone()),
            });
        }
    }
    Ok(MemoryClips {
        clip_len: geometry.input.pow(3) * frames,
        data,
        infos,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `n` subjects with two clips each, labels alternating.
    fn clips(n: usize) -> MemoryClips {
        MemoryClips {
            clip_len: 1,
            data: vec![0.0; 2 * n],
            infos: (0..2 * n)
                .map(|i| ClipInfo {
                    subject: format!("s{}", i / 2),
                    label: Some((i / 2 % 2) as u32),
                    site: None,
                })
                .collect(),
        }
    }

    #[test]
    fn a_small_cohort_keeps_one_validation_subject_and_splits_by_subject() {
        // 4 subjects, 0.2 per class rounds to none: one subject is moved.
        let source = clips(4);
        let (train, val) = split(&source, 0.2, 7, &[]);
        assert_eq!(val.len(), 2, "both clips of one subject");
        assert_eq!(source.info(val[0]).subject, source.info(val[1]).subject);
        assert_eq!(train.len(), 6);
        assert!(
            train
                .iter()
                .all(|&i| source.info(i).subject != source.info(val[0]).subject)
        );
        // No validation asked: none given.
        let (train, val) = split(&source, 0.0, 7, &[]);
        assert!(val.is_empty() && train.len() == 8);
    }

    #[test]
    fn excluded_subjects_are_neither_trained_nor_validated_on() {
        // 10 subjects × 2 clips; s3 and s8 are the fine-tuning test set.
        let source = clips(10);
        let excluded = ["s3".to_string(), "s8".to_string()];
        let (train, val) = split(&source, 0.25, 7, &excluded);
        let subject = |i: &usize| source.info(*i).subject.clone();
        let seen: std::collections::BTreeSet<String> =
            train.iter().chain(&val).map(subject).collect();
        assert_eq!(seen.len(), 8, "{seen:?}");
        assert!(excluded.iter().all(|s| !seen.contains(s)));
        assert_eq!(train.len() + val.len(), 16, "both clips of the other 8");
        assert!(!val.is_empty());
    }
}
