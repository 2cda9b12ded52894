//! Behaviour of the model's parts on the CPU (Flex): Mamba is causal, a
//! window Mamba mixes tokens only inside its (shifted) 4⁴ window, the masked
//! loss equals its closed form, and the tiny MAE learns on a fixed batch.

mod common;

use burn::optim::{AdamWConfig, GradientsParams};
use burn::prelude::*;
use burn::tensor::Distribution;
use roimae::model::block::{BlockParams, SwmBlock};
use roimae::model::mamba::Mamba;
use roimae::model::{BatchMask, ModelConfig, ScanImpl, StageGeometry, init, masked_mse};

use common::values;

#[test]
fn mamba_is_causal_and_sequences_are_independent() {
    let device = Device::flex();
    device.seed(3);
    let m = Mamba::new(8, 16, 4, &mut init::rng(3), &device);
    let x = Tensor::<3>::random([2, 16, 8], Distribution::Normal(0.0, 1.0), &device);
    let bump = Tensor::<3>::zeros([2, 16, 8], &device).slice_fill(s![0, 5, ..], 1.0);
    let a = values(m.forward(x.clone(), ScanImpl::Chunked));
    let b = values(m.forward(x + bump, ScanImpl::Chunked));
    for seq in 0..2 {
        for t in 0..16 {
            let i = (seq * 16 + t) * 8;
            let changed = (0..8).any(|c| (a[i + c] - b[i + c]).abs() > 1e-6);
            assert_eq!(changed, seq == 0 && t >= 5, "seq {seq} t {t}");
        }
    }
}

/// Which tokens of an `[1, 8, 4, 4, 8, C]` grid change when token `at` is bumped.
fn changed_tokens(block: &SwmBlock, at: [usize; 4]) -> Vec<[usize; 4]> {
    let device = Device::flex();
    let shape = [1, 8, 4, 4, 8, 8];
    device.seed(5);
    let x = Tensor::<6>::random(shape, Distribution::Normal(0.0, 1.0), &device);
    let bump =
        Tensor::<6>::zeros(shape, &device).slice_fill(s![0, at[0], at[1], at[2], at[3], 0], 1.0); // one channel: a uniform bump would vanish in LayerNorm
    let a = values(block.forward(x.clone(), ScanImpl::Chunked));
    let b = values(block.forward(x + bump, ScanImpl::Chunked));
    let mut out = Vec::new();
    for (tok, (ca, cb)) in a.chunks(8).zip(b.chunks(8)).enumerate() {
        if ca.iter().zip(cb).any(|(p, q)| p != q) {
            out.push([tok / 128, (tok / 32) % 4, (tok / 8) % 4, tok % 8]);
        }
    }
    out
}

#[test]
fn window_mamba_mixes_only_inside_its_window_and_shift_moves_the_window() {
    let device = Device::flex();
    let g = StageGeometry {
        dim: 8,
        grid: [8, 4, 4, 8],
        window: [4, 4, 4, 4],
        shift: [2, 0, 0, 2],
        depth: 2,
    };
    let p = BlockParams {
        d_state: 16,
        d_conv: 4,
        mlp_ratio: 4,
        eps: 1e-5,
    };
    let mut rng = init::rng(9);
    let plain = SwmBlock::new(&g, 0, p, &mut rng, &device);
    let shifted = SwmBlock::new(&g, 1, p, &mut rng, &device);
    // Unshifted: token (1,1,1,1) lives in window x,y,z,t ∈ 0..4 and only
    // reaches tokens at or after it in (x, y, z, t) order.
    let hit = changed_tokens(&plain, [1, 1, 1, 1]);
    assert!(hit.contains(&[1, 1, 1, 1]) && hit.contains(&[3, 3, 3, 3]));
    for t in &hit {
        assert!(t.iter().all(|&v| v < 4), "{t:?} outside the window");
        assert!(*t >= [1, 1, 1, 1], "{t:?} precedes the bumped token");
    }
    // Shifted by 2 in x and t: token (3,1,1,3) sits in the window covering
    // x ∈ 2..6, t ∈ 2..6 (y, z unshifted: 0..4).
    let hit = changed_tokens(&shifted, [3, 1, 1, 3]);
    assert!(hit.contains(&[5, 3, 3, 5]));
    for t in &hit {
        assert!(
            (2..6).contains(&t[0]) && (2..6).contains(&t[3]),
            "{t:?} outside the shifted window"
        );
    }
}

#[test]
fn masked_loss_has_its_closed_form() {
    let device = Device::flex();
    let target = Tensor::<6>::zeros([2, 1, 6, 6, 6, 2], &device);
    // Prediction = 1 everywhere except 3 everywhere in token (0,0,0,t=1) of clip 0.
    let pred = Tensor::<6>::ones([2, 1, 6, 6, 6, 2], &device)
        .slice_fill(s![0, 0, 0..3, 0..3, 0..3, 1], 3.0);
    let mut tokens = vec![0f32; 2 * 16];
    tokens[1] = 1.0; // clip 0, token (0,0,0,1)
    tokens[2] = 1.0; // clip 0, token (0,0,1,0)
    tokens[16 + 5] = 1.0; // clip 1
    let mask = BatchMask {
        tokens: Tensor::from_data(TensorData::new(tokens, [2, 16]), &device),
        voxels: None,
        token: Default::default(),
    };
    let loss = masked_mse(pred.clone(), target.clone(), &mask, 3).into_scalar::<f32>();
    assert!((loss - (9.0 + 1.0 + 1.0) / 3.0).abs() < 1e-6, "{loss}");
    // Voxel level: only the flagged voxels count, in every frame.
    let mut vox = vec![0f32; 2 * 216];
    vox[0] = 1.0; // clip 0 voxel (0,0,0): errors 1 (t=0) and 9 (t=1)
    vox[216 + 100] = 1.0; // clip 1: errors 1 and 1
    let mask = BatchMask {
        tokens: Tensor::zeros([2, 16], &device),
        voxels: Some(Tensor::from_data(
            TensorData::new(vox, [2, 6, 6, 6, 1]),
            &device,
        )),
        token: Default::default(),
    };
    let loss = masked_mse(pred, target, &mask, 3).into_scalar::<f32>();
    assert!((loss - 12.0 / 4.0).abs() < 1e-6, "{loss}");
}

/// A window mask on the tiny 8³×8 grid: every other 4⁴ window masked.
pub fn tiny_window_mask(batch: usize, device: &Device) -> BatchMask {
    let mut m = Vec::new();
    for b in 0..batch {
        for x in 0..8 {
            for y in 0..8 {
                for z in 0..8 {
                    for t in 0..8 {
                        let w = x / 4 + y / 4 + z / 4 + t / 4 + b;
                        m.push((w % 2) as f32);
                    }
                }
            }
        }
    }
    BatchMask {
        tokens: Tensor::from_data(TensorData::new(m, [batch, 4096]), device),
        voxels: None,
        token: Default::default(),
    }
}

#[test]
fn tiny_mae_reconstructs_with_the_right_shapes_and_learns() {
    let device = Device::flex().autodiff();
    let cfg = ModelConfig::tiny();
    let mut model = cfg.init(1, &device).expect("valid preset");
    device.seed(2);
    let x = Tensor::<6>::random(
        [2, 1, 24, 24, 24, 8],
        Distribution::Normal(0.0, 1.0),
        &device,
    );
    let x = x.clone() + x.roll_dim(1, 2); // some spatial structure to learn
    let mask = tiny_window_mask(2, &device);
    let encoded = model.encoder.forward(x.clone(), ScanImpl::Chunked);
    assert_eq!(encoded.dims(), [2, 1, 1, 1, 8, 64]);
    let mut optim = AdamWConfig::new().with_weight_decay(0.01).init();
    let mut losses = Vec::new();
    for _ in 0..12 {
        let out = model.forward(x.clone(), &mask, ScanImpl::Chunked);
        assert_eq!(out.reconstruction.dims(), [2, 1, 24, 24, 24, 8]);
        losses.push(out.loss.clone().into_scalar::<f32>());
        let grads = GradientsParams::from_grads(out.loss.backward(), &model);
        model = optim.step(3e-3, model, grads);
    }
    assert!(losses.iter().all(|l| l.is_finite()));
    assert!(
        losses[11] < 0.9 * losses[0],
        "loss did not drop: {losses:?}"
    );
}
