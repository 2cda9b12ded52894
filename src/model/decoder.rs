//! The MAE decoder (no skip connections, no positional embeddings):
//! PatchExpanding from the bottleneck, then up-stages of SWM blocks with
//! PatchExpanding between them, LN, and a per-token Linear(C → p³).

use super::block::SwmStage;
use super::config::ModelConfig;
use super::encoder::block_params;
use super::fused;
use super::init::InitRng;
use super::patch::PatchExpanding;
use super::scan::ScanImpl;
use burn::nn::{LayerNorm, LayerNormConfig, Linear, LinearConfig};
use burn::prelude::*;

/// The decoder.
#[derive(Module, Debug)]
pub struct Decoder {
    /// Expands the encoder output (e.g. 288 → 144 channels, 2³ → 4³).
    pub expand_in: PatchExpanding,
    /// Up-stages, deepest first.
    pub stages: Vec<SwmStage>,
    /// Expanding after every up-stage but the last.
    pub expands: Vec<PatchExpanding>,
    /// Final LayerNorm at stage-0 width.
    pub norm: LayerNorm,
    /// Stage-0 width → p³ voxel values per token.
    pub pred: Linear,
    #[module(skip)]
    norm_eps: f64,
}

impl Decoder {
    /// A freshly initialised decoder.
    pub fn new(cfg: &ModelConfig, rng: &mut InitRng, device: &Device) -> Self {
        let geometry = cfg.decoder_stages();
        let p = block_params(cfg);
        let bottleneck = cfg.stage_dim(cfg.depths.len() - 1);
        Self {
            expand_in: PatchExpanding::new(bottleneck, cfg.norm_eps, device),
            stages: geometry
                .iter()
                .map(|g| SwmStage::new(g, p, rng, device))
                .collect(),
            expands: geometry[..geometry.len() - 1]
                .iter()
                .map(|g| PatchExpanding::new(g.dim, cfg.norm_eps, device))
                .collect(),
            norm: LayerNormConfig::new(cfg.embed_dim)
                .with_epsilon(cfg.norm_eps)
                .init(device),
            pred: LinearConfig::new(cfg.embed_dim, cfg.patch_volume()).init(device),
            norm_eps: cfg.norm_eps,
        }
    }

    /// Encoder output → per-token predictions `[B, x, y, z, T, p³]`.
    pub fn forward(&self, x: Tensor<6>, scan: ScanImpl) -> Tensor<6> {
        self.forward_recorded(x, scan, &mut |_| {})
    }

    /// [`Decoder::forward`], handing the first expanding's output and every
    /// up-stage's output (after its expanding) to `record`.
    pub fn forward_recorded(
        &self,
        x: Tensor<6>,
        scan: ScanImpl,
        record: &mut dyn FnMut(&Tensor<6>),
    ) -> Tensor<6> {
        let mut x = self.expand_in.forward(x);
        record(&x);
        for (i, stage) in self.stages.iter().enumerate() {
            x = stage.forward(x, scan);
            if let Some(expand) = self.expands.get(i) {
                x = expand.forward(x);
            }
            record(&x);
        }
        self.pred
            .forward(fused::norm::layer_norm(&self.norm, self.norm_eps, x))
    }
}
