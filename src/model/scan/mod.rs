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
pub mod host_dt;
pub mod kernel;
pub mod parallel;
pub mod sequential;

use super::error::ModelError;
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
    pub fn parse(s: &str) -> Result<Self, ModelError> {
        match s {
            "sequential" => Ok(Self::Sequential),
            "chunked" => Ok(Self::Chunked),
            "fused" => Ok(Self::Fused),
            "parallel" => Ok(Self::Parallel),
            "auto" => Ok(Self::Auto),
            other => Err(ModelError::UnknownScan {
                name: other.to_string(),
            }),
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

impl ScanInput {
    /// Windows `start..start + len` (A and D are shared); all of them is the
    /// input itself, without narrows (each would add a gradient fill).
    fn windows(&self, start: usize, len: usize) -> Self {
        if start == 0 && len == self.u.dims()[0] {
            return self.clone();
        }
        Self {
            u: self.u.clone().narrow(0, start, len),
            delta: self.delta.clone().narrow(0, start, len),
            a: self.a.clone(),
            b: self.b.clone().narrow(0, start, len),
            c: self.c.clone().narrow(0, start, len),
            d: self.d.clone(),
        }
    }
}

/// The scan as a Mamba layer runs it (mamba-ssm's `mamba_inner_fn` from
/// x_proj's output on): Δ = softplus(dt_proj(dt columns of `x_dbl`)),
/// A = -exp(A_log), B and C are columns of x_proj's output and z the second
/// half of in_proj's, and the result is `y · SiLU(z)`.
#[derive(Debug, Clone)]
pub struct MambaScanInput {
    /// `[W, L, Di]` the (convolved, activated) input.
    pub u: Tensor<3>,
    /// `[W, L, R + 2N]` x_proj's output: dt's R columns, then B, then C.
    pub x_dbl: Tensor<3>,
    /// `[R, Di]` dt_proj's weight (burn's `[in, out]` layout).
    pub dt_weight: Tensor<2>,
    /// `[Di]` dt_proj's bias.
    pub dt_bias: Tensor<1>,
    /// `[Di, N]` A_log (A = -exp(A_log)).
    pub a_log: Tensor<2>,
    /// `[Di]` the skip weights D.
    pub d: Tensor<1>,
    /// `[W, L, 2·Di]` in_proj's output: x, then z.
    pub xz: Tensor<3>,
}

impl MambaScanInput {
    /// The same scan in composed ops: dt_proj, softplus, A = -exp(A_log),
    /// narrowed B, C, z, the plain scan by `which`, and the gate.
    fn composed(self, which: ScanImpl) -> Tensor<3> {
        let n = self.a_log.dims()[1];
        let [r, di] = self.dt_weight.dims();
        let z = self.xz.narrow(2, di, di);
        let [w, l, _] = self.x_dbl.dims();
        let dt_in = self.x_dbl.clone().narrow(2, 0, r).reshape([w * l, r]);
        let delta =
            (dt_in.matmul(self.dt_weight) + self.dt_bias.reshape([1, di])).reshape([w, l, di]);
        let y = selective_scan(
            ScanInput {
                u: self.u,
                delta: burn::tensor::activation::softplus(delta, 1.0),
                a: self.a_log.exp().neg(),
                b: self.x_dbl.clone().narrow(2, r, n),
                c: self.x_dbl.narrow(2, r + n, n),
                d: self.d,
            },
            which,
        );
        y * burn::tensor::activation::silu(z)
    }
}

/// Runs the Mamba form of the scan: `[W, L, Di]`. With the fused kernel
/// (`which` resolving to [`ScanImpl::Fused`]) it is one op forward and one
/// backward, reading B, C and z in place; every other implementation runs
/// the composed ops around [`selective_scan`].
pub fn mamba_scan(input: MambaScanInput, which: ScanImpl) -> Tensor<3> {
    let device = input.u.device();
    let budget = kernel::partial_budget(&device);
    mamba_scan_within(input, which, budget)
}

/// [`mamba_scan`] with the CubeCL backward's partials capped at
/// `max_bytes` per launch (tests use it to exercise the window groups of
/// the backward on small inputs).
pub fn mamba_scan_within(input: MambaScanInput, which: ScanImpl, max_bytes: usize) -> Tensor<3> {
    let device = input.u.device();
    if which.resolve(&device) != ScanImpl::Fused {
        return input.composed(which);
    }
    // One op forward and backward at any width: the forward keeps no
    // state, and the CubeCL backward walks the windows in groups whose
    // partials fit `max_bytes`, writing every gradient in place.
    kernel::mamba_fused_scan_within(input, max_bytes)
}

/// Runs `scan(start, len)` over consecutive groups of the `windows`
/// sequences such that each group's `bytes_per_window · len` stays within
/// `max_bytes` (at least one window per group), and concatenates the
/// results along W. One call, no copy, when everything fits.
fn in_window_groups(
    windows: usize,
    bytes_per_window: usize,
    max_bytes: usize,
    mut scan: impl FnMut(usize, usize) -> Tensor<3>,
) -> Tensor<3> {
    let group = (max_bytes / bytes_per_window.max(1)).clamp(1, windows.max(1));
    if group >= windows {
        return scan(0, windows);
    }
    let mut outputs = Vec::with_capacity(windows.div_ceil(group));
    let mut start = 0;
    while start < windows {
        let len = group.min(windows - start);
        outputs.push(scan(start, len));
        start += len;
    }
    Tensor::cat(outputs, 0)
}

/// Runs the selective scan: `[W, L, Di]`.
pub fn selective_scan(input: ScanInput, which: ScanImpl) -> Tensor<3> {
    let device = input.u.device();
    let which = which.resolve(&device);
    if matches!(which, ScanImpl::Fused | ScanImpl::Parallel)
        && (!device.is_autodiff() || kernel::is_host(&device))
    {
        // The fused forward keeps no state tensor, and neither does the
        // host backward (the CubeCL backward's per-channel partials do).
        return scan_once(input, which);
    }
    let [w, l, di] = input.u.dims();
    let n = input.a.dims()[1];
    // The composed scans and the CubeCL backward hold `[W, L, Di, N]`.
    let per_window = l * di * n * 4;
    let budget = kernel::partial_budget(&device);
    in_window_groups(w, per_window, budget, |start, len| {
        scan_once(input.windows(start, len), which)
    })
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

#[cfg(test)]
mod tests {
    use super::*;

    /// 7 windows at a budget of 3 windows run as 3 + 3 + 1, in order, and
    /// the pieces are concatenated along W; a budget that fits runs once.
    #[test]
    fn window_groups_cover_every_window_once_within_the_budget() {
        let device = Device::flex();
        let mut calls = Vec::new();
        let out = in_window_groups(7, 10, 30, |start, len| {
            calls.push((start, len));
            Tensor::<1, Int>::arange(start as i64..(start + len) as i64, &device)
                .float()
                .reshape([len, 1, 1])
        });
        assert_eq!(calls, [(0, 3), (3, 3), (6, 1)]);
        let got: Vec<f32> = out.into_data().try_to_vec::<f32>().unwrap();
        assert_eq!(got, [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
        let mut calls = Vec::new();
        in_window_groups(7, 10, 70, |start, len| {
            calls.push((start, len));
            Tensor::zeros([len, 1, 1], &device)
        });
        assert_eq!(calls, [(0, 7)]);
        // A window larger than the budget still runs, one at a time.
        let mut count = 0;
        in_window_groups(2, 100, 30, |_, len| {
            count += 1;
            Tensor::zeros([len, 1, 1], &device)
        });
        assert_eq!(count, 2);
    }
}
