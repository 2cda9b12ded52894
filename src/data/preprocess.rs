//! Turns one fMRI run into model-ready clips, as docs/SPEC-model.md prescribes:
//! resample to the preset's MNI grid (trilinear, world space), optionally
//! resample in time, centre-crop/pad to the input cube, one global z-score
//! over foreground voxels and all frames, background filled with the
//! minimum foreground z, and non-overlapping clips of T frames.

use super::error::DataError;
use super::grid_choice::GridChoice;
use crate::volume::{Interpolation, Volume, resample};
use serde::{Deserialize, Serialize};

/// How runs are preprocessed (stored in the cache manifest).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PreprocessConfig {
    /// The grid (and so the input cube) data are resampled to.
    pub grid: GridChoice,
    /// Resample in time to this TR (seconds), if set.
    pub target_tr: Option<f64>,
    /// Frames per clip (20 in the reference).
    pub frames_per_clip: usize,
    /// A brain mask (NIfTI, any grid; non-zero = brain) that defines the
    /// foreground instead of "non-zero after resampling".
    #[serde(default)]
    pub brain_mask: Option<std::path::PathBuf>,
}

impl Default for PreprocessConfig {
    fn default() -> Self {
        PreprocessConfig {
            grid: GridChoice::Mni2mm,
            target_tr: None,
            frames_per_clip: 20,
            brain_mask: None,
        }
    }
}

/// A preprocessed run: clips in the model's layout.
#[derive(Debug, Clone, PartialEq)]
pub struct PreparedRun {
    /// Input voxels per axis (96 or 48).
    pub input: usize,
    /// Frames per clip.
    pub frames: usize,
    /// Clip data, clip after clip, each `input³ x frames` in (x, y, z, t)
    /// order with t fastest (the model's tensor layout).
    pub clips: Vec<f32>,
    /// Number of clips.
    pub n_clips: usize,
    /// Mean and std of the foreground before z-scoring.
    pub mean: f64,
    /// See `mean`.
    pub std: f64,
    /// The background value after z-scoring (minimum foreground z).
    pub fill: f32,
    /// Foreground voxels in the input cube.
    pub foreground_voxels: usize,
    /// NaN/Inf voxels found (and zeroed) in the source.
    pub nonfinite_zeroed: usize,
    /// TR of the clips in seconds.
    pub tr: f64,
}

impl PreparedRun {
    /// Values in one clip.
    pub fn clip_len(&self) -> usize {
        self.input.pow(3) * self.frames
    }

    /// The data of clip `c`.
    pub fn clip(&self, c: usize) -> &[f32] {
        &self.clips[c * self.clip_len()..(c + 1) * self.clip_len()]
    }
}

/// Reads a brain mask and puts it on `grid` (nearest neighbour; non-zero
/// and finite = brain).
pub fn load_brain_mask(
    path: &std::path::Path,
    grid: &crate::volume::Grid,
) -> Result<Vec<bool>, DataError> {
    let mask = crate::volume::read_volume(path)?;
    let on_grid = resample(&mask, grid, Interpolation::Nearest, 0.0);
    let brain: Vec<bool> = on_grid
        .frame(0)
        .iter()
        .map(|v| v.is_finite() && *v != 0.0)
        .collect();
    if !brain.iter().any(|&b| b) {
        return Err(DataError::EmptyBrainMask {
            path: path.to_path_buf(),
        });
    }
    Ok(brain)
}

/// Preprocesses `run` with the foreground taken from the data (voxels
/// non-zero at some frame); see [`preprocess_masked`].
pub fn preprocess(run: Volume, cfg: &PreprocessConfig) -> Result<PreparedRun, DataError> {
    preprocess_masked(run, cfg, None)
}

/// Preprocesses `run`; `brain` (on `cfg.grid`, NIfTI order), when given,
/// is the foreground. Errors describe the run without naming it (constant
/// run, too few frames, no TR for temporal resampling).
pub fn preprocess_masked(
    run: Volume,
    cfg: &PreprocessConfig,
    brain: Option<&[bool]>,
) -> Result<PreparedRun, DataError> {
    preprocess_on_grid(run, cfg, &cfg.grid.grid(), cfg.grid.geometry(), brain)
}

/// [`preprocess_masked`] onto any model grid and input cube (e.g. the
/// `tiny` preset's 8 mm grid and 24³ cube); `cfg.grid` is not used.
/// `brain`, when given, is on `grid`.
pub fn preprocess_on_grid(
    mut run: Volume,
    cfg: &PreprocessConfig,
    grid: &crate::volume::Grid,
    geometry: crate::atlas::TokenGeometry,
    brain: Option<&[bool]>,
) -> Result<PreparedRun, DataError> {
    if run.meta.ndim != 4 {
        return Err(DataError::Not4d { shape: run.shape() });
    }
    let mut nonfinite_zeroed = 0;
    for v in run.data.iter_mut().filter(|v| !v.is_finite()) {
        *v = 0.0;
        nonfinite_zeroed += 1;
    }
    let source_tr = run.meta.tr;
    let mut resampled = resample(&run, grid, Interpolation::Trilinear, 0.0);
    drop(run);
    let mut tr = source_tr.unwrap_or(0.0);
    if let Some(target) = cfg.target_tr {
        let Some(source) = source_tr.filter(|t| *t > 0.0) else {
            return Err(DataError::NoTr);
        };
        resampled = resample_time(&resampled, source, target);
        tr = target;
    }
    let frames = cfg.frames_per_clip;
    let n_clips = resampled.frames / frames;
    if n_clips == 0 {
        return Err(DataError::TooFewFrames {
            frames: resampled.frames,
            clip: frames,
        });
    }
    let n = geometry.input;
    let grid = resampled.grid;
    let [nx, ny, nz] = grid.dims;
    let per_frame = grid.n_voxels();

    // Foreground: voxels inside the cube in the brain mask, or without a
    // mask, non-zero at some frame.
    let mut source_of = Vec::with_capacity(n * n * n);
    for u in 0..n {
        for v in 0..n {
            for w in 0..n {
                let src = match (
                    geometry.source_index(nx, u),
                    geometry.source_index(ny, v),
                    geometry.source_index(nz, w),
                ) {
                    (Some(i), Some(j), Some(k)) => {
                        let idx = grid.index(i, j, k);
                        let inside = match brain {
                            Some(mask) => mask[idx],
                            None => (0..resampled.frames)
                                .any(|t| resampled.data[t * per_frame + idx] != 0.0),
                        };
                        inside.then_some(idx)
                    }
                    _ => None,
                };
                source_of.push(src);
            }
        }
    }
    let used_frames = n_clips * frames;
    let foreground: Vec<usize> = source_of.iter().flatten().copied().collect();
    if foreground.is_empty() {
        return Err(DataError::EmptyOnGrid);
    }
    let count = (foreground.len() * used_frames) as f64;
    let mut sum = 0.0f64;
    for t in 0..used_frames {
        let frame = &resampled.data[t * per_frame..(t + 1) * per_frame];
        sum += foreground.iter().map(|&i| frame[i] as f64).sum::<f64>();
    }
    let mean = sum / count;
    let mut sq = 0.0f64;
    let mut min = f64::INFINITY;
    for t in 0..used_frames {
        let frame = &resampled.data[t * per_frame..(t + 1) * per_frame];
        for &i in &foreground {
            let v = frame[i] as f64;
            sq += (v - mean).powi(2);
            min = min.min(v);
        }
    }
    let std = (sq / count).sqrt();
    if std.is_nan() || std <= 1e-12 * mean.abs().max(1.0) {
        return Err(DataError::ConstantRun);
    }
    let fill = ((min - mean) / std) as f32;
    let mut clips = vec![fill; n_clips * n * n * n * frames];
    for (cube_idx, src) in source_of.iter().enumerate() {
        let Some(src) = src else { continue };
        for c in 0..n_clips {
            let out = &mut clips[(c * n * n * n + cube_idx) * frames..][..frames];
            for (f, o) in out.iter_mut().enumerate() {
                let t = c * frames + f;
                *o = ((resampled.data[t * per_frame + src] as f64 - mean) / std) as f32;
            }
        }
    }
    Ok(PreparedRun {
        input: n,
        frames,
        clips,
        n_clips,
        mean,
        std,
        fill,
        foreground_voxels: foreground.len(),
        nonfinite_zeroed,
        tr,
    })
}

/// Linear interpolation of every voxel's time course onto a new TR; frames
/// run from time 0 while they stay inside the source's time span.
pub fn resample_time(run: &Volume, source_tr: f64, target_tr: f64) -> Volume {
    let span = (run.frames.saturating_sub(1)) as f64 * source_tr;
    let new_frames = (span / target_tr + 1e-9).floor() as usize + 1;
    let n = run.grid.n_voxels();
    let mut data = vec![0.0f32; n * new_frames];
    for k in 0..new_frames {
        let pos = k as f64 * target_tr / source_tr;
        let t0 = (pos.floor() as usize).min(run.frames - 1);
        let t1 = (t0 + 1).min(run.frames - 1);
        let w = (pos - t0 as f64) as f32;
        let (a, b) = (run.frame(t0), run.frame(t1));
        for (i, out) in data[k * n..(k + 1) * n].iter_mut().enumerate() {
            *out = a[i] * (1.0 - w) + b[i] * w;
        }
    }
    let mut meta = run.meta.clone();
    meta.tr = Some(target_tr);
    if meta.zooms.len() == 4 {
        meta.zooms[3] = target_tr;
    }
    Volume::from_data(run.grid, new_frames, data, meta)
}
