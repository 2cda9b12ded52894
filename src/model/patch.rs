//! Patch embedding, patch merging (down) and patch expanding (up), with the
//! channel layouts docs/SPEC-model.md fixes for checkpoint import.

use super::fused::norm::layer_norm;
use super::layout::{gather_2x2x2, patchify, scatter_2x2x2};
use burn::nn::{LayerNorm, LayerNormConfig, Linear, LinearConfig};
use burn::prelude::*;

/// p×p×p×1 patches → Linear(p³ → C) with bias, no norm.
#[derive(Module, Debug)]
pub struct PatchEmbed {
    /// p³ → C.
    pub proj: Linear,
    patch: usize,
}

impl PatchEmbed {
    /// Embeds `p³` patches into `dim` channels.
    pub fn new(patch: usize, dim: usize, device: &Device) -> Self {
        Self {
            proj: LinearConfig::new(patch.pow(3), dim).init(device),
            patch,
        }
    }

    /// `[B, 1, X, Y, Z, T]` → tokens `[B, X/p, Y/p, Z/p, T, C]`.
    pub fn forward(&self, x: Tensor<6>) -> Tensor<6> {
        self.proj.forward(patchify(x, self.patch))
    }
}

/// 2×2×2 spatial merge: gather 8 sub-grids → LN(8C) → Linear(8C → 2C), no bias.
#[derive(Module, Debug)]
pub struct PatchMerging {
    /// LayerNorm over the 8C gathered channels.
    pub norm: LayerNorm,
    /// 8C → 2C.
    pub reduction: Linear,
    #[module(skip)]
    eps: f64,
}

impl PatchMerging {
    /// Merging from width `dim`.
    pub fn new(dim: usize, eps: f64, device: &Device) -> Self {
        Self {
            norm: LayerNormConfig::new(8 * dim).with_epsilon(eps).init(device),
            reduction: LinearConfig::new(8 * dim, 2 * dim)
                .with_bias(false)
                .init(device),
            eps,
        }
    }

    /// `[B, X, Y, Z, T, C]` → `[B, X/2, Y/2, Z/2, T, 2C]`.
    pub fn forward(&self, x: Tensor<6>) -> Tensor<6> {
        self.reduction
            .forward(layer_norm(&self.norm, self.eps, gather_2x2x2(x)))
    }
}

/// 2×2×2 spatial expansion: Linear(C → 4C), no bias → 8 sub-voxels of C/2 → LN(C/2).
#[derive(Module, Debug)]
pub struct PatchExpanding {
    /// C → 4C.
    pub expand: Linear,
    /// LayerNorm over C/2.
    pub norm: LayerNorm,
    #[module(skip)]
    eps: f64,
}

impl PatchExpanding {
    /// Expanding from width `dim`.
    pub fn new(dim: usize, eps: f64, device: &Device) -> Self {
        Self {
            expand: LinearConfig::new(dim, 4 * dim)
                .with_bias(false)
                .init(device),
            norm: LayerNormConfig::new(dim / 2).with_epsilon(eps).init(device),
            eps,
        }
    }

    /// `[B, X, Y, Z, T, C]` → `[B, 2X, 2Y, 2Z, T, C/2]`.
    pub fn forward(&self, x: Tensor<6>) -> Tensor<6> {
        layer_norm(&self.norm, self.eps, scatter_2x2x2(self.expand.forward(x)))
    }
}
