//! A subject's BOLD time courses, one per AAL3 region: correlated network
//! drives and each region's own fluctuation, made as autoregressive neural
//! activity on a fine time grid, convolved with the canonical HRF and
//! sampled at the TR. Patients get the planted effect in the effect regions
//! only: those regions partly trade their network and own fluctuations for
//! a rhythm they share (altered connectivity: more alike among themselves,
//! less like their networks), and fluctuate more strongly (higher amplitude
//! of low-frequency fluctuation).

use super::hrf::{HRF_SECONDS, convolve, sampled_hrf};
use super::networks::{NETWORK_COUNT, RegionLoading, correlation_factor};
use super::random::{Purpose, normal, stream};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use std::collections::{BTreeMap, BTreeSet};

/// Finest step of the neural simulation, in seconds.
const MAX_MICRO_STEP_S: f64 = 0.5;
/// Correlation time of the neural activity, in seconds.
const NEURAL_TIME_CONSTANT_S: f64 = 1.5;
/// Standard deviation of the global signal in unlabelled brain tissue, as a
/// fraction of the baseline.
const GLOBAL_AMPLITUDE: f64 = 0.004;
/// Subjects' overall fluctuation amplitude varies by up to this fraction.
const SUBJECT_AMPLITUDE_SPREAD: f64 = 0.15;
/// Amplitude gain per unit of effect size.
const AMPLITUDE_GAIN_PER_UNIT: f64 = 0.5;

/// The planted difference between patients and controls.
#[derive(Debug, Clone, PartialEq)]
pub struct PlantedEffect {
    /// Label ids of the regions where patients differ.
    pub regions: BTreeSet<u16>,
    /// Strength; 0 plants nothing.
    pub size: f64,
}

impl PlantedEffect {
    /// The amplitude gain of patients' effect regions.
    pub fn amplitude_gain(&self) -> f64 {
        1.0 + AMPLITUDE_GAIN_PER_UNIT * self.size
    }

    /// The share of variance patients' effect regions take from the aberrant
    /// shared rhythm instead of their networks and own fluctuation:
    /// size / (1 + size), so one half at size 1.
    pub fn coupling_shift(&self) -> f64 {
        self.size / (1.0 + self.size)
    }
}

/// A subject's time courses as fractions of the baseline signal.
#[derive(Debug, Clone, PartialEq)]
pub struct SubjectSignals {
    /// Indexed by label id: the region's time course (empty for ids without
    /// a region); entry 0 is the global signal of unlabelled brain tissue.
    pub by_label: Vec<Vec<f32>>,
}

/// How the time courses of one subject are simulated.
pub struct SignalModel<'a> {
    /// Cohort-wide loadings of every region.
    pub loadings: &'a BTreeMap<u16, RegionLoading>,
    /// The planted effect.
    pub effect: &'a PlantedEffect,
    /// Frames per run.
    pub frames: usize,
    /// Repetition time in seconds.
    pub tr: f64,
    /// Cohort seed.
    pub seed: u64,
}

impl SignalModel<'_> {
    /// The time courses of subject `index` with diagnosis `diagnosis`.
    pub fn subject(&self, index: usize, diagnosis: u32) -> SubjectSignals {
        let mut rng = stream(self.seed, Purpose::Neural, &[index as u64]);
        let timing = Timing::new(self.tr, self.frames);
        let subject_gain = 1.0 + SUBJECT_AMPLITUDE_SPREAD * rng.random_range(-1.0..=1.0);

        let factor = correlation_factor();
        let independent: Vec<Vec<f64>> = (0..NETWORK_COUNT)
            .map(|_| timing.neural_activity(&mut rng))
            .collect();
        let networks: Vec<Vec<f64>> = factor
            .iter()
            .map(|row| {
                let drive: Vec<f64> = (0..timing.micro_len())
                    .map(|s| (0..NETWORK_COUNT).map(|j| row[j] * independent[j][s]).sum())
                    .collect();
                timing.bold(&drive)
            })
            .collect();
        let aberrant = timing.bold(&timing.neural_activity(&mut rng));

        let max_id = self.loadings.keys().max().copied().unwrap_or(0) as usize;
        let mut by_label = vec![Vec::new(); max_id + 1];
        let global: Vec<f64> = (0..self.frames)
            .map(|t| networks.iter().map(|n| n[t]).sum::<f64>())
            .collect();
        by_label[0] = to_fraction(&standardised(&global), GLOBAL_AMPLITUDE * subject_gain);

        let patient = diagnosis == 1 && self.effect.size > 0.0;
        for (&id, loading) in self.loadings {
            // Drawn for every region, patient or not, so the streams stay aligned.
            let own = timing.bold(&timing.neural_activity(&mut rng));
            let planted = patient && self.effect.regions.contains(&id);
            let (shift, gain) = if planted {
                (self.effect.coupling_shift(), self.effect.amplitude_gain())
            } else {
                (0.0, 1.0)
            };
            let course: Vec<f64> = (0..self.frames)
                .map(|t| {
                    let normal = loading.home_weight * networks[loading.home.index()][t]
                        + loading.second_weight * networks[loading.second.index()][t]
                        + loading.own_weight * own[t];
                    (1.0 - shift).sqrt() * normal + shift.sqrt() * aberrant[t]
                })
                .collect();
            if let Some(slot) = by_label.get_mut(id as usize) {
                *slot = to_fraction(&course, loading.amplitude * subject_gain * gain);
            }
        }
        SubjectSignals { by_label }
    }
}

/// The fine time grid of the neural simulation and its HRF.
struct Timing {
    /// Fine steps per TR.
    per_tr: usize,
    /// Fine steps simulated before the first frame, so the HRF has settled.
    burn_in: usize,
    /// Frames per run.
    frames: usize,
    /// AR(1) coefficient of the neural activity per fine step.
    phi: f64,
    /// The HRF sampled on the fine grid.
    kernel: Vec<f64>,
}

impl Timing {
    fn new(tr: f64, frames: usize) -> Self {
        let per_tr = ((tr / MAX_MICRO_STEP_S).ceil() as usize).max(1);
        let dt = tr / per_tr as f64;
        Timing {
            per_tr,
            burn_in: (HRF_SECONDS / dt).ceil() as usize,
            frames,
            phi: (-dt / NEURAL_TIME_CONSTANT_S).exp(),
            kernel: sampled_hrf(dt),
        }
    }

    fn micro_len(&self) -> usize {
        self.burn_in + self.frames * self.per_tr
    }

    /// Unit-variance AR(1) neural activity on the fine grid.
    fn neural_activity(&self, rng: &mut ChaCha8Rng) -> Vec<f64> {
        let innovation = (1.0 - self.phi * self.phi).sqrt();
        let mut x = normal(rng);
        (0..self.micro_len())
            .map(|_| {
                x = self.phi * x + innovation * normal(rng);
                x
            })
            .collect()
    }

    /// Neural activity on the fine grid as a standardised BOLD time course,
    /// one value per frame.
    fn bold(&self, neural: &[f64]) -> Vec<f64> {
        let response = convolve(neural, &self.kernel);
        let sampled: Vec<f64> = (0..self.frames)
            .map(|t| response[self.burn_in + t * self.per_tr])
            .collect();
        standardised(&sampled)
    }
}

/// `x` with mean 0 and standard deviation 1 (unchanged when constant).
fn standardised(x: &[f64]) -> Vec<f64> {
    let n = x.len().max(1) as f64;
    let mean = x.iter().sum::<f64>() / n;
    let sd = (x.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n).sqrt();
    let scale = if sd > 0.0 { 1.0 / sd } else { 1.0 };
    x.iter().map(|v| (v - mean) * scale).collect()
}

fn to_fraction(x: &[f64], amplitude: f64) -> Vec<f32> {
    x.iter().map(|v| (v * amplitude) as f32).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::synth::config::aal3_regions;
    use crate::data::synth::networks::cohort_loadings;

    fn correlation(a: &[f32], b: &[f32]) -> f64 {
        let mean = |x: &[f32]| x.iter().map(|&v| v as f64).sum::<f64>() / x.len() as f64;
        let (ma, mb) = (mean(a), mean(b));
        let mut sab = 0.0;
        let mut saa = 0.0;
        let mut sbb = 0.0;
        for (&x, &y) in a.iter().zip(b) {
            let (dx, dy) = (x as f64 - ma, y as f64 - mb);
            sab += dx * dy;
            saa += dx * dx;
            sbb += dy * dy;
        }
        sab / (saa * sbb).sqrt()
    }

    fn sd(x: &[f32]) -> f64 {
        let m = x.iter().map(|&v| v as f64).sum::<f64>() / x.len() as f64;
        (x.iter().map(|&v| (v as f64 - m).powi(2)).sum::<f64>() / x.len() as f64).sqrt()
    }

    #[test]
    fn homologous_regions_share_their_network_and_patients_differ_only_where_planted() {
        let table = aal3_regions();
        let loadings = cohort_loadings(&table, 0);
        let hippocampus = table.by_name("Hippocampus_L").unwrap().id;
        let calcarine_l = table.by_name("Calcarine_L").unwrap().id;
        let calcarine_r = table.by_name("Calcarine_R").unwrap().id;
        let effect = PlantedEffect {
            regions: [hippocampus].into(),
            size: 2.0,
        };
        let model = SignalModel {
            loadings: &loadings,
            effect: &effect,
            frames: 400,
            tr: 2.0,
            seed: 0,
        };
        let control = model.subject(5, 0);
        let patient = model.subject(5, 1);
        let r = correlation(
            &control.by_label[calcarine_l as usize],
            &control.by_label[calcarine_r as usize],
        );
        assert!(r > 0.4, "homologous regions correlate {r}");
        for (id, (c, p)) in control.by_label.iter().zip(&patient.by_label).enumerate() {
            if id as u16 != hippocampus {
                assert_eq!(c, p, "label {id} must not change");
            }
        }
        let ratio = sd(&patient.by_label[hippocampus as usize])
            / sd(&control.by_label[hippocampus as usize]);
        let expected = effect.amplitude_gain();
        assert!(
            (ratio / expected - 1.0).abs() < 0.2,
            "ratio {ratio}, gain {expected}"
        );
    }
}
