//! The masking module and the model agree on layout: a clip mask from
//! [`Masker`] (reference geometry, AAL3 limbic lobe) turned into a
//! [`BatchMask`] makes the model's loss count exactly the masked tokens, in
//! the model's patch order, and at voxel level exactly the limbic voxels of
//! the atlas's input cube.

use burn::prelude::*;
use roimae::atlas::{Atlas, Lobe, TokenGeometry};
use roimae::masking::{MaskLevel, MaskSpec, MaskStrategy, Masker, RegionSelection};
use roimae::model::layout::unpatchify;
use roimae::model::{BatchMask, masked_mse};
use roimae::volume::Grid;

const FRAMES: usize = 4;

fn limbic(level: MaskLevel) -> (Masker, Vec<bool>) {
    let atlas = Atlas::aal3().unwrap();
    let input = atlas.input_labels(&Grid::mni_2mm(), TokenGeometry::REFERENCE);
    let strategy = MaskStrategy::Roi {
        regions: RegionSelection {
            lobes: vec![Lobe::Limbic],
            names: vec![],
        },
        partial: None,
        level,
    };
    let masker = Masker::new(
        &MaskSpec {
            strategy,
            seed: 3,
            time: Default::default(),
        },
        &input,
        &atlas.regions,
        FRAMES,
    )
    .unwrap();
    let ids: Vec<u16> = atlas.regions.in_group(Lobe::Limbic).map(|r| r.id).collect();
    let in_limbic = input.labels.iter().map(|l| ids.contains(l)).collect();
    (masker, in_limbic)
}

/// `[1, 1, 96, 96, 96, T]` holding `value` in every voxel of the tokens
/// where `tokens` is true (token order x, y, z, t; t fastest).
fn per_token_field(tokens: &[bool], value: f32, device: &Device) -> Tensor<6> {
    let v: Vec<f32> = tokens
        .iter()
        .map(|&m| if m { value } else { 0.0 })
        .collect();
    let t = Tensor::<6>::from_data(TensorData::new(v, [1, 16, 16, 16, FRAMES, 1]), device);
    unpatchify(t.repeat_dim(5, 216), 6)
}

#[test]
fn token_level_roi_masks_score_exactly_the_masked_patches() {
    let device = Device::flex();
    let (masker, _) = limbic(MaskLevel::Token);
    let clip = masker.mask(0);
    assert!(clip.counts().tokens > 0);
    let mask = BatchMask::from_clip_masks(std::slice::from_ref(&clip), &device);
    let target = Tensor::<6>::zeros([1, 1, 96, 96, 96, FRAMES], &device);
    let inside = per_token_field(&clip.tokens, 2.0, &device);
    let loss = masked_mse(inside, target.clone(), &mask, 6).into_scalar::<f32>();
    assert!(
        (loss - 4.0).abs() < 1e-5,
        "error inside masked tokens: {loss}"
    );
    let outside: Vec<bool> = clip.tokens.iter().map(|m| !m).collect();
    let loss =
        masked_mse(per_token_field(&outside, 2.0, &device), target, &mask, 6).into_scalar::<f32>();
    assert_eq!(loss, 0.0, "errors outside the masked tokens must not count");
}

#[test]
fn voxel_level_roi_masks_score_exactly_the_atlas_voxels() {
    let device = Device::flex();
    let (masker, in_limbic) = limbic(MaskLevel::Voxel);
    let clip = masker.mask(0);
    assert_eq!(clip.voxels.as_ref().unwrap(), &in_limbic);
    let mask = BatchMask::from_clip_masks(std::slice::from_ref(&clip), &device);
    let field = |inside: bool| {
        let v: Vec<f32> = in_limbic
            .iter()
            .map(|&l| if l == inside { 1.0 } else { 0.0 })
            .collect();
        Tensor::<4>::from_data(TensorData::new(v, [1, 96, 96, 96]), &device)
            .reshape([1, 1, 96, 96, 96, 1])
            .repeat_dim(5, FRAMES)
    };
    let target = Tensor::<6>::zeros([1, 1, 96, 96, 96, FRAMES], &device);
    let loss = masked_mse(field(true) * 3.0, target.clone(), &mask, 6).into_scalar::<f32>();
    assert!((loss - 9.0).abs() < 1e-5, "{loss}");
    assert_eq!(
        masked_mse(field(false), target, &mask, 6).into_scalar::<f32>(),
        0.0
    );
}
