//! The SimMIM-style masked autoencoder: masked tokens are not dropped but
//! replaced (after patch embedding, before the first positional embedding)
//! by a learned token from a per-window-position table; the whole grid is
//! encoded and decoded, and the loss counts only what was masked.

use super::config::ModelConfig;
use super::decoder::Decoder;
use super::encoder::Encoder;
use super::init::{self, InitRng};
use super::layout::unpatchify;
use super::loss::{BatchMask, masked_mse};
use super::scan::ScanImpl;
use burn::module::Param;
use burn::prelude::*;

/// The pretraining model.
#[derive(Module, Debug)]
pub struct Mae {
    /// The encoder (kept for fine-tuning).
    pub encoder: Encoder,
    /// `[W, C]`: one mask token per position inside a stage-0 window.
    pub mask_token: Param<Tensor<2>>,
    /// The decoder.
    pub decoder: Decoder,
    #[module(skip)]
    config: ModelConfig,
    /// Per stage-0 token, its row in `mask_token` (fixed by the config).
    #[module(skip)]
    mask_index: Vec<i64>,
}

/// What one forward pass gives.
#[derive(Debug, Clone)]
pub struct MaeOutput {
    /// Reconstruction `[B, 1, X, Y, Z, T]`.
    pub reconstruction: Tensor<6>,
    /// Masked MSE (shape `[1]`).
    pub loss: Tensor<1>,
}

impl Mae {
    /// A freshly initialised model. `seed` drives every initialisation
    /// (burn's own through `device.seed`, the rest on the host).
    pub fn new(cfg: &ModelConfig, seed: u64, device: &Device) -> Self {
        cfg.validate().expect("model config");
        device.seed(seed);
        let mut rng: InitRng = init::rng(seed);
        let stage0 = cfg.encoder_stages()[0];
        let window: usize = stage0.window.iter().product();
        Self {
            encoder: Encoder::new(cfg, &mut rng, device),
            mask_token: init::truncated_normal(&mut rng, [window, cfg.embed_dim], 0.02, device),
            decoder: Decoder::new(cfg, &mut rng, device),
            config: cfg.clone(),
            mask_index: window_position_index(stage0.grid, stage0.window),
        }
    }

    /// The config this model was built from.
    pub fn config(&self) -> &ModelConfig {
        &self.config
    }

    /// Reconstructs `x` `[B, 1, X, Y, Z, T]` under `mask` and scores it.
    /// At voxel level the masked voxels of the input are first replaced by
    /// the clip's minimum (the background fill value).
    pub fn forward(&self, x: Tensor<6>, mask: &BatchMask, scan: ScanImpl) -> MaeOutput {
        let input = match &mask.voxels {
            Some(v) => fill_voxels(x.clone(), v.clone()),
            None => x.clone(),
        };
        let tokens = self.encoder.embed(input);
        let tokens = match mask.voxels {
            Some(_) => tokens,
            None => self.swap_in_mask_tokens(tokens, mask.tokens.clone()),
        };
        let encoded = self.encoder.forward_tokens(tokens, scan);
        let reconstruction = unpatchify(self.decoder.forward(encoded, scan), self.config.patch);
        let loss = masked_mse(reconstruction.clone(), x, mask, self.config.patch);
        MaeOutput {
            reconstruction,
            loss,
        }
    }

    /// Replaces masked tokens `[B, x, y, z, T, C]` by the table entry of
    /// their position inside the (unshifted) stage-0 window.
    fn swap_in_mask_tokens(&self, tokens: Tensor<6>, mask: Tensor<2>) -> Tensor<6> {
        let [b, gx, gy, gz, gt, c] = tokens.dims();
        let device = tokens.device();
        let index = Tensor::<1, Int>::from_data(
            TensorData::new(self.mask_index.clone(), [gx * gy * gz * gt]),
            &device,
        );
        let table = self
            .mask_token
            .val()
            .select(0, index)
            .reshape([1, gx, gy, gz, gt, c]);
        let m = mask.reshape([b, gx, gy, gz, gt, 1]);
        tokens * (m.clone().neg() + 1.0) + table * m
    }
}

/// For every token of a grid (x, y, z, t; t fastest): its position inside
/// its window, `((x%wx·wy + y%wy)·wz + z%wz)·wt + t%wt`.
pub fn window_position_index(grid: [usize; 4], window: [usize; 4]) -> Vec<i64> {
    let mut out = Vec::with_capacity(grid.iter().product());
    for x in 0..grid[0] {
        for y in 0..grid[1] {
            for z in 0..grid[2] {
                for t in 0..grid[3] {
                    let p = (((x % window[0]) * window[1] + y % window[1]) * window[2]
                        + z % window[2])
                        * window[3]
                        + t % window[3];
                    out.push(p as i64);
                }
            }
        }
    }
    out
}

/// Replaces voxels where `v` `[B, X, Y, Z]` is 1 by each clip's minimum.
fn fill_voxels(x: Tensor<6>, v: Tensor<4>) -> Tensor<6> {
    let [b, _, gx, gy, gz, _] = x.dims();
    let fill = x
        .clone()
        .reshape([b as i32, -1])
        .min_dim(1)
        .reshape([b, 1, 1, 1, 1, 1]);
    let v = v.reshape([b, 1, gx, gy, gz, 1]);
    x * (v.clone().neg() + 1.0) + fill * v
}
