//! The model on the GPU path (burn wgpu; Mesa lavapipe in CI): the `tiny`
//! MAE's forward and backward on wgpu agree with Flex for the same weights,
//! and it trains a few steps there. The wgpu model runs the fused CubeCL
//! scan and the Flex model the chunked tensor-op scan, so this also checks
//! the kernel inside the whole model.
//!
//! Tolerance: wgpu and Flex order float sums differently (and autotune may
//! pick other kernels), so outputs are compared at 1e-3 of their scale and
//! gradients at 1e-2.

mod common;

use burn::module::Module;
use burn::optim::{AdamWConfig, GradientsParams};
use burn::prelude::*;
use roimae::model::{BatchMask, Mae, ModelConfig, ScanImpl};

use common::values;

fn max_rel_diff(a: &[f32], b: &[f32]) -> f32 {
    let scale = a.iter().fold(0f32, |m, v| m.max(v.abs())).max(1e-6);
    a.iter().zip(b).fold(0f32, |m, (x, y)| m.max((x - y).abs())) / scale
}

/// A smooth deterministic clip batch (so both devices see identical data).
fn clips(device: &Device) -> Tensor<6> {
    let (b, s, t) = (2, 24, 8);
    let mut v = Vec::with_capacity(b * s * s * s * t);
    for c in 0..b {
        for x in 0..s {
            for y in 0..s {
                for z in 0..s {
                    for f in 0..t {
                        let phase = (x as f32 * 0.4 + y as f32 * 0.25 - z as f32 * 0.3)
                            + f as f32 * 0.7
                            + c as f32;
                        v.push(phase.sin() + 0.1 * ((x * 7 + y * 3 + z * 5 + f) % 11) as f32);
                    }
                }
            }
        }
    }
    Tensor::from_data(TensorData::new(v, [b, 1, s, s, s, t]), device)
}

fn half_mask(device: &Device) -> BatchMask {
    let m: Vec<f32> = (0..2 * 4096)
        .map(|i| ((i / 8 + i / 512) % 2) as f32)
        .collect();
    BatchMask {
        tokens: Tensor::from_data(TensorData::new(m, [2, 4096]), device),
        voxels: None,
        token: Default::default(),
    }
}

#[test]
fn tiny_mae_on_wgpu_matches_flex_and_trains() {
    let cpu = Device::flex().autodiff();
    let gpu = Device::wgpu(DeviceKind::DefaultDevice).autodiff();
    let cfg = ModelConfig::tiny();
    let model_cpu = cfg.init(4, &cpu).expect("valid preset");
    let model_gpu = model_cpu.clone().fork(&gpu); // fork: fresh leaves on the GPU

    let out_cpu = model_cpu.forward(clips(&cpu), &half_mask(&cpu), ScanImpl::Chunked);
    let out_gpu = model_gpu.forward(clips(&gpu), &half_mask(&gpu), ScanImpl::Fused);
    let (l_cpu, l_gpu) = (
        out_cpu.loss.clone().into_scalar::<f32>(),
        out_gpu.loss.clone().into_scalar::<f32>(),
    );
    assert!(
        (l_cpu - l_gpu).abs() <= 1e-3 * l_cpu.abs(),
        "loss {l_cpu} (flex) vs {l_gpu} (wgpu)"
    );
    let d = max_rel_diff(
        &values(out_cpu.reconstruction.clone()),
        &values(out_gpu.reconstruction.clone()),
    );
    assert!(d < 1e-3, "reconstructions differ by {d}");

    let g_cpu = out_cpu.loss.backward();
    let g_gpu = out_gpu.loss.backward();
    let w = |m: &Mae| m.encoder.stages[0].blocks[1].mamba.in_proj.weight.val();
    let a = |m: &Mae| m.decoder.pred.weight.val();
    for (name, pc, pg) in [
        (
            "encoder stage 0 block 1 in_proj",
            w(&model_cpu),
            w(&model_gpu),
        ),
        ("decoder pred", a(&model_cpu), a(&model_gpu)),
    ] {
        let gc = values(pc.grad(&g_cpu).expect("cpu grad"));
        let gg = values(pg.grad(&g_gpu).expect("gpu grad"));
        let d = max_rel_diff(&gc, &gg);
        assert!(d < 1e-2, "{name}: gradients differ by {d}");
    }

    let mut model = model_gpu;
    let mut optim = AdamWConfig::new().with_weight_decay(0.01).init();
    let (x, mask) = (clips(&gpu), half_mask(&gpu));
    let mut losses = Vec::new();
    for _ in 0..6 {
        let out = model.forward(x.clone(), &mask, ScanImpl::Auto);
        losses.push(out.loss.clone().into_scalar::<f32>());
        let grads = GradientsParams::from_grads(out.loss.backward(), &model);
        model = optim.step(3e-3, model, grads);
    }
    assert!(losses.iter().all(|l| l.is_finite()), "{losses:?}");
    assert!(losses[5] < losses[0], "no progress on wgpu: {losses:?}");
}
