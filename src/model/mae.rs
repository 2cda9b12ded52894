//! The SimMIM-style masked autoencoder: masked tokens are not dropped but
//! replaced (after patch embedding, before the first positional embedding)
//! by a learned token; the whole grid is encoded and decoded, and the loss
//! counts only what was masked. As in NeuroSTORM there are three learned
//! tokens: a per-window-position table (window masking), one vector for
//! random/tube masking and one for atlas (region) masking.

use super::config::ModelConfig;
use super::decoder::Decoder;
use super::encoder::Encoder;
use super::init::{self, InitRng};
use super::layout::unpatchify;
use super::loss::{BatchMask, MaskToken, masked_mse};
use super::scan::ScanImpl;
use burn::module::Param;
use burn::prelude::*;

/// The pretraining model.
#[derive(Module, Debug)]
pub struct Mae {
    /// The encoder (kept for fine-tuning).
    pub encoder: Encoder,
    /// `[W, C]`: one mask token per position inside a stage-0 window
    /// (NeuroSTORM's `window_mask_token`).
    pub mask_token: Param<Tensor<2>>,
    /// `[C]`: the one token of random and tube masking (NeuroSTORM's
    /// `mask_token`).
    pub single_mask_token: Param<Tensor<1>>,
    /// `[C]`: the one token of atlas (region) masking (NeuroSTORM's
    /// `atlas_mask_token`).
    pub atlas_mask_token: Param<Tensor<1>>,
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
    /// The encoder output `[B, x', y', z', T, C']` (NeuroSTORM's latent).
    pub latent: Tensor<6>,
}

/// Every intermediate of one forward pass, channel-last `[B, x, y, z, T, C]`
/// (what NeuroSTORM's golden fixtures store, there mostly channel-first).
#[derive(Debug, Clone)]
pub struct MaeTrace {
    /// Patch-embedding output.
    pub tokens_embedded: Tensor<6>,
    /// After the mask tokens were swapped in.
    pub tokens_masked: Tensor<6>,
    /// Output of every encoder stage (with its patch merging).
    pub stages: Vec<Tensor<6>>,
    /// The decoder's first patch expanding.
    pub dec_expand: Tensor<6>,
    /// Output of every decoder up-stage (with its patch expanding).
    pub dec_stages: Vec<Tensor<6>>,
    /// Per-token predictions `[B, x, y, z, T, p³]` before un-patchify.
    pub pred_patches: Tensor<6>,
}

impl Mae {
    /// Builds the model of a validated config (the public way in is
    /// [`ModelConfig::init`], which validates first).
    pub(super) fn build(cfg: &ModelConfig, seed: u64, device: &Device) -> Self {
        device.seed(seed);
        let mut rng: InitRng = init::rng(seed);
        let stage0 = cfg.encoder_stages()[0];
        let window: usize = stage0.window.iter().product();
        let c = cfg.embed_dim;
        // NeuroSTORM zero-initialises its three mask tokens.
        Self {
            encoder: Encoder::new(cfg, &mut rng, device),
            mask_token: Param::from_tensor(Tensor::zeros([window, c], device)),
            single_mask_token: Param::from_tensor(Tensor::zeros([c], device)),
            atlas_mask_token: Param::from_tensor(Tensor::zeros([c], device)),
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
        self.run(x, mask, scan, None)
    }

    /// [`Mae::forward`] that also returns every intermediate (for checks
    /// against NeuroSTORM's own numbers).
    pub fn forward_traced(
        &self,
        x: Tensor<6>,
        mask: &BatchMask,
        scan: ScanImpl,
    ) -> (MaeOutput, MaeTrace) {
        let mut trace = Vec::new();
        let out = self.run(x, mask, scan, Some(&mut trace));
        let stages = self.config.depths.len();
        let mut it = trace.into_iter();
        let mut next = || it.next().expect("one trace entry per recorded step");
        let tokens_embedded = next();
        let tokens_masked = next();
        let enc: Vec<Tensor<6>> = (0..stages).map(|_| next()).collect();
        let dec_expand = next();
        let dec: Vec<Tensor<6>> = (0..stages - 1).map(|_| next()).collect();
        let pred_patches = next();
        let trace = MaeTrace {
            tokens_embedded,
            tokens_masked,
            stages: enc,
            dec_expand,
            dec_stages: dec,
            pred_patches,
        };
        (out, trace)
    }

    fn run(
        &self,
        x: Tensor<6>,
        mask: &BatchMask,
        scan: ScanImpl,
        mut trace: Option<&mut Vec<Tensor<6>>>,
    ) -> MaeOutput {
        let mut record = |t: &Tensor<6>| {
            if let Some(trace) = trace.as_deref_mut() {
                trace.push(t.clone());
            }
        };
        let input = match &mask.voxels {
            Some(v) => fill_voxels(x.clone(), v.clone()),
            None => x.clone(),
        };
        let tokens = self.encoder.embed(input);
        record(&tokens);
        let tokens = match mask.voxels {
            Some(_) => tokens,
            None => self.swap_in_mask_tokens(tokens, mask.tokens.clone(), mask.token),
        };
        record(&tokens);
        let latent = self
            .encoder
            .forward_tokens_recorded(tokens, scan, &mut record);
        let patches = self
            .decoder
            .forward_recorded(latent.clone(), scan, &mut record);
        record(&patches);
        let reconstruction = unpatchify(patches, self.config.patch);
        let loss = masked_mse(reconstruction.clone(), x, mask, self.config.patch);
        MaeOutput {
            reconstruction,
            loss,
            latent,
        }
    }

    /// Replaces masked tokens `[B, x, y, z, T, C]` by the chosen learned
    /// token: for the window table, the entry of the token's position inside
    /// its (unshifted) stage-0 window; else the one atlas or single token.
    fn swap_in_mask_tokens(
        &self,
        tokens: Tensor<6>,
        mask: Tensor<2>,
        which: MaskToken,
    ) -> Tensor<6> {
        let [b, gx, gy, gz, gt, c] = tokens.dims();
        let device = tokens.device();
        let fill = match which {
            MaskToken::Window => {
                let index = Tensor::<1, Int>::from_data(
                    TensorData::new(self.mask_index.clone(), [gx * gy * gz * gt]),
                    &device,
                );
                self.mask_token
                    .val()
                    .select(0, index)
                    .reshape([1, gx, gy, gz, gt, c])
            }
            MaskToken::Single => self.single_mask_token.val().reshape([1, 1, 1, 1, 1, c]),
            MaskToken::Atlas => self.atlas_mask_token.val().reshape([1, 1, 1, 1, 1, c]),
        };
        let m = mask.reshape([b, gx, gy, gz, gt, 1]);
        tokens * (m.clone().neg() + 1.0) + fill * m
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

/// Replaces voxels where `v` `[B, X, Y, Z, T']` (T' = 1: every frame) is 1
/// by each clip's minimum.
fn fill_voxels(x: Tensor<6>, v: Tensor<5>) -> Tensor<6> {
    let [b, _, gx, gy, gz, _] = x.dims();
    let fill = x
        .clone()
        .reshape([b as i32, -1])
        .min_dim(1)
        .reshape([b, 1, 1, 1, 1, 1]);
    let tv = v.dims()[4];
    let v = v.reshape([b, 1, gx, gy, gz, tv]);
    x * (v.clone().neg() + 1.0) + fill * v
}
