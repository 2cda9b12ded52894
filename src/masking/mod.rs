//! Masking strategies for masked-autoencoder pretraining: random tokens,
//! whole token windows (the reference), tubes, and AAL3 region (ROI)
//! masking at token or voxel level, optionally partial, each at every frame
//! or (`time`, [`MaskTime`]) at random frames or in blocks of frames. Masks
//! are deterministic under a seed and report their token and voxel counts.
//! A spec that cannot be drawn is a [`MaskError`].

pub mod clip_mask;
pub mod error;
pub mod masker;
pub mod spec;
pub mod time;

pub use clip_mask::{ClipMask, MaskCounts, TokenGrid};
pub use error::MaskError;
pub use masker::Masker;
pub use spec::{MaskLevel, MaskSpec, MaskStrategy, RegionSelection};
pub use time::MaskTime;
