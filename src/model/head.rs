//! The classification head for fine-tuning on a frozen encoder: mean over
//! all output tokens → Linear(C → K) (K = 1 for a binary logit).

use burn::nn::{Linear, LinearConfig};
use burn::prelude::*;

/// Mean token → logits.
#[derive(Module, Debug)]
pub struct ClassifierHead {
    /// C → K.
    pub fc: Linear,
}

impl ClassifierHead {
    /// A head from encoder width `dim` to `classes` logits.
    pub fn new(dim: usize, classes: usize, device: &Device) -> Self {
        Self {
            fc: LinearConfig::new(dim, classes).init(device),
        }
    }

    /// Encoder output `[B, x, y, z, T, C]` → logits `[B, K]`.
    pub fn forward(&self, encoded: Tensor<6>) -> Tensor<2> {
        let [b, x, y, z, t, c] = encoded.dims();
        let pooled = encoded
            .reshape([b, x * y * z * t, c])
            .mean_dim(1)
            .reshape([b, c]);
        self.fc.forward(pooled)
    }
}
