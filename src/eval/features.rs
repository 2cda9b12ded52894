//! The encoder's view of a clip for downstream heads: clips read into an
//! input batch, the mean output token, and the mean-token features of a
//! frozen encoder (what the linear head, leave-one-site-out and integrated
//! gradients are fitted on).

use super::EvalError;
use crate::model::ScanImpl;
use crate::model::encoder::Encoder;
use crate::train::data::ClipSource;
use burn::prelude::*;

/// The model input's shape: `input³` voxels × `frames`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClipShape {
    /// Input voxels per axis.
    pub input: usize,
    /// Frames per clip.
    pub frames: usize,
}

/// Reads clips into a `[B, 1, n, n, n, T]` tensor.
pub fn clip_batch(
    source: &dyn ClipSource,
    clips: &[usize],
    shape: ClipShape,
    device: &Device,
) -> Tensor<6> {
    let mut values = Vec::with_capacity(clips.len() * source.clip_len());
    let mut clip = Vec::new();
    for &c in clips {
        source.read(c, &mut clip);
        values.extend_from_slice(&clip);
    }
    let n = shape.input;
    Tensor::from_data(
        TensorData::new(values, [clips.len(), 1, n, n, n, shape.frames]),
        device,
    )
}

/// Mean over all output tokens of `encoded` `[B, x, y, z, T, C]` → `[B, C]`.
pub fn mean_token(encoded: Tensor<6>) -> Tensor<2> {
    let [b, x, y, z, t, c] = encoded.dims();
    encoded
        .reshape([b, x * y * z * t, c])
        .mean_dim(1)
        .reshape([b, c])
}

/// Clips per forward pass when computing frozen features.
pub const FEATURE_BATCH: usize = 8;

/// The mean output token of each clip in `clips` (a non-autodiff encoder,
/// [`FEATURE_BATCH`] clips per pass), indexed like the source (empty for
/// clips not asked for).
pub fn mean_token_features(
    encoder: &Encoder,
    source: &dyn ClipSource,
    clips: &[usize],
    shape: ClipShape,
    device: &Device,
) -> Result<Vec<Vec<f32>>, EvalError> {
    let mut out = vec![Vec::new(); source.len()];
    for chunk in clips.chunks(FEATURE_BATCH) {
        let x = clip_batch(source, chunk, shape, device);
        let f = mean_token(encoder.forward(x, ScanImpl::Auto));
        let c = f.dims()[1];
        let v = f.try_into_vec_as::<f32>().map_err(EvalError::device)?;
        for (j, &i) in chunk.iter().enumerate() {
            out[i] = v[j * c..(j + 1) * c].to_vec();
        }
    }
    Ok(out)
}
