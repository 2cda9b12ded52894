//! One Mamba (selective state-space) layer over a batch of sequences
//! `[W, L, D]` (docs/SPEC-model.md "Mamba"): in_proj → causal depthwise conv → SiLU
//! → x_proj → (dt_proj → Δ, B, C) → selective scan → gate by SiLU(z) →
//! out_proj (dt_proj onward is one op with the fused scan).

use super::fused;
use super::init::{self, InitRng};
use super::scan::{MambaScanInput, ScanImpl, kernel, mamba_scan};
use burn::module::Param;
use burn::nn::conv::{Conv1d, Conv1dConfig};
use burn::nn::{Linear, LinearConfig};
use burn::prelude::*;
use burn::tensor::activation::silu;

/// A Mamba layer of width `D` (d_inner = 2D).
#[derive(Module, Debug)]
pub struct Mamba {
    /// D → 2·d_inner (x and z), no bias.
    pub in_proj: Linear,
    /// Depthwise causal convolution: weight `[d_inner, 1, k]`, bias.
    pub conv1d: Conv1d,
    /// d_inner → dt_rank + 2N, no bias.
    pub x_proj: Linear,
    /// dt_rank → d_inner, with bias.
    pub dt_proj: Linear,
    /// `[d_inner, N]`; A = -exp(A_log).
    pub a_log: Param<Tensor<2>>,
    /// `[d_inner]` skip weights.
    pub d_skip: Param<Tensor<1>>,
    /// d_inner → D, no bias.
    pub out_proj: Linear,
    d_inner: usize,
    d_state: usize,
    dt_rank: usize,
    d_conv: usize,
}

impl Mamba {
    /// A freshly initialised layer (docs/SPEC-model.md initialisation).
    pub fn new(
        d_model: usize,
        d_state: usize,
        d_conv: usize,
        rng: &mut InitRng,
        device: &Device,
    ) -> Self {
        let d_inner = 2 * d_model;
        let dt_rank = d_model.div_ceil(16);
        let mut dt_proj = LinearConfig::new(dt_rank, d_inner).init(device);
        dt_proj.weight = init::dt_weight(rng, dt_rank, d_inner, device);
        dt_proj.bias = Some(init::dt_bias(rng, d_inner, device));
        Self {
            in_proj: LinearConfig::new(d_model, 2 * d_inner)
                .with_bias(false)
                .init(device),
            conv1d: Conv1dConfig::new(d_inner, d_inner, d_conv)
                .with_groups(d_inner)
                .init(device),
            x_proj: LinearConfig::new(d_inner, dt_rank + 2 * d_state)
                .with_bias(false)
                .init(device),
            dt_proj,
            a_log: init::a_log(d_inner, d_state, device),
            d_skip: Param::from_tensor(Tensor::ones([d_inner], device)),
            out_proj: LinearConfig::new(d_inner, d_model)
                .with_bias(false)
                .init(device),
            d_inner,
            d_state,
            dt_rank,
            d_conv,
        }
    }

    /// `(d_inner, d_state, dt_rank)`.
    pub fn dims(&self) -> (usize, usize, usize) {
        (self.d_inner, self.d_state, self.dt_rank)
    }

    /// `[W, L, D]` → `[W, L, D]`, each of the W sequences causal in L.
    pub fn forward(&self, x: Tensor<3>, scan: ScanImpl) -> Tensor<3> {
        let [w, l, _] = x.dims();
        let xz = self.in_proj.forward(x);
        let u = self.conv_silu(xz.clone());
        let x_dbl = self.x_proj.forward(u.clone());
        // dt_proj, softplus(Δ), A = -exp(A_log), B, C and z read in place,
        // and the SiLU(z) gate: one op with the fused scan (see
        // `scan::mamba_scan`).
        let y = mamba_scan(
            MambaScanInput {
                u,
                x_dbl,
                dt_weight: self.dt_proj.weight.val(),
                dt_bias: self.dt_bias(),
                a_log: self.a_log.val(),
                d: self.d_skip.val(),
                xz,
            },
            scan,
        );
        debug_assert_eq!(y.dims(), [w, l, self.d_inner]);
        self.out_proj.forward(y)
    }

    /// `[d_inner]` dt_proj's bias (zeros if a loaded layer has none).
    pub(crate) fn dt_bias(&self) -> Tensor<1> {
        bias_or_zeros(
            &self.dt_proj.bias,
            self.d_inner,
            &self.dt_proj.weight.device(),
        )
    }

    /// `silu(causal_conv(x))` on the first `d_inner` channels of `xz`: the
    /// fused op ([`fused::conv`]) where the device runs it, else the
    /// composed [`Self::causal_conv`].
    pub(crate) fn conv_silu(&self, xz: Tensor<3>) -> Tensor<3> {
        if !kernel::supported(&xz.device()) {
            return silu(self.causal_conv(xz.narrow(2, 0, self.d_inner)));
        }
        let c = self.d_inner;
        let weight = self.conv1d.weight.val().reshape([c, self.d_conv]);
        let bias = bias_or_zeros(&self.conv1d.bias, c, &xz.device());
        fused::conv::causal_conv_silu(xz, weight, bias)
    }

    /// Depthwise causal convolution along L (PyTorch's `Conv1d(padding=k-1)`
    /// keeping the first L outputs): `out_t = b + Σ_j w_j · u_{t-k+1+j}`.
    pub(crate) fn causal_conv(&self, u: Tensor<3>) -> Tensor<3> {
        let [w, l, c] = u.dims();
        let k = self.d_conv;
        let padded = Tensor::cat(vec![Tensor::zeros([w, k - 1, c], &u.device()), u], 1);
        let weight = self.conv1d.weight.val().reshape([c, k]); // [c, 1, k] → [c, k]
        let mut out = bias_or_zeros(&self.conv1d.bias, c, &padded.device()).reshape([1, 1, c]);
        for j in 0..k {
            let tap = weight.clone().narrow(1, j, 1).reshape([1, 1, c]);
            out = out + padded.clone().narrow(1, j, l) * tap;
        }
        out
    }
}

/// A layer's `[len]` bias, or zeros for a layer loaded without one.
fn bias_or_zeros(bias: &Option<Param<Tensor<1>>>, len: usize, device: &Device) -> Tensor<1> {
    bias.as_ref()
        .map(|b| b.val())
        .unwrap_or_else(|| Tensor::zeros([len], device))
}
