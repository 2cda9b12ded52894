//! The selective scan of Mamba (S6), the model's hot spot, behind one
//! function with interchangeable implementations:
//!
//! - [`sequential`]: the recurrence written step by step (reference, tests);
//! - [`chunked`]: a two-level parallel prefix scan in tensor ops, exact and
//!   differentiable on every backend;
//! - [`kernel`]: one fused pass forward and one handwritten backward, as a
//!   CubeCL kernel on Cube backends (wgpu/Vulkan/CUDA) and as host loops
//!   ([`host`]) on Flex; memory-lean — no `[W, L, Di, N]` tensor survives
//!   the forward pass;
//! - [`parallel`]: the same fused scan in time-parallel form (a cube per
//!   sequence scanning chunk maps in shared memory, like mamba-ssm's CUDA
//!   kernel) on Cube backends; the host loops on Flex.
//!
//! [`ScanImpl::Auto`] (the default) takes the fused kernel where the device
//! supports it and the chunked scan elsewhere.
//!
//! For channel c and state n: `h_t = exp(Δ_t·A) ⊙ h_{t-1} + Δ_t·B_t·u_t`,
//! `y_t = C_t·h_t + D·u_t`.

pub mod chunked;
pub mod host;
pub mod kernel;
pub mod parallel;
pub mod sequential;

use burn::prelude::*;
use serde::{Deserialize, Serialize};

/// Which selective-scan implementation runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ScanImpl {
    /// The step-by-step recurrence (L sequential steps; slow, for tests).
    Sequential,
    /// Two-level parallel prefix scan in tensor ops.
    Chunked,
    /// The fused kernel: CubeCL on Cube devices, host loops on Flex (falls
    /// back to `Chunked` elsewhere).
    Fused,
    /// The time-parallel CubeCL kernels on Cube devices, the host loops on
    /// Flex (falls back to `Chunked` elsewhere).
    Parallel,
    /// `Fused` where supported, else `Chunked` (default).
    #[default]
    Auto,
}

impl ScanImpl {
    /// Parses `auto`, `fused`, `parallel`, `chunked` or `sequential`.
    pub fn parse(s: &str) -> Result<Self, String> {
        match s {
            "sequential" => Ok(Self::Sequential),
            "chunked" => Ok(Self::Chunked),
            "fused" => Ok(Self::Fused),
            "parallel" => Ok(Self::Parallel),
            "auto" => Ok(Self::Auto),
            other => Err(format!(
                "unknown scan '{other}'; choose auto, fused, parallel, chunked or sequential"
            )),
        }
    }

    /// The name used on the command line and in reports.
    pub fn name(self) -> &'static str {
        match self {
            Self::Sequential => "sequential",
            Self::Chunked => "chunked",
            Self::Fused => "fused",
            Self::Parallel => "parallel",
            Self::Auto => "auto",
        }
    }

    /// The implementation that actually runs on `device`.
    pub fn resolve(self, device: &Device) -> Self {
        match self {
            Self::Fused | Self::Auto if kernel::supported(device) => Self::Fused,
            Self::Fused | Self::Auto => Self::Chunked,
            Self::Parallel if kernel::supported(device) => Self::Parallel,
            Self::Parallel => Self::Chunked,
            other => other,
        }
    }
}

/// Inputs of one selective scan over `W` independent sequences of length `L`
/// with `Di` channels and `N` states.
#[derive(Debug, Clone)]
pub struct ScanInput {
    /// `[W, L, Di]` the (convolved, activated) input.
    pub u: Tensor<3>,
    /// `[W, L, Di]` the positive step sizes Δ.
    pub delta: Tensor<3>,
    /// `[Di, N]` the (negative) state matrix A.
    pub a: Tensor<2>,
    /// `[W, L, N]` input projections B.
    pub b: Tensor<3>,
    /// `[W, L, N]` output projections C.
    pub c: Tensor<3>,
    /// `[Di]` the skip weights D.
    pub d: Tensor<1>,
}

/// The scan as a Mamba layer runs it (mamba-ssm's `selective_scan_fn` with
/// `z` and `delta_softplus = True`): Δ = softplus(`delta`), B and C are
/// columns of x_proj's output and z the second half of in_proj's, and the
/// result is `y · SiLU(z)`.
#[derive(Debug, Clone)]
pub struct MambaScanInput {
    /// `[W, L, Di]` the (convolved, activated) input.
    pub u: Tensor<3>,
    /// `[W, L, Di]` dt_proj's output (bias included), before softplus.
    pub delta: Tensor<3>,
    /// `[Di, N]` the (negative) state matrix A.
    pub a: Tensor<2>,
    /// `[W, L, R + 2N]` x_proj's output: dt's R columns, then B, then C.
    pub x_dbl: Tensor<3>,
    /// `[Di]` the skip weights D.
    pub d: Tensor<1>,
    /// `[W, L, 2·Di]` in_proj's output: x, then z.
    pub xz: Tensor<3>,
}

impl MambaScanInput {
    /// The same scan in composed ops: softplus, narrowed B, C, z, the plain
    /// scan by `which`, and the gate.
    fn composed(self, which: ScanImpl) -> Tensor<3> {
        let n = self.a.dims()[1];
        let [_, _, cols] = self.x_dbl.dims();
        let di = self.u.dims()[2];
        let r = cols - 2 * n;
        let z = self.xz.narrow(2, di, di);
        let y = selective_scan(
            ScanInput {
                u: self.u,
                delta: burn::tensor::activation::softplus(self.delta, 1.0),
                a: self.a,
                b: self.x_dbl.clone().narrow(2, r, n),
                c: self.x_dbl.narrow(2, r + n, n),
                d: self.d,
            },
            which,
        );
        y * burn::tensor::activation::silu(z)
    }

    /// Windows `start..start + len`.
    fn windows(&self, start: usize, len: usize) -> Self {
        Self {
            u: self.u.clone().narrow(0, start, len),
            delta: self.delta.clone().narrow(0, start, len),
            a: self.a.clone(),
            x_dbl: self.x_dbl.clone().narrow(0, start, len),
            d: self.d.clone(),
            xz: self.xz.clone().narrow(0, start, len),
        }
    }
}

/// Runs the Mamba form of the scan: `[W, L, Di]`. With the fused kernel
/// (`which` resolving to [`ScanImpl::Fused`]) it is one op forward and one
/// backward, reading B, C and z in place; every other implementation runs
/// the composed ops around [`selective_scan`].
pub fn mamba_scan(input: MambaScanInput, which: ScanImpl) -> Tensor<3> {
    let device = input.u.device();
    if which.resolve(&device) != ScanImpl::Fused {
        return input.composed(which);
    }
    let [w, l, di] = input.u.dims();
    let n = input.a.dims()[1];
    // The CubeCL backward keeps `[W, L, Di, 2N]` partials: split along W.
    let per_sequence = (l * di * 2 * n * 4).max(1);
    let group = (MAX_STATE_BYTES / per_sequence).clamp(1, w.max(1));
    if group >= w || !device.is_autodiff() || kernel::is_host(&device) {
        return kernel::gated_scan(input);
    }
    let mut outputs = Vec::with_capacity(w.div_ceil(group));
    let mut start = 0;
    while start < w {
        let len = group.min(w - start);
        outputs.push(kernel::gated_scan(input.windows(start, len)));
        start += len;
    }
    Tensor::cat(outputs, 0)
}

/// Largest `[w, L, Di, N]` f32 state tensor one scan call materialises.
/// Wider inputs are split along W: GPU adapters cap single buffers (wgpu's
/// default limit is 256 MiB) and the reference stage 0 alone needs 377 MB
/// per clip.
pub const MAX_STATE_BYTES: usize = 64 << 20;

/// Runs the selective scan: `[W, L, Di]`.
pub fn selective_scan(input: ScanInput, which: ScanImpl) -> Tensor<3> {
    let which = which.resolve(&input.u.device());
    if matches!(which, ScanImpl::Fused | ScanImpl::Parallel)
        && (!input.u.device().is_autodiff() || kernel::is_host(&input.u.device()))
    {
        // The fused forward keeps no state tensor, and neither does the
        // host backward (the CubeCL backward's per-channel partials do).
        return scan_once(input, which);
    }
    let [w, l, di] = input.u.dims();
    let n = input.a.dims()[1];
    let per_sequence = (l * di * n * 4).max(1);
    let group = (MAX_STATE_BYTES / per_sequence).clamp(1, w.max(1));
    if group >= w {
        return scan_once(input, which);
    }
    let mut outputs = Vec::with_capacity(w.div_ceil(group));
    let mut start = 0;
    while start < w {
        let len = group.min(w - start);
        let part = ScanInput {
            u: input.u.clone().narrow(0, start, len),
            delta: input.delta.clone().narrow(0, start, len),
            a: input.a.clone(),
            b: input.b.clone().narrow(0, start, len),
            c: input.c.clone().narrow(0, start, len),
            d: input.d.clone(),
        };
        outputs.push(scan_once(part, which));
        start += len;
    }
    Tensor::cat(outputs, 0)
}

fn scan_once(input: ScanInput, which: ScanImpl) -> Tensor<3> {
    match which {
        ScanImpl::Sequential => sequential::scan(input),
        ScanImpl::Fused => kernel::fused_scan(input),
        ScanImpl::Parallel => kernel::parallel_scan(input),
        ScanImpl::Chunked | ScanImpl::Auto => chunked::scan(input, chunked::DEFAULT_CHUNK),
    }
}

/// `exp(Δ·A)` and `Δ·B·u`, both `[W, L, Di, N]`.
pub(crate) fn discretise(input: &ScanInput) -> (Tensor<4>, Tensor<4>) {
    let [di, n] = input.a.dims();
    let delta = input.delta.clone().unsqueeze_dim::<4>(3); // [W, L, Di, 1]
    let a = input.a.clone().reshape([1, 1, di, n]);
    let decay = (delta.clone() * a).exp();
    let du = delta * input.u.clone().unsqueeze_dim::<4>(3); // [W, L, Di, 1]
    let drive = du * input.b.clone().unsqueeze_dim::<4>(2); // [W, L, 1, N]
    (decay, drive)
}

/// `y = Σ_n C·h + D·u` from the states `h` `[W, L, Di, N]`.
pub(crate) fn read_out(h: Tensor<4>, input: &ScanInput) -> Tensor<3> {
    let [di] = input.d.dims();
    let y = (h * input.c.clone().unsqueeze_dim::<4>(2))
        .sum_dim(3)
        .squeeze_dim::<3>(3);
    y + input.u.clone() * input.d.clone().reshape([1, 1, di])
}
