//! Validation and previews: the masked MSE over the validation clips, split
//! by AAL3 lobe and by AAL3 region on the host, and a validation clip's
//! input, masked input, reconstruction and mask as world-placed volumes. A device failure is a
//! [`TrainError::Device`] saying whether validation or a preview ran.

use super::data::TrainData;
use super::error::{DeviceFailure, TrainError};
use super::events::Preview;
use crate::atlas::{Lobe, RegionTable};
use crate::masking::{ClipMask, Masker};
use crate::model::{BatchMask, Mae, ScanImpl};
use crate::volume::{Grid, Volume, VolumeMeta};
use burn::prelude::*;
use std::collections::BTreeMap;

/// The mask id of validation clip `clip` (fixed for the whole run, apart
/// from the training ids).
pub fn val_mask_id(clip: usize) -> u64 {
    (1u64 << 48) + clip as u64
}

/// Validation loss and per-lobe losses.
#[derive(Debug, Clone)]
pub struct ValResult {
    /// Masked MSE over every scored voxel of every validation clip.
    pub loss: f64,
    /// The same restricted to each lobe's voxels.
    pub per_lobe: Vec<(String, f64)>,
    /// The same restricted to each region's voxels (regions with any
    /// masked voxel, by label id).
    pub per_region: Vec<RegionLoss>,
}

/// The masked MSE inside one atlas region.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RegionLoss {
    /// The region's label id.
    pub id: u16,
    /// Masked MSE over the region's masked voxels (all validation clips).
    pub mse: f64,
    /// How many masked voxel-frames it averages.
    pub voxels: usize,
}

/// Lobe index (into [`Lobe::ALL`]) of every input voxel, if labelled.
pub fn voxel_lobes(data: &TrainData, table: &RegionTable) -> Vec<Option<u8>> {
    data.labels
        .labels
        .iter()
        .map(|&l| {
            let lobe = table.get(l)?.group;
            Lobe::ALL.iter().position(|&x| x == lobe).map(|i| i as u8)
        })
        .collect()
}

/// Runs the model (without autodiff) on `clips`; returns their data and
/// reconstructions.
fn reconstruct(
    model: &Mae,
    data: &TrainData,
    clips: &[usize],
    masks: &[ClipMask],
    device: &Device,
    frames: usize,
) -> Result<(Vec<f32>, Vec<f32>), DeviceFailure> {
    let n = data.geometry.input;
    let mut values = Vec::with_capacity(clips.len() * data.source.clip_len());
    let mut clip = Vec::new();
    for &c in clips {
        data.source.read(c, &mut clip);
        values.extend_from_slice(&clip);
    }
    let x = Tensor::<6>::from_data(
        TensorData::new(values.clone(), [clips.len(), 1, n, n, n, frames]),
        device,
    );
    let mask = BatchMask::from_clip_masks(masks, device);
    let out = model.forward(x, &mask, ScanImpl::Auto);
    let recon = out
        .reconstruction
        .try_into_vec_as::<f32>()
        .map_err(|e| DeviceFailure::from_text(&format!("{e:?}")))?;
    Ok((values, recon))
}

/// Validates `model` (a non-autodiff copy) on all validation clips.
pub fn validate(
    model: &Mae,
    data: &TrainData,
    masker: &Masker,
    lobes: &[Option<u8>],
    batch: usize,
    device: &Device,
) -> Result<ValResult, TrainError> {
    let frames = model.config().frames;
    let n = data.geometry.input;
    let mut total = (0.0f64, 0usize);
    let mut per = vec![(0.0f64, 0usize); Lobe::ALL.len()];
    let mut regions: BTreeMap<u16, (f64, usize)> = BTreeMap::new();
    for chunk in data.val.chunks(batch.max(1)) {
        let masks: Vec<ClipMask> = chunk.iter().map(|&c| masker.mask(val_mask_id(c))).collect();
        let (values, recon) =
            reconstruct(model, data, chunk, &masks, device, frames).map_err(|failure| {
                TrainError::Device {
                    during: "validation".into(),
                    failure,
                }
            })?;
        for (b, mask) in masks.iter().enumerate() {
            let base = b * n * n * n * frames;
            for u in 0..n {
                for v in 0..n {
                    for w in 0..n {
                        let cube = (u * n + v) * n + w;
                        for t in 0..frames {
                            if !mask.voxel_masked(u, v, w, t) {
                                continue;
                            }
                            let i = base + cube * frames + t;
                            let e = (recon[i] as f64 - values[i] as f64).powi(2);
                            total.0 += e;
                            total.1 += 1;
                            if let Some(l) = lobes[cube] {
                                per[l as usize].0 += e;
                                per[l as usize].1 += 1;
                            }
                            let label = data.labels.labels[cube];
                            if label != 0 {
                                let r = regions.entry(label).or_default();
                                r.0 += e;
                                r.1 += 1;
                            }
                        }
                    }
                }
            }
        }
    }
    Ok(ValResult {
        loss: total.0 / total.1.max(1) as f64,
        per_lobe: Lobe::ALL
            .iter()
            .zip(&per)
            .filter(|(_, (_, count))| *count > 0)
            .map(|(l, (sum, count))| (l.name().to_string(), sum / *count as f64))
            .collect(),
        per_region: regions
            .into_iter()
            .map(|(id, (sum, voxels))| RegionLoss {
                id,
                mse: sum / voxels as f64,
                voxels,
            })
            .collect(),
    })
}

/// A preview of clip `clip` (mask id `mask_id`) at `step`.
pub fn preview(
    model: &Mae,
    data: &TrainData,
    masker: &Masker,
    clip: usize,
    mask_id: u64,
    step: usize,
    device: &Device,
) -> Result<Preview, TrainError> {
    let frames = model.config().frames;
    let n = data.geometry.input;
    let mask = masker.mask(mask_id);
    let (values, recon) = reconstruct(
        model,
        data,
        &[clip],
        std::slice::from_ref(&mask),
        device,
        frames,
    )
    .map_err(|failure| TrainError::Device {
        during: format!("preview at step {step}"),
        failure,
    })?;
    let fill = values.iter().copied().fold(f32::INFINITY, f32::min);
    let grid = Grid::new([n, n, n], data.cube_affine);
    let to_volume = |f: &dyn Fn(usize, usize, usize, usize, usize) -> f32| {
        let mut out = vec![0.0f32; n * n * n * frames];
        for u in 0..n {
            for v in 0..n {
                for w in 0..n {
                    for t in 0..frames {
                        let i = ((u * n + v) * n + w) * frames + t;
                        out[u + n * (v + n * (w + n * t))] = f(i, u, v, w, t);
                    }
                }
            }
        }
        Volume::from_data(
            grid,
            frames,
            out,
            VolumeMeta::new_f32(&grid, frames, None, true),
        )
    };
    Ok(Preview {
        step,
        frame: frames / 2,
        original: to_volume(&|i, _, _, _, _| values[i]),
        masked: to_volume(&|i, u, v, w, t| {
            if mask.voxel_masked(u, v, w, t) {
                fill
            } else {
                values[i]
            }
        }),
        reconstruction: to_volume(&|i, _, _, _, _| recon[i]),
        mask: to_volume(&|_, u, v, w, t| f32::from(u8::from(mask.voxel_masked(u, v, w, t)))),
    })
}
