//! The mask of one clip: which tokens get the mask token and which input
//! voxels count in the loss, with their counts.

/// The model's token grid: spatial tokens per axis and frames.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenGrid {
    /// Tokens along x, y, z.
    pub spatial: [usize; 3],
    /// Frames (time is not patched).
    pub frames: usize,
}

impl TokenGrid {
    /// Spatial token positions.
    pub fn n_spatial(&self) -> usize {
        self.spatial.iter().product()
    }

    /// All tokens over space and time.
    pub fn n_tokens(&self) -> usize {
        self.n_spatial() * self.frames
    }

    /// Index of spatial token (x, y, z): row-major, z fastest.
    pub fn spatial_index(&self, x: usize, y: usize, z: usize) -> usize {
        (x * self.spatial[1] + y) * self.spatial[2] + z
    }

    /// Index of token (x, y, z, t): the model's (X, Y, Z, T) layout, t fastest.
    pub fn index(&self, x: usize, y: usize, z: usize, t: usize) -> usize {
        self.spatial_index(x, y, z) * self.frames + t
    }
}

/// Masked token and voxel counts of a clip.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct MaskCounts {
    /// Tokens replaced by the mask token (over space and time).
    pub tokens: usize,
    /// Input voxels that count in the loss (over space and time).
    pub voxels: usize,
    /// Spatial token positions masked in at least one frame.
    pub spatial_tokens: usize,
}

/// The mask of one clip.
#[derive(Debug, Clone, PartialEq)]
pub struct ClipMask {
    /// The token grid.
    pub grid: TokenGrid,
    /// Patch edge in voxels.
    pub patch: usize,
    /// Per token (index [`TokenGrid::index`]): replaced by the mask token.
    pub tokens: Vec<bool>,
    /// Voxel-level masks: the input voxels that are filled and scored,
    /// row-major `input³` when every frame has the same ones (`time =
    /// "all"`), else row-major `input³ × frames` with t fastest (the
    /// clip's own layout): read it through [`ClipMask::voxel_masked`].
    /// `None` at token level, where the masked tokens' patches are scored.
    pub voxels: Option<Vec<bool>>,
    /// The learned token that replaces the masked tokens (from the strategy).
    pub token: crate::model::MaskToken,
}

impl ClipMask {
    /// Whether token (x, y, z, t) gets the mask token.
    pub fn token_masked(&self, x: usize, y: usize, z: usize, t: usize) -> bool {
        self.tokens[self.grid.index(x, y, z, t)]
    }

    /// Whether input voxel (u, v, w) of frame t counts in the loss.
    pub fn voxel_masked(&self, u: usize, v: usize, w: usize, t: usize) -> bool {
        match &self.voxels {
            Some(mask) => {
                let n = self.grid.spatial[0] * self.patch;
                let i = (u * n + v) * n + w;
                if self.voxels_vary_in_time() {
                    mask[i * self.grid.frames + t]
                } else {
                    mask[i]
                }
            }
            None => self.token_masked(u / self.patch, v / self.patch, w / self.patch, t),
        }
    }

    /// Whether the voxel-level mask differs between frames (it is stored
    /// per frame, `input³ × frames`); `false` at token level.
    pub fn voxels_vary_in_time(&self) -> bool {
        let n = self.grid.spatial[0] * self.patch;
        self.voxels.as_ref().is_some_and(|m| m.len() != n * n * n)
    }

    /// Whether every frame has the same mask (tokens and, at voxel level,
    /// voxels).
    pub fn is_tube(&self) -> bool {
        let same = |frames: &[bool]| frames.iter().all(|&m| m == frames[0]);
        self.tokens.chunks(self.grid.frames).all(same)
            && (!self.voxels_vary_in_time()
                || self
                    .voxels
                    .as_ref()
                    .is_some_and(|m| m.chunks(self.grid.frames).all(same)))
    }

    /// Token and voxel counts.
    pub fn counts(&self) -> MaskCounts {
        let tokens = self.tokens.iter().filter(|&&m| m).count();
        let spatial_tokens = self
            .tokens
            .chunks(self.grid.frames)
            .filter(|frames| frames.iter().any(|&m| m))
            .count();
        let voxels = match &self.voxels {
            Some(mask) if self.voxels_vary_in_time() => mask.iter().filter(|&&m| m).count(),
            Some(mask) => mask.iter().filter(|&&m| m).count() * self.grid.frames,
            None => tokens * self.patch.pow(3),
        };
        MaskCounts {
            tokens,
            voxels,
            spatial_tokens,
        }
    }
}
