//! The model's shape in one serialisable type, the configs of the three
//! presets (`reference`, `mni4mm`, `tiny`; by name: [`Preset`](super::Preset)),
//! its validation, `init` (config → model) and the window/shift geometry of
//! every encoder and decoder stage derived from it (docs/SPEC-model.md
//! "Encoder").

use super::error::ModelError;
use super::mae::Mae;
use burn::prelude::Device;
use serde::{Deserialize, Serialize};

/// Everything that fixes the topology of the Swin-Mamba MAE.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelConfig {
    /// Preset name this config came from (informational).
    pub name: String,
    /// Input voxels per spatial axis (cube).
    pub input: usize,
    /// Patch edge in voxels (time is not patched).
    pub patch: usize,
    /// Frames per clip.
    pub frames: usize,
    /// Width of stage 0 (doubles per stage).
    pub embed_dim: usize,
    /// Blocks per encoder stage; the decoder mirrors all but the last.
    pub depths: Vec<usize>,
    /// Window of every stage but the last (x, y, z, t), clamped to the grid.
    pub window: [usize; 4],
    /// Window of the last encoder stage (never shifted).
    pub last_window: [usize; 4],
    /// Mamba state size N.
    pub d_state: usize,
    /// Mamba depthwise convolution kernel.
    pub d_conv: usize,
    /// MLP hidden width = ratio × C.
    pub mlp_ratio: usize,
    /// LayerNorm epsilon.
    pub norm_eps: f64,
}

/// The window and cyclic shift of one stage on its token grid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct StageGeometry {
    /// Channels.
    pub dim: usize,
    /// Token grid (x, y, z, t).
    pub grid: [usize; 4],
    /// Window, clamped to the grid.
    pub window: [usize; 4],
    /// Shift applied (as a roll by minus this) on odd-indexed blocks.
    pub shift: [usize; 4],
    /// Blocks.
    pub depth: usize,
}

impl StageGeometry {
    /// Windows in the grid.
    pub fn n_windows(&self) -> usize {
        (0..4).map(|d| self.grid[d] / self.window[d]).product()
    }

    /// Tokens per window (the Mamba sequence length).
    pub fn window_len(&self) -> usize {
        self.window.iter().product()
    }
}

impl ModelConfig {
    /// The published NeuroSTORM configuration: 96³×20 input at 2 mm, 6³ patches.
    pub fn reference() -> Self {
        Self {
            name: "reference".into(),
            input: 96,
            patch: 6,
            frames: 20,
            embed_dim: 36,
            depths: vec![2, 2, 6, 2],
            window: [4, 4, 4, 4],
            last_window: [2, 2, 2, 4],
            d_state: 16,
            d_conv: 4,
            mlp_ratio: 4,
            norm_eps: 1e-5,
        }
    }

    /// 4 mm data (48³×20, 3³ patches): the same 16³ token grid as `reference`.
    pub fn mni4mm() -> Self {
        Self {
            name: "mni4mm".into(),
            input: 48,
            patch: 3,
            ..Self::reference()
        }
    }

    /// A small model for tests and CPU demos: 24³×8 input, 3³ patches
    /// (an 8³×8 token grid), widths 8-64, one or two blocks per stage.
    pub fn tiny() -> Self {
        Self {
            name: "tiny".into(),
            input: 24,
            patch: 3,
            frames: 8,
            embed_dim: 8,
            depths: vec![2, 2, 2, 1],
            ..Self::reference()
        }
    }

    /// A freshly initialised model of this config (burn's `Config → init`):
    /// the config is validated first, so a bad one is an error, not a panic.
    /// `seed` drives every initialisation (burn's own through
    /// `device.seed`, the rest on the host).
    pub fn init(&self, seed: u64, device: &Device) -> Result<Mae, ModelError> {
        self.validate()?;
        Ok(Mae::build(self, seed, device))
    }

    /// Checks that every stage's grid divides into its windows and patches.
    pub fn validate(&self) -> Result<(), ModelError> {
        let model = || self.name.clone();
        if self.patch == 0 || !self.input.is_multiple_of(self.patch) {
            return Err(ModelError::PatchDoesNotDivide {
                model: model(),
                input: self.input,
                patch: self.patch,
            });
        }
        if self.depths.is_empty() || self.embed_dim == 0 || self.frames == 0 {
            return Err(ModelError::Empty { model: model() });
        }
        let tokens = self.input / self.patch;
        let merges = self.depths.len() - 1;
        if !tokens.is_multiple_of(1 << merges) {
            return Err(ModelError::CannotMerge {
                model: model(),
                tokens,
                merges,
            });
        }
        for stage in self.encoder_stages().iter().chain(&self.decoder_stages()) {
            for d in 0..4 {
                if stage.grid[d] % stage.window[d] != 0 {
                    return Err(ModelError::WindowDoesNotTile {
                        model: model(),
                        window: stage.window,
                        grid: stage.grid,
                    });
                }
            }
        }
        Ok(())
    }

    /// Spatial tokens per axis at stage 0.
    pub fn tokens_per_axis(&self) -> usize {
        self.input / self.patch
    }

    /// Values per patch (p³).
    pub fn patch_volume(&self) -> usize {
        self.patch.pow(3)
    }

    /// Width of stage `i`.
    pub fn stage_dim(&self, i: usize) -> usize {
        self.embed_dim << i
    }

    /// Mamba dt rank for width `d`: ceil(d / 16).
    pub fn dt_rank(d: usize) -> usize {
        d.div_ceil(16)
    }

    fn geometry(
        &self,
        stage: usize,
        window: [usize; 4],
        shifted: bool,
        depth: usize,
    ) -> StageGeometry {
        let s = self.tokens_per_axis() >> stage;
        let grid = [s, s, s, self.frames];
        let mut win = [0; 4];
        let mut shift = [0; 4];
        for d in 0..4 {
            win[d] = window[d].min(grid[d]);
            // A window that covers the whole grid in a dim is never shifted there.
            shift[d] = if shifted && grid[d] > window[d] {
                window[d] / 2
            } else {
                0
            };
        }
        StageGeometry {
            dim: self.stage_dim(stage),
            grid,
            window: win,
            shift,
            depth,
        }
    }

    /// The encoder stages, stage 0 first.
    pub fn encoder_stages(&self) -> Vec<StageGeometry> {
        let last = self.depths.len() - 1;
        (0..=last)
            .map(|i| {
                if i == last {
                    self.geometry(i, self.last_window, false, self.depths[i])
                } else {
                    self.geometry(i, self.window, true, self.depths[i])
                }
            })
            .collect()
    }

    /// The decoder's up-stages in execution order (deepest first): they mirror
    /// encoder stages `last-1 .. 0` with the same depths, windows and shifts.
    pub fn decoder_stages(&self) -> Vec<StageGeometry> {
        let last = self.depths.len() - 1;
        (0..last)
            .rev()
            .map(|i| self.geometry(i, self.window, true, self.depths[i]))
            .collect()
    }

    /// The window of the mask-token table: stage 0's (clamped) window.
    pub fn mask_window(&self) -> [usize; 4] {
        self.encoder_stages()[0].window
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_stage_geometry_follows_the_spec() {
        let c = ModelConfig::reference();
        c.validate().unwrap();
        let e = c.encoder_stages();
        assert_eq!(e[0].grid, [16, 16, 16, 20]);
        assert_eq!(e[0].n_windows(), 320);
        assert_eq!(e[0].shift, [2, 2, 2, 2]);
        assert_eq!(e[1].shift, [2, 2, 2, 2]);
        assert_eq!(e[2].window, [4, 4, 4, 4]);
        assert_eq!(e[2].shift, [0, 0, 0, 2]);
        assert_eq!(e[3].window, [2, 2, 2, 4]);
        assert_eq!(e[3].shift, [0, 0, 0, 0]);
        let d = c.decoder_stages();
        assert_eq!(
            d.iter().map(|s| (s.dim, s.depth)).collect::<Vec<_>>(),
            vec![(144, 6), (72, 2), (36, 2)]
        );
        assert_eq!(d[0].shift, [0, 0, 0, 2]);
        assert_eq!(ModelConfig::tiny().validate(), Ok(()));
        assert_eq!(ModelConfig::mni4mm().validate(), Ok(()));
    }

    #[test]
    fn a_bad_config_is_an_error_naming_the_fields_not_a_panic() {
        let bad = ModelConfig {
            input: 25,
            ..ModelConfig::tiny()
        };
        let e = bad.init(0, &Device::flex()).unwrap_err();
        assert_eq!(
            e,
            ModelError::PatchDoesNotDivide {
                model: "tiny".into(),
                input: 25,
                patch: 3
            }
        );
        assert!(
            e.to_string()
                .starts_with("model 'tiny': input 25 is not a multiple of patch 3")
        );
    }
}
