//! A cohort's fixed parts — anatomy on the grid, region loadings, the
//! planted effect — prepared once, and the subjects made from them (a
//! patient's planted voxels are balanced against its matched control so
//! the global moments carry no label: see `balance.rs`).

use super::anatomy::Anatomy;
use super::assignment::{Scanner, diagnosis, site_index, site_name, subject_id};
use super::balance::match_planted_moments;
use super::config::SynthConfig;
use super::drift::Drift;
use super::networks::{RegionLoading, cohort_loadings};
use super::render::{NoiseBox, Renderer};
use super::signal::{PlantedEffect, SignalModel};
use crate::atlas::Atlas;
use crate::volume::{Volume, VolumeMeta};
use std::collections::BTreeMap;

/// One generated subject.
#[derive(Debug, Clone, PartialEq)]
pub struct SyntheticSubject {
    /// Subject id without the `sub-` prefix, e.g. `01`.
    pub id: String,
    /// 0 = control, 1 = patient (carries the planted effect).
    pub diagnosis: u32,
    /// Acquisition site, e.g. `site1`.
    pub site: String,
    /// The 4D float32 run on the configured MNI grid.
    pub volume: Volume,
}

/// What every subject of a cohort shares.
pub struct CohortModel {
    cfg: SynthConfig,
    anatomy: Anatomy,
    noise_box: NoiseBox,
    loadings: BTreeMap<u16, RegionLoading>,
    effect: PlantedEffect,
    /// Grid indices of the brain voxels labelled with an effect region.
    planted_voxels: Vec<usize>,
}

impl CohortModel {
    /// Prepares the cohort of `cfg` with `atlas`'s regions. Effect regions
    /// the atlas does not know plant nothing ([`SynthConfig::validate`]
    /// reports them).
    pub fn new(cfg: &SynthConfig, atlas: &Atlas) -> CohortModel {
        let anatomy = Anatomy::new(cfg.grid, atlas);
        let noise_box = NoiseBox::new(&anatomy);
        let effect = PlantedEffect {
            regions: cfg
                .effect_regions
                .resolve(&atlas.regions)
                .unwrap_or_default(),
            size: if cfg.effect_size.is_finite() {
                cfg.effect_size.max(0.0)
            } else {
                0.0
            },
        };
        let planted_voxels = anatomy
            .brain
            .iter()
            .zip(&anatomy.labels)
            .filter(|(_, l)| effect.regions.contains(l))
            .map(|(&i, _)| i)
            .collect();
        CohortModel {
            cfg: cfg.clone(),
            planted_voxels,
            anatomy,
            noise_box,
            loadings: cohort_loadings(&atlas.regions, cfg.seed),
            effect,
        }
    }

    /// The planted effect (its regions are the ground truth).
    pub fn effect(&self) -> &PlantedEffect {
        &self.effect
    }

    /// Subject `index` (0-based).
    pub fn subject(&self, index: usize) -> SyntheticSubject {
        let cfg = &self.cfg;
        let frames = cfg.frames.max(1);
        let tr = if cfg.tr.is_finite() && cfg.tr > 0.0 {
            cfg.tr
        } else {
            SynthConfig::default().tr
        };
        let diagnosis = diagnosis(index, cfg.sites);
        let site = site_index(index, cfg.sites);
        let model = SignalModel {
            loadings: &self.loadings,
            effect: &self.effect,
            frames,
            tr,
            seed: cfg.seed,
        };
        let drift = Drift::draw(cfg.seed, index, frames, tr);
        let render = |signals: &_| {
            Renderer {
                anatomy: &self.anatomy,
                noise_box: &self.noise_box,
                signals,
                drift: &drift,
                scanner: Scanner::of_site(cfg.seed, site),
                seed: cfg.seed,
                index,
            }
            .render(frames)
        };
        let mut data = render(&model.subject(index, diagnosis));
        if diagnosis == 1 && self.effect.size > 0.0 && !self.planted_voxels.is_empty() {
            // The same subject without the effect: its global moments.
            let control = render(&model.subject(index, 0));
            match_planted_moments(
                &mut data,
                &control,
                &self.planted_voxels,
                self.anatomy.grid.n_voxels(),
                frames,
            );
        }
        let grid = self.anatomy.grid;
        let mut meta = VolumeMeta::new_f32(&grid, frames, Some(tr), true);
        meta.description = format!("roimae synth seed {}", cfg.seed);
        SyntheticSubject {
            id: subject_id(index, cfg.subjects),
            diagnosis,
            site: site_name(site),
            volume: Volume::from_data(grid, frames, data, meta),
        }
    }
}
