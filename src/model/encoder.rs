//! The shifted-window Mamba encoder: patch embedding, then per stage
//! (spatial + temporal embeddings → SWM blocks), with patch merging between
//! stages. `[B, 1, 96³, 20]` → `[B, 2, 2, 2, 20, 288]` at `reference`.

use super::block::{BlockParams, SwmStage};
use super::config::ModelConfig;
use super::init::{self, InitRng};
use super::patch::{PatchEmbed, PatchMerging};
use super::scan::ScanImpl;
use burn::module::Param;
use burn::prelude::*;

/// The encoder.
#[derive(Module, Debug)]
pub struct Encoder {
    /// Patch embedding.
    pub patch_embed: PatchEmbed,
    /// Per stage, the spatial embedding `[C, X, Y, Z, 1]`.
    pub pos_embeds: Vec<Param<Tensor<5>>>,
    /// Per stage, the temporal embedding `[C, 1, 1, 1, T]`.
    pub time_embeds: Vec<Param<Tensor<5>>>,
    /// The stages.
    pub stages: Vec<SwmStage>,
    /// Patch merging after every stage but the last.
    pub merges: Vec<PatchMerging>,
}

/// The block settings of a config.
pub(crate) fn block_params(cfg: &ModelConfig) -> BlockParams {
    BlockParams {
        d_state: cfg.d_state,
        d_conv: cfg.d_conv,
        mlp_ratio: cfg.mlp_ratio,
        eps: cfg.norm_eps,
    }
}

impl Encoder {
    /// A freshly initialised encoder.
    pub fn new(cfg: &ModelConfig, rng: &mut InitRng, device: &Device) -> Self {
        let geometry = cfg.encoder_stages();
        let p = block_params(cfg);
        let mut pos_embeds = Vec::new();
        let mut time_embeds = Vec::new();
        let mut stages = Vec::new();
        for g in &geometry {
            let [x, y, z, t] = g.grid;
            pos_embeds.push(init::truncated_normal(
                rng,
                [g.dim, x, y, z, 1],
                0.02,
                device,
            ));
            time_embeds.push(init::truncated_normal(
                rng,
                [g.dim, 1, 1, 1, t],
                0.02,
                device,
            ));
            stages.push(SwmStage::new(g, p, rng, device));
        }
        let merges = geometry[..geometry.len() - 1]
            .iter()
            .map(|g| PatchMerging::new(g.dim, cfg.norm_eps, device))
            .collect();
        Self {
            patch_embed: PatchEmbed::new(cfg.patch, cfg.embed_dim, device),
            pos_embeds,
            time_embeds,
            stages,
            merges,
        }
    }

    /// Clips `[B, 1, X, Y, Z, T]` → stage-0 tokens `[B, x, y, z, T, C]`.
    pub fn embed(&self, x: Tensor<6>) -> Tensor<6> {
        self.patch_embed.forward(x)
    }

    /// Stage-0 tokens → encoder output `[B, x', y', z', T, C']`.
    pub fn forward_tokens(&self, x: Tensor<6>, scan: ScanImpl) -> Tensor<6> {
        self.forward_tokens_recorded(x, scan, &mut |_| {})
    }

    /// [`Encoder::forward_tokens`], handing every stage's output (after its
    /// patch merging) to `record`.
    pub fn forward_tokens_recorded(
        &self,
        mut x: Tensor<6>,
        scan: ScanImpl,
        record: &mut dyn FnMut(&Tensor<6>),
    ) -> Tensor<6> {
        for (i, stage) in self.stages.iter().enumerate() {
            x = x
                + to_channel_last(self.pos_embeds[i].val())
                + to_channel_last(self.time_embeds[i].val());
            x = stage.forward(x, scan);
            if let Some(merge) = self.merges.get(i) {
                x = merge.forward(x);
            }
            record(&x);
        }
        x
    }

    /// Clips → encoder output.
    pub fn forward(&self, x: Tensor<6>, scan: ScanImpl) -> Tensor<6> {
        self.forward_tokens(self.embed(x), scan)
    }
}

/// `[C, X, Y, Z, T]` → `[1, X, Y, Z, T, C]` for broadcasting onto tokens.
fn to_channel_last(e: Tensor<5>) -> Tensor<6> {
    e.permute([1, 2, 3, 4, 0]).unsqueeze_dim::<6>(0)
}
