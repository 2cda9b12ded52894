//! The shifted-window Mamba (SWM) block and a stage of them:
//! `x += WindowMamba(LN(x))`, `x += MLP(LN(x))`, where WindowMamba runs one
//! causal Mamba sequence per 4D window, after a cyclic shift on odd blocks.

use super::config::StageGeometry;
use super::fused::gelu::gelu;
use super::fused::norm::{layer_norm, layer_norm_into_windows};
use super::init::InitRng;
use super::layout::{merge, merge_shifted};
use super::mamba::Mamba;
use super::scan::ScanImpl;
use burn::nn::{LayerNorm, LayerNormConfig, Linear, LinearConfig};
use burn::prelude::*;

/// The block MLP: Linear(C → rC) + GELU + Linear(rC → C).
#[derive(Module, Debug)]
pub struct Mlp {
    /// C → rC.
    pub fc1: Linear,
    /// rC → C.
    pub fc2: Linear,
}

impl Mlp {
    fn forward<const D: usize>(&self, x: Tensor<D>) -> Tensor<D> {
        self.fc2.forward(gelu(self.fc1.forward(x)))
    }
}

/// One SWM block.
#[derive(Module, Debug)]
pub struct SwmBlock {
    /// Pre-norm of the Mamba branch.
    pub norm1: LayerNorm,
    /// The window Mamba.
    pub mamba: Mamba,
    /// Pre-norm of the MLP branch.
    pub norm2: LayerNorm,
    /// The MLP.
    pub mlp: Mlp,
    #[module(skip)]
    window: [usize; 4],
    #[module(skip)]
    shift: [usize; 4],
    #[module(skip)]
    eps: f64,
}

/// Everything a block needs to know about the model, besides its stage.
#[derive(Debug, Clone, Copy)]
pub struct BlockParams {
    /// Mamba state size.
    pub d_state: usize,
    /// Mamba conv kernel.
    pub d_conv: usize,
    /// MLP ratio.
    pub mlp_ratio: usize,
    /// LayerNorm epsilon.
    pub eps: f64,
}

impl SwmBlock {
    /// Block `index` of a stage (odd indices are shifted).
    pub fn new(
        stage: &StageGeometry,
        index: usize,
        p: BlockParams,
        rng: &mut InitRng,
        device: &Device,
    ) -> Self {
        let c = stage.dim;
        let norm = || LayerNormConfig::new(c).with_epsilon(p.eps).init(device);
        Self {
            norm1: norm(),
            mamba: Mamba::new(c, p.d_state, p.d_conv, rng, device),
            norm2: norm(),
            mlp: Mlp {
                fc1: LinearConfig::new(c, p.mlp_ratio * c).init(device),
                fc2: LinearConfig::new(p.mlp_ratio * c, c).init(device),
            },
            window: stage.window,
            shift: if index % 2 == 1 { stage.shift } else { [0; 4] },
            eps: p.eps,
        }
    }

    /// `[B, X, Y, Z, T, C]` → same shape.
    pub fn forward(&self, x: Tensor<6>, scan: ScanImpl) -> Tensor<6> {
        let y = self.window_mamba(x.clone(), scan);
        let x = x + y;
        let y = self
            .mlp
            .forward(layer_norm(&self.norm2, self.eps, x.clone()));
        x + y
    }

    /// `WindowMamba(LN(x))`: the norm writes the (shifted) windows
    /// directly, one Mamba sequence per window, merged back onto the grid.
    fn window_mamba(&self, x: Tensor<6>, scan: ScanImpl) -> Tensor<6> {
        let [b, gx, gy, gz, gt, _] = x.dims();
        let grid = [b, gx, gy, gz, gt];
        let windows = layer_norm_into_windows(&self.norm1, self.eps, x, self.window, self.shift);
        let seqs = self.mamba.forward(windows, scan);
        if self.shift.iter().any(|&s| s > 0) {
            merge_shifted(seqs, self.window, self.shift, grid)
        } else {
            merge(seqs, self.window, grid)
        }
    }
}

/// A stage: its blocks in order.
#[derive(Module, Debug)]
pub struct SwmStage {
    /// The blocks (odd ones shifted).
    pub blocks: Vec<SwmBlock>,
}

impl SwmStage {
    /// `geometry.depth` blocks at `geometry.dim`.
    pub fn new(
        geometry: &StageGeometry,
        p: BlockParams,
        rng: &mut InitRng,
        device: &Device,
    ) -> Self {
        Self {
            blocks: (0..geometry.depth)
                .map(|i| SwmBlock::new(geometry, i, p, rng, device))
                .collect(),
        }
    }

    /// Runs the blocks.
    pub fn forward(&self, mut x: Tensor<6>, scan: ScanImpl) -> Tensor<6> {
        for block in &self.blocks {
            x = block.forward(x, scan);
        }
        x
    }
}
