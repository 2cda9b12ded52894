//! Fused model ops with handwritten backward passes, as burn backend
//! extensions: one CubeCL kernel (plus the reductions of parameter
//! gradients) where autodiff over the composed ops would launch dozens of
//! small kernels, and host loops on Flex.
//!
//! - [`conv`]: Mamba's depthwise causal conv1d + bias + SiLU on the first
//!   `Di` channels of the in_proj output;
//! - [`norm`]: LayerNorm over the last dim.

pub mod conv;
pub mod norm;
