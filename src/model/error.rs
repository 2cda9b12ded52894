//! Typed errors of the model layer: configurations that cannot build a
//! model, unknown names (preset, scan, mask token), and device failures
//! while reading results back. Each message is one line that names the
//! model or setting at fault and says what to do.

use super::preset::Preset;
use thiserror::Error;

/// What can go wrong building or running the model.
#[derive(Debug, Error, PartialEq)]
pub enum ModelError {
    /// A preset name that is not one of [`Preset::ALL`].
    #[error("unknown model preset '{name}'; choose one of: {}", Preset::names())]
    UnknownPreset {
        /// The name given.
        name: String,
    },
    /// A selective-scan name that is not one of the implementations.
    #[error("unknown scan '{name}'; choose auto, fused, parallel, chunked or sequential")]
    UnknownScan {
        /// The name given.
        name: String,
    },
    /// A mask-token name that is not one of the three tokens.
    #[error("unknown mask token '{name}'; choose window, atlas or single")]
    UnknownMaskToken {
        /// The name given.
        name: String,
    },
    /// The input cube does not divide into patches.
    #[error(
        "model '{model}': input {input} is not a multiple of patch {patch}; choose an input that is a whole number of patches"
    )]
    PatchDoesNotDivide {
        /// The config's name.
        model: String,
        /// Input voxels per axis.
        input: usize,
        /// Patch edge.
        patch: usize,
    },
    /// No stages, zero width or zero frames.
    #[error(
        "model '{model}': empty depths, width or frames; give at least one stage, embed_dim > 0 and frames > 0"
    )]
    Empty {
        /// The config's name.
        model: String,
    },
    /// The token grid cannot be halved once per patch merging.
    #[error(
        "model '{model}': a {tokens}³ token grid cannot be halved {merges} times; use fewer stages or a token grid divisible by {}", 1usize << merges
    )]
    CannotMerge {
        /// The config's name.
        model: String,
        /// Tokens per spatial axis at stage 0.
        tokens: usize,
        /// Patch mergings (stages − 1).
        merges: usize,
    },
    /// A stage's window does not tile its token grid.
    #[error(
        "model '{model}': window {window:?} does not tile the {grid:?} token grid; choose windows that divide every stage's grid"
    )]
    WindowDoesNotTile {
        /// The config's name.
        model: String,
        /// The (clamped) window.
        window: [usize; 4],
        /// The stage's token grid.
        grid: [usize; 4],
    },
    /// A device name that is not `auto`, `wgpu` (`gpu`) or `cpu` (`flex`).
    #[error("unknown device '{name}'; choose auto, wgpu (alias gpu) or cpu (alias flex)")]
    UnknownDevice {
        /// The name given.
        name: String,
    },
    /// The device failed (e.g. ran out of memory) while results were read back.
    #[error("the device failed {during}: {reason}")]
    Device {
        /// What was running ("while profiling", "during the benchmark").
        during: &'static str,
        /// The device's own words, on one line.
        reason: String,
    },
    /// A replayed op gave no gradient for its input (a bug in the profiler).
    #[error("profiled op '{op}' has no input gradient")]
    NoGradient {
        /// The op.
        op: String,
    },
}
