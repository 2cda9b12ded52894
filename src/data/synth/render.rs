//! Turning a subject's region time courses into voxels: each brain voxel is
//! its baseline times (1 + its region's signal weighted by grey matter +
//! the motion-like drift at its position), plus spatially smoothed thermal
//! noise, then the site's scale and offset, rounded to whole scanner units
//! (like the integers a scanner writes; it also makes the files a third
//! smaller). Background stays exactly 0.
//! Frames are rendered in parallel; each frame's noise has its own random
//! stream, so the result does not depend on the number of threads.

use super::anatomy::Anatomy;
use super::assignment::Scanner;
use super::drift::Drift;
use super::random::{Purpose, fast_normal, stream};
use super::signal::SubjectSignals;
use super::smooth::{Scratch, WHITE_NOISE_SD_AFTER_SMOOTHING, smooth_binomial};

/// Smallest value a brain voxel may take, so brain never reads as background.
pub(super) const MIN_BRAIN_VALUE: f32 = 1.0;

/// The box around the brain (one voxel of margin) in which noise is
/// smoothed, and where each brain voxel sits in it.
#[derive(Debug, Clone, PartialEq)]
pub struct NoiseBox {
    /// Voxel counts of the box.
    pub dims: [usize; 3],
    /// Per brain voxel: its linear index inside the box.
    pub slots: Vec<usize>,
}

impl NoiseBox {
    /// The box of `anatomy`'s brain.
    pub fn new(anatomy: &Anatomy) -> NoiseBox {
        let grid = &anatomy.grid;
        let mut lo = grid.dims;
        let mut hi = [0usize; 3];
        for &index in &anatomy.brain {
            let ijk = grid.ijk(index);
            for a in 0..3 {
                lo[a] = lo[a].min(ijk[a]);
                hi[a] = hi[a].max(ijk[a]);
            }
        }
        if anatomy.is_empty() {
            return NoiseBox {
                dims: [1, 1, 1],
                slots: Vec::new(),
            };
        }
        let lo = lo.map(|v| v.saturating_sub(1));
        let dims = [0, 1, 2].map(|a| (hi[a] + 2).min(grid.dims[a]) - lo[a]);
        let slots = anatomy
            .brain
            .iter()
            .map(|&index| {
                let [i, j, k] = grid.ijk(index);
                (i - lo[0]) + dims[0] * ((j - lo[1]) + dims[1] * (k - lo[2]))
            })
            .collect();
        NoiseBox { dims, slots }
    }
}

/// Everything that goes into one subject's voxels.
pub struct Renderer<'a> {
    /// The brain.
    pub anatomy: &'a Anatomy,
    /// Its noise box.
    pub noise_box: &'a NoiseBox,
    /// Region time courses (fractions of baseline).
    pub signals: &'a SubjectSignals,
    /// Motion-like drift.
    pub drift: &'a Drift,
    /// The site's scanner.
    pub scanner: Scanner,
    /// Cohort seed.
    pub seed: u64,
    /// Subject index (names the noise streams).
    pub index: usize,
}

impl Renderer<'_> {
    /// All frames in NIfTI order (x fastest, then y, z, t).
    pub fn render(&self, frames: usize) -> Vec<f32> {
        let n = self.anatomy.grid.n_voxels();
        let mut data = vec![0.0f32; n * frames];
        if n == 0 || frames == 0 {
            return data;
        }
        let threads = std::thread::available_parallelism()
            .map_or(1, |p| p.get())
            .clamp(1, 8)
            .min(frames);
        let frames_per_thread = frames.div_ceil(threads);
        std::thread::scope(|scope| {
            for (chunk, block) in data.chunks_mut(n * frames_per_thread).enumerate() {
                scope.spawn(move || {
                    let mut noise = Vec::new();
                    let mut scratch = Scratch::default();
                    for (offset, frame) in block.chunks_exact_mut(n).enumerate() {
                        let t = chunk * frames_per_thread + offset;
                        self.render_frame(t, frame, &mut noise, &mut scratch);
                    }
                });
            }
        });
        data
    }

    fn render_frame(
        &self,
        t: usize,
        frame: &mut [f32],
        noise: &mut Vec<f32>,
        scratch: &mut Scratch,
    ) {
        let a = self.anatomy;
        let [bx, by, bz] = self.noise_box.dims;
        noise.clear();
        noise.resize(bx * by * bz, 0.0);
        let mut rng = stream(self.seed, Purpose::Noise, &[self.index as u64, t as u64]);
        for &slot in &self.noise_box.slots {
            noise[slot] = fast_normal(&mut rng);
        }
        smooth_binomial(noise, self.noise_box.dims, scratch);
        let noise_gain = self.scanner.noise / WHITE_NOISE_SD_AFTER_SMOOTHING;
        let global = &self.signals.by_label[0];
        for (v, &index) in a.brain.iter().enumerate() {
            let course = self
                .signals
                .by_label
                .get(a.labels[v] as usize)
                .filter(|c| !c.is_empty())
                .unwrap_or(global);
            let relative = 1.0
                + a.signal_weight[v] * course[t]
                + self.drift.at(t, a.position[v])
                + noise_gain * noise[self.noise_box.slots[v]];
            let value = a.baseline[v] * relative * self.scanner.scale + self.scanner.offset;
            frame[index] = value.round().max(MIN_BRAIN_VALUE);
        }
    }
}
